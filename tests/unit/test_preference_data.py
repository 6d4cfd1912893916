"""Preference and reward data (core/preference_data.py): every shape read into TRL's rows, chat
rendering, and parity with TRL 1.16's own trainers: the rows we keep are the rows the trainer
keeps, and our token counts are the trainer's (real DPOTrainer, KTOTrainer, RewardTrainer and
ORPOTrainer built on the tiny Llama, whose dataset preparation is what is compared)."""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

import pytest

from ftwizard.core import preference_data as pd
from ftwizard.core.config import from_dict
from ftwizard.core.data import count_sequences, inspect
from ftwizard.core.data_tokens import Encoder, LightTokenizer
from ftwizard.core.errors import InputError


def write_jsonl(path: Path, rows: list[Any]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def config(model: Path, path: Path | list[dict], objective: str = "dpo", block: int = 256,
           **data: Any) -> Any:
    train = path if isinstance(path, list) else [{"path": str(path)}]
    return from_dict({"model": {"name": str(model)},
                      "data": {"train": train, "block_size": block, **data},
                      "train": {"objective": objective}})


def rows_of(tiny: Path, path: Path, objective: str = "dpo", **data: Any) -> list[dict]:
    cfg = config(tiny, path, objective, **data)
    return pd.preference_sets(cfg, LightTokenizer(tiny))[0]


USER = {"role": "user", "content": "Is gold rare?"}
GOOD = {"role": "assistant", "content": "Yes, fairly."}
BAD = {"role": "assistant", "content": "No."}


# ---------------------------------------------------------------- shapes

@pytest.mark.parametrize("record,expected", [
    ({"prompt": "The sky is", "chosen": " blue.", "rejected": " green."},
     {"prompt": "The sky is", "chosen": " blue.", "rejected": " green."}),
    # TRL's extract_prompt on strings: the shared start, the space stays with the completions
    ({"chosen": "The sky is blue.", "rejected": "The sky is green."},
     {"prompt": "The sky is", "chosen": " blue.", "rejected": " green."}),
    ({"chosen": [USER, GOOD], "rejected": [USER, BAD]},
     {"prompt": [USER], "chosen": [GOOD], "rejected": [BAD]}),
    ({"prompt": [USER], "chosen": [GOOD], "rejected": [BAD]},
     {"prompt": [USER], "chosen": [GOOD], "rejected": [BAD]}),
    # a prompt string beside replies alone is the user turn
    ({"prompt": "Is gold rare?", "chosen": [GOOD], "rejected": [BAD]},
     {"prompt": [USER], "chosen": [GOOD], "rejected": [BAD]}),
    # UltraFeedback-style: a prompt string beside whole conversations is TRL's implicit prompt
    ({"prompt": "Is gold rare?", "chosen": [USER, GOOD], "rejected": [USER, BAD],
      "messages": [USER, GOOD]},
     {"prompt": [USER], "chosen": [GOOD], "rejected": [BAD]}),
    # identical conversations: the last turn is still the reply (kept, counted as identical)
    ({"chosen": [USER, GOOD], "rejected": [USER, GOOD]},
     {"prompt": [USER], "chosen": [GOOD], "rejected": [GOOD]}),
    # axolotl chat_template: messages so far, the replies as single messages
    ({"messages": [{"role": "system", "content": "Be brief."}, USER], "chosen": GOOD,
      "rejected": BAD},
     {"prompt": [{"role": "system", "content": "Be brief."}, USER], "chosen": [GOOD],
      "rejected": [BAD]}),
    # LLaMA-Factory alpaca pairs: system, history, instruction + input
    ({"instruction": "Is gold", "input": "rare?", "system": "Be brief.",
      "history": [["Hi", "Hello"]], "chosen": "Yes, fairly.", "rejected": "No."},
     {"prompt": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi"},
                 {"role": "assistant", "content": "Hello"},
                 {"role": "user", "content": "Is gold\n\nrare?"}],
      "chosen": [GOOD], "rejected": [BAD]}),
    # LLaMA-Factory ShareGPT pairs
    ({"conversations": [{"from": "human", "value": "Is gold rare?"}],
      "chosen": {"from": "gpt", "value": "Yes, fairly."}, "rejected": {"from": "gpt", "value": "No."}},
     {"prompt": [USER], "chosen": [GOOD], "rejected": [BAD]}),
    # axolotl chatml.intel and chatml.argilla
    ({"system": "Be brief.", "question": "Is gold rare?", "chosen": "Yes, fairly.", "rejected": "No."},
     {"prompt": [{"role": "system", "content": "Be brief."}, USER], "chosen": [GOOD],
      "rejected": [BAD]}),
    ({"instruction": "Is gold rare?", "chosen_response": "Yes, fairly.", "rejected_response": "No."},
     {"prompt": [USER], "chosen": [GOOD], "rejected": [BAD]}),
])
def test_paired_shapes_become_trl_rows(tmp_path: Path, tiny_llama: Path, record: dict,
                                       expected: dict) -> None:
    p = write_jsonl(tmp_path / "p.jsonl", [record])
    for objective in ("dpo", "orpo", "reward"):
        assert rows_of(tiny_llama, p, objective) == [expected]


