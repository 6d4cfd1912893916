"""The wizard's steps and fields as data, so the Textual app and the plain questionary mode ask
the same questions in the same order and can never disagree (accelerate keeps its questionnaire
apart from its UI the same way).

A field is addressed by its dotted config key (`method.kind`). Answers are a RunConfig: reading a
field reads the config, answering builds a new config (never mutates), and the config's own
validation is the field's validation, so a value the wizard accepts is one `ftwizard run` accepts.
Choices carry availability and the reason ("bf16 needs Ampere or newer: this is a V100"), decided
from the hardware and from which optional packages are installed (`find_spec`, no import).
"""

from __future__ import annotations

import ast
import functools
import importlib.util
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from ftwizard.core.config import (DPO_LOSSES, KTO_LOSSES, PAIRED_OBJECTIVES, REFERENCE_OBJECTIVES,
                                  RunConfig, from_dict, parse_source)
from ftwizard.core.errors import InputError

Kind = str  # "choice" | "int" | "float" | "bool" | "text" | "path" | "ints" (a list of whole numbers)


@dataclass(frozen=True)
class Choice:
    value: Any
    label: str
    available: bool = True
    reason: str = ""
    """Why it is unavailable, with the fix (an install command, another setting)."""
    help: str = ""
    """What this choice does, in a line (shown while it is the value: the objectives, the losses)."""


@dataclass(frozen=True)
class Context:
    """What availability and defaults depend on: the answers so far and the machine planned for."""

    config: RunConfig
    hardware: Any = None          # core.hardware.Hardware, or None while detection runs

    @property
    def cpu_only(self) -> bool:
        return bool(self.hardware is not None and self.hardware.is_cpu_only)

    @property
    def tpu(self) -> bool:
        return bool(self.hardware is not None and self.hardware.is_tpu)

    @property
    def device_name(self) -> str:
        hw = self.hardware
        if hw is None:
            return "this machine"
        if hw.kind is not None:
            return hw.kind.key
        if hw.devices:
            return hw.devices[0].name
        return "CPU"


@dataclass(frozen=True)
class Field:
    id: str                       # dotted config key, or a pseudo key handled by get/set below
    label: str
    kind: Kind
    choices: Callable[[Context], list[Choice]] | None = None
    applies: Callable[[RunConfig], bool] = lambda cfg: True
    optional: bool = False        # "" / none means null
    picker: bool = False          # long choice lists: pick from a searchable list
    allow_other: bool = False     # a picker that also takes free text (a model folder)
    help_extra: str = ""
    validate: Callable[[Any, Context], str | None] | None = None
    """Extra check beyond the config's own validation: returns a warning or None."""
    hint: Callable[[RunConfig], str] | None = None
    """Help that depends on the other answers (the data shape the objective needs), said first."""
    check: Callable[[RunConfig], None] | None = None
    """Refuses (InputError naming the field) an answer the config's own types let through but a
    rule outside them forbids: the pipeline layout, which needs the model's layer count."""
    empty: str = ""
    """What an empty (null) answer means, shown as the value instead of "none" ("even split")."""

    @property
    def help(self) -> str:
        doc = field_docs().get(self.id, "")
        return " ".join(x for x in (doc, self.help_extra) if x)

    def help_for(self, ctx: Context) -> str:
        """The help as the user needs it now: the answers' hint, then what the current choice does
        (a choice's own help, which says more than the docstring's list of them) or else the
        field's docstring."""
        parts = [self.hint(ctx.config)] if self.hint is not None else []
        value = self.get(ctx.config)
        chosen = [c.help for c in self.options(ctx) if c.value == value and c.help]
        parts += chosen + [self.help_extra] if chosen else [self.help]
        return " ".join(x for x in parts if x)

    def options(self, ctx: Context) -> list[Choice]:
        return self.choices(ctx) if self.choices else []

    def get(self, cfg: RunConfig) -> Any:
        return get_value(cfg, self.id)

    def format(self, cfg: RunConfig) -> str:
        return format_value(self, self.get(cfg))

    def edit_text(self, cfg: RunConfig) -> str:
        """The current value as the text a user edits (the inline editor, plain mode's prompt)."""
        value = self.get(cfg)
        if value is None:
            return ""
        if self.kind == "float":
            return f"{value:g}"
        if self.kind == "ints":
            return ",".join(str(v) for v in value)
        return str(value)

    def answer(self, cfg: RunConfig, value: Any) -> RunConfig:
        """The config with this field answered; InputError (naming the field) when invalid."""
        out = set_value(cfg, self.id, parse_value(self, value))
        if self.check is not None:
            self.check(out)
        return follow_target(out) if self.id == "hardware.target" else out


