"""RunConfig + hardware + plan -> every file of a run dir and the command that trains it.

:func:`render` is the one place that turns a config into launch.sh, ds_config.json,
accelerate.yaml, hostfile, run.sbatch, tpu_pod.sh, config.yaml, hardware.json and plan.json. The
wizard's Review, `ftwizard run` (and --dry-run), probes, `resume --fix` and multi-node launches all
call it, so what a screen shows is what runs. Hardware facts come in as arguments (`hw`): nothing
here imports torch to find out whether this is a CPU.

A run dir is self-contained and relocatable: launch.sh finds its own folder
(`RUN_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"`), cds into it and names every file
relative to it, so a copied or moved run dir trains in the copy, never in the original.

DeepSpeed values that the Trainer also knows are "auto" (seed 001), so the two can never
disagree: the Trainer fills them from the same config. There is no DeepSpeed "scheduler" section:
the Trainer then uses ftwizard's own LR curve (core.schedule.lr_at), which is the plan's, instead
of DeepSpeed's "auto" WarmupLR that spends its first step at learning rate 0 (FACTS.md).
"""

from __future__ import annotations

import json
import os
import shlex
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from ftwizard.core import launch_cluster as lc
from ftwizard.core.events import PLAN_FILE
from ftwizard.core.config import RunConfig

DS_CONFIG = "ds_config.json"
ACCELERATE_CONFIG = lc.ACCELERATE_CONFIG
TRAIN_MODULE = lc.TRAIN_MODULE

# Decoder-layer classes to wrap, for architectures whose config we can read without building the
# model; anything else is looked up from the model class's `_no_split_modules` on the meta device.
DECODER_LAYERS = {
    "LlamaForCausalLM": "LlamaDecoderLayer",
    "MistralForCausalLM": "MistralDecoderLayer",
    "MixtralForCausalLM": "MixtralDecoderLayer",
    "Qwen2ForCausalLM": "Qwen2DecoderLayer",
    "Qwen3ForCausalLM": "Qwen3DecoderLayer",
    "GemmaForCausalLM": "GemmaDecoderLayer",
    "Gemma2ForCausalLM": "Gemma2DecoderLayer",
    "Gemma3ForCausalLM": "Gemma3DecoderLayer",
    "PhiForCausalLM": "PhiDecoderLayer",
    "Phi3ForCausalLM": "Phi3DecoderLayer",
    "GPT2LMHeadModel": "GPT2Block",
    "GPTJForCausalLM": "GPTJBlock",
    "GPTNeoForCausalLM": "GPTNeoBlock",
    "GPTNeoXForCausalLM": "GPTNeoXLayer",
    "OPTForCausalLM": "OPTDecoderLayer",
    "FalconForCausalLM": "FalconDecoderLayer",
    "BloomForCausalLM": "BloomBlock",
}


# ---------------------------------------------------------------------------- DeepSpeed

def deepspeed_config(cfg: RunConfig) -> dict[str, Any]:
    """The DeepSpeed JSON for a run; "auto" wherever the Trainer holds the value."""
    m = cfg.method
    zero: dict[str, Any] = {
        "stage": m.zero_stage,
        "overlap_comm": True,
        "contiguous_gradients": True,
        "reduce_bucket_size": "auto",
    }
    if m.zero_stage >= 2:
        zero["allgather_bucket_size"] = 5e8
        zero["reduce_scatter"] = True
    if m.offload_optimizer:
        zero["offload_optimizer"] = {"device": "cpu", "pin_memory": True}
    if m.zero_stage == 3:
        zero.update({
            "stage3_prefetch_bucket_size": "auto",
            "stage3_param_persistence_threshold": "auto",
            "stage3_max_live_parameters": 1e9,
            "stage3_max_reuse_distance": 1e9,
            "sub_group_size": 1e9,
            # the final save must be a whole HF model, not only ZeRO shards (seed 001)
            "stage3_gather_16bit_weights_on_model_save": True,
        })
        if m.offload_params:
            zero["offload_param"] = {"device": "cpu", "pin_memory": True}
    ds: dict[str, Any] = {
        "fp16": {"enabled": "auto", "loss_scale": 0, "initial_scale_power": 16,
                 "loss_scale_window": 1000, "hysteresis": 2, "min_loss_scale": 1},
        "bf16": {"enabled": "auto"},
        "zero_optimization": zero,
        "gradient_accumulation_steps": "auto",
        "gradient_clipping": "auto",
        "train_batch_size": "auto",
        "train_micro_batch_size_per_gpu": "auto",
        "steps_per_print": 10**9,  # the events stream reports progress; keep DeepSpeed quiet
        "wall_clock_breakdown": False,
    }
    if m.optimizer == "adamw":
        # DeepSpeed's own AdamW (DeepSpeedCPUAdam when offloading); other optimizers come from
        # the Trainer (zero_allow_untested_optimizer is set by transformers then).
        ds["optimizer"] = {"type": "AdamW", "params": {"lr": "auto", "betas": "auto",
                                                       "eps": "auto", "weight_decay": "auto"}}
    return ds


