"""`data convert X --out X` used to rewrite the user's own dataset in place, keeping only the text
field (issue 13). It must refuse, whatever path spells the same file, and leave it untouched."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import pytest

from ftwizard.cli import main


def sha(p: Path) -> str:
    return hashlib.sha256(p.read_bytes()).hexdigest()


def run(args: list[str], capsys) -> tuple[int, str]:
    with pytest.raises(SystemExit) as ex:
        main(args)
    out = capsys.readouterr()
    return ex.value.code, out.out + out.err


def dataset(d: Path) -> Path:
    p = d / "train.jsonl"
    p.write_text("".join(json.dumps({"text": f"row {i}", "label": i, "id": f"x{i}"}) + "\n"
                         for i in range(10)))
    return p


@pytest.mark.parametrize("how", ["same", "relative", "symlink", "hardlink", "val-out"])
def test_convert_refuses_to_write_over_its_input(tmp_path: Path, capsys, monkeypatch,
                                                 how: str) -> None:
    src = dataset(tmp_path)
    before = sha(src)
    out = str(src)
    extra: list[str] = []
    if how == "relative":
        monkeypatch.chdir(tmp_path)
        out = "./sub/../train.jsonl"
        (tmp_path / "sub").mkdir()
    elif how == "symlink":
        link = tmp_path / "link.jsonl"
        link.symlink_to(src)
        out = str(link)
    elif how == "hardlink":
        hard = tmp_path / "hard.jsonl"
        os.link(src, hard)
        out = str(hard)
    elif how == "val-out":
        out = str(tmp_path / "new.jsonl")
        extra = ["--val-split", "0.2", "--val-out", str(src)]
    code, text = run(["data", "convert", str(src), "--out", out, *extra], capsys)
    assert code == 2, text
    assert "Traceback" not in text
    assert "train.jsonl" in text and "is one of the sources" in text
    assert "fix:" in text and "another" in text
    assert sha(src) == before
    assert not (tmp_path / "new.jsonl").exists()  # nothing half-done either


def test_convert_refuses_an_output_that_a_source_folder_holds(tmp_path: Path, capsys) -> None:
    """A folder source reads every data file in it: an --out among them is an input too."""
    folder = tmp_path / "texts"
    folder.mkdir()
    (folder / "a.txt").write_text("alpha\n")
    out = folder / "b.csv"
    out.write_text("text\nkeep me\n")
    before = sha(out)
    code, text = run(["data", "convert", str(folder), "--out", str(out)], capsys)
    assert code == 2 and "is one of the sources" in text and "Traceback" not in text
    assert sha(out) == before


def test_out_and_val_out_naming_one_file_is_refused(tmp_path: Path, capsys) -> None:
    src = dataset(tmp_path)
    out = tmp_path / "o.jsonl"
    code, text = run(["data", "convert", str(src), "--out", str(out), "--val-split", "0.2",
                      "--val-out", str(out)], capsys)
    assert code == 2 and "--val-out" in text and "same file" in text
    assert not out.exists()


def test_convert_to_a_new_file_still_works(tmp_path: Path, capsys) -> None:
    src = dataset(tmp_path)
    before = sha(src)
    code, text = run(["data", "convert", str(src), "--out", str(tmp_path / "out.jsonl")], capsys)
    assert code == 0, text
    assert sha(src) == before
    assert len((tmp_path / "out.jsonl").read_text().splitlines()) == 10
