"""Preference and reward training for real on the CPU, through `ftwizard run CONFIG --plain`
(plan, preflight, run dir, launcher, TRL's trainer, events): DPO with LoRA, full weights and QLoRA,
ORPO, KTO and a reward model, on a tiny Llama and a set with a learnable preference (the chosen
reply is always " the quick brown fox", the rejected one a few random words).

What each run must show:
- DPO's first loss is ln 2: at step 1 the policy equals its reference (LoRA: the adapters start at
  zero and the reference is the base with them off; full: a frozen copy of the same weights), so
  every margin is 0 and -log sigmoid(0) = ln 2. Then the loss falls.
- The reward model's accuracy (chosen scored above rejected) rises above 0.5.
- plan steps == trainer steps: plan.json's total, the start event's planned and trainer totals
  and the last step event agree.
- The step events carry the objective's own metrics under TRL's names.

The runs share the tiny model of the session; they are one xdist group so they do not compete
for the 2 cores with each other. The DeepSpeed run is in the "heavy" group with the other
DeepSpeed tests (its ops compile once, ~60 s, then ~10 s).
"""

from __future__ import annotations

import json
import math
import os
import random
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from backend_kit import env, log_tail, of
from ftwizard.core import events as ev

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("preference")]

WORDS = "the cat sat on a mat and the dog ran far away".split()
CHOSEN = " the quick brown fox"
LN2 = math.log(2)


def write_pairs(folder: Path, n: int = 48) -> Path:
    """n prompt/chosen/rejected pairs: the chosen reply is always CHOSEN (learnable)."""
    rng = random.Random(0)
    path = folder / "pairs.jsonl"
    with open(path, "w") as fh:
        for _ in range(n):
            prompt = " ".join(rng.choice(WORDS) for _ in range(5))
            rejected = " " + " ".join(rng.choice(WORDS) for _ in range(4))
            fh.write(json.dumps({"prompt": prompt, "chosen": CHOSEN, "rejected": rejected}) + "\n")
    return path


def write_kto(folder: Path, n: int = 48) -> Path:
    """n prompt/completion/label rows: desirable rows complete with CHOSEN, the others with noise."""
    rng = random.Random(1)
    path = folder / "kto.jsonl"
    with open(path, "w") as fh:
        for i in range(n):
            prompt = " ".join(rng.choice(WORDS) for _ in range(5))
            good = i % 2 == 0
            completion = CHOSEN if good else " " + " ".join(rng.choice(WORDS) for _ in range(4))
            fh.write(json.dumps({"prompt": prompt, "completion": completion, "label": good}) + "\n")
    return path


def run_objective(tmp_path: Path, name: str, objective: str, data: Path, *,
                  method: dict[str, Any], train: dict[str, Any] | None = None,
                  output: dict[str, Any] | None = None, timeout: float = 600) -> Path:
    """`ftwizard run CONFIG --plain` of a tiny-llama run; returns its run dir, finished."""
    t = {"objective": objective, "micro_batch": 4, "grad_accum": 1, "epochs": 2, "lr": 3e-3,
         "warmup_steps": 1, "save_every": 1000, "eval_every": 1000, "seed": 7, **(train or {})}
    cfg = {"name": name, "model": {"name": "tiny-llama", "dtype": "fp32"}, "method": method,
           "data": {"train": [{"path": str(data)}], "block_size": 64}, "train": t,
           "output": {"dir": str(tmp_path / "runs"), "sample_prompt": None, **(output or {})}}
    path = tmp_path / f"{name}.yaml"
    path.write_text(json.dumps(cfg))  # YAML reads JSON
    proc = subprocess.run([sys.executable, "-m", "ftwizard", "run", str(path), "--plain"],
                          cwd=tmp_path, env=env(), capture_output=True, text=True, timeout=timeout)
    run_dir = tmp_path / "runs" / name
    assert proc.returncode == 0, (proc.stdout[-3000:] + proc.stderr[-3000:]
                                  + (log_tail(run_dir) if run_dir.exists() else ""))
    return run_dir


def events_of(run_dir: Path) -> list[dict[str, Any]]:
    return ev.read_events(run_dir / ev.EVENTS_FILE)[0]


def check_steps(run_dir: Path, evts: list[dict[str, Any]]) -> int:
    """plan.json's steps == the trainer's: its total, the start event's and the last step's."""
    plan = json.loads((run_dir / ev.PLAN_FILE).read_text())
    start = of(evts, "start")[0]
    steps = of(evts, "step")
    end = of(evts, "end")[-1]
    assert end["status"] == "finished", end
    planned = plan["steps"]["total"]
    assert planned == start["planned_steps"] == start["total_steps"] == steps[-1]["step"] \
        == end["step"], (planned, start["planned_steps"], start["total_steps"], steps[-1]["step"])
    assert start["sequences"] == plan["steps"]["sequences"]
    return planned


