"""What the axolotl and LLaMA-Factory writers share: the DeepSpeed JSON, FSDP settings, and the
list of ftwizard keys the other tool has no place for (written as a comment, never dropped
silently)."""

from __future__ import annotations

from typing import Any


def deepspeed_file(cfg, stem: str) -> tuple[str, dict[str, Any]]:  # noqa: ANN001
    """The run's DeepSpeed JSON from launch.py's renderer (the one that writes ds_config.json)."""
    from ftwizard.core.launch import deepspeed_config

    return f"{stem}.ds_config.json", deepspeed_config(cfg)


def fsdp_list(cfg) -> tuple[list[str], dict[str, Any]]:  # noqa: ANN001
    """axolotl's `fsdp:` list and `fsdp_config:` (FSDP1 names, as in its reference)."""
    mode = cfg.method.fsdp
    conf: dict[str, Any] = {
        "fsdp_sharding_strategy": "FULL_SHARD" if mode == "full_shard" else "SHARD_GRAD_OP",
        "fsdp_auto_wrap_policy": "TRANSFORMER_BASED_WRAP",
        "fsdp_state_dict_type": "FULL_STATE_DICT",
        "fsdp_offload_params": False,
    }
    return [mode, "auto_wrap"], conf


def fsdp_string(cfg) -> tuple[str, dict[str, Any]]:  # noqa: ANN001
    """TrainingArguments' `fsdp: "full_shard auto_wrap"` and `fsdp_config` (LLaMA-Factory passes
    them through to the Trainer)."""
    return f"{cfg.method.fsdp} auto_wrap", {}


def lost_keys(cfg, fmt: str) -> list[str]:  # noqa: ANN001
    """ftwizard settings the other tool's config cannot hold (they differ from its behaviour)."""
    lost = []
    m, hw, tr, out = cfg.method, cfg.hardware, cfg.train, cfg.output
    if m.parallel in ("split", "pipeline", "jax"):
        lost.append(f"method.parallel={m.parallel} ({fmt} runs ddp, deepspeed or fsdp; launch it "
                    "with that tool's own multi-GPU setup)")
    if m.parallel == "ddp":
        lost.append("method.parallel=ddp (start the tool with torchrun/accelerate on every GPU)")
    if cfg.model.fp32_master and cfg.model.dtype == "bf16":
        lost.append("model.fp32_master (bf16 mixed precision keeps fp32 weights there anyway)")
    if cfg.model.pad_token_id is not None:
        lost.append(f"model.pad_token_id={cfg.model.pad_token_id}")
    if hw.target != "auto" or hw.nodes != 1 or hw.devices:
        lost.append(f"hardware (target {hw.target}, {hw.nodes} node(s)): launcher settings, not config")
    if cfg.data.sequences:
        lost.append(f"data.sequences={cfg.data.sequences} (a planning assumption)")
    if tr.drop_last and fmt == "axolotl":
        lost.append("train.drop_last")
    if out.merge:
        lost.append("output.merge (merge the adapter with the tool's own merge command)")
    if out.sample_prompt:
        lost.append("output.sample_prompt")
    return lost
