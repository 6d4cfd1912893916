"""Steps, learning-rate schedule, time and disk: the arithmetic users used to do on paper.

Step counts follow the Hugging Face Trainer exactly, because the trainer is the judge of "exact
steps" (FACTS.md, "Step arithmetic of the HF Trainer"):

* each data-parallel process sees ceil(n / W) samples (the distributed sampler pads), so it runs
  ceil(n / (W * micro_batch)) micro-batches per epoch;
* optimizer steps per epoch = ceil(micro_batches / grad_accum): the last, partial accumulation
  window still counts as a step;
* total = max_steps, or ceil(epochs * steps_per_epoch).

`train.drop_last` is seed 001's rule, not HF's `dataloader_drop_last` (which only drops a partial
micro-batch): samples that do not fill a whole *global* batch (micro_batch x grad_accum x W) are
dropped. The backend applies it to the data itself, so the plan and the trainer agree.

The LR schedule is seed 000's (mesh-transformer-jax, as nostalgebraist explained it): warmup
5-10 % of the total, anneal over `total - warmup` steps to `end_lr` (lr/5..lr/10), then hold
`end_lr`. :func:`lr_at` is the one definition both backends and the wizard's curve use.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

from ftwizard.core.errors import InputError


@dataclass(frozen=True)
class Steps:
    sequences: int            # training sequences in one epoch (after split and mixing)
    world_size: int           # data-parallel processes (replicas)
    micro_batch: int
    grad_accum: int
    global_batch: int         # sequences per optimizer step
    micro_batches_per_epoch: int  # per process
    per_epoch: int            # optimizer steps per epoch
    epochs: float             # epochs the total covers
    total: int                # optimizer steps of the whole run
    dropped_samples: int      # per epoch, by drop_last
    warmup: int
    anneal: int
    last_step_sequences: int  # sequences in the last (possibly partial) step of an epoch

    def to_dict(self) -> dict:
        return asdict(self)


def round_half_up(x: float) -> int:
    """Rounding people do on paper (7.2 -> 7, 7.5 -> 8); Python's round() is banker's rounding."""
    return int(math.floor(x + 0.5))


def count_steps(sequences: int, *, micro_batch: int, grad_accum: int, world_size: int = 1,
               epochs: float = 1, max_steps: int | None = None, drop_last: bool = False,
               warmup_ratio: float = 0.0, warmup_steps: int | None = None) -> Steps:
    """Optimizer steps for `sequences` training sequences, as the HF Trainer will take them."""
    if sequences <= 0:
        raise InputError("the training data yields no sequences", field="data",
                         value=sequences, fix="add data, lower data.block_size, or use mode: entries")
    w = max(1, world_size)
    global_batch = micro_batch * grad_accum * w
    dropped = 0
    if drop_last:
        whole = sequences // global_batch
        if whole == 0:
            raise InputError(
                f"{sequences} sequences do not fill one global batch of {global_batch} "
                f"(micro_batch {micro_batch} x grad_accum {grad_accum} x {w} devices), so "
                "drop_last would drop them all", field="train.drop_last", value=True,
                fix="set train.drop_last=false or lower train.grad_accum")
        used = whole * global_batch
        dropped = sequences - used
        per_process = used // w
    else:
        used = sequences
        per_process = math.ceil(sequences / w)
    micro_batches = math.ceil(per_process / micro_batch)
    per_epoch = max(1, math.ceil(micro_batches / grad_accum))
    if max_steps is not None:
        total = max_steps
    else:
        total = max(1, math.ceil(epochs * per_epoch))
    remainder = used - (per_epoch - 1) * global_batch
    warm = warmup_steps if warmup_steps is not None else round_half_up(warmup_ratio * total)
    warm = min(warm, total)
    return Steps(sequences=sequences, world_size=w, micro_batch=micro_batch, grad_accum=grad_accum,
                 global_batch=global_batch, micro_batches_per_epoch=micro_batches,
                 per_epoch=per_epoch, epochs=total / per_epoch, total=total,
                 dropped_samples=dropped, warmup=warm, anneal=total - warm,
                 last_step_sequences=min(global_batch, max(0, remainder)))


def plan_steps(cfg, sequences: int, world_size: int = 1) -> Steps:  # noqa: ANN001 - RunConfig
    """Steps for a run config; `world_size` is the number of data-parallel replicas."""
    t = cfg.train
    return count_steps(sequences, micro_batch=t.micro_batch, grad_accum=t.grad_accum,
                      world_size=world_size, epochs=t.epochs, max_steps=t.max_steps,
                      drop_last=t.drop_last, warmup_ratio=t.warmup_ratio,
                      warmup_steps=t.warmup_steps)


def lr_at(step: int, *, lr: float, end_lr: float | None, warmup: int, total: int,
          scheduler: str = "cosine") -> float:
    """The learning rate for optimizer step `step` (0-based: the rate used by the step that
    follows `step` completed ones).

    Warmup rises linearly and reaches `lr` on its last step (no wasted step at lr 0, unlike
    DeepSpeed's "auto" WarmupLR, FACTS.md); then constant, linear or cosine from `lr` to `end_lr`
    over the anneal, and `end_lr` after the total.
    """
    end = 0.0 if end_lr is None else end_lr
    if scheduler == "constant":
        end = lr
    if warmup > 0 and step < warmup:
        return lr * (step + 1) / warmup
    anneal = max(1, total - warmup)
    p = min(1.0, (step - warmup) / anneal)
    if scheduler == "linear":
        return lr + (end - lr) * p
    if scheduler == "cosine":
        return end + (lr - end) * 0.5 * (1.0 + math.cos(math.pi * p))
    return lr


def lr_curve(cfg_train, total: int, warmup: int, points: int = 60) -> list[tuple[int, float]]:  # noqa: ANN001
    """Sampled (step, lr) pairs for the wizard's small plot."""
    if total <= 0:
        return []
    stride = max(1, total // points)
    steps = list(range(0, total, stride))
    if steps[-1] != total - 1:
        steps.append(total - 1)
    return [(s, lr_at(s, lr=cfg_train.lr, end_lr=cfg_train.end_lr, warmup=warmup, total=total,
                      scheduler=cfg_train.scheduler)) for s in steps]


def suggest_grad_accum(sequences: int, *, micro_batch: int, world_size: int = 1,
                       target_global: int = 128, spread: float = 0.5,
                       current_grad_accum: int | None = None,
                       drop_last: bool = True) -> dict | None:
    """Seed 001's advice made arithmetic, for runs that drop what does not fill a global batch:
    "start with the largest size for gradient_accumulation_steps that gives a value in the
    general vicinity of 128 and for which (number_of_samples % full_batch_size) is as close to
    zero as possible".

    Candidates are global batches within +-spread of `target_global` that the data can fill at
    least once (never a global batch larger than the data: that trains nothing); when the data is
    smaller than the vicinity, every global batch it can fill. The pick leaves the fewest
    sequences over, then is nearest the target, then the larger grad-accum. Nothing is suggested
    when the current setting drops nothing (without drop_last nothing is ever dropped), or when
    no candidate drops fewer sequences than the current one does.
    Returns {"grad_accum", "global_batch", "remainder"} or None.
    """
    per_step = micro_batch * max(1, world_size)
    if not drop_last or sequences < per_step:
        return None
    current = None
    if current_grad_accum is not None:
        g_now = current_grad_accum * per_step
        current = sequences % g_now if g_now <= sequences else sequences
        if current == 0:
            return None
    lo = max(1, math.floor(target_global * (1 - spread) / per_step))
    hi = max(lo, math.ceil(target_global * (1 + spread) / per_step))
    fill = sequences // per_step                     # largest grad-accum the data fills once
    cands = [ga for ga in range(lo, min(hi, fill) + 1)] or list(range(1, min(fill, hi) + 1))
    best = None
    for ga in cands:
        g = ga * per_step
        rem = sequences % g
        key = (rem, abs(g - target_global), -ga)
        if best is None or key < best[0]:
            best = (key, ga, g, rem)
    if best is None or (current is not None and best[3] >= current):
        return None
    return {"grad_accum": best[1], "global_batch": best[2], "remainder": best[3]}


def describe_schedule(train, steps: "Steps") -> str:  # noqa: ANN001 - TrainSection
    """The LR schedule in words, as the run will follow it (lr_at): a constant schedule keeps its
    rate after warmup, so it is never written as a decay to 0."""
    warm = f"warmup {steps.warmup}, " if steps.warmup else ""
    if train.scheduler == "constant":
        after = f" for {steps.anneal} steps" if steps.anneal else ""
        return f"{warm}{'then ' if warm else ''}constant lr {train.lr:g}{after}"
    end = train.end_lr if train.end_lr is not None else 0
    return f"{warm}{train.scheduler} anneal {steps.anneal}, lr {train.lr:g} -> {end:g}"


# ---------------------------------------------------------------- FLOPs and time

def flops_per_token(params: int, *, n_layers: int, hidden: int, seq: int, trainable: str = "full",
                    recompute: bool = False) -> float:
    """Training FLOPs per token: 2N forward, 2N backward to activations, 2N backward to weights
    (Kaplan et al.; PaLM's MFU appendix), plus causal attention 6*L*h*s (half of PaLM's 12*L*h*s,
    since half the score matrix is masked). LoRA skips the frozen weights' gradient (4N instead
    of 6N; the adapters' own cost is negligible). Recompute adds one more forward (+2N)."""
    n = float(params)
    attn = 6.0 * n_layers * hidden * seq
    if trainable == "full":
        base = 6.0 * n + attn
    else:
        base = 4.0 * n + attn * 2 / 3
    if recompute:
        base += 2.0 * n + attn / 3
    return base


def objective_passes(objective: str, *, reference: str = "auto", kl_batch: bool = False
                     ) -> tuple[int, int]:
    """(sequences trained per row, sequences run forward-only per row) under TRL's trainers.

    A row is what data.sequences and the step count count: a pair for dpo/orpo/reward, a labelled
    completion for kto, a sequence for sft. dpo: chosen + rejected forward and backward through
    the policy, and forward through the reference unless its log-probs were precomputed
    (DPOTrainer._compute_loss); orpo and reward: the pair, no reference; kto: the completion
    trained, plus its KL completion forward through the policy without gradients (loss_type kto),
    and the completion (and the KL one) through the reference unless precomputed
    (KTOTrainer._compute_loss)."""
    ref = reference != "precomputed"
    if objective == "dpo":
        return 2, 2 if ref else 0
    if objective in ("orpo", "reward"):
        return 2, 0
    if objective == "kto":
        kl = 1 if kl_batch else 0
        return 1, kl + ((1 + kl) if ref else 0)
    return 1, 0


def flops_params(params: int, *, objective: str, vocab: int, hidden: int, tied: bool) -> int:
    """Parameters whose matmuls a token goes through (the 2N/6N of :func:`flops_per_token`). A
    reward model has no LM head: its untied head is already out of `params` (core.memory
    objective_spec), a tied one is still counted there as the input table but never multiplies."""
    if objective == "reward" and tied:
        return max(1, params - vocab * hidden)
    return params


# Hardware FLOP utilisation we assume (recompute counted as work), stated in every plan. Seed 000
# (GPT-J-6B on a TPU v3-8 with recompute, ~5,000 tokens/s) implies 0.51 of the v3-8's bf16 peak;
# published A100/H100 full fine-tuning runs with the HF Trainer land at 0.35-0.45 in bf16.
UTILISATION = {"tpu": 0.51, "gpu": 0.40, "gpu_fp32": 0.60, "cpu": 0.25}

# Matmuls reach their efficiency once a micro batch carries enough work: below ~4M
# (tokens x hidden) elements per activation the GPU idles between small kernels. A micro batch of
# one 1024-token sequence of GPT2-XL (1.6M) runs at ~0.75 of the saturated rate.
SATURATION_ELEMENTS = 2**22


def batch_efficiency(micro_batch: int, seq: int, hidden: int) -> float:
    work = micro_batch * seq * hidden
    return min(1.0, (work / SATURATION_ELEMENTS) ** 0.3)
# Host side of offload, per second: DeepSpeedCPUAdam updates ~1e9 params/s on a server CPU;
# PCIe 4.0 x16 moves ~12 GB/s in practice.
CPU_ADAM_PARAMS_PER_S = 1.0e9
def forward_flops_per_token(params: int, *, n_layers: int, hidden: int, seq: int) -> float:
    """Evaluation FLOPs per token: the forward pass alone (2N + causal attention 2*L*h*s)."""
    return 2.0 * params + 2.0 * n_layers * hidden * seq


# Start-up before the first step, seconds. CPU: process start, `import torch, transformers, peft`
# and the Trainer classes (measured here: 7.6 s of CPU time, `/usr/bin/time python -c "import
# torch, transformers, peft; from transformers import Trainer, TrainingArguments,
# AutoModelForCausalLM"`; FACTS.md says ~5 s on a quicker core), then the tiny model, the dataset
# and the Trainer (~0.5 s): 8 s, which with the tiny demo's 2 s of steps, evaluation and saves
# gives the ~10 s the demo process takes on an idle machine. GPU: the same plus the CUDA context
# and NCCL init; TPU: the JAX runtime. Then the weights: read from local disk at LOAD_BYTES_PER_S (safetensors from NVMe
# into device memory), bitsandbytes quantization at QUANT_BYTES_PER_S, DeepSpeed's engine set-up
# (ops load, ZeRO partitioning) and XLA's first compile of the train step.
STARTUP_S = {"cpu": 8.0, "gpu": 20.0, "tpu": 30.0}
LOAD_BYTES_PER_S = {"cpu": 1.0e9, "gpu": 1.5e9, "tpu": 1.5e9}
QUANT_BYTES_PER_S = 2.0e9
DEEPSPEED_INIT_S = 15.0  # engine, ZeRO partitioning; a first run on a machine also compiles its
#                          ops once (~60 s, +35 s for DeepSpeedCPUAdam; FACTS.md), not counted
XLA_COMPILE_S = 60.0
# Checkpoint writes: safetensors + optimizer states + trainer state, at local-disk speed, plus a
# fixed cost per save (files, JSON, the Trainer's rotation).
SAVE_BYTES_PER_S = {"cpu": 0.5e9, "gpu": 1.0e9, "tpu": 1.0e9}
SAVE_FIXED_S = {"cpu": 0.3, "gpu": 2.0, "tpu": 2.0}


def startup_seconds(*, weight_bytes: float, device: str, quantized: bool = False,
                    deepspeed: bool = False, compiles: bool = False) -> float:
    """Seconds from launch to the first training step (see the constants above)."""
    s = STARTUP_S[device] + weight_bytes / LOAD_BYTES_PER_S[device]
    if quantized:
        s += weight_bytes / QUANT_BYTES_PER_S
    if deepspeed:
        s += DEEPSPEED_INIT_S
    if compiles:
        s += XLA_COMPILE_S
    return s


def save_seconds(checkpoint_bytes: float, *, device: str) -> float:
    return SAVE_FIXED_S[device] + checkpoint_bytes / SAVE_BYTES_PER_S[device]


# Framework time per micro batch that no FLOP count sees (Python, the Trainer loop, kernel
# launches, the dataloader). It dominates tiny models: probes of tiny-cpu-demo measured ~0.024 s
# per 8x32-token step on an idle 2-core CPU (0.3-0.6 s when other jobs share the cores); a GPU
# step of the HF Trainer pays a few ms.
MICRO_BATCH_OVERHEAD_S = {"cpu": 0.02, "gpu": 0.005, "tpu": 0.005}
PCIE_BYTES_PER_S = 12e9


def checkpoint_bytes(*, params: int, trainable: int, kind: str, dtype: str, optimizer: str,
                     parallel: str) -> int:
    """Disk for one checkpoint folder (weights + optimizer states + small files).

    Full runs save the model (2 B/param in 16-bit, 4 in fp32) and the optimizer (AdamW: fp32 m
    and v = 8 B/param; 8-bit Adam 2; Adafactor ~0; SGD 4 with momentum). DeepSpeed saves its own
    16-bit module states and fp32 master + Adam partitions (12 B/param) next to the HF weights:
    GPT2-XL full in fp16 comes to 16 B/param = ~25 GB (seed 003). Adapters: the LoRA weights
    and their optimizer state only.
    """
    opt_b = {"adamw": 8, "adamw_8bit": 2, "paged_adamw_8bit": 2, "adafactor": 0.1, "sgd": 4}[optimizer]
    small = 64 * 1024
    if kind in ("lora", "qlora"):
        return int(trainable * (4 + opt_b)) + small
    weight_b = 4 if dtype == "fp32" else 2
    if dtype == "fp16" and parallel != "deepspeed":
        weight_b = 4  # AMP keeps the fp32 model; that is what save_pretrained writes
    if parallel == "deepspeed":
        ds_opt = 12 if optimizer == "adamw" else 4 + opt_b
        return int(params * (weight_b + 2 + ds_opt)) + small
    return int(params * (weight_b + opt_b)) + small
