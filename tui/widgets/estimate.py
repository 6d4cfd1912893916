"""The estimate panel: what the current answers cost and whether they fit, on every step.

It only renders a Plan (core.plan) it is handed; it never plans itself, so every screen shows the
same figures. Colour always comes with words or symbols (fits / does NOT fit, ✓ / ✗), so the panel
reads in 16 colours and in monochrome.
"""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual.widget import Widget

from ftwizard.tui.widgets.charts import bar

GiB = 1024**3

LABELS = {"weights": "weights", "gradients": "grads", "optimizer": "optimizer",
          "activations": "activ.", "other": "other"}


def gib(n: float) -> str:
    return f"{n / GiB:.1f}"


def human_bytes(n: float) -> str:
    for unit, size in (("TB", 1e12), ("GB", 1e9), ("MB", 1e6)):
        if n >= size:
            return f"{n / size:.1f} {unit}"
    return f"{n / 1e3:.0f} kB"


class EstimatePanel(Widget):
    """Renders the latest plan; `show()` is cheap enough to call on every key press."""

    DEFAULT_CSS = """
    EstimatePanel { border: round $primary; padding: 0 1; height: auto; }
    EstimatePanel.-bad { border: round $error; }
    """

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.plan: Any = None
        self.state = "detecting"     # detecting | reading | error | ok
        self.message = ""
        self.wide = False
        self.updates = 0             # counted by the latency bench and the tests
        self.probe: Any = None       # app.ProbeView: "test fit" running or its result
        self.probe_current = True    # False: measured for earlier answers

    def show(self, plan: Any, state: str = "ok", message: str = "", probe: Any = None,
             probe_current: bool = True) -> None:
        self.plan, self.state, self.message = plan, state, message
        self.probe, self.probe_current = probe, probe_current
        bad = state == "error" or (plan is not None and not plan.fits) or self._probe_oom()
        self.set_class(bad, "-bad")
        self.border_title = self._title()
        self.updates += 1
        # A new layout only when the panel's height changes; otherwise a repaint is enough.
        width = max(20, self.size.width)   # `size` is the content area (border, padding off)
        height = len(self._lines(width).wrap(self.app.console, width)) if self.size.width else -1
        self.refresh(layout=height != getattr(self, "_height", None))
        self._height = height

    def _title(self) -> str:
        p = self.plan
        if p is None:
            return "estimate"
        hw = p.hardware
        what = "CPU RAM" if p.memory.device == "cpu" else (
            hw.kind.key if hw.kind else (hw.devices[0].name if hw.devices else "device"))
        n = p.world_size
        count = f" x{n}" if n > 1 else ""
        return f"{what}{count} · {gib(p.memory.capacity_bytes)} GiB"

    def get_content_height(self, container: Any, viewport: Any, width: int) -> int:
        return len(self._lines(width).wrap(self.app.console, max(1, width)))

    def render(self) -> Text:
        return self._lines(max(20, self.size.width))

    # ------------------------------------------------------------------ content

    def _lines(self, width: int) -> Text:
        t = Text(no_wrap=False, overflow="fold")
        if self.state == "detecting":
            t.append("detecting hardware…\n", style="italic")
            t.append("the estimate appears when detection ends", style="dim")
            return t
        if self.state == "reading":
            t.append(self.message or "reading the model…", style="italic")
            return t
        if self.state == "error" or self.plan is None:
            t.append("✗ cannot plan\n", style="bold red")
            t.append(self.message or "", style="red")
            return t
        p = self.plan
        m = p.memory
        used, cap = m.needed_bytes, m.capacity_bytes
        fig = m.figure()   # core.memory's one definition: capacity - shown - margin = headroom
        bw = max(8, width - 10)
        filled, empty = bar(used / cap if cap else 1.0, bw)
        style = "green" if m.fits else "bold red"
        t.append(filled, style=style)
        t.append(empty, style="dim")
        t.append(f" {fig.shown:>5.1f} GiB\n")
        if m.fits:
            # the device fits; when host RAM or disk does not, say whose "fits" this is
            t.append("✓ fits" if p.fits else "✓ device fits", style="bold green")
            if self._probe_oom():   # the measurement below says otherwise: say whose verdict
                t.append(f" (estimate) · {fig.headroom:.1f} GiB spare\n")
            else:
                t.append(f" · {fig.headroom:.1f} GiB headroom\n")
        else:
            more = f"needs {fig.shortfall:.1f} GiB more"
            t.append("✗ does NOT fit", style="bold red")
            t.append(": " if width >= 18 + len(more) else "\n", style="red")
            t.append(more + "\n", style="red")
        self._breakdown(t, m, width)
        if self.wide:
            t.append(f"margin {fig.margin:.1f} GiB kept free\n", style="dim")
        if self.wide or not m.host_fits:   # short of host RAM: said at every size
            host = "host RAM"
            ok = "✓" if m.host_fits else "✗ short"
            t.append(f"{host} {gib(m.host_bytes)} of {gib(m.host_capacity_bytes)} GiB {ok}\n",
                     style="" if m.host_fits else "red")
        mb = m.max_micro_batch
        t.append("largest batch that fits ")
        t.append(f"{mb}\n" if mb > 0 else "none\n", style="bold" if mb > 0 else "bold red")
        st = p.steps
        if st is not None:
            line = f"{st.per_epoch:,} steps/epoch"
            if st.dropped_samples:
                line += f" · {st.dropped_samples:,} dropped"
            t.append(line + "\n")
            total = f"{st.total:,} steps"
        else:
            t.append("steps: need data or data.sequences\n", style="dim")
            total = ""
        from ftwizard.core.plan import format_duration

        bits = [total] if total else []
        if p.time and p.time.seconds:
            bits.append(f"~{format_duration(p.time.seconds)}")
        disk = f"disk {human_bytes(p.checkpoint_bytes)} per checkpoint"
        line = " · ".join(bits)
        if len(line) + len(disk) + 3 <= width:
            t.append(f"{line} · {disk}\n" if line else disk + "\n")
        else:
            t.append(line + "\n" if line else "")
            t.append(disk + "\n")
        if self.wide and p.time:
            t.append(f"{p.time.tokens_per_s:,.0f} tok/s: {p.time.assumptions}\n", style="dim")
        for prob in p.problems[:2]:
            t.append(f"⚠ {prob.message}\n", style="bold yellow")
            if prob.fix:
                t.append(f"  fix: {prob.fix}\n", style="yellow")
        if not p.fits and not self._probe_oom():   # device, host RAM or disk: f applies 1
            sugg = m.suggestions
            if sugg:
                t.append("cheapest fixes (f applies 1):\n", style="bold")
                for i, s in enumerate(sugg[: 4 if self.wide else 3], 1):
                    gain = (f"{gib(s['per_device_bytes'])} GiB" if not m.fits
                            else f"frees {s['frees_text']}" if s.get("frees_text") else "")
                    t.append(f"{i} {s['text']}" + (f" → {gain}" if gain else "") + "\n")
            elif p.near_misses:
                t.append(f"no change fits: {p.near_misses[0]}\n", style="red")
            else:
                t.append("no single change makes it fit: a bigger device or more of them\n",
                         style="red")
        self._probe_lines(t, width)
        t.rstrip()
        return t

    # ------------------------------------------------------------------ test fit

    def _probe_oom(self) -> bool:
        pv = self.probe
        return bool(pv is not None and pv.state == "done" and self.probe_current
                    and pv.result.status == "oom")

    def _probe_lines(self, t: Text, width: int) -> None:
        """The probe beside the estimate: progress while it runs, then measured vs estimated."""
        pv = self.probe
        if pv is None or pv.state == "idle":
            return
        t.append("─" * max(4, width) + "\n", style="dim")
        if pv.applied:
            t.append(f"applied: {pv.applied}\n", style="cyan")
        if pv.state == "running":
            t.append("testing fit… ", style="bold")
            t.append(f"step {pv.steps_done}/{pv.steps}\n" if pv.steps_done
                     else "starting (loading the model)\n")
            filled, empty = bar(pv.steps_done / pv.steps if pv.steps else 0, max(8, width))
            t.append(filled, style="cyan")
            t.append(empty + "\n", style="dim")
            return
        if pv.state == "error" or pv.result is None:
            t.append("✗ test fit could not run\n", style="bold red")
            t.append(f"{pv.error or ''}\n", style="red")
            return
        r = pv.result
        stale = "" if self.probe_current else " (earlier answers; t again)"
        verdict = {"ok": ("✓ fits (measured)", "bold green"),
                   "oom": ("✗ does not fit (measured)", "bold red"),
                   "timeout": ("⚠ time limit reached", "bold yellow"),
                   "failed": ("✗ test run failed", "bold red")}[r.status]
        t.append(verdict[0], style=verdict[1] if self.probe_current else "dim")
        t.append(f"{stale}\n", style="dim")
        where = f"at step {r.steps_done}/{r.steps}" if r.status != "ok" else f"in {r.steps_done} steps"
        if r.peak_bytes:
            verb = "reached" if r.status == "oom" else "measured"
            t.append(f"{verb} {gib(r.peak_bytes)} GiB {where}\n")
            if r.estimate_bytes:
                diff = r.peak_bytes - r.estimate_bytes
                t.append(f"estimate {gib(r.estimate_bytes)} GiB: ")
                t.append(f"{'+' if diff >= 0 else '-'}{abs(diff) / GiB:.2f} GiB "
                         f"({diff / r.estimate_bytes * 100:+.0f}%)\n",
                         style="bold" if abs(diff) > 0.1 * r.estimate_bytes else "")
        else:
            t.append(f"no measurement {where}\n", style="dim")
        if r.tokens_per_s:
            line = f"{r.tokens_per_s:,.0f} tok/s"
            if r.estimate_tokens_per_s:
                line += f" · est {r.estimate_tokens_per_s:,.0f} (x{r.tokens_per_s / r.estimate_tokens_per_s:.2f})"
            t.append(line + "\n")
        if r.status in ("failed", "timeout") and r.message:
            t.append(f"{r.message}\n", style="yellow")
        if r.status == "oom" and self.probe_current:
            if r.suggestions:
                t.append("fixes (f applies 1, tests again):\n", style="bold")
                for i, s in enumerate(r.suggestions[: 4 if self.wide else 3], 1):
                    t.append(f"{i} {s['text']}\n")
            else:
                t.append("no single change makes it fit\n", style="red")

    def _breakdown(self, t: Text, m: Any, width: int) -> None:
        items = [(LABELS[k], m.breakdown.get(k, 0)) for k in LABELS]
        if self.wide:
            top = max(v for _, v in items) or 1
            bw = max(4, width - 18)
            for label, v in items:
                filled, _ = bar(v / top, bw)
                t.append(f"{label:<10}{gib(v):>6} ")
                t.append(filled + "\n", style="cyan")
            return
        half = width // 2
        for i in range(0, len(items), 2):
            row = ""
            for label, v in items[i:i + 2]:
                cell = f"{label:<{half - 6}}{gib(v):>5}"
                row += cell + " "
            t.append(row.rstrip() + "\n")
