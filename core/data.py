"""Datasets: load, inspect, count and prepare every format the seed recipes use.

This is the public face; the work lives in data_sources (reading files), data_formats (the record
formats: text, prompt/completion, alpaca, ShareGPT, OpenAI messages; column mapping; bad
conversations), data_tokens and chat_templates (tokenizers from local files, templates by name),
data_prep (loss masks per turn, splitting, packing, mixing: the rules are in its docstring),
data_stats (inspection and its cache) and data_preview (`ftwizard data preview`). The plan's sequence count and the trainer's dataset come
from the same functions, so `len(prepare(cfg, tok).train) == inspect(cfg.data, tok).sequences ==
count_sequences(cfg, tok)` (tested for both modes, with mixing and a validation split). Files
over a size threshold are prepared through Arrow instead (data_arrow, via training_sets): the
same sequences, memory-mapped from disk and cached. Preference and reward data
(train.objective other than sft) is read by preference_data, whose `preference_sets` gives the
TRL trainers their rows and whose counts inspect() and count_sequences() report.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ftwizard.core.config import RunConfig
from ftwizard.core.data_prep import IGNORE, analyse, pack_source, packing_problem
from ftwizard.core.data_sources import Cancelled, Example, iter_examples, load_examples
from ftwizard.core.data_stats import MIXING_RULE, DataStats, inspect, stats_from
from ftwizard.core.data_tokens import (Encoder, LightTokenizer, load_tokenizer, no_tokenizer_fix,
                                       tokenizer_folder)

__all__ = ["Cancelled", "DataStats", "Example", "IGNORE", "LightTokenizer", "MIXING_RULE",
           "PreparedData", "count_sequences", "inspect", "iter_examples", "load_examples",
           "load_tokenizer", "no_tokenizer_fix", "prepare", "tokenizer_folder", "training_sets"]


@dataclass
class PreparedData:
    """Tokenized training (and validation) sequences, each {input_ids, attention_mask, labels}
    of exactly block_size tokens; labels are -100 on padding and masked prompt tokens. Packed
    sequences (data.packing) also carry position_ids, restarting at 0 for each example: the
    collator then passes those instead of the attention mask (data_prep's module doc)."""

    train: list[dict]
    validation: list[dict] | None
    stats: DataStats


def prepare(config: RunConfig, tokenizer: Any) -> PreparedData:
    """The training set the backend trains on, built by the code inspect() counts with."""
    data = config.data
    problem = packing_problem(config)
    if problem is not None:
        raise problem
    enc = Encoder(tokenizer, config.model.pad_token_id, data.chat_template)
    a = analyse(data, enc, seed=config.train.seed, exact=True, keep_encoded=True)
    split = [a.split_packed(p, pack_source(p.train_enc or [], data.mode, data.block_size,
                                           enc.pad, a.train_on, a.packing))
             for p in a.train_parts]
    packed = [tr for tr, _ in split]
    counts = a.counts()
    for seqs, (n, _) in zip(packed, counts):
        assert len(seqs) == n, "packing and counting disagree"  # a bug, never bad input
    train = [packed[i][j] for i, j in a.plan()]
    val: list[dict] = [x for _, held in split for x in held]   # corpus split: held-out blocks
    for p in a.parts:
        val.extend(pack_source(p.val_enc or [], data.mode, data.block_size, enc.pad,
                               a.train_on, a.packing))
    has_val = data.validation is not None
    return PreparedData(train=train, validation=val if has_val else None, stats=stats_from(a))


def training_sets(config: RunConfig, tokenizer: Any) -> tuple[Any, Any | None]:
    """(train, validation) for a backend: prepare()'s lists, or for a file over the Arrow
    threshold (core/data_arrow.py) the same sequences as memory-mapped Arrow datasets."""
    from ftwizard.core import data_arrow

    if data_arrow.wanted(config.data):
        arrow = data_arrow.prepare_arrow(config, tokenizer)
        val = arrow.validation
        return arrow.train, (val if val is not None and len(val) else None)
    prepared = prepare(config, tokenizer)
    return list(prepared.train), (list(prepared.validation) if prepared.validation else None)


def count_sequences(config: RunConfig, tokenizer: Any) -> int:
    """Training sequences per epoch, exactly (every example tokenized; cached). For the
    preference objectives (dpo, orpo, kto, reward) the training rows the trainer counts:
    `len(preference_data.preference_sets(config, tokenizer)[0])`, pairs or kto completions."""
    return inspect(config.data, tokenizer, seed=config.train.seed, exact=True,
                   pad_token_id=config.model.pad_token_id, train=config.train).sequences
