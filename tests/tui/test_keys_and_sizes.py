"""The wizard's own keys and limits, driven by key presses: the help screen (? and F1) lists the
keys of the screen it opened over; q asks before losing unsaved answers and quits at once
otherwise; the host-RAM field reaches the config and the plan; below the smallest size one
message replaces the layout, and leaves when the terminal grows."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from rich.console import Console

from ftwizard.core import questions as q
from ftwizard.core.config import load_config
from ftwizard.tui.screens.confirm import ConfirmScreen
from ftwizard.tui.screens.help import HelpScreen, render_lines
from ftwizard.tui.screens.too_small import MIN_HEIGHT, MIN_WIDTH, TooSmallScreen
from tests.tui.conftest import make_app, snapshot_config

pytestmark = pytest.mark.tui
GiB = 1024**3


@pytest.fixture(autouse=True)
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    return tmp_path


def help_text(screen: HelpScreen, width: int = 74) -> str:
    console = Console(width=width, record=True, color_system=None)
    console.print(render_lines(screen.lines))
    return console.export_text()


# ---------------------------------------------------------------- help


@pytest.mark.parametrize("key", ["question_mark", "f1"])
async def test_help_lists_every_key_of_the_step(key: str) -> None:
    """? and F1 open the help over a step: its footer keys, the hidden number-key jumps and the
    focused field's keys; ? again (or Esc) closes it."""
    app = make_app(step="method")
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        step = app.screen
        await pilot.press(key)
        await pilot.pause()
        assert isinstance(app.screen, HelpScreen)
        text = help_text(app.screen)
        keys = {k for ln in app.screen.lines for k in ln.keys}
        # Every binding of the step screen itself is in the help (read from BINDINGS, not a copy).
        for binding in step.BINDINGS:
            for k in binding.key.split(","):
                if k.isdigit():
                    continue
                shown = app.get_key_display(type(binding)(k, binding.action))
                assert shown in keys, (k, keys)
        assert f"1-{len(q.STEPS)}" in keys
        assert "go to 1 Hardware, 2 Model" in text
        assert "this field" in text and "previous choice" in text
        assert "?" in keys and "f1" in keys
        await pilot.press("question_mark")
        await pilot.pause()
        assert app.screen is step
        await pilot.press("f1", "escape")
        await pilot.pause()
        assert app.screen is step


async def test_help_on_the_run_screen_shows_relaunch(workdir: Path) -> None:
    """The Run screen's r (only usable after an out-of-memory end) is listed, marked not now."""
    from tests.tui.test_snapshots import write_run

    write_run(workdir / "runs" / "demo-1")
    app = make_app(run_dir="runs/demo-1")
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        await pilot.press("f1")
        await pilot.pause()
        assert isinstance(app.screen, HelpScreen)
        lines = {ln.keys: ln for ln in app.screen.lines}
        assert ("r",) in lines and not lines[("r",)].available
        assert "relaunch" in lines[("r",)].what
        assert ("d",) in lines and lines[("d",)].available
        app.screen.dismiss(None)
        await pilot.pause()


# ---------------------------------------------------------------- q


async def test_q_quits_at_once_without_unsaved_answers() -> None:
    app = make_app(step="model")
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        await pilot.press("q")
        await pilot.pause()
        assert not app.is_running
    assert app.return_value == 0


async def test_q_asks_when_answers_are_unsaved_and_stays_on_no(workdir: Path) -> None:
    """An answer given, q: a dialog; n (and Enter, on the focused 'stay') keeps the wizard and
    the answer; after s saves, q quits at once."""
    app = make_app(step="model")
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        await pilot.press("down", "right")           # Precision: another choice
        await pilot.pause()
        changed = app.config
        assert app.unsaved
        await pilot.press("q")
        await pilot.pause()
        assert isinstance(app.screen, ConfirmScreen)
        await pilot.press("n")
        await pilot.pause()
        assert app.is_running and app.config == changed and app.screen.id == "step-model"
        await pilot.press("q")
        await pilot.pause()
        await pilot.press("enter")                   # the focused button is "stay"
        await pilot.pause()
        assert app.is_running and app.screen.id == "step-model"
        await pilot.press("s")
        await pilot.pause()
        await pilot.press("ctrl+u", *"saved.yaml", "enter")
        await pilot.pause()
        assert not app.unsaved
        await pilot.press("q")
        await pilot.pause()
        assert not app.is_running
    assert load_config(workdir / "saved.yaml") == changed


async def test_q_then_y_quits_without_saving(workdir: Path) -> None:
    app = make_app(step="model")
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        await pilot.press("down", "right")
        await pilot.pause()
        await pilot.press("q")
        await pilot.pause()
        assert isinstance(app.screen, ConfirmScreen)
        await pilot.press("y")
        await pilot.pause()
        assert not app.is_running
    assert not list(workdir.glob("*.yaml"))


# ---------------------------------------------------------------- host RAM


