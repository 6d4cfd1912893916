"""The real `ftwizard --plain` console command in a pseudo-terminal: answer its questions like a
user, then check the config it wrote and the estimate lines it printed."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from ftwizard.core.config import load_config

pexpect = pytest.importorskip("pexpect")

KILL_LINE = "\x15"  # ctrl+u: clear the default answer


@pytest.mark.skipif(shutil.which("ftwizard") is None, reason="console script not installed")
def test_plain_mode_writes_config(tmp_path: Path, tiny_llama: Path) -> None:
    (tmp_path / "train.txt").write_text("\n".join(f"line {i} of some text" for i in range(300)))
    env = {**os.environ, "TERM": "xterm", "COLUMNS": "100", "LINES": "40"}
    child = pexpect.spawn("ftwizard", ["--plain"], cwd=str(tmp_path), env=env,
                          encoding="utf-8", timeout=60, dimensions=(40, 100))
    answers = [  # (prompt, keys); Enter alone keeps the default
        ("Plan for", "\r"), ("Host RAM", "\r"), ("Nodes", "\r"),
        ("Model", "\r"), ("Precision", "\r"),
        ("Fine-tuning", "\x1b[B\r"),          # down: Full -> LoRA
        ("LoRA rank", KILL_LINE + "8\r"), ("LoRA alpha", "\r"),
        ("Parallel", "\r"), ("Grad checkpointing", "\r"), ("Optimizer", "\r"),
        ("== Objective", ""), ("Objective", "\r"),   # the step's header, then its question
        ("Train files", KILL_LINE + "train.txt\r"), ("Mode", "\r"),
        ("Block size", KILL_LINE + "32\r"), ("Validation share", "\r"),
        ("Micro batch", KILL_LINE + "2\r"), ("Grad accum", KILL_LINE + "1\r"),
        ("Epochs", "\r"), ("Max steps", KILL_LINE + "3\r"), ("Learning rate", "\r"),
        ("End LR", "\r"), ("Schedule", "\r"), ("Warmup share", "\r"), ("Save every", "\r"),
        ("Eval every", "\r"), ("Keep ckpts", "\r"),
        ("Run name", KILL_LINE + "plain-run\r"), ("Runs folder", "\r"), ("Report to", "\r"),
        ("Save config to", "\r"),
    ]
    seen = []
    for prompt, keys in answers:
        child.expect_exact(prompt)
        seen.append(child.before)
        child.send(keys)
    child.expect(pexpect.EOF)
    child.close()
    transcript = "".join(seen) + (child.before or "")
    assert child.exitstatus == 0, transcript[-2000:]
    assert "RAM" in transcript and "fits" in transcript  # the estimate line after answers
    cfg = load_config(tmp_path / "plain-run.yaml")
    assert cfg.name == "plain-run"
    assert cfg.model.name == "tiny-llama" and cfg.method.kind == "lora" and cfg.method.lora.r == 8
    # questionary's path prompt may complete the name to an absolute path: same file either way
    assert [(tmp_path / s.path).resolve() for s in cfg.data.train] == [tmp_path / "train.txt"]
    assert cfg.data.sequences is None
    assert cfg.data.block_size == 32
    assert (cfg.train.micro_batch, cfg.train.grad_accum, cfg.train.max_steps) == (2, 1, 3)


@pytest.mark.skipif(shutil.which("ftwizard") is None, reason="console script not installed")
def test_plain_mode_asks_the_dpo_knobs(tmp_path: Path, tiny_llama: Path) -> None:
    """DPO in plain mode: the same Objective question (each choice's help as questionary's
    description), then only DPO's knobs, the learning-rate warning, the data shape said before
    the Train files question, no Mode question, and the objective's line in the review."""
    import json

    rows = [{"prompt": f"Question {i}:", "chosen": " a kind answer.", "rejected": " go away."}
            for i in range(24)]
    (tmp_path / "pairs.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    env = {**os.environ, "TERM": "xterm", "COLUMNS": "100", "LINES": "40"}
    child = pexpect.spawn("ftwizard", ["--plain"], cwd=str(tmp_path), env=env,
                          encoding="utf-8", timeout=60, dimensions=(40, 100))
    answers = [
        ("Plan for", "\r"), ("Host RAM", "\r"), ("Nodes", "\r"),
        ("Model", "\r"), ("Precision", "\r"),
        ("Fine-tuning", "\r"), ("Parallel", "\r"), ("Grad checkpointing", "\r"),
        ("Optimizer", "\r"),
        ("== Objective", ""), ("SFT: next-token loss", "\x1b[B"),   # down: SFT -> DPO
        ("DPO: learns from preference pairs", "\r"),
        ("Beta", KILL_LINE + "0.2\r"), ("Loss", "\r"), ("Reference", "\r"),
        ("Truncation", "\x1b[B\r"),                                   # keep end
        ("dpo trains on pairs", ""), ("Train files", KILL_LINE + "pairs.jsonl\r"),
        ("Block size", KILL_LINE + "32\r"),   # next after Train files: no Mode for pairs
        ("Validation share", "\r"),
        ("Micro batch", KILL_LINE + "2\r"), ("Grad accum", KILL_LINE + "1\r"),
        ("Epochs", "\r"), ("Max steps", KILL_LINE + "3\r"), ("Learning rate", "\r"),
        ("End LR", "\r"), ("Schedule", "\r"), ("Warmup share", "\r"), ("Save every", "\r"),
        ("Eval every", "\r"), ("Keep ckpts", "\r"),
        ("Run name", KILL_LINE + "plain-dpo\r"), ("Runs folder", "\r"), ("Report to", "\r"),
        ("objective: DPO · beta 0.2 · loss sigmoid · reference frozen copy · truncation keep end",
         ""),
        ("Save config to", "\r"),
    ]
    seen = []
    for prompt, keys in answers:
        child.expect_exact(prompt)
        seen.append(child.before)
        if keys:
            child.send(keys)
    child.expect(pexpect.EOF)
    child.close()
    transcript = "".join(seen) + (child.before or "")
    assert child.exitstatus == 0, transcript[-2000:]
    assert "learning rate" in transcript and "SFT-sized" in transcript
    cfg = load_config(tmp_path / "plain-dpo.yaml")
    assert cfg.train.objective == "dpo" and cfg.method.kind == "full"
    assert (cfg.train.preference.beta, cfg.train.preference.truncation) == (0.2, "keep_end")
