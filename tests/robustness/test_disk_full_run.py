"""A run that dies of a full disk ends with that reason (issue 13), not as "lost" with no cause.

A real tiny training through `ftwizard run`, with its run dir on a disk that cannot hold the first
checkpoint: a 320 KiB tmpfs where this machine lets us mount one (a real ENOSPC), and a file size
limit on the whole process tree (RLIMIT_FSIZE with SIGXFSZ ignored: a real EFBIG from the same
write), which needs no privilege. Either way the end event and status.json name the disk, `ftwizard runs` shows the
run failed with that message, and the CLI prints no traceback.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from catalogue_kit import limit_file_size

pytestmark = pytest.mark.e2e

LIMIT = 320 * 1024  # the tiny model's weights alone are ~480 KiB


@pytest.fixture(params=["tmpfs", "rlimit"])
def small_disk(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[Path, int | None, str]]:
    """(folder, RLIMIT_FSIZE for the CLI or None, the words the end message must hold)."""
    mnt = tmp_path / "disk"
    mnt.mkdir()
    if request.param == "rlimit":
        yield mnt, LIMIT, "file too large"
        return
    if subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={LIMIT}", "tmpfs", str(mnt)],
                      capture_output=True).returncode != 0:
        pytest.skip("no privilege to mount a small tmpfs here (the rlimit case still runs)")
    try:
        yield mnt, None, "no space left on device"
    finally:
        subprocess.run(["umount", "-l", str(mnt)], check=False)


def test_a_run_that_fills_the_disk_ends_with_that_reason(tmp_path: Path, tiny_llama: Path,
                                                         small_disk) -> None:
    disk, fsize, words = small_disk
    data = tmp_path / "train.jsonl"
    data.write_text("".join(json.dumps({"text": f"the cat sat on mat number {i}"}) + "\n"
                            for i in range(200)))
    cfg = {"name": "full", "model": {"name": str(tiny_llama), "dtype": "fp32"},
           "data": {"train": [{"path": str(data)}], "mode": "corpus", "block_size": 32},
           "train": {"micro_batch": 4, "max_steps": 4, "save_every": 1, "eval_every": 1000,
                     "warmup_steps": 0},
           "output": {"dir": str(disk), "sample_prompt": None}}
    (tmp_path / "run.yaml").write_text(yaml.safe_dump(cfg))
    env = dict(os.environ, PYTHONUNBUFFERED="1", OMP_NUM_THREADS="1", COLUMNS="200")
    proc = subprocess.run([sys.executable, "-m", "ftwizard", "run", "run.yaml", "--plain", "--force"],
                          cwd=tmp_path, env=env, stdin=subprocess.DEVNULL, capture_output=True,
                          text=True, timeout=600, preexec_fn=limit_file_size(fsize))
    out = proc.stdout + proc.stderr
    assert "Traceback" not in out and 'File "' not in out, out   # no frames either
    run_dir = disk / "full"
    evts = [json.loads(ln) for ln in (run_dir / "events.jsonl").read_text().splitlines()
            if ln.strip().startswith("{")]
    ends = [e for e in evts if e.get("type") == "end"]
    assert ends, f"no end event; CLI said:\n{out}"
    end = ends[-1]
    assert end["status"] == "failed" and words in end["message"].lower(), end
    assert "free space" in (end.get("suggestion") or ""), end
    assert proc.returncode == 1, out
    status = json.loads((run_dir / "status.json").read_text())
    assert status["state"] == "failed" and words in status["message"].lower()
    listed = subprocess.run([sys.executable, "-m", "ftwizard", "runs", "--dir", str(disk), "--json"],
                            cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
    info = json.loads(listed.stdout)[0]
    assert info["state"] == "failed" and words in info["message"].lower(), listed.stdout
