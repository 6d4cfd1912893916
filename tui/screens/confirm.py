"""A yes/no question as a typed dialog (posting's and frogmouth's pattern): `ModalScreen[bool]`
that dismisses True for yes. The safe answer has the focus, so Enter never loses anything."""

from __future__ import annotations

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Static


class ConfirmScreen(ModalScreen[bool]):
    """`question` in bold, `detail` below it, and two buttons: `yes` (y) and `no` (n, Esc)."""

    DEFAULT_CSS = """
    ConfirmScreen { align: center middle; }
    ConfirmScreen #confirm {
        width: 64; max-width: 100%; height: auto; max-height: 100%;
        border: round $warning; background: $panel; padding: 0 1;
    }
    ConfirmScreen #confirm-question { text-style: bold; height: auto; }
    ConfirmScreen #confirm-detail { color: $text-muted; height: auto; margin-bottom: 1; }
    ConfirmScreen #confirm-buttons { height: auto; align-horizontal: right; }
    ConfirmScreen Button { margin-left: 2; }
    """

    BINDINGS = [
        Binding("y", "answer(True)", "yes", show=False),
        Binding("n,escape", "answer(False)", "no", show=False),
        Binding("left,right,tab,shift+tab", "app.focus_next", "other button", show=False),
    ]

    def __init__(self, question: str, detail: str = "", *, yes: str = "yes",
                 no: str = "no") -> None:
        super().__init__(id="confirm-screen")
        self.question, self.detail, self.yes, self.no = question, detail, yes, no

    def compose(self) -> ComposeResult:
        with Vertical(id="confirm"):
            yield Static(self.question, id="confirm-question")
            if self.detail:
                yield Static(self.detail, id="confirm-detail")
            with Horizontal(id="confirm-buttons"):
                yield Button(f"{self.no} (n)", id="no", compact=True)
                yield Button(f"{self.yes} (y)", id="yes", variant="error", compact=True)

    def on_mount(self) -> None:
        self.query_one("#no", Button).focus()

    @on(Button.Pressed)
    def _pressed(self, event: Button.Pressed) -> None:
        self.dismiss(event.button.id == "yes")

    def action_answer(self, yes: bool) -> None:
        self.dismiss(yes)
