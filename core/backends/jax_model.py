"""Hugging Face checkpoints <-> tunix's Flax NNX models: load, LoRA through qwix, export back.

tunix (0.1.7) brings the Llama 3 and Qwen2 modules and a safetensors loader, but three things had
to be added here, each measured on the tiny models against transformers 5.23:

* tunix's Llama 3 attention calls its RoPE without the model's theta (it always uses 1e6, Llama 3
  needs 5e5), and knows no Llama 3.1 frequency scaling: logits drifted by ~5e-4 on a 2-layer
  model. :func:`install_llama_rope` replaces that function with one built from config.json.
* transformers 5 writes `rope_parameters: {rope_theta, rope_type}` instead of `rope_theta`; both
  spellings are read.
* tunix has no exporter for a fully fine-tuned model (its saver only merges LoRA into one
  model.safetensors). :func:`export_full` writes HF tensor names and layouts, and
  :func:`export_adapter` writes a PEFT adapter, so `transformers`/`peft` (and ftwizard's LoRA
  merge) load the result.

Imported only by the JAX training process (jax, flax, tunix at the top on purpose).
"""

from __future__ import annotations

import json
import math
import re
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jax  # ~1.5 s with jaxlib
import jax.numpy as jnp
import numpy as np
from flax import nnx  # ~1 s

from ftwizard.core.errors import InputError

ARCHS = {"LlamaForCausalLM": "llama", "Qwen2ForCausalLM": "qwen2"}
DTYPES = {"fp32": jnp.float32, "bf16": jnp.bfloat16, "fp16": jnp.bfloat16}
LINEAR_NAMES = ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj")
HF_DTYPE_NAMES = {jnp.float32: "float32", jnp.bfloat16: "bfloat16"}


@dataclass
class ModelInfo:
    arch: str                  # llama | qwen2
    hf_config: dict[str, Any]  # config.json as read
    tunix_config: Any          # tunix ModelConfig
    inv_freq: np.ndarray       # RoPE inverse frequencies exactly as transformers computes them
    tied: bool
    folder: Path


# ---------------------------------------------------------------------------- config.json

def read_hf_config(folder: Path) -> dict[str, Any]:
    p = folder / "config.json"
    if not p.is_file():
        raise InputError(f"{folder} has no config.json", field="model.name", value=str(folder),
                         fix="give a folder saved by transformers' save_pretrained")
    return json.loads(p.read_text())


def rope_settings(c: dict[str, Any]) -> tuple[float, dict[str, Any]]:
    """(theta, scaling) from either spelling: transformers 5's `rope_parameters` or the older
    top-level `rope_theta` with `rope_scaling`."""
    params = c.get("rope_parameters") or {}
    theta = params.get("rope_theta", c.get("rope_theta"))
    if theta is None:
        theta = 10000.0
    scaling = dict(c.get("rope_scaling") or {})
    rtype = params.get("rope_type") or scaling.get("rope_type") or scaling.get("type") or "default"
    if params and rtype != "default":
        scaling = {**params, **scaling}
    scaling["rope_type"] = rtype
    return float(theta), scaling


def rope_inv_freq(head_dim: int, theta: float, scaling: dict[str, Any]) -> np.ndarray:
    """transformers' RoPE frequencies for the default, linear and llama3 rope types."""
    inv = 1.0 / (theta ** (np.arange(0, head_dim, 2, dtype=np.int64).astype(np.float32) / head_dim))
    rtype = scaling.get("rope_type", "default")
    if rtype == "default":
        return inv
    if rtype == "linear":
        return inv / float(scaling["factor"])
    if rtype == "llama3":
        factor = float(scaling["factor"])
        low, high = float(scaling["low_freq_factor"]), float(scaling["high_freq_factor"])
        old = float(scaling["original_max_position_embeddings"])
        wavelen = 2 * math.pi / inv
        out = np.where(wavelen > old / low, inv / factor, inv)
        smooth = (old / wavelen - low) / (high - low)
        smoothed = (1 - smooth) * out / factor + smooth * out
        medium = ~(wavelen < old / high) & ~(wavelen > old / low)
        return np.where(medium, smoothed, out).astype(np.float32)
    raise InputError(f"RoPE type {rtype!r} is not supported by the JAX backend",
                     field="model.name", value=rtype,
                     fix="use the PyTorch backend (method.parallel: none/ddp/deepspeed/fsdp) for this model")


