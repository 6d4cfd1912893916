"""Large data: the training sequences of big files built through `datasets` (Arrow on disk).

Below :data:`ARROW_THRESHOLD_BYTES` per file, core/data.prepare builds the sequences as Python
lists, which is simplest and fastest. Above it, a list of token ids costs ~36 bytes per token (an
int object plus its list slot), so a 2 GB JSONL (~500 M tokens) would need ~18 GB of RAM, and
every run would tokenize it again. Here the same work runs in three cached steps, each an Arrow
file in FTWIZARD_HOME's cache (``cache/arrow/<source key>/``), memory-mapped when read:

1. examples: the source read record by record through the list path's own readers and checks
   (data_sources.record_to_example, one_shape; data_formats.check_chat), empty examples dropped as
   core/data_prep.analyse drops them; keyed by the file's content digest. No format holds a
   whole file's records in Python, except JSON:
   - JSONL and CSV/TSV: an open text file, line by line (jsonl_example per line, the list
     path's read_csv over the lines), numbered as the list path numbers its text's lines; the
     file is first decoded a MiB at a time (check_decodes), so a bad byte is reported before
     any record, with read_text's message, as the list path reports it;
   - Parquet: data_sources' reader already takes row batches (ParquetFile.iter_batches), so
     memory is one row group's columns; HF datasets (hf:) are memory-mapped Arrow already;
   - a folder: file by file, in the list path's order; a .txt file is one example, so one is
     read whole (a single huge .txt is one example on both paths, as documented there);
   - JSON (one array, or an object holding one): still parsed whole by data_sources' reader,
     since the standard library has no incremental JSON parser and this project adds no
     dependency for it; the parsed records are held (a 100 MiB array: 396 MiB peak RSS for
     this step, against 190 MiB for a 300 MiB JSONL or CSV), their token ids are not. Big data
     belongs in JSONL (`ftwizard data convert` writes it).
   A refused conversation is reported once the source is read, as analyse() reads a whole
   source before checking them, so for the same bad file both paths name the same problem.
2. encoded: `Dataset.map` over the examples with data_prep.encode_examples (the list path's own
   encoder: formats, chat templates, per-turn masks), in several processes for big files; the
   file name is the fingerprint (examples key + tokenizer + chat template), so a second run
   loads it instead of tokenizing again;
3. sequences: data_prep.pack_source applied to a window of examples at a time (corpus: the token
   stream cut into blocks; entries: one example per sequence, or the best-fit-decreasing bins
   of data_prep.best_fit_decreasing filled one bin at a time), written to Arrow.

The validation split, the corpus split of sequences and the mixing of sources are the list
path's functions (validation_indices, Part.held_sequences, Analysis.plan), so for the same data
and seed the Arrow path trains exactly the sequences the list path would, in the same order;
the e2e tests compare the losses of both. Only the `train` and `validation` datasets reach the
Trainer: nothing holds all examples or all token ids in Python.
"""

from __future__ import annotations

import codecs
import hashlib
import io
import json
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ftwizard.core.config import DataSection, DataSource, RunConfig
from ftwizard.core.data_prep import (Analysis, Part, best_fit_decreasing, data_sources,
                                     encode_examples, pack_source, packing_problem, train_on_of,
                                     validation_indices)
from ftwizard.core.data_sources import (Example, is_hf, iter_examples, jsonl_example, one_shape,
                                        read_csv, read_file, source_digest, source_files)
from ftwizard.core.data_tokens import Encoder
from ftwizard.core.errors import InputError

ARROW_THRESHOLD_BYTES = 256 << 20
"""Files bigger than this (256 MiB) are prepared through Arrow. The list path holds every token id
as a Python int in several lists (encoded, stream, sequence, labels): bench/large_data.py measured
a peak of 7.6 GiB for a 200 MiB JSONL (131 M tokens of the tiny BPE: ~60 bytes per token) against
1.0 GiB through Arrow, and 80-120 s of tokenizing on every run against 1.2 s from the cache. A real
tokenizer makes ~4 bytes of text one token, so 256 MiB is ~64 M tokens, ~4 GiB of lists: about
what a training machine spares without noticing; above it RAM and re-tokenizing time grow with
the file. Under it the list path is faster (no Arrow files written) and nothing changes.
FTWIZARD_ARROW_THRESHOLD_BYTES overrides it (the tests set a few KB to run this path on small
files)."""
SHARD_BYTES = 64 << 20
"""One tokenizing process per this much input (at most one per CPU): small files stay in one."""
WINDOW = 1000
"""Examples per window when reading, encoding and packing (bounded memory)."""
CACHE_VERSION = 2
"""Part of every cache key: 2 added the examples' tools column (a chat's function schemas)."""
encode_calls = 0
"""How many batches this process tokenized through the map (tests: a cache hit adds none)."""

