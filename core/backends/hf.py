"""The PyTorch backend: one run config -> a transformers Trainer run that reports live events.

Each seed recipe was its own script (DeepSpeed ZeRO-3 in 001, TRL with LoRA/QLoRA and a split
model in 004); here the method is a few config keys and the rest is shared: the same prepared
sequences (core/data.py), the same step count and LR curve as the plan (core/schedule.py), and one
TrainerCallback that writes events.jsonl and status.json. train.objective dpo/orpo/kto/reward runs
TRL's trainers (core/backends/preference.py) through the same pieces: begin, load_base and
lora_config, training_argument_values, PlannedSchedule, EventsCallback, run_trainer and finish.

Heavy imports (torch, transformers, peft, deepspeed, bitsandbytes) are at the top of this module on
purpose: it is only imported by the training process (`python -m ftwizard.core.train`).
"""

from __future__ import annotations

import os
import signal
import socket
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch  # ~1.5 s
import transformers  # ~2 s with the Trainer
from transformers import (AutoModelForCausalLM, Trainer, TrainerCallback, TrainerControl,
                          TrainerState, TrainingArguments)

from ftwizard.core.backends import Outcome
from ftwizard.core import events as ev
from ftwizard.core.errors import InputError
from ftwizard.core.schedule import lr_at, plan_steps

OPTIMIZERS = {  # config name -> TrainingArguments.optim
    "adamw": "adamw_torch_fused",  # the Trainer's default: one kernel per step, CPU and CUDA
    "adamw_8bit": "adamw_bnb_8bit",
    "paged_adamw_8bit": "paged_adamw_8bit",
    "adafactor": "adafactor",
    "sgd": "sgd",
}
TORCH_DTYPES = {"fp32": torch.float32, "fp16": torch.float16, "bf16": torch.bfloat16}


# ---------------------------------------------------------------------------- process facts

@dataclass
class Dist:
    """Where this process stands: rank, world, data-parallel replicas, device kind."""

    rank: int
    local_rank: int
    world_size: int
    cpu: bool
    data_parallel: int
    notes: list[str] = field(default_factory=list)

    @property
    def main(self) -> bool:
        return self.rank == 0


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def setup_distributed(cfg: Any) -> Dist:
    """Read the launcher's environment; make a lone DeepSpeed process a world of one.

    DeepSpeed insists on a process group even for one process, and ZeRO-3 under torchrun on gloo
    fails while loading the model unless `deepspeed.init_distributed(dist_backend="gloo")` runs
    before TrainingArguments (FACTS.md).
    """
    par = cfg.method.parallel
    if par == "jax":
        raise InputError("method.parallel=jax runs on the JAX backend, not this one",
                         field="method.parallel", value=par, fix="launch with `ftwizard run`")
    cpu = not torch.cuda.is_available()
    if par == "deepspeed" and "RANK" not in os.environ:
        os.environ.update({"RANK": "0", "LOCAL_RANK": "0", "WORLD_SIZE": "1",
                           "MASTER_ADDR": "127.0.0.1"})
        os.environ.setdefault("MASTER_PORT", str(_free_port()))
    rank = int(os.environ.get("RANK", "0"))
    world = int(os.environ.get("WORLD_SIZE", "1"))
    local = int(os.environ.get("LOCAL_RANK", "0"))
    notes: list[str] = []
    if par == "deepspeed":
        import deepspeed  # ~3 s

        deepspeed.init_distributed(dist_backend="gloo" if cpu else "nccl")
    if par == "split" and world > 1:
        raise InputError("method.parallel=split runs as one process that spreads the layers over "
                         f"the GPUs, but {world} processes were started",
                         field="method.parallel", value=par, fix="launch it with plain python")
    if par == "fsdp" and cpu:
        notes.append("FSDP needs GPUs: on the CPU accelerate runs this as plain DDP "
                     "(every process holds the whole model; no sharding)")
    return Dist(rank=rank, local_rank=local, world_size=world, cpu=cpu,
                data_parallel=1 if par == "split" else world, notes=notes)


# ---------------------------------------------------------------------------- data

