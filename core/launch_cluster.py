"""Launch lines beyond one node: many nodes, Slurm batch scripts and TPU VM pods.

Seeds 002-004 copied these by hand (and got the master port, node rank or hostfile slots wrong in
ways that only show up as a hang). They are rendered here from the same run dir and training
entry point (`python -m ftwizard.core.train RUN_DIR`) as the single-node lines in
:mod:`ftwizard.core.launch`, and each is checked by the launcher's own argument parser in the
tests. Per-node values that are only known on the node itself (its rank, the master's address
under Slurm) stay shell variables, so one rendered line serves every node.

Launcher per method, many nodes: DeepSpeed uses its own launcher with a hostfile (it reaches the
other nodes over ssh/pdsh itself, started once on the first node); FSDP uses accelerate (its YAML
holds the FSDP settings); everything else uses torchrun. Under Slurm every method goes through
torchrun with c10d rendezvous: srun already starts one launcher per node, and the Trainer reads the
DeepSpeed JSON / FSDP settings from the run's config, so no launcher needs ssh.
"""

from __future__ import annotations

import re
import shlex
import sys
from pathlib import Path
from typing import Any

from ftwizard.core.config import RunConfig
from ftwizard.core.errors import InputError

TRAIN_MODULE = "ftwizard.core.train"
ACCELERATE_CONFIG = "accelerate.yaml"
HOSTFILE = "hostfile"
SBATCH = "run.sbatch"
TPU_SCRIPT = "tpu_pod.sh"
DEFAULT_MASTER_PORT = 29500
RUN_DIR_VAR = "$RUN_DIR"  # the run dir as launch.sh and run.sbatch find it: their own folder

# $VAR / ${VAR} / ${VAR:-x}: left for the shell of each node to expand.
_SHELL_VAR = re.compile(r"\$(\{[^}]+\}|[A-Za-z_][A-Za-z0-9_]*)")


def shell_join(argv: list[str]) -> str:
    """argv as one shell line; words holding $VARS are double-quoted so each node expands them."""
    out = []
    for a in argv:
        if _SHELL_VAR.search(a):
            out.append('"' + a.replace("\\", "\\\\").replace('"', '\\"').replace("`", "\\`") + '"')
        else:
            out.append(shlex.quote(a))
    return " ".join(out)


def multinode_launcher(cfg: RunConfig) -> str:
    """deepspeed | accelerate | torchrun: the launcher a user of this method would pick."""
    if cfg.method.parallel == "deepspeed":
        return "deepspeed"
    if cfg.method.parallel == "fsdp":
        return "accelerate"
    return "torchrun"


def _tail(run_dir: str | Path, resume: bool, module: str = TRAIN_MODULE) -> list[str]:
    """`-m MODULE RUN_DIR [--resume]`: how every launcher hands over to the training entry."""
    return ["-m", module, str(run_dir)] + (["--resume"] if resume else [])


def torchrun_multinode(run_dir: str | Path, *, nnodes: int, nproc_per_node: int,
                       node_rank: int | str = "${NODE_RANK}", master_addr: str = "${MASTER_ADDR}",
                       master_port: int | str = DEFAULT_MASTER_PORT, resume: bool = False,
                       python: str | None = None) -> list[str]:
    """Static rendezvous: every node runs this line with its own NODE_RANK."""
    return [python or sys.executable, "-m", "torch.distributed.run",
            "--nnodes", str(nnodes), "--nproc_per_node", str(nproc_per_node),
            "--node_rank", str(node_rank), "--master_addr", str(master_addr),
            "--master_port", str(master_port)] + _tail(run_dir, resume)


def deepspeed_multinode(run_dir: str | Path, *, hostfile: str | Path, nnodes: int,
                        nproc_per_node: int, master_addr: str = "${MASTER_ADDR}",
                        master_port: int | str = DEFAULT_MASTER_PORT,
                        resume: bool = False) -> list[str]:
    """Run once, on the first host of the hostfile; DeepSpeed starts the others over ssh/pdsh."""
    return ["deepspeed", "--hostfile", str(hostfile), "--num_nodes", str(nnodes),
            "--num_gpus", str(nproc_per_node), "--master_addr", str(master_addr),
            "--master_port", str(master_port), "--module"] + _tail(run_dir, resume)[1:]


def accelerate_multinode(run_dir: str | Path, *, nnodes: int, nproc_per_node: int,
                         node_rank: int | str = "${NODE_RANK}", master_addr: str = "${MASTER_ADDR}",
                         master_port: int | str = DEFAULT_MASTER_PORT, resume: bool = False,
                         python: str | None = None) -> list[str]:
    """accelerate counts processes over all machines (num_processes = nodes x GPUs per node)."""
    return [python or sys.executable, "-m", "accelerate.commands.launch",
            "--config_file", f"{run_dir}/{ACCELERATE_CONFIG}",
            "--num_machines", str(nnodes), "--num_processes", str(nnodes * nproc_per_node),
            "--machine_rank", str(node_rank), "--main_process_ip", str(master_addr),
            "--main_process_port", str(master_port)] + _tail(run_dir, resume)