@pytest.mark.parametrize("label,value", [(True, True), (0, False), (1, True), ("false", False),
                                         ("TRUE", True)])
def test_kto_labels(tmp_path: Path, tiny_llama: Path, label: Any, value: bool) -> None:
    p = write_jsonl(tmp_path / "k.jsonl", [{"prompt": "The sky is", "completion": " blue.",
                                             "label": label}])
    assert rows_of(tiny_llama, p, "kto") == [{"prompt": "The sky is", "completion": " blue.",
                                              "label": value}]


def test_kto_chat_and_kto_tag(tmp_path: Path, tiny_llama: Path) -> None:
    p = write_jsonl(tmp_path / "k.jsonl", [{"prompt": [USER], "completion": [GOOD], "label": True}])
    assert rows_of(tiny_llama, p, "kto") == [{"prompt": [USER], "completion": [GOOD],
                                              "label": True}]
    t = write_jsonl(tmp_path / "t.jsonl", [{"messages": [USER, BAD], "kto_tag": False}])
    assert rows_of(tiny_llama, t, "kto") == [{"prompt": [USER], "completion": [BAD],
                                              "label": False}]


def test_csv_parquet_and_columns(tmp_path: Path, tiny_llama: Path) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    c = tmp_path / "k.csv"
    c.write_text('q,answer,ok\n"The sky is"," blue.",true\n"Grass is"," red.",0\n')
    got = rows_of(tiny_llama, [{"path": str(c), "columns": {"prompt": "q", "completion": "answer",
                                                             "label": "ok"}}], "kto")
    got.sort(key=lambda r: r["prompt"], reverse=True)  # mixing shuffles, as for SFT
    assert got == [{"prompt": "The sky is", "completion": " blue.", "label": True},
                   {"prompt": "Grass is", "completion": " red.", "label": False}]
    q = tmp_path / "p.parquet"
    pq.write_table(pa.table({"prompt": ["The sky is"], "good": [" blue."], "bad": [" green."]}), q)
    got = rows_of(tiny_llama, [{"path": str(q), "columns": {"chosen": "good", "rejected": "bad"}}])
    assert got == [{"prompt": "The sky is", "chosen": " blue.", "rejected": " green."}]


def test_local_hf_dataset(tmp_path: Path, tiny_llama: Path) -> None:
    import datasets

    datasets.Dataset.from_list([{"chosen": [USER, GOOD], "rejected": [USER, BAD]}] * 3) \
        .save_to_disk(str(tmp_path / "ds"))
    got = rows_of(tiny_llama, [{"path": f"hf:{tmp_path / 'ds'}"}])
    assert got == [{"prompt": [USER], "chosen": [GOOD], "rejected": [BAD]}] * 3


# ---------------------------------------------------------------- chat rendering

def test_chat_template_from_data_is_put_on_the_trainers_tokenizer(tmp_path: Path,
                                                                  tiny_llama: Path) -> None:
    """data.chat_template is set on the tokenizer TRL gets (as SFT does), and our counts render
    with it: the prompt's tokens are those of the ChatML rendering with the generation prompt."""
    from ftwizard.core.chat_templates import CHATML

    p = write_jsonl(tmp_path / "c.jsonl", [{"chosen": [USER, GOOD], "rejected": [USER, BAD]}])
    cfg = config(tiny_llama, p, chat_template="chatml")
    tok = LightTokenizer(tiny_llama)
    rows, _ = pd.preference_sets(cfg, tok)
    assert tok.chat_template == CHATML and rows[0]["prompt"] == [USER]
    stats = inspect(cfg.data, LightTokenizer(tiny_llama), train=cfg.train, use_cache=False)
    rendered = "<|im_start|>user\nIs gold rare?<|im_end|>\n<|im_start|>assistant\n"
    assert stats.prompt_tokens_max == len(tok.encode_batch([rendered], False)[0])
    full = rendered + "Yes, fairly.<|im_end|>\n"
    assert stats.chosen_tokens_max == len(tok.encode_batch([full], False)[0])


