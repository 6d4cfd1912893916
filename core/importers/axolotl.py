"""axolotl's YAML <-> RunConfig.

Key names follow axolotl's config reference (docs/config.qmd): base_model, adapter, lora_*,
load_in_4bit/8bit, sequence_len, sample_packing, chat_template / chat_template_jinja,
datasets[].{path, type (completion, alpaca, chat_template, sharegpt, a custom {field_instruction,
field_input, field_output, field_system}), ds_type, data_files, split, field, field_messages,
message_property_mappings, roles, roles_to_train, train_on_eos, chat_template}, val_set_size, micro_batch_size, gradient_accumulation_steps,
num_epochs, max_steps, learning_rate, lr_scheduler, cosine_min_lr_ratio, warmup_steps/ratio,
optimizer, gradient_checkpointing, deepspeed, fsdp/fsdp_config, wandb_*, and preference training:
rl (dpo, ipo, orpo, kto), reward_model, rl_beta / trl.beta / orpo_alpha, dpo_label_smoothing,
dpo_loss_type, kto_*_weight, center_rewards_coefficient, precompute_ref_log_probs, and the rl
dataset types (chatml.intel, *.argilla, *.ultra, chat_template.default, ...) whose record shapes
core/preference_data.py reads.
Where axolotl's default differs from ftwizard's (num_epochs 1, warmup 3 % of the steps, no LoRA
dropout, fp32 without bf16/fp16) the import writes axolotl's value, so the plan is of the run
axolotl would do.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ftwizard.core.config import REFERENCE_OBJECTIVES
from ftwizard.core.importers import common as c

FORMAT = "axolotl"

# Keys only axolotl uses (detection scores these).
MARKERS = {"base_model", "micro_batch_size", "num_epochs", "sequence_len", "adapter", "lora_r",
           "lora_target_modules", "lora_target_linear", "sample_packing", "val_set_size",
           "dataset_prepared_path", "wandb_project", "lr_scheduler", "train_on_inputs",
           "base_model_config", "tokenizer_type", "model_type", "pad_to_sequence_len",
           "special_tokens", "flash_attention", "xformers_attention", "rl", "lora_model_dir",
           "pretraining_dataset", "evals_per_epoch", "saves_per_epoch", "cosine_min_lr_ratio"}

# axolotl's `rl:` -> train.objective (and the DPO loss type ipo implies).
RL_OBJECTIVES = {"dpo": "dpo", "ipo": "dpo", "orpo": "orpo", "kto": "kto"}
RL_NOT_RUN = {"simpo": "SimPO runs TRL's CPOTrainer (no reference, length-normalised log-probs, "
                       "simpo_gamma's margin), which ftwizard does not run",
              "grpo": "GRPO generates completions and scores them with reward functions in the "
                      "loop, which ftwizard does not run",
              "gdpo": "GDPO is GRPO with several rewards, which ftwizard does not run"}
RL_WHY = "; the imported config plans and runs plain SFT on the same data"
# Preference keys that tune TRL features ftwizard's train.preference has no key for.
RL_UNCARRIED = {
    "dpo_use_weighting": "WPO weighting (TRL's use_weighting): train.preference has no key for it",
    "rpo_alpha": "RPO's NLL term: TRL 1.16 writes it as loss_type [sigmoid, sft] with weights; "
                 "train.preference.loss_type takes one loss",
    "dpo_norm_loss": "a per-token normalised DPO loss: train.preference.loss_type sigmoid_norm is "
                     "TRL 1.16's form of it",
    "dpo_padding_free": "ftwizard pads each pair (the plan counts padded batches)",
    "dpo_use_logits_to_keep": "a speed setting of TRL's DPO; ftwizard keeps TRL's default",
    "dpo_use_liger_kernel": "ftwizard runs TRL's own DPO loss (no Liger kernel)",
    "dpo_generate_during_eval": "ftwizard does not sample during evaluation",
    "cpo_alpha": "CPO/SimPO: not run by ftwizard", "simpo_gamma": "SimPO: not run by ftwizard",
    "process_reward_model": "a process (per-step) reward model: ftwizard trains outcome reward "
                            "models only (train.objective reward)",
}

SAME_KEYS = {
    "model_type": "ftwizard loads AutoModelForCausalLM",
    "tokenizer_type": "ftwizard loads AutoTokenizer",
    "strict": "ftwizard refuses unknown keys always",
    "dataset_prepared_path": "ftwizard tokenizes into its own cache (keyed by file hash)",
    "local_rank": "set by the launcher",
    "do_train": "ftwizard always trains",
    "remove_unused_columns": "ftwizard hands TRL only the columns its trainers read",
}

NOT_CARRIED = {
    "tf32": "TF32 is a matmul mode for fp32 math on Ampere+, not a storage dtype; ftwizard "
            "leaves torch's default",
    "pad_to_sequence_len": "ftwizard pads entries to block_size already; corpus sequences are full",
    "group_by_length": "ftwizard keeps the data order (shuffled by seed)",
    "early_stopping_patience": "ftwizard runs the planned steps; stop a run with `ftwizard stop`",
    "resume_from_checkpoint": "use `ftwizard resume RUN`",
    "auto_resume_from_checkpoints": "use `ftwizard resume RUN`",
    "evals_per_epoch": "ftwizard evaluates every N steps: set train.eval_every",
    "saves_per_epoch": "ftwizard saves every N steps: set train.save_every",
    "special_tokens": "ftwizard does not add or change tokens; set model.pad_token_id for a pad",
    "tokens": "ftwizard does not add tokens",
    "lora_modules_to_save": "ftwizard trains adapters only",
    "lora_fan_in_fan_out": "peft's default is used",
    "hub_model_id": "push the result yourself after `ftwizard export RUN`",
    "xformers_attention": "ftwizard offers eager, sdpa or flash_attention_2",
    "neftune_noise_alpha": "no NEFTune in ftwizard",
    "torch_compile": "not modelled",
    "debug": "not used",
}
for _k in ("wandb_entity", "wandb_watch", "wandb_name", "wandb_run_id", "wandb_log_model", "wandb_mode"):
    NOT_CARRIED[_k] = "set the WANDB_* environment variable of the same name; ftwizard's wandb " \
                      "logging respects them"

DATASET_TYPES_TEXT = {"completion"}
DATASET_TYPES_CHAT = {"chat_template", "sharegpt"}   # sharegpt: axolotl's older name for the same
DATASET_TYPES_ALPACA = {"alpaca", "alpaca_chat"}
# A custom type's fields (`type: {field_instruction: ...}`) -> data.train[].columns keys.
ALPACA_FIELDS = {"field_instruction": "instruction", "field_input": "input",
                 "field_output": "output", "field_system": "system"}
# The format strings ftwizard's alpaca reading matches (instruction, a blank line, the input).
ALPACA_FORMAT, ALPACA_NO_INPUT = "{instruction}\n\n{input}", "{instruction}"
TRAINED_ROLES_WHY = ("ftwizard trains the assistant turns (data.train_on completion), the last "
                     "one (last_turn) or every token (all); training {roles} is none of them")


def to_config(data: dict[str, Any], source: str, base: Path) -> c.Mapper:
    m = c.Mapper(data, source, FORMAT)
    m.map("base_model", "model.name")
    if m.has("base_model_config") and m.peek("base_model_config") != m.peek("base_model"):
        m.drop("base_model_config", "ftwizard reads the model's shape from model.name")
    else:
        m.same("base_model_config", "the same as base_model")
    m.map("tokenizer_config", "model.tokenizer")
    m.map("trust_remote_code", "model.trust_remote_code", bool)
    _attention(m)

    # precision
    bf16, fp16 = m.peek("bf16"), m.peek("fp16")
    pure_bf16, pure_fp16 = m.peek("bfloat16"), m.peek("float16")
    if fp16 is True:
        m.mapped("fp16", {"model.dtype": "fp16"})
        if "bf16" in data:
            m.same("bf16", "fp16: true wins over bf16 (axolotl's rule)")
    elif bf16 in (True, "auto", "full"):
        m.mapped("bf16", {"model.dtype": "bf16"},
                 "auto: planned as bf16; the plan says if the target lacks it" if bf16 == "auto" else "")
        if "fp16" in data:
            m.same("fp16", "off")
    elif pure_bf16:
        m.mapped("bfloat16", {"model.dtype": "bf16", "model.fp32_master": False}, "pure bf16, no AMP")
    elif pure_fp16:
        raise m.fail("float16", pure_fp16, "pure fp16 training (no fp32 master weights) is not "
                     "something ftwizard runs", "use fp16: true (mixed precision) or bf16: true")
    else:
        for k in ("bf16", "fp16"):
            m.same(k, "off")
        m.default("model.dtype", "fp32", "neither bf16 nor fp16 is set: axolotl trains in fp32")
    for k in ("bfloat16", "float16"):
        if k in data and k not in m.seen:
            m.same(k, "off or superseded")

    _adapter(m)
    m.map("sequence_len", "data.block_size", c.as_int)
    if not m.has("sequence_len"):
        m.default("data.block_size", 512, "axolotl's default sequence_len")
    objective = _preference(m)
    if objective != "sft" and "train_on_inputs" in m.data:
        if m.peek("train_on_inputs"):
            m.drop("train_on_inputs", "TRL's preference and reward trainers put the loss on the "
                                      "replies: data.train_on does not apply")
        else:
            m.same("train_on_inputs", "the replies carry the loss, as in TRL's trainers")
    if "train_on_inputs" in m.data and "train_on_inputs" not in m.seen:
        if m.peek("train_on_inputs"):
            m.mapped("train_on_inputs", {"data.train_on": "all"},
                     "every token carries loss, prompt turns included")
        else:
            m.same("train_on_inputs", "prompts masked: data.train_on completion, ftwizard's default")
    _template(m, m, "chat_template", base)
    _datasets(m, base)

    # training
    m.map("micro_batch_size", "train.micro_batch", c.as_int)
    if not m.has("micro_batch_size"):
        m.default("train.micro_batch", 1, "axolotl's default micro_batch_size")
    m.map("gradient_accumulation_steps", "train.grad_accum", c.as_int)
    m.map("num_epochs", "train.epochs", c.as_float)
    if not m.has("num_epochs"):
        m.default("train.epochs", 1, "axolotl's default num_epochs")
    if m.number("max_steps", int, 0) > 0:
        m.map("max_steps", "train.max_steps", c.as_int)
    else:
        m.same("max_steps", "no step limit")
    m.map("learning_rate", "train.lr", c.as_float)
    if m.has("lr_scheduler"):
        c.scheduler(m, "lr_scheduler", "lr_scheduler_kwargs")
    else:
        m.default("train.scheduler", "cosine", "axolotl anneals with cosine unless lr_scheduler is set")
    if m.has("cosine_min_lr_ratio"):
        lr = m.out.get("train", {}).get("lr", 2e-5)
        m.map("cosine_min_lr_ratio", "train.end_lr", lambda v: float(v) * lr,
              "end lr = learning_rate x cosine_min_lr_ratio")
    if m.has("warmup_steps"):
        m.map("warmup_steps", "train.warmup_steps", c.as_int)
    elif m.has("warmup_ratio"):
        m.map("warmup_ratio", "train.warmup_ratio", c.as_float)
    else:
        m.default("train.warmup_ratio", 0.03, "axolotl warms up 3 % of the steps (at most 100 "
                  "steps) when neither warmup key is set; ftwizard has no cap")
    m.drop("lr_quadratic_warmup", "ftwizard warms up linearly")
    m.map("weight_decay", "train.weight_decay", c.as_float)
    m.map("max_grad_norm", "train.max_grad_norm", c.as_float)
    m.map("seed", "train.seed", c.as_int)
    c.optimizer(m, "optimizer")
    gc = m.peek("gradient_checkpointing")
    if gc is not None:
        note = f"{gc}: planned as plain checkpointing (activations kept on the GPU)" if isinstance(gc, str) else ""
        m.map("gradient_checkpointing", "method.gradient_checkpointing", lambda v: v not in (False, "false"), note)
    _every(m, "save_steps", "train.save_every")
    _every(m, "eval_steps", "train.eval_every")
    _every(m, "logging_steps", "train.log_every")
    m.map("save_total_limit", "train.keep_checkpoints", c.as_int)
    m.map("output_dir", "output.dir", str, "ftwizard makes a folder per run under it")
    if m.has("wandb_project"):
        m.mapped("wandb_project", {"output.report_to": "wandb"},
                 f"set WANDB_PROJECT={m.peek('wandb_project')} in the environment; ftwizard's wandb "
                 "logging reads it")
    if m.peek("use_tensorboard"):
        m.mapped("use_tensorboard", {"output.report_to": "tensorboard"})
    if m.has("mlflow_experiment_name") or m.has("mlflow_tracking_uri"):
        key = "mlflow_experiment_name" if m.has("mlflow_experiment_name") else "mlflow_tracking_uri"
        target, note = c.report_to("mlflow")
        if target == "mlflow":
            m.mapped(key, {"output.report_to": "mlflow"}, "set MLFLOW_TRACKING_URI / "
                     "MLFLOW_EXPERIMENT_NAME in the environment")
        else:
            m.drop(key, note)
    for k in ("mlflow_tracking_uri", "mlflow_experiment_name", "mlflow_run_name"):
        m.drop(k, "set the MLFLOW_* environment variable of the same name")
    c.deepspeed(m, "deepspeed", base)
    c.fsdp(m, "fsdp", "fsdp_config")
    m.drop("fsdp_version", "ftwizard's launcher picks the FSDP API")
    for k, why in SAME_KEYS.items():
        m.same(k, why)
    for k, why in NOT_CARRIED.items():
        m.drop(k, why)
    m.finish()
    return m


def _preference(m: c.Mapper) -> str:
    """`rl:` / `reward_model:` and their knobs -> train.objective and train.preference, in TRL
    1.16's terms (axolotl hands the same values to the same TRL trainers). Returns the objective."""
    from ftwizard.core.config import DPO_LOSSES

    rl = m.peek("rl")
    rl = str(getattr(rl, "value", rl)).lower() if rl not in (None, False, "") else None
    objective = "sft"
    if rl in RL_OBJECTIVES:
        objective = RL_OBJECTIVES[rl]
        targets: dict[str, Any] = {"train.objective": objective}   # data.mode does not apply
        if rl == "ipo":
            targets["train.preference.loss_type"] = "ipo"
        m.mapped("rl", targets, {"dpo": "TRL's DPOTrainer", "ipo": "TRL's DPOTrainer, loss ipo",
                                 "orpo": "TRL's ORPOTrainer (no reference model)",
                                 "kto": "TRL's KTOTrainer"}[rl])
    elif rl in RL_NOT_RUN:
        m.drop("rl", RL_NOT_RUN[rl] + RL_WHY)
    elif rl is not None:
        raise m.fail("rl", rl, "axolotl's rl values are dpo, ipo, orpo, kto, simpo, grpo, gdpo",
                     "set rl: dpo, ipo, orpo or kto (or reward_model: true)")
    else:
        m.same("rl", "no RL: supervised fine-tuning")
    if m.peek("reward_model"):
        if objective != "sft":
            raise m.fail("reward_model", True, f"a reward model and rl: {rl} at once",
                         "keep one: reward_model: true or rl")
        objective = "reward"
        m.mapped("reward_model", {"train.objective": "reward"},
                 "TRL's RewardTrainer: a one-label sequence-classification head on pairs")
    else:
        m.same("reward_model", "off")
    if objective == "reward":
        m.same("model_type", "reward: ftwizard loads the model with a one-label "
                             "sequence-classification head")
        if m.number("num_labels", int, 1) == 1:
            m.same("num_labels", "one score per sequence")
        else:
            m.drop("num_labels", "a reward model here has one label (one score per sequence)")
        m.map("center_rewards_coefficient", "train.preference.center_rewards", c.as_float)
    else:
        m.same("center_rewards_coefficient", "used by reward_model only")
    # beta: axolotl reads trl.beta, else rl_beta, else orpo_alpha (src/axolotl/core/builders/rl.py)
    trl = m.peek("trl")
    trl_beta = trl.get("beta") if isinstance(trl, dict) else None
    beta_key = next((k for k, v in (("trl", trl_beta), ("rl_beta", m.peek("rl_beta")),
                                    ("orpo_alpha", m.peek("orpo_alpha"))) if v is not None), None)
    for key in ("rl_beta", "orpo_alpha"):
        if objective in ("dpo", "orpo", "kto") and key == beta_key:
            m.map(key, "train.preference.beta", c.as_float,
                  "ORPO's lambda (TRL's beta, as axolotl passes it)" if objective == "orpo" else "")
        elif objective in ("dpo", "orpo", "kto") and key in m.data and m.peek(key) is not None:
            m.same(key, f"axolotl passes {beta_key} as beta instead")
        else:
            m.same(key, "no preference objective reads it")
    if isinstance(trl, dict):
        t = c.Mapper(trl, m.source, m.fmt, prefix="trl.")
        if beta_key == "trl" and objective in ("dpo", "orpo", "kto"):
            t.map("beta", "train.preference.beta", c.as_float)
        t.finish_as("TRL online-RL (GRPO, vLLM) settings: ftwizard does not run them")
        m.seen.add("trl")
        m.absorb(t)
    if objective == "dpo":
        ls = m.number("dpo_label_smoothing", float, 0.0)
        if ls and rl == "ipo":
            m.same("dpo_label_smoothing", "axolotl does not pass it with rl: ipo")
        elif ls:
            m.map("dpo_label_smoothing", "train.preference.label_smoothing", c.as_float,
                  "TRL's label_smoothing, as axolotl passes it; TRL 1.16 reads it for loss types "
                  "robust, exo_pair, aot and aot_unpaired, not sigmoid")
        else:
            m.same("dpo_label_smoothing", "0: none")
        losses = m.peek("dpo_loss_type")
        if isinstance(losses, str):
            losses = [losses]
        weights = m.peek("dpo_loss_weights")
        if losses is not None:
            if rl == "dpo" and isinstance(losses, list) and len(losses) == 1 and losses[0] in DPO_LOSSES:
                m.map("dpo_loss_type", "train.preference.loss_type", lambda v: losses[0])
                if weights is not None and list(weights) != [1] and list(weights) != [1.0]:
                    m.drop("dpo_loss_weights", "one loss scaled: train.preference has no weight")
                else:
                    m.same("dpo_loss_weights", "one loss at weight 1")
            else:
                m.drop("dpo_loss_type", "train.preference.loss_type takes one of TRL's DPO losses "
                                        f"({', '.join(DPO_LOSSES)}), not a weighted combination "
                                        "or sft" + (" (rl: ipo sets ipo)" if rl == "ipo" else ""))
                m.drop("dpo_loss_weights", "weights of a loss combination (see dpo_loss_type)")
    else:
        for k in ("dpo_label_smoothing", "dpo_loss_type", "dpo_loss_weights"):
            m.same(k, "used by rl: dpo/ipo only")
    if objective == "kto":
        m.map("kto_desirable_weight", "train.preference.desirable_weight", c.as_float)
        m.map("kto_undesirable_weight", "train.preference.undesirable_weight", c.as_float)
    else:
        for k in ("kto_desirable_weight", "kto_undesirable_weight"):
            m.same(k, "used by rl: kto only")
    if m.peek("precompute_ref_log_probs") and objective in REFERENCE_OBJECTIVES:
        m.mapped("precompute_ref_log_probs", {"train.preference.reference": "precomputed"},
                 "the reference's log-probs computed once before training; no reference held")
    else:
        m.same("precompute_ref_log_probs", "off: the reference runs beside the policy")
    for k, why in RL_UNCARRIED.items():
        if m.peek(k) in (None, False, 0):
            m.same(k, "off")
        else:
            m.drop(k, why)
    return objective


