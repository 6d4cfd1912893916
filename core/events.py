"""The JSON-lines protocol between a training process and whoever watches it (DESIGN.md).

A backend appends one JSON object per line to RUN_DIR/events.jsonl; the TUI, `attach` and the
calibration store tail that file while it grows. Writers flush every line (a watcher never waits
on a buffer) and fsync the few lines that matter after a crash (start, checkpoint, end); readers
keep a byte offset and leave a half-written last line for the next read.

The events are typed below (StartEvent ... EndEvent). One writer per kind of line: EventWriter,
with :func:`emit_start` for the start (one shape for every backend) and :func:`end_run` for the
end (with status.json). One reducer: :class:`Progress` folds events into what a view shows; the
Run screen, `ftwizard attach`, `ftwizard runs`, runs.Follower and probes all use it.

Memory fields end in ``_bytes``. The figure a view puts beside the estimate is on the
estimate's counter (``counter``: "device_used", what NVML / nvidia-smi shows, on a GPU; "rss" on
a CPU): the step's ``device_used_bytes`` / ``rss_bytes`` and the end's ``peak_bytes``. Runs
written before these names (mem_allocated, mem_reserved, peak_mem, estimate_mem,
peak_device_used, peak_reserved) are still read (:data:`OLD_NAMES`).

Every event also has ``type`` and ``time`` (unix seconds).
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import time
from collections.abc import Iterable
from pathlib import Path
from dataclasses import dataclass, field
from typing import Any, TypedDict

EVENTS_FILE = "events.jsonl"
STATUS_FILE = "status.json"
STOP_FILE = "stop"
PLAN_FILE = "plan.json"

END_STATUSES = ("finished", "failed", "stopped", "oom")
# Lines a crash would otherwise lose: synced to disk, not only flushed.
_DURABLE = frozenset({"start", "checkpoint", "end"})


class StartEvent(TypedDict, total=False):
    run: str
    config: str
    method: str
    parallel: str
    precision: str
    world_size: int
    epochs: float
    sequences: int
    dropped_samples: int
    planned_steps: int
    total_steps: int
    resumed_from: int | None
    model: dict[str, Any]
    plan: dict[str, Any] | None
    pid: int
    objective: str             # train.objective (sft, dpo, orpo, kto, reward)
    reference: str             # what the run holds as its reference (a phrase; "none" without one)


class StepEvent(TypedDict, total=False):
    step: int
    total: int
    epoch: float | None
    loss: float | None
    lr: float | None
    grad_norm: float | None
    tokens_per_s: float
    eta_s: float | None
    # The objective's own figures as the trainer logs them (TRL's names: rewards/chosen,
    # rewards/rejected, rewards/margins, rewards/accuracies, logps/chosen, kl ...); absent for sft.
    metrics: dict[str, float]
    allocated_bytes: int       # GPU: torch's allocator
    reserved_bytes: int        # GPU: torch's reserve
    device_used_bytes: int     # GPU: the device's used memory (the estimate's counter)
    rss_bytes: int             # CPU: the process RSS (the estimate's counter)


class EvalEvent(TypedDict, total=False):
    step: int
    eval_loss: float | None
    metrics: dict[str, float]  # the objective's eval figures, as on step events


class CheckpointEvent(TypedDict):
    step: int
    path: str
    bytes: int


class LogEvent(TypedDict):
    text: str


class EndEvent(TypedDict, total=False):
    status: str                # finished | failed | stopped | oom
    exit_code: int
    step: int
    message: str | None
    suggestion: str | None
    counter: str | None        # device_used | rss: what peak_bytes measures
    peak_bytes: int | None     # on the estimate's counter
    estimate_bytes: int | None
    peak_allocated_bytes: int | None
    peak_reserved_bytes: int | None
    last_log_lines: list[str] | None
    sample: str | None


# Every kind of line and its fields (the writer refuses a kind not listed here).
EVENT_SHAPES: dict[str, type] = {"start": StartEvent, "step": StepEvent, "eval": EvalEvent,
                                 "checkpoint": CheckpointEvent, "log": LogEvent, "end": EndEvent}
EVENT_TYPES = tuple(EVENT_SHAPES)

# Names memory fields had before they ended in _bytes: read for run dirs written then.
OLD_NAMES = {"allocated_bytes": "mem_allocated", "reserved_bytes": "mem_reserved",
             "estimate_bytes": "estimate_mem", "peak_reserved_bytes": "peak_reserved"}
COUNTERS = {"device_used": "device memory used (NVML, as nvidia-smi shows it)",
            "rss": "RSS of the training process",
            "allocated": "torch-allocated memory (an older run: not the estimate's counter)"}


def figure(event: dict[str, Any], name: str) -> Any:
    """A field of an event under its name, or the name an older run wrote it under."""
    value = event.get(name)
    if value is None and name in OLD_NAMES:
        value = event.get(OLD_NAMES[name])
    return value


def memory_on_counter(event: dict[str, Any]) -> tuple[int | None, str | None]:
    """(bytes, counter) of a step or end event, on the estimate's counter where the event has
    it: device used on a GPU, RSS on a CPU. Older events: peak_device_used, else peak_mem /
    mem_allocated (RSS on a CPU; torch-allocated on a GPU, labelled so)."""
    if event.get("type") == "end":
        if event.get("peak_bytes") is not None:
            return int(event["peak_bytes"]), event.get("counter")
        if event.get("peak_device_used") is not None:
            return int(event["peak_device_used"]), "device_used"
        old = event.get("peak_mem")
        return (int(old), "rss" if event.get("peak_reserved") is None else "allocated") \
            if old is not None else (None, None)
    for name, counter in (("device_used_bytes", "device_used"), ("rss_bytes", "rss")):
        if event.get(name) is not None:
            return int(event[name]), counter
    old = event.get("mem_allocated")
    if old is None:
        return None, None
    return int(old), "rss" if old == event.get("mem_reserved") else "allocated"


class EventWriter:
    """Appends events to one file; safe to reopen (resume appends to the same file)."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._fh = open(self.path, "a", encoding="utf-8")  # noqa: SIM115 - lives as long as the run

    def emit(self, type_: str, **fields: Any) -> dict[str, Any]:
        if type_ not in EVENT_TYPES:
            raise ValueError(f"unknown event type {type_!r}; expected one of {EVENT_TYPES}")
        event = {"type": type_, "time": round(time.time(), 3), **fields}
        self._fh.write(json.dumps(event, default=_jsonable, allow_nan=False) + "\n")
        self._fh.flush()
        if type_ in _DURABLE:
            try:
                os.fsync(self._fh.fileno())
            except OSError:
                pass
        return event

    def log(self, text: str) -> dict[str, Any]:
        return self.emit("log", text=text)

    def close(self) -> None:
        if not self._fh.closed:
            self._fh.close()

    def __enter__(self) -> "EventWriter":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


