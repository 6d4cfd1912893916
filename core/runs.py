"""Run directories and the processes that train in them: create, start, watch, stop, resume.

Users launch ten-hour runs over SSH on rented GPUs; a dropped connection must not kill them
(seeds 002-004 relied on remembering tmux). So a run is never a child of the terminal: it is
started by :mod:`ftwizard.core.supervise` as the leader of a new process session, the training's
output goes to RUN_DIR/stdout.log (through the secret redactor), and everything a watcher needs is
in files: events.jsonl, status.json, process.json. Anyone can re-attach from another login.

Run dir (DESIGN.md): config.yaml (fully resolved, no secrets), launch.sh (the exact environment and
command; `bash launch.sh` trains without ftwizard's CLI, in whatever folder the run dir now is),
native launcher configs, hardware.json (the fingerprint the plan was made for), plan.json, all
rendered by :func:`ftwizard.core.launch.render`; then stdout.log, events.jsonl, status.json,
process.json (written only by :func:`write_process`, under a lock), checkpoints/, final/ (never
trained over: a finished run continues only towards an explicit new target, see resume_run).

States: created (written, never started: a --dry-run), running, finished, failed, stopped, and
lost (status says running but no process of the run is alive: the machine rebooted, or the
processes were killed from outside).

The Textual app calls the same functions as the CLI: prepare_run (dry run), start_run, run_state,
list_runs, stop_run, resume_run, find_run, and :class:`Follower` to tail the events.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from ftwizard.core import events as ev
from ftwizard.core.config import RunConfig
from ftwizard.core.errors import InputError
from ftwizard.core.launch import CONFIG_FILE, LAUNCH_FILE, RunFiles
from ftwizard.core.secrets import Redactor

PROCESS_FILE = "process.json"
FINAL_DIR = "final"
LOG_FILE = "stdout.log"
INDEX_FILE = "runs.txt"
STATES = ("created", "running", "finished", "failed", "stopped", "lost")

# Popen objects of runs started by this process: polled so a finished child is reaped, not
# mistaken for a live zombie.
_CHILDREN: dict[int, subprocess.Popen] = {}


# ---------------------------------------------------------------------------- state

@dataclass
class RunInfo:
    """What `ftwizard runs` shows for one run dir."""

    name: str
    path: Path
    state: str
    step: int = 0
    total: int | None = None
    pid: int | None = None
    exit_code: int | None = None
    started: float | None = None
    updated: float | None = None
    message: str | None = None
    config_name: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def alive(self) -> bool:
        return self.state == "running"

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["path"] = str(self.path)
        return d


def read_process(run_dir: str | Path) -> dict[str, Any]:
    """process.json; {} when missing or damaged (damaged: with a warning, never a crash)."""
    from ftwizard.core.local_state import read_json

    path = Path(run_dir) / PROCESS_FILE
    return read_json(path, what="run's process record", fix=f"delete it (`rm {path}`) when no "
                     "process of the run is alive; its next start writes a new one") or {}


def write_process(run_dir: str | Path, **fields: Any) -> None:
    """Merge `fields` into process.json under a lock (the launcher and the supervisor both write)."""
    d = Path(run_dir)
    with open(d / ".process.lock", "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        data = read_process(d)
        data.update(fields)
        tmp = d / f".{PROCESS_FILE}.{os.getpid()}.tmp"
        tmp.write_text(json.dumps(data))
        os.replace(tmp, d / PROCESS_FILE)


def pid_alive(pid: int | None, create_time: float | None = None) -> bool:
    """A live, non-zombie process with this pid (and, when known, this start time: pids are reused)."""
    if not pid or pid <= 0:
        return False
    child = _CHILDREN.get(pid)
    if child is not None and child.poll() is not None:
        _CHILDREN.pop(pid, None)
        return False
    import psutil  # ~10 ms

    try:
        p = psutil.Process(pid)
        if p.status() == psutil.STATUS_ZOMBIE:
            return False
        if create_time is not None and abs(p.create_time() - create_time) > 2.0:
            return False
        return True
    except (psutil.NoSuchProcess, psutil.AccessDenied):
        return False


def is_run_dir(path: Path) -> bool:
    return path.is_dir() and any((path / f).exists() for f in (CONFIG_FILE, ev.STATUS_FILE,
                                                                 ev.EVENTS_FILE, LAUNCH_FILE))


def run_state(run_dir: str | Path) -> RunInfo:
    """State from status.json, checked against the liveness of the run's processes."""
    d = Path(run_dir).resolve()
    status = ev.read_status(d) or {}
    proc = read_process(d)
    st = status.get("state")
    sup_alive = pid_alive(proc.get("supervisor_pid"), proc.get("supervisor_create_time"))
    if st in ("finished", "failed", "stopped", "oom"):
        state = "failed" if st == "oom" else st
    elif st in ("running", "starting"):
        state = "running" if sup_alive or (status.get("pid") != proc.get("supervisor_pid")
                                           and pid_alive(status.get("pid"))) else "lost"
    elif not proc and not status and not (d / ev.STATUS_FILE).exists():
        state = "created"  # (a damaged status.json is a started run: never reused as a dry run)
    else:
        state = "running" if sup_alive else "lost"
    if state == "lost" and st is None:
        # status.json missing or damaged: the durable end event, when the run wrote one, knows
        end = _last_end_event(d)
        if end is not None:
            st = end.get("status")
            state = "failed" if st == "oom" else str(st)
            status = {"step": end.get("step"), "exit_code": end.get("exit_code"),
                      "message": f"{end.get('message') or st} (status.json is missing or damaged: "
                                 "this state is from events.jsonl)"}
    if state != "running" and sup_alive:
        state = "running"  # the training has ended; the supervisor is writing its last lines
    msg = status.get("message")
    if st == "oom":
        msg = msg or "out of memory"
    elif state == "lost":
        msg = "no process of this run is alive (machine restarted or killed from outside)"
    return RunInfo(name=d.name, path=d, state=state, step=int(status.get("step") or 0),
                   total=status.get("total"), pid=status.get("pid") or proc.get("supervisor_pid"),
                   exit_code=status.get("exit_code"), started=proc.get("started"),
                   updated=status.get("updated"), message=msg,
                   config_name=_config_name(d), extra={"status": st})


