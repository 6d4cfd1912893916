"""`ftwizard plan`: the real console command, its JSON contract and exit codes."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from ftwizard.core.presets import list_presets


def ftw(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "ftwizard", *args], capture_output=True,
                          text=True, cwd=cwd, timeout=120)


def test_plan_json_contract() -> None:
    r = ftw("plan", "gptj-6b-zero3-24gb", "--json")
    assert r.returncode == 0, r.stderr
    d = json.loads(r.stdout)
    for k in ("per_device_bytes", "capacity_bytes", "fits", "max_micro_batch", "host_bytes",
              "breakdown", "suggestions"):
        assert k in d["memory"]
    for k in ("sequences", "per_epoch", "total", "dropped_samples", "warmup"):
        assert k in d["steps"]
    assert d["time"]["tokens_per_s"] > 0 and d["time"]["seconds"] > 0
    assert d["disk"]["checkpoint_bytes"] > 0
    assert d["memory"]["max_micro_batch"] == 7
    # seed 001: 250 samples at a global batch of 7 x 18 = 126 with drop_last -> 1 step, 124 dropped
    assert (d["steps"]["total"], d["steps"]["dropped_samples"]) == (1, 124)


def test_plan_exit_3_when_it_does_not_fit_and_lists_fixes() -> None:
    r = ftw("plan", "gptj-6b-zero3-24gb", "--set", "train.micro_batch=8")
    assert r.returncode == 3, r.stdout + r.stderr
    assert "does NOT fit" in r.stdout and "batch 8 -> 7" in r.stdout


def test_plan_target_override() -> None:
    r = ftw("plan", "llama2-7b-full-fsdp", "--target", "A100-40GB x2", "--json")
    d = json.loads(r.stdout)
    assert d["hardware"]["devices"] == 2 and d["memory"]["capacity_bytes"] == 40 * 1024**3


def test_plan_bad_input_exits_2_without_traceback(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("train: {save_every: 0}\n")
    r = ftw("plan", str(bad))
    assert r.returncode == 2 and "Traceback" not in r.stderr
    assert "train.save_every" in r.stderr and "fix" in r.stderr
    r = ftw("plan", "gptj-6b-zero3-24gb", "--target", "A100-90GB")
    assert r.returncode == 2 and "Traceback" not in r.stderr and "A100" in r.stderr


def test_plan_rejects_impossible_combinations() -> None:
    r = ftw("plan", "llama2-7b-qlora-int4", "--set", "method.parallel=deepspeed",
            "--set", "method.zero_stage=3", "--json")
    assert r.returncode == 2
    d = json.loads(r.stdout)
    assert any(p["field"] == "method.zero_stage" for p in d["problems"])
    r = ftw("plan", "gptj-6b-zero3-24gb", "--target", "V100-16GB", "--set", "model.dtype=bf16")
    assert r.returncode == 2 and "Ampere" in r.stdout


def test_pipeline_layout_is_validated() -> None:
    """Seed 002: world = pipeline x data groups; GPT-NeoX-20B's 44 layers must split evenly
    unless method.pipeline_layers says how (the preset's 8 x 1: 6,6,6,6,5,5,5,5)."""
    ok = ftw("plan", "gpt-neox-20b-pipeline", "--json")
    assert ok.returncode == 0, ok.stdout
    bad = ftw("plan", "gpt-neox-20b-pipeline", "--set", "method.pipeline_layers=null", "--json")
    assert bad.returncode == 2
    assert "44 layers" in json.loads(bad.stdout)["problems"][0]["message"]


@pytest.mark.parametrize("name", sorted(list_presets()))
def test_every_preset_plans_and_fits(name: str) -> None:
    from ftwizard.core.config import load_config
    from ftwizard.core.plan import data_sequences, make_plan

    cfg = load_config(name)
    plan = make_plan(cfg, sequences=data_sequences(cfg))
    assert not plan.problems, [p.render() for p in plan.problems]
    assert plan.fits, plan.summary_line()
    assert plan.steps is not None and plan.steps.total > 0


def test_gptj_tpu_plan_is_seed_000() -> None:
    """Seed 000: 1147 sequences at batch 16 -> 72 steps, warmup 7; ~5,000 tokens/s on a v3-8."""
    from ftwizard.core.config import load_config
    from ftwizard.core.plan import make_plan

    p = make_plan(load_config("gptj-6b-tpu-v3-8"))
    assert (p.steps.total, p.steps.warmup, p.steps.anneal) == (72, 7, 65)
    assert abs(p.time.tokens_per_s - 5000) / 5000 < 0.10
    assert p.memory.device == "tpu" and p.memory.capacity_bytes == 16 * 1024**3


def test_export_config_mesh_transformer_jax_is_seed_000() -> None:
    """Seed 000's JSON from the TPU preset: batch 16, 72 steps, warmup 7, anneal 65, no 0 *_every."""
    r = ftw("export-config", "gptj-6b-tpu-v3-8", "--format", "mesh-transformer-jax")
    assert r.returncode == 0, r.stderr
    d = json.loads(r.stdout)
    assert (d["gradient_accumulation_steps"], d["total_steps"], d["warmup_steps"],
            d["anneal_steps"]) == (16, 72, 7, 65)
    assert d["lr"] == 5e-5 and d["end_lr"] == 1e-5 and d["tpu_size"] == 8
    assert min(d["val_every"], d["ckpt_every"], d["keep_every"]) > 0
    bad = ftw("export-config", "llama2-7b-lora", "--format", "mesh-transformer-jax")
    assert bad.returncode == 2 and "GPT-J" in bad.stderr and "Traceback" not in bad.stderr


def test_wizard_without_a_terminal_says_how_to_go_on() -> None:
    """CI or a pipe: no questions can be asked; exit 2 with the headless commands, no traceback."""
    r = subprocess.run([sys.executable, "-m", "ftwizard"], capture_output=True, text=True,
                       stdin=subprocess.DEVNULL, timeout=60)
    assert r.returncode == 2 and "Traceback" not in r.stderr
    assert "no terminal" in r.stderr and "ftwizard run FILE" in r.stderr
