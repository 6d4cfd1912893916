"""Preference and reward data: the rows TRL's DPO, ORPO, KTO and reward trainers take, counted
and filtered exactly as those trainers count and filter them.

`preference_sets(cfg, tokenizer)` returns (train_rows, val_rows | None) in TRL's own dataset shape
for cfg.train.objective, ready for `datasets.Dataset.from_list`:

- dpo, orpo, reward: {"prompt", "chosen", "rejected"};
- kto: {"prompt", "completion", "label": bool}.

Shapes read (detected per record from its fields, after the source's `columns` mapping; one shape
per file, as for SFT data: a record of another shape is an error naming both lines):

===========  =====================================================  ============================
shape        fields                                                 from
===========  =====================================================  ============================
explicit     prompt, chosen, rejected (strings)                     TRL standard
implicit     chosen, rejected (strings, the shared start is the     TRL standard, implicit prompt
             prompt, as TRL's extract_prompt finds it)
chat         chosen, rejected as message lists; the prompt is       TRL conversational
             their shared leading messages, or `prompt` (a message
             list; a string is the user turn beside replies alone,
             ignored beside whole conversations, as TRL does)
alpaca       instruction, chosen, rejected; optional input,         LLaMA-Factory (alpaca,
             system, history                                        ranking: true)
sharegpt     conversations + chosen/rejected {from, value}          LLaMA-Factory (sharegpt,
                                                                    ranking: true)
messages     messages (the conversation so far) + chosen/rejected   axolotl chat_template
             as single messages
intel        question, chosen, rejected; optional system            axolotl chatml.intel
argilla      instruction, chosen_response, rejected_response;       axolotl chatml.argilla
             optional system
kto          prompt, completion, label (strings or message lists)   TRL unpaired preference
kto_tag      messages or conversations (last turn the assistant's)  LLaMA-Factory kto_tag
             + kto_tag (or label, as its kto_en_demo names it)
===========  =====================================================  ============================

Chat or text. Every shape but explicit, implicit and kto-with-strings is a conversation, and is
handed to TRL as message lists (prompt = the messages before the reply, chosen/rejected = the
reply), never rendered by us: TRL then renders them with the tokenizer's chat template (the
model's, or data.chat_template, which core/data_tokens.Encoder sets on that very tokenizer) and
tokenizes the rendering without adding special tokens, which is what the model sees at inference.
Rendered strings would take TRL's plain-text path instead, which adds the tokenizer's special
tokens (a second BOS after a template's own) and appends EOS after the template's end of turn:
tokens the chat never has. Our token counts replay TRL's own path for each case (below), so the
plan's figures are the trainer's.

Filtering, as TRL 1.16 does before training (read from its `_prepare_dataset`s), done here so
the trainer drops nothing and `len(train_rows)` is the trainer's dataset length:

- dpo: with truncation keep_start, a pair whose tokenized prompt (the part shared by prompt +
  chosen and prompt + rejected) is block_size tokens or more is dropped (the collator would cut
  every completion token); keep_end drops nothing;
- kto: the same rule, whatever the truncation;
- reward: a pair whose prompt + chosen or prompt + rejected is over block_size tokens is dropped;
- orpo: TRL's ORPOTrainer drops nothing but, when the prompt alone fills block_size, trains an
  empty completion (its own warning); we drop those pairs as DPO does, since they teach nothing.

Then, as for SFT (core/data_prep.py): a validation split holds out round(split x n) rows of each
source at random with the seed (or data.validation.path is read the same way), and weights mix
the sources by the same mix_plan. data.mode, data.packing and data.train_on do not apply: each row
is its own sequence(s), and each trainer masks the prompt itself.

Counts are always exact when a tokenizer is at hand: every row is tokenized, as the trainer
will, because the plan's steps must be the trainer's and which rows it drops is only known by
tokenizing them (measured: 20,000 pairs, 33 MB of JSONL, in ~45 s on two shared cores with the
tiny byte-level BPE, whose tokens are short; cached by content afterwards). Without a tokenizer,
lengths come from characters and nothing is dropped, which the stats say.

Bad input is exit 2 with the file, line and field: a missing field, an empty chosen, rejected or
completion, a record of another shape mid-file, a KTO label that is not a boolean (true/false,
0/1 and "true"/"false" are read), paired data for kto or unpaired data for a paired objective.
A pair whose chosen equals its rejected is kept and counted (DPO's loss is then a constant ln 2
with no gradient; TRL and LLaMA-Factory train such rows silently, so we only say how many).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ftwizard.core.config import PAIRED_OBJECTIVES, DataSection, RunConfig, TrainSection
from ftwizard.core.data_formats import (TOP_KEYS, alpaca_messages, apply_columns, as_text,
                                        chat_messages, check_chat, record_tools)
from ftwizard.core.data_prep import common_prefix, data_sources, mix_plan, validation_indices
from ftwizard.core.data_sources import Cancelled, is_hf, iter_records, source_files
from ftwizard.core.errors import InputError

UNPAIRED = ("kto",)
SHAPE_LABELS = {
    "explicit": "prompt/chosen/rejected", "implicit": "chosen/rejected (implicit prompt)",
    "chat": "chosen/rejected messages", "messages": "axolotl chat_template pairs",
    "alpaca": "LLaMA-Factory alpaca pairs",
    "sharegpt": "LLaMA-Factory ShareGPT pairs", "intel": "axolotl chatml.intel",
    "argilla": "axolotl chatml.argilla", "kto": "prompt/completion/label",
    "kto_tag": "LLaMA-Factory kto_tag",
}
KTO_SHAPES = ("kto", "kto_tag")
KEYS = TOP_KEYS + ("chosen", "rejected", "label")
_TRUE, _FALSE = ("true", "1", "yes"), ("false", "0", "no")
_ACCEPTED = ("prompt/chosen/rejected; chosen/rejected as message lists; messages + chosen/"
             "rejected messages (axolotl chat_template); LLaMA-Factory "
             "instruction/input/chosen/rejected or conversations + chosen/rejected; axolotl "
             "question/chosen/rejected or instruction/chosen_response/rejected_response")
_ACCEPTED_KTO = ("prompt/completion/label; LLaMA-Factory messages or conversations + kto_tag")


def is_preference(train: TrainSection | None) -> bool:
    return train is not None and train.objective != "sft"


# ---------------------------------------------------------------- one row

@dataclass
class Row:
    """One record read, in TRL's terms: prompt and chosen/rejected (or completion and label) as
    strings, or all as message lists for a conversation."""

    where: str
    shape: str
    prompt: Any
    chosen: Any = None
    rejected: Any = None
    completion: Any = None
    label: bool | None = None
    tools: list[dict] | None = None
    """A conversation's tool (function) schemas (data_formats.record_tools); its messages keep
    their tool calls and results as SFT's do."""

    @property
    def chat(self) -> bool:
        return isinstance(self.prompt, list)

    def trl(self) -> dict[str, Any]:
        out = {"prompt": self.prompt, "completion": self.completion, "label": self.label} \
            if self.shape in KTO_SHAPES else \
            {"prompt": self.prompt, "chosen": self.chosen, "rejected": self.rejected}
        if self.tools:
            # As a JSON string, which TRL's dpo/kto/reward trainers read (json.loads), so that
            # Arrow does not merge different schemas into one struct padded with nulls.
            import json

            out["tools"] = json.dumps(self.tools, ensure_ascii=False)
        return out