def _last_end_event(d: Path) -> dict[str, Any] | None:
    """The run's end event when its last start has one (end events are synced to disk); read from
    the log's tail only, so listing many long runs stays quick."""
    for line in reversed(ev.tail_lines(d / ev.EVENTS_FILE, 400, max_bytes=256_000)):
        try:
            e = json.loads(line)
        except ValueError:
            continue
        kind = e.get("type") if isinstance(e, dict) else None
        if kind == "end" and e.get("status") in ev.END_STATUSES:
            return e
        if kind == "start":
            return None
    return None


def _config_name(d: Path) -> str | None:
    try:
        import yaml

        return (yaml.safe_load((d / CONFIG_FILE).read_text()) or {}).get("name")
    except (OSError, ValueError, AttributeError):
        return None
    except Exception:  # noqa: BLE001 - a broken config.yaml must not break `ftwizard runs`
        return None


# ---------------------------------------------------------------------------- index and lookup

def _index_path() -> Path:
    from ftwizard.core.paths import data_dir

    return data_dir() / INDEX_FILE


def _register(run_dir: Path) -> None:
    """Remember every run dir, so `ftwizard runs` / `attach NAME` work from any folder."""
    from ftwizard.core.local_state import append_line, warn

    path = _index_path()
    if str(run_dir) not in _indexed():
        try:
            append_line(path, str(run_dir))
        except OSError as err:  # the run is fine without it: `ftwizard runs --dir` still finds it
            warn(path, f"the runs index cannot be written ({err.strerror or err})",
                 f"`ftwizard runs --dir {run_dir.parent}` lists this run; free space or remove it")


def _indexed() -> list[str]:
    """Run dirs from the index; lines a crash or an editor garbled are skipped with a warning."""
    from ftwizard.core.local_state import read_text, warn

    path = _index_path()
    fix = f"delete the bad lines, or the file (`rm {path}`: runs under ./runs are still found)"
    text = read_text(path, what="runs index", fix=fix)
    lines = [ln.strip() for ln in (text or "").splitlines() if ln.strip()]
    good = [ln for ln in lines if ln.startswith("/") and "\0" not in ln and "\ufffd" not in ln]
    if len(good) < len(lines):
        warn(path, f"{len(lines) - len(good)} line(s) of the runs index are not run paths", fix)
    return good