def test_chat_data_without_a_template_is_refused(tmp_path: Path, tiny_gpt2: Path) -> None:
    p = write_jsonl(tmp_path / "c.jsonl", [{"chosen": [USER, GOOD], "rejected": [USER, BAD]}])
    with pytest.raises(InputError, match="no chat template"):
        rows_of(tiny_gpt2, p)


# ---------------------------------------------------------------- parity with TRL's trainers

WORDS = "the quick brown fox jumps over lazy dog cat sat on mat gold glitters".split()


def varied_rows(n: int = 14, seed: int = 0) -> list[dict]:
    r = random.Random(seed)

    def words(a: int, b: int) -> str:
        return " ".join(r.choice(WORDS) for _ in range(r.randint(a, b)))

    return [{"prompt": words(1, 14), "chosen": " " + words(1, 7), "rejected": " " + words(1, 7)}
            for _ in range(n)]


def as_chat(rows: list[dict]) -> list[dict]:
    return [{"chosen": [{"role": "user", "content": x["prompt"]},
                        {"role": "assistant", "content": x["chosen"].strip()}],
             "rejected": [{"role": "user", "content": x["prompt"]},
                          {"role": "assistant", "content": x["rejected"].strip()}]} for x in rows]


def as_kto(rows: list[dict], chat: bool) -> list[dict]:
    out = []
    for i, x in enumerate(rows):
        if chat:
            out.append({"prompt": [{"role": "user", "content": x["prompt"]}],
                        "completion": [{"role": "assistant", "content": x["chosen"].strip()}],
                        "label": i % 2 == 0})
        else:
            out.append({"prompt": x["prompt"], "completion": x["chosen"], "label": i % 3 == 0})
    return out


def trainer_rows(objective: str, tiny: Path, rows: list[dict], block: int, tmp: Path,
                 truncation: str = "keep_start") -> list[tuple[int | None, int, int]]:
    """(prompt ids, prompt + chosen ids, prompt + rejected ids) of each row the real TRL trainer
    keeps, from its own prepared dataset (ORPO: its sequences as it truncates them)."""
    import datasets
    import trl
    from transformers import (AutoModelForCausalLM, AutoModelForSequenceClassification,
                              AutoTokenizer)

    tok = AutoTokenizer.from_pretrained(str(tiny))
    tok.pad_token = tok.eos_token
    ds = datasets.Dataset.from_list(rows)
    common = dict(output_dir=str(tmp / f"out-{objective}"), max_length=block, report_to=[],
                  use_cpu=True, per_device_train_batch_size=2)
    if objective == "reward":
        model = AutoModelForSequenceClassification.from_pretrained(str(tiny), num_labels=1)
        model.config.pad_token_id = tok.pad_token_id
        tr = trl.RewardTrainer(model=model, args=trl.RewardConfig(**common), train_dataset=ds,
                               processing_class=tok)
        return [(None, len(e["chosen_ids"]), len(e["rejected_ids"])) for e in tr.train_dataset]
    model = AutoModelForCausalLM.from_pretrained(str(tiny))
    if objective == "dpo":
        tr = trl.DPOTrainer(model=model, args=trl.DPOConfig(**common, truncation_mode=truncation),
                            train_dataset=ds, processing_class=tok)
        return [(len(e["prompt_ids"]), len(e["prompt_ids"]) + len(e["chosen_ids"]),
                 len(e["prompt_ids"]) + len(e["rejected_ids"])) for e in tr.train_dataset]
    if objective == "kto":
        tr = trl.KTOTrainer(model=model, args=trl.KTOConfig(**common), train_dataset=ds,
                            processing_class=tok)
        return [(len(e["prompt_ids"]), len(e["prompt_ids"]) + len(e["completion_ids"]), 0)
                for e in tr.train_dataset]
    from trl.experimental.orpo import ORPOConfig, ORPOTrainer

    tr = ORPOTrainer(model=model, args=ORPOConfig(**common), train_dataset=ds, processing_class=tok)
    return [(len(e["prompt_input_ids"]), len(e["chosen_input_ids"]), len(e["rejected_input_ids"]))
            for e in tr.train_dataset]


