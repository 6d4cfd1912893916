"""output.report_to: the tracker holds the events' own figures (core/trackers.py).

The writer-level tests feed real events (core/events.py's writer into a run dir) through the
tracked writer and read each tracker's files back with the tracker's own reader: tensorboard's
EventAccumulator, the offline wandb transaction log, mlflow's client. The tiny runs train for real
on the CPU with report_to tensorboard and wandb offline, and compare the tracker's losses with the
events' step losses. Nothing leaves the machine: wandb is offline, mlflow a file store.
"""

from __future__ import annotations

import json
import struct
import subprocess
import sys
import time
import types
from pathlib import Path

import pytest

from ftwizard.core import events as ev
from ftwizard.core import trackers

FAKE_KEY = "0123456789abcdef0123456789abcdef0fake9key"   # wandb's 40-hex shape, never real

STEPS = [  # (step, loss, lr): a learning curve as a backend would write it
    (1, 3.25, 1e-4), (2, 3.0078125, 2e-4), (3, 2.71875, 3e-4), (4, 2.5, 2.5e-4), (5, 2.3125, 1e-4)]


def _cfg(report_to: str, name: str = "tracked") -> types.SimpleNamespace:
    """The two fields trackers.tracked reads, plus a config dump (a RunConfig has all three)."""
    return types.SimpleNamespace(output=types.SimpleNamespace(report_to=report_to), name=name,
                                 model_dump=lambda mode: {"train": {"lr": 3e-4}, "name": name})


def _feed(run_dir: Path, report_to: str) -> list[dict]:
    """Writes a start, five steps and an eval through the tracked writer; returns the events."""
    log_lines: list[str] = []
    with ev.EventWriter(run_dir / ev.EVENTS_FILE) as raw:
        w = trackers.tracked(raw, _cfg(report_to), run_dir, log=log_lines.append)
        w.emit("start", total_steps=5, plan={"memory": {"per_device_bytes": 3 * 1024**3}})
        for step, loss, lr in STEPS:
            w.emit("step", step=step, total=5, loss=loss, lr=lr, grad_norm=0.5,
                   tokens_per_s=1000.0 + step, mem_allocated=2 * 1024**3, eta_s=5.0 - step)
        w.emit("eval", step=5, eval_loss=2.40625)
        if isinstance(w, trackers.TrackedWriter):
            w.finish(True)
    return ev.read_events(run_dir / ev.EVENTS_FILE)[0]


def _step_losses(evts: list[dict]) -> dict[int, float]:
    return {e["step"]: e["loss"] for e in evts if e["type"] == "step" and e.get("loss") is not None}


def _eval_losses(evts: list[dict]) -> dict[int, float]:
    return {e["step"]: e["eval_loss"] for e in evts if e["type"] == "eval"}


# ---------------------------------------------------------------------------- readers

def tensorboard_scalars(log_dir: Path) -> dict[str, dict[int, float]]:
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    acc = EventAccumulator(str(log_dir), size_guidance={"scalars": 0})
    acc.Reload()
    return {tag: {s.step: s.value for s in acc.Scalars(tag)} for tag in acc.Tags()["scalars"]}


def wandb_records(run_file: Path) -> list:
    """The protobuf records of an offline run's .wandb file (a LevelDB-style log: 7-byte file
    header, 32 KiB blocks, each record chunk with a crc/length/type header)."""
    from wandb.proto import wandb_internal_pb2 as pb

    data = run_file.read_bytes()
    assert data[:4] == b":W&B", data[:7]
    pos, block, buf, out = 7, 32768, b"", []
    while pos + 7 <= len(data):
        left = block - pos % block
        if left < 7:
            pos += left
            continue
        _crc, length, kind = struct.unpack("<IHB", data[pos:pos + 7])
        if kind == 0 and length == 0:
            pos += left
            continue
        buf += data[pos + 7:pos + 7 + length]
        pos += 7 + length
        if kind in (1, 4):   # FULL or LAST
            rec = pb.Record()
            rec.ParseFromString(buf)
            out.append(rec)
            buf = b""
    return out


