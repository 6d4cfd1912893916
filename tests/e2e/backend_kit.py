"""Shared pieces of the backend e2e tests: learnable data, run dirs, launching, reading events.

The data is a few words in fixed rotation: a 2-layer random model learns it in tens of steps,
which FACTS.md says random models need before "the loss goes down" means anything.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from ftwizard.core import events as ev
from ftwizard.core.config import from_dict

WORDS = ["red", "blue", "green", "cat", "dog", "runs", "jumps", "the", "a", "big"]


def write_data(folder: Path, n: int = 400, words: int = 12) -> Path:
    """n JSONL records of a rotating word pattern (entries mode: one record, one sequence)."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "train.jsonl"
    with open(path, "w") as fh:
        for i in range(n):
            text = " ".join(WORDS[(i + j) % len(WORDS)] for j in range(words))
            fh.write(json.dumps({"text": text}) + "\n")
    return path


def config(model_path: Path, data_path: Path, **sections: dict[str, Any]) -> dict[str, Any]:
    """A run config dict: tiny, fp32, corpus mode over `data`; sections override key by key."""
    base: dict[str, Any] = {
        "name": "e2e",
        "model": {"name": str(model_path), "dtype": "fp32"},
        "method": {"kind": "full"},
        "data": {"train": [{"path": str(data_path)}], "mode": "corpus", "block_size": 32},
        "train": {"micro_batch": 8, "grad_accum": 1, "max_steps": 20, "lr": 3e-3,
                  "warmup_steps": 2, "save_every": 1000, "eval_every": 1000, "seed": 7},
        "output": {"sample_prompt": None},
    }
    for name, values in sections.items():
        base.setdefault(name, {}).update(values)
    return base


def make_run(run_dir: Path, cfg: dict[str, Any], *, nproc: int | None = None) -> Path:
    """A run dir as `ftwizard run --dry-run` writes it (launch.render: config.yaml, native
    configs, plan.json), planned on this machine; the backends read them, never render them."""
    from ftwizard.core import runs
    from ftwizard.core.plan import hardware_for, make_plan

    c = from_dict(cfg)
    hw = hardware_for(c.hardware.target, c.hardware.nodes, c.hardware.host_ram_gib)
    run_dir.mkdir(parents=True, exist_ok=True)
    runs.write_run_files(c, run_dir, hardware=hw, plan=make_plan(c, hardware=hw), nproc=nproc)
    return run_dir


def env(**extra: str) -> dict[str, str]:
    e = dict(os.environ)
    e.update({"PYTHONUNBUFFERED": "1", "WANDB_DISABLED": "true", "DS_SKIP_CUDA_CHECK": "1",
              "OMP_NUM_THREADS": "1", "TOKENIZERS_PARALLELISM": "false"})
    e.update(extra)
    return e


def launch(run_dir: Path, argv: list[str] | None = None, *extra: str) -> subprocess.Popen:
    """Start training with stdout.log in the run dir, as core/runs.py does."""
    argv = argv or [sys.executable, "-m", "ftwizard.core.train", str(run_dir)]
    log = open(run_dir / "stdout.log", "ab")  # noqa: SIM115 - owned by the child
    return subprocess.Popen([*argv, *extra], stdout=log, stderr=subprocess.STDOUT, env=env(),
                            start_new_session=True)


def train(run_dir: Path, argv: list[str] | None = None, *extra: str, timeout: float = 300) -> int:
    p = launch(run_dir, argv, *extra)
    try:
        return p.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        p.kill()
        raise AssertionError(f"training timed out; log:\n{log_tail(run_dir)}") from None


def log_tail(run_dir: Path, n: int = 40) -> str:
    return "\n".join(ev.tail_lines(run_dir / "stdout.log", n))


def events(run_dir: Path) -> list[dict[str, Any]]:
    return ev.read_events(run_dir / "events.jsonl")[0]


def of(evts: list[dict[str, Any]], type_: str) -> list[dict[str, Any]]:
    return [e for e in evts if e["type"] == type_]


def end(run_dir: Path) -> dict[str, Any]:
    found = of(events(run_dir), "end")
    assert found, f"no end event; log:\n{log_tail(run_dir)}"
    return found[-1]


def finished(run_dir: Path, rc: int, *, gloo_exit_ok: bool = False) -> list[dict[str, Any]]:
    """The events of a run that must have finished.

    `gloo_exit_ok`: about 1 in 20 two-process gloo jobs abort at exit *after* training finished
    (FACTS.md); the end event, written before that, is then the judge.
    """
    e = end(run_dir)
    assert e["status"] == "finished", f"{e}\n{log_tail(run_dir)}"
    if not gloo_exit_ok:
        assert rc == 0, log_tail(run_dir)
    return events(run_dir)


def losses(evts: list[dict[str, Any]]) -> list[float]:
    return [e["loss"] for e in of(evts, "step")]


def assert_learned(evts: list[dict[str, Any]], factor: float = 0.85) -> None:
    """The mean loss of the last three logged steps is clearly below that of the first three."""
    ls = losses(evts)
    assert len(ls) >= 6, ls
    first, last = sum(ls[:3]) / 3, sum(ls[-3:]) / 3
    assert last < factor * first, f"loss did not go down enough: {ls}"


def wait_for(run_dir: Path, pred, timeout: float = 120, proc: subprocess.Popen | None = None):
    """Poll the events until `pred(event)` holds for one of them; return that event."""
    deadline = time.time() + timeout
    offset = 0
    while time.time() < deadline:
        new, offset = ev.read_events(run_dir / "events.jsonl", offset)
        for e in new:
            if pred(e):
                return e
        if proc is not None and proc.poll() is not None:
            new, offset = ev.read_events(run_dir / "events.jsonl", offset)
            for e in new:
                if pred(e):
                    return e
            raise AssertionError(f"training ended before the awaited event\n{log_tail(run_dir)}")
        time.sleep(0.01)
    raise AssertionError(f"timed out waiting for an event\n{log_tail(run_dir)}")


def write_run_config(tmp_path: Path, name: str, *, max_steps: int, save_every: int,
                     parallel: str = "none") -> Path:
    """A saved config for a tiny-llama run on 200 lines of words, its runs under tmp_path/runs."""
    import random

    rng = random.Random(0)
    words = "the cat sat on a mat and the dog ran far away".split()
    data = tmp_path / "data.txt"
    data.write_text("\n".join(" ".join(rng.choice(words) for _ in range(40)) for _ in range(200)))
    cfg = tmp_path / f"{name}.yaml"
    cfg.write_text(f"""name: {name}
model: {{name: tiny-llama, dtype: fp32}}
method: {{parallel: {parallel}}}
data: {{train: [{{path: {data}}}], block_size: 32}}
train: {{micro_batch: 2, max_steps: {max_steps}, save_every: {save_every}, eval_every: 1000, lr: 1.0e-3}}
output: {{dir: {tmp_path / 'runs'}, sample_prompt: null}}
""")
    return cfg
