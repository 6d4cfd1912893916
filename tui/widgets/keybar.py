"""The key line at the bottom: the keys shown in the footer, wrapped onto a second line when the
terminal is too narrow for one, never cut.

Textual's Footer lays its keys out on one row and cuts what does not fit: at 60 columns the
Review step lost "dry run" and "help", and the Run screen after an out-of-memory end lost its
last keys at 80. This bar reads the same bindings the Footer reads (`screen.active_bindings`,
`show=True`, one entry per action, refreshed on `bindings_updated_signal`) and packs whole
"key description" items into as many lines as the width needs.
"""

from __future__ import annotations

from typing import Any

from textual.content import Content
from textual.widgets import Static


def key_items(screen: Any) -> list[tuple[str, str, bool]]:
    """(key as displayed, description, enabled) for each shown action, in the footer's order."""
    out: list[tuple[str, str, bool]] = []
    seen: set[str] = set()
    for _node, binding, enabled, _tooltip in screen.active_bindings.values():
        if not binding.show or binding.action in seen:
            continue
        seen.add(binding.action)
        out.append((screen.app.get_key_display(binding), binding.description, enabled))
    return out


def pack(items: list[tuple[str, str, bool]], width: int) -> Content:
    """Whole items per line, two spaces apart; a line breaks only between items. Keys in the
    footer's key colour (and bold, for 16 colours and monochrome)."""
    parts: list[Any] = []
    used = 0
    for key, what, enabled in items:
        cell = len(key) + 1 + len(what)
        if used and used + 2 + cell > width:
            parts.append("\n")
            used = 0
        if used:
            parts.append("  ")
            used += 2
        # The space rides at the end of the key: SVG viewers drop a span's leading space.
        parts.append((key + " ", "bold $footer-key-foreground" if enabled else "dim"))
        parts.append((what, "" if enabled else "dim"))
        used += cell
    return Content.assemble(*parts)


class KeyBar(Static):
    """Drop-in for Footer on screens whose keys may not fit one line."""

    DEFAULT_CSS = """
    KeyBar { dock: bottom; height: auto; background: $footer-background; color: $footer-foreground;
             padding: 0 1; }
    """

    def on_mount(self) -> None:
        self.screen.bindings_updated_signal.subscribe(self, self._bindings_changed)
        self._show()

    def _bindings_changed(self, screen: Any) -> None:
        if screen is self.screen:
            self._show()

    def on_resize(self, event: Any) -> None:
        self._show(self.size.width)   # the content width (the event's size counts the padding)

    def _show(self, width: int | None = None) -> None:
        width = width or self.size.width or (self.app.size.width - 2)
        text = pack(key_items(self.screen), width)
        if text != getattr(self, "_shown", None):
            self._shown = text
            self.update(text)