def list_runs(root: str | Path | None = None) -> list[RunInfo]:
    """Runs under `root` (each subfolder that is a run dir); without a root, every run this user
    started (the index) plus ./runs. Newest first."""
    dirs: list[Path] = []
    if root is not None:
        r = Path(root).expanduser()
        if is_run_dir(r):
            dirs.append(r)
        elif r.is_dir():
            dirs.extend(p for p in r.iterdir() if is_run_dir(p))
    else:
        dirs.extend(Path(p) for p in _indexed())
        if Path("runs").is_dir():
            dirs.extend(p for p in Path("runs").iterdir() if is_run_dir(p))
    seen: set[Path] = set()
    out: list[RunInfo] = []
    for d in dirs:
        d = d.resolve()
        if d in seen or not is_run_dir(d):
            continue
        seen.add(d)
        out.append(run_state(d))
    out.sort(key=lambda r: r.started or r.updated or 0, reverse=True)
    return out


def find_run(name_or_path: str | Path, root: str | Path | None = None) -> Path:
    """A run dir from its path, or its name among the known runs."""
    p = Path(name_or_path).expanduser()
    if is_run_dir(p):
        return p.resolve()
    name = str(name_or_path)
    matches = [r for r in list_runs(root) if r.name == name]
    if not matches:
        known = [r.name for r in list_runs(root)]
        from ftwizard.core.errors import did_you_mean

        hint = did_you_mean(name, known) if known else None
        raise InputError(f"no run named {name!r}", field="RUN", value=name,
                         fix=(f"did you mean {hint!r}? " if hint else "")
                         + "`ftwizard runs` lists the runs; or give the run dir's path")
    if len(matches) > 1:
        running = [m for m in matches if m.state == "running"]
        if len(running) == 1:
            return running[0].path
        paths = ", ".join(str(m.path) for m in matches)
        raise InputError(f"{len(matches)} runs are named {name!r}: {paths}", field="RUN",
                         value=name, fix="give the run dir's path instead of its name")
    return matches[0].path


# ---------------------------------------------------------------------------- creating

def runs_root(cfg: RunConfig) -> Path:
    return Path(cfg.output.dir).expanduser().resolve()


def create_run_dir(cfg: RunConfig, *, name: str | None = None, overwrite: bool = False,
                   resume: bool = False) -> Path:
    """The run's folder `<output.dir>/<name>`, refusing to reuse one that holds a run unless asked.

    A folder that was only written (a --dry-run) is reused silently; one that holds a run needs
    --resume (continue it) or --overwrite (delete it and start over); a running one is never
    touched.
    """
    name = name or cfg.name
    if not name or name in (".", "..") or "/" in name or "\\" in name or "\0" in name:
        raise InputError(f"{name!r} cannot be a run name", field="--name", value=name,
                         fix="use letters, digits, '-', '_' or '.', e.g. --name my-run-2")
    d = runs_root(cfg) / name
    if d.exists() and not d.is_dir():
        raise InputError(f"{d} exists and is not a folder", field="output.dir", value=str(d),
                         fix="choose another --name or output.dir")
    if d.is_dir() and any(d.iterdir()):
        info = run_state(d) if is_run_dir(d) else None
        if info is None:
            raise InputError(f"{d} exists and is not a run dir", field="--name", value=name,
                             fix="choose another --name or output.dir (ftwizard deletes only run dirs)")
        if info.state == "running":
            raise InputError(f"run {name!r} is running ({d})", field="--name", value=name,
                             fix=f"`ftwizard attach {name}` to watch it, `ftwizard stop {name}` to stop it")
        if resume:
            pass
        elif info.state == "created":
            pass
        elif overwrite:
            shutil.rmtree(d)
        else:
            raise InputError(f"run dir {d} already holds a run ({info.state}, step {info.step})",
                             field="--name", value=name,
                             fix=f"`ftwizard resume {name}` continues it; --overwrite starts over "
                                 f"(deletes it); --name NEW starts a new run")
    elif resume:
        raise InputError(f"nothing to resume: {d} does not exist", field="--resume", value=name,
                         fix="start the run without --resume")
    d.mkdir(parents=True, exist_ok=True)
    d = d.resolve()
    _register(d)
    return d


def unique_name(cfg: RunConfig) -> str:
    """The config's name, or name-2, name-3, ... when a run already holds it (the wizard's default,
    which never asks to overwrite)."""
    root = runs_root(cfg)
    name, n = cfg.name, 1
    while (root / name).exists() and any((root / name).iterdir()) \
            and run_state(root / name).state != "created":
        n += 1
        name = f"{cfg.name}-{n}"
    return name


def _write_atomic(path: Path, text: str, mode: int | None = None) -> None:
    """Write through a temporary file and rename: a reader (or a full disk) never leaves half a
    launch.sh or config.yaml behind (core/local_state.py; errors name `path`, not the temp file)."""
    from ftwizard.core.local_state import atomic_write

    atomic_write(path, text, mode=mode)


