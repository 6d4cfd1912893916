"""What every importer shares: the key-by-key mapper and the vocabularies the three tools share.

axolotl, LLaMA-Factory and a plain TrainingArguments JSON all end in Hugging Face's Trainer, so
optimizer names, scheduler names, DeepSpeed JSON and FSDP settings mean the same in each; they are
mapped once here. The :class:`Mapper` is what makes "nothing unknown is silently dropped" true: every
key of the source is either mapped (and recorded with what it became), recorded as not carried with
the reason, or refused with an :class:`InputError` naming the file, the key, the value and the fix.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Callable

from ftwizard.core.errors import InputError, InputErrors

MAPPED, SAME, DEFAULT, NOT_CARRIED, EMPTY = "mapped", "same", "default", "not carried", "empty"


@dataclass
class Row:
    """One line of the mapping table: a source key and what became of it."""

    key: str
    value: Any
    status: str            # mapped | same | default | not carried | empty
    became: str = ""       # "train.lr = 0.0002"
    note: str = ""         # why it is not carried, or a caveat on the mapping

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class Mapper:
    """Reads one source dict key by key into a nested RunConfig dict and records every decision."""

    def __init__(self, data: dict[str, Any], source: str, fmt: str, prefix: str = "") -> None:
        self.data = data
        self.source = source
        self.fmt = fmt
        self.prefix = prefix
        self.out: dict[str, Any] = {}
        self.rows: list[Row] = []
        self.seen: set[str] = set()
        self.origin: dict[str, str] = {}   # ftwizard key -> source key, to point errors back

    # ---- reading
    def has(self, key: str) -> bool:
        return self.data.get(key) is not None

    def peek(self, key: str, default: Any = None) -> Any:
        v = self.data.get(key)
        return default if v is None else v

    def _k(self, key: str) -> str:
        return f"{self.prefix}{key}"

    def number(self, key: str, kind: type = float, default: Any = None) -> Any:
        """The key's value as a number, or an InputError naming it (never a ValueError)."""
        v = self.data.get(key)
        if v is None:
            return default
        try:
            return as_int(v) if kind is int else as_float(v)
        except (ValueError, TypeError):
            raise self.fail(key, v, f"must be a {'whole ' if kind is int else ''}number",
                            f"write {key}: followed by a number") from None

    # ---- recording
    def put(self, target: str, value: Any, key: str | None = None) -> None:
        if "[]" in target:  # a per-source field: written with its source by the caller
            return
        node = self.out
        parts = target.split(".")
        for part in parts[:-1]:
            node = node.setdefault(part, {})
        node[parts[-1]] = value
        if key is not None:
            self.origin[target] = self._k(key)

    def map(self, key: str, target: str, convert: Callable[[Any], Any] | None = None,
            note: str = "") -> bool:
        """Carry `key` to `target` (through `convert`) if the source sets it; True if it did."""
        if not self.has(key):
            return False
        self.seen.add(key)
        value = self.data[key]
        try:
            out = convert(value) if convert else value
        except (ValueError, TypeError, AttributeError):
            raise self.fail(key, value, f"has the wrong type or form for {target}",
                            f"write {key} as the {self.fmt} documentation shows (e.g. a number "
                            "for sizes and rates, a name or list of names for modules)") from None
        self.put(target, out, key)
        self.rows.append(Row(self._k(key), value, MAPPED, f"{target} = {_short(out)}", note))
        return True

    def mapped(self, key: str, targets: dict[str, Any], note: str = "") -> None:
        """Record `key` as mapped to several ftwizard keys at once."""
        self.seen.add(key)
        for t, v in targets.items():
            self.put(t, v, key)
        became = ", ".join(f"{t} = {_short(v)}" for t, v in targets.items())
        self.rows.append(Row(self._k(key), self.data.get(key), MAPPED, became, note))

    def validation_share(self, key: str) -> None:
        """axolotl's val_set_size / LLaMA-Factory's val_size: 0 is no evaluation, a share below 1
        is data.validation.split, a count of examples cannot be carried (ftwizard holds out a
        share)."""
        v = self.number(key)
        if v == 0:
            self.mapped(key, {"data.validation": None}, "0: no evaluation")
        elif 0 < v < 1:
            self.mapped(key, {"data.validation": {"split": v}})
        else:
            self.drop(key, "a count of examples; ftwizard holds out a share: set data.validation.split")

    def same(self, key: str, note: str) -> None:
        """A key whose meaning is already ftwizard's behaviour: nothing to write, nothing lost."""
        if key in self.data and key not in self.seen:
            self.seen.add(key)
            self.rows.append(Row(self._k(key), self.data[key], SAME, "", note))

    def default(self, target: str, value: Any, note: str) -> None:
        """The source leaves `target` unset and its tool's default differs from ftwizard's."""
        self.put(target, value)
        self.rows.append(Row("(not set)", None, DEFAULT, f"{target} = {_short(value)}", note))

    def drop(self, key: str, why: str) -> None:
        """A key ftwizard cannot carry, recorded with the reason."""
        if key in self.data and key not in self.seen:
            self.seen.add(key)
            if _empty(self.data[key]):
                self.rows.append(Row(self._k(key), self.data[key], EMPTY, "", "empty: nothing to carry"))
            else:
                self.rows.append(Row(self._k(key), self.data[key], NOT_CARRIED, "", why))

    def fail(self, key: str, value: Any, why: str, fix: str) -> InputError:
        return InputError(f"{self.fmt} key {self._k(key)!r} = {value!r}: {why}",
                          field=f"{self.source}:{self._k(key)}", value=value, fix=fix)

    def finish(self) -> None:
        """Every key nobody claimed is listed: empty ones as such, the rest as not carried."""
        for key, value in self.data.items():
            if key in self.seen:
                continue
            if _empty(value):
                self.rows.append(Row(self._k(key), value, EMPTY, "", "empty: nothing to carry"))
            else:
                self.rows.append(Row(self._k(key), value, NOT_CARRIED, "",
                                     f"ftwizard has no equivalent of this {self.fmt} key"))
            self.seen.add(key)

    def finish_as(self, why: str) -> None:
        """Like :meth:`finish`, with one reason for all the rest (a nested block of tuning keys)."""
        for key in list(self.data):
            if key not in self.seen:
                self.drop(key, why)

    def absorb(self, other: "Mapper") -> None:
        """Take over a nested mapper's rows and settings (a DeepSpeed JSON inside a config)."""
        _merge(self.out, other.out)
        self.rows.extend(other.rows)
        self.origin.update(other.origin)