def _attention(m: c.Mapper) -> None:
    if m.peek("flash_attention"):
        m.map("flash_attention", "model.attn_implementation", lambda v: "flash_attention_2")
    elif m.peek("sdp_attention"):
        m.map("sdp_attention", "model.attn_implementation", lambda v: "sdpa")
    elif m.peek("eager_attention"):
        m.map("eager_attention", "model.attn_implementation", lambda v: "eager")
    for k in ("flash_attention", "sdp_attention", "eager_attention"):
        if k in m.data and k not in m.seen:
            m.same(k, "off")


def _every(m: c.Mapper, key: str, target: str) -> None:
    v = m.number(key)
    if v is None:
        return
    if v < 1:
        m.drop(key, "a fraction of the total steps; ftwizard takes a step count")
    else:
        m.map(key, target, c.as_int)


def _adapter(m: c.Mapper) -> None:
    adapter = m.peek("adapter")
    in4, in8 = bool(m.peek("load_in_4bit")), bool(m.peek("load_in_8bit"))
    if adapter not in (None, "", "lora", "qlora"):
        raise m.fail("adapter", adapter, "ftwizard trains LoRA and QLoRA adapters or the full model",
                     "set adapter: lora or qlora, or leave it empty for full fine-tuning")
    if not adapter:
        if in4 or in8:
            key = "load_in_4bit" if in4 else "load_in_8bit"
            raise m.fail(key, True, "a quantized base can only be trained through an adapter",
                         "set adapter: qlora (4-bit) or lora (8-bit), or drop the load_in_* key")
        m.same("adapter", "full fine-tuning")
        for k in ("load_in_4bit", "load_in_8bit"):
            m.same(k, "off")
        m.default("method.kind", "full", "no adapter: axolotl trains every weight")
        for k in ("lora_r", "lora_alpha", "lora_dropout", "lora_target_modules", "lora_target_linear"):
            m.same(k, "unused: no adapter, every weight is trained")
        return
    if adapter == "qlora" or in4 or in8:
        bits = 8 if (in8 and not in4) else 4
        m.mapped("adapter", {"method.kind": "qlora", "method.quant_bits": bits},
                 "" if adapter == "qlora" else f"lora on a {bits}-bit base is ftwizard's qlora")
        for k, on in (("load_in_4bit", in4), ("load_in_8bit", in8)):
            if k in m.data:
                if on:
                    m.mapped(k, {"method.quant_bits": 4 if k == "load_in_4bit" else 8})
                else:
                    m.same(k, "off")
    else:
        m.mapped("adapter", {"method.kind": "lora"})
        for k in ("load_in_4bit", "load_in_8bit"):
            m.same(k, "off")
    bnb = m.peek("bnb_config_kwargs")
    if isinstance(bnb, dict) and "bnb_4bit_use_double_quant" in bnb:
        m.mapped("bnb_config_kwargs", {"method.double_quant": bool(bnb["bnb_4bit_use_double_quant"])},
                 "other bitsandbytes settings keep their defaults (nf4)")
    m.map("lora_r", "method.lora.r", c.as_int)
    m.map("lora_alpha", "method.lora.alpha", c.as_float)
    m.map("lora_dropout", "method.lora.dropout", c.as_float)
    if not m.has("lora_dropout"):
        m.default("method.lora.dropout", 0.0, "axolotl's default lora_dropout")
    if m.peek("lora_target_linear"):
        m.map("lora_target_linear", "method.lora.target_modules", lambda v: "all-linear")
        m.same("lora_target_modules", "all linear layers are targeted already")
    elif m.has("lora_target_modules"):
        m.map("lora_target_modules", "method.lora.target_modules",
              lambda v: [str(x) for x in v] if isinstance(v, list) else str(v))
        m.same("lora_target_linear", "off")
    m.drop("lora_model_dir", "ftwizard starts a fresh adapter; resume with `ftwizard resume RUN`")