@pytest.mark.parametrize("objective,chat,block,truncation", [
    ("dpo", False, 16, "keep_start"), ("dpo", True, 44, "keep_start"),
    ("dpo", False, 16, "keep_end"), ("kto", False, 16, "keep_start"),
    ("kto", True, 44, "keep_start"), ("reward", False, 24, "keep_start"),
    ("reward", True, 52, "keep_start"), ("orpo", False, 16, "keep_start"),
    ("orpo", True, 44, "keep_start"),
])
def test_filter_and_counts_equal_the_trainers(tmp_path: Path, tiny_llama: Path, objective: str,
                                              chat: bool, block: int, truncation: str) -> None:
    """The rows TRL keeps are exactly those we keep, with the same token counts; and handed our
    filtered rows, the trainer drops none (len(train_rows) is its dataset length)."""
    base = varied_rows()
    rows = as_kto(base, chat) if objective == "kto" else as_chat(base) if chat else base
    p = write_jsonl(tmp_path / "d.jsonl", rows)
    cfg = from_dict({"model": {"name": str(tiny_llama)},
                     "data": {"train": [{"path": str(p)}], "block_size": block},
                     "train": {"objective": objective, "preference": {"truncation": truncation}}})
    enc = Encoder(LightTokenizer(tiny_llama))
    a = pd.analyse(cfg.data, cfg.train, enc, seed=42)
    part = a.parts[0]
    every = [r.trl() for r in part.rows]
    kept = [n for n in part.lengths if not n.dropped]
    if objective != "dpo" or truncation == "keep_start":
        assert 0 < len(kept) < len(every), "the set must exercise the filter"
    else:
        assert len(kept) == len(every)
    theirs = trainer_rows(objective, tiny_llama, every, block, tmp_path, truncation)
    if objective == "orpo":  # TRL keeps every row, cutting completions; we drop the full prompts
        assert len(theirs) == len(every)
        for (tp, tc, tr), n in zip(theirs, part.lengths):
            cap = max(block, n.prompt)
            assert (tp, tc, tr) == (n.prompt, min(n.chosen, cap), min(n.rejected, cap))
            assert bool(n.dropped) == (n.prompt >= block)
    else:
        ours = [(None if objective == "reward" else n.prompt, n.chosen, n.rejected) for n in kept]
        assert theirs == ours
    train, _ = pd.preference_sets(cfg, LightTokenizer(tiny_llama))
    assert len(train) == len(kept)
    assert len(trainer_rows(objective, tiny_llama, train, block, tmp_path, truncation)) == len(train)


def test_count_sequences_split_and_mixing(tmp_path: Path, tiny_llama: Path) -> None:
    """count_sequences == inspect().sequences == len(preference_sets()[0]), with a validation
    split and two weighted sources (SFT's mix_plan), and a separate validation path."""
    a = write_jsonl(tmp_path / "a.jsonl", varied_rows(14, 1))
    b = write_jsonl(tmp_path / "b.jsonl", varied_rows(5, 2))
    v = write_jsonl(tmp_path / "v.jsonl", varied_rows(4, 3))
    tok = LightTokenizer(tiny_llama)
    cfg = config(tiny_llama, [{"path": str(a)}, {"path": str(b), "weight": 2}], block=16,
                 validation={"split": 0.2})
    train, val = pd.preference_sets(cfg, tok)
    stats = inspect(cfg.data, tok, train=cfg.train, use_cache=False)
    assert count_sequences(cfg, tok) == stats.sequences == len(train)
    kept_a = 14 - stats.per_source[0]["dropped"]
    kept_b = 5 - stats.per_source[1]["dropped"]
    held = round(kept_a * 0.2) + round(kept_b * 0.2)
    assert val is not None and len(val) == held == stats.validation_sequences
    n = kept_a + kept_b - held
    assert len(train) == round(n / 3) + round(2 * n / 3)
    cfg = config(tiny_llama, a, block=16, validation={"path": str(v)})
    train, val = pd.preference_sets(cfg, tok)
    stats = inspect(cfg.data, tok, train=cfg.train, use_cache=False)
    assert val is not None and len(val) == stats.validation_sequences == 4 - sum(
        1 for x in pd.analyse(cfg.data, cfg.train, Encoder(tok), seed=42).parts[1].lengths
        if x.dropped)
    assert len(train) == stats.sequences