# ---------------------------------------------------------------------------- FSDP / accelerate

def decoder_layer_class(cfg: RunConfig) -> str | None:
    """The class FSDP wraps one unit at a time (auto wrap by decoder layer)."""
    from ftwizard.core.models import local_path

    folder = local_path(cfg.model.name)
    arch = None
    if folder is not None:
        try:
            arch = (json.loads((folder / "config.json").read_text()).get("architectures") or [None])[0]
        except (OSError, ValueError):
            arch = None
    if arch in DECODER_LAYERS:
        return DECODER_LAYERS[arch]
    if folder is None:
        return None
    try:
        import transformers  # ~2 s
        from accelerate import init_empty_weights

        conf = transformers.AutoConfig.from_pretrained(str(folder),
                                                       trust_remote_code=cfg.model.trust_remote_code)
        with init_empty_weights():
            model = transformers.AutoModelForCausalLM.from_config(conf)
        names = getattr(model, "_no_split_modules", None) or []
        return names[0] if names else None
    except Exception:  # noqa: BLE001 - without a class, accelerate falls back to the model's own list
        return None


def fsdp_settings(cfg: RunConfig) -> dict[str, Any]:
    """accelerate's fsdp_config block (FSDP1 names, which accelerate 1.x reads and converts)."""
    layer = decoder_layer_class(cfg)
    out: dict[str, Any] = {
        "fsdp_version": 1,
        "fsdp_sharding_strategy": "FULL_SHARD" if cfg.method.fsdp == "full_shard" else "SHARD_GRAD_OP",
        "fsdp_auto_wrap_policy": "TRANSFORMER_BASED_WRAP",
        "fsdp_backward_prefetch": "BACKWARD_PRE",
        "fsdp_forward_prefetch": False,
        "fsdp_offload_params": False,
        "fsdp_state_dict_type": "FULL_STATE_DICT",
        "fsdp_cpu_ram_efficient_loading": True,
        "fsdp_sync_module_states": True,
        "fsdp_use_orig_params": True,
        "fsdp_activation_checkpointing": cfg.method.gradient_checkpointing,
    }
    if layer:
        out["fsdp_transformer_layer_cls_to_wrap"] = layer
    return out


def mixed_precision(cfg: RunConfig, cpu: bool) -> str:
    if cfg.model.dtype == "fp16":
        return "no" if cpu else "fp16"
    return "bf16" if cfg.model.dtype == "bf16" else "no"


def accelerate_config(cfg: RunConfig, num_processes: int, *, cpu: bool) -> dict[str, Any]:
    """An `accelerate launch --config_file` YAML for an FSDP run (the file `accelerate config`
    writes); the other methods never go through accelerate (see train_command)."""
    return {
        "compute_environment": "LOCAL_MACHINE",
        "debug": False,
        "distributed_type": "FSDP",
        "downcast_bf16": "no",
        "machine_rank": 0,
        "main_training_function": "main",
        "mixed_precision": mixed_precision(cfg, cpu),
        "num_machines": cfg.hardware.nodes,
        "num_processes": num_processes,
        "rdzv_backend": "static",
        "same_network": True,
        "use_cpu": cpu,
        "fsdp_config": fsdp_settings(cfg),
    }


