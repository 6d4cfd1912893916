"""Probe runs for real on the CPU: measured beside the estimate, out of memory under a real
address-space cap, the first fix probed again, the store correcting a later plan, and a real run
that died of OOM relaunched with its fix.

The cap is relative to a measured baseline (the small probe's peak address space), so it holds on
machines whose torch maps more or less memory at import. The big configs overshoot it by far
more than the margin: a tiny Llama with an 8192-token vocabulary, whose fp32 logits dominate
activations (~100 KB per token), at 32 x 256 tokens per micro batch.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest

from ftwizard.core import calibration
from ftwizard.core.config import from_dict
from ftwizard.core.plan import make_plan
from ftwizard.core.probe import apply_first_and_probe_again, run_probe

pytestmark = pytest.mark.e2e

MiB = 1024**2
CAP_ABOVE_BASELINE = 320 * MiB   # the big micro batch needs ~900 MiB more than the baseline
WORDS = ["red", "blue", "green", "cat", "dog", "runs", "jumps", "the", "a", "big"]


@pytest.fixture()
def store(calibration_store: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The shared private store, with one thread pool (the address space grows with each)."""
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    return calibration_store


@pytest.fixture(scope="module")
def vocab_llama(tmp_path_factory: pytest.TempPathFactory, ftw_home: Path) -> Path:
    from ftwizard.core.tiny import build_tiny_model

    return build_tiny_model(tmp_path_factory.mktemp("vocab-llama"), vocab_size=8192)


def corpus(folder: Path, n: int = 300, words: int = 120) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "train.jsonl"
    with open(path, "w") as fh:
        for i in range(n):
            fh.write(json.dumps({"text": " ".join(WORDS[(i * 3 + j) % 10] for j in range(words))}) + "\n")
    return path


def cfg_for(model: str | Path, data: Path, *, mb: int, block: int, ga: int = 1, name: str = "probe-e2e",
            **train: object):
    return from_dict({
        "name": name, "model": {"name": str(model), "dtype": "fp32"}, "method": {"kind": "full"},
        "data": {"train": [{"path": str(data)}], "mode": "corpus", "block_size": block},
        "train": {"micro_batch": mb, "grad_accum": ga, "lr": 1e-3, **train},
        "output": {"sample_prompt": None, "dir": str(data.parent / "runs")},
    })


def test_probe_measures_and_a_later_plan_is_corrected(store: Path, tiny_llama: Path, tmp_path: Path) -> None:
    data = corpus(tmp_path / "data")
    cfg = cfg_for("tiny-llama", data, mb=2, block=64)
    before = make_plan(cfg)
    assert before.calibration is None and not any("corrected" in n for n in before.notes)

    r = run_probe(cfg, steps=3, plan=before)

    assert r.status == "ok", r.summary() + "\n" + "\n".join(r.log_tail)
    assert r.steps_done == 3
    # peak RSS of a process that imported torch and trained: far above nothing, below a GiB
    assert 300 * MiB < r.peak_bytes < 1500 * MiB
    assert r.estimate_bytes == before.memory.per_device_bytes
    assert r.diff_ratio == pytest.approx(r.peak_bytes / r.estimate_bytes, rel=1e-3)
    assert r.tokens_per_s and r.tokens_per_s > 0 and r.estimate_tokens_per_s
    assert "measured" in r.summary() and "estimated" in r.summary()
    assert not any((Path(os.environ["FTWIZARD_HOME"]) / "cache" / "probes").iterdir())

    recs = [json.loads(line) for line in store.read_text().splitlines()]
    assert len(recs) == 1 and recs[0]["source"] == "probe" and recs[0]["measured_bytes"] == r.peak_bytes
    assert recs[0]["versions"]["torch"] and recs[0]["hardware"]["count"] == 0

    # A later plan, same machine and method, another micro batch: the measured ratio carries over.
    later = make_plan(cfg_for("tiny-llama", data, mb=4, block=64))
    assert later.calibration is not None
    assert later.memory.calibrated_bytes == int(later.memory.per_device_bytes * recs[0]["ratio"])
    note = [n for n in later.notes if n.startswith("memory corrected")]
    assert note and f"x{recs[0]['ratio']:.2f} by probe of" in note[0] and "mb 2" in note[0]
    assert later.to_dict()["memory"]["calibrated_bytes"] == later.memory.calibrated_bytes
    # Another method is not corrected by a full fine-tune's measurement.
    lora = from_dict({**cfg.to_dict(), "method": {"kind": "lora"}})
    assert make_plan(lora).calibration is None


