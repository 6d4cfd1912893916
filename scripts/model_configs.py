"""The config.json of each model scripts/build_model_catalog.py adds to the catalog, as the
Hugging Face Hub publishes it, and where each was read.

The Hub is not reachable from the machines this catalog is built on, so every config below was
copied from a public repository that vendors it (named in SOURCES) and cross-checked against a
second copy or against the model's published parameter count (the build checks the count).
Dropped keys do not shape the model: transformers_version, _name_or_path, auto_map (transformers'
native class is used, as without trust_remote_code) and transformers.js_config.
"""

from __future__ import annotations

import json
from typing import Any


def _json(text: str) -> dict[str, Any]:
    return json.loads(text)


CONFIGS: dict[str, dict[str, Any]] = {}
SOURCES: dict[str, str] = {}

SOURCES["Qwen/Qwen3-0.6B"] = (
    "hub config.json snapshot in daniel-p-green/alain-ai-learning-platform out/research-qwen-"
    "qwen3-0-6b/sources/huggingface/config.json; same in mlc-ai/mlc-llm "
    "python/mlc_llm/model/model_preset.py (qwen3_0.6b)")
CONFIGS["Qwen/Qwen3-0.6B"] = _json("""{
  "architectures": ["Qwen3ForCausalLM"],
  "attention_bias": false,
  "attention_dropout": 0.0,
  "bos_token_id": 151643,
  "eos_token_id": 151645,
  "head_dim": 128,
  "hidden_act": "silu",
  "hidden_size": 1024,
  "initializer_range": 0.02,
  "intermediate_size": 3072,
  "max_position_embeddings": 40960,
  "max_window_layers": 28,
  "model_type": "qwen3",
  "num_attention_heads": 16,
  "num_hidden_layers": 28,
  "num_key_value_heads": 8,
  "rms_norm_eps": 1e-06,
  "rope_scaling": null,
  "rope_theta": 1000000,
  "sliding_window": null,
  "tie_word_embeddings": true,
  "torch_dtype": "bfloat16",
  "use_cache": true,
  "use_sliding_window": false,
  "vocab_size": 151936
}""")

SOURCES["Qwen/Qwen3-1.7B"] = (
    "mlc-ai/mlc-llm python/mlc_llm/model/model_preset.py (qwen3_1.7b); same shape in "
    "mephisto1484/Neko-LoRA-Build-Your-AI-Catgirl Qwen3-1.7B/config.json")
CONFIGS["Qwen/Qwen3-1.7B"] = _json("""{
  "architectures": ["Qwen3ForCausalLM"],
  "attention_bias": false,
  "attention_dropout": 0.0,
  "bos_token_id": 151643,
  "eos_token_id": 151645,
  "head_dim": 128,
  "hidden_act": "silu",
  "hidden_size": 2048,
  "initializer_range": 0.02,
  "intermediate_size": 6144,
  "max_position_embeddings": 40960,
  "max_window_layers": 28,
  "model_type": "qwen3",
  "num_attention_heads": 16,
  "num_hidden_layers": 28,
  "num_key_value_heads": 8,
  "rms_norm_eps": 1e-06,
  "rope_scaling": null,
  "rope_theta": 1000000,
  "sliding_window": null,
  "tie_word_embeddings": true,
  "torch_dtype": "bfloat16",
  "use_cache": true,
  "use_sliding_window": false,
  "vocab_size": 151936
}""")

SOURCES["Qwen/Qwen3-4B"] = (
    "citsjtu2020/LLM-Prof sglang/Model_Config.md (Qwen3-4B)")
CONFIGS["Qwen/Qwen3-4B"] = _json("""{
  "architectures": ["Qwen3ForCausalLM"],
  "attention_bias": false,
  "attention_dropout": 0,
  "bos_token_id": 151643,
  "eos_token_id": 151645,
  "head_dim": 128,
  "hidden_act": "silu",
  "hidden_size": 2560,
  "initializer_range": 0.02,
  "intermediate_size": 9728,
  "max_position_embeddings": 40960,
  "max_window_layers": 36,
  "model_type": "qwen3",
  "num_attention_heads": 32,
  "num_hidden_layers": 36,
  "num_key_value_heads": 8,
  "rms_norm_eps": 1e-06,
  "rope_scaling": null,
  "rope_theta": 1000000,
  "sliding_window": null,
  "tie_word_embeddings": true,
  "torch_dtype": "bfloat16",
  "use_cache": false,
  "use_sliding_window": false,
  "vocab_size": 151936
}""")

SOURCES["Qwen/Qwen3-8B"] = (
    "citsjtu2020/LLM-Prof sglang/Model_Config.md (Qwen3-8B); same values in a FLUX.2 Qwen3-8B "
    "text-encoder copy")
CONFIGS["Qwen/Qwen3-8B"] = _json("""{
  "architectures": ["Qwen3ForCausalLM"],
  "attention_bias": false,
  "attention_dropout": 0.0,
  "bos_token_id": 151643,
  "eos_token_id": 151645,
  "head_dim": 128,
  "hidden_act": "silu",
  "hidden_size": 4096,
  "initializer_range": 0.02,
  "intermediate_size": 12288,
  "max_position_embeddings": 40960,
  "max_window_layers": 36,
  "model_type": "qwen3",
  "num_attention_heads": 32,
  "num_hidden_layers": 36,
  "num_key_value_heads": 8,
  "rms_norm_eps": 1e-06,
  "rope_scaling": null,
  "rope_theta": 1000000,
  "sliding_window": null,
  "tie_word_embeddings": false,
  "torch_dtype": "bfloat16",
  "use_cache": true,
  "use_sliding_window": false,
  "vocab_size": 151936
}""")

SOURCES["Qwen/Qwen3-14B"] = (
    "citsjtu2020/LLM-Prof sglang/Model_Config.md (Qwen3-14B)")
CONFIGS["Qwen/Qwen3-14B"] = _json("""{
  "architectures": ["Qwen3ForCausalLM"],
  "attention_bias": false,
  "attention_dropout": 0.0,
  "bos_token_id": 151643,
  "eos_token_id": 151645,
  "head_dim": 128,
  "hidden_act": "silu",
  "hidden_size": 5120,
  "initializer_range": 0.02,
  "intermediate_size": 17408,
  "max_position_embeddings": 40960,
  "max_window_layers": 40,
  "model_type": "qwen3",
  "num_attention_heads": 40,
  "num_hidden_layers": 40,
  "num_key_value_heads": 8,
  "rms_norm_eps": 1e-06,
  "rope_scaling": null,
  "rope_theta": 1000000,
  "sliding_window": null,
  "tie_word_embeddings": false,
  "torch_dtype": "bfloat16",
  "use_cache": true,
  "use_sliding_window": false,
  "vocab_size": 151936
}""")