def _datasets(m: c.Mapper, base: Path) -> None:
    packing = bool(m.peek("sample_packing"))
    sources: list[dict[str, Any]] = []
    kinds: list[str] = []
    pre = m.peek("pretraining_dataset")
    if pre is not None:
        m.seen.add("pretraining_dataset")
        items = pre if isinstance(pre, list) else [pre]
        for i, item in enumerate(items):
            d = item if isinstance(item, dict) else {"path": item, "type": "completion"}
            sources.extend(_dataset(m, f"pretraining_dataset[{i}]", d, base, kinds))
        kinds.append("pretraining")
    ds = m.peek("datasets")
    if ds is not None:
        m.seen.add("datasets")
        if not isinstance(ds, list):
            raise m.fail("datasets", ds, "must be a list of {path, type}", "write datasets: [{path: data.jsonl, type: completion}]")
        for i, d in enumerate(ds):
            if not isinstance(d, dict):
                raise m.fail(f"datasets[{i}]", d, "each dataset is a mapping", "write - path: data.jsonl\n    type: completion")
            sources.extend(_dataset(m, f"datasets[{i}]", d, base, kinds))
    if sources:
        m.put("data.train", sources, "datasets")
    objective = c._lookup(m.out, "train.objective") or "sft"
    if objective != "sft":
        if packing:
            m.drop("sample_packing", "TRL's preference and reward trainers take one pair (or KTO "
                                     "row) per sequence: ftwizard does not pack them")
        else:
            m.same("sample_packing", "off")
        m.same("eval_sample_packing", "no packing")
        packing = False
    text_only = bool(kinds) and all(k in ("completion", "pretraining") for k in kinds)
    mode = "corpus" if (text_only and (packing or "pretraining" in kinds)) else "entries"
    pack = packing and mode == "entries"
    why = ("completion data packed: ftwizard's corpus mode concatenates and cuts into sequence_len "
           "blocks (attention may cross example boundaries, unlike axolotl's multipack)"
           if mode == "corpus" else
           "one example per sequence, padded or truncated" if not packing else
           "entries packed into sequence_len blocks (best-fit), each example attending only to "
           "itself, as axolotl's multipack does")
    became = f"data.mode = {mode}" + (", data.packing = true" if pack else "")
    if objective != "sft":
        pass                                # data.mode does not apply to preference objectives
    elif "sample_packing" in m.data:
        m.seen.add("sample_packing")
        m.rows.append(c.Row("sample_packing", m.data["sample_packing"], c.MAPPED, became, why))
    else:
        m.rows.append(c.Row("(not set)", None, c.DEFAULT, became, why))
    if objective == "sft":
        m.put("data.mode", mode, "sample_packing")
    if pack:
        m.put("data.packing", True, "sample_packing")
    if m.peek("eval_sample_packing") is False and pack:
        m.drop("eval_sample_packing", "ftwizard packs the validation examples as it packs training")
    else:
        m.same("eval_sample_packing", "as the training data" if pack else "no packing")
    # validation
    if m.peek("val_set_size") is not None:
        m.validation_share("val_set_size")
    tests = m.peek("test_datasets")
    if isinstance(tests, list) and tests:
        m.seen.add("test_datasets")
        first = tests[0] if isinstance(tests[0], dict) else {"path": tests[0]}
        kinds_t: list[str] = []
        src = _dataset(m, "test_datasets[0]", first, base, kinds_t)
        if src:
            m.put("data.validation", {"path": src[0]["path"]}, "test_datasets")
        for i in range(1, len(tests)):
            m.rows.append(c.Row(f"test_datasets[{i}]", tests[i], c.NOT_CARRIED, "",
                                "ftwizard evaluates on one validation source"))


