"""Launch lines for many nodes, Slurm and TPU VM pods: checked by the text they render, by bash,
and by each launcher's own argument parser (torchrun, accelerate, DeepSpeed's hostfile reader)."""

from __future__ import annotations

import shlex
import subprocess
import time
from pathlib import Path

import pytest

from ftwizard.core import launch_cluster as lc
from ftwizard.core.config import parse_config
from ftwizard.core.errors import InputError


def cfg_for(parallel: str = "ddp", nodes: int = 2, name: str = "big run"):
    return parse_config(f"name: {name}\nmethod: {{parallel: {parallel}}}\nhardware: {{nodes: {nodes}}}\n")


def torchrun_args(argv: list[str]):
    from torch.distributed.run import get_args_parser  # ~2 s: torch

    assert argv[1:3] == ["-m", "torch.distributed.run"]
    return get_args_parser().parse_args(argv[3:])


def expand(argv: list[str], env: dict[str, str]) -> list[str]:
    """The argv a node's bash really runs, after expanding the $VARS of the rendered line."""
    out = subprocess.run(["bash", "-c", 'printf "%s\\n" ' + lc.shell_join(argv)], env=env,
                         capture_output=True, text=True, check=True)
    return out.stdout.splitlines()


def test_torchrun_many_nodes_parses_with_each_nodes_rank(tmp_path: Path) -> None:
    argv = lc.multinode_command(cfg_for("ddp"), tmp_path, nproc_per_node=8)
    for rank in ("0", "1"):
        real = expand(argv, {"NODE_RANK": rank, "MASTER_ADDR": "10.0.0.1"})
        a = torchrun_args(real)
        assert (a.nnodes, a.nproc_per_node, a.node_rank) == ("2", "8", int(rank))
        assert (a.master_addr, a.master_port) == ("10.0.0.1", 29500)
        assert a.module and a.training_script == "ftwizard.core.train"
        assert a.training_script_args == [str(tmp_path)]


def test_unset_node_rank_stops_with_a_message(tmp_path: Path) -> None:
    argv = lc.multinode_command(cfg_for("ddp"), tmp_path, nproc_per_node=2,
                                node_rank="${NODE_RANK:?set NODE_RANK}")
    out = subprocess.run(["bash", "-c", 'printf "%s\\n" ' + lc.shell_join(argv)], env={},
                         capture_output=True, text=True)
    assert out.returncode != 0 and "set NODE_RANK" in out.stderr


def test_accelerate_many_nodes_for_fsdp(tmp_path: Path) -> None:
    from accelerate.commands.launch import launch_command_parser  # ~2 s

    argv = lc.multinode_command(cfg_for("fsdp"), tmp_path, nproc_per_node=4, node_rank=1,
                                master_addr="node0", master_port=29600)
    assert argv[1:3] == ["-m", "accelerate.commands.launch"]
    a = launch_command_parser().parse_args(argv[3:])
    assert (a.num_machines, a.num_processes, a.machine_rank) == (2, 8, 1)
    assert (a.main_process_ip, a.main_process_port) == ("node0", 29600)
    assert a.config_file == str(tmp_path / "accelerate.yaml")
    assert a.module and a.training_script == "ftwizard.core.train"


def test_deepspeed_many_nodes_with_hostfile(tmp_path: Path) -> None:
    from deepspeed.launcher.runner import fetch_hostfile, parse_args  # ~3 s

    hf = tmp_path / lc.HOSTFILE
    hf.write_text(lc.hostfile_text(["node1", "10.0.0.2"], 8))
    assert hf.read_text() == "node1 slots=8\n10.0.0.2 slots=8\n"
    assert dict(fetch_hostfile(str(hf))) == {"node1": 8, "10.0.0.2": 8}
    argv = lc.multinode_command(cfg_for("deepspeed"), tmp_path, nproc_per_node=8, hostfile=hf,
                                master_addr="node1")
    a = parse_args(argv[1:])
    assert (a.hostfile, a.num_nodes, a.num_gpus, a.master_addr, a.master_port) == \
        (str(hf), 2, 8, "node1", 29500)
    assert a.module and a.user_script == "ftwizard.core.train" and a.user_args == [str(tmp_path)]
    with pytest.raises(InputError, match="hostfile"):
        lc.multinode_command(cfg_for("deepspeed"), tmp_path, nproc_per_node=8)


@pytest.mark.parametrize("hosts", [[], ["a b"], ["n1", "n1"]])
def test_bad_hosts_are_input_errors(hosts: list[str]) -> None:
    with pytest.raises(InputError):
        lc.hostfile_text(hosts, 4)