def multinode_command(cfg: RunConfig, run_dir: str | Path, *, nproc_per_node: int,
                      nnodes: int | None = None, node_rank: int | str = "${NODE_RANK}",
                      master_addr: str = "${MASTER_ADDR}",
                      master_port: int | str = DEFAULT_MASTER_PORT,
                      hostfile: str | Path | None = None, launcher: str | None = None,
                      resume: bool = False, python: str | None = None) -> list[str]:
    """argv for one node of a many-node run (for deepspeed: the one line for all nodes)."""
    nnodes = nnodes or cfg.hardware.nodes
    if nnodes < 1 or nproc_per_node < 1:
        raise InputError(f"nodes ({nnodes}) and processes per node ({nproc_per_node}) must be >= 1",
                         field="hardware.nodes", value=nnodes, fix="use 1 or more")
    launcher = launcher or multinode_launcher(cfg)
    if launcher == "deepspeed":
        if hostfile is None:
            raise InputError("a DeepSpeed run over several nodes needs a hostfile",
                             field="--hosts", value=None,
                             fix="give the hosts, e.g. --hosts node1,node2 (one line each: "
                                 "`host slots=GPUS`)")
        return deepspeed_multinode(run_dir, hostfile=hostfile, nnodes=nnodes,
                                   nproc_per_node=nproc_per_node, master_addr=master_addr,
                                   master_port=master_port, resume=resume)
    if launcher == "accelerate":
        return accelerate_multinode(run_dir, nnodes=nnodes, nproc_per_node=nproc_per_node,
                                    node_rank=node_rank, master_addr=master_addr,
                                    master_port=master_port, resume=resume, python=python)
    if launcher == "torchrun":
        return torchrun_multinode(run_dir, nnodes=nnodes, nproc_per_node=nproc_per_node,
                                  node_rank=node_rank, master_addr=master_addr,
                                  master_port=master_port, resume=resume, python=python)
    raise InputError(f"unknown launcher {launcher!r}", field="launcher", value=launcher,
                     fix="use torchrun, accelerate or deepspeed")


# ---------------------------------------------------------------------------- hostfile

def hostfile_text(hosts: list[str], slots: int) -> str:
    """DeepSpeed's (and mpirun's) hostfile: `host slots=N`, one line per node."""
    clean = [h.strip() for h in hosts if h.strip()]
    if not clean:
        raise InputError("no hosts given", field="--hosts", value=hosts,
                         fix="give host names separated by commas: --hosts node1,node2")
    bad = [h for h in clean if not re.fullmatch(r"[A-Za-z0-9_.\-]+", h)]
    if bad:
        raise InputError(f"{bad[0]!r} is not a host name", field="--hosts", value=bad[0],
                         fix="use names or addresses the first node can ssh to, e.g. node1,10.0.0.2")
    if len(set(clean)) != len(clean):
        raise InputError("a host is listed twice", field="--hosts", value=",".join(clean),
                         fix="list each node once; slots give the GPUs per node")
    return "".join(f"{h} slots={slots}\n" for h in clean)


# ---------------------------------------------------------------------------- Slurm

def _export_lines(env: dict[str, str]) -> list[str]:
    return [f"export {k}={shlex.quote(v)}" for k, v in env.items()]


def slurm_script(cfg: RunConfig, run_dir: str | Path, *, nodes: int | None = None,
                 gpus_per_node: int = 1, cpus_per_task: int | None = None,
                 partition: str | None = None, time_limit: str | None = None,
                 master_port: int = DEFAULT_MASTER_PORT, env: dict[str, str] | None = None,
                 workdir: str | Path | None = None, resume: bool = False,
                 python: str | None = None) -> str:
    """`sbatch run.sbatch`: one task per node, each a torchrun that meets the others through
    c10d rendezvous on the first node of the allocation."""
    nodes = nodes or cfg.hardware.nodes
    lines = ["#!/bin/bash",
             f"#SBATCH --job-name={_slug(cfg.name)}",
             f"#SBATCH --nodes={nodes}",
             "#SBATCH --ntasks-per-node=1"]
    if gpus_per_node > 0:
        lines.append(f"#SBATCH --gpus-per-node={gpus_per_node}")
    if cpus_per_task:
        lines.append(f"#SBATCH --cpus-per-task={cpus_per_task}")
    if partition:
        lines.append(f"#SBATCH --partition={partition}")
    if time_limit:
        lines.append(f"#SBATCH --time={time_limit}")
    lines += ["#SBATCH --output=slurm-%j.log",  # relative to the folder sbatch was run in
              "",
              f"# ftwizard run {cfg.name}: {nodes} node(s) x {gpus_per_node} process(es).",
              "# Secrets (HF_TOKEN, WANDB_API_KEY) come from the environment sbatch passes on;"
              " they are never written here.",
              "set -euo pipefail"]
    if str(run_dir) == RUN_DIR_VAR:
        # sbatch copies this script away: the run dir is the folder it was submitted from
        lines += [f'{RUN_DIR_VAR[1:]}="${{SLURM_SUBMIT_DIR:-$(pwd)}}"',
                  f'[ -f "{RUN_DIR_VAR}/config.yaml" ] || {{ echo "submit from the run dir: '
                  f'cd RUN_DIR && sbatch {SBATCH}" >&2; exit 2; }}',
                  f'cd "{RUN_DIR_VAR}"']
    if workdir:
        lines.append(f"cd {shlex.quote(str(workdir))}")
    lines += _export_lines(env or {})
    lines += ['export MASTER_ADDR="$(scontrol show hostnames "$SLURM_JOB_NODELIST" | head -n 1)"',
              f"export MASTER_PORT={master_port}", ""]
    argv = [python or sys.executable, "-m", "torch.distributed.run",
            "--nnodes", "$SLURM_NNODES", "--nproc_per_node", str(max(1, gpus_per_node)),
            "--rdzv_id", "$SLURM_JOB_ID", "--rdzv_backend", "c10d",
            "--rdzv_endpoint", "$MASTER_ADDR:$MASTER_PORT"] + _tail(run_dir, resume)
    lines.append("srun --kill-on-bad-exit=1 " + shell_join(argv))
    return "\n".join(lines) + "\n"