def wandb_history(wandb_dir: Path) -> tuple[str, dict[str, dict[int, float]]]:
    """(project, {key: {step: value}}) of the one offline run under `wandb_dir`."""
    runs = sorted(wandb_dir.glob("wandb/offline-run-*/run-*.wandb"))
    assert len(runs) == 1, runs
    # wandb's service process writes the file: read it once it holds the run's `exit` record
    # (finish() may return before a loaded machine has flushed it), never on a clock.
    deadline = time.monotonic() + 300
    records = wandb_records(runs[0])
    while not any(r.WhichOneof("record_type") == "exit" for r in records):
        assert time.monotonic() < deadline, [r.WhichOneof("record_type") for r in records]
        time.sleep(0.2)
        records = wandb_records(runs[0])
    project, series = "", {}
    for rec in records:
        kind = rec.WhichOneof("record_type")
        if kind == "run":   # a run record may come again later without its project: keep the first
            project = project or rec.run.project
        elif kind == "history":
            row = {(i.key or "/".join(i.nested_key)): json.loads(i.value_json) for i in rec.history.item}
            step = row.pop("_step")
            for key, value in row.items():
                if not key.startswith("_"):
                    series.setdefault(key, {})[step] = value
    return project, series


def _grep(folder: Path, needle: str) -> list[Path]:
    return [p for p in folder.rglob("*") if p.is_file() and needle.encode() in p.read_bytes()]


@pytest.fixture
def wandb_offline(tmp_path, monkeypatch) -> Path:
    """wandb on, offline, its files in tmp, a fake key in the environment (conftest turns it off)."""
    wdir = tmp_path / "wandb-dir"
    monkeypatch.delenv("WANDB_DISABLED", raising=False)
    monkeypatch.setenv("WANDB_MODE", "offline")
    monkeypatch.setenv("WANDB_DIR", str(wdir))
    monkeypatch.setenv("WANDB_API_KEY", FAKE_KEY)
    monkeypatch.setenv("WANDB_PROJECT", "seed004-testing")
    monkeypatch.setenv("WANDB_SILENT", "true")
    return wdir


# ---------------------------------------------------------------------------- writer level

def test_tensorboard_files_hold_the_events_figures(tmp_path):
    pytest.importorskip("tensorboard")
    run = tmp_path / "run"
    evts = _feed(run, "tensorboard")
    got = tensorboard_scalars(run / trackers.TENSORBOARD_DIR)
    # TensorBoard stores float32: the same numbers to float32's precision.
    assert got["train/loss"] == pytest.approx(_step_losses(evts), rel=1e-6)
    assert got["eval/loss"] == pytest.approx(_eval_losses(evts), rel=1e-6)
    assert got["train/learning_rate"] == pytest.approx({s: lr for s, _, lr in STEPS}, rel=1e-6)
    assert got["train/tokens_per_s"] == pytest.approx({s: 1000.0 + s for s, _, _ in STEPS})
    assert got["train/memory_gib"] == pytest.approx({s: 2.0 for s, _, _ in STEPS})
    assert got["train/memory_estimate_gib"] == pytest.approx({0: 3.0})


def test_wandb_offline_holds_the_events_figures_and_no_key(wandb_offline, tmp_path):
    pytest.importorskip("wandb")
    run = tmp_path / "run"
    evts = _feed(run, "wandb")
    project, got = wandb_history(wandb_offline)
    assert project == "seed004-testing"            # WANDB_PROJECT, as seed 004 sets it
    assert got["train/loss"] == _step_losses(evts)  # JSON floats: exactly the events' numbers
    assert got["eval/loss"] == _eval_losses(evts)
    assert got["train/learning_rate"] == {s: lr for s, _, lr in STEPS}
    assert _grep(run, FAKE_KEY) == [] and _grep(wandb_offline, FAKE_KEY) == []


def test_wandb_disabled_is_respected(wandb_offline, tmp_path, monkeypatch):
    """Seed 004: `export WANDB_DISABLED=true` turns wandb off; the run says so and goes on."""
    pytest.importorskip("wandb")
    monkeypatch.setenv("WANDB_DISABLED", "true")
    run = tmp_path / "run"
    evts = _feed(run, "wandb")
    assert not list(wandb_offline.glob("wandb/*run-*")), "WANDB_DISABLED=true still started wandb"
    assert any("WANDB_DISABLED" in (e.get("text") or "") for e in evts if e["type"] == "log")
    assert len(_step_losses(evts)) == len(STEPS)   # the events themselves are untouched


