"""Dataset statistics for the plan and the wizard, cached so reopening the wizard is instant.

The cache key covers everything the numbers depend on: each source's content digest (sizes,
mtimes and bytes, see data_sources.source_digest), the tokenizer (name and vocabulary size) and the
settings (mode, block size, validation, weights, fields, seed). A stale answer is worse than a slow
one, so any doubt (an unreadable cache file) means recomputing.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

from ftwizard.core.config import DataSection, TrainSection
from ftwizard.core.data_prep import (Analysis, analyse, data_sources, mixed_contributions,
                                     padding_tokens)
from ftwizard.core.data_sources import source_digest
from ftwizard.core.data_tokens import Encoder

CACHE_VERSION = 3  # 2: a corpus validation split holds out sequences, not examples; 3: formats,
# per-turn masks and packing
MIXING_RULE = ("weights are normalised; with N the sum of the sources' sequences, source i gives "
               "round(w_i x N) sequences (all in order if equal to its count, sampled without "
               "replacement if fewer, repeated if more), shuffled with the seed")


@dataclass
class DataStats:
    """What the data will be in training: counts the plan's steps are built on."""

    examples: int = 0
    """Examples read, empty ones included, validation included."""
    characters: int = 0
    tokens: int = 0
    """Tokens of the non-empty examples, each with its EOS (and BOS if the tokenizer adds one)."""
    tokens_exact: bool = True
    tokens_error: float = 0.0
    """Relative bound on `tokens` (0 when exact)."""
    histogram: list[tuple[int, int]] = field(default_factory=list)
    """(bucket upper bound in tokens, examples) for powers of two up to the longest example."""
    longest_tokens: int = 0
    over_block: int = 0
    """Examples longer than block_size: truncated in entries mode, split in corpus mode."""
    over_block_share: float = 0.0
    sequences: int = 0
    """Training sequences in the chosen mode, after the validation split and mixing."""
    validation_sequences: int = 0
    empty: int = 0
    """Empty or whitespace-only examples: skipped."""
    duplicates: int = 0
    """Examples whose content repeats an earlier one (kept; reported)."""
    per_source: list[dict[str, Any]] = field(default_factory=list)
    tokenizer: str = ""
    mode: str = "corpus"
    block_size: int = 0
    tokens_dropped: int = 0
    """corpus: the last partial chunk of each source; entries: tokens cut by truncation."""
    validation_examples: int = 0
    mixing: str = MIXING_RULE
    notes: list[str] = field(default_factory=list)
    cached: bool = False
    formats: dict[str, int] = field(default_factory=dict)
    """Examples per format read (text, prompt_completion, alpaca, sharegpt, messages)."""
    packing: bool = False
    padding_tokens: int = 0
    """Padding in the training sequences as configured (entries mode; before mixing)."""
    padding_unpacked: int = 0
    padding_packed: int = 0
    """The same with and without data.packing, so the plan can say what packing saves."""
    sequences_unpacked: int = 0
    sequences_packed: int = 0
    trained_tokens: int | None = None
    """Tokens of the training examples that carry loss under data.train_on (before mixing; None
    when counts are approximate). Preference objectives: the completions' tokens (chosen +
    rejected, or kto's completion) after truncation; None for reward (one score per sequence)."""
    # ---- train.objective dpo / orpo / kto / reward (core/preference_data.py); zero for sft.
    # There `sequences` counts training rows (pairs, or kto completions) after the trainer's
    # filter, validation split and mixing, and `tokens` every token the trainer runs per epoch
    # (prompt + chosen and prompt + rejected, or prompt + completion, each cut at block_size).
    # The *_tokens_* figures are over the training rows as mixed, each sequence cut at
    # block_size as the trainer's collator cuts it.
    objective: str = "sft"
    prompt_tokens_mean: float = 0.0
    prompt_tokens_max: int = 0
    """The prompt's tokens as the trainer tokenizes it (chat: rendered with the generation
    prompt)."""
    chosen_tokens_mean: float = 0.0
    chosen_tokens_max: int = 0
    """prompt + chosen: one sequence of the pair (dpo, orpo, reward)."""
    rejected_tokens_mean: float = 0.0
    rejected_tokens_max: int = 0
    """prompt + rejected: the pair's other sequence; the trainers run both in one batch."""
    completion_tokens_mean: float = 0.0
    completion_tokens_max: int = 0
    """kto: prompt + completion, the one sequence of a row (its KL sequence pairs the prompt with
    another row's completion)."""
    dropped: int = 0
    """Rows the trainer would drop (too long for block_size; module doc of preference_data),
    dropped here so it drops none; not in `sequences`."""
    dropped_reasons: dict[str, int] = field(default_factory=dict)
    identical_pairs: int = 0
    """Pairs whose chosen equals their rejected (kept; they teach nothing)."""
    desirable: int = 0
    undesirable: int = 0
    """kto: training rows labelled true / false (TRL warns when the weights do not balance them)."""

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["histogram"] = [list(b) for b in self.histogram]
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "DataStats":
        known = {k: v for k, v in d.items() if k in cls.__dataclass_fields__}
        known["histogram"] = [tuple(b) for b in known.get("histogram", [])]
        return cls(**known)


