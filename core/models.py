"""Model specs: the shapes and exact parameter counts the planner needs, without loading weights.

A model name is resolved offline only. It can be a tiny model (built here), a local folder with a
config.json, a snapshot in the local Hugging Face cache, or an id in the shipped catalog
(core/catalog/models.json). Nothing is ever downloaded: the planner must answer on an air-gapped
box and on every keypress of the wizard.

Counts are exact. For the architectures in SUPPORTED_TYPES they come from arithmetic on
config.json that mirrors transformers' modeling files (no torch; microseconds), and the tests
check them against the model transformers builds on the meta device. Any other architecture in
a local folder is read off a meta-device model instead (spec_from_meta: a few seconds, once).
"""

from __future__ import annotations

import builtins
import difflib
import functools
import json
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ftwizard.core.errors import InputError, did_you_mean

TINY_NAMES = ("tiny-llama", "tiny-gpt2", "tiny-qwen2")


def _hub_cache_dirs() -> list[Path]:
    """Where huggingface_hub keeps snapshots, in its own order of precedence (HF_HUB_CACHE, then
    HF_HOME/hub, then ~/.cache/huggingface/hub); read directly so that no hub client is imported."""
    dirs: list[Path] = []
    if os.environ.get("HF_HUB_CACHE"):
        dirs.append(Path(os.environ["HF_HUB_CACHE"]).expanduser())
    if os.environ.get("HUGGINGFACE_HUB_CACHE"):
        dirs.append(Path(os.environ["HUGGINGFACE_HUB_CACHE"]).expanduser())
    if os.environ.get("HF_HOME"):
        dirs.append(Path(os.environ["HF_HOME"]).expanduser() / "hub")
    xdg = os.environ.get("XDG_CACHE_HOME")
    if xdg:
        dirs.append(Path(xdg).expanduser() / "huggingface" / "hub")
    dirs.append(Path.home() / ".cache" / "huggingface" / "hub")
    seen: list[Path] = []
    for d in dirs:
        if d not in seen:
            seen.append(d)
    return seen


def cached_snapshot(repo_id: str) -> Path | None:
    """The snapshot folder of `repo_id` ("org/name") in the local HF cache, or None.

    Prefers the revision `refs/main` points at; otherwise the most recently modified snapshot
    that has a config.json (a partial download without one is useless to us).
    """
    if not repo_id or repo_id.startswith(("/", ".", "~")) or repo_id.count("/") > 1:
        return None
    folder = "models--" + repo_id.replace("/", "--")
    for cache in _hub_cache_dirs():
        repo = cache / folder
        snaps = repo / "snapshots"
        if not snaps.is_dir():
            continue
        ref = repo / "refs" / "main"
        if ref.is_file():
            rev = ref.read_text().strip()
            if (snaps / rev / "config.json").is_file():
                return snaps / rev
        found = [p for p in snaps.iterdir() if (p / "config.json").is_file()]
        if found:
            return max(found, key=lambda p: p.stat().st_mtime)
    return None


def local_path(name: str) -> Path | None:
    """The folder holding `name`'s config.json (and weights, if any), or None if there is none here.

    Order: a local folder, a tiny model (built on first use), the local Hugging Face cache.
    """
    if not name:
        return None
    p = Path(name).expanduser()
    if p.is_dir() and (p / "config.json").is_file():
        return p
    if name in TINY_NAMES:
        from ftwizard.core.tiny import ensure_tiny  # builds with torch the first time (~5 s)

        return ensure_tiny(name)
    return cached_snapshot(name)


# --------------------------------------------------------------------------------------------
# The spec


@dataclass(frozen=True)
class LinearShape:
    """One Linear (or GPT-2 Conv1D) of a decoder layer, named as PEFT's target_modules sees it.

    Names can repeat within a layer (GPT-2 has attn.c_proj and mlp.c_proj): PEFT matches on the
    last name component, so "c_proj" adapts both, and both are listed.
    """

    name: str
    d_in: int
    d_out: int
    bias: bool

    @property
    def params(self) -> int:
        return self.d_in * self.d_out + (self.d_out if self.bias else 0)