def load_data(cfg: Any) -> tuple[Any, list[dict], list[dict] | None]:
    """The tokenizer and exactly the sequences core/data.py prepares (the plan counts these)."""
    from ftwizard.core.data import load_tokenizer, training_sets

    tok = load_tokenizer(cfg.model)
    ensure_pad_token(tok, cfg)
    train, val = training_sets(cfg, tok)  # lists, or Arrow datasets for big files (data_arrow)
    return tok, train, val


def apply_drop_last(train: list[dict], cfg: Any, data_parallel: int) -> tuple[list[dict], int]:
    """Seed 001's rule: samples that do not fill a whole global batch are not trained on.

    HF's `dataloader_drop_last` only drops a partial micro-batch (FACTS.md), so the rule is applied
    to the data before the Trainer sees it; the Trainer's own step count then equals the plan's.
    """
    if not cfg.train.drop_last:
        return train, 0
    gb = cfg.train.micro_batch * cfg.train.grad_accum * data_parallel
    keep = (len(train) // gb) * gb
    if hasattr(train, "select"):  # an Arrow dataset (data_arrow): slicing would give columns
        return train.select(range(keep)), len(train) - keep
    return train[:keep], len(train) - keep


class Collator:
    """Pads a batch to its longest sequence; padding is masked out of attention and loss."""

    def __init__(self, pad_id: int) -> None:
        self.pad_id = pad_id

    def __call__(self, batch: list[dict]) -> dict[str, torch.Tensor]:
        n = max(len(b["input_ids"]) for b in batch)
        ids, att, lab = [], [], []
        for b in batch:
            k = len(b["input_ids"])
            pad = n - k
            ids.append(list(b["input_ids"]) + [self.pad_id] * pad)
            mask = list(b.get("attention_mask") or [1] * k)
            att.append(mask + [0] * pad)
            labels = list(b.get("labels") or b["input_ids"])
            lab.append(labels + [-100] * pad)
        if "position_ids" in batch[0]:
            # Packed sequences (data.packing): position ids restart per example and no attention
            # mask goes in, so transformers builds its packed-sequence mask (no cross-attention).
            # It only does so without a KV cache, and the models make one whenever
            # config.use_cache is on, in training too (FACTS.md): hence use_cache=False.
            pos = [list(b["position_ids"]) + list(range(n - len(b["input_ids"]))) for b in batch]
            return {"input_ids": torch.tensor(ids), "position_ids": torch.tensor(pos),
                    "labels": torch.tensor(lab), "use_cache": False}
        return {"input_ids": torch.tensor(ids), "attention_mask": torch.tensor(att),
                "labels": torch.tensor(lab)}


def ensure_pad_token(tok: Any, cfg: Any) -> int:
    """Models without a pad token (Llama 2, GPT-2): model.pad_token_id, else EOS (seed 004).

    Padding never reaches the loss (the collator masks it), so reusing EOS is safe.
    """
    if cfg.model.pad_token_id is not None:
        tok.pad_token_id = cfg.model.pad_token_id
    elif tok.pad_token_id is None:
        tok.pad_token = tok.eos_token
    return int(tok.pad_token_id)


# ---------------------------------------------------------------------------- model

def precision(cfg: Any, dist: Dist) -> tuple[str, list[str]]:
    """The precision that will really run here ("fp32" | "fp16" | "bf16") and why it differs."""
    want = cfg.model.dtype
    if want == "fp16" and dist.cpu:
        return "fp32", ["fp16 mixed precision needs a GPU: training in fp32 on the CPU"]
    if want == "bf16" and not dist.cpu and not torch.cuda.is_bf16_supported():
        return "fp32", ["this GPU has no bf16: training in fp32"]
    return want, []


def model_path(cfg: Any) -> str:
    from ftwizard.core.models import local_path

    p = local_path(cfg.model.name)
    return str(p) if p is not None else cfg.model.name


def load_base(cfg: Any, dist: Dist, prec: str, pad_id: int, auto_class: Any = None,
              **extra: Any) -> Any:
    """The model before any adapter: full weights in the dtype the method trains them in, or the
    frozen (maybe quantized) base of LoRA/QLoRA, prepared for k-bit training. `auto_class` is
    AutoModelForCausalLM unless given (a reward model loads AutoModelForSequenceClassification);
    `extra` goes to from_pretrained (num_labels=1)."""
    kind = cfg.method.kind
    kwargs: dict[str, Any] = {"trust_remote_code": cfg.model.trust_remote_code, **extra}
    if cfg.model.attn_implementation:
        # what the plan assumed (written into the run's config.yaml at plan time)
        kwargs["attn_implementation"] = cfg.model.attn_implementation
    if kind == "full":
        # fp16 (and bf16 with model.fp32_master) is mixed precision: fp32 weights, autocast math.
        # DeepSpeed keeps its own fp32 master copy and casts the module itself. Plain bf16 is pure
        # bf16: weights, gradients and Adam states in bf16 (core/memory.py models the same).
        pure_bf16 = (prec == "bf16" and not cfg.model.fp32_master
                     and cfg.method.parallel != "deepspeed")
        kwargs["dtype"] = torch.bfloat16 if pure_bf16 else torch.float32
    else:
        # A frozen base needs no fp32 master copy: hold it in the compute dtype.
        kwargs["dtype"] = TORCH_DTYPES[prec]
    if kind == "qlora":
        from transformers import BitsAndBytesConfig

        if cfg.method.quant_bits == 8:
            kwargs["quantization_config"] = BitsAndBytesConfig(load_in_8bit=True)
        else:
            kwargs["quantization_config"] = BitsAndBytesConfig(
                load_in_4bit=True, bnb_4bit_quant_type="nf4",
                bnb_4bit_use_double_quant=cfg.method.double_quant,
                bnb_4bit_compute_dtype=TORCH_DTYPES[prec])
    if cfg.method.parallel == "split":
        kwargs["device_map"] = "cpu" if dist.cpu else "auto"
    elif kind == "qlora":
        # bitsandbytes quantizes while placing: name the device (FACTS.md: "cpu" on the CPU).
        kwargs["device_map"] = "cpu" if dist.cpu else {"": dist.local_rank}
    model = (auto_class or AutoModelForCausalLM).from_pretrained(model_path(cfg), **kwargs)
    model.config.pad_token_id = pad_id
    if getattr(model, "generation_config", None) is not None:
        model.generation_config.pad_token_id = pad_id
    if kind == "qlora":
        from peft import prepare_model_for_kbit_training  # ~1 s

        model = prepare_model_for_kbit_training(
            model, use_gradient_checkpointing=cfg.method.gradient_checkpointing,
            gradient_checkpointing_kwargs={"use_reentrant": False})
    return model


def lora_config(cfg: Any, task_type: str = "CAUSAL_LM") -> Any:
    """method.lora as a PEFT LoraConfig (None for full fine-tuning). task_type SEQ_CLS makes PEFT
    train and save a sequence classifier's score head with the adapters."""
    if cfg.method.kind == "full":
        return None
    from peft import LoraConfig

    lc = cfg.method.lora
    return LoraConfig(r=lc.r, lora_alpha=lc.alpha, lora_dropout=lc.dropout,
                      target_modules=lc.target_modules, task_type=task_type,
                      exclude_modules=NOT_ADAPTED)


# A vision-language model loaded for text fine-tuning (Gemma 3 4B+: AutoModelForCausalLM builds
# Gemma3ForConditionalGeneration) keeps its vision tower and projector frozen, as LLaMA-Factory
# does by default: without this, all-linear (or a name like q_proj) would also adapt the SigLIP
# tower's layers, which the plan (ModelSpec.lora_params: decoder layers) does not count.
NOT_ADAPTED = r".*\.(vision_tower|vision_model|multi_modal_projector)(\..*)?"


def load_model(cfg: Any, dist: Dist, prec: str, pad_id: int) -> Any:
    """The model ready for the Trainer: full weights, or a frozen (maybe quantized) base + LoRA."""
    model = load_base(cfg, dist, prec, pad_id)
    peft_cfg = lora_config(cfg)
    if peft_cfg is None:
        return model
    from peft import get_peft_model

    return get_peft_model(model, peft_cfg)


# ---------------------------------------------------------------------------- trainer

class PlannedSchedule:
    """Mixin for any Trainer subclass (ours, TRL's): its LR curve is exactly the plan's
    (core.schedule.lr_at), warmup included. Pass `lr_plan={lr, end_lr, warmup, total, scheduler}`."""

    def __init__(self, *args: Any, lr_plan: dict[str, Any], **kwargs: Any) -> None:
        self.lr_plan = lr_plan
        super().__init__(*args, **kwargs)

    def create_scheduler(self, num_training_steps: int, optimizer: Any = None) -> Any:
        if self.lr_scheduler is None:
            opt = optimizer if optimizer is not None else self.optimizer
            p = self.lr_plan
            peak = p["lr"]

            def factor(step: int) -> float:
                return lr_at(step, lr=peak, end_lr=p["end_lr"], warmup=p["warmup"],
                             total=p["total"], scheduler=p["scheduler"]) / peak

            self.lr_scheduler = torch.optim.lr_scheduler.LambdaLR(opt, factor)
            self._created_lr_scheduler = True
        return self.lr_scheduler


def planned(trainer_cls: type) -> type:
    """`trainer_cls` with the plan's LR curve (PlannedSchedule first in the MRO)."""
    return type(f"Planned{trainer_cls.__name__}", (PlannedSchedule, trainer_cls), {})


class PlannedTrainer(PlannedSchedule, Trainer):
    """A Trainer whose LR curve is exactly the plan's (core.schedule.lr_at), warmup included."""


def lr_plan(cfg: Any, steps: Any) -> dict[str, Any]:
    """What PlannedSchedule needs from the config and the plan's steps."""
    return {"lr": cfg.train.lr, "end_lr": cfg.train.end_lr, "warmup": steps.warmup,
            "total": steps.total, "scheduler": cfg.train.scheduler}


def training_arguments(cfg: Any, run_dir: Path, dist: Dist, prec: str, steps: Any,
                       has_eval: bool, ds_config: Path | None) -> TrainingArguments:
    return TrainingArguments(**training_argument_values(cfg, run_dir, dist, prec, steps,
                                                        has_eval, ds_config))


def training_argument_values(cfg: Any, run_dir: Path, dist: Dist, prec: str, steps: Any,
                             has_eval: bool, ds_config: Path | None) -> dict[str, Any]:
    """TrainingArguments' keyword arguments for a run; TRL's configs (DPOConfig ...) subclass
    TrainingArguments and take the same ones plus their objective's own."""
    t = cfg.train
    report: list[str] = []  # output.report_to is fed from the events instead (core/trackers.py)
    kwargs: dict[str, Any] = dict(
        output_dir=str(run_dir / "checkpoints"),
        per_device_train_batch_size=t.micro_batch,
        per_device_eval_batch_size=t.micro_batch,
        gradient_accumulation_steps=t.grad_accum,
        learning_rate=t.lr,
        weight_decay=t.weight_decay,
        max_grad_norm=t.max_grad_norm,
        warmup_steps=steps.warmup,
        optim=OPTIMIZERS[cfg.method.optimizer],
        logging_strategy="steps", logging_steps=t.log_every,
        eval_strategy="steps" if has_eval else "no", eval_steps=t.eval_every,
        save_strategy="steps", save_steps=t.save_every, save_total_limit=t.keep_checkpoints,
        seed=t.seed, data_seed=t.seed,
        bf16=prec == "bf16", fp16=prec == "fp16",
        use_cpu=dist.cpu,
        activation_checkpointing=cfg.method.gradient_checkpointing,
        activation_checkpointing_kwargs={"use_reentrant": False},
        report_to=report, run_name=cfg.name, disable_tqdm=True,
        remove_unused_columns=False, dataloader_drop_last=False,
        ddp_backend="gloo" if dist.cpu and dist.world_size > 1 else None,
        ddp_find_unused_parameters=False if dist.world_size > 1 else None,
        save_only_model=False,
    )
    if cfg.train.max_steps is not None:
        kwargs["max_steps"] = cfg.train.max_steps
    else:
        # Let the Trainer count the steps of the epochs itself: it is the judge, and the run's
        # start event and the e2e tests compare its count with the plan's.
        kwargs["num_train_epochs"] = float(t.epochs)
    if ds_config is not None:
        kwargs["deepspeed"] = str(ds_config)
    if cfg.method.parallel == "fsdp" and not dist.cpu:
        kwargs.update(fsdp_trainer_options(native_config(run_dir, "accelerate.yaml")))
    return kwargs


def native_config(run_dir: Path, name: str) -> Path:
    """A launcher config launch.render wrote into the run dir; the backend reads, never renders."""
    path = run_dir / name
    if not path.exists():
        raise InputError(f"{path} is missing: the run dir was not written by ftwizard",
                         field=name, value=str(path),
                         fix="write the run dir again: `ftwizard run CONFIG --dry-run`")
    return path


def fsdp_trainer_options(accelerate_yaml: Path) -> dict[str, Any]:
    """accelerate.yaml's fsdp_config as TrainingArguments(fsdp=..., fsdp_config=...), so the
    Trainer shards exactly as the accelerate launcher was told to."""
    import yaml

    s = (yaml.safe_load(accelerate_yaml.read_text()) or {}).get("fsdp_config") or {}
    mode = "full_shard" if s.get("fsdp_sharding_strategy") == "FULL_SHARD" else "shard_grad_op"
    conf: dict[str, Any] = {
        "backward_prefetch": str(s.get("fsdp_backward_prefetch", "BACKWARD_PRE")).lower(),
        "forward_prefetch": bool(s.get("fsdp_forward_prefetch", False)),
        "use_orig_params": bool(s.get("fsdp_use_orig_params", True)),
        "sync_module_states": bool(s.get("fsdp_sync_module_states", True)),
        "cpu_ram_efficient_loading": bool(s.get("fsdp_cpu_ram_efficient_loading", True)),
        "activation_checkpointing": bool(s.get("fsdp_activation_checkpointing", False)),
    }
    if s.get("fsdp_transformer_layer_cls_to_wrap"):
        conf["transformer_layer_cls_to_wrap"] = [s["fsdp_transformer_layer_cls_to_wrap"]]
    return {"fsdp": f"{mode} auto_wrap", "fsdp_config": conf}


# ---------------------------------------------------------------------------- stop requests

_STOP = {"signal": False}


def _on_sigterm(signum: int, frame: Any) -> None:  # noqa: ARG001 - signal handler signature
    _STOP["signal"] = True


def install_stop_handler() -> None:
    """SIGTERM (`ftwizard stop`, torchrun forwarding, a batch system) asks for a graceful stop."""
    try:
        signal.signal(signal.SIGTERM, _on_sigterm)
    except ValueError:  # not the main thread
        pass


def _agree(flag: bool, dist: Dist) -> bool:
    """Every rank must stop at the same step, or the collectives hang: take the max."""
    if dist.world_size <= 1 or not torch.distributed.is_initialized():
        return flag
    dev = torch.device("cpu") if dist.cpu else torch.device("cuda", dist.local_rank)
    t = torch.tensor([1 if flag else 0], device=dev)
    torch.distributed.all_reduce(t, op=torch.distributed.ReduceOp.MAX)
    return bool(t.item())


# ---------------------------------------------------------------------------- events

def dir_bytes(path: Path) -> int:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file())