SOURCES["Qwen/Qwen3-32B"] = (
    "hub config.json snapshot in daniel-p-green/alain-ai-learning-platform out/research-qwen-"
    "qwen3-32b/sources/huggingface/config.json; same in citsjtu2020/LLM-Prof "
    "sglang/Model_Config.md")
CONFIGS["Qwen/Qwen3-32B"] = _json("""{
  "architectures": ["Qwen3ForCausalLM"],
  "attention_bias": false,
  "attention_dropout": 0.0,
  "bos_token_id": 151643,
  "eos_token_id": 151645,
  "head_dim": 128,
  "hidden_act": "silu",
  "hidden_size": 5120,
  "initializer_range": 0.02,
  "intermediate_size": 25600,
  "max_position_embeddings": 40960,
  "max_window_layers": 64,
  "model_type": "qwen3",
  "num_attention_heads": 64,
  "num_hidden_layers": 64,
  "num_key_value_heads": 8,
  "rms_norm_eps": 1e-06,
  "rope_scaling": null,
  "rope_theta": 1000000,
  "sliding_window": null,
  "tie_word_embeddings": false,
  "torch_dtype": "bfloat16",
  "use_cache": true,
  "use_sliding_window": false,
  "vocab_size": 151936
}""")

SOURCES["Qwen/Qwen2.5-0.5B-Instruct"] = (
    "a copy of Qwen/Qwen2.5-0.5B-Instruct config.json quoted in DongfuJiang's chunking README "
    "(architectures/model_type restored), the same dict pinned as 'expected' for "
    "Qwen2.5-0.5B-Instruct in a model loader, and the identical config of its fine-tune "
    "Gensyn/Qwen2.5-0.5B-Instruct (hub config.json snapshot in daniel-p-green/alain-ai-"
    "learning-platform out/research-gensyn-"
    "qwen2-5-0-5b-instruct/sources/huggingface/config.json)")
CONFIGS["Qwen/Qwen2.5-0.5B-Instruct"] = _json("""{
  "architectures": ["Qwen2ForCausalLM"],
  "attention_dropout": 0.0,
  "bos_token_id": 151643,
  "eos_token_id": 151645,
  "hidden_act": "silu",
  "hidden_size": 896,
  "initializer_range": 0.02,
  "intermediate_size": 4864,
  "max_position_embeddings": 32768,
  "max_window_layers": 21,
  "model_type": "qwen2",
  "num_attention_heads": 14,
  "num_hidden_layers": 24,
  "num_key_value_heads": 2,
  "rms_norm_eps": 1e-06,
  "rope_theta": 1000000.0,
  "sliding_window": 32768,
  "tie_word_embeddings": true,
  "torch_dtype": "bfloat16",
  "use_cache": true,
  "use_sliding_window": false,
  "vocab_size": 151936
}""")

SOURCES["Qwen/Qwen2.5-1.5B-Instruct"] = (
    "hub config.json snapshot in daniel-p-green/alain-ai-learning-platform out/research-qwen-"
    "qwen2-5-1-5b-instruct/sources/huggingface/config.json; same in a C++ test that mirrors the"
    " pinned checkpoint's config.json and in a transformers load log")
CONFIGS["Qwen/Qwen2.5-1.5B-Instruct"] = _json("""{
  "architectures": ["Qwen2ForCausalLM"],
  "attention_dropout": 0.0,
  "bos_token_id": 151643,
  "eos_token_id": 151645,
  "hidden_act": "silu",
  "hidden_size": 1536,
  "initializer_range": 0.02,
  "intermediate_size": 8960,
  "max_position_embeddings": 32768,
  "max_window_layers": 21,
  "model_type": "qwen2",
  "num_attention_heads": 12,
  "num_hidden_layers": 28,
  "num_key_value_heads": 2,
  "rms_norm_eps": 1e-06,
  "rope_theta": 1000000.0,
  "sliding_window": 32768,
  "tie_word_embeddings": true,
  "torch_dtype": "bfloat16",
  "use_cache": true,
  "use_sliding_window": false,
  "vocab_size": 151936
}""")

SOURCES["Qwen/Qwen2.5-7B-Instruct"] = (
    "hub config.json snapshot in daniel-p-green/alain-ai-learning-platform out/research-qwen-"
    "qwen2-5-7b-instruct/sources/huggingface/config.json; same shape in a transformers 4.57 "
    "load log of Qwen2.5-7B-Instruct/config.json")
CONFIGS["Qwen/Qwen2.5-7B-Instruct"] = _json("""{
  "architectures": ["Qwen2ForCausalLM"],
  "attention_dropout": 0.0,
  "bos_token_id": 151643,
  "eos_token_id": 151645,
  "hidden_act": "silu",
  "hidden_size": 3584,
  "initializer_range": 0.02,
  "intermediate_size": 18944,
  "max_position_embeddings": 32768,
  "max_window_layers": 28,
  "model_type": "qwen2",
  "num_attention_heads": 28,
  "num_hidden_layers": 28,
  "num_key_value_heads": 4,
  "rms_norm_eps": 1e-06,
  "rope_theta": 1000000.0,
  "sliding_window": 131072,
  "tie_word_embeddings": false,
  "torch_dtype": "bfloat16",
  "use_cache": true,
  "use_sliding_window": false,
  "vocab_size": 152064
}""")

SOURCES["Qwen/Qwen2.5-32B-Instruct"] = (
    "Qwen2.5-32B-Instruct config.json quoted in a forum thread on sliding windows (verbatim up "
    "to torch_dtype); the rest (use_cache, use_sliding_window, vocab_size 152064) from the "
    "Qwen2.5-32B-Instruct-GPTQ-Int4 config copied in a fix_gptq_config.py script; vocab 152064 "
    "is also the only value that gives KerasHub's exact qwen2.5_instruct_32b_en count")
CONFIGS["Qwen/Qwen2.5-32B-Instruct"] = _json("""{
  "architectures": ["Qwen2ForCausalLM"],
  "attention_dropout": 0.0,
  "bos_token_id": 151643,
  "eos_token_id": 151645,
  "hidden_act": "silu",
  "hidden_size": 5120,
  "initializer_range": 0.02,
  "intermediate_size": 27648,
  "max_position_embeddings": 32768,
  "max_window_layers": 70,
  "model_type": "qwen2",
  "num_attention_heads": 40,
  "num_hidden_layers": 64,
  "num_key_value_heads": 8,
  "rms_norm_eps": 1e-06,
  "rope_theta": 1000000.0,
  "sliding_window": 131072,
  "tie_word_embeddings": false,
  "torch_dtype": "bfloat16",
  "use_cache": true,
  "use_sliding_window": false,
  "vocab_size": 152064
}""")