PREF_TEMPLATES = {"chatml": "chatml", "llama3": "llama-3"}
# axolotl's chatml.* / llama3.* preference types -> (the record shape core/preference_data.py
# detects, a note). Each renders its fields as that template's turns in axolotl.
PAIR_TYPES = {
    "intel": "question (+ system) and chosen/rejected: a user turn and the two replies",
    "argilla": "instruction and chosen_response/rejected_response: a user turn and the two "
               "replies (records with prompt/input/question + chosen/rejected are read by the "
               "shape their fields make)",
    "argilla_chat": "chosen/rejected conversations: the shared turns are the prompt",
    "ultra": "prompt + chosen/rejected conversations: the shared user turn is the prompt (a system "
             "column is not read)",
    "prompt_pairs": "prompt/chosen/rejected read as plain text, TRL's standard form (axolotl wraps "
                    "the prompt in the template's user turn: the plan's sequences lack that markup)",
}
KTO_TYPES = {"intel": "question", "argilla": "instruction", "ultra": "prompt", "prompt_pairs": "prompt"}


def _pref_type(m: c.Mapper, sub: c.Mapper, d: dict[str, Any], dtype: Any, src: dict[str, Any],
               objective: str) -> None:
    """A dataset's `type` under rl / reward_model: which preference record shape it names."""
    cols: dict[str, str] = {}
    template = None
    if isinstance(dtype, dict):      # user_defined: field_prompt, field_chosen, ... and formats
        fields = {"field_prompt": "prompt", "field_chosen": "chosen", "field_rejected": "rejected",
                  "field_completion": "completion", "field_label": "label"}
        cols = {ours: str(dtype[k]) for k, ours in fields.items() if dtype.get(k) and dtype[k] != ours}
        rest = sorted(set(dtype) - set(fields))
        note = "user-defined fields read as plain-text rows (TRL's standard form)" + (
            f"; not carried: {', '.join(rest)} (ftwizard reads the fields as they are)" if rest else "")
        if cols:
            src["columns"] = cols
        sub.mapped("type", {f"data.train[].columns.{k}": v for k, v in cols.items()}, note)
        return
    if dtype is None or dtype == "passthrough":
        sub.same("type", "records read as they are (TRL's own shapes, detected per record)")
        return
    prefix, _, kind = str(dtype).partition(".")
    kind = kind.split(":")[0]
    if prefix in PREF_TEMPLATES and objective == "kto" and kind in KTO_TYPES:
        if KTO_TYPES[kind] != "prompt":
            cols["prompt"] = KTO_TYPES[kind]
        note = (f"{KTO_TYPES[kind]}/completion/label read as plain-text KTO rows (axolotl wraps "
                "the prompt in the template's user turn: the plan's sequences lack that markup)")
    elif prefix in PREF_TEMPLATES and objective != "kto" and kind in PAIR_TYPES:
        note = PAIR_TYPES[kind]
        if kind != "prompt_pairs":
            template = PREF_TEMPLATES[prefix]
    elif prefix == "chat_template" and kind in ("default", "") and objective != "kto":
        for key, ours, default in (("field_messages", "messages", "messages"),
                                   ("field_chosen", "chosen", "chosen"),
                                   ("field_rejected", "rejected", "rejected")):
            v = d.get(key)
            if v not in (None, default) and not (ours == "messages" and v == "conversations"):
                cols[ours] = str(v)
                sub.mapped(key, {f"data.train[].columns.{ours}": str(v)})
            else:
                sub.same(key, f"ftwizard reads {v or default!r}")
        note = "the conversation so far in messages, chosen/rejected as one reply each"
    elif prefix == "chat_template" and kind == "argilla_chat" and objective != "kto":
        for key, ours in (("field_chosen", "chosen"), ("field_rejected", "rejected")):
            v = d.get(key)
            if v not in (None, ours):
                cols[ours] = str(v)
                sub.mapped(key, {f"data.train[].columns.{ours}": str(v)})
            else:
                sub.same(key, f"ftwizard reads {ours!r}")
        note = "chosen/rejected conversations: the shared turns are the prompt"
    else:
        sub.drop("type", f"{dtype}: ftwizard reads the preference shapes of core/preference_data.py "
                         "(TRL's prompt/chosen/rejected, chat pairs, chatml.intel/argilla/ultra/"
                         "argilla_chat, chat_template.default; KTO prompt/completion/label); "
                         "convert the data or rename its fields (input -> question reads "
                         "system/input/chosen/rejected as chatml.intel); the path is kept")
        return
    if prefix == "chat_template":
        _roles(sub, d)
        mpm = d.get("message_property_mappings")
        if isinstance(mpm, dict):
            for ours, names in (("role", ("role", "from")), ("content", ("content", "value"))):
                if mpm.get(ours) is not None and str(mpm[ours]) not in names:
                    cols[ours] = str(mpm[ours])
            sub.mapped("message_property_mappings",
                       {f"data.train[].columns.{k}": v for k, v in cols.items() if k in ("role", "content")})
        _template(m, sub, "chat_template", None)
    if cols:
        src["columns"] = cols
    targets: dict[str, Any] = {f"data.train[].columns.{k}": v for k, v in cols.items()
                               if k not in ("role", "content")}
    now = c._lookup(m.out, "data.chat_template")
    if template and now in (None, template):
        m.put("data.chat_template", template, sub._k("type"))
        targets["data.chat_template"] = template
        note += f"; axolotl renders these turns as {prefix}: data.chat_template {template}"
    elif template:
        note += (f"; axolotl renders this type as {prefix} but data.chat_template is {now}: "
                 "ftwizard renders every source with one template")
    sub.mapped("type", targets, note)


