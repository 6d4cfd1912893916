"""`ftwizard data inspect|convert` through the real entry point: exit codes and files written."""

from __future__ import annotations

import csv
import json
import subprocess
import sys
from pathlib import Path

import pytest

from ftwizard.cli import main


def run(args: list[str], capsys) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as ex:
        main(args)
    out = capsys.readouterr()
    return ex.value.code, out.out, out.err


def test_inspect_json_with_model(tmp_path: Path, tiny_llama: Path, capsys) -> None:
    p = tmp_path / "a.jsonl"
    p.write_text("".join(json.dumps({"text": f"the cat sat {i}"}) + "\n" for i in range(20)))
    code, out, _ = run(["data", "inspect", str(p), "--model", str(tiny_llama), "--mode",
                        "entries", "--block-size", "8", "--val-split", "0.1", "--json"], capsys)
    assert code == 0
    d = json.loads(out)
    assert d["tokens_exact"] and d["sequences"] == 18 and d["validation_sequences"] == 2
    code, out, _ = run(["data", "inspect", str(p)], capsys)
    assert code == 0 and "approximate" in out and "--model" in out


@pytest.mark.parametrize("arg,needle", [
    ("{d}/a.jsonl:-1", "weight '-1' is not a positive number"),
    ("{d}/missing.csv", "no such file"),
    ("{d}/bad.jsonl", "bad.jsonl: line 2"),
    ("{d}/nocol.csv", "columns found: 'title'"),
    ("{d}/latin.txt", "byte 1 (0xe9)"),
])
def test_bad_input_exits_2_without_traceback(tmp_path: Path, capsys, arg: str, needle: str) -> None:
    (tmp_path / "a.jsonl").write_text('{"text": "x"}\n')
    (tmp_path / "bad.jsonl").write_text('{"text": "x"}\n{oops\n')
    (tmp_path / "nocol.csv").write_text("title\nx\n")
    (tmp_path / "latin.txt").write_bytes(b"d\xe9j\xe0 vu")
    code, _, err = run(["data", "inspect", arg.format(d=tmp_path)], capsys)
    assert code == 2 and needle in err and "Traceback" not in err


def test_encoding_flag_reads_latin1(tmp_path: Path, capsys) -> None:
    (tmp_path / "latin.txt").write_bytes(b"d\xe9j\xe0 vu")
    code, out, _ = run(["data", "inspect", str(tmp_path / "latin.txt"), "--encoding", "latin-1",
                        "--json"], capsys)
    assert code == 0 and json.loads(out)["characters"] == 7


def test_convert_text_to_csv_with_val_split(tmp_path: Path, capsys) -> None:
    """seed 003: newlines inside examples must survive the CSV round trip."""
    src = tmp_path / "text"
    src.mkdir()
    for i in range(10):
        (src / f"{i}.txt").write_text(f"doc {i} para one,\n\"quoted\"\n\ndoc {i} para two\r\n")
    code, out, _ = run(["data", "convert", str(src), "--out", str(tmp_path / "train.csv"),
                        "--split", "paragraphs", "--val-split", "0.1"], capsys)
    assert code == 0 and "wrote 18 rows" in out and "2 to" in out
    with (tmp_path / "train.csv").open(newline="", encoding="utf-8") as f:
        rows = list(csv.reader(f))
    assert rows[0] == ["text"] and len(rows) == 19
    assert any(r[0].startswith("doc") and '\n"quoted"' in r[0] for r in rows[1:])
    assert (tmp_path / "validation.csv").exists()
    # and the converted file reads back with the same example count
    code, out, _ = run(["data", "inspect", str(tmp_path / "train.csv"), "--json"], capsys)
    assert json.loads(out)["examples"] == 18


def test_convert_csv_to_jsonl_and_chat_refuses_csv(tmp_path: Path, capsys) -> None:
    c = tmp_path / "in.csv"
    c.write_text('prompt,completion\n"Q1\nmore",A1\nQ2,A2\n')
    code, _, _ = run(["data", "convert", str(c), "--out", str(tmp_path / "o.jsonl")], capsys)
    recs = [json.loads(x) for x in (tmp_path / "o.jsonl").read_text().splitlines()]
    assert code == 0 and recs[0] == {"prompt": "Q1\nmore", "completion": "A1"} and len(recs) == 2
    chat = tmp_path / "chat.jsonl"
    chat.write_text(json.dumps({"messages": [{"role": "user", "content": "hi"}]}) + "\n")
    code, _, err = run(["data", "convert", str(chat), "--out", str(tmp_path / "o.csv")], capsys)
    assert code == 2 and ".jsonl instead" in err


def test_cli_subprocess_clean_error() -> None:
    """The console script itself (not just main()) turns bad input into exit 2."""
    r = subprocess.run([sys.executable, "-m", "ftwizard", "data", "inspect", "/no/such/path.jsonl"],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 2 and "no such file" in r.stderr and "Traceback" not in r.stderr