def test_probe_out_of_memory_then_first_fix_fits(store: Path, vocab_llama: Path, tmp_path: Path) -> None:
    data = corpus(tmp_path / "data")
    base = run_probe(cfg_for(vocab_llama, data, mb=2, block=128), steps=2)
    assert base.status == "ok", base.summary()
    cap = base.peak_virtual_bytes + CAP_ABOVE_BASELINE

    big = cfg_for(vocab_llama, data, mb=32, block=256, max_steps=50)
    plan = make_plan(big)
    assert plan.fits  # the planner sees the machine's RAM, not the cap: only a probe can tell
    r = run_probe(big, steps=2, plan=plan, memory_limit_bytes=cap)

    assert r.status == "oom", r.summary() + "\n" + "\n".join(r.log_tail)
    assert "does NOT fit" in r.summary()
    assert r.steps_done == 0 and r.peak_bytes and r.peak_bytes < r.estimate_bytes
    assert r.suggestions, "an OOM probe must say what to change"
    first = r.suggestions[0]
    assert first["set"].get("train.micro_batch", 32) < 32 or first["set"].get("method.gradient_checkpointing")

    fixed, again = apply_first_and_probe_again(big, r, steps=2, memory_limit_bytes=cap)
    assert again.status == "ok", f"{first}\n{again.summary()}\n" + "\n".join(again.log_tail)
    for key, value in first["set"].items():
        section, name = key.split(".")
        assert getattr(getattr(fixed, section), name) == value
    statuses = [json.loads(line)["status"] for line in store.read_text().splitlines()]
    assert statuses == ["ok", "oom", "ok"]


def test_run_that_died_of_oom_is_relaunched_with_its_fix(store: Path, vocab_llama: Path,
                                                         tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from ftwizard.core import events as ev
    from ftwizard.core import runs
    from ftwizard.core.probe import oom_fix, relaunch_with_fix

    data = corpus(tmp_path / "data")
    base = run_probe(cfg_for(vocab_llama, data, mb=2, block=128), steps=2, record=False)
    assert base.status == "ok", base.summary()
    cap_kib = (base.peak_virtual_bytes + CAP_ABOVE_BASELINE) // 1024
    # A smaller machine, for real: every bash that runs launch.sh caps its address space first.
    rc = tmp_path / "cap.sh"
    rc.write_text(f"ulimit -v {cap_kib}\n")
    monkeypatch.setenv("BASH_ENV", str(rc))

    cfg = cfg_for(vocab_llama, data, mb=32, block=256, max_steps=2, name="oom-run")
    d = runs.start_run(cfg, detach=False)
    end = ev.last_of(ev.read_events(d / ev.EVENTS_FILE)[0], "end")
    assert end and end["status"] == "oom", runs.run_state(d)
    fix = oom_fix(d)
    assert fix and set(fix["set"]) <= {"train.micro_batch", "train.grad_accum",
                                      "method.gradient_checkpointing"}

    out = relaunch_with_fix(d, detach=False)

    assert out == d
    evts = ev.read_events(d / ev.EVENTS_FILE)[0]
    last = ev.last_of(evts, "end")
    assert last["status"] == "finished", "\n".join(ev.tail_lines(d / "stdout.log", 30))
    assert (d / "config.before-fix.yaml").exists()
    from ftwizard.core.config import load_config

    now = load_config(d / "config.yaml")
    for key, value in fix["set"].items():
        section, name = key.split(".")
        assert getattr(getattr(now, section), name) == value
    assert "resum" in (d / "stdout.log").read_text()  # it went through `--resume`
    shutil.rmtree(d, ignore_errors=True)