SOURCES["Qwen/Qwen2.5-72B-Instruct"] = (
    "the raw config.json of Qwen2.5-72B-Instruct in a model-info report; the same dict (with "
    "_name_or_path Qwen/Qwen2.5-72B-Instruct) in a ModelArgs test")
CONFIGS["Qwen/Qwen2.5-72B-Instruct"] = _json("""{
  "architectures": ["Qwen2ForCausalLM"],
  "attention_dropout": 0.0,
  "bos_token_id": 151643,
  "eos_token_id": 151645,
  "hidden_act": "silu",
  "hidden_size": 8192,
  "initializer_range": 0.02,
  "intermediate_size": 29568,
  "max_position_embeddings": 32768,
  "max_window_layers": 70,
  "model_type": "qwen2",
  "num_attention_heads": 64,
  "num_hidden_layers": 80,
  "num_key_value_heads": 8,
  "rms_norm_eps": 1e-06,
  "rope_theta": 1000000.0,
  "sliding_window": 131072,
  "tie_word_embeddings": false,
  "torch_dtype": "bfloat16",
  "use_cache": true,
  "use_sliding_window": false,
  "vocab_size": 152064
}""")

SOURCES["meta-llama/Llama-3.2-1B-Instruct"] = (
    "mlc-ai/mlc-llm python/mlc_llm/model/model_preset.py (llama3_2_1b) (the Instruct config: "
    "eos [128001, 128008, 128009])")
CONFIGS["meta-llama/Llama-3.2-1B-Instruct"] = _json("""{
  "architectures": ["LlamaForCausalLM"],
  "attention_bias": false,
  "attention_dropout": 0.0,
  "bos_token_id": 128000,
  "eos_token_id": [128001, 128008, 128009],
  "head_dim": 64,
  "hidden_act": "silu",
  "hidden_size": 2048,
  "initializer_range": 0.02,
  "intermediate_size": 8192,
  "max_position_embeddings": 131072,
  "mlp_bias": false,
  "model_type": "llama",
  "num_attention_heads": 32,
  "num_hidden_layers": 16,
  "num_key_value_heads": 8,
  "pretraining_tp": 1,
  "rms_norm_eps": 1e-05,
  "rope_scaling": {"factor": 32.0, "high_freq_factor": 4.0, "low_freq_factor": 1.0,
    "original_max_position_embeddings": 8192, "rope_type": "llama3"},
  "rope_theta": 500000.0,
  "tie_word_embeddings": true,
  "torch_dtype": "bfloat16",
  "use_cache": true,
  "vocab_size": 128256
}""")

SOURCES["meta-llama/Llama-3.2-3B"] = (
    "citsjtu2020/LLM-Prof sglang/Model_Config.md (Llama-3.2-3B)")
CONFIGS["meta-llama/Llama-3.2-3B"] = _json("""{
  "architectures": ["LlamaForCausalLM"],
  "attention_bias": false,
  "attention_dropout": 0.0,
  "bos_token_id": 128000,
  "eos_token_id": 128001,
  "head_dim": 128,
  "hidden_act": "silu",
  "hidden_size": 3072,
  "initializer_range": 0.02,
  "intermediate_size": 8192,
  "max_position_embeddings": 131072,
  "mlp_bias": false,
  "model_type": "llama",
  "num_attention_heads": 24,
  "num_hidden_layers": 28,
  "num_key_value_heads": 8,
  "pretraining_tp": 1,
  "rms_norm_eps": 1e-05,
  "rope_scaling": {"factor": 32.0, "high_freq_factor": 4.0, "low_freq_factor": 1.0,
    "original_max_position_embeddings": 8192, "rope_type": "llama3"},
  "rope_theta": 500000.0,
  "tie_word_embeddings": true,
  "torch_dtype": "bfloat16",
  "use_cache": true,
  "vocab_size": 128256
}""")

SOURCES["meta-llama/Llama-3.2-3B-Instruct"] = (
    "hub config.json snapshot in daniel-p-green/alain-ai-learning-platform out/research-"
    "context-labs-meta-llama-llama-3-2-3b-instruct-fp16/sources/huggingface/config.json (a re-"
    "upload of meta-llama/Llama-3.2-3B-Instruct); same in mlc-ai/mlc-llm "
    "python/mlc_llm/model/model_preset.py (llama3_2_3b)")
CONFIGS["meta-llama/Llama-3.2-3B-Instruct"] = _json("""{
  "architectures": ["LlamaForCausalLM"],
  "attention_bias": false,
  "attention_dropout": 0.0,
  "bos_token_id": 128000,
  "eos_token_id": [128001, 128008, 128009],
  "head_dim": 128,
  "hidden_act": "silu",
  "hidden_size": 3072,
  "initializer_range": 0.02,
  "intermediate_size": 8192,
  "max_position_embeddings": 131072,
  "mlp_bias": false,
  "model_type": "llama",
  "num_attention_heads": 24,
  "num_hidden_layers": 28,
  "num_key_value_heads": 8,
  "pretraining_tp": 1,
  "rms_norm_eps": 1e-05,
  "rope_scaling": {"factor": 32.0, "high_freq_factor": 4.0, "low_freq_factor": 1.0,
    "original_max_position_embeddings": 8192, "rope_type": "llama3"},
  "rope_theta": 500000.0,
  "tie_word_embeddings": true,
  "torch_dtype": "bfloat16",
  "use_cache": true,
  "vocab_size": 128256
}""")

SOURCES["google/gemma-2-27b"] = (
    "mlc-ai/mlc-llm python/mlc_llm/model/model_preset.py (gemma2_27b) without MLC's own keys "
    "(sliding_window_size, _attn_implementation)")
