"""plan(config, hardware) -> Plan: memory, fit, steps, schedule, time and disk before a run.

This is the one function the wizard, `ftwizard plan`, `ftwizard run` and the backends' `start`
event all call, so the figures a user sees before launch are the ones the run is judged against.
It is pure arithmetic once the hardware and the model spec are known (both cached here), which
keeps a full plan of a 70B model well under a millisecond (bench/estimate_latency.py).

Cross-field rules that need the model or the hardware (bf16 on a pre-Ampere card, QLoRA under
ZeRO-3/FSDP, pipeline layout, host RAM for offload) are :func:`problems`: the wizard shows them the
moment a choice is made, the CLI exits 2 on them.
"""

from __future__ import annotations

import dataclasses

import functools
import json
import math
from dataclasses import dataclass, field
from typing import Any

from ftwizard.core import memory as mem
from ftwizard.core import schedule as sched
from ftwizard.core.config import RunConfig, apply_override, from_dict
from ftwizard.core.errors import InputError

# The global batch seed 001 recommends as a starting point ("in the general vicinity of 128").
TARGET_GLOBAL_BATCH = 128


@dataclass
class TimeEstimate:
    tokens_per_s: float
    seconds: float
    flops_per_token: float
    peak_tflops: float            # per device, for the compute dtype
    utilisation: float
    devices: int
    overhead_s_per_step: float    # offload traffic and CPU optimizer time
    assumptions: str
    startup_s: float = 0.0        # process start, imports, model load (+ quantization, compile)
    train_s: float = 0.0          # steps x (compute + overhead)
    eval_s: float = 0.0
    save_s: float = 0.0
    step_s: float = 0.0           # one optimizer step: compute + overhead

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass
class Plan:
    config: RunConfig
    model: Any                    # ModelSpec
    hardware: Any                 # Hardware
    memory: mem.MemoryEstimate
    steps: sched.Steps | None
    time: TimeEstimate | None
    checkpoint_bytes: int
    world_size: int               # devices taking part
    data_parallel: int            # replicas that split the data
    problems: list[InputError] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    grad_accum_suggestion: dict | None = None
    calibration: dict | None = None  # set by core.calibration.correct: the measured correction
    warnings: list[str] = field(default_factory=list)   # will run, but not as the user expects
    validation_sequences: int | None = None
    disk_free_bytes: int = 0      # where the run writes (0: unknown, e.g. a planned machine)
    near_misses: list[str] = field(default_factory=list)  # changes that fix one resource, not all

    @property
    def disk_bytes(self) -> int:
        """Checkpoints kept plus the final model folder."""
        return self.checkpoint_bytes * (self.config.train.keep_checkpoints + 1)

    @property
    def disk_fits(self) -> bool:
        return self.disk_free_bytes <= 0 or self.disk_bytes <= self.disk_free_bytes

    @property
    def fits(self) -> bool:
        """The plan's verdict: device memory, host RAM and disk (where known) all suffice."""
        return self.memory.fits and self.memory.host_fits and self.disk_fits

    def shortfalls(self) -> list[dict[str, Any]]:
        """Every resource that binds, with the config field to change first."""
        return shortfalls(self)

    def to_dict(self) -> dict[str, Any]:
        st = self.steps
        return {
            "name": self.config.name,
            "objective": self.config.train.objective,
            "model": {"id": self.model.id, "params": self.model.params,
                      "trainable_params": self.memory.trainable_params,
                      "attn_implementation": self.model.attn_impl,
                      "trust_remote_code": self.config.model.trust_remote_code},
            "hardware": {"target": self.hardware.target or "auto", "source": self.hardware.source,
                         "kind": getattr(self.hardware.kind, "key", None),
                         "devices": self.world_size, "data_parallel": self.data_parallel,
                         "device_memory_bytes": self.memory.capacity_bytes},
            "memory": {**self.memory.to_dict(),
                       "calibrated_bytes": (self.calibration or {}).get("calibrated_bytes")},
            "calibration": self.calibration,
            "steps": None if st is None else {
                "sequences": st.sequences, "per_epoch": st.per_epoch, "total": st.total,
                "dropped_samples": st.dropped_samples, "warmup": st.warmup, "anneal": st.anneal,
                "global_batch": st.global_batch, "epochs": st.epochs,
                "micro_batches_per_epoch": st.micro_batches_per_epoch,
                "grad_accum_suggestion": self.grad_accum_suggestion,
            },
            "time": None if self.time is None else self.time.to_dict(),
            "disk": {"checkpoint_bytes": self.checkpoint_bytes,
                     "checkpoints_kept": self.config.train.keep_checkpoints,
                     "total_bytes": self.disk_bytes, "free_bytes": self.disk_free_bytes or None,
                     "fits": self.disk_fits},
            "validation_sequences": self.validation_sequences,
            "problems": [{"field": p.field, "message": p.message, "fix": p.fix} for p in self.problems],
            "shortfalls": self.shortfalls(),
            "near_misses": list(self.near_misses),
            "warnings": list(self.warnings),
            "notes": list(self.notes),
            "fits": self.fits,
        }

    def summary_line(self) -> str:
        """One line for plain mode and logs: `VRAM 22.6 / 24.0 GiB fits · 72 steps/epoch · ~3 h`."""
        m = self.memory
        unit = "RAM" if m.device == "cpu" else "VRAM"
        verdict = "fits" if self.fits else "does NOT fit"
        f = m.figure()
        parts = [f"{unit} {f.shown:.1f} / {f.capacity:.1f} GiB {verdict}"]
        if self.steps:
            parts.append(f"{self.steps.per_epoch} steps/epoch, {self.steps.total} total")
        if self.time:
            parts.append(f"~{format_duration(self.time.seconds)}")
        return "  ·  ".join(parts)


