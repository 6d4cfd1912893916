"""The Data step's view of one example as the model will see it: trained tokens highlighted,
masked ones dimmed, with counts of trained / masked / padding tokens.

It is `ftwizard data preview FILE --model M --n 1` inside the wizard: the same preview
(core.data_preview, through the session's cache) drawn by the same two functions
(`example_text`, `counts_text`), so the wizard and the terminal cannot disagree.

The tokenizer loads from local files, which can take seconds (transformers when there is no
tokenizer.json), so the preview is made in a named thread worker and the widget shows "previewing…"
meanwhile. The widget takes whatever height the form leaves over: with room for a few lines of
tokens it shows them (cropped, ending in "…"); otherwise one line of counts, so at 80x24 the
questions keep their rows.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from rich.text import Text
from textual import on, work
from textual.message import Message
from textual.widget import Widget

FULL_MIN_ROWS = 4   # the counts and at least three lines of tokens; fewer: the counts alone


class DataPreview(Widget):
    DEFAULT_CSS = """
    DataPreview { height: 1fr; min-height: 1; width: 1fr; margin-top: 1; }
    """

    @dataclass
    class Previewed(Message):
        """The worker made the preview for `key` (core.session.PreviewResult)."""

        key: str
        result: Any

    def __init__(self, *, id: str | None = None) -> None:  # noqa: A002 - Textual's name
        super().__init__(id=id)
        self.key = ""
        self.result: Any = None   # PreviewResult once made for self.key; None while it runs

    # ---------------------------------------------------------------- state

    def show(self, app: Any) -> None:
        """Follow the app's answers: a new preview when what it depends on changed (the
        session's cache answers at once for answers seen before)."""
        from ftwizard.core.session import missing_data, preview_key

        cfg = app.config
        # no data, or data not here: the info line above already says so
        visible = bool(cfg.data.train) and not missing_data(cfg)
        if self.display != visible:
            self.display = visible
        if not visible:
            return
        key = preview_key(cfg)
        if key == self.key:
            return
        self.key = key
        self.result = app.session.known_preview(cfg)
        if self.result is None:
            self.make_preview(key, cfg, app.session)
        self.refresh()

    @work(thread=True, exclusive=True, group="data-preview", name="preview-data",
          exit_on_error=False, description="previewing an example")
    def make_preview(self, key: str, cfg: Any, session: Any) -> None:
        self.post_message(self.Previewed(key, session.preview(cfg)))

    @on(Previewed)
    def _previewed(self, event: Previewed) -> None:
        event.stop()
        if event.key == self.key:
            self.result = event.result
            self.refresh()

    # ---------------------------------------------------------------- drawing

    @property
    def full(self) -> bool:
        """Room for the tokens themselves, not just the counts."""
        return self.size.height >= FULL_MIN_ROWS

    def render(self) -> Text:
        res = self.result
        if res is None:
            return _fit(Text("previewing one example…", style="dim italic"), self.size.width)
        if res.error is not None:
            return self._said(Text(f"preview: {res.error.message}", style="yellow"))
        if res.example is None:
            return self._said(Text(res.note or "", style="dim"))
        from ftwizard.core.data_preview import counts_text, example_text

        e = res.example
        width = max(1, self.size.width)
        line = Text()   # its counts say which style is trained
        line.append("example 1: ", style="bold")
        line.append_text(counts_text(e))
        if line.cell_len > width:   # the counts matter more than the label
            line = counts_text(e)
        if not self.full:
            return _fit(line, width)
        room = self.size.height - 1
        lines = list(example_text(e).wrap(self.app.console, width))
        shown = lines[:room]
        if len(lines) > room and shown:   # cut: say so where the text stops
            shown[-1].truncate(width - 1)
            shown[-1].append("…", style="bold")
        return Text("\n").join([_fit(line, width), *shown])


    def _said(self, text: Text) -> Text:
        """A note or an error: wrapped at words when there are rows for it (at 80x24 the
        note was cut with "…"), one cut line only when one row is all there is."""
        return text if self.size.height > 1 else _fit(text, self.size.width)


def _fit(line: Text, width: int) -> Text:
    """One line, cut with "…" at `width` (Textual would wrap a joined text's long line)."""
    line.truncate(width, overflow="ellipsis")
    return line
