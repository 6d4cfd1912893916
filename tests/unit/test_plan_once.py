"""A run computes its plan once: `ftwizard run` plans through the session, the run dir keeps that
plan (plan.json), and nothing after it plans again (the training entry and backends read
plan.json; tests/unit/test_boundaries.py keeps the planner out of their imports)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ftwizard.core import plan as planner


@pytest.fixture
def counted(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Names of the configs make_plan was asked to plan from outside (its own what-if plans for
    suggestions are nested calls, not counted)."""
    calls: list[str] = []
    depth = [0]
    real = planner.make_plan

    def counting(cfg, *args, **kwargs):  # noqa: ANN001, ANN002, ANN003, ANN202
        if depth[0] == 0:
            calls.append(cfg.name)
        depth[0] += 1
        try:
            return real(cfg, *args, **kwargs)
        finally:
            depth[0] -= 1

    monkeypatch.setattr(planner, "make_plan", counting)
    return calls


@pytest.mark.parametrize("preset", ["tiny-cpu-demo", "gptj-6b-zero3-24gb"])
def test_run_dry_run_plans_once_and_keeps_that_plan(preset: str, counted: list[str],
                                                    tmp_path: Path, monkeypatch) -> None:
    from ftwizard.cli import cli

    monkeypatch.chdir(tmp_path)
    rv = cli.main(args=["run", preset, "--dry-run", "--set", f"output.dir={tmp_path / 'runs'}",
                        "--set", "data.sequences=1000"], standalone_mode=False)
    assert rv in (0, None)
    assert len(counted) == 1, counted
    saved = json.loads(next((tmp_path / "runs").glob("*/plan.json")).read_text())
    assert saved["name"] == counted[0]
