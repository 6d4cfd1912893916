"""The Run screen's loss chart (also `ftwizard attach`): loss and eval loss against the step, on
real axes, the learning rate beneath, and one line of figures (LR, tokens/s, ETA, memory against
the estimate).

It draws what the event fold holds and nothing else: `show(progress)` reads the (step, value)
histories of the Progress the Run screen folds events into, so the chart, the tracker
(core/trackers.py) and `ftwizard runs` agree on every point. `series` keeps the points the chart
stands for, for tests and for anyone asking what it shows; a long run is drawn as the mean of
each few steps (at most DRAWN_PER_COLUMN points a column: plotext's cost grows with the points,
and a screen column cannot show more).

Sizes: the LR plot only appears when the chart has room for it (at 80x24 the loss plot gets the
rows and the LR is a number in the figures line); the loss plot needs four rows to keep its axes.
The legend is words in the figures line ("── loss  •• eval"), so it reads in monochrome and never
covers the start of the curve.
"""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import Static
from textual_plotext import PlotextPlot

GiB = 1024**3
Series = list[tuple[int, float]]
LOSS_FMT = "{:.3g}"
LR_FMT = "lr {:.0e}"  # the LR plot's y labels name their curve
DRAWN_PER_COLUMN = 4
LR_MIN_HEIGHT = 13  # below this many rows the LR is a number, not a plot (4 rows and an x axis)


class LossChart(Vertical):
    """Loss and eval loss against step (plotext axes), LR beneath, then the run's figures."""

    DEFAULT_CSS = """
    LossChart { height: 1fr; width: 1fr; }
    LossChart > #chart-loss { height: 1fr; min-height: 4; }
    LossChart > #chart-lr { height: 5; display: none; }
    LossChart > #chart-figures { height: auto; max-height: 2; }
    LossChart > #chart-wait { height: 1fr; color: $text-muted; }
    LossChart.-has-lr > #chart-lr { display: block; }
    LossChart.-empty > #chart-loss, LossChart.-empty > #chart-lr { display: none; }
    LossChart.-has-data > #chart-wait { display: none; }
    """

    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:  # noqa: A002
        super().__init__(id=id, classes=classes)
        self.series: dict[str, Series] = {"loss": [], "eval_loss": [], "lr": []}
        self.figures = ""
        self.add_class("-empty")

    def compose(self) -> ComposeResult:
        yield Static("waiting for the first step…", id="chart-wait")
        yield PlotextPlot(id="chart-loss")
        yield PlotextPlot(id="chart-lr")
        yield Static("", id="chart-figures")

    def on_resize(self) -> None:
        if self._wants_lr() != self.has_class("-has-lr"):
            self._replot()
        self._show_figures()

    def _wants_lr(self) -> bool:
        return self.size.height >= LR_MIN_HEIGHT and bool(self.series["lr"])

    # ------------------------------------------------------------------ data

    def show(self, progress: Any) -> None:
        """Draw the histories and figures of a Progress (or anything with the same fields:
        loss_history, eval_history, lr_history, lr, tokens_per_s, eta_s, mem_bytes, estimate_bytes, end)."""
        self.update_series(
            list(getattr(progress, "loss_history", None) or []),
            list(getattr(progress, "eval_history", None) or []),
            list(getattr(progress, "lr_history", None) or []),
        )
        self.figures = figures_line(progress)
        self._show_figures()

    def _show_figures(self) -> None:
        """The legend (words beside the colours) and the figures, broken between figures, never
        inside one ("8,381 / tok/s"), in at most two lines; a figure that does not fit is left
        out whole (the progress line and the Memory panel show them too) rather than cut."""
        pieces = [("── loss", "cyan", "")]
        if self.series["eval_loss"]:
            pieces.append(("•• eval", "magenta", "  "))
        figs = [f for f in self.figures.split(" · ") if f]
        pieces += [(f, "dim", "  " if i == 0 else " · ") for i, f in enumerate(figs)]
        width = max(20, self.size.width or 80)
        line, used, rows = Text(no_wrap=True, overflow="ellipsis"), 0, 1
        for piece, style, sep in pieces:
            if used and used + len(sep) + len(piece) > width:
                if rows == 2:
                    continue
                line.append("\n")
                used, rows, sep = 0, rows + 1, ""
            line.append(sep, style="dim")
            line.append(piece, style=style)
            used += len(sep) + len(piece)
        self.query_one("#chart-figures", Static).update(line)

    def update_series(self, loss: Series, eval_loss: Series, lr: Series) -> None:
        """Replot when a series changed (a tail that brought only log lines costs nothing)."""
        new = {"loss": loss, "eval_loss": eval_loss, "lr": lr}
        if new == self.series:
            return
        self.series = {k: list(v) for k, v in new.items()}
        has = bool(loss or eval_loss)
        self.set_class(not has, "-empty")
        self.set_class(has, "-has-data")
        self._replot()

    def _replot(self) -> None:
        has_lr = self._wants_lr()
        self.set_class(has_lr, "-has-lr")
        shown = [(self.series["loss"] + self.series["eval_loss"], LOSS_FMT)]
        if has_lr:
            shown.append((self.series["lr"], LR_FMT))
        width = max((len(t) for pts, fmt in shown for t in _labels(pts, fmt)[1]), default=0)
        self._plot_loss(width)
        self._plot_lr(width)

    def _plot_loss(self, label_width: int) -> None:
        plot = self.query_one("#chart-loss", PlotextPlot)
        plt = plot.plt
        plt.clear_data()
        plt.clear_figure()
        loss, ev = self._drawn("loss", plot), self._drawn("eval_loss", plot)
        if loss:
            plt.plot([s for s, _ in loss], [v for _, v in loss], marker="braille", color="cyan")
        if ev:
            plt.plot([s for s, _ in ev], [v for _, v in ev], marker="dot", color="magenta")
        _axes(plt, loss + ev, LOSS_FMT, label_width)
        plot.refresh()

    def _plot_lr(self, label_width: int) -> None:
        plot = self.query_one("#chart-lr", PlotextPlot)
        plt = plot.plt
        plt.clear_data()
        plt.clear_figure()
        lr = self._drawn("lr", plot)
        if lr:
            plt.plot([s for s, _ in lr], [v for _, v in lr], marker="braille", color="yellow")
            _axes(plt, lr, LR_FMT, label_width)
        plot.refresh()


    def _drawn(self, name: str, plot: PlotextPlot) -> Series:
        width = plot.size.width or self.size.width or 80
        return _thin(self.series[name], max(50, width * DRAWN_PER_COLUMN))


