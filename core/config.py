"""RunConfig: the run config users read, diff, replay and drive with `--set` (DESIGN.md).

The key names are a public contract: add keys freely, rename only with a migration in
:func:`migrate`. Unknown keys are refused with a "did you mean" hint; every other mistake names
the field, the bad value and the fix. Cross-field rules that need the hardware or the model (bf16 on
a pre-Ampere card, layers divisible by pipeline stages, host RAM for offload) live in
:func:`check_combination`, so the wizard can run them the moment a choice is made.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from ftwizard.core.errors import InputError, InputErrors, did_you_mean

CONFIG_VERSION = 1

Dtype = Literal["fp32", "fp16", "bf16"]
MethodKind = Literal["full", "lora", "qlora"]
Parallel = Literal["none", "ddp", "deepspeed", "fsdp", "split", "pipeline", "jax"]
Optimizer = Literal["adamw", "adamw_8bit", "paged_adamw_8bit", "adafactor", "sgd"]
Scheduler = Literal["constant", "linear", "cosine"]
DataMode = Literal["corpus", "entries"]
ReportTo = Literal["none", "wandb", "tensorboard", "mlflow"]
Objective = Literal["sft", "dpo", "orpo", "kto", "reward"]
# TRL's DPO losses a user of DPOTrainer picks (TRL 1.16 DPOConfig.loss_type), and KTO's.
DPO_LOSSES = ("sigmoid", "hinge", "ipo", "exo_pair", "nca_pair", "robust", "bco_pair", "sppo_hard",
              "aot", "aot_unpaired", "apo_zero", "apo_down", "discopop", "sigmoid_norm")
KTO_LOSSES = ("kto", "apo_zero_unpaired")
# The objectives that compare the policy with a reference model (TRL's DPOTrainer, KTOTrainer).
REFERENCE_OBJECTIVES = ("dpo", "kto")
# The objectives trained on chosen/rejected pairs (both sides in one batch of 2 x micro_batch).
PAIRED_OBJECTIVES = ("dpo", "orpo", "reward")


class _Section(BaseModel):
    """Strict base: unknown keys are errors, values are checked on assignment too."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True)


class ModelSection(_Section):
    name: str = "gpt2"
    """Catalog id (see `ftwizard plan --help`), a hub id already in the local cache, or a folder
    holding config.json."""
    dtype: Dtype = "bf16"
    """Training precision: fp32, fp16 (mixed precision) or bf16 (needs Ampere or newer)."""
    fp32_master: bool = False
    """Full fine-tuning in bf16: keep fp32 weights and autocast the math to bf16 (16 B/param with
    AdamW, steadier on long runs) instead of pure bf16 weights, gradients and Adam states (8 B/param).
    fp16 always keeps fp32 weights (mixed precision); DeepSpeed keeps its own fp32 master copy."""
    trust_remote_code: bool = False
    """Run modelling code shipped with the model. Off unless you trust its author; the plan shows it."""
    pad_token_id: int | None = None
    """Pad token for models without one (Llama 2). Null: reuse EOS and mask it out of the loss."""
    tokenizer: str | None = None
    """Tokenizer folder or id when it differs from the model (seed 004's --tokenizer_name)."""
    attn_implementation: Literal["eager", "sdpa", "flash_attention_2"] | None = None
    """Attention kernel passed to from_pretrained: eager, sdpa or flash_attention_2. Null: what the
    installed transformers picks for the model, written here when the run is planned, so the plan's
    activation memory (eager keeps the s^2 scores) and the run agree whatever version is installed."""


class LoraSection(_Section):
    r: int = Field(16, gt=0)
    """LoRA rank: adapter width per adapted Linear layer."""
    alpha: float = Field(32, gt=0)
    """LoRA scaling numerator (the update is scaled by alpha / r)."""
    dropout: float = Field(0.05, ge=0, lt=1)
    """Dropout on the adapter input."""
    target_modules: str | list[str] = "all-linear"
    """"all-linear" (every Linear except the output head) or module names such as [q_proj, v_proj]."""


