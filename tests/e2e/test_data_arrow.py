"""Large data through Arrow (core/data_arrow.py), exercised on small files by lowering the
threshold with FTWIZARD_ARROW_THRESHOLD_BYTES: the Arrow path builds exactly the sequences of the
list path (every mode, packing, validation split, mixing), trains with plan steps == trainer
steps and the list path's losses, and a second prepare of the same file tokenizes nothing."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest

from backend_kit import WORDS, config, make_run
from ftwizard.core.config import from_dict

CHAT = [{"role": "system", "content": "be brief"}]


def words(rng: random.Random, n: int) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(n))


def write_mixed(path: Path, n: int, seed: int, fmt: str) -> Path:
    """JSONL of `fmt` records with lengths from many short to a few long (some over block)."""
    rng = random.Random(seed)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w") as fh:
        for i in range(n):
            k = rng.choice([2, 3, 4, 5, 6, 8, 12, 30])
            if fmt == "text":
                rec = {"text": words(rng, k)}
            elif fmt == "prompt_completion":
                rec = {"prompt": words(rng, 3), "completion": " " + words(rng, k)}
            else:
                rec = {"messages": CHAT + [{"role": "user", "content": words(rng, 3)},
                                           {"role": "assistant", "content": words(rng, k)},
                                           {"role": "user", "content": words(rng, 2)},
                                           {"role": "assistant", "content": words(rng, 3)}]}
            fh.write(json.dumps(rec) + "\n")
            if i % 37 == 5:
                fh.write("\n")  # a blank line is not an example
    return path


def rows(ds) -> list[dict]:
    return [dict(r) for r in ds] if ds is not None else []


def as_lists(seqs: list[dict], corpus: bool) -> list[dict]:
    # The Arrow corpus sequences hold input_ids only: the collator fills mask and labels
    # exactly as the list path's sequences hold them.
    if not corpus:
        return [dict(s) for s in seqs]
    return [{"input_ids": s["input_ids"]} for s in seqs]


@pytest.fixture()
def arrow_on(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FTWIZARD_ARROW_THRESHOLD_BYTES", "2000")


CASES = {
    "corpus": ({"mode": "corpus", "block_size": 32}, "text"),
    "corpus-split": ({"mode": "corpus", "block_size": 16, "validation": {"split": 0.1}}, "text"),
    "entries": ({"mode": "entries", "block_size": 32}, "prompt_completion"),
    "entries-chat-split": ({"mode": "entries", "block_size": 48, "train_on": "last_turn",
                            "validation": {"split": 0.1}}, "messages"),
    "packed-mixed": ({"mode": "entries", "block_size": 32, "packing": True}, "messages"),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_arrow_sequences_equal_the_list_path(tmp_path: Path, tiny_llama: Path, arrow_on,
                                             monkeypatch: pytest.MonkeyPatch, case: str) -> None:
    from ftwizard.core import data, data_arrow

    data_cfg, fmt = CASES[case]
    a = write_mixed(tmp_path / "a.jsonl", 300, 1, fmt)
    cfg_dict = config(tiny_llama, a, data=dict(data_cfg))
    if case == "packed-mixed":  # two sources mixed 3:1
        b = write_mixed(tmp_path / "b.jsonl", 120, 2, fmt)
        cfg_dict["data"]["train"] = [{"path": str(a), "weight": 3}, {"path": str(b)}]
    cfg = from_dict(cfg_dict)
    tok = data.load_tokenizer(cfg.model)
    assert data_arrow.wanted(cfg.data)
    arrow = data_arrow.prepare_arrow(cfg, tok)
    listed = data.prepare(cfg, tok)
    corpus = cfg.data.mode == "corpus"
    assert rows(arrow.train) == as_lists(listed.train, corpus)
    assert rows(arrow.validation) == as_lists(listed.validation or [], corpus)
    assert len(arrow.train) == data.count_sequences(cfg, tok)
    assert data_arrow.sequence_lengths(arrow.train) == data_arrow.sequence_lengths(listed.train)
    # below the threshold nothing changes: the list path
    monkeypatch.setenv("FTWIZARD_ARROW_THRESHOLD_BYTES", str(10**9))
    assert not data_arrow.wanted(cfg.data)
    train, _ = data.training_sets(cfg, tok)
    assert isinstance(train, list)


def test_second_prepare_reuses_the_cache(tmp_path: Path, tiny_llama: Path, arrow_on) -> None:
    from ftwizard.core import data, data_arrow

    path = write_mixed(tmp_path / "chat.jsonl", 200, 3, "messages")
    cfg = from_dict(config(tiny_llama, path, data={"mode": "entries", "block_size": 48}))
    tok = data.load_tokenizer(cfg.model)
    before = data_arrow.encode_calls
    first = data_arrow.prepare_arrow(cfg, tok)
    assert data_arrow.encode_calls > before          # tokenized once
    (enc_ds,) = first.encoded
    files = [Path(f["filename"]) for f in enc_ds.cache_files]
    assert files and all(f.is_file() for f in files)
    from ftwizard.core.paths import cache_dir
    assert all(cache_dir() / "arrow" in f.parents for f in files)
    calls = data_arrow.encode_calls
    second = data_arrow.prepare_arrow(cfg, data.load_tokenizer(cfg.model))
    assert data_arrow.encode_calls == calls          # the map function never ran again
    assert [f["filename"] for f in second.encoded[0].cache_files] == [str(f) for f in files]
    assert rows(second.train) == rows(first.train)
    # a changed file is a new key: tokenized again
    with path.open("a") as fh:
        fh.write(json.dumps({"messages": CHAT + [{"role": "user", "content": "a"},
                                                 {"role": "assistant", "content": "b"}]}) + "\n")
    third = data_arrow.prepare_arrow(cfg, tok)
    assert data_arrow.encode_calls > calls and len(third.train) == len(first.train) + 1


def test_bad_record_in_a_big_file_names_file_and_line(tmp_path: Path, tiny_llama: Path,
                                                       arrow_on) -> None:
    from ftwizard.core import data, data_arrow
    from ftwizard.core.errors import InputError

    path = write_mixed(tmp_path / "t.jsonl", 100, 4, "text")
    with path.open("a") as fh:
        fh.write("{not json\n")
    cfg = from_dict(config(tiny_llama, path))
    with pytest.raises(InputError, match=r"t\.jsonl: line \d+, column 2: not valid JSON"):
        data_arrow.prepare_arrow(cfg, data.load_tokenizer(cfg.model))


def _plan(cfg_dict: dict):
    from ftwizard.core.plan import data_sequences, hardware_for, make_plan

    c = from_dict(cfg_dict)
    return make_plan(c, hardware=hardware_for(c.hardware.target, c.hardware.nodes,
                                              c.hardware.host_ram_gib),
                     sequences=data_sequences(c))


@pytest.mark.e2e
@pytest.mark.parametrize("mode", ["corpus", "entries"])
def test_arrow_run_trains_the_plan_with_the_list_losses(tmp_path: Path, tiny_llama: Path,
                                                        monkeypatch: pytest.MonkeyPatch,
                                                        mode: str) -> None:
    from ftwizard.core.backends import hf

    fmt = "text" if mode == "corpus" else "messages"
    path = write_mixed(tmp_path / "data" / "train.jsonl", 160, 5, fmt)
    cfg_dict = config(tiny_llama, path, data={"mode": mode, "block_size": 32},
                      train={"micro_batch": 4, "grad_accum": 2, "drop_last": True, "epochs": 1,
                             "max_steps": None, "log_every": 1, "save_every": 10_000})
    plan = _plan(cfg_dict)
    out = {}
    for name, limit in (("list", str(10**9)), ("arrow", "2000")):
        monkeypatch.setenv("FTWIZARD_ARROW_THRESHOLD_BYTES", limit)
        run = make_run(tmp_path / name, cfg_dict)
        out[name] = hf.train(from_dict(cfg_dict), run)
        assert out[name].status == "finished"
    arrow_ds = out["arrow"].trainer.train_dataset
    assert hasattr(arrow_ds, "cache_files") and arrow_ds.cache_files   # Arrow reached the Trainer
    assert isinstance(out["list"].trainer.train_dataset, list)
    for o in out.values():
        assert o.trainer.state.max_steps == plan.steps.total
        assert o.trainer.state.global_step == plan.steps.total
    assert len(arrow_ds) == plan.steps.sequences - plan.steps.dropped_samples
    losses = {k: [h["loss"] for h in o.trainer.state.log_history if "loss" in h]
              for k, o in out.items()}
    assert len(losses["arrow"]) == plan.steps.total
    assert losses["arrow"] == pytest.approx(losses["list"], rel=1e-6, abs=1e-7)


def test_several_processes_tokenize_the_same(tmp_path: Path, tiny_llama: Path, arrow_on,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    """A big file is tokenized in one process per SHARD_BYTES (at most one per CPU): the
    sequences are those of the list path, and the shards are cached like one file."""
    import os

    from ftwizard.core import data, data_arrow

    if (os.cpu_count() or 1) < 2:
        pytest.skip("one CPU: one process")
    monkeypatch.setattr(data_arrow, "SHARD_BYTES", 4000)
    path = write_mixed(tmp_path / "chat.jsonl", 200, 6, "messages")
    cfg = from_dict(config(tiny_llama, path, data={"mode": "entries", "block_size": 48,
                                                  "packing": True}))
    tok = data.load_tokenizer(cfg.model)
    calls = data_arrow.encode_calls
    first = data_arrow.prepare_arrow(cfg, tok)
    assert data_arrow.encode_calls == calls          # the workers tokenized, not this process
    assert len(first.encoded[0].cache_files) == 2
    assert rows(first.train) == [dict(s) for s in data.prepare(cfg, tok).train]
    shards = [Path(f["filename"]) for f in first.encoded[0].cache_files]
    written = [f.stat().st_mtime_ns for f in shards]
    again = data_arrow.prepare_arrow(cfg, tok)
    assert again.encoded[0].cache_files == first.encoded[0].cache_files
    assert [f.stat().st_mtime_ns for f in shards] == written   # read back, not written again
    assert rows(again.train) == rows(first.train)