EXAMPLE_COLUMNS = ("text", "prompt", "completion", "messages", "tools", "source", "shape")


def threshold() -> int:
    """ARROW_THRESHOLD_BYTES, or FTWIZARD_ARROW_THRESHOLD_BYTES when set."""
    raw = os.environ.get("FTWIZARD_ARROW_THRESHOLD_BYTES", "").strip()
    if not raw:
        return ARROW_THRESHOLD_BYTES
    try:
        value = int(raw)
    except ValueError:
        raise InputError(f"FTWIZARD_ARROW_THRESHOLD_BYTES={raw!r} is not a whole number of bytes",
                         field="FTWIZARD_ARROW_THRESHOLD_BYTES", value=raw,
                         fix=f"unset it (default {ARROW_THRESHOLD_BYTES}) or give bytes, "
                             "e.g. 268435456") from None
    return max(0, value)


def wanted(data: DataSection) -> bool:
    """True when a local file of the training or validation data is over the threshold."""
    limit = threshold()
    for src, _ in data_sources(data):
        if is_hf(src.path):
            continue
        if any(f.stat().st_size > limit for f, _ in source_files(src)):
            return True
    return False


@dataclass
class ArrowData:
    """The Trainer's datasets, and per source the cached encoded examples (for tests/benches)."""

    train: Any
    validation: Any | None
    encoded: list[Any] = field(default_factory=list)


# ---------------------------------------------------------------- keys and files

def _digest(*parts: Any) -> str:
    h = hashlib.blake2b(digest_size=12)
    h.update(json.dumps([CACHE_VERSION, *parts], sort_keys=True, default=str).encode())
    return h.hexdigest()


def _source_key(src: DataSource) -> str:
    return _digest(source_digest(src), src.text_field, src.format, src.encoding, src.columns)


def _tokenizer_key(enc: Encoder) -> list[Any]:
    tmpl = getattr(enc.tok, "chat_template", None)
    tmpl_hash = hashlib.sha256(str(tmpl).encode()).hexdigest() if tmpl else None
    return [enc.name, type(enc.tok).__name__, enc.vocab, enc.eos, tmpl_hash]


def _cache_root() -> Path:
    from ftwizard.core.paths import cache_dir

    return cache_dir() / "arrow"


def _write(path: Path, rows: Iterator[dict], features: Any) -> Any:
    """Rows -> an Arrow file (written beside, then renamed: never a half file) -> memory-mapped."""
    from datasets import Dataset
    from datasets.arrow_writer import ArrowWriter

    if not path.is_file():
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
        writer = ArrowWriter(features=features, path=str(tmp), writer_batch_size=WINDOW)
        try:
            batch: dict[str, list] = {k: [] for k in features}
            for row in rows:
                for k in features:
                    batch[k].append(row.get(k))
                if len(batch["input_ids" if "input_ids" in batch else "shape"]) >= WINDOW:
                    writer.write_batch(batch)
                    batch = {k: [] for k in features}
            if any(batch.values()):
                writer.write_batch(batch)
            writer.finalize()
        except BaseException:
            writer.close()
            tmp.unlink(missing_ok=True)
            raise
        writer.close()
        os.replace(tmp, path)
    return Dataset.from_file(str(path))


# ---------------------------------------------------------------- 1. examples

def _stream_examples(src: DataSource) -> Iterator[Example]:
    """A source's examples, file by file, never a whole file's text in memory (module doc)."""
    if is_hf(src.path):
        yield from iter_examples(src)  # a datasets.Dataset: already Arrow, memory-mapped
        return
    encoding = src.encoding or "utf-8"
    for path, fmt in source_files(src):
        if fmt == "jsonl":
            check_decodes(path, encoding)
            with _text_file(path, encoding) as fh:
                yield from one_shape(_jsonl_records(fh, str(path), src))
        elif fmt in ("csv", "tsv"):
            check_decodes(path, encoding)
            with _text_file(path, encoding) as fh:
                # the list path's own CSV reader, on the open file instead of its whole text
                yield from read_csv(fh, str(path), src.text_field, "\t" if fmt == "tsv" else ",",
                                    src.columns)
        else:  # parquet: row batches; text: one file is one example; json: parsed whole
            yield from read_file(path, fmt, src.text_field, encoding, columns=src.columns)