# What the Trainer itself logs (and TRL's running token count); any other number in its logs is
# the objective's own (TRL's rewards/chosen, logps/rejected, kl, accuracy ...) and goes to the
# events' `metrics`.
TRAINER_LOG_KEYS = frozenset({"loss", "learning_rate", "grad_norm", "epoch", "step", "total_flos",
                              "train_loss", "train_runtime", "train_samples_per_second",
                              "train_steps_per_second", "num_tokens"})


def objective_metrics(logs: dict[str, Any], prefix: str = "") -> dict[str, float]:
    """The objective's figures in a Trainer log (eval logs: `prefix` "eval_", stripped), under
    TRL's names; empty for SFT, whose logs hold only the Trainer's own keys."""
    out: dict[str, float] = {}
    for key, value in logs.items():
        if not key.startswith(prefix):
            continue
        name = key[len(prefix):]
        if name in TRAINER_LOG_KEYS or name.endswith(("runtime", "_per_second")):
            continue
        number = ev.clean_number(value) if isinstance(value, (int, float)) else None
        if number is not None and not isinstance(value, bool):
            out[name] = number
    return out


class EventsCallback(TrainerCallback):
    """Turns the Trainer's hooks into events.jsonl lines and status.json updates (rank 0)."""

    def __init__(self, run_dir: Path, writer: ev.EventWriter | None, dist: Dist,
                 tokens_per_step: float, total: int, start_fields: dict[str, Any]) -> None:
        self.run_dir = run_dir
        self.w = writer
        self.dist = dist
        self.tokens_per_step = tokens_per_step
        self.total = total
        self.start_fields = start_fields
        self.stopped = False
        self._t_log = None
        self._step_log = 0
        self._t_status = 0.0
        self._t_first = None
        self._step_first = 0
        self._lr: float | None = None

    def on_train_begin(self, args: Any, state: TrainerState, control: TrainerControl, **kw: Any) -> None:
        self._t_log = time.time()
        self._step_log = state.global_step
        self._t_first, self._step_first = self._t_log, state.global_step
        if self.w:
            fields = dict(self.start_fields)
            fields["total_steps"] = state.max_steps
            fields["resumed_from"] = state.global_step or None
            ev.emit_start(self.w, **fields)
            ev.write_status(self.run_dir, "running", step=state.global_step, total=state.max_steps)

    def on_step_begin(self, args: Any, state: TrainerState, control: TrainerControl, **kw: Any) -> None:
        # The rate this step will use (the Trainer's own log shows the next step's).
        opt = kw.get("optimizer")
        try:
            self._lr = float(opt.param_groups[0]["lr"])
        except (AttributeError, IndexError, KeyError, TypeError):
            self._lr = None

    def on_step_end(self, args: Any, state: TrainerState, control: TrainerControl, **kw: Any) -> None:
        wanted = _STOP["signal"] or (self.run_dir / ev.STOP_FILE).exists()
        if _agree(wanted, self.dist):
            self.stopped = True
            control.should_save = True
            control.should_training_stop = True
        now = time.time()
        if self.w and (now - self._t_status > 0.5 or state.global_step >= state.max_steps):
            self._t_status = now
            ev.write_status(self.run_dir, "running", step=state.global_step, total=state.max_steps)

    def on_log(self, args: Any, state: TrainerState, control: TrainerControl,
               logs: dict[str, Any] | None = None, **kw: Any) -> None:
        if not self.w or not logs or "loss" not in logs:
            return
        now = time.time()
        step = state.global_step
        dt = max(1e-9, now - (self._t_log or now))
        tps = (step - self._step_log) * self.tokens_per_step / dt
        done = step - self._step_first
        rate = (now - self._t_first) / done if done > 0 and self._t_first else None
        eta = (state.max_steps - step) * rate if rate is not None else None
        self._t_log, self._step_log = now, step
        extra = {}
        metrics = objective_metrics(logs)
        if metrics:  # the objective's own figures (absent for sft)
            extra["metrics"] = metrics
        e = self.w.emit("step", step=step, total=state.max_steps, epoch=ev.clean_number(logs.get("epoch")),
                        loss=ev.clean_number(logs.get("loss")),
                        lr=ev.clean_number(self._lr if self._lr is not None else logs.get("learning_rate")),
                        grad_norm=ev.clean_number(logs.get("grad_norm")),
                        tokens_per_s=round(tps, 1), **ev.step_memory(),
                        eta_s=round(eta, 1) if eta is not None else None, **extra)
        # One short line per step for stdout.log (the Run screen's log panel at 80 columns), in
        # place of the Trainer's printed dict.
        print(ev.step_line(e), flush=True)

    def on_evaluate(self, args: Any, state: TrainerState, control: TrainerControl,
                    metrics: dict[str, Any] | None = None, **kw: Any) -> None:
        if self.w and metrics and "eval_loss" in metrics:
            extra = {}
            figures = objective_metrics(metrics, prefix="eval_")
            if figures:  # the objective's own figures on the validation set (absent for sft)
                extra["metrics"] = figures
            self.w.emit("eval", step=state.global_step, eval_loss=ev.clean_number(metrics["eval_loss"]),
                        **extra)

    def on_save(self, args: Any, state: TrainerState, control: TrainerControl, **kw: Any) -> None:
        if not self.w:
            return
        path = Path(args.output_dir) / f"checkpoint-{state.global_step}"
        self.w.emit("checkpoint", step=state.global_step, path=str(path),
                    bytes=dir_bytes(path) if path.exists() else None)


