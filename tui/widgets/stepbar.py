"""The step bar at the top: where the user is, and which steps hold a problem.

It always fits one line: when the full titles do not fit the width, the app's name goes first
(the titles say more: at 80 columns eight titles fit without it), then the other steps shrink to
their numbers (the current step keeps its title, a flagged one its "!").
"""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual.widgets import Static


def step_bar(titles: list[str], current: int, flagged: set[int], width: int) -> Text:
    """The bar's text for `width` columns: full titles, else numbers only for the other steps."""
    for short, brand in ((False, True), (False, False), (True, True), (True, False)):
        t = Text(" ftwizard " if brand else "", style="bold")
        for i, title in enumerate(titles):
            name = f"{i + 1}" if short and i != current else f"{i + 1} {title}"
            label = name + ("!" if i in flagged else "")
            t.append(" ")
            if i == current:
                t.append(f"[{label}]", style="bold reverse")
            elif i in flagged:
                t.append(label, style="bold red")
            else:
                t.append(label, style="dim" if i > current else "")
        if t.cell_len <= width or width <= 0:
            return t
    return t


class StepBar(Static):
    DEFAULT_CSS = """
    StepBar { height: 1; width: 1fr; background: $panel; }
    """

    _last: tuple[list[str], int, set[int]] | None = None

    def show(self, titles: list[str], current: int, flagged: set[int]) -> None:
        self._last = (titles, current, flagged)
        self.update(step_bar(titles, current, flagged, self.size.width or self.app.size.width))

    def on_resize(self, event: Any) -> None:
        if self._last is not None:
            self.update(step_bar(*self._last, event.size.width))
