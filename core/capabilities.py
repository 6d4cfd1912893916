"""What each training backend can run: method x parallel x objective, and where (CPU, GPU, TPU).

One table, read by the wizard's questions (offer only what can run; the rest greyed with the
reason), by the planner's problems (a config that names a combination no backend runs is bad
input, exit 2) and so by the preflight. Before it, each of those kept its own idea of what runs,
and `pipeline` was offered and planned while the PyTorch backend refused it.

The table states what the backends implement (core/backends/hf.py, pipeline.py, jax.py), not
layout rules that depend on counts (DDP needs more than one device, a pipeline's stages must
divide the world): those stay with the questions and the planner. Pure data: no backend import.
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from typing import Any

from ftwizard.core.errors import InputError

CPU, GPU, TPU = "cpu", "gpu", "tpu"
FULL, LORA, QLORA = "full", "lora", "qlora"
SFT = "sft"
# TRL's trainers (DPOTrainer, ORPOTrainer, KTOTrainer, RewardTrainer) subclass the HF Trainer, so
# the Hugging Face backend runs them wherever it runs SFT: plain, DDP, DeepSpeed, FSDP, split.
OBJECTIVES = frozenset({SFT, "dpo", "orpo", "kto", "reward"})
OBJECTIVE = "objective"   # the why_not key for an objective the backend does not train


@dataclass(frozen=True)
class Capability:
    """One parallel mode of one backend: the methods and objectives it trains, and where."""

    parallel: str
    backend: str                       # "pytorch" (hf.py, pipeline.py) | "jax" (jax.py)
    methods: frozenset[str]
    devices: frozenset[str]
    objectives: frozenset[str] = frozenset({SFT})
    needs: str | None = None           # an optional package (find_spec, no import)
    why_not: dict[str, str] | None = None  # method or device -> why it is not in the sets

    def reason(self, what: str) -> str:
        return (self.why_not or {}).get(what, "")


_ALL = frozenset({FULL, LORA, QLORA})

TABLE: dict[str, Capability] = {c.parallel: c for c in (
    Capability("none", "pytorch", _ALL, frozenset({CPU, GPU}), OBJECTIVES),
    Capability("ddp", "pytorch", _ALL, frozenset({CPU, GPU}), OBJECTIVES),   # gloo on a CPU
    Capability("deepspeed", "pytorch", _ALL, frozenset({CPU, GPU}), OBJECTIVES, needs="deepspeed"),
    Capability("fsdp", "pytorch", frozenset({FULL, LORA}), frozenset({GPU}), OBJECTIVES, why_not={
        QLORA: "QLoRA under FSDP: the 4-bit base would not be sharded here",
        CPU: "FSDP needs GPUs: on a CPU the Trainer silently runs plain DDP"}),
    Capability("split", "pytorch", frozenset({LORA, QLORA}), frozenset({GPU}), OBJECTIVES, why_not={
        FULL: "split (layers across GPUs in one process) is for LoRA/QLoRA",
        CPU: "split spreads layers over several GPUs of one machine"}),
    # core/backends/pipeline.py: GPipe stages x data-parallel replicas, every weight trained
    Capability("pipeline", "pytorch", frozenset({FULL}), frozenset({CPU, GPU}), why_not={
        LORA: "the pipeline backend trains every weight (kind full)",
        QLORA: "the pipeline backend trains every weight (kind full)",
        OBJECTIVE: "the pipeline backend trains the next-token objective (sft) only: TRL's "
                   "preference and reward trainers run through the Hugging Face backend"}),
    Capability("jax", "jax", frozenset({FULL, LORA}), frozenset({CPU, GPU, TPU}), why_not={
        QLORA: "the JAX backend trains full or LoRA, not QLoRA",
        OBJECTIVE: "the JAX backend trains the next-token objective (sft) only: TRL's preference "
                   "and reward trainers run through the Hugging Face backend (GPU or CPU)"}),
)}

TPU_ONLY_REASON = "TPUs train through the JAX backend"


def device_of(hw: Any) -> str | None:
    """cpu / gpu / tpu for a core.hardware.Hardware; None while it is not known."""
    if hw is None:
        return None
    if hw.is_tpu:
        return TPU
    return CPU if hw.is_cpu_only else GPU


def installed(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):
        return False


def why_not(parallel: str, kind: str | None = None, device: str | None = None,
            objective: str = SFT, *, here: bool = False) -> str | None:
    """Why no backend runs `kind` with `parallel` (and `objective`) on `device`; None when one
    does. None arguments are not checked (the wizard asks before the hardware is known).
    `here`: also that its optional package is installed on this machine (what the wizard offers;
    a plan for another machine does not need it here)."""
    cap = TABLE.get(parallel)
    if cap is None:
        return f"unknown parallel mode {parallel!r}"
    if device == TPU and cap.backend != "jax":
        return TPU_ONLY_REASON
    if device is not None and device not in cap.devices:
        return cap.reason(device) or f"{parallel} does not run on a {device.upper()}"
    if kind is not None and kind not in cap.methods:
        return cap.reason(kind) or f"{parallel} does not train {kind}"
    if objective not in cap.objectives:
        why = cap.reason(OBJECTIVE)
        return (f"{objective}: {why}" if why else
                f"{parallel} does not train the {objective} objective")
    if here and cap.needs and not installed(cap.needs):
        return f"{cap.needs} is not installed: pip install 'ftwizard[{cap.needs}]'"
    return None


def problems(cfg: Any, hw: Any, *, here: bool = False) -> list[InputError]:
    """The config's method x parallel x device, checked against the table (for the planner; the
    preflight adds `here` when launching on this machine)."""
    m = cfg.method
    objective = cfg.train.objective
    reason = why_not(m.parallel, m.kind, device_of(hw), objective, here=here)
    if reason is None:
        return []
    cap = TABLE.get(m.parallel)
    device = device_of(hw)
    if device == TPU and cap is not None and cap.backend != "jax":
        return [InputError(reason, field="method.parallel", value=m.parallel,
                           fix="set method.parallel=jax")]
    if cap is not None and device is not None and device not in cap.devices or cap is None:
        runs_here = [p for p in TABLE if why_not(p, m.kind, device) is None]
        return [InputError(reason, field="method.parallel", value=m.parallel,
                           fix=f"use one of: {', '.join(runs_here) or 'none here'}")]
    if m.kind not in cap.methods:
        kinds = sorted(cap.methods)
        others = [p for p in TABLE if why_not(p, m.kind, device) is None]
        return [InputError(reason, field="method.kind", value=m.kind,
                           fix=f"set method.kind to {' or '.join(kinds)}, or method.parallel to "
                               f"one of {', '.join(others)}")]
    if objective not in cap.objectives:
        others = [p for p in TABLE if why_not(p, m.kind, device, objective) is None]
        return [InputError(reason, field="method.parallel", value=m.parallel,
                           fix=f"set method.parallel to one of {', '.join(others) or 'none here'} "
                               f"for {objective}, or train.objective=sft")]
    return [InputError(reason, field="method.parallel", value=m.parallel,
                       fix="install it, or choose another method.parallel")]
