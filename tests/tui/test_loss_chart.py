"""The Run screen's loss chart (tui/widgets/loss_chart.py) draws exactly the events' figures.

The run dir is written with core/events.py's writer, as a backend writes it (start, steps with
loss and LR, evals, end); the Run screen (the one `ftwizard attach` opens) tails and folds it, and
the chart's plotted series must equal the events' (step, loss), (step, eval_loss), (step, lr).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from ftwizard.core import events as ev
from ftwizard.core import runs
from ftwizard.tui.app import WizardApp
from ftwizard.tui.widgets.loss_chart import LossChart, _thin

pytestmark = pytest.mark.tui
GiB = 1024**3


def write_run(run_dir: Path, steps: int = 30) -> list[dict]:
    run_dir.mkdir(parents=True)
    with ev.EventWriter(run_dir / ev.EVENTS_FILE) as w:
        w.emit("start", total_steps=steps,
               plan={"memory": {"per_device_bytes": 2 * GiB, "capacity_bytes": 24 * GiB}})
        for s in range(1, steps + 1):
            w.emit("step", step=s, total=steps, loss=round(3.2 * 0.93**s + 0.4, 6),
                   lr=3e-4 * min(1.0, s / 5), grad_norm=0.9, tokens_per_s=8351.0 + s,
                   mem_allocated=int(1.8 * GiB), eta_s=float(steps - s))
            if s % 10 == 0:
                w.emit("eval", step=s, eval_loss=round(3.0 * 0.95**s + 0.5, 6))
        w.emit("end", status="finished", exit_code=0, step=steps, peak_mem=int(1.9 * GiB),
               estimate_mem=2 * GiB)
    (run_dir / "stdout.log").write_text("step 1/30  loss 3.3760\n")
    ev.write_status(run_dir, "finished", step=steps, total=steps, exit_code=0)
    return ev.read_events(run_dir / ev.EVENTS_FILE)[0]


async def _folded(pilot, steps: int) -> LossChart:  # noqa: ANN001
    """Waits until the screen has read the end event (the last line of the file)."""
    for _ in range(100):
        await pilot.pause(0.05)
        scr = pilot.app.screen
        if getattr(scr, "state", None) is not None and scr.state.end is not None:
            await pilot.pause()
            return scr.query_one(LossChart)
    raise AssertionError("the Run screen did not read the events")


@pytest.mark.parametrize("size", [(80, 24), (120, 40)])
async def test_chart_series_are_the_events_figures(tmp_path: Path, size: tuple[int, int]) -> None:
    evts = write_run(tmp_path / "runs" / "curve-1")
    app = WizardApp(None, detect=False, run_dir=tmp_path / "runs" / "curve-1")
    async with app.run_test(size=size) as pilot:
        chart = await _folded(pilot, 30)
        steps = [e for e in evts if e["type"] == "step"]
        assert chart.series["loss"] == [(e["step"], e["loss"]) for e in steps]
        assert chart.series["lr"] == [(e["step"], e["lr"]) for e in steps]
        assert chart.series["eval_loss"] == [(e["step"], e["eval_loss"])
                                             for e in evts if e["type"] == "eval"]
        # Axes: the loss plot is drawn and its y labels carry the curve's ends.
        loss_plot = chart.query_one("#chart-loss")
        assert loss_plot.display and loss_plot.size.height >= 4
        drawn = loss_plot.plt.build()
        lo, hi = min(e["loss"] for e in steps), max(e["loss"] for e in steps)
        from rich.text import Text

        plain = Text.from_ansi(drawn).plain
        assert f"{hi:.3g}" in plain and f"{lo:.3g}" in plain
        # The LR plot beneath when there is room (120x40), a number in the figures line when not.
        lr_shown = chart.query_one("#chart-lr").display
        assert lr_shown == (size == (120, 40))
        assert "lr 3.0e-04" in chart.figures and "8,381 tok/s" in chart.figures
        assert "mem 1.90/2.00 GiB est" in chart.figures
    # `ftwizard runs`/attach --plain fold the same file into the same histories.
    follower = runs.Follower(tmp_path / "runs" / "curve-1")
    follower.poll()
    assert follower.progress.loss_history == chart.series["loss"]
    assert follower.progress.eval_history == chart.series["eval_loss"]
    assert follower.progress.lr_history == chart.series["lr"]


def test_a_long_run_is_drawn_thinned_but_ends_at_its_last_step() -> None:
    """20,000 steps: plotext would spend ~0.5 s a frame; the chart draws bucket means instead."""
    points = [(s, 3.0 - s * 1e-4) for s in range(1, 20_001)]
    drawn = _thin(points, 200)
    assert len(drawn) == 200
    assert drawn[-1][0] == 20_000 and drawn[0][0] == 100
    assert drawn[0][1] == pytest.approx(sum(v for _, v in points[:100]) / 100)
    assert _thin(points[:50], 200) == points[:50]


async def test_chart_waits_for_the_first_step(tmp_path: Path) -> None:
    d = tmp_path / "runs" / "fresh-1"
    d.mkdir(parents=True)
    with ev.EventWriter(d / ev.EVENTS_FILE) as w:
        w.emit("start", total_steps=10, plan=None)
    ev.write_status(d, "running", step=0, total=10)
    app = WizardApp(None, detect=False, run_dir=d)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause(0.3)
        chart = app.screen.query_one(LossChart)
        assert chart.series["loss"] == []
        assert chart.query_one("#chart-wait").display
        assert not chart.query_one("#chart-loss").display
