"""A merged Hugging Face model folder -> one GGUF file for llama.cpp, Ollama and LM Studio.

Written with the `gguf` package that llama.cpp publishes (gguf-py): its tensor-name map
(`gguf.get_tensor_name_map`), its vocabulary readers (`gguf.vocab.BpeVocab`, `LlamaHfVocab`,
`SentencePieceVocab`, `SpecialVocab` for merges, special ids and the chat template) and its
quantizers (`gguf.quants.quantize`). What this module adds is the part llama.cpp's
convert_hf_to_gguf.py does per architecture, re-derived from the facts it documents:

- Llama and Mistral (GGUF arch `llama`): q_proj / k_proj rows are permuted from the Hugging Face
  rotary layout (halves) to GGML's interleaved pairs, per head (k per KV head).
- Qwen2 (`qwen2`): no permutation (GGML runs it with NEOX rotary, the HF layout).
- Gemma 2 (`gemma2`): RMSNorm weights are stored as 1 + w (Gemma's norm multiplies by 1 + w;
  GGML's by w); the logit soft-capping and sliding window go into the metadata.
- Tied embeddings: no `output.weight` (GGML reuses token_embd).

Quantization: f32, f16, bf16, q8_0, q4_0, q4_1, q5_0 and q5_1 are written by gguf-py's own
reference quantizers; 1-D tensors (norms, biases) stay f32 and rows whose width is not a multiple
of the block size stay f16, as llama.cpp's converter does. The k-quants (q4_k_m and the others)
have no writer in gguf-py: they are refused with the llama-quantize line that makes them from the
f16 file, never written wrong.

Checked by tests/e2e/test_gguf_export.py: transformers loads the written file back (its GGUF
reader undoes each transform above) and its logits match the source model's.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ftwizard.core.errors import InputError

# model_type -> GGUF architecture name (gguf.MODEL_ARCH_NAMES values).
ARCHES = {"llama": "llama", "mistral": "llama", "qwen2": "qwen2", "gemma2": "gemma2"}
# What gguf-py can write correctly, and the file type recorded in general.file_type.
WRITABLE = {"f32": "ALL_F32", "f16": "MOSTLY_F16", "bf16": "MOSTLY_BF16", "q8_0": "MOSTLY_Q8_0",
            "q4_0": "MOSTLY_Q4_0", "q4_1": "MOSTLY_Q4_1", "q5_0": "MOSTLY_Q5_0",
            "q5_1": "MOSTLY_Q5_1"}
# Types llama.cpp offers that need its own quantizer (importance-aware k-quants, i-quants).
LLAMA_QUANTIZE_ONLY = ("q2_k", "q3_k_s", "q3_k_m", "q3_k_l", "q4_k_s", "q4_k_m", "q5_k_s",
                       "q5_k_m", "q6_k", "iq4_xs", "iq4_nl", "iq3_m", "iq2_m")


@dataclass
class GgufResult:
    path: Path
    arch: str
    quant: str
    tensors: int
    bytes: int
    chat_template: str | None
    eos_token: str | None


def check_quant(quant: str) -> str:
    """The quantization name, lower-cased, or an InputError saying how to get it."""
    q = quant.lower()
    if q in WRITABLE:
        return q
    if q in LLAMA_QUANTIZE_ONLY:
        raise InputError(
            f"{quant} is a llama.cpp k-quant that the gguf package cannot write", field="--quant",
            value=quant,
            fix=f"export --quant f16, then `llama-quantize MODEL-f16.gguf MODEL-{q}.gguf {q.upper()}` "
                f"(llama.cpp); or choose one of {', '.join(WRITABLE)}")
    raise InputError(f"unknown GGUF quantization {quant!r}", field="--quant", value=quant,
                     fix=f"choose one of {', '.join(WRITABLE)}")


def read_config(model_dir: Path) -> dict[str, Any]:
    try:
        return json.loads((model_dir / "config.json").read_text())
    except (OSError, ValueError) as err:
        raise InputError(f"{model_dir / 'config.json'} cannot be read ({err})", field="RUN",
                         value=str(model_dir), fix="export a finished run whose final/ holds a model") from None


def gguf_arch(config: dict[str, Any]) -> str:
    mt = config.get("model_type", "")
    if mt not in ARCHES:
        raise InputError(f"model type {mt!r} has no GGUF export in ftwizard", field="model.name",
                         value=mt, fix=f"GGUF export covers {', '.join(sorted(ARCHES))}; "
                                       "llama.cpp's convert_hf_to_gguf.py covers more")
    return ARCHES[mt]


def _permute_rotary(w: np.ndarray, n_head: int) -> np.ndarray:
    """HF's rotary layout (first half / second half of each head) -> GGML's interleaved pairs."""
    return (w.reshape(n_head, 2, w.shape[0] // n_head // 2, *w.shape[1:])
            .swapaxes(1, 2).reshape(w.shape))


def _transform(arch: str, hf_name: str, w: np.ndarray, config: dict[str, Any]) -> np.ndarray:
    if arch == "llama":
        heads = config["num_attention_heads"]
        if hf_name.endswith("q_proj.weight"):
            return _permute_rotary(w, heads)
        if hf_name.endswith("k_proj.weight"):
            return _permute_rotary(w, config.get("num_key_value_heads") or heads)
    if arch == "gemma2" and hf_name.endswith("norm.weight"):
        return w + 1.0
    return w


def _metadata(writer: Any, arch: str, config: dict[str, Any], name: str) -> None:
    c = config
    heads = c["num_attention_heads"]
    head_dim = c.get("head_dim") or c["hidden_size"] // heads
    writer.add_name(name)
    writer.add_context_length(int(c.get("max_position_embeddings") or 2048))
    writer.add_embedding_length(int(c["hidden_size"]))
    writer.add_block_count(int(c["num_hidden_layers"]))
    writer.add_feed_forward_length(int(c["intermediate_size"]))
    writer.add_head_count(int(heads))
    writer.add_head_count_kv(int(c.get("num_key_value_heads") or heads))
    writer.add_layer_norm_rms_eps(float(c.get("rms_norm_eps", 1e-6)))
    rope = c.get("rope_theta") or (c.get("rope_parameters") or {}).get("rope_theta") or 10000.0
    writer.add_rope_freq_base(float(rope))
    writer.add_rope_dimension_count(int(head_dim))
    writer.add_vocab_size(int(c["vocab_size"]))
    if arch == "gemma2":
        writer.add_key_length(int(head_dim))
        writer.add_value_length(int(head_dim))
        if c.get("attn_logit_softcapping"):
            writer.add_attn_logit_softcapping(float(c["attn_logit_softcapping"]))
        if c.get("final_logit_softcapping"):
            writer.add_final_logit_softcapping(float(c["final_logit_softcapping"]))
        if c.get("sliding_window"):
            writer.add_sliding_window(int(c["sliding_window"]))


def _pre_tokenizer(config: dict[str, Any], tokenizer_json: dict[str, Any]) -> str:
    """llama.cpp's `tokenizer.ggml.pre`: the pre-tokenizer regex family of a BPE vocabulary.

    llama.cpp picks it by hashing a tokenization; we read the tokenizer's own definition: a bare
    ByteLevel pre-tokenizer is GPT-2's regex; a Split regex is Llama 3's or Qwen2's by family."""
    pre = tokenizer_json.get("pre_tokenizer") or {}
    if pre.get("type") == "ByteLevel":
        return "gpt-2"
    return {"qwen2": "qwen2", "llama": "llama-bpe", "mistral": "llama-bpe"}.get(
        config.get("model_type", ""), "default")


