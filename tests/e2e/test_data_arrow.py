"""Large data through Arrow (core/data_arrow.py), exercised on small files by lowering the
threshold with FTWIZARD_ARROW_THRESHOLD_BYTES: the Arrow path builds exactly the sequences of the
list path (every mode, packing, validation split, mixing; JSONL, CSV, TSV, Parquet, JSON and
folders of .txt files), trains with plan steps == trainer steps and the list path's losses, reads
JSONL and CSV without their whole text, reports bad input with the list path's own message, and a
second prepare of the same file tokenizes nothing."""

from __future__ import annotations

import csv
import json
import random
from pathlib import Path

import pytest

from backend_kit import WORDS, config, make_run
from ftwizard.core.config import from_dict

CHAT = [{"role": "system", "content": "be brief"}]


def words(rng: random.Random, n: int) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(n))


def records(n: int, seed: int, fmt: str) -> list[dict]:
    """`fmt` records with lengths from many short to a few long (some over block); some texts
    hold what a CSV must quote (commas, quotes, newlines), and an empty one is dropped."""
    rng = random.Random(seed)
    out = []
    for i in range(n):
        k = rng.choice([2, 3, 4, 5, 6, 8, 12, 30])
        if fmt == "text":
            rec = {"text": words(rng, k) + (', "said"\nthe ' + words(rng, 2) if i % 11 == 3
                                            else "")}
        elif fmt == "prompt_completion":
            rec = {"prompt": words(rng, 3), "completion": " " + words(rng, k)}
        elif fmt == "alpaca":
            rec = {"instruction": words(rng, 3), "input": words(rng, 2) if i % 3 else "",
                   "output": words(rng, k)}
        else:
            rec = {"messages": CHAT + [{"role": "user", "content": words(rng, 3)},
                                       {"role": "assistant", "content": words(rng, k)},
                                       {"role": "user", "content": words(rng, 2)},
                                       {"role": "assistant", "content": words(rng, 3)}]}
        out.append(rec)
    if fmt == "text":
        out[7] = {"text": "  "}
    return out


def write_records(path: Path, recs: list[dict]) -> Path:
    """recs in the file's format (its extension): JSONL (with blank lines), CSV, TSV, Parquet,
    JSON (a list), or a folder of .txt files (text records, one a file)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    kind = path.suffix or "folder"
    if kind == ".jsonl":
        with path.open("w") as fh:
            for i, rec in enumerate(recs):
                fh.write(json.dumps(rec) + "\n")
                if i % 37 == 5:
                    fh.write("\n")  # a blank line is not an example
    elif kind in (".csv", ".tsv"):
        with path.open("w", newline="") as fh:
            out = csv.DictWriter(fh, fieldnames=list(recs[0]),
                                 delimiter="\t" if kind == ".tsv" else ",")
            out.writeheader()
            for i, rec in enumerate(recs):
                out.writerow(rec)
                if i % 37 == 5:
                    fh.write("\r\n")  # a blank line is not an example
    elif kind == ".parquet":
        import pyarrow as pa
        import pyarrow.parquet as pq

        pq.write_table(pa.Table.from_pylist(recs), path, row_group_size=64)
    elif kind == ".json":
        path.write_text(json.dumps(recs, indent=1))
    else:
        path.mkdir()
        for i, rec in enumerate(recs):
            (path / f"{i // 100}" / f"{i:04d}.txt").parent.mkdir(exist_ok=True)
            (path / f"{i // 100}" / f"{i:04d}.txt").write_text(rec["text"])
    return path


def write_mixed(path: Path, n: int, seed: int, fmt: str) -> Path:
    """`records` in the format of path's extension (JSONL: with blank lines between)."""
    return write_records(path, records(n, seed, fmt))


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