@dataclass(frozen=True)
class Step:
    id: str
    title: str
    fields: tuple[Field, ...]
    blurb: str = ""

    def visible(self, cfg: RunConfig) -> list[Field]:
        return [f for f in self.fields if f.applies(cfg)]


# ---------------------------------------------------------------- help from the config docstrings

@functools.cache
def field_docs() -> dict[str, str]:
    """Dotted key -> the docstring under that field in core/config.py (the single source of help)."""
    import ftwizard.core.config as config_mod

    tree = ast.parse(Path(config_mod.__file__).read_text(encoding="utf-8"))
    per_class: dict[str, dict[str, str]] = {}
    for node in tree.body:
        if not isinstance(node, ast.ClassDef):
            continue
        docs: dict[str, str] = {}
        body = node.body
        for i, stmt in enumerate(body[:-1]):
            nxt = body[i + 1]
            if (isinstance(stmt, ast.AnnAssign) and isinstance(stmt.target, ast.Name)
                    and isinstance(nxt, ast.Expr) and isinstance(nxt.value, ast.Constant)
                    and isinstance(nxt.value.value, str)):
                docs[stmt.target.id] = " ".join(nxt.value.value.split())
        per_class[node.name] = docs
    out: dict[str, str] = {}

    def walk(model: Any, prefix: str) -> None:
        for name, info in model.model_fields.items():
            key = f"{prefix}{name}"
            doc = per_class.get(model.__name__, {}).get(name)
            if doc:
                out[key] = doc
            ann = info.annotation
            for cand in getattr(ann, "__args__", ()) or (ann,):
                if isinstance(cand, type) and hasattr(cand, "model_fields"):
                    walk(cand, key + ".")

    walk(RunConfig, "")
    return out


# ---------------------------------------------------------------- reading and writing answers

def get_value(cfg: RunConfig, key: str) -> Any:
    if key == "data.train":
        return ", ".join(s.path if s.weight == 1.0 else f"{s.path}:{s.weight:g}"
                         for s in cfg.data.train)
    if key == "data.validation.split":
        return cfg.data.validation.split if cfg.data.validation else None
    node: Any = cfg
    for part in key.split("."):
        node = getattr(node, part)
    return node


def set_value(cfg: RunConfig, key: str, value: Any) -> RunConfig:
    data = cfg.to_dict()
    if key == "data.train":
        text = str(value or "")
        data["data"]["train"] = [parse_source(s) for s in text.split(",") if s.strip()]
        if data["data"]["train"]:
            data["data"]["sequences"] = None  # the data itself is counted from now on
    elif key == "data.validation.split":
        data["data"]["validation"] = None if value in (None, 0) else {"split": value}
    else:
        node = data
        parts = key.split(".")
        for part in parts[:-1]:
            node = node[part]
        node[parts[-1]] = value
        if key == "method.kind":
            m = data["method"]
            m["quant_bits"] = (m.get("quant_bits") or 4) if value == "qlora" else None
        elif key == "train.objective":
            # a loss type belongs to one objective's trainer: another objective starts from its own
            pref = data["train"]["preference"]
            if pref.get("loss_type") not in LOSSES.get(str(value), ()):
                pref["loss_type"] = None
        elif key == "train.preference.loss_type" and value == "exo_pair":
            pref = data["train"]["preference"]
            if not pref.get("label_smoothing"):
                pref["label_smoothing"] = EXO_SMOOTHING   # TRL refuses exo_pair at 0
    return from_dict(data)


