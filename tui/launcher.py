"""Start a run from the wizard: core.runs when it is there, else a minimal stand-in.

The stand-in does what DESIGN.md asks of core/runs.py, in the smallest form: a fresh run dir with
config.yaml, the native configs and launch.sh, and the training started in its own session with
its output in stdout.log, so the Run screen (which only reads the run dir) works either way.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from ftwizard.core.config import RunConfig


def new_run_dir(cfg: RunConfig) -> Path:
    base = Path(cfg.output.dir).expanduser()
    n = 1
    while (base / f"{cfg.name}-{n}").exists():
        n += 1
    return base / f"{cfg.name}-{n}"


def launch_command(cfg: RunConfig, run_dir: str | Path, *, env: bool = True) -> str:
    """The line launch.sh runs. `env=False` drops the environment and shows `python` for this
    interpreter: the short form the Review screen has room for (and the same on every host)."""
    from ftwizard.core import launch

    argv = launch.train_command(cfg, run_dir, nproc=1)
    if not env:
        argv = ["python" if a == sys.executable else a for a in argv]
        return launch.shell_line(argv)
    return launch.shell_line(argv, launch.train_environment(cfg))


def run_files(cfg: RunConfig) -> list[str]:
    """What the run directory will hold."""
    files = ["config.yaml", "launch.sh"]
    if cfg.method.parallel == "deepspeed":
        files.append("ds_config.json")
    if cfg.method.parallel == "fsdp":
        files.append("accelerate.yaml")
    files += ["stdout.log", "events.jsonl", "status.json", "checkpoints/", "final/"]
    return files


def _core_runs() -> Any:
    try:
        from ftwizard.core import runs  # lands with the runs issue
    except ImportError:
        return None
    return runs if hasattr(runs, "start_run") else None


def prepare(cfg: RunConfig, *, hardware: Any = None, plan: Any = None) -> Path:
    """Write the run dir without starting anything (the dry run)."""
    from ftwizard.core import launch

    runs = _core_runs()
    if runs is not None:
        d = runs.create_run_dir(cfg)
        runs.prepare_run(cfg, d, hardware=hardware, plan=plan)
        return Path(d)
    run_dir = new_run_dir(cfg)
    run_dir.mkdir(parents=True)
    (run_dir / "config.yaml").write_text(cfg.to_yaml(), encoding="utf-8")
    launch.write_native_configs(cfg, run_dir)
    line = launch_command(cfg, run_dir)
    sh = run_dir / "launch.sh"
    sh.write_text(f"#!/bin/sh\n# reproduces this run without the wizard\ncd {os.getcwd()}\n{line}\n")
    sh.chmod(0o755)
    return run_dir


def start(cfg: RunConfig, *, hardware: Any = None, plan: Any = None) -> Path:
    """Start training; returns the run dir. The process outlives the wizard (own session)."""
    runs = _core_runs()
    if runs is not None:
        return Path(runs.start_run(cfg, hardware=hardware, plan=plan))
    from ftwizard.core import launch

    run_dir = prepare(cfg)
    argv = launch.train_command(cfg, run_dir, nproc=1)
    env = {**os.environ, **launch.train_environment(cfg)}
    with open(run_dir / "stdout.log", "ab") as log:
        subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                         env=env, start_new_session=True, cwd=os.getcwd(),
                         executable=None if argv[0] != "python" else sys.executable)
    return run_dir