def native_configs(cfg: RunConfig, *, num_processes: int, cpu: bool) -> dict[str, str]:
    """{file name: text} of the launcher configs this method needs (DeepSpeed JSON, accelerate
    YAML), which the backend reads back from the run dir."""
    files: dict[str, str] = {}
    if cfg.method.parallel == "deepspeed":
        files[DS_CONFIG] = json.dumps(deepspeed_config(cfg), indent=2) + "\n"
    if cfg.method.parallel == "fsdp":
        files[ACCELERATE_CONFIG] = yaml.safe_dump(accelerate_config(cfg, num_processes, cpu=cpu),
                                                  sort_keys=False)
    return files


# ---------------------------------------------------------------------------- the JAX interpreter
# The JAX stack installs into its own environment (scripts/setup_jax_env.sh; README "JAX / TPU")
# because tunix 0.1.7 and this project's PyTorch stack want different transformers/safetensors.
# Looked up on disk: importing JAX to find out would cost seconds and may grab a TPU.

JAX_MODULE = "ftwizard.core.backends.jax"
REPO = Path(__file__).resolve().parents[1]
JAX_INSTALL_HINT = ("scripts/setup_jax_env.sh (on a TPU VM: scripts/setup_jax_env.sh --tpu), or "
                    "python -m venv .venv-jax && .venv-jax/bin/pip install -e '.[jax]'")


def _has_tunix(python: Path) -> bool:
    root = python.parent.parent
    return any(root.glob("lib/python3*/site-packages/tunix/__init__.py"))


def jax_python() -> Path | None:
    """FTWIZARD_JAX_PYTHON, else .venv-jax next to the checkout (or FTWIZARD_JAX_VENV), else
    this interpreter if it has tunix; None when the JAX backend is not installed."""
    env = os.environ.get("FTWIZARD_JAX_PYTHON")
    if env:
        p = Path(env).expanduser()
        return p if p.exists() else None
    venv = Path(os.environ.get("FTWIZARD_JAX_VENV") or REPO / ".venv-jax").expanduser()
    if not venv.is_absolute():
        venv = REPO / venv
    cand = venv / "bin" / "python"
    if cand.exists() and _has_tunix(cand):
        return cand
    here = Path(sys.executable)
    return here if _has_tunix(here) else None


def jax_available() -> tuple[bool, str]:
    """(True, interpreter) or (False, the install command) for the wizard's method list."""
    py = jax_python()
    if py is None:
        return False, f"JAX backend not installed: {JAX_INSTALL_HINT}"
    return True, str(py)


def interpreter(cfg: RunConfig) -> str:
    """The python that trains this run: the JAX environment's for method jax, else this one."""
    if cfg.method.parallel != "jax":
        return sys.executable
    py = jax_python()
    if py is None:
        from ftwizard.core.errors import InputError

        raise InputError("method.parallel=jax needs the JAX environment", field="method.parallel",
                         value="jax", fix=JAX_INSTALL_HINT)
    return str(py)


# ---------------------------------------------------------------------------- command lines

def python_command(run_dir: str | Path, *, resume: bool = False, python: str | None = None,
                   module: str = TRAIN_MODULE) -> list[str]:
    return [python or sys.executable] + lc._tail(run_dir, resume, module)


def torchrun_command(run_dir: str | Path, nproc: int, *, resume: bool = False,
                     python: str | None = None) -> list[str]:
    return ([python or sys.executable, "-m", "torch.distributed.run", "--standalone",
             "--nproc_per_node", str(nproc)] + lc._tail(run_dir, resume))


def deepspeed_command(run_dir: str | Path, nproc: int, *, resume: bool = False) -> list[str]:
    return ["deepspeed", "--num_gpus", str(nproc), "--module"] + lc._tail(run_dir, resume)[1:]


def accelerate_command(run_dir: str | Path, nproc: int, *, resume: bool = False,
                       python: str | None = None) -> list[str]:
    return ([python or sys.executable, "-m", "accelerate.commands.launch", "--config_file",
             f"{run_dir}/{ACCELERATE_CONFIG}", "--num_processes", str(nproc)]
            + lc._tail(run_dir, resume))


