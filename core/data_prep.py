"""From examples to training sequences: the one code path the plan's count and the trainer share.

:func:`analyse` loads every source, drops empty examples, splits off validation, and measures each
example in tokens (exactly, or for big data from a sample). The sequence count comes from
:func:`source_sequences` and :func:`mix_plan` on those lengths; :func:`pack_source` builds the
very sequences those functions counted, so `len(prepare(...).train) == inspect(...).sequences`.

Rules (shown by `ftwizard data inspect` too):
- every example gets EOS appended (unless the tokenizer already ended it with EOS);
- corpus mode: each source's examples are concatenated and cut into block_size chunks; the last
  partial chunk is dropped, as HF's group_texts does (reported as tokens dropped);
- entries mode: one example per sequence, truncated to block_size, padded to block_size with the
  pad id (tokenizer's pad, else model.pad_token_id, else EOS); padding has attention 0 and label
  -100;
- loss mask (entries mode), `data.train_on`: `completion` trains the completion of
  prompt/completion data and every assistant turn of a chat (its reply and the template's end of
  turn; the appended EOS after a final reply), nothing else; `last_turn` only the last assistant
  turn; `all` every token (as does `mask_prompt: false`). Text examples are trained whole. The
  turns are found by rendering the chat up to each reply (with the generation prompt) and up to
  its end, and marking the tokens whose characters lie between (render-and-diff); a transformers
  tokenizer whose template marks replies with {% generation %} gives its own assistant mask
  instead, and the tests check both agree. An assistant turn that calls tools is a reply like
  any other (the call is the model's output); tool results are inputs and never trained; the
  record's tool schemas are rendered into the prompt by the template (`tools=`), and a template
  that would drop calls, results or schemas is refused (check_tool_chat), never trained empty;
- packing (entries mode, `data.packing`): the truncated examples of a source are put into blocks
  best-fit-decreasing (longest first, each into the fullest block it still fits, deterministic);
  a block holds the examples back to back with position ids restarting at 0 for each, then
  padding; the first label of each example is -100 (it would be predicted from the previous
  example), and the collator passes position ids without an attention mask so the model's
  attention stays within each example (transformers' packed-sequence mask);
- validation split: entries mode holds out round(split x n) examples of each source (at least 1
  when it has 2 or more, always leaving 1 for training), drawn at random with the seed, before
  packing; corpus mode splits *sequences*, not files or examples: each source is packed whole and
  round(split x sequences) of its block_size chunks (same rule) are held out at random with the
  seed, so one text file with `split: 0.1` gives a tenth of its blocks to validation;
- mixing: weights are normalised; with N the sum of all sources' sequence counts, source i gives
  round(w_i x N) sequences: all of them in order when that equals its count, a sample without
  replacement when fewer, whole repeats plus a sample when more; the result is shuffled with the
  seed.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from ftwizard.core.config import DataSection, DataSource
from ftwizard.core.data_sources import Cancelled, Example, load_examples, source_files, is_hf
from ftwizard.core.data_tokens import APPROX_CHARS_PER_TOKEN, APPROX_ERROR, Encoder
from ftwizard.core.errors import InputError

IGNORE = -100
EXACT_CHARS = 2_000_000
"""Up to this many characters every example is tokenized (~3 s here with the tiny BPE); above,
a random sample of SAMPLE_CHARS is, and the count is extrapolated with a stated bound."""
SAMPLE_CHARS = 1_000_000
WINDOW_CHARS = 16_384
ENCODE_BATCH = 512

Spans = tuple[tuple[int, int], ...] | None
Encoded = tuple[list[int], Spans]
"""(ids with EOS, the [start, end) token ranges of completions / assistant turns; None for text,
which is trained whole)."""


# ---------------------------------------------------------------- encoding

def encode_examples(examples: list[Example], enc: Encoder, *,
                    tick: Callable[[int], None] | None = None,
                    cancel: Callable[[], bool] | None = None) -> list[Encoded]:
    """Token ids of each example with EOS appended, and the token ranges that are replies."""
    out: list[Encoded] = []
    for start in range(0, len(examples), ENCODE_BATCH):
        if cancel is not None and cancel():
            raise Cancelled()
        batch = examples[start:start + ENCODE_BATCH]
        out.extend(_encode_batch(batch, enc))
        if tick is not None:
            tick(len(batch))
    return out


def _encode_batch(batch: list[Example], enc: Encoder) -> list[Encoded]:
    # Gather every piece of text by how it is tokenized, encode each group in one call (the Rust
    # tokenizer parallelises a batch), then put the examples back together.
    special: list[str] = []
    plain: list[str] = []
    chats: list[tuple[str, list[tuple[int, int]]]] = []
    plan: list[tuple[str, int, int]] = []
    for ex in batch:
        if ex.messages is not None:
            chats.append(render_turns(ex, enc))
            plan.append(("chat", len(chats) - 1, 0))
        elif ex.text is not None:
            special.append(ex.text)
            plan.append(("text", len(special) - 1, 0))
        else:
            special.append(ex.prompt or "")
            plain.append(ex.completion or "")
            plan.append(("prompt", len(special) - 1, len(plain) - 1))
    s_ids = enc.encode(special, True)
    p_ids = enc.encode(plain, False)
    c_enc = enc.encode_offsets([text for text, _ in chats])
    out: list[Encoded] = []
    for (kind, a, b), ex in zip(plan, batch):
        spans: Spans
        if kind == "text":
            ids, spans = list(s_ids[a]), None
        elif kind == "prompt":
            ids = list(s_ids[a]) + list(p_ids[b])
            spans = ((len(s_ids[a]), len(ids)),)
        else:
            ids, offsets = list(c_enc[a][0]), c_enc[a][1]
            spans = _chat_spans(ex, enc, chats[a], ids, offsets)
        if not ids or ids[-1] != enc.eos:
            ids.append(enc.eos)
            if spans and spans[-1][1] == len(ids) - 1 and (kind == "prompt" or _ends_with_reply(ex)):
                spans = spans[:-1] + ((spans[-1][0], len(ids)),)  # the EOS ends the last reply
        out.append((ids, spans))
    return out


def _ends_with_reply(ex: Example) -> bool:
    return bool(ex.messages) and ex.messages[-1].get("role") == "assistant"


def render_turns(ex: Example, enc: Encoder) -> tuple[str, list[tuple[int, int]]]:
    """The rendered chat and, for each assistant turn, the [start, end) characters of its reply:
    from the end of the conversation rendered up to it with the generation prompt, to the end of
    the conversation rendered up to and including it (the template's end-of-turn marker
    included). An assistant turn that calls tools is such a reply (the call is the model's
    output); tool results are inputs, never inside a span. The record's tool schemas are passed
    to every rendering. Refuses the bad conversations core/data_formats.check_chat names, and
    tool calls the template cannot render (:func:`check_tools`)."""
    from ftwizard.core.data_formats import check_chat

    msgs = ex.messages or []
    check_chat(msgs, ex.source, "conversations" if ex.shape == "sharegpt" else "messages")
    check_tools(ex, enc)
    tools = ex.tools or None
    full = enc.render_chat(msgs, where=ex.source, tools=tools)
    spans: list[tuple[int, int]] = []
    for i, m in enumerate(msgs):
        if m.get("role") != "assistant":
            continue
        before = enc.render_chat(msgs[:i], add_generation_prompt=True, where=ex.source,
                                 tools=tools)
        upto = enc.render_chat(msgs[:i + 1], where=ex.source, tools=tools)
        start, end = _common_chars(before, full), _common_chars(upto, full)
        if end > start:
            spans.append((start, end))
    return full, spans


def check_tools(ex: Example, enc: Encoder) -> None:
    """Refuse a chat whose tool calls, results or schemas the chat template would drop
    (:func:`check_tool_chat`)."""
    check_tool_chat(ex.messages or [], ex.tools, ex.source, enc,
                    "conversations" if ex.shape == "sharegpt" else "messages")


def check_tool_chat(msgs: list[dict], tools: list[dict] | None, where: str, enc: Encoder,
                    field: str = "messages") -> None:
    """Refuse a conversation with tool calls, results or schemas that the chat template would
    drop (chat_templates.tool_support): a template without tool support renders a call turn as
    its empty content, and the model would be trained on empty replies. Preference data
    (core/preference_data.py) is checked by the same rule."""
    from ftwizard.core.chat_templates import TOOL_TEMPLATES, tool_support

    needs = {"calls": any(m.get("tool_calls") for m in msgs),
             "results": any(m.get("role") == "tool" for m in msgs),
             "tools": bool(tools)}
    if not any(needs.values()):
        return
    template = getattr(enc.tok, "chat_template", None)
    if not isinstance(template, str):
        return  # no template at all: render_chat says so, with its own fix
    have, said = tool_support(template, lambda m, t: enc.tok.apply_chat_template(
        m, tokenize=False, tools=t))
    missing = [k for k, v in needs.items() if v and not have[k]]
    if not missing:
        return
    what = [{"calls": "tool calls", "results": "tool results",
             "tools": "tool schemas (tools)"}[k] for k in missing]
    listed = " and ".join(what) if len(what) < 3 else f"{what[0]}, {what[1]} and {what[2]}"
    because = f" (it says: {said})" if said else ""
    raise InputError(
        f"{where}: this conversation has {listed}, but the "
        f"chat template of {enc.name} does not render them{because}; training it would teach "
        "the model empty or tool-less assistant turns", field="data.chat_template",
        value=f"{where} ({field})",
        fix=f"choose a template that renders tools: data.chat_template: "
            f"{' or '.join(TOOL_TEMPLATES)}, the model's own tool-calling template (Qwen2.5's, "
            "Llama 3.1's ...) as a .jinja path, or a model.tokenizer whose template has them; "
            "or drop the tool turns (and the tools field) from the data")


def _common_chars(a: str, b: str) -> int:
    return len(a) if b.startswith(a) else common_prefix(a, b)


def _chat_spans(ex: Example, enc: Encoder, rendered: tuple[str, list[tuple[int, int]]],
                ids: list[int], offsets: list[tuple[int, int]] | None) -> Spans:
    """Token ranges of the assistant turns: transformers' assistant mask when the template marks
    the replies (and gives the same ids), else the rendered character ranges mapped to tokens
    (a token belongs to the turn its first character is in)."""
    hf = enc.hf_assistant_mask(ex.messages or [], ex.tools or None)
    if hf is not None and hf[0] == ids:
        return mask_to_spans(hf[1])
    text, char_spans = rendered
    if offsets is None:  # a slow tokenizer: token prefixes of the rendered prefixes
        cuts = [c for span in char_spans for c in span]
        lens = [common_prefix(ids, p) for p in enc.encode([text[:c] for c in cuts], False)]
        return tuple((lens[k], lens[k + 1]) for k in range(0, len(lens), 2) if lens[k + 1] > lens[k])
    # As transformers marks a {% generation %} span: every token holding one of its characters.
    mask = [int(any(a < e and max(b, a + 1) > s for s, e in char_spans)) for a, b in offsets]
    return mask_to_spans(mask)


def mask_to_spans(mask: list[int]) -> tuple[tuple[int, int], ...]:
    out: list[tuple[int, int]] = []
    start = None
    for j, v in enumerate(list(mask) + [0]):
        if v and start is None:
            start = j
        elif not v and start is not None:
            out.append((start, j))
            start = None
    return tuple(out)


def trained_count(ids: list[int], spans: Spans, train_on: str, mode: str, block: int) -> int:
    """Tokens of one example that carry loss (entries mode: within block_size; corpus mode: all,
    the first token of each block aside, which nothing predicts)."""
    if mode == "corpus":
        return len(ids)
    n = min(len(ids), block)
    if spans is None or train_on == "all":
        return n - 1
    keep = spans[-1:] if train_on == "last_turn" else spans
    return sum(max(0, min(b, n) - max(a, 1)) for a, b in keep)


def labels_for(ids: list[int], spans: Spans, train_on: str) -> list[int]:
    """The labels of one example: its ids where trained, IGNORE elsewhere (module doc)."""
    if spans is None or train_on == "all":
        return list(ids)
    keep = spans[-1:] if train_on == "last_turn" else spans
    labels = [IGNORE] * len(ids)
    for a, b in keep:
        labels[a:b] = ids[a:b]
    return labels


def common_prefix(a: Sequence, b: Sequence) -> int:
    """How many leading items two sequences (strings or token ids) share."""
    if len(a) <= len(b) and a == b[:len(a)]:  # the usual case (a prompt inside its chat), at C speed
        return len(a)
    n = 0
    for x, y in zip(a, b):
        if x != y:
            break
        n += 1
    return n


# ---------------------------------------------------------------- counting, splitting, mixing

def source_sequences(lengths: list[int], mode: str, block: int,
                     packing: bool = False) -> tuple[int, int]:
    """(sequences, tokens dropped) for one source's token lengths (EOS included)."""
    if mode == "corpus":
        total = sum(lengths)
        return total // block, total % block
    dropped = sum(max(0, n - block) for n in lengths)
    if packing:
        return len(best_fit_decreasing([min(n, block) for n in lengths], block)), dropped
    return len(lengths), dropped


