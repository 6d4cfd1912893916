"""Hugging Face TrainingArguments JSON (plus the example scripts' model/data arguments, as
`HfArgumentParser.parse_json_file` reads them) and a DeepSpeed JSON on its own -> RunConfig.

LLaMA-Factory's YAML is TrainingArguments plus its own keys, so :func:`training_args` is shared
with llamafactory.py. Defaults written where TrainingArguments' differ from ftwizard's: batch 8
per device, 3 epochs, lr 5e-5, linear schedule, no warmup, fp32. A TRL DPOConfig / KTOConfig /
RewardConfig / ORPOConfig dump (TrainingArguments plus TRL's fields) is read as that trainer's
objective (:func:`_trl_config`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ftwizard.core.config import REFERENCE_OBJECTIVES
from ftwizard.core.importers import common as c

FORMAT = "hf-trainer"
DS_FORMAT = "deepspeed"

# TrainingArguments keys (shared with LLaMA-Factory) and the example scripts' own keys.
TRAINER_KEYS = {"per_device_train_batch_size", "num_train_epochs", "lr_scheduler_type", "optim",
                "output_dir", "learning_rate", "gradient_accumulation_steps", "warmup_ratio",
                "warmup_steps", "logging_steps", "save_steps", "eval_strategy",
                "evaluation_strategy", "save_strategy", "do_train", "per_device_eval_batch_size",
                "report_to", "run_name", "dataloader_drop_last", "save_total_limit"}
MARKERS = {"train_file", "validation_file", "dataset_name", "dataset_config_name", "block_size",
           "validation_split_percentage", "max_seq_length", "text_column", "tokenizer_name",
           "config_name", "cache_dir"}
DS_MARKERS = {"zero_optimization", "train_micro_batch_size_per_gpu", "train_batch_size",
              "gradient_clipping", "zero_allow_untested_optimizer", "steps_per_print"}

SAME = {
    "do_train": "ftwizard always trains",
    "do_eval": "ftwizard evaluates when data.validation is set",
    "overwrite_output_dir": "ftwizard makes a new folder per run (`ftwizard run --overwrite` reuses one)",
    "eval_strategy": "ftwizard evaluates every train.eval_every steps",
    "evaluation_strategy": "ftwizard evaluates every train.eval_every steps",
    "save_strategy": "ftwizard saves every train.save_every steps",
    "logging_strategy": "ftwizard logs every train.log_every steps",
    "ddp_timeout": "the launcher's default",
    "per_device_eval_batch_size": "evaluation batch: ftwizard evaluates with the training micro batch",
    "save_only_model": "ftwizard keeps optimizer states in checkpoints so runs can resume",
    "dataloader_num_workers": "data loading workers: not part of the plan",
    "preprocessing_num_workers": "tokenization workers: not part of the plan",
    "overwrite_cache": "ftwizard's token cache is keyed by file hash",
    "logging_dir": "ftwizard logs to RUN/events.jsonl and output.report_to",
    "plot_loss": "`ftwizard attach RUN` shows the loss",
    "bf16_full_eval": "evaluation precision",
    "fp16_full_eval": "evaluation precision",
}
NOT_CARRIED = {
    "tf32": "TF32 is a matmul mode for fp32 math on Ampere+, not a storage dtype; ftwizard "
            "leaves torch's default",
    "resume_from_checkpoint": "use `ftwizard resume RUN`",
    "push_to_hub": "push the result yourself after `ftwizard export RUN`",
    "hub_model_id": "push the result yourself after `ftwizard export RUN`",
    "max_train_samples": "ftwizard trains on all the data given (cut the file to train on less)",
    "max_samples": "ftwizard trains on all the data given (cut the file to train on less)",
    "group_by_length": "ftwizard keeps the data order (shuffled by seed)",
    "torch_compile": "not modelled",
    "neftune_noise_alpha": "no NEFTune in ftwizard",
    "gradient_checkpointing_kwargs": "ftwizard picks the checkpointing variant",
    "label_smoothing_factor": "ftwizard trains with plain cross-entropy",
}


def training_args(m: c.Mapper, base: Path, tool: str) -> None:
    """The TrainingArguments keys, with TrainingArguments' defaults where the source is silent."""
    m.map("per_device_train_batch_size", "train.micro_batch", c.as_int)
    if not m.has("per_device_train_batch_size"):
        m.default("train.micro_batch", 8, f"{tool}'s default per_device_train_batch_size")
    m.map("gradient_accumulation_steps", "train.grad_accum", c.as_int)
    m.map("num_train_epochs", "train.epochs", c.as_float)
    if not m.has("num_train_epochs"):
        m.default("train.epochs", 3, f"{tool}'s default num_train_epochs")
    if m.number("max_steps", int, 0) > 0:
        m.map("max_steps", "train.max_steps", c.as_int)
    else:
        m.same("max_steps", "-1: no step limit")
    m.map("learning_rate", "train.lr", c.as_float)
    if not m.has("learning_rate"):
        m.default("train.lr", 5e-5, f"{tool}'s default learning_rate")
    if m.has("lr_scheduler_type"):
        c.scheduler(m, "lr_scheduler_type", "lr_scheduler_kwargs")
    else:
        m.default("train.scheduler", "linear", f"{tool}'s default lr_scheduler_type")
    ws, wr = m.number("warmup_steps"), m.number("warmup_ratio")
    if ws is not None and ws >= 1:
        m.map("warmup_steps", "train.warmup_steps", c.as_int)
        m.drop("warmup_ratio", "warmup_steps wins")
    elif ws is not None and 0 < ws < 1:
        m.map("warmup_steps", "train.warmup_ratio", c.as_float, "transformers 5: a warmup_steps below 1 is a ratio")
    elif wr is not None:
        m.map("warmup_ratio", "train.warmup_ratio", c.as_float)
        m.same("warmup_steps", "0")
    else:
        m.same("warmup_steps", "0")
        m.default("train.warmup_ratio", 0.0, f"{tool} does not warm up unless told")
    m.map("weight_decay", "train.weight_decay", c.as_float)
    m.map("max_grad_norm", "train.max_grad_norm", c.as_float)
    m.map("seed", "train.seed", c.as_int)
    m.map("dataloader_drop_last", "train.drop_last", bool)
    for key, target in (("save_steps", "train.save_every"), ("eval_steps", "train.eval_every"),
                        ("logging_steps", "train.log_every")):
        v = m.number(key)
        if v is not None and v < 1:
            m.drop(key, "a fraction of the total steps; ftwizard takes a step count")
        else:
            m.map(key, target, c.as_int)
    m.map("save_total_limit", "train.keep_checkpoints", c.as_int)
    c.optimizer(m, "optim")
    if m.has("gradient_checkpointing"):
        m.map("gradient_checkpointing", "method.gradient_checkpointing", bool)
    _precision(m, tool)
    m.map("output_dir", "output.dir", str, "ftwizard makes a folder per run under it")
    if m.has("report_to"):
        try:
            target, note = c.report_to(m.peek("report_to"))
        except TypeError:
            raise m.fail("report_to", m.peek("report_to"), "must be a tracker name or a list of them",
                         "write report_to: wandb (or tensorboard, or none)") from None
        m.mapped("report_to", {"output.report_to": target}, note)
    m.drop("run_name", "the run's name is the file's name (set `name:` in the ftwizard config)")
    c.deepspeed(m, "deepspeed", base)
    c.fsdp(m, "fsdp", "fsdp_config")
    for k, why in SAME.items():
        m.same(k, why)
    for k, why in NOT_CARRIED.items():
        m.drop(k, why)