def parse_value(f: Field, value: Any) -> Any:
    """Text typed by a user (or a value from a choice) -> the config's type."""
    if not isinstance(value, str):
        return value
    text = value.strip()
    if f.optional and text.lower() in ("", "none", "null", "-"):
        return None
    try:
        if f.kind == "int":
            return int(text.replace("_", "").replace(",", ""))
        if f.kind == "float":
            return float(text)
    except ValueError:
        what = "a whole number" if f.kind == "int" else "a number"
        raise InputError(f"{f.label}: {text!r} is not {what}", field=f.id, value=text,
                         fix=f"type {what}" + (" or leave it empty" if f.optional else "")) from None
    if f.kind == "bool":
        return text.lower() in ("y", "yes", "true", "1", "on")
    if f.kind == "ints":
        parts = [p for p in text.strip("[]").replace(",", " ").split()]
        if not all(p.isdigit() for p in parts):
            raise InputError(f"{f.label}: {text!r} is not a list of whole numbers", field=f.id,
                             value=text, fix="type whole numbers separated by commas, e.g. "
                                             "6,6,5,5" + (", or leave it empty" if f.optional else ""))
        return [int(p) for p in parts] or None
    return text


def format_value(f: Field, value: Any) -> str:
    if value is None or value == "":
        return f.empty or ("none" if f.kind != "path" else "(none)")
    if f.kind == "ints":
        return ",".join(str(v) for v in value)
    if f.kind == "bool":
        return "yes" if value else "no"
    if f.kind == "float":
        return f"{value:g}"
    if f.kind == "choice":
        for c in f.choices(Context(RunConfig())) if f.choices and not f.picker else []:
            if c.value == value:
                return c.label
    return str(value)


# ---------------------------------------------------------------- TPU targets

def follow_target(cfg: RunConfig) -> RunConfig:
    """Choosing a TPU switches to the JAX backend, the only one that trains there (bf16, and LoRA
    instead of QLoRA); the rest of the answers stay."""
    from ftwizard.core.errors import InputError
    from ftwizard.core.hardware import from_target

    if cfg.hardware.target == "auto":
        return cfg
    try:
        tpu = from_target(cfg.hardware.target).is_tpu
    except InputError:
        return cfg
    if not tpu or cfg.method.parallel == "jax":
        return cfg
    data = cfg.to_dict()
    data["method"]["parallel"] = "jax"
    data["model"]["dtype"] = "bf16"
    if data["method"]["kind"] == "qlora":
        data["method"].update(kind="lora", quant_bits=None)
    return from_dict(data)


def jax_choice(ctx: "Context") -> Choice:
    """JAX runs from its own environment (.venv-jax); planning for a TPU elsewhere needs none here."""
    from ftwizard.core.launch import jax_available  # light: looks on disk, no JAX import

    ok, hint = jax_available()
    if not ok and ctx.tpu and ctx.config.hardware.target != "auto":
        ok = True  # a config written here for a TPU VM; it installs there
    return Choice("jax", "JAX", ok, "" if ok else hint)

# ---------------------------------------------------------------- what is installed

@functools.cache
def installed(module: str) -> bool:
    """Whether an optional package is importable (find_spec: no import, microseconds)."""
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):
        return False


# ---------------------------------------------------------------- choices

def _targets(ctx: Context) -> list[Choice]:
    from ftwizard.core.hardware import CATALOG

    here = "this machine"
    if ctx.hardware is not None and ctx.config.hardware.target == "auto":
        here = f"this machine ({ctx.device_name})"
    out = [Choice("auto", here)]
    for key, kind in CATALOG.items():
        out.append(Choice(key, f"{key}  {kind.memory_bytes / 1024**3:.0f} GiB"))
    return out


def _models(ctx: Context) -> list[Choice]:
    from ftwizard.core.models import TINY_NAMES, catalog_ids

    return [Choice(m, m) for m in list(catalog_ids()) + list(TINY_NAMES)]


def _dtypes(ctx: Context) -> list[Choice]:
    hw = ctx.hardware
    bf16_ok = hw is None or hw.supports_bf16
    return [
        Choice("bf16", "bf16", bf16_ok,
               "" if bf16_ok else f"bf16 needs Ampere or newer: this is a {ctx.device_name}; use fp16"),
        Choice("fp16", "fp16"),
        Choice("fp32", "fp32"),
    ]


