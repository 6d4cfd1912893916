"""Native configs and command lines, judged by the tools that will read them.

The DeepSpeed JSON goes through transformers' "auto" filling (the same call the Trainer makes)
and then DeepSpeed's own config class; the accelerate YAML goes through accelerate's loader.
"""

from __future__ import annotations

import json
import sys
import types

import pytest

from ftwizard.core import launch
from ftwizard.core.config import from_dict


def _cfg(**method):
    base = {"model": {"name": "tiny-llama", "dtype": "bf16"},
            "method": {"kind": "full", **method},
            "train": {"micro_batch": 7, "grad_accum": 16, "lr": 5e-6, "weight_decay": 0.1,
                      "max_grad_norm": 0.5}}
    return from_dict(base)


def _resolved(ds: dict, tiny_llama, *, bf16: bool):
    """The config DeepSpeed will see once the Trainer fills the "auto" values."""
    from deepspeed.runtime.config import DeepSpeedConfig  # ~3 s
    from transformers import AutoConfig, TrainingArguments
    from transformers.integrations.deepspeed import HfTrainerDeepSpeedConfig

    hf = HfTrainerDeepSpeedConfig(ds)
    args = TrainingArguments(output_dir="unused", per_device_train_batch_size=7,
                             gradient_accumulation_steps=16, use_cpu=True, bf16=bf16,
                             learning_rate=5e-6, weight_decay=0.1, max_grad_norm=0.5)
    hf.trainer_config_process(args)
    model = types.SimpleNamespace(config=AutoConfig.from_pretrained(tiny_llama))
    hf.trainer_config_finalize(args, model, 100)
    return DeepSpeedConfig(hf.config)  # world size 1: no process group here


def test_zero3_offload_config_is_valid_and_in_sync(tiny_llama):
    ds = launch.deepspeed_config(_cfg(parallel="deepspeed", zero_stage=3, offload_optimizer=True,
                                      offload_params=True))
    assert "scheduler" not in ds  # the Trainer's (the plan's) LR curve, not DeepSpeed's WarmupLR
    c = _resolved(ds, tiny_llama, bf16=True)
    assert c.zero_optimization_stage == 3
    assert c.train_micro_batch_size_per_gpu == 7 and c.gradient_accumulation_steps == 16
    assert c.train_batch_size == 7 * 16
    assert c.zero_config.offload_param.device == "cpu"
    assert c.zero_config.offload_optimizer.device == "cpu"
    assert c.zero_config.gather_16bit_weights_on_model_save is True
    assert c.optimizer_params["lr"] == 5e-6 and c.optimizer_params["weight_decay"] == 0.1
    assert c.gradient_clipping == 0.5
    assert c.bfloat16_config.enabled is True


def test_zero2_without_offload_and_foreign_optimizer(tiny_llama):
    ds = launch.deepspeed_config(_cfg(parallel="deepspeed", zero_stage=2, optimizer="adafactor"))
    assert "optimizer" not in ds  # the Trainer builds Adafactor; DeepSpeed would build AdamW
    c = _resolved(ds, tiny_llama, bf16=False)
    assert c.zero_optimization_stage == 2
    assert c.zero_config.offload_optimizer is None and c.zero_config.offload_param is None
    assert c.bfloat16_config.enabled is False


@pytest.mark.parametrize("mode,strategy", [("full_shard", "FULL_SHARD"),
                                           ("shard_grad_op", "SHARD_GRAD_OP")])
