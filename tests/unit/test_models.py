"""Model specs: exact counts (analytic == meta device == published), resolution, LoRA sizes."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from ftwizard.core.errors import InputError
from ftwizard.core.models import (
    _build_meta,
    _catalog,
    catalog_ids,
    count_parameters_meta,
    local_path,
    resolve,
    search,
    spec_from_config,
)

CALIBRATION = {  # ../shared/calibration/README.md
    "gpt2": 124_439_808,
    "gpt2-xl": 1_557_611_200,
    "EleutherAI/gpt-j-6B": 6_050_882_784,
    "meta-llama/Llama-2-7b-hf": 6_738_415_616,
}


@pytest.mark.parametrize("mid,count", CALIBRATION.items())
def test_calibration_counts(mid: str, count: int) -> None:
    assert resolve(mid).params == count


def _meta_layer_linears(model) -> list[tuple[str, int, int, bool]]:
    """(name, d_in, d_out, bias) of every Linear/Conv1D in the first decoder layer."""
    import torch
    from transformers.pytorch_utils import Conv1D

    layers = max((m for m in model.modules() if isinstance(m, torch.nn.ModuleList)), key=len)
    out = []
    for name, mod in layers[0].named_modules():
        if isinstance(mod, torch.nn.Linear):
            out.append((name.rsplit(".", 1)[-1], mod.in_features, mod.out_features,
                        mod.bias is not None))
        elif isinstance(mod, Conv1D):
            d_in, d_out = mod.weight.shape
            out.append((name.rsplit(".", 1)[-1], d_in, d_out, mod.bias is not None))
    return out


def _largest_module(model) -> int:
    """DeepSpeed's largest_layer_params: the largest parameters(recurse=False) sum."""
    return max(sum(p.numel() for p in m.parameters(recurse=False)) for m in model.modules())


@pytest.mark.parametrize("mid", sorted(_catalog()))
def test_analytic_spec_equals_meta_device(mid: str) -> None:
    """The no-torch arithmetic must agree with the model transformers really builds: total,
    the stored count, each decoder-layer Linear and the largest module (ZeRO-3 sizing)."""
    spec = resolve(mid)
    model = _build_meta(spec.config)
    counted = sum(p.numel() for p in model.parameters())
    assert spec.params == counted == _catalog()[mid]["parameters"]
    assert sorted((lin.name, lin.d_in, lin.d_out, lin.bias) for lin in spec.linears) == \
        sorted(_meta_layer_linears(model))
    assert spec.largest_layer_params == _largest_module(model)
    assert spec.attn_impl == model.config._attn_implementation


@pytest.mark.parametrize("name", ["tiny-llama", "tiny-gpt2", "tiny-qwen2"])
def test_tiny_models_analytic_equals_meta(name: str, ftw_home: Path) -> None:
    spec = resolve(name)
    assert spec.source == "tiny" and spec.path and Path(spec.path, "config.json").is_file()
    assert spec.params == count_parameters_meta(spec.config)
    assert local_path(name) == Path(spec.path)


@pytest.mark.parametrize("config", [
    {"model_type": "qwen3", "hidden_size": 64, "intermediate_size": 96, "num_hidden_layers": 2,
     "num_attention_heads": 4, "num_key_value_heads": 2, "head_dim": 32, "vocab_size": 300,
     "max_position_embeddings": 128, "tie_word_embeddings": False},
    {"model_type": "gemma", "hidden_size": 64, "intermediate_size": 96, "num_hidden_layers": 2,
     "num_attention_heads": 4, "num_key_value_heads": 1, "head_dim": 16, "vocab_size": 300,
     "max_position_embeddings": 128},
    {"model_type": "llama", "hidden_size": 64, "intermediate_size": 96, "num_hidden_layers": 2,
     "num_attention_heads": 4, "vocab_size": 300, "attention_bias": True, "mlp_bias": True},
    {"model_type": "phi", "hidden_size": 64, "intermediate_size": 96, "num_hidden_layers": 2,
     "num_attention_heads": 4, "vocab_size": 300, "qk_layernorm": True,
     "tie_word_embeddings": True},
    {"model_type": "gptj", "n_embd": 64, "n_layer": 2, "n_head": 4, "rotary_dim": 8,
     "vocab_size": 300, "n_inner": 100, "tie_word_embeddings": True},
])
def test_other_shapes_analytic_equals_meta(config: dict) -> None:
    """Biases, qk-norms, defaults and tying variants that the catalog does not exercise."""
    assert spec_from_config(config, id="x", source="local").params == \
        count_parameters_meta(config)


