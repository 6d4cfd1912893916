"""Peak RSS of TRL's DPOTrainer on the CPU against core/memory.py's estimate (issue 15, planning).

Builds two random Llamas with core/tiny.py (h 512 / 4 layers and h 1024 / 8 layers, V 32,000,
untied), trains full fp32 DPO for 3 steps with the reference held (auto) and precomputed, each in
its own process, and prints the measured peak RSS (ru_maxrss), the estimate (on_cpu: the counter is
the process's peak RSS) and their ratio. The difference auto - precomputed is the reference copy.
Also measures TRL's fused LM head alone (ChunkedLogProbFunction), in tile-sized fp32 temporaries,
which is where the CPU's FUSED_CPU_*_TILES come from. ~5 minutes on 2 busy cores:

    python bench/preference_memory_cpu.py
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from pathlib import Path

MODELS = {  # name: (overrides, micro batch, block)
    "llama-h512-l4": ({"hidden_size": 512, "intermediate_size": 1376, "num_hidden_layers": 4,
                       "num_attention_heads": 8, "num_key_value_heads": 8}, 4, 256),
    "llama-h1024-l8": ({"hidden_size": 1024, "intermediate_size": 2816, "num_hidden_layers": 8,
                        "num_attention_heads": 16, "num_key_value_heads": 16}, 1, 128),
}

CHILD = r'''
import json, random, resource, sys
import torch
from datasets import Dataset
from transformers import AutoModelForCausalLM, AutoTokenizer
from trl import DPOConfig, DPOTrainer
path, ref, mb, block, out = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), sys.argv[5]
torch.manual_seed(0); random.seed(0)
words = "the quick brown fox jumps over lazy dog a journey of thousand miles begins".split()
text = lambda n: " ".join(random.choice(words) for _ in range(n))
rows = [{"prompt": text(20), "chosen": " " + text(block), "rejected": " " + text(block)}
        for _ in range(mb * 3)]
tok = AutoTokenizer.from_pretrained(path)
model = AutoModelForCausalLM.from_pretrained(path, dtype=torch.float32)
args = DPOConfig(output_dir=out, per_device_train_batch_size=mb, max_steps=3, max_length=block,
                 use_cpu=True, report_to=[], save_strategy="no", bf16=False,
                 precompute_ref_log_probs=ref == "precomputed", gradient_checkpointing=False)
DPOTrainer(model=model, args=args, train_dataset=Dataset.from_list(rows),
           processing_class=tok).train()
print(json.dumps({"peak_rss": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024}))
'''

HEAD = r'''
import json, resource, sys, torch
from trl.kernels import ChunkedLogProbFunction as F
N, H, V = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
hidden = torch.randn(N, H, requires_grad=True)
weight = (torch.randn(V, H) * 0.02).requires_grad_(False)
r0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
o = F.apply(hidden, weight, None, torch.randint(0, V, (N,)), 1.0, 32768, None, 1.0,
            ("log_probs", "entropy", "mean_logits", "is_top1"))
r1 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
(o[0].sum() + 0.1 * o[1].sum()).backward()
r2 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
tile = min(N, 4096) * min(V, 32768) * 4
print(json.dumps({"forward_tiles": (r1 - r0) / tile, "backward_tiles": (r2 - r0) / tile}))
'''


def run(code: str, *args: str) -> dict:
    r = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True,
                       env={"TQDM_DISABLE": "1", **__import__("os").environ}, timeout=1800)
    if r.returncode:
        raise SystemExit(r.stderr[-2000:])
    return json.loads(r.stdout.strip().splitlines()[-1])


def main() -> None:
    from ftwizard.core import memory as mem
    from ftwizard.core import models
    from ftwizard.core.config import from_dict
    from ftwizard.core.tiny import build_tiny_model

    for n in (1024, 2048):
        print(f"fused head alone, N {n}, h 512, V 32000:", run(HEAD, str(n), "512", "32000"))
    with tempfile.TemporaryDirectory() as tmp:
        for name, (over, mb, block) in MODELS.items():
            path = Path(tmp) / name
            build_tiny_model(path, arch="llama", overrides={
                "vocab_size": 32000, "max_position_embeddings": 1024,
                "tie_word_embeddings": False, **over})
            spec = models.resolve(str(path))
            for ref in ("auto", "precomputed"):
                measured = run(CHILD, str(path), ref, str(mb), str(block), str(Path(tmp) / "out"))
                cfg = from_dict({"model": {"name": str(path), "dtype": "fp32"},
                                 "method": {"kind": "full", "gradient_checkpointing": False},
                                 "data": {"block_size": block},
                                 "train": {"objective": "dpo", "micro_batch": mb,
                                           "preference": {"reference": ref}}})
                est = mem.per_device_bytes(spec, mem.Setup.from_config(cfg, 1), on_cpu=True)
                print(f"{name} ({spec.params:,} params) dpo mb {mb} block {block} reference "
                      f"{ref}: measured {measured['peak_rss'] / 1e9:.2f} GB, estimated "
                      f"{est / 1e9:.2f} GB, ratio {measured['peak_rss'] / est:.2f}")


if __name__ == "__main__":
    main()
