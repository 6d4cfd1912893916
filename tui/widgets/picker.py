"""A searchable list for long choices (models, catalog devices): type to filter, Enter to take.

Free text is allowed where the field says so (a model folder, a hub id in the cache).
"""

from __future__ import annotations

from typing import Any

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, OptionList, Static
from textual.widgets.option_list import Option

from ftwizard.core import questions as q


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
            yield Input(placeholder="search" + (" or type a path / id" if self.field.allow_other else ""),
                        id="picker-search")
            yield OptionList(id="picker-list")

    def on_mount(self) -> None:
        self._fill("")
        self.query_one(Input).focus()

    def _fill(self, text: str) -> None:
        ol = self.query_one(OptionList)
        ol.clear_options()
        needle = text.lower().strip()
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

    @on(Input.Changed, "#picker-search")
    def _search(self, event: Input.Changed) -> None:
        self._fill(event.value)

    def action_down(self) -> None:
        self.query_one(OptionList).action_cursor_down()

    def action_up(self) -> None:
        self.query_one(OptionList).action_cursor_up()

    @on(Input.Submitted, "#picker-search")
    def _take(self, event: Input.Submitted) -> None:
        ol = self.query_one(OptionList)
        text = event.value.strip()
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
