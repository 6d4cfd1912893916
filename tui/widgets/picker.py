"""A searchable list for long choices (models, catalog devices): type to filter, Enter to take.

Free text is allowed where the field says so (a model folder, a hub id in the cache).

The row pushes this screen as it takes the Enter that opens it, so the keys typed behind Enter
(a fast typist, `tmux send-keys Enter qwen`) come here, not to the step; those that arrive before
the search has focus are passed on to it, and the search takes its keys in order (InOrderInput).
"""

from __future__ import annotations

from typing import Any

from textual import events, on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import OptionList, Static
from textual.widgets.option_list import Option

from ftwizard.core import questions as q
from ftwizard.tui.widgets.typed_input import InOrderInput


class SearchInput(InOrderInput):
    """The picker's search line: Enter takes, Esc cancels, ↑ ↓ move in the list, in the order
    typed with the search text."""

    BINDINGS = [Binding("escape", "screen.cancel", "keeps the value as it was", show=False),
                Binding("down", "screen.down", "next in the list", show=False),
                Binding("up", "screen.up", "previous in the list", show=False)]

    def accepts_keys(self) -> bool:
        return self.screen.is_current   # once taken, keys typed behind Enter are the step's

    def watch_value(self, value: str) -> None:
        """Filter the list as the text changes, not when the Changed message comes round: a
        ↓ or Enter typed right behind the text must act on the list for that text."""
        if self.is_mounted:
            self.screen.filter(value)

    async def action_submit(self) -> None:
        self.screen.take(self.value)


class PickerScreen(ModalScreen[Any]):
    """Returns the chosen value, or None when dismissed with Escape."""

    BINDINGS = [Binding("escape", "cancel", "cancel", tooltip="keeps the value as it was"),
                Binding("down", "down", "next in the list", show=False),
                Binding("up", "up", "previous in the list", show=False)]

    def __init__(self, field: q.Field, ctx: q.Context) -> None:
        super().__init__()
        self.field = field
        self.choices = field.options(ctx)
        self.current = field.get(ctx.config)

    @property
    def help_title(self) -> str:
        """What the help screen (F1) calls this dialog."""
        return f"picking {self.field.label}"

    def compose(self) -> ComposeResult:
        with Vertical(id="picker"):
            yield Static(f"{self.field.label}: type to search, ↑↓ to move, Enter to take",
                         id="picker-title")
            yield SearchInput(placeholder="search" + (" or type a path / id"
                                                      if self.field.allow_other else ""),
                              id="picker-search")
            yield OptionList(id="picker-list")

    def on_mount(self) -> None:
        self._fill("")
        self.set_focus(self.query_one(SearchInput))   # now: keys queued behind it go there

    def on_key(self, event: events.Key) -> None:
        """Keys sent here before the search had focus (typed right behind the Enter that opened
        this list) are the search's: pass them on, in order."""
        search = self.query_one(SearchInput)
        if self.focused is not search or getattr(event, "passed_on", False):
            return   # the list has focus (its own keys), or the search has had this one
        if event.is_printable or event.key in search._bindings.key_to_bindings:
            event.stop()
            event.prevent_default()
            copy = events.Key(event.key, event.character)
            copy.passed_on = True
            search.post_message(copy)

    def _fill(self, text: str) -> None:
        ol = self.query_one(OptionList)
        ol.clear_options()
        needle = text.lower().strip()
        self._filtered_for = needle
        opts = []
        for c in self.choices:
            if needle and needle not in str(c.label).lower() and needle not in str(c.value).lower():
                continue
            label = c.label if c.available else f"{c.label}  ({c.reason})"
            opts.append(Option(label, id=str(c.value), disabled=not c.available))
        ol.add_options(opts)
        for i, c in enumerate(o for o in opts):
            if c.id == str(self.current) and not needle:
                ol.highlighted = i
                break
        else:
            if opts:
                ol.highlighted = 0

    def filter(self, text: str) -> None:
        """The list for this search text (a no-op when it already is)."""
        if text.lower().strip() != getattr(self, "_filtered_for", None):
            self._fill(text)

    def action_down(self) -> None:
        self.query_one(OptionList).action_cursor_down()

    def action_up(self) -> None:
        self.query_one(OptionList).action_cursor_up()

    def take(self, value: str) -> None:
        """Enter in the search: the highlighted match in the list for this text, else the text
        itself where free text goes."""
        text = value.strip()
        self.filter(text)
        ol = self.query_one(OptionList)
        if ol.highlighted is not None and ol.option_count:
            opt = ol.get_option_at_index(ol.highlighted)
            if not text or not self.field.allow_other or text.lower() in str(opt.prompt).lower():
                self._by_id(opt.id)
                return
        if text and self.field.allow_other:
            self.dismiss(text)

    @on(OptionList.OptionSelected)
    def _selected(self, event: OptionList.OptionSelected) -> None:
        self._by_id(event.option.id)

    def _by_id(self, oid: str | None) -> None:
        for c in self.choices:
            if str(c.value) == oid:
                self.dismiss(c.value)
                return

    def action_cancel(self) -> None:
        self.dismiss(None)