def best_fit_decreasing(lengths: list[int], block: int) -> list[list[int]]:
    """Bins of example indices, each summing to at most `block`: longest example first, each
    into the fullest bin it still fits (a sorted list of free space, so n log n), ties by index
    so the result only depends on the lengths. The planner counts these very bins."""
    import bisect

    order = sorted(range(len(lengths)), key=lambda i: (-lengths[i], i))
    bins: list[list[int]] = []
    free: list[tuple[int, int]] = []  # (free tokens, bin index), sorted
    for i in order:
        n = lengths[i]
        k = bisect.bisect_left(free, (n, -1))
        if k < len(free):
            room, b = free.pop(k)
        else:
            room, b = block, len(bins)
            bins.append([])
        bins[b].append(i)
        if room - n > 0:
            bisect.insort(free, (room - n, b))
    return bins


def padding_tokens(lengths: list[int], block: int, packing: bool) -> int:
    """Padding in the entries-mode sequences of these examples, packed or not."""
    kept = [min(n, block) for n in lengths]
    n_seq = len(best_fit_decreasing(kept, block)) if packing else len(kept)
    return n_seq * block - sum(kept)


def validation_indices(n: int, ratio: float, seed: int, salt: str) -> set[int]:
    if n < 2 or not ratio:
        return set()
    k = min(max(1, round(n * ratio)), n - 1)
    return set(random.Random(f"{seed}:{salt}:val").sample(range(n), k))