def length_histogram(lengths: list[int]) -> list[tuple[int, int]]:
    """(bucket upper bound in tokens, examples) for powers of two from 16 up to the longest."""
    hist: list[tuple[int, int]] = []
    upper, rest, i = 16, sorted(lengths), 0
    while i < len(rest):
        j = i
        while j < len(rest) and rest[j] <= upper:
            j += 1
        hist.append((upper, j - i))
        i, upper = j, upper * 2
    return hist


def stats_from(a: Analysis) -> DataStats:
    """The numbers of an analysis; sequences through the same mix_plan prepare() uses."""
    lengths = [n for p in a.parts for n in p.train_len + p.val_len]
    counts = a.counts()
    plan = a.plan()
    contrib = mixed_contributions([c for c, _ in counts], [p.weight for p in a.train_parts])
    per_source = []
    ti = 0
    formats: dict[str, int] = {}
    for p in a.parts:
        for k, v in p.formats.items():
            formats[k] = formats.get(k, 0) + v
        row: dict[str, Any] = {
            "path": p.label, "role": p.role, "examples": p.examples, "characters": p.characters,
            "empty": p.empty, "tokens": sum(p.train_len) + sum(p.val_len),
            "validation_examples": len(p.val), "formats": dict(p.formats)}
        if p.role == "train":
            row.update(weight=round(p.weight, 6), sequences=counts[ti][0],
                       mixed_sequences=contrib[ti], tokens_dropped=counts[ti][1])
            ti += 1
        per_source.append(row)
    longest = max(lengths, default=0)
    over = sum(1 for n in lengths if n > a.block)
    hist = length_histogram(lengths)
    n_lengths = len(lengths)
    notes = list(a.notes)
    if a.mode == "corpus":
        short = [p.label for p, (c, _) in zip(a.train_parts, counts) if c == 0]
        if short:
            notes.append(f"{', '.join(short)}: fewer tokens than one block of {a.block}, so no "
                         "corpus sequence at all; lower block_size or use entries mode")
    pad = {"packed": 0, "unpacked": 0, "n_packed": 0, "n_unpacked": 0}
    if a.mode == "entries":
        for p in a.train_parts:
            kept = [min(n, a.block) for n in p.train_len]
            pad["unpacked"] += padding_tokens(kept, a.block, False)
            pad["packed"] += padding_tokens(kept, a.block, True)
            pad["n_unpacked"] += len(kept)
            pad["n_packed"] += (sum(kept) + padding_tokens(kept, a.block, True)) // a.block
        total = max(1, pad["n_unpacked"] * a.block)
        saved = pad["n_unpacked"] - pad["n_packed"]
        if a.packing:
            notes.append(f"packing: {pad['n_packed']:,} sequences instead of "
                         f"{pad['n_unpacked']:,}; padding {pad['packed']:,} tokens "
                         f"({pad['packed'] / max(1, pad['n_packed'] * a.block):.1%}) instead of "
                         f"{pad['unpacked']:,} ({pad['unpacked'] / total:.1%})")
        elif saved > 0 and pad["unpacked"] / total > 0.2:
            notes.append(f"{pad['unpacked']:,} of {total:,} tokens ({pad['unpacked'] / total:.0%}) "
                         f"are padding; data.packing: true would train the same examples in "
                         f"{pad['n_packed']:,} sequences instead of {pad['n_unpacked']:,} "
                         f"(padding {pad['packed'] / max(1, pad['n_packed'] * a.block):.1%})")
    return DataStats(
        formats=formats, packing=a.packing,
        trained_tokens=(sum(p.trained_tokens for p in a.train_parts) if a.exact and all(
            p.trained_tokens is not None for p in a.train_parts) else None),
        padding_tokens=pad["packed"] if a.packing else pad["unpacked"],
        padding_unpacked=pad["unpacked"], padding_packed=pad["packed"],
        sequences_unpacked=pad["n_unpacked"], sequences_packed=pad["n_packed"],
        examples=sum(p.examples for p in a.parts), characters=sum(p.characters for p in a.parts),
        tokens=sum(lengths), tokens_exact=a.exact, tokens_error=round(a.error, 4),
        histogram=hist, longest_tokens=longest, over_block=over,
        over_block_share=over / n_lengths if n_lengths else 0.0, sequences=len(plan),
        validation_sequences=a.validation_sequences(), empty=sum(p.empty for p in a.parts),
        duplicates=a.duplicates, per_source=per_source, tokenizer=a.tokenizer, mode=a.mode,
        block_size=a.block, tokens_dropped=sum(d for _, d in counts),
        validation_examples=sum(len(p.val) for p in a.parts), notes=notes)