def _kinds(ctx: Context) -> list[Choice]:
    """Methods the chosen parallel mode's backend trains for the objective (core/capabilities.py),
    QLoRA only with bitsandbytes."""
    from ftwizard.core import capabilities as caps

    device = caps.device_of(ctx.hardware)
    parallel = "jax" if ctx.tpu else ctx.config.method.parallel
    out = []
    for kind, label in (("full", "Full"), ("lora", "LoRA"), ("qlora", "QLoRA")):
        why = caps.why_not(parallel, kind, device, objective=ctx.config.train.objective)
        if why is None and kind == "qlora" and not installed("bitsandbytes"):
            why = "QLoRA needs bitsandbytes: pip install 'ftwizard[bnb]'"
        out.append(Choice(kind, label, why is None, why or ""))
    return out

def _bits(ctx: Context) -> list[Choice]:
    return [Choice(4, "4-bit NF4"), Choice(8, "8-bit")]


PARALLEL_LABELS = {"none": "none", "ddp": "DDP", "deepspeed": "DeepSpeed", "fsdp": "FSDP",
                   "split": "split", "pipeline": "pipeline", "jax": "JAX"}


def _parallel(ctx: Context) -> list[Choice]:
    """Parallel modes a backend runs for this method on this device (core/capabilities.py, with
    its install check), then the layout rules that depend on how many devices take part."""
    from ftwizard.core import capabilities as caps

    hw, cfg = ctx.hardware, ctx.config
    gpus = 0 if hw is None or hw.is_cpu_only else hw.device_count
    per_node = (cfg.hardware.devices or 1) if ctx.cpu_only else (
        min(cfg.hardware.devices or gpus, gpus) if gpus else 1)
    world = max(1, per_node) * cfg.hardware.nodes
    device = caps.device_of(hw)
    out = []
    for p, label in PARALLEL_LABELS.items():
        if p == "jax":
            jc = jax_choice(ctx)
            why = (caps.why_not(p, cfg.method.kind, device, objective=cfg.train.objective)
                   or (None if jc.available else jc.reason))
        else:
            why = caps.why_not(p, cfg.method.kind, device, objective=cfg.train.objective,
                               here=True)
        if why is None and p == "ddp" and world < 2 and not ctx.cpu_only:
            why = "DDP needs more than one device"
        elif why is None and p == "split" and gpus < 2:
            why = "split spreads layers over several GPUs of one machine"
        elif why is None and p == "pipeline" and world < 2:
            why = "a pipeline needs more than one device (hardware.devices on a CPU)"
        out.append(Choice(p, label, why is None, why or ""))
    return out

def _zero(ctx: Context) -> list[Choice]:
    q3 = ctx.config.method.kind == "qlora"
    return [Choice(1, "ZeRO-1"), Choice(2, "ZeRO-2"),
            Choice(3, "ZeRO-3", not q3, "QLoRA base is not sharded by ZeRO-3" if q3 else "")]


def _fsdp(ctx: Context) -> list[Choice]:
    return [Choice("full_shard", "full shard"), Choice("shard_grad_op", "shard grads+opt")]


def _optimizers(ctx: Context) -> list[Choice]:
    bnb = installed("bitsandbytes")
    why = "" if bnb else "needs bitsandbytes: pip install 'ftwizard[bnb]'"
    return [Choice("adamw", "AdamW"), Choice("adamw_8bit", "AdamW 8-bit", bnb, why),
            Choice("paged_adamw_8bit", "paged AdamW 8-bit", bnb, why),
            Choice("adafactor", "Adafactor"), Choice("sgd", "SGD")]


def _modes(ctx: Context) -> list[Choice]:
    return [Choice("corpus", "corpus (pack)"), Choice("entries", "entries (one per seq)")]


def _schedulers(ctx: Context) -> list[Choice]:
    return [Choice("cosine", "cosine"), Choice("linear", "linear"), Choice("constant", "constant")]


