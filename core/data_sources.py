"""Reading training data: every format the seed recipes use, turned into :class:`Example` records.

Most failed runs in the seeds start here (seed 003's unescaped CSV newlines, a text column that is
not there), so every reader fails with an :class:`InputError` that names the file, the place in it
and the fix, never with a traceback. Readers decode strictly: a silently mangled byte would change
the token count the plan is built on.

Conventions (documented once, here):
- a `.txt` file is one example (a document in corpus mode, one sequence in entries mode);
- a folder is read recursively; every file with a known extension is one source part, in sorted
  path order, hidden files skipped;
- a record (JSONL line, CSV row, Parquet/HF row) is read in one of the formats of
  core/data_formats.py (text, prompt/completion, alpaca, ShareGPT, OpenAI messages), after the
  source's `columns` mapping renames the file's fields to ours; one file holds one format;
- :func:`iter_records` reads the same files record by record without recognising a format, for
  data of other shapes (preference pairs: core/preference_data.py), with the same errors.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import os
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ftwizard.core.config import DataSource
from ftwizard.core.data_formats import (FORMAT_LABELS, alpaca_messages, apply_columns, as_text,
                                        chat_messages, detect, detect_fields,
                                        record_tools, suggest_mapping,
                                        unknown_shape)
from ftwizard.core.errors import InputError

EXTENSIONS = {".txt": "text", ".csv": "csv", ".tsv": "tsv", ".jsonl": "jsonl", ".json": "json",
              ".parquet": "parquet"}
PROMPT_FIELD, COMPLETION_FIELD, MESSAGES_FIELD = "prompt", "completion", "messages"


class Cancelled(Exception):
    """The caller's cancel() said stop (the wizard moved on); nothing was cached."""


@dataclass(frozen=True)
class Example:
    """One training example in whichever shape its source had; `source` says where it came from."""

    text: str | None = None
    prompt: str | None = None
    completion: str | None = None
    messages: list[dict] | None = None
    source: str = ""
    shape: str = ""
    """The format it was read in (core/data_formats.FORMATS); alpaca and ShareGPT become messages."""
    tools: list[dict] | None = None
    """A chat's tool (function) schemas, rendered by the chat template (data_formats.record_tools)."""

    @property
    def kind(self) -> str:
        if self.messages is not None:
            return "chat"
        if self.prompt is not None or self.completion is not None:
            return "prompt"
        return "text"

    def characters(self) -> int:
        if self.messages is not None:
            # Calls and schemas are rendered too (as JSON), so they count towards the length.
            return sum(len(str(m.get("content") or "")) + _calls_chars(m) for m in self.messages) \
                + (len(json.dumps(self.tools, ensure_ascii=False)) if self.tools else 0)
        if self.text is not None:
            return len(self.text)
        return len(self.prompt or "") + len(self.completion or "")

    def is_empty(self) -> bool:
        if self.messages is not None:
            return not any(str(m.get("content") or "").strip() or m.get("tool_calls")
                           for m in self.messages)
        if self.text is not None:
            return not self.text.strip()
        return not ((self.prompt or "").strip() or (self.completion or "").strip())

    def fingerprint(self) -> bytes:
        """Content digest for duplicate counting (the source name is not part of it)."""
        if self.messages is not None:
            raw = json.dumps(self.messages, sort_keys=True, ensure_ascii=False)
            if self.tools:
                raw += json.dumps(self.tools, sort_keys=True, ensure_ascii=False)
        elif self.text is not None:
            raw = "t\0" + self.text
        else:
            raw = f"p\0{self.prompt or ''}\0{self.completion or ''}"
        return hashlib.blake2b(raw.encode("utf-8", "surrogatepass"), digest_size=12).digest()


def _calls_chars(m: dict) -> int:
    calls = m.get("tool_calls")
    return len(json.dumps(calls, ensure_ascii=False)) if calls else 0


# ---------------------------------------------------------------- resolving a source

def is_hf(path: str) -> bool:
    return path.startswith("hf:")


