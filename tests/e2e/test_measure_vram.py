"""bench/measure_vram.py on the CPU: tiny points run through the real backend, the results file
has the schema estimate_accuracy.py reads, and an out-of-memory point is recorded as such (not a
crash) with a fit verdict that says it would not fit."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
BENCH = REPO / "bench"


@pytest.mark.e2e
def test_tiny_points_and_an_oom_point(tmp_path: Path, ftw_home: Path) -> None:
    out = tmp_path / "vram_cpu.json"
    proc = subprocess.run(
        [sys.executable, str(BENCH / "measure_vram.py"), "--section", "cpu_tiny",
         "--only", "cpu-tiny-llama-full,cpu-sl-full-oom", "--out", str(out),
         "--work", str(tmp_path / "work"), "--timeout", "240"],
        capture_output=True, text=True, timeout=600, cwd=REPO,
        env={**__import__("os").environ, "OMP_NUM_THREADS": "1"})
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    data = json.loads(out.read_text())
    assert data["schema"] == 1 and data["section"] == "cpu_tiny"
    env = data["environment"]
    assert env["gpu"] == "cpu" and env["libraries"]["torch"]
    points = {p["id"]: p for p in data["points"]}
    assert set(points) == {"cpu-tiny-llama-full", "cpu-sl-full-oom"}

    ok = points["cpu-tiny-llama-full"]
    assert ok["status"] == "ok", ok.get("error")
    m = ok["measured"]
    assert m["steps_done"] == ok["config"]["train"]["max_steps"]
    assert m["rss_peak_bytes"] > 100 * 2**20          # a Python process with torch is > 100 MiB
    assert m["tokens_per_s"] > 0
    assert m["torch_max_allocated"] is None          # CPU: no CUDA counters, and none invented
    est = ok["estimate"]
    assert est["device"] == "cpu" and "RSS" in est["counter"] and est["per_device_bytes"] > 0
    assert est["fits"] is True
    cmp = ok["compare"]
    assert cmp["counter"] == "rss_peak" and cmp["measured_bytes"] == m["rss_peak_bytes"]
    assert cmp["rel_error"] == pytest.approx((est["per_device_bytes"] - m["rss_peak_bytes"]) / m["rss_peak_bytes"])
    assert cmp["fit_verdict_right"] is True
    assert ok["model_config"]["model_type"] == "llama"

    oom = points["cpu-sl-full-oom"]
    assert oom["status"] == "oom", (oom.get("error"), oom.get("log_tail"))
    assert "allocate" in oom["error"]
    assert oom["memory_limit_bytes"] == int(3.5 * 2**30)
    assert oom["estimate"]["fits"] is False            # the estimate said so before the run
    assert oom["compare"]["fit_verdict_right"] is True
    assert oom["compare"]["rel_error"] is None          # no peak to compare with: it never ran

    # estimate_accuracy reads the file and counts both verdicts as right.
    acc = subprocess.run([sys.executable, str(BENCH / "estimate_accuracy.py"), "--files", str(out), "--json"],
                         capture_output=True, text=True, timeout=120, cwd=REPO)
    assert acc.returncode == 0, acc.stderr
    summary = json.loads(acc.stdout)["files"]["vram_cpu.json"]
    assert summary["all"]["fit_right"] == summary["all"]["fit_judged"] == 2
    assert summary["all"]["measured"] == 1