class MethodSection(_Section):
    kind: MethodKind = "full"
    """full: train every weight; lora: frozen base + adapters; qlora: quantized frozen base + adapters."""
    quant_bits: Literal[4, 8] | None = None
    """qlora only: 4 (NF4) or 8 (LLM.int8) bits for the frozen base."""
    double_quant: bool = True
    """qlora 4-bit: quantize the quantization constants too (saves ~0.37 bit per weight)."""
    lora: LoraSection = Field(default_factory=LoraSection)
    parallel: Parallel = "none"
    """How work spreads over devices: none, ddp, deepspeed, fsdp, split (layers across GPUs of one
    process), pipeline (stages x data groups) or jax (JAX/tunix, TPU)."""
    zero_stage: Literal[1, 2, 3] = 2
    """deepspeed: ZeRO stage. 1 shards optimizer states, 2 also gradients, 3 also parameters."""
    offload_optimizer: bool = False
    """deepspeed: keep optimizer states (and the step) in host RAM."""
    offload_params: bool = False
    """deepspeed ZeRO-3: keep parameters in host RAM, fetched layer by layer."""
    fsdp: Literal["full_shard", "shard_grad_op"] = "full_shard"
    """fsdp: full_shard (like ZeRO-3) or shard_grad_op (like ZeRO-2)."""
    pipeline_stages: int = Field(1, ge=1)
    """pipeline: number of stages; world size must be stages x data groups."""
    pipeline_layers: list[int] | None = None
    """pipeline: decoder layers per stage, first to last (e.g. [6, 6, 6, 6, 5, 5, 5, 5] for 44
    layers over 8 stages). Null: an even split, which the stages must divide."""
    gradient_checkpointing: bool = False
    """Recompute activations in the backward pass: far less memory, ~30 % more compute."""
    optimizer: Optimizer = "adamw"
    """adamw, adamw_8bit, paged_adamw_8bit (bitsandbytes), adafactor or sgd."""

    @field_validator("quant_bits", mode="before")
    @classmethod
    def _bits(cls, v: Any) -> Any:
        if v is not None and v not in (4, 8, "4", "8"):
            raise ValueError("quant_bits must be 4 or 8")
        return v

    @model_validator(mode="after")
    def _qlora_bits(self) -> "MethodSection":
        if self.kind == "qlora" and self.quant_bits is None:
            object.__setattr__(self, "quant_bits", 4)
        if self.kind != "qlora" and self.quant_bits is not None:
            raise ValueError(f"quant_bits={self.quant_bits} only applies to kind: qlora "
                             f"(kind is {self.kind}) | fix: set method.kind=qlora or "
                             "method.quant_bits=null")
        return self


class HardwareSection(_Section):
    target: str = "auto"
    """auto = this machine; or a catalog name with a count: "RTX 4090", "A100-80GB x8", "TPU v3-8"."""
    nodes: int = Field(1, ge=1)
    """Machines taking part; devices per node come from the target."""
    devices: int | None = Field(None, gt=0)
    """Devices (processes) per node to use. Null: every GPU of the target or this machine; on a
    CPU-only machine, one process (set 2 to run two gloo processes)."""
    host_ram_gib: float | None = Field(None, gt=0)
    """Host RAM per node for offload checks. Null: measured on this machine, or the catalog's
    typical server for a target."""
    planned_on: dict[str, Any] | None = None
    """Written by ftwizard, not by hand: the hardware this config was last planned and launched on
    (accelerator kind, devices per node, memory, nodes). A replay on other hardware re-plans and
    says what changed. Null: never launched."""