def short_of(plan) -> list[str]:  # noqa: ANN001
    """What Review's launch (the one preflight) would ask about before launching this plan."""
    from ftwizard.core.preflight import preflight

    return [f.line() for f in preflight(plan, mode="launch").does_not_fit]


async def test_host_ram_field_reaches_config_and_plan(workdir: Path) -> None:
    """Seed 001 (GPT-J fp16, ZeRO-3 with both offloads, one RTX 4090): the catalog's typical
    host is short of RAM; typing 256 into Host RAM beside the target makes the plan's host
    capacity 256 GiB, launch no longer stops on host RAM (the one preflight), and the saved
    config carries hardware.host_ram_gib: 256."""
    cfg = snapshot_config(**{
        "model.name": "EleutherAI/gpt-j-6B", "model.dtype": "fp16", "method.kind": "full",
        "method.parallel": "deepspeed", "method.zero_stage": 3, "method.offload_optimizer": True,
        "method.offload_params": True, "method.gradient_checkpointing": True,
        "method.optimizer": "adamw", "train.micro_batch": 7, "train.grad_accum": 1})
    app = make_app(cfg, step="hardware")
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        before = app.plan
        assert before is not None and before.memory.host_capacity_bytes < 256 * GiB
        row = app.screen.query_one("#f-hardware-host_ram_gib")
        assert "(default)" in str(row.query_one(".value").render())
        assert any("host RAM" in line for line in short_of(app.plan))   # launch would ask
        await pilot.press("down")                          # Plan for -> Host RAM
        assert app.focused is row
        await pilot.press("enter", "ctrl+u", *"256", "enter")
        await pilot.pause()
        assert app.config.hardware.host_ram_gib == 256
        assert app.plan.memory.host_capacity_bytes == 256 * GiB
        assert app.plan.memory.host_fits
        assert not any("host RAM" in line for line in short_of(app.plan))
        assert "256" in str(row.query_one(".value").render())
        await pilot.press("s")
        await pilot.pause()
        await pilot.press("ctrl+u", *"gptj.yaml", "enter")
        await pilot.pause()
    assert load_config(workdir / "gptj.yaml").hardware.host_ram_gib == 256


async def test_host_ram_refuses_nonsense(workdir: Path) -> None:
    """A negative host RAM is refused with the field named; the config keeps its value."""
    app = make_app(step="hardware")
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        await pilot.press("down", "enter", "ctrl+u", *"-4", "enter")
        await pilot.pause()
        assert app.config.hardware.host_ram_gib is None
        assert "host_ram_gib" in (app.screen.error or "")


# ---------------------------------------------------------------- too small


async def test_smallest_size_message_comes_and_goes() -> None:
    """Started below the minimum: only the message, naming both sizes; grown to the minimum:
    the step as it was; shrunk again (after a test fit's error made the panel tall, which used
    to squeeze the form to nothing): the message again."""
    app = make_app(step="method")
    async with app.run_test(size=(50, 15)) as pilot:
        await pilot.pause()
        assert isinstance(app.screen, TooSmallScreen)
        text = str(app.screen.query_one("#too-small").render())
        assert f"needs at least {MIN_WIDTH}x{MIN_HEIGHT}" in text and "is 50x15" in text
        await pilot.resize_terminal(MIN_WIDTH, MIN_HEIGHT)
        await pilot.pause()
        await pilot.pause()
        assert app.screen.id == "step-method"
        app.show_probe_result(None, error="could not load the model: " + "x " * 200)
        await pilot.pause()
        form = app.screen.query_one("#form")
        rows = [r for r in app.screen.query("FieldRow") if r.display]
        assert form.size.height >= 5 and rows[0].region.height >= 1
        await pilot.resize_terminal(MIN_WIDTH - 1, MIN_HEIGHT)
        await pilot.pause()
        await pilot.pause()
        assert isinstance(app.screen, TooSmallScreen)
        assert f"is {MIN_WIDTH - 1}x{MIN_HEIGHT}" in str(app.screen.query_one("#too-small").render())


def test_fit_text_breaks_names_at_slashes() -> None:
    from rich.text import Text

    from ftwizard.tui.widgets.field_row import fit_text

    assert fit_text(Text("meta-llama/Llama-2-7b-hf ▾"), 19).plain == "meta-llama/\nLlama-2-7b-hf ▾"
    assert fit_text(Text("gpt2 ▾"), 19).plain == "gpt2 ▾"
    assert fit_text(Text("runs/really-long-file-name.jsonl"), 19).plain == \
        "runs/\nreally-long-file-\nname.jsonl"
    assert all(len(x) <= 10 for x in fit_text(Text("a" * 25), 10).plain.split("\n"))


# ---------------------------------------------------------------- the Run screen at 80x24


