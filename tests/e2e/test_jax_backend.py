"""The JAX backend trains for real on the CPU, in the environment users install for it.

scripts/setup_jax_env.sh builds .venv-jax (tunix 0.1.7, jax 0.10.2, no torch); the training
process runs under that interpreter, exactly as `ftwizard run` launches a `parallel: jax` run.
The comparison with transformers runs here, in the main environment (transformers 5.23), on the
exported files: what a user loads after training.
"""

from __future__ import annotations

import fcntl
import json
import os
import subprocess
import tempfile
from pathlib import Path

import numpy as np
import pytest
import yaml

from ftwizard.core.config import load_config
from ftwizard.core.schedule import lr_at, plan_steps

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("jax")]

REPO = Path(__file__).resolve().parents[2]
SETUP = REPO / "scripts" / "setup_jax_env.sh"
STEP_KEYS = {"step", "total", "epoch", "loss", "lr", "tokens_per_s", "eta_s"}


@pytest.fixture(scope="session")
def jax_python(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The JAX environment's python, built by the script users run (a no-op when up to date;
    CI runs the script before pytest). Skips only when the environment cannot be built."""
    if os.environ.get("FTWIZARD_JAX_PYTHON"):
        return Path(os.environ["FTWIZARD_JAX_PYTHON"])
    lock = Path(tempfile.gettempdir()) / "ftwizard-jax-venv.lock"
    with open(lock, "w") as fh:  # xdist workers must not build the venv twice at once
        fcntl.flock(fh, fcntl.LOCK_EX)
        proc = subprocess.run(["bash", str(SETUP)], cwd=REPO, capture_output=True, text=True,
                              timeout=900)
    if proc.returncode != 0:
        pytest.skip("the JAX environment could not be built by scripts/setup_jax_env.sh:\n"
                    + (proc.stdout + proc.stderr)[-2000:])
    return REPO / ".venv-jax" / "bin" / "python"


def _data(path: Path, n: int = 240) -> Path:
    """Three word orders over four words: a 2-layer model learns this in a few dozen steps."""
    orders = ["alpha beta gamma delta", "beta gamma delta alpha", "gamma delta alpha beta"]
    path.write_text("".join(json.dumps({"text": " ".join(orders[(i + j) % 3] for j in range(3))})
                            + "\n" for i in range(n)))
    return path


def _run_dir(tmp: Path, model: Path, method: dict, train: dict) -> Path:
    run = tmp / "run"
    run.mkdir()
    cfg = {"version": 1, "name": "jax-e2e", "model": {"name": str(model), "dtype": "fp32"},
           "method": {"parallel": "jax", **method},
           "data": {"train": [{"path": str(_data(tmp / "data.jsonl"))}],
                    "validation": {"split": 0.05}, "block_size": 32},
           "train": {"micro_batch": 2, "grad_accum": 2, "warmup_steps": 3, "scheduler": "cosine",
                     "eval_every": 8, "save_every": 8, **train},
           "output": {"sample_prompt": None}}
    (run / "config.yaml").write_text(yaml.safe_dump(cfg, sort_keys=False))
    return run


def _train(py: Path, run: Path, *args: str) -> list[dict]:
    env = dict(os.environ, FTWIZARD_JAX_PROBE=str(run / "probe.npz"), JAX_PLATFORMS="cpu")
    with open(run / "stdout.log", "a") as log:
        proc = subprocess.run([str(py), "-m", "ftwizard.core.backends.jax", str(run), *args],
                              cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT, timeout=600)
    events = [json.loads(line) for line in (run / "events.jsonl").read_text().splitlines()]
    assert events[-1]["type"] == "end", (run / "stdout.log").read_text()[-3000:]
    assert proc.returncode == events[-1]["exit_code"]
    return events


def _of(events: list[dict], kind: str) -> list[dict]:
    return [e for e in events if e["type"] == kind]


def _hf_logits(folder: Path, ids: np.ndarray, adapter: Path | None = None) -> np.ndarray:
    import torch  # ~1.5 s
    from transformers import AutoModelForCausalLM  # ~2 s

    model = AutoModelForCausalLM.from_pretrained(folder, dtype=torch.float32)
    if adapter is not None:
        from peft import PeftModel  # ~1 s

        model = PeftModel.from_pretrained(model, adapter)
    with torch.no_grad():
        return model(torch.tensor(ids, dtype=torch.long)).logits.float().numpy()


def _check_lr(cfg_path: Path, steps: list[dict]) -> None:
    """Every step's rate is core.schedule.lr_at's (max_steps fixes total and warmup)."""
    cfg = load_config(cfg_path)
    plan = plan_steps(cfg, 1, 1)
    for e in steps:
        want = lr_at(e["step"] - 1, lr=cfg.train.lr, end_lr=cfg.train.end_lr, warmup=plan.warmup,
                     total=plan.total, scheduler=cfg.train.scheduler)
        assert e["lr"] == pytest.approx(want, rel=1e-5, abs=1e-9), e["step"]


def test_llama_full_stop_resume_export(jax_python: Path, tiny_llama: Path, tmp_path: Path):
    """Full fine-tuning of a Llama-3-style model: loss falls, a stop at step 10 saves, resume
    continues at 11 and finishes, and transformers reproduces the trained model's logits."""
    run = _run_dir(tmp_path, tiny_llama, {"kind": "full"},
                   {"max_steps": 24, "lr": 1e-3, "end_lr": 1e-4})
    (run / "stop").write_text("10")  # stop once 10 steps are done (a bare file stops at once)
    first = _train(jax_python, run)
    end = first[-1]
    assert end["status"] == "stopped" and end["step"] == 10 and end["exit_code"] == 0
    assert (run / "checkpoints" / "10").is_dir()
    assert not (run / "stop").exists()
    assert json.loads((run / "status.json").read_text())["state"] == "stopped"
    assert [e["step"] for e in _of(first, "step")] == list(range(1, 11))
    assert not (run / "final").exists()

    events = _train(jax_python, run, "--resume")
    resumed = events[len(first):]
    start = _of(resumed, "start")[0]
    assert start["resumed_from"] == 10 and start["total_steps"] == 24
    assert [e["step"] for e in _of(resumed, "step")] == list(range(11, 25))
    assert resumed[-1]["status"] == "finished" and resumed[-1]["step"] == 24
    assert resumed[-1]["peak_bytes"] > 0 and resumed[-1]["counter"] in ("rss", "device_used")

    steps = _of(events, "step")
    for e in steps:
        assert STEP_KEYS <= e.keys() and e["total"] == 24 and "time" in e
    losses = [e["loss"] for e in steps]
    assert np.mean(losses[-3:]) < np.mean(losses[:3]) - 1.0, losses
    assert losses[10] < losses[0] - 0.5, "resume restarted from the initial weights"
    _check_lr(run / "config.yaml", steps)
    assert _of(events, "eval") and all(e["eval_loss"] is not None for e in _of(events, "eval"))
    assert {e["step"] for e in _of(events, "checkpoint")} >= {8, 10, 16, 24}

    final = run / "final"
    assert (final / "model.safetensors").is_file() and (final / "tokenizer.json").is_file()
    probe = np.load(run / "probe.npz")
    hf = _hf_logits(final, probe["input_ids"])
    assert np.abs(hf - probe["logits"]).max() < 1e-4
    base = _hf_logits(tiny_llama, probe["input_ids"])
    assert np.abs(base - probe["logits"]).max() > 1e-2  # training changed the weights


