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

    @property
    def fits(self) -> bool:
        return self.memory.fits and self.memory.host_fits

    def to_dict(self) -> dict[str, Any]:
        st = self.steps
        return {
            "name": self.config.name,
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
                     "total_bytes": self.checkpoint_bytes * (self.config.train.keep_checkpoints + 1)},
            "problems": [{"field": p.field, "message": p.message, "fix": p.fix} for p in self.problems],
            "notes": list(self.notes),
            "fits": self.fits,
        }

    def summary_line(self) -> str:
        """One line for plain mode and logs: `VRAM 22.6 / 24.0 GiB fits · 72 steps/epoch · ~3 h`."""
        m = self.memory
        unit = "RAM" if m.device == "cpu" else "VRAM"
        verdict = "fits" if self.fits else "does NOT fit"
        parts = [f"{unit} {m.per_device_bytes / mem.GiB:.1f} / {m.capacity_bytes / mem.GiB:.1f} GiB {verdict}"]
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


def data_sequences(cfg: RunConfig, notes: list[str] | None = None) -> int | None:
    """Training sequences counted from the data when it is at hand (the light tokenizer reads
    tokenizer.json without importing transformers; results are cached by content), or None to
    fall back to data.sequences when the data is elsewhere."""
    from pathlib import Path

    if not cfg.data.train:
        return None
    present = [s for s in cfg.data.train if s.path.startswith("hf:") or Path(s.path).exists()]
    if len(present) < len(cfg.data.train) and cfg.data.sequences:
        if notes is not None:
            notes.append("data not found here: planning with data.sequences")
        return None
    from ftwizard.core import data  # ~30 ms; tokenizers only when counting

    tok = data.load_tokenizer(cfg.model, light=True)
    stats = data.inspect(cfg.data, tok, seed=cfg.train.seed, pad_token_id=cfg.model.pad_token_id)
    if notes is not None and not stats.tokens_exact:
        notes.append(f"token count sampled (+-{stats.tokens_error:.0%})")
    return stats.sequences


# ---------------------------------------------------------------- the plan

def make_plan(cfg: RunConfig, hardware=None, spec=None, sequences: int | None = None,  # noqa: ANN001
              with_suggestions: bool = True) -> Plan:
    """Everything a user should know before launching `cfg` on `hardware`."""
    hw = hardware or hardware_for(cfg.hardware.target, cfg.hardware.nodes, cfg.hardware.host_ram_gib)
    sp = spec or model_for(cfg.model.name, cfg.model.trust_remote_code)
    if cfg.model.attn_implementation and cfg.model.attn_implementation != sp.attn_impl:
        sp = dataclasses.replace(sp, attn_impl=cfg.model.attn_implementation)
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
    notes: list[str] = []
    problems = problems_for(cfg, hw, sp, world)
    if n_seq:
        try:
            steps = sched.plan_steps(cfg, n_seq, dp)
        except InputError as err:
            problems.append(err)
    else:
        notes.append("sequences unknown: point data.train at your data or set data.sequences")
    time = estimate_time(cfg, sp, hw, setup, steps, world, on_cpu=on_cpu, tpu=tpu)
    ckpt = sched.checkpoint_bytes(params=sp.params, trainable=estimate.trainable_params,
                                  kind=cfg.method.kind, dtype=cfg.model.dtype,
                                  optimizer=cfg.method.optimizer, parallel=cfg.method.parallel)
    gas = None
    if n_seq:
        gas = sched.suggest_grad_accum(n_seq, micro_batch=cfg.train.micro_batch, world_size=dp,
                                       target_global=TARGET_GLOBAL_BATCH)
    if not estimate.host_fits:
        problems.append(InputError(
            f"needs ~{estimate.host_bytes / mem.GiB:.0f} GiB of host RAM per node "
            f"(has {host_cap / mem.GiB:.0f} GiB)", field="method.offload_optimizer",
            value=cfg.method.offload_optimizer,
            fix="offload less (offload_params=false), use more nodes, or a machine with more RAM"))
    if cfg.model.trust_remote_code:
        notes.append("trust_remote_code is on: the model's own Python code will run")
    plan = Plan(config=cfg, model=sp, hardware=hw, memory=estimate, steps=steps, time=time,
                checkpoint_bytes=ckpt, world_size=world, data_parallel=dp, problems=problems,
                notes=notes, grad_accum_suggestion=gas)
    if with_suggestions and not plan.fits:
        estimate.suggestions = suggestions(plan)
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