def model_info(folder: Path, dtype: str = "fp32") -> ModelInfo:
    """tunix's ModelConfig for a Llama-3-style or Qwen2-style config.json, or an InputError that
    says what the JAX backend cannot do."""
    c = read_hf_config(folder)
    archs = c.get("architectures") or []
    arch = next((ARCHS[a] for a in archs if a in ARCHS), None)
    if arch is None:
        raise InputError(f"the JAX backend trains Llama and Qwen2 models; {folder.name} is "
                         f"{', '.join(archs) or c.get('model_type', 'unknown')}",
                         field="method.parallel", value="jax",
                         fix="choose a Llama-3 or Qwen2 model, or a PyTorch method for this one")
    heads = int(c["num_attention_heads"])
    head_dim = int(c.get("head_dim") or c["hidden_size"] // heads)
    theta, scaling = rope_settings(c)
    if arch == "llama" and (c.get("attention_bias") or c.get("mlp_bias")):
        raise InputError("Llama models with attention or MLP biases are not supported by tunix",
                         field="model.name", value=str(folder), fix="use the PyTorch backend")
    if arch == "qwen2" and scaling["rope_type"] != "default":
        raise InputError(f"Qwen2 with RoPE type {scaling['rope_type']!r} is not supported by tunix",
                         field="model.name", value=str(folder), fix="use the PyTorch backend")
    inv = rope_inv_freq(head_dim, theta, scaling)
    tied = bool(c.get("tie_word_embeddings", arch == "qwen2"))
    kw = dict(num_layers=int(c["num_hidden_layers"]), vocab_size=int(c["vocab_size"]),
              embed_dim=int(c["hidden_size"]), hidden_dim=int(c["intermediate_size"]),
              num_heads=heads, head_dim=head_dim,
              num_kv_heads=int(c.get("num_key_value_heads") or heads), rope_theta=theta,
              norm_eps=float(c.get("rms_norm_eps", 1e-6)))
    if arch == "llama":
        from tunix.models.llama3 import model as lm

        cfg = lm.ModelConfig(**kw, weight_tying=tied)
    else:
        from tunix.models.qwen2 import model as qm

        jdt = DTYPES[dtype]
        cfg = qm.ModelConfig(**kw, use_tied_embedding=tied, dtype=jdt, param_dtype=jdt)
    return ModelInfo(arch=arch, hf_config=c, tunix_config=cfg, inv_freq=inv, tied=tied,
                     folder=folder)


def install_llama_rope(inv_freq: np.ndarray) -> None:
    """Replace tunix's Llama 3 RoPE (theta fixed at 1e6, no llama3 scaling) with the model's own.

    tunix's attention looks `apply_rope` up in its module at call time, so swapping the module
    attribute fixes every layer; one model per process, so one set of frequencies.
    """
    from tunix.models.llama3 import model as lm

    inv = np.asarray(inv_freq, dtype=np.float32)

    def apply_rope(inputs: Any, positions: Any, head_dim: int, rope_theta: Any = None) -> Any:
        ang = jnp.einsum("BT,k->BTk", positions.astype(jnp.float32), jnp.asarray(inv),
                         precision=jax.lax.Precision.HIGHEST)[..., None, :]
        sin, cos = jnp.sin(ang), jnp.cos(ang)
        x1, x2 = jnp.split(inputs, 2, axis=-1)
        out = jnp.concatenate([x1 * cos - x2 * sin, x2 * cos + x1 * sin], axis=-1)
        return out.astype(inputs.dtype)

    lm.apply_rope = apply_rope


# ---------------------------------------------------------------------------- load

def load_model(info: ModelInfo, mesh: Any, dtype: str) -> Any:
    """The NNX model with the checkpoint's weights, sharded over `mesh` (params in `dtype`)."""
    jdt = DTYPES[dtype]
    if info.arch == "llama":
        from tunix.models.llama3 import params as lp

        install_llama_rope(info.inv_freq)
        return lp.create_model_from_safe_tensors(str(info.folder), info.tunix_config, mesh=mesh,
                                                 dtype=jdt)
    from tunix.models.qwen2 import params as qp

    return qp.create_model_from_safe_tensors(str(info.folder), info.tunix_config, mesh=mesh,
                                             dtype=jdt)


def lora_module_regex(target_modules: str | list[str]) -> str:
    """qwix matches module paths such as `layers/0/attn/q_proj` with re.fullmatch."""
    if target_modules in ("all-linear", "all_linear", ["all-linear"]):
        names = list(LINEAR_NAMES)
    else:
        names = [target_modules] if isinstance(target_modules, str) else list(target_modules)
        unknown = [n for n in names if n not in LINEAR_NAMES]
        if unknown:
            raise InputError(f"LoRA target {unknown[0]!r} is not a Linear layer of this model",
                             field="method.lora.target_modules", value=str(target_modules),
                             fix=f"use all-linear or some of {', '.join(LINEAR_NAMES)}")
    return ".*/(" + "|".join(re.escape(n) for n in names) + ")"


def apply_lora(model: Any, lora: Any, seed: int) -> Any:
    """LoRA adapters (qwix) on the chosen Linear layers; only they are trained afterwards."""
    import qwix  # ~0.3 s

    provider = qwix.LoraProvider(module_path=lora_module_regex(lora.target_modules),
                                 rank=int(lora.r), alpha=float(lora.alpha),
                                 dropout=float(lora.dropout))
    inputs = model.get_model_input()
    return qwix.apply_lora_to_model(model, provider, rngs=nnx.Rngs(params=seed, dropout=seed + 1),
                                    **inputs)


# ---------------------------------------------------------------------------- forward

def causal_mask(attention_mask: Any) -> Any:
    """[B, T] padding mask -> [B, T, T] causal mask that also hides padded keys."""
    t = attention_mask.shape[1]
    causal = jnp.tril(jnp.ones((t, t), dtype=jnp.bool_))
    return causal[None, :, :] & attention_mask.astype(jnp.bool_)[:, None, :]


def positions_of(attention_mask: Any) -> Any:
    """0, 1, 2, ... over the real tokens (right padding keeps later positions harmless)."""
    return jnp.maximum(jnp.cumsum(attention_mask.astype(jnp.int32), axis=-1) - 1, 0)


def logits_of(model: Any, input_ids: Any, attention_mask: Any | None = None) -> Any:
    ids = jnp.asarray(input_ids)
    am = jnp.ones_like(ids) if attention_mask is None else jnp.asarray(attention_mask)
    logits, _ = model(ids, positions_of(am), None, causal_mask(am))
    return logits


# ---------------------------------------------------------------------------- export

# (regex on the NNX path, HF name template, how many leading axes are the input ones; None =
# stored as is). A weight with k input axes is W.reshape(prod(in), prod(out)).T in torch's
# [out, in] layout.
_EXPORT_RULES: list[tuple[str, str, int | None]] = [
    (r"embedder\.input_embedding", "model.embed_tokens.weight", None),
    (r"layers\.(\d+)\.attn\.(q|k|v)_proj\.w", r"model.layers.\1.self_attn.\2_proj.weight", 1),
    (r"layers\.(\d+)\.attn\.o_proj\.w", r"model.layers.\1.self_attn.o_proj.weight", 2),
    (r"layers\.(\d+)\.attn\.(q|k|v)_bias", r"model.layers.\1.self_attn.\2_proj.bias", None),
    (r"layers\.(\d+)\.mlp\.(gate|up|down)_proj\.kernel", r"model.layers.\1.mlp.\2_proj.weight", 1),
    (r"layers\.(\d+)\.input_layernorm\.w", r"model.layers.\1.input_layernorm.weight", None),
    (r"layers\.(\d+)\.post_attention_layernorm\.w",
     r"model.layers.\1.post_attention_layernorm.weight", None),
    (r"final_norm\.w", "model.norm.weight", None),
    (r"lm_head\.w", "lm_head.weight", 1),
]


def _path_str(path: tuple[Any, ...]) -> str:
    return ".".join(str(p) for p in path)


def _hf_name(path: str) -> tuple[str, int | None] | None:
    for pat, tmpl, k in _EXPORT_RULES:
        m = re.fullmatch(pat, path)
        if m:
            return m.expand(tmpl), k
    return None


def _to_torch_layout(w: np.ndarray, k: int | None) -> np.ndarray:
    if k is None:
        return w
    rows = int(np.prod(w.shape[:k]))
    return np.ascontiguousarray(w.reshape(rows, -1).T)


def _lora_pairs(model: Any) -> dict[str, tuple[np.ndarray, np.ndarray, float]]:
    """{path of the adapted weight: (A as [in..., r], B as [r, out...], alpha/r)} from qwix."""
    values: dict[str, Any] = {}
    for path, value in nnx.iter_graph(model):
        if isinstance(value, nnx.LoRAParam):
            values[_path_str(path)] = np.asarray(jax.device_get(value.get_value()), np.float32)
    pairs = {}
    for key, a in values.items():
        if key.endswith("_lora_a"):
            base = key[: -len("_lora_a")]
            b = values[base + "_lora_b"]
            pairs[base] = (a, b)
    return pairs


def base_weights(model: Any) -> dict[str, np.ndarray]:
    """Every nnx.Param of the model (not the LoRA ones) by path, as fp32 numpy."""
    out = {}
    for path, value in nnx.iter_graph(model):
        if isinstance(value, nnx.Param) and not isinstance(value, nnx.LoRAParam):
            out[_path_str(path)] = np.asarray(jax.device_get(value.get_value()), np.float32)
    return out


def hf_state_dict(model: Any, info: ModelInfo, lora_scale: float | None = None,
                  merge_lora: bool = False) -> dict[str, np.ndarray]:
    """The model's weights under transformers' names and layouts (LoRA merged in if asked)."""
    pairs = _lora_pairs(model) if merge_lora else {}
    state: dict[str, np.ndarray] = {}
    for path, w in base_weights(model).items():
        named = _hf_name(path)
        if named is None:
            raise RuntimeError(f"no Hugging Face name for parameter {path}")  # a bug, not input
        if path in pairs and lora_scale is not None:
            a, b = pairs[path]
            r = a.shape[-1]
            w = w + (a.reshape(-1, r) @ b.reshape(r, -1)).reshape(w.shape) * lora_scale
        state[named[0]] = _to_torch_layout(w, named[1])
    if info.tied:
        state.pop("lm_head.weight", None)
    return state


def _save_safetensors(state: dict[str, np.ndarray], path: Path, dtype: Any) -> None:
    from safetensors.numpy import save_file  # ~20 ms

    np_dt = np.float32 if dtype == jnp.float32 else jnp.bfloat16
    save_file({k: np.asarray(v).astype(np_dt) for k, v in state.items()}, str(path),
              metadata={"format": "pt"})


def copy_side_files(src: Path, out: Path, tokenizer_dir: Path | None = None) -> None:
    """Tokenizer and generation files next to the weights, so the folder loads on its own."""
    names = ("tokenizer.json", "tokenizer_config.json", "special_tokens_map.json",
             "tokenizer.model", "vocab.json", "merges.txt", "generation_config.json",
             "chat_template.jinja", "added_tokens.json")
    for folder in [src] + ([tokenizer_dir] if tokenizer_dir else []):
        for n in names:
            if (folder / n).is_file():
                shutil.copy2(folder / n, out / n)


def export_full(model: Any, info: ModelInfo, out: Path, dtype: str, *,
                lora_scale: float | None = None, tokenizer_dir: Path | None = None) -> Path:
    """A transformers folder (config.json, model.safetensors, tokenizer) of the trained model;
    with `lora_scale`, the adapters merged into the base weights."""
    out.mkdir(parents=True, exist_ok=True)
    jdt = DTYPES[dtype]
    state = hf_state_dict(model, info, lora_scale=lora_scale, merge_lora=lora_scale is not None)
    _save_safetensors(state, out / "model.safetensors", jdt)
    cfg = dict(info.hf_config)
    cfg["dtype"] = HF_DTYPE_NAMES[jdt]
    cfg.pop("torch_dtype", None)
    (out / "config.json").write_text(json.dumps(cfg, indent=2) + "\n")
    copy_side_files(info.folder, out, tokenizer_dir)
    return out


def export_adapter(model: Any, info: ModelInfo, out: Path, lora: Any, base_name: str, *,
                   tokenizer_dir: Path | None = None) -> Path:
    """A PEFT LoRA adapter (adapter_config.json + adapter_model.safetensors) from qwix's params.

    qwix keeps A as [in axes..., r] and B as [r, out axes...]; PEFT wants lora_A [r, in] and
    lora_B [out, in->r] on torch's [out, in] weights, with the same alpha / r scaling.
    """
    out.mkdir(parents=True, exist_ok=True)
    state = {}
    targets = set()
    for path, (a, b) in _lora_pairs(model).items():
        named = _hf_name(path)
        if named is None:
            raise RuntimeError(f"no Hugging Face name for LoRA weight {path}")
        r = a.shape[-1]
        stem = "base_model.model." + named[0].removesuffix(".weight")
        state[stem + ".lora_A.weight"] = np.ascontiguousarray(a.reshape(-1, r).T)
        state[stem + ".lora_B.weight"] = np.ascontiguousarray(b.reshape(r, -1).T)
        targets.add(named[0].split(".")[-2])
    _save_safetensors(state, out / "adapter_model.safetensors", jnp.float32)
    cfg = {"peft_type": "LORA", "task_type": "CAUSAL_LM", "base_model_name_or_path": base_name,
           "r": int(lora.r), "lora_alpha": float(lora.alpha), "lora_dropout": float(lora.dropout),
           "target_modules": sorted(targets), "bias": "none", "fan_in_fan_out": False,
           "inference_mode": True, "use_rslora": False, "init_lora_weights": True,
           "modules_to_save": None}
    (out / "adapter_config.json").write_text(json.dumps(cfg, indent=2) + "\n")
    copy_side_files(info.folder, out, tokenizer_dir)
    return out