def test_params_identity() -> None:
    for mid in catalog_ids():
        s = resolve(mid)
        assert s.params == (s.params_embedding + s.params_lm_head
                            + s.n_layers * s.params_per_layer + s.params_other)
        assert s.params_per_layer > s.linear_params_per_layer > 0
        assert (s.params_lm_head == 0) == s.tied_embeddings or s.model_type in ("gptj", "phi")


def test_shapes_of_known_models() -> None:
    gpt2 = resolve("gpt2")
    assert (gpt2.intermediate, gpt2.max_positions, gpt2.tied_embeddings, gpt2.mlp_gated) == \
        (3072, 1024, True, False)
    assert gpt2.params_embedding == 50257 * 768 + 1024 * 768
    gptj = resolve("gpt-j-6b")
    assert gptj.parallel_block and gptj.params_lm_head == 50400 * 4096 + 50400
    gemma2 = resolve("google/gemma-2-2b")
    assert gemma2.attn_impl == "eager"  # Gemma2ForCausalLM has _supports_sdpa = False
    l70 = resolve("llama-2-70b")
    assert (l70.n_kv_heads, l70.head_dim, l70.mlp_gated) == (8, 128, True)
    assert resolve("Qwen2.5-7B").id == "Qwen/Qwen2.5-7B"
    assert resolve("META-LLAMA/LLAMA-2-7B-HF").id == "meta-llama/Llama-2-7b-hf"


def test_lora_params_match_peft_on_meta() -> None:
    """Llama-2-7B, r=16, all-linear: 39,976,960 trainable, as PEFT reports it."""
    import torch
    from peft import LoraConfig, get_peft_model

    spec = resolve("llama-2-7b")
    assert spec.lora_params(16, "all-linear") == 39_976_960
    with torch.device("meta"):
        peft_model = get_peft_model(_build_meta(spec.config),
                                    LoraConfig(r=16, target_modules="all-linear",
                                               task_type="CAUSAL_LM"))
    assert peft_model.get_nb_trainable_parameters()[0] == 39_976_960
    # named modules: q and v only -> 32 layers * 16 * (4096+4096) * 2
    assert spec.lora_params(16, ["q_proj", "v_proj"]) == 32 * 16 * 8192 * 2
    assert spec.lora_params(16, "q_proj,v_proj") == spec.lora_params(16, ["q_proj", "v_proj"])


def test_lora_gpt2_c_proj_adapts_both_projections() -> None:
    gpt2 = resolve("gpt2")
    assert gpt2.lora_params(8, ["c_proj"]) == 12 * 8 * ((768 + 768) + (3072 + 768))


def test_lora_unknown_module_lists_valid_ones() -> None:
    with pytest.raises(InputError) as e:
        resolve("llama-2-7b").lora_params(8, ["q_prj"])
    assert "q_proj" in str(e.value) and "down_proj" in str(e.value)
    assert e.value.field == "method.lora.target_modules"


def test_resolve_local_folder(tmp_path: Path, tiny_llama: Path) -> None:
    folder = tmp_path / "my-model"
    folder.mkdir()
    shutil.copy(tiny_llama / "config.json", folder / "config.json")
    spec = resolve(str(folder))
    assert spec.source == "local" and spec.path == str(folder)
    assert spec.params == resolve("tiny-llama").params
    assert local_path(str(folder)) == folder