def _vocab(model_dir: Path) -> Any:
    import gguf.vocab as gv

    for cls in (gv.BpeVocab, gv.LlamaHfVocab, gv.SentencePieceVocab):
        try:
            return cls(model_dir)
        except (FileNotFoundError, TypeError):
            continue
    raise InputError(f"{model_dir} has no tokenizer GGUF can carry (tokenizer.json or tokenizer.model)",
                     field="RUN", value=str(model_dir),
                     fix="save the tokenizer beside the model (ftwizard's runs do this in final/)")


def _tokenizer(writer: Any, model_dir: Path, config: dict[str, Any]) -> tuple[str | None, str | None]:
    """Tokens, scores, types, merges, special ids and the chat template. Returns (template, eos)."""
    import gguf
    import gguf.vocab as gv

    vocab = _vocab(model_dir)
    tokens, scores, types = [], [], []
    for text, score, toktype in vocab.all_tokens():
        tokens.append(text.decode("utf-8", "replace") if isinstance(text, bytes) else text)
        scores.append(score)
        types.append(toktype)
    n_vocab = int(config["vocab_size"])
    for i in range(len(tokens), n_vocab):      # embedding rows beyond the tokenizer (padding)
        tokens.append(f"[PAD{i}]")
        scores.append(-1000.0)
        types.append(gguf.TokenType.UNUSED)
    writer.add_tokenizer_model(vocab.tokenizer_model)
    tok_json_path = model_dir / "tokenizer.json"
    tok_json = json.loads(tok_json_path.read_text()) if tok_json_path.is_file() else {}
    if vocab.tokenizer_model == "gpt2":
        writer.add_tokenizer_pre(_pre_tokenizer(config, tok_json))
    writer.add_token_list(tokens[:n_vocab])
    writer.add_token_scores(scores[:n_vocab])
    writer.add_token_types(types[:n_vocab])
    special = gv.SpecialVocab(model_dir, load_merges=vocab.tokenizer_model == "gpt2", n_vocab=n_vocab)
    special.add_to_gguf(writer, quiet=True)
    eos_id = special.special_token_ids.get("eos")
    eos = tokens[eos_id] if isinstance(eos_id, int) and eos_id < len(tokens) else None
    template = special.chat_template if isinstance(special.chat_template, str) else None
    return template, eos