def _report(ctx: Context) -> list[Choice]:
    wb = installed("wandb")
    tb = installed("tensorboard")
    ml = installed("mlflow")
    return [Choice("none", "none"),
            Choice("wandb", "wandb", wb, "" if wb else "wandb is not installed: pip install wandb"),
            Choice("tensorboard", "tensorboard", tb, "" if tb else
                   "tensorboard is not installed: pip install tensorboard"),
            Choice("mlflow", "mlflow", ml, "" if ml else
                   "mlflow is not installed: pip install mlflow-skinny (MLFLOW_TRACKING_URI "
                   "names the server; without it, RUN_DIR/mlruns)")]


def _data_paths(value: Any, ctx: Context) -> str | None:
    missing = []
    for part in str(value or "").split(","):
        part = part.strip()
        if not part:
            continue
        path = parse_source(part)["path"]
        if not path.startswith("hf:") and not Path(path).expanduser().exists():
            missing.append(path)
    return f"not found here: {', '.join(missing)}" if missing else None



# ---------------------------------------------------------------- the training objective

LOSSES = {"dpo": DPO_LOSSES, "kto": KTO_LOSSES}
EXO_SMOOTHING = 1e-3   # the EXO paper's value; TRL refuses exo_pair with label_smoothing 0
SMOOTHED_LOSSES = ("robust", "exo_pair", "aot", "aot_unpaired")  # TRL 1.16 reads label_smoothing

OBJECTIVES = (
    ("sft", "SFT", "next-token loss on text, instructions or chats: the usual first step."),
    ("dpo", "DPO", "learns from preference pairs (prompt, chosen, rejected), held near a "
                   "reference model by beta: the common step after SFT."),
    ("orpo", "ORPO", "SFT and preference in one pass from the same pairs, with no reference "
                     "model (less memory than DPO with a full fine-tune)."),
    ("kto", "KTO", "learns from single completions labelled good or bad (prompt, completion, "
                   "label) when there are no pairs; a reference model as in DPO."),
    ("reward", "reward model", "a scalar score head trained on chosen/rejected pairs, for RLHF "
                               "or ranking answers; it does not generate text."),
)

DPO_LOSS_HELP = {
    "hinge": "SLiC's hinge loss on the reward margin",
    "ipo": "IPO: squared loss towards a fixed margin, beta is its tau; resists overfitting",
    "exo_pair": "EXO: reverse-KL form; needs label smoothing > 0 (1e-3 set for you)",
    "nca_pair": "NCA: absolute likelihoods, keeps the chosen answers' likelihood from falling",
    "robust": "robust DPO: unbiased under a share of flipped labels (label smoothing)",
    "bco_pair": "BCO on pairs: binary classifier of chosen against rejected",
    "sppo_hard": "SPPO with hard (0/1) win probabilities",
    "aot": "AOT: aligns the ordering of the batch's log-ratios",
    "aot_unpaired": "AOT for unpaired chosen and rejected",
    "apo_zero": "APO-zero: raises chosen, lowers rejected (chosen better than the model's own)",
    "apo_down": "APO-down: lowers both (the model is already better than chosen)",
    "discopop": "DiscoPOP: the discovered log-ratio modulated loss",
    "sigmoid_norm": "sigmoid on length-normalised log-ratios",
}


def data_shape(objective: str) -> str:
    """What each row of the training data must hold for `objective` (the Data step says it first;
    core/preference_data.py reads these shapes)."""
    if objective in PAIRED_OBJECTIVES:
        return (f"{objective} trains on pairs: each row has prompt, chosen and rejected (text or "
                "chat message lists; LLaMA-Factory's and axolotl's pair files are read too).")
    if objective == "kto":
        return ("kto trains on labelled answers: each row has prompt, completion and label "
                "(true: desirable, false: undesirable), or LLaMA-Factory's kto_tag.")
    return ""


def _length_hint(cfg: RunConfig) -> str:
    if cfg.train.objective == "sft":
        return ""
    return (f"For {cfg.train.objective}: the longest prompt + answer a row keeps (the trainer's "
            "max_length); rows the trainer cannot use at this length are dropped, as it drops them.")