def _lookup(d: dict[str, Any], dotted: str) -> Any:
    for part in dotted.split("."):
        if not isinstance(d, dict) or part not in d:
            return None
        d = d[part]
    return d


def as_int(v: Any) -> int:
    """A whole number from YAML (2, 2.0, "2"); bools and fractions are refused."""
    if isinstance(v, bool) or not isinstance(v, (int, float, str)):
        raise TypeError(f"not a number: {v!r}")
    f = float(v)
    if f != int(f):
        raise ValueError(f"not a whole number: {v!r}")
    return int(f)


def as_float(v: Any) -> float:
    if isinstance(v, bool) or not isinstance(v, (int, float, str)):
        raise TypeError(f"not a number: {v!r}")
    return float(v)


def _merge(into: dict[str, Any], new: dict[str, Any]) -> None:
    for k, v in new.items():
        if isinstance(v, dict) and isinstance(into.get(k), dict):
            _merge(into[k], v)
        else:
            into[k] = v


def _empty(value: Any) -> bool:
    return value is None or value == "" or value == [] or value == {}


def _short(value: Any) -> str:
    text = json.dumps(value, default=str) if not isinstance(value, str) else value
    return text if len(text) <= 60 else text[:57] + "..."


def validate(m: Mapper, overrides: list[str] | None = None):  # noqa: ANN201 - RunConfig
    """The mapped dict as a RunConfig; a value ftwizard refuses is reported at its source key."""
    from ftwizard.core.config import apply_override, from_dict

    data = m.out
    for item in overrides or []:
        data = apply_override(data, item)
    try:
        return from_dict(data)
    except InputError as err:
        errors = err.errors if isinstance(err, InputErrors) else [err]
        out = []
        for e in errors:
            src = m.origin.get(e.field or "")
            if src is None:
                out.append(e)
                continue
            out.append(InputError(f"{m.fmt} key {src!r} became {e.field}: {e.message}",
                                  field=f"{m.source}:{src}", value=e.value, fix=e.fix))
        raise (out[0] if len(out) == 1 else InputErrors(out)) from None


# ---------------------------------------------------------------- shared vocabularies