def _tensor_data(w: np.ndarray, quant: str, name: str) -> tuple[np.ndarray, Any]:
    """(data, raw_dtype) for add_tensor: 1-D tensors stay f32; rows that do not fill whole
    quantization blocks fall back to f16, as llama.cpp's converter does."""
    import gguf
    from gguf.quants import quantize

    qt = gguf.GGMLQuantizationType
    if quant == "f32" or w.ndim == 1:
        return w.astype(np.float32), None
    if quant == "f16":
        return w.astype(np.float16), None
    if quant == "bf16":
        return quantize(w.astype(np.float32), qt.BF16), qt.BF16
    target = getattr(qt, quant.upper())
    block = gguf.GGML_QUANT_SIZES[target][0]
    if w.shape[-1] % block:
        return w.astype(np.float16), None
    return quantize(w.astype(np.float32), target), target


def convert(model_dir: str | Path, out_path: str | Path, *, quant: str = "f16",
            name: str | None = None) -> GgufResult:
    """Write `model_dir` (a merged HF causal LM with its tokenizer) to one GGUF file."""
    import gguf

    quant = check_quant(quant)
    model_dir, out_path = Path(model_dir), Path(out_path)
    config = read_config(model_dir)
    arch = gguf_arch(config)
    arch_enum = next(k for k, v in gguf.MODEL_ARCH_NAMES.items() if v == arch)
    files = sorted(model_dir.glob("*.safetensors"))
    if not files:
        raise InputError(f"{model_dir} holds no .safetensors weights", field="RUN", value=str(model_dir),
                         fix="export a finished run (its final/ model is saved as safetensors)")
    out_path.parent.mkdir(parents=True, exist_ok=True)
    from ftwizard.core.export_plan import GGUF_BYTES_PER_WEIGHT, OVERHEAD, safetensors_params

    _check_disk(out_path.parent,
                int(safetensors_params(model_dir) * GGUF_BYTES_PER_WEIGHT[quant]) + OVERHEAD)
    tmp = out_path.with_name(out_path.name + ".partial")
    try:
        count, template, eos = _write(tmp, arch, arch_enum, config, model_dir, files, quant,
                                      name or model_dir.name)
        tmp.replace(out_path)
    except BaseException:
        tmp.unlink(missing_ok=True)      # never leave half a model behind
        raise
    return GgufResult(path=out_path, arch=arch, quant=quant, tensors=count,
                      bytes=out_path.stat().st_size, chat_template=template, eos_token=eos)


def _check_disk(folder: Path, need: int) -> None:
    import shutil

    free = shutil.disk_usage(folder).free
    if free < need:
        raise InputError(f"the GGUF needs ~{need / 1e9:.2f} GB and {folder} has {free / 1e9:.2f} GB free",
                         field="--out", value=str(folder),
                         fix="free some space, write elsewhere with -o PATH, or pick a smaller --quant")