def source_files(source: DataSource) -> list[tuple[Path, str]]:
    """The files a (non-hf) source reads, each with its format, in a stable order."""
    p = Path(source.path).expanduser()
    if not p.exists():
        raise InputError(f"{source.path}: no such file or folder", field="data.train",
                         value=source.path, fix="check the path (relative paths start from the "
                         "current folder)")
    if p.is_file():
        return [(p, _format_of(p, source.format))]
    files = sorted(f for f in p.rglob("*") if f.is_file() and f.suffix.lower() in EXTENSIONS
                   and not any(part.startswith(".") for part in f.relative_to(p).parts))
    if not files:
        others = sorted({f.suffix or f.name for f in p.rglob("*") if f.is_file()})
        found = f"; found only {', '.join(others[:8])}" if others else " (it is empty)"
        raise InputError(f"{p} holds no data files{found}", field="data.train", value=str(p),
                         fix="put .txt, .csv, .tsv, .jsonl, .json or .parquet files in it")
    fmt = source.format
    return [(f, _format_of(f, "auto" if fmt == "auto" else fmt)) for f in files]


def _format_of(p: Path, fmt: str) -> str:
    if fmt != "auto":
        return fmt
    found = EXTENSIONS.get(p.suffix.lower())
    if found is None:
        # An extension-less file is most likely plain text (a corpus dump); say so in the docs.
        return "text"
    return found


# ---------------------------------------------------------------- reading

def iter_examples(source: DataSource, *, encoding: str | None = None) -> Iterator[Example]:
    """Every example of one source, in file order. Raises InputError for bad input."""
    enc = encoding or getattr(source, "encoding", None) or "utf-8"
    if is_hf(source.path):
        yield from _read_hf(source)
        return
    for path, fmt in source_files(source):
        yield from read_file(path, fmt, source.text_field, enc, columns=source.columns)


def read_file(path: Path, fmt: str, text_field: str = "text",
              encoding: str = "utf-8", *, columns: dict[str, str] | None = None
              ) -> Iterator[Example]:
    name = str(path)
    if fmt == "parquet":
        yield from one_shape(_read_parquet(path, text_field, columns))
        return
    if fmt == "hf":
        yield from _read_hf(DataSource(path=f"hf:{path}", text_field=text_field, columns=columns))
        return
    text = read_text(path, encoding)
    if fmt == "text":
        yield Example(text=text, source=name, shape="text")
    elif fmt in ("csv", "tsv"):
        yield from read_csv(text, name, text_field, "\t" if fmt == "tsv" else ",", columns)
    elif fmt == "jsonl":
        yield from one_shape(_read_jsonl(text, name, text_field, columns))
    elif fmt == "json":
        yield from one_shape(_read_json(text, name, text_field, columns))
    else:  # pragma: no cover - config.py's Literal keeps other values out
        raise InputError(f"unknown format {fmt!r}", field="data.train.format", value=fmt)


def read_text(path: Path, encoding: str = "utf-8") -> str:
    """Decode strictly; on a bad byte name the file and offset and offer latin-1."""
    data = path.read_bytes()
    codec = "utf-8-sig" if encoding.lower().replace("_", "-") in ("utf-8", "utf8") else encoding
    try:
        return data.decode(codec)
    except UnicodeDecodeError as err:
        at = err.start + (3 if codec == "utf-8-sig" and data[:3] == b"\xef\xbb\xbf" else 0)
        snippet = data[max(0, at - 12): at + 4]  # utf-8-sig counted from after its BOM
        raise InputError(
            f"{path}: byte {at} (0x{data[at]:02x}) is not valid {encoding} "
            f"(near {snippet!r})", field="data.train", value=str(path),
            fix="re-save the file as UTF-8, or read it as latin-1: set `encoding: latin-1` on "
                "this source (CLI: --encoding latin-1)") from None
    except LookupError:
        raise InputError(f"unknown encoding {encoding!r}", field="data.train.encoding",
                         value=encoding, fix="use utf-8, latin-1, cp1252, utf-16 ...") from None


