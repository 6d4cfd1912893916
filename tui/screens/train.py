"""The Train step: batch, accumulation (with the suggestion), length and the LR schedule, drawn as
a small curve when the terminal has room."""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual.app import ComposeResult
from textual.widgets import Static

from ftwizard.tui.screens.step import StepScreen
from ftwizard.tui.widgets.charts import block_chart


class TrainScreen(StepScreen):
    def __init__(self) -> None:
        super().__init__("train")

    def compose_extra(self) -> ComposeResult:
        yield Static("", id="train-info")

    def render_extra(self, app: Any) -> None:
        t = Text()
        plan = app.plan
        st = plan.steps if plan is not None else None
        if st is not None:
            t.append(f"global batch {st.global_batch:,} · warmup {st.warmup:,} steps")
            g = plan.grad_accum_suggestion
            if g and g.get("grad_accum") and g["grad_accum"] != app.config.train.grad_accum:
                t.append(f"\nsuggested grad accum {g['grad_accum']} "
                         f"(global batch {g.get('global_batch', '?')})", style="cyan")
            if self.has_class("-wide") and st.total > 0:
                from ftwizard.core.schedule import lr_curve

                pts = lr_curve(app.config.train, st.total, st.warmup, points=80)
                lrs = [lr for _, lr in pts]
                t.append("\nlearning rate over steps\n", style="bold")
                rows = block_chart(lrs, 40, 3, floor=0)
                top = max(lrs) if lrs else 0
                for i, line in enumerate(rows):
                    label = f"{top:8.1e} " if i == 0 else (f"{0:8.1e} " if i == len(rows) - 1 else " " * 9)
                    t.append(label, style="dim")
                    t.append(line + "\n", style="green")
                end = lrs[-1] if lrs else 0
                t.append(f"{'':9}{'0':<20}{st.total:>20,}\n{'':9}steps, end LR {end:.1e}",
                         style="dim")
        box = self.query_one("#train-info", Static)
        if t != getattr(box, "_shown", None):
            box._shown = t
            box.update(t)
