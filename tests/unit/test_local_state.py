"""Damaged local files are warned about once, on stderr, or to whoever listens (the wizard)."""

from __future__ import annotations

from pathlib import Path

from ftwizard.core import local_state


def test_a_listener_hears_warnings_instead_of_stderr(tmp_path: Path, capsys) -> None:  # noqa: ANN001
    bad = tmp_path / "status.json"
    bad.write_bytes(b"\xff\xfe not json")
    assert local_state.read_json(bad, what="run status", fix="delete it") is None
    first = capsys.readouterr().err
    assert "status.json" in first and "warning:" in first     # nobody listens: stderr

    heard: list[str] = []
    stop = local_state.listen(heard.append)
    try:
        assert any("status.json" in h for h in heard)           # the earlier one, replayed
        other = tmp_path / "runs.txt"
        other.write_text("x")
        local_state.warn(other, "not a run index", "delete it")
        assert heard[-1].startswith(str(other)) and capsys.readouterr().err == ""
        local_state.warn(other, "not a run index", "delete it")  # once per process
        assert sum(str(other) in h for h in heard) == 1
    finally:
        stop()
    local_state.warn(tmp_path / "x", "damaged", "remove it")
    assert "warning:" in capsys.readouterr().err               # stderr again once it stopped