def _precision(m: c.Mapper, tool: str) -> None:
    if m.peek("bf16") or m.peek("pure_bf16"):
        key = "bf16" if m.peek("bf16") else "pure_bf16"
        m.mapped(key, {"model.dtype": "bf16", **({"model.fp32_master": False} if key == "pure_bf16" else {})},
                 "pure bf16, no AMP" if key == "pure_bf16" else "")
    elif m.peek("fp16"):
        m.mapped("fp16", {"model.dtype": "fp16"})
    else:
        m.default("model.dtype", "fp32", f"neither bf16 nor fp16 is set: {tool} trains in fp32")
    for k in ("bf16", "fp16", "pure_bf16"):
        if k in m.data and k not in m.seen:
            m.same(k, "off")


def to_config(data: dict[str, Any], source: str, base: Path) -> c.Mapper:
    """A TrainingArguments JSON with the example scripts' model and data keys (run_clm.py)."""
    m = c.Mapper(data, source, FORMAT)
    m.map("model_name_or_path", "model.name")
    m.map("tokenizer_name", "model.tokenizer")
    m.map("trust_remote_code", "model.trust_remote_code", bool)
    m.map("attn_implementation", "model.attn_implementation")
    m.drop("config_name", "ftwizard reads the model's shape from model.name")
    m.drop("cache_dir", "ftwizard reads the Hugging Face cache where HF_HOME points")
    field = {"text_field": str(m.peek("text_column"))} if m.has("text_column") else {}
    sources = []
    if m.has("train_file"):
        sources.append({"path": c.source_path(str(m.peek("train_file")), base), **field})
        m.mapped("train_file", {"data.train": sources})
    elif m.has("dataset_name"):
        sources.append({"path": f"hf:{m.peek('dataset_name')}", **field})
        m.mapped("dataset_name", {"data.train": sources})
    if field:
        if sources:
            m.mapped("text_column", {"data.train[].text_field": field["text_field"]})
        else:
            m.drop("text_column", "no train_file or dataset_name to apply it to")
    m.drop("dataset_config_name", "hf:NAME[:split] has no subset; download it and point at the files")
    if m.has("validation_file"):
        m.mapped("validation_file", {"data.validation": {"path": c.source_path(str(m.peek("validation_file")), base)}})
    elif m.has("validation_split_percentage"):
        pct = m.number("validation_split_percentage")
        if 0 < pct < 100:
            m.mapped("validation_split_percentage", {"data.validation": {"split": pct / 100}})
        else:
            m.drop("validation_split_percentage", "must be between 0 and 100")
    objective = _trl_config(m)
    for key in ("block_size", "max_seq_length", "max_length"):
        if m.has(key) and (key != "max_length" or objective != "sft"):
            m.map(key, "data.block_size", c.as_int,
                  "TRL's max_length: prompt and completion together" if key == "max_length" else "")
            break
    if not {"block_size", "max_seq_length", "max_length"} & m.seen:
        m.default("data.block_size", 1024, "run_clm's block_size is the model's context, at most 1024"
                  if objective == "sft" else "TRL's default max_length")
    if objective == "sft":
        m.default("data.mode", "corpus", "run_clm concatenates the texts and cuts them into block_size blocks")
    training_args(m, base, "TrainingArguments")
    m.finish()
    return m


