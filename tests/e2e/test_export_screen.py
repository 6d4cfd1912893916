"""After a run finished, `e` on the Run screen lists its exports with the disk each needs, and
Enter runs the real `ftwizard export` (here: a tiny Llama trained for real, exported to GGUF f16).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from backend_kit import config, finished, make_run, train, write_data
from ftwizard.core import export_plan
from ftwizard.tui.app import WizardApp

pytestmark = [pytest.mark.tui, pytest.mark.e2e]


async def _until_read(pilot) -> None:  # noqa: ANN001
    """Until the Run screen has folded the run's end event (no clock: bounded by pauses)."""
    for _ in range(400):
        await pilot.pause()
        state = getattr(pilot.app.screen, "state", None)
        if state is not None and state.end is not None:
            return
    raise AssertionError("the Run screen never read the end event")


async def test_finished_run_exports_from_the_run_screen(tmp_path: Path, tiny_llama: Path) -> None:
    data = write_data(tmp_path / "data", n=40)
    run = make_run(tmp_path / "run", config(tiny_llama, data, train={"max_steps": 2}))
    finished(run, train(run))
    listed = export_plan.choices(run)
    assert [c.key for c in listed] == ["gguf-f16", "gguf-q8_0", "gguf-q4_0", "ollama"]
    f16 = next(c for c in listed if c.key == "gguf-f16")
    assert f16.fits and f16.bytes > 2 * export_plan.safetensors_params(run / "final")

    app = WizardApp(None, detect=False, run_dir=run)
    async with app.run_test(size=(100, 30)) as pilot:
        await _until_read(pilot)
        assert app.screen.check_action("export", ()) is True
        await pilot.press("e")
        await pilot.pause()
        from ftwizard.tui.screens.export import ExportScreen

        screen = app.screen
        assert isinstance(screen, ExportScreen)
        shown = [str(o.prompt) for o in screen.query_one("#export-choices").options]
        assert shown == [export_plan.describe(c) for c in listed]
        await pilot.press("enter")                      # the first choice: GGUF f16
        await app.workers.wait_for_complete()
        for _ in range(50):
            await pilot.pause()
            if not screen.running:
                break
        status = str(screen.query_one("#export-status").render())
        assert status.startswith("✓"), status
    out = run / "export" / "run-f16.gguf"
    assert out.is_file() and out.stat().st_size <= f16.bytes
