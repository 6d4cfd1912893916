"""The calibration store: what matches, what corrects a plan, what never does, and the CLI.

Measurements here are records built from real plans of the tiny model (the e2e probe tests make
real ones); the store is a real file under a private FTWIZARD_HOME.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from ftwizard.core import calibration as cal
from ftwizard.core import events as ev
from ftwizard.core.config import from_dict
from ftwizard.core.plan import make_plan


@pytest.fixture()
def store(calibration_store: Path) -> Path:
    return calibration_store


def cfg(tiny_llama: Path, **over: object):
    d = {"name": "u", "model": {"name": "tiny-llama", "dtype": "fp32"}, "method": {"kind": "full"},
         "data": {"block_size": 64, "sequences": 100}, "train": {"micro_batch": 2}}
    for key, value in over.items():
        section, name = key.split("__")
        d.setdefault(section, {})[name] = value
    return from_dict(d)


def measured(plan, ratio: float, *, status: str = "ok", source: str = "probe", when: float | None = None,
             hardware: dict | None = None, key: str | None = None) -> dict:
    est = plan.memory.per_device_bytes
    return cal.make_record(source=source, name=plan.config.name, status=status, estimate_bytes=est,
                           measured_bytes=int(est * ratio), counter="peak RSS", kind="rss",
                           config=cal.plan_fingerprint(plan),
                           hardware=hardware or cal.hardware_fingerprint(plan.hardware),
                           key=key, when=when)


def test_empty_store_leaves_plans_alone(store: Path, tiny_llama: Path) -> None:
    p = make_plan(cfg(tiny_llama))
    assert p.calibration is None and p.to_dict()["memory"]["calibrated_bytes"] is None
    assert not store.exists()


def test_a_similar_measurement_corrects_and_names_itself(store: Path, tiny_llama: Path) -> None:
    cal.append(measured(make_plan(cfg(tiny_llama)), 1.25))
    p = make_plan(cfg(tiny_llama, train__micro_batch=8, data__block_size=128))
    assert p.memory.calibrated_bytes == int(p.memory.per_device_bytes * 1.25)
    assert p.calibration["ratio"] == 1.25 and p.calibration["micro_batch"] == 2
    note = next(n for n in p.notes if n.startswith("memory corrected"))
    assert "x1.25 by probe of" in note and "tiny-llama, full, mb 2, block 64" in note
    # the estimate itself is untouched: later measurements compare with it, never compounding
    assert p.memory.per_device_bytes == make_plan(cfg(tiny_llama, train__micro_batch=8,
                                                      data__block_size=128),
                                                  with_suggestions=False).memory.per_device_bytes


@pytest.mark.parametrize("change", [{"method__kind": "lora"}, {"model__dtype": "bf16"},
                                    {"method__gradient_checkpointing": True},
                                    {"method__optimizer": "sgd"}, {"model__name": "tiny-gpt2"}])
def test_another_method_dtype_or_model_is_not_corrected(store: Path, tiny_llama: Path, tiny_gpt2: Path,
                                                        change: dict) -> None:
    cal.append(measured(make_plan(cfg(tiny_llama)), 1.25))
    assert make_plan(cfg(tiny_llama, **change)).calibration is None


def test_other_hardware_oom_and_absurd_ratios_never_correct(store: Path, tiny_llama: Path) -> None:
    base = make_plan(cfg(tiny_llama))
    other = dict(cal.hardware_fingerprint(base.hardware), count=1, kind="a100-80gb")
    cal.append(measured(base, 1.3, hardware=other))
    cal.append(measured(base, 0.9, status="oom"))
    cal.append(measured(base, 9.0))
    assert make_plan(cfg(tiny_llama)).calibration is None


def test_nearest_token_count_wins_then_newest(store: Path, tiny_llama: Path) -> None:
    now = time.time()
    cal.append(measured(make_plan(cfg(tiny_llama, train__micro_batch=1)), 1.10, when=now - 100))
    cal.append(measured(make_plan(cfg(tiny_llama, train__micro_batch=16)), 1.40, when=now - 50))
    cal.append(measured(make_plan(cfg(tiny_llama, train__micro_batch=16)), 1.30, when=now))
    assert make_plan(cfg(tiny_llama, train__micro_batch=2)).calibration["ratio"] == 1.10
    assert make_plan(cfg(tiny_llama, train__micro_batch=12)).calibration["ratio"] == 1.30


def test_store_is_reread_only_when_it_changes(store: Path, tiny_llama: Path) -> None:
    cal.append(measured(make_plan(cfg(tiny_llama)), 1.2, key="k1"))
    first = cal.records()
    assert cal.records() is first                       # cached: no re-read
    cal.append(measured(make_plan(cfg(tiny_llama)), 1.2, key="k1"))
    assert len(cal.records()) == 1                      # same key: recorded once
    with open(store, "a") as fh:
        fh.write('{"half a line\n')                     # a crash mid-write is skipped
    assert len(cal.records()) == 1 and cal.records() is not first


def test_a_plan_stays_fast_with_a_store(store: Path, tiny_llama: Path) -> None:
    for i in range(200):
        cal.append(measured(make_plan(cfg(tiny_llama, train__micro_batch=1 + i % 7)), 1.1, key=str(i)))
    c = cfg(tiny_llama, train__micro_batch=3)
    make_plan(c)
    t = time.perf_counter()
    for _ in range(20):
        make_plan(c)
    per_plan = (time.perf_counter() - t) / 20
    assert per_plan < 0.02, per_plan


def test_switched_off_records_and_corrects_nothing(store: Path, tiny_llama: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FTWIZARD_CALIBRATION", "off")
    cal.append(measured(make_plan(cfg(tiny_llama)), 1.25))
    assert not store.exists() and make_plan(cfg(tiny_llama)).calibration is None


def test_record_run_reads_the_end_event_once(store: Path, tiny_llama: Path, tmp_path: Path) -> None:
    c = cfg(tiny_llama)
    plan = make_plan(c)
    run = tmp_path / "run"
    run.mkdir()
    (run / "config.yaml").write_text(c.to_yaml())
    with ev.EventWriter(run / ev.EVENTS_FILE) as w:
        w.emit("start", run="run", total_steps=4, plan=plan.to_dict())
        for i, t in enumerate((100.0, 400.0, 500.0), 1):
            w.emit("step", step=i, tokens_per_s=t, mem_allocated=1, mem_reserved=1)
        w.emit("end", status="finished", exit_code=0, step=3, peak_mem=int(plan.memory.per_device_bytes * 1.2),
               estimate_mem=plan.memory.per_device_bytes, suggestion=None)
    rec = cal.record_run(run)
    assert rec["source"] == "run" and rec["run"] == "run" and rec["ratio"] == pytest.approx(1.2, abs=1e-3)
    assert rec["counter_kind"] == "rss" and rec["config"]["params"] == plan.model.params
    assert rec["tokens_per_s"] is not None and rec["tokens_per_s"] > 100  # warm-up step left out
    cal.record_run(run)
    assert len(cal.records()) == 1
    later = make_plan(cfg(tiny_llama, train__micro_batch=4))
    assert "by run run of" in later.calibration["note"]
    (run / "probe.json").write_text("{}")
    store.unlink()
    assert cal.record_run(run) is None  # probe dirs record themselves


def test_steady_rate_leaves_the_first_step_out() -> None:
    steps = [{"time": 0.0, "tokens_per_s": 10.0}, {"time": 1.0, "tokens_per_s": 100.0},
             {"time": 3.0, "tokens_per_s": 200.0}]
    assert cal.steady_rate(steps) == pytest.approx((100 * 1 + 200 * 2) / 3, abs=0.1)


def test_oom_of_host_memory_is_an_oom_end() -> None:
    from ftwizard.core.train import is_oom

    assert is_oom(MemoryError())
    assert is_oom(RuntimeError("[enforce fail at alloc_cpu.cpp:127] DefaultCPUAllocator: can't "
                               "allocate memory: you tried to allocate 16777216 bytes"))
    assert is_oom(RuntimeError("CUDA out of memory. Tried to allocate 2.00 GiB"))
    assert not is_oom(RuntimeError("shape mismatch"))
    assert not is_oom(ValueError("out of memory"))


def test_probe_config_trains_a_few_steps_and_keeps_nothing(tiny_llama: Path, tmp_path: Path) -> None:
    from ftwizard.core.probe import probe_config

    data = tmp_path / "t.jsonl"
    data.write_text('{"text": "a b c"}\n')
    c = from_dict({"name": "p", "model": {"name": "tiny-llama"},
                   "data": {"train": [{"path": str(data)}], "validation": {"split": 0.1}},
                   "train": {"save_every": 5, "eval_every": 5, "log_every": 10},
                   "output": {"sample_prompt": "Hi", "report_to": "wandb", "merge": False}})
    p = probe_config(c, 4)
    assert p.train.max_steps == 4 and p.train.log_every == 1
    assert p.train.save_every > 4 and p.train.eval_every > 4
    assert p.output.sample_prompt is None and p.output.report_to == "none"
    assert Path(p.data.train[0].path).is_absolute()
    assert p.train.micro_batch == c.train.micro_batch and p.data.block_size == c.data.block_size


def test_after_oom_suggestions_ask_for_less_than_was_reached(store: Path, tiny_llama: Path) -> None:
    from ftwizard.core.probe import suggestions_after_oom

    c = cfg(tiny_llama, train__micro_batch=128, data__block_size=512)
    plan = make_plan(c)
    assert plan.fits and not plan.memory.suggestions
    reached = int(plan.memory.per_device_bytes * 0.9)  # the run needed more than it reached
    found = suggestions_after_oom(c, plan, reached)
    assert found and all(s["per_device_bytes"] < 0.8 * reached for s in found)
    assert found[0]["set"]["train.micro_batch"] < 128


def test_cli_list_and_clear(store: Path, tiny_llama: Path) -> None:
    from ftwizard.commands.calibration import calibration

    runner = CliRunner()
    out = runner.invoke(calibration, ["list"])
    assert out.exit_code == 0 and "no measurements yet" in out.output
    cal.append(measured(make_plan(cfg(tiny_llama)), 1.25))
    cal.append(measured(make_plan(cfg(tiny_llama)), 0.5, status="oom"))
    out = runner.invoke(calibration, ["list"], env={"COLUMNS": "250"})
    assert out.exit_code == 0, out.output
    # the table's cells (rich wraps them when the console is narrow: compare without borders)
    flat = "".join(ch for ch in out.output if not ch.isspace() and ch not in "│┃")
    assert "x1.25" in flat and "probe" in flat and "(not" in flat
    js = runner.invoke(calibration, ["list", "--json"])
    assert [json.loads(line)["ratio"] for line in js.output.splitlines()] == [1.25, 0.5]
    out = runner.invoke(calibration, ["clear", "--yes"])
    assert out.exit_code == 0 and "deleted 2" in out.output and not store.exists()