def prepare_run(cfg: RunConfig, *, name: str | None = None, overwrite: bool = False,
                hardware: Any = None, plan: Any = None, nproc: int | None = None) -> Path:
    """The dry run: create the run dir and write every file, start nothing. Returns the run dir."""
    d = create_run_dir(cfg, name=name, overwrite=overwrite)
    write_run_files(cfg, d, hardware=hardware, plan=plan, nproc=nproc)
    return d


def write_run_files(cfg: RunConfig, run_dir: str | Path, *, hardware: Any = None, plan: Any = None,
                    nproc: int | None = None, resume: bool = False,
                    node: dict[str, Any] | None = None, slurm: dict[str, Any] | None = None,
                    tpu: dict[str, Any] | None = None) -> RunFiles:
    """launch.render, then its files written into the run dir atomically (secrets redacted).

    Without `hardware`, the config's target is resolved (this machine when it is "auto");
    without `plan`, the config is planned here (once: the backend reads plan.json)."""
    from ftwizard.core import launch

    d = Path(run_dir)
    hw = hardware
    if hw is None:
        from ftwizard.core.plan import hardware_for

        hw = hardware_for(cfg.hardware.target, cfg.hardware.nodes, cfg.hardware.host_ram_gib)
    if plan is None:   # plan.json is what the backend reads: never a stale one from before
        from ftwizard.core.plan import make_plan

        try:
            plan = make_plan(cfg, hardware=hw)
        except Exception:  # noqa: BLE001 - the plan is informative; the run dir is not
            with contextlib.suppress(FileNotFoundError):
                (d / launch.PLAN_FILE).unlink()
    out = launch.render(cfg, hw, plan, d, nproc=nproc, resume=resume, node=node, slurm=slurm, tpu=tpu)
    red = Redactor()
    for name, text in out.files.items():
        _write_atomic(d / name, red.text(text), 0o755 if name in launch.EXECUTABLE else None)
    return out


# ---------------------------------------------------------------------------- starting

def spawn(run_dir: str | Path, *, resume: bool = False) -> int:
    """Start the supervisor (and through it launch.sh) in a new session; return its pid.

    stdin is /dev/null and nothing is tied to this terminal, so SIGHUP when it closes, Ctrl-C in
    it, or this process exiting leave the training alone.
    """
    d = Path(run_dir).resolve()
    if not (d / LAUNCH_FILE).exists():
        raise InputError(f"{d} has no {LAUNCH_FILE}", field="RUN", value=str(d),
                         fix="start it with `ftwizard run CONFIG`")
    with contextlib.suppress(FileNotFoundError):
        (d / ev.STOP_FILE).unlink()   # a stale stop request would end the new start at once
    prev = ev.read_status(d) or {}
    ev.write_status(d, "starting", step=int(prev.get("step") or 0), total=prev.get("total"), pid=0)
    log = open(d / LOG_FILE, "ab")  # noqa: SIM115 - the supervisor's own errors, if any
    cmd = [sys.executable, "-m", "ftwizard.core.supervise", str(d)] + (["--resume"] if resume else [])
    try:
        child = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=log, stderr=log,
                                 start_new_session=True, close_fds=True, cwd=os.getcwd())
    finally:
        log.close()
    _CHILDREN[child.pid] = child
    import psutil  # ~10 ms

    try:
        ctime = psutil.Process(child.pid).create_time()
    except psutil.NoSuchProcess:
        ctime = None
    write_process(d, supervisor_pid=child.pid, supervisor_create_time=ctime, pgid=child.pid,
                  started=round(time.time(), 3), resume=resume, host=os.uname().nodename,
                  child_pid=None, exit_code=None, ended=None)
    return child.pid


def start_run(cfg: RunConfig, *, name: str | None = None, detach: bool = True,
              overwrite: bool = False, resume: bool = False, nproc: int | None = None,
              hardware: Any = None, plan: Any = None) -> Path:
    """Create the run dir, write its files and start the training; returns the run dir as soon as
    the process is started (detach=True) or when it has ended (detach=False). Either way the
    training runs in its own session and survives this process."""
    d = create_run_dir(cfg, name=name, overwrite=overwrite, resume=resume)
    write_run_files(cfg, d, hardware=hardware, plan=plan, nproc=nproc)
    spawn(d, resume=resume)
    if not detach:
        wait_run(d)
    return d


TARGET_KEYS = ("train.max_steps", "train.epochs")