def _dataset(m: c.Mapper, key: str, d: dict[str, Any], base: Path, kinds: list[str]) -> list[dict[str, Any]]:
    """One entry of `datasets:` -> ftwizard sources (data_files may name several)."""
    sub = c.Mapper(d, m.source, FORMAT, prefix=f"{key}.")
    path = d.get("path")
    if not path:
        raise sub.fail("path", path, "every dataset needs a path", "give path: a local file or a hub id")
    split = d.get("split")
    files = d.get("data_files")
    if files:
        sub.seen.add("data_files")
        paths = [c.source_path(str(f), base) for f in (files if isinstance(files, list) else [files])]
        sub.rows.append(c.Row(sub._k("data_files"), files, c.MAPPED, f"data.train[].path = {paths}"))
        sub.same("path", f"{path}: the loader of data_files")
    else:
        paths = [c.source_path(str(path), base, split)]
        sub.seen.add("path")
        sub.rows.append(c.Row(sub._k("path"), path, c.MAPPED, f"data.train[].path = {paths[0]}"))
    if split is not None:
        if split == "train" or (paths and paths[0].endswith(f":{split}")):
            sub.same("split", "read as the path's split")
        else:
            sub.drop("split", "ftwizard reads a local file whole; split applies to hub datasets")
    dtype = d.get("type")
    src: dict[str, Any] = {}
    objective = c._lookup(m.out, "train.objective") or "sft"
    if objective != "sft":
        kinds.append("preference")
        _pref_type(m, sub, d, dtype, src, objective)
    elif isinstance(dtype, str) and dtype.split(":")[0] in DATASET_TYPES_TEXT:
        kinds.append("completion")
        field = d.get("field") or "text"
        src["text_field"] = field
        sub.mapped("type", {"data.train[].text_field": field} if "field" in d else {},
                   "plain text: one text column")
        if "field" in d:
            sub.seen.add("field")
    elif isinstance(dtype, str) and dtype in DATASET_TYPES_CHAT:
        kinds.append("chat")
        _chat_dataset(m, sub, d, dtype, src)
    elif isinstance(dtype, dict) and dtype.get("field_instruction") == "prompt" and dtype.get("field_output") == "completion":
        kinds.append("prompt")
        sub.mapped("type", {}, "prompt/completion columns, as ftwizard reads them")
    elif isinstance(dtype, dict) and dtype.get("field_instruction") and dtype.get("field_output"):
        kinds.append("alpaca")
        _alpaca_type(sub, dtype, src)
    elif isinstance(dtype, str) and dtype.split(":")[0] in DATASET_TYPES_ALPACA:
        kinds.append("alpaca")
        style = dtype.partition(":")[2]
        sub.mapped("type", {}, "alpaca records (instruction, input, output) read per record and "
                   "rendered as a user/assistant chat through the chat template, where axolotl "
                   "writes its Alpaca prompt text" + (f" ({style} style)" if style else ""))
        for k, ours in ALPACA_FIELDS.items():   # the dataset-level spelling of a custom type's fields
            if d.get(k) and d[k] != ours:
                src.setdefault("columns", {})[ours] = str(d[k])
                sub.mapped(k, {f"data.train[].columns.{ours}": d[k]})
            else:
                sub.same(k, f"ftwizard reads {ours!r}")
    elif dtype is None:
        kinds.append("unknown")
        sub.same("type", "ftwizard detects text, prompt/completion, alpaca, ShareGPT or messages "
                         "per record")
    else:
        kinds.append("other")
        sub.drop("type", f"{dtype if isinstance(dtype, str) else 'a custom format'}: ftwizard reads "
                         "a text column, prompt/completion, alpaca, ShareGPT or chat messages; "
                         "convert the data to one of those (the path is kept)")
    fmt = d.get("ds_type")
    if fmt == "json":
        sub.same("ds_type", "ftwizard reads JSON and JSONL from the extension")
    elif fmt in ("parquet", "csv", "text"):
        src["format"] = fmt
        sub.mapped("ds_type", {"data.train[].format": fmt})
    sub.drop("name", "a dataset configuration name: hf:NAME[:split] has no subset; download it "
                     "and point at the files")
    sub.drop("shards", "ftwizard reads the whole dataset")
    sub.finish()
    m.rows.extend(sub.rows)
    return [{"path": p, **src} for p in paths]


