"""Preference and reward training (train.objective dpo | orpo | kto | reward) through TRL's own
trainers, with everything else shared with SFT (core/backends/hf.py): the process group, the
precision, TrainingArguments' values, the model's dtype and LoRA/QLoRA handling, the plan's steps
and LR curve (hf.PlannedSchedule mixed into TRL's trainer class), the events, the stop handler,
checkpoints and final/.

| objective | trainer (TRL 1.16)                       | data rows (core/preference_data.py) |
|-----------|------------------------------------------|-------------------------------------|
| dpo       | trl.DPOTrainer / DPOConfig               | prompt, chosen, rejected            |
| orpo      | trl.experimental.orpo.ORPOTrainer        | prompt, chosen, rejected            |
| kto       | trl.KTOTrainer / KTOConfig               | prompt, completion, label           |
| reward    | trl.RewardTrainer / RewardConfig         | prompt, chosen, rejected            |

The reference model of dpo and kto, as TRL 1.16 builds it (dpo_trainer.py / kto_trainer.py
__init__, read for this module; core/memory.py plans from it):

- LoRA / QLoRA: the base model is handed over unwrapped with `peft_config`; TRL wraps it and,
  with `ref_model=None`, computes the reference log-probs with the adapters disabled. No second
  model is held: zero extra weights. (Given an already wrapped PeftModel instead, TRL would add a
  second "ref" adapter, a copy of the trainable one; we avoid that.)
- Full fine-tuning, preference.reference auto: a frozen copy of the whole model. TRL's own copy
  would be loaded in the policy's dtype, fp32 under mixed precision (4 bytes a parameter); we
  pass one loaded in the compute dtype instead (2 bytes a parameter in bf16/fp16, 4 in fp32), with
  no gradients or optimizer states. TRL prepares it as follows: DeepSpeed ZeRO-3 shards it like the
  policy (prepare_deepspeed keeps stage 3); ZeRO-1/2 hold a whole copy per process (stage 0);
  FSDP shards it (prepare_fsdp); DDP or one process: a whole copy per process.
- preference.reference precomputed (`precompute_ref_log_probs=True`): the reference log-probs of
  every training (and validation) row are computed once in TRL's __init__, by the policy itself
  before its first step for full fine-tuning and with the adapters off for LoRA, and no reference
  is held while training. Under FSDP TRL loads a reference copy for that pass and frees it.
- orpo and reward have no reference model.

Steps: the rows come already filtered exactly as the trainer filters them, so len(train rows) is
what the trainer counts; plan_steps on it (with apply_drop_last as for SFT) must equal
trainer.state.max_steps, and the run logs it when it does not.

What the CPU tests here cannot confirm (GPU-ONLY): QLoRA's CUDA kernels (on the CPU bitsandbytes'
NF4 layers do train DPO: tests/e2e/test_preference_e2e.py; TRL casts the trainable adapter
weights of a quantized model to bf16, which a GPU without bf16 (V100, T4) may refuse), the
reference's and the paired batch's real memory on a GPU (core/memory.py's terms), and FSDP (on the
CPU accelerate runs it as DDP, FACTS.md).
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

import torch

from ftwizard.core.backends import Outcome
from ftwizard.core.backends import hf
from ftwizard.core.config import REFERENCE_OBJECTIVES
from ftwizard.core.errors import InputError
from ftwizard.core.schedule import plan_steps

OBJECTIVES = ("dpo", "orpo", "kto", "reward")


def trl_classes(objective: str) -> tuple[type, type]:
    """(Trainer, Config) of TRL for an objective."""
    if objective == "dpo":
        from trl import DPOConfig, DPOTrainer

        return DPOTrainer, DPOConfig
    if objective == "orpo":
        with warnings.catch_warnings():  # TRL 1.16 keeps ORPO in trl.experimental, knowingly used
            warnings.filterwarnings("ignore", message="You are importing from 'trl.experimental'")
            from trl.experimental.orpo import ORPOConfig, ORPOTrainer

        return ORPOTrainer, ORPOConfig
    if objective == "kto":
        from trl import KTOConfig, KTOTrainer

        return KTOTrainer, KTOConfig
    if objective == "reward":
        from trl import RewardConfig, RewardTrainer

        return RewardTrainer, RewardConfig
    raise InputError(f"train.objective {objective!r} is not a preference objective",
                     field="train.objective", value=objective, fix=f"one of {', '.join(OBJECTIVES)}")


def objective_args(cfg: Any) -> dict[str, Any]:
    """train.preference as the TRL config's own keyword arguments. data.block_size is every
    trainer's max_length (prompt and completion together)."""
    t, pref = cfg.train, cfg.train.preference
    args: dict[str, Any] = {"max_length": cfg.data.block_size}
    if t.objective == "orpo":
        args["beta"] = pref.beta          # the odds-ratio term's weight (lambda in the paper)
        return args                       # ORPO's collator needs remove_unused_columns=False
    # TRL's preference collators read their own tokenized columns (its signature columns)
    args["remove_unused_columns"] = True
    if t.objective == "reward":
        args["center_rewards_coefficient"] = pref.center_rewards
        return args
    args["beta"] = pref.beta
    args["precompute_ref_log_probs"] = pref.reference == "precomputed"
    if t.objective == "dpo":
        args["loss_type"] = [pref.loss_type or "sigmoid"]
        args["label_smoothing"] = pref.label_smoothing
        args["truncation_mode"] = pref.truncation
    else:  # kto
        args["loss_type"] = pref.loss_type or "kto"
        args["desirable_weight"] = pref.desirable_weight
        args["undesirable_weight"] = pref.undesirable_weight
    return args


