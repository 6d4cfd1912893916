"""The JAX backend: one run config -> a tunix PeftTrainer run on TPU (or GPU/CPU) that reports
the same live events as the PyTorch backend.

Seed 000 trained GPT-J on a TPU v3-8 with mesh-transformer-jax, pinned to jax 0.2.12, which no
longer installs. This is the same job on today's stack: tunix's Flax NNX models loaded from the
Hugging Face checkpoint, optax for the schedule seed 000 describes (warmup, anneal to end_lr, the
one `core.schedule.lr_at`), optax.MultiSteps for gradient accumulation, orbax checkpoints, a device
mesh with data and fsdp axes, and the sequences core/data.py prepares (so the plan's count trains).

Run by the interpreter of the JAX environment (README, "JAX / TPU"; scripts/setup_jax_env.sh):
`python -m ftwizard.core.backends.jax RUN_DIR [--resume]`. Heavy imports (jax, flax, optax, tunix)
are at the top on purpose: only that training process imports this module.

Measured facts this module works around (tunix 0.1.7, flax 0.12.8, jax 0.10.2):
* `jax.make_mesh` makes Explicit axes by default; tunix's embedding gather then fails with a
  ShardingTypeError, so the mesh is built with Auto axes.
* tunix's trainer resumes by itself from any checkpoint in its directory; a fresh run refuses a
  run dir that already has checkpoints instead of silently continuing.
* tunix skips, on resume, as many micro-batches of the iterator as it had consumed, so the data
  order here is a pure function of the seed and the epoch.
"""

from __future__ import annotations

import argparse
import math
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

import jax  # ~1.5 s with jaxlib
import jax.numpy as jnp
import numpy as np
import optax  # ~0.3 s
import orbax.checkpoint as ocp  # ~0.5 s
from flax import nnx  # ~1 s
from tunix.sft import hooks as tunix_hooks  # ~2 s (pulls grain, metrax)
from tunix.sft import peft_trainer

from ftwizard.core.backends import Outcome
from ftwizard.core import events as ev
from ftwizard.core.backends import jax_model as jm
from ftwizard.core.errors import InputError
from ftwizard.core.schedule import plan_steps

IGNORE = -100
OPTIMIZERS = ("adamw", "adafactor", "sgd")


# ---------------------------------------------------------------------------- schedule

def lr_schedule(*, lr: float, end_lr: float | None, warmup: int, total: int,
                scheduler: str = "cosine"):
    """optax schedule equal to core.schedule.lr_at (count = updates done so far, 0-based).

    Written with jnp so it traces inside the jitted update; the e2e test checks every step's
    rate against lr_at.
    """
    end = 0.0 if end_lr is None else float(end_lr)
    if scheduler == "constant":
        end = lr
    anneal = max(1, total - warmup)

    def schedule(count: Any) -> Any:
        s = jnp.asarray(count, jnp.float32)
        warm = lr * (s + 1.0) / max(1, warmup)
        p = jnp.clip((s - warmup) / anneal, 0.0, 1.0)
        if scheduler == "linear":
            after = lr + (end - lr) * p
        elif scheduler == "cosine":
            after = end + (lr - end) * 0.5 * (1.0 + jnp.cos(jnp.pi * p))
        else:
            after = jnp.asarray(lr, jnp.float32)
        return jnp.where(s < warmup, warm, after) if warmup > 0 else after

    return schedule


def _decay_mask(params: Any) -> Any:
    """Weight decay on matrices only: biases and norm scales are not decayed (as in HF)."""
    return jax.tree.map(lambda x: getattr(x, "ndim", 0) > 1, params)


def make_optimizer(cfg: Any, schedule: Any) -> optax.GradientTransformation:
    t, name = cfg.train, cfg.method.optimizer
    if name not in OPTIMIZERS:
        raise InputError(f"optimizer {name!r} is bitsandbytes-only (PyTorch)",
                         field="method.optimizer", value=name,
                         fix=f"use one of {', '.join(OPTIMIZERS)} with method.parallel=jax")
    if name == "adamw":
        opt = optax.adamw(schedule, b1=0.9, b2=0.999, eps=1e-8, weight_decay=t.weight_decay,
                          mask=_decay_mask)
    elif name == "adafactor":
        opt = optax.adafactor(schedule, weight_decay_rate=t.weight_decay or None)
    else:
        opt = optax.sgd(schedule)
    if t.max_grad_norm and t.max_grad_norm > 0:
        opt = optax.chain(optax.clip_by_global_norm(t.max_grad_norm), opt)
    return opt


