"""Per-device peak memory of a fine-tuning run, term by term.

The counter modelled is the one users see and seeds report: peak device memory as `nvidia-smi`
shows it, i.e. torch's *reserved* memory plus the CUDA context (ESTIMATION.md, "Know the counter").
On a CPU-only machine it is the training process's peak RSS.

Terms, with their sources (ESTIMATION.md sections in brackets):

weights
    bytes per parameter by storage: fp32 4, 16-bit 2, LLM.int8 1 (+ fp32 row scales), NF4 4.5 bits
    (blocksize 64, fp32 absmax) or 4.127 bits with double quant [8]. bitsandbytes quantizes only the
    decoder Linears; embeddings, the head and norms stay 16-bit [8]. HF Trainer's fp16 AMP keeps an
    fp32 model and autocasts (HF perf docs) [7]; bf16 here means pure bf16 (weights, grads and Adam
    states in bf16, as `torch_dtype=bfloat16` + `bf16=True` does) [lessons 2]. DeepSpeed keeps a
    16-bit module and an fp32 master copy inside the optimizer [2].
gradients
    one per trainable parameter, in the trainable parameters' dtype; LoRA adapters are fp32 (PEFT
    upcasts them) [8].
optimizer
    AdamW m and v in the parameters' dtype (8 B fp32, 4 B pure bf16); bitsandbytes 8-bit and paged
    8-bit Adam 2 B; Adafactor factored second moments, 4 B x (rows + cols) per matrix; torch SGD
    without momentum keeps nothing [7, 8]. DeepSpeed mixed precision: fp32 master + m + v + fp32
    gradient partition = 16 B/param, sharded 1/N from ZeRO-1 [2].
ZeRO / FSDP
    ZeRO-1 shards optimizer states, ZeRO-2 also gradients, ZeRO-3 also parameters, each 1/N;
    ZeRO-2 never shards the 16-bit weights, frozen ones included [2, lessons 6]. ZeRO-3 keeps up to
    `stage3_max_live_parameters` gathered parameters resident (ftwizard writes 1e9, as seed 001 does;
    with `max_reuse_distance` 1e9 and recompute they stay), plus the 16-bit gradient of the largest
    module and its fp32 copy for the reduce/offload, plus reduce and prefetch buckets (h^2 and
    0.9 h^2, DeepSpeed's "auto" values). Offloaded optimizer states and parameters move to host RAM
    (DeepSpeed's own estimator: 18 B/param x 1.5 with both offloaded) [2]. FSDP FULL_SHARD behaves
    like ZeRO-3 with one decoder layer gathered (plus one prefetched); SHARD_GRAD_OP like ZeRO-2 [2].
activations (per layer per token, bytes; e = 2 for 16-bit compute, 4 for fp32)
    attention without s^2 storage (SDPA / FlashAttention): norm input, q/k/v inputs and outputs,
    rotary copies of q and k, attention output and o_proj input, ~e*h*(6 + 3*kv/heads) [3, derived];
    eager attention adds the softmax output kept for backward (fp32 where the model upcasts, as GPT-J
    and Llama's eager path do) and its 16-bit cast: heads * s * (4 + e) [3: the 5as^2b term];
    MLP: input e*h, then e*I for each of up/gate outputs, the activation output and the down input
    (gated: 4 e*I; GELU MLP: the tanh-approximation GELU keeps ~4 intermediates, 6 e*I) [3].
    Gradient checkpointing keeps each decoder layer's input (e*h per token per layer) plus one
    layer's full activations while it is recomputed [3, "full recompute"]. LoRA with dropout keeps
    one dropped-out copy of each adapted Linear's input [8]. The loss: 16-bit logits, their fp32
    upcast's log-softmax kept for backward and the fp32 gradient during backward: ~(e + 10) * V bytes
    per token (transformers' ForCausalLMLoss upcasts logits) [3, 8].
other
    CUDA context, kernels and cuBLAS workspace (1.3 GiB: HF's measured 1343 MiB context on a V100;
    constant calculators use 0.65-1 GiB) [7, 8]; NCCL buffers when several processes talk (0.25
    GiB); the caching allocator's reserve beyond allocated memory, 5 % of the dynamic part [8]; the
    autocast weight cache under fp16 AMP (16-bit copies of the Linear weights during forward);
    the dequantised weight of the largest quantized Linear under QLoRA [8]. On the CPU: the Python
    + torch + transformers + Trainer process itself (~0.56 GiB RSS measured on the tiny-cpu-demo run;
    FACTS.md: the imports alone are ~420 MB).

Preference and reward objectives (train.objective; TRL 1.16's trainers, read from their source)
    The policy's weights, gradients and optimizer states are those of SFT; what changes is below.
    Each is its own named line, so the user sees what the objective costs.
weights.reference (dpo, kto: full fine-tuning, reference auto)
    a second, frozen model (no gradients, no optimizer states). TRL would build it itself in the
    policy's dtype (`dtype=self.model.dtype`, trl/trainer/dpo_trainer.py:908-927, kto_trainer.py
    :919-938): fp32 under mixed precision, and never marked requires_grad=False, so autocast would
    also cache 16-bit copies of its Linears. core/backends/preference.py load_reference passes
    its own instead: loaded in the compute dtype (e bytes a parameter: 2 in bf16/fp16, 4 in fp32)
    with requires_grad off, so no autocast cache. TRL places it like the policy: plain/DDP
    `accelerator.prepare_model(evaluation_mode=True)` (a whole copy per device, dpo_trainer.py
    :990); FSDP `prepare_fsdp` with the policy's own plugin
    (sharded like the weights, trl/models/utils.py:292); DeepSpeed `prepare_deepspeed`
    (models/utils.py:246): ZeRO-3 keeps stage 3 (partitioned 1/N like the weights, parameter
    offload kept, optimizer offload dropped), ZeRO-1/2 run the reference at stage 0, a whole
    16-bit copy per device. With LoRA/QLoRA the reference is the base with the adapters off
    (`use_adapter(model, None)`, dpo_trainer.py:1328-1336): the same weights, 0 bytes.
    reference: precomputed: 0 while training (`ref_model = None`, dpo_trainer.py:909). The
    precompute pass (`_precompute_ref_logps`, dpo_trainer.py:1168) runs before `train()` builds
    the optimizer: the weights and a no-grad forward of the same batches, a subset of a training
    step's terms, so it never sets the peak (TRL builds its engine from the policy itself).
weights.reference_live (ZeRO-3)
    the reference engine is built from the same ds_config, so it keeps up to
    `stage3_max_live_parameters` of its own gathered parameters as the policy does; both sets
    are resident during the reference forward (the policy's are kept for its backward).
host.reference_load
    the backend loads the reference on the host while the policy's load copy is still there
    (the Trainer moves the policy to the device later): one more copy per process, one per node
    under FSDP (cpu_ram_efficient_loading); ZeRO-3 partitions it as it is built (zero.Init), and
    with parameter offload its partitions live on the host (host.reference_offload).
activations.paired (dpo, orpo, reward)
    chosen and rejected are one batch of 2 x micro_batch sequences (DataCollatorForPreference
    `torch.cat(pad([chosen, rejected]))`, dpo_trainer.py:349; ORPO `concatenated_forward`;
    DataCollatorForPreference in reward_trainer.py:203 `chosen_ids + rejected_ids`), each up to
    data.block_size (TRL's max_length: prompt + completion), so every per-token term is counted
    for 2b sequences; the line is what the rejected half adds to the b chosen ones the SFT lines
    show. KTO is unpaired: b sequences, plus the KL batch below.
activations.fused_head, activations.head_backward (dpo, kto)
    TRL 1.16 patches the model with a fused LM head (`add_fused_lm_head`, trl/trainer/utils.py
    :1548; kernel trl/kernels/chunked_logprob.py): the batch x sequence x vocabulary logits are
    never built. Kept for backward, per scored token: the hidden state it saved (e*h) and fp32
    log_z, entropy, log-prob and mean logit (16 B). The backward (which recomputes the tiles)
    holds an fp32 gradient of the hidden states plus its cast (h * (4 + e) per token), one
    `mm_buf` tile of min(N, 4096) x 32768 in the compute dtype, and, when the head is trained
    (full fine-tuning; PEFT leaves lm_head frozen), an fp32 gradient of the head's V x h weight
    plus its cast to the weight's dtype. SFT (the HF Trainer's loss) and ORPO keep their logits.
    Without Triton (the CPU) the fold is whole-tile fp32 torch ops: ~4 (forward) and ~11
    (backward) temporaries of min(N, 4096) x min(V, 32768) x 4 bytes, measured (peak RSS).
activations.logits (orpo)
    ORPOTrainer (trl/experimental/orpo/orpo_trainer.py:745-822) calls the model without labels,
    so the 2b x s x V logits stay in the compute dtype (e): the logits, the log-softmax its log-
    prob gather keeps for backward, half of the NLL's contiguous copy and log-softmax (chosen
    half only), and their gradient: ~4e bytes x V per token of the 2b sequences.
activations.reference_forward (dpo, kto, reference auto; LoRA included: the base still runs)
    the reference forward runs under no_grad after the policy's forward and before its backward
    (dpo_trainer.py:1318-1338; kto_trainer.py:1424-1436): it stores nothing, but its working set
    (one decoder layer's tensors for the whole batch, bounded by what a layer keeps for
    backward, plus its own fused head's tile and hidden copy) exists while the policy's stored
    activations do. It never coexists with the backward's own transient (head_backward and the
    recomputed layer), so the peak is the larger of the two: this line is only what the
    reference forward needs beyond the backward's transient (0 when that is larger).
KTO's KL batch (loss_type kto)
    `_compute_kl_logps` runs the policy on micro_batch mismatched completions under no_grad
    (kto_trainer.py:1364) before the main forward, when nothing is stored yet, and the reference
    on them in sequence with its main forward: no stored activations, no line of its own; its
    cost is compute (core/schedule.py objective_passes) and the reference_forward transient.
reward (AutoModelForSequenceClassification, reward_trainer.py:396-400)
    no LM head: the checkpoint's lm_head is not loaded (its V x h parameters leave the weights,
    gradients and optimizer states unless tied to the embeddings, which stay as the input
    table) and there are no vocabulary logits; a value head `score` (h x 1, no bias) scores every
    position and the last token's is taken (activations.value_head: 2b x s x e). With LoRA the
    head is trained through PEFT's modules_to_save: h more trainable parameters (fp32).

Measured on the CPU (2026-11-30, TRL 1.16, fp32 full DPO, random Llamas built by core/tiny.py, 3
steps, peak RSS; bench/preference_memory_cpu.py): h 512 / 4 layers / V 32,000,
2 x 4 x 256 tokens: 4.07 GB measured, 4.82 estimated (3.98 / 4.64 with precomputed reference);
h 1024 / 8 layers, 2 x 1 x 128 tokens: 4.20 / 4.64 (3.63 / 3.97). Auto minus precomputed, i.e. the
reference copy: 0.57 GB measured for 0.67 GB (4 B x 168.3M params) estimated.
Only a GPU measurement can confirm: the reference's ZeRO-3 live parameters (DeepSpeed's release
of an eval engine's gathered parameters), the no-grad layer working
set of the reference forward, the fused head's tiles on a Triton device (it scores only the
completion tokens; the estimate takes every position as the worst case, as SFT does), and ORPO's
4e logits factor (which of the row-wise or fused log-softmax paths runs).

What is shown and judged is one figure, MemoryEstimate.needed_bytes (every term but the
allocator's reserve), with `capacity - needed - margin = headroom` (MemoryEstimate, Figure); the
peak a measurement sees is needed + reserve (per_device_bytes). Host RAM per node is modelled term
by term, each with its source, in :func:`host_terms`.

The GPT-J-6B ZeRO-3 figures of seed 001 (calibration/README.md) are unit tests of this module.
Everything is arithmetic on a ModelSpec: a plan takes microseconds, so the wizard recomputes it on
every keystroke.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from typing import Any

from ftwizard.core.config import PAIRED_OBJECTIVES, REFERENCE_OBJECTIVES

GiB = 1024**3
MiB = 1024**2

# DeepSpeed settings ftwizard writes into ds_config.json (core/launch.py reads the same constants,
# so the estimate models what is launched).
ZERO3_MAX_LIVE_PARAMETERS = 1_000_000_000
CUDA_CONTEXT_BYTES = int(1.3 * GiB)
CPU_PROCESS_BYTES = int(0.56 * GiB)   # measured: RSS of the training process, tiny model
NCCL_BYTES = int(0.25 * GiB)
ALLOCATOR_SLACK = 0.05
SAFETY_MARGIN = 0.02          # share of capacity kept free, shown to the user
SAFETY_MARGIN_MIN = 256 * MiB

# TRL 1.16's fused LM head (trl/kernels/chunked_logprob.py TOKEN_CHUNK_SIZE; trl/trainer/utils.py
# _CHUNKED_LOGPROB_CHUNK_SIZE): its projection tile is min(tokens, 4096) x 32768 in the compute dtype.
FUSED_TOKEN_TILE = 4096
FUSED_VOCAB_TILE = 32768
# Without Triton (the CPU) the fold runs as whole-tile fp32 torch ops: tile-sized temporaries
# alive at once, measured as peak RSS around the kernel (fused_head_tile_bytes).
FUSED_CPU_FORWARD_TILES = 4
FUSED_CPU_BACKWARD_TILES = 11
FUSED_STATS_BYTES = 16        # fp32 per scored token kept for backward: log_z, entropy, log-prob, mean logit
# The objectives' own lines, named for the user (`ftwizard plan` lists them under their group).
# Short enough (<= 24 characters) for the plan's label column at 80 columns; the plan's notes say
# what each one means.
OBJECTIVE_TERMS = {
    "activations.paired": "rejected half of pairs",
    "weights.reference": "reference model copy",
    "weights.reference_live": "reference, ZeRO-3 live",
    "activations.reference_forward": "reference forward",
    "activations.fused_head": "fused LM head",
    "activations.head_backward": "fused LM head backward",
    "activations.value_head": "value head",
}
FUSED_HEAD_OBJECTIVES = ("dpo", "kto")          # TRL's fused, chunked log-prob head

NF4_BITS = 4.5
NF4_DQ_BITS = 4.0 + 8 / 64 + 32 / (64 * 256)
TPU_RUNTIME_BYTES = int(0.5 * GiB)


@dataclass
class Setup:
    """The facts about a run that memory depends on, pulled out of a RunConfig once."""

    kind: str                  # full | lora | qlora
    dtype: str                 # fp32 | fp16 | bf16
    fp32_master: bool          # bf16 with fp32 weights + autocast (mixed precision)
    quant_bits: int | None
    double_quant: bool
    lora_r: int
    lora_targets: Any
    lora_dropout: float
    parallel: str
    zero_stage: int
    offload_optimizer: bool
    offload_params: bool
    fsdp: str
    pipeline_stages: int
    checkpointing: bool
    optimizer: str
    micro_batch: int
    seq: int
    world: int                 # devices taking part (all nodes)
    nodes: int
    pipeline_layers: tuple[int, ...] | None = None  # pipeline: layers per stage as the user set them
    micro_batches: int = 1     # pipeline: micro batches per step (grad_accum), all in flight (GPipe)
    objective: str = "sft"     # train.objective
    reference: str = "auto"    # train.preference.reference (dpo, kto)
    kl_batch: bool = False     # kto with loss_type kto: a KL batch of mismatched completions

    @classmethod
    def from_config(cls, cfg, world: int) -> "Setup":  # noqa: ANN001 - RunConfig
        m = cfg.method
        return cls(kind=m.kind, dtype=cfg.model.dtype, fp32_master=cfg.model.fp32_master,
                   quant_bits=m.quant_bits,
                   double_quant=m.double_quant, lora_r=m.lora.r,
                   lora_targets=m.lora.target_modules, lora_dropout=m.lora.dropout,
                   parallel=m.parallel, zero_stage=m.zero_stage,
                   offload_optimizer=m.offload_optimizer, offload_params=m.offload_params,
                   fsdp=m.fsdp, pipeline_stages=m.pipeline_stages,
                   checkpointing=m.gradient_checkpointing, optimizer=m.optimizer,
                   micro_batch=cfg.train.micro_batch, seq=cfg.data.block_size,
                   world=max(1, world), nodes=cfg.hardware.nodes,
                   pipeline_layers=tuple(m.pipeline_layers) if m.pipeline_layers else None,
                   micro_batches=cfg.train.grad_accum, objective=cfg.train.objective,
                   reference=cfg.train.preference.reference,
                   kl_batch=kto_kl_batch(cfg.train.objective, cfg.train.preference.loss_type))


@dataclass
class MemoryEstimate:
    """Per-device memory, its parts and the verdict, defined once for every reader.

    One figure is shown and judged: `needed_bytes`, the sum of every term but the caching
    allocator's reserve. The arithmetic the panel, `ftwizard plan` (text and JSON) and the probes
    print closes by construction::

        capacity - needed - margin = headroom        (negative headroom: "needs -headroom more")

    `reserve_bytes` is the allocator's cache on top: torch empties it and retries before it raises
    out-of-memory, so it never decides fit, but nvidia-smi shows it whenever the card has room, so
    `per_device_bytes = needed + reserve` is the peak to compare with a measurement (seed 001's
    figures, the probes, the runs' end line). On the CPU and on TPUs the reserve is 0.
    `margin_bytes` is kept free on purpose (run-to-run variation, seed 001: "going too close to the
    line is not advisable"). Since the verdict is on `needed_bytes`, "needs X more" is exactly what a
    change must free: lowering the batch to `max_micro_batch` frees at least X (tested).
    """

    per_device_bytes: int             # peak as the counter shows it: needed + reserve
    capacity_bytes: int
    margin_bytes: int
    fits: bool
    headroom_bytes: int               # capacity - margin - needed (negative when it does not fit)
    max_micro_batch: int
    host_bytes: int
    host_capacity_bytes: int
    host_fits: bool
    breakdown: dict[str, int]         # weights, gradients, optimizer, activations, other: sum = needed
    detail: dict[str, int]            # every term by name (the reserve as other.allocator)
    trainable_params: int
    counter: str
    device: str
    needed_bytes: int = 0             # what is shown and what fit is judged on
    reserve_bytes: int = 0            # allocator cache above needed (not judged)
    host_detail: dict[str, int] = field(default_factory=dict)  # host RAM per node, term by term
    suggestions: list[dict] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def shortfall_bytes(self) -> int:
        """Device bytes that must be freed to fit (0 when it fits)."""
        return max(0, -self.headroom_bytes)

    @property
    def host_shortfall_bytes(self) -> int:
        if self.host_capacity_bytes <= 0:
            return 0
        return max(0, self.host_bytes - self.host_capacity_bytes)

    def figure(self) -> "Figure":
        return Figure.of(self)

    def to_dict(self) -> dict[str, Any]:
        return {
            "per_device_bytes": self.per_device_bytes, "needed_bytes": self.needed_bytes,
            "reserve_bytes": self.reserve_bytes, "capacity_bytes": self.capacity_bytes,
            "margin_bytes": self.margin_bytes, "fits": self.fits,
            "headroom_bytes": self.headroom_bytes, "shortfall_bytes": self.shortfall_bytes,
            "max_micro_batch": self.max_micro_batch,
            "host_bytes": self.host_bytes, "host_capacity_bytes": self.host_capacity_bytes,
            "host_fits": self.host_fits, "host_detail": dict(self.host_detail),
            "breakdown": dict(self.breakdown),
            "detail": dict(self.detail), "trainable_params": self.trainable_params,
            "counter": self.counter, "device": self.device,
            "figure": self.figure().to_dict(),
            "suggestions": list(self.suggestions), "notes": list(self.notes),
        }


@dataclass(frozen=True)
class Figure:
    """The per-device figure as printed, in tenths of a GiB, so the printed numbers add up.

    Capacity, margin and headroom are rounded to 0.1 GiB (a headroom never changes sign: a plan
    that does not fit always needs at least 0.1 more) and the shown figure is what closes
    `capacity - shown - margin = headroom`, so it is within 0.15 GiB of `needed_bytes`.
    """

    shown: float
    capacity: float
    margin: float
    headroom: float            # negative: the shortfall
    reserve: float
    fits: bool

    @classmethod
    def of(cls, m: MemoryEstimate) -> "Figure":
        cap = round(m.capacity_bytes * 10 / GiB)
        margin = round(m.margin_bytes * 10 / GiB)
        h = m.headroom_bytes * 10 / GiB
        head = math.floor(h + 0.5)
        head = max(0, head) if m.fits else min(-1, head)
        return cls(shown=(cap - margin - head) / 10, capacity=cap / 10, margin=margin / 10,
                   headroom=head / 10, reserve=round(m.reserve_bytes * 10 / GiB) / 10, fits=m.fits)

    @property
    def shortfall(self) -> float:
        return max(0.0, -self.headroom)

    def verdict(self) -> str:
        """`fits · 1.0 GiB headroom` or `does NOT fit · needs 1.6 GiB more`."""
        if self.fits:
            return f"fits · {self.headroom:.1f} GiB headroom"
        return f"does NOT fit · needs {self.shortfall:.1f} GiB more"

    def usage(self) -> str:
        """`22.5 of 24.0 GiB (0.5 GiB margin kept free)`."""
        return f"{self.shown:.1f} of {self.capacity:.1f} GiB ({self.margin:.1f} GiB margin kept free)"

    def reserve_note(self) -> str:
        """What nvidia-smi may show above the figure, or '' when there is no reserve."""
        if self.reserve <= 0:
            return ""
        return (f"nvidia-smi may show up to {self.shown + self.reserve:.1f} GiB: the allocator "
                f"caches {self.reserve:.1f} GiB more and gives it back before running out")

    def to_dict(self) -> dict[str, Any]:
        return {"shown_gib": self.shown, "capacity_gib": self.capacity, "margin_gib": self.margin,
                "headroom_gib": self.headroom, "reserve_gib": self.reserve,
                "verdict": self.verdict(), "usage": self.usage()}


# ---------------------------------------------------------------- objectives

def kto_kl_batch(objective: str, loss_type: str | None) -> bool:
    """KTOTrainer estimates its KL term from a batch of mismatched completions unless the loss is
    apo_zero_unpaired (`calculate_kl = args.loss_type not in ["apo_zero_unpaired"]`,
    trl/trainer/kto_trainer.py:815)."""
    return objective == "kto" and (loss_type or "kto") != "apo_zero_unpaired"


def sequences_per_row(objective: str) -> int:
    """Sequences the policy runs with gradients per training row: a pair is chosen + rejected."""
    return 2 if objective in PAIRED_OBJECTIVES else 1


def runs_reference(s: Setup) -> bool:
    """A reference forward runs in every step (dpo, kto, unless its log-probs were precomputed)."""
    return s.objective in REFERENCE_OBJECTIVES and s.reference != "precomputed"


def holds_reference_copy(s: Setup) -> bool:
    """A second, frozen model is held: full fine-tuning (LoRA's reference is the base with the
    adapters off)."""
    return runs_reference(s) and s.kind == "full"


def objective_spec(spec, objective: str):  # noqa: ANN001, ANN201 - ModelSpec
    """The model the objective trains: a reward model is AutoModelForSequenceClassification, the
    decoder without the LM head (its V x h weights are not loaded; tied embeddings stay as the
    input table) plus a value head `score` of h x 1 without bias. Idempotent."""
    if objective != "reward" or spec.architecture.endswith("ForSequenceClassification"):
        return spec
    base = spec.architecture
    for tail in ("ForCausalLM", "LMHeadModel"):
        base = base.removesuffix(tail)
    return dataclasses.replace(
        spec, architecture=f"{base}ForSequenceClassification",
        params=spec.params - spec.params_lm_head + spec.hidden, params_lm_head=0,
        params_other=spec.params_other + spec.hidden)


def objective_notes(spec, s: Setup) -> list[str]:  # noqa: ANN001
    """What the objective changes in the estimate, in words (shown with the plan)."""
    o = s.objective
    if o == "sft":
        return []
    out: list[str] = []
    if o in PAIRED_OBJECTIVES:
        out.append(f"{o}: chosen and rejected run as one batch of 2 x micro_batch sequences "
                   "(activations.paired is the rejected half)")
    if o in REFERENCE_OBJECTIVES:
        if s.reference == "precomputed":
            out.append("reference log-probs precomputed before training: no reference model is "
                       "held or run while training (the precompute pass, a no-grad forward before "
                       "the optimizer exists, needs less than a training step)")
        elif s.kind == "full":
            out.append("reference: a frozen copy of the model (weights.reference; no gradients or "
                       "optimizer states), placed like the policy")
        else:
            out.append("reference: the base model with the adapters off (no second copy)")
        out.append("TRL's fused LM head computes log-probs in tiles: no batch x sequence x "
                   "vocabulary logits (activations.fused_head)")
    if s.kl_batch:
        out.append("kto: the KL batch (mismatched completions) runs without gradients: it stores "
                   "no activations, it costs compute")
    if o == "reward":
        out.append(f"reward model: no LM head ({spec.vocab:,} x {spec.hidden:,} vocabulary "
                   f"logits and, unless tied, weights not loaded); a value head of "
                   f"{spec.hidden:,} x 1 scores the last token")
    return out


def reference_weight_terms(spec, s: Setup, *, on_cpu: bool) -> dict[str, float]:  # noqa: ANN001
    """The frozen reference model's bytes on the busiest device (see the module docstring)."""
    if not holds_reference_copy(s):
        return {}
    n = max(1, s.world)
    p = float(spec.params)
    if s.parallel == "deepspeed":
        b = 4.0 if s.dtype == "fp32" else 2.0        # the compute dtype, the engine's too
        if s.zero_stage == 3:
            d = {} if s.offload_params else {"weights.reference": b * p / n}
            gathered = p if s.offload_params else p * (n - 1) / n
            d["weights.reference_live"] = b * min(ZERO3_MAX_LIVE_PARAMETERS, gathered)
            return d
        return {"weights.reference": b * p}          # prepare_deepspeed: stage 0, a whole copy
    e = 4.0 if s.dtype == "fp32" else 2.0             # loaded in the compute dtype
    if s.parallel == "fsdp":
        return {"weights.reference": e * p / (n if s.fsdp == "full_shard" else 1)}
    return {"weights.reference": e * p}              # requires_grad off: no autocast cache


def _head_weight_bytes(s: Setup) -> float:
    if s.parallel == "deepspeed" and s.kind == "full" and s.dtype != "fp32":
        return 2.0
    return full_weight_bytes(s) if s.kind == "full" else (4.0 if s.dtype == "fp32" else 2.0)


def fused_head_tile_bytes(tokens: int, e: int, *, vocab: int = 0, on_cpu: bool = False,
                          backward: bool = True) -> float:
    """The fused head's tile memory. On a GPU the Triton kernels fold each tile in place: one
    `mm_buf` of min(tokens, 4096) x 32768 in the compute dtype, whatever the vocabulary
    (trl/kernels/chunked_logprob.py:347). Without Triton (the CPU) `_forward_tile` and
    `_backward_tile` run the same math as whole-tile torch ops, each an fp32 temporary of
    min(tokens, 4096) x min(V, 32768): measured here (peak RSS around ChunkedLogProbFunction,
    N 1024-2048, h 512, V 32,000) ~4 such tiles in the forward and 10.2-11.2 in the backward."""
    rows = min(tokens, FUSED_TOKEN_TILE)
    if on_cpu:
        return float(rows * min(vocab, FUSED_VOCAB_TILE) * 4
                     * (FUSED_CPU_BACKWARD_TILES if backward else FUSED_CPU_FORWARD_TILES))
    return float(rows * FUSED_VOCAB_TILE * e)


def head_terms(spec, s: Setup, batch: int, e: int, *, on_cpu: bool = False) -> dict[str, float]:  # noqa: ANN001
    """The output head's terms for `batch` sequences under the objective."""
    tokens = batch * s.seq
    o = s.objective
    if o == "reward":
        return {"activations.value_head": float(tokens * e)}      # (2b, s, 1) scores
    if o == "orpo":
        return {"activations.logits": float(4 * e * spec.vocab * tokens)}
    if o in FUSED_HEAD_OBJECTIVES:
        h = spec.hidden
        back = tokens * h * (4 + (e if e != 4 else 0)) + fused_head_tile_bytes(
            tokens, e, vocab=spec.vocab, on_cpu=on_cpu)
        if s.kind == "full":                         # the head is trained: its fp32 gradient
            hb = _head_weight_bytes(s)
            back += spec.vocab * h * (4 + (hb if hb != 4 else 0))
        return {"activations.fused_head": float(tokens * (e * h + FUSED_STATS_BYTES)),
                "activations.head_backward": float(back)}
    return {"activations.logits": logits_bytes_per_token(spec, e) * tokens}


def reference_forward_bytes(spec, s: Setup, tokens: int, e: int, *,  # noqa: ANN001
                            on_cpu: bool = False) -> float:
    """The reference forward's working set for `tokens` tokens: one decoder layer's tensors
    (bounded by what a layer keeps for backward) and its fused head's tile and hidden copy."""
    per_layer = (activation_bytes_per_token_layer(spec, s, e)
                 + attention_s2_bytes_per_token_layer(spec, s, e))
    return (per_layer * tokens
            + fused_head_tile_bytes(tokens, e, vocab=spec.vocab, on_cpu=on_cpu, backward=False)
            + tokens * (e * spec.hidden + FUSED_STATS_BYTES))


def objective_activation_bytes(spec, s: Setup, layers: int | None = None,  # noqa: ANN001
                               with_logits: bool = True, *, on_cpu: bool = False
                               ) -> dict[str, float]:
    """Activation terms under the objective: SFT's for `micro_batch` sequences (the chosen half of
    a pair), activations.paired for the rejected half, the objective's head, and the reference
    forward's transient beyond the backward's (max, not sum: they never coexist)."""
    e = 4 if s.dtype == "fp32" else 2
    if s.objective == "sft":
        return activation_bytes(spec, s, layers=layers, with_logits=with_logits)
    k = sequences_per_row(s.objective)

    def policy(batch: int) -> dict[str, float]:
        d = activation_bytes(spec, s, layers=layers, with_logits=False, micro_batch=batch)
        if with_logits:
            d.update(head_terms(spec, s, batch, e, on_cpu=on_cpu))
        return d

    one = policy(s.micro_batch)
    out = dict(one)
    both = one
    if k > 1:
        both = policy(k * s.micro_batch)
        out["activations.paired"] = sum(both.values()) - sum(one.values())
    if runs_reference(s):
        backward = both.get("activations.head_backward", 0.0) + both.get("activations.recompute_layer", 0.0)
        ref = reference_forward_bytes(spec, s, k * s.micro_batch * s.seq, e, on_cpu=on_cpu)
        out["activations.reference_forward"] = max(0.0, ref - backward)
    return out


# ---------------------------------------------------------------- parameters

def full_weight_bytes(s: Setup) -> float:
    """Bytes per parameter of trained weights (and of their gradients) outside DeepSpeed: fp32
    for fp32 and for mixed precision (fp16, or bf16 with fp32_master), 2 for pure bf16."""
    return 2.0 if (s.dtype == "bf16" and not s.fp32_master) else 4.0


def trainable_params(spec, s: Setup) -> int:  # noqa: ANN001 - ModelSpec
    spec = objective_spec(spec, s.objective)
    if s.kind == "full":
        return spec.params
    head = spec.hidden if s.objective == "reward" else 0   # `score` via PEFT's modules_to_save
    return spec.lora_params(s.lora_r, s.lora_targets) + head


def _quantized_linear_params(spec) -> int:  # noqa: ANN001
    return spec.n_layers * spec.linear_params_per_layer


def weight_bytes(spec, s: Setup) -> float:  # noqa: ANN001
    """Bytes of the model's own weights (whole model, before any sharding)."""
    e16 = 4 if s.dtype == "fp32" else 2
    if s.kind == "full":
        if s.parallel == "deepspeed" and s.dtype != "fp32":
            return 2.0 * spec.params
        return full_weight_bytes(s) * spec.params   # AMP keeps the fp32 model; pure bf16 does not
    if s.kind == "lora":
        return float(e16 * spec.params)
    # qlora: decoder Linears quantized, the rest 16-bit
    lin = _quantized_linear_params(spec)
    rest = spec.params - lin
    if s.quant_bits == 8:
        rows = spec.n_layers * sum(li.d_out for li in spec.linears)
        qbytes = lin * 1.0 + rows * 4.0
    else:
        qbytes = lin * (NF4_DQ_BITS if s.double_quant else NF4_BITS) / 8
    return qbytes + 2.0 * rest


def _opt_state_bytes(spec, s: Setup, n: int) -> float:  # noqa: ANN001
    """Optimizer state bytes for `n` trainable parameters outside DeepSpeed."""
    if s.optimizer in ("adamw_8bit", "paged_adamw_8bit"):
        return 2.0 * n
    if s.optimizer == "sgd":
        return 0.0
    if s.optimizer == "adafactor":
        if s.kind == "full":
            mats = spec.n_layers * sum(li.d_in + li.d_out for li in spec.linears) + spec.vocab + spec.hidden
            vec = spec.params - spec.n_layers * spec.linear_params_per_layer - spec.params_embedding - spec.params_lm_head
            return 4.0 * (mats + max(0, vec))
        return 4.0 * n * 0.1
    # adamw: two moments in the trainable params' dtype
    if s.kind == "full" and full_weight_bytes(s) == 2.0:
        return 4.0 * n                   # torch AdamW keeps m and v in the params' dtype
    return 8.0 * n


# ---------------------------------------------------------------- activations

def activation_bytes_per_token_layer(spec, s: Setup, e: int) -> float:  # noqa: ANN001
    """Bytes kept for backward by one decoder layer, per token, without recompute."""
    h, inter = spec.hidden, spec.intermediate
    g = spec.n_kv_heads / spec.n_heads
    q_out = spec.n_heads * spec.head_dim
    attn = e * (3 * h + 2 * q_out + 2 * g * q_out + q_out + h)
    if spec.model_type == "gptj":
        attn += 2 * 4 * q_out            # GPT-J casts q and k to fp32 for the scores
    mlp = e * (h + (4 * inter if spec.mlp_gated else 6 * inter))
    if spec.parallel_block:
        attn -= e * h                    # one shared norm input
    total = attn + mlp
    if s.kind in ("lora", "qlora") and s.lora_dropout > 0:
        total += e * _lora_input_width(spec, s.lora_targets)
    if s.kind == "qlora":
        total += e * h                   # bnb keeps 16-bit copies of quantized layers' inputs
    return float(total)


def _lora_input_width(spec, targets) -> int:  # noqa: ANN001
    names = {li.name for li in spec.linears} if targets == "all-linear" else set(targets or [])
    return sum(li.d_in for li in spec.linears if li.name in names)


def attention_s2_bytes_per_token_layer(spec, s: Setup, e: int) -> float:  # noqa: ANN001
    """The s^2 term of eager attention per token per layer (0 for SDPA/FlashAttention)."""
    if spec.attn_impl != "eager":
        return 0.0
    if spec.model_type == "gpt2":
        per_score = 2 * e + 1            # scores, softmax and the dropout mask
    else:
        per_score = 4 + e                # fp32 softmax output + its cast
    return float(spec.n_heads * s.seq * per_score)


def logits_bytes_per_token(spec, e: int) -> float:  # noqa: ANN001
    return float(spec.vocab * (e + 10))


def activation_bytes(spec, s: Setup, layers: int | None = None, with_logits: bool = True,
                     micro_batch: int | None = None) -> dict[str, float]:  # noqa: ANN001
    """Activation terms for `layers` decoder layers on one device, for the micro batch."""
    e = 4 if s.dtype == "fp32" else 2
    b = s.micro_batch if micro_batch is None else micro_batch
    tokens = b * s.seq
    n_layers = spec.n_layers if layers is None else layers
    per_layer = activation_bytes_per_token_layer(spec, s, e) + attention_s2_bytes_per_token_layer(spec, s, e)
    out: dict[str, float] = {}
    if s.checkpointing:
        out["activations.checkpoints"] = n_layers * e * spec.hidden * tokens
        out["activations.recompute_layer"] = per_layer * tokens
    else:
        out["activations.layers"] = n_layers * per_layer * tokens
    out["activations.embeddings"] = 2 * e * spec.hidden * tokens
    if with_logits:
        out["activations.logits"] = logits_bytes_per_token(spec, e) * tokens
    return out


# ---------------------------------------------------------------- the estimate

def estimate(spec, s: Setup, *, capacity: int, host_capacity: int, on_cpu: bool = False,
             tpu: bool = False) -> MemoryEstimate:  # noqa: ANN001
    """Peak memory on the busiest device for one micro batch, with fit verdict and max batch."""
    detail = _terms(spec, s, on_cpu=on_cpu, tpu=tpu)
    spec = objective_spec(spec, s.objective)
    total = int(sum(detail.values()))
    need = required_bytes(detail)
    margin = margin_bytes(capacity, on_cpu=on_cpu)
    usable = capacity - margin
    fits = need <= usable
    max_b = max_micro_batch(spec, s, usable, on_cpu=on_cpu, tpu=tpu)
    host_d = host_terms(spec, s, on_cpu=on_cpu, device_bytes=total)
    host = int(sum(host_d.values()))
    return MemoryEstimate(
        per_device_bytes=total, needed_bytes=need, reserve_bytes=total - need,
        capacity_bytes=capacity, margin_bytes=margin, fits=fits,
        headroom_bytes=usable - need, max_micro_batch=max_b, host_bytes=host,
        host_capacity_bytes=host_capacity, host_fits=host_capacity <= 0 or host <= host_capacity,
        host_detail={k: int(v) for k, v in host_d.items()},
        breakdown=_group({k: v for k, v in detail.items() if k != RESERVE_TERM}),
        detail={k: int(v) for k, v in detail.items()},
        trainable_params=trainable_params(spec, s),
        counter=("peak RSS of the training process" if on_cpu else
                 "peak device memory per chip (XLA)" if tpu else
                 "peak device memory as nvidia-smi shows it (torch reserved + CUDA context)"),
        device="cpu" if on_cpu else ("tpu" if tpu else "gpu"),
        notes=objective_notes(spec, s),
    )


def margin_bytes(capacity: int, *, on_cpu: bool = False) -> int:
    """Memory kept free on purpose: 2 % of a device (at least 256 MiB), 10 % of a CPU's RAM (the
    OS, the page cache and the user's other programs live there too)."""
    if on_cpu:
        return int(capacity * 0.10)
    return max(int(capacity * SAFETY_MARGIN), SAFETY_MARGIN_MIN)


def per_device_bytes(spec, s: Setup, *, on_cpu: bool = False, tpu: bool = False) -> int:  # noqa: ANN001
    return int(sum(_terms(spec, s, on_cpu=on_cpu, tpu=tpu).values()))


RESERVE_TERM = "other.allocator"


def required_bytes(detail: dict[str, float]) -> int:
    """What must fit: everything but the caching allocator's reserve, which torch gives back
    (empty cache and retry) before it raises out-of-memory. The reported peak keeps the reserve,
    because nvidia-smi shows it whenever the card has room (seed 001's 8,104 MiB at batch 1 was
    read on an 8 GiB card the allocator had filled)."""
    return int(sum(v for k, v in detail.items() if k != RESERVE_TERM))


def max_micro_batch(spec, s: Setup, usable: int, *, on_cpu: bool = False, tpu: bool = False,
                    limit: int = 4096) -> int:  # noqa: ANN001
    """Largest micro batch whose estimate fits in `usable` bytes (0 when even 1 does not)."""
    def fits(b: int) -> bool:
        return required_bytes(_terms(spec, _with(s, micro_batch=b), on_cpu=on_cpu, tpu=tpu)) <= usable
    if not fits(1):
        return 0
    lo, hi = 1, 2
    while hi <= limit and fits(hi):
        lo, hi = hi, hi * 2
    hi = min(hi, limit + 1)
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if fits(mid):
            lo = mid
        else:
            hi = mid
    return lo


def _with(s: Setup, **changes: Any) -> Setup:
    d = dict(s.__dict__)
    d.update(changes)
    return Setup(**d)


def _group(detail: dict[str, float]) -> dict[str, int]:
    out = {"weights": 0, "gradients": 0, "optimizer": 0, "activations": 0, "other": 0}
    for k, v in detail.items():
        out[k.split(".")[0]] += int(v)
    return out


def _terms(spec, s: Setup, *, on_cpu: bool, tpu: bool) -> dict[str, float]:  # noqa: ANN001
    spec = objective_spec(spec, s.objective)
    if tpu or s.parallel == "jax":
        return _tpu_terms(spec, s, on_cpu=on_cpu)
    d: dict[str, float] = {}
    n_train = trainable_params(spec, s)
    w_all = weight_bytes(spec, s)
    world = s.world
    e = 4 if s.dtype == "fp32" else 2
    lora_bytes = 4.0 * n_train if s.kind != "full" else 0.0   # fp32 adapters
    layers_here = spec.n_layers
    logits_here = True

    if s.parallel == "deepspeed" and s.kind == "full" and s.dtype != "fp32":
        # 16-bit module + fp32 master/m/v/grad partition (16 B) in the optimizer.
        n = world
        stage = s.zero_stage
        p16 = 2.0 * spec.params
        opt = 16.0 * spec.params if s.optimizer == "adamw" else (4.0 + 4.0 + _opt_state_bytes(spec, s, 1)) * spec.params
        if stage == 3:
            if s.offload_params:
                d["weights.zero3_live"] = 2.0 * min(ZERO3_MAX_LIVE_PARAMETERS, spec.params)
            else:
                d["weights.shard"] = p16 / n
                d["weights.zero3_live"] = 2.0 * min(ZERO3_MAX_LIVE_PARAMETERS, spec.params * (n - 1) / n)
            d["gradients.zero3_working"] = 6.0 * spec.largest_layer_params
            if not s.offload_optimizer:
                d["optimizer.shard"] = opt / n
                d["gradients.shard"] = 2.0 * spec.params / n
            d["other.zero_buckets"] = (2 + 4) * 2 * spec.hidden**2 + 2 * 0.9 * spec.hidden**2
        else:
            d["weights.fp16"] = p16
            d["gradients.fp16"] = p16 if stage == 1 else p16 / n + 2 * 2 * spec.hidden**2 * 2
            if not s.offload_optimizer:
                d["optimizer.shard"] = opt / n
    elif s.parallel == "deepspeed":
        # fp32 or adapter training under DeepSpeed: states sharded like the mixed-precision case.
        n = world
        stage = s.zero_stage
        d["weights.model"] = w_all if stage < 3 else w_all / n + 2.0 * spec.largest_layer_params * 2
        grads = (4.0 if s.kind == "full" else 4.0) * n_train
        d["gradients"] = grads if stage == 1 else grads / n
        opt = _opt_state_bytes(spec, s, n_train) + (4.0 * n_train if s.kind == "full" and s.dtype != "fp32" else 0)
        if not s.offload_optimizer:
            d["optimizer"] = opt / n
    elif s.parallel == "fsdp":
        n = world
        unit = spec.params_per_layer
        gathered = 2 * e * unit * 2 if s.fsdp == "full_shard" else 0   # current + prefetched unit
        if s.kind == "full":
            wb = full_weight_bytes(s)
            d["weights.shard"] = wb * spec.params / n if s.fsdp == "full_shard" else wb * spec.params
            d["weights.gathered"] = gathered
            d["gradients.shard"] = wb * spec.params / n
            d["optimizer.shard"] = _opt_state_bytes(spec, s, spec.params) / n
        else:
            d["weights.shard"] = (w_all - 0) / n if s.fsdp == "full_shard" else w_all
            d["weights.gathered"] = gathered
            d["weights.lora"] = lora_bytes / n
            d["gradients.lora"] = lora_bytes / n
            d["optimizer.lora"] = _opt_state_bytes(spec, s, n_train) / n
    elif s.parallel in ("split", "pipeline"):
        stages = max(1, world if s.parallel == "split" else s.pipeline_stages)
        layers_here = math.ceil(spec.n_layers / stages)
        if s.parallel == "pipeline" and s.pipeline_layers:
            layers_here = max(s.pipeline_layers)  # the busiest stage decides the fit
        frac_params = (layers_here * spec.params_per_layer
                       + max(spec.params_embedding, spec.params_lm_head))
        frac = frac_params / spec.params
        d["weights.stage"] = w_all * frac
        if s.kind == "full":
            gb = full_weight_bytes(s)
            d["gradients.stage"] = gb * spec.params * frac
            d["optimizer.stage"] = _opt_state_bytes(spec, s, spec.params) * frac
        else:
            d["weights.lora"] = lora_bytes / stages
            d["gradients.lora"] = lora_bytes / stages
            d["optimizer.lora"] = _opt_state_bytes(spec, s, n_train) / stages
    else:
        # none / ddp: a full replica per device.
        if s.kind == "full":
            d["weights.model"] = w_all
            d["gradients.model"] = full_weight_bytes(s) * spec.params
            d["optimizer.model"] = _opt_state_bytes(spec, s, spec.params)
            if s.dtype != "fp32" and full_weight_bytes(s) == 4.0 and not on_cpu:
                d["other.autocast_cache"] = 2.0 * spec.n_layers * spec.linear_params_per_layer
        else:
            d["weights.base"] = w_all
            d["weights.lora"] = lora_bytes
            d["gradients.lora"] = lora_bytes
            d["optimizer.lora"] = _opt_state_bytes(spec, s, n_train)

    d.update(reference_weight_terms(spec, s, on_cpu=on_cpu))
    if s.kind == "qlora":
        biggest = max((li.d_in * li.d_out for li in spec.linears), default=0)
        d["other.dequant_buffer"] = 2.0 * biggest

    acts = objective_activation_bytes(spec, s, layers=layers_here, with_logits=logits_here,
                                      on_cpu=on_cpu)
    if s.parallel == "pipeline":
        # GPipe runs every micro batch's forward before the first backward: a stage keeps all
        # grad_accum micro batches' activations (logits included on the last); the recomputed
        # layer is a transient working set of one.
        acts = {k: v * (1 if k == "activations.recompute_layer" else s.micro_batches)
                for k, v in acts.items()}
    d.update(acts)

    if on_cpu:
        d["other.process"] = CPU_PROCESS_BYTES
    else:
        dynamic = sum(v for k, v in d.items() if k.startswith("activations") or k.startswith("other"))
        d["other.allocator"] = ALLOCATOR_SLACK * dynamic
        d["other.cuda_context"] = CUDA_CONTEXT_BYTES
        if world > 1 and s.parallel not in ("split",):
            d["other.nccl"] = NCCL_BYTES
    return d


def _tpu_terms(spec, s: Setup, *, on_cpu: bool) -> dict[str, float]:  # noqa: ANN001
    """Per chip under a JAX mesh: parameters, gradients and optax states sharded over every
    device on the fsdp axis (bf16 params and Adam moments), activations for the per-device batch
    with XLA remat when checkpointing is on."""
    n = s.world
    d: dict[str, float] = {}
    n_train = trainable_params(spec, s)
    pb = 4.0 if s.dtype == "fp32" else 2.0
    if s.kind == "full":
        d["weights.shard"] = pb * spec.params / n
        d["gradients.shard"] = pb * spec.params / n
        d["optimizer.shard"] = 2 * pb * spec.params / n if s.optimizer == "adamw" else _opt_state_bytes(spec, s, spec.params) / n
    else:
        d["weights.shard"] = weight_bytes(spec, s) / n
        d["weights.lora"] = 4.0 * n_train / n
        d["gradients.lora"] = 4.0 * n_train / n
        d["optimizer.lora"] = 8.0 * n_train / n
    d.update(activation_bytes(spec, s))
    d["other.runtime"] = CPU_PROCESS_BYTES if on_cpu else TPU_RUNTIME_BYTES
    return d


# ---------------------------------------------------------------- host RAM

HOST_PROCESS_BYTES = 2 * GiB
"""Host RSS of one training process before the model: Python, torch with its CUDA host libraries,
transformers, the Trainer and the dataset (FACTS.md: the imports alone are ~420 MB on the CPU; the
CUDA runtime's host side and pinned staging buffers add about 1-1.5 GB per process on a GPU)."""
SHARD_BYTES = 10e9
"""Largest checkpoint shard transformers holds at once when it loads shard by shard. Hub
checkpoints are written with `save_pretrained(max_shard_size=...)`: "10GB" in the transformers
that wrote Llama-2 (its 70B has 15 shards of ~9.9 GB), "5GB" since; 10 GB is the bound."""
DS_BUFFER_FACTOR = 1.5
"""DeepSpeed's `additional_buffer_factor` in its own estimators (pinned host buffers)."""


def processes_per_node(s: Setup) -> int:
    """Training processes on one node: one per device for ddp/deepspeed/fsdp/pipeline, one for
    `none` and `split` (split spreads the layers of one process over the GPUs) and for `jax` (one
    JAX process per host drives all its chips)."""
    if s.parallel in ("none", "split", "jax"):
        return 1
    return max(1, s.world // max(1, s.nodes))


def host_terms(spec, s: Setup, *, on_cpu: bool = False,
               device_bytes: float = 0.0) -> dict[str, float]:  # noqa: ANN001
    """Host RAM one node needs, term by term, as loading and training really use it.

    Sources, term by term:

    host.process
        HOST_PROCESS_BYTES per training process on the node.
    host.model (CPU-only runs)
        the model lives in RAM: each process's device figure (its peak RSS) is host memory.
    host.load_shard (QLoRA, `split`: anything loaded with a `device_map`)
        transformers' `from_pretrained` with a device map loads a sharded checkpoint shard by
        shard, placing (and, with bitsandbytes, quantizing) each shard's tensors on the device
        before reading the next, so a process holds one shard at a time (SHARD_BYTES), not the
        model: a 70B QLoRA load needs ~10 GB of host RAM, not 130 GiB of bf16 weights.
    host.load_copy (none, ddp, fsdp, ZeRO-1/2)
        without a device map every process materializes the whole model on the CPU in its load
        dtype (fp32 for mixed precision, 16-bit for a frozen base or pure bf16) before the Trainer
        or DeepSpeed moves it to the device: one copy per process on the node. DeepSpeed's own
        `estimate_zero2_model_states_mem_needs` (stage_1_and_2.py) counts the same 4 B/param per
        GPU of the node (x1.5) without offload. FSDP is the exception: with accelerate's
        `fsdp_cpu_ram_efficient_loading` (which core/launch.py writes) only the first process
        loads the checkpoint, so one copy.
    host.zero3_init (ZeRO-3, no offload)
        the Trainer builds the model under `deepspeed.zero.Init` (HfDeepSpeedConfig), so parameters
        are partitioned as they are created: `estimate_zero3_model_states_mem_needs(zero_init=True)`
        (stage3.py) says largest_layer_params x 4 x gpus_per_node x 1.5.
    host.offload (DeepSpeed optimizer / parameter offload)
        DeepSpeed's estimators with their buffer factor 1.5. ZeRO-3 with zero.Init: 18 B/param per
        node (16-bit params + fp32 master, momentum, variance and gradients) with parameter
        offload, 16 with the optimizer alone; ZeRO-2 offload: P x max(4 x total_gpus, 16) x 1.5
        (its 4 B/param per GPU being the load copy). For LoRA/QLoRA only the trainable adapter
        parameters have optimizer states to offload, so P is the trainable count and the frozen
        base is loaded as above.
    """
    spec = objective_spec(spec, s.objective)
    procs = processes_per_node(s)
    nodes = max(1, s.nodes)
    gpn = procs
    total_gpus = max(1, s.world)
    d: dict[str, float] = {"host.process": float(HOST_PROCESS_BYTES * procs)}
    if on_cpu:
        d = {"host.model": float(device_bytes) * procs}
        return d
    p = float(spec.params)
    n_train = float(trainable_params(spec, s))
    w16 = 2.0 * p if s.dtype != "fp32" else 4.0 * p
    ds = s.parallel == "deepspeed"
    offload = ds and (s.offload_optimizer or s.offload_params)
    if s.kind == "qlora" or s.parallel == "split":
        d["host.load_shard"] = min(w16, SHARD_BYTES) * procs
    elif ds and s.zero_stage == 3:
        if not (offload and s.kind == "full"):
            d["host.zero3_init"] = spec.largest_layer_params * 4.0 * gpn * DS_BUFFER_FACTOR
    elif not (offload and s.kind == "full"):
        if s.kind == "full":
            load = 4.0 * p if (ds or full_weight_bytes(s) == 4.0) else 2.0 * p
            if ds:
                load *= DS_BUFFER_FACTOR
        else:
            load = w16
        # FSDP: core/launch.py writes accelerate's fsdp_cpu_ram_efficient_loading, so only the
        # first process reads the checkpoint (the others build on the meta device and receive
        # the weights through sync_module_states): one copy on the busiest node.
        d["host.load_copy"] = load * (1 if s.parallel == "fsdp" else procs)
    if offload:
        n = p if s.kind == "full" else n_train
        if s.zero_stage == 3:
            per = 18.0 if s.offload_params else 16.0
            d["host.offload"] = n * per / nodes * DS_BUFFER_FACTOR
        else:
            d["host.offload"] = n * max(4.0 * total_gpus, 16.0) * DS_BUFFER_FACTOR
    if holds_reference_copy(s):
        # core/backends/preference.py loads the reference (compute dtype) after the policy and
        # before the trainer moves the policy to the device: both load copies are on the host.
        # ZeRO-3 partitions it as it is built (zero.Init); with parameter offload its 16-bit
        # partitions live on the host. FSDP: one copy per node (cpu_ram_efficient_loading).
        e = 4.0 if s.dtype == "fp32" else 2.0
        if ds and s.zero_stage == 3:
            if s.offload_params:
                d["host.reference_offload"] = e * p / nodes * DS_BUFFER_FACTOR
        else:
            d["host.reference_load"] = e * p * (1 if s.parallel == "fsdp" else procs)
    elif (s.objective in REFERENCE_OBJECTIVES and s.kind == "full" and s.parallel == "fsdp"
          and s.reference == "precomputed"):
        # TRL loads its own reference for the precompute pass under FSDP (the policy is not
        # sharded before train(); dpo_trainer.py:909-927), in the policy's dtype, then frees it
        d["host.reference_load"] = full_weight_bytes(s) * p
    return d


def host_bytes(spec, s: Setup, *, on_cpu: bool = False, device_bytes: float = 0.0) -> int:  # noqa: ANN001
    """Host RAM per node (the sum of :func:`host_terms`)."""
    return int(sum(host_terms(spec, s, on_cpu=on_cpu, device_bytes=device_bytes).values()))
