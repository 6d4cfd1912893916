"""Loss masks per turn (data.train_on), the named chat templates, and transformers' assistant mask
agreeing with our render-and-diff on a template that supports both."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ftwizard.core.chat_templates import CHATML, TEMPLATES, with_generation_marks
from ftwizard.core.config import from_dict
from ftwizard.core.data import IGNORE, LightTokenizer, prepare
from ftwizard.core.data_prep import encode_examples
from ftwizard.core.data_sources import Example
from ftwizard.core.data_tokens import Encoder
from ftwizard.core.errors import InputError

CHAT = [{"role": "system", "content": "Be short."},
        {"role": "user", "content": "the cat"}, {"role": "assistant", "content": "sat on the mat"},
        {"role": "user", "content": "the dog"}, {"role": "assistant", "content": "runs"},
        {"role": "user", "content": "a fox"}, {"role": "assistant", "content": "jumps over"}]
REPLIES = ["sat on the mat", "runs", "jumps over"]


def cfg(model: Path, path: Path, **data) -> object:
    d = {"train": [{"path": str(path)}], "mode": "entries", "block_size": 128}
    d.update(data)
    return from_dict({"model": {"name": str(model)}, "data": d})


def trained_runs(seq: dict) -> list[list[int]]:
    """The maximal runs of trained label ids."""
    runs, cur = [], []
    for y in seq["labels"]:
        if y == IGNORE:
            if cur:
                runs.append(cur)
            cur = []
        else:
            cur.append(y)
    return runs + ([cur] if cur else [])


@pytest.fixture
def light(tiny_llama: Path) -> LightTokenizer:
    return LightTokenizer(tiny_llama)


@pytest.fixture
def chat_file(tmp_path: Path) -> Path:
    p = tmp_path / "chat.jsonl"
    p.write_text(json.dumps({"messages": CHAT}) + "\n")
    return p


@pytest.mark.parametrize("train_on, expect", [("completion", 3), ("last_turn", 1)])
def test_train_on_turns(tiny_llama: Path, light: LightTokenizer, chat_file: Path,
                        train_on: str, expect: int) -> None:
    (seq,) = prepare(cfg(tiny_llama, chat_file, train_on=train_on), light).train
    runs = [light.decode(r) for r in trained_runs(seq)]
    # the tiny template ends a turn with "\n"; the last reply also gets the appended EOS
    want = [f"{r}\n" for r in REPLIES]
    want[-1] += "</s>"
    assert runs == want[-expect:]


def test_train_on_all_and_mask_prompt_false(tiny_llama: Path, light: LightTokenizer,
                                            chat_file: Path) -> None:
    for kw in ({"train_on": "all"}, {"mask_prompt": False}):
        (seq,) = prepare(cfg(tiny_llama, chat_file, **kw), light).train
        n = sum(seq["attention_mask"])
        assert seq["labels"][:n] == seq["input_ids"][:n]


@pytest.mark.parametrize("name", sorted(TEMPLATES))
def test_named_templates_mask_exactly_the_replies(tiny_llama: Path, name: str) -> None:
    enc = Encoder(LightTokenizer(tiny_llama), None, name)
    ((ids, spans),) = encode_examples([Example(messages=CHAT, source="x:1")], enc)
    ends = {"chatml": "<|im_end|>\n", "qwen": "<|im_end|>\n", "llama-3": "<|eot_id|>",
            "mistral": "</s>", "gemma": "<end_of_turn>\n"}[name]
    lead = " " if name == "mistral" else ""
    got = [enc.tok.decode(ids[a:b]) for a, b in spans]
    want = [lead + r + ends for r in REPLIES]
    if not want[-1].endswith("</s>"):
        want[-1] += "</s>"   # the EOS appended after the final reply is trained with it
    assert got == want


def test_template_that_cannot_render_a_role(tiny_llama: Path) -> None:
    msgs = [{"role": "user", "content": "q"}, {"role": "assistant", "content": "call"},
            {"role": "tool", "content": "42"}, {"role": "assistant", "content": "42"}]
    enc = Encoder(LightTokenizer(tiny_llama), None, "gemma")
    with pytest.raises(InputError) as err:
        encode_examples([Example(messages=msgs, source="f.jsonl:7")], enc)
    assert "f.jsonl:7" in str(err.value) and "no role tool" in str(err.value)
    with pytest.raises(InputError, match="no chat template named 'nope'"):
        Encoder(LightTokenizer(tiny_llama), None, "nope")


def test_hf_assistant_mask_agrees_with_render_and_diff(tiny_llama: Path) -> None:
    from transformers import AutoTokenizer

    hf = AutoTokenizer.from_pretrained(str(tiny_llama))
    hf.chat_template = with_generation_marks(CHATML)
    enc = Encoder(hf)
    ex = Example(messages=CHAT, source="x:1")
    got = enc.hf_assistant_mask(CHAT)
    assert got is not None and sum(got[1]) > 0              # the transformers path really ran
    ((ids_hf, spans_hf),) = encode_examples([ex], enc)
    plain = AutoTokenizer.from_pretrained(str(tiny_llama))
    plain.chat_template = CHATML                            # no marks: render-and-diff
    ((ids_rd, spans_rd),) = encode_examples([ex], Encoder(plain))
    light = LightTokenizer(tiny_llama)
    light.chat_template = with_generation_marks(CHATML)     # light tokenizer: render-and-diff
    ((ids_l, spans_l),) = encode_examples([ex], Encoder(light))
    assert ids_hf == ids_rd == ids_l
    assert spans_hf == spans_rd == spans_l
    assert [hf.decode(ids_hf[a:b]) for a, b in spans_hf][:2] == [r + "<|im_end|>\n"
                                                                  for r in REPLIES[:2]]


def test_chosen_template_is_saved_with_the_tokenizer(tiny_gpt2: Path, chat_file: Path,
                                                     tmp_path: Path) -> None:
    """A base model without a template (tiny GPT-2) trains chat data with data.chat_template,
    and the tokenizer the backend saves into final/ carries it."""
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(str(tiny_gpt2))
    assert not tok.chat_template
    (seq,) = prepare(cfg(tiny_gpt2, chat_file, chat_template="chatml", block_size=400),
                     tok).train
    assert len(trained_runs(seq)) == 3
    tok.save_pretrained(str(tmp_path / "final"))
    again = AutoTokenizer.from_pretrained(str(tmp_path / "final"))
    assert again.chat_template == CHATML


@pytest.mark.parametrize("train_on", ["completion", "last_turn", "all"])
@pytest.mark.parametrize("packing", [False, True])
def test_inspect_counts_the_trained_tokens_training_trains(tiny_llama: Path, light: LightTokenizer,
                                                           tmp_path: Path, train_on: str,
                                                           packing: bool) -> None:
    from ftwizard.core.data import inspect

    p = tmp_path / "mix.jsonl"
    p.write_text("".join(json.dumps({"messages": CHAT[:1 + 2 * (1 + i % 3)]}) + "\n"
                         for i in range(9)))
    c = cfg(tiny_llama, p, train_on=train_on, packing=packing, block_size=64)
    stats = inspect(c.data, light, exact=True, use_cache=False)
    labels = [y for s in prepare(c, light).train for y in s["labels"][1:]]
    assert stats.trained_tokens == sum(y != IGNORE for y in labels) > 0