def record_to_example(rec: Any, text_field: str, where: str,
                      columns: dict[str, str] | None = None) -> Example:
    """A JSON object / table row -> Example in the format its fields say (data_formats.detect)."""
    if not isinstance(rec, dict):
        raise InputError(f"{where}: expected an object with a {text_field!r} field, found "
                         f"{type(rec).__name__}", field="data.train", value=where,
                         fix='write one JSON object per line, e.g. {"text": "..."}')
    orig = rec
    rec = apply_columns(rec, columns, where)
    tf = "text" if columns and "text" in columns else text_field
    fmt = detect(rec, tf)
    if fmt == "text":
        return Example(text=as_text(rec[tf], where, tf), source=where, shape=fmt)
    if fmt == "prompt_completion":
        return Example(prompt=as_text(rec.get(PROMPT_FIELD), where, PROMPT_FIELD),
                       completion=as_text(rec.get(COMPLETION_FIELD), where, COMPLETION_FIELD),
                       source=where, shape=fmt)
    if fmt == "alpaca":
        return Example(messages=alpaca_messages(rec, where), source=where, shape=fmt)
    if fmt in ("sharegpt", "messages"):
        key = "conversations" if fmt == "sharegpt" else MESSAGES_FIELD
        return Example(messages=chat_messages(rec, key, where, columns), source=where, shape=fmt,
                       tools=record_tools(rec, where))
    raise unknown_shape(orig, text_field, where)


_as_text = as_text  # the name other modules of this package used


def one_shape(examples: Iterator[Example]) -> Iterator[Example]:
    """Pass a file's examples through, refusing the first whose format differs from the file's
    first record (a stray record is usually a broken export; see core/data_formats.py)."""
    first: Example | None = None
    for ex in examples:
        if first is None:
            first = ex
        elif ex.shape != first.shape:
            raise InputError(
                f"{ex.source}: this record is {FORMAT_LABELS.get(ex.shape, ex.shape)} but "
                f"{first.source} is {FORMAT_LABELS.get(first.shape, first.shape)}: one file holds "
                "one format", field="data.train", value=ex.source,
                fix="fix or delete that record, or put each format in its own file")
        yield ex


def read_csv(text: str | Iterator[str], name: str, text_field: str, delimiter: str,
             columns: dict[str, str] | None = None) -> Iterator[Example]:
    """A CSV's examples from its text, or from its lines (data_arrow streams an open file)."""
    csv.field_size_limit(sys.maxsize)  # whole documents in one cell are normal here (seed 003)
    # newline="" keeps CRLF inside quoted cells intact and lets csv handle the row ends itself.
    lines = io.StringIO(text, newline="") if isinstance(text, str) else text
    reader = csv.reader(lines, delimiter=delimiter)
    try:
        header = next(reader)
    except StopIteration:
        raise InputError(f"{name} is empty (no header row)", field="data.train", value=name,
                         fix=f"the first row names the columns; one of them must be {text_field!r}"
                         ) from None
    except csv.Error as err:
        raise InputError(f"{name}: line 1: {err}", field="data.train", value=name) from None
    header = [h.strip() for h in header]
    cols = {h: i for i, h in enumerate(header)}
    for ours, theirs in (columns or {}).items():
        if ours in ("role", "content", "from", "value"):
            continue
        if theirs not in cols:
            found = ", ".join(repr(h) for h in header[:20]) or "none"
            raise InputError(f"{name}: columns.{ours} names {theirs!r}, which the header does not "
                             f"have; columns found: {found}", field=f"data.train.columns.{ours}",
                             value=theirs, fix=f"set columns.{ours} to one of the columns")
    fmt, used = detect_fields(header, text_field, columns)
    if fmt in ("text", "prompt_completion", "alpaca"):
        idx = [(h, cols[h]) for h in used]

        def get(row: list[str]) -> Example:
            rec = {h: row[i] if i < len(row) else "" for h, i in idx}
            return record_to_example(rec, text_field, f"{name}:{reader.line_num}", columns)
    else:
        found = ", ".join(repr(h) for h in header[:20]) or "none"
        hint = ""
        if len(header) == 1 and delimiter == "," and "\t" in header[0]:
            hint = " (the header has tabs: is it a TSV? set format: tsv)"
        raise InputError(f"{name} has no {text_field!r} column; columns found: {found}{hint}",
                         field="data.train.text_field", value=text_field,
                         fix=f"set text_field to one of the columns, or name a column "
                             f"{text_field!r} (seed 003's CSV format), or map yours, e.g. "
                             f"{suggest_mapping({h: '' for h in header if h})}")
    for row in csv_rows(reader, name):
        yield get(row)