CONFIGS["google/gemma-2-27b"] = _json("""{
  "architectures": ["Gemma2ForCausalLM"],
  "attention_bias": false,
  "attention_dropout": 0.0,
  "attn_logit_softcapping": 50.0,
  "bos_token_id": 2,
  "cache_implementation": "hybrid",
  "eos_token_id": 1,
  "final_logit_softcapping": 30.0,
  "head_dim": 128,
  "hidden_act": "gelu_pytorch_tanh",
  "hidden_activation": "gelu_pytorch_tanh",
  "hidden_size": 4608,
  "initializer_range": 0.02,
  "intermediate_size": 36864,
  "max_position_embeddings": 8192,
  "model_type": "gemma2",
  "num_attention_heads": 32,
  "num_hidden_layers": 46,
  "num_key_value_heads": 16,
  "pad_token_id": 0,
  "query_pre_attn_scalar": 144,
  "rms_norm_eps": 1e-06,
  "rope_theta": 10000.0,
  "sliding_window": 4096,
  "torch_dtype": "bfloat16",
  "use_cache": true,
  "vocab_size": 256000
}""")

SOURCES["google/gemma-3-1b-it"] = (
    "mlc-ai/mlc-llm python/mlc_llm/model/model_preset.py (gemma3_1b_it)")
CONFIGS["google/gemma-3-1b-it"] = _json("""{
  "architectures": ["Gemma3ForCausalLM"],
  "attention_bias": false,
  "attention_dropout": 0.0,
  "attn_logit_softcapping": null,
  "bos_token_id": 2,
  "cache_implementation": "hybrid",
  "eos_token_id": [1, 106],
  "final_logit_softcapping": null,
  "head_dim": 256,
  "hidden_activation": "gelu_pytorch_tanh",
  "hidden_size": 1152,
  "initializer_range": 0.02,
  "intermediate_size": 6912,
  "max_position_embeddings": 32768,
  "model_type": "gemma3_text",
  "num_attention_heads": 4,
  "num_hidden_layers": 26,
  "num_key_value_heads": 1,
  "pad_token_id": 0,
  "query_pre_attn_scalar": 256,
  "rms_norm_eps": 1e-06,
  "rope_local_base_freq": 10000,
  "rope_scaling": null,
  "rope_theta": 1000000,
  "sliding_window": 512,
  "sliding_window_pattern": 6,
  "torch_dtype": "bfloat16",
  "use_cache": true,
  "vocab_size": 262144
}""")

SOURCES["mistralai/Mistral-7B-v0.3"] = (
    "mlc-ai/mlc-llm python/mlc_llm/model/model_preset.py (mistral_7b_v03)")
CONFIGS["mistralai/Mistral-7B-v0.3"] = _json("""{
  "architectures": ["MistralForCausalLM"],
  "attention_dropout": 0.0,
  "bos_token_id": 1,
  "eos_token_id": 2,
  "hidden_act": "silu",
  "hidden_size": 4096,
  "initializer_range": 0.02,
  "intermediate_size": 14336,
  "max_position_embeddings": 32768,
  "model_type": "mistral",
  "num_attention_heads": 32,
  "num_hidden_layers": 32,
  "num_key_value_heads": 8,
  "rms_norm_eps": 1e-05,
  "rope_theta": 1000000.0,
  "sliding_window": null,
  "tie_word_embeddings": false,
  "torch_dtype": "bfloat16",
  "use_cache": true,
  "vocab_size": 32768
}""")

SOURCES["mistralai/Mistral-Nemo-Base-2407"] = (
    "kevinstephano/thunder_model_blocks thunder_model_blocks/mistral/mistral_config.py (config "
    "of mistralai/Mistral-Nemo-Base-2407)")
CONFIGS["mistralai/Mistral-Nemo-Base-2407"] = _json("""{
  "architectures": ["MistralForCausalLM"],
  "attention_dropout": 0.0,
  "bos_token_id": 1,
  "eos_token_id": 2,
  "head_dim": 128,
  "hidden_act": "silu",
  "hidden_size": 5120,
  "initializer_range": 0.02,
  "intermediate_size": 14336,
  "max_position_embeddings": 128000,
  "model_type": "mistral",
  "num_attention_heads": 32,
  "num_hidden_layers": 40,
  "num_key_value_heads": 8,
  "rms_norm_eps": 1e-05,
  "rope_theta": 1000000.0,
  "sliding_window": null,
  "tie_word_embeddings": false,
  "torch_dtype": "bfloat16",
  "use_cache": true,
  "vocab_size": 131072
}""")

SOURCES["mistralai/Mistral-Small-24B-Instruct-2501"] = (
    "OpenMOSE/RWKV-LM-RLHF main/tokenizer/mistralsmall3/ (the 2501 instruct model card, commit "
    "f476341): params.json (commit c394e06, Mistral's own format) mapped key for key to "
    "MistralConfig as Mistral's HF conversion does (dim -> hidden_size, n_layers, head_dim, "
    "hidden_dim -> intermediate_size, n_heads, n_kv_heads, norm_eps -> rms_norm_eps, vocab_size, "
    "rope_theta, max_seq_len -> max_position_embeddings; untied head); bos/eos from its "
    "generation_config.json (_from_model_config); the same folder's model.safetensors.index.json "
    "(commit 7e8f62a) total_size 47,144,806,400 bytes of bf16 = 23,572,403,200 parameters, which "
    "the meta-device count equals: the mapping is checked, not assumed")
CONFIGS["mistralai/Mistral-Small-24B-Instruct-2501"] = _json("""{
  "architectures": ["MistralForCausalLM"],
  "attention_dropout": 0.0,
  "bos_token_id": 1,
  "eos_token_id": 2,
  "head_dim": 128,
  "hidden_act": "silu",
  "hidden_size": 5120,
  "initializer_range": 0.02,
  "intermediate_size": 32768,
  "max_position_embeddings": 32768,
  "model_type": "mistral",
  "num_attention_heads": 32,
  "num_hidden_layers": 40,
  "num_key_value_heads": 8,
  "rms_norm_eps": 1e-05,
  "rope_theta": 100000000.0,
  "sliding_window": null,
  "tie_word_embeddings": false,
  "torch_dtype": "bfloat16",
  "use_cache": true,
  "vocab_size": 131072
}""")

SOURCES["microsoft/Phi-3.5-mini-instruct"] = (
    "mlc-ai/mlc-llm python/mlc_llm/model/model_preset.py (phi-3_5); same in OpenMOSE/RWKV-LM-"
    "RLHF main/tokenizer/phi3.5/config.json")
