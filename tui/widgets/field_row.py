"""One question as one line: label, value, and the keys that change it.

A row never changes the config itself: it posts `FieldRow.Answered` and the screen builds the new
config (through core.questions, whose validation is the config's), so every route to a value is
checked the same way. Choice rows cycle with ◂ ▸ over the choices available here; numbers step
with ◂ ▸ and open an inline editor with Enter; long lists open a searchable picker.

Keys typed fast arrive as one burst (a fast typist, a paste, `tmux send-keys Enter C-u text`):
the app routes each key to whatever has focus when it takes the key off its queue, before the
row has handled the one before. So the row's keys are priority bindings, run as the app takes
each key, and Enter opens the editor (already composed, hidden) and focuses it there and then:
the next key of the burst goes to the editor, never to the step's `n`, `s` or digits. The editor
takes its own keys in the order typed (typed_input.InOrderInput), and once its Enter or Esc has
closed it, keys typed behind them go back to the app: they are the step's again.
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
from ftwizard.tui.widgets.typed_input import InOrderInput


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


class Editor(InOrderInput):
    """A row's inline editor. Enter answers, Escape puts the value back, ↑ ↓ leave the edit for
    the field above or below: each taken in the order typed (InOrderInput), and once it has
    closed, keys that were typed behind Enter or Escape go back to the app as the step's keys."""

    BINDINGS = [Binding("escape", "cancel", "put the value back as it was", show=False),
                Binding("down", "leave(1)", "leave the value as it was, next field", show=False),
                Binding("up", "leave(-1)", "leave the value as it was, previous field",
                        show=False)]

    def accepts_keys(self) -> bool:
        return self.display

    async def action_submit(self) -> None:
        self.parent.commit(self.value)

    def action_cancel(self) -> None:
        self.parent.close_editor()

    def action_leave(self, delta: int) -> None:
        self.parent.close_editor()
        if delta > 0:
            self.screen.focus_next()
        else:
            self.screen.focus_previous()


class FieldRow(Horizontal, can_focus=True):
    # Priority: each runs as the app takes the key off its queue, so focus has moved (up/down,
    # Enter into the editor) before the next key of a burst is routed (module docstring). While
    # the editor is open check_action turns them off and the editor takes the key.
    BINDINGS = [  # the help screen (?) lists these with their descriptions
        Binding("left", "step(-1)", "previous choice, or one less", show=False, priority=True),
        Binding("right,space", "step(1)", "next choice, one more, or yes/no", show=False,
                priority=True),
        Binding("enter", "edit", "type a value, or open the list to search", show=False,
                priority=True),
        Binding("escape", "cancel_edit", "put the value back as it was", show=False,
                tooltip="while typing"),   # listed for the help screen; the Editor takes Escape
        Binding("down", "move(1)", "next field", show=False, priority=True),
        Binding("up", "move(-1)", "previous field", show=False, priority=True),
    ]

    @dataclass
    class Answered(Message):
        """The user gave this field a value (not yet validated)."""

        row: "FieldRow"
        field_id: str
        value: Any

    def __init__(self, field: q.Field) -> None:
        super().__init__(id="f-" + field.id.replace(".", "-"))
        self.field = field
        self.ctx: q.Context | None = None
        self.value: Any = None

    def compose(self):  # noqa: ANN201
        yield Static(self.field.label, classes="label")
        yield Static("", classes="value")
        if self.types_text:   # composed now, hidden, so that Enter can focus it at once
            editor = Editor(classes="editor", select_on_focus=False)
            editor.display = False
            yield editor

    @property
    def types_text(self) -> bool:
        """Enter opens an inline editor (numbers, text, paths), not a list or a toggle."""
        f = self.field
        return not f.picker and f.kind not in ("bool", "choice")

    @property
    def editing(self) -> bool:
        """The inline editor is open (from the moment the Enter that opens it is taken)."""
        return self.types_text and bool(self.query_one(Editor).display)

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
        if self.editing:
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
            self._open_picker()

    def action_edit(self) -> None:
        """Open the editor (or the picker) and give it focus before returning: the keys typed
        after Enter in the same burst are routed to it, not to the step (module docstring)."""
        f = self.field
        if f.kind in ("bool",) or (f.kind == "choice" and not f.picker):
            self.action_step(1)
            return
        if f.picker:
            self._open_picker()
            return
        if self.editing:
            return
        raw = f.edit_text(self.ctx.config) if self.ctx is not None else ""
        editor = self.query_one(Editor)
        editor.value = raw
        editor.cursor_position = len(raw)
        self.query_one(".value", Static).display = False
        editor.display = True
        self.screen.set_focus(editor)   # now, not after a refresh: the next key goes to it

    def _open_picker(self) -> None:
        """Push the searchable list now (a message to the screen would open it after the keys
        typed behind Enter had gone to the step); its answer comes back as `Answered`."""
        from ftwizard.tui.widgets.picker import PickerScreen

        def take(value: Any) -> None:
            if value is not None:
                self.post_message(self.Answered(self, self.field.id, value))
            self.screen.set_focus(self)

        self.app.push_screen(PickerScreen(self.field, self.ctx), take)

    def commit(self, text: str) -> None:
        """Enter in the editor: close it (focus back here at once) and answer."""
        self.close_editor()
        self.post_message(self.Answered(self, self.field.id, text))

    @on(Input.Blurred, ".editor")
    def _blurred(self, event: Input.Blurred) -> None:
        if self.screen.focused is not event.input:   # a click elsewhere: the edit is dropped
            self.close_editor(refocus=False)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action in ("step", "edit", "move"):   # while typing, the editor takes these keys
            return not self.editing
        if action == "cancel_edit":
            return self.editing
        return True

    def action_cancel_edit(self) -> None:
        self.close_editor()

    def action_move(self, delta: int) -> None:
        if delta > 0:
            self.screen.focus_next()
        else:
            self.screen.focus_previous()

    def close_editor(self, refocus: bool = True) -> None:
        if not self.editing:
            return
        self.query_one(Editor).display = False
        self.query_one(".value", Static).display = True
        if refocus:
            self.screen.set_focus(self)   # now: the keys typed after Enter are the step's