# ---------------------------------------------------------------------------- the run

def model_facts(model: Any) -> dict[str, Any]:
    """What was really built: parameter counts and the Linear classes (Linear4bit, Linear8bitLt,
    lora.Linear...), so a run can show that QLoRA really quantized."""
    total = trainable = 0
    for p in model.parameters():
        n = p.ds_numel if hasattr(p, "ds_numel") else p.numel()
        total += n
        if p.requires_grad:
            trainable += n
    kinds: dict[str, int] = {}
    for mod in model.modules():
        name = type(mod).__name__
        if "Linear" in name or name == "Conv1D":
            kinds[name] = kinds.get(name, 0) + 1
    attn = getattr(getattr(model, "config", None), "_attn_implementation", None)
    return {"params": total, "trainable_params": trainable, "linear_modules": kinds,
            "attn_implementation": attn}


def newest_checkpoint(run_dir: Path) -> Path | None:
    """The newest complete checkpoint: trainer_state.json is written last, so a checkpoint killed
    half-way through its save has none and is skipped."""
    found = []
    for p in (run_dir / "checkpoints").glob("checkpoint-*"):
        try:
            n = int(p.name.split("-")[1])
        except (IndexError, ValueError):
            continue
        if (p / "trainer_state.json").is_file():
            found.append((n, p))
    return max(found)[1] if found else None