# ---------------------------------------------------------------------------- devices

def mesh_shape(n_devices: int, n_processes: int = 1) -> tuple[int, int, int]:
    """(data, fsdp, tp): parameters and optimizer states sharded over the chips of a host
    (fsdp, like ZeRO-3), replicated across hosts (data); no tensor parallelism."""
    data = max(1, n_processes)
    if n_devices % data:
        data = 1
    return data, n_devices // data, 1


def make_mesh() -> Any:
    shape = mesh_shape(jax.device_count(), jax.process_count())
    auto = (jax.sharding.AxisType.Auto,) * 3  # Explicit (the default) breaks tunix's gather
    return jax.make_mesh(shape, ("data", "fsdp", "tp"), axis_types=auto)


def _memory_stats() -> dict[str, Any]:
    """XLA's memory figures of device 0 (empty where JAX reports none, e.g. the CPU)."""
    try:
        return jax.local_devices()[0].memory_stats() or {}
    except Exception:  # noqa: BLE001 - informative only
        return {}


def device_memory() -> dict[str, int]:
    """A step event's memory fields for device 0: what XLA holds (the estimate's counter on a
    TPU/GPU) and its reserve; the process RSS where JAX reports none (CPU)."""
    st = _memory_stats()
    if st.get("bytes_in_use") is None:
        return ev.step_memory()
    used = int(st["bytes_in_use"])
    return {"device_used_bytes": used,
            "reserved_bytes": int(st.get("bytes_reserved") or st.get("bytes_limit") or used)}


def peak_memory() -> dict[str, object]:
    """The end event's peak on the estimate's counter (XLA's peak in use; peak RSS on a CPU)."""
    st = _memory_stats()
    if st.get("peak_bytes_in_use") is None:
        return ev.end_memory()
    return {"peak_bytes": int(st["peak_bytes_in_use"]), "counter": "device_used"}


# ---------------------------------------------------------------------------- data