def detect(rec: dict) -> str | None:
    """The preference shape of one (renamed) record, or None."""
    has = rec.__contains__
    if (has("kto_tag") or (has("label") and not has("completion"))) and \
            (has("messages") or has("conversations")):
        return "kto_tag"   # LLaMA-Factory's kto_tag column (its kto_en_demo names it label)
    if has("label") and has("completion"):
        return "kto"
    if has("chosen_response") and has("rejected_response"):
        return "argilla"
    if not (has("chosen") and has("rejected")):
        return None
    if has("conversations"):
        return "sharegpt"
    if has("messages") and isinstance(rec["chosen"], dict):
        return "messages"
    if has("instruction"):     # first: a renamed prompt column (columns.instruction) keeps its
        return "alpaca"        # own name beside it, which may be `question`
    if has("question"):
        return "intel"
    if isinstance(rec["chosen"], (list, dict)) or isinstance(rec["rejected"], (list, dict)):
        return "chat"
    return "explicit" if has("prompt") else "implicit"


def read_row(rec: Any, where: str, columns: dict[str, str] | None) -> Row:
    """One raw record as a Row, or the InputError naming its place and field."""
    if not isinstance(rec, dict):
        raise InputError(f"{where}: expected an object with prompt, chosen and rejected, found "
                         f"{type(rec).__name__}", field="data.train", value=where,
                         fix='one JSON object per line, e.g. {"prompt": "...", "chosen": "...", '
                             '"rejected": "..."}')
    rec = apply_columns(rec, columns, where, KEYS)
    shape = detect(rec)
    for have, lacks in (("chosen", "rejected"), ("rejected", "chosen"),
                        ("chosen_response", "rejected_response"),
                        ("rejected_response", "chosen_response")):
        if shape in (None, "kto", "kto_tag") and have in rec and lacks not in rec:
            raise InputError(f"{where}: {have!r} but no {lacks!r}", field=lacks, value=where,
                             fix=f"give every pair both {have!r} and {lacks!r} (or map yours: "
                                 f"columns: {{{lacks}: YOUR_FIELD}})")
    if shape is None:
        keys = ", ".join(map(str, list(rec)[:12])) or "none"
        raise InputError(f"{where}: no preference fields (fields found: {keys}); expected "
                         f"{_ACCEPTED}; or for kto {_ACCEPTED_KTO}", field="data.train",
                         value=where, fix="map your fields on this source, e.g. "
                         "columns: {prompt: question, chosen: better, rejected: worse}")
    row = _BUILD[shape](rec, where, columns)
    row.shape = shape
    if row.chat:
        row.tools = record_tools(rec, where)
    _check(row)
    return row