def check(cfg: Any) -> None:
    """What TRL would refuse with a traceback, refused first with the field and the fix."""
    t = cfg.train
    if t.objective == "kto" and (t.preference.loss_type or "kto") == "kto" and t.micro_batch < 2:
        raise InputError("KTO estimates its KL term from the other completions of a micro-batch, so "
                         "it needs at least 2 rows per micro-batch", field="train.micro_batch",
                         value=t.micro_batch, fix="set train.micro_batch to 2 or more")
    targets = cfg.method.lora.target_modules
    if (t.objective in REFERENCE_OBJECTIVES and cfg.method.kind != "full" and isinstance(targets, list)
            and "lm_head" in targets):
        raise InputError(f"{t.objective} computes log-probs from lm_head's weight directly, so a LoRA "
                         "adapter on lm_head would never train", field="method.lora.target_modules",
                         value=targets, fix="remove lm_head from method.lora.target_modules")


def load_data(cfg: Any) -> tuple[Any, list[dict], list[dict] | None]:
    """The tokenizer and the rows in TRL's dataset shape (core/preference_data.py; the plan
    counted the same rows)."""
    from ftwizard.core.data import load_tokenizer
    from ftwizard.core.preference_data import preference_sets

    tok = load_tokenizer(cfg.model)
    hf.ensure_pad_token(tok, cfg)
    train, val = preference_sets(cfg, tok)
    return tok, train, val


def load_reference(cfg: Any, prec: str) -> Any:
    """Full fine-tuning's frozen reference for dpo/kto, in the compute dtype (not the policy's
    fp32 master dtype: it is never updated). None where TRL needs no copy (see the module doc)."""
    if (cfg.train.objective not in REFERENCE_OBJECTIVES or cfg.method.kind != "full"
            or cfg.train.preference.reference == "precomputed"):
        return None
    from transformers import AutoModelForCausalLM

    kwargs: dict[str, Any] = {"trust_remote_code": cfg.model.trust_remote_code,
                              "dtype": hf.TORCH_DTYPES[prec]}
    if cfg.model.attn_implementation:
        kwargs["attn_implementation"] = cfg.model.attn_implementation
    ref = AutoModelForCausalLM.from_pretrained(hf.model_path(cfg), **kwargs)
    ref.requires_grad_(False)
    return ref.eval()


def load_policy(cfg: Any, dist: hf.Dist, prec: str, pad_id: int) -> tuple[Any, Any]:
    """(model, peft_config): the base as SFT loads it (dtype, QLoRA quantization and k-bit
    preparation), unwrapped, and the LoRA config TRL wraps it with. A reward model is a sequence
    classifier with one label (a fresh score head); its LoRA task is SEQ_CLS, so PEFT trains and
    saves the score head with the adapters."""
    if cfg.train.objective == "reward":
        from transformers import AutoModelForSequenceClassification

        model = hf.load_base(cfg, dist, prec, pad_id, auto_class=AutoModelForSequenceClassification,
                             num_labels=1)
        return model, hf.lora_config(cfg, task_type="SEQ_CLS")
    return hf.load_base(cfg, dist, prec, pad_id), hf.lora_config(cfg)


def row_tokens(objective: str, row: dict[str, Any], block: int) -> int:
    """Tokens the policy runs for one prepared row (for tokens/s): both sequences of a pair."""
    def n(key: str) -> int:
        return len(row.get(key) or [])

    if objective == "dpo":
        return min(block, n("prompt_ids") + n("chosen_ids")) + min(block, n("prompt_ids") + n("rejected_ids"))
    if objective == "kto":
        return min(block, n("prompt_ids") + n("completion_ids"))
    if objective == "orpo":
        return n("chosen_input_ids") + n("rejected_input_ids")
    return min(block, n("chosen_ids")) + min(block, n("rejected_ids"))


