"""One question as one line: label, value, and the keys that change it.

A row never changes the config itself: it posts `FieldRow.Answered` and the screen builds the new
config (through core.questions, whose validation is the config's), so every route to a value is
checked the same way. Choice rows cycle with ◂ ▸ over the choices available here; numbers step
with ◂ ▸ and open an inline editor with Enter; long lists open a searchable picker.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from rich.text import Text
from textual import on
from textual.binding import Binding
from textual.containers import Horizontal
from textual.message import Message
from textual.widgets import Input, Static

from ftwizard.core import questions as q


class FieldRow(Horizontal, can_focus=True):
    BINDINGS = [
        Binding("left", "step(-1)", "prev", show=False),
        Binding("right", "step(1)", "next", show=False),
        Binding("space", "step(1)", "change", show=False),
        Binding("enter", "edit", "edit", show=False),
        Binding("down", "app.focus_next", "next field", show=False),
        Binding("up", "app.focus_previous", "previous field", show=False),
    ]

    @dataclass
    class Answered(Message):
        """The user gave this field a value (not yet validated)."""

        row: "FieldRow"
        field_id: str
        value: Any

    @dataclass
    class PickerRequested(Message):
        """A long choice list: the screen opens the picker."""

        row: "FieldRow"
        field_id: str

    def __init__(self, field: q.Field) -> None:
        super().__init__(id="f-" + field.id.replace(".", "-"))
        self.field = field
        self.ctx: q.Context | None = None
        self.value: Any = None

    def compose(self):  # noqa: ANN201
        yield Static(self.field.label, classes="label")
        yield Static("", classes="value")

    def sync(self, ctx: q.Context) -> None:
        """Show the value in `ctx.config`, with this machine's choices."""
        self.ctx = ctx
        self.value = self.field.get(ctx.config)
        if self.is_mounted:
            text = self._value_text()
            if text != getattr(self, "_shown", None):  # an update costs a layout pass: skip no-ops
                self._shown = text
                self.query_one(".value", Static).update(text, layout=False)  # fixed 1x1fr cell

    def on_mount(self) -> None:
        if self.ctx is not None:
            self.query_one(".value", Static).update(self._value_text())

    def _value_text(self) -> Text:
        f = self.field
        shown = f.format(self.ctx.config) if self.ctx else ""
        if f.kind == "choice" and not f.picker:
            for c in f.options(self.ctx):
                if c.value == self.value:
                    shown = c.label
            return Text.assemble(("◂ ", "dim"), (shown, "bold"), (" ▸", "dim"))
        if f.kind == "choice":
            for c in f.options(self.ctx):
                if c.value == self.value:
                    shown = c.label
            return Text.assemble((shown, "bold"), (" ▾", "dim"))
        if f.kind == "bool":
            return Text("[x] yes" if self.value else "[ ] no", style="bold")
        if f.kind == "int":
            return Text.assemble(("◂ ", "dim"), (shown, "bold"), (" ▸", "dim"))
        return Text(shown, style="bold")

    # ---------------------------------------------------------------- keys

    def action_step(self, delta: int) -> None:
        f = self.field
        if self.query(Input):
            return
        if f.kind == "bool":
            self.post_message(self.Answered(self, f.id, not self.value))
        elif f.kind == "choice" and not f.picker:
            opts = [c for c in f.options(self.ctx) if c.available or c.value == self.value]
            values = [c.value for c in opts]
            if not values:
                return
            i = values.index(self.value) if self.value in values else -1
            nxt = values[(i + delta) % len(values)]
            if nxt != self.value:
                self.post_message(self.Answered(self, f.id, nxt))
        elif f.kind == "int" and self.value is not None:
            self.post_message(self.Answered(self, f.id, int(self.value) + delta))
        elif f.kind == "choice" and f.picker:
            self.post_message(self.PickerRequested(self, f.id))

    def action_edit(self) -> None:
        f = self.field
        if f.kind in ("bool",) or (f.kind == "choice" and not f.picker):
            self.action_step(1)
            return
        if f.picker:
            self.post_message(self.PickerRequested(self, f.id))
            return
        if self.query(Input):
            return
        raw = "" if self.value is None else (f"{self.value:g}" if f.kind == "float" else str(self.value))
        editor = Input(value=raw, classes="editor", select_on_focus=False)
        self.query_one(".value", Static).display = False
        self.mount(editor)
        editor.focus()

    @on(Input.Submitted, ".editor")
    def _submitted(self, event: Input.Submitted) -> None:
        event.stop()
        value = event.value
        self._close_editor()
        self.post_message(self.Answered(self, self.field.id, value))

    @on(Input.Blurred, ".editor")
    def _blurred(self, event: Input.Blurred) -> None:
        self._close_editor(refocus=False)

    def key_escape(self, event: Any) -> None:
        if self.query(Input):
            event.stop()
            self._close_editor()

    def _close_editor(self, refocus: bool = True) -> None:
        for ed in self.query(Input):
            ed.remove()
        self.query_one(".value", Static).display = True
        if refocus:
            self.focus()