def _thin(points: Series, most: int) -> Series:
    """At most `most` points: the mean value of each run of consecutive points, at its last step
    (the curve's end stays the last logged value's step)."""
    n = len(points)
    if n <= most:
        return points
    out: Series = []
    for i in range(most):
        chunk = points[i * n // most:(i + 1) * n // most]
        if chunk:
            out.append((chunk[-1][0], sum(v for _, v in chunk) / len(chunk)))
    return out


def _labels(points: Series, fmt: str) -> tuple[list[float], list[str]]:
    """The y ticks: the curve's lowest and highest value (one when flat)."""
    ys = [v for _, v in points]
    if not ys:
        return [], []
    lo, hi = min(ys), max(ys)
    ticks = [lo, hi] if hi > lo else [lo]
    return ticks, [fmt.format(v) for v in ticks]


def _axes(plt: Any, points: Series, fmt: str = "{:.3g}", label_width: int = 0) -> None:
    """Few ticks with short labels: the plot is narrow, and plotext's default labels are long.
    `label_width` pads the y labels so the loss and LR plots share their x positions."""
    plt.frame(False)
    plt.xaxes(True, False)
    plt.yaxes(True, False)
    if not points:
        return
    xs = [s for s, _ in points]
    ys = [v for _, v in points]
    lo, hi = min(ys), max(ys)
    yt, labels = _labels(points, fmt)
    plt.yticks(yt, [label.rjust(label_width) for label in labels])
    x0, x1 = min(xs), max(xs)
    xt = sorted({x0, (x0 + x1) // 2, x1})
    plt.xticks(xt, [str(x) for x in xt])
    if hi == lo:   # a flat line (or one point) still needs a y range to sit in
        pad = abs(lo) * 0.05 or 1.0
        plt.ylim(lo - pad, hi + pad)
    if x0 == x1:
        plt.xlim(x0 - 1, x1 + 1)


def figures_line(progress: Any) -> str:
    """`lr 2.9e-03 · 8,351 tok/s · ETA 3m 10s · mem 0.41/0.52 GiB est`: what the curves do not
    show (the memory measured against the plan's estimate)."""
    from ftwizard.core.plan import format_duration

    parts = []
    lr = getattr(progress, "lr", None)
    if lr is None and getattr(progress, "lr_history", None):
        lr = progress.lr_history[-1][1]
    if lr is not None:
        parts.append(f"lr {lr:.1e}")
    tps = getattr(progress, "tokens_per_s", None)
    if tps:
        parts.append(f"{tps:,.0f} tok/s")
    eta = getattr(progress, "eta_s", None)
    if eta is not None and getattr(progress, "end", None) is None:
        parts.append(f"ETA {format_duration(eta)}")
    mem, est = getattr(progress, "mem_bytes", None), getattr(progress, "estimate_bytes", None)
    if mem:
        parts.append(f"mem {mem / GiB:.2f}/{est / GiB:.2f} GiB est" if est else f"mem {mem / GiB:.2f} GiB")
    return " · ".join(parts)