FORMAT_CASES = {
    # name: (file or folder name, record format, data section, source keys)
    "csv-corpus": ("a.csv", "text", {"mode": "corpus", "block_size": 32}, {}),
    "tsv-entries-split": ("a.tsv", "prompt_completion",
                          {"mode": "entries", "block_size": 32, "validation": {"split": 0.1}}, {}),
    "csv-alpaca-packed": ("a.csv", "alpaca", {"mode": "entries", "block_size": 48,
                                              "packing": True}, {}),
    "csv-mapped": ("a.csv", "prompt_completion", {"mode": "entries", "block_size": 32},
                   {"columns": {"prompt": "question", "completion": "answer"}}),
    "parquet-chat-split": ("a.parquet", "messages", {"mode": "entries", "block_size": 48,
                                                     "train_on": "last_turn",
                                                     "validation": {"split": 0.1}}, {}),
    "parquet-corpus": ("a.parquet", "text", {"mode": "corpus", "block_size": 16}, {}),
    "json-entries": ("a.json", "prompt_completion", {"mode": "entries", "block_size": 32}, {}),
    "jsonl-utf16": ("a.jsonl", "messages", {"mode": "entries", "block_size": 48},
                    {"encoding": "utf-16"}),
    "txt-folder": ("docs", "text", {"mode": "corpus", "block_size": 32}, {}),
    "jsonl-tools": ("a.jsonl", "tools", {"mode": "entries", "block_size": 256,
                                         "chat_template": "qwen"}, {}),
    "mixed-folder": ("mixed", "text", {"mode": "corpus", "block_size": 16,
                                       "validation": {"split": 0.1}}, {}),
}


def tool_chat(city: str, answer: str) -> dict:
    """An OpenAI-shaped chat that calls a tool, with the tool's schema."""
    schema = {"type": "function", "function": {
        "name": "get_weather", "description": "Weather of a city",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}}}}
    call = {"id": "c1", "type": "function",
            "function": {"name": "get_weather", "arguments": json.dumps({"city": city})}}
    return {"messages": [{"role": "user", "content": f"weather in {city}?"},
                         {"role": "assistant", "content": None, "tool_calls": [call]},
                         {"role": "tool", "tool_call_id": "c1", "content": answer},
                         {"role": "assistant", "content": answer}], "tools": [schema]}


def write_case(tmp_path: Path, case: str) -> tuple[Path, dict]:
    name, fmt, _, keys = FORMAT_CASES[case]
    recs = records(240, 11, fmt)
    path = tmp_path / name
    if case == "csv-mapped":
        recs = [{"question": r["prompt"], "answer": r["completion"]} for r in recs]
    if case == "jsonl-tools":  # function calling: the schemas reach the template on both paths
        rng = random.Random(11)
        recs = [tool_chat(words(rng, 1), words(rng, 3)) for _ in range(60)]
        write_records(path, recs)
    elif case == "jsonl-utf16":
        path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in recs),
                        encoding="utf-16")
    elif case == "mixed-folder":  # one folder, four formats, read in sorted path order
        for i, ext in enumerate((".jsonl", ".csv", ".parquet", "")):
            part = recs[60 * i: 60 * (i + 1)]
            write_records(path / f"p{i}{ext}", part)
    else:
        write_records(path, recs)
    return path, keys


@pytest.mark.parametrize("case", sorted(FORMAT_CASES))
def test_every_format_gives_the_list_paths_sequences(tmp_path: Path, tiny_llama: Path,
                                                     monkeypatch: pytest.MonkeyPatch,
                                                     case: str) -> None:
    from ftwizard.core import data, data_arrow

    monkeypatch.setenv("FTWIZARD_ARROW_THRESHOLD_BYTES", "0")
    path, keys = write_case(tmp_path, case)
    cfg_dict = config(tiny_llama, path, data=dict(FORMAT_CASES[case][2]))
    cfg_dict["data"]["train"] = [{"path": str(path), **keys}]
    cfg = from_dict(cfg_dict)
    tok = data.load_tokenizer(cfg.model)
    assert data_arrow.wanted(cfg.data)
    arrow = data_arrow.prepare_arrow(cfg, tok)
    listed = data.prepare(cfg, tok)
    corpus = cfg.data.mode == "corpus"
    assert len(arrow.train) > 20
    assert rows(arrow.train) == as_lists(listed.train, corpus)
    assert rows(arrow.validation) == as_lists(listed.validation or [], corpus)
    assert len(arrow.train) == data.count_sequences(cfg, tok)