def csv_rows(reader: Any, name: str) -> Iterator[list[str]]:
    """The data rows of a csv.reader after its header (blank lines skipped: they are not
    examples); a broken row is the InputError naming the file and line (reader.line_num)."""
    while True:
        try:
            row = next(reader)
        except StopIteration:
            return
        except csv.Error as err:
            raise InputError(f"{name}: line {reader.line_num}: {err}", field="data.train",
                             value=name, fix="quote cells that hold newlines or delimiters "
                             "(`ftwizard data convert` writes properly escaped CSV)") from None
        if row:
            yield row


def _read_jsonl(text: str, name: str, text_field: str,
                columns: dict[str, str] | None = None) -> Iterator[Example]:
    for lineno, line in enumerate(text.splitlines(), 1):
        if line.strip():
            yield jsonl_example(line, lineno, name, text_field, columns)


def jsonl_example(line: str, lineno: int, name: str, text_field: str,
                  columns: dict[str, str] | None = None) -> Example:
    """One JSONL line as an Example (the list reader and the Arrow streamer share it)."""
    return record_to_example(json_line(line, lineno, name), text_field, f"{name}:{lineno}", columns)


def json_line(line: str, lineno: int, name: str) -> Any:
    """One JSONL line parsed, or the InputError naming the file, line and column."""
    try:
        return json.loads(line)
    except json.JSONDecodeError as err:
        raise InputError(f"{name}: line {lineno}, column {err.colno}: not valid JSON "
                         f"({err.msg})", field="data.train", value=f"{name}:{lineno}",
                         fix="fix or delete that line (each line must be one JSON object)"
                         ) from None


def _read_json(text: str, name: str, text_field: str,
               columns: dict[str, str] | None = None) -> Iterator[Example]:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as err:
        if err.msg.startswith("Extra data"):  # JSON lines saved as .json (HF accepts both)
            yield from _read_jsonl(text, name, text_field, columns)
            return
        raise InputError(f"{name}: line {err.lineno}, column {err.colno}: not valid JSON "
                         f"({err.msg})", field="data.train", value=name,
                         fix="fix the JSON there") from None
    if isinstance(data, dict):
        lists = [v for v in data.values() if isinstance(v, list)]
        try:
            one = detect(apply_columns(data, columns, name), text_field) is not None
        except InputError:  # a mapped column missing: it is a container, not a record
            one = False
        if one:
            data = [data]
        elif len(lists) == 1:
            data = lists[0]
    if not isinstance(data, list):
        raise InputError(f"{name}: expected a list of records", field="data.train", value=name,
                         fix='write [{"text": "..."}, ...] or one object per line (.jsonl)')
    for i, rec in enumerate(data):
        yield record_to_example(rec, text_field, f"{name}[{i}]", columns)


def _read_parquet(path: Path, text_field: str,
                  columns: dict[str, str] | None = None) -> Iterator[Example]:
    import pyarrow.parquet as pq  # ~0.2 s

    try:
        pf = pq.ParquetFile(path)
    except Exception as err:  # noqa: BLE001 - pyarrow raises several types for bad files
        raise InputError(f"{path}: not a readable Parquet file ({err})", field="data.train",
                         value=str(path), fix="check the file (or its extension)") from None
    names = pf.schema_arrow.names
    fmt, cols = detect_fields(names, text_field, columns)
    if fmt is None:
        raise InputError(f"{path} has no {text_field!r} column; columns found: "
                         f"{', '.join(names[:20])}", field="data.train.text_field",
                         value=text_field, fix="set text_field to one of those columns")
    n = 0
    for batch in pf.iter_batches(columns=cols, batch_size=4096):
        for rec in batch.to_pylist():
            yield record_to_example(rec, text_field, f"{path}[{n}]", columns)
            n += 1