def _text(rec: dict, key: str, where: str) -> str:
    if key not in rec:
        raise InputError(f"{where}: no {key!r} field", field=key, value=where,
                         fix=f"give every record a {key!r} (or map yours: columns: "
                             f"{{{key}: YOUR_FIELD}})")
    return as_text(rec[key], where, key)


def _messages(value: Any, key: str, where: str, columns: dict[str, str] | None) -> list[dict]:
    """A message list (or one message dict) as [{role, content}] with roles mapped."""
    if isinstance(value, dict):
        value = [value]
    if not isinstance(value, list):
        raise InputError(f"{where}: {key!r} must be a list of messages, found "
                         f"{type(value).__name__}", field=key, value=where,
                         fix='e.g. [{"role": "assistant", "content": "..."}]')
    return chat_messages({key: value}, key, where, columns)


def _reply(text: str) -> list[dict]:
    return [{"role": "assistant", "content": text}]


def _explicit(rec: dict, where: str, columns: Any) -> Row:
    for key in ("prompt", "chosen", "rejected"):
        if isinstance(rec.get(key), (list, dict)):
            raise InputError(f"{where}: {key!r} is a message list but the others are text",
                             field=key, value=where, fix="give prompt, chosen and rejected all "
                             "as text, or chosen and rejected (and prompt) all as message lists")
    return Row(where, "", _text(rec, "prompt", where), _text(rec, "chosen", where),
               _text(rec, "rejected", where))


def _implicit(rec: dict, where: str, columns: Any) -> Row:
    """TRL's extract_prompt on strings: the longest shared start is the prompt (a space before
    the first differing character stays with the completions)."""
    chosen, rejected = _text(rec, "chosen", where), _text(rec, "rejected", where)
    idx = 0
    for idx in range(min(len(chosen), len(rejected))):
        if chosen[idx] != rejected[idx]:
            if chosen[idx - 1] == " ":
                idx -= 1
            break
    return Row(where, "", chosen[:idx], chosen[idx:], rejected[idx:])


def _chat(rec: dict, where: str, columns: Any) -> Row:
    chosen = _messages(rec["chosen"], "chosen", where, columns)
    rejected = _messages(rec["rejected"], "rejected", where, columns)
    prompt = rec.get("prompt")
    if isinstance(prompt, (list, dict)):
        return Row(where, "", _messages(prompt, "prompt", where, columns), chosen, rejected)
    # TRL's maybe_extract_prompt: a prompt string beside full conversations is ignored; the
    # shared leading messages are the prompt. Replies alone after a string: it is the user turn.
    if isinstance(prompt, str) and chosen and chosen[0]["role"] == "assistant":
        return Row(where, "", [{"role": "user", "content": prompt}], chosen, rejected)
    n = 0
    while n < min(len(chosen), len(rejected)) and chosen[n] == rejected[n]:
        n += 1
    if n and n == min(len(chosen), len(rejected)):  # identical (or one extends the other):
        n -= 1                                      # the last shared turn is the reply
    return Row(where, "", chosen[:n], chosen[n:], rejected[n:])


def _messages_pair(rec: dict, where: str, columns: Any) -> Row:
    """axolotl's chat_template DPO type: the conversation so far in `messages`, the two replies
    as single messages."""
    return Row(where, "", chat_messages(rec, "messages", where, columns),
               _messages(rec["chosen"], "chosen", where, columns),
               _messages(rec["rejected"], "rejected", where, columns))


def _alpaca(rec: dict, where: str, columns: Any) -> Row:
    msgs = alpaca_messages({**rec, "output": ""}, where)[:-1]
    return Row(where, "", msgs, _reply(_text(rec, "chosen", where)),
               _reply(_text(rec, "rejected", where)))


def _sharegpt(rec: dict, where: str, columns: Any) -> Row:
    prompt = chat_messages(rec, "conversations", where, columns)
    return Row(where, "", prompt, _messages(rec["chosen"], "chosen", where, columns),
               _messages(rec["rejected"], "rejected", where, columns))


def _system_user(rec: dict, key: str, where: str) -> list[dict]:
    msgs = []
    system = as_text(rec.get("system"), where, "system")
    if system:
        msgs.append({"role": "system", "content": system})
    msgs.append({"role": "user", "content": _text(rec, key, where)})
    return msgs


def _intel(rec: dict, where: str, columns: Any) -> Row:
    return Row(where, "", _system_user(rec, "question", where),
               _reply(_text(rec, "chosen", where)), _reply(_text(rec, "rejected", where)))


def _argilla(rec: dict, where: str, columns: Any) -> Row:
    return Row(where, "", _system_user(rec, "instruction", where),
               _reply(_text(rec, "chosen_response", where)),
               _reply(_text(rec, "rejected_response", where)))