def _chat_dataset(m: c.Mapper, sub: c.Mapper, d: dict[str, Any], dtype: str, src: dict[str, Any]) -> None:
    """type: chat_template (or the older sharegpt): which column holds the turns, which keys hold
    role and text, the template, and which roles are trained."""
    sub.mapped("type", {}, "a chat (messages or ShareGPT conversations) read per record: "
                           "entries mode, prompt turns masked")
    cols: dict[str, str] = {}
    fm = d.get("field_messages")
    if fm in (None, "messages", "conversations"):
        sub.same("field_messages", "ftwizard reads a `messages` or `conversations` column")
    else:
        cols["messages"] = str(fm)
        sub.mapped("field_messages", {"data.train[].columns.messages": str(fm)})
    mpm = d.get("message_property_mappings")
    props = dict(mpm) if isinstance(mpm, dict) else {}
    for legacy, ours in (("message_field_role", "role"), ("message_field_content", "content")):
        if d.get(legacy) is not None:
            props.setdefault(ours, d[legacy])
    read = {"role": ("role", "from"), "content": ("content", "value")}
    for ours, names in read.items():
        if props.get(ours) is not None and str(props[ours]) not in names:
            cols[ours] = str(props[ours])
    others = sorted(set(props) - set(read))
    for key in ("message_property_mappings", "message_field_role", "message_field_content"):
        if key not in d:
            continue
        mine = {f"data.train[].columns.{k}": v for k, v in cols.items() if k in read and (
            key == "message_property_mappings" or key.endswith(k))}
        if mine:
            sub.mapped(key, mine, f"other properties ({', '.join(others)}) are not read"
                       if others and key == "message_property_mappings" else "")
        elif others and key == "message_property_mappings":
            sub.drop(key, f"ftwizard reads only a turn's role and text, not {', '.join(others)}")
        else:
            sub.same(key, "role/content or from/value, which ftwizard reads")
    if cols:
        src["columns"] = cols
    _roles(sub, d)
    _trained_roles(m, sub, d)
    eos = d.get("train_on_eos")
    if eos in (None, "turn"):
        sub.same("train_on_eos", "each trained reply's end-of-turn marker carries loss")
    else:
        sub.drop("train_on_eos", "ftwizard trains the end-of-turn marker of every trained reply "
                                 "(axolotl's turn)")
    for k in ("message_field_training", "message_field_training_detail"):
        sub.drop(k, "ftwizard masks by role (data.train_on), not by a per-turn flag")
    sub.drop("drop_system_message", "ftwizard trains on the records as they are: delete the "
                                    "system turns from the file")
    _template(m, sub, "chat_template", None)
    if dtype == "sharegpt":
        _template(m, sub, "conversation", None, table={"chatml": "chatml", "llama-3": "llama-3"})


def _trained_roles(m: c.Mapper, sub: c.Mapper, d: dict[str, Any]) -> None:
    """roles_to_train -> data.train_on (one for all sources in ftwizard)."""
    from ftwizard.core.data_formats import ROLES

    v = d.get("roles_to_train")
    if v is None:
        return
    if not isinstance(v, list):
        raise sub.fail("roles_to_train", v, "must be a list of roles", "write roles_to_train: [assistant]")
    want = {ROLES.get(str(r).lower(), str(r)) for r in v}
    chosen = "completion" if want == {"assistant"} else \
        "all" if {"user", "assistant"} <= want else None
    current = c._lookup(m.out, "data.train_on") or "completion"
    if chosen is None:
        sub.drop("roles_to_train", TRAINED_ROLES_WHY.format(roles=" and ".join(sorted(want)) or "nothing"))
    elif m.peek("train_on_inputs"):
        sub.same("roles_to_train", "train_on_inputs: true trains every token already")
    elif chosen == "completion":
        sub.same("roles_to_train", "every assistant turn: data.train_on completion")
    elif c._lookup(m.out, "data.train_on") not in (None, chosen):
        sub.drop("roles_to_train", f"another dataset sets data.train_on {current}: ftwizard "
                                   "masks every source the same way")
    else:
        m.put("data.train_on", "all", sub._k("roles_to_train"))
        sub.seen.add("roles_to_train")
        sub.rows.append(c.Row(sub._k("roles_to_train"), v, c.MAPPED, "data.train_on = all",
                              "user and assistant turns trained; ftwizard's all also trains the "
                              "system turn and the template's markup"))


def _alpaca_type(sub: c.Mapper, t: dict[str, Any], src: dict[str, Any]) -> None:
    """A custom `type: {field_instruction, field_input, field_output, field_system, format, ...}`:
    the fields become data.train[].columns; ftwizard puts instruction and input in the user turn."""
    cols = {ours: str(t[k]) for k, ours in ALPACA_FIELDS.items() if t.get(k) and t[k] != ours}
    lost = []
    if t.get("format") not in (None, ALPACA_FORMAT, "{instruction} {input}", "{instruction}"):
        lost.append(f"format {t['format']!r}")
    if t.get("no_input_format") not in (None, ALPACA_NO_INPUT):
        lost.append(f"no_input_format {t['no_input_format']!r}")
    for k in ("system_prompt", "system_format"):
        if t.get(k):
            lost.append(f"{k} {t[k]!r}")
    unknown = sorted(set(t) - set(ALPACA_FIELDS) - {"format", "no_input_format", "system_prompt", "system_format"})
    lost.extend(unknown)
    note = "instruction/input/output records, rendered as a user/assistant chat"
    if lost:
        note += ("; not carried: " + ", ".join(lost) + " (ftwizard writes the instruction, a blank "
                 "line and the input as the user turn of the chat template)")
    if cols:
        src["columns"] = cols
    sub.mapped("type", {f"data.train[].columns.{k}": v for k, v in cols.items()}, note)


def _template(m: c.Mapper, at: c.Mapper, key: str, base: Path | None,
              table: dict[str, str] | None = None) -> None:
    """chat_template (top level or a dataset's) / chat_template_jinja -> data.chat_template, one
    for every source in ftwizard."""
    table = table or c.AXOLOTL_TEMPLATES
    name = at.data.get(key)
    jinja = at.data.get("chat_template_jinja") if key == "chat_template" else None
    if name is None and jinja is None:
        return
    ours: str | None = None
    why = ""
    if name in (None, "jinja") and jinja is not None:
        text = str(jinja)
        inline = any(t in text for t in ("{{", "{%", "\n")) or len(text) > 1024
        where = None if inline else c.find_file(text, base or Path(m.source).parent)
        if where is not None and where.is_file():
            ours = str(where.resolve())
        elif not inline:
            why = f"the file {jinja} is not here (looked beside the config and in the working directory)"
        else:
            why = ("inline Jinja text: data.chat_template takes a name or a .jinja file; save it "
                   "as a .jinja file and set data.chat_template to its path")
    elif name == "tokenizer_default":
        at.same(key, "the tokenizer's own template, which ftwizard uses without data.chat_template")
        at.same("chat_template_jinja", "used only with chat_template: jinja")
        return
    elif isinstance(name, str) and name.startswith("tokenizer_default_fallback_"):
        why = ("ftwizard uses the tokenizer's template unless data.chat_template names one (no "
               "fallback): for a model without one set data.chat_template")
    elif isinstance(name, str) and name in table:
        ours = table[name]
    else:
        why = c.template_why(name, FORMAT, table)
    now = c._lookup(m.out, "data.chat_template")
    if ours is not None and now not in (None, ours):
        why, ours = f"another setting chose {now}: ftwizard renders every source with one template", None
    keys = [k for k in (key, "chat_template_jinja" if key == "chat_template" else None) if k and k in at.data]
    if ours is None:
        for k in keys:
            at.drop(k, why)
        return
    m.put("data.chat_template", ours, at._k(keys[0]))
    for k in keys:
        at.seen.add(k)
        at.rows.append(c.Row(at._k(k), at.data[k], c.MAPPED, f"data.chat_template = {ours}",
                             "saved with the trained tokenizer"))


# ---------------------------------------------------------------- export