def _codec(encoding: str) -> str:
    """read_text's codec: UTF-8 reads a leading byte-order mark as no text."""
    return "utf-8-sig" if encoding.lower().replace("_", "-") in ("utf-8", "utf8") else encoding


def _text_file(path: Path, encoding: str) -> io.TextIOWrapper:
    """The file as text lines, split as io.StringIO(text, newline="") splits read_text's text."""
    return io.TextIOWrapper(path.open("rb"), encoding=_codec(encoding), errors="strict",
                            newline="")


def check_decodes(path: Path, encoding: str) -> None:
    """data_sources.read_text's strict decoding, a MiB at a time: the same InputError (file, byte,
    the bytes near it, the latin-1 fix) before any record is read, as the list path decodes the
    whole file before parsing it, so a bad byte is reported first in both."""
    codec = _codec(encoding)
    try:
        codecs.lookup(codec)
    except LookupError:
        raise InputError(f"unknown encoding {encoding!r}", field="data.train.encoding",
                         value=encoding, fix="use utf-8, latin-1, cp1252, utf-16 ...") from None
    with path.open("rb") as fh:
        pos = 0
        if codec == "utf-8-sig":
            codec = "utf-8"  # the mark skipped here, so that offsets are the file's own
            if fh.read(len(codecs.BOM_UTF8)) == codecs.BOM_UTF8:
                pos = len(codecs.BOM_UTF8)
            else:
                fh.seek(0)
        dec = codecs.getincrementaldecoder(codec)("strict")
        while True:
            chunk = fh.read(1 << 20)
            held = len(dec.getstate()[0])  # bytes of a character split between two chunks
            try:
                dec.decode(chunk, final=not chunk)
            except UnicodeDecodeError as err:
                at = pos - held + err.start
                fh.seek(max(0, at - 12))
                near = fh.read(min(at, 12) + 4)
                raise InputError(
                    f"{path}: byte {at} (0x{near[min(at, 12)]:02x}) is not valid {encoding} "
                    f"(near {near!r})", field="data.train", value=str(path),
                    fix="re-save the file as UTF-8, or read it as latin-1: set `encoding: "
                        "latin-1` on this source (CLI: --encoding latin-1)") from None
            if not chunk:
                return
            pos += len(chunk)


def _jsonl_records(lines: Iterator[str], name: str, src: DataSource) -> Iterator[Example]:
    """The list path's JSONL lines (read_text(...).splitlines()), numbered as it numbers them:
    a physical line may hold several (splitlines also ends a line at \\f, \\x1c, U+2028 ...)."""
    lineno = 0
    for physical in lines:
        for line in physical.splitlines():
            lineno += 1
            if line.strip():
                yield jsonl_example(line, lineno, name, src.text_field, src.columns)


def _example_rows(src: DataSource) -> Iterator[dict]:
    """The source's non-empty examples as rows. A conversation check_chat refuses is reported
    after the whole source was read, as analyse() checks them once load_examples has read every
    file: a reading error anywhere in the source is named first in both paths."""
    from ftwizard.core.data_formats import check_chat

    refused: InputError | None = None
    for ex in _stream_examples(src):
        if ex.messages is not None and refused is None:  # as analyse(), before dropping empties
            try:
                check_chat(ex.messages, ex.source,
                           "conversations" if ex.shape == "sharegpt" else "messages")
            except InputError as err:
                refused = err
        if refused is not None or ex.is_empty():
            continue
        yield {"text": ex.text, "prompt": ex.prompt, "completion": ex.completion,
               "messages": None if ex.messages is None else json.dumps(ex.messages),
               "tools": None if ex.tools is None else json.dumps(ex.tools),
               "source": ex.source, "shape": ex.shape}
    if refused is not None:
        raise refused


def examples_dataset(src: DataSource, folder: Path) -> Any:
    """The source's non-empty examples as Arrow (cached by content)."""
    from datasets import Features, Value

    features = Features({k: Value("string") for k in EXAMPLE_COLUMNS})
    ds = _write(folder / "examples.arrow", _example_rows(src), features)
    if len(ds) == 0:
        raise InputError(f"no non-empty training examples in {src.path}", field="data.train",
                         value=src.path, fix="check the files (and text_field)")
    return ds


def _as_examples(batch: dict[str, list]) -> list[Example]:
    def loads(raw: str | None) -> Any:
        return None if raw is None else json.loads(raw)

    return [Example(text=batch["text"][i], prompt=batch["prompt"][i],
                    completion=batch["completion"][i], messages=loads(batch["messages"][i]),
                    tools=loads(batch["tools"][i]),
                    source=batch["source"][i] or "", shape=batch["shape"][i] or "")
            for i in range(len(batch["shape"]))]