class DataSource(_Section):
    path: str
    """A .txt file, a folder of .txt files, .csv/.tsv, .jsonl/.json, .parquet, or hf:NAME[:split]."""
    weight: float = Field(1.0)
    """Mixing weight; weights are normalised over all sources."""
    text_field: str = "text"
    """Column or key holding the text (CSV, JSONL, Parquet, HF datasets)."""
    format: Literal["auto", "text", "csv", "tsv", "jsonl", "json", "parquet", "hf"] = "auto"
    """File format; auto decides from the extension."""
    encoding: str = "utf-8"
    """Text encoding of the files (a BOM is skipped). latin-1 reads any bytes; use it only when
    ftwizard reports an undecodable byte and the file really is latin-1."""
    columns: dict[str, str] | None = None
    """Your file's names for ftwizard's fields, e.g. {prompt: question, completion: answer}.
    Keys: text, prompt, completion, instruction, input, output, system, history (alpaca),
    conversations (ShareGPT), messages (OpenAI), and role/content inside messages or from/value
    inside conversations; preference data (train.objective dpo/orpo/kto/reward) also chosen,
    rejected and label; values are the names in your file (core/data_sources.py reads them)."""

    @field_validator("columns")
    @classmethod
    def _column_keys(cls, v: dict[str, str] | None) -> dict[str, str] | None:
        known = ("text", "prompt", "completion", "instruction", "input", "output", "system",
                 "history", "conversations", "messages", "role", "content", "from", "value",
                 "chosen", "rejected", "label",  # preference data
                 "tools")  # function schemas (data_formats.record_tools)
        for k in v or {}:
            if k not in known:
                raise ValueError(f"unknown column key {k!r} | fix: use one of {', '.join(known)} "
                                 "(ftwizard's field on the left, your file's name on the right)")
        return v

    @field_validator("weight")
    @classmethod
    def _positive(cls, v: float) -> float:
        if not (v > 0) or v != v or v == float("inf"):
            raise ValueError(f"weight must be a positive number, got {v} | fix: weights are "
                             "relative and normalised, e.g. 0.2 and 0.8")
        return v


class ValidationSource(_Section):
    split: float | None = Field(None, gt=0, lt=1)
    """Share of the training examples held out for evaluation (e.g. 0.05)."""
    path: str | None = None
    """A separate validation file or folder, in any training format."""

    @model_validator(mode="after")
    def _one(self) -> "ValidationSource":
        if self.split is not None and self.path is not None:
            raise ValueError("give either split or path, not both | fix: keep one, e.g. "
                             "{split: 0.05} or {path: val.jsonl}")
        return self


class DataSection(_Section):
    train: list[DataSource] = Field(default_factory=list)
    """Training sources, each `{path, weight, text_field}`."""
    validation: ValidationSource | None = None
    """{split: 0.05} or {path: ...}; null for no evaluation."""
    mode: DataMode = "corpus"
    """corpus: concatenate with EOS and cut into block_size sequences; entries: one example per
    sequence, EOS appended, truncated or padded."""
    block_size: int = Field(1024, gt=0)
    """Tokens per training sequence."""
    sequences: int | None = Field(None, gt=0)
    """Planning without the data at hand: assume this many training sequences."""
    mask_prompt: bool = True
    """entries mode with prompt/completion or chat data: no loss on the prompt tokens."""
    train_on: Literal["completion", "last_turn", "all"] = "completion"
    """Which tokens carry loss in prompt/completion and chat data: completion (every assistant
    turn and the completion, nothing else), last_turn (only the last assistant turn) or all.
    mask_prompt: false means all, whatever this says."""
    packing: bool = False
    """entries mode: several examples share one block_size sequence (best-fit-decreasing), each
    attending only to itself (position ids restart per example); far less padding."""
    chat_template: str | None = None
    """A chat template for a model without one (chatml, llama-3, mistral, qwen, gemma) or a .jinja
    file; saved with the trained model's tokenizer so inference formats chats the same way."""

    @field_validator("train", mode="before")
    @classmethod
    def _paths(cls, v: Any) -> Any:
        # `path:weight` strings are accepted where a mapping is expected (seed 002's --task-name).
        if isinstance(v, str):
            v = [s for s in v.split(",") if s.strip()]
        if isinstance(v, list):
            return [parse_source(item) if isinstance(item, str) else item for item in v]
        return v


class PreferenceSection(_Section):
    """The knobs of TRL's preference and reward trainers (train.objective other than sft).

    One sequence length for all of them: data.block_size is the trainers' max_length (prompt and
    completion together)."""

    beta: float = Field(0.1, gt=0)
    """dpo/kto: how strongly the policy is held to the reference (TRL beta; IPO's tau); orpo: the
    weight of the odds-ratio term (lambda in the ORPO paper, TRL's beta)."""
    loss_type: str | None = None
    """dpo: sigmoid (default), ipo, hinge, robust, ... (TRL's DPO loss types); kto: kto (default) or
    apo_zero_unpaired."""
    reference: Literal["auto", "precomputed"] = "auto"
    """dpo/kto: auto keeps a reference in the run (LoRA/QLoRA: the base with the adapters off, no
    extra memory; full: a frozen copy of the model); precomputed: its log-probs are computed once
    before training and the reference is not held while training."""
    truncation: Literal["keep_start", "keep_end"] = "keep_start"
    """dpo: which end of a pair longer than data.block_size is kept (keep_start drops pairs whose
    prompt alone fills block_size)."""
    label_smoothing: float = Field(0.0, ge=0, lt=0.5)
    """dpo with loss robust (the assumed share of flipped labels, e.g. 0.1), exo_pair (its epsilon,
    must be above 0, e.g. 0.001), aot or aot_unpaired; TRL 1.16's other losses ignore it."""
    desirable_weight: float = Field(1.0, gt=0)
    """kto: weight of the desirable (label true) examples' loss."""
    undesirable_weight: float = Field(1.0, gt=0)
    """kto: weight of the undesirable (label false) examples' loss."""
    center_rewards: float | None = Field(None, ge=0)
    """reward: coefficient that pulls the rewards' mean toward zero (TRL center_rewards_coefficient)."""


