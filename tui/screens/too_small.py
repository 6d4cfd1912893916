"""Below the smallest terminal the wizard can lay out, one clear message instead of a broken
layout; it goes away by itself when the terminal grows (the answers are kept underneath).

60x20 is the smallest size at which every screen keeps its form, its estimate and its footer
readable (the panel goes under the form below 80 columns and scrolls); checked in tmux.
"""

from __future__ import annotations

from typing import Any

from textual.app import ComposeResult
from textual.events import Resize
from textual.geometry import Size
from textual.screen import Screen
from textual.widgets import Static

MIN_WIDTH = 60
MIN_HEIGHT = 20


def too_small(size: Size) -> bool:
    return size.width < MIN_WIDTH or size.height < MIN_HEIGHT


def message(size: Size) -> str:
    return (f"ftwizard needs at least {MIN_WIDTH}x{MIN_HEIGHT}; this terminal is "
            f"{size.width}x{size.height}.\n\nMake the window larger (or the font smaller) "
            "to go on: your answers are kept.\nctrl+c quits without saving.")


class TooSmallScreen(Screen[None]):
    """Covers the whole terminal (not modal: nothing broken shows through)."""

    DEFAULT_CSS = """
    TooSmallScreen { align: center middle; }
    TooSmallScreen #too-small { width: auto; max-width: 100%; height: auto; padding: 0 1; }
    """

    def compose(self) -> ComposeResult:
        yield Static(message(self.app.size), id="too-small")

    def on_resize(self, event: Resize) -> None:
        self.query_one("#too-small", Static).update(message(event.size))


def check_size(app: Any, size: Size | None = None) -> None:
    """Show the message when `size` (the terminal's) is below the minimum; take it away when
    the terminal is large enough again. Called on start and on every resize of the app."""
    if len(app.screen_stack) <= 1:
        return   # before the app's first screen (a resize can come first): on_mount checks
    size = size or app.size
    on_top = isinstance(app.screen, TooSmallScreen)
    if too_small(size) and not on_top:
        app.push_screen(TooSmallScreen())
    elif not too_small(size) and on_top:
        app.pop_screen()