def _kto(rec: dict, where: str, columns: Any) -> Row:
    label = parse_label(rec["label"], where, "label")
    prompt, completion = rec.get("prompt"), rec["completion"]
    if isinstance(prompt, (list, dict)) or isinstance(completion, (list, dict)):
        p = _messages(prompt, "prompt", where, columns) if isinstance(prompt, (list, dict)) \
            else [{"role": "user", "content": _text(rec, "prompt", where)}]
        c = _messages(completion, "completion", where, columns) \
            if isinstance(completion, (list, dict)) else _reply(_text(rec, "completion", where))
        return Row(where, "", p, completion=c, label=label)
    return Row(where, "", _text(rec, "prompt", where), completion=_text(rec, "completion", where),
               label=label)


def _kto_tag(rec: dict, where: str, columns: Any) -> Row:
    key = "conversations" if "conversations" in rec else "messages"
    msgs = chat_messages(rec, key, where, columns)
    if not msgs or msgs[-1]["role"] != "assistant":
        raise InputError(f"{where}: the last turn of {key!r} must be the assistant's reply (the "
                         "completion kto_tag judges)", field=f"{key}[-1].role", value=where,
                         fix="end the conversation with the assistant's reply")
    return Row(where, "", msgs[:-1], completion=msgs[-1:],
               label=parse_label(rec["kto_tag"] if "kto_tag" in rec else rec["label"], where,
                                 "kto_tag" if "kto_tag" in rec else "label"))


_BUILD: dict[str, Callable[[dict, str, Any], Row]] = {
    "explicit": _explicit, "implicit": _implicit, "chat": _chat, "messages": _messages_pair,
    "alpaca": _alpaca,
    "sharegpt": _sharegpt, "intel": _intel, "argilla": _argilla, "kto": _kto,
    "kto_tag": _kto_tag,
}


def parse_label(v: Any, where: str, key: str = "label") -> bool:
    """A KTO label: a boolean, 0/1, or the strings true/false (yes/no) in any case."""
    if isinstance(v, bool):
        return v
    if isinstance(v, (int, float)) and v in (0, 1):
        return bool(v)
    if isinstance(v, str) and v.strip().lower() in _TRUE + _FALSE:
        return v.strip().lower() in _TRUE
    raise InputError(f"{where}: {key} is {v!r}, not a boolean", field=key, value=v,
                     fix=f"{key}: true for a desirable completion, false for an undesirable one "
                         "(0/1 and \"true\"/\"false\" are read too)")


def _empty(v: Any) -> bool:
    if isinstance(v, list):
        return not any(str(m.get("content") or "").strip() or m.get("tool_calls") for m in v
                       if m.get("role") == "assistant")
    return not str(v or "").strip()


def _check(row: Row) -> None:
    """Refuse rows no trainer can learn from or TRL would fail on, naming the field."""
    answers = (("completion", row.completion),) if row.shape in KTO_SHAPES else \
        (("chosen", row.chosen), ("rejected", row.rejected))
    for key, value in answers:
        if _empty(value):
            raise InputError(f"{row.where}: {key} is empty", field=key, value=row.where,
                             fix=f"give the record a non-empty {key}, or delete it")
    if not row.chat:
        return
    if not row.prompt:
        raise InputError(f"{row.where}: chosen and rejected share no leading messages, so there "
                         "is no prompt", field="prompt", value=row.where,
                         fix="start chosen and rejected with the same user turn(s), or give a "
                             "prompt message list")
    for key, value in answers:
        field_ = {"sharegpt": "conversations", "kto_tag": "messages"}.get(row.shape, key)
        check_chat(row.prompt + value, row.where, field_)
        if value[0]["role"] != "assistant" or value[-1]["role"] != "assistant":
            raise InputError(f"{row.where}: {key} must start and end with the assistant's reply "
                             f"(found {value[0]['role']} ... {value[-1]['role']})",
                             field=f"{key}[0].role", value=row.where,
                             fix="the prompt holds every turn before the reply; chosen/rejected "
                                 "hold the reply")


def shape_objective_check(row: Row, objective: str) -> None:
    """Paired data for kto, or kto rows for a paired objective: what to do instead."""
    if objective in UNPAIRED and row.shape not in KTO_SHAPES:
        raise InputError(
            f"{row.where}: this is paired preference data ({SHAPE_LABELS[row.shape]}) but "
            "train.objective is kto, which trains on single completions each labelled "
            "desirable or not", field="train.objective", value=objective,
            fix="use train.objective dpo (or orpo) for pairs, or unpair the data: each pair "
                "becomes {prompt, completion: chosen, label: true} and {prompt, completion: "
                "rejected, label: false} (TRL's unpair_preference_dataset does this)")
    if objective in PAIRED_OBJECTIVES and row.shape in KTO_SHAPES:
        raise InputError(
            f"{row.where}: this is KTO data ({SHAPE_LABELS[row.shape]}: one completion with a "
            f"label) but train.objective is {objective}, which needs a chosen and a rejected "
            "answer per prompt", field="train.objective", value=objective,
            fix="use train.objective kto for labelled completions, or give pairs "
                "{prompt, chosen, rejected}")


