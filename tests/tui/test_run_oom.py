"""A run that died of OOM: the Run screen says why in one line and offers `r` with the fix that
core.probe.oom_fix would apply; `ftwizard runs` prints the relaunch hint; `resume --fix` exists.

No training here: the run dir is written as a finished run leaves it (config.yaml, events.jsonl
ending in an `oom` end event, status.json). The relaunch itself is tests/e2e/test_probe.py's.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from ftwizard.core import events as ev
from ftwizard.core.probe import oom_fix
from ftwizard.tui.app import WizardApp
from tests.tui.conftest import snapshot_config

pytestmark = pytest.mark.tui
GiB = 1024**3
OOM_MESSAGE = "out of memory: CUDA out of memory. Tried to allocate 2.00 GiB"


def write_run(run_dir: Path, *, status: str, tiny_llama: Path) -> Path:
    run_dir.mkdir(parents=True)
    cfg = snapshot_config(**{"name": "oomy", "model.name": str(tiny_llama), "model.dtype": "fp32",
                             "train.micro_batch": 8, "train.grad_accum": 1})
    (run_dir / "config.yaml").write_text(cfg.to_yaml())
    events = [{"type": "start", "total_steps": 20,
               "plan": {"memory": {"per_device_bytes": 2 * GiB, "capacity_bytes": 24 * GiB}}},
              {"type": "step", "step": 1, "total": 20, "loss": 3.1, "mem_allocated": GiB}]
    end = {"type": "end", "status": status, "exit_code": 3 if status == "oom" else 0, "step": 1,
           "message": OOM_MESSAGE if status == "oom" else None, "suggestion": None,
           "peak_mem": int(1.5 * GiB)}
    events.append(end)
    (run_dir / ev.EVENTS_FILE).write_text("\n".join(json.dumps(e) for e in events) + "\n")
    (run_dir / "stdout.log").write_text("step 1  loss 3.1\nRuntimeError: CUDA out of memory\n")
    ev.write_status(run_dir, status, step=1, total=20, exit_code=end["exit_code"])
    return run_dir


async def _ended(pilot) -> None:  # noqa: ANN001
    for _ in range(50):
        await pilot.pause(0.1)
        scr = pilot.app.screen
        if scr.state.end is not None and scr.fix_state not in ("none", "looking"):
            return
    raise AssertionError("the Run screen did not read the end event")


async def test_run_screen_shows_oom_reason_and_relaunch_key(tmp_path: Path, tiny_llama: Path) -> None:
    """The reason in one line, `r relaunch with fix: <oom_fix text>`, and `r` in the footer."""
    d = write_run(tmp_path / "runs" / "oomy-1", status="oom", tiny_llama=tiny_llama)
    fix = oom_fix(d)
    assert fix is not None
    app = WizardApp(None, detect=False, run_dir=d)
    async with app.run_test(size=(80, 24)) as pilot:
        await _ended(pilot)
        scr = app.screen
        assert scr.fix == fix
        line = str(scr.query_one("#run-end").render())
        assert "CUDA out of memory. Tried to allocate 2.00 GiB" in line
        assert f"r relaunch with fix: {fix['text']}" in line
        assert scr.check_action("relaunch", ()) is True
        footer_keys = {b.key: b.description for _, b, enabled, _ in app.active_bindings.values()
                       if enabled}
        assert footer_keys.get("r") == "relaunch with fix"


async def test_finished_run_offers_no_relaunch(tmp_path: Path, tiny_llama: Path) -> None:
    """A run that finished says where its model is, with no OOM line, no `r` and no `s`."""
    d = write_run(tmp_path / "runs" / "fine-1", status="finished", tiny_llama=tiny_llama)
    app = WizardApp(None, detect=False, run_dir=d)
    async with app.run_test(size=(80, 24)) as pilot:
        for _ in range(30):
            await pilot.pause(0.1)
            if app.screen.state.end is not None:
                break
        assert app.screen.state.end["status"] == "finished"
        line = str(app.screen.query_one("#run-end").render())
        assert f"model: {d / 'final'}" in line and "relaunch" not in line
        keys = {b.key for _, b, enabled, _ in app.active_bindings.values() if enabled}
        assert "r" not in keys and "s" not in keys and "q" in keys


def test_runs_lists_the_relaunch_hint(tmp_path: Path, tiny_llama: Path) -> None:
    """`ftwizard runs` prints, under an OOM run, how to relaunch it with its fix."""
    from ftwizard.commands.runs import resume, runs

    write_run(tmp_path / "runs" / "oomy-1", status="oom", tiny_llama=tiny_llama)
    write_run(tmp_path / "runs" / "fine-1", status="finished", tiny_llama=tiny_llama)
    out = CliRunner().invoke(runs, ["--dir", str(tmp_path / "runs")], env={"COLUMNS": "200"})
    assert out.exit_code == 0, out.output
    assert "relaunch with fix: ftwizard resume oomy-1 --fix" in out.output
    assert "fine-1 --fix" not in out.output
    assert "--fix" in CliRunner().invoke(resume, ["--help"]).output
