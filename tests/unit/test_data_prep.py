"""Counting and preparing sequences: modes, masking, mixing, validation, sampling, cache.

The central promise: the sequence count the plan shows is the number of sequences training gets.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ftwizard.core import data_prep
from ftwizard.core.config import from_dict
from ftwizard.core.data import (IGNORE, Cancelled, LightTokenizer, count_sequences, inspect,
                                prepare)
from ftwizard.core.data_prep import mix_plan
from ftwizard.core.errors import InputError

WORDS = "the quick brown fox jumps over the lazy dog while a cat sat on the mat".split()


def sentence(i: int, n: int) -> str:
    return " ".join(WORDS[(i + k) % len(WORDS)] for k in range(n))


def jsonl(path: Path, recs: list[dict]) -> Path:
    path.write_text("\n".join(json.dumps(r) for r in recs) + "\n")
    return path


@pytest.fixture(scope="module")
def light(tiny_llama: Path) -> LightTokenizer:
    return LightTokenizer(tiny_llama)


@pytest.fixture(scope="module")
def hf_tok(tiny_llama: Path):
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(str(tiny_llama))


def cfg(tiny_llama: Path, train, **data):
    return from_dict({"model": {"name": str(tiny_llama)}, "data": {"train": train, **data},
                      "train": {"seed": 7}})


@pytest.mark.parametrize("mode", ["corpus", "entries"])
def test_plan_sequences_equal_prepared_sequences(tmp_path: Path, tiny_llama: Path, hf_tok,
                                                 mode: str) -> None:
    """plan == train, with two weighted sources (one repeated, one sampled) and a val split."""
    a = jsonl(tmp_path / "a.jsonl", [{"text": sentence(i, 3 + i % 9)} for i in range(60)])
    b = jsonl(tmp_path / "b.jsonl", [{"prompt": sentence(i, 4), "completion": sentence(i + 1, 5)}
                                     for i in range(25)])
    c = cfg(tiny_llama, [f"{a}:0.2", f"{b}:0.8"], mode=mode, block_size=24,
            validation={"split": 0.1})
    prepared = prepare(c, hf_tok)
    stats = inspect(c.data, hf_tok, seed=c.train.seed, use_cache=False)
    assert stats.tokens_exact
    assert len(prepared.train) == stats.sequences == count_sequences(c, hf_tok) > 0
    assert len(prepared.validation) == stats.validation_sequences > 0
    assert all(len(s["input_ids"]) == 24 == len(s["labels"]) == len(s["attention_mask"])
               for s in prepared.train + prepared.validation)
    # 0.2 / 0.8 of N: b (fewer sequences) is repeated, a is sampled down.
    n = sum(p["sequences"] for p in stats.per_source)
    assert [p["mixed_sequences"] for p in stats.per_source] == [round(0.2 * n), round(0.8 * n)]
    if mode == "entries":
        assert stats.validation_examples == 6 + 2  # round(54 * 0.1), round(25 * 0.1)
    else:  # corpus: whole sources are packed and a tenth of each one's sequences held out
        assert stats.validation_examples == 0


def test_light_tokenizer_matches_transformers(tiny_llama: Path, hf_tok, light) -> None:
    texts = ["hello world", "  spaces\tand\nnewlines  ", "émoji 🙂 and ünïcode", ""]
    for special in (True, False):
        assert light.encode_batch(texts, special) == \
            [hf_tok(t, add_special_tokens=special)["input_ids"] for t in texts]
    msgs = [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "yo"}]
    for gen in (True, False):
        assert light.apply_chat_template(msgs, add_generation_prompt=gen) == \
            hf_tok.apply_chat_template(msgs, tokenize=False, add_generation_prompt=gen)


def test_corpus_mode_concatenates_with_eos_and_drops_tail(tmp_path: Path, tiny_llama: Path,
                                                         light) -> None:
    texts = [sentence(i, 7) for i in range(20)]
    a = jsonl(tmp_path / "a.jsonl", [{"text": t} for t in texts])
    c = cfg(tiny_llama, [str(a)], mode="corpus", block_size=16)
    stream = [tok for ids in light.encode_batch(texts, True) for tok in ids + [light.eos_token_id]]
    p = prepare(c, light)
    assert len(p.train) == len(stream) // 16
    assert p.stats.tokens == len(stream) and p.stats.tokens_dropped == len(stream) % 16
    assert sorted(map(tuple, (s["input_ids"] for s in p.train))) == \
        sorted(tuple(stream[i:i + 16]) for i in range(0, len(stream) - 15, 16))
    assert all(s["labels"] == s["input_ids"] and set(s["attention_mask"]) == {1} for s in p.train)
    assert p.validation is None


def test_entries_mode_pads_truncates_and_masks(tmp_path: Path, tiny_llama: Path, light) -> None:
    a = jsonl(tmp_path / "a.jsonl", [{"text": "hi"}, {"text": sentence(0, 40)}])
    c = cfg(tiny_llama, [str(a)], mode="entries", block_size=12)
    p = prepare(c, light)
    short = next(s for s in p.train if s["attention_mask"][-1] == 0)
    n = sum(short["attention_mask"])
    ids = light.encode_batch(["hi"], True)[0] + [light.eos_token_id]
    assert short["input_ids"][:n] == ids and short["labels"][:n] == ids
    pad = light.eos_token_id  # tiny-llama has no pad token and the config sets none
    assert short["input_ids"][n:] == [pad] * (12 - n) and short["labels"][n:] == [IGNORE] * (12 - n)
    assert p.stats.over_block == 1 and p.stats.tokens_dropped > 0
    c2 = cfg(tiny_llama, [str(a)], mode="entries", block_size=12)
    c2.model.pad_token_id = 5
    assert 5 in next(s for s in prepare(c2, light).train if s["attention_mask"][-1] == 0)["input_ids"]


@pytest.mark.parametrize("mask", [True, False])
def test_prompt_completion_masking(tmp_path: Path, tiny_llama: Path, light, mask: bool) -> None:
    a = jsonl(tmp_path / "a.jsonl", [{"prompt": "Question: fox?", "completion": " the dog"}])
    c = cfg(tiny_llama, [str(a)], mode="entries", block_size=32, mask_prompt=mask)
    s = prepare(c, light).train[0]
    n_prompt = len(light.encode_batch(["Question: fox?"], True)[0])
    n_comp = len(light.encode_batch([" the dog"], False)[0]) + 1  # + EOS
    labels = s["labels"]
    if mask:
        assert labels[:n_prompt] == [IGNORE] * n_prompt
    else:
        assert labels[:n_prompt] == s["input_ids"][:n_prompt]
    assert labels[n_prompt:n_prompt + n_comp] == s["input_ids"][n_prompt:n_prompt + n_comp]
    assert labels[n_prompt + n_comp - 1] == light.eos_token_id


def test_chat_masks_all_but_last_reply_and_needs_template(tmp_path: Path, tiny_llama: Path,
                                                          tiny_gpt2: Path, light) -> None:
    msgs = [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "the cat"}]
    a = jsonl(tmp_path / "a.jsonl", [{"messages": msgs}])
    s = prepare(cfg(tiny_llama, [str(a)], mode="entries", block_size=48), light).train[0]
    reply = light.encode_batch([light.apply_chat_template(msgs)], False)[0]
    prompt = light.encode_batch([light.apply_chat_template(msgs[:1], add_generation_prompt=True)],
                                False)[0]
    assert s["input_ids"][:len(reply)] == reply
    assert s["labels"][:len(prompt)] == [IGNORE] * len(prompt)
    assert s["labels"][len(prompt):len(reply)] == reply[len(prompt):]
    with pytest.raises(InputError, match="no chat template"):
        prepare(cfg(tiny_gpt2, [str(a)], mode="entries"), LightTokenizer(tiny_gpt2))


def test_mix_plan_rule() -> None:
    plan = mix_plan([10, 4], [1.0, 1.0], seed=1)
    assert len(plan) == 14
    a = [j for i, j in plan if i == 0]
    b = sorted(j for i, j in plan if i == 1)
    assert len(a) == 7 == len(set(a))  # sampled without replacement
    assert len(b) == 7 and set(b) == {0, 1, 2, 3}  # all once, then 3 repeats
    assert mix_plan([10, 4], [1, 1], seed=1) == plan != mix_plan([10, 4], [1, 1], seed=2)
    one = mix_plan([5], [3.0], seed=0)
    assert sorted(one) == [(0, j) for j in range(5)]


def test_validation_path_empty_and_duplicates(tmp_path: Path, tiny_llama: Path, light) -> None:
    a = jsonl(tmp_path / "a.jsonl", [{"text": "same words"}, {"text": "same words"},
                                     {"text": "   "}, {"text": "other words here"}])
    v = tmp_path / "val.txt"
    v.write_text("held out text")
    c = cfg(tiny_llama, [str(a)], mode="entries", block_size=16, validation={"path": str(v)})
    p = prepare(c, light)
    assert len(p.train) == 3 and len(p.validation) == 1
    assert p.stats.empty == 1 and p.stats.duplicates == 1 and p.stats.examples == 5


def test_validation_split_deterministic(tmp_path: Path, tiny_llama: Path, light) -> None:
    a = jsonl(tmp_path / "a.jsonl", [{"text": f"example {i}"} for i in range(40)])
    c = cfg(tiny_llama, [str(a)], mode="entries", block_size=8, validation={"split": 0.25})
    p1, p2 = prepare(c, light), prepare(c, light)
    assert p1.validation == p2.validation and len(p1.validation) == 10 and len(p1.train) == 30
    train_ids = {tuple(s["input_ids"]) for s in p1.train}
    assert not train_ids & {tuple(s["input_ids"]) for s in p1.validation}


def test_big_data_is_sampled_within_stated_bound(tmp_path: Path, tiny_llama: Path, light,
                                                  monkeypatch) -> None:
    """Lower the exact/sampling thresholds (real code, smaller numbers) to keep the test fast."""
    folder = tmp_path / "corpus"
    folder.mkdir()
    for i in range(60):
        (folder / f"{i}.txt").write_text("\n".join(sentence(i + k, 12) for k in range(50)))
    big = tmp_path / "big.txt"
    big.write_text(" ".join(sentence(k, 10) for k in range(3000)))
    for path in (folder, big):
        c = cfg(tiny_llama, [str(path)], mode="corpus", block_size=64)
        exact = inspect(c.data, light, use_cache=False)
        monkeypatch.setattr(data_prep, "EXACT_CHARS", 10_000)
        monkeypatch.setattr(data_prep, "SAMPLE_CHARS", 40_000)
        monkeypatch.setattr(data_prep, "WINDOW_CHARS", 2_000)
        est = inspect(c.data, light, use_cache=False)
        monkeypatch.undo()
        assert exact.tokens_exact and not est.tokens_exact and 0 < est.tokens_error < 0.2
        assert abs(est.tokens - exact.tokens) <= est.tokens_error * exact.tokens
        assert est.examples == exact.examples and est.characters == exact.characters
        assert any("sample" in n for n in est.notes)


def test_no_tokenizer_is_approximate(tmp_path: Path) -> None:
    a = jsonl(tmp_path / "a.jsonl", [{"text": "x" * 400}])
    s = inspect(from_dict({"data": {"train": [str(a)]}}).data, None, use_cache=False)
    assert not s.tokens_exact and s.tokens == 101 and s.tokens_error > 0 and s.notes


def test_cache_progress_and_cancel(tmp_path: Path, tiny_llama: Path, light) -> None:
    a = jsonl(tmp_path / "a.jsonl", [{"text": sentence(i, 8)} for i in range(30)])
    c = cfg(tiny_llama, [str(a)], block_size=16)
    seen: list[float] = []
    first = inspect(c.data, light, progress=seen.append)
    assert not first.cached and seen[-1] == 1.0 and seen == sorted(seen)
    again = inspect(c.data, light)
    assert again.cached and again.sequences == first.sequences
    jsonl(a, [{"text": sentence(i, 8)} for i in range(60)])  # content changes -> recomputed
    assert not inspect(c.data, light).cached
    with pytest.raises(Cancelled):
        inspect(c.data, light, use_cache=False, cancel=lambda: True)


def test_core_data_import_stays_light() -> None:
    """The wizard imports ftwizard.core.data at start-up: no torch/transformers/datasets then."""
    import subprocess
    import sys

    code = ("import sys, ftwizard.core.data; "
            "print(sorted(m for m in ('torch', 'transformers', 'datasets', 'pyarrow', 'textual') "
            "if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.stdout.strip() == "[]", out.stderr
