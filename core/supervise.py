"""`python -m ftwizard.core.supervise RUN_DIR [--resume]`: the keeper of one running training.

Started by :func:`ftwizard.core.runs.spawn` as the leader of its own process session, so closing
the terminal, losing SSH (SIGHUP) or Ctrl-C in the shell that launched it reach neither it nor the
training. It runs RUN_DIR/launch.sh (so launch.sh is, by construction, exactly what trains), pipes
the launcher's stdout and stderr through the secret redactor into RUN_DIR/stdout.log, and when the
launcher exits without the training having reported its end (killed, crashed before the first
line of Python, a launcher error) it writes the `end` event and status.json itself, so nobody
watching the run waits for a process that is gone.

A graceful stop (SIGTERM to the session) is meant for the training; this process ignores it and
keeps copying the output until the training has saved and exited.
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from ftwizard.core import events as ev
from ftwizard.core.runs import LOG_FILE, write_process  # process.json's one (locked) writer
from ftwizard.core.secrets import Redactor

MAX_LINE = 1 << 16


def _ended_since(run_dir: Path, offset: int) -> bool:
    events, _ = ev.read_events(run_dir / ev.EVENTS_FILE, offset)
    return any(e.get("type") == "end" for e in events)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m ftwizard.core.supervise")
    parser.add_argument("run_dir", type=Path)
    parser.add_argument("--resume", action="store_true")
    args = parser.parse_args(argv)
    run_dir: Path = args.run_dir.resolve()
    for sig in (signal.SIGHUP, signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, signal.SIG_IGN)
    redact = Redactor()
    events_path = run_dir / ev.EVENTS_FILE
    offset = events_path.stat().st_size if events_path.exists() else 0
    log = open(run_dir / LOG_FILE, "ab", buffering=0)  # noqa: SIM115 - lives as long as the run
    cmd = ["bash", str(run_dir / "launch.sh")] + (["--resume"] if args.resume else [])
    # The child gets default signal handling back (SIG_IGN would be inherited through exec).
    child = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                             stderr=subprocess.STDOUT, cwd=os.getcwd(),
                             preexec_fn=_default_signals)
    write_process(run_dir, child_pid=child.pid, child_argv=cmd, resume=args.resume)
    assert child.stdout is not None
    while True:
        line = child.stdout.readline(MAX_LINE)
        if not line:
            break
        try:
            log.write(redact.bytes(line))
        except OSError:  # disk full: keep draining so the child never blocks on a full pipe
            pass
    code = child.wait()
    log.close()
    write_process(run_dir, exit_code=code, ended=round(time.time(), 3))
    try:
        (run_dir / ev.STOP_FILE).unlink()
    except FileNotFoundError:
        stop_requested = False
    else:
        stop_requested = True
    if not _ended_since(run_dir, offset):
        _write_end(run_dir, code, stop_requested)
    return 0


def _default_signals() -> None:
    for sig in (signal.SIGHUP, signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, signal.SIG_DFL)


def _write_end(run_dir: Path, code: int, stop_requested: bool) -> None:
    """The training died without its own `end` event: say so, with the last lines of its log."""
    st = ev.read_status(run_dir) or {}
    step = int(st.get("step") or 0)
    if code < 0:
        try:
            how = f"killed by {signal.Signals(-code).name}"
        except ValueError:
            how = f"killed by signal {-code}"
    else:
        how = f"exited with code {code}"
    if stop_requested:
        status = "stopped"
        message = f"stopped at step {step} before a checkpoint could be saved ({how})"
    elif code == 0:
        status = "finished"
        message = "the training exited cleanly without an end event"
    else:
        status = "failed"
        message = f"training {how} without reporting its end"
    ev.end_run(run_dir, status=status, exit_code=code if code >= 0 else 128 + (-code), step=step,
               total=st.get("total"), message=message,
               last_log_lines=ev.tail_lines(run_dir / LOG_FILE, 20))


if __name__ == "__main__":
    sys.exit(main())
