"""The Run screen and `ftwizard run --plain` show the objective's own figures (TRL's names in the
step events' `metrics`): DPO's rewards, margin and accuracy, KTO's KL, a reward model's accuracy.

The run dir is written with core/events.py's writer, as the preference backend writes it; the Run
screen tails and folds it (the same screen `ftwizard attach` opens) and draws the newest values in
one line at 80x24 above a loss chart that still plots every step's loss.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from rich.console import Console

from ftwizard.core import events as ev
from ftwizard.core import runs
from ftwizard.core.objective_metrics import metrics_text
from ftwizard.tui.app import WizardApp
from ftwizard.tui.widgets.loss_chart import LossChart

pytestmark = pytest.mark.tui
GiB = 1024**3


def dpo_metrics(s: int) -> dict[str, float]:
    """A DPO curve as TRL logs it: chosen up, rejected down, accuracy rising, plus the figures the
    line leaves to events.jsonl (logps, logits, entropy)."""
    return {"rewards/chosen": round(0.02 * s, 6), "rewards/rejected": round(-0.015 * s, 6),
            "rewards/margins": round(0.035 * s, 6), "rewards/accuracies": min(1.0, 0.4 + 0.05 * s),
            "logps/chosen": -40.0 + s, "logps/rejected": -42.0 - s, "logits/chosen": -1.2,
            "entropy": 5.1, "num_tokens": 1000.0 * s}


def write_run(run_dir: Path, metrics, steps: int = 12, end: bool = True) -> list[dict]:  # noqa: ANN001
    run_dir.mkdir(parents=True)
    with ev.EventWriter(run_dir / ev.EVENTS_FILE) as w:
        w.emit("start", total_steps=steps,
               plan={"memory": {"per_device_bytes": 2 * GiB, "capacity_bytes": 24 * GiB}})
        for s in range(1, steps + 1):
            w.emit("step", step=s, total=steps, loss=round(0.693 - 0.03 * s, 6), lr=5e-6,
                   tokens_per_s=900.0, mem_allocated=int(1.5 * GiB), eta_s=float(steps - s),
                   metrics=metrics(s))
        if end:
            w.emit("end", status="finished", exit_code=0, step=steps, peak_mem=int(1.6 * GiB),
                   estimate_mem=2 * GiB)
    (run_dir / "stdout.log").write_text("step 1/12  loss 0.6630\n")
    if end:
        ev.write_status(run_dir, "finished", step=steps, total=steps, exit_code=0)
    else:
        ev.write_status(run_dir, "running", step=steps, total=steps)
    return ev.read_events(run_dir / ev.EVENTS_FILE)[0]


def shown(widget) -> str:  # noqa: ANN001
    con = Console(width=400, record=True, color_system=None)
    con.print(widget.render())
    return con.export_text().rstrip("\n")


async def _folded(pilot, steps: int) -> None:  # noqa: ANN001
    """Until the screen has folded the last step (waits on the file being read, not a clock)."""
    for _ in range(200):
        await pilot.pause(0.05)
        scr = pilot.app.screen
        if getattr(scr, "state", None) is not None and scr.state.step == steps:
            await pilot.pause()
            return
    raise AssertionError("the Run screen did not read the events")


@pytest.mark.parametrize("size", [(80, 24), (120, 40)])
async def test_dpo_metrics_line_holds_the_newest_figures(tmp_path: Path,
                                                         size: tuple[int, int]) -> None:
    evts = write_run(tmp_path / "runs" / "dpo-1", dpo_metrics)
    app = WizardApp(None, detect=False, run_dir=tmp_path / "runs" / "dpo-1")
    async with app.run_test(size=size) as pilot:
        await _folded(pilot, 12)
        box = app.screen.query_one("#run-metrics")
        assert box.display
        text = shown(box)
        assert "\n" not in text and len(text) <= size[0]     # one line, inside the screen
        last = evts[-2]["metrics"]                           # the newest step's (before end)
        words = [w for w in text.split() if not set(w) <= set("▁▂▃▄▅▆▇█")]
        assert words[:8] == ["chosen", f"{last['rewards/chosen']:.3f}",
                                     "rejected", f"{last['rewards/rejected']:.3f}",
                                     "margin", f"{last['rewards/margins']:.3f}",
                                     "acc", f"{last['rewards/accuracies']:.3f}"]
        assert "logps" not in text and "entropy" not in text
        if size[0] >= 110:   # the trend of each figure beside it: chosen rose, rejected fell
            trends = [w for w in text.split() if set(w) <= set("▁▂▃▄▅▆▇█")]
            assert trends[0][0] == "▁" and trends[0][-1] == "█"
            assert trends[1][0] == "█" and trends[1][-1] == "▁"
        # The loss chart still plots every step's loss.
        chart = app.screen.query_one(LossChart)
        assert chart.series["loss"] == [(e["step"], e["loss"]) for e in evts if e["type"] == "step"]
        assert chart.query_one("#chart-loss").display


async def test_kto_and_reward_figures(tmp_path: Path) -> None:
    """KTO logs no accuracy but a KL estimate; a reward model logs accuracy and margin."""
    write_run(tmp_path / "runs" / "kto-1", lambda s: {
        "rewards/chosen": 0.1 * s, "rewards/rejected": -0.1 * s, "rewards/margins": 0.2 * s,
        "kl": 0.0125, "logps/chosen": -30.0})
    write_run(tmp_path / "runs" / "rm-1", lambda s: {
        "accuracy": 0.5 + 0.03 * s, "margin": 0.1 * s, "min_reward": -2.0, "mean_reward": 0.1,
        "max_reward": 2.0, "num_tokens": 100.0})
    for name, want in (("kto-1", "chosen 1.200  rejected -1.200  margin 2.400  kl 0.013"),
                       ("rm-1", "acc 0.860  margin 1.200")):
        app = WizardApp(None, detect=False, run_dir=tmp_path / "runs" / name)
        async with app.run_test(size=(80, 24)) as pilot:
            await _folded(pilot, 12)
            assert shown(app.screen.query_one("#run-metrics")).strip() == want


async def test_sft_run_has_no_metrics_line(tmp_path: Path) -> None:
    """SFT step events carry no metrics: the line takes no row from the log."""
    write_run(tmp_path / "runs" / "sft-1", lambda s: {})
    app = WizardApp(None, detect=False, run_dir=tmp_path / "runs" / "sft-1")
    async with app.run_test(size=(80, 24)) as pilot:
        await _folded(pilot, 12)
        assert not app.screen.query_one("#run-metrics").display


def test_plain_step_line_carries_the_same_figures(tmp_path: Path) -> None:
    """`ftwizard run --plain` / attach --plain: the step line ends with the Run screen's text."""
    from ftwizard.commands.runs import _fmt_step_line

    write_run(tmp_path / "runs" / "dpo-1", dpo_metrics, end=False)
    follower = runs.Follower(tmp_path / "runs" / "dpo-1")
    follower.poll()
    line = _fmt_step_line(follower.progress)
    assert line.startswith("step 12/12  loss 0.3330")
    assert line.endswith("  " + metrics_text(follower.progress.metrics))
    assert "chosen 0.240  rejected -0.180  margin 0.420  acc 1.000" in line