def train_command(cfg: RunConfig, run_dir: str | Path, *, nproc: int, cpu: bool,
                  resume: bool = False, python: str | None = None) -> list[str]:
    """argv that trains this run on one node with `nproc` processes.

    On the CPU, DeepSpeed with several processes and FSDP go through torchrun: `accelerate launch
    --cpu` would start one process only, and FSDP would run as DDP anyway (FACTS.md).
    """
    par = cfg.method.parallel
    if par == "jax":
        return python_command(run_dir, resume=resume, python=python or interpreter(cfg),
                              module=JAX_MODULE)
    if par == "split" or nproc <= 1 and par not in ("deepspeed",):
        return python_command(run_dir, resume=resume, python=python)
    if par == "deepspeed":
        if cpu and nproc > 1:
            return torchrun_command(run_dir, nproc, resume=resume, python=python)
        return deepspeed_command(run_dir, nproc, resume=resume)
    if par == "fsdp" and not cpu:
        return accelerate_command(run_dir, nproc, resume=resume, python=python)
    return torchrun_command(run_dir, nproc, resume=resume, python=python)


def train_environment(cfg: RunConfig, *, cpu: bool) -> dict[str, str]:
    """Variables the training process needs on top of the user's environment."""
    env = {"PYTHONUNBUFFERED": "1", "TOKENIZERS_PARALLELISM": "false"}
    if cfg.output.report_to == "wandb":
        # The user's WANDB_PROJECT / WANDB_MODE=offline are respected; a project name by default.
        env["WANDB_PROJECT"] = os.environ.get("WANDB_PROJECT", "ftwizard")
        if os.environ.get("WANDB_DISABLED", "").lower() in ("1", "true", "yes"):
            env["WANDB_DISABLED"] = "true"
    else:
        env["WANDB_DISABLED"] = "true"
        env["WANDB_MODE"] = "disabled"
    if cfg.method.parallel == "deepspeed" and cpu:
        env["DS_SKIP_CUDA_CHECK"] = "1"
        env["DS_ACCELERATOR"] = "cpu"
    return env


def default_nproc(cfg: RunConfig, hw: Any) -> int:
    """Processes on this node: one per GPU for the data-parallel methods, else one;
    hardware.devices caps it (and sets the CPU's gloo process count)."""
    if cfg.method.parallel in ("ddp", "deepspeed", "fsdp", "pipeline") and cfg.hardware.devices:
        return cfg.hardware.devices
    if hw is None or hw.is_cpu_only or cfg.method.parallel in ("none", "split", "jax"):
        return 1
    return max(1, hw.device_count)


# ---------------------------------------------------------------------------- the run dir

CONFIG_FILE = "config.yaml"
LAUNCH_FILE = "launch.sh"
HARDWARE_FILE = "hardware.json"
EXECUTABLE = frozenset({LAUNCH_FILE, lc.SBATCH, lc.TPU_SCRIPT})
# launch.sh's own folder: the run dir wherever it has been copied or moved.
RUN_DIR_LINE = 'RUN_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"'

# Variables a run depends on that are worth pinning in launch.sh when set here (not secrets).
PASSTHROUGH = ("CUDA_VISIBLE_DEVICES", "HIP_VISIBLE_DEVICES", "HF_HOME", "HF_HUB_CACHE",
               "HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE", "HF_DATASETS_OFFLINE", "FTWIZARD_HOME",
               "TORCH_EXTENSIONS_DIR", "OMP_NUM_THREADS", "WANDB_PROJECT", "WANDB_ENTITY",
               "WANDB_MODE", "WANDB_DIR", "WANDB_BASE_URL", "MLFLOW_TRACKING_URI",
               "MLFLOW_EXPERIMENT_NAME", "PYTORCH_CUDA_ALLOC_CONF", "TPU_NAME")
PASSTHROUGH_PREFIXES = ("NCCL_",)