# The one shape of a `start` event, whichever backend writes it (keys it does not know are null;
# backend-specific facts, e.g. the JAX mesh or the pipeline layout, come after them).
START_KEYS = ("run", "config", "method", "parallel", "precision", "world_size", "epochs",
              "sequences", "dropped_samples", "planned_steps", "total_steps", "resumed_from",
              "model", "plan", "pid")


def emit_start(writer: "EventWriter", **fields: Any) -> dict[str, Any]:
    """The `start` event: START_KEYS in order, then the backend's own extras."""
    body = {k: fields.pop(k, None) for k in START_KEYS}
    if body["pid"] is None:
        body["pid"] = os.getpid()
    return writer.emit("start", **body, **fields)


def end_run(run_dir: str | Path, *, status: str, exit_code: int, step: int,
            total: int | None = None, message: str | None = None, suggestion: str | None = None,
            peak_bytes: int | None = None, estimate_bytes: int | None = None,
            last_log_lines: list[str] | None = None, writer: "EventWriter | None" = None,
            pid: int | None = None, **extra: Any) -> dict[str, Any]:
    """The `end` event and the final status.json: the only place either is written, whoever ends
    the run (the training entry, `ftwizard stop --force`, the supervisor after a silent death)."""
    if status not in END_STATUSES:
        raise ValueError(f"unknown end status {status!r}; expected one of {END_STATUSES}")
    d = Path(run_dir)
    fields = dict(status=status, exit_code=exit_code, step=step, message=message,
                  suggestion=suggestion, peak_bytes=peak_bytes, estimate_bytes=estimate_bytes,
                  last_log_lines=last_log_lines, **extra)
    event: dict[str, Any] = {"type": "end", **fields}
    try:
        if writer is not None:
            event = writer.emit("end", **fields)
        else:
            with EventWriter(d / EVENTS_FILE) as w:
                event = w.emit("end", **fields)
    except OSError:
        # A full disk: a short event (without the log lines) through a fresh handle usually still
        # fits in the file's last block; status.json carries the message too.
        if writer is not None:
            with contextlib.suppress(OSError, ValueError):
                writer.close()
        fields.pop("last_log_lines", None)
        with contextlib.suppress(OSError, ValueError), EventWriter(d / EVENTS_FILE) as w:
            event = w.emit("end", **fields)
    status_extra = {k: v for k, v in extra.items() if k == "killed"}
    try:
        write_status(d, status, step=step, total=total, pid=pid, exit_code=exit_code,
                     message=message, **status_extra)
    except OSError:  # no room for a new file: rewrite the old status.json's own block instead
        from ftwizard.core.local_state import overwrite_in_place

        body = {"state": status, "pid": pid if pid is not None else os.getpid(), "step": step,
                "total": total, "updated": round(time.time(), 3), "exit_code": exit_code,
                "message": message, **status_extra}
        with contextlib.suppress(OSError):
            overwrite_in_place(d / STATUS_FILE, json.dumps(body, default=_jsonable))
    return event