def test_fsdp_yaml_loads_in_accelerate(tmp_path, tiny_llama, mode, strategy):
    from accelerate.commands.config.config_args import load_config_from_file

    cfg = _cfg(parallel="fsdp", fsdp=mode, gradient_checkpointing=True)
    files = launch.native_configs(cfg, num_processes=8, cpu=False)
    assert list(files) == ["accelerate.yaml"]
    (tmp_path / "accelerate.yaml").write_text(files["accelerate.yaml"])
    loaded = load_config_from_file(str(tmp_path / "accelerate.yaml"))
    assert str(loaded.distributed_type).endswith("FSDP")
    assert loaded.num_processes == 8 and loaded.mixed_precision == "bf16"
    assert loaded.use_cpu is False
    fc = loaded.fsdp_config
    assert fc["fsdp_sharding_strategy"] == strategy
    assert fc["fsdp_auto_wrap_policy"] == "TRANSFORMER_BASED_WRAP"
    assert fc["fsdp_transformer_layer_cls_to_wrap"] == "LlamaDecoderLayer"
    assert fc["fsdp_activation_checkpointing"] is True


def test_decoder_layer_class_from_the_model_itself(tiny_gpt2, tiny_qwen2):
    """Known architectures come from the table; the table agrees with transformers' own list."""
    from accelerate import init_empty_weights
    from transformers import AutoConfig, AutoModelForCausalLM

    for folder in (tiny_gpt2, tiny_qwen2):
        cfg = from_dict({"model": {"name": str(folder)}})
        with init_empty_weights():
            model = AutoModelForCausalLM.from_config(AutoConfig.from_pretrained(folder))
        assert launch.decoder_layer_class(cfg) in model._no_split_modules


def test_deepspeed_writes_json():
    cfg = _cfg(parallel="deepspeed", zero_stage=1)
    files = launch.native_configs(cfg, num_processes=1, cpu=True)
    assert list(files) == ["ds_config.json"]
    assert json.loads(files["ds_config.json"])["zero_optimization"]["stage"] == 1


def test_commands_per_launcher(tmp_path):
    run = tmp_path / "run"
    py = sys.executable
    assert launch.train_command(_cfg(), run, nproc=1, cpu=True) == [py, "-m", "ftwizard.core.train", str(run)]
    assert launch.train_command(_cfg(kind="lora", parallel="split"), run, nproc=4, cpu=False)[:3] == \
        [py, "-m", "ftwizard.core.train"]
    ddp = launch.train_command(_cfg(parallel="ddp"), run, nproc=2, cpu=True, resume=True)
    assert ddp[:3] == [py, "-m", "torch.distributed.run"]
    assert ddp[ddp.index("--nproc_per_node") + 1] == "2" and ddp[-1] == "--resume"
    ds = launch.train_command(_cfg(parallel="deepspeed"), run, nproc=4, cpu=False)
    assert ds[:3] == ["deepspeed", "--num_gpus", "4"] and "--module" in ds
    assert launch.train_command(_cfg(parallel="deepspeed"), run, nproc=1, cpu=True)[0] == "deepspeed"
    # several CPU processes: torchrun (gloo), since no GPU launcher applies
    assert launch.train_command(_cfg(parallel="deepspeed"), run, nproc=2, cpu=True)[2] == "torch.distributed.run"
    fsdp_gpu = launch.train_command(_cfg(parallel="fsdp"), run, nproc=8, cpu=False)
    assert fsdp_gpu[2] == "accelerate.commands.launch"
    assert fsdp_gpu[fsdp_gpu.index("--config_file") + 1] == str(run / "accelerate.yaml")
    # accelerate --cpu would start one process (FACTS.md): torchrun on the CPU
    assert launch.train_command(_cfg(parallel="fsdp"), run, nproc=2, cpu=True)[2] == "torch.distributed.run"


def test_environment(monkeypatch):
    monkeypatch.delenv("WANDB_PROJECT", raising=False)
    monkeypatch.delenv("WANDB_DISABLED", raising=False)
    env = launch.train_environment(_cfg(), cpu=True)
    assert env["WANDB_DISABLED"] == "true"
    wandb = from_dict({"output": {"report_to": "wandb"}})
    assert launch.train_environment(wandb, cpu=False)["WANDB_PROJECT"] == "ftwizard"
    assert "WANDB_DISABLED" not in launch.train_environment(wandb, cpu=False)
    monkeypatch.setenv("WANDB_PROJECT", "Testing")
    monkeypatch.setenv("WANDB_DISABLED", "true")
    env = launch.train_environment(wandb, cpu=False)
    assert env["WANDB_PROJECT"] == "Testing" and env["WANDB_DISABLED"] == "true"
    assert launch.train_environment(_cfg(parallel="deepspeed"), cpu=True)["DS_SKIP_CUDA_CHECK"] == "1"