def series(evts: list[dict[str, Any]], name: str) -> list[float]:
    """A metric of the step events (the loss, or one of `metrics`), in step order."""
    if name == "loss":
        return [e["loss"] for e in of(evts, "step")]
    return [e["metrics"][name] for e in of(evts, "step") if name in (e.get("metrics") or {})]


def mean(xs: list[float]) -> float:
    return sum(xs) / len(xs)


def assert_falls(xs: list[float], factor: float) -> None:
    assert len(xs) >= 6, xs
    assert mean(xs[-3:]) < factor * mean(xs[:3]), xs


@pytest.mark.parametrize("kind", ["lora", "full", "qlora", "full-precomputed"])
def test_dpo_starts_at_ln2_and_learns(tmp_path: Path, tiny_llama: Path, kind: str) -> None:
    """`full-precomputed`: the reference's log-probs are computed once before training (by the
    policy itself, TRL) and no reference is held; ln 2 at step 1 shows they are the right ones."""
    data = write_pairs(tmp_path)
    method: dict[str, Any] = {"kind": kind.split("-")[0]}
    train: dict[str, Any] = {}
    if kind == "full-precomputed":
        train = {"preference": {"reference": "precomputed"}}
    if kind == "qlora":
        # bitsandbytes' NF4 layers train on the CPU (FACTS.md); a short run shows the path works
        method["quant_bits"] = 4
        train = {"epochs": 1}
    run = run_objective(tmp_path, f"dpo-{kind}", "dpo", data, method=method, train=train)
    evts = events_of(run)
    total = check_steps(run, evts)
    start = of(evts, "start")[0]
    assert start["objective"] == "dpo"
    losses = series(evts, "loss")
    assert len(losses) == total
    # step 1: policy == reference, every margin 0, loss = -log sigmoid(0) = ln 2 exactly
    assert losses[0] == pytest.approx(LN2, abs=1e-4), losses[:3]
    assert series(evts, "rewards/margins")[0] == pytest.approx(0.0, abs=1e-4)
    first = of(evts, "step")[0]["metrics"]
    for name in ("rewards/chosen", "rewards/rejected", "rewards/margins", "rewards/accuracies",
                 "logps/chosen", "logps/rejected"):
        assert name in first, first
    if kind == "qlora":
        assert start["model"]["linear_modules"].get("Linear4bit"), start["model"]
        assert losses[-1] < losses[0]
    else:
        assert_falls(losses, 0.6)
        assert mean(series(evts, "rewards/margins")[-3:]) > 0.5
        assert mean(series(evts, "rewards/accuracies")[-3:]) > 0.9
    if kind == "full":
        assert start["reference"] == "frozen copy in fp32"
    if kind == "full-precomputed":
        assert start["reference"] == "precomputed log-probs"
    if kind.startswith("full"):
        assert (run / "final" / "model.safetensors").is_file()
    else:
        assert start["reference"] == "base model with the adapters off"
        assert (run / "final" / "adapter_config.json").is_file()


def test_orpo_learns(tmp_path: Path, tiny_llama: Path) -> None:
    run = run_objective(tmp_path, "orpo", "orpo", write_pairs(tmp_path), method={"kind": "lora"})
    evts = events_of(run)
    check_steps(run, evts)
    start = of(evts, "start")[0]
    assert start["objective"] == "orpo" and start["reference"] == "none"
    assert "nll_loss" in of(evts, "step")[0]["metrics"]
    assert_falls(series(evts, "loss"), 0.95)
    margins = series(evts, "rewards/margins")
    assert mean(margins[-3:]) > mean(margins[:3])


def test_kto_learns(tmp_path: Path, tiny_llama: Path) -> None:
    run = run_objective(tmp_path, "kto", "kto", write_kto(tmp_path), method={"kind": "lora"})
    evts = events_of(run)
    check_steps(run, evts)
    assert of(evts, "start")[0]["reference"] == "base model with the adapters off"
    assert series(evts, "kl"), "KTO's KL estimate missing from the step metrics"
    losses = series(evts, "loss")
    # KTO's loss is 1 - sigmoid(beta * (logratio - kl)) per row: 0.5 where policy == reference
    assert losses[0] == pytest.approx(0.5, abs=1e-4)
    assert_falls(losses, 0.95)