def test_slurm_script(tmp_path: Path) -> None:
    text = lc.slurm_script(cfg_for("deepspeed", nodes=4), tmp_path, gpus_per_node=8,
                           partition="gpu", time_limit="24:00:00",
                           env={"PYTHONUNBUFFERED": "1"}, workdir=tmp_path)
    heads = [ln for ln in text.splitlines() if ln.startswith("#SBATCH")]
    assert "#SBATCH --nodes=4" in heads and "#SBATCH --ntasks-per-node=1" in heads
    assert "#SBATCH --gpus-per-node=8" in heads and "#SBATCH --partition=gpu" in heads
    assert "#SBATCH --job-name=big-run" in heads and "#SBATCH --time=24:00:00" in heads
    assert "export PYTHONUNBUFFERED=1" in text
    script = tmp_path / "run.sbatch"
    script.write_text(text)
    assert subprocess.run(["bash", "-n", str(script)]).returncode == 0
    srun = lc.srun_argv(text)
    assert srun[:2] == ["srun", "--kill-on-bad-exit=1"]
    # what one Slurm task runs, with the variables Slurm and the script set
    env = {"SLURM_NNODES": "4", "SLURM_JOB_ID": "77", "MASTER_ADDR": "gpu-001", "MASTER_PORT": "29500"}
    line = text.splitlines()[-1][len("srun --kill-on-bad-exit=1 "):]
    real = subprocess.run(["bash", "-c", 'printf "%s\\n" ' + line], env=env, capture_output=True,
                          text=True, check=True).stdout.splitlines()
    a = torchrun_args(real)
    assert (a.nnodes, a.nproc_per_node, a.rdzv_backend, a.rdzv_endpoint, a.rdzv_id) == \
        ("4", "8", "c10d", "gpu-001:29500", "77")
    assert a.training_script == "ftwizard.core.train" and a.training_script_args == [str(tmp_path)]


def test_tpu_vm_pod_line(tmp_path: Path) -> None:
    argv = lc.tpu_vm_command(tmp_path, tpu_name="my-v3-8", zone="europe-west4-a",
                             project="proj", workdir="/home/me/work", env={"PYTHONUNBUFFERED": "1"})
    assert argv[:6] == ["gcloud", "compute", "tpus", "tpu-vm", "ssh", "my-v3-8"]
    assert "--zone=europe-west4-a" in argv and "--worker=all" in argv and "--project=proj" in argv
    command = argv[argv.index("--command") + 1]
    assert command.startswith("cd /home/me/work && { setsid nohup env PYTHONUNBUFFERED=1 python3 "
                              f"-m ftwizard.core.train {tmp_path} > ")
    assert subprocess.run(["bash", "-n", "-c", command]).returncode == 0
    # what a worker does with it (python3 swapped for a stand-in that prints its arguments)
    worker = tmp_path / "w"
    worker.mkdir()
    (worker / "python3").write_text("#!/bin/sh\necho \"$PYTHONUNBUFFERED $*\"\n")
    (worker / "python3").chmod(0o755)
    run = subprocess.run(["bash", "-c", command.replace("cd /home/me/work", f"cd {worker}")],
                         env={"PATH": f"{worker}:/usr/bin:/bin"}, timeout=10)
    assert run.returncode == 0
    for _ in range(600):   # the worker runs detached: its log appears when it has run
        logs = list(tmp_path.glob("stdout-worker-*.log"))
        if logs and logs[0].read_text():
            break
        time.sleep(0.1)
    assert logs[0].read_text().strip() == f"1 -m ftwizard.core.train {tmp_path}"
    fg = lc.tpu_vm_command(tmp_path, tpu_name="t", zone="z", detach=False)
    assert fg[-1] == f"python3 -m ftwizard.core.train {tmp_path}"
    # tpu_pod.sh names the run dir as its own folder when it runs: a moved run dir (here with a
    # space and a quote in its path) starts the copy (gcloud is a stand-in printing its argv)
    script = lc.tpu_script(tpu_name="my-v3-8", zone="europe-west4-a", workdir="/home/me/work")
    assert str(tmp_path) not in script
    moved = tmp_path / "moved run's dir"
    moved.mkdir()
    (moved / "tpu_pod.sh").write_text(script)
    (worker / "gcloud").write_text('#!/bin/sh\nfor a in "$@"; do printf "%s\\n" "$a"; done\n')
    (worker / "gcloud").chmod(0o755)
    said = subprocess.run(["bash", str(moved / "tpu_pod.sh")], env={"PATH": f"{worker}:/usr/bin:/bin"},
                          capture_output=True, text=True, timeout=10, check=True).stdout.splitlines()
    assert said[:5] == argv[1:6] and "--worker=all" in said
    pod_command = said[said.index("--command") + 1]
    for log in tmp_path.glob("stdout-worker-*.log"):
        log.unlink()
    subprocess.run(["bash", "-c", pod_command.replace("cd /home/me/work", f"cd {worker}")],
                   env={"PATH": f"{worker}:/usr/bin:/bin"}, timeout=10, check=True)
    for _ in range(600):   # the worker runs detached: its log appears when it has run
        logs = list(moved.glob("stdout-worker-*.log"))
        if logs and logs[0].read_text():
            break
        time.sleep(0.1)
    assert logs[0].read_text().strip() == f"-m ftwizard.core.train {moved}"
    with pytest.raises(InputError, match="zone"):
        lc.tpu_vm_command(tmp_path, tpu_name="x", zone="a b; rm -rf /")
