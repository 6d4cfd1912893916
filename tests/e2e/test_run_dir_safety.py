"""The run dir is self-contained and never loses a model (issue 13, data-loss cases), with real
tiny CPU runs:

- a copied run dir resumes in the copy; the original's events, status and checkpoints stay as
  they were;
- `ftwizard resume` of a finished run refuses (exit 2, says it finished and how to give a new
  target) and leaves final/ alone, and so does `bash launch.sh --resume`; an explicit new target
  trains on and keeps the old final/ beside the new one;
- a finished run whose checkpoints were deleted is not retrained from step 0 over its final/.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from backend_kit import write_run_config
from ftwizard.core import events as ev
from ftwizard.core import runs
from ftwizard.core.config import load_config

pytestmark = pytest.mark.e2e


def tiny_config(root: Path, name: str, *, max_steps: int, save_every: int):  # noqa: ANN201
    return load_config(write_run_config(root, name, max_steps=max_steps, save_every=save_every))


def cli(args: list[str], cwd: Path, timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "ftwizard", *args], cwd=cwd, env=os.environ.copy(),
                          capture_output=True, text=True, timeout=timeout)


def hashes(root: Path) -> dict[str, str]:
    """Every file under `root` (a run dir or its final/) by content."""
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file() and not p.name.startswith(".")}


def starts(run_dir: Path) -> int:
    return sum(e["type"] == "start" for e in ev.read_events(run_dir / ev.EVENTS_FILE)[0])


def wait_for(predicate, timeout: float = 240, what: str = "") -> None:  # noqa: ANN001
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.2)


@pytest.fixture(scope="module")
def finished(tiny_llama: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A finished 2-step run (checkpoints at steps 1 and 2, final/)."""
    root = tmp_path_factory.mktemp("finished")
    d = runs.start_run(tiny_config(root, "done", max_steps=2, save_every=1), detach=False)
    info = runs.run_state(d)
    assert info.state == "finished" and info.step == 2, (d / "stdout.log").read_text()[-2000:]
    assert (d / "final").is_dir() and runs.newest_checkpoint(d) is not None
    return d


def copy_of(run_dir: Path, where: Path) -> Path:
    dst = where / "moved" / run_dir.name
    shutil.copytree(run_dir, dst, symlinks=True)
    return dst


def test_a_copied_run_dir_resumes_in_the_copy(tiny_llama: Path, tmp_path: Path) -> None:
    cfg = tiny_config(tmp_path, "orig", max_steps=500, save_every=2)
    orig = runs.start_run(cfg)
    wait_for(lambda: any(e["type"] == "checkpoint" for e in
                         ev.read_events(orig / ev.EVENTS_FILE)[0]), what="the first checkpoint")
    assert runs.stop_run(orig) == "requested"
    info = runs.wait_run(orig, timeout=240)
    assert info.state == "stopped", (orig / "stdout.log").read_text()[-2000:]
    copy = copy_of(orig, tmp_path)
    before = hashes(orig)
    try:
        runs.resume_run(copy)
        wait_for(lambda: starts(copy) == 2 or starts(orig) == 2, what="the resumed start event")
        assert starts(orig) == 1, "the copy's launch.sh trained in the original run dir"
        assert starts(copy) == 2
    finally:
        runs.stop_run(copy, force=True)
        runs.stop_run(orig, force=True)
        runs.wait_run(copy, timeout=60)
    assert hashes(orig) == before                     # the original is exactly as it was
    assert str(orig) not in (copy / "launch.sh").read_text()


def test_resume_of_a_finished_run_refuses_and_a_new_target_keeps_final(finished: Path,
                                                                      tmp_path: Path) -> None:
    d = copy_of(finished, tmp_path)
    final = hashes(d / "final")
    events_before = (d / ev.EVENTS_FILE).read_bytes()
    out = cli(["resume", str(d), "--plain"], tmp_path)
    assert out.returncode == 2, out.stdout + out.stderr
    assert "has finished" in out.stderr and "train.max_steps=N" in out.stderr and "--epochs" in out.stderr
    assert "Traceback" not in out.stderr
    by_hand = subprocess.run(["bash", str(d / "launch.sh"), "--resume"], capture_output=True,
                             text=True, timeout=120, cwd=tmp_path)
    assert by_hand.returncode == 2 and "has finished" in by_hand.stderr
    assert hashes(d / "final") == final and (d / ev.EVENTS_FILE).read_bytes() == events_before
    assert runs.run_state(d).state == "finished"

    more = cli(["resume", str(d), "--plain", "--set", "train.max_steps=4"], tmp_path)
    assert more.returncode == 0, more.stdout + more.stderr
    assert "final-step2" in more.stdout
    assert hashes(d / "final-step2") == final           # the first model, kept
    info = runs.run_state(d)
    assert info.state == "finished" and info.step == 4 and (d / "final").is_dir()
    low = cli(["resume", str(d), "--set", "train.max_steps=3"], tmp_path)
    assert low.returncode == 2 and "not beyond step 4" in low.stderr


def test_a_finished_run_without_checkpoints_is_not_retrained_over_final(finished: Path,
                                                                       tmp_path: Path) -> None:
    d = copy_of(finished, tmp_path)
    shutil.rmtree(d / "checkpoints")
    final = hashes(d / "final")
    out = cli(["resume", str(d), "--plain"], tmp_path)
    assert out.returncode == 2 and "has finished" in out.stderr, out.stdout + out.stderr
    more = cli(["resume", str(d), "--plain", "--set", "train.max_steps=4"], tmp_path)
    assert more.returncode == 2 and "no checkpoint" in more.stderr, more.stdout + more.stderr
    assert "model.name=" in more.stderr                 # how to train on from final/ instead
    by_hand = subprocess.run(["bash", str(d / "launch.sh")], capture_output=True, text=True,
                             timeout=120, cwd=tmp_path)
    assert by_hand.returncode == 2
    assert hashes(d / "final") == final and runs.run_state(d).state == "finished"
