"""The Data step's view of one example as the model will see it: trained tokens highlighted,
masked ones dimmed, with counts of trained / masked / padding tokens. For preference data, the
first pair's two sequences (prompt + chosen, then prompt + rejected) as the trainer tokenizes
them, each with its counts, sharing the rows.

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
        examples = [res.example, *res.rest]   # a pair: chosen, then rejected
        width = max(1, self.size.width)
        if not self.full:
            return _fit(self._head(examples[0], 1, width), width)
        # Each sequence gets its head line and an equal share of the rows for its tokens.
        share = max(2, self.size.height // len(examples))
        out: list[Text] = []
        for i, e in enumerate(examples, 1):
            room = min(share, self.size.height - len(out)) - 1
            if room < 1:
                break
            out.append(self._head(e, i, width))
            out += self._tokens(e, width, room)
        return Text("\n").join(out)

    @staticmethod
    def _label(e: Any, i: int) -> str:
        """"example 1", or the pair's side the preview names ("explicit: chosen" -> "chosen")."""
        _, sep, side = str(getattr(e, "format", "")).partition(": ")
        return side if sep else f"example {i}"

    def _head(self, e: Any, i: int, width: int) -> Text:
        from ftwizard.core.data_preview import counts_text

        line = Text()   # its counts say which style is trained
        line.append(f"{self._label(e, i)}: ", style="bold")
        line.append_text(counts_text(e))
        if line.cell_len > width:   # the counts matter more than the label
            line = counts_text(e)
        return _fit(line, width)

    def _tokens(self, e: Any, width: int, room: int) -> list[Text]:
        from ftwizard.core.data_preview import example_text

        lines = list(example_text(e).wrap(self.app.console, width))
        shown = lines[:room]
        if len(lines) > room and shown:   # cut: say so where the text stops
            shown[-1].truncate(width - 1)
            shown[-1].append("…", style="bold")
        return shown

    def _said(self, text: Text) -> Text:
        """A note or an error: wrapped at words when there are rows for it (at 80x24 the
        note was cut with "…"), one cut line only when one row is all there is."""
        return text if self.size.height > 1 else _fit(text, self.size.width)


def _fit(line: Text, width: int) -> Text:
    """One line, cut with "…" at `width` (Textual would wrap a joined text's long line)."""
    line.truncate(width, overflow="ellipsis")
    return line