def read_source(src: Any, objective: str, cancel: Callable[[], bool] | None = None) -> list[Row]:
    """Every row of one source, one shape per file (as data_sources.one_shape for SFT)."""
    rows: list[Row] = []
    first: dict[str, Row] = {}
    for i, (rec, where) in enumerate(iter_records(src)):
        if cancel is not None and i % 256 == 0 and cancel():
            raise Cancelled()
        row = read_row(rec, where, src.columns)
        shape_objective_check(row, objective)
        file = where.rsplit(":", 1)[0] if ":" in where and not where.endswith("]") \
            else where.rsplit("[", 1)[0]
        head = first.setdefault(file, row)
        if row.shape != head.shape:
            raise InputError(
                f"{row.where}: this record is {SHAPE_LABELS[row.shape]} but {head.where} is "
                f"{SHAPE_LABELS[head.shape]}: one file holds one shape", field="data.train",
                value=row.where, fix="fix or delete that record, or put each shape in its own file")
        rows.append(row)
    return rows


# ---------------------------------------------------------------- TRL's token arithmetic

@dataclass
class Lengths:
    """One row measured as its trainer tokenizes it. `prompt`: the trainer's prompt ids;
    `chosen`/`rejected` (kto: `chosen` is prompt + completion): the whole sequence before the
    collator truncates it to block_size; `dropped`: why the trainer would drop it, or ''."""

    prompt: int
    chosen: int
    rejected: int = 0
    dropped: str = ""


class Measure:
    """Replays the tokenization of TRL 1.16's trainers (dpo_trainer/kto_trainer/reward_trainer
    `_prepare_dataset`, experimental ORPOTrainer.tokenize_row) on our Encoder, which gives the
    same ids as the transformers tokenizer TRL calls (tested against the real trainers)."""

    BATCH = 512

    def __init__(self, enc: Any, objective: str, block: int, truncation: str) -> None:
        self.enc, self.objective, self.block, self.truncation = enc, objective, block, truncation
        tok = enc.tok
        eos = getattr(tok, "eos_token", None)
        self.eos_text = eos if isinstance(eos, str) else ""
        self.bos = getattr(tok, "bos_token_id", None)

    def rows(self, rows: list[Row], cancel: Callable[[], bool] | None = None,
             tick: Callable[[float], None] | None = None) -> list[Lengths]:
        """Lengths of every row, a batch at a time (`tick(fraction done)` after each)."""
        out: list[Lengths] = []
        for start in range(0, len(rows), self.BATCH):
            if cancel is not None and cancel():
                raise Cancelled()
            batch = rows[start:start + self.BATCH]
            out += [self.lengths(r, seq) for r, seq in zip(batch, self.sequences(batch))]
            if tick is not None:
                tick(len(out) / len(rows))
        return out

    def sequences(self, rows: list[Row]) -> list[tuple[int, list[list[int]]]]:
        """For each row (the trainer's prompt length, [each sequence's ids before the collator
        cuts it at block_size]): prompt + chosen and prompt + rejected, or prompt + completion."""
        for r in rows:
            if r.chat:
                self._check_tools(r)
        if self.objective == "orpo":
            return [self._orpo(r) for r in rows]
        texts = [self._texts(r) for r in rows]
        ids: dict[int, list[list[int]]] = {}
        for special in (False, True):  # chats: rendering without specials; text: with
            idx = [i for i, r in enumerate(rows) if r.chat != special]
            flat = [t for i in idx for t in texts[i]]
            out = self.enc.encode(flat, special) if flat else []
            k = 0
            for i in idx:
                ids[i] = [list(x) for x in out[k:k + len(texts[i])]]
                k += len(texts[i])
        result = []
        for i in range(len(rows)):
            p, full = ids[i][0], ids[i][1:]
            result.append((min(common_prefix(p, f) for f in full), full))
        return result

    def lengths(self, row: Row, seq: tuple[int, list[list[int]]]) -> Lengths:
        """A row's Lengths and whether (why) its trainer would drop it."""
        plen, full = seq
        n = [len(f) for f in full] + [0]
        block = self.block
        if self.objective == "reward":
            # RewardTrainer: prompt + chosen and prompt + rejected whole; over max_length: dropped.
            why = f"prompt + chosen or rejected over block_size {block}" \
                if max(n) > block else ""
        else:  # dpo (keep_start), kto: the prompt alone fills max_length; orpo: ours, module doc
            filt = self.objective != "dpo" or self.truncation == "keep_start"
            why = f"prompt alone is {block}+ tokens" if filt and plen >= block else ""
        return Lengths(plen, n[0], n[1], why)

    # dpo / kto / reward: text through tokenizer(text) (specials added, EOS appended to the
    # completions as text), chats through apply_chat_template(tokenize=True) = the rendering
    # tokenized without specials. The first text is the prompt alone (with the generation prompt).
    def _check_tools(self, row: Row) -> None:
        """Tool calls, results and schemas the template would drop are refused as for SFT
        (data_prep.check_tool_chat); TRL 1.16's ORPOTrainer renders chats without the
        record's tools, so schemas are refused there."""
        from ftwizard.core.data_prep import check_tool_chat

        answers = [row.completion] if row.shape in KTO_SHAPES else [row.chosen, row.rejected]
        field_ = {"sharegpt": "conversations", "kto_tag": "messages"}.get(row.shape, "prompt")
        for a in answers:
            check_tool_chat(row.prompt + a, row.tools, row.where, self.enc, field_)
        if row.tools and self.objective == "orpo":
            raise InputError(f"{row.where}: this pair has tool schemas (tools), which TRL's "
                             "ORPO trainer does not pass to the chat template, so it would "
                             "train without them", field="train.objective", value="orpo",
                             fix="use train.objective dpo for tool-calling pairs, or drop the "
                                 "tools field from the data")

    def _texts(self, row: Row) -> list[str]:
        enc = self.enc
        answers = [row.completion] if row.shape in KTO_SHAPES else [row.chosen, row.rejected]
        if row.chat:
            tools = row.tools or None
            full = [enc.render_chat(row.prompt + a, where=row.where, tools=tools)
                    for a in answers]
            return [enc.render_chat(row.prompt, add_generation_prompt=True, where=row.where,
                                    tools=tools), *full]
        ended = [a if a.endswith(self.eos_text) or not self.eos_text else a + self.eos_text
                 for a in answers]
        return [row.prompt, *[row.prompt + a for a in ended]]

    # orpo: TRL's experimental ORPOTrainer renders chats to strings first (maybe_apply_chat_
    # template), then tokenizes without specials, splits where the prompt's ids stop matching,
    # and adds BOS / EOS itself when missing.
    def _orpo(self, row: Row) -> tuple[int, list[list[int]]]:
        enc = self.enc
        prompt, chosen, rejected = row.prompt, row.chosen, row.rejected
        if row.chat:
            p = enc.render_chat(prompt, add_generation_prompt=True, where=row.where)
            pc = enc.render_chat(prompt + chosen, where=row.where)
            pr = enc.render_chat(prompt + rejected, where=row.where)
            p = p[:common_prefix(p, pc)]
            p = p[:common_prefix(p, pr)]
            prompt, chosen, rejected = p, pc[len(p):], pr[len(p):]
        p_ids, c_full, r_full = enc.encode([prompt, prompt + chosen, prompt + rejected], False)
        seqs, plens = [], []
        for full in (list(c_full), list(r_full)):
            start = len(p_ids) - (0 if list(p_ids) == full[:len(p_ids)] else 1)
            head, answer = full[:start], full[start:]
            if self.bos is not None and (not head or head[0] != self.bos):
                head = [self.bos] + head
            if not answer or answer[-1] != enc.eos:
                answer = answer + [enc.eos]
            seqs.append(head + answer)
            plens.append(len(head))
        return min(plens), seqs


