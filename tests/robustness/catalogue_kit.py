"""The catalogue's harness: one bad input or fault = one row, driven through the real CLI.

Each row sets up files in a fresh folder (and a fresh FTWIZARD_HOME), runs `python -m ftwizard ARGV`
there in a child process, and checks what a user would check: the exit code, the message (the field
or file, the value, the fix), no traceback, and every file that existed before the command still
byte-for-byte the same (hashes before and after) unless the row says the command may change it.
A child process per row keeps rows independent (no module caches shared) and lets a row limit the
child's file size (RLIMIT_FSIZE, a full disk without root tricks) or give it no terminal.
"""

from __future__ import annotations

import fnmatch
import hashlib
import json
import os
import resource
import signal
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parents[2]

BASE_CONFIG: dict[str, Any] = {
    "name": "base",
    "model": {"name": "gpt2", "dtype": "fp32"},
    "data": {"sequences": 100, "block_size": 64},
    "train": {"max_steps": 2},
    "output": {"dir": "runs"},
}


class Work:
    """The row's folders: `d` is the working directory, `home` is FTWIZARD_HOME."""

    def __init__(self, root: Path) -> None:
        self.d = root / "work"
        self.home = root / "home"
        self.d.mkdir()
        self.home.mkdir()
        self.env_extra: dict[str, str] = {}

    def write(self, rel: str, content: str | bytes, *, home: bool = False) -> Path:
        p = (self.home if home else self.d) / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            p.write_bytes(content)
        else:
            p.write_text(content, encoding="utf-8")
        return p

    def config(self, rel: str = "run.yaml", **sections: Any) -> Path:
        """BASE_CONFIG with `sections` merged in (a section set to None is removed)."""
        data = json.loads(json.dumps(BASE_CONFIG))
        for k, v in sections.items():
            if v is None:
                data.pop(k, None)
            elif isinstance(v, dict) and isinstance(data.get(k), dict):
                data[k].update(v)
            else:
                data[k] = v
        return self.write(rel, yaml.safe_dump(data, sort_keys=False))

    def run_dir(self, name: str, state: str = "finished", *, step: int = 2, final: bool = True,
                checkpoint: bool = True) -> Path:
        """A run dir as a run leaves it (config, launch.sh, events, status; checkpoints and final/
        with small stand-in files), without spending a training on it."""
        d = self.d / "runs" / name
        d.mkdir(parents=True)
        cfg = json.loads(json.dumps(BASE_CONFIG))
        cfg["name"] = name
        cfg["output"]["dir"] = str(self.d / "runs")
        (d / "config.yaml").write_text(yaml.safe_dump(cfg, sort_keys=False))
        (d / "launch.sh").write_text("#!/usr/bin/env bash\nexit 0\n")
        (d / "launch.sh").chmod(0o755)
        evts = [{"type": "start", "time": 1.0, "total_steps": 2, "run": name},
                {"type": "step", "time": 2.0, "step": step, "total": 2, "loss": 1.0}]
        if state != "running":
            evts.append({"type": "end", "time": 3.0, "status": state, "exit_code": 0,
                         "step": step, "message": None})
        (d / "events.jsonl").write_text("".join(json.dumps(e) + "\n" for e in evts))
        (d / "status.json").write_text(json.dumps({"state": state, "pid": 0, "step": step,
                                                   "total": 2, "updated": 3.0}))
        (d / "process.json").write_text(json.dumps({"supervisor_pid": None, "started": 1.0}))
        (d / "stdout.log").write_text("step 1/2\nstep 2/2\n")
        if checkpoint:
            c = d / "checkpoints" / f"checkpoint-{step}"
            c.mkdir(parents=True)
            (c / "trainer_state.json").write_text(json.dumps({"global_step": step}))
            (c / "model.safetensors").write_bytes(b"weights-at-step-%d" % step)
        if final:
            (d / "final").mkdir()
            (d / "final" / "model.safetensors").write_bytes(b"the delivered model")
        index = self.home / "data" / "runs.txt"
        index.parent.mkdir(parents=True, exist_ok=True)
        with index.open("a") as fh:
            fh.write(f"{d}\n")
        return d