@dataclass(frozen=True)
class ModelSpec:
    """Everything the memory and time planners need to know about a model, as plain numbers.

    params == params_embedding + params_lm_head + n_layers * params_per_layer + params_other,
    exactly as transformers builds the model (tied weights once; buffers are not parameters).
    """

    id: str
    model_type: str
    architecture: str
    n_layers: int
    hidden: int
    n_heads: int
    n_kv_heads: int
    head_dim: int
    intermediate: int
    vocab: int
    max_positions: int
    tied_embeddings: bool
    mlp_gated: bool
    parallel_block: bool
    linears: tuple[LinearShape, ...]
    params: int
    params_embedding: int
    params_lm_head: int
    params_per_layer: int
    params_other: int
    source: str
    path: str | None
    attn_impl: str
    config: dict = field(compare=False, repr=False)
    params_token_embedding: int = 0  # the token table alone (position table excluded)

    def __post_init__(self) -> None:
        total = (self.params_embedding + self.params_lm_head
                 + self.n_layers * self.params_per_layer + self.params_other)
        assert total == self.params, (self.id, total, self.params)

    @property
    def linear_params_per_layer(self) -> int:
        return sum(lin.params for lin in self.linears)

    @property
    def largest_layer_params(self) -> int:
        """The largest single module's own parameters (DeepSpeed's `largest_layer_params`, the
        unit ZeRO-3 gathers whole): usually the token embedding or the untied output head."""
        emb = self.params_token_embedding or self.params_embedding
        return max(emb, self.params_lm_head, max((lin.params for lin in self.linears), default=0))

    @property
    def linear_names(self) -> list[str]:
        """Distinct module names of the decoder layer's Linears, in layer order."""
        return list(dict.fromkeys(lin.name for lin in self.linears))

    def lora_linears(self, target_modules: str | list[str]) -> tuple[LinearShape, ...]:
        """The Linears of one decoder layer that LoRA would adapt for `target_modules`.

        "all-linear" is PEFT's shorthand: every Linear/Conv1D except the output head. A string
        other than that may name one module or several separated by commas; dotted names
        ("self_attn.q_proj") match on their last component, as PEFT's suffix match does.
        """
        if isinstance(target_modules, str):
            if target_modules.strip().lower() in ("all-linear", "all_linear"):
                return self.linears
            wanted = [t.strip() for t in target_modules.split(",") if t.strip()]
        else:
            wanted = [str(t).strip() for t in target_modules]
        names = self.linear_names
        leaf = [w.rsplit(".", 1)[-1] for w in wanted]
        unknown = [w for w, lf in zip(wanted, leaf) if lf not in names]
        if unknown or not wanted:
            hints = [h for h in (did_you_mean(u, names) for u in unknown) if h]
            fix = f"use \"all-linear\" or some of: {', '.join(names)}"
            if hints:
                fix = f"did you mean {', '.join(hints)}? Otherwise {fix}"
            raise InputError(
                f"{', '.join(unknown) or '(empty)'} is not a Linear layer of {self.id} "
                f"({self.model_type})", field="method.lora.target_modules",
                value=target_modules, fix=fix)
        return tuple(lin for lin in self.linears if lin.name in leaf)

    def lora_params(self, r: int, target_modules: str | list[str]) -> int:
        """Trainable LoRA parameters: r*(d_in+d_out) per adapted Linear, over all layers."""
        per_layer = sum(r * (lin.d_in + lin.d_out) for lin in self.lora_linears(target_modules))
        return per_layer * self.n_layers


# --------------------------------------------------------------------------------------------
# Analytic counts from config.json (no torch). Each family mirrors its transformers modeling file.

def _need(c: dict, *keys: str, default: Any = ...) -> Any:
    for k in keys:
        if c.get(k) is not None:
            return c[k]
    if default is not ...:
        return default
    raise InputError(f"config.json has no {' / '.join(keys)}", field="model.name",
                     value=c.get("_name_or_path"), fix="give the model's full config.json")


# model_type -> family handled below
LLAMA_LIKE = {"llama", "mistral", "qwen2", "qwen3", "gemma", "gemma2", "gemma3_text"}
SUPPORTED_TYPES = sorted(LLAMA_LIKE | {"gpt2", "gptj", "gpt_neox", "phi", "phi3", "gemma3"})
# transformers' default for tie_word_embeddings when config.json does not say
_TIE_DEFAULT = {"gpt2": True, "gemma": True, "gemma2": True, "gemma3_text": True}
# Gemma 3 4B/12B/27B ship a sparse config.json (text_config names only what differs): these are
# transformers 5.24's Gemma3TextConfig / SiglipVisionConfig defaults that fill the rest
_GEMMA3_TEXT_DEFAULTS = {"vocab_size": 262208, "hidden_size": 2304, "intermediate_size": 9216,
                         "num_hidden_layers": 26, "num_attention_heads": 8,
                         "num_key_value_heads": 4, "head_dim": 256,
                         "max_position_embeddings": 131072, "attention_bias": False}