CONFIGS["microsoft/Phi-3.5-mini-instruct"] = _json("""{
  "architectures": ["Phi3ForCausalLM"],
  "attention_dropout": 0.0,
  "bos_token_id": 1,
  "embd_pdrop": 0.0,
  "eos_token_id": 32000,
  "hidden_act": "silu",
  "hidden_size": 3072,
  "initializer_range": 0.02,
  "intermediate_size": 8192,
  "max_position_embeddings": 131072,
  "model_type": "phi3",
  "num_attention_heads": 32,
  "num_hidden_layers": 32,
  "num_key_value_heads": 32,
  "original_max_position_embeddings": 4096,
  "pad_token_id": 32000,
  "resid_pdrop": 0.0,
  "rms_norm_eps": 1e-05,
  "rope_scaling": {"long_factor": [1.0800000429153442, 1.1100000143051147, 1.1399999856948853,
    1.340000033378601, 1.5899999141693115, 1.600000023841858, 1.6200000047683716,
    2.620000123977661, 3.2300000190734863, 3.2300000190734863, 4.789999961853027,
    7.400000095367432, 7.700000286102295, 9.09000015258789, 12.199999809265137,
    17.670000076293945, 24.46000099182129, 28.57000160217285, 30.420001983642578,
    30.840002059936523, 32.590003967285156, 32.93000411987305, 42.320003509521484,
    44.96000289916992, 50.340003967285156, 50.45000457763672, 57.55000305175781,
    57.93000411987305, 58.21000289916992, 60.1400032043457, 62.61000442504883,
    62.62000274658203, 62.71000289916992, 63.1400032043457, 63.1400032043457, 63.77000427246094,
    63.93000411987305, 63.96000289916992, 63.970001220703125, 64.02999877929688,
    64.06999969482422, 64.08000183105469, 64.12000274658203, 64.41000366210938,
    64.4800033569336, 64.51000213623047, 64.52999877929688, 64.83999633789062], "short_factor":
    [1.0, 1.0199999809265137, 1.0299999713897705, 1.0299999713897705, 1.0499999523162842,
    1.0499999523162842, 1.0499999523162842, 1.0499999523162842, 1.0499999523162842,
    1.0699999332427979, 1.0999999046325684, 1.1099998950958252, 1.1599998474121094,
    1.1599998474121094, 1.1699998378753662, 1.2899998426437378, 1.339999794960022,
    1.679999828338623, 1.7899998426437378, 1.8199998140335083, 1.8499997854232788,
    1.8799997568130493, 1.9099997282028198, 1.9399996995925903, 1.9899996519088745,
    2.0199997425079346, 2.0199997425079346, 2.0199997425079346, 2.0199997425079346,
    2.0199997425079346, 2.0199997425079346, 2.0299997329711914, 2.0299997329711914,
    2.0299997329711914, 2.0299997329711914, 2.0299997329711914, 2.0299997329711914,
    2.0299997329711914, 2.0299997329711914, 2.0299997329711914, 2.0799996852874756,
    2.0899996757507324, 2.189999580383301, 2.2199995517730713, 2.5899994373321533,
    2.729999542236328, 2.749999523162842, 2.8399994373321533], "type": "longrope"},
  "rope_theta": 10000.0,
  "sliding_window": 262144,
  "tie_word_embeddings": false,
  "torch_dtype": "bfloat16",
  "use_cache": true,
  "attention_bias": false,
  "vocab_size": 32064
}""")

SOURCES["microsoft/phi-4"] = (
    "OpenMOSE/RWKV-LM-RLHF main/tokenizer/phi-4/config.json (_name_or_path microsoft/phi-4)")
CONFIGS["microsoft/phi-4"] = _json("""{
  "architectures": ["Phi3ForCausalLM"],
  "attention_bias": false,
  "attention_dropout": 0.0,
  "bos_token_id": 100257,
  "embd_pdrop": 0.0,
  "eos_token_id": 100265,
  "hidden_act": "silu",
  "hidden_size": 5120,
  "initializer_range": 0.02,
  "intermediate_size": 17920,
  "max_position_embeddings": 16384,
  "model_type": "phi3",
  "num_attention_heads": 40,
  "num_hidden_layers": 40,
  "num_key_value_heads": 10,
  "original_max_position_embeddings": 16384,
  "pad_token_id": 100349,
  "resid_pdrop": 0.0,
  "rms_norm_eps": 1e-05,
  "rope_scaling": null,
  "rope_theta": 250000,
  "sliding_window": null,
  "tie_word_embeddings": false,
  "torch_dtype": "bfloat16",
  "use_cache": true,
  "vocab_size": 100352
}""")

SOURCES["HuggingFaceTB/SmolLM2-135M-Instruct"] = (
    "mlc-ai/mlc-llm python/mlc_llm/model/model_preset.py (smollm2_135m) (bos 1 / eos 2 / pad 2:"
    " the Instruct config)")
CONFIGS["HuggingFaceTB/SmolLM2-135M-Instruct"] = _json("""{
  "architectures": ["LlamaForCausalLM"],
  "attention_bias": false,
  "attention_dropout": 0.0,
  "bos_token_id": 1,
  "eos_token_id": 2,
  "hidden_act": "silu",
  "hidden_size": 576,
  "initializer_range": 0.041666666666666664,
  "intermediate_size": 1536,
  "is_llama_config": true,
  "max_position_embeddings": 8192,
  "mlp_bias": false,
  "model_type": "llama",
  "num_attention_heads": 9,
  "num_hidden_layers": 30,
  "num_key_value_heads": 3,
  "pad_token_id": 2,
  "pretraining_tp": 1,
  "rms_norm_eps": 1e-05,
  "rope_interleaved": false,
  "rope_scaling": null,
  "rope_theta": 100000,
  "tie_word_embeddings": true,
  "torch_dtype": "bfloat16",
  "use_cache": true,
  "vocab_size": 49152
}""")

SOURCES["HuggingFaceTB/SmolLM2-360M-Instruct"] = (
    "mlc-ai/mlc-llm python/mlc_llm/model/model_preset.py (smollm2_360m) (the Instruct config)")
CONFIGS["HuggingFaceTB/SmolLM2-360M-Instruct"] = _json("""{
  "architectures": ["LlamaForCausalLM"],
  "attention_bias": false,
  "attention_dropout": 0.0,
  "bos_token_id": 1,
  "eos_token_id": 2,
  "hidden_act": "silu",
  "hidden_size": 960,
  "initializer_range": 0.02,
  "intermediate_size": 2560,
  "is_llama_config": true,
  "max_position_embeddings": 8192,
  "mlp_bias": false,
  "model_type": "llama",
  "num_attention_heads": 15,
  "num_hidden_layers": 32,
  "num_key_value_heads": 5,
  "pad_token_id": 2,
  "pretraining_tp": 1,
  "rms_norm_eps": 1e-05,
  "rope_interleaved": false,
  "rope_scaling": null,
  "rope_theta": 100000,
  "tie_word_embeddings": true,
  "torch_dtype": "bfloat16",
  "use_cache": true,
  "vocab_size": 49152
}""")