def from_config(cfg, out_dir: Path | None, stem: str) -> tuple[dict[str, Any], list[str], dict[str, Any]]:  # noqa: ANN001
    """RunConfig -> (axolotl dict, what could not be written, extra files {name: json})."""
    from ftwizard.core.importers.export_common import deepspeed_file, fsdp_list, lost_keys

    mo, me, tr, da = cfg.model, cfg.method, cfg.train, cfg.data
    out: dict[str, Any] = {"base_model": mo.name}
    if mo.tokenizer:
        out["tokenizer_config"] = mo.tokenizer
    if mo.trust_remote_code:
        out["trust_remote_code"] = True
    if mo.attn_implementation == "flash_attention_2":
        out["flash_attention"] = True
    elif mo.attn_implementation == "sdpa":
        out["sdp_attention"] = True
    elif mo.attn_implementation == "eager":
        out["eager_attention"] = True
    out["bf16"] = mo.dtype == "bf16"
    out["fp16"] = mo.dtype == "fp16"
    if me.kind == "qlora":
        out["adapter"] = "qlora" if me.quant_bits == 4 else "lora"
        out["load_in_4bit"] = me.quant_bits == 4
        out["load_in_8bit"] = me.quant_bits == 8
        if me.quant_bits == 4 and not me.double_quant:
            out["bnb_config_kwargs"] = {"bnb_4bit_use_double_quant": False}
    elif me.kind == "lora":
        out["adapter"] = "lora"
    if cfg.is_adapter:
        out.update({"lora_r": me.lora.r, "lora_alpha": me.lora.alpha, "lora_dropout": me.lora.dropout})
        if me.lora.target_modules == "all-linear":
            out["lora_target_linear"] = True
        else:
            out["lora_target_modules"] = list(me.lora.target_modules) if isinstance(
                me.lora.target_modules, list) else [me.lora.target_modules]
    out["sequence_len"] = da.block_size
    obj = tr.objective
    lost_data: list[str] = []
    lost_data.extend(_export_preference(cfg, out))
    out["sample_packing"] = obj == "sft" and (da.mode == "corpus" or bool(da.packing))
    datasets = []
    for s in da.train:
        datasets.append(_export_source(s, da.mode, lost_data) if obj == "sft"
                        else _export_pref_source(s, cfg, lost_data))
    if datasets:
        out["datasets"] = datasets
    if da.validation and da.validation.split:
        out["val_set_size"] = da.validation.split
    else:
        out["val_set_size"] = 0
        if da.validation and da.validation.path:
            out["test_datasets"] = [{**(_export_source(_Src(da.validation.path), da.mode, lost_data)
                                        if obj == "sft" else
                                        _export_pref_source(_Src(da.validation.path), cfg, lost_data)),
                                     "split": "train"}]
    from ftwizard.core.data_prep import train_on_of

    train_on = train_on_of(da) if obj == "sft" else "completion"
    out["train_on_inputs"] = train_on == "all"
    if da.chat_template and "chat_template" not in out:
        name = c.template_name(da.chat_template, c.AXOLOTL_TEMPLATES)
        if name:
            out["chat_template"] = name
        elif Path(da.chat_template).expanduser().is_file():
            out["chat_template"] = "jinja"
            out["chat_template_jinja"] = str(Path(da.chat_template).expanduser().resolve())
    out["output_dir"] = cfg.output.dir
    out.update({"micro_batch_size": tr.micro_batch, "gradient_accumulation_steps": tr.grad_accum,
                "num_epochs": tr.epochs})
    if tr.max_steps:
        out["max_steps"] = tr.max_steps
    out["learning_rate"] = tr.lr
    out["lr_scheduler"] = tr.scheduler
    if tr.scheduler == "cosine" and tr.end_lr:
        out["cosine_min_lr_ratio"] = tr.end_lr / tr.lr
    if tr.warmup_steps is not None:
        out["warmup_steps"] = tr.warmup_steps
    else:
        out["warmup_ratio"] = tr.warmup_ratio
    from ftwizard.core.importers.common import OPTIMIZER_NAMES

    out.update({"weight_decay": tr.weight_decay, "max_grad_norm": tr.max_grad_norm,
                "optimizer": OPTIMIZER_NAMES[me.optimizer],
                "gradient_checkpointing": me.gradient_checkpointing,
                "save_steps": tr.save_every, "eval_steps": tr.eval_every, "logging_steps": tr.log_every,
                "save_total_limit": tr.keep_checkpoints, "seed": tr.seed})
    if cfg.output.report_to == "wandb":
        import os

        out["wandb_project"] = os.environ.get("WANDB_PROJECT") or cfg.name
    elif cfg.output.report_to == "tensorboard":
        out["use_tensorboard"] = True
    elif cfg.output.report_to == "mlflow":
        import os

        out["mlflow_experiment_name"] = os.environ.get("MLFLOW_EXPERIMENT_NAME") or cfg.name
    extra: dict[str, Any] = {}
    if me.parallel == "deepspeed":
        name, ds = deepspeed_file(cfg, stem)
        out["deepspeed"] = str(out_dir / name) if out_dir else name
        extra[name] = ds
    elif me.parallel == "fsdp":
        out["fsdp"], out["fsdp_config"] = fsdp_list(cfg)
    lost = lost_keys(cfg, FORMAT) + lost_data
    if tr.end_lr and tr.scheduler != "cosine":
        lost.append(f"train.end_lr={tr.end_lr} with a {tr.scheduler} schedule (axolotl anneals linear to 0)")
    if train_on == "last_turn":
        lost.append("data.train_on=last_turn (axolotl trains every turn of roles_to_train; mark the "
                    "turns with message_field_training)")
    if not da.mask_prompt and da.mode == "entries" and obj == "sft":
        lost.append("data.mask_prompt=false (written as train_on_inputs: true, which it means; read "
                    "back as data.train_on: all)")
    if da.chat_template and "chat_template" not in out:
        lost.append(f"data.chat_template={da.chat_template} (not a file here and not one of axolotl's "
                    "names)")
    if da.packing and da.mode == "entries" and any(
            d.get("type") == "completion" for d in datasets):
        lost.append("data.packing with text examples (axolotl's completion + sample_packing is read "
                    "back as corpus mode)")
    if any(s.weight != 1.0 for s in da.train):
        lost.append("data.train weights (axolotl concatenates datasets)")
    return out, lost, extra


def _export_preference(cfg, out: dict[str, Any]) -> list[str]:  # noqa: ANN001
    """train.objective's knobs in axolotl's keys (rl, rl_beta, dpo_*, kto_*, reward_model, ...);
    what it cannot hold, listed."""
    tr, p = cfg.train, cfg.train.preference
    lost: list[str] = []
    if tr.objective == "sft":
        return lost
    if tr.objective == "reward":
        out["reward_model"] = True
        out["model_type"] = "AutoModelForSequenceClassification"
        out["num_labels"] = 1
        if p.center_rewards is not None:
            out["center_rewards_coefficient"] = p.center_rewards
        return lost
    out["rl"] = "ipo" if (tr.objective == "dpo" and p.loss_type == "ipo") else tr.objective
    out["rl_beta"] = p.beta
    if tr.objective == "dpo" and p.loss_type not in (None, "ipo"):
        out["dpo_loss_type"] = [p.loss_type]
    elif tr.objective == "kto" and p.loss_type not in (None, "kto"):
        lost.append(f"train.preference.loss_type={p.loss_type} (axolotl's KTO trains TRL's kto loss)")
    if p.label_smoothing:
        if out["rl"] == "dpo":
            out["dpo_label_smoothing"] = p.label_smoothing
        else:
            lost.append(f"train.preference.label_smoothing={p.label_smoothing} (axolotl passes "
                        "dpo_label_smoothing with rl: dpo only)")
    if tr.objective == "kto":
        out["kto_desirable_weight"] = p.desirable_weight
        out["kto_undesirable_weight"] = p.undesirable_weight
    if p.reference == "precomputed" and tr.objective in REFERENCE_OBJECTIVES:
        out["precompute_ref_log_probs"] = True
    if p.truncation != "keep_start":
        lost.append(f"train.preference.truncation={p.truncation} (axolotl has no key for TRL's "
                    "truncation_mode)")
    return lost


