"""GGUF export, judged by an independent reader: transformers loads the written file (its GGUF
reader undoes llama.cpp's per-architecture transforms: Llama's rotary permutation, Gemma's 1 + w
norms) and must give the source model's logits and token ids.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from backend_kit import config, finished, make_run, train, write_data

pytestmark = pytest.mark.e2e
SAMPLE = "the cat jumps over the big red dog"


def _family(tmp_path: Path, family: str, tiny_llama: Path, tiny_qwen2: Path) -> Path:
    """A tiny model of `family` with random weights (Mistral and Gemma 2 are built here with the
    tiny Llama's tokenizer, so every family is covered without a download)."""
    if family == "llama":
        return tiny_llama
    if family == "qwen2":
        return tiny_qwen2
    import torch
    from transformers import AutoModelForCausalLM, Gemma2Config, MistralConfig

    common = dict(vocab_size=384, hidden_size=64, intermediate_size=128, num_hidden_layers=2,
                  num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=256,
                  bos_token_id=0, eos_token_id=1, pad_token_id=1)
    conf = (MistralConfig(**common, sliding_window=None) if family == "mistral"
            else Gemma2Config(**common, head_dim=256, sliding_window=64, query_pre_attn_scalar=256))
    # head_dim = query_pre_attn_scalar as in Gemma-2 2B/9B: llama.cpp scales by 1/sqrt(head_dim),
    # and transformers' GGUF reader assumes 256 (it reads no scalar from the file)
    torch.manual_seed(0)
    model = AutoModelForCausalLM.from_config(conf)
    if family == "gemma2":
        with torch.no_grad():   # random norms, so a missing 1 + w transform cannot hide
            for n, p in model.named_parameters():
                if n.endswith("norm.weight"):
                    p.uniform_(-0.5, 0.5)
    out = tmp_path / family
    model.save_pretrained(out)
    for f in tiny_llama.iterdir():
        if f.name.startswith(("tokenizer", "special_tokens")):
            shutil.copy(f, out / f.name)
    return out


def _logits_and_ids(folder: Path, gguf_file: str | None = None):  # noqa: ANN202
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    kw = {"gguf_file": gguf_file} if gguf_file else {}
    tok = AutoTokenizer.from_pretrained(folder, **kw)
    model = AutoModelForCausalLM.from_pretrained(folder, dtype=torch.float32, **kw)
    ids = tok(SAMPLE)["input_ids"]
    with torch.no_grad():
        return model(torch.tensor([ids])).logits, ids


@pytest.mark.parametrize("family,arch", [("llama", "llama"), ("mistral", "llama"),
                                         ("qwen2", "qwen2"), ("gemma2", "gemma2")])
def test_each_family_reads_back_with_the_same_logits(tmp_path, tiny_llama, tiny_qwen2, family, arch):
    from ftwizard.core.backends.gguf_export import convert

    src = _family(tmp_path, family, tiny_llama, tiny_qwen2)
    want, want_ids = _logits_and_ids(src)
    for quant, tol in (("f32", 1e-4), ("bf16", 0.05), ("q8_0", 0.05)):
        out = tmp_path / "gguf" / f"{family}-{quant}.gguf"
        # general.name "tiny": transformers' reader takes a name containing "mistral" for a model
        # type of its own, which gguf-py does not know (llama.cpp writes Mistral as arch llama)
        res = convert(src, out, quant=quant, name="tiny")
        assert res.arch == arch and out.is_file() and not out.with_name(out.name + ".partial").exists()
        got, ids = _logits_and_ids(out.parent, out.name)
        assert ids == want_ids, quant
        assert (got - want).abs().max().item() < tol, (quant, (got - want).abs().max().item())


def test_q8_0_is_smaller_than_f16_and_records_its_type(tmp_path, tiny_llama):
    import gguf

    from ftwizard.core.backends.gguf_export import convert

    f16 = convert(tiny_llama, tmp_path / "m-f16.gguf", quant="f16")
    q8 = convert(tiny_llama, tmp_path / "m-q8_0.gguf", quant="q8_0")
    assert q8.bytes < f16.bytes
    reader = gguf.GGUFReader(str(q8.path))
    ftype = reader.fields["general.file_type"]
    assert int(ftype.parts[ftype.data[0]][0]) == int(gguf.LlamaFileType.MOSTLY_Q8_0)
    kinds = {t.name: t.tensor_type.name for t in reader.tensors}
    assert kinds["blk.0.attn_q.weight"] == "Q8_0" and kinds["output_norm.weight"] == "F32"
    tmpl = reader.fields["tokenizer.chat_template"]
    assert bytes(tmpl.parts[tmpl.data[0]]).decode() == json.loads(
        (tiny_llama / "tokenizer_config.json").read_text()).get("chat_template", "")


def _cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "ftwizard", *args], capture_output=True,
                          text=True, timeout=600)