SOURCES["HuggingFaceTB/SmolLM2-1.7B-Instruct"] = (
    "mlc-ai/mlc-llm python/mlc_llm/model/model_preset.py (smollm2_1_7b, commented out there); "
    "same in a Rust test's SMOLLM2_CONFIG (SmolLM2 1.7B)")
CONFIGS["HuggingFaceTB/SmolLM2-1.7B-Instruct"] = _json("""{
  "architectures": ["LlamaForCausalLM"],
  "attention_bias": false,
  "attention_dropout": 0.0,
  "bos_token_id": 1,
  "eos_token_id": 2,
  "hidden_act": "silu",
  "hidden_size": 2048,
  "initializer_range": 0.02,
  "intermediate_size": 8192,
  "max_position_embeddings": 8192,
  "mlp_bias": false,
  "model_type": "llama",
  "num_attention_heads": 32,
  "num_hidden_layers": 24,
  "num_key_value_heads": 32,
  "pad_token_id": 2,
  "pretraining_tp": 1,
  "rms_norm_eps": 1e-05,
  "rope_scaling": null,
  "rope_theta": 130000,
  "tie_word_embeddings": true,
  "torch_dtype": "bfloat16",
  "use_cache": true,
  "vocab_size": 49152
}""")

SOURCES["deepseek-ai/DeepSeek-R1-Distill-Qwen-1.5B"] = (
    "Qwen2Config print of deepseek-ai/DeepSeek-R1-Distill-Qwen-1.5B (transformers 4.48.3, which"
    " shows sliding_window null when use_sliding_window is false) quoted in a model-config "
    "helper")
CONFIGS["deepseek-ai/DeepSeek-R1-Distill-Qwen-1.5B"] = _json("""{
  "architectures": ["Qwen2ForCausalLM"],
  "attention_dropout": 0.0,
  "bos_token_id": 151643,
  "eos_token_id": 151643,
  "hidden_act": "silu",
  "hidden_size": 1536,
  "initializer_range": 0.02,
  "intermediate_size": 8960,
  "max_position_embeddings": 131072,
  "max_window_layers": 21,
  "model_type": "qwen2",
  "num_attention_heads": 12,
  "num_hidden_layers": 28,
  "num_key_value_heads": 2,
  "rms_norm_eps": 1e-06,
  "rope_scaling": null,
  "rope_theta": 10000,
  "sliding_window": null,
  "tie_word_embeddings": false,
  "torch_dtype": "bfloat16",
  "use_cache": true,
  "use_mrope": false,
  "use_sliding_window": false,
  "vocab_size": 151936
}""")

SOURCES["deepseek-ai/DeepSeek-R1-Distill-Qwen-32B"] = (
    "hub config.json snapshot in daniel-p-green/alain-ai-learning-platform out/research-"
    "deepseek-ai-deepseek-r1-distill-qwen-32b/sources/huggingface/config.json")
CONFIGS["deepseek-ai/DeepSeek-R1-Distill-Qwen-32B"] = _json("""{
  "architectures": ["Qwen2ForCausalLM"],
  "attention_dropout": 0.0,
  "bos_token_id": 151643,
  "eos_token_id": 151643,
  "hidden_act": "silu",
  "hidden_size": 5120,
  "initializer_range": 0.02,
  "intermediate_size": 27648,
  "max_position_embeddings": 131072,
  "max_window_layers": 64,
  "model_type": "qwen2",
  "num_attention_heads": 40,
  "num_hidden_layers": 64,
  "num_key_value_heads": 8,
  "rms_norm_eps": 1e-05,
  "rope_theta": 1000000.0,
  "sliding_window": 131072,
  "tie_word_embeddings": false,
  "torch_dtype": "bfloat16",
  "use_cache": true,
  "use_sliding_window": false,
  "vocab_size": 152064
}""")

SOURCES["deepseek-ai/DeepSeek-R1-Distill-Llama-8B"] = (
    "hub config.json snapshot in daniel-p-green/alain-ai-learning-platform out/research-"
    "deepseek-ai-deepseek-r1-distill-llama-8b/sources/huggingface/config.json")
CONFIGS["deepseek-ai/DeepSeek-R1-Distill-Llama-8B"] = _json("""{
  "architectures": ["LlamaForCausalLM"],
  "attention_bias": false,
  "attention_dropout": 0.0,
  "bos_token_id": 128000,
  "eos_token_id": 128001,
  "hidden_act": "silu",
  "hidden_size": 4096,
  "initializer_range": 0.02,
  "intermediate_size": 14336,
  "max_position_embeddings": 131072,
  "mlp_bias": false,
  "model_type": "llama",
  "num_attention_heads": 32,
  "num_hidden_layers": 32,
  "num_key_value_heads": 8,
  "pretraining_tp": 1,
  "rms_norm_eps": 1e-05,
  "rope_scaling": {"factor": 8.0, "low_freq_factor": 1.0, "high_freq_factor": 4.0,
    "original_max_position_embeddings": 8192, "rope_type": "llama3"},
  "rope_theta": 500000.0,
  "tie_word_embeddings": false,
  "torch_dtype": "bfloat16",
  "use_cache": true,
  "vocab_size": 128256
}""")

SOURCES["Qwen/Qwen2.5-3B-Instruct"] = (
    "hub config.json snapshot in daniel-p-green/alain-ai-learning-platform out/research-qwen-"
    "qwen2-5-3b-instruct/sources/huggingface/config.json (commit 1b33775; the Hub model.json "
    "beside it pins revision aa8e725 and safetensors total 3,085,938,688); byte-identical in "
    "inference-sim/inference-sim model_configs/qwen2.5-3b-instruct/config.json (commit c1c3271)")
CONFIGS["Qwen/Qwen2.5-3B-Instruct"] = _json("""{
  "architectures": ["Qwen2ForCausalLM"],
  "attention_dropout": 0.0,
  "bos_token_id": 151643,
  "eos_token_id": 151645,
  "hidden_act": "silu",
  "hidden_size": 2048,
  "initializer_range": 0.02,
  "intermediate_size": 11008,
  "max_position_embeddings": 32768,
  "max_window_layers": 70,
  "model_type": "qwen2",
  "num_attention_heads": 16,
  "num_hidden_layers": 36,
  "num_key_value_heads": 2,
  "rms_norm_eps": 1e-06,
  "rope_theta": 1000000.0,
  "sliding_window": 32768,
  "tie_word_embeddings": true,
  "torch_dtype": "bfloat16",
  "use_cache": true,
  "use_sliding_window": false,
  "vocab_size": 151936
}""")