def read_plan(run_dir: str | Path) -> dict[str, Any] | None:
    """plan.json as launch.render wrote it: the plan this run was launched with. Backends and the
    training entry read it; they never plan again."""
    try:
        data = json.loads((Path(run_dir) / PLAN_FILE).read_text())
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def _jsonable(value: Any) -> Any:
    """NaN/inf losses and numpy/torch scalars must not break the stream: make them JSON."""
    if hasattr(value, "item"):
        value = value.item()
    if isinstance(value, float):
        return None if value != value or value in (float("inf"), float("-inf")) else value
    if isinstance(value, Path):
        return str(value)
    return str(value)


def clean_number(value: Any) -> float | int | None:
    """A float for the stream, with NaN and inf as null (json.dumps would refuse them)."""
    if value is None:
        return None
    if hasattr(value, "item"):
        value = value.item()
    try:
        f = float(value)
    except (TypeError, ValueError):
        return None
    if f != f or f in (float("inf"), float("-inf")):
        return None
    return int(f) if isinstance(value, int) else f


def read_events(path: str | Path, from_offset: int = 0) -> tuple[list[dict[str, Any]], int]:
    """Events appended since `from_offset`, and the offset to pass next time.

    A last line without its newline is still being written: it is left for the next call. A
    complete line that is not JSON (a disk-full truncation) is skipped rather than stopping the
    reader forever.
    """
    p = Path(path)
    try:
        with open(p, "rb") as fh:
            fh.seek(from_offset)
            data = fh.read()
    except FileNotFoundError:
        return [], from_offset
    end = data.rfind(b"\n")
    if end < 0:
        return [], from_offset
    events: list[dict[str, Any]] = []
    for raw in data[: end + 1].splitlines():
        if not raw.strip():
            continue
        try:
            obj = json.loads(raw)
        except (ValueError, UnicodeDecodeError):
            continue
        if isinstance(obj, dict) and "type" in obj:
            events.append(obj)
    return events, from_offset + end + 1


def step_line(e: dict[str, Any]) -> str:
    """`step 41/66  loss 1.3112  lr 2.9e-03  grad_norm 0.93  8,351 tok/s`: the log's line per step."""
    parts = [f"step {e.get('step')}/{e.get('total')}"]
    if e.get("loss") is not None:
        parts.append(f"loss {e['loss']:.4f}")
    if e.get("lr") is not None:
        parts.append(f"lr {e['lr']:.2e}")
    if e.get("grad_norm") is not None:
        parts.append(f"grad_norm {e['grad_norm']:.3f}")
    if e.get("tokens_per_s"):
        parts.append(f"{e['tokens_per_s']:,.0f} tok/s")
    return "  ".join(parts)


