"""Property tests (issue 13): what must hold for every input, not only the ones we thought of.

- a RunConfig written to YAML and read back is the same RunConfig (odd strings included);
- the step count covers the data exactly as the HF Trainer will take it: its own arithmetic
  (Trainer.set_initial_training_values) over a real DataLoader with a DistributedSampler;
- the memory estimate never falls when the micro batch, the sequence or the layers grow, or when
  the GPUs it is spread over become fewer.

Examples are bounded (max_examples ~50, no deadline) so the file stays quick on 2 shared cores.
"""

from __future__ import annotations

import dataclasses
import math
from types import SimpleNamespace

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from ftwizard.core.config import RunConfig, from_dict, parse_config
from ftwizard.core.schedule import count_steps

SETTINGS = settings(max_examples=50, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow])

# ---------------------------------------------------------------- config round trip

# Strings YAML likes to reinterpret: booleans, nulls, numbers, dates, comments, anchors, colons.
TRICKY = st.sampled_from(["yes", "no", "on", "off", "null", "~", "true", "1e3", "0x1F", "010",
                          "2026-11-30", "#not a comment", "&anchor", "*alias", "a: b", "- item",
                          "", " lead", "trail ", "tab\there", "line\nbreak", "quote'\"", "ünï",
                          "日本語", "%percent", "@at", "`tick`", "{x}", "[y]", "!tag"])
TEXT = st.one_of(TRICKY, st.text(max_size=20))
POS_FLOAT = st.floats(min_value=1e-9, max_value=1e3, allow_nan=False, allow_infinity=False)
UNIT = st.floats(min_value=0.0, max_value=0.99, allow_nan=False)


@st.composite
def run_configs(draw: st.DrawFn) -> RunConfig:
    kind = draw(st.sampled_from(["full", "lora", "qlora"]))
    method = {
        "kind": kind,
        "quant_bits": draw(st.sampled_from([4, 8])) if kind == "qlora" else None,
        "double_quant": draw(st.booleans()),
        "lora": {"r": draw(st.integers(1, 256)), "alpha": draw(POS_FLOAT),
                 "dropout": draw(UNIT),
                 "target_modules": draw(st.one_of(st.just("all-linear"),
                                                  st.lists(TEXT, min_size=1, max_size=3)))},
        "parallel": draw(st.sampled_from(["none", "ddp", "deepspeed", "fsdp", "split"])),
        "zero_stage": draw(st.sampled_from([1, 2, 3])),
        "offload_optimizer": draw(st.booleans()),
        "gradient_checkpointing": draw(st.booleans()),
        "optimizer": draw(st.sampled_from(["adamw", "adamw_8bit", "paged_adamw_8bit",
                                           "adafactor", "sgd"])),
    }
    sources = draw(st.lists(st.fixed_dictionaries({
        "path": st.one_of(TRICKY, st.text(min_size=1, max_size=20)).filter(lambda s: s.strip()),
        "weight": POS_FLOAT, "text_field": TEXT,
        "format": st.sampled_from(["auto", "text", "csv", "jsonl", "parquet"])}), max_size=3))
    validation = draw(st.one_of(st.none(), st.fixed_dictionaries(
        {"split": st.floats(min_value=0.001, max_value=0.9)}), st.fixed_dictionaries(
        {"path": st.text(min_size=1, max_size=10)})))
    data = {"train": sources, "validation": validation,
            "mode": draw(st.sampled_from(["corpus", "entries"])),
            "block_size": draw(st.integers(1, 1 << 17)),
            "sequences": draw(st.one_of(st.none(), st.integers(1, 10**9))),
            "mask_prompt": draw(st.booleans())}
    train = {"micro_batch": draw(st.integers(1, 512)), "grad_accum": draw(st.integers(1, 512)),
             "epochs": draw(POS_FLOAT), "max_steps": draw(st.one_of(st.none(), st.integers(1, 10**7))),
             "lr": draw(POS_FLOAT), "end_lr": draw(st.one_of(st.none(), st.floats(0, 1))),
             "scheduler": draw(st.sampled_from(["constant", "linear", "cosine"])),
             "warmup_ratio": draw(UNIT), "drop_last": draw(st.booleans()),
             "eval_every": draw(st.integers(1, 10**6)), "seed": draw(st.integers(-2**31, 2**31))}
    model = {"name": draw(TEXT), "dtype": draw(st.sampled_from(["fp32", "fp16", "bf16"])),
             "pad_token_id": draw(st.one_of(st.none(), st.integers(0, 10**6))),
             "tokenizer": draw(st.one_of(st.none(), TEXT))}
    return from_dict({"name": draw(TEXT), "description": draw(TEXT), "model": model,
                      "method": method, "data": data, "train": train,
                      "hardware": {"target": draw(TEXT), "nodes": draw(st.integers(1, 64))},
                      "output": {"dir": draw(TEXT), "sample_prompt": draw(st.one_of(st.none(), TEXT))}})


