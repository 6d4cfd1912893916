"""The step bar at the top: where the user is, and which steps hold a problem."""

from __future__ import annotations

from rich.text import Text
from textual.widgets import Static


class StepBar(Static):
    DEFAULT_CSS = """
    StepBar { height: 1; width: 1fr; background: $panel; }
    """

    def show(self, titles: list[str], current: int, flagged: set[int]) -> None:
        t = Text(" ftwizard ", style="bold")
        for i, title in enumerate(titles):
            label = f"{i + 1} {title}" + ("!" if i in flagged else "")
            t.append(" ")
            if i == current:
                t.append(f"[{label}]", style="bold reverse")
            elif i in flagged:
                t.append(label, style="bold red")
            else:
                t.append(label, style="dim" if i > current else "")
        self.update(t)