# ---------------------------------------------------------------- reading, splitting, mixing

@dataclass
class Part:
    label: str
    weight: float
    role: str
    rows: list[Row] = field(default_factory=list)
    lengths: list[Lengths] = field(default_factory=list)
    train: list[int] = field(default_factory=list)   # indices into rows
    val: list[int] = field(default_factory=list)
    dropped: list[int] = field(default_factory=list)


@dataclass
class Analysis:
    parts: list[Part]
    objective: str
    block: int
    seed: int
    exact: bool
    tokenizer: str
    notes: list[str] = field(default_factory=list)

    @property
    def train_parts(self) -> list[Part]:
        return [p for p in self.parts if p.role == "train"]

    def plan(self) -> list[tuple[int, int]]:
        """(train part, position in its train list) in training order: SFT's mix_plan."""
        return mix_plan([len(p.train) for p in self.train_parts],
                        [p.weight for p in self.train_parts], self.seed)

    def train_rows(self) -> list[tuple[Row, Lengths]]:
        parts = self.train_parts
        return [(parts[i].rows[parts[i].train[j]], parts[i].lengths[parts[i].train[j]])
                for i, j in self.plan()]

    def val_rows(self) -> list[tuple[Row, Lengths]]:
        return [(p.rows[k], p.lengths[k]) for p in self.parts for k in p.val]