def test_jsonl_and_csv_are_never_read_whole(tmp_path: Path, tiny_llama: Path,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    """The streamed formats never go through data_sources.read_text (a file's whole text):
    with it broken, the Arrow path still reads a folder of JSONL and CSV/TSV files."""
    from ftwizard.core import data, data_arrow, data_sources

    monkeypatch.setenv("FTWIZARD_ARROW_THRESHOLD_BYTES", "0")
    folder = tmp_path / "big"
    recs = records(300, 12, "prompt_completion")
    for i, ext in enumerate((".jsonl", ".csv", ".tsv")):
        write_records(folder / f"p{i}{ext}", recs[100 * i: 100 * (i + 1)])
    cfg = from_dict(config(tiny_llama, folder, data={"mode": "entries", "block_size": 32}))
    tok = data.load_tokenizer(cfg.model)
    listed = data.prepare(cfg, tok)

    def whole(*_a, **_k):
        raise AssertionError("a streamed file was read whole")

    with monkeypatch.context() as m:
        m.setattr(data_sources, "read_text", whole)
        arrow = data_arrow.prepare_arrow(cfg, tok)
        with pytest.raises(AssertionError, match="read whole"):  # the list path does read it
            data.prepare(cfg, tok)
    assert rows(arrow.train) == listed.train


def _bad(tmp_path: Path, case: str) -> tuple[Path, dict, str]:
    """A file with one problem, its source keys, and a pattern its message must match."""
    if case in ("csv-bad-byte", "csv-bom-bad-byte", "jsonl-bad-byte"):
        ext = ".jsonl" if case.startswith("jsonl") else ".csv"
        path = write_records(tmp_path / f"t{ext}", records(200, 13, "prompt_completion"))
        raw = path.read_bytes()
        cut = raw.index(b"\n", len(raw) // 2) + 3
        raw = raw[:cut] + b"caf\xe9" + raw[cut:]        # latin-1 in a UTF-8 file
        if case == "csv-bom-bad-byte":
            raw, cut = b"\xef\xbb\xbf" + raw, cut + 3
        path.write_bytes(raw)
        return path, {}, rf"byte {cut + 3} \(0xe9\) is not valid utf-8 \(near b'.*caf\\xe9"
    if case == "jsonl-u2028":
        # U+2028 unescaped in a string is valid JSON, but the list path's splitlines() ends a
        # line there: both paths must number and refuse the same half line
        recs = records(120, 13, "text")
        path = tmp_path / "t.jsonl"
        path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in recs[:60])
                        + '{"text": "a\u2028b"}\n'
                        + "".join(json.dumps(r) + "\n" for r in recs[60:]))
        return path, {}, r"t\.jsonl: line 61, column 10: not valid JSON \(Unterminated string"
    if case == "unknown-encoding":
        path = write_records(tmp_path / "t.csv", records(50, 13, "text"))
        return path, {"encoding": "utf-99"}, "unknown encoding 'utf-99'"
    if case == "csv-no-column":
        recs = [{"body": r["text"]} for r in records(100, 13, "text")]
        return write_records(tmp_path / "t.tsv", recs), {}, "has no 'text' column; columns found"
    if case == "csv-mapped-missing":
        path = write_records(tmp_path / "t.csv", records(100, 13, "prompt_completion"))
        return path, {"columns": {"prompt": "question"}}, "columns.prompt names 'question'"
    if case == "parquet-bad-chat":
        recs = records(150, 13, "messages")
        recs[90]["messages"] = recs[90]["messages"][:2] + recs[90]["messages"][1:]  # user, user
        return (write_records(tmp_path / "t.parquet", recs), {},
                r"t\.parquet\[90\]: .*'user'")
    if case == "chat-then-bad-json":
        # a refused conversation on line 3, broken JSON further on: both paths read the whole
        # source before checking conversations, so both name the JSON line
        recs = records(150, 13, "messages")
        recs[2]["messages"] = recs[2]["messages"][:1]
        path = write_records(tmp_path / "t.jsonl", recs)
        with path.open("a") as fh:
            fh.write('{"messages": [}\n')
        return path, {}, r"t\.jsonl: line \d+, column 15: not valid JSON"
    raise AssertionError(case)


BAD = ["csv-bad-byte", "csv-bom-bad-byte", "jsonl-bad-byte", "jsonl-u2028", "unknown-encoding",
       "csv-no-column", "csv-mapped-missing", "parquet-bad-chat", "chat-then-bad-json"]