@dataclass
class RunFiles:
    """Everything a run dir holds before it runs, and the command launch.sh execs.

    `argv` holds `$RUN_DIR` (launch.sh's own folder) where the run dir is meant; `command` is that
    argv as the exact shell words launch.sh execs (what Review shows). `files` maps names relative
    to the run dir to their text; `notes` are what the user must know to start it (many nodes,
    Slurm, TPU pods)."""

    argv: list[str]
    env: dict[str, str]
    files: dict[str, str]
    notes: list[str] = field(default_factory=list)
    nproc: int = 1
    config: RunConfig | None = None

    @property
    def command(self) -> str:
        return lc.shell_join(self.argv)


def resolved_config(cfg: RunConfig, hw: Any = None, plan: Any = None) -> RunConfig:
    """The config as it will run: local data, model and tokenizer paths absolute (launch.sh runs
    inside the run dir, wherever that is), output.dir absolute, the hardware it is planned on, and
    the attention kernel the plan assumed (the backend passes it to from_pretrained, so a newer
    transformers cannot silently change what the plan's activation memory meant)."""
    from ftwizard.core.config import from_dict

    data = cfg.to_dict()
    if plan is not None and not data["model"].get("attn_implementation"):
        data["model"]["attn_implementation"] = plan.model.attn_impl

    def absolute(path: str | None) -> str | None:
        if path and not path.startswith("hf:") and Path(path).expanduser().exists():
            return str(Path(path).expanduser().resolve())
        return path

    for src in data["data"]["train"] + ([data["data"]["validation"]] if data["data"]["validation"] else []):
        src["path"] = absolute(src.get("path"))
    data["model"]["name"] = absolute(data["model"]["name"])
    data["model"]["tokenizer"] = absolute(data["model"].get("tokenizer"))
    data["output"]["dir"] = str(Path(cfg.output.dir).expanduser().resolve())
    if hw is not None:
        from ftwizard.core.fingerprint import fingerprint

        data["hardware"]["planned_on"] = fingerprint(hw)
    return from_dict(data)