def mix_plan(counts: list[int], weights: list[float], seed: int) -> list[tuple[int, int]]:
    """(source, sequence) pairs of the mixed training set, in training order (see module doc)."""
    total_w = sum(weights)
    n = sum(counts)
    rng = random.Random(f"{seed}:mix")
    plan: list[tuple[int, int]] = []
    for i, (c, w) in enumerate(zip(counts, weights)):
        want = round(w / total_w * n) if total_w > 0 else c
        if c == 0 or want == 0:
            continue
        if want == c:
            picks = list(range(c))
        elif want < c:
            picks = sorted(rng.sample(range(c), want))
        else:
            q, r = divmod(want, c)
            picks = list(range(c)) * q + sorted(rng.sample(range(c), r))
        plan.extend((i, j) for j in picks)
    rng.shuffle(plan)
    return plan


def mixed_contributions(counts: list[int], weights: list[float]) -> list[int]:
    total_w, n = sum(weights), sum(counts)
    return [0 if c == 0 else round(w / total_w * n) for c, w in zip(counts, weights)]


# ---------------------------------------------------------------- packing

def pack_source(encoded: list[Encoded], mode: str, block: int, pad: int,
                train_on: str | bool = "completion",
                packing: bool = False) -> list[dict[str, list[int]]]:
    """The training sequences of one source, exactly `source_sequences(...)[0]` of them.
    `train_on` True/False is the old mask_prompt (completion / all)."""
    if isinstance(train_on, bool):
        train_on = "completion" if train_on else "all"
    out: list[dict[str, list[int]]] = []
    if mode == "corpus":
        stream: list[int] = []
        for ids, _ in encoded:
            stream.extend(ids)
        for start in range(0, len(stream) - block + 1, block):
            chunk = stream[start:start + block]
            out.append({"input_ids": chunk, "attention_mask": [1] * block, "labels": list(chunk)})
        return out
    cut = [(ids[:block], labels_for(ids, spans, train_on)[:block]) for ids, spans in encoded]
    if packing:
        for members in best_fit_decreasing([len(ids) for ids, _ in cut], block):
            x: list[int] = []
            y: list[int] = []
            pos: list[int] = []
            for i in members:
                ids, labels = cut[i]
                x += ids
                y += [IGNORE] + labels[1:]
                pos += list(range(len(ids)))
            fill = block - len(x)
            out.append({"input_ids": x + [pad] * fill, "attention_mask": [1] * len(x) + [0] * fill,
                        "labels": y + [IGNORE] * fill, "position_ids": pos + list(range(fill))})
        return out
    for ids, labels in cut:
        fill = block - len(ids)
        out.append({"input_ids": ids + [pad] * fill, "attention_mask": [1] * len(ids) + [0] * fill,
                    "labels": labels + [IGNORE] * fill})
    return out