def load_hf(source: DataSource) -> Any:
    """A datasets.Dataset from a saved folder or, strictly offline, from the local datasets cache."""
    spec = source.path[3:]
    name, _, split = spec.partition(":")
    if not name:
        raise InputError("hf: needs a dataset name", field="data.train", value=source.path,
                         fix="write hf:NAME or hf:NAME:split")
    # Never touch the network, even if the caller forgot HF_DATASETS_OFFLINE.
    os.environ["HF_DATASETS_OFFLINE"] = "1"
    os.environ["HF_HUB_OFFLINE"] = "1"
    import datasets  # ~1.5 s

    try:
        datasets.config.HF_HUB_OFFLINE = True
    except AttributeError:  # pragma: no cover - older datasets
        pass
    folder = Path(name).expanduser()
    try:
        if folder.is_dir():
            ds = datasets.load_from_disk(str(folder))
            if isinstance(ds, datasets.DatasetDict):
                key = split or ("train" if "train" in ds else next(iter(ds)))
                if key not in ds:
                    raise InputError(f"{source.path}: no split {key!r}; splits: {', '.join(ds)}",
                                     field="data.train", value=source.path,
                                     fix=f"write hf:{name}:{next(iter(ds))}")
                ds = ds[key]
            return ds
        return datasets.load_dataset(name, split=split or "train")
    except InputError:
        raise
    except Exception as err:  # noqa: BLE001 - datasets raises many types for "not there"
        raise InputError(f"{source.path}: cannot load it offline ({type(err).__name__}: "
                         f"{str(err).splitlines()[0][:200] if str(err) else ''})",
                         field="data.train", value=source.path,
                         fix="save it with dataset.save_to_disk(FOLDER) and use hf:FOLDER, or "
                             "download it once into the datasets cache on a connected machine"
                         ) from None


def _read_hf(source: DataSource) -> Iterator[Example]:
    ds = load_hf(source)
    yield from one_shape(record_to_example(rec, source.text_field, f"{source.path}[{i}]",
                                           source.columns) for i, rec in enumerate(ds))


# ---------------------------------------------------------------- raw records

def iter_records(source: DataSource) -> Iterator[tuple[Any, str]]:
    """Every record of a source as (the record as read, its place: `file:line` or `file[i]`),
    before any format is recognised: for readers of shapes other than the training formats above
    (core/preference_data.py). Same files, decoding and JSON/CSV errors as iter_examples; a `.txt`
    file has no fields, so it is refused here."""
    if is_hf(source.path):
        for i, rec in enumerate(load_hf(source)):
            yield rec, f"{source.path}[{i}]"
        return
    for path, fmt in source_files(source):
        name = str(path)
        if fmt in ("parquet", "hf"):
            if fmt == "hf":
                yield from iter_records(DataSource(path=f"hf:{path}", columns=source.columns))
                continue
            import pyarrow.parquet as pq

            try:
                pf = pq.ParquetFile(path)
            except Exception as err:  # noqa: BLE001 - pyarrow raises several types for bad files
                raise InputError(f"{path}: not a readable Parquet file ({err})",
                                 field="data.train", value=name,
                                 fix="check the file (or its extension)") from None
            n = 0
            for batch in pf.iter_batches(batch_size=4096):
                for rec in batch.to_pylist():
                    yield rec, f"{name}[{n}]"
                    n += 1
            continue
        if fmt == "text":
            raise InputError(f"{name}: a text file has no fields to read records from",
                             field="data.train", value=name,
                             fix="give this data as JSONL, JSON, CSV or Parquet records")
        text = read_text(path, source.encoding)
        if fmt == "jsonl":
            for lineno, line in enumerate(text.splitlines(), 1):
                if line.strip():
                    yield json_line(line, lineno, name), f"{name}:{lineno}"
        elif fmt == "json":
            yield from _json_records(text, name)
        else:
            yield from _csv_records(text, name, "\t" if fmt == "tsv" else ",")


