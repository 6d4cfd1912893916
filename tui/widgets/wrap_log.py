"""A Log that wraps long lines at word boundaries instead of cutting them at the right edge.

Textual's Log never wraps (lines past the width are simply not shown, and the Run screen hides
its horizontal scrollbar), so at 80 columns a warning or a traceback line lost its end mid-word.
Here a long line becomes several, the continuation indented two spaces; the raw lines are kept,
so a resize wraps everything again for the new width.
"""

from __future__ import annotations

import textwrap
from typing import Any, Iterable

from textual.widgets import Log

INDENT = "  "


def wrap_line(line: str, width: int) -> list[str]:
    """`line` in pieces of at most `width` cells, broken at spaces (a word longer than a line,
    a path, is folded); the first piece is the line's own start."""
    line = line.expandtabs(4).rstrip()
    if width < 12 or len(line) <= width:
        return [line]
    return textwrap.wrap(line, width, subsequent_indent=INDENT, break_long_words=True,
                         break_on_hyphens=False, replace_whitespace=False,
                         drop_whitespace=True) or [line]


class WrappingLog(Log):
    """Drop-in for Log (write_lines, lines, line_count) that wraps to its width."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._raw: list[str] = []
        self._wrapped_at = 0

    def _wrap_width(self) -> int:
        # One column stays free for the vertical scrollbar, shown or not, so a line never
        # rewraps just because the log grew past its height.
        width = self.scrollable_content_region.width
        return width - (0 if self.show_vertical_scrollbar else 1)

    def write_lines(self, lines: Iterable[str], scroll_end: bool | None = None) -> "WrappingLog":
        lines = list(lines)
        self._raw.extend(lines)
        if self.max_lines is not None and len(self._raw) > self.max_lines:
            del self._raw[: len(self._raw) - self.max_lines]
        width = self._wrap_width()
        self._wrapped_at = width
        out = [piece for line in lines for piece in wrap_line(line, width)]
        super().write_lines(out, scroll_end)
        return self

    def clear(self) -> "WrappingLog":
        self._raw.clear()
        return super().clear()

    def on_resize(self, event: Any) -> None:
        width = self._wrap_width()
        if width == self._wrapped_at or not self._raw:
            return
        raw = list(self._raw)
        super().clear()
        self._raw = []
        self.write_lines(raw, scroll_end=True)