async def test_run_screen_wraps_long_log_lines_and_header(workdir: Path) -> None:
    """A warning longer than the log is wide wraps at spaces (nothing cut, continuation
    indented), and still does after a resize; a long run dir wraps the header to two lines."""
    from textual.widgets import Log

    from tests.tui.test_snapshots import write_run

    run_dir = workdir / "runs" / ("a-rather-long-run-name-for-the-header-" * 2 + "1")
    write_run(run_dir)
    warning = ("UserWarning: the tokenizer has no pad token; using eos_token_id as the pad token "
               "for open-end generation (set model.pad_token_id to silence this)")
    with open(run_dir / "stdout.log", "a") as fh:
        fh.write(warning + "\n")
    app = make_app(run_dir=str(run_dir))
    async with app.run_test(size=(80, 24)) as pilot:
        for _ in range(40):
            await pilot.pause(0.1)
            if app.screen.query_one(Log).line_count > 16:
                break
        for size in ((80, 24), (100, 24)):
            await pilot.resize_terminal(*size)
            await pilot.pause()
            await pilot.pause()
            log = app.screen.query_one(Log)
            width = log.scrollable_content_region.width
            pieces = [line for line in log.lines if not line.startswith("step ")]
            assert len(pieces) >= 2 and all(len(p) <= width for p in pieces), (width, pieces)
            assert " ".join(p.strip() for p in pieces) == warning
        await pilot.resize_terminal(80, 24)
        await pilot.pause()
        header = app.screen.query_one("#run-header")
        assert header.region.height >= 2      # wrapped, not cut at the right edge


async def test_key_bar_wraps_instead_of_cutting() -> None:
    """Review's ten keys at 80 columns fit one line; at 60 they take two, none lost."""
    from ftwizard.tui.widgets.keybar import KeyBar, key_items

    app = make_app(step="review")
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        bar = app.screen.query_one(KeyBar)
        items = key_items(app.screen)
        assert {what for _, what, _ in items} >= {"next", "launch", "dry run", "help", "quit"}
        assert bar.region.height == 1
        await pilot.resize_terminal(60, 20)
        await pilot.pause()
        await pilot.pause()
        bar = app.screen.query_one(KeyBar)
        shown = str(bar.render())
        assert bar.region.height == 2, repr(shown)
        assert all(f"{key} {what}" in shown for key, what, _ in items), shown
        assert all(len(line) <= bar.size.width for line in shown.splitlines())


def test_short_path_is_relative_under_the_working_folder(workdir: Path) -> None:
    from ftwizard.tui.widgets.paths import short_path

    assert short_path(workdir / "runs" / "my-run") == str(Path("runs") / "my-run")
    assert short_path(Path.home() / "elsewhere" / "x") == f"~{os.sep}elsewhere{os.sep}x"
    assert short_path("/") == "/"


async def test_pagedown_and_pageup_change_step_from_a_field() -> None:
    """pgdn / pgup move between steps even with a field focused (the field list used to take
    them for scrolling)."""
    app = make_app(step="model")
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        assert type(app.focused).__name__ == "FieldRow"
        await pilot.press("pagedown")
        await pilot.pause()
        assert app.screen.id == "step-method"
        await pilot.press("pageup")
        await pilot.pause()
        assert app.screen.id == "step-model"


async def test_step_bar_flags_the_step_of_the_short_field() -> None:
    """The step bar marks the step holding the field a shortfall names: Method for Llama-2-7B
    full on 24 GiB (method.kind), and for seed 001 short of host RAM (method.offload_params);
    never Train for this machine's disk while something else is short."""
    from ftwizard.tui.widgets.stepbar import StepBar

    llama = snapshot_config(**{"model.name": "meta-llama/Llama-2-7b-hf", "model.dtype": "fp16",
                               "method.kind": "full"})
    gptj = snapshot_config(**{
        "model.name": "EleutherAI/gpt-j-6B", "model.dtype": "fp16", "method.kind": "full",
        "method.parallel": "deepspeed", "method.zero_stage": 3, "method.offload_optimizer": True,
        "method.offload_params": True, "method.gradient_checkpointing": True,
        "method.optimizer": "adamw", "train.micro_batch": 7, "train.grad_accum": 1})
    for cfg, field in ((llama, "method.kind"), (gptj, "method.offload_params")):
        app = make_app(cfg, step="hardware")
        async with app.run_test(size=(80, 24)) as pilot:
            await pilot.pause()
            assert field in {sf["field"] for sf in app.plan.shortfalls()}
            bar = str(app.screen.query_one(StepBar).render())
            assert "3 Method!" in bar and "Train!" not in bar and "Hardware!" not in bar, bar


async def test_f1_opens_help_over_the_picker() -> None:
    """F1 works over a dialog too (the picker's search box takes ?): ↑↓ move the list (the
    search box takes them, in the order typed with the search text), typing keys listed."""
    app = make_app(step="model")
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        await pilot.press("enter")                     # the model picker
        await pilot.pause()
        picker = app.screen
        await pilot.press("f1")
        await pilot.pause()
        assert isinstance(app.screen, HelpScreen)
        lines = {ln.keys: ln for ln in app.screen.lines}
        assert lines[("↓",)].what == "next in the list" and lines[("↓",)].section == "typing"
        assert any(ln.section == "typing" for ln in app.screen.lines)
        await pilot.press("f1")
        await pilot.pause()
        assert app.screen is picker