def write_status(run_dir: str | Path, state: str, *, step: int = 0, total: int | None = None,
                 pid: int | None = None, **extra: Any) -> None:
    """status.json, replaced atomically so a reader never sees half a file."""
    d = Path(run_dir)
    body = {"state": state, "pid": pid if pid is not None else os.getpid(), "step": step,
            "total": total, "updated": round(time.time(), 3), **extra}
    from ftwizard.core.local_state import atomic_write

    atomic_write(d / STATUS_FILE, json.dumps(body, default=_jsonable), sync=False)


def read_status(run_dir: str | Path) -> dict[str, Any] | None:
    """status.json; None when missing, or damaged (then with a warning naming it: never a crash)."""
    from ftwizard.core.local_state import read_json

    path = Path(run_dir) / STATUS_FILE
    return read_json(path, what="run status", fix=f"delete it (`rm {path}`): the run's state then "
                     "comes from the end event in events.jsonl (lost if it has none), and "
                     "`ftwizard resume` or its next start writes a new one")


def _cuda() -> Any:
    """torch, when this process already uses CUDA (never imported here for the question)."""
    import sys

    torch = sys.modules.get("torch")
    if torch is not None and torch.cuda.is_available() and torch.cuda.is_initialized():
        return torch
    return None


def step_memory() -> dict[str, int]:
    """A step event's memory fields: on a GPU torch's allocated and reserved bytes and the
    device's used memory (the estimate's counter); on a CPU the process RSS."""
    torch = _cuda()
    if torch is None:
        return {"rss_bytes": _rss()}
    out = {"allocated_bytes": int(torch.cuda.memory_allocated()),
           "reserved_bytes": int(torch.cuda.memory_reserved())}
    try:
        free, total = torch.cuda.mem_get_info()
        out["device_used_bytes"] = int(total - free)
    except Exception:  # noqa: BLE001 - informative only
        pass
    return out


def end_memory() -> dict[str, Any]:
    """The end event's peak figures. peak_bytes is on the estimate's counter: on a GPU torch's
    peak reserve plus what the device holds beyond torch's reserve (CUDA context, cuBLAS
    workspace), as nvidia-smi shows it; on a CPU the peak RSS (ru_maxrss)."""
    torch = _cuda()
    if torch is None:
        try:
            import resource

            peak = int(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss) * 1024  # Linux: KiB
        except (ImportError, OSError):
            peak = _rss()
        return {"peak_bytes": peak, "counter": "rss"}
    out: dict[str, Any] = {"peak_allocated_bytes": int(torch.cuda.max_memory_allocated()),
                           "peak_reserved_bytes": int(torch.cuda.max_memory_reserved())}
    try:
        free, total = torch.cuda.mem_get_info()
        beyond = max(0, int(total - free) - int(torch.cuda.memory_reserved()))
        out.update(peak_bytes=out["peak_reserved_bytes"] + beyond, counter="device_used")
    except Exception:  # noqa: BLE001 - informative only
        out.update(peak_bytes=out["peak_reserved_bytes"], counter="reserved")
    return out


def _rss() -> int:
    try:
        import psutil  # ~10 ms

        return int(psutil.Process().memory_info().rss)
    except Exception:  # noqa: BLE001 - memory is informative, never fatal
        return 0


def tail_lines(path: str | Path, n: int = 20, max_bytes: int = 64_000) -> list[str]:
    """The last `n` lines of a (log) file, reading at most `max_bytes` from its end."""
    try:
        with open(path, "rb") as fh:
            fh.seek(0, os.SEEK_END)
            size = fh.tell()
            fh.seek(max(0, size - max_bytes))
            data = fh.read()
    except OSError:
        return []
    return data.decode("utf-8", "replace").splitlines()[-n:]


_FRAME = re.compile(r'^\s+File ".*", line \d+')


def fold_tracebacks(lines: Iterable[str]) -> tuple[list[str], bool]:
    """Log lines with each Python traceback folded to its exception line, and whether any was:
    what a person reads under a failed run. The frames stay in stdout.log and the end event; a
    traceback cut short (a full disk stops the log mid-way) leaves only what came before it."""
    lines = list(lines)
    out: list[str] = []
    folded = in_tb = False
    first_frame = next((i for i, ln in enumerate(lines) if _FRAME.match(ln)), None)
    if first_frame is not None and all(not ln.strip() or ln[:1].isspace()
                                       for ln in lines[:first_frame]):
        folded = in_tb = True   # the window starts inside a traceback's frames
    for line in lines:
        bare = line.strip()
        if _FRAME.match(line) or bare.startswith((
                "Traceback (most recent call last)", "During handling of the above",
                "The above exception was")):
            while out and not out[-1].strip():   # the blank line a chained traceback starts with
                out.pop()
            folded = in_tb = True
            continue
        if in_tb:
            if not bare or line[:1].isspace():
                continue
            in_tb = False  # the first unindented line after the frames: the exception itself
        out.append(line)
    return out, folded


