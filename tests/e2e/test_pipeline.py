"""Seed 002 for real: pipeline x data parallel training on the CPU (gloo, torchrun), issue 19.

A tiny 4-layer GPT-NeoX built here is cut into 2 stages of 2 layers; runs use the launch line
core/launch.py writes. Every test is in the xdist group "heavy" (no two multi-process jobs at
once on a 2-core machine).

Multi-process gloo jobs sometimes abort at exit *after* training finished (about 1 in 20,
FACTS.md): these tests judge by the end event, which rank 0 writes before the process group
closes, and tolerate that exit code (`gloo_exit_ok=True`).
"""

from __future__ import annotations

import json
import signal
from pathlib import Path

import pytest

from backend_kit import (assert_learned, config, end, events, finished, launch as start_run,
                         losses, make_run, of, train, wait_for, write_data)
from ftwizard.core import runs
from ftwizard.core.config import from_dict

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("heavy")]

LAYERS = 4


@pytest.fixture(scope="module")
def tiny_neox(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 4-layer GPT-NeoX (partial rotary, parallel residual, untied head) and a BPE tokenizer."""
    import torch
    from transformers import AutoConfig, AutoModelForCausalLM

    from ftwizard.core.tiny import train_tokenizer

    out = tmp_path_factory.mktemp("tiny-neox")
    train_tokenizer(out, arch="gpt2", vocab_size=384)
    cfg = AutoConfig.for_model("gpt_neox", vocab_size=384, hidden_size=64, intermediate_size=128,
                               num_hidden_layers=LAYERS, num_attention_heads=4,
                               max_position_embeddings=512, rotary_pct=0.25, bos_token_id=1,
                               eos_token_id=1, tie_word_embeddings=False)
    cfg.architectures = ["GPTNeoXForCausalLM"]
    torch.manual_seed(0)
    AutoModelForCausalLM.from_config(cfg).save_pretrained(out)
    return out


def pipeline_config(model: Path, data: Path, *, stages: int, nproc: int, **train_keys):
    t = {"micro_batch": 4, "grad_accum": 2, "max_steps": 16, "lr": 3e-3}
    t.update(train_keys)
    return config(model, data, method={"parallel": "pipeline", "pipeline_stages": stages},
                  hardware={"devices": nproc}, train=t)


def launch_line(run: Path, cfg: dict, nproc: int) -> list[str]:
    """The run dir's files as `ftwizard run` writes them (launch.render), and launch.sh to run."""
    out = runs.write_run_files(from_dict(cfg), run, nproc=nproc)
    if nproc > 1:
        assert "torch.distributed.run" in out.argv
        assert out.argv[out.argv.index("--nproc_per_node") + 1] == str(nproc)
    return ["bash", str(run / "launch.sh")]


def planned_total(cfg: dict, sequences: int) -> int:
    """What `ftwizard plan` says for this config, with the sequences the run counted."""
    from ftwizard.core.plan import make_plan

    plan = make_plan(from_dict(cfg), sequences=sequences)
    assert not plan.problems, [p.render() for p in plan.problems]
    return plan.steps.total


def assert_final_matches_pipeline(run: Path) -> None:
    """final/ is a plain Hugging Face model whose logits equal the pipeline's own (1e-4)."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    probe = torch.load(run / "pipeline_logits.pt")
    model = AutoModelForCausalLM.from_pretrained(run / "final").eval()
    AutoTokenizer.from_pretrained(run / "final")  # the tokenizer travels with it
    with torch.no_grad():
        logits = model(probe["input_ids"]).logits
    n = probe["logits"].shape[1]
    diff = (logits[:, :n] - probe["logits"]).abs().max().item()
    assert diff < 1e-4, diff


def test_two_stages_one_replica_trains_evaluates_and_saves_a_hf_model(tmp_path, tiny_neox):
    data = write_data(tmp_path / "data")
    cfg = pipeline_config(tiny_neox, data, stages=2, nproc=2, eval_every=8)
    cfg["data"]["validation"] = {"split": 0.1}
    run = make_run(tmp_path / "run", cfg)
    evts = finished(run, train(run, launch_line(run, cfg, 2)), gloo_exit_ok=True)
    evals = of(evts, "eval")
    assert [e["step"] for e in evals] == [8, 16]  # forward-only through the pipeline
    assert evals[1]["eval_loss"] < evals[0]["eval_loss"]
    start = of(evts, "start")[0]
    assert start["world_size"] == 2 and start["parallel"] == "pipeline"
    assert start["pipeline"]["stages"] == 2 and start["pipeline"]["replicas"] == 1
    assert start["pipeline"]["layers_per_stage"] == [2, 2]
    assert start["total_steps"] == planned_total(cfg, start["sequences"]) == of(evts, "step")[-1]["step"]
    assert_learned(evts)
    assert_final_matches_pipeline(run)


def test_stages_do_not_change_the_math(tmp_path, tiny_neox):
    """The same run as one process (1 stage) and as 2 stages: the same losses step by step, so
    the split, the micro batches and the loss normalisation are the model's own computation."""
    data = write_data(tmp_path / "data")
    runs = []
    for stages in (1, 2):
        cfg = pipeline_config(tiny_neox, data, stages=stages, nproc=stages, max_steps=6)
        run = make_run(tmp_path / f"run{stages}", cfg)
        runs.append(losses(finished(run, train(run, launch_line(run, cfg, stages)), gloo_exit_ok=True)))
    assert len(runs[0]) == 6
    assert runs[0] == pytest.approx(runs[1], abs=1e-4)


def test_two_stages_two_replicas_8bit_adam_plan_steps(tmp_path, tiny_neox):
    """4 processes: 2 replicas of a 2-stage pipeline, a whole epoch, bitsandbytes 8-bit AdamW
    on CPU tensors (seed 002's optimizer); the plan's step count for 2 replicas is the one
    trained."""
    data = write_data(tmp_path / "data")
    cfg = pipeline_config(tiny_neox, data, stages=2, nproc=4, max_steps=None, epochs=1,
                          save_every=10)
    cfg["method"]["optimizer"] = "adamw_8bit"
    run = make_run(tmp_path / "run", cfg)
    evts = finished(run, train(run, launch_line(run, cfg, 4), timeout=600), gloo_exit_ok=True)
    start = of(evts, "start")[0]
    assert start["world_size"] == 4 and start["pipeline"]["replicas"] == 2
    assert start["pipeline"]["optimizer"] == "AdamW8bit"
    total = planned_total(cfg, start["sequences"])
    assert start["total_steps"] == total == of(evts, "step")[-1]["step"]
    assert total == -(-(-(-start["sequences"] // 2) // 4) // 2)  # ceil(ceil(ceil(n/2)/4)/2)
    assert_learned(evts)
    assert_final_matches_pipeline(run)
    import torch

    ckpt = torch.load(run / "checkpoints" / "checkpoint-10" / "stage-1.pt", weights_only=False)
    # bitsandbytes keeps 8-bit states for tensors of 4096+ elements (smaller ones in fp32)
    states = [s.get("__bnb_optimizer_quant_state__", s) for s in ckpt["optimizer"]["state"].values()]
    quantized = [s for s in states if "qmap1" in s]
    assert quantized and all(s["state1"].dtype == torch.uint8 for s in quantized)


def kill_9_tree(pid: int) -> None:
    """SIGKILL the launcher and every worker: torchrun starts its workers in sessions of their
    own, so killing the launcher's process group alone leaves them training."""
    import psutil

    procs = [psutil.Process(pid), *psutil.Process(pid).children(recursive=True)]
    for p in procs:
        try:
            p.send_signal(signal.SIGKILL)
        except psutil.NoSuchProcess:
            pass
    psutil.wait_procs(procs, timeout=30)


def test_resume_after_kill_9_continues_exactly(tmp_path, tiny_neox):
    """kill -9 mid-run, then --resume: training restarts at the newest complete checkpoint and
    the losses from there on equal those of a run that was never interrupted."""
    data = write_data(tmp_path / "data")
    cfg = pipeline_config(tiny_neox, data, stages=2, nproc=2, max_steps=40, save_every=4,
                          keep_checkpoints=3)
    ref = make_run(tmp_path / "ref", cfg)
    argv = launch_line(ref, cfg, 2)
    reference = losses(finished(ref, train(ref, argv), gloo_exit_ok=True))

    run = make_run(tmp_path / "run", cfg)
    argv = launch_line(run, cfg, 2)
    proc = start_run(run, argv)
    wait_for(run, lambda e: e["type"] == "checkpoint" and e["step"] >= 8, timeout=300, proc=proc)
    kill_9_tree(proc.pid)
    proc.wait(timeout=60)
    assert not of(events(run), "end"), "the run ended before it was killed"
    complete = [int(p.name.split("-")[1]) for p in (run / "checkpoints").glob("checkpoint-*")
                if (p / "trainer_state.json").is_file()]
    newest = max(complete)
    assert json.loads((run / "checkpoints" / f"checkpoint-{newest}" / "trainer_state.json")
                      .read_text())["global_step"] == newest

    rc = train(run, argv, "--resume")
    assert end(run)["status"] == "finished", rc
    evts = events(run)
    second = of(evts, "start")[-1]
    assert second["resumed_from"] == newest
    after = [e for e in evts if e["type"] == "step" and e["time"] >= second["time"]]
    assert after[0]["step"] == newest + 1 and after[-1]["step"] == 40
    assert [e["loss"] for e in after] == pytest.approx(reference[newest:], abs=1e-4)
    assert_final_matches_pipeline(run)


def test_stop_file_saves_and_resume_finishes_a_tied_qwen2(tmp_path, tiny_qwen2):
    """Qwen2 with a tied head across 2 stages (first: embeddings, last: the same matrix as the
    head, kept equal by summing both gradients): RUN_DIR/stop saves a checkpoint and ends the run
    as stopped, --resume finishes it, and final/ (one tied matrix) reproduces the pipeline's
    logits, which it could not if the two copies had drifted apart."""
    data = write_data(tmp_path / "data")
    cfg = pipeline_config(tiny_qwen2, data, stages=2, nproc=2, max_steps=40, save_every=1000)
    run = make_run(tmp_path / "run", cfg)
    argv = launch_line(run, cfg, 2)
    proc = start_run(run, argv)
    wait_for(run, lambda e: e["type"] == "step" and e["step"] >= 3, timeout=300, proc=proc)
    (run / "stop").write_text("")
    proc.wait(timeout=300)
    stopped = end(run)
    assert stopped["status"] == "stopped", stopped
    step = stopped["step"]
    assert 3 <= step < 40
    assert (run / "checkpoints" / f"checkpoint-{step}" / "trainer_state.json").is_file()
    assert not (run / "stop").exists()

    evts = finished(run, train(run, argv, "--resume"), gloo_exit_ok=True)
    start = of(evts, "start")[-1]
    assert start["resumed_from"] == step and start["pipeline"]["tied_embeddings"] is True
    assert of(evts, "step")[-1]["step"] == 40
    assert_final_matches_pipeline(run)


def test_sigterm_to_the_launcher_saves_and_ends_stopped(tmp_path, tiny_neox):
    """What a scheduler does before it preempts a job (Slurm sends SIGTERM, then SIGKILL): the
    launcher forwards SIGTERM to both stage processes, they agree to stop at the same step, save
    a checkpoint and end the run as stopped, so `--resume` continues from there."""
    data = write_data(tmp_path / "data")
    cfg = pipeline_config(tiny_neox, data, stages=2, nproc=2, max_steps=200, save_every=1000)
    run = make_run(tmp_path / "run", cfg)
    argv = launch_line(run, cfg, 2)
    proc = start_run(run, argv)
    wait_for(run, lambda e: e["type"] == "step" and e["step"] >= 3, timeout=300, proc=proc)
    proc.send_signal(signal.SIGTERM)        # the launcher only, as `scancel` / a preemption does
    proc.wait(timeout=300)
    stopped = end(run)
    assert stopped["status"] == "stopped", stopped
    step = stopped["step"]
    assert 3 <= step < 200
    assert (run / "checkpoints" / f"checkpoint-{step}" / "trainer_state.json").is_file()