# TRL 1.16 config fields whose default is what ftwizard's preference backend runs (a
# DPOConfig/KTOConfig/RewardConfig/ORPOConfig dump lists them all).
TRL_DEFAULTS = {"activation_offloading": False, "disable_dropout": True, "dataset_num_proc": None,
                "padding_free": False, "use_weighting": False, "sync_ref_model": False,
                "ref_model_mixup_alpha": 0.6, "ref_model_sync_steps": 512, "ld_alpha": None,
                "f_divergence_type": "reverse_kl", "f_alpha_divergence_coef": 0.5,
                "discopop_tau": 0.05, "pad_to_multiple_of": None, "pad_token": "<PAD_TOKEN>",
                "eos_token": "<EOS_TOKEN>", "model_init_kwargs": None,
                "precompute_ref_batch_size": None, "router_aux_loss_coef": None,
                "generate_during_eval": False, "is_encoder_decoder": None,
                "max_completion_length": None, "padding_value": None, "chat_template_path": None,
                "loss_weights": None, "precompute_ref_log_probs": False,
                "truncation_mode": "keep_start", "label_smoothing": 0.0}


def _trl_config(m: c.Mapper) -> str:
    """A TRL DPOConfig / KTOConfig / RewardConfig / ORPOConfig dump (TrainingArguments plus TRL's
    fields) -> train.objective and train.preference; "sft" for a plain TrainingArguments JSON.
    The config class is recognised by the fields only it has."""
    from ftwizard.core.config import DPO_LOSSES, KTO_LOSSES

    d = m.data
    if "cpo_alpha" in d or "simpo_gamma" in d:
        m.drop("loss_type", "a CPOConfig (CPO/SimPO): ftwizard does not run TRL's CPOTrainer; "
                            "planned as SFT")
        return "sft"
    objective = ("kto" if "desirable_weight" in d else "reward" if "center_rewards_coefficient" in d
                 else "dpo" if "loss_type" in d else "orpo" if "beta" in d else "sft")
    if objective == "sft":
        return objective
    key = next(k for k in ("desirable_weight", "center_rewards_coefficient", "loss_type", "beta") if k in d)
    m.rows.append(c.Row("(config class)", key, c.MAPPED, f"train.objective = {objective}",
                        f"{ {'kto': 'KTOConfig', 'reward': 'RewardConfig', 'dpo': 'DPOConfig', 'orpo': 'ORPOConfig'}[objective]} "
                        f"(recognised by {key})"))
    m.put("train.objective", objective, key)
    if objective != "reward":
        m.map("beta", "train.preference.beta", c.as_float,
              "ORPO's lambda" if objective == "orpo" else "")
    losses = d.get("loss_type")
    losses = [losses] if isinstance(losses, str) else losses
    allowed = {"dpo": DPO_LOSSES, "kto": KTO_LOSSES}.get(objective, ())
    if losses is not None:
        if isinstance(losses, list) and len(losses) == 1 and losses[0] in allowed:
            m.map("loss_type", "train.preference.loss_type", lambda v: losses[0])
        else:
            m.drop("loss_type", f"train.preference.loss_type takes one of TRL's {objective} losses "
                                f"({', '.join(allowed)}), not a weighted combination")
    if objective == "dpo" and m.number("label_smoothing", float, 0.0):
        m.map("label_smoothing", "train.preference.label_smoothing", c.as_float)
    if objective in REFERENCE_OBJECTIVES and d.get("precompute_ref_log_probs") is True:
        m.mapped("precompute_ref_log_probs", {"train.preference.reference": "precomputed"})
    if objective == "dpo" and d.get("truncation_mode") == "keep_end":
        m.map("truncation_mode", "train.preference.truncation", str)
    if objective == "kto":
        m.map("desirable_weight", "train.preference.desirable_weight", c.as_float)
        m.map("undesirable_weight", "train.preference.undesirable_weight", c.as_float)
    if objective == "reward":
        m.map("center_rewards_coefficient", "train.preference.center_rewards", c.as_float)
    for k, default in TRL_DEFAULTS.items():
        if k in d and k not in m.seen:
            if d[k] == default:
                m.same(k, "TRL's default, which ftwizard's trainer keeps")
            else:
                m.drop(k, "a TRL setting ftwizard's train.preference has no key for")
    return objective


def deepspeed_to_config(data: dict[str, Any], source: str) -> c.Mapper:
    """A DeepSpeed JSON alone: its ZeRO/offload/precision/batch settings on ftwizard's defaults."""
    m = c.Mapper(data, source, DS_FORMAT)
    c.map_deepspeed(m)
    m.rows.append(c.Row("(not set)", None, c.DEFAULT, "model.name = gpt2",
                        "a DeepSpeed JSON names no model or data: set model.name and data.train"))
    return m