def last_of(events: Iterable[dict[str, Any]], type_: str) -> dict[str, Any] | None:
    found = None
    for e in events:
        if e.get("type") == type_:
            found = e
    return found


# ---------------------------------------------------------------------------- the reducer

@dataclass
class Progress:
    """What a view of a run shows, folded from its events (:meth:`fold` one at a time).

    A resumed run appends a second start ... end to the same file: a start after an end clears
    the ended state. Memory is on the estimate's counter (`mem_counter` says which)."""

    step: int = 0
    total: int | None = None
    loss: float | None = None
    eval_loss: float | None = None
    lr: float | None = None
    tokens_per_s: float | None = None
    eta_s: float | None = None
    mem_bytes: int | None = None
    mem_counter: str | None = None
    estimate_bytes: int | None = None
    capacity_bytes: int | None = None
    checkpoints: int = 0
    started: float | None = None
    start: dict[str, Any] | None = None
    end: dict[str, Any] | None = None
    steps: list[dict[str, Any]] = field(default_factory=list)
    loss_history: list[tuple[int, float]] = field(default_factory=list)
    eval_history: list[tuple[int, float]] = field(default_factory=list)
    lr_history: list[tuple[int, float]] = field(default_factory=list)
    metrics: dict[str, float] = field(default_factory=dict)  # the objective's, newest values
    metrics_history: dict[str, list[tuple[int, float]]] = field(default_factory=dict)

    @property
    def ended(self) -> bool:
        return self.end is not None

    @property
    def counter_text(self) -> str:
        return COUNTERS.get(self.mem_counter or "", self.mem_counter or "")

    def fold(self, e: dict[str, Any]) -> None:
        kind = e.get("type")
        if kind == "start":
            self.start, self.end = e, None
            self.started = self.started or e.get("time")
            self.total = e.get("total_steps") or e.get("planned_steps") or self.total
            mem = (e.get("plan") or {}).get("memory") if isinstance(e.get("plan"), dict) else None
            if mem:
                self.estimate_bytes = mem.get("per_device_bytes") or self.estimate_bytes
                self.capacity_bytes = mem.get("capacity_bytes") or self.capacity_bytes
        elif kind == "step":
            self.steps.append(e)
            self.step = int(e.get("step") or self.step)
            self.total = e.get("total") or self.total
            if e.get("loss") is not None:
                self.loss = e["loss"]
                self.loss_history.append((self.step, e["loss"]))
            if e.get("lr") is not None:
                self.lr = e["lr"]
                self.lr_history.append((self.step, e["lr"]))
            for name, value in (e.get("metrics") or {}).items():
                if isinstance(value, (int, float)):
                    self.metrics[name] = value
                    self.metrics_history.setdefault(name, []).append((self.step, value))
            self.tokens_per_s = e.get("tokens_per_s", self.tokens_per_s)
            self.eta_s = e.get("eta_s", self.eta_s)
            mem, counter = memory_on_counter(e)
            if mem is not None:
                self.mem_bytes, self.mem_counter = mem, counter
        elif kind == "eval":
            if e.get("eval_loss") is not None:
                self.eval_loss = e["eval_loss"]
                self.eval_history.append((int(e.get("step") or self.step), e["eval_loss"]))
        elif kind == "checkpoint":
            self.checkpoints += 1
        elif kind == "end":
            self.end = e
            self.step = int(e.get("step") or self.step)
            mem, counter = memory_on_counter(e)
            if mem is not None:
                self.mem_bytes, self.mem_counter = mem, counter
            self.estimate_bytes = figure(e, "estimate_bytes") or self.estimate_bytes

    def fold_all(self, events: Iterable[dict[str, Any]]) -> "Progress":
        for e in events:
            self.fold(e)
        return self
