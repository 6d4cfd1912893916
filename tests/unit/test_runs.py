"""Run dirs, fingerprints, secrets and run states, without training.

The process tests use stand-in launch.sh scripts (sleep, print, wait for the stop file), so they
check the real session, supervisor, redacting pipe and state logic in seconds.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from ftwizard.core import events as ev
from ftwizard.core import runs
from ftwizard.core.config import load_config, parse_config
from ftwizard.core.errors import InputError
from ftwizard.core.fingerprint import changes, describe, fingerprint
from ftwizard.core.hardware import from_target
from ftwizard.core.secrets import Redactor, redact_text, safe_environment, secret_names

FAKE_HF = "hf_FAKEtokenForTests0123456789"
FAKE_WANDB = "0123456789abcdef0123456789abcdef01234567"
FAKE_PW = "correct-horse-battery"


def make_cfg(tmp_path: Path, name: str = "r1", **extra: str):
    text = f"name: {name}\nmodel: {{name: tiny-llama, dtype: fp32}}\noutput: {{dir: {tmp_path / 'runs'}}}\n"
    return parse_config(text, [f"{k}={v}" for k, v in extra.items()])


# ---------------------------------------------------------------------------- secrets

def test_redactor_hides_env_values_and_token_shapes() -> None:
    env = {"HF_TOKEN": FAKE_HF, "WANDB_API_KEY": FAKE_WANDB, "DB_PASSWORD": FAKE_PW,
           "HOME": "/root", "HF_TOKEN_PATH": "/root/.cache/token", "SHORT_KEY": "1"}
    assert secret_names(env) == ["DB_PASSWORD", "HF_TOKEN", "WANDB_API_KEY"]
    r = Redactor(env=env)
    text = f"a {FAKE_HF} b {FAKE_WANDB} c {FAKE_PW} d sk-abcdefghijklmnop1234 home /root"
    out = r.text(text)
    assert FAKE_HF not in out and FAKE_WANDB not in out and FAKE_PW not in out
    assert "sk-abc" not in out and "home /root" in out and out.count("***") == 4
    assert r.bytes(text.encode()) == out.encode()
    # token shapes are hidden even when no variable holds them
    assert redact_text("x hf_abcdefghijklmnopqrs y", env={}) == "x *** y"
    assert "HF_TOKEN" not in safe_environment(env) and "HOME" in safe_environment(env)


# ---------------------------------------------------------------------------- fingerprints

def test_fingerprint_and_changes() -> None:
    big = fingerprint(from_target("A100-80GB x8"))
    small = fingerprint(from_target("A100-40GB x4"))
    assert big["count"] == 8 and big["memory_gib"] == pytest.approx(80, abs=1.5) and big["nodes"] == 1
    assert changes(big, big) == [] and changes(None, big) == []
    diff = changes(big, small)
    assert any(d.startswith("devices per node: 8 -> 4") for d in diff)
    assert any(d.startswith("memory per device") for d in diff)
    assert describe(big).startswith("8 x ")


# ---------------------------------------------------------------------------- run dirs

def test_run_dir_refuses_reuse_unless_asked(tmp_path: Path) -> None:
    cfg = make_cfg(tmp_path)
    d = runs.create_run_dir(cfg)
    assert d == (tmp_path / "runs" / "r1").resolve() and runs.run_state(d).state == "created"
    (d / "config.yaml").write_text(cfg.to_yaml())
    assert runs.create_run_dir(cfg) == d           # only written (a dry run): reused
    ev.write_status(d, "finished", step=5, total=5, pid=0)
    with pytest.raises(InputError, match="already holds a run") as err:
        runs.create_run_dir(cfg)
    assert "--overwrite" in err.value.fix and "resume" in err.value.fix
    assert runs.unique_name(cfg) == "r1-2"
    assert runs.create_run_dir(cfg, resume=True) == d and (d / "status.json").exists()
    assert runs.create_run_dir(cfg, overwrite=True) == d and not (d / "status.json").exists()
    other = tmp_path / "runs" / "notarun"
    other.mkdir()
    (other / "precious.txt").write_text("x")
    with pytest.raises(InputError, match="not a run dir"):
        runs.create_run_dir(cfg, name="notarun", overwrite=True)
    assert (other / "precious.txt").exists()
    with pytest.raises(InputError, match="nothing to resume"):
        runs.create_run_dir(cfg, name="new", resume=True)
    with pytest.raises(InputError):
        runs.create_run_dir(cfg, name="../escape")


def test_prepare_writes_resolved_config_launch_and_fingerprint(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "data.txt").write_text("hello world\n")
    monkeypatch.setenv("HF_TOKEN", FAKE_HF)
    monkeypatch.setenv("WANDB_API_KEY", FAKE_WANDB)
    cfg = make_cfg(tmp_path, **{"data.train": "data.txt", "description": f"uses {FAKE_HF}"})
    hw = from_target("cpu") if _has_cpu_target() else None
    d = runs.create_run_dir(cfg)
    out = runs.write_run_files(cfg, d, hardware=hw)
    saved = load_config(d / "config.yaml")
    assert saved.data.train[0].path == str(tmp_path / "data.txt")
    assert saved.hardware.planned_on == out.config.hardware.planned_on is not None
    assert json.loads((d / "hardware.json").read_text())["fingerprint"] == saved.hardware.planned_on
    launch = (d / "launch.sh").read_text()
    assert "HF_TOKEN, WANDB_API_KEY" in launch         # named ...
    for f in d.iterdir():                               # ... never written
        body = f.read_bytes()
        assert FAKE_HF.encode() not in body and FAKE_WANDB.encode() not in body, f
    assert subprocess.run(["bash", "-n", str(d / "launch.sh")]).returncode == 0
    assert launch.rstrip().endswith('-m ftwizard.core.train "$RUN_DIR" "$@"')
    assert str(d) not in launch                          # relocatable: no absolute run dir


def _has_cpu_target() -> bool:
    try:
        from_target("cpu")
        return True
    except InputError:
        return False


# ---------------------------------------------------------------------------- processes

def fake_run(tmp_path: Path, script: str, name: str = "fake") -> Path:
    d = tmp_path / "runs" / name
    d.mkdir(parents=True)
    (d / "launch.sh").write_text("#!/bin/bash\n" + script + "\n")
    return d


def test_pipe_redacts_what_the_child_prints(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("HF_TOKEN", FAKE_HF)
    monkeypatch.setenv("MY_DB_PASSWORD", FAKE_PW)
    d = fake_run(tmp_path, 'echo "token=$HF_TOKEN pw=$MY_DB_PASSWORD"; env | grep -c PASSWORD; '
                           'echo to-stderr >&2')
    runs.spawn(d)
    info = runs.wait_run(d, timeout=20)
    log = (d / "stdout.log").read_text()
    assert "token=*** pw=***" in log and "to-stderr" in log       # the child did see them
    assert FAKE_HF not in log and FAKE_PW not in log
    assert info.state == "finished"


def test_failure_without_end_event_is_reported(tmp_path: Path) -> None:
    d = fake_run(tmp_path, "echo boom; exit 7")
    runs.spawn(d)
    info = runs.wait_run(d, timeout=20)
    assert info.state == "failed" and info.exit_code == 7
    end = ev.last_of(ev.read_events(d / "events.jsonl")[0], "end")
    assert end["status"] == "failed" and "boom" in end["last_log_lines"]


def test_run_survives_sighup_of_the_launching_session(tmp_path: Path) -> None:
    """The launcher lives in a 'terminal' session that is hung up and killed; the run goes on."""
    d = fake_run(tmp_path, "sleep 2; echo done")
    code = (f"import time; from ftwizard.core import runs; runs.spawn({str(d)!r}); "
            "print('started', flush=True); time.sleep(60)")
    term = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True,
                            start_new_session=True)
    assert term.stdout.readline().strip() == "started"
    os.killpg(term.pid, signal.SIGHUP)
    assert term.wait(timeout=10) == -signal.SIGHUP
    assert runs.run_state(d).state == "running"
    info = runs.wait_run(d, timeout=20)
    assert info.state == "finished" and "done" in (d / "stdout.log").read_text()


def test_stop_file_then_kill(tmp_path: Path) -> None:
    polite = fake_run(tmp_path, 'while [ ! -f stop ]; do sleep 0.1; done; echo saved', name="polite")
    (polite / "launch.sh").write_text(f"#!/bin/bash\ncd {polite}\n"
                                      + (polite / "launch.sh").read_text().split("\n", 1)[1])
    runs.spawn(polite)
    assert runs.stop_run(polite) == "requested"
    info = runs.wait_run(polite, timeout=20)
    assert info.state == "stopped" and not (polite / "stop").exists()
    assert runs.stop_run(polite) == "not running"

    stubborn = fake_run(tmp_path, "trap '' TERM; sleep 60", name="stubborn")
    runs.spawn(stubborn)
    time.sleep(0.5)
    pids = runs.read_process(stubborn)
    assert runs.stop_run(stubborn) == "requested"
    time.sleep(0.5)
    assert runs.run_state(stubborn).state == "running"
    assert runs.stop_run(stubborn) == "killed"          # second stop
    info = runs.run_state(stubborn)
    assert info.state == "stopped" and not runs.pid_alive(pids["supervisor_pid"])
    assert not runs.pid_alive(pids["child_pid"])


def test_lost_and_listing(tmp_path: Path) -> None:
    d = fake_run(tmp_path, "true", name="ghost")
    dead = subprocess.Popen(["true"])
    dead.wait()
    ev.write_status(d, "running", step=3, total=10, pid=dead.pid)
    assert runs.run_state(d).state == "lost"
    listed = {r.name: r.state for r in runs.list_runs(tmp_path / "runs")}
    assert listed == {"ghost": "lost"}
    assert runs.find_run(str(d)) == d.resolve()
    with pytest.raises(InputError, match="no run named"):
        runs.find_run("no-such-run", root=tmp_path / "runs")


def test_a_new_target_must_be_a_target_and_beyond_where_the_run_finished(tmp_path: Path) -> None:
    """resume_run's refusals, checked before anything is moved or started (the e2e tests in
    test_run_dir_safety train for real): the finished model stays where it is."""
    cfg = make_cfg(tmp_path, name="done", **{"train.epochs": "2"})
    hw = from_target("cpu") if _has_cpu_target() else None
    d = runs.prepare_run(cfg, hardware=hw)
    ev.end_run(d, status="finished", exit_code=0, step=12, total=12)
    (d / "final").mkdir()
    (d / "final" / "model.safetensors").write_bytes(b"weights")
    for target, words in ((None, "has finished"), (["train.lr=1e-3"], "only the target"),
                          (["train.epochs=1"], "not beyond"), (["train.max_steps=12"], "not beyond"),
                          (["train.max_steps=20"], "no checkpoint")):
        with pytest.raises(InputError, match=words):
            runs.resume_run(d, target=target)
    assert (d / "final" / "model.safetensors").read_bytes() == b"weights"
    assert not list(d.glob("final-step*")) and runs.run_state(d).state == "finished"


def test_a_damaged_status_takes_the_state_from_the_end_event(tmp_path):
    """status.json garbled by a crash: the synced end event still tells how the run ended; a run
    whose last start has no end is lost, as before."""
    import json

    from ftwizard.core import runs as r

    d = tmp_path / "r"
    d.mkdir()
    (d / "events.jsonl").write_text("".join(json.dumps(e) + "\n" for e in [
        {"type": "start", "time": 1.0}, {"type": "step", "step": 3},
        {"type": "end", "status": "failed", "step": 3, "exit_code": 1, "message": "boom"}]))
    (d / "status.json").write_bytes(b'{"state": "runn')
    info = r.run_state(d)
    assert (info.state, info.step, info.exit_code) == ("failed", 3, 1)
    assert "boom" in info.message and "events.jsonl" in info.message
    with open(d / "events.jsonl", "a") as fh:          # resumed, then the machine went down
        fh.write(json.dumps({"type": "start", "time": 5.0}) + "\n")
    assert r.run_state(d).state == "lost"