@dataclass
class Batches:
    """Micro-batches in a fixed order: epoch e is a permutation seeded by (seed, e), cut into
    global micro-batches of micro_batch x devices rows. An epoch's last micro-batch and last
    accumulation window are filled with empty rows (labels all -100), so every step has the same
    shape and the step count equals the plan's (HF counts the partial window as a step too; its
    gradient is averaged over grad_accum micro-batches here, which Adam barely notices)."""

    seqs: list[dict]
    rows: int                 # rows per global micro-batch
    grad_accum: int
    seed: int
    total_steps: int
    stop_file: Path | None = None
    process_index: int = 0
    process_count: int = 1

    def __post_init__(self) -> None:
        self.micro_per_epoch = math.ceil(len(self.seqs) / self.rows)
        self.steps_per_epoch = math.ceil(self.micro_per_epoch / self.grad_accum)
        self.block = len(self.seqs[0]["input_ids"])
        self.stopped = False

    def _empty(self) -> dict:
        return {"input_ids": [0] * self.block, "attention_mask": [0] * self.block,
                "labels": [IGNORE] * self.block}

    def _stack(self, rows: list[dict]) -> dict[str, np.ndarray]:
        per = len(rows) // self.process_count  # each host feeds its own slice of the batch
        rows = rows[self.process_index * per:(self.process_index + 1) * per]
        return {"input_tokens": np.asarray([r["input_ids"] for r in rows], np.int32),
                "attention_mask": np.asarray([r.get("attention_mask") or [1] * self.block
                                              for r in rows], np.int32),
                "labels": np.asarray([r["labels"] for r in rows], np.int32)}

    def epoch(self, e: int) -> list[list[dict]]:
        order = np.random.default_rng([self.seed, e]).permutation(len(self.seqs))
        micro = [[self.seqs[i] for i in order[k:k + self.rows]]
                 for k in range(0, len(order), self.rows)]
        micro[-1] = micro[-1] + [self._empty()] * (self.rows - len(micro[-1]))
        pad = self.steps_per_epoch * self.grad_accum - len(micro)
        micro += [[self._empty()] * self.rows] * pad
        return micro

    def __iter__(self) -> Iterator[dict[str, np.ndarray]]:
        n = 0
        e = 0
        while True:
            for mb in self.epoch(e):
                if n >= self.total_steps * self.grad_accum:
                    return
                # Stop only between optimizer steps, so the checkpoint holds whole steps.
                if n % self.grad_accum == 0 and n and self.stop_requested(n // self.grad_accum):
                    self.stopped = True
                    return
                n += 1
                yield self._stack(mb)
            e += 1

    def stop_requested(self, steps_done: int) -> bool:
        """RUN_DIR/stop asks for a graceful stop now; a step number in it (`ftwizard stop RUN`
        writes none) stops once that many steps are done, which makes stops reproducible."""
        if self.stop_file is None or not self.stop_file.exists():
            return False
        try:
            text = self.stop_file.read_text().strip()
        except OSError:
            return True
        return not text.isdigit() or steps_done >= int(text)

    def epoch_at(self, step: int) -> float:
        return round(step / self.steps_per_epoch, 4)


def eval_batches(seqs: list[dict] | None, rows: int) -> list[dict[str, np.ndarray]] | None:
    if not seqs:
        return None
    b = Batches(seqs, rows, 1, 0, 1)
    return [b._stack(mb) for mb in [seqs[k:k + rows] for k in range(0, len(seqs), rows)]
            if len(mb) == rows] or [b._stack(b.epoch(0)[0])]


# ---------------------------------------------------------------------------- loss

def gen_model_input(x: dict[str, Any]) -> dict[str, Any]:
    am = x["attention_mask"]
    return {"input_tokens": x["input_tokens"], "labels": x["labels"],
            "positions": jm.positions_of(am), "attention_mask": jm.causal_mask(am)}


def loss_fn(model: Any, input_tokens: Any, labels: Any, positions: Any, attention_mask: Any) -> Any:
    """Token-mean cross entropy over labels != -100 (prompt and padding masked, as in HF)."""
    logits, _ = model(input_tokens, positions, None, attention_mask)
    logits = logits[:, :-1, :].astype(jnp.float32)
    target = labels[:, 1:]
    mask = (target != IGNORE).astype(jnp.float32)
    logp = jax.nn.log_softmax(logits, axis=-1)
    nll = -jnp.take_along_axis(logp, jnp.maximum(target, 0)[..., None], axis=-1)[..., 0]
    return jnp.sum(nll * mask) / jnp.maximum(jnp.sum(mask), 1.0)


# ---------------------------------------------------------------------------- events

class EventHooks(tunix_hooks.TrainingHooks):
    """tunix's training hooks -> events.jsonl and status.json (the PyTorch backend's protocol)."""

    def __init__(self, run_dir: Path, writer: ev.EventWriter | None, total: int, batches: Batches,
                 tokens_per_step: float, schedule: Any, start_fields: dict[str, Any]) -> None:
        self.run_dir, self.w, self.total = run_dir, writer, total
        self.batches, self.tokens_per_step, self.schedule = batches, tokens_per_step, schedule
        self.start_fields = start_fields
        self.first_step: int | None = None
        self.last_step = 0
        self._t0 = self._t_log = time.time()
        self._step_log = 0
        self._t_status = 0.0
        self.lrs: dict[int, float] = {}

    def on_train_start(self, trainer: Any) -> None:
        step = int(trainer.train_steps)
        self.last_step = self._step_log = step
        self._t0 = self._t_log = time.time()
        if self.w:
            ev.emit_start(self.w, **self.start_fields, total_steps=self.total,
                          resumed_from=step or None)
            ev.write_status(self.run_dir, "running", step=step, total=self.total)

    def on_train_step_end(self, trainer: Any, step: int, loss: Any) -> None:
        step = int(step)
        if self.first_step is None:
            self.first_step = step
            self._t0 = self._t_log
        now = time.time()
        self.last_step = step
        lr = float(self.schedule(step - 1))
        self.lrs[step] = lr
        if not self.w:
            return
        dt = max(1e-9, now - self._t_log)
        tps = (step - self._step_log) * self.tokens_per_step / dt
        done = step - (self.first_step or step) + 1
        rate = (now - self._t0) / done if done > 0 else None
        eta = (self.total - step) * rate if rate else None
        self._t_log, self._step_log = now, step
        grad_norm = _last_metric(trainer, "grad_norm", "train")
        self.w.emit("step", step=step, total=self.total, epoch=self.batches.epoch_at(step),
                    loss=ev.clean_number(np.asarray(loss)), lr=lr,
                    grad_norm=ev.clean_number(grad_norm), tokens_per_s=round(tps, 1),
                    **device_memory(), eta_s=round(eta, 1) if eta is not None else None)
        if now - self._t_status > 0.5 or step >= self.total:
            self._t_status = now
            ev.write_status(self.run_dir, "running", step=step, total=self.total)

    def on_eval_step_end(self, trainer: Any, eval_loss: Any) -> None:
        if self.w:
            self.w.emit("eval", step=int(trainer.train_steps),
                        eval_loss=ev.clean_number(_last_metric(trainer, "loss", "eval")))

    def on_train_end(self, trainer: Any) -> None:
        pass

    def on_train_step_start(self, trainer: Any) -> None:
        pass

    def on_eval_step_start(self, trainer: Any) -> None:
        pass


def _last_metric(trainer: Any, name: str, mode: str) -> float | None:
    try:
        hist = trainer.metrics_logger.get_metric_history(trainer.metrics_prefix, name, mode)
        return float(np.asarray(hist[-1]))
    except (ValueError, KeyError, IndexError):
        return None


def _watch_checkpoints(trainer: Any, writer: ev.EventWriter | None, root: Path) -> None:
    """Emit a `checkpoint` event whenever tunix's manager really writes one."""
    mgr = trainer.checkpoint_manager
    original = mgr.save

    def save(step: int, *args: Any, **kwargs: Any) -> bool:
        saved = original(step, *args, **kwargs)
        if saved and writer:
            path = root / str(step)
            writer.emit("checkpoint", step=int(step), path=str(path), bytes=_dir_bytes(path))
        return saved

    mgr.save = save


def _dir_bytes(p: Path) -> int | None:
    try:
        return sum(f.stat().st_size for f in p.rglob("*") if f.is_file())
    except OSError:
        return None


# ---------------------------------------------------------------------------- the run



def _notify(msg: str, writer: ev.EventWriter | None, log: Any) -> None:
    log(msg)
    if writer:
        writer.log(msg)


def load_data(cfg: Any) -> tuple[Any, list[dict], list[dict] | None, Path | None]:
    from ftwizard.core.data import load_tokenizer, prepare, tokenizer_folder

    tok = load_tokenizer(cfg.model, light=True)
    prepared = prepare(cfg, tok)
    val = list(prepared.validation) if prepared.validation else None
    return tok, list(prepared.train), val, tokenizer_folder(cfg.model)


def train(cfg: Any, run_dir: Path, *, resume: bool = False, writer: ev.EventWriter | None = None,
          log: Any = print) -> Outcome:
    """Train `cfg` into `run_dir` with tunix; raises on failure (the entry point turns
    exceptions into the `end` event)."""
    from ftwizard.core.models import local_path

    if jax.process_index() != 0:
        writer = None
    folder = local_path(cfg.model.name)
    if folder is None or not any(folder.glob("*.safetensors")):
        raise InputError(f"no safetensors weights for {cfg.model.name!r} on this machine",
                         field="model.name", value=cfg.model.name,
                         fix="give a local folder with config.json and *.safetensors")
    if cfg.method.kind == "qlora":
        raise InputError("QLoRA (bitsandbytes) is not available in the JAX backend",
                         field="method.kind", value="qlora", fix="use method.kind=lora")
    dtype = cfg.model.dtype
    if dtype == "fp16":
        _notify("fp16 -> bf16: JAX trains in bfloat16 (no loss scaling needed)", writer, log)
    info = jm.model_info(folder, dtype)

    tok, train_data, val_data, tok_dir = load_data(cfg)
    dropped = 0
    n_dev = jax.device_count()
    rows = cfg.train.micro_batch * n_dev
    if cfg.train.drop_last:
        gb = rows * cfg.train.grad_accum
        keep = (len(train_data) // gb) * gb
        train_data, dropped = train_data[:keep], len(train_data) - keep
    steps = plan_steps(cfg, len(train_data) + dropped, n_dev)
    total, ga = steps.total, cfg.train.grad_accum
    schedule = lr_schedule(lr=cfg.train.lr, end_lr=cfg.train.end_lr, warmup=steps.warmup,
                           total=total, scheduler=cfg.train.scheduler)

    ckpt_root = run_dir / "checkpoints"
    existing = sorted(p for p in ckpt_root.glob("*") if p.name.isdigit()) if ckpt_root.is_dir() else []
    if existing and not resume:
        raise InputError(f"{ckpt_root} already holds checkpoints", field="run_dir",
                         value=str(run_dir), fix="resume it (`--resume`) or start a new run dir")
    if resume:
        _notify(f"resuming from {existing[-1]}" if existing else
                "no checkpoint to resume from: starting fresh", writer, log)

    mesh = make_mesh()
    _notify(f"JAX {jax.__version__} on {n_dev} x {jax.devices()[0].device_kind}; mesh "
            f"{dict(mesh.shape)}; {steps.total} steps of {steps.global_batch} sequences", writer, log)
    with mesh:
        model = jm.load_model(info, mesh, dtype)
        if cfg.is_adapter:
            model = jm.apply_lora(model, cfg.method.lora, cfg.train.seed)
        opts = ocp.CheckpointManagerOptions(save_interval_steps=cfg.train.save_every,
                                            max_to_keep=cfg.train.keep_checkpoints,
                                            enable_async_checkpointing=False)
        tcfg = peft_trainer.TrainingConfig(
            eval_every_n_steps=cfg.train.eval_every, max_steps=total,
            gradient_accumulation_steps=ga if ga > 1 else None,
            checkpoint_root_directory=str(ckpt_root), checkpointing_options=opts,
            data_sharding_axis=(("data", "fsdp"),), pbar_description=None)
        trainer = peft_trainer.PeftTrainer(model, make_optimizer(cfg, schedule), tcfg)
        trainer.with_loss_fn(loss_fn).with_gen_model_input_fn(gen_model_input)
        _watch_checkpoints(trainer, writer, ckpt_root)

        batches = Batches(train_data, rows, ga, cfg.train.seed, total,
                          stop_file=run_dir / ev.STOP_FILE, process_index=jax.process_index(),
                          process_count=jax.process_count())
        lengths = [sum(s.get("attention_mask") or [1] * len(s["input_ids"])) for s in train_data]
        tokens_per_step = (sum(lengths) / max(1, len(lengths))) * steps.global_batch
        n_params = sum(int(np.prod(v.shape)) for _, v in nnx.iter_graph(model)
                       if isinstance(v, nnx.Param) and not isinstance(v, nnx.LoRAParam))
        n_train = sum(int(np.prod(v.shape)) for _, v in nnx.iter_graph(model)
                      if isinstance(v, nnx.LoRAParam)) if cfg.is_adapter else n_params
        start = {"run": run_dir.name, "epochs": cfg.train.epochs, "sequences": steps.sequences,
                 "dropped_samples": steps.dropped_samples, "planned_steps": total,
                 "config": cfg.name, "world_size": n_dev, "method": cfg.method.kind,
                 "parallel": "jax", "precision": dtype if dtype != "fp16" else "bf16",
                 "pid": os.getpid(), "mesh": dict(mesh.shape),
                 "model": {"params": n_params, "trainable_params": n_train,
                           "arch": info.arch}, "plan": ev.read_plan(run_dir)}
        hooks = EventHooks(run_dir, writer, total, batches, tokens_per_step, schedule, start)
        trainer.with_training_hooks(hooks)
        trainer.train(batches, eval_batches(val_data, rows))
        step = int(trainer.train_steps)

        if batches.stopped and step < total:
            return Outcome("stopped", step, total, trainer=trainer)
        final = run_dir / "final"
        if cfg.is_adapter:
            jm.export_adapter(model, info, final, cfg.method.lora, str(folder), tokenizer_dir=tok_dir)
            if cfg.output.merge:
                scale = float(cfg.method.lora.alpha) / float(cfg.method.lora.r)
                jm.export_full(model, info, final / "merged", dtype, lora_scale=scale,
                               tokenizer_dir=tok_dir)
        else:
            jm.export_full(model, info, final, dtype, tokenizer_dir=tok_dir)
        _notify(f"saved {final} (Hugging Face format)", writer, log)
        probe = os.environ.get("FTWIZARD_JAX_PROBE")
        if probe:
            write_probe(model, train_data, Path(probe))
        sample = None
        if cfg.output.sample_prompt:
            sample = greedy_sample(model, tok, cfg.output.sample_prompt)
            _notify(f"sample: {sample}", writer, log)
    return Outcome("finished", step, total, sample=sample, trainer=trainer)


def write_probe(model: Any, seqs: list[dict], path: Path, tokens: int = 24) -> None:
    """The trained model's fp32 logits on a fixed input, for comparing the export with the
    model that produced it (tests and `ftwizard` checks; set FTWIZARD_JAX_PROBE=file.npz)."""
    ids = np.asarray([seqs[0]["input_ids"][:tokens]], np.int32)
    logits = np.asarray(jm.logits_of(model, ids), np.float32)
    np.savez(path, input_ids=ids, logits=logits)


def greedy_sample(model: Any, tok: Any, prompt: str, new_tokens: int = 12) -> str | None:
    """A short greedy continuation (seed 001's infer_test): one compiled forward over a fixed
    buffer, without a KV cache, which is plenty for a dozen tokens."""
    raw = getattr(tok, "_tok", None)  # LightTokenizer wraps a `tokenizers.Tokenizer`
    try:
        ids = (raw.encode(prompt).ids if raw is not None else list(tok.encode(prompt)))
    except Exception:  # noqa: BLE001 - the sample is informative
        return None
    if not ids:
        return None
    n = len(ids)
    buf = np.zeros((1, n + new_tokens), np.int32)
    buf[0, :n] = ids
    graph, state = nnx.split(model)
    forward = jax.jit(lambda st, x, am: jm.logits_of(nnx.merge(graph, st), x, am))
    for i in range(n, n + new_tokens):
        am = (np.arange(buf.shape[1]) < i).astype(np.int32)[None]
        logits = forward(state, buf, am)
        buf[0, i] = int(jnp.argmax(logits[0, i - 1]))
    try:
        return (raw or tok).decode(buf[0, n:].tolist())
    except Exception:  # noqa: BLE001
        return None


# ---------------------------------------------------------------------------- entry point

def main(argv: list[str] | None = None) -> int:
    """The same entry as `python -m ftwizard.core.train` (core.train.run_entry: start, exactly one
    `end` event and status.json whatever happens, the same exit codes), around this backend."""
    from ftwizard.core.train import run_entry

    parser = argparse.ArgumentParser(prog="python -m ftwizard.core.backends.jax")
    parser.add_argument("run_dir", type=Path)
    parser.add_argument("--resume", action="store_true", help="continue from the newest checkpoint")
    args = parser.parse_args(argv)
    run_dir: Path = args.run_dir.resolve()
    if _multi_host():
        jax.distributed.initialize()  # TPU pod: every worker runs this line (tpu_pod.sh, launch_cluster)

    def run(cfg: Any, writer: ev.EventWriter | None, log: Any) -> Outcome:
        return train(cfg, run_dir, resume=args.resume, writer=writer, log=log)

    return run_entry(run_dir, resume=args.resume, lead=jax.process_index() == 0, train=run,
                     memory=peak_memory, oom=_is_oom)


def _is_oom(err: BaseException) -> bool:
    """XLA says RESOURCE_EXHAUSTED where torch says out of memory."""
    return "RESOURCE_EXHAUSTED" in str(err) or "out of memory" in str(err).lower()


def _multi_host() -> bool:
    """A TPU pod slice with several hosts (or FTWIZARD_JAX_DISTRIBUTED=1 elsewhere)."""
    if os.environ.get("FTWIZARD_JAX_DISTRIBUTED") == "1":
        return True
    hosts = [h for h in os.environ.get("TPU_WORKER_HOSTNAMES", "").split(",") if h.strip()]
    return len(hosts) > 1


if __name__ == "__main__":
    sys.exit(main())