# transformers' OptimizerNames (which axolotl's `optimizer` and LLaMA-Factory's `optim` use) ->
# ftwizard's optimizers. Memory is what the plan needs: fused/apex/xla AdamW keep the same states.
OPTIMIZERS = {
    "adamw_torch": "adamw", "adamw_torch_fused": "adamw", "adamw_hf": "adamw", "adamw": "adamw",
    "adamw_apex_fused": "adamw", "adamw_torch_xla": "adamw", "adamw_torch_npu_fused": "adamw",
    "adamw_bnb_8bit": "adamw_8bit", "adamw_8bit": "adamw_8bit",
    "paged_adamw_8bit": "paged_adamw_8bit",
    "paged_adamw_32bit": "adamw", "paged_adamw": "adamw",
    "adafactor": "adafactor", "sgd": "sgd",
}
OPTIMIZER_NOTES = {"paged_adamw_32bit": "32-bit paged AdamW keeps AdamW's states; paging is not modelled",
                   "paged_adamw": "paged AdamW keeps AdamW's states; paging is not modelled"}
# ftwizard optimizer -> the transformers name written back on export.
OPTIMIZER_NAMES = {"adamw": "adamw_torch", "adamw_8bit": "adamw_bnb_8bit",
                   "paged_adamw_8bit": "paged_adamw_8bit", "adafactor": "adafactor", "sgd": "sgd"}

SCHEDULERS = {"cosine": "cosine", "linear": "linear", "constant": "constant",
              "constant_with_warmup": "constant", "cosine_with_min_lr": "cosine"}


def optimizer(m: Mapper, key: str) -> None:
    if not m.has(key):
        return
    name = str(m.peek(key))
    if name not in OPTIMIZERS:
        raise m.fail(key, name, "ftwizard plans and runs only AdamW (plain, 8-bit, paged 8-bit), "
                     "Adafactor and SGD",
                     f"set {key} to adamw_torch, adamw_torch_fused, adamw_bnb_8bit, paged_adamw_8bit, "
                     f"adafactor or sgd in {m.source}")
    m.map(key, "method.optimizer", lambda v: OPTIMIZERS[str(v)], OPTIMIZER_NOTES.get(name, ""))


def scheduler(m: Mapper, key: str, kwargs_key: str | None = None) -> None:
    if not m.has(key):
        return
    name = str(m.peek(key))
    if name not in SCHEDULERS:
        raise m.fail(key, name, "ftwizard anneals with constant, linear or cosine only",
                     f"set {key} to cosine, linear or constant in {m.source}")
    note = {"constant_with_warmup": "warmup, then constant",
            "cosine_with_min_lr": "cosine down to the min lr of its kwargs"}.get(name, "")
    m.map(key, "train.scheduler", lambda v: SCHEDULERS[str(v)], note)
    if kwargs_key and m.has(kwargs_key):
        kw = m.peek(kwargs_key)
        lr = m.out.get("train", {}).get("lr")
        if isinstance(kw, dict) and name == "cosine_with_min_lr" and ("min_lr" in kw or "min_lr_rate" in kw):
            end = kw["min_lr"] if "min_lr" in kw else (lr or 0) * kw["min_lr_rate"]
            m.mapped(kwargs_key, {"train.end_lr": end}, "cosine_with_min_lr's floor")
        else:
            m.drop(kwargs_key, "scheduler arguments other than cosine_with_min_lr's min_lr")


def report_to(value: Any) -> tuple[str, str]:
    """TrainingArguments.report_to (str or list) -> (ftwizard's report_to, note): the first
    tracker ftwizard supports, in the source's order."""
    from typing import get_args

    from ftwizard.core.config import ReportTo

    supported = [x for x in get_args(ReportTo) if x != "none"]
    if not isinstance(value, (str, list)):
        raise TypeError(f"report_to must be a name or a list of names, not {value!r}")
    items = [value] if isinstance(value, str) else list(value)
    items = [str(i) for i in items if str(i) != "none"]
    if not items:
        return "none", ""
    if items == ["all"]:
        return "none", "all: transformers' 'every installed tracker'; set output.report_to to one"
    chosen = next((i for i in items if i in supported), None)
    rest = [i for i in items if i != chosen]
    note = (f"also {', '.join(rest)}: ftwizard logs to one of {', '.join(supported)}" if rest else "")
    return chosen or "none", note


# ---------------------------------------------------------------- DeepSpeed JSON

