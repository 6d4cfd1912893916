"""Packing (data.packing): no example attends to another, and the plan counts the packed sequences
the Trainer really steps through (drop_last and grad_accum included)."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest

from backend_kit import WORDS, config, make_run
from ftwizard.core.config import from_dict
from ftwizard.core.data_prep import best_fit_decreasing, pack_source


def realistic_lengths(n: int, block: int, seed: int = 0) -> list[int]:
    """Many short examples, few long (log-normal, as chat and instruction sets are)."""
    rng = random.Random(seed)
    return [max(2, min(block + 8, int(rng.lognormvariate(2.3, 0.7)))) for _ in range(n)]


def write_words(path: Path, lengths: list[int]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps({"text": " ".join(WORDS[(i + j) % 10]
                                                         for j in range(n))}) + "\n"
                            for i, n in enumerate(lengths)))
    return path


def test_best_fit_decreasing_fills_blocks() -> None:
    lengths = realistic_lengths(500, 64)
    kept = [min(n, 64) for n in lengths]
    bins = best_fit_decreasing(kept, 64)
    assert sorted(i for b in bins for i in b) == list(range(500))
    assert all(sum(kept[i] for i in b) <= 64 for b in bins)
    lower = -(-sum(kept) // 64)
    assert len(bins) <= lower * 1.05 + 1          # BFD is within a few % of the bound here


@pytest.mark.e2e
@pytest.mark.parametrize("arch", ["llama", "qwen2", "gpt2"])
@pytest.mark.parametrize("attn", ["sdpa", "eager"])
def test_packed_example_logits_equal_alone(arch: str, attn: str, tiny_llama: Path,
                                           tiny_qwen2: Path, tiny_gpt2: Path) -> None:
    import torch
    from transformers import AutoModelForCausalLM

    from ftwizard.core.backends.hf import Collator

    path = {"llama": tiny_llama, "qwen2": tiny_qwen2, "gpt2": tiny_gpt2}[arch]
    model = AutoModelForCausalLM.from_pretrained(str(path), attn_implementation=attn,
                                                 dtype=torch.float32).eval()
    rng = random.Random(1)
    examples = [[rng.randrange(3, 300) for _ in range(n)] for n in (17, 5, 29, 9)]
    (block,) = pack_source([(ids, None) for ids in examples], "entries", 64, 0, "all",
                           packing=True)
    assert sum(block["attention_mask"]) == sum(map(len, examples)) < 64  # one block, padded
    batch = Collator(0)([block])
    assert "attention_mask" not in batch
    with torch.no_grad():
        packed = model(**{k: v for k, v in batch.items() if k != "labels"}).logits[0]
        at = 0
        order = [len(e) for e in examples]
        # the block holds the examples longest first (best-fit-decreasing)
        for n in sorted(order, reverse=True):
            ids = block["input_ids"][at:at + n]
            alone = model(input_ids=torch.tensor([ids])).logits[0]
            assert torch.allclose(packed[at:at + n], alone, atol=1e-5, rtol=0), \
                (arch, attn, n, (packed[at:at + n] - alone).abs().max())
            at += n


@pytest.mark.e2e
@pytest.mark.parametrize("micro_batch,grad_accum,drop_last", [(4, 3, False), (4, 2, True)])
def test_packed_run_takes_the_planned_steps(tmp_path: Path, tiny_llama: Path, micro_batch: int,
                                            grad_accum: int, drop_last: bool) -> None:
    from ftwizard.core.backends import hf
    from ftwizard.core.plan import data_sequences, hardware_for, make_plan

    def planned(d: dict):  # as `ftwizard plan` does it: the data counted, then the plan
        c = from_dict(d)
        return make_plan(c, hardware=hardware_for(c.hardware.target, c.hardware.nodes,
                                                  c.hardware.host_ram_gib),
                         sequences=data_sequences(c))

    data = write_words(tmp_path / "data" / "train.jsonl", realistic_lengths(300, 64))
    cfg_dict = config(tiny_llama, data, data={"mode": "entries", "block_size": 64,
                                              "packing": True},
                      train={"micro_batch": micro_batch, "grad_accum": grad_accum,
                             "drop_last": drop_last, "epochs": 1, "max_steps": None,
                             "save_every": 10_000})
    run = make_run(tmp_path / "run", cfg_dict)
    cfg = from_dict(cfg_dict)
    plan = planned(cfg_dict)
    unpacked = planned({**cfg_dict, "data": {**cfg_dict["data"], "packing": False}})
    assert plan.steps.sequences < unpacked.steps.sequences / 2   # packing really packed
    out = hf.train(cfg, run)
    assert out.trainer.state.max_steps == plan.steps.total
    assert out.trainer.state.global_step == plan.steps.total
    assert len(out.trainer.train_dataset) == plan.steps.sequences - plan.steps.dropped_samples
    assert all("position_ids" in s for s in out.trainer.train_dataset)