SOURCES["deepseek-ai/DeepSeek-R1-Distill-Qwen-7B"] = (
    "the config.json of deepseek-ai/DeepSeek-R1-Distill-Qwen-7B quoted in full in "
    "leandromet/nlp_project_cuda deepseek_install_run_Qwen_7B.md (commit 9767c2d, \"with this "
    "config\"; transformers_version 4.44.0); the same values (eos 151643, max_position_embeddings"
    " 131072, max_window_layers 28, rope_theta 10000, use_mrope false, vocab 152064, untied "
    "3584x152064 head, q/k/v biases) in the Qwen2Config print and module tree of the unpruned "
    "model in VainF/Torch-Pruning examples/LLMs/readme.md (commit 566a887), which shows "
    "sliding_window null because transformers 4.48 drops it when use_sliding_window is false. "
    "Not Qwen2.5-7B's config: the distill is built on Qwen2.5-Math-7B (rope_theta 10000)")
CONFIGS["deepseek-ai/DeepSeek-R1-Distill-Qwen-7B"] = _json("""{
  "architectures": ["Qwen2ForCausalLM"],
  "attention_dropout": 0.0,
  "bos_token_id": 151643,
  "eos_token_id": 151643,
  "hidden_act": "silu",
  "hidden_size": 3584,
  "initializer_range": 0.02,
  "intermediate_size": 18944,
  "max_position_embeddings": 131072,
  "max_window_layers": 28,
  "model_type": "qwen2",
  "num_attention_heads": 28,
  "num_hidden_layers": 28,
  "num_key_value_heads": 4,
  "rms_norm_eps": 1e-06,
  "rope_theta": 10000,
  "sliding_window": 4096,
  "tie_word_embeddings": false,
  "torch_dtype": "bfloat16",
  "use_cache": true,
  "use_mrope": false,
  "use_sliding_window": false,
  "vocab_size": 152064
}""")

SOURCES["deepseek-ai/DeepSeek-R1-Distill-Llama-70B"] = (
    "the config.json of deepseek-ai/DeepSeek-R1-Distill-Llama-70B quoted in full in "
    "leandromet/nlp_project_cuda deepseek_install_run_Qwen_7B.md (commit 9767c2d, \"had to use "
    "the config.json from deepseek\" after downloading that repo; transformers_version "
    "4.47.0.dev0); the identical dict (same keys, order and values) as config_llama_70b in "
    "BudEcosystem/simulator BudSimulator/model_param_test.py (commit 044958d). Consistent with "
    "how DeepSeek shipped the distills: the Distill-Llama-8B and Distill-Qwen-32B hub snapshots "
    "above equal, key for key, the base configs of Llama-3.1-8B and Qwen2.5-32B in "
    "citsjtu2020/LLM-Prof sglang/Model_Config.md (commit 8434c8d), and this distill's base is "
    "Llama-3.3-70B-Instruct (eos [128001, 128008, 128009], transformers 4.47.0.dev0)")
CONFIGS["deepseek-ai/DeepSeek-R1-Distill-Llama-70B"] = _json("""{
  "architectures": ["LlamaForCausalLM"],
  "attention_bias": false,
  "attention_dropout": 0.0,
  "bos_token_id": 128000,
  "eos_token_id": [128001, 128008, 128009],
  "head_dim": 128,
  "hidden_act": "silu",
  "hidden_size": 8192,
  "initializer_range": 0.02,
  "intermediate_size": 28672,
  "max_position_embeddings": 131072,
  "mlp_bias": false,
  "model_type": "llama",
  "num_attention_heads": 64,
  "num_hidden_layers": 80,
  "num_key_value_heads": 8,
  "pretraining_tp": 1,
  "rms_norm_eps": 1e-05,
  "rope_scaling": {"factor": 8.0, "high_freq_factor": 4.0, "low_freq_factor": 1.0,
    "original_max_position_embeddings": 8192, "rope_type": "llama3"},
  "rope_theta": 500000.0,
  "tie_word_embeddings": false,
  "torch_dtype": "bfloat16",
  "use_cache": true,
  "vocab_size": 128256
}""")

SOURCES["meta-llama/Llama-3.3-70B-Instruct"] = (
    "ai-dynamo/aiconfigurator src/aiconfigurator/model_configs/meta-llama--Llama-3.3-70B-"
    "Instruct_config.json (commit f577ab8, \"update support matrix model list\"; transformers_"
    "version 4.47.0). It names no head_dim: transformers derives 8192 / 64 = 128, the value the "
    "DeepSeek-R1-Distill-Llama-70B copy above (built on this model) states; every other shaping "
    "key equals that copy's")
CONFIGS["meta-llama/Llama-3.3-70B-Instruct"] = _json("""{
  "architectures": ["LlamaForCausalLM"],
  "attention_bias": false,
  "attention_dropout": 0.0,
  "bos_token_id": 128000,
  "eos_token_id": [128001, 128008, 128009],
  "hidden_act": "silu",
  "hidden_size": 8192,
  "initializer_range": 0.02,
  "intermediate_size": 28672,
  "max_position_embeddings": 131072,
  "mlp_bias": false,
  "model_type": "llama",
  "num_attention_heads": 64,
  "num_hidden_layers": 80,
  "num_key_value_heads": 8,
  "pretraining_tp": 1,
  "rms_norm_eps": 1e-05,
  "rope_scaling": {
    "factor": 8.0,
    "low_freq_factor": 1.0,
    "high_freq_factor": 4.0,
    "original_max_position_embeddings": 8192,
    "rope_type": "llama3"
  },
  "rope_theta": 500000.0,
  "tie_word_embeddings": false,
  "torch_dtype": "bfloat16",
  "use_cache": true,
  "vocab_size": 128256
}""")

SOURCES["google/gemma-3-12b-it"] = (
    "the whole (sparse) config.json of google/gemma-3-12b-it embedded as _GEMMA3_CONFIG_DICT "
    "(\"Source: google/gemma-3-12b-it config.json\", transformers_version left out) in an LTX 2.3 "
    "text-encoder module of a public repo (stored code-index file id 52647932717); the same "
    "values, with transformers 4.51's defaults written out (vocab_size 262208, head_dim 256, "
    "query_pre_attn_scalar 256, tie by default), in ostris/ai-toolkit extensions_built_in/"
    "diffusion_models/ltx2/ltx2.py (commit 016777a, unsloth's copy of this config). The keys it "
    "leaves out take transformers' Gemma3TextConfig / SiglipVisionConfig defaults")