def test_stats_token_figures_by_hand(tmp_path: Path, tiny_llama: Path) -> None:
    """The planner's figures: prompt, prompt + chosen and prompt + rejected tokens as the
    tokenizer gives them (EOS appended as text, as DPOTrainer does), cut at block_size."""
    tok = LightTokenizer(tiny_llama)
    recs = [{"prompt": "The cat sat", "chosen": " on the mat.", "rejected": " on the hat."},
            {"prompt": "All that glitters is not gold.", "chosen": " jumps.",
             "rejected": " sleeps over the lazy dog all day long."}]
    p = write_jsonl(tmp_path / "p.jsonl", recs)
    block = 20

    def n(text: str) -> int:
        return len(tok.encode_batch([text], True)[0])

    pr = [n(r["prompt"]) for r in recs]
    ch = [min(n(r["prompt"] + r["chosen"] + "</s>"), block) for r in recs]
    rj = [min(n(r["prompt"] + r["rejected"] + "</s>"), block) for r in recs]
    assert max(pr) < block and max(n(r["prompt"] + r["rejected"] + "</s>") for r in recs) > block
    cfg = config(tiny_llama, p, block=block)
    s = inspect(cfg.data, tok, train=cfg.train, use_cache=False)
    assert (s.objective, s.sequences, s.dropped) == ("dpo", 2, 0)
    assert (s.prompt_tokens_max, s.chosen_tokens_max, s.rejected_tokens_max) == \
        (max(pr), max(ch), max(rj))
    assert s.chosen_tokens_mean == pytest.approx(sum(ch) / 2)
    assert s.rejected_tokens_mean == pytest.approx(sum(rj) / 2)
    assert s.tokens == sum(ch) + sum(rj)
    assert s.trained_tokens == sum(ch) + sum(rj) - 2 * sum(pr)
    k = write_jsonl(tmp_path / "k.jsonl", [{"prompt": r["prompt"], "completion": r["chosen"],
                                            "label": i == 0} for i, r in enumerate(recs)])
    cfg = config(tiny_llama, k, "kto", block=block)
    s = inspect(cfg.data, tok, train=cfg.train, use_cache=False)
    assert (s.completion_tokens_max, s.desirable, s.undesirable) == (max(ch), 1, 1)
    assert s.completion_tokens_mean == pytest.approx(sum(ch) / 2)


def test_identical_pairs_are_kept_and_counted(tmp_path: Path, tiny_llama: Path) -> None:
    p = write_jsonl(tmp_path / "p.jsonl", [{"prompt": "a", "chosen": " b", "rejected": " b"},
                                           {"prompt": "a", "chosen": " b", "rejected": " c"}])
    cfg = config(tiny_llama, p)
    s = inspect(cfg.data, LightTokenizer(tiny_llama), train=cfg.train, use_cache=False)
    assert s.sequences == 2 and s.identical_pairs == 1
    assert any("chosen == rejected" in note for note in s.notes)


def test_dropped_rows_are_named(tmp_path: Path, tiny_llama: Path) -> None:
    p = write_jsonl(tmp_path / "p.jsonl", [{"prompt": "the quick brown fox " * 6, "chosen": " a",
                                            "rejected": " b"},
                                           {"prompt": "a", "chosen": " b", "rejected": " c"}])
    cfg = config(tiny_llama, p, block=16)
    s = inspect(cfg.data, LightTokenizer(tiny_llama), train=cfg.train, use_cache=False)
    assert s.sequences == 1 and s.dropped == 1
    assert s.dropped_reasons == {"prompt alone is 16+ tokens": 1}
    assert any(f"{p}:1" in note for note in s.notes)


def test_preview_marks_the_completion(tmp_path: Path, tiny_llama: Path) -> None:
    from ftwizard.core.data_preview import preview

    p = write_jsonl(tmp_path / "p.jsonl", [{"prompt": "The cat sat", "chosen": " on the mat.",
                                            "rejected": " on it."}] * 3)
    tok = LightTokenizer(tiny_llama)
    shown = preview(config(tiny_llama, p), tok, 2)
    assert [e.format for e in shown] == ["explicit: chosen", "explicit: rejected"] * 2
    plen = len(tok.encode_batch(["The cat sat"], True)[0])
    for e, answer in zip(shown, [" on the mat.</s>", " on it.</s>"] * 2):
        assert len(e.ids) == len(tok.encode_batch(["The cat sat" + answer], True)[0])
        assert e.trained == [0] * plen + [1] * (len(e.ids) - plen) and not e.dropped


# ---------------------------------------------------------------- bad input