def analyse(data: DataSection, train: TrainSection, enc: Any, *, seed: int,
            progress: Callable[[float], None] | None = None,
            cancel: Callable[[], bool] | None = None) -> Analysis:
    """Read every source, measure each row as its trainer will (enc None: from characters, and
    nothing can be dropped), drop what the trainer would drop, split and mix."""
    objective = train.objective
    report = progress or (lambda f: None)
    srcs = data_sources(data)
    ratio = data.validation.split if data.validation is not None and data.validation.split else 0
    total_w = sum(s.weight for s, r in srcs if r == "train")
    measure = Measure(enc, objective, data.block_size, train.preference.truncation) \
        if enc is not None else None
    parts: list[Part] = []
    kinds: dict[bool, str] = {}
    for k, (src, role) in enumerate(srcs):
        rows = read_source(src, objective, cancel)
        for r in rows[:1]:
            kinds.setdefault(r.chat, r.where)
        if len(kinds) > 1:
            raise InputError(
                f"{kinds[True]} is chat data and {kinds[False]} is plain text: TRL's trainers "
                "take one kind per run", field="data.train", value=src.path,
                fix="give every source as message lists, or every source as text")
        label = src.path if is_hf(src.path) else _label(src)
        part = Part(label=label, weight=src.weight / total_w if role == "train" else 0.0,
                    role=role, rows=rows)
        if measure is not None:
            part.lengths = measure.rows(
                rows, cancel, lambda f, k=k: report((k + 0.1 + 0.9 * f) / len(srcs)))
        else:
            part.lengths = [_approx(r) for r in rows]
        keep = [i for i, n in enumerate(part.lengths) if not n.dropped]
        part.dropped = [i for i, n in enumerate(part.lengths) if n.dropped]
        if role == "validation":
            part.val = keep
        else:
            held = validation_indices(len(keep), ratio, seed, f"{k}:{src.path}")
            part.train = [i for j, i in enumerate(keep) if j not in held]
            part.val = [i for j, i in enumerate(keep) if j in held]
        parts.append(part)
        report((k + 1) / len(srcs))
    a = Analysis(parts, objective, data.block_size, seed, measure is not None,
                 enc.name if enc is not None else "approximate")
    if not any(p.train for p in a.train_parts):
        where = ", ".join(p.label for p in a.train_parts)
        dropped = sum(len(p.dropped) for p in a.parts)
        why = f" ({dropped} dropped: too long for block_size {data.block_size})" if dropped else ""
        raise InputError(f"no training rows left in {where}{why}", field="data.train",
                         value=where, fix="check the files; raise data.block_size if rows were "
                                          "dropped as too long")
    return a


def _approx(row: Row) -> Lengths:
    from ftwizard.core.data_tokens import APPROX_CHARS_PER_TOKEN

    def chars(v: Any) -> int:
        if isinstance(v, list):
            return sum(len(str(m.get("content") or "")) + len(str(m.get("tool_calls") or ""))
                       + 8 for m in v)
        return len(v or "")

    p = round(chars(row.prompt) / APPROX_CHARS_PER_TOKEN)
    answers = [row.completion] if row.shape in KTO_SHAPES else [row.chosen, row.rejected]
    full = [p + round(chars(a) / APPROX_CHARS_PER_TOKEN) + 1 for a in answers]
    return Lengths(p, full[0], full[1] if len(full) > 1 else 0)


def _label(src: Any) -> str:
    files = source_files(src)
    return src.path if len(files) == 1 else f"{src.path} ({len(files)} files)"


def preference_sets(cfg: RunConfig, tokenizer: Any) -> tuple[list[dict], list[dict] | None]:
    """(train_rows, val_rows | None) in TRL's dataset shape for cfg.train.objective, filtered as
    the trainer filters (module doc), so `len(train_rows)` is the trainer's dataset length.

    `tokenizer`: the one the trainer gets; data.chat_template, if set, is put on it here (as SFT
    does), so TRL renders the conversations with it."""
    from ftwizard.core.data_tokens import Encoder

    if not is_preference(cfg.train):
        raise ValueError("preference_sets is for train.objective dpo, orpo, kto or reward")
    enc = Encoder(tokenizer, cfg.model.pad_token_id, cfg.data.chat_template)
    a = analyse(cfg.data, cfg.train, enc, seed=cfg.train.seed)
    train = [r.trl() for r, _ in a.train_rows()]
    val = [r.trl() for r, _ in a.val_rows()]
    if any("tools" in r for r in train + val):  # one column for datasets.Dataset.from_list
        for r in train + val:
            r.setdefault("tools", None)
    return train, (val if cfg.data.validation is not None else None)


# ---------------------------------------------------------------- statistics for the plan

def _chars(v: Any) -> int:
    if isinstance(v, list):
        return sum(len(str(m.get("content") or "")) + len(str(m.get("tool_calls") or ""))
                   for m in v)
    return len(v or "")


def _fingerprint(row: Row) -> str:
    import json

    return json.dumps(row.trl(), sort_keys=True, ensure_ascii=False)