def train(cfg: Any, run_dir: Path, *, resume: bool = False, writer: ev.EventWriter | None = None,
          log: Any = print) -> Outcome:
    """Train `cfg` into `run_dir`; only rank 0 passes a writer. Raises on failure (train.py
    turns exceptions into the end event). `output.report_to` gets the events' own figures
    (core/trackers.py), so the tracker shows what the Run screen shows."""
    from ftwizard.core import trackers

    writer = trackers.tracked(writer, cfg, run_dir, log=log)
    ok = False
    try:
        out = _train(cfg, run_dir, resume=resume, writer=writer, log=log)
        ok = True
        return out
    finally:
        if isinstance(writer, trackers.TrackedWriter):
            writer.finish(ok)


def _train(cfg: Any, run_dir: Path, *, resume: bool, writer: Any, log: Any) -> Outcome:
    if cfg.method.parallel == "pipeline":  # stages x replicas: its own loop (backends/pipeline.py)
        from ftwizard.core.backends import pipeline

        return pipeline.train(cfg, run_dir, resume=resume, writer=writer, log=log)
    if cfg.train.objective != "sft":  # dpo, orpo, kto, reward: TRL's trainers
        from ftwizard.core.backends import preference

        return preference.train(cfg, run_dir, resume=resume, writer=writer, log=log)
    dist, writer, prec = begin(cfg, writer, log)
    tok, train_data, val_data = load_data(cfg)
    pad_id = ensure_pad_token(tok, cfg)
    train_data, dropped = apply_drop_last(train_data, cfg, dist.data_parallel)
    steps = plan_steps(cfg, len(train_data) + dropped, dist.data_parallel)

    ds_path = deepspeed_config(cfg, run_dir)
    args = training_arguments(cfg, run_dir, dist, prec, steps, bool(val_data), ds_path)
    model = load_model(cfg, dist, prec, pad_id)

    from ftwizard.core.data_arrow import sequence_lengths

    lengths = sequence_lengths(train_data)
    tokens_per_step = (sum(lengths) / max(1, len(lengths))) * steps.global_batch
    fields = start_fields(cfg, run_dir, dist, prec, steps, model)
    cb = EventsCallback(run_dir, writer, dist, tokens_per_step, steps.total, fields)
    trainer = PlannedTrainer(
        model=model, args=args, train_dataset=train_data, eval_dataset=val_data,
        data_collator=Collator(pad_id), callbacks=[cb], lr_plan=lr_plan(cfg, steps))
    run_trainer(trainer, cb, run_dir, steps, resume=resume, writer=writer, log=log)
    return finish(trainer, cb, cfg, run_dir, dist, tok, writer=writer, log=log)