def _cache_key(data: DataSection, enc: Encoder | None, seed: int, exact: bool | None,
               train: TrainSection | None = None) -> str:
    h = hashlib.sha256()
    settings: dict[str, Any] = {
        "v": CACHE_VERSION, "data": data.model_dump(mode="json"), "seed": seed, "exact": exact,
        "tok": [enc.name, enc.vocab, enc.eos] if enc else None}
    if train is not None and train.objective != "sft":  # sft keys stay as they were
        settings["objective"] = [train.objective, train.preference.truncation,
                                 getattr(enc.tok, "chat_template", None) if enc else None]
    settings["data"].pop("sequences", None)
    h.update(json.dumps(settings, sort_keys=True).encode())
    for src, _ in data_sources(data):
        h.update(source_digest(src).encode())
    return h.hexdigest()[:32]


def inspect(data: DataSection, tokenizer: Any = None, *, seed: int = 42,
            progress: Callable[[float], None] | None = None,
            cancel: Callable[[], bool] | None = None, exact: bool | None = None,
            use_cache: bool = True, pad_token_id: int | None = None,
            train: TrainSection | None = None) -> DataStats:
    """Stats of `data` with `tokenizer` (None: approximate token counts from characters).

    Runs in a worker: `progress(fraction)` is called as it goes and `cancel()` returning True
    stops it with Cancelled. Mixing follows the rule in MIXING_RULE.
    `train` (cfg.train): for objectives other than sft the data is preference data, counted
    as its TRL trainer counts it (core/preference_data.py; the preference fields above).
    """
    from ftwizard.core.paths import cache_dir

    enc = Encoder(tokenizer, pad_token_id, data.chat_template) if tokenizer is not None else None
    path = None
    if use_cache:
        path = cache_dir() / "data" / f"{_cache_key(data, enc, seed, exact, train)}.json"
        if path.is_file():
            try:
                stats = DataStats.from_dict(json.loads(path.read_text()))
                stats.cached = True
                if progress is not None:
                    progress(1.0)
                return stats
            except (ValueError, TypeError):
                pass
    if train is not None and train.objective != "sft":
        from ftwizard.core import preference_data

        stats = preference_data.stats_from(preference_data.analyse(
            data, train, enc, seed=seed, progress=progress, cancel=cancel))
    else:
        stats = stats_from(analyse(data, enc, seed=seed, exact=exact, progress=progress,
                                   cancel=cancel))
    if path is not None:
        from ftwizard.core.local_state import atomic_write

        try:  # the cache only saves time: one that cannot be written (full disk) is skipped
            path.parent.mkdir(parents=True, exist_ok=True)
            atomic_write(path, json.dumps(stats.to_dict()), sync=False)
        except OSError:
            pass
    if progress is not None:
        progress(1.0)
    return stats