def _json_records(text: str, name: str) -> Iterator[tuple[Any, str]]:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as err:
        if err.msg.startswith("Extra data"):  # JSON lines saved as .json (HF accepts both)
            for lineno, line in enumerate(text.splitlines(), 1):
                if line.strip():
                    yield json_line(line, lineno, name), f"{name}:{lineno}"
            return
        raise InputError(f"{name}: line {err.lineno}, column {err.colno}: not valid JSON "
                         f"({err.msg})", field="data.train", value=name,
                         fix="fix the JSON there") from None
    if isinstance(data, dict):
        lists = [v for v in data.values() if isinstance(v, list)
                 and all(isinstance(r, dict) for r in v)]
        data = lists[0] if len(lists) == 1 and len(data) == 1 else [data]
    if not isinstance(data, list):
        raise InputError(f"{name}: expected a list of records", field="data.train", value=name,
                         fix='write [{...}, ...] or one object per line (.jsonl)')
    for i, rec in enumerate(data):
        yield rec, f"{name}[{i}]"


def _csv_records(text: str, name: str, delimiter: str) -> Iterator[tuple[Any, str]]:
    csv.field_size_limit(sys.maxsize)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    try:
        header = [h.strip() for h in next(reader)]
    except StopIteration:
        raise InputError(f"{name} is empty (no header row)", field="data.train", value=name,
                         fix="the first row names the columns") from None
    except csv.Error as err:
        raise InputError(f"{name}: line 1: {err}", field="data.train", value=name) from None
    for row in csv_rows(reader, name):
        yield ({h: row[i] if i < len(row) else "" for i, h in enumerate(header)},
               f"{name}:{reader.line_num}")


# ---------------------------------------------------------------- content hashing (cache keys)

_FULL_HASH_LIMIT = 8 << 20
_CHUNK = 1 << 20


def source_digest(source: DataSource) -> str:
    """A digest that changes when the source's content does: sizes, mtimes and the bytes (all of
    them for files under 8 MB; first, middle and last MiB for bigger ones, which with size and
    mtime catches real edits while keeping the wizard instant on big corpora)."""
    h = hashlib.blake2b(digest_size=16)
    h.update(source.path.encode())
    if is_hf(source.path):
        folder = Path(source.path[3:].partition(":")[0]).expanduser()
        if folder.is_dir():
            for f in sorted(folder.rglob("*")):
                if f.is_file():
                    _hash_file(h, f)
        else:
            ds = load_hf(source)
            h.update(str(getattr(ds, "_fingerprint", "")).encode())
        return h.hexdigest()
    for f, fmt in source_files(source):
        h.update(fmt.encode())
        _hash_file(h, f)
    return h.hexdigest()


def _hash_file(h: Any, f: Path) -> None:
    st = f.stat()
    h.update(f"{f}\0{st.st_size}\0{st.st_mtime_ns}".encode())
    with f.open("rb") as fh:
        if st.st_size <= _FULL_HASH_LIMIT:
            h.update(fh.read())
        else:
            for off in (0, st.st_size // 2, st.st_size - _CHUNK):
                fh.seek(off)
                h.update(fh.read(_CHUNK))


def load_examples(source: DataSource, *, progress: Callable[[float], None] | None = None,
                  cancel: Callable[[], bool] | None = None) -> list[Example]:
    """All examples of a source in memory (text is a few times smaller than its token ids)."""
    out: list[Example] = []
    for i, ex in enumerate(iter_examples(source)):
        out.append(ex)
        if cancel is not None and i % 256 == 0 and cancel():
            raise Cancelled()
    if progress is not None:
        progress(1.0)
    return out
