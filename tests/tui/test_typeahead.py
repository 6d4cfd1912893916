"""Keys typed fast reach the field being edited, never the step's keys.

A terminal hands the app a fast typist's keys, a paste or `tmux send-keys Enter C-u text` as one
burst: every key is queued before the first is handled. `pilot.press` waits for the app to go
idle between keys, so these tests queue the whole burst at once, as the terminal driver does; the
keys after Enter must land in the field's editor (or the picker's search), not on `n` (next
step), `s` (save), `q` (quit) or the digits (jump to a step)."""

from __future__ import annotations

from pathlib import Path

import pytest
from textual import events

from ftwizard.tui.screens.save import SaveScreen
from ftwizard.tui.widgets.field_row import FieldRow
from tests.tui.conftest import make_app

pytestmark = pytest.mark.tui

CHARS = {"enter": "\r", "ctrl+u": "\x15", "escape": "\x1b", "space": " ", "backspace": "\x7f"}


@pytest.fixture(autouse=True)
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    return tmp_path


async def burst(pilot, *keys: str) -> None:  # noqa: ANN001
    """Queue `keys` all at once, as the terminal driver does with one read of the tty, then let
    the app settle."""
    app = pilot.app
    for key in keys:
        event = events.Key(key, CHARS.get(key, key if len(key) == 1 else None))
        event.set_sender(app)
        app.post_message(event)
    await pilot.pause()
    await pilot.pause()


async def test_typed_name_after_enter_is_the_name_not_save_or_next() -> None:
    """Review's run name: Enter, Ctrl+U and 'snapname' in one burst give the name 'snapname';
    's' does not open the save dialog and 'n' does not leave the step."""
    app = make_app(step="review")
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        assert isinstance(app.focused, FieldRow) and app.focused.field.id == "name"
        await burst(pilot, "enter", "ctrl+u", *"snapname", "enter")
        assert not isinstance(app.screen, SaveScreen)
        assert app.screen.id == "step-review"
        assert app.config.name == "snapname"
        assert isinstance(app.focused, FieldRow) and app.focused.field.id == "name"


async def test_digits_after_down_and_enter_go_to_the_field() -> None:
    """Down, Enter, Ctrl+U, '32', Enter in one burst (a pty driver's line) set Host RAM to 32 GiB
    and stay on the Hardware step: the digits are not 'go to step 3' and 'go to step 2'."""
    app = make_app(step="hardware")
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        await burst(pilot, "down", "enter", "ctrl+u", "3", "2", "enter")
        assert app.screen.id == "step-hardware"
        assert app.config.hardware.host_ram_gib == 32
        assert app.focused.id == "f-hardware-host_ram_gib"


async def test_editing_keys_apply_in_the_order_typed() -> None:
    """Ctrl+U and Backspace inside a burst act where they were typed: Enter, Ctrl+U, 'ab',
    Backspace, 'c', Enter name the run 'ac' (Textual's Input ran them after the text behind them
    had been inserted)."""
    app = make_app(step="review")
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        await burst(pilot, "enter", "ctrl+u", "a", "b", "backspace", "c", "enter")
        assert app.config.name == "ac"


async def test_keys_after_the_answer_are_the_steps_again() -> None:
    """The Enter that answers closes the editor at once: an 'n' typed right behind it moves to
    the next step with the answer kept, instead of being typed into the closing editor."""
    app = make_app(step="hardware")
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        await burst(pilot, "down", "enter", "ctrl+u", "6", "4", "enter", "n")
        assert app.config.hardware.host_ram_gib == 64
        assert app.screen.id == "step-model"


async def test_keys_while_editing_and_after_escape() -> None:
    """Inside an open editor the step's keys are text; Escape closes it unchanged, and the next
    key of the same burst is a step key again ('n': next step)."""
    app = make_app(step="hardware")
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        await burst(pilot, "down", "enter", *"5nqs", "escape", "n")
        assert app.config.hardware.host_ram_gib is None
        assert app.screen.id == "step-model"


async def test_search_typed_after_enter_reaches_the_picker() -> None:
    """Model: Enter opens the searchable list and 'qwen2.5-3b', typed in the same burst, is its
    search ('q' does not ask to quit, the digits do not change step); Enter takes the match."""
    app = make_app(step="model")
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        assert app.focused.field.id == "model.name"
        await burst(pilot, "enter", *"qwen2.5-3b", "enter")
        assert app.screen.id == "step-model"
        assert app.config.model.name.startswith("Qwen/Qwen2.5-3B")


async def test_down_typed_behind_the_search_moves_in_its_matches() -> None:
    """'gemma-3', Down, Enter in one burst: Down moves within the matches for 'gemma-3' (the
    list is filtered as the text changes), so Enter takes the second match, not the first."""
    app = make_app(step="model")
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        await pilot.press("enter")
        await pilot.pause()
        picker = app.screen
        await pilot.press(*"gemma-3")
        await pilot.pause()
        ol = picker.query_one("#picker-list")
        second = ol.get_option_at_index(1).id
        assert second != ol.get_option_at_index(0).id
        await pilot.press("escape")
        await pilot.pause()
        await burst(pilot, "enter", *"gemma-3", "down", "enter")
        assert app.config.model.name == second


async def test_key_typed_behind_the_pick_is_the_steps() -> None:
    """Enter in the picker takes the match at once; an 'n' typed right behind it in the same
    burst moves to the next step (it is not typed into the closing search)."""
    app = make_app(step="model")
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        await burst(pilot, "enter", *"qwen2.5-3b", "enter", "n")
        assert app.config.model.name.startswith("Qwen/Qwen2.5-3B")
        assert app.screen.id == "step-method"
