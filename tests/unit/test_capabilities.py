"""core.capabilities: what the wizard offers is what the planner accepts and a backend runs."""

from __future__ import annotations

import itertools

import pytest

from ftwizard.core import capabilities as caps
from ftwizard.core import questions as q
from ftwizard.core.config import from_dict
from ftwizard.core.hardware import from_target
from ftwizard.core.plan import make_plan

KINDS = ("full", "lora", "qlora")
TARGETS = ("RTX 4090", "A100-80GB x8", "TPU v3-8")


def config(target: str, kind: str, parallel: str, **hw):  # noqa: ANN003, ANN201
    return from_dict({"name": "c", "model": {"name": "meta-llama/Llama-2-7b-hf", "dtype": "bf16"},
                      "method": {"kind": kind, "parallel": parallel},
                      "hardware": {"target": target, **hw}, "data": {"sequences": 1000}})


def method_problems(plan) -> list:  # noqa: ANN001
    return [p for p in plan.problems if p.field in ("method.parallel", "method.kind")]


@pytest.mark.parametrize("target", TARGETS)
def test_offered_choices_plan_and_refused_ones_say_why(target: str) -> None:
    hw = from_target(target)
    for kind, parallel in itertools.product(KINDS, caps.TABLE):
        cfg = config(target, kind, parallel)
        ctx = q.Context(cfg, hw)
        offered = {c.value: c for c in q._parallel(ctx)}[parallel]
        table = caps.why_not(parallel, kind, caps.device_of(hw))
        if offered.available:
            assert table is None, (kind, parallel)
            assert not caps.problems(cfg, hw), (kind, parallel)
        else:
            assert offered.reason                          # greyed, with the reason
        if table is not None:
            assert not offered.available and offered.reason == table
            found = method_problems(make_plan(cfg, hardware=hw))
            assert found and all(p.fix for p in found), (kind, parallel)   # planner refuses too


def test_pipeline_is_offered_for_full_fine_tuning_where_it_runs() -> None:
    assert caps.TABLE["pipeline"].backend == "pytorch"            # core/backends/pipeline.py
    for hw, cfg in ((from_target("A100-80GB x8"), config("A100-80GB x8", "full", "none")),
                    (None, config("auto", "full", "none", devices=2))):
        if hw is None:
            from ftwizard.core.hardware import detect

            hw = detect(libraries=False)
            if not hw.is_cpu_only:
                continue
        choice = {c.value: c for c in q._parallel(q.Context(cfg, hw))}["pipeline"]
        assert choice.available, choice.reason
    lora = {c.value: c for c in q._parallel(q.Context(config("A100-80GB x8", "lora", "none"),
                                                      from_target("A100-80GB x8")))}["pipeline"]
    assert not lora.available and "kind full" in lora.reason


def test_kinds_follow_the_chosen_backend() -> None:
    hw = from_target("A100-80GB x8")
    kinds = {c.value: c for c in q._kinds(q.Context(config("A100-80GB x8", "full", "pipeline"), hw))}
    assert kinds["full"].available and not kinds["lora"].available and not kinds["qlora"].available
    tpu = from_target("TPU v3-8")
    kinds = {c.value: c for c in q._kinds(q.Context(config("TPU v3-8", "full", "jax"), tpu))}
    assert not kinds["qlora"].available and "JAX" in kinds["qlora"].reason


def test_a_plan_for_another_machine_needs_no_package_here(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(caps, "installed", lambda module: False)
    cfg, hw = config("A100-80GB x8", "full", "deepspeed"), from_target("A100-80GB x8")
    assert caps.problems(cfg, hw) == []                            # plan it from a laptop
    (here,) = caps.problems(cfg, hw, here=True)                    # but launching here needs it
    assert "deepspeed is not installed" in here.message and here.field == "method.parallel"
