"""`ftwizard run` safety checks before anything starts: replay on other hardware, plans that no
longer fit, short disk, trust_remote_code, Slurm and dry runs (no training here)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import yaml

from ftwizard.core.fingerprint import fingerprint
from ftwizard.core.hardware import from_target


def cli(args: list[str], cwd: Path) -> subprocess.CompletedProcess:
    env = dict(os.environ, COLUMNS="200")
    return subprocess.run([sys.executable, "-m", "ftwizard", *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=120)


def saved_config(tmp_path: Path, model: str = "meta-llama/Llama-2-7b-hf", **hardware: object) -> Path:
    planned = fingerprint(from_target("A100-80GB x8"))
    cfg = {"name": "replay", "model": {"name": model, "dtype": "bf16"},
           "method": {"kind": "full", "parallel": "fsdp", "gradient_checkpointing": True},
           "hardware": {"target": "A100-80GB x8", "planned_on": planned, **hardware},
           "data": {"sequences": 1000, "block_size": 1024},
           "train": {"micro_batch": 1, "max_steps": 10},
           "output": {"dir": str(tmp_path / "runs")}}
    path = tmp_path / "replay.yaml"
    path.write_text(yaml.safe_dump(cfg))
    return path


def test_replay_on_other_hardware_replans_and_refuses_without_force(tmp_path: Path) -> None:
    cfg = saved_config(tmp_path)
    same = cli(["run", str(cfg), "--dry-run"], tmp_path)
    assert same.returncode == 0, same.stdout + same.stderr
    assert "hardware changed" not in same.stdout

    moved = cli(["run", str(cfg), "--dry-run", "--set", "hardware.target=RTX 4090"], tmp_path)
    assert moved.returncode == 3, moved.stdout + moved.stderr
    assert "hardware changed" in moved.stdout and "devices per node: 8 -> 1" in moved.stdout
    assert "does not fit this hardware any more" in moved.stdout
    run_dir = tmp_path / "runs" / "replay"                   # written by the first dry run ...
    assert yaml.safe_load((run_dir / "config.yaml").read_text())["hardware"]["planned_on"]["count"] == 8

    forced = cli(["run", str(cfg), "--dry-run", "--force", "--set", "hardware.target=RTX 4090"], tmp_path)
    assert forced.returncode == 0 and "--force" in forced.stdout   # ... rewritten (never started)
    written = yaml.safe_load((run_dir / "config.yaml").read_text())
    assert written["hardware"]["planned_on"]["count"] == 1     # remembers the new hardware
    assert sorted(p.name for p in run_dir.iterdir()) == [
        "accelerate.yaml", "config.yaml", "hardware.json", "launch.sh", "plan.json"]
    assert "accelerate.commands.launch" not in (run_dir / "launch.sh").read_text()  # 1 GPU: python


def test_short_disk_refuses(tmp_path: Path) -> None:
    cfg = saved_config(tmp_path)
    # --slurm: even if the check failed to refuse, nothing would start on this machine
    out = cli(["run", str(cfg), "--slurm", "--set", "train.keep_checkpoints=1000000"], tmp_path)
    assert out.returncode == 3 and "checkpoints need" in out.stdout
    assert not (tmp_path / "runs" / "replay").exists()
    dry = cli(["run", str(cfg), "--dry-run", "--set", "train.keep_checkpoints=1000000"], tmp_path)
    assert dry.returncode == 0 and "warning:" in dry.stdout   # a dry run writes no checkpoint


def test_trust_remote_code_is_shown(tmp_path: Path) -> None:
    cfg = saved_config(tmp_path)
    out = cli(["run", str(cfg), "--dry-run", "--set", "model.trust_remote_code=true"], tmp_path)
    assert out.returncode == 0 and "trust_remote_code is on" in out.stdout
    off = cli(["run", str(cfg), "--dry-run", "--overwrite"], tmp_path)
    assert "trust_remote_code is on" not in off.stdout


def test_slurm_script_and_many_nodes(tmp_path: Path) -> None:
    cfg = saved_config(tmp_path, model="gpt2")   # small checkpoints: the disk check passes anywhere
    out = cli(["run", str(cfg), "--slurm", "--partition", "gpu", "--set", "hardware.nodes=2"], tmp_path)
    assert out.returncode == 0, out.stdout + out.stderr
    run_dir = tmp_path / "runs" / "replay"
    sbatch = (run_dir / "run.sbatch").read_text()
    assert "#SBATCH --nodes=2" in sbatch and "#SBATCH --gpus-per-node=8" in sbatch
    assert "srun --kill-on-bad-exit=1" in sbatch and "sbatch" in out.stdout
    launch = (run_dir / "launch.sh").read_text()      # the same run by hand, node by node
    assert "--num_machines 2 --num_processes 16" in launch and "NODE_RANK" in launch
    assert subprocess.run(["bash", "-n", str(run_dir / "launch.sh")]).returncode == 0
    listed = json.loads(cli(["runs", "--dir", str(tmp_path / "runs"), "--json"], tmp_path).stdout)
    assert [(r["name"], r["state"]) for r in listed] == [("replay", "created")]


def test_bad_flags_are_input_errors(tmp_path: Path) -> None:
    cfg = saved_config(tmp_path)
    out = cli(["run", str(cfg), "--resume", "--overwrite"], tmp_path)
    assert out.returncode == 2 and "contradict" in out.stderr
    missing = cli(["attach", "nope-not-a-run"], tmp_path)
    assert missing.returncode == 2 and "no run named" in missing.stderr
