"""Step and schedule arithmetic: seed cases and the HF Trainer's own rules (FACTS.md)."""

from __future__ import annotations

import pytest

from ftwizard.core.errors import InputError
from ftwizard.core.schedule import (checkpoint_bytes, count_steps, lr_at, round_half_up,
                                    suggest_grad_accum)


def test_seed_000_worked_example() -> None:
    """1147 sequences / batch 16 -> 72 steps per epoch, warmup 7, anneal 65."""
    s = count_steps(1147, micro_batch=1, grad_accum=16, warmup_ratio=0.1)
    assert (s.per_epoch, s.total, s.warmup, s.anneal) == (72, 72, 7, 65)


def test_seed_000_on_eight_devices_keeps_72_steps() -> None:
    s = count_steps(1147, micro_batch=1, grad_accum=2, world_size=8, warmup_ratio=0.1)
    assert s.global_batch == 16 and s.total == 72


def test_seed_001_drop_rule() -> None:
    """250 samples at a full batch of 128 with drop_last -> 1 step, 122 dropped."""
    s = count_steps(250, micro_batch=8, grad_accum=16, drop_last=True)
    assert (s.total, s.dropped_samples) == (1, 122)


def test_hf_partial_accumulation_window_counts() -> None:
    """FACTS.md: 400 samples, micro-batch 8, grad-accum 3 -> 50 micro-batches, 17 steps."""
    s = count_steps(400, micro_batch=8, grad_accum=3)
    assert (s.micro_batches_per_epoch, s.per_epoch) == (50, 17)


def test_epochs_and_max_steps() -> None:
    assert count_steps(100, micro_batch=10, grad_accum=1, epochs=3).total == 30
    assert count_steps(100, micro_batch=10, grad_accum=1, epochs=1.5).total == 15
    assert count_steps(100, micro_batch=10, grad_accum=1, max_steps=7).total == 7


def test_distributed_sampler_pads() -> None:
    # 10 samples on 3 replicas: each sees ceil(10/3)=4, micro-batch 2 -> 2 steps.
    assert count_steps(10, micro_batch=2, grad_accum=1, world_size=3).per_epoch == 2


def test_drop_last_that_drops_everything_is_an_error() -> None:
    with pytest.raises(InputError) as err:
        count_steps(100, micro_batch=8, grad_accum=16, drop_last=True)
    assert err.value.field == "train.drop_last"


def test_round_half_up() -> None:
    assert [round_half_up(x) for x in (7.2, 7.5, 2.5)] == [7, 8, 3]


def test_lr_schedule_shape() -> None:
    kw = dict(lr=5e-5, end_lr=1e-5, warmup=7, total=72)
    assert lr_at(0, **kw, scheduler="linear") == pytest.approx(5e-5 / 7)
    assert lr_at(6, **kw, scheduler="linear") == pytest.approx(5e-5)
    assert lr_at(7, **kw, scheduler="linear") == pytest.approx(5e-5)
    assert lr_at(72, **kw, scheduler="linear") == pytest.approx(1e-5)
    assert lr_at(100, **kw, scheduler="cosine") == pytest.approx(1e-5)
    mid = lr_at(7 + 65 // 2, **kw, scheduler="cosine")
    assert 1e-5 < mid < 5e-5
    assert lr_at(40, **kw, scheduler="constant") == pytest.approx(5e-5)


def test_grad_accum_suggestion_near_128_smallest_remainder() -> None:
    """Seed 001: pick grad-accum near 128 with the smallest remainder of the samples."""
    g = suggest_grad_accum(250, micro_batch=8)
    assert 64 <= g["global_batch"] <= 192
    for ga in range(8, 25):
        if 64 <= ga * 8 <= 192 and ga * 8 <= 250:
            assert 250 % (ga * 8) >= g["remainder"]


def test_gpt2_xl_full_checkpoint_about_25_gb() -> None:
    """Seed 003: ~25 GB per checkpoint for GPT2-XL full fine-tuning with DeepSpeed."""
    b = checkpoint_bytes(params=1_557_611_200, trainable=1_557_611_200, kind="full",
                         dtype="fp16", optimizer="adamw", parallel="deepspeed")
    assert abs(b / 1e9 - 25) / 25 < 0.05


def test_lora_checkpoint_is_the_adapter() -> None:
    b = checkpoint_bytes(params=6_738_415_616, trainable=39_976_960, kind="lora",
                         dtype="bf16", optimizer="adamw", parallel="none")
    assert b < 0.6e9