def test_resolve_hf_cache_layout(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A hub id found in the offline cache (models--org--name/snapshots/<rev>/config.json)."""
    config = dict(_catalog()["gpt2"]["config"], n_layer=3)
    repo = tmp_path / "hub" / "models--acme--small-gpt"
    snap = repo / "snapshots" / "0123abc"
    snap.mkdir(parents=True)
    (snap / "config.json").write_text(json.dumps(config))
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text("0123abc")
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hub"))
    spec = resolve("acme/small-gpt")
    assert (spec.source, spec.path, spec.n_layers) == ("cache", str(snap), 3)
    assert local_path("acme/small-gpt") == snap
    assert local_path("acme/absent") is None


def test_unknown_id_says_how_to_give_a_local_folder() -> None:
    with pytest.raises(InputError) as e:
        resolve("acme/no-such-model")
    msg = str(e.value)
    assert "local folder" in msg and "config.json" in msg and "download" in msg
    with pytest.raises(InputError) as e:
        resolve("lama-2-7b")
    assert "meta-llama/Llama-2-7b-hf" in str(e.value)


def test_remote_code_folder_needs_trust(tmp_path: Path) -> None:
    (tmp_path / "config.json").write_text(json.dumps(
        {"model_type": "acme", "auto_map": {"AutoModelForCausalLM": "modeling_acme.Acme"}}))
    with pytest.raises(InputError) as e:
        resolve(str(tmp_path))
    assert e.value.field == "model.trust_remote_code"


def test_search() -> None:
    assert search("qwen2.5")[:2] == ["Qwen/Qwen2.5-0.5B", "Qwen/Qwen2.5-1.5B"]
    assert "EleutherAI/gpt-j-6B" in search("gpt-j")
    assert "meta-llama/Llama-3.2-1B" in search("llama 3.2")
    assert search("", limit=3) == catalog_ids()[:3]


def test_resolve_catalog_imports_no_heavy_library() -> None:
    """plan() runs on every keypress: a catalog look-up must not pull torch or transformers in."""
    code = ("import sys; from ftwizard.core.models import resolve; resolve('gpt2'); "
            "resolve('llama-2-70b'); "
            "print(sorted(m for m in ('torch', 'transformers', 'huggingface_hub', 'peft') "
            "if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_other_architecture_falls_back_to_meta(tmp_path: Path) -> None:
    """A local Mixtral (no analytic shape here) is sized off the meta model, exactly."""
    config = {"model_type": "mixtral", "architectures": ["MixtralForCausalLM"],
              "hidden_size": 64, "intermediate_size": 96, "num_hidden_layers": 2,
              "num_attention_heads": 4, "num_key_value_heads": 2, "vocab_size": 300,
              "num_local_experts": 4, "tie_word_embeddings": False}
    (tmp_path / "config.json").write_text(json.dumps(config))
    spec = resolve(str(tmp_path))
    assert spec.params == count_parameters_meta(config)
    assert (spec.n_layers, spec.n_kv_heads, spec.params_lm_head) == (2, 2, 300 * 64)
    assert {"q_proj", "o_proj"} <= set(spec.linear_names)


def test_catalog_was_built_with_the_installed_transformers() -> None:
    """Each catalog model's attention kernel is what this transformers picks (5.24 moved GPT-J to
    SDPA): a version drift fails here, with the fix, instead of silently changing plans."""
    import transformers

    catalog = Path(__file__).resolve().parents[2] / "core" / "catalog" / "models.json"
    built = json.loads(catalog.read_text())["transformers"]
    assert built == transformers.__version__, (
        f"core/catalog/models.json was built with transformers {built}; installed is "
        f"{transformers.__version__}: install with -c constraints.txt, or upgrade deliberately "
        "(bench/upgrade_check.py, then scripts/build_model_catalog.py)")


def test_gemma3_multimodal_counts_the_vision_tower_it_loads(tmp_path: Path) -> None:
    """AutoModelForCausalLM builds Gemma3ForConditionalGeneration for model_type gemma3: the SigLIP
    tower and projector are loaded for fine-tuning, so they are weights (params_other), while the
    decoder layers alone are the LoRA targets. A sparse config (Gemma 3 ships one) takes
    transformers' defaults; a vision head, which Gemma 3 never has, is refused, naming the fix."""
    config = {"architectures": ["Gemma3ForConditionalGeneration"], "model_type": "gemma3",
              "text_config": {"model_type": "gemma3_text", "hidden_size": 64,
                              "intermediate_size": 96, "num_hidden_layers": 2,
                              "num_attention_heads": 2, "num_key_value_heads": 1,
                              "head_dim": 32, "vocab_size": 300},
              "vision_config": {"model_type": "siglip_vision_model", "hidden_size": 48,
                                "intermediate_size": 80, "num_hidden_layers": 3,
                                "num_attention_heads": 4, "image_size": 56, "patch_size": 14,
                                "vision_use_head": False}}
    (tmp_path / "config.json").write_text(json.dumps(config))
    spec = resolve(str(tmp_path))
    model = _build_meta(config)
    assert type(model).__name__ == spec.architecture == "Gemma3ForConditionalGeneration"
    assert spec.params == sum(p.numel() for p in model.parameters())
    outside_decoder = sum(p.numel() for m in (model.model.vision_tower,
                                              model.model.multi_modal_projector)
                          for p in m.parameters())
    assert spec.params_other == outside_decoder + 64  # + the decoder's final norm
    assert spec.n_layers == 2 and spec.linear_names == [
        "q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]

    # the backend's LoRA adapts exactly the decoder layers the plan counts (not the tower)
    import torch
    from peft import get_peft_model

    from ftwizard.core.backends.hf import lora_config
    from ftwizard.core.config import from_dict

    for targets in ("all-linear", ["q_proj", "v_proj"]):
        cfg = from_dict({"method": {"kind": "lora", "lora": {"r": 4, "target_modules": targets}}})
        with torch.device("meta"):
            peft_model = get_peft_model(_build_meta(config), lora_config(cfg))
        assert peft_model.get_nb_trainable_parameters()[0] == spec.lora_params(4, targets), targets

    with_head = dict(config, vision_config=dict(config["vision_config"], vision_use_head=True))
    with pytest.raises(InputError) as err:
        spec_from_config(with_head, id="x", source="local")
    assert "vision_use_head" in str(err.value)