# ---------------------------------------------------------------- 2. encoded

def _encode_map(batch: dict[str, list], enc: Encoder) -> dict[str, list]:
    """datasets.map's function: the list path's encoder on one window of examples."""
    global encode_calls
    encode_calls += 1
    out = encode_examples(_as_examples(batch), enc)
    return {"ids": [ids for ids, _ in out],
            "whole": [spans is None for _, spans in out],
            "spans": [[x for ab in (spans or ()) for x in ab] for _, spans in out],
            "length": [len(ids) for ids, _ in out]}


def encoded_dataset(examples: Any, enc: Encoder, folder: Path, num_proc: int) -> Any:
    """ids, reply spans and length of each example; datasets' cache file, named by fingerprint."""
    from datasets import Features, Sequence, Value

    key = _digest(folder.name, _tokenizer_key(enc))
    features = Features({"ids": Sequence(Value("int32")), "whole": Value("bool"),
                         "spans": Sequence(Value("int32")), "length": Value("int64")})
    return examples.map(_encode_map, batched=True, batch_size=WINDOW, fn_kwargs={"enc": enc},
                        remove_columns=list(EXAMPLE_COLUMNS), features=features,
                        num_proc=num_proc if num_proc > 1 else None,
                        cache_file_name=str(folder / f"encoded-{key}.arrow"),
                        new_fingerprint=key, load_from_cache_file=True,
                        desc="tokenizing")


def _column(ds: Any, name: str) -> list:
    """One column of a dataset (its selection, if any) as a Python list, read in Arrow."""
    return ds.with_format("arrow")[name].to_pylist()


def _encoded(batch: dict[str, list]) -> list[tuple[list[int], Any]]:
    out = []
    for ids, whole, flat in zip(batch["ids"], batch["whole"], batch["spans"]):
        spans = None if whole else tuple((flat[i], flat[i + 1]) for i in range(0, len(flat), 2))
        out.append((list(ids), spans))
    return out


# ---------------------------------------------------------------- 3. sequences

def _sequence_rows(enc_ds: Any, mode: str, block: int, pad: int, train_on: str,
                   packing: bool) -> Iterator[dict]:
    """Exactly pack_source(all encoded examples of enc_ds, ...), a window at a time."""
    if mode == "corpus":
        stream: list[int] = []
        for batch in enc_ds.iter(batch_size=WINDOW):
            for ids in batch["ids"]:
                stream.extend(ids)
            cut = len(stream) // block * block
            if cut:
                for s in pack_source([(stream[:cut], None)], mode, block, pad):
                    yield {"input_ids": s["input_ids"]}  # the collator adds mask and labels
                del stream[:cut]
        return
    if not packing:
        for batch in enc_ds.iter(batch_size=WINDOW):
            yield from pack_source(_encoded(batch), mode, block, pad, train_on, False)
        return
    lengths = [min(n, block) for n in _column(enc_ds, "length")]
    for members in best_fit_decreasing(lengths, block):
        # The members in bin order are longest first, so pack_source's own best-fit puts them
        # in one block in the same order the list path does.
        (seq,) = pack_source(_encoded(enc_ds[members]), mode, block, pad, train_on, True)
        yield seq


def sequences_dataset(enc_ds: Any, path: Path, mode: str, block: int, pad: int, train_on: str,
                      packing: bool) -> Any:
    from datasets import Features, Sequence, Value

    cols = ["input_ids"] if mode == "corpus" else ["input_ids", "attention_mask", "labels"]
    if mode == "entries" and packing:
        cols.append("position_ids")
    features = Features({c: Sequence(Value("int32")) for c in cols})
    return _write(path, _sequence_rows(enc_ds, mode, block, pad, train_on, packing), features)


# ---------------------------------------------------------------- the whole data

