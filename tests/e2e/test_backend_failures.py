"""Failures still end with an `end` event the UI can show: the exit code, the last log lines,
and for out-of-memory the planner's cheapest fix.

A real CUDA OOM needs a GPU; here the classification is fed the real exception types torch
raises, and the suggestion comes from the real planner for a config that does not fit.
"""

from __future__ import annotations

import subprocess
import sys

import pytest

from backend_kit import config, end, make_run, write_data
from ftwizard.core import train as entry
from ftwizard.core.config import from_dict

pytestmark = pytest.mark.e2e


def test_oom_is_recognised_in_all_its_forms():
    import torch

    assert entry.is_oom(torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB"))
    assert entry.is_oom(RuntimeError("CUDA error: out of memory"))
    assert not entry.is_oom(RuntimeError("expected scalar type Float but found Half"))
    assert not entry.is_oom(ValueError("out of memory"))  # not from the allocator


def test_oom_suggestion_comes_from_the_planner():
    cfg = from_dict({"model": {"name": "EleutherAI/gpt-j-6B", "dtype": "fp16"},
                     "method": {"kind": "full"}, "hardware": {"target": "RTX 4090"},
                     "train": {"micro_batch": 8}})
    from ftwizard.core.plan import make_plan

    plan = make_plan(cfg).to_dict()           # as plan.json holds it: the entry never plans
    text, estimate = entry.oom_suggestion(plan), entry.estimate_memory(plan)
    assert text and "--set " in text
    assert estimate > 24 * 2**30


def test_a_crash_writes_end_with_exit_code_and_log_tail(tmp_path, tiny_llama):
    data = write_data(tmp_path / "data")
    cfg = config(tiny_llama, data)
    run = make_run(tmp_path / "run", cfg)
    data.unlink()  # the data vanished between planning and training
    res = subprocess.run([sys.executable, "-m", "ftwizard.core.train", str(run)],
                         capture_output=True, text=True, timeout=300)
    e = end(run)
    assert res.returncode == e["exit_code"] != 0
    assert e["status"] == "failed" and "train.jsonl" in e["message"]
    assert e["last_log_lines"] and any("Error" in line for line in e["last_log_lines"])
    assert (run / "status.json").read_text().count('"failed"') == 1