def read_json_file(path: Path, source: str, key: str) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InputError(f"the DeepSpeed config {path} named by {key!r} does not exist",
                         field=f"{source}:{key}", value=str(path),
                         fix="give the path of the DeepSpeed JSON relative to the config file or "
                             "the working directory") from None
    except (OSError, UnicodeDecodeError, ValueError) as err:
        raise InputError(f"{path} is not a JSON file: {err}", field=f"{source}:{key}",
                         value=str(path), fix="give a DeepSpeed JSON config") from None
    if not isinstance(data, dict):
        raise InputError(f"{path} holds a JSON {type(data).__name__}, not a DeepSpeed config",
                         field=f"{source}:{key}", value=str(path), fix="give a DeepSpeed JSON config")
    return data


def find_file(value: str, base: Path) -> Path:
    """A path as the tool reads it: relative to the working directory, else beside the config."""
    p = Path(value).expanduser()
    if p.is_absolute() or p.exists():
        return p
    return base / p if (base / p).exists() else p


def deepspeed(m: Mapper, key: str, base: Path) -> None:
    """`deepspeed: path.json` (or an inline dict): ZeRO stage, offload, and the values not "auto"."""
    if not m.has(key):
        return
    value = m.peek(key)
    if isinstance(value, dict):
        ds, label = value, key
    else:
        path = find_file(str(value), base)
        ds, label = read_json_file(path, m.source, key), str(value)
    m.seen.add(key)
    m.rows.append(Row(key, _short(value), MAPPED, "method.parallel = deepspeed",
                      f"its keys follow as {key}:..."))
    m.put("method.parallel", "deepspeed", key)
    sub = Mapper(ds, f"{m.source} -> {label}", "DeepSpeed", prefix=f"{key}:")
    map_deepspeed(sub)
    for target, src in sub.origin.items():
        mine, theirs = _lookup(m.out, target), _lookup(sub.out, target)
        if target != "method.parallel" and mine is not None and theirs is not None and mine != theirs:
            # the Trainer refuses a DeepSpeed value that disagrees with its own argument
            raise InputError(f"DeepSpeed key {src!r} makes {target} = {theirs!r}, but the config "
                             f"says {mine!r} ({m.origin.get(target, 'its default')})",
                             field=f"{m.source}:{src}", value=theirs,
                             fix=f"set it to \"auto\" in {label}, or make the two agree")
    m.absorb(sub)


def map_deepspeed(m: Mapper) -> None:
    """A DeepSpeed JSON's keys: ZeRO stage and offload; batch, precision and clipping where they
    are not "auto" ("auto" means the trainer fills them in from its own arguments)."""
    m.put("method.parallel", "deepspeed")
    zero = m.peek("zero_optimization", {})
    m.seen.add("zero_optimization")
    if not isinstance(zero, dict):
        raise m.fail("zero_optimization", zero, "must be a mapping", "write zero_optimization: {stage: 2}")
    z = Mapper(zero, m.source, m.fmt, prefix=f"{m.prefix}zero_optimization.")
    stage = zero.get("stage", 0)
    if stage in (1, 2, 3):
        z.map("stage", "method.zero_stage", as_int)
    elif stage == 0:
        z.seen.add("stage")
        z.put("method.parallel", "ddp")
        z.rows.append(Row(z._k("stage"), 0, MAPPED, "method.parallel = ddp",
                          "ZeRO stage 0 shards nothing: plain data parallelism"))
    else:
        raise z.fail("stage", stage, "ZeRO stages are 0, 1, 2 or 3", "set zero_optimization.stage to 1, 2 or 3")
    for sub, target in (("offload_optimizer", "method.offload_optimizer"), ("offload_param", "method.offload_params")):
        v = zero.get(sub)
        if v is None:
            continue
        z.seen.add(sub)
        device = v.get("device", "none") if isinstance(v, dict) else str(v)
        on = device in ("cpu", "nvme")
        note = "NVMe offload planned as host RAM offload (the host RAM check is stricter)" if device == "nvme" else ""
        z.put(target, on, sub)
        z.rows.append(Row(z._k(sub), v, MAPPED, f"{target} = {json.dumps(on)}", note))
    z.finish_as("ZeRO tuning (buckets, overlap, prefetch): ftwizard writes its own values")
    m.absorb(z)
    for key, target in (("train_micro_batch_size_per_gpu", "train.micro_batch"),
                        ("gradient_accumulation_steps", "train.grad_accum"),
                        ("gradient_clipping", "train.max_grad_norm")):
        v = m.data.get(key)
        if v == "auto":
            m.same(key, "filled in by the trainer from the config's own value")
        elif v is not None:
            m.map(key, target)
    for prec in ("bf16", "fp16"):
        v = m.data.get(prec)
        if not isinstance(v, dict):
            continue
        enabled = v.get("enabled")
        if enabled == "auto":
            m.same(prec, "filled in by the trainer from the config's precision")
        elif enabled is True:
            m.mapped(prec, {"model.dtype": prec})
        else:
            m.same(prec, "disabled")
    if "train_batch_size" in m.data:
        m.same("train_batch_size", "global batch = micro batch x grad accum x devices; ftwizard derives it")
    for key in ("optimizer", "scheduler"):
        v = m.data.get(key)
        if isinstance(v, dict):
            params = v.get("params", {}) or {}
            if all(p == "auto" for p in params.values()):
                m.same(key, f"DeepSpeed's {v.get('type')} with the trainer's values")
            else:
                m.drop(key, f"DeepSpeed's own {key} settings; ftwizard plans with the trainer's "
                            "lr/scheduler keys (method.optimizer, train.lr, train.scheduler)")
    m.finish_as("DeepSpeed runtime setting (logging, timers, comms): not part of the plan")