# ---------------------------------------------------------------- analysis

@dataclass
class Part:
    """One source after loading: its examples split into train and validation, measured."""

    label: str
    weight: float
    role: str  # "train" (may hold a validation split too) or "validation" (a separate path)
    examples: int = 0
    characters: int = 0
    empty: int = 0
    train: list[Example] = field(default_factory=list)
    val: list[Example] = field(default_factory=list)
    train_len: list[int] = field(default_factory=list)
    val_len: list[int] = field(default_factory=list)
    train_enc: list[Encoded] | None = None
    val_enc: list[Encoded] | None = None
    seq_split: float = 0.0   # corpus mode: share of this source's packed sequences held out
    salt: str = ""
    formats: dict[str, int] = field(default_factory=dict)  # examples per format (data_formats)
    trained_tokens: int | None = None  # training examples' tokens that carry loss (exact only)

    def held_sequences(self, n: int, seed: int) -> set[int]:
        """Which of this source's `n` packed sequences are validation (corpus split)."""
        return validation_indices(n, self.seq_split, seed, self.salt) if self.seq_split else set()


@dataclass
class Analysis:
    parts: list[Part]
    mode: str
    block: int
    exact: bool
    error: float
    tokenizer: str
    duplicates: int
    notes: list[str]
    seed: int
    packing: bool = False
    train_on: str = "completion"

    @property
    def train_parts(self) -> list[Part]:
        return [p for p in self.parts if p.role == "train"]

    def counts(self) -> list[tuple[int, int]]:
        out = []
        for p in self.train_parts:
            n, dropped = source_sequences(p.train_len, self.mode, self.block, self.packing)
            out.append((n - len(p.held_sequences(n, self.seed)), dropped))
        return out

    def split_packed(self, part: Part, seqs: list[Any]) -> tuple[list[Any], list[Any]]:
        """(training, validation) sequences of one packed source, by the corpus split."""
        held = part.held_sequences(len(seqs), self.seed)
        return ([x for i, x in enumerate(seqs) if i not in held],
                [x for i, x in enumerate(seqs) if i in held])

    def plan(self) -> list[tuple[int, int]]:
        return mix_plan([c for c, _ in self.counts()], [p.weight for p in self.train_parts],
                        self.seed)

    def validation_sequences(self) -> int:
        held = 0
        for p in self.train_parts:
            if p.seq_split:
                n = source_sequences(p.train_len, self.mode, self.block, self.packing)[0]
                held += len(p.held_sequences(n, self.seed))
        return held + sum(source_sequences(p.val_len, self.mode, self.block, self.packing)[0]
                          for p in self.parts)


