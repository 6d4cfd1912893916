"""The wizard app: one frozen RunConfig, replaced on every answer, re-planned at once, broadcast.

State flows one way: a screen posts an answer, the app builds a new config through
core.questions (so validation is the config's own), plans it (core.plan, ~0.2 ms) and publishes
`plan_changed`; every visible screen re-renders from the app's state. Anything that can block
(hardware detection, reading a model folder, counting tokens) runs in a named thread worker and
posts a past-tense message back; the screen stays usable meanwhile.

Imports stay light: no torch or transformers until a worker needs them (time to first frame is
measured by bench/tui_latency.py).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from textual import on, work
from textual.app import App
from textual.binding import Binding
from textual.message import Message
from textual.signal import Signal
from textual.worker import Worker, WorkerState

from ftwizard.core import questions as q
from ftwizard.core.config import RunConfig
from ftwizard.core.errors import InputError
from ftwizard.core.session import Session, data_key, missing_data

from ftwizard.tui.screens.too_small import check_size

STYLES = Path(__file__).parent / "styles"


@dataclass(frozen=True)
class ProbeView:
    """What the estimate panel shows of "test fit": idle, running (steps done), done or error."""

    state: str = "idle"            # idle | running | done | error
    steps: int = 4
    steps_done: int = 0
    config: Any = None             # the answers it measures (a stale result is marked so)
    result: Any = None             # core.probe.ProbeResult
    error: str | None = None
    started: float = 0.0
    applied: str | None = None     # the fix applied before this probe, when `f` started it


class WizardApp(App[int]):
    """`ftwizard` / `ftwizard edit FILE` / `ftwizard attach RUN` (run_dir given)."""

    CSS_PATH = [STYLES / "global.tcss", STYLES / "wizard.tcss"]
    TITLE = "ftwizard"
    ENABLE_COMMAND_PALETTE = False
    BINDINGS = [Binding("ctrl+c", "quit", "quit at once (unsaved answers are lost)", show=False,
                        priority=True),
                Binding("question_mark", "help", "help"),
                # F1 also over dialogs (a modal cuts the app's plain bindings off) and inputs
                Binding("f1", "help", "help", show=False, priority=True)]

    # ---------------------------------------------------------------- messages from workers

    @dataclass
    class HardwareDetected(Message):
        """detect() finished (or failed: hardware None, error set)."""

        hardware: Any
        error: str | None = None

    @dataclass
    class ModelResolved(Message):
        """A non-catalog model (folder, tiny, HF cache) was read."""

        name: str
        spec: Any
        error: str | None = None

    @dataclass
    class DataInspected(Message):
        """Token counting finished for the data section `key`."""

        key: str
        stats: Any
        error: str | None = None

    @dataclass
    class DataProgressed(Message):
        """Token counting progress (0..1); a newer one replaces an older one still queued."""

        key: str
        fraction: float

        def can_replace(self, message: Message) -> bool:
            return isinstance(message, WizardApp.DataProgressed) and message.key == self.key

    @dataclass
    class ProbeProgressed(Message):
        """A probe's backend wrote a step event; a newer one replaces an older one still queued."""

        token: int
        steps_done: int

        def can_replace(self, message: Message) -> bool:
            return isinstance(message, WizardApp.ProbeProgressed) and message.token == self.token

    @dataclass
    class ProbeFinished(Message):
        """A probe ended (result None and error set when it could not even start)."""

        token: int
        config: Any
        result: Any
        error: str | None = None

    def __init__(self, config: RunConfig | None = None, *, hardware: Any = None,
                 detect: bool = True, save_path: str | Path | None = None,
                 step: str = "hardware", run_dir: str | Path | None = None,
                 probe_steps: int = 4, probe_kwargs: dict[str, Any] | None = None) -> None:
        super().__init__()
        self.config: RunConfig = config or q.default_config(hardware)
        self._given_config = config is not None
        self.touched = False
        self.saved_config: RunConfig | None = config   # q asks before losing answers past this
        self.session = Session(hardware)   # the plan's inputs and their caches (core/session.py)
        self.detect_hw = detect and hardware is None
        self.detect_error: str | None = None
        self.save_path = Path(save_path) if save_path else None
        self.start_step = step
        self.run_dir = Path(run_dir) if run_dir else None
        self.plan: Any = None
        self.plan_state = "detecting"
        self.plan_message = ""
        self.data_key = ""
        self.data_stats: Any = None
        self.data_error: str | None = None
        self.data_progress: float | None = None
        self.plan_changed: Signal[WizardApp] = Signal(self, "plan-changed")
        self.result_message: str | None = None  # printed after exit (the attach command)
        self.probe = ProbeView(steps=probe_steps)
        self.probe_kwargs = dict(probe_kwargs or {})  # tests: memory_limit_bytes, time_limit_s
        self._probe_token = 0

    # ---------------------------------------------------------------- start

    def on_mount(self) -> None:
        from ftwizard.core import local_state

        # a damaged runs index, status.json or calibration file: a notification, not a stderr
        # line lost under the full screen
        self._unlisten = local_state.listen(self._damaged_file)
        if self.detect_hw:
            # after the first paint: the detection thread (NVML, psutil, package metadata)
            # shares the GIL with the UI, and the first frame should not wait for it
            self.call_after_refresh(self.detect_hardware)
        self.replan()
        if self.run_dir is not None:
            from ftwizard.tui.screens.run import RunScreen

            self.push_screen(RunScreen(self.run_dir))
        else:
            self.push_screen(self.step_screen(self.start_step))
        check_size(self)

    def _damaged_file(self, text: str) -> None:
        kw = {"title": "damaged file", "severity": "warning", "timeout": 12}
        try:   # warned from a worker thread
            self.call_from_thread(self.notify, text, **kw)
        except RuntimeError:   # from the app's own thread
            self.notify(text, **kw)

    def on_unmount(self) -> None:
        unlisten = getattr(self, "_unlisten", None)
        if unlisten is not None:
            unlisten()

    def on_resize(self, event: Any) -> None:
        check_size(self, event.size)   # below the smallest size: one message, not a broken layout

    def action_help(self) -> None:
        from ftwizard.tui.screens.help import toggle_help

        toggle_help(self)

    @property
    def unsaved(self) -> bool:
        """Answers given since the config was loaded or last saved."""
        return self.touched and self.config != self.saved_config

    def step_screen(self, step_id: str) -> Any:
        from ftwizard.tui.screens import screen_for

        return screen_for(step_id)

    def goto(self, step_id: str) -> None:
        self.switch_screen(self.step_screen(step_id))

    # ---------------------------------------------------------------- workers

    @work(thread=True, exclusive=True, group="hardware", name="detect-hardware",
          exit_on_error=False, description="hardware detection")
    def detect_hardware(self) -> None:
        try:  # NVML / probes in a child process; torch stays out
            hw = self.session.detect()
            self.post_message(self.HardwareDetected(hw))
        except Exception as err:  # noqa: BLE001 - any failure must reach the screen as words
            self.post_message(self.HardwareDetected(None, f"{type(err).__name__}: {err}"))

    @on(HardwareDetected)
    def _detected(self, event: HardwareDetected) -> None:
        self.session.detected = event.hardware
        self.detect_error = event.error
        if event.hardware is not None and not self._given_config and not self.touched:
            self.config = q.default_config(event.hardware)
        self.replan()

    @work(thread=True, group="model", name="resolve-model", exit_on_error=False,
          description="reading the model")
    def resolve_model(self, cfg: RunConfig) -> None:
        spec = self.session.resolve_spec(cfg)  # cached there, spec or InputError
        self.post_message(self.ModelResolved(cfg.model.name, spec))

    @on(ModelResolved)
    def _resolved(self, event: ModelResolved) -> None:
        self.replan()

    @work(thread=True, exclusive=True, group="data", name="inspect-data", exit_on_error=False,
          description="counting tokens")
    def inspect_data(self, key: str, cfg: RunConfig) -> None:
        from textual.worker import get_current_worker

        from ftwizard.core.data_sources import Cancelled

        worker = get_current_worker()
        try:
            res = self.session.count_data(
                cfg, progress=lambda f: self.post_message(self.DataProgressed(key, f)),
                cancel=lambda: worker.is_cancelled)
        except Cancelled:
            return
        self.post_message(self.DataInspected(key, res.stats,
                                             str(res.error) if res.error else None))

    @on(DataProgressed)
    def _progress(self, event: DataProgressed) -> None:
        if event.key == self.data_key:
            self.data_progress = event.fraction
            self.plan_changed.publish(self)

    @on(DataInspected)
    def _inspected(self, event: DataInspected) -> None:
        if event.key != self.data_key:
            return
        self.data_stats, self.data_error, self.data_progress = event.stats, event.error, None
        self.replan()

    @on(Worker.StateChanged)
    def _worker_failed(self, event: Worker.StateChanged) -> None:
        if event.state == WorkerState.ERROR:
            self.notify(f"{event.worker.description or event.worker.name}: {event.worker.error}",
                        severity="error", timeout=8)

    # ---------------------------------------------------------------- test fit (probe)

    def start_probe(self, *, fix_first: bool = False) -> str | None:
        """Run the current answers for a few real steps (or, after an OOM probe with fix_first,
        apply its first fix and probe that). The reason when nothing starts."""
        if self.probe.state == "running":
            return "a probe is already running"
        if fix_first:
            res = self.probe.result
            if res is None or res.status != "oom" or not res.suggestions or not self.probe_current():
                return "no measured fix to apply"
            cfg, plan = self.config, res
        else:
            if self.plan is None:
                return "nothing to test yet: the estimate is not ready"
            cfg, plan = self.config, self.plan
        self._probe_token += 1
        self.probe = ProbeView(state="running", steps=self.probe.steps, config=cfg,
                               started=time.monotonic(),
                               applied=res.suggestions[0]["text"] if fix_first else None)
        self.probe_worker(self._probe_token, cfg, plan, fix_first, self.planning_hardware()[0])
        self.plan_changed.publish(self)
        return None

    @work(thread=True, exclusive=True, group="probe", name="probe", exit_on_error=False,
          description="test fit")
    def probe_worker(self, token: int, cfg: RunConfig, plan_or_result: Any, fix_first: bool,
                     hardware: Any) -> None:
        """`plan_or_result`: the plan shown (a fresh probe), or the OOM result whose fix to apply."""
        from ftwizard.core import probe  # subprocess + psutil; torch only in the child

        def progress(event: dict[str, Any]) -> None:
            if event.get("type") == "step":
                self.post_message(self.ProbeProgressed(token, int(event.get("step") or 0)))

        kw = {"steps": self.probe.steps, "on_progress": progress, "hardware": hardware,
              **self.probe_kwargs}
        try:
            if fix_first:
                out = probe.apply_first_and_probe_again(cfg, plan_or_result, **kw)
                if out is None:
                    self.post_message(self.ProbeFinished(token, cfg, None, "no fix to apply"))
                    return
                new_cfg, result = out
            else:
                new_cfg, result = cfg, probe.run_probe(cfg, plan=plan_or_result, **kw)
            self.post_message(self.ProbeFinished(token, new_cfg, result))
        except InputError as err:
            self.post_message(self.ProbeFinished(token, cfg, None, str(err)))
        except Exception as err:  # noqa: BLE001 - the panel says why; the wizard goes on
            self.post_message(self.ProbeFinished(token, cfg, None, f"{type(err).__name__}: {err}"))

    @on(ProbeProgressed)
    def _probe_progressed(self, event: ProbeProgressed) -> None:
        if event.token == self._probe_token and self.probe.state == "running":
            self.probe = replace(self.probe, steps_done=event.steps_done)
            self.plan_changed.publish(self)

    @on(ProbeFinished)
    def _probe_finished(self, event: ProbeFinished) -> None:
        if event.token != self._probe_token:
            return
        applied = self.probe.applied
        self.session.forget_plans()  # the probe may have recorded a calibration point
        if applied and event.result is not None and event.config != self.config:
            self.set_config(event.config)   # the fix the probe measured becomes the answer
        self.show_probe_result(event.result, event.config, error=event.error, applied=applied)

    def show_probe_result(self, result: Any, config: RunConfig | None = None, *,
                          error: str | None = None, applied: str | None = None) -> None:
        """Show a finished probe in the panel (also how snapshot tests inject a fixed one)."""
        self.probe = ProbeView(state="done" if result is not None else "error",
                               steps=self.probe.steps, config=config or self.config,
                               result=result, error=error, applied=applied,
                               steps_done=getattr(result, "steps_done", 0))
        self.plan_changed.publish(self)

    def probe_current(self) -> bool:
        """Whether the probe shown was measured for the answers as they are now."""
        return self.probe.config is not None and self.probe.config == self.config

    # ---------------------------------------------------------------- answers and the plan

    def context(self) -> q.Context:
        hw, _ = self.planning_hardware()
        return q.Context(self.config, hw)

    def answer(self, field: q.Field, value: Any) -> str | None:
        """Apply an answer; the error text when it is refused (the config is then unchanged)."""
        try:
            new = field.answer(self.config, value)
        except InputError as err:
            return str(err)
        if field.kind == "choice":
            reason = q.check_choice(field, self.context(), field.get(new))
            if reason:
                return reason
        self.set_config(new)
        return None

    def set_config(self, new: RunConfig) -> None:
        self.touched = True
        self.config = new
        self.replan()

    def gate_launch(self, launch: Any, *, mode: str = "launch") -> str | None:
        """Launch (or dry-run) through the one preflight (core/preflight.py), as `ftwizard run`
        does: bad input refuses with the reason; a plan that does not fit (device memory, host
        RAM, disk) or a warning (hardware changed) asks first, saying why; a clean plan goes.
        Returns the refusal or the question asked (None when `launch` was called at once)."""
        from ftwizard.core.preflight import preflight

        if self.plan is None:
            reason = f"nothing to launch yet: {self.plan_message or 'the estimate is not ready'}"
            self.notify(reason, severity="error", timeout=8)
            return reason
        report = preflight(self.plan, mode=mode)
        if report.bad_input:
            reason = "not launched: " + "\n".join(f.line() for f in report.bad_input)
            self.notify(reason, severity="error", timeout=12)
            return reason
        if report.does_not_fit or report.warnings:
            from ftwizard.tui.screens.confirm import ConfirmScreen

            question = ("Launch although it does not fit?" if report.does_not_fit
                        else "Launch anyway?")
            detail = "\n".join(f.line() for f in report.does_not_fit + report.warnings)
            self.push_screen(ConfirmScreen(question, detail, yes="launch anyway", no="back"),
                             lambda yes: launch() if yes else None)
            return question
        launch()
        return None

    def make_it_fit(self) -> str | None:
        from ftwizard.core.plan import apply_suggestion

        plan = self.plan
        if plan is None or plan.fits or not plan.memory.suggestions:
            return None
        sug = plan.memory.suggestions[0]
        try:
            self.set_config(apply_suggestion(self.config, sug))
        except InputError as err:
            self.notify(str(err), severity="error")
            return None
        return sug["text"]

    def planning_hardware(self) -> tuple[Any, str | None]:
        """(Hardware to plan against, error). (None, None) while detection runs."""
        try:
            hw = self.session.hardware(self.config, block=False)
        except InputError as err:
            return None, str(err)
        return hw, (self.detect_error if hw is None else None)

    def _maybe_inspect(self) -> None:
        """Count the data in a worker when what the count depends on changed (session caches it)."""
        cfg = self.config
        if not cfg.data.train:
            self.data_key, self.data_stats, self.data_error, self.data_progress = "", None, None, None
            return
        key = data_key(cfg)
        if key == self.data_key:
            return
        self.data_key, self.data_stats, self.data_error = key, None, None
        known = self.session.known_data(cfg)
        if known is not None:
            self.data_stats = known.stats
            self.data_error = str(known.error) if known.error else None
            return
        missing = missing_data(cfg)
        if missing and not cfg.data.sequences:
            self.data_error = f"not found here: {', '.join(missing)}"
            self.workers.cancel_group(self, "data")
            return
        self.data_progress = 0.0
        self.inspect_data(key, cfg)

    def replan(self) -> None:
        """Plan the current answers from what the session knows; start a worker for what it
        does not (the model's folder, the data); they re-plan when they finish."""
        self._maybe_inspect()
        cfg = self.config
        hw, err = self.planning_hardware()
        self.plan = None
        if hw is None:
            self.plan_state = "error" if err else "detecting"
            self.plan_message = err or ""
            self.plan_changed.publish(self)
            return
        spec = self.session.known_spec(cfg)
        if spec is None:
            self.plan_state, self.plan_message = "reading", f"reading {cfg.model.name}…"
            self.resolve_model(cfg)
            self.plan_changed.publish(self)
            return
        if isinstance(spec, InputError):
            self.plan_state, self.plan_message = "error", str(spec)
            self.plan_changed.publish(self)
            return
        data = self.session.known_data(cfg) if self.data_progress is None else None
        try:
            self.plan = self.session.plan(cfg, hw, spec, data)
            self.plan_state, self.plan_message = "ok", ""
        except InputError as e:
            self.plan_state, self.plan_message = "error", str(e)
        self.plan_changed.publish(self)

    # ---------------------------------------------------------------- files

    def save(self, path: str | Path) -> Path:
        p = Path(path).expanduser()
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(self.config.to_yaml(), encoding="utf-8")
        self.saved_config = self.config
        return p

    def preset_path(self) -> Path:
        from ftwizard.core.paths import user_presets_dir

        return user_presets_dir() / f"{self.config.name}.yaml"

    def default_save_path(self) -> Path:
        return self.save_path or Path(f"{self.config.name}.yaml")


def run_attach(run_dir: str | Path) -> int:
    """`ftwizard attach RUN` in a terminal: the Run screen alone (quitting leaves the run going)."""
    app = WizardApp(None, detect=False, run_dir=run_dir)
    code = app.run()
    if app.result_message:
        print(app.result_message)
    return int(code or 0)