def test_reward_model_accuracy_rises(tmp_path: Path, tiny_llama: Path) -> None:
    run = run_objective(tmp_path, "reward", "reward", write_pairs(tmp_path),
                        method={"kind": "lora"},
                        output={"merge": True, "sample_prompt": "scored instead"})
    evts = events_of(run)
    check_steps(run, evts)
    acc = series(evts, "accuracy")
    assert len(acc) == len(of(evts, "step"))
    assert mean(acc[-3:]) > 0.5 and mean(acc[-3:]) > acc[0], acc
    assert_falls(series(evts, "loss"), 0.5)
    # the adapter carries the trained score head; the merged model scores chosen above rejected
    from safetensors import safe_open

    with safe_open(str(run / "final" / "adapter_model.safetensors"), "pt") as fh:
        assert any("score" in k for k in fh.keys())
    end = of(evts, "end")[-1]
    assert end["sample"].startswith("reward of the first training pair")
    from transformers import AutoTokenizer

    from ftwizard.core.backends import export

    model = export.load_reward_model(run / "final" / "merged")
    tok = AutoTokenizer.from_pretrained(str(run / "final"))
    pairs = [json.loads(line) for line in (tmp_path / "pairs.jsonl").read_text().splitlines()[:8]]
    wins = 0
    for p in pairs:
        chosen, rejected = (tok(p["prompt"] + p[k] + tok.eos_token)["input_ids"]
                            for k in ("chosen", "rejected"))
        c, r = export.rewards(model, [chosen, rejected], pad_id=tok.pad_token_id)
        wins += c > r
    assert wins == len(pairs)


@pytest.mark.xdist_group("heavy")
def test_dpo_full_under_deepspeed_zero2(tmp_path: Path, tiny_llama: Path) -> None:
    """DPO full fine-tuning through the deepspeed launcher (ZeRO-2, one process): TRL puts the
    reference through deepspeed.initialize at stage 0 beside the ZeRO-2 policy."""
    run = run_objective(tmp_path, "dpo-ds", "dpo", write_pairs(tmp_path),
                        method={"kind": "full", "parallel": "deepspeed", "zero_stage": 2},
                        timeout=900)
    assert (run / "ds_config.json").is_file()
    evts = events_of(run)
    check_steps(run, evts)
    start = of(evts, "start")[0]
    assert start["deepspeed_enabled"] is True
    losses = series(evts, "loss")
    assert losses[0] == pytest.approx(LN2, abs=1e-4)
    assert_falls(losses, 0.6)
    assert (run / "final" / "model.safetensors").is_file()


def test_dpo_stopped_then_resumed_keeps_the_reference_it_started_with(tmp_path):
    """A full-weights DPO run asked to stop saves a checkpoint; `ftwizard resume` continues from
    it against the reference the run started with (the initial weights), not a copy of the
    checkpoint's policy: if the reference were rebuilt from the checkpoint, every margin would be
    0 again and the first step after the resume would read exactly ln 2."""
    from backend_kit import wait_for

    data = write_pairs(tmp_path)
    t = {"objective": "dpo", "micro_batch": 4, "grad_accum": 1, "epochs": 4, "lr": 3e-3,
         "warmup_steps": 1, "save_every": 1000, "eval_every": 1000, "seed": 7}
    cfg = {"name": "dpo-resume", "model": {"name": "tiny-llama", "dtype": "fp32"},
           "method": {"kind": "full"}, "data": {"train": [{"path": str(data)}], "block_size": 64},
           "train": t, "output": {"dir": str(tmp_path / "runs"), "sample_prompt": None}}
    path = tmp_path / "dpo-resume.yaml"
    path.write_text(json.dumps(cfg))
    run_dir = tmp_path / "runs" / "dpo-resume"
    proc = subprocess.Popen([sys.executable, "-m", "ftwizard", "run", str(path), "--plain"],
                            cwd=tmp_path, env=env(), stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)
    try:
        wait_for(run_dir, lambda e: e.get("type") == "step" and e["step"] >= 6, timeout=600,
                 proc=proc)
        (run_dir / ev.STOP_FILE).write_text("")
        out, _ = proc.communicate(timeout=600)
    finally:
        if proc.poll() is None:
            proc.kill()
    stopped = of(events_of(run_dir), "end")[-1]
    assert stopped["status"] == "stopped", out[-3000:]
    at = stopped["step"]
    assert 6 <= at < 48 and (run_dir / "checkpoints" / f"checkpoint-{at}").is_dir()

    resumed = subprocess.run([sys.executable, "-m", "ftwizard", "resume", str(run_dir), "--plain"],
                             cwd=tmp_path, env=env(), capture_output=True, text=True, timeout=600)
    assert resumed.returncode == 0, resumed.stdout[-3000:] + resumed.stderr[-3000:]
    evts = events_of(run_dir)
    start = of(evts, "start")[-1]
    assert start["resumed_from"] == at and start["objective"] == "dpo"
    after = [e for e in of(evts, "step") if e["step"] > at]
    assert after[0]["step"] == at + 1 and after[-1]["step"] == 48 == of(evts, "end")[-1]["step"]
    assert after[0]["loss"] < LN2 - 0.05, after[0]          # the margins carry on
    assert after[0]["metrics"]["rewards/margins"] > 0.05, after[0]["metrics"]