# ---------------------------------------------------------------- FSDP

FSDP_OFFLOAD_WHY = ("FSDP CPU offload: ftwizard's FSDP has no offload setting (offload is planned "
                    "for DeepSpeed); planned without offload, so the plan counts more GPU memory")


def fsdp(m: Mapper, key: str, config_key: str) -> None:
    """`fsdp: "full_shard auto_wrap"` / `[full_shard, auto_wrap]` and its fsdp_config mapping."""
    if m.has(key) and m.peek(key) not in (False, "", []):
        raw = m.peek(key)
        words = raw.split() if isinstance(raw, str) else [str(w) for w in raw] if isinstance(raw, list) else []
        if raw is True:
            words = ["full_shard"]
        mode = ("shard_grad_op" if "shard_grad_op" in words
                else "full_shard" if ("full_shard" in words or "hybrid_shard" in words) else None)
        if mode is None:
            raise m.fail(key, raw, "no sharding mode ftwizard knows (full_shard or shard_grad_op)",
                         f"write {key}: full_shard auto_wrap (or shard_grad_op)")
        notes = []
        if "hybrid_shard" in words or "hybrid_shard_zero2" in words:
            notes.append("hybrid sharding planned as full sharding over all devices")
        if "offload" in words:
            notes.append(FSDP_OFFLOAD_WHY)
        m.mapped(key, {"method.parallel": "fsdp", "method.fsdp": mode}, "; ".join(notes))
    elif key in m.data:
        m.same(key, "no FSDP")
    conf = m.peek(config_key)
    if not isinstance(conf, dict):
        if config_key in m.data:
            m.drop(config_key, "not a mapping")
        return
    m.seen.add(config_key)
    c = Mapper(conf, m.source, m.fmt, prefix=f"{config_key}.")
    for k in ("fsdp_offload_params", "offload_params"):
        if c.has(k):
            if c.peek(k):
                c.drop(k, FSDP_OFFLOAD_WHY)
            else:
                c.same(k, "no offload")
    for k in ("fsdp_sharding_strategy", "sharding_strategy"):
        if c.has(k):
            v = str(c.peek(k)).upper()
            mode = {"FULL_SHARD": "full_shard", "1": "full_shard", "SHARD_GRAD_OP": "shard_grad_op",
                    "2": "shard_grad_op", "HYBRID_SHARD": "full_shard"}.get(v)
            if mode is None:
                raise c.fail(k, c.peek(k), "ftwizard shards fully (FULL_SHARD) or gradients and "
                             "optimizer only (SHARD_GRAD_OP)", f"set {k}: FULL_SHARD or SHARD_GRAD_OP")
            c.mapped(k, {"method.parallel": "fsdp", "method.fsdp": mode})
    if c.has("reshard_after_forward"):
        c.mapped("reshard_after_forward", {"method.parallel": "fsdp",
                                           "method.fsdp": "full_shard" if c.peek("reshard_after_forward")
                                           else "shard_grad_op"}, "FSDP2: resharding = full_shard")
    for k in ("fsdp_activation_checkpointing", "activation_checkpointing"):
        if c.has(k):
            c.map(k, "method.gradient_checkpointing", bool)
    c.finish_as("FSDP wrapping and state-dict details: ftwizard wraps by decoder layer and saves a "
                "full state dict")
    m.absorb(c)


# ---------------------------------------------------------------- data sources