def packing_problem(config: Any) -> InputError | None:
    """Packing needs the PyTorch backend's packed attention (position ids, no attention mask);
    the JAX and pipeline backends read the attention mask and would let packed examples attend
    to each other. Checked by the plan (when chosen) and by prepare (before training)."""
    data, par = config.data, config.method.parallel
    if data.packing and data.mode == "entries" and par in ("jax", "pipeline"):
        return InputError(f"data.packing needs the PyTorch backend's packed attention; "
                          f"method.parallel={par} would let packed examples attend to each other",
                          field="data.packing", value=True,
                          fix="set data.packing=false for this backend")
    return None


def train_on_of(data: DataSection) -> str:
    """data.train_on, with the older `mask_prompt: false` meaning all."""
    return data.train_on if data.mask_prompt else "all"


def data_sources(data: DataSection) -> list[tuple[DataSource, str]]:
    """(source, role) for the training sources and a separate validation path, if any."""
    if not data.train:
        raise InputError("no training data given", field="data.train", value=None,
                         fix="add a source: data.train: [{path: my.jsonl}] "
                             "(CLI: ftwizard data inspect PATH)")
    out = [(s, "train") for s in data.train]
    if data.validation is not None and data.validation.path:
        first = data.train[0]
        out.append((DataSource(path=data.validation.path, text_field=first.text_field,
                               encoding=first.encoding, columns=first.columns), "validation"))
    return out


