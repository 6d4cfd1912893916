"""Small text charts (block characters) for the LR curve, the length histogram and the loss.

Plain text, no plotting library: they render the same in 16 colours, over SSH, and in snapshot
tests, and cost microseconds.
"""

from __future__ import annotations

BLOCKS = " ▁▂▃▄▅▆▇█"


def resample(values: list[float], width: int) -> list[float]:
    """`values` stretched or squeezed to `width` columns (mean per column)."""
    if not values or width <= 0:
        return []
    n = len(values)
    out: list[float] = []
    for i in range(width):
        lo = i * n // width
        hi = max(lo + 1, (i + 1) * n // width)
        chunk = values[lo:hi]
        out.append(sum(chunk) / len(chunk))
    return out


def block_chart(values: list[float], width: int, height: int, *, floor: float | None = None) -> list[str]:
    """Rows (top first) of a column chart `width` x `height` cells, 8 levels per cell."""
    cols = resample(values, width)
    if not cols:
        return [" " * width] * height
    lo = min(cols) if floor is None else floor
    hi = max(cols)
    span = hi - lo or 1.0
    levels = [round((v - lo) / span * height * 8) for v in cols]
    rows = []
    for r in range(height - 1, -1, -1):
        row = []
        for lv in levels:
            cell = lv - r * 8
            row.append(BLOCKS[max(0, min(8, cell))])
        rows.append("".join(row))
    return rows


def bar(fraction: float, width: int) -> tuple[str, str]:
    """(filled, empty) parts of a horizontal bar, eighth-cell precision."""
    fraction = max(0.0, min(1.0, fraction))
    eighths = round(fraction * width * 8)
    full, part = divmod(eighths, 8)
    partial = "▏▎▍▌▋▊▉"[part - 1] if part else ""
    filled = "█" * full + partial
    return filled, "░" * max(0, width - len(filled))


def sparkline(values: list[float], width: int) -> str:
    """One row of `width` cells, lowest value ▁ and highest █ (never blank: a trend, not a
    chart), left-justified when there are fewer values than cells."""
    cols = resample(values, min(width, len(values)))
    if not cols:
        return " " * width
    lo, hi = min(cols), max(cols)
    span = hi - lo or 1.0
    line = "".join(BLOCKS[1 + round((v - lo) / span * 7)] for v in cols)
    return line.ljust(width)