def _export_pref_source(s, cfg, lost: list[str]) -> dict[str, Any]:  # noqa: ANN001
    """A preference source -> an axolotl dataset whose type names its record shape."""
    from ftwizard.core.importers.llamafactory import _pref_shape

    name, split = c.hub_name(s.path)
    d: dict[str, Any] = {"path": name}
    if split:
        d["split"] = split
    cols = dict(s.columns or {})
    shape = _pref_shape(s.path, cols)
    prefix = {"chatml": "chatml", "llama-3": "llama3"}.get(cfg.data.chat_template or "chatml")
    kto = cfg.train.objective == "kto"
    if shape == "messages":
        d["type"] = "chat_template.default"
        for ours, key in (("messages", "field_messages"), ("chosen", "field_chosen"),
                          ("rejected", "field_rejected")):
            if ours in cols:
                d[key] = cols[ours]
        if cols.get("role") or cols.get("content"):
            d["message_property_mappings"] = {"role": cols.get("role", "role"),
                                              "content": cols.get("content", "content")}
    elif shape == "sharegpt" and not kto:
        # LLaMA-Factory's ShareGPT pairs: chat_template.default reads a chosen/rejected turn dict
        d["type"] = "chat_template.default"
        d["field_messages"] = cols.get("conversations", "conversations")
        for ours, key in (("chosen", "field_chosen"), ("rejected", "field_rejected")):
            if ours in cols:
                d[key] = cols[ours]
        d["message_property_mappings"] = {"role": cols.get("role", "from"),
                                          "content": cols.get("content", "value")}
        d["roles"] = {"user": ["human"], "assistant": ["gpt"], "system": ["system"]}
        if cols.get("system"):
            lost.append(f"{s.path}: columns.system={cols['system']} (axolotl reads a system "
                        "prompt only as a turn)")
    elif shape == "alpaca" and not kto:
        d["type"] = {"field_prompt": cols.get("instruction", "instruction"),
                     **{f"field_{k}": cols[k] for k in ("chosen", "rejected") if k in cols}}
        lost.append(f"{s.path}: alpaca pairs (axolotl's user-defined type reads one prompt field: "
                    "the instruction, without input, system or history, as plain text)")
    elif shape == "chat" and not kto:
        d["type"] = "chat_template.argilla_chat"
        for ours, key in (("chosen", "field_chosen"), ("rejected", "field_rejected")):
            if ours in cols:
                d[key] = cols[ours]
    elif shape in ("intel", "argilla") and not kto and prefix:
        d["type"] = f"{prefix}.{shape}"
    elif kto and shape in ("kto", "unknown"):
        by_prompt = {v: k for k, v in KTO_TYPES.items() if k != "ultra"}
        kind = by_prompt.get(cols.get("prompt", "prompt"))
        d["type"] = f"{prefix or 'chatml'}.{kind or 'prompt_pairs'}"
        if kind is None or any(cols.get(k, k) != k for k in ("completion", "label")):
            lost.append(f"{s.path}: columns {cols} (axolotl's KTO types read prompt, question or "
                        "instruction with completion and label)")
    elif shape in ("explicit", "unknown") and not any(k in cols for k in ("chosen", "rejected")):
        d["type"] = {"field_prompt": cols["prompt"]} if "prompt" in cols else "passthrough"
    elif shape in ("explicit", "implicit") and not kto:
        d["type"] = {f"field_{k}": cols.get(k, k) for k in ("prompt", "chosen", "rejected")}
    else:
        d["type"] = "passthrough"
        lost.append(f"{s.path}: {shape} preference records (no axolotl type reads them as "
                    "ftwizard does; written as passthrough)")
    if shape in ("intel", "argilla") and not prefix:
        lost.append(f"{s.path}: {shape} records with data.chat_template={cfg.data.chat_template} "
                    "(axolotl's {shape} types render chatml or llama3)")
    fmt = s.format if s.format != "auto" else None
    if fmt in ("parquet", "csv"):
        d["ds_type"] = fmt
    elif not s.path.startswith("hf:") and Path(s.path).suffix.lower() in (".json", ".jsonl"):
        d["ds_type"] = "json"
    return d


class _Src:
    def __init__(self, path: str) -> None:
        self.path, self.text_field, self.format, self.weight = path, "text", "auto", 1.0
        self.columns = None


def _export_source(s, mode: str, lost: list[str]) -> dict[str, Any]:  # noqa: ANN001
    name, split = c.hub_name(s.path)
    d: dict[str, Any] = {"path": name}
    if split:
        d["split"] = split
    cols = dict(s.columns or {})
    kind = "text" if mode == "corpus" else c.peek_record_kind(s.path, s.text_field, cols)
    if kind in ("messages", "sharegpt"):
        d["type"] = "chat_template"
        d["field_messages"] = cols.get("messages") or cols.get("conversations") or (
            "messages" if kind == "messages" else "conversations")
        role = cols.get("role") or cols.get("from") or ("from" if kind == "sharegpt" else None)
        content = cols.get("content") or cols.get("value") or ("value" if kind == "sharegpt" else None)
        if role or content:
            d["message_property_mappings"] = {"role": role or "role", "content": content or "content"}
        if cols.get("tools"):
            lost.append(f"{s.path}: columns.tools={cols['tools']} (not written: name the field "
                        "`tools` in the file)")
        if kind == "sharegpt" and cols.get("system"):
            lost.append(f"{s.path}: columns.system={cols['system']} (axolotl reads a system prompt "
                        "only as a turn)")
    elif kind == "prompt":
        d["type"] = {"field_instruction": cols.get("prompt", "prompt"),
                     "field_output": cols.get("completion", "completion"),
                     "format": "{instruction}", "no_input_format": "{instruction}"}
        if d["type"]["field_instruction"] != "prompt" or d["type"]["field_output"] != "completion":
            lost.append(f"{s.path}: prompt/completion columns {cols} (written as a custom type: "
                        "read back as columns.instruction/output, rendered as a chat)")
    elif kind == "alpaca":
        fields = {k: cols[ours] for k, ours in ALPACA_FIELDS.items() if ours in cols}
        d["type"] = "alpaca" if not fields else {
            "field_instruction": cols.get("instruction", "instruction"),
            "field_input": cols.get("input", "input"), "field_output": cols.get("output", "output"),
            **({"field_system": cols["system"]} if "system" in cols else {}),
            "format": ALPACA_FORMAT, "no_input_format": ALPACA_NO_INPUT}
        if "history" in cols:
            lost.append(f"{s.path}: columns.history={cols['history']} (axolotl's alpaca has no "
                        "history turns)")
    else:
        d["type"] = "completion"
        if s.text_field != "text":
            d["field"] = s.text_field
    fmt = s.format if s.format != "auto" else None
    if fmt in ("parquet", "csv", "text"):
        d["ds_type"] = fmt
    elif not s.path.startswith("hf:") and Path(s.path).suffix.lower() in (".json", ".jsonl"):
        d["ds_type"] = "json"
    return d


def _roles(sub: Any, d: dict[str, Any]) -> None:
    """A dataset's `roles` mapping: the same as ftwizard's fixed role names, or not carried."""
    from ftwizard.core.data_formats import ROLES

    roles = d.get("roles")
    if isinstance(roles, dict):
        bad = [f"{x}->{t}" for t, xs in roles.items() for x in (xs if isinstance(xs, list) else [xs])
               if ROLES.get(str(x).lower()) != t]
        if bad:
            sub.drop("roles", f"ftwizard's role names are fixed ({', '.join(ROLES)}); "
                              f"{', '.join(bad)} is not among them: rename the roles in the file")
        else:
            sub.same("roles", "these role names are ftwizard's own")
