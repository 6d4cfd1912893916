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


GiB = 1024**3

# Optional fields whose "none" means a default the user should see (not "none").
DEFAULT_SHOWN = {
    "hardware.host_ram_gib": lambda ctx: (f"{ctx.hardware.ram_total / GiB:.0f}"
                                          if ctx.hardware is not None
                                          and getattr(ctx.hardware, "ram_total", 0) else ""),
}


MARKS = ("◂", "▸", "▾")


def _parts(text: Text) -> list[tuple[str, str]]:
    """(text, style) pieces of a value built with Text.assemble."""
    return [(text.plain[s.start:s.end], str(s.style)) for s in text.spans] or [(text.plain, "")]


def fit_text(text: Text, width: int) -> Text:
    """`text` in lines of at most `width` cells, broken after '/' or at spaces; a name longer
    than a whole line breaks after a '-', '_' or '.' in its second half, else is folded."""
    plain = text.plain
    if width <= 0 or "\n" in plain or len(plain) <= width:
        return text
    points = [i + 1 for i, ch in enumerate(plain) if ch in "/ "]
    inner = [i + 1 for i, ch in enumerate(plain) if ch in "-_."]   # inside a name, if must
    cuts: list[int] = []
    start = 0
    while len(plain) - start > width:
        fits = ([p for p in points if start < p <= start + width]
                or [p for p in inner if start + width // 2 < p <= start + width])
        start = fits[-1] if fits else start + width
        cuts.append(start)
    lines = text.divide(cuts)
    for line in lines:
        line.rstrip()
    return Text("\n").join(lines)


class FieldRow(Horizontal, can_focus=True):
    BINDINGS = [  # the help screen (?) lists these with their descriptions
        Binding("left", "step(-1)", "previous choice, or one less", show=False),
        Binding("right,space", "step(1)", "next choice, one more, or yes/no", show=False),
        Binding("enter", "edit", "type a value, or open the list to search", show=False),
        Binding("escape", "cancel_edit", "put the value back as it was", show=False,
                tooltip="while typing"),
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
            self._show(self._value_text())

    def on_mount(self) -> None:
        if self.ctx is not None:
            self._show(self._value_text())

    def on_resize(self, event: Any) -> None:
        if self.ctx is not None:
            self._show(self._value_text())

    def _show(self, text: Text) -> None:
        """Update the value cell, skipping no-ops (an update costs a layout pass); a value wider
        than the cell breaks after a '/' or a space (org/model, folders) rather than mid-name."""
        cell = self.query_one(".value", Static)
        width = cell.size.width or max(1, self.size.width - 19)
        parts = _parts(text)
        kept = [(piece, style) for piece, style in parts if piece.strip() not in MARKS]
        if text.cell_len > width and len(kept) < len(parts):   # the marks go first
            text = Text.assemble(*kept)
        fitted = fit_text(text, width)
        if fitted == getattr(self, "_shown", None):
            return
        one_line = "\n" not in fitted.plain
        relayout = not (one_line and getattr(self, "_one_line", True))
        self._shown, self._one_line = fitted, one_line
        cell.update(fitted, layout=relayout)   # one line stays one line: no layout pass

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
        if self.value is None and f.id in DEFAULT_SHOWN and self.ctx is not None:
            default = DEFAULT_SHOWN[f.id](self.ctx)
            if default:
                return Text.assemble((default, "bold"), (" (default)", "dim"))
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

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "cancel_edit":   # Escape means something only while typing
            return bool(self.query(Input))
        return True

    def action_cancel_edit(self) -> None:
        self._close_editor()

    def _close_editor(self, refocus: bool = True) -> None:
        for ed in self.query(Input):
            ed.remove()
        self.query_one(".value", Static).display = True
        if refocus:
            self.focus()