class TrainSection(_Section):
    objective: Objective = "sft"
    """sft (next-token loss on text, instructions or chats); dpo, orpo, kto (preference training
    from chosen/rejected pairs, or kto's labelled completions); reward (a reward model: a scalar
    head trained on chosen/rejected pairs). All but sft run TRL's trainers."""
    preference: PreferenceSection = Field(default_factory=PreferenceSection)
    """The preference and reward objectives' knobs (ignored for sft)."""
    micro_batch: int = Field(1, gt=0)
    """Sequences per device per forward pass (pairs for dpo, orpo and reward)."""
    grad_accum: int = Field(1, gt=0)
    """Micro-batches accumulated per optimizer step."""
    epochs: float = Field(1, gt=0)
    """Passes over the training data (ignored when max_steps is set)."""
    max_steps: int | None = Field(None, gt=0)
    """Optimizer steps to take; overrides epochs."""
    lr: float = Field(2e-5, gt=0)
    """Peak learning rate."""
    end_lr: float | None = Field(None, ge=0)
    """Learning rate after the anneal (seed 000: lr/5 .. lr/10). Null: 0 for linear/cosine."""
    scheduler: Scheduler = "cosine"
    """constant, linear or cosine anneal from lr to end_lr after warmup."""
    warmup_ratio: float = Field(0.05, ge=0, lt=1)
    """Share of the total steps spent warming up (5-10 % is usual)."""
    warmup_steps: int | None = Field(None, ge=0)
    """Exact warmup steps; overrides warmup_ratio."""
    weight_decay: float = Field(0.0, ge=0)
    max_grad_norm: float = Field(1.0, ge=0)
    drop_last: bool = False
    """Drop the samples that do not fill a whole global batch (seed 001's rule)."""
    eval_every: int = Field(200)
    """Evaluate every N optimizer steps (must be > 0)."""
    save_every: int = Field(200)
    """Save a checkpoint every N optimizer steps (must be > 0)."""
    log_every: int = Field(1)
    """Write a step event every N optimizer steps (must be > 0)."""
    keep_checkpoints: int = Field(2, gt=0)
    """Newest checkpoints kept on disk."""
    seed: int = 42

    @model_validator(mode="after")
    def _loss_type(self) -> "TrainSection":
        lt = self.preference.loss_type
        if lt is None:
            return self
        allowed = {"dpo": DPO_LOSSES, "kto": KTO_LOSSES}.get(self.objective)
        if allowed is None:
            raise ValueError(f"preference.loss_type {lt!r} applies to dpo and kto, not "
                             f"objective {self.objective} | fix: remove train.preference.loss_type")
        if lt not in allowed:
            near = did_you_mean(lt, allowed)
            hint = f" (did you mean {near!r}?)" if near else ""
            raise ValueError(f"preference.loss_type {lt!r} is not one of TRL's {self.objective} "
                             f"losses{hint} | fix: one of {', '.join(allowed)}")
        if lt == "exo_pair" and self.preference.label_smoothing == 0:
            # DPOTrainer refuses it when it starts (TRL 1.16 dpo_trainer.py:829): say so at plan time
            raise ValueError("preference.loss_type exo_pair needs preference.label_smoothing > 0 "
                             "(TRL refuses 0) | fix: set train.preference.label_smoothing=0.001, "
                             "the EXO paper's value")
        return self

    @field_validator("eval_every", "save_every", "log_every")
    @classmethod
    def _every(cls, v: int, info: Any) -> int:
        if v <= 0:
            raise ValueError(f"{info.field_name} must be > 0 (0 divides by zero, as in seed 000)"
                             " | fix: use a positive number; to evaluate or save rarely, set it "
                             "above the total steps")
        return v


