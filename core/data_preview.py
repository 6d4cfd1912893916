"""What the model will see: the first examples tokenized and masked exactly as training does them.

Users of axolotl reach for `preprocess --debug` to check which tokens carry loss before paying for
a run; `ftwizard data preview` is that view. It runs the training code itself (data_prep's
encode_examples and labels_for, the same Encoder and chat template), so what it shows trained is
what the trainer's labels train (tests/e2e/test_data_formats_e2e.py compares them token by token).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from ftwizard.core.config import RunConfig
from ftwizard.core.data_formats import check_chat
from ftwizard.core.data_prep import IGNORE, encode_examples, labels_for, train_on_of
from ftwizard.core.data_sources import iter_examples
from ftwizard.core.data_tokens import Encoder

TRAINED_STYLE = "bold green"
MASKED_STYLE = "dim"


@dataclass
class PreviewExample:
    source: str
    format: str
    ids: list[int]
    tokens: list[str]
    trained: list[int]
    """1 where the token carries loss, 0 where it is masked. The first token is always 0: no
    token precedes it, so the model is never asked to predict it (its label is unused)."""
    padding: int
    """Pad tokens after it in its training sequence (entries mode without packing)."""
    truncated: int
    """Tokens cut off at block_size (entries mode)."""
    dropped: str = ""
    """Preference data: why the trainer drops this row (its prompt fills block_size ...), or ''."""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def preview(config: RunConfig, tokenizer: Any, n: int = 3) -> list[PreviewExample]:
    """The first `n` non-empty examples of the training sources, in file order (preference
    objectives: see preference_preview)."""
    if config.train.objective != "sft":
        return preference_preview(config, tokenizer, n)
    data = config.data
    enc = Encoder(tokenizer, config.model.pad_token_id, data.chat_template)
    picked = []
    for src in data.train:
        for ex in iter_examples(src):
            if ex.messages is not None:
                check_chat(ex.messages, ex.source,
                           "conversations" if ex.shape == "sharegpt" else "messages")
            if ex.is_empty():
                continue
            picked.append(ex)
            if len(picked) >= n:
                break
        if len(picked) >= n:
            break
    train_on = train_on_of(data)
    out = []
    for ex, (ids, spans) in zip(picked, encode_examples(picked, enc)):
        labels = labels_for(ids, spans, train_on)
        cut = 0
        if data.mode == "entries":
            cut = max(0, len(ids) - data.block_size)
            ids, labels = ids[:data.block_size], labels[:data.block_size]
        else:
            labels = list(ids)  # corpus mode trains every token
        pad = data.block_size - len(ids) if data.mode == "entries" and not data.packing else 0
        trained = [int(y != IGNORE) for y in labels]
        trained[:1] = [0] * min(1, len(trained))
        out.append(PreviewExample(source=ex.source, format=ex.shape or ex.kind, ids=list(ids),
                                  tokens=enc.tokens(ids), trained=trained, padding=pad,
                                  truncated=cut))
    return out


def preference_preview(config: RunConfig, tokenizer: Any, n: int = 3) -> list[PreviewExample]:
    """The first `n` rows of preference data as its TRL trainer tokenizes them
    (core/preference_data.Measure): one example per sequence, prompt + chosen then prompt +
    rejected (kto: prompt + completion), so n pairs give 2n examples. Trained marks the
    completion, whose log-probabilities the loss compares; the prompt is masked. A reward model
    scores the whole sequence, so every token of it is marked. `truncated` counts what the
    collator cuts at block_size (train.preference.truncation says which end); `dropped` says why
    the trainer would drop the row (`ftwizard data inspect` counts them all)."""
    from ftwizard.core import preference_data as pd

    data, obj = config.data, config.train.objective
    enc = Encoder(tokenizer, config.model.pad_token_id, data.chat_template)
    rows = pd.first_rows(data, obj, n)
    m = pd.Measure(enc, obj, data.block_size, config.train.preference.truncation)
    keep_end = obj == "dpo" and config.train.preference.truncation == "keep_end"
    out = []
    for row, seq in zip(rows, m.sequences(rows)):
        why = m.lengths(row, seq).dropped
        plen, seqs = seq
        names = ["completion"] if row.shape in pd.KTO_SHAPES else ["chosen", "rejected"]
        for name, ids in zip(names, seqs):
            trained = [1] * len(ids) if obj == "reward" else \
                [0] * min(plen, len(ids)) + [1] * max(0, len(ids) - plen)
            cut = max(0, len(ids) - data.block_size)
            if cut:
                sl = slice(cut, None) if keep_end else slice(None, data.block_size)
                ids, trained = ids[sl], trained[sl]
            trained[:1] = [0] * min(1, len(trained))
            label = f" ({'desirable' if row.label else 'undesirable'})" if row.label is not None \
                else ""
            out.append(PreviewExample(source=row.where, format=f"{row.shape}: {name}{label}",
                                      ids=list(ids), tokens=enc.tokens(ids), trained=trained,
                                      padding=0, truncated=cut, dropped=why))
    return out


# ---------------------------------------------------------------- one renderer
# `ftwizard data preview` and the wizard's Data step both draw an example with these two, so the
# terminal and the wizard cannot disagree on what "trained" looks like or how it is counted.


def example_text(e: PreviewExample) -> Any:
    """The example's tokens as rich Text: trained tokens highlighted, masked ones dimmed."""
    from rich.text import Text  # rendering only; the preview itself needs no rich

    t = Text()
    for tok, on in zip(e.tokens, e.trained):
        t.append(tok, style=TRAINED_STYLE if on else MASKED_STYLE)
    return t


def counts_text(e: PreviewExample) -> Any:
    """"N trained, N masked, N padding[, N cut at block_size]" as rich Text, the words "trained"
    and "masked" in their tokens' styles (the line is its own legend)."""
    from rich.text import Text

    trained = sum(e.trained)
    t = Text()
    t.append(f"{trained:,} ", style="bold")
    t.append("trained", style=TRAINED_STYLE)
    t.append(f", {len(e.ids) - trained:,} ")
    t.append("masked", style=MASKED_STYLE)
    t.append(f", {e.padding:,} padding")
    if e.truncated:
        t.append(f", {e.truncated:,} cut at block_size")
    if e.dropped:
        t.append(f"; dropped: {e.dropped}", style="bold yellow")
    return t