def _objectives(ctx: Context) -> list[Choice]:
    """The objectives a backend trains with this method and parallel mode here (core/capabilities.py);
    the preference ones need TRL."""
    from ftwizard.core import capabilities as caps

    cfg = ctx.config
    parallel = "jax" if ctx.tpu else cfg.method.parallel
    device = caps.device_of(ctx.hardware)
    trl = installed("trl")
    out = []
    for value, label, text in OBJECTIVES:
        why = caps.why_not(parallel, cfg.method.kind, device, objective=value)
        if why is None and value != "sft" and not trl:
            why = "needs TRL: pip install 'ftwizard[hf]'"
        out.append(Choice(value, label, why is None, why or "", help=f"{label}: {text}"))
    return out


def _loss_types(ctx: Context) -> list[Choice]:
    """TRL's losses for the objective (KTO's for kto, DPO's otherwise); its default first, as
    None, so a config that leaves it out keeps TRL's choice."""
    if ctx.config.train.objective == "kto":
        return [Choice(None, "kto", help="kto (TRL's default): the KTO paper's loss"),
                Choice("apo_zero_unpaired", "apo_zero_unpaired",
                       help="apo_zero_unpaired: APO-zero on unpaired completions")]
    out = [Choice(None, "sigmoid", help="sigmoid (TRL's default): the DPO paper's loss")]
    out += [Choice(name, name, help=f"{name}: {DPO_LOSS_HELP.get(name, '')}")
            for name in DPO_LOSSES if name != "sigmoid"]
    return out


def _references(ctx: Context) -> list[Choice]:
    if ctx.config.is_adapter:
        auto = Choice("auto", "adapters off", help="adapters off: the reference is the base with "
                      "the adapters disabled, no extra memory.")
    else:
        auto = Choice("auto", "frozen copy", help="frozen copy: a second, frozen copy of the model "
                      "stays in memory (its weights, no gradients or optimizer).")
    return [auto, Choice("precomputed", "precomputed", help="precomputed: the reference's "
                         "log-probs are computed in one pass before training; no reference is "
                         "held while training.")]


def _truncations(ctx: Context) -> list[Choice]:
    return [Choice("keep_start", "keep start"), Choice("keep_end", "keep end")]


def _objective_warning(value: Any, ctx: Context) -> str | None:
    """Preference training wants a much lower learning rate than SFT (TRL's defaults: 1e-6 for
    DPO, ORPO and KTO; adapters tolerate ~10x more)."""
    cfg = ctx.config
    if value not in ("dpo", "orpo", "kto"):
        return None
    usual = 5e-5 if cfg.is_adapter else 5e-6
    if cfg.train.lr > usual:
        return (f"learning rate {cfg.train.lr:g} is SFT-sized: {value} usually trains at "
                f"{usual:g} or less (TRL's default 1e-6); set it on the Train step")
    return None


def _beta_warning(value: Any, ctx: Context) -> str | None:
    if value is not None and not 0.01 <= value <= 1.0:
        return f"beta {value:g} is outside the usual 0.01-1 (TRL's default 0.1)"
    return None


def _reference_warning(value: Any, ctx: Context) -> str | None:
    if value == "precomputed" and ctx.config.is_adapter:
        return ("with LoRA the reference already costs no memory; precomputing adds a pass over "
                "the data before training")
    return None


def _smoothing_warning(value: Any, ctx: Context) -> str | None:
    if ctx.config.train.preference.loss_type == "exo_pair" and not value:
        return "exo_pair needs label smoothing above 0 (the EXO paper: 0.001)"
    return None


# ---------------------------------------------------------------- the pipeline layout

def _n_layers(cfg: RunConfig) -> int | None:
    """The model's decoder layers (catalog or local config, offline, cached), or None while the
    model is unknown: the Model step says that, not this one."""
    from ftwizard.core.models import resolve

    try:
        return resolve(cfg.model.name, trust_remote_code=cfg.model.trust_remote_code).n_layers
    except InputError:
        return None


def _pipeline_layers_check(cfg: RunConfig) -> None:
    """The planner's and the pipeline backend's own rule (core/pipeline_layout.py): one entry
    per stage, each at least 1, summing to the model's layers; its error names the field, the
    value and the even-as-possible split to use instead."""
    from ftwizard.core.pipeline_layout import stage_layers

    m = cfg.method
    n = _n_layers(cfg)
    if m.parallel == "pipeline" and m.pipeline_layers and n is not None:
        stage_layers(n, m.pipeline_stages, list(m.pipeline_layers))