def tokens_per_step(trainer: Any, cfg: Any, global_batch: int) -> float:
    data = trainer.train_dataset
    rows = [data[i] for i in range(min(len(data), 256))]
    if not rows:
        return 0.0
    mean = sum(row_tokens(cfg.train.objective, r, cfg.data.block_size) for r in rows) / len(rows)
    return mean * global_batch


def reference_kind(cfg: Any, prec: str) -> str:
    """What the run holds as its reference, for the start event."""
    if cfg.train.objective not in REFERENCE_OBJECTIVES:
        return "none"
    if cfg.train.preference.reference == "precomputed":
        return "precomputed log-probs"
    if cfg.method.kind != "full":
        return "base model with the adapters off"
    return f"frozen copy in {prec}"


def train(cfg: Any, run_dir: Path, *, resume: bool, writer: Any, log: Any) -> Outcome:
    """One dpo/orpo/kto/reward run; called by hf._train (hf.train wraps it with the trackers)."""
    import datasets

    check(cfg)
    datasets.disable_progress_bars()  # TRL's map/filter bars would fill stdout.log
    # TRL 1.16 still asks for the name transformers 5.24 deprecates: noise in stdout.log
    warnings.filterwarnings("ignore", message="`is_gradient_checkpointing` is deprecated",
                            category=FutureWarning)
    trainer_cls, config_cls = trl_classes(cfg.train.objective)
    dist, writer, prec = hf.begin(cfg, writer, log)
    tok, train_rows, val_rows = load_data(cfg)
    pad_id = hf.ensure_pad_token(tok, cfg)
    train_rows, dropped = hf.apply_drop_last(train_rows, cfg, dist.data_parallel)
    steps = plan_steps(cfg, len(train_rows) + dropped, dist.data_parallel)

    values = hf.training_argument_values(cfg, run_dir, dist, prec, steps, bool(val_rows),
                                         hf.deepspeed_config(cfg, run_dir))
    values.update(objective_args(cfg))
    args = config_cls(**values)
    model, peft_config = load_policy(cfg, dist, prec, pad_id)
    ref = load_reference(cfg, prec)

    fields = hf.start_fields(cfg, run_dir, dist, prec, steps, model)
    fields["reference"] = reference_kind(cfg, prec)
    cb = hf.EventsCallback(run_dir, writer, dist, 0.0, steps.total, fields)
    kwargs: dict[str, Any] = dict(
        model=model, args=args, train_dataset=datasets.Dataset.from_list(list(train_rows)),
        eval_dataset=datasets.Dataset.from_list(list(val_rows)) if val_rows else None,
        processing_class=tok, callbacks=[cb], peft_config=peft_config,
        lr_plan=hf.lr_plan(cfg, steps))
    if cfg.train.objective in REFERENCE_OBJECTIVES:
        kwargs["ref_model"] = ref
    trainer = hf.planned(trainer_cls)(**kwargs)
    fields["model"] = hf.model_facts(trainer.model)  # with the adapters TRL added
    cb.tokens_per_step = tokens_per_step(trainer, cfg, steps.global_batch)
    kept = len(trainer.train_dataset)
    if kept != len(train_rows):
        msg = (f"{cfg.train.objective}: the trainer kept {kept} of {len(train_rows)} rows (the plan "
               "counted every row): its steps will differ from the plan's")
        log(msg)
        if writer:
            writer.log(msg)
    hf.run_trainer(trainer, cb, run_dir, steps, resume=resume, writer=writer, log=log)
    sample = reward_sample if cfg.train.objective == "reward" else None
    return hf.finish(trainer, cb, cfg, run_dir, dist, tok, writer=writer, log=log, sample=sample)


@torch.no_grad()
def reward_sample(trainer: Any, cfg: Any, final: Path, tok: Any) -> str:
    """A reward model generates nothing: instead, the rewards it gives the first training pair,
    chosen then rejected (one line for the log and the end event's sample)."""
    from ftwizard.core.backends import export

    zero3 = cfg.method.parallel == "deepspeed" and cfg.method.zero_stage == 3
    model = export.load_reward_model(final) if zero3 else trainer.accelerator.unwrap_model(trainer.model)
    row = trainer.train_dataset[0]
    was_training = model.training
    try:
        scores = export.rewards(model, [row["chosen_ids"], row["rejected_ids"]],
                                pad_id=int(tok.pad_token_id))
    finally:
        if was_training:
            model.train()
    return f"reward of the first training pair: chosen {scores[0]:.4f}, rejected {scores[1]:.4f}"
