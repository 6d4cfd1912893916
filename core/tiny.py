"""Tiny models built on the spot: real architectures, random weights, a tokenizer trained here.

The README's demo, the end-to-end tests and the benchmarks all train these on a CPU in seconds,
and nothing is ever fetched from a hub. `model.name: tiny-llama` (or tiny-gpt2, tiny-qwen2) in a
run config resolves to a folder under the cache that this module builds once per shape.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

from ftwizard.core.paths import cache_dir

# A small, repetitive corpus: enough for a byte-level BPE with a few hundred merges, and learnable
# by a 2-layer model in a few dozen steps (FACTS.md: "loss goes down" needs few distinct tokens).
DEMO_CORPUS = [
    "The quick brown fox jumps over the lazy dog.",
    "A journey of a thousand miles begins with a single step.",
    "To be or not to be, that is the question.",
    "All that glitters is not gold.",
    "The cat sat on the mat and looked at the hat.",
    "Fine-tuning a language model changes its weights to fit new text.",
    "Every epoch walks once over the training data in shuffled order.",
    "Gradient checkpointing trades compute for memory in the backward pass.",
    "LoRA trains small adapters while the base model stays frozen.",
    "The learning rate warms up, then anneals to its final value.",
]

CHAT_TEMPLATE = (
    "{% for m in messages %}<|{{ m['role'] }}|>\n{{ m['content'] }}\n{% endfor %}"
    "{% if add_generation_prompt %}<|assistant|>\n{% endif %}"
)

# Shapes: small enough to train in seconds on 2 CPU cores, real enough to exercise GQA, tied /
# untied heads, biases (Qwen2) and Conv1D (GPT-2).
TINY_CONFIGS: dict[str, dict[str, Any]] = {
    "llama": {
        "architectures": ["LlamaForCausalLM"], "model_type": "llama",
        "hidden_size": 64, "intermediate_size": 128, "num_hidden_layers": 2,
        "num_attention_heads": 4, "num_key_value_heads": 2, "max_position_embeddings": 512,
        "rms_norm_eps": 1e-5, "rope_theta": 500000.0, "tie_word_embeddings": False,
        "hidden_act": "silu", "attention_bias": False, "mlp_bias": False,
    },
    "qwen2": {
        "architectures": ["Qwen2ForCausalLM"], "model_type": "qwen2",
        "hidden_size": 64, "intermediate_size": 128, "num_hidden_layers": 2,
        "num_attention_heads": 4, "num_key_value_heads": 2, "max_position_embeddings": 512,
        "rms_norm_eps": 1e-6, "rope_theta": 1000000.0, "tie_word_embeddings": True,
        "hidden_act": "silu", "use_sliding_window": False,
    },
    "gpt2": {
        "architectures": ["GPT2LMHeadModel"], "model_type": "gpt2",
        "n_embd": 64, "n_layer": 2, "n_head": 4, "n_positions": 512, "n_inner": None,
        "activation_function": "gelu_new", "tie_word_embeddings": True,
    },
}


def tiny_names() -> list[str]:
    return [f"tiny-{k}" for k in TINY_CONFIGS]


def tiny_config(arch: str, vocab_size: int = 384) -> dict[str, Any]:
    """The config.json of a tiny model, with token ids filled in for the tokenizer we train."""
    if arch not in TINY_CONFIGS:
        raise KeyError(arch)
    cfg = dict(TINY_CONFIGS[arch])
    cfg["vocab_size"] = vocab_size
    cfg["bos_token_id"] = 0
    cfg["eos_token_id"] = 1
    if arch == "gpt2":
        cfg["bos_token_id"] = cfg["eos_token_id"] = 1
    if arch == "qwen2":
        cfg["bos_token_id"] = None
    return cfg


def train_tokenizer(out_dir: str | Path, arch: str = "llama", vocab_size: int = 384,
                    corpus: list[str] | None = None) -> Path:
    """Train a byte-level BPE tokenizer and save it as a transformers tokenizer folder.

    Like the real models: GPT-2 has one `<|endoftext|>` for BOS/EOS and no pad token; Llama has
    `<s>`/`</s>` and no pad (seed 004's pad_token_id problem); Qwen2 gets a chat template.
    """
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers  # ~50 ms

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    if arch == "gpt2":
        specials = ["<|unused|>", "<|endoftext|>"]
        bos, eos = "<|endoftext|>", "<|endoftext|>"
    elif arch == "qwen2":  # like Qwen2.5 base: <|endoftext|> ends text and pads, no BOS
        specials = ["<|im_start|>", "<|endoftext|>"]
        bos, eos = None, "<|endoftext|>"
    else:
        specials = ["<s>", "</s>"]
        bos, eos = "<s>", "</s>"
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=specials,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
                                  show_progress=False)
    text = corpus or DEMO_CORPUS * 4
    tok.train_from_iterator(text, trainer=trainer)
    tok.save(str(out / "tokenizer.json"))
    tcfg: dict[str, Any] = {
        "tokenizer_class": "PreTrainedTokenizerFast",
        "bos_token": bos, "eos_token": eos, "unk_token": None,
        "model_max_length": 512, "clean_up_tokenization_spaces": False,
    }
    if arch == "qwen2":
        tcfg["pad_token"] = eos
    if arch != "gpt2":
        tcfg["chat_template"] = CHAT_TEMPLATE
    (out / "tokenizer_config.json").write_text(json.dumps(tcfg, indent=2))
    (out / "special_tokens_map.json").write_text(
        json.dumps({k: v for k, v in {"bos_token": bos, "eos_token": eos}.items() if v}))
    return out


def build_tiny_model(out_dir: str | Path, arch: str = "llama", vocab_size: int = 384,
                     seed: int = 0, overrides: dict[str, Any] | None = None) -> Path:
    """Write config.json, random safetensors weights and a trained tokenizer into `out_dir`."""
    import torch  # ~1 s
    from transformers import AutoConfig, AutoModelForCausalLM  # ~2 s

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    train_tokenizer(out, arch=arch, vocab_size=vocab_size)
    cfg = tiny_config(arch, vocab_size)
    cfg.update(overrides or {})
    model_type = cfg.pop("model_type")
    config = AutoConfig.for_model(model_type, **{k: v for k, v in cfg.items() if k != "architectures"})
    config.architectures = cfg.get("architectures")
    torch.manual_seed(seed)
    model = AutoModelForCausalLM.from_config(config)
    model.save_pretrained(out, safe_serialization=True)
    return out


def ensure_tiny(name: str) -> Path:
    """The folder of tiny model `name` ("tiny-llama"), built into the cache the first time."""
    arch = name.removeprefix("tiny-")
    if arch not in TINY_CONFIGS:
        raise KeyError(name)
    key = hashlib.sha1(json.dumps(tiny_config(arch), sort_keys=True).encode()).hexdigest()[:10]
    out = cache_dir() / "tiny" / f"{name}-{key}"
    if not (out / "config.json").exists() or not (out / "tokenizer.json").exists():
        tmp = out.with_name(out.name + f".tmp{os.getpid()}")
        build_tiny_model(tmp, arch=arch)
        try:
            tmp.rename(out)
        except OSError:  # another process built it first
            import shutil
            shutil.rmtree(tmp, ignore_errors=True)
    return out