def stats_from(a: Analysis) -> Any:
    """DataStats of a preference analysis: the SFT fields where they mean the same (sequences =
    training rows: pairs, or kto completions; tokens = tokens of every sequence the trainer runs
    per epoch, truncated to block_size) and the preference fields (data_stats.DataStats)."""
    from ftwizard.core.data_stats import DataStats, length_histogram
    from ftwizard.core.data_tokens import APPROX_ERROR

    block = a.block
    kto = a.objective in UNPAIRED
    train = a.train_rows()
    cut = [(min(n.prompt, block), min(n.chosen, block), min(n.rejected, block)) for _, n in train]
    k = max(1, len(cut))
    seq_tokens = [c + r for _, c, r in cut]
    reasons: dict[str, int] = {}
    first_dropped: dict[str, str] = {}
    per_source = []
    formats: dict[str, int] = {}
    identical = duplicates = 0
    seen: set[str] = set()
    lengths_all: list[int] = []
    plan_counts = {i: 0 for i in range(len(a.train_parts))}
    for i, _ in a.plan():
        plan_counts[i] += 1
    ti = 0
    for p in a.parts:
        for idx in p.dropped:
            why = p.lengths[idx].dropped
            reasons[why] = reasons.get(why, 0) + 1
            first_dropped.setdefault(why, p.rows[idx].where)
        for row, n in zip(p.rows, p.lengths):
            formats[row.shape] = formats.get(row.shape, 0) + 1
            lengths_all.append(max(n.chosen, n.rejected))
            if not kto and row.chosen == row.rejected:
                identical += 1
            fp = _fingerprint(row)
            duplicates += fp in seen
            seen.add(fp)
        src = {"path": p.label, "role": p.role, "examples": len(p.rows),
               "characters": sum(_chars(r.prompt) + _chars(r.chosen) + _chars(r.rejected)
                                 + _chars(r.completion) for r in p.rows),
               "tokens": sum(min(n.chosen, block) + min(n.rejected, block)
                             for n in p.lengths if not n.dropped),
               "validation_examples": len(p.val), "dropped": len(p.dropped),
               "formats": {}}
        for row in p.rows:
            src["formats"][row.shape] = src["formats"].get(row.shape, 0) + 1
        if p.role == "train":
            src.update(weight=round(p.weight, 6), sequences=len(p.train),
                       mixed_sequences=plan_counts[ti], tokens_dropped=0)
            ti += 1
        per_source.append(src)
    hist = length_histogram(lengths_all)
    notes = list(a.notes)
    for why, count in reasons.items():
        notes.append(f"{count:,} {'rows' if kto else 'pairs'} dropped: {why} (first: "
                     f"{first_dropped[why]}); the trainer would drop them too (raise "
                     "data.block_size to keep them)")
    if identical:
        notes.append(f"{identical:,} pairs have chosen == rejected: they teach nothing (DPO's "
                     "loss is ln 2 with no gradient there); kept, as TRL keeps them")
    over = sum(1 for n in lengths_all if n > block)
    if not a.exact:
        notes.append("token counts are approximate (no tokenizer): rows too long for "
                     "block_size cannot be found, so none is dropped here")
    des = sum(1 for r, _ in train if r.label) if kto else 0
    return DataStats(
        objective=a.objective, examples=sum(len(p.rows) for p in a.parts),
        characters=sum(s["characters"] for s in per_source), tokens=sum(seq_tokens),
        tokens_exact=a.exact, tokens_error=0.0 if a.exact else APPROX_ERROR, histogram=hist,
        longest_tokens=max(lengths_all, default=0), over_block=over,
        over_block_share=over / len(lengths_all) if lengths_all else 0.0,
        sequences=len(train), validation_sequences=sum(len(p.val) for p in a.parts),
        validation_examples=sum(len(p.val) for p in a.parts), duplicates=duplicates,
        per_source=per_source, tokenizer=a.tokenizer, mode="entries", block_size=block,
        formats=formats, notes=notes,
        trained_tokens=(None if a.objective == "reward" or not a.exact else
                        sum(c + r - (p if kto else 2 * p) for p, c, r in cut)),
        prompt_tokens_mean=round(sum(p for p, _, _ in cut) / k, 2),
        prompt_tokens_max=max((p for p, _, _ in cut), default=0),
        chosen_tokens_mean=0.0 if kto else round(sum(c for _, c, _ in cut) / k, 2),
        chosen_tokens_max=0 if kto else max((c for _, c, _ in cut), default=0),
        rejected_tokens_mean=0.0 if kto else round(sum(r for _, _, r in cut) / k, 2),
        rejected_tokens_max=0 if kto else max((r for _, _, r in cut), default=0),
        completion_tokens_mean=round(sum(c for _, c, _ in cut) / k, 2) if kto else 0.0,
        completion_tokens_max=max((c for _, c, _ in cut), default=0) if kto else 0,
        dropped=sum(reasons.values()), dropped_reasons=reasons, identical_pairs=identical,
        desirable=des, undesirable=len(train) - des if kto else 0)


def first_rows(data: DataSection, objective: str, n: int) -> list[Row]:
    """The first `n` rows of the training sources, checked as analyse() checks them (for the
    preview: without reading the rest of a big file)."""
    out: list[Row] = []
    for src in data.train:
        first: Row | None = None
        for rec, where in iter_records(src):
            row = read_row(rec, where, src.columns)
            shape_objective_check(row, objective)
            first = first or row
            if row.shape != first.shape:
                raise InputError(
                    f"{row.where}: this record is {SHAPE_LABELS[row.shape]} but {first.where} is "
                    f"{SHAPE_LABELS[first.shape]}: one file holds one shape", field="data.train",
                    value=row.where, fix="fix or delete that record, or put each shape in its "
                                         "own file")
            out.append(row)
            if len(out) >= n:
                return out
    return out