@pytest.mark.parametrize("case", BAD)
def test_bad_input_in_a_big_file_gives_the_list_paths_message(tmp_path: Path, tiny_llama: Path,
                                                              monkeypatch: pytest.MonkeyPatch,
                                                              case: str) -> None:
    from ftwizard.core import data, data_arrow
    from ftwizard.core.errors import InputError

    monkeypatch.setenv("FTWIZARD_ARROW_THRESHOLD_BYTES", "0")
    path, keys, pattern = _bad(tmp_path, case)
    cfg_dict = config(tiny_llama, path, data={"mode": "entries", "block_size": 32})
    cfg_dict["data"]["train"] = [{"path": str(path), **keys}]
    cfg = from_dict(cfg_dict)
    tok = data.load_tokenizer(cfg.model)
    with pytest.raises(InputError) as listed:
        data.prepare(cfg, tok)
    with pytest.raises(InputError) as arrow:
        data_arrow.prepare_arrow(cfg, tok)
    assert str(arrow.value) == str(listed.value)
    assert (arrow.value.field, arrow.value.value) == (listed.value.field, listed.value.value)
    assert __import__("re").search(pattern, str(arrow.value)), str(arrow.value)
    from ftwizard.core.paths import cache_dir
    assert not list((cache_dir() / "arrow").rglob("*.tmp"))   # no half-written Arrow file


@pytest.mark.e2e
@pytest.mark.parametrize("case", ["jsonl-bad-line", "csv-bad-byte"])
def test_bad_row_in_a_big_file_ends_the_run_with_exit_2(tmp_path: Path, tiny_llama: Path,
                                                         monkeypatch: pytest.MonkeyPatch,
                                                         case: str) -> None:
    """A run over a big file with a bad row (written after planning, which would refuse it):
    exit 2, the end event names the file and line (or byte), and what `ftwizard run` shows of
    the log (tracebacks folded, as for every failed run: the frames stay in stdout.log) names
    it too, without a traceback."""
    from backend_kit import end, train
    from ftwizard.core import events as ev

    ext = ".jsonl" if case.startswith("jsonl") else ".csv"
    path = write_records(tmp_path / "data" / f"train{ext}", records(200, 14, "text"))
    run_dir = make_run(tmp_path / "run", config(tiny_llama, path))   # planned on the good file
    raw = path.read_bytes()
    cut = raw.index(b"\n", len(raw) // 2) + 1
    line = raw[:cut].count(b"\n") + 1
    bad = b'{"text": "x"\n' if ext == ".jsonl" else b"caf\xe9\n"
    path.write_bytes(raw[:cut] + bad + raw[cut:])
    monkeypatch.setenv("FTWIZARD_ARROW_THRESHOLD_BYTES", "2000")
    assert train(run_dir) == 2
    want = (f"{path}: line {line}, column 13: not valid JSON" if ext == ".jsonl" else
            f"{path}: byte {cut + 3} (0xe9) is not valid utf-8")
    e = end(run_dir)
    assert e["exit_code"] == 2 and e["status"] == "failed"
    assert e["message"].startswith("InputError: data.train: " + want), e["message"]
    shown, folded = ev.fold_tracebacks(e["last_log_lines"])
    assert folded and any(want in line for line in shown)
    assert not any("Traceback" in line or line.startswith("  File ") for line in shown), shown


def _plan(cfg_dict: dict):
    from ftwizard.core.plan import data_sequences, hardware_for, make_plan

    c = from_dict(cfg_dict)
    return make_plan(c, hardware=hardware_for(c.hardware.target, c.hardware.nodes,
                                              c.hardware.host_ram_gib),
                     sequences=data_sequences(c))


@pytest.mark.e2e
@pytest.mark.parametrize("mode,ext", [("corpus", "jsonl"), ("entries", "jsonl"),
                                      ("corpus", "csv"), ("entries", "parquet")])
def test_arrow_run_trains_the_plan_with_the_list_losses(tmp_path: Path, tiny_llama: Path,
                                                        monkeypatch: pytest.MonkeyPatch,
                                                        mode: str, ext: str) -> None:
    from ftwizard.core.backends import hf

    fmt = "text" if mode == "corpus" else "messages"
    path = write_mixed(tmp_path / "data" / f"train.{ext}", 160, 5, fmt)
    cfg_dict = config(tiny_llama, path, data={"mode": mode, "block_size": 32},
                      train={"micro_batch": 4, "grad_accum": 2, "drop_last": True, "epochs": 1,
                             "max_steps": None, "log_every": 1, "save_every": 10_000})
    plan = _plan(cfg_dict)
    out = {}
    for name, limit in (("list", str(10**9)), ("arrow", "0")):
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
