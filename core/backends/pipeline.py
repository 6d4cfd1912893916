"""The pipeline backend: seed 002's pipeline x data parallel training, on torch.distributed.pipelining.

Seed 002 (dist_clm_train) cut GPT-J / GPT-NeoX-20B into stages of layers, one per GPU, ran GPipe
micro batches through them, and repeated the pipeline over data-parallel groups (world = pipeline
x data). This module does the same with the PyTorch engine that ships with torch:
``PipelineStage`` per rank and ``ScheduleGPipe``.

Why GPipe on torch.distributed.pipelining:
- it is part of torch (no second engine to pin), runs on the CPU with gloo (FACTS.md measured it),
  so the whole backend is tested here end to end; DeepSpeed's pipeline engine wants its own
  module format, config and launcher and has no CPU path we could test;
- GPipe is seed 002's schedule (`--pp-mode gpipe`): all forwards, then all backwards. 1F1B keeps
  fewer micro batches in flight but has the same bubble; the planner's memory model
  (core/memory.py) counts GPipe's grad_accum micro batches of activations on a stage.

Layout (core/pipeline_layout.py, shared with the planner): rank = replica x stages + stage; each
stage holds the model's own decoder layers (embeddings on the first, final norm + head on the
last), an even split or `method.pipeline_layers`; one optimizer step runs `train.grad_accum`
micro batches of `train.micro_batch` sequences through the pipeline, so steps and the global
batch are exactly the HF backend's (core/schedule.py plan_steps with replicas as the
data-parallel world) and the plan's step count is the trained one.

Loss: summed cross-entropy over every label token of the step, divided by the label tokens of the
whole global batch (all micro batches, all replicas): the token mean the HF Trainer computes
(transformers 5 normalises by the items in the batch across devices). Gradients are therefore
summed, not averaged, across micro batches (``scale_grads=False``) and replicas (all-reduce SUM
per stage group). A last accumulation window with fewer micro batches, or a short last micro
batch, is padded with sequences whose labels are all -100: they add nothing to loss or gradient
and keep every micro batch the same shape, which the stages' shape inference needs.

Padding is on the right (core/data_prep.py, hf.Collator), so in a causal model no real token
attends to a pad: the stages run without an attention mask and the real tokens' logits equal the
masked model's.

Events come from global rank 0 (the one writer of events.jsonl, train.py); the loss, the
gradient norm and the stop request reach it in one all-reduce per step from the last stages.
Checkpoints: checkpoints/checkpoint-N/stage-S.pt (the stage's weights under the full model's
parameter names + optimizer state) from replica 0, rng-RANK.pt from every rank, and
trainer_state.json written last, so a checkpoint killed half-way is never resumed from. The data
position is the step (the order of every epoch follows from the seed).

At the end the stages' weights are gathered into one model of the original class and saved with
save_pretrained (+ tokenizer) in final/, seed 002's convert_to_hf done for the user; the
pipeline's own logits for one sequence go to pipeline_logits.pt, so anyone can check the
conversion (tests/e2e/test_pipeline.py does).

Limits: every rank loads the whole checkpoint once and keeps its stage (host RAM for one full copy
per process at start, as core/memory.py's host.load_copy counts it); kind full only (the planner
refuses LoRA/QLoRA with a pipeline, core/pipeline_layout.py); fp16 loss scaling and NCCL are
written for GPUs but were only run on the CPU (no GPU was available to this work).
"""

from __future__ import annotations

import json
import math
import os
import random
import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
import torch.distributed as tdist
from torch import nn

from ftwizard.core import events as ev
from ftwizard.core.backends import Outcome
from ftwizard.core.backends import hf
from ftwizard.core.errors import InputError
from ftwizard.core.pipeline_layout import Family, family_of, replicas, stage_layers
from ftwizard.core.schedule import lr_at, plan_steps

SCHEDULE = "GPipe"
LOGITS_FILE = "pipeline_logits.pt"
LOGITS_POSITIONS = 64  # the probe keeps this many positions of one sequence (vocab-wide)
BUCKET_ELEMENTS = 2**24  # all-reduce gradients in flat buckets of this many elements


# ---------------------------------------------------------------------------- process grid

