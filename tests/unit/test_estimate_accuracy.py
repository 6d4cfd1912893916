"""The estimator held to our own measurements: every committed bench/results/vram_*.json (the CPU
tiny shapes now, the H100 table once measured) is re-estimated with the current core/memory.py,
and the median memory error must stay within 10 % with every fit verdict right."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "bench"))

import estimate_accuracy as acc  # noqa: E402

FILES = acc.result_files()
MEDIAN_LIMIT = 0.10


def test_results_are_committed() -> None:
    assert FILES, "bench/results/vram_cpu.json should be committed (bench/measure_vram.py writes it)"


@pytest.mark.parametrize("path", FILES, ids=[p.name for p in FILES])
def test_median_memory_error_within_limit(path: Path) -> None:
    rows = acc.rows([path])
    summary = acc.summarise(rows)["files"][path.name]["all"]
    assert summary["measured"] >= 5, f"{path.name}: too few measured points to judge"
    worst = sorted((r for r in rows if r["mem_error"] is not None), key=lambda r: -abs(r["mem_error"]))[:3]
    assert summary["mem_median_abs"] <= MEDIAN_LIMIT, (
        f"{path.name}: median |error| {summary['mem_median_abs']:.1%} > {MEDIAN_LIMIT:.0%}; worst: "
        + ", ".join(f"{r['id']} {r['mem_error']:+.1%}" for r in worst))


@pytest.mark.parametrize("path", FILES, ids=[p.name for p in FILES])
def test_fit_verdict_right_on_every_point(path: Path) -> None:
    rows = acc.rows([path])
    wrong = [r["id"] for r in rows if r["fit_right"] is False]
    assert not wrong, f"{path.name}: the estimate's fit verdict was wrong for {wrong}"
    assert any(r["status"] == "oom" for r in rows), f"{path.name}: no out-of-memory point judged"


@pytest.mark.parametrize("path", FILES, ids=[p.name for p in FILES])
def test_every_point_can_be_reestimated(path: Path) -> None:
    """The table re-estimates each point with the current core/memory.py from the stored config
    and model config; a point it cannot rebuild would silently keep its stale stored figure."""
    import json
    import yaml

    data = json.loads(path.read_text())
    matrix = yaml.safe_load((REPO / data["matrix"]).read_text())["sections"][data["section"]]
    for p in data["points"]:
        if p.get("estimate"):
            fresh = acc.reestimate(p, data["environment"], matrix)
            assert fresh is not None and fresh["per_device_bytes"] > 0, p["id"]


def test_quantile_and_summary_arithmetic() -> None:
    assert acc.quantile([0.3, 0.1, 0.2], 0.5) == pytest.approx(0.2)
    assert acc.quantile([0.0, 1.0], 0.9) == pytest.approx(0.9)
    assert acc.quantile([], 0.5) is None
    rows = [{"file": "f", "gpu": "cpu", "id": str(i), "method": "m", "status": s, "counter": "rss_peak",
             "estimate_bytes": 1, "measured_bytes": 1, "mem_error": e, "time_error": None, "fit_right": fr}
            for i, (s, e, fr) in enumerate([("ok", -0.2, True), ("ok", 0.1, True), ("oom", None, False)])]
    st = acc.summarise(rows)["files"]["f"]["all"]
    assert st["mem_median_abs"] == pytest.approx(0.15)
    assert st["mem_bias"] == pytest.approx(-0.05)
    assert (st["fit_right"], st["fit_judged"], st["oom"]) == (2, 3, 1)