def estimate_time(cfg: RunConfig, sp, hw, setup: mem.Setup, steps, world: int, *,  # noqa: ANN001
                  on_cpu: bool, tpu: bool) -> TimeEstimate:
    """Tokens/s from FLOPs per token over the devices' peak at a stated utilisation, plus the host
    side of offload (PCIe traffic and the CPU optimizer step), which is what makes naive
    time-to-go estimates 2x optimistic on offloaded runs (seed 003)."""
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
    fpt = sched.flops_per_token(sp.params, n_layers=sp.n_layers, hidden=sp.hidden,
                                seq=cfg.data.block_size, trainable=trainable,
                                recompute=cfg.method.gradient_checkpointing)
    if cfg.method.kind == "qlora":
        fpt *= 1.15  # dequantising every weight on each use (FACTS.md: ~1.2x per layer)
    compute_devices = world if cfg.method.parallel not in ("split",) else 1
    if not on_cpu:
        util *= sched.batch_efficiency(cfg.train.micro_batch, cfg.data.block_size, sp.hidden)
    rate = util * peak * 1e12 * compute_devices / fpt if fpt > 0 else 0.0
    overhead = 0.0
    if cfg.method.parallel == "deepspeed" and cfg.method.kind == "full":
        if cfg.method.offload_optimizer:
            overhead += sp.params / world / sched.CPU_ADAM_PARAMS_PER_S + 4.0 * sp.params / world / sched.PCIE_BYTES_PER_S
        if cfg.method.offload_params and cfg.method.zero_stage == 3:
            passes = 3 if cfg.method.gradient_checkpointing else 2
            overhead += cfg.train.grad_accum * passes * 2.0 * sp.params / sched.PCIE_BYTES_PER_S
    tokens_per_step = cfg.train.micro_batch * cfg.train.grad_accum * max(1, world if cfg.method.parallel not in ("split", "pipeline", "none") else (world // max(1, cfg.method.pipeline_stages) if cfg.method.parallel == "pipeline" else 1)) * cfg.data.block_size
    micro_batches = cfg.train.grad_accum
    overhead += micro_batches * sched.MICRO_BATCH_OVERHEAD_S["cpu" if on_cpu else "tpu" if tpu else "gpu"]
    if rate > 0:
        step_s = tokens_per_step / rate + overhead
        tps = tokens_per_step / step_s
    else:
        tps = 0.0
    # Sequences actually trained: the used part of each epoch, over the epochs the total covers.
    total_tokens = ((steps.sequences - steps.dropped_samples) * steps.epochs * cfg.data.block_size
                    if steps else 0)
    seconds = total_tokens / tps if tps > 0 else 0.0
    what = "CPU" if on_cpu else (hw.kind.key if hw.kind else "device")
    return TimeEstimate(
        tokens_per_s=tps, seconds=seconds, flops_per_token=fpt, peak_tflops=peak,
        utilisation=util, devices=compute_devices, overhead_s_per_step=overhead,
        assumptions=(f"{fpt / 1e9:.1f} GFLOP/token over {compute_devices} x {what} at "
                     f"{peak:g} TFLOP/s ({dtype}) and {util:.0%} utilisation"
                     + (f", plus {overhead:.2f} s/step of framework and offload time" if overhead else "")),
    )


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
    if m.parallel == "pipeline":
        stages = m.pipeline_stages
        if world % stages:
            out.append(InputError(
                f"world size {world} is not pipeline stages x data groups (stages={stages})",
                field="method.pipeline_stages", value=stages,
                fix=f"use a divisor of {world}: {', '.join(str(d) for d in _divisors(world))}"))
        if sp.n_layers % stages:
            out.append(InputError(
                f"{sp.n_layers} layers do not split evenly into {stages} stages",
                field="method.pipeline_stages", value=stages,
                fix=f"use one of {', '.join(str(d) for d in _divisors(sp.n_layers) if d <= max(world, 1))}"))
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
    if m.kind in ("lora", "qlora") and m.lora.target_modules != "all-linear":
        try:
            sp.lora_params(m.lora.r, m.lora.target_modules)
        except InputError as err:
            out.append(err)
    return out


def _divisors(n: int) -> list[int]:
    return [d for d in range(1, n + 1) if n % d == 0]


# ---------------------------------------------------------------- make it fit

def _variant(cfg: RunConfig, changes: dict[str, Any]) -> RunConfig | None:
    data = cfg.to_dict()
    for k, v in changes.items():
        data = apply_override(data, f"{k}={_yaml_value(v)}")
    try:
        return from_dict(data)
    except InputError:
        return None


def _yaml_value(v: Any) -> str:
    if v is None:
        return "null"
    if isinstance(v, bool):
        return "true" if v else "false"
    return str(v)


def suggestions(plan: Plan, limit: int = 6) -> list[dict]:
    """The cheapest changes that make a non-fitting plan fit, ranked.

    Each candidate is re-planned for real; the rank is the run's estimated time relative to now
    times a penalty for changing what is trained (8-bit states, adapters instead of full weights,
    shorter sequences). Same-math changes (smaller micro batch with more accumulation, recompute,
    sharding, offload) only pay their time cost.
    """
    cfg, hw, sp = plan.config, plan.hardware, plan.model
    m, t = cfg.method, cfg.train
    world = plan.world_size
    cands: list[tuple[str, dict[str, Any], float]] = []
    if not m.gradient_checkpointing:
        cands.append(("turn on gradient checkpointing", {"method.gradient_checkpointing": True}, 0.0))
    if m.kind == "full" and m.optimizer == "adamw" and not hw.is_cpu_only:
        cands.append(("8-bit AdamW optimizer states", {"method.optimizer": "adamw_8bit"}, 0.05))
    if m.kind == "full" and cfg.model.dtype in ("fp16", "fp32") and hw.supports_bf16 and m.parallel != "deepspeed":
        cands.append(("pure bf16 weights and states", {"model.dtype": "bf16"}, 0.05))
    if m.kind == "full" and not hw.is_cpu_only:
        if world > 1:
            cands.append(("DeepSpeed ZeRO-2", {"method.parallel": "deepspeed", "method.zero_stage": 2}, 0.0))
            cands.append(("DeepSpeed ZeRO-3", {"method.parallel": "deepspeed", "method.zero_stage": 3}, 0.0))
            cands.append(("FSDP full shard", {"method.parallel": "fsdp", "method.fsdp": "full_shard"}, 0.0))
        cands.append(("ZeRO-3 + CPU offload of the optimizer",
                      {"method.parallel": "deepspeed", "method.zero_stage": 3,
                       "method.offload_optimizer": True}, 0.0))
        cands.append(("ZeRO-3 + CPU offload of optimizer and parameters",
                      {"method.parallel": "deepspeed", "method.zero_stage": 3,
                       "method.offload_optimizer": True, "method.offload_params": True}, 0.0))
    if m.kind == "full":
        base = {"method.parallel": "none" if m.parallel in ("deepspeed", "fsdp") and world == 1 else m.parallel}
        if base["method.parallel"] == "deepspeed":
            base["method.zero_stage"] = min(m.zero_stage, 2)
        cands.append(("LoRA r16 on all linear layers", {"method.kind": "lora", **base}, 0.5))
        if not hw.is_cpu_only and not hw.is_tpu:
            q = {"method.kind": "qlora", "method.quant_bits": 4, **base}
            if base["method.parallel"] in ("fsdp",):
                q["method.parallel"] = "ddp"
            cands.append(("QLoRA 4-bit", q, 0.7))
    elif m.kind == "lora" and not hw.is_cpu_only and not hw.is_tpu:
        q = {"method.kind": "qlora", "method.quant_bits": 4}
        if m.parallel == "deepspeed" and m.zero_stage == 3:
            q["method.zero_stage"] = 2
        if m.parallel == "fsdp":
            q["method.parallel"] = "split" if hw.device_count > 1 else "none"
        cands.append(("QLoRA 4-bit", q, 0.2))
        if hw.device_count > 1 and m.parallel in ("none",):
            cands.append(("split the model across GPUs", {"method.parallel": "split"}, 0.0))
    elif m.kind == "qlora" and m.quant_bits == 8 and not hw.is_cpu_only:
        cands.append(("4-bit instead of 8-bit base", {"method.quant_bits": 4}, 0.1))
    if cfg.data.block_size > 256:
        half = cfg.data.block_size // 2
        cands.append((f"block size {cfg.data.block_size} -> {half}", {"data.block_size": half}, 1.0))

    base_time = plan.time.seconds if plan.time and plan.time.seconds else None
    results: list[dict] = []
    seen: set[tuple] = set()
    # Same math, no other change: fewer sequences per micro batch, more accumulation.
    variants: list[tuple[str, dict[str, Any], float]] = []
    if 0 < plan.memory.max_micro_batch < t.micro_batch:
        variants.append(("", {}, 0.0))
    variants.extend(cands)
    for text, changes, penalty in variants:
        v = _variant(cfg, changes) if changes else cfg
        if v is None or (changes and v == cfg):
            continue
        n_seq = plan.steps.sequences if plan.steps else None
        if n_seq and v.data.block_size != cfg.data.block_size and v.data.mode == "corpus":
            n_seq = n_seq * cfg.data.block_size // v.data.block_size  # same tokens, shorter pieces
        try:
            p = make_plan(v, hardware=hw, sequences=n_seq, with_suggestions=False)
        except InputError:
            continue
        if p.problems and not plan.problems:
            continue
        label = text
        if not p.memory.fits and p.memory.max_micro_batch >= 1:
            # Combine with the largest micro batch that fits, keeping the global batch.
            nb = p.memory.max_micro_batch
            ga = math.ceil(t.micro_batch * t.grad_accum / nb)
            changes = {**changes, "train.micro_batch": nb, "train.grad_accum": ga}
            v2 = _variant(cfg, changes)
            if v2 is None:
                continue
            p = make_plan(v2, hardware=hw, sequences=n_seq, with_suggestions=False)
            batch = f"batch {t.micro_batch} -> {nb} with grad-accum x{ga}"
            label = f"{text} + {batch}" if text else batch
        if not p.fits:
            continue
        key = tuple(sorted(changes.items()))
        if key in seen:
            continue
        seen.add(key)
        ratio = (p.time.seconds / base_time) if (base_time and p.time and p.time.seconds) else 1.0
        results.append({
            "text": label, "set": changes,
            "per_device_bytes": p.memory.per_device_bytes,
            "headroom_bytes": p.memory.headroom_bytes,
            "time_ratio": round(ratio, 3),
            "changes_training": penalty > 0,
            "score": round(ratio * (1.0 + penalty), 4),
        })
    results.sort(key=lambda r: (r["score"], -r["headroom_bytes"]))
    return results[:limit]


def apply_suggestion(cfg: RunConfig, suggestion: dict) -> RunConfig:
    """The config with a suggestion's changes applied (the wizard's "make it fit")."""
    v = _variant(cfg, suggestion["set"])
    if v is None:
        raise InputError("the suggestion no longer applies to this config", field="suggestion",
                         value=suggestion.get("text"), fix="re-plan and pick another")
    return v
