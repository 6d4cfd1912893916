"""The one launch gate: every check that can be made before a run starts, made before it starts.

`ftwizard plan`, `ftwizard run` (with or without --dry-run), the wizard's launch key and plain mode
all call :func:`preflight` on the session's plan, so a config one of them accepts is a config the
others accept, and nothing the launched process would reject gets that far: a run that dies in
its first second of a missing tokenizer, or after an hour of a full disk, is a check that was not
made here.

Each finding is an InputError (field or file, value, fix) with a kind that decides the exit code:

- ``input``: bad input, exit 2 (a data file that is missing or does not parse, a model folder
  without weights or tokenizer, a token id outside the vocabulary, a block size beyond the
  model's positions, an output dir that cannot be created or written, the plan's own problems,
  a backend whose package is not installed here (core/capabilities.py));
- ``fit``: the plan does not fit, exit 3 (device memory, host RAM, disk for the checkpoints);
  `--force` may launch anyway, the wizard asks;
- ``warning``: launches, but say it (the hardware changed since the config was planned; data not
  on this machine for a dry run).

What depends on launching here is checked only then (mode "launch"): a plan for another machine
may name data that is not here, and a dry run writes no checkpoint.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ftwizard.core.errors import EXIT_BAD_INPUT, EXIT_DOES_NOT_FIT, EXIT_OK, InputError

GIB = 1024**3
MODES = ("plan", "dry-run", "launch")
WEIGHT_SUFFIXES = (".safetensors", ".bin", ".pt", ".pth", ".ckpt", ".msgpack", ".h5", ".gguf")
WEIGHT_INDEXES = ("model.safetensors.index.json", "pytorch_model.bin.index.json")
NOT_WEIGHTS = ("training_args.bin", "optimizer.pt", "scheduler.pt", "rng_state.pth")


@dataclass
class Finding:
    kind: str            # "input" | "fit" | "warning"
    check: str           # which check: data, model, tokens, block_size, output, config, memory, ...
    error: InputError

    def line(self) -> str:
        return self.error.render()


@dataclass
class Report:
    """All findings of one preflight; `exit_code` is what the CLI returns for them."""

    findings: list[Finding] = field(default_factory=list)

    def of(self, kind: str) -> list[Finding]:
        return [f for f in self.findings if f.kind == kind]

    @property
    def bad_input(self) -> list[Finding]:
        return self.of("input")

    @property
    def does_not_fit(self) -> list[Finding]:
        return self.of("fit")

    @property
    def warnings(self) -> list[Finding]:
        return self.of("warning")

    @property
    def ok(self) -> bool:
        return not self.bad_input and not self.does_not_fit

    @property
    def exit_code(self) -> int:
        if self.bad_input:
            return EXIT_BAD_INPUT
        return EXIT_DOES_NOT_FIT if self.does_not_fit else EXIT_OK

    def to_list(self) -> list[dict[str, Any]]:
        return [{"kind": f.kind, "check": f.check, "field": f.error.field, "message": f.error.message,
                 "value": _jsonable(f.error.value), "fix": f.error.fix} for f in self.findings]


def _jsonable(v: Any) -> Any:
    return v if isinstance(v, (str, int, float, bool, type(None))) else str(v)


def preflight(plan: Any, *, mode: str = "launch") -> Report:
    """Check `plan` (core.plan.Plan, from core.session) for launching in `mode`:
    "plan" (estimates only), "dry-run" (writes the run dir, starts nothing) or "launch"."""
    if mode not in MODES:
        raise ValueError(f"mode must be one of {MODES}")
    rep = Report()
    cfg = plan.config

    def add(kind: str, check: str, err: InputError) -> None:
        rep.findings.append(Finding(kind, check, err))

    for p in plan.problems:
        # host RAM is a resource, not a malformed input: exit 3 like device memory
        if "host RAM" in p.message:
            add("fit", "host_ram", p)
        else:
            add("input", "data" if (p.field or "").startswith("data.") else "config", p)
    if mode == "launch":  # the backend's own packages must be installed where it starts
        from ftwizard.core import capabilities

        for err in capabilities.problems(cfg, plan.hardware, here=True):
            if all(err.message != p.message for p in plan.problems):
                add("input", "backend", err)
    _fit(plan, add)
    _data(cfg, mode, add)
    _model(plan, mode, add)
    _output(cfg, plan, mode, add)
    _hardware_changed(plan, add)
    return rep


# ---------------------------------------------------------------- resources

def _fit(plan: Any, add: Any) -> None:
    m, cfg = plan.memory, plan.config
    unit = "RAM" if m.device == "cpu" else "device memory"
    binds = {s["resource"]: s for s in plan.shortfalls()} if hasattr(plan, "shortfalls") else {}
    if not m.fits:
        shown = getattr(m, "needed_bytes", m.per_device_bytes)
        from ftwizard.core.memory import kto_kl_batch

        t = cfg.train
        least = 2 if kto_kl_batch(t.objective, t.preference.loss_type) else 1  # KTO's KL pairs
        fix = (f"set train.micro_batch={m.max_micro_batch} (the largest that fits) with more "
               "train.grad_accum" if least <= m.max_micro_batch < t.micro_batch else
               "apply a suggestion from `ftwizard plan` (`--set key=value`)")
        add("fit", "memory", InputError(
            f"needs ~{shown / GIB:.1f} GiB of {unit} per device, has {m.capacity_bytes / GIB:.1f} GiB "
            f"({m.margin_bytes / GIB:.1f} GiB kept free)",
            field=binds.get("device memory", {}).get("field", "train.micro_batch"),
            value=cfg.train.micro_batch, fix=fix))
    if not m.host_fits and not any("host RAM" in p.message for p in plan.problems):
        offload = cfg.method.offload_optimizer or cfg.method.offload_params
        add("fit", "host_ram", InputError(
            f"needs ~{m.host_bytes / GIB:.1f} GiB of host RAM per node, has "
            f"{m.host_capacity_bytes / GIB:.1f} GiB",
            field=binds.get("host RAM", {}).get("field") or (
                "method.offload_params" if cfg.method.offload_params else
                "method.offload_optimizer" if offload else "hardware.host_ram_gib"),
            value=True if offload else cfg.hardware.host_ram_gib,
            fix="offload less, use fewer processes per node or more nodes, or a machine with more "
                "RAM (hardware.host_ram_gib says how much a target node has)"))


def _nearest_existing(path: Path) -> Path:
    p = path
    while not p.exists() and p != p.parent:
        p = p.parent
    return p


def _output(cfg: Any, plan: Any, mode: str, add: Any) -> None:
    """output.dir can be created and written (a file in the way, a read-only filesystem, no
    permission), tested by writing and removing a temp file in its nearest existing folder, so
    `plan` and a dry run change nothing on disk. Launching also needs room for the checkpoints."""
    root = Path(cfg.output.dir).expanduser()
    root = root if root.is_absolute() else Path.cwd() / root
    base = _nearest_existing(root)
    if not base.is_dir():
        add("input", "output", InputError(
            f"cannot create {root}: {base} is a file, not a folder", field="output.dir",
            value=cfg.output.dir, fix=f"set output.dir to a folder path, or move {base} away"))
        return
    try:
        fd, tmp = tempfile.mkstemp(prefix=".ftwizard-write-test-", dir=base)
        os.close(fd)
        os.unlink(tmp)
    except OSError as err:
        what = "create" if base != root else "write in"
        add("input", "output", InputError(
            f"cannot {what} {root}: {err.strerror or err} ({base})", field="output.dir",
            value=cfg.output.dir, fix="set output.dir to a writable folder (e.g. output.dir=runs "
            "under your home)"))
        return
    if mode == "plan":
        if getattr(plan, "disk_fits", True) is False:  # the plan's own verdict on this disk
            need, free = plan.disk_bytes, plan.disk_free_bytes
        else:
            return
    else:
        need = plan.checkpoint_bytes * (cfg.train.keep_checkpoints + 1)
        try:
            free = shutil.disk_usage(base).free
        except OSError:
            return
    if need > free:
        err = InputError(
            f"checkpoints need ~{need / GIB:.1f} GiB ({cfg.train.keep_checkpoints} kept + the final "
            f"model) but {base} has {free / GIB:.1f} GiB free", field="train.keep_checkpoints",
            value=cfg.train.keep_checkpoints,
            fix="lower train.keep_checkpoints, or set output.dir on a larger disk")
        add("warning" if mode == "dry-run" else "fit", "disk", err)


def _hardware_changed(plan: Any, add: Any) -> None:
    from ftwizard.core.fingerprint import changes, describe, fingerprint

    old = plan.config.hardware.planned_on
    now = fingerprint(plan.hardware)
    moved = changes(old, now)
    if moved:
        add("warning", "hardware", InputError(
            f"hardware changed: planned on {describe(old)}, now {describe(now)} "
            f"({'; '.join(moved)}); re-planned for this hardware", field="hardware.planned_on", value=describe(old),
            fix="check the verdict and the batch size for the new hardware"))


# ---------------------------------------------------------------- data

def _data(cfg: Any, mode: str, add: Any) -> None:
    """Data the session could not read is already a plan problem; here: data not on this
    machine (planned with data.sequences) cannot be trained on here."""
    from ftwizard.core.session import missing_data

    missing = missing_data(cfg)
    if not missing or not cfg.data.sequences or mode == "plan":
        return
    err = InputError(f"{missing[0]}: no such file or folder (planned with data.sequences)",
                     field="data.train", value=missing[0],
                     fix="copy the data here or point data.train at it; data.sequences only "
                         "plans without the data")
    add("input" if mode == "launch" else "warning", "data", err)


# ---------------------------------------------------------------- the model

def _model(plan: Any, mode: str, add: Any) -> None:
    cfg, spec = plan.config, plan.model
    if spec.max_positions and cfg.data.block_size > spec.max_positions:
        add("input", "block_size", InputError(
            f"block size {cfg.data.block_size} is beyond {spec.id}'s {spec.max_positions} positions",
            field="data.block_size", value=cfg.data.block_size,
            fix=f"set data.block_size to {spec.max_positions} or less"))
    pad = cfg.model.pad_token_id
    if pad is not None and not 0 <= pad < spec.vocab:
        add("input", "tokens", InputError(
            f"pad token id {pad} is outside {spec.id}'s vocabulary (ids 0..{spec.vocab - 1})",
            field="model.pad_token_id", value=pad,
            fix="use an id the tokenizer has (often its EOS id), or null to reuse EOS"))
    folder = Path(spec.path) if getattr(spec, "path", None) else None
    if folder is None or not folder.is_dir():
        return
    # A plan needs only the config: a hub id planned from its fetched config.json (`models pull
    # --config-only`) has no weights yet, and planning works without the tokenizer at hand (token
    # counts are approximated): warnings for `plan`, bad input for a dry run or a launch. A local
    # folder the user named without weights is bad input everywhere.
    cached = getattr(spec, "source", None) == "cache"
    weights = _weights(folder)
    if weights is not None:
        fix = "point model.name at a folder with the model's weights (*.safetensors or pytorch_model*.bin)"
        if cached:
            fix = f"`ftwizard models pull {spec.id}` downloads them; or " + fix
        add("warning" if mode == "plan" and cached else "input", "model",
            InputError(weights, field="model.name", value=str(folder), fix=fix))
    _tokenizer(cfg, spec, lambda k, check, err: add("warning" if mode == "plan" and k == "input" else k,
                                                    check, err))


def _weights(folder: Path) -> str | None:
    """Why `folder` cannot be loaded as weights, or None when it can."""
    import json

    for index in WEIGHT_INDEXES:
        p = folder / index
        if p.is_file():
            try:
                shards = set(json.loads(p.read_text(encoding="utf-8"))["weight_map"].values())
            except (OSError, ValueError, KeyError, TypeError, AttributeError):
                return f"{p} cannot be read as a weight index"
            lost = sorted(s for s in shards if not (folder / s).is_file())
            if lost:
                return f"{folder} lacks {len(lost)} of its {len(shards)} weight shards ({lost[0]}, ...)"
            return None
    if any(f.is_file() and f.suffix in WEIGHT_SUFFIXES and f.name not in NOT_WEIGHTS
           for f in folder.iterdir()):
        return None
    return f"{folder} has a config.json but no weights"


def _tokenizer(cfg: Any, spec: Any, add: Any) -> None:
    from ftwizard.core import data_tokens

    name = cfg.model.tokenizer or cfg.model.name
    folder = data_tokens.tokenizer_folder(cfg.model)
    if folder is None:
        add("input", "model", InputError(
            f"no tokenizer for {name} on this machine", field="model.tokenizer" if
            cfg.model.tokenizer else "model.name", value=name,
            fix="put the tokenizer files (tokenizer.json, tokenizer_config.json) in the model "
                "folder, or set model.tokenizer to a folder that has them"))
        return
    if not (folder / "tokenizer.json").is_file():
        return  # a sentencepiece-only tokenizer: its ids are checked when it loads
    try:
        tok = data_tokens.LightTokenizer(folder)
    except Exception as err:  # noqa: BLE001 - a corrupt tokenizer.json is bad input
        add("input", "model", InputError(
            f"{folder / 'tokenizer.json'} cannot be read: {err}", field="model.tokenizer" if
            cfg.model.tokenizer else "model.name", value=str(folder),
            fix="replace the tokenizer files with the model's own"))
        return
    for what, tid in (("EOS", tok.eos_token_id), ("pad", tok.pad_token_id)):
        if tid is not None and not 0 <= tid < spec.vocab:
            add("input", "tokens", InputError(
                f"the tokenizer's {what} id {tid} is outside {spec.id}'s vocabulary "
                f"(ids 0..{spec.vocab - 1})", field="model.tokenizer" if cfg.model.tokenizer
                else "model.name", value=tid,
                fix="use the model's own tokenizer, or resize the model's embeddings first"))
