"""The Run screen (also `ftwizard attach RUN`): progress, loss, memory against the estimate, and
the log, all read from the run dir (events.jsonl and stdout.log), so it shows the same thing
whether the wizard launched the run a second ago or the user re-attached over a new SSH session.
Quitting leaves the training running: it lives in its own process session.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal
from textual.message import Message
from textual.screen import Screen
from textual.widgets import Log, Static

from ftwizard.core.events import Progress
from ftwizard.tui.widgets.charts import bar, sparkline
from ftwizard.tui.widgets.loss_chart import LossChart
from ftwizard.tui.widgets.keybar import KeyBar
from ftwizard.tui.widgets.wrap_log import WrappingLog

GiB = 1024**3


def _reason(end: dict) -> str:
    """The end event's message as one line, with the backend's own hint when it gave one."""
    msg = str(end.get("message") or "out of memory").splitlines()[0]
    if len(msg) > 90:
        msg = msg[:89] + "…"
    if end.get("suggestion"):
        msg += f"; try: {end['suggestion']}"
    return msg


class RunScreen(Screen):
    BINDINGS = [
        Binding("s", "stop", "stop+save"),
        Binding("d", "detach", "detach"),
        Binding("o", "run_dir", "run dir"),
        Binding("r", "relaunch", "relaunch with fix", tooltip="after an out-of-memory end"),
        Binding("e", "export", "export", tooltip="after the run finished: GGUF, Ollama, merged"),
        Binding("q", "quit", "quit (run goes on)"),
        Binding("q", "leave", "quit"),   # the same key once the run has ended: nothing goes on
    ]

    @dataclass
    class Tailed(Message):
        """New events and log lines from the run dir."""

        events: list[dict]
        lines: list[str]

    @dataclass
    class FixFound(Message):
        """core.probe.oom_fix answered for this run (fix None: nothing to offer)."""

        fix: dict | None
        error: str | None = None

    @dataclass
    class Relaunched(Message):
        """relaunch_with_fix started the fixed run (the same dir resumed, or `<name>-fix`)."""

        run_dir: Path | None
        error: str | None = None

    def __init__(self, run_dir: str | Path, *, poll: float = 0.3) -> None:
        super().__init__(id="run")
        self.run_dir = Path(run_dir)
        self.poll = poll
        self.run_name = self.run_dir.name  # the run dir's name: a copy is titled as the copy
        self.state = Progress()            # events.Progress: the one fold of the events
        self.fix: dict | None = None        # the OOM fix `r` applies, once oom_fix answered
        self.fix_state = "none"             # none | looking | found | nothing | relaunching
        self.fix_error: str | None = None

    def compose(self) -> ComposeResult:
        yield Static("", id="run-header")
        yield Static("", id="run-progress")
        yield Static("", id="run-metrics")   # the objective's figures (dpo, kto, reward...)
        yield Static("", id="run-end")
        with Horizontal(id="run-panels"):
            yield LossChart(id="run-loss")
            yield Static("", id="run-memory")
        yield WrappingLog(id="run-log", max_lines=2000, auto_scroll=True)  # wraps at 80 columns
        yield KeyBar()   # the footer's keys, wrapped (not cut) when they need two lines

    def on_mount(self) -> None:
        self.query_one("#run-loss").border_title = "Loss"
        self.query_one("#run-memory").border_title = "Memory"
        self.query_one("#run-log").border_title = "Log"
        self._render_state()
        self.tail()

    def on_resize(self) -> None:
        # The loss chart needs rows for its axes: 10 at 24 rows, up to half a taller terminal.
        self.query_one("#run-panels").styles.height = max(7, min(20, (self.size.height - 4) // 2))
        self._render_metrics()   # the trends come and go with the width

    @work(thread=True, exclusive=True, group="tail", name="tail-run", exit_on_error=False,
          description="reading the run dir")
    def tail(self) -> None:
        from textual.worker import get_current_worker

        from ftwizard.core.events import EVENTS_FILE, read_events, read_status

        worker = get_current_worker()
        ev_off = 0
        log_off = 0
        partial = b""
        ended_reads = 0
        ended = False      # the newest start/end event is an end (a resume appends a new start)
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
            for e in events:
                if e.get("type") in ("start", "end"):
                    ended = e["type"] == "end"
            if ended and (read_status(self.run_dir) or {}).get("state") not in ("starting", "running"):
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
            s.fold(e)
        if event.lines:
            log = self.query_one(Log)
            log.write_lines(event.lines)
            # The first batch lands before the log has a size: scroll once it has one.
            self.call_after_refresh(log.scroll_end, animate=False)
        if s.end is not None and s.end.get("status") == "oom" and self.fix_state == "none":
            self.fix_state = "looking"
            self.find_fix()
        self._render_state()
        self.refresh_bindings()

    # ---------------------------------------------------------------- out of memory

    @work(thread=True, exclusive=True, group="oom-fix", name="oom-fix", exit_on_error=False,
          description="finding the OOM fix")
    def find_fix(self) -> None:
        from ftwizard.core.probe import oom_fix  # plans again: reads the model's config

        try:
            self.post_message(self.FixFound(oom_fix(self.run_dir)))
        except Exception as err:  # noqa: BLE001 - shown as words; `ftwizard resume --fix` remains
            self.post_message(self.FixFound(None, f"{type(err).__name__}: {err}"))

    @on(FixFound)
    def _fix_found(self, event: FixFound) -> None:
        self.fix = event.fix
        self.fix_state = "found" if event.fix else "nothing"
        self.fix_error = event.error
        self._render_state()
        self.refresh_bindings()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "relaunch":   # shown only for a run that died of OOM and has a fix
            return self.fix_state == "found"
        if action in ("stop", "detach", "quit"):   # nothing to stop or leave running once ended
            return self.state.end is None
        if action == "leave":
            return self.state.end is not None
        if action == "export":     # a finished run's model, once it is there
            return (self.state.end is not None and self.state.end.get("status") == "finished"
                    and (self.run_dir / "final").is_dir())
        return True

    def action_export(self) -> None:
        from ftwizard.tui.screens.export import ExportScreen

        self.app.push_screen(ExportScreen(self.run_dir))

    def action_relaunch(self) -> None:
        if self.fix_state != "found":
            return
        self.fix_state = "relaunching"
        self._render_state()
        self.refresh_bindings()
        self.relaunch()

    @work(thread=True, exclusive=True, group="relaunch", name="relaunch-with-fix",
          exit_on_error=False, description="relaunching with the fix")
    def relaunch(self) -> None:
        from ftwizard.core.probe import relaunch_with_fix

        try:
            self.post_message(self.Relaunched(Path(relaunch_with_fix(self.run_dir, detach=True))))
        except Exception as err:  # noqa: BLE001 - InputError and spawn failures alike
            self.post_message(self.Relaunched(None, str(err)))

    @on(Relaunched)
    def _relaunched(self, event: Relaunched) -> None:
        if event.run_dir is None:
            self.fix_state = "found"
            self.notify(f"relaunch failed: {event.error}", severity="error", timeout=8)
            self._render_state()
            self.refresh_bindings()
            return
        self.app.run_dir = event.run_dir
        self.notify(f"relaunched with: {self.fix['text']}", timeout=6)
        self.app.switch_screen(RunScreen(event.run_dir, poll=self.poll))

    def _render_state(self) -> None:
        from ftwizard.core.plan import format_duration

        s = self.state
        head = Text()
        head.append(f" {self.run_name}", style="bold")
        head.append(f" · {self.run_dir} · ")
        if s.end is None:
            head.append("running, safe to disconnect", style="bold green")
        else:
            status = s.end.get("status", "ended")
            head.append(status, style="bold green" if status == "finished" else "bold red")
            if s.end.get("message") and status != "oom":   # OOM: its own line below
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
        self._render_metrics()
        self.query_one("#run-loss", LossChart).show(s)
        mem = Text()
        if s.mem_bytes is not None:
            label = "peak" if s.end is not None else "measured"
            mem.append(f"{label} {s.mem_bytes / GiB:.2f} GiB")
            if s.estimate_bytes:
                mem.append(f"  estimate {s.estimate_bytes / GiB:.2f} GiB")
            mem.append("\n")
            if s.capacity_bytes:
                filled, empty = bar(s.mem_bytes / s.capacity_bytes, 20)
                mem.append(filled, style="green")
                mem.append(empty, style="dim")
                mem.append(f" of {s.capacity_bytes / GiB:.1f} GiB\n")
            mem.append(s.counter_text, style="dim")   # which counter the figures are on
        else:
            mem.append("no measurement yet", style="dim")
        if s.end is not None and s.end.get("suggestion") and s.end.get("status") != "oom":
            mem.append(f"\ntry: {s.end['suggestion']}", style="yellow")
        self.query_one("#run-memory", Static).update(mem)
        self._render_end()

    def _render_metrics(self) -> None:
        """One line of the objective's newest figures (core/objective_metrics.py, the renderer
        `ftwizard run --plain` uses too); from 110 columns each with its trend since the start.
        Absent for SFT, whose step events carry none."""
        from ftwizard.core.objective_metrics import metric_items

        s = self.state
        box = self.query_one("#run-metrics", Static)
        items = metric_items(s.metrics)
        box.display = bool(items)
        if not items:
            return
        width = self.size.width or self.app.size.width
        trend = width >= 110
        t = Text()
        used = 0
        for name, label, value in items:
            piece = 2 + len(label) + 1 + len(value) + (9 if trend else 0)
            if used and used + piece > width - 1:
                break   # one line at 80 columns: the first figures are the ones compared
            t.append("  " if used else " ")
            t.append(f"{label} ", style="dim")
            t.append(value, style="bold")
            if trend:
                values = [v for _, v in s.metrics_history.get(name, [])]
                t.append(" " + sparkline(values, 8), style="magenta")
            used += piece
        box.update(t)

    def _finished_text(self) -> Text:
        """Where the model is and how it went, once it is done."""
        s = self.state
        end = s.end or {}
        t = Text()
        t.append(" ✓ ", style="bold green")
        bits = [f"loss {s.loss:.3f}" if s.loss is not None else ""]
        if s.started and end.get("time"):
            from ftwizard.core.plan import format_duration

            bits.append(f"took {format_duration(end['time'] - s.started)}")
        if s.mem_bytes:
            bits.append(f"peak {s.mem_bytes / GiB:.2f} GiB"
                        + (f" (est {s.estimate_bytes / GiB:.2f})" if s.estimate_bytes else ""))
        t.append(" · ".join(b for b in bits if b))
        t.append("\n model: ", style="bold")
        t.append(str(self.run_dir / "final"))
        t.append("  e", style="bold reverse")
        t.append(" export (GGUF, Ollama, merged)")
        return t

    def _render_end(self) -> None:
        """Why it died, in one line, and what `r` would change (OOM only)."""
        s = self.state
        box = self.query_one("#run-end", Static)
        oom = s.end is not None and s.end.get("status") == "oom"
        done = s.end is not None and s.end.get("status") == "finished"
        box.display = oom or done
        if done:
            box.update(self._finished_text())
            return
        if not oom:
            return
        t = Text()
        t.append(" ✗ ", style="bold red")
        t.append(_reason(s.end), style="bold")
        if self.fix_state == "found" and self.fix:
            t.append("\n r", style="bold reverse")
            t.append(f" relaunch with fix: {self.fix['text']}")
        elif self.fix_state == "relaunching":
            t.append(f"\n relaunching with: {self.fix['text'] if self.fix else ''}…", style="italic")
        elif self.fix_state == "looking":
            t.append("\n looking for a fix…", style="dim")
        elif self.fix_state == "nothing":
            why = self.fix_error
            t.append(f"\n no single change would help{': ' + why if why else ''}", style="yellow")
        box.update(t)

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
        if self.state.end is not None:
            self.app.result_message = (f"{self.run_dir.name} {self.state.end.get('status', 'ended')}; "
                                       f"its files: {self.run_dir}")
        else:
            self.app.result_message = f"training goes on; to watch it again: {self._attach_line()}"
        self.app.exit(0)

    def action_run_dir(self) -> None:
        self.notify(f"{self.run_dir.resolve()}", title="run dir", timeout=8)

    def action_quit(self) -> None:
        self.action_detach()

    def action_leave(self) -> None:
        self.action_detach()
