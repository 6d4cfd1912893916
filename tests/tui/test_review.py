"""Review shows what runs: its command is the exec line of the launch.sh its dry run writes, for
every parallel mode and process count, and drawing it never imports torch."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from rich.console import Console

from ftwizard.tui.screens.review import ReviewScreen

from .conftest import make_app, snapshot_config

pytestmark = pytest.mark.tui


def shown_command(app) -> str:  # noqa: ANN001
    """The "trains with:" line as the Review screen draws it."""
    static = app.screen.query_one("#review-yaml")
    con = Console(width=2000, record=True, color_system=None)
    con.print(static.content if hasattr(static, "content") else static.renderable)
    for line in con.export_text().splitlines():
        if line.startswith("trains with: "):
            return line[len("trains with: "):].rstrip()
    raise AssertionError("Review shows no command")


def exec_line(run_dir: Path) -> str:
    """What launch.sh execs, without the "$@" it passes on."""
    (line,) = [ln for ln in (run_dir / "launch.sh").read_text().splitlines() if ln.startswith("exec ")]
    assert line.endswith(' "$@"')
    return line[len("exec "):-len(' "$@"')]


async def _review(pilot) -> ReviewScreen:  # noqa: ANN001
    await pilot.app.workers.wait_for_complete()
    await pilot.pause()
    assert isinstance(pilot.app.screen, ReviewScreen)
    return pilot.app.screen


CASES = {
    "none": {"method.parallel": "none"},
    "ddp-a100x8": {"method.parallel": "ddp", "hardware.target": "A100-80GB x8"},
    "deepspeed": {"method.parallel": "deepspeed", "method.zero_stage": 3,
                  "hardware.target": "A100-80GB x8"},
    "fsdp": {"method.parallel": "fsdp", "hardware.target": "A100-80GB x8"},
    "split": {"method.kind": "lora", "method.parallel": "split", "hardware.target": "A100-80GB x8"},
    "two-nodes": {"method.parallel": "ddp", "hardware.target": "A100-80GB x8", "hardware.nodes": 2},
}


@pytest.mark.parametrize("case", list(CASES))
async def test_review_command_is_launch_sh_exec_line(tmp_path: Path, case: str) -> None:
    cfg = snapshot_config(**{"name": f"rv-{case}", "output.dir": str(tmp_path / "runs"),
                             **CASES[case]})
    app = make_app(cfg, step="review")
    async with app.run_test(size=(120, 40)) as pilot:
        await _review(pilot)
        shown = shown_command(app)
        await pilot.press("d")                          # dry run: writes the run dir
        await pilot.pause()
    run_dir = tmp_path / "runs" / f"rv-{case}"
    assert (run_dir / "config.yaml").exists() and (run_dir / "launch.sh").exists()
    assert shown == exec_line(run_dir)
    if case == "ddp-a100x8":
        assert "--nproc_per_node 8" in shown and "torch.distributed.run" in shown
    if case == "deepspeed":
        assert shown.startswith("deepspeed --num_gpus 8") and (run_dir / "ds_config.json").exists()
    if case == "fsdp":
        assert "accelerate.commands.launch" in shown and (run_dir / "accelerate.yaml").exists()
    if case == "two-nodes":
        assert "--nnodes 2" in shown and "NODE_RANK" in shown


async def test_dry_run_writes_the_run_dir_and_starts_nothing(tmp_path: Path) -> None:
    cfg = snapshot_config(**{"name": "dry", "output.dir": str(tmp_path / "runs")})
    app = make_app(cfg, step="review")
    async with app.run_test(size=(120, 40)) as pilot:
        await _review(pilot)
        await pilot.press("d")
        await pilot.pause()
        assert app.screen.id == "step-review"          # still on Review: nothing launched
    run_dir = tmp_path / "runs" / "dry"
    assert {"config.yaml", "launch.sh", "hardware.json"} <= {p.name for p in run_dir.iterdir()}
    assert not (run_dir / "events.jsonl").exists() and not (run_dir / "process.json").exists()
    from ftwizard.core import runs

    assert runs.run_state(run_dir).state == "created"


PROBE = r"""
import asyncio, sys
from ftwizard.core import questions as q
from ftwizard.core.config import from_dict
from ftwizard.tui.app import WizardApp

data = q.default_config(None, target="auto").to_dict()
data["method"].update(parallel="deepspeed", zero_stage=2)
data["output"]["dir"] = sys.argv[1]
app = WizardApp(from_dict(data), step="review")

async def main():
    async with app.run_test(size=(120, 40)) as pilot:
        for _ in range(200):
            await app.workers.wait_for_complete()
            await pilot.pause()
            if app.planning_hardware()[0] is not None:
                break
        app.screen.render_extra(app)
        await pilot.pause()
        from ftwizard.tui.screens.review import ReviewScreen
        run_dir, files = ReviewScreen._rendered(app)
        print("COMMAND", files.command)
asyncio.run(main())
print("TORCH", "torch" in sys.modules)
"""


def test_rendering_review_for_deepspeed_on_auto_never_imports_torch(tmp_path: Path) -> None:
    out = subprocess.run([sys.executable, "-c", PROBE, str(tmp_path / "runs")], capture_output=True,
                         text=True, timeout=300, cwd=tmp_path)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "COMMAND " in out.stdout and "ftwizard.core.train" in out.stdout
    assert "TORCH False" in out.stdout, out.stdout