def test_qwen2_lora_adapter_loads_in_peft(jax_python: Path, tiny_qwen2: Path, tmp_path: Path):
    """LoRA (qwix) on a Qwen2-style model with tied embeddings: only the adapters train, the loss
    falls, and the exported PEFT adapter on the base model gives the JAX model's logits."""
    run = _run_dir(tmp_path, tiny_qwen2,
                   {"kind": "lora", "lora": {"r": 8, "alpha": 16, "dropout": 0.0}},
                   {"max_steps": 20, "lr": 5e-3, "end_lr": 5e-4})
    events = _train(jax_python, run)
    assert events[-1]["status"] == "finished" and events[-1]["step"] == 20
    model = _of(events, "start")[0]["model"]
    assert 0 < model["trainable_params"] < model["params"] / 4
    losses = [e["loss"] for e in _of(events, "step")]
    assert np.mean(losses[-3:]) < np.mean(losses[:3]) - 0.3, losses

    final = run / "final"
    conf = json.loads((final / "adapter_config.json").read_text())
    assert conf["r"] == 8 and conf["lora_alpha"] == 16
    assert set(conf["target_modules"]) == {"q_proj", "k_proj", "v_proj", "o_proj", "gate_proj",
                                           "up_proj", "down_proj"}
    probe = np.load(run / "probe.npz")
    tuned = _hf_logits(tiny_qwen2, probe["input_ids"], adapter=final)
    assert np.abs(tuned - probe["logits"]).max() < 1e-4
    base = _hf_logits(tiny_qwen2, probe["input_ids"])
    assert np.abs(base - probe["logits"]).max() > 1e-2  # the adapters are not a no-op