class OutputSection(_Section):
    dir: str = "runs"
    """Folder under which each run gets its own directory."""
    report_to: ReportTo = "none"
    """Also send the events' figures to wandb, tensorboard or mlflow (off by default; WANDB_* and
    MLFLOW_TRACKING_URI are respected; core/trackers.py)."""
    merge: bool = False
    """LoRA/QLoRA: also save the adapter merged into a 16-bit base at the end."""
    sample_prompt: str | None = "The"
    """Generate a short sample from the final model (seed 001's infer_test); null to skip."""


class RunConfig(_Section):
    """A whole run: what to train, how, on what, with which data, and where it goes."""

    version: int = CONFIG_VERSION
    name: str = "run"
    description: str = ""
    model: ModelSection = Field(default_factory=ModelSection)
    method: MethodSection = Field(default_factory=MethodSection)
    hardware: HardwareSection = Field(default_factory=HardwareSection)
    data: DataSection = Field(default_factory=DataSection)
    train: TrainSection = Field(default_factory=TrainSection)
    output: OutputSection = Field(default_factory=OutputSection)

    @field_validator("version")
    @classmethod
    def _version(cls, v: int) -> int:
        if v != CONFIG_VERSION:
            raise ValueError(f"this ftwizard reads config version {CONFIG_VERSION}, not {v} | fix: "
                             f"upgrade ftwizard (pip install -U ftwizard) to read version {v}")
        return v

    # ---- derived facts every consumer needs (one place, so they never disagree) ----
    @property
    def is_adapter(self) -> bool:
        return self.method.kind in ("lora", "qlora")

    def to_dict(self) -> dict[str, Any]:
        return self.model_dump(mode="json")

    def to_yaml(self) -> str:
        return dump_yaml(self.to_dict())


# ---------------------------------------------------------------- sources

def parse_source(text: str) -> dict[str, Any]:
    """`path` or `path:weight` (seed 002's `--task-name a.jsonl:0.2,b.jsonl:0.8`) -> a source dict.

    `hf:NAME[:split]` keeps its colons; a trailing `:number` is the weight.
    """
    text = text.strip()
    head, sep, tail = text.rpartition(":")
    if sep and head and _looks_numeric(tail):
        try:
            weight = float(tail)
        except ValueError:
            weight = None
        if weight is None or not weight > 0:
            raise InputError(f"weight {tail!r} is not a positive number", field="data.train",
                             value=text, fix=f"write it as {head}:0.5 (weights are normalised)")
        return {"path": head, "weight": weight}
    return {"path": text}


def _looks_numeric(s: str) -> bool:
    s = s.strip()
    return bool(s) and all(c in "0123456789.eE+-" for c in s) and any(c.isdigit() for c in s)


# ---------------------------------------------------------------- YAML

class _Dumper(yaml.SafeDumper):
    """The safe dumper, writing strings with YAML line-break characters (NEL U+0085, U+2028,
    U+2029) double-quoted and escaped: unquoted or single-quoted, PyYAML writes them raw and
    reads them back as line breaks, so `sample_prompt: "\x85"` came back as a space (found by
    the round-trip property test)."""


