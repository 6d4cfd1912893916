"""How a pipeline run is laid out: which families split, layers per stage, the process grid.

Pure arithmetic, no torch: the planner (core/plan.py problems_for) refuses a bad layout before
launch with the same rules the pipeline backend (core/backends/pipeline.py) applies when it
builds its stages, so `ftwizard plan` and the training process can never disagree about a layout.

Ranks form a 2-D grid, world = stages x replicas, with the stages of one pipeline on consecutive
ranks (rank = replica * stages + stage): one node's GPUs then hold whole pipelines, and the
point-to-point traffic between stages stays inside a node while the gradient all-reduce between
replicas crosses nodes once per step.
"""

from __future__ import annotations

from dataclasses import dataclass

from ftwizard.core.errors import InputError


@dataclass(frozen=True)
class Family:
    """Where a decoder keeps its parts (attribute names on the *ForCausalLM model)."""

    base: str            # the decoder stack: model.<base>
    embed: str           # token embeddings on the base
    dropout: str | None  # embedding dropout on the base, if any
    layers: str          # the ModuleList of decoder layers on the base
    norm: str            # the final norm on the base
    head: str = "lm_head"


# model_type -> parts. Every family here has, in transformers 5, layers called as
# layer(hidden, attention_mask=, position_ids=, position_embeddings=) and a rotary_emb on the base.
FAMILIES: dict[str, Family] = {
    "gpt_neox": Family("gpt_neox", "embed_in", "emb_dropout", "layers", "final_layer_norm"),
    "gptj": Family("transformer", "wte", "drop", "h", "ln_f"),
    "llama": Family("model", "embed_tokens", None, "layers", "norm"),
    "qwen2": Family("model", "embed_tokens", None, "layers", "norm"),
}


def divisors(n: int) -> list[int]:
    return [d for d in range(1, n + 1) if n % d == 0]


def balanced_split(n_layers: int, stages: int) -> list[int]:
    """An uneven split that is as even as possible, extra layers on the first stages (the last
    stage carries the head and the logits)."""
    base, extra = divmod(n_layers, stages)
    return [base + (1 if i < extra else 0) for i in range(stages)]


def _near(n: int, options: list[int]) -> list[int]:
    return sorted(options, key=lambda d: (abs(d - n), d))[:2]


def stage_layers(n_layers: int, stages: int, explicit: list[int] | None = None,
                 world: int | None = None) -> list[int]:
    """Decoder layers per stage, first to last; InputError (exit 2) with the nearest valid
    choice when the layout cannot work (stage counts that also divide `world`, when given)."""
    if stages > n_layers:
        raise InputError(
            f"{stages} pipeline stages for a model with {n_layers} layers: a stage needs at least "
            "one layer", field="method.pipeline_stages", value=stages,
            fix=f"use {n_layers} stages (one layer each) or fewer")
    if explicit:
        if len(explicit) != stages or sum(explicit) != n_layers or min(explicit) < 1:
            raise InputError(
                f"pipeline_layers {list(explicit)} must give each of the {stages} stages at least "
                f"one layer and {n_layers} in all (it gives {len(explicit)} stages, "
                f"{sum(explicit)} layers)", field="method.pipeline_layers", value=list(explicit),
                fix=f"e.g. method.pipeline_layers={balanced_split(n_layers, stages)}")
        return list(explicit)
    if n_layers % stages:
        fit = [d for d in divisors(n_layers) if d > 1 and (not world or world % d == 0)]
        near = _near(stages, fit or [d for d in divisors(n_layers) if d > 1] or [1])
        raise InputError(
            f"{n_layers} layers do not split evenly into {stages} stages "
            f"({n_layers} / {stages} = {n_layers / stages:.2f})",
            field="method.pipeline_stages", value=stages,
            fix=f"use {' or '.join(str(d) for d in near)} stages, or set method.pipeline_layers="
                f"{balanced_split(n_layers, stages)} for an uneven split")
    return [n_layers // stages] * stages


def replicas(world: int, stages: int) -> int:
    """Data-parallel replicas of the whole pipeline; InputError when the world does not divide."""
    if world % stages:
        lower = (world // stages) * stages
        options = [d for d in divisors(world) if d > 1] or [1]
        near = _near(stages, options)
        fix = (f"use {' or '.join(str(d) for d in near)} stages for {world} processes"
               + (f", or {lower} processes ({lower // stages} replicas of {stages} stages)"
                  if lower else f", or {stages} processes"))
        raise InputError(
            f"world size {world} is not pipeline stages x data replicas (stages={stages}: "
            f"{world} / {stages} = {world / stages:.2f})",
            field="method.pipeline_stages", value=stages, fix=fix)
    return world // stages


def family_of(model_type: str) -> Family:
    if model_type not in FAMILIES:
        raise InputError(
            f"the pipeline backend cannot split a {model_type} model into stages "
            f"(it splits {', '.join(sorted(FAMILIES))})", field="method.parallel",
            value="pipeline",
            fix="use parallel deepspeed (ZeRO-3) or fsdp to spread this model")
    return FAMILIES[model_type]


def problems(*, model_type: str, n_layers: int, world: int, stages: int,
             explicit: list[int] | None, kind: str, optimizer: str = "adamw",
             cpu_only: bool = False) -> list[InputError]:
    """Every reason this pipeline layout cannot run, for the planner's problem list."""
    out: list[InputError] = []
    for check in (lambda: family_of(model_type), lambda: replicas(world, stages),
                  lambda: stage_layers(n_layers, stages, explicit, world)):
        try:
            check()
        except InputError as err:
            out.append(err)
    if kind != "full":
        out.append(InputError(f"the pipeline backend trains every weight (kind full), not {kind}",
                              field="method.kind", value=kind,
                              fix="set method.kind=full, or use parallel split for LoRA/QLoRA "
                                  "across GPUs"))
    if optimizer == "paged_adamw_8bit" and cpu_only:
        # bitsandbytes' AdamW8bit steps on CPU tensors (FACTS.md); its paged variant pages
        # optimizer states out of GPU memory and has nothing to page from here.
        out.append(InputError("paged 8-bit AdamW pages states out of GPU memory; this machine "
                              "has no GPU", field="method.optimizer", value=optimizer,
                              fix="use method.optimizer=adamw_8bit (8-bit states, runs on the CPU)"))
    return out
