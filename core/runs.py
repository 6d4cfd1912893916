"""Run directories and the processes that train in them: create, start, watch, stop, resume.

Users launch ten-hour runs over SSH on rented GPUs; a dropped connection must not kill them
(seeds 002-004 relied on remembering tmux). So a run is never a child of the terminal: it is
started by :mod:`ftwizard.core.supervise` as the leader of a new process session, the training's
output goes to RUN_DIR/stdout.log (through the secret redactor), and everything a watcher needs is
in files: events.jsonl, status.json, process.json. Anyone can re-attach from another login.

Run dir (DESIGN.md): config.yaml (fully resolved, no secrets), launch.sh (the exact environment and
command; `bash launch.sh` trains without ftwizard's CLI), native launcher configs, hardware.json
(the fingerprint the plan was made for), plan.json, stdout.log, events.jsonl, status.json,
process.json, checkpoints/, final/.

States: created (written, never started: a --dry-run), running, finished, failed, stopped, and
lost (status says running but no process of the run is alive: the machine rebooted, or the
processes were killed from outside).

The Textual app calls the same functions as the CLI: prepare_run (dry run), start_run, run_state,
list_runs, stop_run, resume_run, find_run, and :class:`Follower` to tail the events.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
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
from ftwizard.core.config import RunConfig, dump_yaml, from_dict
from ftwizard.core.errors import InputError
from ftwizard.core.secrets import Redactor, secret_names

CONFIG_FILE = "config.yaml"
LAUNCH_FILE = "launch.sh"
HARDWARE_FILE = "hardware.json"
PLAN_FILE = "plan.json"
PROCESS_FILE = "process.json"
LOG_FILE = "stdout.log"
INDEX_FILE = "runs.txt"
STATES = ("created", "running", "finished", "failed", "stopped", "lost")

# Variables a run depends on that are worth pinning in launch.sh when set here (not secrets).
PASSTHROUGH = ("CUDA_VISIBLE_DEVICES", "HIP_VISIBLE_DEVICES", "HF_HOME", "HF_HUB_CACHE",
               "HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE", "HF_DATASETS_OFFLINE", "FTWIZARD_HOME",
               "TORCH_EXTENSIONS_DIR", "OMP_NUM_THREADS", "WANDB_PROJECT", "WANDB_ENTITY",
               "WANDB_MODE", "WANDB_DIR", "PYTORCH_CUDA_ALLOC_CONF", "TPU_NAME")
PASSTHROUGH_PREFIXES = ("NCCL_",)

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
    try:
        return json.loads((Path(run_dir) / PROCESS_FILE).read_text())
    except (FileNotFoundError, ValueError):
        return {}


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
    elif not proc and not status:
        state = "created"
    else:
        state = "running" if sup_alive else "lost"
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
    path = _index_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    known = _indexed()
    if str(run_dir) not in known:
        with open(path, "a", encoding="utf-8") as fh:
            fh.write(f"{run_dir}\n")


def _indexed() -> list[str]:
    try:
        return [ln.strip() for ln in _index_path().read_text(encoding="utf-8").splitlines() if ln.strip()]
    except FileNotFoundError:
        return []


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


def resolved_config(cfg: RunConfig, fingerprint: dict[str, Any] | None = None) -> RunConfig:
    """The config as it will run: data paths absolute (the run dir replays from any folder) and
    the hardware it is planned on."""
    data = cfg.to_dict()
    for src in data["data"]["train"] + ([data["data"]["validation"]] if data["data"]["validation"] else []):
        path = src.get("path")
        if path and not path.startswith("hf:") and Path(path).expanduser().exists():
            src["path"] = str(Path(path).expanduser().resolve())
    data["output"]["dir"] = str(runs_root(cfg))
    if fingerprint is not None:
        data["hardware"]["planned_on"] = fingerprint
    return from_dict(data)


def default_nproc(cfg: RunConfig, hw: Any) -> int:
    """Processes on this node: one per GPU for the data-parallel methods, else one;
    hardware.devices caps it (and sets the CPU's gloo process count)."""
    if cfg.method.parallel in ("ddp", "deepspeed", "fsdp", "pipeline") and cfg.hardware.devices:
        return cfg.hardware.devices
    if hw is None or hw.is_cpu_only or cfg.method.parallel in ("none", "split", "jax"):
        return 1
    return max(1, hw.device_count)


def launch_script(cfg: RunConfig, run_dir: Path, argv: list[str], env: dict[str, str],
                  *, note: str | None = None) -> str:
    """launch.sh: the exact environment and command, with secrets named but never written."""
    from ftwizard.core.launch_cluster import shell_join

    from ftwizard import __version__

    pinned = dict(env)
    for k, v in os.environ.items():
        if k in PASSTHROUGH or k.startswith(PASSTHROUGH_PREFIXES):
            pinned.setdefault(k, v)
    hidden = set(secret_names(os.environ))
    pinned = {k: v for k, v in pinned.items() if k not in hidden}
    when = _dt.datetime.now().strftime("%Y-%m-%d %H:%M")
    lines = ["#!/usr/bin/env bash",
             f"# Run {cfg.name!r} ({run_dir.name}), written by ftwizard {__version__} on {when}.",
             "# Trains without ftwizard's CLI: `bash launch.sh`; `bash launch.sh --resume` continues",
             "# from the newest checkpoint. Output goes to the terminal; ftwizard keeps it in stdout.log.",
             "# Secrets are read from your environment and never written into this file."]
    if hidden:
        lines.append("# Set here when it was written: " + ", ".join(sorted(hidden)))
    if note:
        lines += [f"# {ln}" for ln in note.splitlines()]
    lines += ["set -euo pipefail", f"cd {shell_quote(os.getcwd())}"]
    lines += [f"export {k}={shell_quote(v)}" for k, v in pinned.items()]
    lines.append(f"exec {shell_join(argv)} \"$@\"")
    return "\n".join(lines) + "\n"


def shell_quote(s: str) -> str:
    import shlex

    return shlex.quote(s)


def _write(path: Path, text: str, redactor: Redactor, mode: int | None = None) -> Path:
    path.write_text(redactor.text(text), encoding="utf-8")
    if mode is not None:
        path.chmod(mode)
    return path


def prepare_run(cfg: RunConfig, *, name: str | None = None, overwrite: bool = False,
                hardware: Any = None, plan: Any = None, nproc: int | None = None) -> Path:
    """The dry run: create the run dir and write every file, start nothing. Returns the run dir."""
    d = create_run_dir(cfg, name=name, overwrite=overwrite)
    write_run_files(cfg, d, hardware=hardware, plan=plan, nproc=nproc)
    return d


def write_run_files(cfg: RunConfig, run_dir: str | Path, *, hardware: Any = None, plan: Any = None,
                    nproc: int | None = None, resume: bool = False,
                    node: dict[str, Any] | None = None) -> dict[str, Any]:
    """Write config.yaml, launch.sh, native configs, hardware.json and plan.json.

    `node` (for hardware.nodes > 1): {"node_rank", "master_addr", "master_port", "hosts"}; values
    left out stay shell variables ($NODE_RANK, $MASTER_ADDR) in launch.sh.
    Returns {"argv", "env", "nproc", "files"}.
    """
    from ftwizard.core import launch
    from ftwizard.core.fingerprint import fingerprint

    d = Path(run_dir)
    red = Redactor()
    hw = hardware
    if hw is None:
        from ftwizard.core.plan import hardware_for

        hw = hardware_for(cfg.hardware.target, cfg.hardware.nodes, cfg.hardware.host_ram_gib)
    fp = fingerprint(hw)
    cfg = resolved_config(cfg, fp)
    cpu = bool(hw.is_cpu_only)
    nproc = nproc or default_nproc(cfg, hw)
    files = [_write(d / CONFIG_FILE, cfg.to_yaml(), red)]
    files += launch.write_native_configs(cfg, d, num_processes=nproc * cfg.hardware.nodes, cpu=cpu)
    env = launch.train_environment(cfg, cpu=cpu)
    note = None
    if cfg.hardware.nodes > 1:
        from ftwizard.core import launch_cluster as lc

        node = dict(node or {})
        hostfile = None
        if node.get("hosts"):
            hostfile = lc.write_hostfile(d, node["hosts"], nproc)
            files.append(hostfile)
        elif lc.multinode_launcher(cfg) == "deepspeed":
            hostfile = d / lc.HOSTFILE  # the user writes it; launch.sh names where
        if cfg.method.parallel == "deepspeed" and cpu:
            # deepspeed's launcher cannot run CPU ranks over ssh here; torchrun can
            launcher = "torchrun"
        else:
            launcher = None
        argv = lc.multinode_command(
            cfg, d, nproc_per_node=nproc,
            node_rank=node.get("node_rank", "${NODE_RANK:?set NODE_RANK to this node's rank, 0..%d}"
                               % (cfg.hardware.nodes - 1)),
            master_addr=node.get("master_addr") or "${MASTER_ADDR:?set MASTER_ADDR to node 0's address}",
            master_port=node.get("master_port") or lc.DEFAULT_MASTER_PORT,
            hostfile=hostfile, launcher=launcher)
        note = (f"{cfg.hardware.nodes} nodes: run this on every node with NODE_RANK=0..{cfg.hardware.nodes - 1} "
                "and MASTER_ADDR=<node 0>" if (argv[0] != "deepspeed") else
                "DeepSpeed starts every host of the hostfile itself: run this once, on the first host")
    else:
        argv = launch.train_command(cfg, d, nproc=nproc, cpu=cpu)
    files.append(_write(d / LAUNCH_FILE, launch_script(cfg, d, argv, env, note=note), red, 0o755))
    hw_doc = {"fingerprint": fp, "detail": hw.to_dict() if hasattr(hw, "to_dict") else None,
              "recorded": round(time.time(), 3)}
    files.append(_write(d / HARDWARE_FILE, json.dumps(hw_doc, indent=2, default=str), red))
    if plan is not None:
        files.append(_write(d / PLAN_FILE, json.dumps(plan.to_dict(), indent=2, default=str), red))
    if resume:
        argv = argv + ["--resume"]
    return {"argv": argv, "env": env, "nproc": nproc, "files": files, "config": cfg,
            "fingerprint": fp}


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


def resume_run(run_dir: str | Path, *, detach: bool = True) -> Path:
    """Continue a stopped, failed or lost run from its newest checkpoint, with its own config."""
    d = Path(run_dir).resolve()
    info = run_state(d)
    if info.state == "running":
        raise InputError(f"run {d.name!r} is still running", field="RUN", value=d.name,
                         fix=f"`ftwizard attach {d.name}` to watch it")
    if info.state == "created":
        raise InputError(f"run {d.name!r} was never started", field="RUN", value=d.name,
                         fix=f"start it: `ftwizard run {d / CONFIG_FILE}`")
    spawn(d, resume=True)
    if not detach:
        wait_run(d)
    return d


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
        _signal_group(pgid, signal.SIGKILL)
        st = ev.read_status(d) or {}
        if pid_alive(st.get("pid")):   # a rank outside the session (should not happen)
            with contextlib.suppress(OSError):
                os.kill(int(st["pid"]), signal.SIGKILL)
        _wait_dead(proc.get("supervisor_pid"), 5.0)
        with contextlib.suppress(FileNotFoundError):
            stop_file.unlink()
        step = int(st.get("step") or 0)
        message = f"killed at step {step} (`ftwizard stop` twice or --force); newest checkpoint kept"
        with ev.EventWriter(d / ev.EVENTS_FILE) as w:
            w.emit("end", status="stopped", exit_code=137, step=step, message=message,
                   suggestion=None, peak_mem=None, estimate_mem=None,
                   last_log_lines=ev.tail_lines(d / LOG_FILE, 20))
        ev.write_status(d, "stopped", step=step, total=st.get("total"), pid=0, exit_code=137,
                        message=message, killed=True)
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


stop = stop_run  # the name the wizard's run screen calls


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

@dataclass
class Progress:
    """The latest numbers a live view shows, folded from the event stream."""

    step: int = 0
    total: int | None = None
    loss: float | None = None
    eval_loss: float | None = None
    lr: float | None = None
    tokens_per_s: float | None = None
    eta_s: float | None = None
    mem: int | None = None
    checkpoints: int = 0
    end: dict[str, Any] | None = None
    start: dict[str, Any] | None = None


class Follower:
    """Tails events.jsonl from the beginning: `poll()` returns new events and updates `progress`.

    A resumed run appends a second start/...end sequence to the same file; an `end` followed by a
    new `start` clears the finished state.
    """

    def __init__(self, run_dir: str | Path, offset: int = 0) -> None:
        self.run_dir = Path(run_dir)
        self.offset = offset
        self.progress = Progress()

    def poll(self) -> list[dict[str, Any]]:
        events, self.offset = ev.read_events(self.run_dir / ev.EVENTS_FILE, self.offset)
        p = self.progress
        for e in events:
            t = e.get("type")
            if t == "start":
                p.start, p.end = e, None
                p.total = e.get("total_steps") or e.get("planned_steps") or p.total
            elif t == "step":
                p.step = int(e.get("step") or p.step)
                p.total = e.get("total") or p.total
                p.loss = e.get("loss", p.loss)
                p.lr = e.get("lr", p.lr)
                p.tokens_per_s = e.get("tokens_per_s", p.tokens_per_s)
                p.eta_s = e.get("eta_s", p.eta_s)
                p.mem = e.get("mem_reserved") or e.get("mem_allocated") or p.mem
            elif t == "eval":
                p.eval_loss = e.get("eval_loss")
            elif t == "checkpoint":
                p.checkpoints += 1
            elif t == "end":
                p.end = e
                p.step = int(e.get("step") or p.step)
        return events

    @property
    def ended(self) -> bool:
        return self.progress.end is not None