def _write(tmp: Path, arch: str, arch_enum: Any, config: dict[str, Any], model_dir: Path,
           files: list[Path], quant: str, name: str) -> tuple[int, str | None, str | None]:
    import gguf
    from safetensors import safe_open

    n_layers = int(config["num_hidden_layers"])
    names = gguf.get_tensor_name_map(arch_enum, n_layers)
    writer = gguf.GGUFWriter(str(tmp), arch)
    writer.add_file_type(int(getattr(gguf.LlamaFileType, WRITABLE[quant])))
    writer.add_quantization_version(gguf.GGML_QUANT_VERSION)
    _metadata(writer, arch, config, name)
    template, eos = _tokenizer(writer, model_dir, config)
    tied = bool(config.get("tie_word_embeddings", False))
    count = 0
    for f in files:
        with safe_open(str(f), framework="pt") as st:
            for key in st.keys():
                if tied and key == "lm_head.weight":
                    continue
                base, _, suffix = key.rpartition(".")
                new = names.get_name(base)
                if new is None:
                    raise InputError(f"tensor {key!r} has no GGUF name for {arch}", field="RUN",
                                     value=key, fix="this checkpoint's layout is not one llama.cpp reads")
                w = st.get_tensor(key).float().numpy()
                w = _transform(arch, key, w, config)
                data, raw = _tensor_data(w, quant, key)
                writer.add_tensor(f"{new}.{suffix}", data, raw_dtype=raw)
                count += 1
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return count, template, eos


# ---------------------------------------------------------------------------- Ollama

# Ollama templates (Go text/template) for the chat formats a Jinja template can be recognised by.
# Ollama also reads a GGUF's own chat template when a Modelfile has none; these make the file
# explicit and reviewable.
OLLAMA_TEMPLATES = {
    "chatml": ("<|im_start|>", ["<|im_end|>", "<|im_start|>"],
               '{{- range .Messages }}<|im_start|>{{ .Role }}\n{{ .Content }}<|im_end|>\n'
               '{{ end }}<|im_start|>assistant\n'),
    "llama-3": ("<|start_header_id|>", ["<|eot_id|>", "<|start_header_id|>"],
                '{{- range .Messages }}<|start_header_id|>{{ .Role }}<|end_header_id|>\n\n'
                '{{ .Content }}<|eot_id|>{{ end }}<|start_header_id|>assistant<|end_header_id|>\n\n'),
    "gemma": ("<start_of_turn>", ["<end_of_turn>", "<start_of_turn>"],
              '{{- range .Messages }}<start_of_turn>{{ if eq .Role "assistant" }}model'
              '{{ else }}{{ .Role }}{{ end }}\n{{ .Content }}<end_of_turn>\n{{ end }}'
              '<start_of_turn>model\n'),
    "mistral": ("[INST]", ["[INST]", "[/INST]"],
                '{{- range .Messages }}{{ if eq .Role "user" }}[INST] {{ .Content }} [/INST]'
                '{{ else if eq .Role "assistant" }}{{ .Content }}</s>{{ end }}{{ end }}'),
}


def chat_family(template: str | None) -> str | None:
    for family, (marker, _, _) in OLLAMA_TEMPLATES.items():
        if template and marker in template:
            return family
    return None


def modelfile(gguf_name: str, result: GgufResult, *, num_ctx: int | None = None) -> str:
    """An Ollama Modelfile beside the GGUF: FROM, TEMPLATE and stop tokens for a recognised chat
    format (else Ollama's reading of the GGUF's own template), and the context length trained."""
    lines = ["# Written by `ftwizard export --format ollama`: `ollama create NAME -f Modelfile`",
             f"FROM ./{gguf_name}"]
    family = chat_family(result.chat_template)
    stops: list[str] = []
    if family:
        _, stops, template = OLLAMA_TEMPLATES[family]
        lines.append(f'TEMPLATE """{template}"""')
    elif result.chat_template:
        lines.append("# chat template: the one inside the GGUF (tokenizer.chat_template)")
    else:
        lines.append("# no chat template: a base model; prompts are continued as plain text")
    if result.eos_token and result.eos_token not in stops:
        stops = [result.eos_token, *stops]
    lines += [f'PARAMETER stop "{s}"' for s in stops]
    if num_ctx:
        lines.append(f"PARAMETER num_ctx {int(num_ctx)}")
    return "\n".join(lines) + "\n"