@dataclass
class Grid:
    """This rank's place in the stages x replicas grid, and the groups it talks in."""

    rank: int
    world: int
    local_rank: int
    stages: int
    replicas: int
    stage: int
    replica: int
    device: torch.device
    cpu: bool
    pp_group: Any = None    # the stages of my replica (point-to-point activations)
    dp_group: Any = None    # my stage in every replica (gradient all-reduce)
    tie_group: Any = None   # first + last stage of my replica when embeddings are tied

    @property
    def first(self) -> bool:
        return self.stage == 0

    @property
    def last(self) -> bool:
        return self.stage == self.stages - 1

    @property
    def writes_model(self) -> bool:
        """Replica 0 saves the weights; the other replicas hold the same ones."""
        return self.replica == 0


def _init_process_group(cpu: bool) -> tuple[int, int, int]:
    if "RANK" not in os.environ:  # plain `python -m ftwizard.core.train`: a world of one
        os.environ.update({"RANK": "0", "LOCAL_RANK": "0", "WORLD_SIZE": "1",
                           "MASTER_ADDR": "127.0.0.1"})
        os.environ.setdefault("MASTER_PORT", str(hf._free_port()))
    rank, world = int(os.environ["RANK"]), int(os.environ["WORLD_SIZE"])
    local = int(os.environ.get("LOCAL_RANK", "0"))
    if not tdist.is_initialized():
        if not cpu:
            torch.cuda.set_device(local)
        tdist.init_process_group(backend="gloo" if cpu else "nccl")
    return rank, world, local


def make_grid(cfg: Any, tied: bool) -> Grid:
    cpu = not torch.cuda.is_available()
    rank, world, local = _init_process_group(cpu)
    stages = cfg.method.pipeline_stages
    reps = replicas(world, stages)
    g = Grid(rank=rank, world=world, local_rank=local, stages=stages, replicas=reps,
             stage=rank % stages, replica=rank // stages,
             device=torch.device("cpu") if cpu else torch.device("cuda", local), cpu=cpu)
    # new_group is collective: every rank creates every group, in the same order.
    for r in range(reps):
        grp = tdist.new_group([r * stages + s for s in range(stages)])
        if r == g.replica:
            g.pp_group = grp
    for s in range(stages):
        grp = tdist.new_group([r * stages + s for r in range(reps)])
        if s == g.stage:
            g.dp_group = grp
    if tied and stages > 1:
        for r in range(reps):
            grp = tdist.new_group([r * stages, r * stages + stages - 1])
            if r == g.replica:
                g.tie_group = grp
    return g


# ---------------------------------------------------------------------------- stages

class StageModule(nn.Module):
    """The causal LM with every part that is not on this stage removed.

    Keeping the original model object (pruned) keeps its parameter names: a stage's state dict
    is a slice of the full model's, so the final gather is a dict union and load_state_dict.
    """

    def __init__(self, model: nn.Module, fam: Family, start: int, end: int, *, first: bool,
                 last: bool, checkpointing: bool, autocast: torch.dtype | None) -> None:
        super().__init__()
        base = getattr(model, fam.base)
        layers = getattr(base, fam.layers)
        for i in range(len(layers)):
            if not start <= i < end:
                layers[i] = nn.Identity()  # no parameters; indices (and names) stay
        if not first:
            setattr(base, fam.embed, None)
        if not last:
            setattr(base, fam.norm, None)
            setattr(model, fam.head, None)
        self.model = model
        self.fam = fam
        self.start, self.end = start, end
        self.first, self.last = first, last
        self.checkpointing = checkpointing
        self.autocast = autocast

    @property
    def base(self) -> nn.Module:
        return getattr(self.model, self.fam.base)

    def _masks(self, h: torch.Tensor, pos: torch.Tensor) -> dict[str, Any]:
        from transformers.masking_utils import create_causal_mask, create_sliding_window_causal_mask

        cfg = self.model.config
        kw = dict(config=cfg, inputs_embeds=h, attention_mask=None, cache=None, position_ids=pos)
        masks = {"full_attention": create_causal_mask(**kw)}
        if "sliding_attention" in (getattr(cfg, "layer_types", None) or []):
            masks["sliding_attention"] = create_sliding_window_causal_mask(**kw)
        return masks

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        dev_type = x.device.type
        with torch.autocast(dev_type, dtype=self.autocast, enabled=self.autocast is not None):
            return self._forward(x)

    def _forward(self, x: torch.Tensor) -> torch.Tensor:
        base = self.base
        if self.first:
            h = getattr(base, self.fam.embed)(x)
            if self.fam.dropout:
                h = getattr(base, self.fam.dropout)(h)
        else:
            h = x
        pos = torch.arange(h.shape[1], device=h.device).unsqueeze(0)
        masks = self._masks(h, pos)
        types = getattr(self.model.config, "layer_types", None)
        pe = base.rotary_emb(h, position_ids=pos)
        layers = getattr(base, self.fam.layers)
        for i in range(self.start, self.end):
            mask = masks[types[i]] if types else masks["full_attention"]
            kw = dict(attention_mask=mask, position_ids=pos, position_embeddings=pe)
            if self.checkpointing and self.training:
                from torch.utils.checkpoint import checkpoint

                h = checkpoint(layers[i], h, use_reentrant=False, **kw)
            else:
                h = layers[i](h, **kw)
            if isinstance(h, tuple):
                h = h[0]
        if self.last:
            h = getattr(base, self.fam.norm)(h)
            h = getattr(self.model, self.fam.head)(h)
            h = h.float()
        return h


