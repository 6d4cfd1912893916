"""The figures of events.jsonl, also sent to the tracker the user picked (`output.report_to`).

Why not the Trainer's own `report_to`: its integrations log what the Trainer logs (the LR of the
*next* step, no tokens/s, no memory), so wandb would show other numbers than the Run screen. Here
the tracker is fed from the very events the Run screen folds: each `step` and `eval` event becomes
one tracker record at the event's step, with the same loss, LR, grad norm, tokens/s and memory.
The start event's plan gives the memory estimate, the end event (when it passes through) the peak.

- wandb: `WANDB_DISABLED=true` (seed 004's switch) turns it off; `WANDB_PROJECT` names the
  project (default "ftwizard"), `WANDB_MODE=offline` and `WANDB_DIR` are wandb's own (the run dir
  holds its files when WANDB_DIR is unset). The API key stays in the environment: nothing here
  writes it, and the config we hand wandb is the run's config, which holds no secret.
- tensorboard: event files in RUN_DIR/tensorboard (torch's SummaryWriter).
- mlflow: MLFLOW_TRACKING_URI when set, else a file store in RUN_DIR/mlruns (`mlflow ui
  --backend-store-uri RUN_DIR/mlruns` shows it).

A tracker that cannot start (not installed, no network, bad key) costs a log line, never the run.
wandb, tensorboard and mlflow are imported only here, only when picked.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from ftwizard.core import events as ev

GiB = 1024**3
TRACKERS = ("wandb", "tensorboard", "mlflow")
TENSORBOARD_DIR = "tensorboard"
MLFLOW_DIR = "mlruns"
_TRUE = ("1", "true", "yes", "on")


def figures(event: Mapping[str, Any]) -> tuple[int, dict[str, float]] | None:
    """(step, {name: value}) a tracker records for one event; None for events it does not chart.

    Names follow the Trainer's integrations (train/loss, eval/loss, train/learning_rate) so a
    dashboard built for HF runs reads ours; memory is in GiB, as the Run screen shows it.
    """
    kind = event.get("type")
    step = event.get("step")
    if kind == "step":
        pairs = {"train/loss": event.get("loss"), "train/learning_rate": event.get("lr"),
                 "train/grad_norm": event.get("grad_norm"),
                 "train/tokens_per_s": event.get("tokens_per_s"),
                 "train/memory_gib": _gib(ev.memory_on_counter(event)[0])}
    elif kind == "eval":
        pairs = {"eval/loss": event.get("eval_loss")}
    elif kind == "start":
        plan = event.get("plan") if isinstance(event.get("plan"), dict) else {}
        mem = plan.get("memory") if isinstance(plan.get("memory"), dict) else {}
        pairs = {"train/memory_estimate_gib": _gib(mem.get("per_device_bytes"))}
        step = event.get("resumed_from") or 0
    elif kind == "end":
        pairs = {"end/peak_memory_gib": _gib(ev.memory_on_counter(event)[0]),
                 "end/memory_estimate_gib": _gib(ev.figure(event, "estimate_bytes"))}
    else:
        return None
    values = {k: float(v) for k, v in pairs.items() if isinstance(v, (int, float))}
    if not values or not isinstance(step, int):
        return None
    return step, values


def _gib(n: Any) -> float | None:
    return n / GiB if isinstance(n, (int, float)) else None


def disabled_reason(report_to: str, env: Mapping[str, str] | None = None) -> str | None:
    """Why the picked tracker stays off in this environment (seed 004: WANDB_DISABLED=true)."""
    env = os.environ if env is None else env
    if report_to == "wandb":
        if env.get("WANDB_DISABLED", "").strip().lower() in _TRUE:
            return "wandb is off: WANDB_DISABLED is set"
        if env.get("WANDB_MODE", "").strip().lower() == "disabled":
            return "wandb is off: WANDB_MODE=disabled"
    return None


class Tracker:
    """One tracker run: `record(step, values)` many times, then `close(ok)` once."""

    name = "none"

    def record(self, step: int, values: dict[str, float]) -> None:
        raise NotImplementedError

    def close(self, ok: bool = True) -> None:
        raise NotImplementedError


class WandbTracker(Tracker):
    name = "wandb"

    def __init__(self, run_dir: Path, run_name: str, config: dict[str, Any]) -> None:
        import wandb

        self._wandb = wandb
        wandb_dir = os.environ.get("WANDB_DIR") or str(run_dir)
        Path(wandb_dir).mkdir(parents=True, exist_ok=True)
        self.run = wandb.init(project=os.environ.get("WANDB_PROJECT") or "ftwizard",
                              name=run_name, dir=wandb_dir, config=config, reinit="finish_previous")

    def record(self, step: int, values: dict[str, float]) -> None:
        self.run.log(values, step=step)

    def close(self, ok: bool = True) -> None:
        self.run.finish(exit_code=0 if ok else 1)


class TensorBoardTracker(Tracker):
    name = "tensorboard"

    def __init__(self, run_dir: Path, run_name: str, config: dict[str, Any]) -> None:  # noqa: ARG002
        from torch.utils.tensorboard import SummaryWriter

        self.log_dir = run_dir / TENSORBOARD_DIR
        self.writer = SummaryWriter(log_dir=str(self.log_dir))

    def record(self, step: int, values: dict[str, float]) -> None:
        for key, value in values.items():
            self.writer.add_scalar(key, value, global_step=step)
        self.writer.flush()   # a watcher (tensorboard --logdir) sees each step as it lands

    def close(self, ok: bool = True) -> None:  # noqa: ARG002
        self.writer.close()


class MlflowTracker(Tracker):
    name = "mlflow"

    def __init__(self, run_dir: Path, run_name: str, config: dict[str, Any]) -> None:
        import mlflow

        self._mlflow = mlflow
        if not os.environ.get("MLFLOW_TRACKING_URI"):
            # No server named: a file store beside the run (mlflow 3 calls it legacy and refuses
            # it unless allowed; its database store needs the full, heavy mlflow install).
            os.environ.setdefault("MLFLOW_ALLOW_FILE_STORE", "true")
            mlflow.set_tracking_uri((run_dir / MLFLOW_DIR).resolve().as_uri())
        self.run = mlflow.start_run(run_name=run_name)
        flat = {k: v for k, v in _flatten(config).items() if v is not None}
        if flat:
            mlflow.log_params({k: str(v)[:500] for k, v in flat.items()})

    def record(self, step: int, values: dict[str, float]) -> None:
        self._mlflow.log_metrics(values, step=step)

    def close(self, ok: bool = True) -> None:
        self._mlflow.end_run(status="FINISHED" if ok else "FAILED")


def _flatten(d: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in d.items():
        key = f"{prefix}{k}"
        if isinstance(v, Mapping):
            out.update(_flatten(v, key + "."))
        else:
            out[key] = v
    return out


KINDS: dict[str, type[Tracker]] = {"wandb": WandbTracker, "tensorboard": TensorBoardTracker,
                                   "mlflow": MlflowTracker}


def open_tracker(report_to: str, run_dir: Path, run_name: str, config: dict[str, Any],
                 log: Callable[[str], Any] = print) -> Tracker | None:
    """The tracker `report_to` names, started; None (with a line through `log`) when it is
    "none", switched off by the environment, or fails to start."""
    if report_to not in KINDS:
        return None
    why = disabled_reason(report_to)
    if why:
        log(why)
        return None
    try:
        return KINDS[report_to](Path(run_dir), run_name, config)
    except ImportError as err:
        log(f"{report_to} is not installed ({err.name or err}): pip install 'ftwizard[trackers]'; "
            "training goes on, events.jsonl has every figure")
    except Exception as err:  # noqa: BLE001 - a tracker must never cost the run
        log(f"{report_to} did not start ({type(err).__name__}: {err}); training goes on")
    return None


class TrackedWriter:
    """An events.EventWriter that also hands each event's figures to a tracker.

    The tracker starts on the first `start` event, so only the process that writes events (rank
    0) ever opens one; `finish` ends it. Everything else is the wrapped writer's.
    """

    def __init__(self, writer: Any, report_to: str, run_dir: Path, run_name: str,
                 config: dict[str, Any], log: Callable[[str], Any] = print) -> None:
        self._writer = writer
        self._args = (report_to, Path(run_dir), run_name, config)
        self._log = log
        self.tracker: Tracker | None = None
        self._opened = False
        self._step = 0
        self._estimate: Any = None

    def emit(self, type_: str, **fields: Any) -> dict[str, Any]:
        event = self._writer.emit(type_, **fields)
        if isinstance(event.get("step"), int):
            self._step = event["step"]
        if type_ == "start":
            plan = event.get("plan") if isinstance(event.get("plan"), dict) else {}
            mem = plan.get("memory") if isinstance(plan.get("memory"), dict) else {}
            self._estimate = mem.get("per_device_bytes")
        if type_ == "start" and not self._opened:
            self._opened = True
            report_to, run_dir, name, config = self._args
            self.tracker = open_tracker(report_to, run_dir, name, config, log=self._say)
        if self.tracker is not None:
            found = figures(event)
            if found:
                try:
                    self.tracker.record(*found)
                except Exception as err:  # noqa: BLE001 - stop tracking, keep training
                    self._say(f"{self.tracker.name} stopped recording ({type(err).__name__}: {err})")
                    self._end(ok=False)
        return event

    def log(self, text: str) -> dict[str, Any]:
        return self._writer.log(text)

    def finish(self, ok: bool = True) -> None:
        """End the tracker's run (idempotent); the event file stays open for the end event.

        The end event is written after the backend returns (core/train.py), when the tracker is
        closed: its peak goes to the tracker from here, on the same counter (events.end_memory)."""
        if self.tracker is not None:
            found = figures({"type": "end", "step": self._step, **ev.end_memory(),
                             "estimate_bytes": self._estimate})
            if found:
                try:
                    self.tracker.record(*found)
                except Exception as err:  # noqa: BLE001 - the run's figures are in events.jsonl
                    self._say(f"{self.tracker.name} did not take the end figures ({err})")
        self._end(ok)

    def _end(self, ok: bool) -> None:
        tracker, self.tracker = self.tracker, None
        if tracker is not None:
            try:
                tracker.close(ok)
            except Exception as err:  # noqa: BLE001
                self._say(f"{tracker.name} did not close cleanly ({type(err).__name__}: {err})")

    def _say(self, text: str) -> None:
        self._log(text)
        try:
            self._writer.log(text)
        except (OSError, ValueError):
            pass

    def __getattr__(self, name: str) -> Any:
        return getattr(self._writer, name)


def tracked(writer: Any, cfg: Any, run_dir: Path, log: Callable[[str], Any] = print) -> Any:
    """`writer` as is when the config reports nowhere (or there is no writer: not rank 0), else
    wrapped so the tracker gets the events' figures."""
    report_to = getattr(getattr(cfg, "output", None), "report_to", "none")
    if writer is None or report_to not in KINDS:
        return writer
    try:
        config = cfg.model_dump(mode="json")
    except Exception:  # noqa: BLE001 - the figures matter more than the config panel
        config = {}
    return TrackedWriter(writer, report_to, run_dir, getattr(cfg, "name", Path(run_dir).name),
                         config, log=log)