def test_every_config_optimizer_is_a_trainer_optimizer():
    """adamw_8bit / paged_adamw_8bit go to bitsandbytes, adafactor and sgd to the Trainer's own."""
    from typing import get_args

    from transformers.training_args import OptimizerNames

    from ftwizard.core.backends.hf import OPTIMIZERS
    from ftwizard.core.config import Optimizer

    assert set(OPTIMIZERS) == set(get_args(Optimizer))
    for name in OPTIMIZERS.values():
        OptimizerNames(name)  # raises for a name the Trainer does not know


@pytest.mark.parametrize("parallel,nodes", [("deepspeed", 1), ("fsdp", 1), ("deepspeed", 2),
                                            ("fsdp", 2), ("ddp", 2)])
def test_rendered_run_dir_names_itself_only_relative_to_itself(tmp_path, parallel, nodes):
    """Issue 13: no file of a run dir holds the run dir's own path, so a copy trains in the copy;
    launch.sh execs exactly render's command, from its own folder."""
    import subprocess

    from ftwizard.core.hardware import resolve

    hw = resolve("A100-80GB x8", nodes=nodes)
    cfg = from_dict({"name": "rel", "method": {"kind": "full", "parallel": parallel},
                     "hardware": {"target": "A100-80GB x8", "nodes": nodes}})
    run_dir = tmp_path / "somewhere" / "rel"
    out = launch.render(cfg, hw, None, run_dir, node={"hosts": ["n1", "n2"]} if nodes > 1 else None)
    assert "launch.sh" in out.files and "config.yaml" in out.files
    for name, text in out.files.items():
        assert str(run_dir) not in text and str(tmp_path) not in text.replace(
            str(cfg.output.dir), ""), name
    sh = out.files["launch.sh"]
    assert launch.RUN_DIR_LINE in sh and 'cd "$RUN_DIR"' in sh
    assert f'exec {out.command} "$@"' in sh
    run_dir.mkdir(parents=True)
    for name, text in out.files.items():
        (run_dir / name).write_text(text)
    assert subprocess.run(["bash", "-n", str(run_dir / "launch.sh")]).returncode == 0


def test_launch_sh_pins_the_trackers_destination(tmp_path, monkeypatch):
    """A run replayed from launch.sh alone reports to the same MLflow server and experiment (and
    wandb host) as the run ftwizard started; a credential in the URI is never written."""
    from ftwizard.core.hardware import resolve

    monkeypatch.setenv("MLFLOW_TRACKING_URI", "http://mlflow.internal:5000")
    monkeypatch.setenv("MLFLOW_EXPERIMENT_NAME", "support-bot")
    monkeypatch.setenv("WANDB_BASE_URL", "https://wandb.internal")
    cfg = from_dict({"name": "ml", "output": {"report_to": "mlflow"}})
    sh = launch.render(cfg, resolve("A100-80GB x1"), None, tmp_path / "ml").files["launch.sh"]
    assert "export MLFLOW_TRACKING_URI=http://mlflow.internal:5000" in sh
    assert "export MLFLOW_EXPERIMENT_NAME=support-bot" in sh
    assert "export WANDB_BASE_URL=https://wandb.internal" in sh
    monkeypatch.setenv("MLFLOW_TRACKING_TOKEN", "mlf_" + "x" * 40)
    sh = launch.render(cfg, resolve("A100-80GB x1"), None, tmp_path / "ml2").files["launch.sh"]
    assert "mlf_" not in sh and "MLFLOW_TRACKING_TOKEN" in sh   # named, never its value