def resume_run(run_dir: str | Path, *, detach: bool = True,
               target: list[str] | None = None) -> Path:
    """Continue a stopped, failed or lost run from its newest checkpoint, with its own config.

    A finished run (one with a final/ model) is continued only towards an explicit new target
    (`target`: KEY=VALUE for train.max_steps or train.epochs, beyond where it finished); its
    final/ is then kept as final-step<N>/ first. Without a checkpoint to continue from, nothing
    is retrained over final/: that would start again at step 0.
    """
    d = Path(run_dir).resolve()
    info = run_state(d)
    if info.state == "running":
        raise InputError(f"run {d.name!r} is still running", field="RUN", value=d.name,
                         fix=f"`ftwizard attach {d.name}` to watch it")
    if info.state == "created":
        raise InputError(f"run {d.name!r} was never started", field="RUN", value=d.name,
                         fix=f"start it: `ftwizard run {d / CONFIG_FILE}`")
    if target:
        extend_run(d, target, finished_step=info.step)
    elif info.state == "finished" or (d / FINAL_DIR).exists():
        raise InputError(
            f"run {d.name!r} has finished (step {info.step}); its model is in {d / FINAL_DIR}",
            field="RUN", value=d.name,
            fix=f"to train further give a new target: `ftwizard resume {d.name} --set "
                f"train.max_steps=N` (N > {info.step}) or `ftwizard resume {d.name} --epochs N`")
    spawn(d, resume=True)
    if not detach:
        wait_run(d)
    return d


def extend_run(run_dir: Path, target: list[str], *, finished_step: int) -> Path | None:
    """Raise the run's target (train.max_steps / train.epochs) past where it stopped, keep its
    final/ as final-step<N>/ and re-render the run dir; returns where final/ went (or None)."""
    from ftwizard.core.config import load_config

    d = run_dir
    keys = [s.split("=", 1)[0].strip() for s in target]
    other = [k for k in keys if k not in TARGET_KEYS]
    if other:
        raise InputError(f"only the target can change when a run continues, not {other[0]}",
                         field="--set", value=other[0],
                         fix="set train.max_steps or train.epochs; for other changes start a new "
                             "run (`ftwizard run CONFIG --name NEW`)")
    old = load_config(d / CONFIG_FILE)
    sets = list(target)
    if "train.epochs" in keys and "train.max_steps" not in keys:
        sets.append("train.max_steps=null")     # max_steps would override the new epochs
    new = load_config(d / CONFIG_FILE, sets)
    t_old, t_new = old.train, new.train
    if t_new.max_steps is not None:
        if t_new.max_steps <= finished_step:
            raise InputError(f"train.max_steps={t_new.max_steps} is not beyond step {finished_step}, "
                             "where the run stopped", field="train.max_steps", value=t_new.max_steps,
                             fix=f"give a larger target, e.g. --set train.max_steps={finished_step * 2}")
    elif t_old.max_steps is None and t_new.epochs <= t_old.epochs:
        raise InputError(f"--epochs {t_new.epochs:g} is not beyond the {t_old.epochs:g} it trained",
                         field="train.epochs", value=t_new.epochs,
                         fix=f"give more epochs, e.g. --epochs {t_old.epochs * 2:g}")
    if newest_checkpoint(d) is None:
        raise InputError(f"run {d.name!r} has no checkpoint to continue from (deleted?): it would "
                         f"retrain from step 0 over {d / FINAL_DIR}", field="RUN", value=d.name,
                         fix=f"start a new run from its model instead: `ftwizard run "
                             f"{d / CONFIG_FILE} --set model.name={d / FINAL_DIR} --name "
                             f"{d.name}-more`")
    kept = None
    if (d / FINAL_DIR).exists():
        kept = d / f"{FINAL_DIR}-step{finished_step}"
        n = 2
        while kept.exists():
            kept = d / f"{FINAL_DIR}-step{finished_step}-{n}"
            n += 1
        os.replace(d / FINAL_DIR, kept)
    shutil.copyfile(d / CONFIG_FILE, d / "config.before-extend.yaml")
    from ftwizard.core.plan import data_sequences, hardware_for, make_plan

    hw = hardware_for(new.hardware.target, new.hardware.nodes, new.hardware.host_ram_gib)
    write_run_files(new, d, hardware=hw, plan=make_plan(new, hw, sequences=data_sequences(new)))
    return kept