def prepare_arrow(config: RunConfig, tokenizer: Any) -> ArrowData:
    """What core/data.prepare gives, as Arrow datasets (module doc; same rules, same order)."""
    import datasets

    datasets.disable_progress_bars()
    problem = packing_problem(config)
    if problem is not None:
        raise problem
    data = config.data
    enc = Encoder(tokenizer, config.model.pad_token_id, data.chat_template)
    seed = config.train.seed
    packing = bool(data.packing and data.mode == "entries")
    train_on = train_on_of(data)
    ratio = data.validation.split if data.validation is not None and data.validation.split else 0
    srcs = data_sources(data)
    total_w = sum(s.weight for s, r in srcs if r == "train")
    root = _cache_root()
    seq_settings = [data.mode, data.block_size, enc.pad, train_on, packing]
    parts: list[Part] = []
    train_seqs: list[Any] = []   # per training source: all its sequences (corpus split included)
    val_seqs: list[Any] = []
    encoded: list[Any] = []
    for k, (src, role) in enumerate(srcs):
        folder = root / _source_key(src)
        size = sum(f.stat().st_size for f, _ in source_files(src)) if not is_hf(src.path) else 0
        num_proc = min(os.cpu_count() or 1, max(1, size // SHARD_BYTES))
        enc_ds = encoded_dataset(examples_dataset(src, folder), enc, folder, num_proc)
        encoded.append(enc_ds)
        seq_key = _digest(Path(enc_ds.cache_files[0]["filename"]).name, seq_settings)
        part = Part(label=src.path, weight=src.weight / total_w if role == "train" else 0.0,
                    role=role)
        n = len(enc_ds)
        held: set[int] = set()
        if role == "train" and data.mode == "corpus":
            part.seq_split, part.salt = ratio, f"{k}:{src.path}"
        elif role == "train":
            held = validation_indices(n, ratio, seed, f"{k}:{src.path}")

        def subset(keep: bool, ds: Any = enc_ds, held: set[int] = held) -> Any:
            return ds.select([i for i in range(len(ds)) if (i in held) != keep]) if held else (
                ds if keep else ds.select([]))

        lengths = _column(enc_ds, "length")
        if role == "validation":
            val_seqs.append(sequences_dataset(enc_ds, folder / f"seq-{seq_key}-all.arrow",
                                              *seq_settings))
            part.val_len = lengths
        else:
            part.train_len = [x for i, x in enumerate(lengths) if i not in held]
            part.val_len = [x for i, x in enumerate(lengths) if i in held]
            tag = _digest(seed, ratio, k) if held else "all"
            train_seqs.append(sequences_dataset(subset(True), folder / f"seq-{seq_key}-{tag}.arrow",
                                                *seq_settings))
            if held:
                val_seqs.append(sequences_dataset(subset(False),
                                                  folder / f"seq-{seq_key}-{tag}-val.arrow",
                                                  *seq_settings))
        parts.append(part)
    a = Analysis(parts, data.mode, data.block_size, True, 0.0, enc.name, 0, [], seed,
                 packing=packing, train_on=train_on)
    counts = a.counts()
    starts: list[int] = []
    kept: list[list[int]] = []
    at = 0
    corpus_val: list[Any] = []
    for p, seqs, (c, _) in zip(a.train_parts, train_seqs, counts):
        held_seq = p.held_sequences(len(seqs), seed)
        keep = [i for i in range(len(seqs)) if i not in held_seq]
        assert len(keep) == c, "packing and counting disagree"  # a bug, never bad input
        if held_seq:
            corpus_val.append(seqs.select(sorted(held_seq)))
        starts.append(at)
        kept.append(keep)
        at += len(seqs)
    every = train_seqs[0] if len(train_seqs) == 1 else datasets.concatenate_datasets(train_seqs)
    train = every.select([starts[i] + kept[i][j] for i, j in a.plan()])
    val_all = corpus_val + val_seqs
    validation = None
    if data.validation is not None:
        validation = (val_all[0] if len(val_all) == 1 else
                      datasets.concatenate_datasets(val_all) if val_all else every.select([]))
    return ArrowData(train=train, validation=validation, encoded=encoded)


def sequence_lengths(seqs: Any) -> list[int]:
    """Attended tokens of each training sequence, from a list or an Arrow dataset (there a
    window at a time in Arrow, without turning every row into Python lists)."""
    if not hasattr(seqs, "column_names"):
        return [sum(s.get("attention_mask") or [1] * len(s["input_ids"])) for s in seqs]
    import pyarrow as pa
    import pyarrow.compute as pc

    col = "attention_mask" if "attention_mask" in seqs.column_names else "input_ids"
    out: list[int] = []
    for batch in seqs.with_format("arrow").iter(batch_size=10 * WINDOW):
        arr = batch[col].combine_chunks() if isinstance(batch[col], pa.ChunkedArray) else batch[col]
        if col == "input_ids":
            out += pc.list_value_length(arr).to_pylist()
            continue
        sums = [0] * len(arr)
        table = pa.table({"p": pc.list_parent_indices(arr), "v": pc.list_flatten(arr)})
        agg = table.group_by("p").aggregate([("v", "sum")])
        for p, v in zip(agg["p"].to_pylist(), agg["v_sum"].to_pylist()):
            sums[p] = int(v)
        out += sums
    return out