def test_bad_method_ends_with_input_error(jax_python: Path, tiny_llama: Path, tmp_path: Path):
    """A bitsandbytes optimizer on the JAX backend fails fast with the field and the fix."""
    run = _run_dir(tmp_path, tiny_llama, {"kind": "full", "optimizer": "adamw_8bit"},
                   {"max_steps": 2})
    events = _train(jax_python, run)
    end = events[-1]
    assert end["status"] == "failed" and end["exit_code"] == 2
    assert "method.optimizer" in end["message"]


def test_launch_finds_the_jax_interpreter(jax_python: Path):
    """The launcher's view: the JAX venv is found without importing JAX."""
    from ftwizard.core import launch
    from ftwizard.core.config import from_dict

    ok, where = launch.jax_available()
    assert ok, where
    cfg = from_dict({"method": {"kind": "lora", "parallel": "jax"}})
    argv = launch.train_command(cfg, "runs/x", nproc=1, cpu=False, resume=True)
    assert argv[0] == where
    assert argv[1:] == ["-m", "ftwizard.core.backends.jax", "runs/x", "--resume"]


def test_ftwizard_run_launches_the_jax_backend(jax_python: Path, tmp_path: Path) -> None:
    """Issue 8: `ftwizard run` replays a `parallel: jax` config through the JAX environment (the
    rendered launch line uses its interpreter), with the same run dir, events and plan."""
    import sys

    from ftwizard.core.tiny import build_tiny_model

    model = build_tiny_model(tmp_path / "qwen", arch="qwen2")
    cfg = {"version": 1, "name": "jax-via-run", "model": {"name": str(model), "dtype": "fp32"},
           "method": {"kind": "lora", "parallel": "jax", "lora": {"dropout": 0.0}},
           "data": {"train": [{"path": str(_data(tmp_path / "data.jsonl"))}], "block_size": 32},
           "train": {"micro_batch": 2, "grad_accum": 1, "max_steps": 6, "save_every": 100,
                     "eval_every": 100},
           "output": {"dir": str(tmp_path / "runs"), "sample_prompt": None}}
    path = tmp_path / "jax.yaml"
    path.write_text(yaml.safe_dump(cfg, sort_keys=False))
    env = dict(os.environ, FTWIZARD_JAX_PYTHON=str(jax_python), JAX_PLATFORMS="cpu")
    proc = subprocess.run([sys.executable, "-m", "ftwizard", "run", str(path)], cwd=tmp_path,
                          env=env, capture_output=True, text=True, timeout=600)
    run = tmp_path / "runs" / "jax-via-run"
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert str(jax_python) in (run / "launch.sh").read_text()
    events = [json.loads(line) for line in (run / "events.jsonl").read_text().splitlines()]
    steps = [e for e in events if e["type"] == "step"]
    start = next(e for e in events if e["type"] == "start")
    assert start["total_steps"] == 6 and events[-1]["status"] == "finished"
    assert [e["step"] for e in steps][-1] == 6
    assert (run / "final").is_dir()
