"""LLaMA-Factory's `llamafactory-cli train` YAML <-> RunConfig.

Key names follow LLaMA-Factory's hparams (model_args, data_args, finetuning_args) and its
examples (examples/train_lora/llama3_lora_sft.yaml): model_name_or_path, stage, finetuning_type,
lora_rank/alpha/dropout/target, quantization_bit, dataset + dataset_dir (names looked up in
dataset_dir/dataset_info.json, whose entries' formatting, columns and tags become
data.train[].columns), template, cutoff_len, val_size, packing / neat_packing, train_on_prompt /
mask_history, stage dpo/kto/rm with pref_beta / pref_loss / kto_*_weight (train.objective and
train.preference; dataset_info ranking pairs and kto_tag columns), and TrainingArguments for the
rest. LLaMA-Factory's own defaults are written where they differ from ftwizard's: LoRA
is the default method (rank 8, alpha 2 x rank, dropout 0, all linear layers), cutoff_len 2048,
and gradient checkpointing is on unless disable_gradient_checkpointing is set.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from ftwizard.core.config import REFERENCE_OBJECTIVES
from ftwizard.core.importers import common as c
from ftwizard.core.importers.hf_args import training_args

FORMAT = "llamafactory"

MARKERS = {"stage", "finetuning_type", "lora_rank", "lora_target", "template", "cutoff_len",
           "dataset", "dataset_dir", "quantization_bit", "val_size", "packing", "plot_loss",
           "max_samples", "disable_gradient_checkpointing", "flash_attn", "eval_dataset",
           "quantization_method", "pure_bf16", "neat_packing", "mix_strategy", "interleave_probs"}

PPO_WHY = ("ftwizard does not run PPO (it needs a reward model and generation in the loop, which "
           "the plan does not count); the imported config plans and runs plain SFT on the same data")
# LLaMA-Factory's stage -> train.objective (pref_loss orpo turns dpo into orpo).
OBJECTIVES = {"dpo": "dpo", "kto": "kto", "rm": "reward"}
# pref_loss values that are TRL DPO loss types of the same name (LLaMA-Factory hands them to TRL).
DPO_LOSSES = ("sigmoid", "hinge", "ipo")
PREF_KEYS = ("pref_beta", "pref_loss", "pref_ftx", "pref_bco_weight", "dpo_label_smoothing",
             "kto_chosen_weight", "kto_rejected_weight", "simpo_gamma", "ld_alpha")
REFERENCE_WHY = ("a reference model other than the policy's own start: ftwizard's reference is "
                 "model.name itself (LoRA/QLoRA: the base with the adapters off; full: a frozen "
                 "copy), as LLaMA-Factory's is without ref_model; train.preference has no "
                 "reference-model key")

SAME = {"use_fast_tokenizer": "ftwizard loads the fast tokenizer",
        "quantization_type": "nf4, as ftwizard's QLoRA",
        "mix_strategy": "concat: ftwizard mixes by weight"}
NOT_CARRIED = {
    "ref_model": REFERENCE_WHY, "ref_model_adapters": REFERENCE_WHY,
    "ref_model_quantization_bit": REFERENCE_WHY,
    "reward_model": "the reward model of PPO: ftwizard does not run PPO",
    "reward_model_adapters": "PPO's reward model: ftwizard does not run PPO",
    "reward_model_quantization_bit": "PPO's reward model: ftwizard does not run PPO",
    "reward_model_type": "PPO's reward model: ftwizard does not run PPO",
    "ppo_buffer_size": "PPO: not run by ftwizard", "ppo_epochs": "PPO: not run by ftwizard",
    "ppo_score_norm": "PPO: not run by ftwizard", "ppo_target": "PPO: not run by ftwizard",
    "ppo_whiten_rewards": "PPO: not run by ftwizard",
    "use_unsloth": "ftwizard runs plain transformers + peft",
    "use_dora": "ftwizard trains plain LoRA", "use_rslora": "ftwizard trains plain LoRA",
    "pissa_init": "ftwizard trains plain LoRA", "loraplus_lr_ratio": "ftwizard trains plain LoRA",
    "additional_target": "ftwizard trains adapters only",
    "rope_scaling": "ftwizard trains at the model's own context",
    "streaming": "ftwizard reads the data to count its steps exactly",
    "tokenized_path": "ftwizard tokenizes into its own cache",
    "adapter_name_or_path": "ftwizard starts a fresh adapter; resume with `ftwizard resume RUN`",
    "create_new_adapter": "ftwizard starts a fresh adapter",
}


def to_config(data: dict[str, Any], source: str, base: Path) -> c.Mapper:
    m = c.Mapper(data, source, FORMAT)
    m.map("model_name_or_path", "model.name")
    m.map("trust_remote_code", "model.trust_remote_code", bool)
    if m.has("flash_attn"):
        fa = str(m.peek("flash_attn"))
        attn = {"auto": None, "disabled": "eager", "sdpa": "sdpa", "fa2": "flash_attention_2"}
        if fa not in attn:
            raise m.fail("flash_attn", fa, "LLaMA-Factory's values are auto, disabled, sdpa, fa2",
                         "set flash_attn: auto, disabled, sdpa or fa2")
        m.map("flash_attn", "model.attn_implementation", lambda v: attn[str(v)])
    stage = str(m.peek("stage", "sft"))
    if stage == "ppo":
        m.drop("stage", PPO_WHY)
    elif stage not in ("sft", "pt", *OBJECTIVES):
        raise m.fail("stage", stage, "LLaMA-Factory's stages are pt, sft, rm, ppo, dpo, kto",
                     "set stage: sft, pt, dpo, kto or rm")
    packing = m.peek("packing")
    mode = "corpus" if (stage == "pt" and packing is not False) else "entries"
    why = {"pt": "pretraining: texts concatenated and cut into cutoff_len blocks",
           "sft": "one example per sequence, prompt masked"}.get(stage, "")
    if stage == "pt" and packing is False:
        why = "pretraining without packing: one text per sequence"
    objective = _preference(m, stage)
    if stage in OBJECTIVES:
        m.mapped("stage", {"train.objective": objective},   # data.mode does not apply
                 {"dpo": "preference pairs through TRL's DPOTrainer (ORPOTrainer for pref_loss "
                         "orpo)", "kto": "labelled completions through TRL's KTOTrainer",
                  "rm": "a reward model (a scalar head) trained on pairs through TRL's "
                        "RewardTrainer"}[stage])
    elif "stage" in m.data and "stage" not in m.seen:
        m.mapped("stage", {"data.mode": mode}, why)
    elif "stage" not in m.data:
        m.default("data.mode", mode, "LLaMA-Factory's default stage is sft: " + why)
    else:
        m.put("data.mode", mode)
    if objective != "sft":
        for k in ("packing", "neat_packing"):
            if m.peek(k):
                m.drop(k, "TRL's preference and reward trainers take one pair (or KTO row) per "
                          "sequence: ftwizard does not pack them")
            else:
                m.same(k, "off")
    else:
        _packing(m, mode)
    _method(m)
    m.map("cutoff_len", "data.block_size", c.as_int)
    if not m.has("cutoff_len"):
        m.default("data.block_size", 2048, "LLaMA-Factory's default cutoff_len")
    if objective == "sft":
        _train_on(m)
    else:
        for k in ("train_on_prompt", "mask_history"):
            if m.peek(k):
                m.drop(k, "TRL's preference and reward trainers decide which tokens carry loss "
                          "(the replies): data.train_on does not apply")
            else:
                m.same(k, "off: the replies carry the loss, as in TRL's trainers")
    _template(m, stage)
    _datasets(m, base)
    if m.has("disable_gradient_checkpointing"):
        m.map("disable_gradient_checkpointing", "method.gradient_checkpointing", lambda v: not v,
              "inverted")
    elif not m.has("gradient_checkpointing"):
        m.default("method.gradient_checkpointing", True,
                  "LLaMA-Factory checkpoints activations unless disable_gradient_checkpointing: true")
    training_args(m, base, "LLaMA-Factory")
    for k, why in SAME.items():
        m.same(k, why)
    for k, why in NOT_CARRIED.items():
        if why:
            m.drop(k, why)
    m.finish()
    return m


def _preference(m: c.Mapper, stage: str) -> str:
    """stage dpo/kto/rm and the RLHF keys (pref_*, dpo_label_smoothing, kto_*_weight) ->
    train.objective and train.preference, in the terms of TRL 1.16, which trains them here.
    Returns the objective."""
    if stage not in OBJECTIVES:
        for k in PREF_KEYS:
            m.same(k, f"used by stage dpo/kto; stage {stage} does not read it")
        return "sft"
    objective = OBJECTIVES[stage]
    loss = str(m.peek("pref_loss", "sigmoid"))
    if stage == "dpo":
        if loss == "orpo":
            objective = "orpo"
            m.mapped("pref_loss", {"train.objective": "orpo"}, "TRL's ORPOTrainer: no reference "
                     "model; the NLL of the chosen reply plus pref_beta x the odds-ratio term, as "
                     "LLaMA-Factory computes it")
        elif loss in DPO_LOSSES:
            m.map("pref_loss", "train.preference.loss_type", str, "TRL's DPO loss of that name")
        elif loss == "kto_pair":
            m.drop("pref_loss", "TRL 1.16's DPOTrainer has no kto_pair loss (removed from TRL): "
                                "planned and trained as sigmoid DPO on the same pairs; for KTO "
                                "give unpaired kto_tag data and stage: kto")
        elif loss == "simpo":
            m.drop("pref_loss", "SimPO runs TRL's CPOTrainer (no reference, length-normalised "
                                "log-probs, simpo_gamma's margin), which ftwizard does not run: "
                                "planned and trained as sigmoid DPO with a reference (full "
                                "fine-tuning holds a frozen copy SimPO would not)")
        else:
            raise m.fail("pref_loss", loss, "LLaMA-Factory's pref_loss values are sigmoid, hinge, "
                         "ipo, kto_pair, orpo, simpo", "set pref_loss: sigmoid")
    else:
        m.same("pref_loss", f"stage {stage} trains its own loss (pref_loss applies to stage dpo)")
    if objective == "reward":
        m.same("pref_beta", "a reward model has no beta")
    else:
        m.map("pref_beta", "train.preference.beta", c.as_float,
              "ORPO's lambda (TRL's beta) for pref_loss orpo" if objective == "orpo" else "")
    if m.number("pref_ftx", float, 0.0):
        m.drop("pref_ftx", "an SFT term added to the preference loss: TRL 1.16 writes it as "
                           "loss_type [sigmoid, sft] with loss_weights; train.preference.loss_type "
                           "takes one loss and has no weights")
    else:
        m.same("pref_ftx", "0: no SFT term")
    if m.number("pref_bco_weight", float, 0.0):
        m.drop("pref_bco_weight", "a BCO term added to DPO: TRL 1.16 has bco_pair as a loss of its "
                                  "own, not a weight (train.preference.loss_type bco_pair)")
    else:
        m.same("pref_bco_weight", "0: no BCO term")
    if m.number("dpo_label_smoothing", float, 0.0):
        m.drop("dpo_label_smoothing", "LLaMA-Factory applies it as conservative DPO (cDPO) through "
                                      "older TRL's sigmoid loss; TRL 1.16's sigmoid has no label "
                                      "smoothing and its robust loss is another (unbiased) "
                                      "formula: set train.preference.loss_type robust and "
                                      "label_smoothing to train with label noise")
    else:
        m.same("dpo_label_smoothing", "0: none")
    for key, target in (("kto_chosen_weight", "train.preference.desirable_weight"),
                        ("kto_rejected_weight", "train.preference.undesirable_weight")):
        if objective == "kto":
            m.map(key, target, c.as_float)
        else:
            m.same(key, "used by stage kto only")
    if loss == "simpo" and objective == "dpo":
        m.drop("simpo_gamma", "SimPO's margin: SimPO is not trained (see pref_loss)")
    else:
        m.same("simpo_gamma", "used by pref_loss simpo only")
    m.drop("ld_alpha", "LD-DPO's weighting of the longer reply's extra tokens: TRL 1.16 has it "
                       "(ld_alpha), ftwizard's train.preference does not")
    return objective


def _packing(m: c.Mapper, mode: str) -> None:
    """packing / neat_packing for sft -> data.packing. ftwizard's packing is the neat kind: each
    example attends only to itself (position ids restart), as neat_packing does; LLaMA-Factory's
    plain packing lets examples in one block attend to each other."""
    packing, neat = m.peek("packing"), m.peek("neat_packing")
    if mode == "corpus":
        if packing is not None:
            m.same("packing", "pretraining: texts concatenated into cutoff_len blocks (corpus mode)")
        if neat:
            m.drop("neat_packing", "ftwizard's corpus mode lets texts in one block attend to each "
                                   "other; for neat packing set data.mode entries and data.packing")
        else:
            m.same("neat_packing", "off")
        return
    if packing is False and not neat:
        m.same("packing", "one example per sequence, as the stage's mode")
        m.same("neat_packing", "off")
        return
    if neat:
        m.mapped("neat_packing", {"data.packing": True}, "examples packed into cutoff_len blocks, "
                 "none attending to another: ftwizard's packing is this kind")
        m.same("packing", "neat_packing packs")
    elif packing:
        m.mapped("packing", {"data.packing": True}, "ftwizard's packing is the neat kind: packed "
                 "examples never attend to each other (LLaMA-Factory's plain packing lets them), "
                 "so the loss can differ slightly from LLaMA-Factory's")
        m.same("neat_packing", "off: ftwizard packs the neat way regardless")


def _train_on(m: c.Mapper) -> None:
    """train_on_prompt: true -> data.train_on all; mask_history: true -> last_turn (LLaMA-Factory
    trains every assistant turn otherwise: ftwizard's completion)."""
    if m.peek("train_on_prompt"):
        m.mapped("train_on_prompt", {"data.train_on": "all"}, "every token carries loss")
        if m.peek("mask_history"):
            m.drop("mask_history", "train_on_prompt: true trains every token; ftwizard has no "
                                   "'all of the last turn only'")
        else:
            m.same("mask_history", "off")
        return
    m.same("train_on_prompt", "prompts masked: data.train_on completion, ftwizard's default")
    if m.peek("mask_history"):
        m.mapped("mask_history", {"data.train_on": "last_turn"}, "only the last assistant turn "
                 "carries loss")
    else:
        m.same("mask_history", "every assistant turn carries loss (data.train_on completion)")


def _template(m: c.Mapper, stage: str) -> None:
    """template -> data.chat_template where ftwizard has the same template."""
    if not m.has("template"):
        return
    name = str(m.peek("template"))
    if stage == "pt":
        m.same("template", "pretraining text is not rendered through a chat template")
    elif name in c.LLAMAFACTORY_TEMPLATES:
        m.map("template", "data.chat_template", lambda v: c.LLAMAFACTORY_TEMPLATES[str(v)],
              "saved with the trained tokenizer")
    else:
        m.drop("template", c.template_why(name, "LLaMA-Factory", c.LLAMAFACTORY_TEMPLATES))


def _method(m: c.Mapper) -> None:
    ft = str(m.peek("finetuning_type", "lora"))
    bits = m.number("quantization_bit", int)
    if ft not in ("lora", "full"):
        raise m.fail("finetuning_type", ft, "ftwizard trains the full model or LoRA adapters "
                     "(freeze and OFT are not planned)", "set finetuning_type: lora or full")
    if bits is not None and bits not in (4, 8):
        raise m.fail("quantization_bit", bits, "ftwizard's QLoRA quantizes to 4 or 8 bits",
                     "set quantization_bit: 4 or 8")
    if bits is not None and ft == "full":
        raise m.fail("quantization_bit", bits, "a quantized base can only be trained through LoRA",
                     "set finetuning_type: lora, or drop quantization_bit")
    method = str(m.peek("quantization_method", "bitsandbytes"))
    if bits is not None and method not in ("bitsandbytes", "bnb"):
        raise m.fail("quantization_method", method, "ftwizard quantizes with bitsandbytes",
                     "set quantization_method: bitsandbytes")
    m.same("quantization_method", "bitsandbytes")
    kind = "full" if ft == "full" else ("qlora" if bits else "lora")
    targets: dict[str, Any] = {"method.kind": kind}
    if bits:
        targets["method.quant_bits"] = bits
    if "finetuning_type" in m.data:
        m.mapped("finetuning_type", targets)
    else:
        for t, v in targets.items():
            m.default(t, v, "LLaMA-Factory's default finetuning_type is lora")
    if bits:
        m.mapped("quantization_bit", {"method.quant_bits": bits})
    if m.has("double_quantization"):
        m.map("double_quantization", "method.double_quant", bool)
    if kind == "full":
        for k in ("lora_rank", "lora_alpha", "lora_dropout", "lora_target"):
            m.same(k, "unused: finetuning_type full trains every weight")
        return
    m.map("lora_rank", "method.lora.r", c.as_int)
    rank = m.number("lora_rank", int, 8)
    if not m.has("lora_rank"):
        m.default("method.lora.r", 8, "LLaMA-Factory's default lora_rank")
    m.map("lora_alpha", "method.lora.alpha", c.as_float)
    if not m.has("lora_alpha"):
        m.default("method.lora.alpha", float(rank * 2), "LLaMA-Factory's default lora_alpha = 2 x lora_rank")
    m.map("lora_dropout", "method.lora.dropout", c.as_float)
    if not m.has("lora_dropout"):
        m.default("method.lora.dropout", 0.0, "LLaMA-Factory's default lora_dropout")
    if m.has("lora_target"):
        m.map("lora_target", "method.lora.target_modules", _targets)
    else:
        m.default("method.lora.target_modules", "all-linear", "LLaMA-Factory's default lora_target: all")


def _targets(v: Any) -> Any:
    if not isinstance(v, (str, list)):
        raise TypeError(f"lora_target must be names, not {v!r}")
    items = [s.strip() for s in v.split(",")] if isinstance(v, str) else [str(s) for s in v]
    return "all-linear" if items == ["all"] else items


def _names(m: c.Mapper, key: str) -> list[str]:
    """A comma-separated string or a list of names, as LLaMA-Factory accepts both."""
    v = m.peek(key)
    if isinstance(v, str):
        return [s.strip() for s in v.split(",") if s.strip()]
    if isinstance(v, list) and all(isinstance(s, (str, int, float)) for s in v):
        return [str(s) for s in v]
    raise m.fail(key, v, "must be a name or comma-separated names", f"write {key}: name1,name2")


def _dataset_info(m: c.Mapper, base: Path) -> tuple[dict[str, Any], Path | None]:
    d = str(m.peek("dataset_dir", "data"))
    for folder in ([Path(d)] if Path(d).is_absolute() else [base / d, Path(d)]):
        info = folder / "dataset_info.json"
        if info.is_file():
            try:
                data = json.loads(info.read_text(encoding="utf-8"))
            except (OSError, ValueError) as err:
                raise c.InputError(f"{info} is not valid JSON: {err}", field=f"{m.source}:dataset_dir",
                                   value=d, fix="fix dataset_info.json") from None
            return (data if isinstance(data, dict) else {}), folder
    return {}, None


def _datasets(m: c.Mapper, base: Path) -> None:
    info, folder = _dataset_info(m, base)
    if "dataset_dir" in m.data:
        m.same("dataset_dir", f"read {folder / 'dataset_info.json'}" if folder else "no dataset_info.json found there")
    sources = []
    if m.has("dataset"):
        names = _names(m, "dataset")
        m.seen.add("dataset")
        probs = _names(m, "interleave_probs") if m.has("interleave_probs") else []
        for i, name in enumerate(names):
            src = _entry(m, f"dataset[{name}]", name, info, folder)
            if src is None:
                continue
            if i < len(probs):
                try:
                    src["weight"] = c.as_float(probs[i])
                except (TypeError, ValueError):
                    raise m.fail("interleave_probs", m.peek("interleave_probs"), "must be numbers",
                                 "write interleave_probs: 0.3,0.7") from None
            sources.append(src)
        if sources:
            m.put("data.train", sources, "dataset")
        if probs:
            m.mapped("interleave_probs", {"data.train[].weight": probs})
    if m.has("eval_dataset"):
        names = _names(m, "eval_dataset")
        m.seen.add("eval_dataset")
        src = _entry(m, f"eval_dataset[{names[0]}]", names[0], info, folder)
        if src is not None:
            m.put("data.validation", {"path": src["path"]}, "eval_dataset")
        for n in names[1:]:
            m.rows.append(c.Row(f"eval_dataset[{n}]", n, c.NOT_CARRIED, "", "ftwizard evaluates on one source"))
    if m.has("val_size"):
        m.validation_share("val_size")


def _entry(m: c.Mapper, key: str, name: str, info: dict[str, Any], folder: Path | None) -> dict[str, Any] | None:
    """One dataset name -> an ftwizard source, through dataset_info.json."""
    entry = info.get(name)
    if not isinstance(entry, dict):
        m.rows.append(c.Row(key, name, c.NOT_CARRIED, "",
                            "not in a dataset_info.json beside the config or in the working directory "
                            "(dataset_dir); point data.train at the file"))
        return None
    src: dict[str, Any] = {}
    if entry.get("file_name"):
        p = Path(str(entry["file_name"]))
        src["path"] = str(p if p.is_absolute() else (folder / p))
    elif entry.get("hf_hub_url"):
        split = entry.get("split")
        src["path"] = f"hf:{entry['hf_hub_url']}" + (f":{split}" if split and split != "train" else "")
    else:
        m.rows.append(c.Row(key, entry, c.NOT_CARRIED, "", "neither file_name nor hf_hub_url "
                            "(ModelScope/script datasets are not read by ftwizard)"))
        return None
    formatting = entry.get("formatting", "alpaca")
    cols = entry.get("columns") or {}
    tags = entry.get("tags") or {}
    if not isinstance(cols, dict) or not isinstance(tags, dict):
        raise m.fail(key, entry, "columns and tags must be mappings",
                     "fix this entry of dataset_info.json")
    lost: list[tuple[str, Any, str]] = []   # (dataset_info key, value, why)
    stage = str(m.peek("stage", "sft"))
    objective = c._lookup(m.out, "train.objective") or "sft"
    if objective != "sft":
        return _preference_entry(m, key, name, entry, src, formatting, cols, tags, objective)
    if entry.get("ranking"):
        lost.append(("ranking", True, f"preference pairs under stage {stage}: LLaMA-Factory "
                                      "trains them with stage dpo or rm; read here as SFT data"))
    if stage == "pt":
        src["text_field"] = cols.get("prompt", "text")
        note = "pretraining text"
    elif formatting == "sharegpt":
        mine = _sharegpt_columns(cols, tags, lost)
        if mine:
            src["columns"] = mine
        note = "ShareGPT / messages turns, prompt turns masked"
    elif cols.get("prompt") == "prompt" and cols.get("response") == "completion" and \
            set(cols) <= {"prompt", "response"}:
        note = "prompt/completion columns"
    elif formatting == "alpaca" and set(cols) == {"prompt"}:
        src["text_field"] = cols["prompt"]
        note = "a prompt column without a response: read as a text column"
    elif formatting == "alpaca":
        mine = {}
        for theirs, value in cols.items():
            ours = ALPACA_COLUMNS.get(theirs)
            if ours is None:
                lost.append((f"columns.{theirs}", value, OTHER_COLUMN_WHY))
            elif value != ours:
                mine[ours] = str(value)
        if mine:
            src["columns"] = mine
        note = "alpaca records (instruction, input, output, system, history) read per record"
    else:
        note = ""
        lost.append(("formatting", formatting, "LLaMA-Factory's formats are alpaca and sharegpt"))
    became = f"data.train[].path = {src['path']}" + (
        f", columns = {c._short(src['columns'])}" if src.get("columns") else "")
    m.rows.append(c.Row(key, name, c.MAPPED, became, note))
    for k, v, why in lost:
        m.rows.append(c.Row(f"{key}.{k}", v, c.NOT_CARRIED, "", why))
    return src


def _preference_entry(m: c.Mapper, key: str, name: str, entry: dict[str, Any], src: dict[str, Any],
                      formatting: str, cols: dict[str, Any], tags: dict[str, Any],
                      objective: str) -> dict[str, Any]:
    """A dataset_info entry for stage dpo/rm (ranking: true, chosen/rejected columns) or kto
    (kto_tag) -> the source with the columns core/preference_data.py reads: LLaMA-Factory's
    alpaca pairs (instruction/input + chosen/rejected), its ShareGPT pairs (conversations +
    chosen/rejected turns) and kto_tag conversations are shapes it detects per record."""
    lost: list[tuple[str, Any, str]] = []
    paired = objective != "kto"
    if paired and not entry.get("ranking"):
        lost.append(("ranking", entry.get("ranking", False), "LLaMA-Factory reads pairs only from "
                     "a ranking: true entry; read here by its fields (chosen/rejected expected)"))
    mine: dict[str, str] = {}
    pref = {"chosen": "chosen", "rejected": "rejected"} if paired else {"kto_tag": "label"}
    if formatting == "sharegpt":
        mine = _sharegpt_columns({k: v for k, v in cols.items() if k not in (*pref, "tools")},
                                 {k: v for k, v in tags.items() if k not in ("chosen", "rejected")},
                                 lost)
        note = ("ShareGPT conversation + chosen/rejected turns" if paired else
                "conversations whose last turn is the completion, with a kto_tag label")
    elif formatting == "alpaca" and paired:
        for theirs, value in cols.items():
            ours = ALPACA_COLUMNS.get(theirs)
            if theirs in (*pref, "tools"):
                continue
            if ours is None:
                lost.append((f"columns.{theirs}", value, OTHER_COLUMN_WHY))
            elif value != ours:
                mine[ours] = str(value)
        note = "alpaca pairs: instruction (+ input, system, history) and the two replies"
    elif formatting == "alpaca":
        # KTO rows are prompt/completion/label: the prompt column is the prompt, the response the
        # completion; an input column has no place (LLaMA-Factory appends it to the prompt).
        for theirs, ours in (("prompt", "prompt"), ("response", "completion")):
            if cols.get(theirs, ours) != ours:
                mine[ours] = str(cols.get(theirs))
        for theirs in set(cols) - {"prompt", "response", "kto_tag", "tools"}:
            lost.append((f"columns.{theirs}", cols[theirs], "KTO rows here are prompt/completion/"
                         "label: merge it into the prompt column"))
        note = ("prompt/completion/label rows, read as plain text (LLaMA-Factory renders them "
                "through its template: set data.chat_template's markup into the data, or use "
                "sharegpt conversations, to keep it)")
    else:
        lost.append(("formatting", formatting, "LLaMA-Factory's formats are alpaca and sharegpt"))
        note = ""
    for theirs, ours in pref.items():
        if theirs in cols and cols[theirs] != ours:
            mine[ours] = str(cols[theirs])
    if cols.get("tools") and cols["tools"] != "tools":
        mine["tools"] = str(cols["tools"])
    if mine:
        src["columns"] = mine
    became = f"data.train[].path = {src['path']}" + (
        f", columns = {c._short(mine)}" if mine else "")
    m.rows.append(c.Row(key, name, c.MAPPED, became, note))
    for k, v, why in lost:
        m.rows.append(c.Row(f"{key}.{k}", v, c.NOT_CARRIED, "", why))
    return src


# LLaMA-Factory's dataset_info column names -> data.train[].columns keys.
ALPACA_COLUMNS = {"prompt": "instruction", "query": "input", "response": "output",
                  "history": "history", "system": "system"}
SHAREGPT_ROLE_TAGS = {"user_tag": "user", "assistant_tag": "assistant", "system_tag": "system",
                      "observation_tag": "tool", "function_tag": "assistant"}
OTHER_COLUMN_WHY = ("ftwizard reads text, instruction/input/output/system/history, chat turns "
                    "and their tools (preference data: chosen/rejected and kto_tag under stage "
                    "dpo/rm/kto); images, videos and audios are not trained")


def _sharegpt_columns(cols: dict[str, Any], tags: dict[str, Any],
                      lost: list[tuple[str, Any, str]]) -> dict[str, str]:
    """A sharegpt entry's columns and tags -> data.train[].columns. Turns are read as ShareGPT
    `conversations` so a system column is read too; role and text keys other than role/from and
    content/value are mapped; role names must be ones ftwizard knows (core/data_formats.ROLES)."""
    from ftwizard.core.data_formats import ROLES

    mine: dict[str, str] = {}
    turns = str(cols.get("messages", "conversations"))
    system = cols.get("system")
    if system and turns != "conversations":
        mine["conversations"] = turns       # ShareGPT turns: a system column is read with them
    elif turns not in ("conversations", "messages"):
        mine["messages"] = turns
    if system and system != "system":
        mine["system"] = str(system)
    for theirs, value in cols.items():
        if theirs == "tools":
            if value != "tools":
                mine["tools"] = str(value)      # function schemas, read with the turns
        elif theirs not in ("messages", "system"):
            lost.append((f"columns.{theirs}", value, OTHER_COLUMN_WHY))
    for tag, ours, read in (("role_tag", "role", ("role", "from")),
                            ("content_tag", "content", ("content", "value"))):
        v = tags.get(tag)
        if v is not None and str(v) not in read:
            mine[ours] = str(v)
    for tag, value in tags.items():
        if tag in ("role_tag", "content_tag"):
            continue
        role = SHAREGPT_ROLE_TAGS.get(tag)
        if role is None:
            lost.append((f"tags.{tag}", value, "not a role tag ftwizard reads"))
        elif ROLES.get(str(value).lower()) != role:
            lost.append((f"tags.{tag}", value,
                         f"ftwizard's role names are fixed ({', '.join(ROLES)}) and {value!r} is not "
                         f"read as {role}: rename that role in the file"))
    return mine


# ---------------------------------------------------------------- export

def from_config(cfg, out_dir: Path | None, stem: str) -> tuple[dict[str, Any], list[str], dict[str, Any]]:  # noqa: ANN001
    """RunConfig -> (LLaMA-Factory dict, what could not be written, extra files {name: json})."""
    from ftwizard.core.importers.common import OPTIMIZER_NAMES
    from ftwizard.core.importers.export_common import deepspeed_file, fsdp_string, lost_keys

    mo, me, tr, da = cfg.model, cfg.method, cfg.train, cfg.data
    out: dict[str, Any] = {"model_name_or_path": mo.name}
    if mo.trust_remote_code:
        out["trust_remote_code"] = True
    if mo.attn_implementation:
        out["flash_attn"] = {"eager": "disabled", "sdpa": "sdpa", "flash_attention_2": "fa2"}[mo.attn_implementation]
    obj = tr.objective
    out["stage"] = {"dpo": "dpo", "orpo": "dpo", "kto": "kto", "reward": "rm"}.get(
        obj, "pt" if da.mode == "corpus" else "sft")
    out["do_train"] = True
    lost_pref = _export_preference(cfg, out)
    out["finetuning_type"] = "full" if me.kind == "full" else "lora"
    if me.kind == "qlora":
        out["quantization_bit"] = me.quant_bits
        out["quantization_method"] = "bitsandbytes"
        out["double_quantization"] = me.double_quant
    if cfg.is_adapter:
        t = me.lora.target_modules
        out.update({"lora_rank": me.lora.r, "lora_alpha": me.lora.alpha, "lora_dropout": me.lora.dropout,
                    "lora_target": "all" if t == "all-linear" else ",".join(t if isinstance(t, list) else [t])})
    out["disable_gradient_checkpointing"] = not me.gradient_checkpointing
    info: dict[str, Any] = {}
    lost_cols: list[str] = []
    names = []
    for i, s in enumerate(da.train):
        name = f"{stem}_train_{i}"
        info[name] = (_info_entry(s.path, s.text_field, da.mode, s.columns, lost_cols) if obj == "sft"
                      else _pref_info_entry(s.path, s.columns, obj, lost_cols))
        names.append(name)
    if names:
        out["dataset"] = ",".join(names)
        out["dataset_dir"] = str(out_dir / f"{stem}_data") if out_dir else f"{stem}_data"
        if any(s.weight != 1.0 for s in da.train):
            out["mix_strategy"] = "interleave_under"
            out["interleave_probs"] = ",".join(f"{s.weight / sum(x.weight for x in da.train):g}" for s in da.train)
    if da.validation and da.validation.split:
        out["val_size"] = da.validation.split
    elif da.validation and da.validation.path:
        info[f"{stem}_eval"] = (_info_entry(da.validation.path, "text", da.mode, None, lost_cols)
                                if obj == "sft" else _pref_info_entry(da.validation.path, None, obj, lost_cols))
        out["eval_dataset"] = f"{stem}_eval"
        out.setdefault("dataset_dir", str(out_dir / f"{stem}_data") if out_dir else f"{stem}_data")
    out["cutoff_len"] = da.block_size
    if da.mode == "entries" and obj == "sft":
        from ftwizard.core.data_prep import train_on_of

        train_on = train_on_of(da)
        out["train_on_prompt"] = train_on == "all"
        if train_on == "last_turn":
            out["mask_history"] = True
        if da.packing:
            out["packing"] = True
            out["neat_packing"] = True   # ftwizard's packing: no attention across examples
    if (da.mode == "entries" or obj != "sft") and da.chat_template:
        name = c.template_name(da.chat_template, c.LLAMAFACTORY_TEMPLATES)
        if name:
            out["template"] = name
    out.update({"output_dir": cfg.output.dir, "per_device_train_batch_size": tr.micro_batch,
                "gradient_accumulation_steps": tr.grad_accum, "num_train_epochs": tr.epochs})
    if tr.max_steps:
        out["max_steps"] = tr.max_steps
    out["learning_rate"] = tr.lr
    if tr.scheduler == "cosine" and tr.end_lr:
        out["lr_scheduler_type"] = "cosine_with_min_lr"
        out["lr_scheduler_kwargs"] = {"min_lr": tr.end_lr}
    else:
        out["lr_scheduler_type"] = tr.scheduler
    if tr.warmup_steps is not None:
        out["warmup_steps"] = tr.warmup_steps
    else:
        out["warmup_ratio"] = tr.warmup_ratio
    out.update({"weight_decay": tr.weight_decay, "max_grad_norm": tr.max_grad_norm,
                "optim": OPTIMIZER_NAMES[me.optimizer], "bf16": mo.dtype == "bf16",
                "fp16": mo.dtype == "fp16", "save_steps": tr.save_every, "eval_steps": tr.eval_every,
                "logging_steps": tr.log_every, "save_total_limit": tr.keep_checkpoints, "seed": tr.seed,
                "dataloader_drop_last": tr.drop_last, "report_to": cfg.output.report_to})
    extra: dict[str, Any] = {}
    if me.parallel == "deepspeed":
        name, ds = deepspeed_file(cfg, stem)
        out["deepspeed"] = str(out_dir / name) if out_dir else name
        extra[name] = ds
    elif me.parallel == "fsdp":
        out["fsdp"], conf = fsdp_string(cfg)
        if conf:
            out["fsdp_config"] = conf
    lost = lost_keys(cfg, FORMAT) + lost_pref + lost_cols
    if tr.end_lr and tr.scheduler != "cosine":
        lost.append(f"train.end_lr={tr.end_lr} with a {tr.scheduler} schedule")
    if da.chat_template and "template" not in out:
        lost.append(f"data.chat_template={da.chat_template} (LLaMA-Factory's template is a name "
                    f"from its registry; ours match {', '.join(c.LLAMAFACTORY_TEMPLATES)})")
    if not da.mask_prompt and da.mode == "entries" and obj == "sft":
        lost.append("data.mask_prompt=false (written as train_on_prompt: true, which it means; read "
                    "back as data.train_on: all)")
    if da.mode == "entries" and obj == "sft":
        for i, s in enumerate(da.train):
            if set(info[f"{stem}_train_{i}"].get("columns", {})) == {"prompt"}:
                lost.append(f"{s.path} as plain text, one example per sequence (LLaMA-Factory's sft "
                            "needs prompt/response columns; it is listed with a prompt column only)")
    if info:
        extra[f"{stem}_data/dataset_info.json"] = info
    return out, lost, extra


def _export_preference(cfg, out: dict[str, Any]) -> list[str]:  # noqa: ANN001
    """train.objective's knobs in LLaMA-Factory's keys; what it cannot hold, listed."""
    tr, p = cfg.train, cfg.train.preference
    lost: list[str] = []
    if tr.objective == "sft":
        return lost
    if tr.objective in ("dpo", "orpo", "kto"):
        out["pref_beta"] = p.beta
    if tr.objective == "orpo":
        out["pref_loss"] = "orpo"
    elif tr.objective == "dpo" and p.loss_type in DPO_LOSSES:
        out["pref_loss"] = p.loss_type
    elif tr.objective in REFERENCE_OBJECTIVES and p.loss_type:
        lost.append(f"train.preference.loss_type={p.loss_type} (LLaMA-Factory's pref_loss: "
                    f"{', '.join(DPO_LOSSES)}, orpo, simpo, kto_pair)")
    if tr.objective == "kto":
        out["kto_chosen_weight"] = p.desirable_weight
        out["kto_rejected_weight"] = p.undesirable_weight
    if p.label_smoothing:
        lost.append(f"train.preference.label_smoothing={p.label_smoothing} (LLaMA-Factory's "
                    "dpo_label_smoothing is cDPO on older TRL's sigmoid, not TRL 1.16's)")
    if p.reference == "precomputed":
        lost.append("train.preference.reference=precomputed (LLaMA-Factory keeps the reference "
                    "in the run)")
    if p.truncation != "keep_start":
        lost.append(f"train.preference.truncation={p.truncation}")
    if p.center_rewards is not None:
        lost.append(f"train.preference.center_rewards={p.center_rewards} (LLaMA-Factory's rm "
                    "stage has no reward centring)")
    return lost


def _pref_info_entry(path: str, columns: dict[str, str] | None, objective: str,
                     lost: list[str]) -> dict[str, Any]:
    """A preference source -> its dataset_info entry (ranking pairs or kto_tag rows), from the
    shape of its first record (core/preference_data.detect)."""
    name, split = c.hub_name(path)
    entry: dict[str, Any] = ({"hf_hub_url": name, **({"split": split} if split else {})}
                             if path.startswith("hf:") else {"file_name": str(Path(path).resolve())})
    cols = dict(columns or {})
    shape = _pref_shape(path, cols)
    if objective != "kto":
        entry["ranking"] = True
    pick = {k: cols.get(k, k) for k in ("chosen", "rejected")} if objective != "kto" else \
        {"kto_tag": cols.get("label", "label")}
    if shape in ("sharegpt", "messages", "kto_tag"):
        entry["formatting"] = "sharegpt"
        turns = cols.get("conversations") or cols.get("messages") or (
            "conversations" if shape == "sharegpt" else "messages")
        entry["columns"] = {"messages": turns, **pick}
        if cols.get("system"):
            entry["columns"]["system"] = cols["system"]
        sharegpt = shape == "sharegpt"
        entry["tags"] = {"role_tag": cols.get("role", "from" if sharegpt else "role"),
                         "content_tag": cols.get("content", "value" if sharegpt else "content"),
                         "user_tag": "human" if sharegpt else "user",
                         "assistant_tag": "gpt" if sharegpt else "assistant",
                         "system_tag": "system"}
    elif shape == "kto" or (objective == "kto" and shape == "unknown"):
        entry["columns"] = {"prompt": cols.get("prompt", "prompt"),
                            "response": cols.get("completion", "completion"), **pick}
    else:
        back = {ours: theirs for theirs, ours in ALPACA_COLUMNS.items()}
        entry["columns"] = {back[k]: cols.get(k, k) for k in ("instruction", "input")}
        entry["columns"].update({back[k]: cols[k] for k in ("system", "history") if k in cols})
        entry["columns"].update(pick)
        if shape not in ("alpaca", "unknown"):
            lost.append(f"{path}: {shape} preference records (LLaMA-Factory reads alpaca pairs "
                        "(instruction/input + chosen/rejected) or ShareGPT pairs: convert them; "
                        "written as alpaca pairs)")
    if cols.get("tools"):
        entry["columns"]["tools"] = cols["tools"]
    return entry


def _pref_shape(path: str, cols: dict[str, str]) -> str:
    """The preference shape of a local JSON/JSONL file's first record, or unknown."""
    from ftwizard.core.data_formats import apply_columns
    from ftwizard.core.preference_data import KEYS, detect

    p = Path(path)
    if path.startswith("hf:") or not p.is_file() or p.suffix.lower() not in (".json", ".jsonl"):
        return "unknown"
    try:
        if p.suffix.lower() == ".jsonl":
            with p.open(encoding="utf-8") as fh:
                rec = json.loads(fh.readline())
        else:
            data = json.loads(p.read_text(encoding="utf-8"))
            rec = data[0] if isinstance(data, list) and data else {}
        return detect(apply_columns(rec, cols, path, KEYS)) or "unknown"
    except (OSError, ValueError, IndexError, c.InputError, AttributeError):
        return "unknown"


def _info_entry(path: str, text_field: str, mode: str, columns: dict[str, str] | None,
                lost: list[str]) -> dict[str, Any]:
    name, split = c.hub_name(path)
    entry: dict[str, Any] = ({"hf_hub_url": name, **({"split": split} if split else {})}
                             if path.startswith("hf:") else {"file_name": str(Path(path).resolve())})
    cols = dict(columns or {})
    kind = "text" if mode == "corpus" else c.peek_record_kind(path, text_field, cols)
    if kind in ("messages", "sharegpt"):
        entry["formatting"] = "sharegpt"
        if kind == "messages":
            entry["columns"] = {"messages": cols.get("messages", "messages")}
            entry["tags"] = {"role_tag": cols.get("role", "role"), "content_tag": cols.get("content", "content"),
                             "user_tag": "user", "assistant_tag": "assistant", "system_tag": "system"}
        else:
            entry["columns"] = {"messages": cols.get("conversations", "conversations")}
            if "system" in cols:
                entry["columns"]["system"] = cols["system"]
            entry["tags"] = {"role_tag": cols.get("role", "from"), "content_tag": cols.get("content", "value"),
                             "user_tag": "human", "assistant_tag": "gpt", "system_tag": "system"}
        if cols.get("tools"):
            entry["columns"]["tools"] = cols["tools"]
    elif kind == "prompt":
        entry["columns"] = {"prompt": "prompt", "response": "completion"}
        if cols.get("prompt", "prompt") != "prompt" or cols.get("completion", "completion") != "completion":
            entry["columns"] = {"prompt": cols.get("prompt", "prompt"),
                                "response": cols.get("completion", "completion")}
            lost.append(f"{path}: prompt/completion columns {cols} (written as alpaca prompt/"
                        "response: read back as columns.instruction/output, rendered as a chat)")
    elif kind == "alpaca":
        back = {ours: theirs for theirs, ours in ALPACA_COLUMNS.items()}
        entry["formatting"] = "alpaca"
        entry["columns"] = {back[k]: cols.get(k, k) for k in ("instruction", "input", "output")}
        entry["columns"].update({back[k]: cols.get(k, k) for k in ("system", "history") if k in cols})
    else:
        entry["columns"] = {"prompt": text_field}
    return entry