DATA_EXTS = (".json", ".jsonl", ".csv", ".tsv", ".parquet", ".txt", ".arrow")


def source_path(path: str, base: Path, split: str | None = None) -> str:
    """A dataset path as the other tool reads it -> ftwizard's `path` (a local file or hf:NAME[:split]).

    Local: absolute, ./ or ~, a data file extension, or present here or beside the config. Anything
    else is a hub id, as both tools treat it."""
    path = str(path)
    if path.startswith("hf:"):
        return path
    p = Path(path).expanduser()
    if not p.is_absolute() and not p.exists() and (base / p).exists():
        return str((base / p).resolve())
    if p.is_absolute() or path.startswith((".", "~")) or path.endswith("/") or \
            p.suffix.lower() in DATA_EXTS or p.exists():
        return path
    return f"hf:{path}" + (f":{split}" if split and split != "train" else "")


def hub_name(path: str) -> tuple[str, str | None]:
    """hf:NAME[:split] -> (NAME, split or None); a local path -> (path, None)."""
    if not path.startswith("hf:"):
        return path, None
    rest = path[3:]
    name, _, split = rest.partition(":")
    return name, split or None


def peek_record_kind(path: str, text_field: str = "text", columns: dict[str, str] | None = None) -> str:
    """What the first record of a local JSON/JSONL file holds, after the source's `columns`
    mapping: messages, sharegpt, alpaca, prompt, text or unknown (a hub id, another file type:
    then the mapping's keys say what they can).

    Export needs it: axolotl and LLaMA-Factory name the data's shape in the config, ftwizard
    detects it per record (core/data_formats.detect, which this reuses)."""
    from ftwizard.core.data_formats import apply_columns, detect

    guess = _kind_of_columns(columns)
    p = Path(path)
    if path.startswith("hf:") or not p.is_file() or p.suffix.lower() not in (".json", ".jsonl"):
        return guess
    try:
        with p.open(encoding="utf-8") as fh:
            head = fh.read(65536)
        if p.suffix.lower() == ".jsonl":
            rec = json.loads(head.splitlines()[0])
        else:
            data = json.loads(p.read_text(encoding="utf-8"))
            rec = data[0] if isinstance(data, list) and data else {}
    except (OSError, ValueError, IndexError):
        return guess
    if not isinstance(rec, dict):
        return guess
    try:
        rec = apply_columns(rec, columns, path)
    except InputError:
        return guess
    kind = detect(rec, text_field)
    return {"prompt_completion": "prompt", None: guess}.get(kind, kind)  # type: ignore[arg-type]


def _kind_of_columns(columns: dict[str, str] | None) -> str:
    c = set(columns or {})
    if "messages" in c:
        return "messages"
    if "conversations" in c:
        return "sharegpt"
    if c & {"instruction", "output", "input", "history"}:
        return "alpaca"
    if c & {"prompt", "completion"}:
        return "prompt"
    return "unknown"


# ---------------------------------------------------------------- chat templates and loss masks

# data.chat_template's names (core/chat_templates.TEMPLATES) as each tool spells the same format.
# axolotl's ChatTemplate enum: mistral_v1 is the [INST] format ours renders; its mistral_v2v3 /
# v3_tekken / v7_tekken differ in spacing and tokens, so they are not ours.
AXOLOTL_TEMPLATES = {"chatml": "chatml", "llama3": "llama-3", "mistral_v1": "mistral",
                     "gemma": "gemma", "qwen_25": "qwen"}
# LLaMA-Factory's template names (its data/template.py registry).
LLAMAFACTORY_TEMPLATES = {"chatml": "chatml", "llama3": "llama-3", "mistral": "mistral",
                          "gemma": "gemma", "qwen": "qwen"}


def template_why(name: Any, fmt: str, ours: dict[str, str]) -> str:
    return (f"ftwizard has no {name!r} template: data.chat_template takes "
            f"{', '.join(sorted(set(ours.values())))} ({fmt}: {', '.join(ours)}) or a .jinja file; "
            "without one the tokenizer's own template is used")


def template_name(ours: str, table: dict[str, str]) -> str | None:
    """data.chat_template -> the other tool's name for it (None for a .jinja path or no match)."""
    key = ours.strip().lower().replace("_", "-")
    key = {"llama3": "llama-3", "qwen2": "qwen", "qwen2.5": "qwen"}.get(key, key)
    return next((theirs for theirs, o in table.items() if o == key), None)
