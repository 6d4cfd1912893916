"""The wizard launches through the one preflight, as `ftwizard run` does: a plan that does not fit
asks first (saying why), and bad input is refused with the reason, before anything is written."""

from __future__ import annotations

from pathlib import Path

import pytest

from ftwizard.tui.screens.confirm import ConfirmScreen
from ftwizard.tui.screens.review import ReviewScreen

from .conftest import make_app, snapshot_config

pytestmark = pytest.mark.tui


def too_big(tmp_path: Path, **over):  # noqa: ANN003, ANN201
    """gpt2 full fine-tuning at micro batch 512 x 1024 tokens: far beyond a 24 GiB card."""
    return snapshot_config(**{"name": "gate", "output.dir": str(tmp_path / "runs"),
                              "method.kind": "full", "train.micro_batch": 512,
                              "data.block_size": 1024, **over})


async def _on_review(pilot) -> None:  # noqa: ANN001
    await pilot.app.workers.wait_for_complete()
    await pilot.pause()
    assert isinstance(pilot.app.screen, ReviewScreen)


async def test_a_plan_that_does_not_fit_asks_before_launching(tmp_path: Path) -> None:
    app = make_app(too_big(tmp_path), step="review")
    async with app.run_test(size=(100, 30)) as pilot:
        await _on_review(pilot)
        assert app.plan is not None and not app.plan.memory.fits
        await pilot.press("l")
        await pilot.pause()
        dialog = app.screen
        assert isinstance(dialog, ConfirmScreen)
        assert "does not fit" in dialog.question and "device memory" in dialog.detail
        await pilot.press("n")                              # back: nothing launched
        await pilot.pause()
        assert isinstance(app.screen, ReviewScreen) and app.run_dir is None
        assert not (tmp_path / "runs").exists()

        await pilot.press("d")                              # the dry run asks the same way ...
        await pilot.pause()
        assert isinstance(app.screen, ConfirmScreen)
        await pilot.press("y")                              # ... and writes when told to
        await pilot.pause()
        assert isinstance(app.screen, ReviewScreen)
    assert (tmp_path / "runs" / "gate" / "launch.sh").is_file()


async def test_bad_input_is_refused_with_the_reason(tmp_path: Path) -> None:
    (tmp_path / "blocker").write_text("a file where the runs folder should go")
    cfg = snapshot_config(**{"name": "gate", "output.dir": str(tmp_path / "blocker" / "runs")})
    app = make_app(cfg, step="review")
    async with app.run_test(size=(100, 30)) as pilot:
        await _on_review(pilot)
        assert app.plan is not None and app.plan.fits
        reason = app.gate_launch(lambda: pytest.fail("launched past the preflight"))
        assert reason is not None and "output.dir" in reason and "is a file" in reason
        await pilot.press("l")
        await pilot.pause()
        assert isinstance(app.screen, ReviewScreen) and app.run_dir is None
        shown = [n.message for n in app._notifications]
        assert any("not launched" in m and "output.dir" in m for m in shown)


async def test_a_clean_plan_launches_without_a_question(tmp_path: Path) -> None:
    app = make_app(snapshot_config(**{"name": "gate", "output.dir": str(tmp_path / "runs")}),
                   step="review")
    async with app.run_test(size=(100, 30)) as pilot:
        await _on_review(pilot)
        went = []
        assert app.gate_launch(lambda: went.append(True), mode="dry-run") is None
        assert went == [True]