def test_metrics_text_cuts_whole_items_and_keeps_nan() -> None:
    m = {"rewards/chosen": 0.5, "rewards/rejected": float("nan"), "rewards/margins": 12345.0}
    assert metrics_text(m) == "chosen 0.500  rejected nan  margin 1.23e+04"
    assert metrics_text(m, width=len("chosen 0.500  rejected nan")) == "chosen 0.500  rejected nan"
    assert metrics_text(m, width=5) == ""
    assert metrics_text({"logps/chosen": -3.0}) == ""


async def test_an_ended_run_offers_quit_not_detach(tmp_path: Path) -> None:
    """Once the run has ended nothing goes on: the footer says `q quit` (not "quit (run goes on)"),
    offers no detach or stop, and q leaves with the run's end named."""
    write_run(tmp_path / "runs" / "done-1", dpo_metrics)
    app = WizardApp(None, detect=False, run_dir=tmp_path / "runs" / "done-1")
    async with app.run_test(size=(80, 24)) as pilot:
        await _folded(pilot, 12)
        for _ in range(200):
            if app.screen.state.end is not None:
                break
            await pilot.pause(0.05)
        await pilot.pause()
        shown = {k: b.binding.description for k, b in app.screen.active_bindings.items()
                 if b.enabled and b.binding.show}
        assert shown.get("q") == "quit" and "d" not in shown and "s" not in shown, shown
        await pilot.press("q")
    assert "finished" in app.result_message and "done-1" in app.result_message


async def test_a_damaged_status_json_is_a_notification_in_the_wizard(tmp_path: Path, capsys) -> None:  # noqa: ANN001
    """The wizard owns the terminal: a damaged file's warning is a notification there (with the
    file and the fix), not a line printed under the screen."""
    write_run(tmp_path / "runs" / "bad-1", dpo_metrics)
    (tmp_path / "runs" / "bad-1" / "status.json").write_bytes(b'{"state": "fin')
    app = WizardApp(None, detect=False, run_dir=tmp_path / "runs" / "bad-1")
    async with app.run_test(size=(100, 30)) as pilot:
        await _folded(pilot, 12)
        for _ in range(200):
            if any(str(tmp_path) in n.message for n in app._notifications):
                break
            await pilot.pause(0.05)
        said = [n.message for n in app._notifications if str(tmp_path) in n.message]
        assert said and "not valid JSON" in said[0] and "rm " in said[0], said
    assert str(tmp_path) not in capsys.readouterr().err
