"""The Run screen (also `ftwizard attach RUN`): progress, loss, memory against the estimate, and
the log, all read from the run dir (events.jsonl and stdout.log), so it shows the same thing
whether the wizard launched the run a second ago or the user re-attached over a new SSH session.
Quitting leaves the training running: it lives in its own process session.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal
from textual.message import Message
from textual.screen import Screen
from textual.widgets import Footer, Log, Static

from ftwizard.tui.widgets.charts import bar, block_chart

GiB = 1024**3


@dataclass
class RunState:
    name: str = ""
    total: int | None = None
    step: int = 0
    loss: float | None = None
    losses: list[float] = field(default_factory=list)
    eval_losses: list[float] = field(default_factory=list)
    tokens_per_s: float | None = None
    eta_s: float | None = None
    mem: int | None = None
    estimate: int | None = None
    capacity: int | None = None
    end: dict | None = None


class RunScreen(Screen):
    BINDINGS = [
        Binding("s", "stop", "stop and save"),
        Binding("d", "detach", "detach"),
        Binding("o", "run_dir", "run dir"),
        Binding("q", "quit", "quit (training goes on)"),
    ]

    @dataclass
    class Tailed(Message):
        """New events and log lines from the run dir."""

        events: list[dict]
        lines: list[str]

    def __init__(self, run_dir: str | Path, *, poll: float = 0.3) -> None:
        super().__init__(id="run")
        self.run_dir = Path(run_dir)
        self.poll = poll
        self.state = RunState(name=self.run_dir.name)

    def compose(self) -> ComposeResult:
        yield Static("", id="run-header")
        yield Static("", id="run-progress")
        with Horizontal(id="run-panels"):
            yield Static("", id="run-loss")
            yield Static("", id="run-memory")
        yield Log(id="run-log", max_lines=2000, auto_scroll=True)
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#run-loss").border_title = "Loss"
        self.query_one("#run-memory").border_title = "Memory"
        self.query_one("#run-log").border_title = "Log"
        self._read_config()
        self._render_state()
        self.tail()

    def _read_config(self) -> None:
        try:
            from ftwizard.core.config import load_config

            cfg = load_config(self.run_dir / "config.yaml")
            self.state.name = cfg.name
        except Exception:  # noqa: BLE001 - an attach to a half-written dir still shows the log
            pass

    @work(thread=True, exclusive=True, group="tail", name="tail-run", exit_on_error=False,
          description="reading the run dir")
    def tail(self) -> None:
        from textual.worker import get_current_worker

        from ftwizard.core.events import EVENTS_FILE, read_events

        worker = get_current_worker()
        ev_off = 0
        log_off = 0
        partial = b""
        ended_reads = 0
        while not worker.is_cancelled:
            events, ev_off = read_events(self.run_dir / EVENTS_FILE, ev_off)
            lines: list[str] = []
            try:
                with open(self.run_dir / "stdout.log", "rb") as fh:
                    fh.seek(log_off)
                    chunk = fh.read(1 << 20)
                    log_off += len(chunk)
                data = partial + chunk
                *whole, partial = data.split(b"\n")
                lines = [w.decode("utf-8", "replace").rstrip("\r") for w in whole]
            except FileNotFoundError:
                pass
            if events or lines:
                self.post_message(self.Tailed(events, lines))
            if any(e.get("type") == "end" for e in events) or self.state.end is not None:
                ended_reads += 1
                if ended_reads > 3:
                    if partial:
                        self.post_message(self.Tailed([], [partial.decode("utf-8", "replace")]))
                    return
            time.sleep(self.poll)

    @on(Tailed)
    def _tailed(self, event: Tailed) -> None:
        s = self.state
        for e in event.events:
            kind = e.get("type")
            if kind == "start":
                s.total = e.get("total_steps") or s.total
                plan = e.get("plan") or {}
                mem = plan.get("memory") if isinstance(plan, dict) else None
                if mem:
                    s.estimate = mem.get("per_device_bytes")
                    s.capacity = mem.get("capacity_bytes")
            elif kind == "step":
                s.step = e.get("step", s.step)
                s.total = e.get("total") or s.total
                if e.get("loss") is not None:
                    s.loss = e["loss"]
                    s.losses.append(e["loss"])
                s.tokens_per_s = e.get("tokens_per_s", s.tokens_per_s)
                s.eta_s = e.get("eta_s", s.eta_s)
                s.mem = e.get("mem_allocated", s.mem)
            elif kind == "eval" and e.get("eval_loss") is not None:
                s.eval_losses.append(e["eval_loss"])
            elif kind == "end":
                s.end = e
                s.mem = e.get("peak_mem") or s.mem
                s.estimate = e.get("estimate_mem") or s.estimate
        if event.lines:
            self.query_one(Log).write_lines(event.lines)
        self._render_state()

    def _render_state(self) -> None:
        from ftwizard.core.plan import format_duration

        s = self.state
        head = Text()
        head.append(f" {s.name}", style="bold")
        head.append(f" · {self.run_dir} · ")
        if s.end is None:
            head.append("running, safe to disconnect", style="bold green")
        else:
            status = s.end.get("status", "ended")
            head.append(status, style="bold green" if status == "finished" else "bold red")
            if s.end.get("message"):
                head.append(f": {s.end['message']}")
        self.query_one("#run-header", Static).update(head)
        prog = Text()
        total = s.total or 0
        frac = s.step / total if total else 0.0
        prog.append(f" step {s.step}/{total or '?'} ")
        filled, empty = bar(frac, 22)
        prog.append(filled, style="green")
        prog.append(empty, style="dim")
        prog.append(f" {frac:4.0%}")
        if s.loss is not None:
            prog.append(f"  loss {s.loss:.3f}")
        if s.tokens_per_s:
            prog.append(f"  {s.tokens_per_s:,.0f} tok/s")
        if s.end is None and s.eta_s is not None:
            prog.append(f"  ETA {format_duration(s.eta_s)}")
        self.query_one("#run-progress", Static).update(prog)
        loss = Text()
        if s.losses:
            widget = self.query_one("#run-loss")
            w = max(10, widget.size.width - 12)
            rows = block_chart(s.losses, w, 3)
            hi, lo = max(s.losses), min(s.losses)
            for i, line in enumerate(rows):
                label = f"{hi:7.3f} " if i == 0 else (f"{lo:7.3f} " if i == len(rows) - 1 else " " * 8)
                loss.append(label, style="dim")
                loss.append(line + "\n", style="cyan")
            if s.eval_losses:
                loss.append(f"eval loss {s.eval_losses[-1]:.3f}", style="magenta")
        else:
            loss.append("waiting for the first step…", style="dim")
        self.query_one("#run-loss", Static).update(loss)
        mem = Text()
        if s.mem is not None:
            label = "peak" if s.end is not None else "measured"
            mem.append(f"{label} {s.mem / GiB:.2f} GiB")
            if s.estimate:
                mem.append(f"  estimate {s.estimate / GiB:.2f} GiB")
            mem.append("\n")
            if s.capacity:
                filled, empty = bar(s.mem / s.capacity, 20)
                mem.append(filled, style="green")
                mem.append(empty, style="dim")
                mem.append(f" of {s.capacity / GiB:.1f} GiB")
        else:
            mem.append("no measurement yet", style="dim")
        if s.end is not None and s.end.get("suggestion"):
            mem.append(f"\ntry: {s.end['suggestion']}", style="yellow")
        self.query_one("#run-memory", Static).update(mem)

    # ---------------------------------------------------------------- actions

    def action_stop(self) -> None:
        try:
            from ftwizard.core import runs

            outcome = runs.stop_run(self.run_dir)  # graceful first; a second press kills
        except ImportError:
            from ftwizard.core.events import STOP_FILE

            (self.run_dir / STOP_FILE).write_text("stop requested from the wizard\n")
            outcome = "requested"
        words = {"requested": "stop requested: the run saves a checkpoint and ends (s again kills)",
                 "killed": "killed the run's processes", "not running": "the run is not running"}
        self.notify(words.get(outcome, outcome), timeout=5)

    def _attach_line(self) -> str:
        return f"ftwizard attach {self.run_dir}"

    def action_detach(self) -> None:
        self.app.result_message = f"training goes on; to watch it again: {self._attach_line()}"
        self.app.exit(0)

    def action_run_dir(self) -> None:
        self.notify(f"{self.run_dir.resolve()}", title="run dir", timeout=8)

    def action_quit(self) -> None:
        self.action_detach()