def analyse(data: DataSection, enc: Encoder | None, *, seed: int, exact: bool | None = None,
            keep_encoded: bool = False, progress: Callable[[float], None] | None = None,
            cancel: Callable[[], bool] | None = None) -> Analysis:
    """Load, split and measure every source; `exact=None` tokenizes all of small data and a
    sample of big data, True always tokenizes everything (prepare, count_sequences)."""
    from ftwizard.core.data_formats import check_chat

    report = progress or (lambda f: None)
    opts = {"packing": bool(data.packing and data.mode == "entries"),
            "train_on": train_on_of(data)}
    srcs = data_sources(data)
    ratio = data.validation.split if data.validation is not None and data.validation.split else 0
    total_w = sum(s.weight for s, r in srcs if r == "train")
    parts: list[Part] = []
    seen: set[bytes] = set()
    duplicates = 0
    for k, (src, role) in enumerate(srcs):
        if cancel is not None and cancel():
            raise Cancelled()
        label = src.path if is_hf(src.path) else _label(src)
        examples = load_examples(src, cancel=cancel)
        part = Part(label=label, weight=src.weight / total_w if role == "train" else 0.0, role=role)
        part.examples = len(examples)
        keep: list[Example] = []
        for ex in examples:
            part.characters += ex.characters()
            part.formats[ex.shape or ex.kind] = part.formats.get(ex.shape or ex.kind, 0) + 1
            if ex.messages is not None:
                check_chat(ex.messages, ex.source,
                           "conversations" if ex.shape == "sharegpt" else "messages")
            if ex.is_empty():
                part.empty += 1
                continue
            fp = ex.fingerprint()
            if fp in seen:
                duplicates += 1
            seen.add(fp)
            keep.append(ex)
        if role == "validation":
            part.val = keep
        elif data.mode == "corpus":
            part.train, part.seq_split, part.salt = keep, ratio, f"{k}:{src.path}"
        else:
            held = validation_indices(len(keep), ratio, seed, f"{k}:{src.path}")
            part.train = [ex for i, ex in enumerate(keep) if i not in held]
            part.val = [ex for i, ex in enumerate(keep) if i in held]
        parts.append(part)
        report(0.3 * (k + 1) / len(srcs))
    if sum(len(p.train) for p in parts) == 0:
        where = ", ".join(p.label for p in parts if p.role == "train")
        raise InputError(f"no non-empty training examples in {where}", field="data.train",
                         value=where, fix="check the files (and text_field)")
    notes: list[str] = []
    total_chars = sum(p.characters for p in parts)
    if enc is None:
        _approximate(parts, 1.0 / APPROX_CHARS_PER_TOKEN, extra=1)
        notes.append(f"token counts are approximate ({APPROX_CHARS_PER_TOKEN:g} characters per "
                     f"token, within about ±{APPROX_ERROR:.0%} for English text): no tokenizer")
        return Analysis(parts, data.mode, data.block_size, False, APPROX_ERROR, "approximate",
                        duplicates, notes, seed, **opts)
    if exact or (exact is None and total_chars <= EXACT_CHARS):
        n_all = sum(len(p.train) + len(p.val) for p in parts) or 1
        done = [0]

        def tick(n: int) -> None:
            done[0] += n
            report(0.3 + 0.7 * done[0] / n_all)

        for p in parts:
            te = encode_examples(p.train, enc, tick=tick, cancel=cancel)
            ve = encode_examples(p.val, enc, tick=tick, cancel=cancel)
            p.train_len, p.val_len = [len(i) for i, _ in te], [len(i) for i, _ in ve]
            p.trained_tokens = sum(trained_count(ids, spans, opts["train_on"], data.mode,
                                                 data.block_size) for ids, spans in te)
            if keep_encoded:
                p.train_enc, p.val_enc = te, ve
        return Analysis(parts, data.mode, data.block_size, True, 0.0, enc.name, duplicates,
                        notes, seed, **opts)
    rate, error, extra = _sample_rate(parts, enc, seed, cancel, report)
    _approximate(parts, rate, extra)
    notes.append(f"{total_chars:,} characters: tokens counted on a random sample of "
                 f"{SAMPLE_CHARS:,} characters and extrapolated (within ±{error:.1%}); examples, "
                 "characters and entries-mode sequences are exact")
    if opts["packing"]:
        notes.append("packed sequences are counted from the estimated lengths (exact when "
                     "training: every example is tokenized then)")
    return Analysis(parts, data.mode, data.block_size, False, error, enc.name, duplicates,
                    notes, seed, **opts)


