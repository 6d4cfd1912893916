"""RunConfig -> the native files and command lines that run it without ftwizard.

Every run dir gets the DeepSpeed JSON or accelerate YAML a user would otherwise write by hand, and
a command line that launches `python -m ftwizard.core.train RUN_DIR` under the right launcher:
plain python for one process (and for a model split over the GPUs of one process), torchrun for
DDP, the deepspeed launcher for DeepSpeed, accelerate for FSDP. Each piece is a small function so
that multi-node, Slurm and TPU lines can be added beside them.

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
from pathlib import Path
from typing import Any

import yaml

from ftwizard.core.config import RunConfig

DS_CONFIG = "ds_config.json"
ACCELERATE_CONFIG = "accelerate.yaml"
TRAIN_MODULE = "ftwizard.core.train"

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


# ---------------------------------------------------------------------------- device facts

def on_cpu(cfg: RunConfig) -> bool:
    """Whether the run will train on the CPU: a "cpu" target, or "auto" on a machine without a GPU."""
    target = cfg.hardware.target.strip().lower()
    if target != "auto":
        return target.startswith("cpu")
    import torch  # ~1.5 s; only when the target is this machine

    return not torch.cuda.is_available()


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


def write_deepspeed_config(cfg: RunConfig, run_dir: str | Path) -> Path:
    path = Path(run_dir) / DS_CONFIG
    path.write_text(json.dumps(deepspeed_config(cfg), indent=2) + "\n")
    return path


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


def fsdp_trainer_options(cfg: RunConfig) -> dict[str, Any]:
    """The same FSDP settings as TrainingArguments(fsdp=..., fsdp_config=...) for the Trainer."""
    s = fsdp_settings(cfg)
    mode = "full_shard" if cfg.method.fsdp == "full_shard" else "shard_grad_op"
    conf: dict[str, Any] = {
        "backward_prefetch": "backward_pre",
        "forward_prefetch": False,
        "use_orig_params": True,
        "sync_module_states": True,
        "cpu_ram_efficient_loading": True,
        "activation_checkpointing": cfg.method.gradient_checkpointing,
    }
    if "fsdp_transformer_layer_cls_to_wrap" in s:
        conf["transformer_layer_cls_to_wrap"] = [s["fsdp_transformer_layer_cls_to_wrap"]]
    return {"fsdp": f"{mode} auto_wrap", "fsdp_config": conf}


def mixed_precision(cfg: RunConfig, cpu: bool) -> str:
    if cfg.model.dtype == "fp16":
        return "no" if cpu else "fp16"
    return "bf16" if cfg.model.dtype == "bf16" else "no"


def accelerate_config(cfg: RunConfig, num_processes: int, *, cpu: bool | None = None) -> dict[str, Any]:
    """An `accelerate launch --config_file` YAML for this run (the file `accelerate config` writes)."""
    cpu = on_cpu(cfg) if cpu is None else cpu
    par = cfg.method.parallel
    if par == "fsdp":
        dtype = "FSDP"
    elif par == "deepspeed":
        dtype = "DEEPSPEED"
    elif num_processes > 1:
        dtype = "MULTI_CPU" if cpu else "MULTI_GPU"
    else:
        dtype = "NO"
    out: dict[str, Any] = {
        "compute_environment": "LOCAL_MACHINE",
        "debug": False,
        "distributed_type": dtype,
        "downcast_bf16": "no",
        "machine_rank": 0,
        "main_training_function": "main",
        "mixed_precision": mixed_precision(cfg, cpu),
        "num_machines": cfg.hardware.nodes,
        "num_processes": num_processes,
        "rdzv_backend": "static",
        "same_network": True,
        "use_cpu": cpu,
    }
    if par == "fsdp":
        out["fsdp_config"] = fsdp_settings(cfg)
    if par == "deepspeed":
        out["deepspeed_config"] = {"deepspeed_config_file": DS_CONFIG, "zero3_init_flag": cfg.method.zero_stage == 3}
    return out


def write_accelerate_config(cfg: RunConfig, run_dir: str | Path, num_processes: int,
                            *, cpu: bool | None = None) -> Path:
    path = Path(run_dir) / ACCELERATE_CONFIG
    data = accelerate_config(cfg, num_processes, cpu=cpu)
    if "deepspeed_config" in data:
        data["deepspeed_config"]["deepspeed_config_file"] = str(Path(run_dir) / DS_CONFIG)
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def write_native_configs(cfg: RunConfig, run_dir: str | Path, *, num_processes: int = 1,
                         cpu: bool | None = None) -> list[Path]:
    """The launcher files this run needs, written into the run dir."""
    written: list[Path] = []
    if cfg.method.parallel == "deepspeed":
        written.append(write_deepspeed_config(cfg, run_dir))
    if cfg.method.parallel == "fsdp":
        written.append(write_accelerate_config(cfg, run_dir, num_processes, cpu=cpu))
    return written


# ---------------------------------------------------------------------------- command lines

def python_command(run_dir: str | Path, *, resume: bool = False) -> list[str]:
    return [sys.executable, "-m", TRAIN_MODULE, str(run_dir)] + (["--resume"] if resume else [])


def torchrun_command(run_dir: str | Path, nproc: int, *, resume: bool = False) -> list[str]:
    return ([sys.executable, "-m", "torch.distributed.run", "--standalone",
             "--nproc_per_node", str(nproc), "-m", TRAIN_MODULE, str(run_dir)]
            + (["--resume"] if resume else []))


def deepspeed_command(run_dir: str | Path, nproc: int, *, resume: bool = False) -> list[str]:
    return (["deepspeed", "--num_gpus", str(nproc), "--module", TRAIN_MODULE, str(run_dir)]
            + (["--resume"] if resume else []))


def accelerate_command(run_dir: str | Path, nproc: int, *, resume: bool = False) -> list[str]:
    return ([sys.executable, "-m", "accelerate.commands.launch", "--config_file",
             str(Path(run_dir) / ACCELERATE_CONFIG), "--num_processes", str(nproc),
             "-m", TRAIN_MODULE, str(run_dir)] + (["--resume"] if resume else []))


def train_command(cfg: RunConfig, run_dir: str | Path, *, nproc: int, resume: bool = False,
                  cpu: bool | None = None) -> list[str]:
    """argv that trains this run on one node with `nproc` processes.

    On the CPU, DeepSpeed with several processes and FSDP go through torchrun: `accelerate launch
    --cpu` would start one process only, and FSDP would run as DDP anyway (FACTS.md).
    """
    par = cfg.method.parallel
    if par == "jax":
        # The JAX stack lives in its own environment (tunix pins what the PyTorch stack refuses).
        from ftwizard.core.backends.jax_env import train_command as jax_command

        return jax_command(run_dir, resume=resume)
    if par == "split" or nproc <= 1 and par not in ("deepspeed",):
        return python_command(run_dir, resume=resume)
    cpu = on_cpu(cfg) if cpu is None else cpu
    if par == "deepspeed":
        if cpu and nproc > 1:
            return torchrun_command(run_dir, nproc, resume=resume)
        return deepspeed_command(run_dir, nproc, resume=resume)
    if par == "fsdp" and not cpu:
        return accelerate_command(run_dir, nproc, resume=resume)
    return torchrun_command(run_dir, nproc, resume=resume)


def train_environment(cfg: RunConfig, *, cpu: bool | None = None) -> dict[str, str]:
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
    if cfg.method.parallel == "deepspeed":
        cpu = on_cpu(cfg) if cpu is None else cpu
        if cpu:
            env["DS_SKIP_CUDA_CHECK"] = "1"
            env["DS_ACCELERATOR"] = "cpu"
    return env


def shell_line(argv: list[str], env: dict[str, str] | None = None) -> str:
    """One copy-pasteable line for launch.sh."""
    prefix = " ".join(f"{k}={shlex.quote(v)}" for k, v in (env or {}).items())
    cmd = " ".join(shlex.quote(a) for a in argv)
    return f"{prefix} {cmd}".strip()


# ---------------------------------------------------------------------------- many nodes, Slurm, TPU pods
# Rendered in launch_cluster (the runs helper's module, tested by each launcher's own parser);
# re-exported here so every launch line can be found in one place.
from ftwizard.core.launch_cluster import (hostfile_text, multinode_command, slurm_script,  # noqa: E402,F401
                                          tpu_vm_command, write_hostfile, write_slurm_script)