def _pipeline_layers_hint(cfg: RunConfig) -> str:
    from ftwizard.core.pipeline_layout import balanced_split

    n, stages = _n_layers(cfg), cfg.method.pipeline_stages
    if n is None or stages > n:
        return ""
    split = ",".join(str(x) for x in balanced_split(n, stages))
    if n % stages == 0:
        return f"{n} layers over {stages} stages: empty gives {n // stages} each."
    return (f"{n} layers do not split evenly into {stages} stages: give each stage its "
            f"layers, e.g. {split}.")


def _is(*objectives: str) -> Callable[[RunConfig], bool]:
    return lambda cfg: cfg.train.objective in objectives


def objective_summary(cfg: RunConfig) -> str:
    """The objective and the knobs that apply to it, as the Objective step shows them (Review's
    and plain mode's one line)."""
    s = step("objective")
    ctx = Context(cfg)
    out = []
    for f in s.visible(cfg):
        value = f.get(cfg)
        shown = next((c.label for c in f.options(ctx) if c.value == value), None)
        shown = shown if shown is not None else format_value(f, value)
        out.append(shown if f.id == "train.objective" else f"{f.label.lower()} {shown}")
    return " · ".join(out)

# ---------------------------------------------------------------- the steps

def _m(cfg: RunConfig) -> Any:
    return cfg.method


STEPS: tuple[Step, ...] = (
    Step("hardware", "Hardware", (
        Field("hardware.target", "Plan for", "choice", _targets, picker=True, allow_other=True,
              help_extra="Pick a catalog device to plan for a machine you are not on."),
        Field("hardware.host_ram_gib", "Host RAM (GiB)", "float", optional=True,
              help_extra="Offload keeps the optimizer (ZeRO-3: the weights too) there."),
        Field("hardware.nodes", "Nodes", "int"),
    ), "The machine the run will train on."),
    Step("model", "Model", (
        Field("model.name", "Model", "choice", _models, picker=True, allow_other=True,
              help_extra="Type to search; Enter on free text takes it as a folder or hub id."),
        Field("model.dtype", "Precision", "choice", _dtypes),
    ), "What to fine-tune."),
    Step("method", "Method", (
        Field("method.kind", "Fine-tuning", "choice", _kinds),
        Field("method.quant_bits", "Base bits", "choice", _bits,
              applies=lambda c: c.method.kind == "qlora"),
        Field("method.lora.r", "LoRA rank", "int", applies=lambda c: c.is_adapter),
        Field("method.lora.alpha", "LoRA alpha", "float", applies=lambda c: c.is_adapter),
        Field("method.parallel", "Parallel", "choice", _parallel),
        Field("method.zero_stage", "ZeRO stage", "choice", _zero,
              applies=lambda c: c.method.parallel == "deepspeed"),
        Field("method.offload_optimizer", "Offload optimizer", "bool",
              applies=lambda c: c.method.parallel == "deepspeed"),
        Field("method.offload_params", "Offload params", "bool",
              applies=lambda c: c.method.parallel == "deepspeed" and c.method.zero_stage == 3),
        Field("method.fsdp", "FSDP", "choice", _fsdp, applies=lambda c: c.method.parallel == "fsdp"),
        Field("method.pipeline_stages", "Pipeline stages", "int",
              applies=lambda c: c.method.parallel == "pipeline"),
        Field("method.pipeline_layers", "Stage layers", "ints", optional=True,
              applies=lambda c: c.method.parallel == "pipeline", empty="even split",
              check=_pipeline_layers_check, hint=_pipeline_layers_hint,
              help_extra="Type them comma-separated; empty (the default) is the even split."),
        Field("method.gradient_checkpointing", "Grad checkpointing", "bool"),
        Field("method.optimizer", "Optimizer", "choice", _optimizers),
    ), "How to train it, and across which devices."),
    Step("objective", "Objective", (
        Field("train.objective", "Objective", "choice", _objectives, validate=_objective_warning),
        Field("train.preference.beta", "Beta", "float", applies=_is("dpo", "orpo", "kto"),
              validate=_beta_warning),
        Field("train.preference.loss_type", "Loss", "choice", _loss_types,
              applies=_is(*LOSSES)),
        Field("train.preference.label_smoothing", "Label smoothing", "float",
              applies=lambda c: (c.train.objective == "dpo"
                                 and c.train.preference.loss_type in SMOOTHED_LOSSES),
              validate=_smoothing_warning),
        Field("train.preference.reference", "Reference", "choice", _references,
              applies=_is(*REFERENCE_OBJECTIVES), validate=_reference_warning),
        Field("train.preference.truncation", "Truncation", "choice", _truncations,
              applies=_is("dpo")),
        Field("train.preference.desirable_weight", "Desirable weight", "float",
              applies=_is("kto"),
              help_extra="The KTO paper: keep desirable weight x desirable rows over undesirable "
                         "weight x undesirable rows between 1 and 4/3."),
        Field("train.preference.undesirable_weight", "Undesirable weight", "float",
              applies=_is("kto")),
        Field("train.preference.center_rewards", "Centre rewards", "float", optional=True,
              applies=_is("reward"), help_extra="TRL suggests 0.01; empty for none."),
    ), "What the model learns from: text (SFT), preference pairs or labelled answers."),
    Step("data", "Data", (
        Field("data.train", "Train files", "path", validate=_data_paths,
              hint=lambda c: data_shape(c.train.objective),
              help_extra="Comma-separate several; path:0.3 sets a mixing weight."),
        Field("data.mode", "Mode", "choice", _modes, applies=_is("sft")),
        Field("data.block_size", "Block size", "int", hint=_length_hint),
        Field("data.validation.split", "Validation share", "float", optional=True,
              help_extra="Empty for no evaluation."),
        Field("data.sequences", "Assume sequences", "int", optional=True,
              applies=lambda c: not c.data.train),
    ), "What to train on."),
    Step("train", "Train", (
        Field("train.micro_batch", "Micro batch", "int"),
        Field("train.grad_accum", "Grad accum", "int"),
        Field("train.epochs", "Epochs", "float"),
        Field("train.max_steps", "Max steps", "int", optional=True),
        Field("train.lr", "Learning rate", "float"),
        Field("train.end_lr", "End LR", "float", optional=True),
        Field("train.scheduler", "Schedule", "choice", _schedulers),
        Field("train.warmup_ratio", "Warmup share", "float"),
        Field("train.save_every", "Save every", "int"),
        Field("train.eval_every", "Eval every", "int"),
        Field("train.keep_checkpoints", "Keep ckpts", "int"),
    ), "Batch, length and learning rate."),
    Step("review", "Review", (
        Field("name", "Run name", "text"),
        Field("output.dir", "Runs folder", "path"),
        Field("output.report_to", "Report to", "choice", _report),
    ), "The config that will be written, and how it runs."),
)