def newest_checkpoint(run_dir: str | Path) -> Path | None:
    """Highest-numbered checkpoint with its trainer_state.json (written last, so complete)."""
    best: tuple[int, Path] | None = None
    for p in (Path(run_dir) / "checkpoints").glob("checkpoint-*"):
        try:
            n = int(p.name.rsplit("-", 1)[1])
        except ValueError:
            continue
        if (p / "trainer_state.json").exists() and (best is None or n > best[0]):
            best = (n, p)
    return best[1] if best else None


def wait_run(run_dir: str | Path, timeout: float | None = None, poll: float = 0.5) -> RunInfo:
    """Block until the run is no longer running (or `timeout` seconds pass)."""
    deadline = None if timeout is None else time.monotonic() + timeout
    while True:
        info = run_state(run_dir)
        if info.state != "running":
            return info
        if deadline is not None and time.monotonic() > deadline:
            return info
        time.sleep(poll)


# ---------------------------------------------------------------------------- stopping

def stop_run(run_dir: str | Path, force: bool = False) -> str:
    """Ask the run to stop: "requested" (graceful: it saves a checkpoint, then exits), "killed"
    (the second request, or force: SIGKILL to the whole process session), or "not running"."""
    d = Path(run_dir).resolve()
    info = run_state(d)
    if info.state != "running":
        return "not running"
    proc = read_process(d)
    pgid = proc.get("pgid")
    stop_file = d / ev.STOP_FILE
    if force or stop_file.exists():
        # torchrun starts its workers in sessions of their own (elastic's SubprocessHandler:
        # start_new_session=True), so the group alone would leave ranks 1..N-1 training:
        # collect the whole tree first, then kill the group and every process of the tree.
        tree = _descendants(proc.get("supervisor_pid"))
        _signal_group(pgid, signal.SIGKILL)
        for child in tree:
            with contextlib.suppress(OSError):
                os.kill(child, signal.SIGKILL)
        st = ev.read_status(d) or {}
        if pid_alive(st.get("pid")):   # a rank outside the session (should not happen)
            with contextlib.suppress(OSError):
                os.kill(int(st["pid"]), signal.SIGKILL)
        _wait_dead(proc.get("supervisor_pid"), 5.0)
        with contextlib.suppress(FileNotFoundError):
            stop_file.unlink()
        step = int(st.get("step") or 0)
        message = f"killed at step {step} (`ftwizard stop` twice or --force); newest checkpoint kept"
        ev.end_run(d, status="stopped", exit_code=137, step=step, total=st.get("total"), pid=0,
                   message=message, last_log_lines=ev.tail_lines(d / LOG_FILE, 20), killed=True)
        return "killed"
    stop_file.write_text(f"requested {time.time():.3f}\n")
    # SIGTERM the training itself (rank 0): its handler sets the same flag the stop file does, and
    # every rank agrees at the next step. The launcher is spared: torchrun answers SIGTERM by
    # forwarding it and SIGKILLing its workers 30 s later (elastic agent _shutdown), too soon for
    # a large checkpoint, and then exits with an error.
    st = ev.read_status(d) or {}
    target = st.get("pid") if st.get("state") == "running" else None
    if target and target != proc.get("supervisor_pid") and pid_alive(target):
        with contextlib.suppress(OSError):
            os.kill(int(target), signal.SIGTERM)
    return "requested"


def _descendants(pid: int | None) -> list[int]:
    """Every process started under `pid` (children of children included), whatever its session."""
    if not pid:
        return []
    import psutil  # ~10 ms

    try:
        return [p.pid for p in psutil.Process(int(pid)).children(recursive=True)]
    except (psutil.NoSuchProcess, psutil.AccessDenied):
        return []


def _signal_group(pgid: int | None, sig: int) -> None:
    if not pgid:
        return
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(int(pgid), sig)


def _wait_dead(pid: int | None, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while pid_alive(pid) and time.monotonic() < deadline:
        time.sleep(0.05)


# ---------------------------------------------------------------------------- watching

class Follower:
    """Tails events.jsonl from the beginning: `poll()` returns new events and folds them into
    `progress` (events.Progress, the one reducer)."""

    def __init__(self, run_dir: str | Path, offset: int = 0) -> None:
        self.run_dir = Path(run_dir)
        self.offset = offset
        self.progress = ev.Progress()

    def poll(self) -> list[dict[str, Any]]:
        events, self.offset = ev.read_events(self.run_dir / ev.EVENTS_FILE, self.offset)
        self.progress.fold_all(events)
        return events

    @property
    def ended(self) -> bool:
        return self.progress.ended
