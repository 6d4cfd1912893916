"""`python -m ftwizard.core.train RUN_DIR [--resume]`: the training process of one run.

Launched directly, or under torchrun, the deepspeed launcher or accelerate launch. :func:`run_entry`
is the wrapper both backends run in (PyTorch here, JAX in core/backends/jax.py): whatever happens,
the lead process leaves exactly one `end` event and a final status.json: finished, stopped
(SIGTERM or a RUN_DIR/stop file; a checkpoint is saved first), oom (with the plan's cheapest fix),
or failed (with the exit code and the last lines of the log). A UI that tails events.jsonl
therefore never waits for a run that is already dead. The plan is read from the run dir's
plan.json (launch.render wrote it): nothing here plans again.
"""

from __future__ import annotations

import argparse
import collections
import contextlib
import os
import sys
import traceback
from pathlib import Path
from typing import Any, Callable

from ftwizard.core import events as ev
from ftwizard.core.errors import EXIT_BAD_INPUT, EXIT_FAILED
from ftwizard.core.errors import EXIT_DOES_NOT_FIT as EXIT_OOM  # out of memory: does not fit, 3
from ftwizard.core.local_state import disk_problem


class LogTail:
    """The last lines this process printed, for the `end` event when stdout.log is not ours."""

    def __init__(self, n: int = 30) -> None:
        self.lines: collections.deque[str] = collections.deque(maxlen=n)

    def __call__(self, text: str) -> None:
        print(text, flush=True)
        self.lines.extend(str(text).splitlines())


# How running out of memory reads when it is not torch.OutOfMemoryError: CUDA via cuBLAS/NCCL/
# DeepSpeed, and host RAM (torch's DefaultCPUAllocator, a std::bad_alloc, ENOMEM under a ulimit).
OOM_MARKERS = ("out of memory", "can't allocate memory", "cannot allocate memory",
               "not enough memory", "bad_alloc")


def is_oom(err: BaseException) -> bool:
    """Out of memory, however it surfaces (torch.OutOfMemoryError, MemoryError, or a RuntimeError
    carrying one of OOM_MARKERS)."""
    torch = sys.modules.get("torch")
    oom_type = getattr(torch, "OutOfMemoryError", None) if torch else None
    if oom_type is not None and isinstance(err, oom_type):
        return True
    if isinstance(err, MemoryError):
        return True
    text = str(err).lower()
    return isinstance(err, RuntimeError) and any(m in text for m in OOM_MARKERS)


def oom_suggestion(plan: dict[str, Any] | None) -> str | None:
    """The plan's first fit suggestion, as `--set` flags (from plan.json)."""
    sugs = ((plan or {}).get("memory") or {}).get("suggestions") or []
    if not sugs:
        return None
    sug = sugs[0]
    sets = " ".join(f"--set {k}={v}" for k, v in (sug.get("set") or {}).items())
    return f"{sug.get('text', '')} ({sets})" if sets else sug.get("text")


def estimate_memory(plan: dict[str, Any] | None) -> int | None:
    """The plan's per-device estimate in bytes (from plan.json)."""
    value = ((plan or {}).get("memory") or {}).get("per_device_bytes")
    return int(value) if isinstance(value, (int, float)) else None


def last_log_lines(run_dir: Path, tail: LogTail, n: int = 20) -> list[str]:
    lines = ev.tail_lines(run_dir / "stdout.log", n)
    return lines if lines else list(tail.lines)[-n:]


def _hand_off_to_jax(run_dir: Path, resume: bool) -> None:
    """`method.parallel: jax` runs in the JAX environment's interpreter (its own events, run dir
    and stop protocol are the same), so one entry point serves every method. launch.sh already
    starts that interpreter; this covers `python -m ftwizard.core.train RUN_DIR` typed by hand."""
    from ftwizard.core.config import load_config
    from ftwizard.core.errors import FtwizardError

    try:
        cfg = load_config(run_dir / "config.yaml")
    except FtwizardError:
        return  # main() reports it through the end event
    if cfg.method.parallel != "jax":
        return
    from ftwizard.core.launch import train_command

    argv = train_command(cfg, run_dir, nproc=1, cpu=False, resume=resume)
    os.execv(argv[0], argv)


def final_model_guard(run_dir: Path) -> str | None:
    """Why this run dir must not train (again), or None. Its final/ is the delivered model: a
    start or a resume would train past the target (or from step 0, when the checkpoints were
    deleted) and replace it. `ftwizard resume RUN --set train.max_steps=N` moves it aside first."""
    final = run_dir / "final"
    if not final.exists():
        return None
    return (f"run {run_dir.name!r} has finished: its model is in {final}, which training again would "
            f"replace. To train further give a new target: `ftwizard resume {run_dir.name} --set "
            "train.max_steps=N` or `--epochs N` (final/ is kept as final-step<N>/)")


