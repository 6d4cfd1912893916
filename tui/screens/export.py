"""After a run has finished: the exports it can become, with the disk each needs, one key away.

A ModalScreen listing core.export_plan's choices (merged model, GGUF at three sizes, Ollama);
Enter runs `ftwizard export RUN ...` in a thread worker (a real subprocess: the same command a
user would type, its output shown here), so the screen stays live while a large model converts.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.message import Message
from textual.screen import ModalScreen
from textual.widgets import OptionList, Static
from textual.widgets.option_list import Option


class ExportScreen(ModalScreen[None]):
    """The export choices of `run_dir`; Enter exports, Esc closes."""

    DEFAULT_CSS = """
    ExportScreen { align: center middle; }
    ExportScreen #export {
        width: 76; max-width: 100%; height: auto; max-height: 100%;
        border: round $accent; background: $panel; padding: 0 1;
    }
    ExportScreen #export-title { text-style: bold; height: auto; }
    ExportScreen #export-free { color: $text-muted; height: auto; }
    ExportScreen OptionList { height: auto; max-height: 10; margin: 1 0; }
    ExportScreen #export-status { height: auto; }
    """

    BINDINGS = [Binding("escape,q", "close", "close")]

    class Exported(Message):
        """An export command ended: its exit code and the last lines it printed."""

        def __init__(self, code: int, text: str) -> None:
            super().__init__()
            self.code, self.text = code, text

    def __init__(self, run_dir: Path) -> None:
        super().__init__(id="export-screen")
        self.run_dir = Path(run_dir)
        self.running = False

    def compose(self) -> ComposeResult:
        from ftwizard.core import export_plan

        self.choices = export_plan.choices(self.run_dir)
        free = export_plan.free_disk(self.run_dir)
        with Vertical(id="export"):
            yield Static(f"Export {self.run_dir.name}", id="export-title")
            yield Static(f"{free / 1e9:,.1f} GB free beside the run; Enter exports, Esc closes",
                         id="export-free")
            yield OptionList(*[Option(export_plan.describe(c), id=c.key, disabled=not c.fits)
                               for c in self.choices], id="export-choices")
            yield Static("", id="export-status")

    def on_mount(self) -> None:
        self.query_one(OptionList).focus()

    @on(OptionList.OptionSelected)
    def _chosen(self, event: OptionList.OptionSelected) -> None:
        if self.running:
            return
        choice = next(c for c in self.choices if c.key == event.option.id)
        self.running = True
        argv = [sys.executable, "-m", "ftwizard", "export", str(self.run_dir), *choice.args]
        self.query_one("#export-status", Static).update(
            f"exporting: ftwizard export {self.run_dir.name} {' '.join(choice.args)} …")
        self.export(argv)

    @work(thread=True, exclusive=True, group="export", name="export", exit_on_error=False,
          description="exporting the run's model")
    def export(self, argv: list[str]) -> None:
        try:
            done = subprocess.run(argv, capture_output=True, text=True, stdin=subprocess.DEVNULL)
            text = (done.stdout.strip() + "\n" + done.stderr.strip()).strip()
            self.post_message(self.Exported(done.returncode, text))
        except OSError as err:
            self.post_message(self.Exported(1, str(err)))

    @on(Exported)
    def _exported(self, event: Exported) -> None:
        self.running = False
        lines = [ln for ln in event.text.splitlines() if ln.strip()][-4:]
        mark = "✓ " if event.code == 0 else "✗ "
        self.query_one("#export-status", Static).update(mark + "\n".join(lines))

    def action_close(self) -> None:
        if not self.running:
            self.dismiss(None)
