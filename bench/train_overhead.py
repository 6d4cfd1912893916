"""What does ftwizard cost while training? Tokens/s of `python -m ftwizard.core.train` against a
plain hand-written transformers Trainer script on the same tiny model and the same sequences.

Both are timed inside the training loop after a warm-up (imports, model load and the first steps
do not count): ftwizard from its own step events, the plain script from a bare callback clock.
ftwizard writes an event and a status line per step; the plain script logs nothing. Runs
alternate (A B A B ...) so a drifting machine affects both; the median ratio is printed.

    python bench/train_overhead.py [--rounds 3] [--steps 60] [--warmup 10] [--json OUT]

Goal: ratio >= 0.97.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

PLAIN = textwrap.dedent('''
    import json, sys, time
    import torch
    from transformers import AutoModelForCausalLM, Trainer, TrainerCallback, TrainingArguments

    model_dir, data_file, out_dir, steps, mb, lr = sys.argv[1:7]
    seqs = json.load(open(data_file))

    class Clock(TrainerCallback):
        times = []
        def on_step_end(self, args, state, control, **kw):
            self.times.append(time.perf_counter())

    def collate(batch):
        ids = torch.tensor([b["input_ids"] for b in batch])
        return {"input_ids": ids, "attention_mask": torch.ones_like(ids), "labels": ids.clone()}

    model = AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.float32)
    args = TrainingArguments(output_dir=out_dir, per_device_train_batch_size=int(mb),
                             max_steps=int(steps), learning_rate=float(lr), use_cpu=True,
                             logging_steps=10**6, save_strategy="no", report_to=[],
                             disable_tqdm=True, remove_unused_columns=False, seed=7, data_seed=7)
    trainer = Trainer(model=model, args=args, train_dataset=seqs, data_collator=collate,
                      callbacks=[Clock()])
    trainer.train()
    print("TIMES " + json.dumps(Clock.times))
''')


def tokens_per_s(times: list[float], warmup: int, tokens_per_step: int) -> float:
    t = times[warmup - 1:]
    return (len(t) - 1) * tokens_per_step / (t[-1] - t[0])


def run_ftwizard(run_dir: Path, warmup: int, tokens_per_step: int) -> float:
    from ftwizard.core import events as ev

    for p in ("events.jsonl", "status.json"):
        (run_dir / p).unlink(missing_ok=True)
    subprocess.run([sys.executable, "-m", "ftwizard.core.train", str(run_dir)], check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=_env())
    evts = ev.read_events(run_dir / "events.jsonl")[0]
    times = [e["time"] for e in evts if e["type"] == "step"]
    return tokens_per_s(times, warmup, tokens_per_step)


def run_plain(script: Path, model: Path, data: Path, out: Path, steps: int, mb: int, lr: float,
              warmup: int, tokens_per_step: int) -> float:
    res = subprocess.run([sys.executable, str(script), str(model), str(data), str(out), str(steps),
                          str(mb), str(lr)], check=True, capture_output=True, text=True, env=_env())
    line = next(x for x in res.stdout.splitlines() if x.startswith("TIMES "))
    return tokens_per_s(json.loads(line[6:]), warmup, tokens_per_step)


def _env() -> dict[str, str]:
    e = dict(os.environ)
    e.update({"WANDB_DISABLED": "true", "TOKENIZERS_PARALLELISM": "false", "HF_HUB_OFFLINE": "1"})
    return e


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--steps", type=int, default=60)
    ap.add_argument("--warmup", type=int, default=10)
    ap.add_argument("--micro-batch", type=int, default=8)
    ap.add_argument("--block", type=int, default=128)
    ap.add_argument("--json", type=Path, default=None)
    a = ap.parse_args()

    from ftwizard.core.config import from_dict
    from ftwizard.core.data import load_tokenizer, prepare
    from ftwizard.core.tiny import ensure_tiny

    work = Path(tempfile.mkdtemp(prefix="ftw-bench-"))
    model = ensure_tiny("tiny-llama")
    words = ["red", "blue", "green", "cat", "dog", "runs", "jumps", "the", "a", "big"]
    text = work / "train.jsonl"
    text.write_text("".join(json.dumps({"text": " ".join(words[(i + j) % 10] for j in range(40))})
                            + "\n" for i in range(2000)))
    lr = 1e-3
    cfg_dict = {"name": "bench", "model": {"name": str(model), "dtype": "fp32"},
                "data": {"train": [{"path": str(text)}], "mode": "corpus", "block_size": a.block},
                "train": {"micro_batch": a.micro_batch, "max_steps": a.steps, "lr": lr,
                          "scheduler": "constant", "warmup_ratio": 0, "save_every": 10**6,
                          "eval_every": 10**6, "log_every": 1, "seed": 7},
                "output": {"sample_prompt": None}}
    cfg = from_dict(cfg_dict)
    run_dir = work / "run"
    run_dir.mkdir()
    (run_dir / "config.yaml").write_text(cfg.to_yaml())
    # The plain script trains on exactly the sequences ftwizard prepares.
    seqs = [{"input_ids": s["input_ids"]} for s in prepare(cfg, load_tokenizer(cfg.model)).train]
    data = work / "seqs.json"
    data.write_text(json.dumps(seqs))
    script = work / "plain_trainer.py"
    script.write_text(PLAIN)
    tokens_per_step = a.micro_batch * a.block

    ftw, plain = [], []
    for _ in range(a.rounds):
        ftw.append(run_ftwizard(run_dir, a.warmup, tokens_per_step))
        plain.append(run_plain(script, model, data, work / "plain-out", a.steps, a.micro_batch, lr,
                               a.warmup, tokens_per_step))
        print(f"ftwizard {ftw[-1]:,.0f} tok/s   plain Trainer {plain[-1]:,.0f} tok/s   "
              f"ratio {ftw[-1] / plain[-1]:.3f}", flush=True)
    ratios = [f / p for f, p in zip(ftw, plain)]
    result = {"ftwizard_tokens_per_s": statistics.median(ftw),
              "plain_tokens_per_s": statistics.median(plain),
              "ratio_median": statistics.median(ratios), "ratios": ratios,
              "steps": a.steps, "warmup": a.warmup, "micro_batch": a.micro_batch, "block": a.block,
              "model": "tiny-llama (hidden 64, 2 layers)", "goal": 0.97}
    print(f"median ratio ftwizard / plain = {result['ratio_median']:.3f} (goal >= 0.97)")
    if a.json:
        a.json.write_text(json.dumps(result, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