# ---------------------------------------------------------------------------- shared by objectives

def begin(cfg: Any, writer: Any, log: Any) -> tuple[Dist, Any, str]:
    """The start of every run in this process: the process group, the seed, the precision that
    really runs (its notes logged); the writer only on rank 0."""
    dist = setup_distributed(cfg)
    if not dist.main:
        writer = None
    transformers.utils.logging.disable_progress_bar()  # no shard-writing bars in stdout.log
    transformers.set_seed(cfg.train.seed)
    prec, why = precision(cfg, dist)
    for n in [*dist.notes, *why]:
        log(n)
        if writer:
            writer.log(n)
    return dist, writer, prec


def deepspeed_config(cfg: Any, run_dir: Path) -> Path | None:
    """The ds_config.json launch.render wrote, for method.parallel deepspeed."""
    return native_config(run_dir, "ds_config.json") if cfg.method.parallel == "deepspeed" else None


def start_fields(cfg: Any, run_dir: Path, dist: Dist, prec: str, steps: Any,
                 model: Any) -> dict[str, Any]:
    """The start event's fields this backend knows before the Trainer exists."""
    return {"run": run_dir.name, "epochs": cfg.train.epochs, "sequences": steps.sequences,
            "dropped_samples": steps.dropped_samples, "planned_steps": steps.total,
            "plan": ev.read_plan(run_dir),  # the plan it was launched with (launch.render wrote it)
            "config": cfg.name, "world_size": dist.world_size,
            "method": cfg.method.kind, "parallel": cfg.method.parallel,
            "objective": cfg.train.objective,
            "precision": prec, "pid": os.getpid(), "model": model_facts(model)}