def test_mlflow_file_store_holds_the_events_losses(tmp_path, monkeypatch):
    pytest.importorskip("mlflow")
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    run = tmp_path / "run"
    evts = _feed(run, "mlflow")
    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri=(run / trackers.MLFLOW_DIR).resolve().as_uri())
    (found,) = client.search_runs(experiment_ids=["0"])
    assert found.info.status == "FINISHED"
    hist = {m.step: m.value for m in client.get_metric_history(found.info.run_id, "train/loss")}
    assert hist == _step_losses(evts)


def test_a_missing_tracker_costs_a_log_line_not_the_run(tmp_path, monkeypatch):
    """A tracker that is not installed: the events are all there, and a line says how to fix it."""
    monkeypatch.setitem(sys.modules, "mlflow", None)   # import mlflow -> ImportError
    evts = _feed(tmp_path / "run", "mlflow")
    assert len(_step_losses(evts)) == len(STEPS)
    assert any("pip install 'ftwizard[trackers]'" in (e.get("text") or "")
               for e in evts if e["type"] == "log")


def test_report_to_none_leaves_the_writer_alone(tmp_path):
    with ev.EventWriter(tmp_path / ev.EVENTS_FILE) as raw:
        assert trackers.tracked(raw, _cfg("none"), tmp_path) is raw
        assert trackers.tracked(None, _cfg("wandb"), tmp_path) is None   # not rank 0


# ---------------------------------------------------------------------------- tiny real runs

def _train(tmp_path: Path, model: Path, report_to: str, env: dict[str, str]) -> tuple[Path, list]:
    from backend_kit import config, finished, log_tail, make_run, write_data

    data = write_data(tmp_path / "data", n=120)
    run = make_run(tmp_path / "run", config(model, data, train={"max_steps": 6},
                                            output={"report_to": report_to}))
    with open(run / "stdout.log", "ab") as log:
        p = subprocess.run([sys.executable, "-m", "ftwizard.core.train", str(run)], stdout=log,
                           stderr=subprocess.STDOUT, env=env, timeout=600, check=False)
    evts = finished(run, p.returncode)
    assert len(_step_losses(evts)) == 6, log_tail(run)
    return run, evts


def _env(**extra: str) -> dict[str, str]:
    from backend_kit import env

    e = env(**extra)
    if extra.get("WANDB_DISABLED") is None:
        e.pop("WANDB_DISABLED", None)
    return e


def test_tiny_run_reports_to_tensorboard(tmp_path, tiny_llama):
    pytest.importorskip("tensorboard")
    run, evts = _train(tmp_path, tiny_llama, "tensorboard", _env())
    got = tensorboard_scalars(run / trackers.TENSORBOARD_DIR)
    assert got["train/loss"] == pytest.approx(_step_losses(evts), rel=1e-6)
    lrs = {e["step"]: e["lr"] for e in evts if e["type"] == "step"}
    assert got["train/learning_rate"] == pytest.approx(lrs, rel=1e-6)
    # the end event is written after the tracker closes: its peak still reaches the tracker, on
    # the same counter (peak RSS here, which only grows: within a few % of the end event's)
    end = [e for e in evts if e["type"] == "end"][-1]
    assert got["end/peak_memory_gib"] == pytest.approx({6: end["peak_bytes"] / 2**30}, rel=0.05)


def test_tiny_run_reports_to_wandb_offline(tmp_path, tiny_llama):
    pytest.importorskip("wandb")
    wdir = tmp_path / "wandb-dir"
    env = _env(WANDB_MODE="offline", WANDB_DIR=str(wdir), WANDB_API_KEY=FAKE_KEY,
               WANDB_PROJECT="seed004-testing", WANDB_SILENT="true")
    run, evts = _train(tmp_path, tiny_llama, "wandb", env)
    project, got = wandb_history(wdir)
    assert project == "seed004-testing"
    assert got["train/loss"] == _step_losses(evts)
    assert _grep(run, FAKE_KEY) == [] and _grep(wdir, FAKE_KEY) == []
