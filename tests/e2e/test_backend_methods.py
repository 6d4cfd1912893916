"""Single-process training methods, launched as users launch them: `python -m ftwizard.core.train`.

One run checks several things (events, status, eval, final model, sample) to keep the set quick.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys

import pytest

from backend_kit import (assert_learned, config, end, events, finished, launch, log_tail, losses,
                         make_run, of, train, wait_for, write_data)

pytestmark = pytest.mark.e2e


def _segments(evts):
    """Split a run's events at each start event (a resumed run appends to the same file)."""
    segs: list[list[dict]] = []
    for e in evts:
        if e["type"] == "start":
            segs.append([])
        if segs:
            segs[-1].append(e)
    return segs


def test_full_events_then_stop_kill_and_resume_at_the_right_step(tmp_path, tiny_llama):
    """Full fine-tuning; SIGTERM saves and stops; a SIGKILLed run resumes from its newest
    checkpoint and retraces the uninterrupted run's losses (same data order, optimizer and LR)."""
    data = write_data(tmp_path / "data")
    cfg = config(tiny_llama, data, data={"validation": {"split": 0.1}},
                 train={"max_steps": 24, "save_every": 4, "eval_every": 12, "keep_checkpoints": 2},
                 output={"sample_prompt": "red blue"})
    ref = make_run(tmp_path / "ref", cfg)
    evts = finished(ref, train(ref))
    start = of(evts, "start")[0]
    assert start["total_steps"] == start["planned_steps"] == 24
    assert start["world_size"] == 1 and start["plan"]["memory"]["per_device_bytes"] > 0
    steps = of(evts, "step")
    assert [s["step"] for s in steps] == list(range(1, 25))
    for key in ("loss", "lr", "grad_norm", "tokens_per_s", "rss_bytes",   # on the CPU: RSS
                "eta_s", "epoch", "total"):
        assert steps[-1][key] is not None, key
    assert steps[0]["lr"] < steps[2]["lr"]  # warmup (2 steps) rises, then the anneal falls
    assert steps[-1]["lr"] < steps[2]["lr"]
    assert_learned(evts)
    assert [e["step"] for e in of(evts, "eval")] == [12, 24]
    assert [c["step"] for c in of(evts, "checkpoint")] == [4, 8, 12, 16, 20, 24]
    assert sorted(p.name for p in (ref / "checkpoints").iterdir()) == ["checkpoint-20", "checkpoint-24"]
    e = end(ref)
    assert e["peak_bytes"] > 0 and e["counter"] == "rss" and e["estimate_bytes"] > 0 and e["sample"]
    assert (ref / "final" / "model.safetensors").is_file()
    import json

    status = json.loads((ref / "status.json").read_text())
    assert status["state"] == "finished" and status["step"] == status["total"] == 24

    # --- the same run, interrupted twice
    run = make_run(tmp_path / "run", cfg)
    p = launch(run)
    wait_for(run, lambda e: e["type"] == "step" and e["step"] >= 2, proc=p)
    os.killpg(p.pid, signal.SIGTERM)
    assert p.wait(timeout=120) == 0, log_tail(run)
    stopped = end(run)
    assert stopped["status"] == "stopped", stopped
    first_stop = stopped["step"]
    assert (run / "checkpoints" / f"checkpoint-{first_stop}" / "trainer_state.json").is_file()

    p = launch(run, None, "--resume")
    wait_for(run, lambda e: e["type"] == "checkpoint" and e["step"] > first_stop, proc=p)
    os.killpg(p.pid, signal.SIGKILL)
    p.wait(timeout=60)
    from ftwizard.core.backends.hf import newest_checkpoint

    killed_at = int(newest_checkpoint(run).name.split("-")[1])
    assert killed_at < 24, "the run finished before it could be killed"
    rc = train(run, None, "--resume")
    segs = _segments(finished(run, rc))
    assert len(segs) == 3
    assert segs[1][0]["resumed_from"] == first_stop and segs[2][0]["resumed_from"] == killed_at
    resumed_steps = [s["step"] for s in of(segs[2], "step")]
    assert resumed_steps == list(range(killed_at + 1, 25))
    ref_loss = dict(zip(range(1, 25), losses(evts)))
    for s in of(segs[2], "step"):
        assert s["loss"] == pytest.approx(ref_loss[s["step"]], rel=1e-4, abs=1e-5), s["step"]


def test_lora_gpt2_merge_and_export(tmp_path, tiny_gpt2):
    """LoRA on all linear layers of GPT-2 (Conv1D, no pad token): the adapter trains, the merged
    model loads and generates, and `ftwizard export --merge` does the same from the command line."""
    data = write_data(tmp_path / "data")
    cfg = config(tiny_gpt2, data, method={"kind": "lora", "lora": {"r": 16, "alpha": 32,
                                                                    "dropout": 0.0,
                                                                    "target_modules": "all-linear"}},
                 train={"max_steps": 30, "lr": 1e-2, "micro_batch": 16},
                 output={"merge": True, "sample_prompt": "red"})
    run = make_run(tmp_path / "run", cfg)
    evts = finished(run, train(run))
    model = of(evts, "start")[0]["model"]
    assert 0 < model["trainable_params"] < model["params"] / 2
    assert model["linear_modules"].get("Linear", 0) >= 8  # lora.Linear wrappers are "Linear"
    assert_learned(evts, factor=0.95)
    assert (run / "final" / "adapter_model.safetensors").is_file()
    assert (run / "final" / "merged" / "model.safetensors").is_file()
    out = tmp_path / "exported"
    res = subprocess.run([sys.executable, "-m", "ftwizard", "export", str(run), "--merge",
                          "--out", str(out)], capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stderr
    assert "merged model:" in res.stdout and "sample:" in res.stdout
    from transformers import AutoModelForCausalLM

    m = AutoModelForCausalLM.from_pretrained(out)
    assert not any("lora" in n for n, _ in m.named_parameters())


@pytest.mark.parametrize("bits,layer,checkpointing", [(4, "Linear4bit", True),
                                                     (8, "Linear8bitLt", False)])
def test_qlora_really_quantizes_and_trains(tmp_path, tiny_llama, bits, layer, checkpointing):
    """bitsandbytes runs on the CPU (FACTS.md): the base is really quantized, the adapter learns
    (with gradient checkpointing in the 4-bit run)."""
    data = write_data(tmp_path / "data")
    cfg = config(tiny_llama, data, model={"dtype": "bf16"},
                 method={"kind": "qlora", "quant_bits": bits,
                         "gradient_checkpointing": checkpointing,
                         "lora": {"r": 16, "alpha": 32, "dropout": 0.0}},
                 train={"max_steps": 24, "lr": 1e-2, "micro_batch": 16})
    run = make_run(tmp_path / "run", cfg)
    evts = finished(run, train(run))
    assert of(evts, "start")[0]["model"]["linear_modules"].get(layer, 0) >= 7  # 7 per layer x 2
    assert_learned(evts, factor=0.95)
    assert (run / "final" / "adapter_config.json").is_file()
