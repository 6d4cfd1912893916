"""The events protocol: what a UI tailing a growing file must be able to rely on."""

from __future__ import annotations

import json
import math

import pytest

from ftwizard.core import events as ev


def test_writer_and_reader_round_trip(tmp_path):
    path = tmp_path / "events.jsonl"
    with ev.EventWriter(path) as w:
        w.emit("start", total_steps=5, plan=None)
        w.emit("step", step=1, loss=2.5, lr=1e-3)
        w.log("hello")
    events, offset = ev.read_events(path)
    assert [e["type"] for e in events] == ["start", "step", "log"]
    assert events[1]["loss"] == 2.5 and events[2]["text"] == "hello"
    assert all(isinstance(e["time"], float) for e in events)
    assert offset == path.stat().st_size
    again, same = ev.read_events(path, offset)
    assert again == [] and same == offset


def test_reader_leaves_a_partial_last_line_for_later(tmp_path):
    """The trainer may be half-way through a line when the UI reads."""
    path = tmp_path / "events.jsonl"
    full = json.dumps({"type": "step", "time": 1.0, "step": 1}) + "\n"
    half = '{"type": "step", "time": 2.0, "st'
    path.write_text(full + half)
    events, offset = ev.read_events(path)
    assert [e["step"] for e in events] == [1]
    assert offset == len(full.encode())
    with open(path, "a") as fh:
        fh.write('ep": 2}\n')
    more, offset2 = ev.read_events(path, offset)
    assert [e["step"] for e in more] == [2]
    assert offset2 == path.stat().st_size


def test_reader_skips_garbage_lines_and_missing_files(tmp_path):
    path = tmp_path / "events.jsonl"
    path.write_text('not json\n{"type": "end", "time": 1, "status": "finished"}\n[1, 2]\n')
    events, _ = ev.read_events(path)
    assert [e["type"] for e in events] == ["end"]
    assert ev.read_events(tmp_path / "missing.jsonl", 7) == ([], 7)


def test_nan_and_inf_become_null_not_invalid_json(tmp_path):
    """A diverging run logs NaN; json.dumps would write a token other readers reject."""
    path = tmp_path / "events.jsonl"
    with ev.EventWriter(path) as w:
        w.emit("step", step=3, loss=ev.clean_number(float("nan")),
               grad_norm=ev.clean_number(math.inf), lr=ev.clean_number(0.5))
    line = path.read_text()
    assert "NaN" not in line and "Infinity" not in line
    (event,), _ = ev.read_events(path)
    assert event["loss"] is None and event["grad_norm"] is None and event["lr"] == 0.5


def test_unknown_event_type_is_refused(tmp_path):
    with ev.EventWriter(tmp_path / "e.jsonl") as w, pytest.raises(ValueError):
        w.emit("progress", step=1)


def test_status_file_is_replaced_whole(tmp_path):
    ev.write_status(tmp_path, "running", step=3, total=10, pid=123)
    st = ev.read_status(tmp_path)
    assert st["state"] == "running" and st["step"] == 3 and st["total"] == 10 and st["pid"] == 123
    ev.write_status(tmp_path, "finished", step=10, total=10, exit_code=0)
    assert ev.read_status(tmp_path)["state"] == "finished"
    assert [p.name for p in tmp_path.iterdir()] == ["status.json"]  # no temp file left behind


def test_memory_and_tail(tmp_path):
    alloc, reserved = ev.memory_now()
    assert alloc > 10 * 2**20 and reserved >= alloc  # a Python process with pytest is > 10 MiB
    assert ev.peak_memory() >= alloc // 2
    log = tmp_path / "stdout.log"
    log.write_text("\n".join(f"line {i}" for i in range(100)))
    assert ev.tail_lines(log, 3) == ["line 97", "line 98", "line 99"]
    assert ev.tail_lines(tmp_path / "none.log") == []
