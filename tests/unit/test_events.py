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
    now = ev.step_memory()                 # no GPU here: the process RSS, the CPU estimate's counter
    assert set(now) == {"rss_bytes"} and now["rss_bytes"] > 10 * 2**20  # pytest is > 10 MiB
    peak = ev.end_memory()
    assert peak["counter"] == "rss" and peak["peak_bytes"] >= now["rss_bytes"] // 2
    log = tmp_path / "stdout.log"
    log.write_text("\n".join(f"line {i}" for i in range(100)))
    assert ev.tail_lines(log, 3) == ["line 97", "line 98", "line 99"]
    assert ev.tail_lines(tmp_path / "none.log") == []


def test_progress_folds_a_resumed_run_on_the_estimates_counter(tmp_path):
    """One reducer: a start after an end clears it; memory is the estimate's counter and says so."""
    path = tmp_path / ev.EVENTS_FILE
    with ev.EventWriter(path) as w:
        ev.emit_start(w, run="r", total_steps=4, plan={"memory": {"per_device_bytes": 100,
                                                                  "capacity_bytes": 1000}})
        w.emit("step", step=1, total=4, loss=2.0, lr=1e-3, rss_bytes=80)
        w.emit("eval", step=1, eval_loss=2.5)
        w.emit("checkpoint", step=1, path="c1", bytes=1)
    ev.end_run(tmp_path, status="stopped", exit_code=0, step=1, peak_bytes=90, counter="rss",
               estimate_bytes=100)
    events = ev.read_events(path)[0]
    assert [k for k in events[0] if k not in ("type", "time")][:len(ev.START_KEYS)] == list(ev.START_KEYS)
    p = ev.Progress().fold_all(events)
    assert p.ended and p.end["status"] == "stopped" and ev.read_status(tmp_path)["state"] == "stopped"
    assert (p.step, p.total, p.loss, p.eval_loss, p.checkpoints) == (1, 4, 2.0, 2.5, 1)
    assert (p.mem_bytes, p.mem_counter, p.estimate_bytes, p.capacity_bytes) == (90, "rss", 100, 1000)
    assert "RSS" in p.counter_text
    with ev.EventWriter(path) as w:
        ev.emit_start(w, run="r", total_steps=4, resumed_from=1)
        w.emit("step", step=2, total=4, loss=1.5, device_used_bytes=300, allocated_bytes=200)
    p.fold_all(ev.read_events(path)[0][len(events):])
    assert not p.ended and p.step == 2 and p.loss_history == [(1, 2.0), (2, 1.5)]
    assert (p.mem_bytes, p.mem_counter) == (300, "device_used")   # not torch's 200


def test_progress_reads_runs_written_before_the_bytes_names():
    """Old run dirs still attach: mem_allocated / peak_mem / estimate_mem / peak_device_used."""
    old_cpu = [{"type": "step", "step": 3, "total": 3, "mem_allocated": 70, "mem_reserved": 70},
               {"type": "end", "status": "finished", "step": 3, "peak_mem": 75, "estimate_mem": 80}]
    p = ev.Progress().fold_all(old_cpu[:1])
    assert (p.mem_bytes, p.mem_counter) == (70, "rss")
    p.fold_all(old_cpu[1:])
    assert (p.mem_bytes, p.mem_counter, p.estimate_bytes) == (75, "rss", 80)
    old_gpu = {"type": "end", "status": "finished", "step": 3, "peak_mem": 50,
               "peak_reserved": 60, "peak_device_used": 70, "estimate_mem": 80}
    assert ev.memory_on_counter(old_gpu) == (70, "device_used")
    assert ev.memory_on_counter({"type": "step", "mem_allocated": 5, "mem_reserved": 9}) == (5, "allocated")


def test_end_run_is_the_one_end_writer(tmp_path):
    with pytest.raises(ValueError):
        ev.end_run(tmp_path, status="exploded", exit_code=1, step=0)
    e = ev.end_run(tmp_path, status="failed", exit_code=1, step=2, message="boom", total=5)
    assert e["type"] == "end" and ev.read_status(tmp_path)["message"] == "boom"
    assert ev.last_of(ev.read_events(tmp_path / ev.EVENTS_FILE)[0], "end")["exit_code"] == 1


def test_fold_tracebacks_keeps_what_the_run_said_and_the_exception_line() -> None:
    lines = ["step 1/4  loss 5.98", "Traceback (most recent call last):",
             '  File "trainer.py", line 1576, in train', "    return inner_training_loop(",
             "           ^^^^^^^^^^^^", "KeyError: 'x'", "",
             "During handling of the above exception, another exception occurred:", "",
             "Traceback (most recent call last):", '  File "train.py", line 3, in main',
             "OSError: [Errno 28] No space left on device", "after"]
    kept, folded = ev.fold_tracebacks(lines)
    assert folded
    assert kept == ["step 1/4  loss 5.98", "KeyError: 'x'",
                    "OSError: [Errno 28] No space left on device", "after"]


def test_fold_tracebacks_drops_a_traceback_cut_short_and_leaves_plain_logs_alone() -> None:
    # a full disk stopped the log right after the traceback's first line (seen in CI)
    assert ev.fold_tracebacks(["step 1/4", "Traceback (most recent call last):"]) == (["step 1/4"], True)
    plain = ["  indented progress line", "step 2/4"]
    assert ev.fold_tracebacks(plain) == (plain, False)


def test_fold_tracebacks_when_the_window_starts_inside_the_frames() -> None:
    lines = ["    self.save_model(output_dir)", '  File "trainer.py", line 4133, in save_model',
             "    self._save(output_dir)", "safetensors.SafetensorError: I/O error: File too large"]
    assert ev.fold_tracebacks(lines) == (["safetensors.SafetensorError: I/O error: File too large"], True)