@SETTINGS
@given(run_configs())
@example(from_dict({"name": "a\u2028b", "output": {"sample_prompt": "\x85"}}))  # found by this test
def test_config_yaml_round_trip(cfg: RunConfig) -> None:
    again = parse_config(cfg.to_yaml(), source="round-trip")
    assert again == cfg
    assert again.to_yaml() == cfg.to_yaml()


# ---------------------------------------------------------------- step arithmetic

def _hf_steps(n: int, *, micro_batch: int, grad_accum: int, world: int, epochs: float,
              max_steps: int | None) -> tuple[int, int]:
    """(steps per epoch, total steps) as the HF Trainer computes them, from rank 0's real
    DataLoader over a DistributedSampler (which pads every rank to ceil(n / world) samples)."""
    from torch.utils.data import DataLoader
    from torch.utils.data.distributed import DistributedSampler
    from transformers import Trainer

    data = list(range(n))
    sampler = DistributedSampler(data, num_replicas=world, rank=0, shuffle=False, drop_last=False)
    loader = DataLoader(data, batch_size=micro_batch, sampler=sampler, drop_last=False)
    args = SimpleNamespace(max_steps=max_steps if max_steps is not None else -1,
                           gradient_accumulation_steps=grad_accum, num_train_epochs=epochs)
    # The Trainer's own method, run on a stand-in `self` that answers only what it asks about.
    me = SimpleNamespace(get_total_train_batch_size=lambda a: micro_batch * grad_accum * world,
                         get_sp_size=lambda: 1, num_examples=lambda dl: len(dl.dataset))
    out = Trainer.set_initial_training_values(me, args, loader)
    per_epoch, total = out[1], out[6]
    # The sampler hands rank 0 exactly ceil(n / world) samples, padding by repeating the first.
    assert len(list(iter(sampler))) == math.ceil(n / world)
    return per_epoch, total


@SETTINGS
@given(n=st.integers(1, 5000), mb=st.integers(1, 64), ga=st.integers(1, 32),
       world=st.integers(1, 16), epochs=st.floats(0.05, 5.0), max_steps=st.none() | st.integers(1, 500))
def test_steps_match_the_hf_trainer_and_cover_the_data(n: int, mb: int, ga: int, world: int,
                                                       epochs: float, max_steps: int | None) -> None:
    s = count_steps(n, micro_batch=mb, grad_accum=ga, world_size=world, epochs=epochs,
                    max_steps=max_steps)
    per_epoch, total = _hf_steps(n, micro_batch=mb, grad_accum=ga, world=world, epochs=epochs,
                                 max_steps=max_steps)
    assert (s.per_epoch, s.total) == (per_epoch, total)
    # As promised: one epoch's steps see every sequence, and one step fewer would not.
    assert s.per_epoch * s.global_batch >= n
    assert (s.per_epoch - 1) * s.global_batch < n + world * mb  # the sampler's padding at most
    assert 0 < s.last_step_sequences <= s.global_batch
    assert s.dropped_samples == 0
    assert 0 <= s.warmup <= s.total and s.warmup + s.anneal == s.total


@SETTINGS
@given(n=st.integers(1, 5000), mb=st.integers(1, 64), ga=st.integers(1, 32),
       world=st.integers(1, 16))
def test_drop_last_drops_only_what_misses_a_whole_global_batch(n: int, mb: int, ga: int,
                                                               world: int) -> None:
    from ftwizard.core.errors import InputError

    g = mb * ga * world
    try:
        s = count_steps(n, micro_batch=mb, grad_accum=ga, world_size=world, drop_last=True)
    except InputError as err:   # fewer sequences than one global batch: refused, never 0 steps
        assert n < g and err.field == "train.drop_last"
        return
    assert n >= g
    assert s.per_epoch * g + s.dropped_samples == n and 0 <= s.dropped_samples < g
    assert s.last_step_sequences == g
    # the backend trims the data to the used sequences; the Trainer then takes exactly these steps
    per_epoch, _ = _hf_steps(n - s.dropped_samples, micro_batch=mb, grad_accum=ga, world=world,
                             epochs=1, max_steps=None)
    assert per_epoch == s.per_epoch