def load_stage(cfg: Any, grid: Grid, prec: str, pad_id: int) -> tuple[StageModule, list[int], bool]:
    """This rank's stage of the pretrained model, on its device; the layers per stage; tied?"""
    dist = hf.Dist(rank=grid.rank, local_rank=grid.local_rank, world_size=grid.world,
                   cpu=grid.cpu, data_parallel=grid.replicas)
    model = hf.load_model(cfg, dist, prec, pad_id)
    fam = family_of(model.config.model_type)
    n_layers = len(getattr(getattr(model, fam.base), fam.layers))
    split = stage_layers(n_layers, grid.stages, cfg.method.pipeline_layers)
    start = sum(split[:grid.stage])
    tied = _tied(model, fam)
    autocast = None
    if not grid.cpu and prec in ("fp16", "bf16") and next(model.parameters()).dtype == torch.float32:
        autocast = torch.float16 if prec == "fp16" else torch.bfloat16
    model.config.use_cache = False
    stage = StageModule(model, fam, start, start + split[grid.stage], first=grid.first,
                        last=grid.last, checkpointing=cfg.method.gradient_checkpointing,
                        autocast=autocast)
    stage.to(grid.device)
    stage.train()
    return stage, split, tied


def _tied(model: nn.Module, fam: Family) -> bool:
    head = getattr(model, fam.head)
    emb = getattr(getattr(model, fam.base), fam.embed)
    return head is not None and emb is not None and head.weight is emb.weight


def _tied_weight(stage: StageModule, grid: Grid) -> torch.Tensor | None:
    """The copy of the tied embedding this rank holds (first: embeddings, last: head)."""
    if grid.first:
        return getattr(stage.base, stage.fam.embed).weight
    if grid.last:
        return getattr(stage.model, stage.fam.head).weight
    return None


# ---------------------------------------------------------------------------- optimizer

def make_optimizer(cfg: Any, params: list[torch.nn.Parameter], cpu: bool) -> torch.optim.Optimizer:
    """The config's optimizer over this stage's parameters. adamw_8bit is bitsandbytes' AdamW8bit
    (the HF backend's adamw_bnb_8bit; with weight_decay 0, seed 002's Adam8bit): uint8 states,
    and it steps on CPU tensors too (FACTS.md)."""
    t = cfg.train
    name = cfg.method.optimizer
    if name == "adamw":
        return torch.optim.AdamW(params, lr=t.lr, weight_decay=t.weight_decay)
    if name in ("adamw_8bit", "paged_adamw_8bit"):
        if name == "paged_adamw_8bit" and cpu:
            raise InputError("paged 8-bit AdamW pages optimizer states to host RAM from a GPU; "
                             "there is no GPU here", field="method.optimizer", value=name,
                             fix="use method.optimizer=adamw_8bit")
        import bitsandbytes as bnb  # prints a CPU 4-bit kernel notice on import: noise (FACTS.md)

        cls = bnb.optim.AdamW8bit if name == "adamw_8bit" else bnb.optim.PagedAdamW8bit
        return cls(params, lr=t.lr, weight_decay=t.weight_decay)
    if name == "sgd":
        return torch.optim.SGD(params, lr=t.lr, weight_decay=t.weight_decay)
    if name == "adafactor":
        from transformers.optimization import Adafactor

        return Adafactor(params, lr=t.lr, weight_decay=t.weight_decay, scale_parameter=False,
                         relative_step=False)
    raise InputError(f"optimizer {name} is not available in the pipeline backend",
                     field="method.optimizer", value=name, fix="use adamw or adamw_8bit")