STEP_IDS = tuple(s.id for s in STEPS)


def step(step_id: str) -> Step:
    for s in STEPS:
        if s.id == step_id:
            return s
    raise KeyError(step_id)


def all_fields() -> list[Field]:
    return [f for s in STEPS for f in s.fields]


def default_config(hardware: Any = None, *, target: str = "auto") -> RunConfig:
    """A sensible starting config for this machine: a small catalog model, LoRA when a GPU exists,
    bf16 where supported (fp16 on a pre-Ampere GPU, fp32 on a CPU)."""
    dtype = "bf16"
    kind = "lora"
    model = "gpt2"
    if hardware is not None:
        if hardware.is_cpu_only:
            dtype, kind, model = "fp32", "full", "tiny-llama"
        elif not hardware.supports_bf16:
            dtype = "fp16"
    return from_dict({"name": "my-run", "model": {"name": model, "dtype": dtype},
                      "method": {"kind": kind},
                      "hardware": {"target": target},
                      "data": {"sequences": 1000, "block_size": 512},
                      "train": {"micro_batch": 4, "grad_accum": 4, "lr": 2e-4 if kind != "full" else 2e-5}})


def check_choice(f: Field, ctx: Context, value: Any) -> str | None:
    """The reason a choice cannot be taken here, or None."""
    for c in f.options(ctx):
        if c.value == value:
            return None if c.available else c.reason
    return None