def run_entry(run_dir: Path, *, resume: bool, lead: bool,
              train: Callable[[Any, "ev.EventWriter | None", Callable[[str], None]], Any],
              memory: Callable[[], dict[str, Any]],
              oom: Callable[[BaseException], bool] = is_oom) -> int:
    """Load the config, call `train(cfg, writer, log)` (a backend's train, returning an Outcome)
    and end the run: exactly one `end` event and status.json from the lead process, whatever
    happened. `memory()` gives the end event's peak figures (the backend knows its counters).
    Returns the exit code: 0 finished or stopped, 1 failed, 2 bad input, 3 out of memory."""
    from ftwizard.core.config import load_config
    from ftwizard.core.errors import FtwizardError

    refusal = final_model_guard(run_dir)
    if refusal:   # before any event or status: the finished run's record stays as it is
        print(f"error: {refusal}", file=sys.stderr, flush=True)
        return EXIT_BAD_INPUT
    tail = LogTail()
    writer = ev.EventWriter(run_dir / ev.EVENTS_FILE) if lead else None
    total = None
    if writer is not None:
        with contextlib.suppress(OSError):  # a full disk is reported by the end event below
            ev.write_status(run_dir, "running", step=0)
    try:
        cfg = load_config(run_dir / "config.yaml")
        out = train(cfg, writer, tail)
        total = out.total
        end: dict[str, Any] = {"status": out.status, "exit_code": 0, "step": out.step,
                               "sample": out.sample}
        if out.status == "stopped":
            end["message"] = f"stopped at step {out.step}; `ftwizard resume {run_dir.name}` continues"
            try:
                (run_dir / ev.STOP_FILE).unlink()
            except FileNotFoundError:
                pass
    except KeyboardInterrupt:
        end = {"status": "stopped", "exit_code": 130, "step": _step_now(run_dir),
               "message": "interrupted before a checkpoint could be saved"}
    except BaseException as err:  # noqa: BLE001 - every failure must reach the end event
        for line in traceback.format_exc().splitlines():
            tail(line)
        if oom(err):
            first = str(err).splitlines()[0] if str(err) else type(err).__name__
            end = {"status": "oom", "exit_code": EXIT_OOM, "step": _step_now(run_dir),
                   "message": f"out of memory: {first}",
                   "suggestion": oom_suggestion(ev.read_plan(run_dir))}
        elif disk_problem(err):
            end = {"status": "failed", "exit_code": EXIT_FAILED, "step": _step_now(run_dir),
                   "message": f"{disk_problem(err)}: {type(err).__name__}: {err}",
                   "suggestion": f"free space on the disk of {run_dir} (`df -h {run_dir}`) or "
                                 "lower train.keep_checkpoints, then `ftwizard resume "
                                 f"{run_dir.name}` continues from the newest checkpoint"}
        else:
            code = err.exit_code if isinstance(err, FtwizardError) else (
                err.code if isinstance(err, SystemExit) and isinstance(err.code, int) else EXIT_FAILED)
            end = {"status": "failed", "exit_code": code or EXIT_FAILED, "step": _step_now(run_dir),
                   "message": f"{type(err).__name__}: {err}"}
        end["last_log_lines"] = last_log_lines(run_dir, tail)
    if writer is not None:
        try:
            figures = {k: v for k, v in memory().items() if v is not None}
        except Exception as err:  # noqa: BLE001 - the figures are informative; the end is not
            figures = {}
            tail(f"peak memory unavailable: {type(err).__name__}: {err}")
        ev.end_run(run_dir, writer=writer, total=total,
                   estimate_bytes=estimate_memory(ev.read_plan(run_dir)), **figures, **end)
        with contextlib.suppress(OSError, ValueError):
            writer.close()
        _record_calibration(run_dir)
    return int(end["exit_code"])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m ftwizard.core.train")
    parser.add_argument("run_dir", type=Path)
    parser.add_argument("--resume", action="store_true", help="continue from the newest checkpoint")
    parser.add_argument("--local_rank", "--local-rank", type=int, default=None,
                        help=argparse.SUPPRESS)  # the deepspeed launcher passes it
    args = parser.parse_args(argv)
    run_dir: Path = args.run_dir.resolve()
    if args.local_rank is not None:
        os.environ.setdefault("LOCAL_RANK", str(args.local_rank))
    if final_model_guard(run_dir) is None:
        _hand_off_to_jax(run_dir, args.resume)

    def train(cfg: Any, writer: ev.EventWriter | None, log: Callable[[str], None]) -> Any:
        from ftwizard.core.backends import hf  # ~5 s of torch/transformers imports

        hf.install_stop_handler()
        return hf.train(cfg, run_dir, resume=args.resume, writer=writer, log=log)

    code = run_entry(run_dir, resume=args.resume, lead=int(os.environ.get("RANK", "0")) == 0,
                     train=train, memory=ev.end_memory)
    _close_distributed()
    return code


def _record_calibration(run_dir: Path) -> None:
    """Every ended run is a calibration point (issue 9); the store must never fail a run."""
    try:
        from ftwizard.core import calibration

        calibration.record_run(run_dir)
    except Exception:  # noqa: BLE001
        pass


def _step_now(run_dir: Path) -> int:
    st = ev.read_status(run_dir) or {}
    return int(st.get("step") or 0)


def _close_distributed() -> None:
    """Leave the process group cleanly: gloo jobs that skip this sometimes abort at exit."""
    torch = sys.modules.get("torch")
    try:
        if torch is not None and torch.distributed.is_available() and torch.distributed.is_initialized():
            torch.distributed.destroy_process_group()
    except Exception:  # noqa: BLE001 - exiting anyway
        pass


if __name__ == "__main__":
    sys.exit(main())