_SIGLIP_DEFAULTS = {"hidden_size": 768, "intermediate_size": 3072, "num_hidden_layers": 12,
                    "num_channels": 3, "image_size": 224, "patch_size": 16}


def _gemma3_layout(c: dict) -> dict[str, Any]:
    """Gemma3ForConditionalGeneration, what AutoModelForCausalLM builds for model_type gemma3 in
    transformers 5.24 (and what fine-tuning loads): the gemma3_text decoder plus the SigLIP vision
    tower and the multimodal projector. Those two are counted in params_other (weights, grads and
    optimizer states of full fine-tuning include them); the decoder layers alone are `linears`."""
    text = {**_GEMMA3_TEXT_DEFAULTS, **(c.get("text_config") or {}), "model_type": "gemma3_text"}
    text["tie_word_embeddings"] = c.get("tie_word_embeddings",
                                        text.get("tie_word_embeddings", True))
    v = {**_SIGLIP_DEFAULTS, **(c.get("vision_config") or {})}
    if v.get("vision_use_head", True):  # Gemma 3 never has one; the MAP head has no shape here
        raise InputError("a Gemma 3 vision_config with vision_use_head has no analytic shape in "
                         "ftwizard", field="model.name", value=c.get("_name_or_path"),
                         fix="set vision_use_head: false (as Gemma 3 ships) or give a local "
                             "folder with the model's own config.json")
    vh, vi, p = v["hidden_size"], v["intermediate_size"], v["patch_size"]
    embeddings = vh * v["num_channels"] * p * p + vh + (v["image_size"] // p) ** 2 * vh
    layer = 2 * 2 * vh + 4 * (vh * vh + vh) + (vh * vi + vi) + (vi * vh + vh)  # 2 LayerNorms
    vision = embeddings + v["num_hidden_layers"] * layer + 2 * vh  # + post_layernorm
    lay = _layout(text)
    projector = vh * lay["h"] + vh  # mm_input_projection_weight + mm_soft_emb_norm
    return dict(lay, final=lay["final"] + vision + projector)


def _layout(c: dict) -> dict[str, Any]:
    mt = c.get("model_type")
    if mt == "gemma3":
        return _gemma3_layout(c)
    tied = bool(c.get("tie_word_embeddings", _TIE_DEFAULT.get(mt, False)))
    if mt in ("gpt2", "gptj"):
        h = _need(c, "n_embd", "hidden_size")
        heads = _need(c, "n_head", "num_attention_heads")
        layers = _need(c, "n_layer", "num_hidden_layers")
        inter = _need(c, "n_inner", default=4 * h)
        V = _need(c, "vocab_size")
        # transformers' defaults when absent; only GPT-2's position table has parameters
        P = _need(c, "n_positions", "max_position_embeddings",
                  default=1024 if mt == "gpt2" else 2048)
        d = dict(h=h, heads=heads, kv=heads, hd=h // heads, inter=inter, V=V, P=P,
                 layers=layers, gated=False, final=2 * h)
        if mt == "gpt2":
            lin = [("c_attn", h, 3 * h, True), ("c_proj", h, h, True),
                   ("c_fc", h, inter, True), ("c_proj", inter, h, True)]
            return dict(d, linears=lin, norms=4 * h, emb=V * h + P * h, tok=V * h,
                        head=0 if tied else V * h, parallel=False, tied=tied)
        lin = [("q_proj", h, h, False), ("k_proj", h, h, False), ("v_proj", h, h, False),
               ("out_proj", h, h, False), ("fc_in", h, inter, True), ("fc_out", inter, h, True)]
        # GPT-J's lm_head has a bias; tying shares only the weight
        return dict(d, linears=lin, norms=2 * h, emb=V * h, tok=V * h,
                    head=V if tied else V * h + V, parallel=True, tied=tied)
    h = _need(c, "hidden_size")
    heads = _need(c, "num_attention_heads")
    kv = _need(c, "num_key_value_heads", default=heads)
    hd = _need(c, "head_dim", default=h // heads)
    layers = _need(c, "num_hidden_layers")
    inter = _need(c, "intermediate_size")
    V = _need(c, "vocab_size")
    P = _need(c, "max_position_embeddings", default=0)
    base = dict(h=h, heads=heads, kv=kv, hd=hd, inter=inter, V=V, P=P, layers=layers,
                emb=V * h, tok=V * h, tied=tied)
    if mt == "gpt_neox":
        ab = bool(c.get("attention_bias", True))
        lin = [("query_key_value", h, 3 * h, ab), ("dense", h, h, ab),
               ("dense_h_to_4h", h, inter, True), ("dense_4h_to_h", inter, h, True)]
        return dict(base, kv=heads, hd=h // heads, linears=lin, norms=4 * h, final=2 * h,
                    head=0 if tied else V * h, gated=False,
                    parallel=bool(c.get("use_parallel_residual", True)))
    if mt == "phi":
        hd = h // heads
        lin = [("q_proj", h, heads * hd, True), ("k_proj", h, kv * hd, True),
               ("v_proj", h, kv * hd, True), ("dense", heads * hd, h, True),
               ("fc1", h, inter, True), ("fc2", inter, h, True)]
        norms = 2 * h + (4 * hd if c.get("qk_layernorm") else 0)
        return dict(base, hd=hd, linears=lin, norms=norms, final=2 * h,
                    head=V if tied else V * h + V, gated=False, parallel=True)
    if mt == "phi3":
        # Phi-3/Phi-4: Llama's blocks with q/k/v fused into qkv_proj and gate/up into
        # gate_up_proj (that is what PEFT's target_modules sees); no biases
        lin = [("qkv_proj", h, (heads + 2 * kv) * hd, False), ("o_proj", heads * hd, h, False),
               ("gate_up_proj", h, 2 * inter, False), ("down_proj", inter, h, False)]
        return dict(base, linears=lin, norms=2 * h, final=h, head=0 if tied else V * h,
                    gated=True, parallel=False)
    if mt in LLAMA_LIKE:
        if mt == "qwen2":
            qkv_b, o_b = True, False
        elif mt == "mistral":
            qkv_b = o_b = False
        else:
            qkv_b = o_b = bool(c.get("attention_bias", False))
        mlp_b = bool(c.get("mlp_bias", False)) if mt == "llama" else False
        lin = [("q_proj", h, heads * hd, qkv_b), ("k_proj", h, kv * hd, qkv_b),
               ("v_proj", h, kv * hd, qkv_b), ("o_proj", heads * hd, h, o_b),
               ("gate_proj", h, inter, mlp_b), ("up_proj", h, inter, mlp_b),
               ("down_proj", inter, h, mlp_b)]
        # gemma2/3 norm before and after both attention and MLP; qwen3 and gemma3 add per-head
        # q/k RMSNorms (one head_dim vector each, shared across heads)
        norms = {"gemma2": 4 * h, "gemma3_text": 4 * h + 2 * hd,
                 "qwen3": 2 * h + 2 * hd}.get(mt, 2 * h)
        return dict(base, linears=lin, norms=norms, final=h, head=0 if tied else V * h,
                    gated=True, parallel=False)
    raise InputError(
        f"model_type {mt!r} has no analytic shape in ftwizard", field="model.name",
        value=mt, fix=f"supported model types: {', '.join(SUPPORTED_TYPES)}")


def spec_from_config(config: dict, *, id: str, source: str, path: str | None = None,
                     attn_impl: str | None = None) -> ModelSpec:
    """The ModelSpec of `config` by arithmetic alone (no torch): microseconds, and equal to the
    meta-device count for every catalog model (tests/unit/test_models.py checks each one)."""
    lay = _layout(config)
    linears = tuple(LinearShape(n, i, o, b) for n, i, o, b in lay["linears"])
    per_layer = sum(lin.params for lin in linears) + lay["norms"]
    params = lay["emb"] + lay["head"] + lay["layers"] * per_layer + lay["final"]
    arch = (config.get("architectures") or [""])[0] or _DEFAULT_ARCH.get(config["model_type"], "")
    if attn_impl is None:
        attn_impl = "eager" if arch in _NO_SDPA else "sdpa"
    return ModelSpec(
        id=id, model_type=config["model_type"], architecture=arch, n_layers=lay["layers"],
        hidden=lay["h"], n_heads=lay["heads"], n_kv_heads=lay["kv"], head_dim=lay["hd"],
        intermediate=lay["inter"], vocab=lay["V"], max_positions=lay["P"],
        tied_embeddings=lay["tied"], mlp_gated=lay["gated"], parallel_block=lay["parallel"],
        linears=linears, params=params, params_embedding=lay["emb"],
        params_lm_head=lay["head"], params_per_layer=per_layer, params_other=lay["final"],
        source=source, path=path, attn_impl=attn_impl, config=config,
        params_token_embedding=lay["tok"])


_DEFAULT_ARCH = {"gpt2": "GPT2LMHeadModel", "gptj": "GPTJForCausalLM",
                 "gpt_neox": "GPTNeoXForCausalLM", "llama": "LlamaForCausalLM",
                 "mistral": "MistralForCausalLM", "qwen2": "Qwen2ForCausalLM",
                 "qwen3": "Qwen3ForCausalLM", "phi": "PhiForCausalLM",
                 "gemma": "GemmaForCausalLM", "gemma2": "Gemma2ForCausalLM",
                 "gemma3_text": "Gemma3ForCausalLM", "phi3": "Phi3ForCausalLM",
                 "gemma3": "Gemma3ForConditionalGeneration"}
# Classes whose `_supports_sdpa` is False in transformers 5.24 (the version constraints.txt pins;
# scripts/build_model_catalog.py stores the value per catalog model): they run eager. 5.23 also
# ran GPT-J eager; a run config's model.attn_implementation pins the choice whatever is installed.
_NO_SDPA = {"Gemma2ForCausalLM", "BloomForCausalLM", "GPTNeoForCausalLM"}


def count_parameters_meta(config: dict, *, trust_remote_code: bool = False) -> int:
    """Unique parameters of the model transformers builds from `config`, on the meta device.

    The ground truth the analytic count is tested against; takes ~3 s for the imports, then
    well under a second per model, and no memory.
    """
    model = _build_meta(config, trust_remote_code=trust_remote_code)
    return sum(p.numel() for p in model.parameters())  # parameters() yields shared tensors once


def _build_meta(config: dict, *, trust_remote_code: bool = False) -> Any:
    import torch  # ~1 s
    from transformers import AutoConfig, AutoModelForCausalLM  # ~2 s

    cfg = {k: v for k, v in config.items() if not k.startswith("_")}
    model_type = cfg.pop("model_type")
    arch = cfg.pop("architectures", None)
    hf_cfg = AutoConfig.for_model(model_type, **cfg)
    hf_cfg.architectures = arch
    with torch.device("meta"):
        return AutoModelForCausalLM.from_config(hf_cfg, trust_remote_code=trust_remote_code)


# --------------------------------------------------------------------------------------------
# The catalog and name resolution

CATALOG_PATH = Path(__file__).resolve().parent / "catalog" / "models.json"


@functools.cache
def _catalog() -> dict[str, dict[str, Any]]:
    return json.loads(CATALOG_PATH.read_text())["models"]


@functools.cache
def _name_index() -> dict[str, str]:
    """Lower-cased id, id without org and alias -> catalog id."""
    index: dict[str, str] = {}
    for mid, entry in _catalog().items():
        for key in [mid, mid.rsplit("/", 1)[-1], *entry.get("aliases", [])]:
            index.setdefault(key.lower(), mid)
    return index


def catalog_ids() -> list[str]:
    return list(_catalog())


def catalog_id(name: str) -> str | None:
    """The catalog id `name` stands for (case-insensitive; short aliases too), or None."""
    return _name_index().get(name.strip().lower())


def search(query: str, limit: int = 20) -> list[str]:
    """Catalog ids for the wizard's model picker: substring matches first (on ids and aliases,
    ignoring case and punctuation), then close fuzzy matches."""
    q = query.strip().lower()
    ids = catalog_ids()
    if not q:
        return ids[:limit]

    def norm(s: str) -> str:
        return re.sub(r"[^a-z0-9.]", "", s.lower())

    nq = norm(q)
    hits: list[str] = []
    for key, mid in _name_index().items():
        if (q in key or (nq and nq in norm(key))) and mid not in hits:
            hits.append(mid)
    hits.sort(key=lambda m: (not m.lower().startswith(q), ids.index(m)))
    if len(hits) < limit:
        for key in difflib.get_close_matches(q, list(_name_index()), n=limit, cutoff=0.5):
            mid = _name_index()[key]
            if mid not in hits:
                hits.append(mid)
    return hits[:limit]


@functools.cache
def _catalog_spec(mid: str) -> ModelSpec:
    entry = _catalog()[mid]
    spec = spec_from_config(entry["config"], id=mid, source="catalog",
                            attn_impl=entry.get("attn_impl"))
    # The JSON stores the meta-device count; a disagreement would be a bug in _layout.
    assert spec.params == entry["parameters"], (mid, spec.params, entry["parameters"])
    return spec


def _read_config(folder: Path) -> dict[str, Any]:
    try:
        return json.loads((folder / "config.json").read_text())
    except (OSError, ValueError) as e:
        raise InputError(f"cannot read {folder / 'config.json'}: {e}", field="model.name",
                         value=str(folder), fix="point model.name at a folder whose "
                         "config.json is the model's transformers config") from e


def resolve(name: str, *, trust_remote_code: bool = False) -> ModelSpec:
    """The ModelSpec for a model name, offline: local folder, tiny model, catalog id, HF cache.

    Catalog ids come first after local folders (no disk look-up; cached), so the wizard can call
    this on every keypress. Nothing is downloaded, ever.
    """
    name = (name or "").strip()
    p = Path(name).expanduser()
    if name and p.is_dir() and (p / "config.json").is_file():
        return _spec_from_folder(p, id=name, source="local", trust_remote_code=trust_remote_code)
    if name in TINY_NAMES:
        folder = local_path(name)
        assert folder is not None
        return _spec_from_folder(folder, id=name, source="tiny", trust_remote_code=False)
    mid = catalog_id(name) if name else None
    if mid is not None:
        return _catalog_spec(mid)
    snap = cached_snapshot(name)
    if snap is not None:
        return _spec_from_folder(snap, id=name, source="cache",
                                 trust_remote_code=trust_remote_code)
    raise _unknown(name)


def _spec_from_folder(folder: Path, *, id: str, source: str,
                      trust_remote_code: bool) -> ModelSpec:
    config = _read_config(folder)
    mt = config.get("model_type")
    if mt in SUPPORTED_TYPES:
        return spec_from_config(config, id=id, source=source, path=str(folder))
    if config.get("auto_map") and not trust_remote_code:
        raise InputError(
            f"{folder} holds a model with its own modelling code (model_type {mt!r})",
            field="model.trust_remote_code", value=False,
            fix="set model.trust_remote_code: true if you trust its author, or pick a "
                f"supported architecture ({', '.join(SUPPORTED_TYPES)})")
    return _cached_meta_spec(str(folder), id, source, trust_remote_code)


@functools.cache
def _cached_meta_spec(folder: str, id: str, source: str, trust_remote_code: bool) -> ModelSpec:
    return spec_from_meta(Path(folder), id=id, source=source,
                          trust_remote_code=trust_remote_code)


def spec_from_meta(folder: Path, *, id: str, source: str,
                   trust_remote_code: bool = False) -> ModelSpec:
    """The ModelSpec of an architecture with no analytic shape here, read off the meta model.

    Slow (imports torch and transformers, ~3 s) but exact on the counts: the fallback for local
    folders of other architectures (Falcon, Mixtral, remote code...). Only nn.Linear / Conv1D
    modules are listed in `linears`; fused MoE expert tensors count in params_per_layer only.
    """
    import torch  # ~1 s
    from transformers import AutoConfig, AutoModelForCausalLM  # ~2 s
    from transformers.pytorch_utils import Conv1D

    config = _read_config(folder)
    try:
        hf_cfg = AutoConfig.from_pretrained(folder, trust_remote_code=trust_remote_code)
        with torch.device("meta"):
            model = AutoModelForCausalLM.from_config(hf_cfg, trust_remote_code=trust_remote_code)
    except Exception as e:  # any failure here is the config's, and the user must see which
        raise InputError(f"transformers cannot build {folder / 'config.json'}: {e}",
                         field="model.name", value=id,
                         fix="check the config, or use a supported model type: "
                             f"{', '.join(SUPPORTED_TYPES)}") from e
    seen: set[int] = set()  # tied tensors are counted where first met (the embedding)

    def count(params: Any) -> int:
        n = 0
        for prm in params:
            if builtins.id(prm) not in seen:  # `id` is the spec's id in this scope
                seen.add(builtins.id(prm))
                n += prm.numel()
        return n

    base = model.get_decoder() if hasattr(model, "get_decoder") else model
    layers = max((m for m in base.children() if isinstance(m, torch.nn.ModuleList)), key=len,
                 default=None)
    if not layers:
        raise InputError(f"cannot find the decoder layers of {folder}", field="model.name",
                         value=id, fix=f"use a supported model type: {', '.join(SUPPORTED_TYPES)}")
    total = sum(p.numel() for p in model.parameters())
    emb_mod = model.get_input_embeddings()
    tok = count(emb_mod.parameters())
    pos = sum(count(m.parameters()) for m in model.modules()
              if isinstance(m, torch.nn.Embedding) and m is not emb_mod
              and not any(m is x for x in layers.modules()))
    out = model.get_output_embeddings()
    head = count(out.parameters()) if out is not None else 0
    in_layers = count(layers.parameters())
    n = len(layers)
    per_layer = in_layers // n
    other = total - tok - pos - head - n * per_layer
    linears = []
    for name, mod in layers[0].named_modules():
        leaf = name.rsplit(".", 1)[-1]
        if isinstance(mod, torch.nn.Linear):
            linears.append(LinearShape(leaf, mod.in_features, mod.out_features,
                                       mod.bias is not None))
        elif isinstance(mod, Conv1D):
            linears.append(LinearShape(leaf, mod.weight.shape[0], mod.weight.shape[1],
                                       mod.bias is not None))
    h = int(getattr(hf_cfg, "hidden_size", 0) or emb_mod.weight.shape[1])
    heads = int(getattr(hf_cfg, "num_attention_heads", 0) or 1)
    kv = int(getattr(hf_cfg, "num_key_value_heads", None) or heads)
    names = " ".join(lin.name for lin in linears)
    return ModelSpec(
        id=id, model_type=str(hf_cfg.model_type), architecture=type(model).__name__,
        n_layers=n, hidden=h, n_heads=heads, n_kv_heads=kv,
        head_dim=int(getattr(hf_cfg, "head_dim", None) or h // heads),
        intermediate=int(getattr(hf_cfg, "intermediate_size", None) or 4 * h),
        vocab=int(emb_mod.weight.shape[0]),
        max_positions=int(getattr(hf_cfg, "max_position_embeddings", 0) or 0),
        tied_embeddings=out is not None and head == 0, mlp_gated="gate" in names,
        parallel_block=bool(getattr(hf_cfg, "parallel_attn", False)
                            or getattr(hf_cfg, "use_parallel_residual", False)),
        linears=tuple(linears), params=total, params_embedding=tok + pos, params_lm_head=head,
        params_per_layer=per_layer, params_other=other, source=source, path=str(folder),
        attn_impl=str(model.config._attn_implementation), config=config,
        params_token_embedding=tok)


def _unknown(name: str) -> InputError:
    close = difflib.get_close_matches(name.lower(), list(_name_index()), n=3, cutoff=0.5)
    close_ids = list(dict.fromkeys(_name_index()[c] for c in close))
    looks_like_path = name.startswith(("/", ".", "~")) or os.sep in name and not re.fullmatch(
        r"[\w.-]+/[\w.-]+", name)
    if looks_like_path:
        what = f"{name} is not a folder with a config.json"
    else:
        what = f"{name!r} is not in ftwizard's catalog nor in the local Hugging Face cache"
    fix = f"did you mean {', '.join(close_ids)}? Otherwise give" if close_ids else "give"
    fix += (" a local folder that holds the model's config.json (model.name: ./models/my-model),"
            " or a hub id in the local Hugging Face cache (HF_HUB_CACHE). To plan a hub id,"
            f" fetch its 1 KB config.json: `ftwizard models pull {name or 'ORG/NAME'} --config-only`;"
            f" to train it, `ftwizard models pull {name or 'ORG/NAME'}`. `ftwizard plan --help`"
            " lists the catalog")
    return InputError(what + " (ftwizard downloads only when asked)", field="model.name",
                      value=name, fix=fix)