def render(cfg: RunConfig, hw: Any, plan: Any, run_dir: str | Path, *, nproc: int | None = None,
           resume: bool = False, node: dict[str, Any] | None = None,
           slurm: dict[str, Any] | None = None, tpu: dict[str, Any] | None = None) -> RunFiles:
    """The run dir's files and launch command for `cfg` on `hw` (a Hardware: detected, or from
    the target; None renders as a single process).

    `node` (hardware.nodes > 1): {"node_rank", "master_addr", "master_port", "hosts"}; values
    left out stay shell variables ($NODE_RANK, $MASTER_ADDR) in launch.sh. `slurm`
    ({"partition", "time_limit", "master_port"}) adds run.sbatch; `tpu` ({"tpu_name", "zone"})
    adds tpu_pod.sh. `resume` only changes the returned argv (launch.sh takes --resume itself).
    """
    import datetime as _dt

    from ftwizard import __version__
    from ftwizard.core.secrets import secret_names

    run_dir = Path(run_dir)
    cpu = True if hw is None else bool(hw.is_cpu_only)
    cfg = resolved_config(cfg, hw, plan)
    nproc = nproc or default_nproc(cfg, hw)
    nodes = cfg.hardware.nodes
    files: dict[str, str] = {CONFIG_FILE: cfg.to_yaml()}
    files.update(native_configs(cfg, num_processes=nproc * nodes, cpu=cpu))
    env = train_environment(cfg, cpu=cpu)
    python = "$PYTHON"
    notes: list[str] = []
    if nodes > 1 and cfg.method.parallel != "jax":
        node = dict(node or {})
        hostfile = None
        if node.get("hosts"):
            files[lc.HOSTFILE] = lc.hostfile_text(node["hosts"], nproc)
            hostfile = f"{lc.RUN_DIR_VAR}/{lc.HOSTFILE}"
        elif lc.multinode_launcher(cfg) == "deepspeed":
            hostfile = f"{lc.RUN_DIR_VAR}/{lc.HOSTFILE}"  # the user writes it; launch.sh names where
        # deepspeed's launcher cannot run CPU ranks over ssh here; torchrun can
        launcher = "torchrun" if cfg.method.parallel == "deepspeed" and cpu else None
        argv = lc.multinode_command(
            cfg, lc.RUN_DIR_VAR, nproc_per_node=nproc, python=python,
            node_rank=node.get("node_rank", "${NODE_RANK:?set NODE_RANK to the rank of this node, 0..%d}"
                               % (nodes - 1)),
            master_addr=node.get("master_addr") or "${MASTER_ADDR:?set MASTER_ADDR to the address of node 0}",
            master_port=node.get("master_port") or lc.DEFAULT_MASTER_PORT,
            hostfile=hostfile, launcher=launcher)
        notes.append(f"{nodes} nodes: run this on every node with NODE_RANK=0..{nodes - 1} "
                     "and MASTER_ADDR=<node 0>" if argv[0] != "deepspeed" else
                     "DeepSpeed starts every host of the hostfile itself: run this once, on the first host")
    else:
        argv = train_command(cfg, lc.RUN_DIR_VAR, nproc=nproc, cpu=cpu, python=python)
    hidden = sorted(secret_names(os.environ))
    pinned = dict(env)
    for k, v in os.environ.items():
        if (k in PASSTHROUGH or k.startswith(PASSTHROUGH_PREFIXES)) and k not in hidden:
            pinned.setdefault(k, v)
    when = _dt.datetime.now().strftime("%Y-%m-%d %H:%M")
    lines = ["#!/usr/bin/env bash",
             f"# Run {cfg.name!r} ({run_dir.name}), written by ftwizard {__version__} on {when}.",
             "# Trains without ftwizard's CLI: `bash launch.sh`; `bash launch.sh --resume` continues",
             "# from the newest checkpoint. Output goes to the terminal; ftwizard keeps it in stdout.log.",
             "# Every path is relative to this file's folder: a copied or moved run dir trains where it is.",
             "# Secrets are read from your environment and never written into this file."]
    if hidden:
        lines.append("# Set here when it was written: " + ", ".join(hidden))
    lines += [f"# {n}" for n in notes]
    lines += ["set -euo pipefail", RUN_DIR_LINE, 'cd "$RUN_DIR"',
              f'PYTHON="${{FTWIZARD_PYTHON:-{interpreter(cfg)}}}"']
    lines += [f"export {k}={shlex.quote(v)}" for k, v in pinned.items()]
    lines.append(f'exec {lc.shell_join(argv)} "$@"')
    files[LAUNCH_FILE] = "\n".join(lines) + "\n"
    if slurm is not None:
        gpus = 0 if cpu else nproc
        files[lc.SBATCH] = lc.slurm_script(cfg, lc.RUN_DIR_VAR, nodes=nodes, gpus_per_node=gpus,
                                           partition=slurm.get("partition"),
                                           time_limit=slurm.get("time_limit"), env=env,
                                           master_port=slurm.get("master_port") or lc.DEFAULT_MASTER_PORT,
                                           python=interpreter(cfg))
        notes.append(f"Slurm: `cd {run_dir} && sbatch {lc.SBATCH}` starts it ({nodes} node(s)); "
                     f"`ftwizard attach {run_dir}` watches it from a node that sees this folder.")
    if tpu is not None:
        files[lc.TPU_SCRIPT] = lc.tpu_script(tpu_name=tpu["tpu_name"],
                                             zone=tpu["zone"], workdir=Path.cwd(), env=env)
        notes.append(f"TPU VM pod: `bash {run_dir / lc.TPU_SCRIPT}` starts it on every worker "
                     "(copy the run dir and the data to the same path on each worker first).")
    hw_doc = {"fingerprint": cfg.hardware.planned_on,
              "detail": hw.to_dict() if hasattr(hw, "to_dict") else None,
              "recorded": round(time.time(), 3)}
    files[HARDWARE_FILE] = json.dumps(hw_doc, indent=2, default=str)
    if plan is not None:
        files[PLAN_FILE] = json.dumps(plan.to_dict(), indent=2, default=str)
    if resume:
        argv = argv + ["--resume"]
    return RunFiles(argv=argv, env=env, files=files, notes=notes, nproc=nproc, config=cfg)
