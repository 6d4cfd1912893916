#!/usr/bin/env python
"""Build core/catalog/models.json: the shipped configs, their exact parameter counts and the
attention implementation transformers picks for them.

A dev script, not run in CI. The configs are the values of each model's config.json on the
Hugging Face Hub: below, the keys that shape the model or its defaults for the first entries; in
scripts/model_configs.py, whole config.json files with where each copy was read (the Hub itself is
not reachable from the machines this runs on). Every model is built on the meta device with the
installed transformers, counted, and the count is checked against the exact total published for
the model (model card, Hub safetensors metadata, GGUF metadata or KerasHub's preset, named beside
each figure; tied embeddings count once); a mismatch means a config value is wrong and the script
exits 1. The analytic count in core/models.py (spec_from_config) must agree too.

Mixture-of-experts models are left out: core/memory.py sizes one dense MLP per layer (no expert
count, no routed-vs-active split), so their plans would be wrong.

    python scripts/build_model_catalog.py          # writes core/catalog/models.json
    python scripts/build_model_catalog.py --check  # compares only, writes nothing
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
OUT = REPO / "core" / "catalog" / "models.json"
sys.path.insert(0, str(Path(__file__).resolve().parent))
from model_configs import CONFIGS  # noqa: E402 - whole config.json files, with their sources


def _gpt2(n_embd: int, n_layer: int, n_head: int) -> dict[str, Any]:
    return {
        "architectures": ["GPT2LMHeadModel"], "model_type": "gpt2",
        "vocab_size": 50257, "n_positions": 1024, "n_ctx": 1024, "n_embd": n_embd,
        "n_layer": n_layer, "n_head": n_head, "n_inner": None, "activation_function": "gelu_new",
        "resid_pdrop": 0.1, "embd_pdrop": 0.1, "attn_pdrop": 0.1, "layer_norm_epsilon": 1e-5,
        "initializer_range": 0.02, "bos_token_id": 50256, "eos_token_id": 50256,
        "tie_word_embeddings": True,
    }


def _llama(hidden: int, inter: int, layers: int, heads: int, kv: int, vocab: int, max_pos: int,
           rope_theta: float, tie: bool = False, rope_scaling: dict | None = None,
           bos: int = 1, eos: int | list[int] = 2, head_dim: int | None = None) -> dict[str, Any]:
    cfg: dict[str, Any] = {
        "architectures": ["LlamaForCausalLM"], "model_type": "llama",
        "vocab_size": vocab, "hidden_size": hidden, "intermediate_size": inter,
        "num_hidden_layers": layers, "num_attention_heads": heads, "num_key_value_heads": kv,
        "max_position_embeddings": max_pos, "rms_norm_eps": 1e-5, "rope_theta": rope_theta,
        "rope_scaling": rope_scaling, "hidden_act": "silu", "attention_bias": False,
        "attention_dropout": 0.0, "mlp_bias": False, "pretraining_tp": 1,
        "initializer_range": 0.02, "tie_word_embeddings": tie, "bos_token_id": bos,
        "eos_token_id": eos, "torch_dtype": "bfloat16",
    }
    if head_dim is not None:
        cfg["head_dim"] = head_dim
    return cfg


LLAMA3_ROPE = {"factor": 8.0, "low_freq_factor": 1.0, "high_freq_factor": 4.0,
               "original_max_position_embeddings": 8192, "rope_type": "llama3"}
LLAMA32_ROPE = dict(LLAMA3_ROPE, factor=32.0)


def _qwen2(hidden: int, inter: int, layers: int, heads: int, kv: int, vocab: int, max_pos: int,
           tie: bool, rms: float) -> dict[str, Any]:
    return {
        "architectures": ["Qwen2ForCausalLM"], "model_type": "qwen2",
        "vocab_size": vocab, "hidden_size": hidden, "intermediate_size": inter,
        "num_hidden_layers": layers, "num_attention_heads": heads, "num_key_value_heads": kv,
        "max_position_embeddings": max_pos, "rms_norm_eps": rms, "rope_theta": 1000000.0,
        "rope_scaling": None, "hidden_act": "silu", "attention_dropout": 0.0,
        "sliding_window": max_pos, "use_sliding_window": False, "max_window_layers": layers,
        "initializer_range": 0.02, "tie_word_embeddings": tie, "bos_token_id": 151643,
        "eos_token_id": 151643, "torch_dtype": "bfloat16", "use_cache": True,
    }


def _gemma2(hidden: int, inter: int, layers: int, heads: int, kv: int) -> dict[str, Any]:
    return {
        "architectures": ["Gemma2ForCausalLM"], "model_type": "gemma2",
        "vocab_size": 256000, "hidden_size": hidden, "intermediate_size": inter,
        "num_hidden_layers": layers, "num_attention_heads": heads, "num_key_value_heads": kv,
        "head_dim": 256, "max_position_embeddings": 8192, "rms_norm_eps": 1e-6,
        "rope_theta": 10000.0, "hidden_act": "gelu_pytorch_tanh",
        "hidden_activation": "gelu_pytorch_tanh", "attention_bias": False,
        "attention_dropout": 0.0, "attn_logit_softcapping": 50.0,
        "final_logit_softcapping": 30.0, "query_pre_attn_scalar": 256, "sliding_window": 4096,
        "cache_implementation": "hybrid", "initializer_range": 0.02, "tie_word_embeddings": True,
        "bos_token_id": 2, "eos_token_id": 1, "pad_token_id": 0, "torch_dtype": "float32",
    }


# id -> (config, aliases, published total parameters)
MODELS: dict[str, tuple[dict[str, Any], list[str], int]] = {
    "gpt2": (_gpt2(768, 12, 12), ["gpt2-small", "openai-community/gpt2"], 124_439_808),
    "gpt2-medium": (_gpt2(1024, 24, 16), ["openai-community/gpt2-medium"], 354_823_168),
    "gpt2-large": (_gpt2(1280, 36, 20), ["openai-community/gpt2-large"], 774_030_080),
    "gpt2-xl": (_gpt2(1600, 48, 25), ["openai-community/gpt2-xl"], 1_557_611_200),
    "EleutherAI/gpt-j-6B": ({
        "architectures": ["GPTJForCausalLM"], "model_type": "gptj",
        "vocab_size": 50400, "n_positions": 2048, "n_embd": 4096, "n_layer": 28, "n_head": 16,
        "rotary_dim": 64, "n_inner": None, "activation_function": "gelu_new",
        "resid_pdrop": 0.0, "embd_pdrop": 0.0, "attn_pdrop": 0.0, "layer_norm_epsilon": 1e-5,
        "initializer_range": 0.02, "bos_token_id": 50256, "eos_token_id": 50256,
        "tie_word_embeddings": False,
    }, ["gpt-j-6b", "gpt-j", "gptj-6b"], 6_050_882_784),
    "EleutherAI/gpt-neox-20b": ({
        "architectures": ["GPTNeoXForCausalLM"], "model_type": "gpt_neox",
        "vocab_size": 50432, "hidden_size": 6144, "intermediate_size": 24576,
        "num_hidden_layers": 44, "num_attention_heads": 64, "max_position_embeddings": 2048,
        "rotary_pct": 0.25, "rotary_emb_base": 10000, "hidden_act": "gelu_fast",
        "layer_norm_eps": 1e-5, "use_parallel_residual": True, "attention_bias": True,
        "initializer_range": 0.02, "bos_token_id": 0, "eos_token_id": 0,
        "tie_word_embeddings": False, "torch_dtype": "float16",
    }, ["gpt-neox-20b", "neox-20b"], 20_554_567_680),
    "meta-llama/Llama-2-7b-hf": (
        _llama(4096, 11008, 32, 32, 32, 32000, 4096, 10000.0),
        ["llama-2-7b", "llama2-7b"], 6_738_415_616),
    "meta-llama/Llama-2-13b-hf": (
        _llama(5120, 13824, 40, 40, 40, 32000, 4096, 10000.0),
        ["llama-2-13b", "llama2-13b"], 13_015_864_320),
    "meta-llama/Llama-2-70b-hf": (
        _llama(8192, 28672, 80, 64, 8, 32000, 4096, 10000.0),
        ["llama-2-70b", "llama2-70b"], 68_976_648_192),
    "meta-llama/Meta-Llama-3-8B": (
        _llama(4096, 14336, 32, 32, 8, 128256, 8192, 500000.0, bos=128000, eos=128001),
        ["llama-3-8b", "llama3-8b", "meta-llama-3-8b"], 8_030_261_248),
    "meta-llama/Meta-Llama-3-70B": (
        _llama(8192, 28672, 80, 64, 8, 128256, 8192, 500000.0, bos=128000, eos=128001),
        ["llama-3-70b", "llama3-70b", "meta-llama-3-70b"], 70_553_706_496),
    "meta-llama/Llama-3.1-8B": (
        _llama(4096, 14336, 32, 32, 8, 128256, 131072, 500000.0, rope_scaling=LLAMA3_ROPE,
               bos=128000, eos=128001),
        ["llama-3.1-8b", "llama3.1-8b", "meta-llama/Meta-Llama-3.1-8B"], 8_030_261_248),
    "meta-llama/Llama-3.2-1B": (
        _llama(2048, 8192, 16, 32, 8, 128256, 131072, 500000.0, tie=True,
               rope_scaling=LLAMA32_ROPE, bos=128000, eos=128001, head_dim=64),
        ["llama-3.2-1b", "llama3.2-1b"], 1_235_814_400),
    "mistralai/Mistral-7B-v0.1": ({
        "architectures": ["MistralForCausalLM"], "model_type": "mistral",
        "vocab_size": 32000, "hidden_size": 4096, "intermediate_size": 14336,
        "num_hidden_layers": 32, "num_attention_heads": 32, "num_key_value_heads": 8,
        "max_position_embeddings": 32768, "sliding_window": 4096, "rms_norm_eps": 1e-5,
        "rope_theta": 10000.0, "hidden_act": "silu", "initializer_range": 0.02,
        "tie_word_embeddings": False, "bos_token_id": 1, "eos_token_id": 2,
        "torch_dtype": "bfloat16",
    }, ["mistral-7b", "mistral-7b-v0.1"], 7_241_732_096),
    "Qwen/Qwen2.5-0.5B": (_qwen2(896, 4864, 24, 14, 2, 151936, 32768, True, 1e-6),
                          ["qwen2.5-0.5b"], 494_032_768),
    "Qwen/Qwen2.5-1.5B": (_qwen2(1536, 8960, 28, 12, 2, 151936, 131072, True, 1e-6),
                          ["qwen2.5-1.5b"], 1_543_714_304),
    "Qwen/Qwen2.5-7B": (_qwen2(3584, 18944, 28, 28, 4, 152064, 131072, False, 1e-6),
                        ["qwen2.5-7b"], 7_615_616_512),
    "Qwen/Qwen2.5-14B": (_qwen2(5120, 13824, 48, 40, 8, 152064, 131072, False, 1e-5),
                         ["qwen2.5-14b"], 14_770_033_664),
    "Qwen/Qwen2.5-32B": (_qwen2(5120, 27648, 64, 40, 8, 152064, 131072, False, 1e-5),
                         ["qwen2.5-32b"], 32_763_876_352),
    "Qwen/Qwen2.5-72B": (_qwen2(8192, 29568, 80, 64, 8, 152064, 131072, False, 1e-5),
                         ["qwen2.5-72b"], 72_706_203_648),
    "microsoft/phi-2": ({
        "architectures": ["PhiForCausalLM"], "model_type": "phi",
        "vocab_size": 51200, "hidden_size": 2560, "intermediate_size": 10240,
        "num_hidden_layers": 32, "num_attention_heads": 32, "num_key_value_heads": 32,
        "max_position_embeddings": 2048, "partial_rotary_factor": 0.4, "rope_theta": 10000.0,
        "hidden_act": "gelu_new", "layer_norm_eps": 1e-5, "qk_layernorm": False,
        "resid_pdrop": 0.1, "embd_pdrop": 0.0, "attention_dropout": 0.0,
        "initializer_range": 0.02, "tie_word_embeddings": False, "bos_token_id": 50256,
        "eos_token_id": 50256, "torch_dtype": "float16",
    }, ["phi-2", "phi2"], 2_779_683_840),
    "google/gemma-2-2b": (_gemma2(2304, 9216, 26, 8, 4), ["gemma-2-2b", "gemma2-2b"],
                          2_614_341_888),
    "google/gemma-2-9b": (_gemma2(3584, 14336, 42, 16, 8), ["gemma-2-9b", "gemma2-9b"],
                          9_241_705_984),
}

# Models whose whole config.json is in scripts/model_configs.py: id -> (aliases, published total).
# KerasHub = keras-team/keras-hub keras_hub/src/models/*/*_presets.py "params"; Hub = the model's
# safetensors "total" from the Hub API (where a file stores a tied lm_head anyway, as Qwen3-0.6B's
# does, it is counted twice there, so such models cite another source); GGUF =
# general.parameter_count / n_params of a GGUF export; registry = a model table that lists the id.
FROM_CONFIG: dict[str, tuple[list[str], int]] = {
    "Qwen/Qwen3-0.6B": (["qwen3-0.6b"], 596_049_920),  # KerasHub qwen3_0.6b_en
    "Qwen/Qwen3-1.7B": (["qwen3-1.7b"], 1_720_574_976),  # KerasHub qwen3_1.7b_en
    "Qwen/Qwen3-4B": (["qwen3-4b"], 4_022_468_096),  # KerasHub qwen3_4b_en
    "Qwen/Qwen3-8B": (["qwen3-8b"], 8_190_735_360),  # KerasHub qwen3_8b_en
    "Qwen/Qwen3-14B": (["qwen3-14b"], 14_768_307_200),  # KerasHub qwen3_14b_en
    "Qwen/Qwen3-32B": (["qwen3-32b"], 32_762_123_264),  # Hub; KerasHub qwen3_32b_en
    "Qwen/Qwen2.5-0.5B-Instruct": (["qwen2.5-0.5b-instruct"], 494_032_768),  # KerasHub
    "Qwen/Qwen2.5-1.5B-Instruct": (["qwen2.5-1.5b-instruct"], 1_543_714_304),  # Hub
    "Qwen/Qwen2.5-7B-Instruct": (["qwen2.5-7b-instruct"], 7_615_616_512),  # Hub
    "Qwen/Qwen2.5-32B-Instruct": (["qwen2.5-32b-instruct"], 32_763_876_352),  # KerasHub
    "Qwen/Qwen2.5-72B-Instruct": (["qwen2.5-72b-instruct"], 72_706_203_648),  # KerasHub
    "meta-llama/Llama-3.2-1B-Instruct": (["llama-3.2-1b-instruct", "llama3.2-1b-instruct"],
                                         1_235_814_400),  # Hub
    "meta-llama/Llama-3.2-3B": (["llama-3.2-3b", "llama3.2-3b"],
                                3_212_749_824),  # Hub count of 3B-Instruct, same shapes
    "meta-llama/Llama-3.2-3B-Instruct": (["llama-3.2-3b-instruct", "llama3.2-3b-instruct"],
                                         3_212_749_824),  # Hub
    "google/gemma-2-27b": (["gemma-2-27b", "gemma2-27b"], 27_227_128_320),  # KerasHub gemma2_27b_en
    "google/gemma-3-1b-it": (["gemma-3-1b-it", "gemma3-1b-it", "gemma-3-1b"],
                             999_885_952),  # Hub; KerasHub gemma3_instruct_1b
    "mistralai/Mistral-7B-v0.3": (["mistral-7b-v0.3"], 7_248_023_552),  # KerasHub mistral_0.3_7b_en
    "mistralai/Mistral-Nemo-Base-2407": (["mistral-nemo", "mistral-nemo-12b"],
                                         12_247_782_400),  # GGUF n_params of Mistral-Nemo
    "microsoft/Phi-3.5-mini-instruct": (["phi-3.5-mini", "phi3.5-mini", "phi-3.5"],
                                        3_821_079_552),  # KerasHub phi3_mini (same shapes)
    "microsoft/phi-4": (["phi4"], 14_659_507_200),  # GGUF general.parameter_count of phi-4
    "HuggingFaceTB/SmolLM2-135M-Instruct": (["smollm2-135m"], 134_515_008),  # registry
    "HuggingFaceTB/SmolLM2-360M-Instruct": (["smollm2-360m"], 361_821_120),  # GGUF n_params
    "HuggingFaceTB/SmolLM2-1.7B-Instruct": (["smollm2-1.7b"], 1_711_376_384),  # registry
    "deepseek-ai/DeepSeek-R1-Distill-Qwen-1.5B": (["r1-distill-qwen-1.5b"],
                                                  1_777_088_000),  # GGUF; pruning scripts
    "deepseek-ai/DeepSeek-R1-Distill-Qwen-32B": (["r1-distill-qwen-32b"], 32_763_876_352),  # Hub
    "deepseek-ai/DeepSeek-R1-Distill-Llama-8B": (["r1-distill-llama-8b"], 8_030_261_248),  # Hub
    "Qwen/Qwen2.5-3B-Instruct": (["qwen2.5-3b-instruct"], 3_085_938_688),  # Hub (rev aa8e725)
    # GGUF general.parameter_count of ollama's deepseek-r1 qwen2 7.6B (rope base 10000, 131072
    # context); also the Hub count of Qwen2.5-7B-Instruct, whose shapes it shares
    "deepseek-ai/DeepSeek-R1-Distill-Qwen-7B": (["r1-distill-qwen-7b"], 7_615_616_512),
    # GGUF n_params of DeepSeek-R1-Distill-Llama-70B-Q4_K_M.gguf (llama-server tape fixture);
    # also Meta-Llama-3-70B's count above, whose shapes it shares
    "deepseek-ai/DeepSeek-R1-Distill-Llama-70B": (["r1-distill-llama-70b"], 70_553_706_496),
    # registry: "parameters": 70553706496 for repo meta-llama/Llama-3.3-70B-Instruct at revision
    # 6f6073b; also Meta-Llama-3-70B's count above, whose shapes it shares
    "meta-llama/Llama-3.3-70B-Instruct": (["llama-3.3-70b-instruct", "llama3.3-70b",
                                           "llama-3.3-70b"], 70_553_706_496),
    # Hub safetensors total (api/models/google/gemma-3-12b-it fixture). AutoModelForCausalLM
    # builds Gemma3ForConditionalGeneration for model_type gemma3 in transformers 5.24, so the
    # SigLIP vision tower (416,866,032) and the projector (4,424,832) are loaded
    # and counted; the text decoder alone is 11,766,034,176 (KerasHub gemma3_12b_text's
    # 11,765,788,416 plus 64 more vocabulary rows)
    "google/gemma-3-12b-it": (["gemma-3-12b-it", "gemma3-12b-it", "gemma-3-12b"],
                              12_187_325_040),
    # registry (repo google/gemma-3-4b-it, revision 093f9f3, "parametros": 4300079472), also what
    # a public test asserts transformers' Gemma3ForConditionalGeneration holds; vision as in 12B
    "google/gemma-3-4b-it": (["gemma-3-4b-it", "gemma3-4b-it", "gemma-3-4b"], 4_300_079_472),
    # registry ("Gemma-3-27B", unsloth_gemma-3-27b-it, 27432406640, listed with the 4B and 12B
    # totals above); KerasHub medgemma_instruct_27b, the same shapes, gives the same figure
    "google/gemma-3-27b-it": (["gemma-3-27b-it", "gemma3-27b-it", "gemma-3-27b"],
                              27_432_406_640),
    # GGUF n_params of Qwen2.5-14B-Instruct-Q4_K_M.gguf (n_ctx_train 32768) in a llama-server
    # fixture; also the Qwen2.5-14B count above, whose shapes it shares
    "Qwen/Qwen2.5-14B-Instruct": (["qwen2.5-14b-instruct"], 14_770_033_664),
    # model.safetensors.index.json total_size 47,144,806,400 bytes (bf16) / 2, in the same folder
    # as the params.json the config is mapped from (scripts/model_configs.py)
    "mistralai/Mistral-Small-24B-Instruct-2501": (["mistral-small-24b-instruct",
                                                   "mistral-small-24b", "mistral-small"],
                                                  23_572_403_200),
}
assert set(FROM_CONFIG) == set(CONFIGS), set(FROM_CONFIG) ^ set(CONFIGS)
MODELS.update({mid: (CONFIGS[mid], aliases, published)
               for mid, (aliases, published) in FROM_CONFIG.items()})


def build_meta(config: dict[str, Any]):
    """The model transformers would build from `config`, on the meta device (no memory)."""
    import torch  # ~1 s
    from transformers import AutoConfig, AutoModelForCausalLM  # ~2 s

    cfg = dict(config)
    model_type = cfg.pop("model_type")
    arch = cfg.pop("architectures", None)
    hf_cfg = AutoConfig.for_model(model_type, **cfg)
    hf_cfg.architectures = arch
    with torch.device("meta"):
        return AutoModelForCausalLM.from_config(hf_cfg)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--check", action="store_true", help="compare only; write nothing")
    args = ap.parse_args()
    sys.path.insert(0, str(REPO))
    from ftwizard.core.models import spec_from_config

    out: dict[str, Any] = {}
    bad = 0
    for mid, (config, aliases, published) in MODELS.items():
        model = build_meta(config)
        counted = sum(p.numel() for p in model.parameters())  # parameters() yields tied ones once
        attn = model.config._attn_implementation
        supports_sdpa = bool(getattr(type(model), "_supports_sdpa", False))
        analytic = spec_from_config(config, id=mid, source="catalog").params
        ok = counted == published == analytic
        bad += not ok
        print(f"{'ok ' if ok else 'BAD'} {mid:42s} meta {counted:>15,} published {published:>15,} "
              f"analytic {analytic:>15,} attn {attn} (_supports_sdpa={supports_sdpa})")
        out[mid] = {"config": config, "parameters": counted, "attn_impl": attn,
                    "supports_sdpa": supports_sdpa, "aliases": aliases}
    if bad:
        print(f"{bad} model(s) disagree; fix their config", file=sys.stderr)
        return 1
    if not args.check:
        import transformers  # already imported above

        doc = {"_comment": "Generated by scripts/build_model_catalog.py; counts are exact "
                           "(meta device, tied weights once).",
               "transformers": transformers.__version__, "models": out}
        OUT.write_text(json.dumps(doc, indent=1) + "\n")
        print(f"wrote {OUT}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