def _label(src: DataSource) -> str:
    files = source_files(src)
    return src.path if len(files) == 1 else f"{src.path} ({len(files)} files)"


def _approximate(parts: list[Part], rate: float, extra: int) -> None:
    for p in parts:
        p.train_len = [max(1, round(ex.characters() * rate)) + extra for ex in p.train]
        p.val_len = [max(1, round(ex.characters() * rate)) + extra for ex in p.val]


def _sample_rate(parts: list[Part], enc: Encoder, seed: int, cancel: Any,
                 report: Callable[[float], None]) -> tuple[float, float, int]:
    """Tokens per character from a random sample, its relative error bound, and the fixed
    tokens per example (BOS from the tokenizer + the EOS we append)."""
    rng = random.Random(f"{seed}:sample")
    pool = [ex for p in parts for ex in p.train + p.val]
    order = list(range(len(pool)))
    rng.shuffle(order)
    texts: list[str] = []
    whole: list[Example] = []
    chars = 0
    for i in order:
        ex = pool[i]
        if ex.text is not None and len(ex.text) > WINDOW_CHARS:
            # Big documents (one large file): a few random windows, cut at whitespace.
            for _ in range(4):
                start = rng.randrange(0, len(ex.text) - WINDOW_CHARS + 1)
                w = ex.text[start:start + WINDOW_CHARS]
                a, b = w.find(" "), w.rfind(" ")
                w = w[a + 1:b] if 0 <= a < b else w
                texts.append(w)
                chars += len(w)
        elif ex.text is not None:
            texts.append(ex.text)
            chars += len(ex.text)
        else:
            whole.append(ex)
            chars += ex.characters()
        if chars >= SAMPLE_CHARS:
            break
    extra = len(enc.encode([""], True)[0]) + 1
    units: list[tuple[int, int]] = []  # (tokens, characters)
    for s in range(0, len(texts), ENCODE_BATCH):
        if cancel is not None and cancel():
            raise Cancelled()
        batch = texts[s:s + ENCODE_BATCH]
        units += [(len(ids), len(t)) for ids, t in zip(enc.encode(batch, False), batch)]
        report(0.3 + 0.7 * min(1.0, sum(c for _, c in units) / max(1, chars)))
    for (ids, _), ex in zip(encode_examples(whole, enc, cancel=cancel), whole):
        units.append((len(ids) - extra, ex.characters()))
    tot_t = sum(t for t, _ in units)
    tot_c = sum(c for _, c in units) or 1
    rate = tot_t / tot_c
    # Error bound: 3 standard errors of the ratio, from 16 interleaved groups of sample units,
    # plus 0.5 % for the window edges and the per-example rounding; never below 1 %.
    groups = [units[g::16] for g in range(16)]
    ratios = [sum(t for t, _ in g) / max(1, sum(c for _, c in g)) for g in groups if g]
    if len(ratios) > 1 and rate > 0:
        mean = sum(ratios) / len(ratios)
        var = sum((r - mean) ** 2 for r in ratios) / (len(ratios) - 1)
        error = 3 * (var ** 0.5) / (len(ratios) ** 0.5) / rate + 0.005
    else:
        error = APPROX_ERROR
    return rate, max(0.01, error), extra