CONFIGS["google/gemma-3-12b-it"] = _json("""{
  "architectures": ["Gemma3ForConditionalGeneration"],
  "boi_token_index": 255999,
  "eoi_token_index": 256000,
  "eos_token_id": [1, 106],
  "image_token_index": 262144,
  "initializer_range": 0.02,
  "mm_tokens_per_image": 256,
  "model_type": "gemma3",
  "text_config": {
    "hidden_size": 3840,
    "intermediate_size": 15360,
    "model_type": "gemma3_text",
    "num_attention_heads": 16,
    "num_hidden_layers": 48,
    "num_key_value_heads": 8,
    "rope_scaling": {"factor": 8.0, "rope_type": "linear"},
    "sliding_window": 1024
  },
  "torch_dtype": "bfloat16",
  "vision_config": {
    "hidden_size": 1152,
    "image_size": 896,
    "intermediate_size": 4304,
    "model_type": "siglip_vision_model",
    "num_attention_heads": 16,
    "num_hidden_layers": 27,
    "patch_size": 14,
    "vision_use_head": false
  }
}""")

# Gemma 3 4B and 27B: no public repo here holds either config.json whole, so each is two partial
# copies of the same file joined (4B) or one copy with the two keys its authors marked as changed
# put back (27B). No value is from memory: every key below is quoted from a named copy, and the
# published count (build script) checks the shaping ones. The vision_config block is the same in
# the 12B file above.
SOURCES["google/gemma-3-4b-it"] = (
    "every key but vision_config from a Rust test fixture GEMMA3_4B, \"The shape of google/"
    "gemma-3-4b-it's config.json, vision tower omitted\" (stored code-index file id 70224130757; "
    "transformers_version 4.50.0.dev0); vision_config from a C# test that parses \"the original "
    "gemma-3-4b-it's config.json\" (file id 70892509106), equal key for key to the 12B file's. "
    "The text_config keys match the 4B checks of a Gemma 3 loader validating the real checkpoint "
    "(file id 68436905660: vocab 262208, 8 heads, 4 KV heads, head_dim 256, 34 layers)")
CONFIGS["google/gemma-3-4b-it"] = _json("""{
  "architectures": ["Gemma3ForConditionalGeneration"],
  "boi_token_index": 255999,
  "eoi_token_index": 256000,
  "eos_token_id": [1, 106],
  "image_token_index": 262144,
  "initializer_range": 0.02,
  "mm_tokens_per_image": 256,
  "model_type": "gemma3",
  "text_config": {
    "hidden_size": 2560,
    "intermediate_size": 10240,
    "model_type": "gemma3_text",
    "num_hidden_layers": 34,
    "rope_scaling": {"factor": 8.0, "rope_type": "linear"},
    "sliding_window": 1024
  },
  "torch_dtype": "bfloat16",
  "vision_config": {
    "hidden_size": 1152,
    "image_size": 896,
    "intermediate_size": 4304,
    "model_type": "siglip_vision_model",
    "num_attention_heads": 16,
    "num_hidden_layers": 27,
    "patch_size": 14,
    "vision_use_head": false
  }
}""")

SOURCES["google/gemma-3-27b-it"] = (
    "GEMMA3_27B_MINI_CONFIG in NVIDIA/TensorRT-LLM's Gemma 3 VL modeling unit test (stored "
    "code-index file id 18147872047; transformers_version 4.50.0.dev0), a copy of this "
    "config.json with two keys marked \"# Modified for testing.\": num_hidden_layers (6) and "
    "sliding_window (4). Both are put back from other copies of the real file: 62 layers and "
    "window 1024 in a Gemma3Config for the 27B spelled out field by field (file id 1323971974) "
    "and in a 27B text-model fixture (file id 19371423160); 62 is also the only layer count that "
    "gives the published total")
CONFIGS["google/gemma-3-27b-it"] = _json("""{
  "architectures": ["Gemma3ForConditionalGeneration"],
  "boi_token_index": 255999,
  "eoi_token_index": 256000,
  "eos_token_id": [1, 106],
  "image_token_index": 262144,
  "initializer_range": 0.02,
  "mm_tokens_per_image": 256,
  "model_type": "gemma3",
  "text_config": {
    "head_dim": 128,
    "hidden_size": 5376,
    "intermediate_size": 21504,
    "model_type": "gemma3_text",
    "num_attention_heads": 32,
    "num_hidden_layers": 62,
    "num_key_value_heads": 16,
    "query_pre_attn_scalar": 168,
    "rope_scaling": {"factor": 8.0, "rope_type": "linear"},
    "sliding_window": 1024
  },
  "torch_dtype": "bfloat16",
  "vision_config": {
    "hidden_size": 1152,
    "image_size": 896,
    "intermediate_size": 4304,
    "model_type": "siglip_vision_model",
    "num_attention_heads": 16,
    "num_hidden_layers": 27,
    "patch_size": 14,
    "vision_use_head": false
  }
}""")

SOURCES["Qwen/Qwen2.5-14B-Instruct"] = (
    "the config.json of Qwen/Qwen2.5-14B-Instruct written out as MODEL_CONFIG_DICT[\"Qwen/Qwen2.5-"
    "14B-Instruct\"] in a torchtune-based checkpoint loader of a public repo (stored code-index "
    "file id 65911652534; transformers_version 4.43.1); the Instruct releases' pattern (32768 "
    "positions, max_window_layers 70, sliding_window 131072, eos 151645, rms 1e-06) matches the "
    "Qwen2.5-3B/7B/32B/72B-Instruct copies above, and the shapes match the Qwen2.5-14B base "
    "config in citsjtu2020/LLM-Prof sglang/Model_Config.md")
CONFIGS["Qwen/Qwen2.5-14B-Instruct"] = _json("""{
  "architectures": ["Qwen2ForCausalLM"],
  "attention_dropout": 0.0,
  "bos_token_id": 151643,
  "eos_token_id": 151645,
  "hidden_act": "silu",
  "hidden_size": 5120,
  "initializer_range": 0.02,
  "intermediate_size": 13824,
  "max_position_embeddings": 32768,
  "max_window_layers": 70,
  "model_type": "qwen2",
  "num_attention_heads": 40,
  "num_hidden_layers": 48,
  "num_key_value_heads": 8,
  "rms_norm_eps": 1e-06,
  "rope_theta": 1000000.0,
  "sliding_window": 131072,
  "tie_word_embeddings": false,
  "torch_dtype": "bfloat16",
  "use_cache": true,
  "use_sliding_window": false,
  "vocab_size": 152064
}""")
