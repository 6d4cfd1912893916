"""The pipeline backend's stages are the model's own computation, for every family it splits.

In one process (no process group): the model is cut into stages with
core/backends/pipeline.py StageModule, the stages are chained by hand, and the logits must equal
the unsplit model's. Covers what the CPU e2e tests (GPT-NeoX) do not: GPT-J, Llama, and Qwen2
with its tied head and per-layer attention types.
"""

from __future__ import annotations

import copy

import pytest

torch = pytest.importorskip("torch")


def _tiny(model_type: str, **cfg):
    from transformers import AutoConfig, AutoModelForCausalLM

    base = dict(vocab_size=384, max_position_embeddings=128)
    base.update(cfg)
    torch.manual_seed(0)
    return AutoModelForCausalLM.from_config(AutoConfig.for_model(model_type, **base)).eval()


MODELS = {
    "gpt_neox": lambda: _tiny("gpt_neox", hidden_size=64, intermediate_size=128,
                              num_hidden_layers=4, num_attention_heads=4, rotary_pct=0.25),
    "gptj": lambda: _tiny("gptj", n_embd=64, n_layer=4, n_head=4, rotary_dim=8),
    "llama": lambda: _tiny("llama", hidden_size=64, intermediate_size=128, num_hidden_layers=4,
                           num_attention_heads=4, num_key_value_heads=2),
    "qwen2": lambda: _tiny("qwen2", hidden_size=64, intermediate_size=128, num_hidden_layers=4,
                           num_attention_heads=4, num_key_value_heads=2, tie_word_embeddings=True),
}


@pytest.mark.parametrize("family", sorted(MODELS))
@pytest.mark.parametrize("split", [[2, 2], [1, 3], [1, 1, 2]])
def test_chained_stages_equal_the_whole_model(family: str, split: list[int]) -> None:
    from ftwizard.core.backends.pipeline import StageModule, _tied
    from ftwizard.core.pipeline_layout import family_of

    model = MODELS[family]()
    fam = family_of(model.config.model_type)
    ids = torch.randint(0, 384, (2, 24), generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        want = model(ids).logits
    assert _tied(model, fam) == (family == "qwen2")
    stages, start = [], 0
    for i, n in enumerate(split):
        stages.append(StageModule(copy.deepcopy(model), fam, start, start + n, first=i == 0,
                                  last=i == len(split) - 1, checkpointing=False,
                                  autocast=None).eval())
        start += n
    h = ids
    with torch.no_grad():
        for st in stages:
            h = st(h)
    assert (h - want).abs().max().item() < 1e-5
    # each stage holds only its own layers; together they hold every weight exactly once
    names = [set(st.model.state_dict()) for st in stages]
    assert set().union(*names) == set(model.state_dict())
    assert sum(len(n) for n in names) == len(model.state_dict())


def test_a_family_the_pipeline_cannot_split_is_refused() -> None:
    from ftwizard.core.errors import InputError
    from ftwizard.core.pipeline_layout import family_of

    with pytest.raises(InputError) as err:
        family_of("gpt2")
    assert err.value.field == "method.parallel" and "gpt_neox" in str(err.value)