def srun_argv(script: str) -> list[str]:
    """The srun line of a rendered script, split as bash would (variables left unexpanded)."""
    for line in script.splitlines():
        if line.startswith("srun "):
            return shlex.split(line)
    raise ValueError("no srun line")


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.\-]+", "-", text).strip("-") or "ftwizard"


# ---------------------------------------------------------------------------- TPU VM pods

def tpu_worker_command(run_dir: str | Path, *, workdir: str | Path | None = None,
                       env: dict[str, str] | None = None, resume: bool = False,
                       python: str = "python3", detach: bool = True) -> str:
    """What every TPU VM worker runs: the same training entry point, one process per host
    (JAX sees all local chips from one process). Detached (setsid nohup, output per worker in the
    run dir), so the pod keeps training when the gcloud ssh connection drops."""
    parts = []
    if workdir:
        parts.append(f"cd {shlex.quote(str(workdir))}")
    prefix = " ".join(f"{k}={shlex.quote(v)}" for k, v in (env or {}).items())
    cmd = shell_join([python] + _tail(run_dir, resume))
    line = f"{prefix} {cmd}".strip()
    if detach:
        log = shlex.quote(str(Path(run_dir) / "stdout-worker")) + '-"$(hostname)".log'
        line = f"{{ setsid nohup env {line} > {log} 2>&1 < /dev/null & }}"
    parts.append(line)
    return " && ".join(parts)


def tpu_vm_command(run_dir: str | Path, *, tpu_name: str, zone: str, project: str | None = None,
                   workdir: str | Path | None = None, env: dict[str, str] | None = None,
                   resume: bool = False, python: str = "python3", detach: bool = True) -> list[str]:
    """`gcloud compute tpus tpu-vm ssh NAME --zone ZONE --worker=all --command "..."`: starts the
    run on every host of a pod at once (a pod slice trains only when all hosts join)."""
    for label, value in (("--tpu-name", tpu_name), ("--zone", zone)):
        if not value or not re.fullmatch(r"[A-Za-z0-9_\-${}]+", value):
            raise InputError(f"{label} {value!r} is not a TPU VM name or zone", field=label,
                             value=value, fix="e.g. --tpu-name my-v3-8 --zone europe-west4-a")
    argv = ["gcloud", "compute", "tpus", "tpu-vm", "ssh", tpu_name, f"--zone={zone}"]
    if project:
        argv.append(f"--project={project}")
    argv += ["--worker=all", "--command",
             tpu_worker_command(run_dir, workdir=workdir, env=env, resume=resume, python=python,
                                detach=detach)]
    return argv


_POD_RUN_DIR = "@RUN_DIR@"  # stands for the run dir in the worker command until the script runs


def tpu_script(run_dir: str | Path | None = None, **kwargs: Any) -> str:
    """tpu_pod.sh: the gcloud line that starts every worker, naming the run dir as the script's own
    folder when it runs (like launch.sh), so a copied or moved run dir starts the copy. The worker
    command is built with a placeholder that bash replaces by the folder, quoted for the
    workers' shell (printf %q); `run_dir` is accepted for callers that pass one and not used."""
    argv = tpu_vm_command(_POD_RUN_DIR, **kwargs)
    i = argv.index("--command") + 1
    command, argv = argv[i], argv[:i] + ['${WORKER_COMMAND}']
    return ("#!/bin/bash\n"
            "# Starts the run on every worker of the TPU VM pod. The run dir and the data must be at\n"
            "# the same path on every worker (copy them first, or use a shared disk): this file's\n"
            "# folder is the run dir it starts.\n"
            "set -euo pipefail\n"
            'RUN_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"\n'
            f"WORKER_COMMAND={shlex.quote(command)}\n"
            f'WORKER_COMMAND="${{WORKER_COMMAND//{_POD_RUN_DIR}/$(printf %q "$RUN_DIR")}}"\n'
            + shell_join(argv) + "\n")