class LossScale:
    """Dynamic loss scaling for fp16 on a GPU (a GradScaler across stages): the scale multiplies
    the loss on the last stage, gradients are divided by it everywhere, and a step with a
    non-finite gradient on any rank is skipped by every rank with the scale halved."""

    def __init__(self, enabled: bool, scale: float = 2.0**16, interval: int = 2000) -> None:
        self.enabled = enabled
        self.scale = scale if enabled else 1.0
        self.interval = interval
        self.good = 0

    def update(self, finite: bool) -> None:
        if not self.enabled:
            return
        if not finite:
            self.scale = max(1.0, self.scale / 2)
            self.good = 0
        else:
            self.good += 1
            if self.good % self.interval == 0:
                self.scale *= 2

    def state_dict(self) -> dict[str, float]:
        return {"scale": self.scale, "good": self.good}

    def load_state_dict(self, d: dict[str, float]) -> None:
        self.scale, self.good = float(d["scale"]), int(d["good"])


class TokenMeanLoss:
    """Per micro batch: summed next-token cross-entropy / the step's label tokens (x loss scale).
    The micro-batch losses of a step add up to the global token mean."""

    def __init__(self) -> None:
        self.denominator = 1.0
        self.scale = 1.0

    def __call__(self, logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        logits = logits[:, :-1].reshape(-1, logits.shape[-1]).float()
        target = labels[:, 1:].reshape(-1)
        ce = nn.functional.cross_entropy(logits, target, ignore_index=-100, reduction="sum")
        return ce * (self.scale / self.denominator)


# ---------------------------------------------------------------------------- data

class Windows:
    """The sequences of every optimizer step, for every replica, as the HF Trainer deals them.

    Each epoch is a permutation from (seed, epoch), padded to a multiple of the replicas by
    repeating its start (the distributed sampler's rule), dealt round-robin; a replica's share is
    cut into micro batches and those into windows of grad_accum: core/schedule.py's count.
    """

    def __init__(self, train: list[dict], cfg: Any, n_replicas: int, pad_id: int) -> None:
        self.train = train
        self.mb = cfg.train.micro_batch
        self.ga = cfg.train.grad_accum
        self.reps = n_replicas
        self.seed = cfg.train.seed
        self.pad_id = pad_id
        self.seq = max(len(s["input_ids"]) for s in train)
        per_replica = math.ceil(len(train) / n_replicas)
        self.per_epoch = max(1, math.ceil(math.ceil(per_replica / self.mb) / self.ga))
        self._epoch: tuple[int, list[list[int]]] | None = None

    def _shares(self, epoch: int) -> list[list[int]]:
        if self._epoch is None or self._epoch[0] != epoch:
            g = torch.Generator().manual_seed(self.seed + epoch)
            order = torch.randperm(len(self.train), generator=g).tolist()
            pad = (-len(order)) % self.reps
            order += order[:pad]
            self._epoch = (epoch, [order[r::self.reps] for r in range(self.reps)])
        return self._epoch[1]

    def indices(self, step: int, replica: int) -> list[list[int]]:
        """The micro batches (lists of sample indices) of `step` for `replica`; may be short."""
        epoch, k = divmod(step, self.per_epoch)
        share = self._shares(epoch)[replica]
        chunk = share[k * self.mb * self.ga:(k + 1) * self.mb * self.ga]
        return [chunk[i:i + self.mb] for i in range(0, len(chunk), self.mb)]

    def tensors(self, samples: list[list[dict]], seq: int | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """(input_ids, labels) of grad_accum full micro batches; missing rows are labels -100."""
        seq = seq or self.seq
        ids = torch.full((self.ga * self.mb, seq), self.pad_id, dtype=torch.long)
        labels = torch.full((self.ga * self.mb, seq), -100, dtype=torch.long)
        for m, batch in enumerate(samples[:self.ga]):
            for j, s in enumerate(batch):
                row = m * self.mb + j
                x = list(s["input_ids"])[:seq]
                y = list(s.get("labels") or x)[:seq]
                ids[row, :len(x)] = torch.tensor(x)
                labels[row, :len(y)] = torch.tensor(y)
        return ids, labels

    def step(self, step: int) -> tuple[list[tuple[torch.Tensor, torch.Tensor]], int]:
        """Every replica's (input_ids, labels) for `step`, and the step's label tokens in all."""
        out, tokens = [], 0
        for r in range(self.reps):
            ids, labels = self.tensors([[self.train[i] for i in mb] for mb in self.indices(step, r)])
            tokens += int((labels[:, 1:] != -100).sum())
            out.append((ids, labels))
        return out, tokens


def eval_windows(val: list[dict], win: Windows, replica: int) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """This replica's evaluation windows (no shuffle, no repeats; replicas may get one fewer)."""
    mine = val[replica::win.reps]
    size = win.mb * win.ga
    out = []
    for i in range(0, len(mine), size):
        chunk = mine[i:i + size]
        out.append(win.tensors([chunk[j:j + win.mb] for j in range(0, len(chunk), win.mb)]))
    return out


# ---------------------------------------------------------------------------- collectives

def all_reduce_grads(params: list[torch.Tensor], group: Any) -> None:
    """Sum every gradient over `group`, in flat buckets (one call per ~16M elements)."""
    grads = [p.grad for p in params if p.grad is not None]
    bucket: list[torch.Tensor] = []
    size = 0
    for g in grads + [None]:
        if g is not None:
            bucket.append(g)
            size += g.numel()
        if bucket and (g is None or size >= BUCKET_ELEMENTS):
            flat = torch.cat([b.reshape(-1) for b in bucket])
            tdist.all_reduce(flat, group=group)
            off = 0
            for b in bucket:
                b.copy_(flat[off:off + b.numel()].view_as(b))
                off += b.numel()
            bucket, size = [], 0


def world_sum(values: list[float], device: torch.device) -> list[float]:
    t = torch.tensor(values, dtype=torch.float64, device=device)
    if tdist.is_initialized() and tdist.get_world_size() > 1:
        tdist.all_reduce(t)
    return [float(v) for v in t.tolist()]


# ---------------------------------------------------------------------------- the run

class PipelineRun:
    """One rank's part of a pipeline run: its stage, schedule, optimizer, data and checkpoints."""

    def __init__(self, cfg: Any, run_dir: Path, writer: ev.EventWriter | None, log: Any) -> None:
        from torch.distributed.pipelining import PipelineStage, ScheduleGPipe

        self.cfg, self.run_dir, self.log = cfg, run_dir, log
        import transformers

        transformers.utils.logging.disable_progress_bar()
        transformers.set_seed(cfg.train.seed)
        self.tok, train, val = hf.load_data(cfg)
        self.pad_id = hf.ensure_pad_token(self.tok, cfg)
        # The grid needs to know whether embeddings are tied before the model is loaded (groups
        # are created collectively), and the config says so without loading any weights.
        from transformers import AutoConfig

        mcfg = AutoConfig.from_pretrained(hf.model_path(cfg), trust_remote_code=cfg.model.trust_remote_code)
        family_of(mcfg.model_type)
        tied = bool(getattr(mcfg, "tie_word_embeddings", False))
        self.grid = g = make_grid(cfg, tied)
        self.writer = writer if g.rank == 0 else None
        train, dropped = hf.apply_drop_last(train, cfg, g.replicas)
        self.steps = plan_steps(cfg, len(train) + dropped, g.replicas)
        self.val = val
        dist = hf.Dist(rank=g.rank, local_rank=g.local_rank, world_size=g.world, cpu=g.cpu,
                       data_parallel=g.replicas)
        self.prec, notes = hf.precision(cfg, dist)
        self.notes = notes
        self.stage, self.split, self.tied = load_stage(cfg, g, self.prec, self.pad_id)
        self.params = [p for p in self.stage.parameters() if p.requires_grad]
        self.opt = make_optimizer(cfg, self.params, g.cpu)
        self.scaler = LossScale(enabled=self.prec == "fp16" and self.stage.autocast is not None)
        self.loss_fn = TokenMeanLoss()
        self.win = Windows(train, cfg, g.replicas, self.pad_id)
        self.pstage = PipelineStage(self.stage, g.stage, g.stages, g.device, group=g.pp_group)
        self.schedule = ScheduleGPipe(self.pstage, n_microbatches=cfg.train.grad_accum,
                                      loss_fn=self.loss_fn, scale_grads=False)
        self.step_no = 0
        self.stopped = False
        self.tokens_per_step = (sum(sum(s.get("attention_mask") or [1] * len(s["input_ids"]))
                                    for s in train) / max(1, len(train))) * self.steps.global_batch

    # ------------------------------------------------------------------ one step

    def _run_schedule(self, ids: torch.Tensor, labels: torch.Tensor, *, train: bool) -> tuple[float, Any]:
        """Run one window through the pipeline; (summed losses on the last stage, outputs)."""
        g = self.grid
        ids, labels = ids.to(g.device), labels.to(g.device)
        losses: list[torch.Tensor] = []
        args = (ids,) if g.first else ()
        kw: dict[str, Any] = {"target": labels, "losses": losses} if g.last else {}
        if train:
            out = self.schedule.step(*args, return_outputs=False, **kw)
        else:
            out = self.schedule.eval(*args, **kw)
        total = float(sum(float(x) for x in losses)) if g.last else 0.0
        return total, out

    def train_step(self) -> dict[str, Any]:
        g, cfg = self.grid, self.cfg
        windows, tokens = self.win.step(self.step_no)
        ids, labels = windows[g.replica]
        self.loss_fn.denominator = float(max(1, tokens))
        self.loss_fn.scale = self.scaler.scale
        self.opt.zero_grad(set_to_none=True)
        self.stage.train()
        loss, _ = self._run_schedule(ids, labels, train=True)
        if g.replicas > 1:
            all_reduce_grads(self.params, g.dp_group)
        tied = _tied_weight(self.stage, g) if g.tie_group is not None else None
        if tied is not None and tied.grad is not None:
            tdist.all_reduce(tied.grad, group=g.tie_group)
        inv = 1.0 / self.scaler.scale
        sq = 0.0
        for p in self.params:
            if p.grad is None:
                continue
            if inv != 1.0:
                p.grad.mul_(inv)
            if g.last and tied is not None and p is tied:
                continue  # counted once, on the first stage
            sq += float(p.grad.detach().float().pow(2).sum())
        finite = math.isfinite(sq)
        stop = hf._STOP["signal"] or (self.run_dir / ev.STOP_FILE).exists()
        loss_sum, sq_all, bad, stops = world_sum(
            [loss / self.scaler.scale, sq / g.replicas if finite else 0.0, 0.0 if finite else 1.0,
             1.0 if stop else 0.0], g.device)
        norm = math.sqrt(sq_all)
        ok = bad == 0
        self.scaler.update(ok)
        lr = lr_at(self.step_no, lr=cfg.train.lr, end_lr=cfg.train.end_lr,
                   warmup=self.steps.warmup, total=self.steps.total, scheduler=cfg.train.scheduler)
        if ok:
            clip = cfg.train.max_grad_norm
            if clip and norm > clip:
                for p in self.params:
                    if p.grad is not None:
                        p.grad.mul_(clip / (norm + 1e-6))
            for group in self.opt.param_groups:
                group["lr"] = lr
            self.opt.step()
        self.step_no += 1
        return {"loss": loss_sum, "grad_norm": norm if ok else None, "lr": lr, "stop": stops > 0,
                "skipped": not ok}

    def evaluate(self) -> float | None:
        """Token-mean loss over the validation set, through the pipeline (forward only)."""
        if not self.val:
            return None
        g = self.grid
        self.stage.eval()
        self.loss_fn.denominator, self.loss_fn.scale = 1.0, 1.0
        total, tokens = 0.0, 0
        for r in range(g.replicas):
            for ids, labels in eval_windows(self.val, self.win, r):
                tokens += int((labels[:, 1:] != -100).sum())
                if r == g.replica:
                    total += self._run_schedule(ids, labels, train=False)[0]
        self.stage.train()
        return world_sum([total], g.device)[0] / max(1, tokens)

    # ------------------------------------------------------------------ checkpoints

    def ckpt_dir(self, step: int) -> Path:
        return self.run_dir / "checkpoints" / f"checkpoint-{step}"

    def layout(self) -> dict[str, Any]:
        return {"stages": self.grid.stages, "layers_per_stage": self.split,
                "replicas": self.grid.replicas}

    def save(self) -> None:
        g, d = self.grid, self.ckpt_dir(self.step_no)
        if g.rank == 0:
            d.mkdir(parents=True, exist_ok=True)
        tdist.barrier()
        d.mkdir(parents=True, exist_ok=True)
        if g.writes_model:
            torch.save({"model": self.stage.state_dict(), "optimizer": self.opt.state_dict(),
                        "loss_scale": self.scaler.state_dict()}, d / f"stage-{g.stage}.pt")
        rng = {"torch": torch.get_rng_state(), "python": random.getstate(),
               "cuda": torch.cuda.get_rng_state() if not g.cpu else None}
        torch.save(rng, d / f"rng-{g.rank}.pt")
        tdist.barrier()
        if g.rank == 0:
            state = {"global_step": self.step_no, "max_steps": self.steps.total,
                     "backend": "pipeline", "schedule": SCHEDULE, **self.layout()}
            tmp = d / "trainer_state.json.tmp"
            tmp.write_text(json.dumps(state, indent=2))
            os.replace(tmp, d / "trainer_state.json")  # last: marks the checkpoint complete
            self._prune()
            if self.writer:
                self.writer.emit("checkpoint", step=self.step_no, path=str(d), bytes=hf.dir_bytes(d))
        tdist.barrier()

    def _prune(self) -> None:
        found = sorted((int(p.name.split("-")[1]), p) for p in (self.run_dir / "checkpoints").glob("checkpoint-*")
                       if p.name.split("-")[1].isdigit() and (p / "trainer_state.json").is_file())
        for _, p in found[:-self.cfg.train.keep_checkpoints]:
            shutil.rmtree(p, ignore_errors=True)

    def resume(self) -> Path | None:
        ckpt = hf.newest_checkpoint(self.run_dir)
        if ckpt is None:
            return None
        state = json.loads((ckpt / "trainer_state.json").read_text())
        if state.get("backend") != "pipeline" or state.get("stages") != self.grid.stages \
                or state.get("layers_per_stage") != self.split:
            raise InputError(
                f"{ckpt} was saved by a different layout ({state.get('stages')} stages, layers "
                f"{state.get('layers_per_stage')}); this run has {self.grid.stages} stages, "
                f"layers {self.split}", field="method.pipeline_stages", value=self.grid.stages,
                fix=f"resume with method.pipeline_stages={state.get('stages')} and "
                    f"method.pipeline_layers={state.get('layers_per_stage')}")
        blob = torch.load(ckpt / f"stage-{self.grid.stage}.pt", map_location=self.grid.device,
                          weights_only=False)
        self.stage.load_state_dict(blob["model"])
        self.opt.load_state_dict(blob["optimizer"])
        self.scaler.load_state_dict(blob["loss_scale"])
        rng_file = ckpt / f"rng-{self.grid.rank}.pt"
        if rng_file.exists():  # a different replica count has other ranks: the weights still load
            rng = torch.load(rng_file, weights_only=False)
            torch.set_rng_state(rng["torch"])
            random.setstate(rng["python"])
            if rng.get("cuda") is not None and not self.grid.cpu:
                torch.cuda.set_rng_state(rng["cuda"])
        self.step_no = int(state["global_step"])
        return ckpt

    # ------------------------------------------------------------------ the end

    def probe_logits(self) -> None:
        """The pipeline's own logits for the first sequence of step 0, for checking final/."""
        g = self.grid
        windows, _ = self.win.step(0)
        ids, labels = windows[g.replica]
        self.stage.eval()
        _, out = self._run_schedule(ids, labels, train=False)
        self.stage.train()
        if g.last and g.writes_model and out is not None:
            n = min(LOGITS_POSITIONS, ids.shape[1])
            torch.save({"input_ids": ids[:1].cpu(), "logits": out[:1, :n].detach().float().cpu()},
                       self.run_dir / LOGITS_FILE)

    def save_final(self) -> Path:
        """final/: one model of the original class with every stage's weights (save_pretrained)
        and the tokenizer, as any run leaves it."""
        g = self.grid
        final = self.run_dir / "final"
        parts = self.run_dir / "checkpoints" / ".final-parts"
        if g.rank == 0:
            parts.mkdir(parents=True, exist_ok=True)
        tdist.barrier()
        if g.writes_model:
            sd = {k: v.detach().cpu() for k, v in self.stage.model.state_dict().items()}
            torch.save(sd, parts / f"stage-{g.stage}.pt")
        tdist.barrier()
        if g.rank == 0:
            from transformers import AutoConfig, AutoModelForCausalLM

            merged: dict[str, torch.Tensor] = {}
            for s in range(g.stages):
                merged.update(torch.load(parts / f"stage-{s}.pt", weights_only=True))
            mcfg = AutoConfig.from_pretrained(hf.model_path(self.cfg),
                                              trust_remote_code=self.cfg.model.trust_remote_code)
            mcfg.pad_token_id = self.pad_id
            dtype = next(iter(merged.values())).dtype
            with torch.device("meta"):
                full = AutoModelForCausalLM.from_config(mcfg, dtype=dtype)
            result = full.load_state_dict(merged, strict=False, assign=True)
            tied_keys = set(getattr(full, "_tied_weights_keys", None) or {})
            missing = [k for k in result.missing_keys if k not in tied_keys]
            if missing or result.unexpected_keys:
                raise RuntimeError(f"stages did not cover the model: missing {missing[:5]}, "
                                   f"unexpected {result.unexpected_keys[:5]}")
            if self.tied:
                full.tie_weights()
            final.mkdir(parents=True, exist_ok=True)
            full.save_pretrained(str(final))
            self.tok.save_pretrained(str(final))
            shutil.rmtree(parts, ignore_errors=True)
        tdist.barrier()
        return final


def train(cfg: Any, run_dir: Path, *, resume: bool = False, writer: ev.EventWriter | None = None,
          log: Any = print) -> Outcome:
    """Train `cfg` as a pipeline; the same contract as hf.train (rank 0 passes the writer)."""
    run = PipelineRun(cfg, run_dir, writer, log)
    g, w, steps = run.grid, run.writer, run.steps
    for n in run.notes:
        log(n)
        if w:
            w.log(n)
    ckpt = None
    if resume:
        ckpt = run.resume()
        msg = f"resuming from {ckpt}" if ckpt else "no checkpoint to resume from: starting fresh"
        log(msg)
        if w:
            w.log(msg)
    total = steps.total
    if w:
        plan = ev.read_plan(run_dir)  # the plan it was launched with (never planned again here)
        ev.emit_start(w, run=run_dir.name, epochs=cfg.train.epochs, sequences=steps.sequences,
               dropped_samples=steps.dropped_samples, planned_steps=steps.total, plan=plan,
               config=cfg.name, world_size=g.world, method=cfg.method.kind, parallel="pipeline",
               precision=run.prec, pid=os.getpid(), total_steps=total,
               resumed_from=run.step_no or None,
               pipeline={**run.layout(), "schedule": SCHEDULE,
                         "micro_batches": cfg.train.grad_accum,
                         "micro_batch": cfg.train.micro_batch, "tied_embeddings": run.tied,
                         "optimizer": type(run.opt).__name__},
               model=hf.model_facts(run.stage))  # rank 0's stage: first layers + embeddings
        ev.write_status(run_dir, "running", step=run.step_no, total=total)
    t_first, step_first = time.time(), run.step_no
    t_log, step_log, acc = time.time(), run.step_no, []
    t = cfg.train
    while run.step_no < total:
        info = run.train_step()
        step = run.step_no
        acc.append(info["loss"])
        if w and (step % t.log_every == 0 or step == total):
            now = time.time()
            tps = (step - step_log) * run.tokens_per_step / max(1e-9, now - t_log)
            rate = (now - t_first) / (step - step_first) if step > step_first else None
            e = w.emit("step", step=step, total=total, epoch=round(step / steps.per_epoch, 4),
                       loss=ev.clean_number(sum(acc) / len(acc)), lr=ev.clean_number(info["lr"]),
                       grad_norm=ev.clean_number(info["grad_norm"]), tokens_per_s=round(tps, 1),
                       **ev.step_memory(),
                       eta_s=round((total - step) * rate, 1) if rate is not None else None)
            print(ev.step_line(e), flush=True)
            ev.write_status(run_dir, "running", step=step, total=total)
            t_log, step_log, acc = now, step, []
        if run.val and step % t.eval_every == 0:
            loss = run.evaluate()
            if w and loss is not None:
                w.emit("eval", step=step, eval_loss=ev.clean_number(loss))
        if info["stop"]:
            run.save()
            return Outcome("stopped", step, total)
        if step % t.save_every == 0:
            run.save()
    run.probe_logits()
    final = run.save_final()
    sample = None
    if g.rank == 0 and cfg.output.sample_prompt:
        from ftwizard.core.backends import export

        model, tok = export.load_for_generation(final)
        sample = export.sample(model, tok, cfg.output.sample_prompt)
        log(f"sample: {sample!r}")
        if w:
            w.log(f"sample: {sample}")
    tdist.barrier()
    return Outcome("finished", run.step_no, total, sample=sample)
