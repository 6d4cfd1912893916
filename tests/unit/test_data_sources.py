"""Reading every dataset format, including the nasty files that break hand-made recipes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ftwizard.core.config import DataSource
from ftwizard.core.data import Example, iter_examples
from ftwizard.core.errors import InputError


def read(path: Path | str, **kw) -> list[Example]:
    return list(iter_examples(DataSource(path=str(path), **kw)))


def test_txt_folder_recursive_one_example_per_file(tmp_path: Path) -> None:
    (tmp_path / "sub").mkdir()
    (tmp_path / "a.txt").write_text("first\n\nparagraph two")
    (tmp_path / "sub" / "b.txt").write_text("second")
    (tmp_path / ".hidden.txt").write_text("skip me")
    (tmp_path / "notes.bin").write_bytes(b"\x00\x01")
    exs = read(tmp_path)
    assert [e.text for e in exs] == ["first\n\nparagraph two", "second"]


def test_csv_multiline_bom_crlf(tmp_path: Path) -> None:
    p = tmp_path / "train.csv"
    body = 'id,text\r\n1,"line one\r\nline two, with comma"\r\n2,"say ""hi"""\r\n3,plain\r\n'
    p.write_bytes("\ufeff".encode() + body.encode())
    exs = read(p)
    assert [e.text for e in exs] == ["line one\r\nline two, with comma", 'say "hi"', "plain"]


def test_tsv_and_custom_text_field(tmp_path: Path) -> None:
    p = tmp_path / "d.tsv"
    p.write_text("body\tlabel\nhello there\t1\nbye\t0\n")
    assert [e.text for e in read(p, text_field="body")] == ["hello there", "bye"]


def test_csv_without_text_column_lists_columns(tmp_path: Path) -> None:
    p = tmp_path / "d.csv"
    p.write_text("title,body\nA,B\n")
    with pytest.raises(InputError) as err:
        read(p)
    assert "'title', 'body'" in str(err.value) and "text_field" in str(err.value)


def test_jsonl_shapes_and_bad_line(tmp_path: Path) -> None:
    recs = [{"text": "plain"}, {"prompt": "Q?", "completion": " A."},
            {"messages": [{"role": "user", "content": "hi"},
                          {"role": "assistant", "content": "hello"}]}]
    exs = []
    for i, r in enumerate(recs):
        (tmp_path / f"d{i}.jsonl").write_text("\n" + json.dumps(r) + "\n")
        exs += read(tmp_path / f"d{i}.jsonl")
    assert [e.kind for e in exs] == ["text", "prompt", "chat"]
    assert exs[1].prompt == "Q?" and exs[1].completion == " A."
    assert exs[0].source.endswith("d0.jsonl:2")
    mixed = tmp_path / "mixed.jsonl"
    mixed.write_text("\n".join(json.dumps(r) for r in recs))
    with pytest.raises(InputError, match=r"mixed.jsonl:2: this record is prompt/completion but "
                                         r".*mixed.jsonl:1 is text"):
        read(mixed)
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"text": "ok"}\n{"text": "ok"}\n{"text": broken}\n')
    with pytest.raises(InputError) as err:
        read(bad)
    assert "bad.jsonl: line 3" in str(err.value)


def test_jsonl_record_without_known_field(tmp_path: Path) -> None:
    p = tmp_path / "d.jsonl"
    p.write_text('{"body": "x", "id": 1}\n')
    with pytest.raises(InputError, match="fields found: body, id"):
        read(p)


def test_json_list_and_json_lines_in_json(tmp_path: Path) -> None:
    a = tmp_path / "a.json"
    a.write_text(json.dumps({"data": [{"text": "x"}, {"text": "y"}]}))
    b = tmp_path / "b.json"
    b.write_text('{"text": "x"}\n{"text": "z"}\n')
    assert [e.text for e in read(a)] == ["x", "y"]
    assert [e.text for e in read(b)] == ["x", "z"]


def test_latin1_bytes_reported_with_offset_then_readable(tmp_path: Path) -> None:
    p = tmp_path / "old.txt"
    p.write_bytes(b"caf\xe9 au lait")
    with pytest.raises(InputError) as err:
        read(p)
    msg = str(err.value)
    assert "old.txt: byte 3 (0xe9)" in msg and "latin-1" in msg
    assert read(p, encoding="latin-1")[0].text == "café au lait"


def test_missing_path_and_empty_folder(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="no such file"):
        read(tmp_path / "nope.jsonl")
    (tmp_path / "empty").mkdir()
    with pytest.raises(InputError, match="it is empty"):
        read(tmp_path / "empty")
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "x.bin").write_bytes(b"1")
    with pytest.raises(InputError, match="found only .bin"):
        read(tmp_path / "other")


def test_parquet_and_hf_saved_folder(tmp_path: Path) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    pq.write_table(pa.table({"text": ["a b", "c"], "n": [1, 2]}), tmp_path / "d.parquet")
    assert [e.text for e in read(tmp_path / "d.parquet")] == ["a b", "c"]
    pq.write_table(pa.table({"body": ["a"]}), tmp_path / "e.parquet")
    with pytest.raises(InputError, match="columns found: body"):
        read(tmp_path / "e.parquet")

    import datasets

    datasets.Dataset.from_dict({"text": ["one", "two", "three"]}).save_to_disk(str(tmp_path / "ds"))
    assert [e.text for e in read(f"hf:{tmp_path / 'ds'}")] == ["one", "two", "three"]
    with pytest.raises(InputError, match="cannot load it offline"):
        read("hf:surely-not-a-cached-dataset-xyz")