@dataclass
class Case:
    """One row of the catalogue."""

    id: str
    category: str
    argv: list[str]
    setup: Callable[[Work], None] | None
    code: int
    expect: list[str]
    """Fragments the output must hold (case-insensitive): the field or file, the value, the fix."""
    may_change: list[str] = field(default_factory=list)
    """Glob patterns (relative to the work dir, or home/...) of files the command may rewrite."""
    forbid: list[str] = field(default_factory=list)
    """Fragments that must NOT appear (besides 'Traceback')."""
    fsize: int | None = None
    """RLIMIT_FSIZE for the child in bytes (a full disk: writes beyond it fail with EFBIG)."""
    tty: bool = False
    xfail: str | None = None
    """'owner: ...' when another engineer is building the behaviour right now (strict xfail)."""
    timeout: float = 120


def snapshot(*roots: Path) -> dict[str, str]:
    out: dict[str, str] = {}
    for root in roots:
        for p in sorted(root.rglob("*")):
            if p.is_file() and not p.is_symlink():
                out[str(p)] = hashlib.sha256(p.read_bytes()).hexdigest()
    return out


def limit_file_size(fsize: int | None) -> Callable[[], None] | None:
    if fsize is None:
        return None

    def pre() -> None:
        # SIGXFSZ ignored: a write past the limit fails with EFBIG instead of killing the process,
        # the way a full disk fails a write with ENOSPC.
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (fsize, fsize))

    return pre


def run_case(case: Case, root: Path) -> tuple[int, str, Work]:
    w = Work(root)
    if case.setup is not None:
        case.setup(w)
    before = snapshot(w.d, w.home)
    env = {k: v for k, v in os.environ.items() if not k.startswith("FTWIZARD_")}
    env.update({"FTWIZARD_HOME": str(w.home), "FTWIZARD_CALIBRATION": "on", "COLUMNS": "200",
                "PYTHONDONTWRITEBYTECODE": "1", "TERM": "dumb", "NO_COLOR": "1"})
    env.update(w.env_extra)
    argv = [a.format(d=w.d, home=w.home) for a in case.argv]
    proc = subprocess.run([sys.executable, "-m", "ftwizard", *argv], cwd=w.d, env=env,
                          stdin=subprocess.DEVNULL, capture_output=True, text=True,
                          timeout=case.timeout, preexec_fn=limit_file_size(case.fsize))
    out = proc.stdout + proc.stderr
    after = snapshot(w.d, w.home)
    changed = []
    for path, digest in before.items():
        rel = os.path.relpath(path, w.d) if path.startswith(str(w.d)) else \
            "home/" + os.path.relpath(path, w.home)
        if any(fnmatch.fnmatch(rel, pat) for pat in case.may_change):
            continue
        if after.get(path) != digest:
            changed.append(f"{rel} ({'deleted' if path not in after else 'changed'})")
    check(case, proc.returncode, out, changed)
    return proc.returncode, out, w


def check(case: Case, code: int, out: str, changed: list[str]) -> None:
    assert "Traceback" not in out, f"traceback:\n{out}"
    assert code == case.code, f"exit {code}, expected {case.code}:\n{out}"
    low = out.lower()
    missing = [f for f in case.expect if f.lower() not in low]
    assert not missing, f"message lacks {missing}:\n{out}"
    if code != 0:  # a refusal always says what to do: ftwizard's "fix:" or click's "Try ... -h"
        assert "fix:" in low or "try '" in low, f"no fix in the message:\n{out}"
    present = [f for f in case.forbid if f.lower() in low]
    assert not present, f"message should not hold {present}:\n{out}"
    assert not changed, f"files changed: {changed}\n{out}"