def _str(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    if any(c in value for c in "\x85\u2028\u2029"):
        return dumper.represent_scalar("tag:yaml.org,2002:str", value, style='"')
    return dumper.represent_str(value)


_Dumper.add_representer(str, _str)


def dump_yaml(data: dict[str, Any]) -> str:
    """Readable YAML in the contract's key order (not sorted), block style; reads back equal."""
    return yaml.dump(data, Dumper=_Dumper, sort_keys=False, default_flow_style=False,
                     allow_unicode=True)


def load_config(path: str | Path, overrides: list[str] | None = None) -> RunConfig:
    """Read a YAML run config (safe loader), apply `--set a.b=value` overrides, validate."""
    p = Path(path)
    if not p.exists():
        from ftwizard.core.presets import list_presets, preset_path

        preset = preset_path(str(path))
        if preset is None:
            hint = did_you_mean(str(path), list(list_presets()))
            raise InputError(f"file not found: {p}", field="config", value=str(p),
                             fix=(f"did you mean the preset {hint!r}? " if hint else "")
                             + "give the path of a YAML run config or a preset name "
                             "(`ftwizard presets` lists them)")
        p = preset
    if p.is_dir():
        cand = p / "config.yaml"
        if cand.exists():
            p = cand
        else:
            raise InputError(f"{p} is a folder without config.yaml", field="config", value=str(p),
                             fix="give the YAML file itself or a run directory")
    try:
        text = p.read_text(encoding="utf-8")
    except UnicodeDecodeError as err:
        raise InputError(f"{p} is not UTF-8 text (byte {err.start})", field="config",
                         value=str(p), fix="save the file as UTF-8") from None
    from ftwizard.core.importers import load_foreign  # axolotl/LLaMA-Factory/HF files (issue 17)

    cfg = load_foreign(text, p, overrides) or parse_config(text, overrides, source=str(p))
    return resolve_relative_paths(cfg, p.parent)


def resolve_relative_paths(cfg: "RunConfig", base: Path) -> "RunConfig":
    """Data paths are relative to the working directory, as users type them; a relative path that
    is missing there but present beside the config file (a shipped preset's demo data) is made
    absolute, so a preset replays from any folder."""
    changed = False
    data = cfg.to_dict()
    for src in data["data"]["train"] + ([data["data"]["validation"]] if data["data"]["validation"] else []):
        path = src.get("path")
        if not path or path.startswith("hf:") or Path(path).is_absolute() or Path(path).exists():
            continue
        beside = base / path
        if beside.exists():
            src["path"] = str(beside.resolve())
            changed = True
    return from_dict(data) if changed else cfg


class _StrictLoader(yaml.SafeLoader):
    """The safe loader, refusing a key written twice in one mapping. Plain YAML keeps the last one
    silently, so a second `train:` section dropped every setting of the first (issue 13)."""

    def check_duplicates(self, node: yaml.Node, path: tuple[str, ...] = ()) -> None:
        if isinstance(node, yaml.SequenceNode):
            for item in node.value:
                self.check_duplicates(item, path)
            return
        if not isinstance(node, yaml.MappingNode):
            return
        seen: dict[str, yaml.Node] = {}
        for key, value in node.value:
            if key.tag == "tag:yaml.org,2002:merge":
                continue  # `<<: *base` then an explicit key is YAML's way to override
            name = str(key.value) if isinstance(key, yaml.ScalarNode) else str(id(key))
            if name in seen:
                first = seen[name].start_mark.line + 1
                here = key.start_mark.line + 1
                dotted = ".".join((*path, name))
                raise InputError(
                    f"{self.source}: {dotted!r} is written twice (line {first} and line {here}); "
                    "YAML would silently keep only the second", field=dotted, value=name,
                    fix=f"merge the two {name!r} entries into one (or delete the one you do not want)")
            seen[name] = key
            self.check_duplicates(value, (*path, name))

    source = "config"


def _load_yaml(text: str, source: str) -> Any:
    loader = _StrictLoader(text)
    loader.source = source
    try:
        node = loader.get_single_node()
        if node is None:
            return None
        loader.check_duplicates(node)
        return loader.construct_document(node)
    finally:
        loader.dispose()


def parse_config(text: str, overrides: list[str] | None = None, source: str = "config") -> RunConfig:
    try:
        data = _load_yaml(text, source)
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        raise InputError(f"{source} is not valid YAML{where}: {getattr(err, 'problem', err)}",
                         field="config", value=source, fix="fix the YAML syntax there") from None
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise InputError(f"{source} must be a mapping of sections (model:, method:, ...), "
                         f"found {type(data).__name__}", field="config", value=source,
                         fix="start from a preset: `ftwizard presets show tiny-cpu-demo`")
    data = migrate(data)
    for item in overrides or []:
        data = apply_override(data, item)
    return from_dict(data)


def migrate(data: dict[str, Any]) -> dict[str, Any]:
    """Bring an older config to the current schema. Version 1 is the first, so nothing to do yet."""
    return data


def from_dict(data: dict[str, Any]) -> RunConfig:
    """Validate a plain dict into a RunConfig, turning pydantic's errors into ftwizard's."""
    try:
        return RunConfig.model_validate(data)
    except ValidationError as err:
        raise _translate(err, data) from None


def apply_override(data: dict[str, Any], item: str) -> dict[str, Any]:
    """`train.micro_batch=4` -> data with that key set; the value is parsed as YAML (4, true, null,
    [a, b]) so `--set` speaks the config's own types."""
    if "=" not in item:
        raise InputError(f"override {item!r} has no '='", field="--set", value=item,
                         fix="write it as section.key=value, e.g. train.micro_batch=4")
    key, raw = item.split("=", 1)
    key = key.strip()
    parts = key.split(".")
    try:
        value = yaml.safe_load(raw) if raw.strip() else None
    except yaml.YAMLError:
        value = raw
    out = copy.deepcopy(data)
    node: Any = out
    model: Any = RunConfig
    for i, part in enumerate(parts):
        fields = _fields_of(model)
        if fields is not None and part not in fields:
            where = ".".join(parts[:i]) or "the config"
            hint = did_you_mean(part, fields)
            raise InputError(f"unknown key {part!r} in {where}", field=key, value=raw,
                             fix=(f"did you mean {'.'.join(parts[:i] + [hint])}?" if hint
                                  else f"known keys: {', '.join(sorted(fields))}"))
        if i == len(parts) - 1:
            if key == "data.train" and isinstance(value, str):
                value = [parse_source(s) for s in value.split(",") if s.strip()]
            node[part] = value
        else:
            nxt = node.get(part)
            if not isinstance(nxt, dict):
                nxt = {}
                node[part] = nxt
            node = nxt
            model = _submodel(model, part)
    return out


def _fields_of(model: Any) -> list[str] | None:
    if isinstance(model, type) and issubclass(model, BaseModel):
        return list(model.model_fields)
    return None


def _submodel(model: Any, name: str) -> Any:
    fields = _fields_of(model)
    if fields is None or name not in fields:
        return None
    ann = model.model_fields[name].annotation
    for cand in getattr(ann, "__args__", ()) or (ann,):
        if isinstance(cand, type) and issubclass(cand, BaseModel):
            return cand
    return ann if isinstance(ann, type) and issubclass(ann, BaseModel) else None


_FIXES = {
    "literal_error": "use one of the listed values",
    "greater_than": "use a larger number",
    "greater_than_equal": "use a larger number",
    "less_than": "use a smaller number",
    "int_parsing": "write a whole number",
    "int_from_float": "write a whole number",
    "float_parsing": "write a number",
    "bool_parsing": "write true or false",
    "missing": "add this key",
}


def _translate(err: ValidationError, data: dict[str, Any]) -> InputError:
    problems: list[InputError] = []
    for e in err.errors():
        loc = [str(x) for x in e["loc"]]
        field = ".".join(loc)
        etype = e["type"]
        if etype == "extra_forbidden":
            parent_model: Any = RunConfig
            for part in loc[:-1]:
                if part.isdigit():
                    continue
                parent_model = _submodel(parent_model, part) or parent_model
                if parent_model is RunConfig:
                    break
            choices = _fields_of(parent_model) or []
            hint = did_you_mean(loc[-1], choices)
            where = ".".join(loc[:-1]) or "the top level"
            problems.append(InputError(
                f"unknown key {loc[-1]!r} in {where}", field=field, value=e.get("input"),
                fix=(f"did you mean {'.'.join(loc[:-1] + [hint])}?" if hint
                     else f"known keys: {', '.join(choices)}")))
            continue
        msg = e["msg"]
        if msg.startswith("Value error, "):
            msg = msg[len("Value error, "):]
        value = e.get("input")
        fix = _FIXES.get(etype, "see the field's description in DESIGN.md / `ftwizard plan --help`")
        if etype == "literal_error":
            expected = e.get("ctx", {}).get("expected", "")
            hint = did_you_mean(str(value), [x.strip(" '\"") for x in expected.replace(" or ", ",").split(",")])
            fix = f"did you mean {hint!r}? " if hint else ""
            fix += f"choose one of {expected}"
        elif etype.startswith("value_error"):
            fix = None
            if " | fix: " in msg:
                msg, fix = msg.split(" | fix: ", 1)
        problems.append(InputError(f"{msg} (got {value!r})", field=field, value=value, fix=fix))
    return problems[0] if len(problems) == 1 else InputErrors(problems)