# ---------------------------------------------------------------- memory is monotonic

MODELS = ["gpt2", "meta-llama/Llama-3.2-1B", "Qwen/Qwen2.5-0.5B", "EleutherAI/gpt-j-6B",
          "mistralai/Mistral-7B-v0.1", "google/gemma-2-2b"]


@st.composite
def setups(draw: st.DrawFn, parallel: list[str] | None = None) -> tuple:
    from ftwizard.core import models
    from ftwizard.core.memory import Setup

    kind = draw(st.sampled_from(["full", "lora", "qlora"]))
    cfg = from_dict({
        "model": {"name": "gpt2", "dtype": draw(st.sampled_from(["fp32", "fp16", "bf16"]))},
        "method": {"kind": kind, "quant_bits": draw(st.sampled_from([4, 8])) if kind == "qlora" else None,
                   "parallel": draw(st.sampled_from(parallel or ["none", "ddp", "deepspeed", "fsdp"])),
                   "zero_stage": draw(st.sampled_from([1, 2, 3])),
                   "offload_optimizer": draw(st.booleans()),
                   "gradient_checkpointing": draw(st.booleans()),
                   "optimizer": draw(st.sampled_from(["adamw", "adamw_8bit", "adafactor", "sgd"])),
                   "lora": {"r": draw(st.integers(1, 128))}},
        "data": {"block_size": draw(st.integers(16, 8192))},
        "train": {"micro_batch": draw(st.integers(1, 32)),
                  "objective": draw(st.sampled_from(["sft", "dpo", "orpo", "kto", "reward"])),
                  "preference": {"reference": draw(st.sampled_from(["auto", "precomputed"]))}},
    })
    world = draw(st.integers(1, 16))
    spec = models.resolve(draw(st.sampled_from(MODELS)))
    return spec, Setup.from_config(cfg, world=world), draw(st.booleans())


def _mem(spec, s, on_cpu: bool) -> int:  # noqa: ANN001
    from ftwizard.core.memory import per_device_bytes

    return per_device_bytes(spec, s, on_cpu=on_cpu)


@SETTINGS
@given(setups(), st.integers(1, 32), st.integers(1, 4096))
def test_memory_never_falls_when_batch_or_sequence_grows(case: tuple, more_batch: int,
                                                         more_seq: int) -> None:
    spec, s, on_cpu = case
    base = _mem(spec, s, on_cpu)
    assert _mem(spec, dataclasses.replace(s, micro_batch=s.micro_batch + more_batch), on_cpu) >= base
    assert _mem(spec, dataclasses.replace(s, seq=s.seq + more_seq), on_cpu) >= base


@SETTINGS
@given(setups(), st.integers(1, 48))
def test_memory_never_falls_when_layers_grow(case: tuple, more: int) -> None:
    spec, s, on_cpu = case
    bigger = dataclasses.replace(spec, n_layers=spec.n_layers + more,
                                 params=spec.params + more * spec.params_per_layer)
    assert _mem(spec, s, on_cpu) <= _mem(bigger, s, on_cpu)


@SETTINGS
@given(setups(["ddp", "deepspeed", "fsdp"]), st.integers(1, 15))
def test_memory_never_falls_when_gpus_shrink(case: tuple, fewer: int) -> None:
    """Sharded states (ZeRO, FSDP) spread over fewer GPUs weigh more on each. Going down to one GPU
    may drop exactly one thing: the NCCL communicator's buffers, which a single GPU never holds.
    (parallel: none always plans one device, see plan.layout, so it has no fewer GPUs to try.)"""
    from ftwizard.core.memory import NCCL_BYTES

    spec, s, _ = case
    if s.world <= 1:
        return
    smaller = dataclasses.replace(s, world=max(1, s.world - fewer))
    alone = NCCL_BYTES if smaller.world == 1 else 0
    assert _mem(spec, smaller, False) + alone >= _mem(spec, s, False)
