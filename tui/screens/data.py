"""The Data step: sources, mode, block size, and what the data really holds.

Token counting runs in the app's `inspect-data` worker (tokenizer from local files, cached by file
hash); this screen shows its progress, then the counts and, when there is room, the length
histogram beside the form. Below them, one example as the model will see it (trained tokens
highlighted, masked ones dimmed: widgets/data_preview.py, made in its own worker).
"""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual.app import ComposeResult
from textual.widgets import ProgressBar, Static

from ftwizard.tui.screens.step import StepScreen
from ftwizard.tui.widgets.charts import block_chart
from ftwizard.tui.widgets.data_preview import DataPreview


class DataScreen(StepScreen):
    def __init__(self) -> None:
        super().__init__("data")

    def compose_extra(self) -> ComposeResult:
        yield ProgressBar(total=1.0, show_eta=False, id="data-progress")
        yield Static("", id="data-info")
        yield DataPreview(id="data-preview")

    def render_extra(self, app: Any) -> None:
        self.query_one(DataPreview).show(app)
        bar = self.query_one("#data-progress", ProgressBar)
        bar.display = app.data_progress is not None
        if app.data_progress is not None:
            bar.update(progress=app.data_progress)
        info = self.query_one("#data-info", Static)
        t = Text()
        st = app.data_stats
        if app.data_progress is not None:
            t.append("counting tokens…", style="italic")
        elif app.data_error:
            t.append(f"✗ {app.data_error}", style="bold red")
        elif st is not None and st.objective != "sft":
            self._preference_info(t, st)
        elif st is not None:
            exact = "" if st.tokens_exact else f" (±{st.tokens_error:.0%}, sampled)"
            t.append(f"{st.examples:,} examples · {st.tokens:,} tokens{exact}\n")
            t.append(f"{st.sequences:,} sequences of {st.block_size}")
            if st.tokens_dropped:
                t.append(f" · {st.tokens_dropped:,} tokens dropped")
            if st.over_block:
                t.append(f"\n{st.over_block:,} examples longer than a block", style="yellow")
            if self.has_class("-wide") and st.histogram:
                counts = [c for _, c in st.histogram]
                t.append("\nlength histogram (tokens per example)\n", style="bold")
                for line in block_chart(counts, min(40, max(10, len(counts) * 2)), 3, floor=0):
                    t.append(line + "\n", style="cyan")
                t.append(f"{st.histogram[0][0]:<10}…{st.histogram[-1][0]:>10}  longest "
                         f"{st.longest_tokens:,}", style="dim")
        elif not app.config.data.train:
            t.append("no data yet: planning with data.sequences", style="dim")
        if t != getattr(info, "_shown", None):
            info._shown = t
            info.update(t)

    @staticmethod
    def _preference_info(t: Text, st: Any) -> None:
        """Pairs (or KTO's labelled rows) as the trainer counts them: how many, their lengths in
        tokens as its collator cuts them, what it would drop and why, and what teaches nothing."""
        kto = st.objective == "kto"
        rows = "rows" if kto else "pairs"
        t.append(f"{st.sequences:,} {rows}")
        if kto:
            t.append(f" ({st.desirable:,} desirable, {st.undesirable:,} undesirable)")
        if st.validation_sequences:
            t.append(f" · {st.validation_sequences:,} held out")
        t.append("\n")
        lengths = ([("completion", st.completion_tokens_mean, st.completion_tokens_max)] if kto
                   else [("chosen", st.chosen_tokens_mean, st.chosen_tokens_max),
                         ("rejected", st.rejected_tokens_mean, st.rejected_tokens_max)])
        t.append(f"prompt ~{st.prompt_tokens_mean:.0f} tokens; with ")   # sequences hold both
        t.append(", with ".join(f"{name} ~{mean:.0f} (max {top:,})" for name, mean, top in lengths))
        if st.dropped:
            why = ", ".join(f"{n:,} {reason}" for reason, n in st.dropped_reasons.items())
            t.append(f"\n{st.dropped:,} dropped as the trainer would: {why or 'too long'}",
                     style="yellow")
        if st.identical_pairs:
            t.append(f"\n{st.identical_pairs:,} pairs with chosen = rejected: they teach nothing",
                     style="yellow")
