"""After training: merge a LoRA adapter into its base (seed 004's lora_merge), save in Hugging Face
format, and generate a short sample from the result (seed 001's infer_test).

The merge loads the base unquantized in 16-bit (fp32 on request): merging into NF4/int8 weights
would round the update away, which is why QLoRA users merge into a 16-bit copy.

A reward model (train.objective reward) generates nothing: it is a one-label sequence classifier,
its adapter (PEFT task SEQ_CLS) carries the score head, the merge rebuilds that classifier, and
`rewards` scores token sequences in place of a generated sample.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch  # ~1.5 s; this module is only imported by training and `ftwizard export`

TORCH_DTYPES = {"fp32": torch.float32, "fp16": torch.float16, "bf16": torch.bfloat16}


def is_adapter_dir(path: Path) -> bool:
    return (Path(path) / "adapter_config.json").is_file()


def adapter_base(adapter_dir: Path) -> str:
    """The base model an adapter was trained on, as PEFT recorded it."""
    data = json.loads((Path(adapter_dir) / "adapter_config.json").read_text())
    return str(data.get("base_model_name_or_path") or "")


def is_reward_adapter(adapter_dir: Path) -> bool:
    """A reward model's adapter (train.objective reward): PEFT task SEQ_CLS, whose saved
    modules include the score head."""
    data = json.loads((Path(adapter_dir) / "adapter_config.json").read_text())
    return data.get("task_type") == "SEQ_CLS"


def _pad_from_tokenizer(model: Any, folder: Path) -> None:
    """A sequence classifier finds each row's last token through config.pad_token_id."""
    from transformers import AutoTokenizer

    if model.config.pad_token_id is not None:
        return
    try:
        tok = AutoTokenizer.from_pretrained(str(folder))
    except (OSError, ValueError):
        return
    model.config.pad_token_id = tok.pad_token_id if tok.pad_token_id is not None else tok.eos_token_id


def merge_adapter(adapter_dir: str | Path, out_dir: str | Path, *, base: str | None = None,
                  dtype: str = "bf16") -> Path:
    """Fold the adapter into a copy of its base and save a plain HF model (plus tokenizer)."""
    from peft import PeftModel  # ~1 s
    from transformers import (AutoModelForCausalLM, AutoModelForSequenceClassification,  # ~2 s
                              AutoTokenizer)

    adapter_dir, out_dir = Path(adapter_dir), Path(out_dir)
    base = base or adapter_base(adapter_dir)
    # A CPU merge of fp16 weights would be slow and lossy; fp16 is a GPU format.
    want = TORCH_DTYPES.get(dtype, torch.float32)
    if want == torch.float16 and not torch.cuda.is_available():
        want = torch.float32
    if is_reward_adapter(adapter_dir):
        # a reward model: the base as a one-label classifier; the adapter brings its score head
        model = AutoModelForSequenceClassification.from_pretrained(base, dtype=want, num_labels=1)
        _pad_from_tokenizer(model, adapter_dir)
    else:
        model = AutoModelForCausalLM.from_pretrained(base, dtype=want)
    model = PeftModel.from_pretrained(model, str(adapter_dir)).merge_and_unload()
    out_dir.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(str(out_dir))
    tok_src = adapter_dir if (adapter_dir / "tokenizer_config.json").is_file() else Path(base)
    try:
        AutoTokenizer.from_pretrained(str(tok_src)).save_pretrained(str(out_dir))
    except (OSError, ValueError):
        pass
    return out_dir


def load_for_generation(path: str | Path) -> tuple[Any, Any]:
    """A saved final model or adapter folder -> (model, tokenizer) ready to generate."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    path = Path(path)
    if is_adapter_dir(path):
        from peft import AutoPeftModelForCausalLM

        model = AutoPeftModelForCausalLM.from_pretrained(str(path))
    else:
        model = AutoModelForCausalLM.from_pretrained(str(path))
    tok = AutoTokenizer.from_pretrained(str(path))
    return model, tok


@torch.no_grad()
def sample(model: Any, tokenizer: Any, prompt: str, max_new_tokens: int = 24) -> str:
    """Greedy continuation of `prompt`: deterministic, so runs and tests can compare it."""
    model.eval()
    device = next(model.parameters()).device
    enc = tokenizer(prompt, return_tensors="pt").to(device)
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
    out = model.generate(**enc, max_new_tokens=max_new_tokens, do_sample=False, pad_token_id=pad)
    return tokenizer.decode(out[0][enc["input_ids"].shape[1]:], skip_special_tokens=True)


def load_reward_model(path: str | Path) -> Any:
    """A saved reward model (full, or a SEQ_CLS adapter with its score head) ready to score."""
    from transformers import AutoModelForSequenceClassification

    path = Path(path)
    if is_adapter_dir(path):
        from peft import AutoPeftModelForSequenceClassification

        model = AutoPeftModelForSequenceClassification.from_pretrained(str(path), num_labels=1)
    else:
        model = AutoModelForSequenceClassification.from_pretrained(str(path), num_labels=1)
    _pad_from_tokenizer(model, path)
    return model


@torch.no_grad()
def rewards(model: Any, sequences: list[list[int]], pad_id: int) -> list[float]:
    """The reward model's score of each token sequence (one batch, right-padded)."""
    model.eval()
    device = next(model.parameters()).device
    n = max(len(s) for s in sequences)
    ids = torch.tensor([list(s) + [pad_id] * (n - len(s)) for s in sequences], device=device)
    mask = torch.tensor([[1] * len(s) + [0] * (n - len(s)) for s in sequences], device=device)
    logits = model(input_ids=ids, attention_mask=mask).logits
    return [float(x) for x in logits[:, 0].float().cpu()]


def sample_after_training(trainer: Any, cfg: Any, final_dir: Path, tokenizer: Any) -> str:
    """The in-memory model where it is whole; the saved one under ZeRO-3 (parameters sharded)."""
    prompt = cfg.output.sample_prompt
    zero3 = cfg.method.parallel == "deepspeed" and cfg.method.zero_stage == 3
    if zero3:
        model, tokenizer = load_for_generation(final_dir)
    else:
        model = trainer.accelerator.unwrap_model(trainer.model)
    was_training = model.training
    try:
        return sample(model, tokenizer, prompt)
    finally:
        if was_training:
            model.train()