def run_trainer(trainer: Any, cb: EventsCallback, run_dir: Path, steps: Any, *, resume: bool,
                writer: Any, log: Any) -> None:
    """Train (from the newest checkpoint on resume) and say so if the trainer's step count is not
    the plan's."""
    from transformers.trainer_callback import PrinterCallback

    trainer.remove_callback(PrinterCallback)  # EventsCallback prints a shorter line per step
    cb.start_fields["fsdp_enabled"] = bool(getattr(trainer, "is_fsdp_enabled", False))
    cb.start_fields["deepspeed_enabled"] = bool(getattr(trainer, "is_deepspeed_enabled", False))
    ckpt = None
    if resume:
        ckpt = newest_checkpoint(run_dir)
        msg = f"resuming from {ckpt}" if ckpt else "no checkpoint to resume from: starting fresh"
        log(msg)
        if writer:
            writer.log(msg)
    trainer.train(resume_from_checkpoint=str(ckpt) if ckpt else None)
    if trainer.state.max_steps != steps.total and writer:
        writer.log(f"the trainer took {trainer.state.max_steps} steps, the plan said {steps.total}")


def finish(trainer: Any, cb: EventsCallback, cfg: Any, run_dir: Path, dist: Dist, tok: Any, *,
           writer: Any, log: Any, sample: Any = None) -> Outcome:
    """After trainer.train(): stopped, or the final model (and tokenizer) in final/, merged when
    output.merge asks, and a sample. `sample(trainer, cfg, final, tok) -> str | None` replaces
    the generated continuation of output.sample_prompt (a reward model scores instead)."""
    state = trainer.state
    if cb.stopped:
        return Outcome("stopped", state.global_step, state.max_steps, trainer=trainer)
    final = run_dir / "final"
    trainer.save_model(str(final))
    if trainer.is_deepspeed_enabled:
        # Under ZeRO-3 from_pretrained would build an empty, partitioned model: the merge and the
        # sample below load the saved files as plain models.
        from transformers.integrations.deepspeed import unset_hf_deepspeed_config

        unset_hf_deepspeed_config()
    text = None
    if dist.main:
        tok.save_pretrained(str(final))
        from ftwizard.core.backends import export

        if cfg.is_adapter and cfg.output.merge:
            merged = export.merge_adapter(final, final / "merged", dtype=cfg.model.dtype)
            if writer:
                writer.log(f"merged model saved to {merged}")
        if cfg.output.sample_prompt:
            text = (sample or export.sample_after_training)(trainer, cfg, final, tok)
            if text is not None:
                log(f"sample: {text!r}")
                if writer:
                    writer.log(f"sample: {text}")
    if torch.distributed.is_initialized():
        torch.distributed.barrier()
    return Outcome("finished", state.global_step, state.max_steps, sample=text, trainer=trainer)