@pytest.mark.parametrize("objective,records,line,needles", [
    ("dpo", [{"prompt": "a", "chosen": "b", "rejected": "c"},
             {"prompt": "a", "chosen": "  ", "rejected": "c"}], 2, ["chosen is empty"]),
    ("dpo", [{"prompt": "a", "chosen": "b"}], 1, ["'chosen' but no 'rejected'", "rejected"]),
    ("dpo", [{"prompt": "a", "chosen": "b", "rejected": "c"},
             {"chosen": [USER, GOOD], "rejected": [USER, BAD]}], 2,
     ["chosen/rejected messages", "p.jsonl:1", "one file holds one shape"]),
    ("kto", [{"prompt": "a", "completion": "b", "label": "maybe"}], 1,
     ["label is 'maybe', not a boolean", "true for a desirable"]),
    ("kto", [{"prompt": "a", "chosen": "b", "rejected": "c"}], 1,
     ["paired preference data", "train.objective dpo", "unpair"]),
    ("dpo", [{"prompt": "a", "completion": "b", "label": True}], 1,
     ["KTO data", "train.objective kto"]),
    ("dpo", [{"question_text": "a", "answer": "b"}], 1,
     ["no preference fields", "question_text", "columns"]),
    ("dpo", [{"chosen": [USER, GOOD, GOOD], "rejected": [USER, BAD]}], 1,
     ["roles out of order"]),
    ("dpo", [{"chosen": [GOOD], "rejected": [BAD]}], 1, ["no prompt"]),
])
def test_bad_input_names_file_line_and_field(tmp_path: Path, tiny_llama: Path, objective: str,
                                             records: list, line: int, needles: list) -> None:
    p = write_jsonl(tmp_path / "p.jsonl", records)
    with pytest.raises(InputError) as err:
        rows_of(tiny_llama, p, objective)
    text = err.value.render()
    assert f"{p}:{line}" in text and "fix:" in text
    for needle in needles:
        assert needle in text


def test_bad_json_line_and_mixed_kinds(tmp_path: Path, tiny_llama: Path) -> None:
    p = tmp_path / "p.jsonl"
    p.write_text('{"prompt": "a", "chosen": "b", "rejected": "c"}\n{"prompt": \n')
    with pytest.raises(InputError, match="p.jsonl: line 2"):
        rows_of(tiny_llama, p)
    t = write_jsonl(tmp_path / "t.jsonl", [{"prompt": "a", "chosen": "b", "rejected": "c"}])
    c = write_jsonl(tmp_path / "c.jsonl", [{"chosen": [USER, GOOD], "rejected": [USER, BAD]}])
    with pytest.raises(InputError, match="one kind per run"):
        rows_of(tiny_llama, [{"path": str(t)}, {"path": str(c)}])


# ---------------------------------------------------------------- the CLI

def test_cli_inspect_and_preview(tmp_path: Path, tiny_llama: Path, capsys) -> None:
    from ftwizard.cli import main

    def run(args: list[str]) -> tuple[int, str]:
        with pytest.raises(SystemExit) as ex:
            main(args)
        return ex.value.code, capsys.readouterr().out

    p = write_jsonl(tmp_path / "p.jsonl", varied_rows(14, 4))
    code, out = run(["data", "inspect", str(p), "--objective", "dpo", "--model", str(tiny_llama),
                     "--block-size", "16", "--json"])
    d = json.loads(out)
    cfg = config(tiny_llama, p, block=16)
    assert code == 0 and d["objective"] == "dpo" and d["dropped"] > 0
    assert d["sequences"] == len(pd.preference_sets(cfg, LightTokenizer(tiny_llama))[0])
    code, out = run(["data", "inspect", str(p), "--objective", "dpo", "--model", str(tiny_llama),
                     "--block-size", "16", "--no-cache"])
    assert code == 0 and "pairs (training)" in out and "prompt alone is 16+ tokens" in out
    k = write_jsonl(tmp_path / "k.jsonl", [{"prompt": "The cat", "completion": " sat.",
                                            "label": False}])
    code, out = run(["data", "preview", str(k), "--objective", "kto", "--model", str(tiny_llama),
                     "--json"])
    shown = json.loads(out)
    assert code == 0 and [e["format"] for e in shown] == ["kto: completion (undesirable)"]
    code, out = run(["data", "preview", str(k), "--objective", "kto", "--model", str(tiny_llama)])
    assert code == 0 and "kto: completion (undesirable)" in out and "trained" in out
