"""The wizard's questions offer JAX/TPU when a TPU is chosen (issue 8), without a UI."""

from __future__ import annotations

from ftwizard.core.hardware import from_target
from ftwizard.core.plan import make_plan
from ftwizard.core.questions import Context, all_fields, default_config


def field(fid: str):
    return next(f for f in all_fields() if f.id == fid)


def test_choosing_a_tpu_target_switches_to_jax_and_plans_cleanly() -> None:
    cfg = default_config(from_target("RTX 4090"))
    cfg = field("method.kind").answer(cfg, "qlora")
    cfg = field("hardware.target").answer(cfg, "TPU v4-8")
    assert cfg.method.parallel == "jax" and cfg.model.dtype == "bf16"
    assert cfg.method.kind == "lora" and cfg.method.quant_bits is None
    hw = from_target("TPU v4-8")
    ctx = Context(config=cfg, hardware=hw)
    par = {c.value: c for c in field("method.parallel").options(ctx)}
    assert par["jax"].available, par["jax"].reason
    assert not par["deepspeed"].available and "JAX" in par["deepspeed"].reason
    kinds = {c.value: c for c in field("method.kind").options(ctx)}
    assert not kinds["qlora"].available
    plan = make_plan(cfg, hardware=hw)
    assert not plan.problems, [p.render() for p in plan.problems]
    assert plan.memory.device == "tpu" and plan.world_size == 4


def test_a_gpu_target_leaves_the_method_alone() -> None:
    cfg = default_config(from_target("RTX 4090"))
    out = field("hardware.target").answer(cfg, "A100-80GB x8")
    assert out.method == cfg.method
