"""Reading training data: every format the seed recipes use, turned into :class:`Example` records.

Most failed runs in the seeds start here (seed 003's unescaped CSV newlines, a text column that is
not there), so every reader fails with an :class:`InputError` that names the file, the place in it
and the fix, never with a traceback. Readers decode strictly: a silently mangled byte would change
the token count the plan is built on.

Conventions (documented once, here):
- a `.txt` file is one example (a document in corpus mode, one sequence in entries mode);
- a folder is read recursively; every file with a known extension is one source part, in sorted
  path order, hidden files skipped;
- a record (JSONL line, CSV row, Parquet/HF row) gives a text example when it has the source's
  `text_field`, else a prompt/completion pair, else chat `messages` (a list of {role, content}).
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

    @property
    def kind(self) -> str:
        if self.messages is not None:
            return "chat"
        if self.prompt is not None or self.completion is not None:
            return "prompt"
        return "text"

    def characters(self) -> int:
        if self.messages is not None:
            return sum(len(str(m.get("content") or "")) for m in self.messages)
        if self.text is not None:
            return len(self.text)
        return len(self.prompt or "") + len(self.completion or "")

    def is_empty(self) -> bool:
        if self.messages is not None:
            return not any(str(m.get("content") or "").strip() for m in self.messages)
        if self.text is not None:
            return not self.text.strip()
        return not ((self.prompt or "").strip() or (self.completion or "").strip())

    def fingerprint(self) -> bytes:
        """Content digest for duplicate counting (the source name is not part of it)."""
        if self.messages is not None:
            raw = json.dumps(self.messages, sort_keys=True, ensure_ascii=False)
        elif self.text is not None:
            raw = "t\0" + self.text
        else:
            raw = f"p\0{self.prompt or ''}\0{self.completion or ''}"
        return hashlib.blake2b(raw.encode("utf-8", "surrogatepass"), digest_size=12).digest()


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
        yield from read_file(path, fmt, source.text_field, enc)


def read_file(path: Path, fmt: str, text_field: str = "text",
              encoding: str = "utf-8") -> Iterator[Example]:
    name = str(path)
    if fmt == "parquet":
        yield from _read_parquet(path, text_field)
        return
    if fmt == "hf":
        yield from _read_hf(DataSource(path=f"hf:{path}", text_field=text_field))
        return
    text = read_text(path, encoding)
    if fmt == "text":
        yield Example(text=text, source=name)
    elif fmt in ("csv", "tsv"):
        yield from _read_csv(text, name, text_field, "\t" if fmt == "tsv" else ",")
    elif fmt == "jsonl":
        yield from _read_jsonl(text, name, text_field)
    elif fmt == "json":
        yield from _read_json(text, name, text_field)
    else:  # pragma: no cover - config.py's Literal keeps other values out
        raise InputError(f"unknown format {fmt!r}", field="data.train.format", value=fmt)


def read_text(path: Path, encoding: str = "utf-8") -> str:
    """Decode strictly; on a bad byte name the file and offset and offer latin-1."""
    data = path.read_bytes()
    codec = "utf-8-sig" if encoding.lower().replace("_", "-") in ("utf-8", "utf8") else encoding
    try:
        return data.decode(codec)
    except UnicodeDecodeError as err:
        snippet = data[max(0, err.start - 12): err.start + 4]
        raise InputError(
            f"{path}: byte {err.start} (0x{data[err.start]:02x}) is not valid {encoding} "
            f"(near {snippet!r})", field="data.train", value=str(path),
            fix="re-save the file as UTF-8, or read it as latin-1: set `encoding: latin-1` on "
                "this source (CLI: --encoding latin-1)") from None
    except LookupError:
        raise InputError(f"unknown encoding {encoding!r}", field="data.train.encoding",
                         value=encoding, fix="use utf-8, latin-1, cp1252, utf-16 ...") from None


def record_to_example(rec: Any, text_field: str, where: str) -> Example:
    """A JSON object / table row -> Example: text field, else prompt/completion, else messages."""
    if not isinstance(rec, dict):
        raise InputError(f"{where}: expected an object with a {text_field!r} field, found "
                         f"{type(rec).__name__}", field="data.train", value=where,
                         fix='write one JSON object per line, e.g. {"text": "..."}')
    if text_field in rec:
        return Example(text=_as_text(rec[text_field], where, text_field), source=where)
    if PROMPT_FIELD in rec or COMPLETION_FIELD in rec:
        return Example(prompt=_as_text(rec.get(PROMPT_FIELD), where, PROMPT_FIELD),
                       completion=_as_text(rec.get(COMPLETION_FIELD), where, COMPLETION_FIELD),
                       source=where)
    if MESSAGES_FIELD in rec:
        msgs = rec[MESSAGES_FIELD]
        if not isinstance(msgs, list) or not all(
                isinstance(m, dict) and "role" in m and "content" in m for m in msgs):
            raise InputError(f"{where}: 'messages' must be a list of {{role, content}} objects",
                             field="data.train", value=where,
                             fix='e.g. [{"role": "user", "content": "hi"}, '
                                 '{"role": "assistant", "content": "hello"}]')
        return Example(messages=[{"role": str(m["role"]), "content": _as_text(
            m["content"], where, "content")} for m in msgs], source=where)
    keys = ", ".join(map(str, list(rec)[:12])) or "none"
    raise InputError(f"{where}: no {text_field!r} field (fields found: {keys})",
                     field="data.train.text_field", value=text_field,
                     fix=f"set text_field to one of: {keys}; or use prompt/completion or "
                         "messages fields")


def _as_text(v: Any, where: str, key: str) -> str:
    if v is None:
        return ""
    if isinstance(v, str):
        return v
    if isinstance(v, (int, float, bool)):
        return str(v)
    raise InputError(f"{where}: field {key!r} holds {type(v).__name__}, not text",
                     field="data.train", value=where, fix=f"make {key!r} a string")


def _read_csv(text: str, name: str, text_field: str, delimiter: str) -> Iterator[Example]:
    csv.field_size_limit(sys.maxsize)  # whole documents in one cell are normal here (seed 003)
    # newline="" keeps CRLF inside quoted cells intact and lets csv handle the row ends itself.
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
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
    if text_field in cols:
        idx = cols[text_field]
        get = lambda row: Example(text=row[idx] if idx < len(row) else "", source=name)  # noqa: E731
    elif PROMPT_FIELD in cols and COMPLETION_FIELD in cols:
        pi, ci = cols[PROMPT_FIELD], cols[COMPLETION_FIELD]
        get = lambda row: Example(prompt=row[pi] if pi < len(row) else "",  # noqa: E731
                                  completion=row[ci] if ci < len(row) else "", source=name)
    else:
        found = ", ".join(repr(h) for h in header[:20]) or "none"
        hint = ""
        if len(header) == 1 and delimiter == "," and "\t" in header[0]:
            hint = " (the header has tabs: is it a TSV? set format: tsv)"
        raise InputError(f"{name} has no {text_field!r} column; columns found: {found}{hint}",
                         field="data.train.text_field", value=text_field,
                         fix=f"set text_field to one of the columns, or name a column "
                             f"{text_field!r} (seed 003's CSV format)")
    while True:
        try:
            row = next(reader)
        except StopIteration:
            return
        except csv.Error as err:
            raise InputError(f"{name}: line {reader.line_num}: {err}", field="data.train",
                             value=name, fix="quote cells that hold newlines or delimiters "
                             "(`ftwizard data convert` writes properly escaped CSV)") from None
        if not row:
            continue  # a blank line between rows is not an example
        yield get(row)


def _read_jsonl(text: str, name: str, text_field: str) -> Iterator[Example]:
    for lineno, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            rec = json.loads(line)
        except json.JSONDecodeError as err:
            raise InputError(f"{name}: line {lineno}, column {err.colno}: not valid JSON "
                             f"({err.msg})", field="data.train", value=f"{name}:{lineno}",
                             fix="fix or delete that line (each line must be one JSON object)"
                             ) from None
        yield record_to_example(rec, text_field, f"{name}:{lineno}")


def _read_json(text: str, name: str, text_field: str) -> Iterator[Example]:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as err:
        if err.msg.startswith("Extra data"):  # JSON lines saved as .json (HF accepts both)
            yield from _read_jsonl(text, name, text_field)
            return
        raise InputError(f"{name}: line {err.lineno}, column {err.colno}: not valid JSON "
                         f"({err.msg})", field="data.train", value=name,
                         fix="fix the JSON there") from None
    if isinstance(data, dict):
        lists = [v for v in data.values() if isinstance(v, list)]
        if text_field in data or PROMPT_FIELD in data or MESSAGES_FIELD in data:
            data = [data]
        elif len(lists) == 1:
            data = lists[0]
    if not isinstance(data, list):
        raise InputError(f"{name}: expected a list of records", field="data.train", value=name,
                         fix='write [{"text": "..."}, ...] or one object per line (.jsonl)')
    for i, rec in enumerate(data):
        yield record_to_example(rec, text_field, f"{name}[{i}]")


def _read_parquet(path: Path, text_field: str) -> Iterator[Example]:
    import pyarrow.parquet as pq  # ~0.2 s

    try:
        pf = pq.ParquetFile(path)
    except Exception as err:  # noqa: BLE001 - pyarrow raises several types for bad files
        raise InputError(f"{path}: not a readable Parquet file ({err})", field="data.train",
                         value=str(path), fix="check the file (or its extension)") from None
    names = pf.schema_arrow.names
    if text_field in names:
        cols = [text_field]
    elif PROMPT_FIELD in names and COMPLETION_FIELD in names:
        cols = [PROMPT_FIELD, COMPLETION_FIELD]
    elif MESSAGES_FIELD in names:
        cols = [MESSAGES_FIELD]
    else:
        raise InputError(f"{path} has no {text_field!r} column; columns found: "
                         f"{', '.join(names[:20])}", field="data.train.text_field",
                         value=text_field, fix="set text_field to one of those columns")
    n = 0
    for batch in pf.iter_batches(columns=cols, batch_size=4096):
        for rec in batch.to_pylist():
            yield record_to_example(rec, text_field, f"{path}[{n}]")
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
    for i, rec in enumerate(ds):
        yield record_to_example(rec, source.text_field, f"{source.path}[{i}]")


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