def _field(reader, key: str):  # noqa: ANN202
    f = reader.fields[key]
    if len(f.data) == 1:
        v = f.parts[f.data[0]]
        return bytes(v).decode() if v.dtype.kind == "u" and v.dtype.itemsize == 1 else v[0].item()
    return [bytes(f.parts[i]).decode() for i in f.data]


def test_lora_run_exports_to_gguf_and_ollama(tmp_path, tiny_llama):
    """A real tiny Llama LoRA run -> `ftwizard export --format gguf` (f16) and `--format ollama`
    (q8_0): the adapter is merged first; gguf's own reader finds the tensors, shapes, metadata and
    tokenizer; transformers loads each file with the merged model's logits (f16 within 2e-3, q8_0
    within 0.05; these random tiny weights' logits are about 0.3 in size); q4_k_m is refused
    (exit 2, the llama-quantize line) before anything is written."""
    import gguf

    data = write_data(tmp_path / "data", n=64)
    cfg = config(tiny_llama, data, method={"kind": "lora", "lora": {"r": 8, "alpha": 16,
                                                                     "dropout": 0.0}},
                 train={"max_steps": 3, "micro_batch": 8, "lr": 1e-2}, data={"block_size": 32})
    run = make_run(tmp_path / "run", cfg)
    finished(run, train(run))
    refused = _cli("export", str(run), "--format", "gguf", "--quant", "q4_k_m")
    assert refused.returncode == 2, refused.stderr
    assert "llama-quantize" in refused.stderr + refused.stdout and "Traceback" not in refused.stderr
    assert not (run / "export").exists() and not (run / "final" / "merged").exists()

    res = _cli("export", str(run), "--format", "gguf", "--quant", "f16")
    assert res.returncode == 0, res.stderr
    f16 = run / "export" / "run-f16.gguf"
    reader = gguf.GGUFReader(str(f16))
    conf = json.loads((run / "final" / "merged" / "config.json").read_text())
    shapes = {t.name: [int(x) for x in t.shape] for t in reader.tensors}
    h, layers = conf["hidden_size"], conf["num_hidden_layers"]
    assert shapes["token_embd.weight"] == [h, conf["vocab_size"]]       # ggml lists dims inner-first
    assert shapes[f"blk.{layers - 1}.ffn_down.weight"] == [conf["intermediate_size"], h]
    assert _field(reader, "general.architecture") == "llama"
    assert _field(reader, "llama.block_count") == layers
    assert len(_field(reader, "tokenizer.ggml.tokens")) == conf["vocab_size"]
    assert _field(reader, "tokenizer.ggml.model") == "gpt2"
    want, want_ids = _logits_and_ids(run / "final" / "merged")
    got, ids = _logits_and_ids(f16.parent, f16.name)
    assert ids == want_ids and (got - want).abs().max().item() < 2e-3

    res = _cli("export", str(run), "--format", "ollama", "--quant", "q8_0")
    assert res.returncode == 0, res.stderr
    modelfile = (run / "export" / "Modelfile").read_text()
    assert "FROM ./run-q8_0.gguf" in modelfile and "PARAMETER num_ctx 32" in modelfile
    assert 'PARAMETER stop "' in modelfile
    got, ids = _logits_and_ids(run / "export", "run-q8_0.gguf")
    assert ids == want_ids and (got - want).abs().max().item() < 0.05
    assert not list((run / "export").glob("*.partial"))


@pytest.mark.parametrize("family", ["llama", "mistral", "qwen2", "gemma2"])
def test_llama_cpp_loads_tokenizes_and_generates(tmp_path, tiny_llama, tiny_qwen2, family):
    """llama.cpp itself (llama-cpp-python, where it could be built: it compiles llama.cpp, so it
    is not in the dev extra) reads the file: the same token ids as the model's tokenizer, logits
    equal to transformers' within 1e-3 at f32, and it generates."""
    llama_cpp = pytest.importorskip("llama_cpp")
    import numpy as np
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from ftwizard.core.backends.gguf_export import convert

    src = _family(tmp_path, family, tiny_llama, tiny_qwen2)
    out = convert(src, tmp_path / f"{family}.gguf", quant="f32", name="tiny").path
    tok = AutoTokenizer.from_pretrained(src)
    ids = tok(SAMPLE, add_special_tokens=False)["input_ids"]
    llm = llama_cpp.Llama(model_path=str(out), logits_all=True, verbose=False, n_ctx=64)
    try:
        assert llm.tokenize(SAMPLE.encode(), add_bos=False, special=False) == ids
        llm.reset()
        llm.eval(ids)
        got = np.array(llm.scores[:len(ids)])
        with torch.no_grad():
            want = AutoModelForCausalLM.from_pretrained(src, dtype=torch.float32)(
                torch.tensor([ids])).logits[0].numpy()
        assert np.abs(got - want).max() < 1e-3
        text = llm("the cat", max_tokens=4, temperature=0)["choices"][0]["text"]
        assert isinstance(text, str) and text
    finally:
        llm.close()
