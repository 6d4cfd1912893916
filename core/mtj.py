"""Seed 000's mesh-transformer-jax config, written from the plan instead of edited by hand.

GPT-J users who still run mesh-transformer-jax on a TPU VM (`device_train.py --config=...`)
duplicate `configs/6B_roto_256.json` and change a dozen values with a calculator. This module
does that arithmetic with the same step count ftwizard plans (core/schedule.py), and keeps the
traps seed 000 warns about out of the file:

* `val_every`, `ckpt_every` and `keep_every` are never 0 (mesh-transformer-jax divides by them);
* without a validation set, `val_every` is above `total_steps` and `val_set` is empty;
* `gradient_accumulation_steps` is the batch size (one replica per 8 cores, one sequence each),
  steps per epoch = ceil(sequences / batch), warmup = 5-10 % of the total, anneal = the rest.
"""

from __future__ import annotations

import json
import math
import re
from pathlib import Path
from typing import Any

from ftwizard.core.errors import InputError

# The model shape of configs/6B_roto_256.json (GPT-J-6B); only the run's values change.
GPTJ_6B_SHAPE: dict[str, Any] = {
    "layers": 28, "d_model": 4096, "n_heads": 16, "n_vocab": 50400, "norm": "layernorm",
    "pe": "rotary", "pe_rotary_dims": 64, "seq": 2048, "cores_per_replica": 8,
    "per_replica_batch": 1,
}
MAX_SEQ = 2048


def tpu_cores(target: str | None) -> int | None:
    """8 for "TPU v3-8", 32 for "tpu v4-32"; None when the target names no TPU slice."""
    m = re.search(r"tpu\s*v\d+\w*-(\d+)", target or "", re.IGNORECASE)
    return int(m.group(1)) if m else None


def _looks_like_gptj(name: str) -> bool:
    low = name.lower().replace("_", "-")
    if "gpt-j" in low or "gptj" in low:
        return True
    cfg = Path(name).expanduser() / "config.json"
    try:
        return json.loads(cfg.read_text()).get("model_type") == "gptj"
    except (OSError, ValueError):
        return False


def mesh_transformer_jax_config(cfg: Any, plan_steps: Any, *, bucket: str, model_dir: str,
                                train_index: str, val_index: str | None,
                                tpu_size: int | None = None,
                                val_sequences: int | None = None) -> dict[str, Any]:
    """The JSON for `device_train.py --config`, from a RunConfig and its planned Steps.

    `plan_steps` is core.schedule.Steps for the run (its global batch is the batch size);
    `val_sequences` is the validation set's sequence count (seed 000: val_batches equals it).
    """
    if not _looks_like_gptj(cfg.model.name):
        raise InputError(f"mesh-transformer-jax configs describe GPT-J; the model is "
                         f"{cfg.model.name!r}", field="model.name", value=cfg.model.name,
                         fix="use EleutherAI/gpt-j-6B, or train this model with ftwizard's JAX backend")
    for field, value in (("bucket", bucket), ("model_dir", model_dir), ("train_index", train_index)):
        if not value or not str(value).strip():
            raise InputError(f"{field} is empty", field=field, value=value,
                             fix=f"give the {field.replace('_', ' ')} (seed 000, steps 2 and 6)")
    seq = int(cfg.data.block_size)
    if seq > MAX_SEQ:
        raise InputError(f"GPT-J's context is {MAX_SEQ} tokens; block_size is {seq}",
                         field="data.block_size", value=seq, fix=f"set data.block_size={MAX_SEQ}")
    size = tpu_size or tpu_cores(cfg.hardware.target) or 8
    cores = GPTJ_6B_SHAPE["cores_per_replica"]
    if size < cores or size % cores:
        raise InputError(f"a TPU with {size} cores cannot hold GPT-J's {cores}-way model split",
                         field="tpu_size", value=size, fix="use a TPU slice of 8, 32, 64 ... cores")
    replicas = size // cores
    batch = int(plan_steps.global_batch)
    grad_accum = max(1, math.ceil(batch / (replicas * GPTJ_6B_SHAPE["per_replica_batch"])))
    total = int(plan_steps.total)
    warmup = int(plan_steps.warmup)
    t = cfg.train
    has_val = bool(val_index)
    out: dict[str, Any] = dict(GPTJ_6B_SHAPE)
    out.update({
        "seq": seq,
        "gradient_accumulation_steps": grad_accum,
        "warmup_steps": warmup,
        "anneal_steps": total - warmup,
        "lr": float(t.lr),
        "end_lr": float(t.end_lr) if t.end_lr is not None else 0.0,
        "weight_decay": float(t.weight_decay),
        "total_steps": total,
        "tpu_size": size,
        "bucket": bucket,
        "model_dir": model_dir,
        "train_set": train_index,
        "val_set": {"val": val_index} if has_val else {},
        "val_batches": max(1, int(val_sequences or 1)),
        "val_every": max(1, min(int(t.eval_every), total)) if has_val else total + 1,
        "ckpt_every": max(1, min(int(t.save_every), total)),
        "keep_every": max(1, total),
        "name": cfg.name,
        "comment": (f"written by ftwizard: {plan_steps.sequences} sequences / batch {batch} = "
                    f"{plan_steps.per_epoch} steps per epoch"),
    })
    return out


def write_mesh_transformer_jax_config(path: str | Path, config: dict[str, Any]) -> Path:
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_text(json.dumps(config, indent=2) + "\n")
    return p
