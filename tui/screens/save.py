"""Where to write the config: a path (prefilled), or the user presets folder with one key."""

from __future__ import annotations

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, Static


class SaveScreen(ModalScreen[str | None]):
    BINDINGS = [Binding("escape", "cancel", "cancel"),
                Binding("ctrl+p", "preset", "save as preset")]

    def __init__(self, path: str, preset_path: str) -> None:
        super().__init__()
        self.path = path
        self.preset_path = preset_path

    def compose(self) -> ComposeResult:
        with Vertical(id="save"):
            yield Static("Save the run config: Enter writes it here, ctrl+p saves it as a preset "
                         f"({self.preset_path}), Esc cancels.", id="save-title")
            yield Input(value=self.path, id="save-path")

    @on(Input.Submitted, "#save-path")
    def _submit(self, event: Input.Submitted) -> None:
        self.dismiss(event.value.strip() or None)

    def action_preset(self) -> None:
        self.dismiss(self.preset_path)

    def action_cancel(self) -> None:
        self.dismiss(None)
