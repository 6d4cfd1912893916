"""mesh-transformer-jax config export: seed 000's worked example and its traps."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ftwizard.core.config import from_dict, load_config
from ftwizard.core.errors import InputError
from ftwizard.core.mtj import (GPTJ_6B_SHAPE, mesh_transformer_jax_config, tpu_cores,
                               write_mesh_transformer_jax_config)
from ftwizard.core.schedule import plan_steps

REPO = Path(__file__).resolve().parents[2]


def _cfg(**train) -> object:
    t = {"micro_batch": 1, "grad_accum": 16, "epochs": 1, "lr": 5e-5, "end_lr": 1e-5,
         "warmup_ratio": 0.1, "weight_decay": 0.1, "eval_every": 500, "save_every": 500}
    t.update(train)
    return from_dict({"name": "foo", "model": {"name": "EleutherAI/gpt-j-6B"},
                      "hardware": {"target": "TPU v3-8"}, "data": {"block_size": 2048},
                      "train": t})


def _export(cfg, sequences=1147, world=1, **kw):
    args = {"bucket": "my-bucket", "model_dir": "finetuned", "train_index": "data/foo.train.index",
            "val_index": None}
    args.update(kw)
    return mesh_transformer_jax_config(cfg, plan_steps(cfg, sequences, world), **args)


def test_seed_000_worked_example():
    """1147 sequences at batch 16: 72 steps, warmup 7, anneal 65, lr 5e-5 -> 1e-5."""
    out = _export(_cfg())
    assert out["total_steps"] == 72
    assert out["warmup_steps"] == 7
    assert out["anneal_steps"] == 65
    assert out["warmup_steps"] + out["anneal_steps"] == out["total_steps"]
    assert (out["lr"], out["end_lr"], out["weight_decay"]) == (5e-5, 1e-5, 0.1)
    assert out["gradient_accumulation_steps"] == 16
    assert out["tpu_size"] == 8
    assert (out["bucket"], out["model_dir"], out["train_set"]) == (
        "my-bucket", "finetuned", "data/foo.train.index")


def test_preset_plans_the_same_72_steps_on_eight_cores():
    """The shipped preset (micro-batch 1 x grad-accum 2 on 8 TPU cores) is the same batch of 16."""
    cfg = load_config(REPO / "presets" / "gptj-6b-tpu-v3-8.yaml")
    out = _export(cfg, sequences=cfg.data.sequences, world=8)
    assert (out["total_steps"], out["warmup_steps"], out["anneal_steps"]) == (72, 7, 65)
    assert out["gradient_accumulation_steps"] == 16


def test_model_shape_is_6b_roto_256():
    out = _export(_cfg())
    for key, value in GPTJ_6B_SHAPE.items():
        assert out[key] == value, key
    assert "eval_harness_tasks" not in out


def test_no_validation_set_puts_val_every_past_the_end():
    """Seed 000: without a val_set, val_every above total_steps; no *_every is ever 0."""
    out = _export(_cfg())
    assert out["val_set"] == {}
    assert out["val_every"] > out["total_steps"]
    assert all(out[k] > 0 for k in ("val_every", "ckpt_every", "keep_every", "val_batches"))


def test_validation_set_and_val_batches():
    out = _export(_cfg(eval_every=20), val_index="data/foo.val.index", val_sequences=57)
    assert out["val_set"] == {"val": "data/foo.val.index"}
    assert out["val_every"] == 20
    assert out["val_batches"] == 57


def test_every_is_clamped_to_the_run():
    """save_every 500 on a 72-step run would never save; it becomes the total."""
    out = _export(_cfg(save_every=500, eval_every=1000), val_index="v.index", val_sequences=3)
    assert out["ckpt_every"] == 72
    assert out["val_every"] == 72
    assert out["keep_every"] == 72


def test_bigger_slice_splits_the_batch_over_replicas():
    """tpu_size 32 = 4 replicas of 8 cores: the batch of 16 is 4 x grad-accum 4."""
    out = _export(_cfg(), tpu_size=32)
    assert out["tpu_size"] == 32
    assert out["gradient_accumulation_steps"] == 4


def test_tpu_size_from_target():
    assert tpu_cores("TPU v3-8") == 8
    assert tpu_cores("tpu v4-32") == 32
    assert tpu_cores("A100-80GB x8") is None


@pytest.mark.parametrize("kw,field", [
    ({"bucket": ""}, "bucket"),
    ({"model_dir": " "}, "model_dir"),
    ({"tpu_size": 12}, "tpu_size"),
])
def test_bad_inputs_name_the_field(kw, field):
    with pytest.raises(InputError) as err:
        _export(_cfg(), **kw)
    assert err.value.field == field


def test_refuses_non_gptj_and_long_blocks():
    cfg = from_dict({"model": {"name": "meta-llama/Llama-2-7b-hf"}})
    with pytest.raises(InputError) as err:
        _export(cfg)
    assert err.value.field == "model.name"
    long = from_dict({"model": {"name": "EleutherAI/gpt-j-6B"}, "data": {"block_size": 4096}})
    with pytest.raises(InputError) as err:
        _export(long)
    assert err.value.field == "data.block_size"


def test_written_file_is_json_device_train_reads(tmp_path):
    out = _export(_cfg())
    p = write_mesh_transformer_jax_config(tmp_path / "configs" / "foo.json", out)
    back = json.loads(p.read_text())
    assert back == out
    assert isinstance(back["val_set"], dict)  # device_train.py iterates val_set.items()