def format_duration(seconds: float) -> str:
    s = int(round(seconds))
    if s < 60:
        return f"{s} s"
    if s < 3600:
        return f"{s // 60} m {s % 60:02d} s"
    h, rem = divmod(s, 3600)
    if h < 48:
        return f"{h} h {rem // 60:02d} m"
    return f"{h // 24} d {h % 24} h"


# ---------------------------------------------------------------- inputs, cached

@functools.lru_cache(maxsize=32)
def hardware_for(target: str, nodes: int = 1, host_ram_gib: float | None = None):  # noqa: ANN201
    from ftwizard.core import hardware

    return hardware.resolve(target, nodes=nodes, host_ram_gib=host_ram_gib)


def model_for(name: str, trust_remote_code: bool = False):  # noqa: ANN201
    from ftwizard.core import models

    return models.resolve(name, trust_remote_code=trust_remote_code)


def layout(cfg: RunConfig, hw) -> tuple[int, int]:  # noqa: ANN001
    """(devices taking part, data-parallel replicas) for the chosen parallelism."""
    per_node = max(1, hw.device_count) if not hw.is_cpu_only else 1
    if cfg.hardware.devices:
        per_node = cfg.hardware.devices if hw.is_cpu_only else min(cfg.hardware.devices, per_node)
    devices = per_node * max(1, cfg.hardware.nodes)
    p = cfg.method.parallel
    if p == "none":
        return 1, 1
    if p == "split":
        return per_node, 1
    if p == "pipeline":
        stages = max(1, cfg.method.pipeline_stages)
        return devices, max(1, devices // stages)
    return devices, devices


def data_sequences(cfg: RunConfig, notes: list[str] | None = None,
                   counts: dict[str, Any] | None = None) -> int | None:
    """Training sequences counted from the data when it is at hand (the light tokenizer reads
    tokenizer.json without importing transformers; results are cached by content), or None to
    fall back to data.sequences when the data is elsewhere.

    Without the model's tokenizer on this machine (a config saved by the wizard for GPT-J or
    Llama-3.1-8B, planned on a laptop) tokens are estimated from characters with the bound stated
    in `notes`, as the wizard does: planning never needs the tokenizer. `counts`, when given,
    receives {"validation_sequences", "exact"} (the empty-validation warning needs them).
    """
    from pathlib import Path

    if not cfg.data.train:
        return None
    present = [s for s in cfg.data.train if s.path.startswith("hf:") or Path(s.path).exists()]
    if len(present) < len(cfg.data.train) and cfg.data.sequences:
        if notes is not None:
            notes.append("data not found here: planning with data.sequences")
        return None
    from ftwizard.core import data  # ~30 ms; tokenizers only when counting

    tok = None
    if data.tokenizer_folder(cfg.model) is not None:
        tok = data.load_tokenizer(cfg.model, light=True)
    stats = data.inspect(cfg.data, tok, seed=cfg.train.seed, pad_token_id=cfg.model.pad_token_id,
                         train=cfg.train)  # preference objectives: rows as TRL counts them
    if notes is not None and not stats.tokens_exact:
        name = cfg.model.tokenizer or cfg.model.name
        if tok is None:
            notes.append(f"no local tokenizer for {name}: token counts estimated from characters "
                         f"(within about +-{stats.tokens_error:.0%} for English text)")
        else:
            notes.append(f"token count sampled (+-{stats.tokens_error:.0%})")
    if counts is not None:
        counts.update(validation_sequences=stats.validation_sequences, exact=stats.tokens_exact)
    return stats.sequences


# ---------------------------------------------------------------- the plan

def make_plan(cfg: RunConfig, hardware=None, spec=None, sequences: int | None = None,  # noqa: ANN001
              with_suggestions: bool = True, validation_sequences: int | None = None,
              sequence_tokens: float | None = None) -> Plan:
    """Everything a user should know before launching `cfg` on `hardware`.

    `validation_sequences`: what the data's validation split really yields, when the data was
    counted (a requested split that yields none is a warning: no evaluation would run).
    `sequence_tokens`: the data's mean tokens per training sequence (prompt + completion), when
    known: the time uses it; memory stays at data.block_size, the worst case, as for SFT.
    Under train.objective the model is the one the objective trains (a reward model has no LM
    head: core.memory.objective_spec) and `sequences` counts rows (pairs, kto completions)."""
    hw = hardware or hardware_for(cfg.hardware.target, cfg.hardware.nodes, cfg.hardware.host_ram_gib)
    sp = spec or model_for(cfg.model.name, cfg.model.trust_remote_code)
    if cfg.model.attn_implementation and cfg.model.attn_implementation != sp.attn_impl:
        sp = dataclasses.replace(sp, attn_impl=cfg.model.attn_implementation)
    sp = mem.objective_spec(sp, cfg.train.objective)
    world, dp = layout(cfg, hw)
    setup = mem.Setup.from_config(cfg, world)
    on_cpu = bool(hw.is_cpu_only)
    tpu = bool(hw.is_tpu) or cfg.method.parallel == "jax" and not on_cpu
    capacity = int(hw.device_memory)
    host_cap = int(hw.ram_total)
    estimate = mem.estimate(sp, setup, capacity=capacity, host_capacity=host_cap,
                            on_cpu=on_cpu, tpu=tpu)
    n_seq = sequences if sequences is not None else cfg.data.sequences
    steps = None
    notes: list[str] = list(estimate.notes)   # what the objective changes (core.memory)
    warnings: list[str] = []
    problems = problems_for(cfg, hw, sp, world)
    if n_seq:
        try:
            steps = sched.plan_steps(cfg, n_seq, dp)
        except InputError as err:
            problems.append(err)
    else:
        notes.append("sequences unknown: point data.train at your data or set data.sequences")
    val = validation_sequences
    if val is None and n_seq and cfg.data.validation is not None and cfg.data.validation.split:
        val = round(n_seq * cfg.data.validation.split / (1 - cfg.data.validation.split))
    if cfg.data.validation is not None and validation_sequences == 0:
        what = (f"split {cfg.data.validation.split:g}" if cfg.data.validation.split
                else cfg.data.validation.path)
        warnings.append(f"the validation {what} yields no validation sequences: no evaluation "
                        "will run (more data, a larger split, or a smaller data.block_size)")
    ckpt = sched.checkpoint_bytes(params=sp.params, trainable=estimate.trainable_params,
                                  kind=cfg.method.kind, dtype=cfg.model.dtype,
                                  optimizer=cfg.method.optimizer, parallel=cfg.method.parallel)
    time = estimate_time(cfg, sp, hw, setup, steps, world, on_cpu=on_cpu, tpu=tpu,
                         validation_sequences=val, checkpoint_bytes=ckpt, data_parallel=dp,
                         sequence_tokens=sequence_tokens)
    gas = None
    if steps is not None:
        gas = sched.suggest_grad_accum(n_seq, micro_batch=cfg.train.micro_batch, world_size=dp,
                                       target_global=TARGET_GLOBAL_BATCH,
                                       current_grad_accum=cfg.train.grad_accum,
                                       drop_last=cfg.train.drop_last)
    if cfg.model.trust_remote_code:
        notes.append("trust_remote_code is on: the model's own Python code will run")
    disk_free = int(hw.disk_free) if hw.source != "target" else 0
    plan = Plan(config=cfg, model=sp, hardware=hw, memory=estimate, steps=steps, time=time,
                checkpoint_bytes=ckpt, world_size=world, data_parallel=dp, problems=problems,
                notes=notes, grad_accum_suggestion=gas, warnings=warnings,
                validation_sequences=validation_sequences, disk_free_bytes=disk_free)
    if with_suggestions and not plan.fits:
        estimate.suggestions = suggestions(plan)
        if not estimate.suggestions:
            estimate.notes.extend(plan.near_misses)
    if with_suggestions:
        calibrate(plan)
    return plan


def calibrate(plan: Plan) -> None:
    """Show the estimate corrected by the user's own measurements (core/calibration.py): one stat
    of the store per plan, a read only when it changed. A broken store never breaks a plan."""
    try:
        from ftwizard.core import calibration

        calibration.correct(plan)
    except Exception as err:  # noqa: BLE001
        plan.notes.append(f"calibration store unreadable: {err}")


def objective_passes_text(objective: str, trained: int, fwd_only: int) -> str:
    """What one row costs under the objective, for the time's assumptions ('' for sft)."""
    if objective == "sft":
        return ""
    row = {"dpo": "pair", "orpo": "pair", "reward": "pair", "kto": "completion"}[objective]
    extra = f" + {fwd_only} forward-only (reference{', KL' if objective == 'kto' else ''})" if fwd_only else ""
    return f"{objective}: {trained} sequence(s) trained{extra} per {row}; "


def estimate_time(cfg: RunConfig, sp, hw, setup: mem.Setup, steps, world: int, *,  # noqa: ANN001
                  on_cpu: bool, tpu: bool, validation_sequences: int | None = None,
                  checkpoint_bytes: int = 0, data_parallel: int = 1,
                  sequence_tokens: float | None = None) -> TimeEstimate:
    """Wall time = start-up + steps x (compute + framework and offload time) + eval + saves.

    Compute: tokens/s from FLOPs per token over the devices' peak at a stated utilisation. Per
    step on top: the host side of offload (PCIe traffic and the CPU optimizer step), which is what
    makes naive time-to-go estimates 2x optimistic on offloaded runs (seed 003), and the
    framework's time per micro batch. Start-up, evaluation and checkpoint saves are in
    core.schedule (startup_seconds, eval and save rates); each part is in the result, so the
    stated per-step overhead can never exceed the total.
    """
    dtype = cfg.model.dtype
    peak = hw.peak_tflops(dtype)
    if on_cpu:
        util = sched.UTILISATION["cpu"]
    elif tpu:
        util = sched.UTILISATION["tpu"]
    elif dtype == "fp32":
        util = sched.UTILISATION["gpu_fp32"]
    else:
        util = sched.UTILISATION["gpu"]
    trainable = "full" if cfg.method.kind == "full" else "adapter"
    objective = cfg.train.objective
    # sequences per row (a pair, a kto completion, an sft sequence) with gradients and forward-only
    trained, fwd_only = sched.objective_passes(objective, reference=cfg.train.preference.reference,
                                               kl_batch=setup.kl_batch)
    # tokens per sequence: block_size (the worst case) unless the data's own mean is known
    seq_len = float(cfg.data.block_size)
    if sequence_tokens:
        seq_len = min(seq_len, float(sequence_tokens))
    n_flops = sched.flops_params(sp.params, objective=objective, vocab=sp.vocab, hidden=sp.hidden,
                                 tied=sp.tied_embeddings)
    fpt = sched.flops_per_token(n_flops, n_layers=sp.n_layers, hidden=sp.hidden,
                                seq=cfg.data.block_size, trainable=trainable,
                                recompute=cfg.method.gradient_checkpointing)
    fwd = sched.forward_flops_per_token(n_flops, n_layers=sp.n_layers, hidden=sp.hidden,
                                        seq=cfg.data.block_size)
    # the reference's and KTO's KL forwards, per trained token (no recompute: TRL turns
    # checkpointing off for the no-grad reference forward)
    fpt += fwd * fwd_only / trained
    if cfg.method.kind == "qlora":
        fpt *= 1.15  # dequantising every weight on each use (FACTS.md: ~1.2x per layer)
    compute_devices = world if cfg.method.parallel not in ("split",) else 1
    if not on_cpu:
        util *= sched.batch_efficiency(cfg.train.micro_batch * trained, cfg.data.block_size, sp.hidden)
    rate = util * peak * 1e12 * compute_devices / fpt if fpt > 0 else 0.0
    overhead = 0.0
    if cfg.method.parallel == "deepspeed" and cfg.method.kind == "full":
        if cfg.method.offload_optimizer:
            overhead += sp.params / world / sched.CPU_ADAM_PARAMS_PER_S + 4.0 * sp.params / world / sched.PCIE_BYTES_PER_S
        if cfg.method.offload_params and cfg.method.zero_stage == 3:
            passes = 3 if cfg.method.gradient_checkpointing else 2
            overhead += cfg.train.grad_accum * passes * 2.0 * sp.params / sched.PCIE_BYTES_PER_S
    tokens_per_step = (cfg.train.micro_batch * cfg.train.grad_accum * max(1, data_parallel)
                       * seq_len * trained)
    overhead += cfg.train.grad_accum * sched.MICRO_BATCH_OVERHEAD_S["cpu" if on_cpu else "tpu" if tpu else "gpu"]
    bubble = 1.0
    if cfg.method.parallel == "pipeline":  # GPipe: (stages - 1) of (micro batches + stages - 1) idle
        bubble = (cfg.train.grad_accum + cfg.method.pipeline_stages - 1) / cfg.train.grad_accum
    step_s = (tokens_per_step / rate * bubble + overhead) if rate > 0 else 0.0
    tps = tokens_per_step / step_s if step_s > 0 else 0.0
    kind = "cpu" if on_cpu else ("tpu" if tpu else "gpu")
    startup = sched.startup_seconds(weight_bytes=mem.weight_bytes(sp, setup), device=kind,
                                    quantized=cfg.method.kind == "qlora",
                                    deepspeed=cfg.method.parallel == "deepspeed",
                                    compiles=cfg.method.parallel == "jax")
    fwd_rate = util * peak * 1e12 * compute_devices / fwd if fwd > 0 else 0.0
    # reference: precomputed: TRL runs the reference over every row (train and validation) once,
    # before the first step (DPOTrainer/KTOTrainer._precompute_ref_logps): start-up time
    precompute_s = 0.0
    ref_seqs = sched.objective_passes(objective, kl_batch=setup.kl_batch)[1] - fwd_only
    if ref_seqs and steps is not None and fwd_rate > 0:
        rows = steps.sequences + (validation_sequences or 0)
        precompute_s = (rows * seq_len * ref_seqs / fwd_rate
                        + math.ceil(rows / max(1, data_parallel) / cfg.train.micro_batch)
                        * sched.MICRO_BATCH_OVERHEAD_S[kind])
        startup += precompute_s
    train_s = eval_s = save_s = 0.0
    if steps is not None and rate > 0:
        # Tokens actually trained (the last step of an epoch may be partial), plus each step's
        # fixed framework and offload time.
        if cfg.train.max_steps is not None:
            seqs = min(steps.total * steps.global_batch,
                       math.ceil(steps.total / steps.per_epoch) * (steps.sequences - steps.dropped_samples))
        else:
            seqs = (steps.sequences - steps.dropped_samples) * steps.epochs
        train_s = seqs * seq_len * trained / rate + steps.total * overhead
        evals = steps.total // cfg.train.eval_every if cfg.train.eval_every else 0
        if evals and validation_sequences:
            # evaluation runs every sequence of a row forward (the pair, the reference, KL)
            per_eval = (validation_sequences * seq_len * (trained + fwd_only) / fwd_rate
                        if fwd_rate else 0.0)
            micro = math.ceil(validation_sequences / max(1, data_parallel) / cfg.train.micro_batch)
            eval_s = evals * (per_eval + micro * sched.MICRO_BATCH_OVERHEAD_S[kind])
        saves = (steps.total // cfg.train.save_every if cfg.train.save_every else 0)
        if not cfg.train.save_every or steps.total % cfg.train.save_every:
            saves += 1                               # the final checkpoint
        save_s = saves * sched.save_seconds(checkpoint_bytes, device=kind)
    seconds = startup + train_s + eval_s + save_s
    what = "CPU" if on_cpu else (hw.kind.key if hw.kind else "device")
    parts = ([f"{seq_len:.0f} tokens per sequence (the data's mean; memory plans "
              f"{cfg.data.block_size}, the longest)"] if seq_len < cfg.data.block_size else [])
    parts += [f"start-up ~{startup:.0f} s"
             + (f" (reference precompute ~{precompute_s:.0f} s)" if precompute_s else "")]
    if eval_s:
        parts.append(f"evaluation ~{eval_s:.0f} s")
    if save_s:
        parts.append(f"saves ~{save_s:.0f} s")
    return TimeEstimate(
        tokens_per_s=tps, seconds=seconds, flops_per_token=fpt, peak_tflops=peak,
        utilisation=util, devices=compute_devices, overhead_s_per_step=overhead,
        startup_s=startup, train_s=train_s, eval_s=eval_s, save_s=save_s, step_s=step_s,
        assumptions=(objective_passes_text(objective, trained, fwd_only)
                     + f"{fpt / 1e9:.1f} GFLOP/token over {compute_devices} x {what} at "
                     f"{peak:g} TFLOP/s ({dtype}) and {util:.0%} utilisation"
                     + (f", plus {overhead:.2f} s/step of framework and offload time" if overhead else "")
                     + "; " + ", ".join(parts)),
    )


# ---------------------------------------------------------------- what binds

def shortfalls(plan: Plan) -> list[dict[str, Any]]:
    """Each resource that does not suffice: what it needs, what there is, and the config field a
    user changes first. Host RAM blames the offload flag only when offload is on (DeepSpeed's
    states are then most of it); otherwise loading the model is what needs it, and the field is
    the host RAM the plan assumed (a bigger node, or fewer processes per node)."""
    m, cfg = plan.memory, plan.config
    out: list[dict[str, Any]] = []
    if not m.fits:
        field_ = ("train.micro_batch" if m.max_micro_batch >= 1 else
                  "method.kind" if cfg.method.kind != "qlora" else "hardware.target")
        out.append({"resource": "device memory", "needed_bytes": m.needed_bytes,
                    "available_bytes": m.capacity_bytes - m.margin_bytes,
                    "short_bytes": m.shortfall_bytes, "field": field_})
    if not m.host_fits:
        if "host.offload" in m.host_detail:
            field_ = ("method.offload_params" if cfg.method.offload_params
                      else "method.offload_optimizer")
        else:
            field_ = "hardware.host_ram_gib"
        out.append({"resource": "host RAM", "needed_bytes": m.host_bytes,
                    "available_bytes": m.host_capacity_bytes,
                    "short_bytes": m.host_shortfall_bytes, "field": field_,
                    "terms": dict(m.host_detail)})
    if not plan.disk_fits:
        out.append({"resource": "disk", "needed_bytes": plan.disk_bytes,
                    "available_bytes": plan.disk_free_bytes,
                    "short_bytes": plan.disk_bytes - plan.disk_free_bytes,
                    "field": "train.keep_checkpoints"})
    return out


# ---------------------------------------------------------------- where a test fit can run

WEIGHT_FILES = ("*.safetensors", "*.bin", "*.pt", "*.pth", "*.ckpt", "*.msgpack", "*.h5")


def probe_blocker(plan: Plan) -> str | None:
    """Why a test fit (core.probe: the real config for a few steps) cannot run here, with what it
    would need; None when it can. It measures this machine with the model loaded for real, so it
    needs the model's weights on this machine, and a plan made for this machine: a plan for a
    catalog target (another machine) would be judged by a measurement of the wrong hardware."""
    sp, hw, cfg = plan.model, plan.hardware, plan.config
    need: list[str] = []
    if hw.source == "target":
        need.append(f"the machine this plan is for ({hw.target}): a test fit measures the "
                    "machine it runs on, so run `ftwizard plan CONFIG --probe` there")
    if not model_weights_here(sp):
        size = mem.weight_bytes(sp, mem.Setup.from_config(cfg, plan.world_size)) / 1e9
        need.append(f"the weights of {sp.id} on this machine (~{size:.1f} GB as loaded; "
                    "download them on a connected machine, or set model.name to a local folder)")
    if not need:
        return None
    return "test fit needs " + "; and ".join(need)


def model_weights_here(sp) -> bool:  # noqa: ANN001 - ModelSpec
    """True when the model can be loaded on this machine: a tiny model (built here), or a folder
    (local, or the HF cache) holding weight files. A catalog entry is a config only."""
    from pathlib import Path

    if sp.source == "tiny":
        return True
    if not sp.path:
        return False
    folder = Path(sp.path)
    return any(next(folder.glob(pat), None) is not None for pat in WEIGHT_FILES)


# ---------------------------------------------------------------- combination rules

def problems_for(cfg: RunConfig, hw, sp, world: int) -> list[InputError]:  # noqa: ANN001
    """Combinations that cannot work, caught when chosen rather than after launch."""
    out: list[InputError] = []
    m = cfg.method
    if cfg.model.dtype == "bf16" and not hw.supports_bf16:
        kind = hw.kind.key if hw.kind else "this device"
        out.append(InputError(f"bf16 needs an Ampere or newer GPU; {kind} has none",
                              field="model.dtype", value="bf16",
                              fix="set model.dtype=fp16 (mixed precision) or fp32"))
    if m.kind == "qlora" and m.parallel == "deepspeed" and m.zero_stage == 3:
        out.append(InputError("QLoRA under ZeRO-3: the 4-bit base would not be sharded",
                              field="method.zero_stage", value=3,
                              fix="use zero_stage 2, parallel ddp, or kind lora with ZeRO-3"))
    if m.kind == "qlora" and m.parallel == "fsdp":
        out.append(InputError("QLoRA under FSDP: the 4-bit base would not be sharded here",
                              field="method.parallel", value="fsdp",
                              fix="use parallel split (layers across GPUs) or ddp"))
    if m.kind == "qlora" and cfg.output.merge:
        out.append(InputError("merging an adapter into a quantized base is lossy",
                              field="output.merge", value=True,
                              fix="set output.merge=false and run `ftwizard export RUN --merge`, "
                                  "which reloads the base in 16-bit"))
    if m.parallel == "pipeline":  # the pipeline backend's own layout rules (issue 19)
        from ftwizard.core import pipeline_layout

        out += pipeline_layout.problems(model_type=sp.model_type, n_layers=sp.n_layers,
                                        world=world, stages=m.pipeline_stages,
                                        explicit=m.pipeline_layers, kind=m.kind,
                                        optimizer=m.optimizer, cpu_only=hw.is_cpu_only)
    from ftwizard.core.data_prep import packing_problem  # data.packing on jax / pipeline

    if (packing := packing_problem(cfg)) is not None:
        out.append(packing)
    if m.offload_params and not (m.parallel == "deepspeed" and m.zero_stage == 3):
        out.append(InputError("parameter offload needs DeepSpeed ZeRO-3",
                              field="method.offload_params", value=True,
                              fix="set method.parallel=deepspeed and method.zero_stage=3"))
    if m.offload_optimizer and m.parallel != "deepspeed":
        out.append(InputError("optimizer offload needs DeepSpeed",
                              field="method.offload_optimizer", value=True,
                              fix="set method.parallel=deepspeed"))
    if m.parallel == "split" and m.kind == "full":
        out.append(InputError("split (layers across GPUs in one process) is for LoRA/QLoRA",
                              field="method.parallel", value="split",
                              fix="use deepspeed or fsdp for full fine-tuning across GPUs"))
    if m.parallel == "jax" and not hw.is_tpu and not hw.is_cpu_only and m.kind == "qlora":
        out.append(InputError("the JAX backend trains full or LoRA, not QLoRA",
                              field="method.kind", value="qlora", fix="use kind lora"))
    if m.parallel == "jax" and m.kind == "qlora":
        if not any(p.field == "method.kind" for p in out):
            out.append(InputError("the JAX backend trains full or LoRA, not QLoRA",
                                  field="method.kind", value="qlora", fix="use kind lora"))
    if hw.is_tpu and m.parallel != "jax":
        out.append(InputError("TPUs train through the JAX backend",
                              field="method.parallel", value=m.parallel, fix="set method.parallel=jax"))
    t = cfg.train
    if mem.kto_kl_batch(t.objective, t.preference.loss_type) and t.micro_batch < 2:
        out.append(InputError(
            "KTO's KL term pairs each completion with another of the same micro batch, so TRL's "
            "KTOTrainer needs at least 2 per device", field="train.micro_batch",
            value=t.micro_batch, fix="set train.micro_batch=2 or more (lower train.grad_accum to "
            "keep the global batch), or train.preference.loss_type=apo_zero_unpaired (no KL term)"))
    if m.kind in ("lora", "qlora") and m.lora.target_modules != "all-linear":
        try:
            sp.lora_params(m.lora.r, m.lora.target_modules)
        except InputError as err:
            out.append(err)
    if not any(p.field in ("method.parallel", "method.kind") for p in out):
        from ftwizard.core import capabilities  # the backend table: what no backend can run

        out += capabilities.problems(cfg, hw)
    return out


def _divisors(n: int) -> list[int]:
    return [d for d in range(1, n + 1) if n % d == 0]


# ---------------------------------------------------------------- make it fit

def coherent(data: dict[str, Any]) -> dict[str, Any]:
    """A config dict with the flags that no longer apply turned off, so a suggestion is a whole,
    valid config and never a changed key beside a leftover one: offload flags off outside DeepSpeed
    (and parameter offload outside ZeRO-3), QLoRA never under ZeRO-3 (stage 2) nor FSDP (ddp),
    quant_bits only for QLoRA, pipeline stages only for the pipeline."""
    m = data["method"]
    if m.get("kind") == "qlora":
        m["quant_bits"] = m.get("quant_bits") or 4
        if m.get("parallel") == "deepspeed" and m.get("zero_stage") == 3:
            m["zero_stage"] = 2
        if m.get("parallel") == "fsdp":
            m["parallel"] = "ddp"
    else:
        m["quant_bits"] = None
    if m.get("parallel") != "deepspeed":
        m["offload_optimizer"] = False
        m["offload_params"] = False
    elif m.get("zero_stage") != 3:
        m["offload_params"] = False
    if m.get("parallel") != "pipeline":
        m["pipeline_stages"] = 1
    return data


def _variant(cfg: RunConfig, changes: dict[str, Any]) -> RunConfig | None:
    data = cfg.to_dict()
    for k, v in changes.items():
        data = apply_override(data, f"{k}={_yaml_value(v)}")
    try:
        return from_dict(coherent(data))
    except InputError:
        return None


def _yaml_value(v: Any) -> str:
    if v is None:
        return "null"
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, str) and (" " in v or ":" in v):
        return '"' + v.replace('"', '\\"') + '"'
    return str(v)


def _set_of(cfg: RunConfig, v: RunConfig) -> dict[str, Any]:
    """Every key whose value differs between two configs, dotted (what `--set` would need)."""
    out: dict[str, Any] = {}

    def walk(a: Any, b: Any, prefix: str) -> None:
        if isinstance(a, dict) and isinstance(b, dict):
            for k in b:
                walk(a.get(k), b[k], f"{prefix}{k}.")
        elif a != b:
            out[prefix[:-1]] = b

    walk(cfg.to_dict(), v.to_dict(), "")
    return out


# The ladder of changes, smallest first: what a suggestion's "tier" means.
TIERS = ("batch", "checkpointing", "precision", "offload", "method", "data", "hardware")


def _candidates(plan: Plan) -> list[tuple[str, str, dict[str, Any], float]]:
    """(tier, text, changes, penalty) for every change worth planning; `penalty` > 0 when it
    changes what is trained (8-bit states, adapters instead of full weights, shorter sequences)."""
    cfg, hw = plan.config, plan.hardware
    m = cfg.method
    world = plan.world_size
    gpu = not hw.is_cpu_only and not hw.is_tpu
    c: list[tuple[str, str, dict[str, Any], float]] = []
    if not m.gradient_checkpointing:
        c.append(("checkpointing", "turn on gradient checkpointing",
                  {"method.gradient_checkpointing": True}, 0.0))
    if m.kind == "full" and cfg.model.dtype in ("fp16", "fp32") and hw.supports_bf16 and m.parallel != "deepspeed":
        c.append(("precision", "pure bf16 weights and states", {"model.dtype": "bf16"}, 0.05))
    if m.kind == "full" and m.optimizer == "adamw" and gpu and m.parallel != "deepspeed":
        c.append(("precision", "8-bit AdamW optimizer states", {"method.optimizer": "adamw_8bit"}, 0.05))
    ds = m.parallel == "deepspeed"
    if m.kind == "full" and gpu:
        if world > 1 and not (ds and m.zero_stage >= 2):
            c.append(("offload", "DeepSpeed ZeRO-2", {"method.parallel": "deepspeed", "method.zero_stage": 2}, 0.0))
        if world > 1 and not (ds and m.zero_stage == 3):
            c.append(("offload", "DeepSpeed ZeRO-3", {"method.parallel": "deepspeed", "method.zero_stage": 3}, 0.0))
            c.append(("offload", "FSDP full shard", {"method.parallel": "fsdp", "method.fsdp": "full_shard"}, 0.0))
        if not (ds and m.zero_stage == 3 and m.offload_optimizer):
            c.append(("offload", "ZeRO-3 + CPU offload of the optimizer",
                      {"method.parallel": "deepspeed", "method.zero_stage": 3,
                       "method.offload_optimizer": True, "method.offload_params": False}, 0.0))
        if not (ds and m.offload_params):
            c.append(("offload", "ZeRO-3 + CPU offload of optimizer and parameters",
                      {"method.parallel": "deepspeed", "method.zero_stage": 3,
                       "method.offload_optimizer": True, "method.offload_params": True}, 0.0))
    if mem.holds_reference_copy(mem.Setup.from_config(cfg, world)):
        # TRL computes the reference log-probs once before training: no reference while training
        c.append(("offload", "precompute the reference log-probs (no reference model in training)",
                  {"train.preference.reference": "precomputed"}, 0.0))
    if ds and m.offload_params:
        c.append(("offload", "keep parameters on the GPU (optimizer offload only)",
                  {"method.offload_params": False}, 0.0))
    if ds and (m.offload_optimizer or m.offload_params):
        c.append(("offload", "no CPU offload", {"method.offload_optimizer": False,
                                                "method.offload_params": False}, 0.0))
    if m.kind in ("lora", "qlora") and gpu and world > 1 and m.parallel in ("none", "ddp"):
        c.append(("offload", "split the model's layers across the GPUs", {"method.parallel": "split"}, 0.0))
    single = "none" if world == 1 else m.parallel
    if m.kind == "full":
        par = single if m.parallel in ("deepspeed", "fsdp") and world == 1 else m.parallel
        c.append(("method", "LoRA r16 on all linear layers", {"method.kind": "lora", "method.parallel": par}, 0.5))
        if gpu:
            c.append(("method", "QLoRA 4-bit", {"method.kind": "qlora", "method.quant_bits": 4,
                                                 "method.parallel": par}, 0.7))
    elif m.kind == "lora" and gpu:
        c.append(("method", "QLoRA 4-bit", {"method.kind": "qlora", "method.quant_bits": 4}, 0.2))
    elif m.kind == "qlora" and m.quant_bits == 8 and gpu:
        c.append(("method", "4-bit instead of 8-bit base", {"method.quant_bits": 4}, 0.1))
    if cfg.data.block_size > 256:
        half = cfg.data.block_size // 2
        c.append(("data", f"block size {cfg.data.block_size} -> {half}", {"data.block_size": half}, 1.0))
    if not plan.disk_fits and cfg.train.keep_checkpoints > 1:
        c.append(("batch", "keep 1 checkpoint", {"train.keep_checkpoints": 1}, 0.0))
    c.extend(_hardware_candidates(plan))
    return c


def _hardware_candidates(plan: Plan) -> list[tuple[str, str, dict[str, Any], float]]:
    """Other machines, only when the plan is for a catalog target (a machine being chosen): more
    of the same device with the parallelism that spreads the model, a bigger device, a node with
    the host RAM the plan needs."""
    hw, cfg = plan.hardware, plan.config
    if hw.source != "target" or hw.kind is None or hw.is_tpu:
        return []
    from ftwizard.core.hardware import _load_catalog

    out: list[tuple[str, str, dict[str, Any], float]] = []
    m = plan.memory
    kind = hw.kind
    if not m.fits:
        per_node = max(1, hw.device_count)
        par = {"method.parallel": "split"} if cfg.method.kind != "full" else {
            "method.parallel": "deepspeed", "method.zero_stage": 3}
        for n in (2, 4, 8):
            if n > per_node:
                out.append(("hardware", f"{n} x {kind.key} ({par['method.parallel']})",
                            {"hardware.target": f"{kind.key} x{n}", **par}, 0.0))
        need = m.needed_bytes
        bigger = sorted((k for k in _load_catalog().values()
                         if k.vendor == kind.vendor and k.memory_bytes > kind.memory_bytes
                         and k.memory_bytes - mem.margin_bytes(k.memory_bytes) >= need),
                        key=lambda k: k.memory_bytes)
        if bigger:
            b = bigger[0]
            out.append(("hardware", f"a {b.key} ({b.memory_bytes / mem.GiB:.0f} GiB) instead",
                        {"hardware.target": b.key if per_node == 1 else f"{b.key} x{per_node}"}, 0.0))
    if not m.host_fits:
        gib = 64 * math.ceil(m.host_bytes / mem.GiB * 1.05 / 64)
        out.append(("hardware", f"a node with {gib} GiB of host RAM", {"hardware.host_ram_gib": gib}, 0.0))
    return out


def _frees(before: Plan, after: Plan) -> dict[str, int]:
    """Bytes a change frees of each resource the plan was short of."""
    out: dict[str, int] = {}
    for sf in before.shortfalls():
        r = sf["resource"]
        if r == "device memory":
            d = before.memory.needed_bytes - after.memory.needed_bytes
            d += after.memory.capacity_bytes - before.memory.capacity_bytes
        elif r == "host RAM":
            d = before.memory.host_bytes - after.memory.host_bytes
            d += after.memory.host_capacity_bytes - before.memory.host_capacity_bytes
        else:
            d = before.disk_bytes - after.disk_bytes
        if d > 0:
            out[r] = int(d)
    return out


def _frees_text(frees: dict[str, int]) -> str:
    return ", ".join(f"{v / mem.GiB:.1f} GiB {k}" for k, v in frees.items())


def suggestions(plan: Plan, limit: int = 6) -> list[dict]:
    """Whole configs that fit, smallest change first, each saying which resource it frees.

    Every candidate (TIERS: batch down, checkpointing, precision, offload or sharding, method,
    data, hardware) is made coherent (:func:`coherent`) and planned for real; it is kept only when
    the same rules as any config (:func:`problems_for`) find nothing and the plan's own verdict
    says it fits on every resource (device memory, host RAM, disk). A change that leaves the
    device short is combined with the largest micro batch that fits, keeping the global batch.
    Within a tier the rank is the run's estimated time relative to now times a penalty for
    changing what is trained. Changes that fix one resource but not another are kept in
    `plan.near_misses` (shown when nothing fits), so "batch 8 -> 7" is never silently missing.
    """
    cfg, hw = plan.config, plan.hardware
    t = cfg.train
    base_time = plan.time.seconds if plan.time and plan.time.seconds else None
    n_seq = plan.steps.sequences if plan.steps else None
    results: list[dict] = []
    seen: set[str] = set()
    near: list[str] = []
    cands: list[tuple[str, str, dict[str, Any], float]] = [("batch", "", {}, 0.0)]
    cands += _candidates(plan)
    i = 0
    while i < len(cands):
        tier, text, changes, penalty = cands[i]
        i += 1
        v = _variant(cfg, changes) if changes else cfg
        if v is None or (changes and v == cfg):
            continue
        vhw = hw if v.hardware == cfg.hardware else None
        seqs = n_seq
        if seqs and v.data.block_size != cfg.data.block_size and v.data.mode == "corpus":
            seqs = seqs * cfg.data.block_size // v.data.block_size  # same tokens, shorter pieces
            if cfg.data.sequences is not None:
                # the user's assumed count is per block: the applied fix must say the new count,
                # or planning it again would check the old one (found by the property test)
                v = _variant(v, {"data.sequences": seqs})
                if v is None:
                    continue
        try:
            p = make_plan(v, hardware=vhw, sequences=seqs, with_suggestions=False)
        except InputError:
            continue
        label = text
        if not p.memory.fits and 1 <= p.memory.max_micro_batch < v.train.micro_batch:
            nb = p.memory.max_micro_batch
            ga = math.ceil(t.micro_batch * t.grad_accum / nb)
            v2 = _variant(v, {"train.micro_batch": nb, "train.grad_accum": ga})
            if v2 is None:
                continue
            try:
                p = make_plan(v2, hardware=vhw, sequences=seqs, with_suggestions=False)
            except InputError:
                continue
            v = v2
            batch = f"batch {t.micro_batch} -> {nb} with grad-accum x{ga}"
            label = f"{text} + {batch}" if text else batch
        if not label:
            continue
        if problems_for(v, p.hardware, p.model, p.world_size) or p.problems:
            continue
        frees = _frees(plan, p)
        if not p.fits:
            if frees and p.memory.fits != plan.memory.fits:
                left = ", ".join(f"{sf['resource']} still short by "
                                 f"{sf['short_bytes'] / mem.GiB:.1f} GiB" for sf in p.shortfalls())
                near.append(f"{label} frees {_frees_text(frees)}, but {left}")
                if (p.memory.fits and not p.memory.host_fits and hw.source == "target"
                        and tier != "hardware"):
                    # the device now fits: the same change on a node with the RAM it needs
                    gib = 64 * math.ceil(p.memory.host_bytes / mem.GiB * 1.05 / 64)
                    cands.append(("hardware", f"{label}, on a node with {gib} GiB of host RAM",
                                  {**_set_of(cfg, v), "hardware.host_ram_gib": gib}, penalty))
            continue
        sets = _set_of(cfg, v)
        key = json.dumps(sets, sort_keys=True, default=str)
        if key in seen:
            continue
        seen.add(key)
        ratio = (p.time.seconds / base_time) if (base_time and p.time and p.time.seconds) else 1.0
        results.append({
            "text": label, "set": sets, "tier": tier,
            "frees": frees, "frees_text": _frees_text(frees),
            "per_device_bytes": p.memory.needed_bytes,
            "headroom_bytes": p.memory.headroom_bytes,
            "host_bytes": p.memory.host_bytes,
            "time_ratio": round(ratio, 3),
            "changes_training": penalty > 0,
            "changes_hardware": tier == "hardware",
            "score": round(ratio * (1.0 + penalty), 4),
            # another machine: the smaller one first (device memory in all, then host RAM)
            "cost": ((p.memory.capacity_bytes * p.world_size, p.memory.host_capacity_bytes)
                     if tier == "hardware" else (0, 0)),
        })
    results.sort(key=lambda r: (TIERS.index(r["tier"]), r.pop("cost"), r["score"],
                                -r["headroom_bytes"]))
    plan.near_misses = near
    return results[:limit]


def apply_suggestion(cfg: RunConfig, suggestion: dict) -> RunConfig:
    """The config with a suggestion's changes applied (the wizard's "make it fit")."""
    v = _variant(cfg, suggestion["set"])
    if v is None:
        raise InputError("the suggestion no longer applies to this config", field="suggestion",
                         value=suggestion.get("text"), fix="re-plan and pick another")
    return v
