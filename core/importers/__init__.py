"""Other tools' configs read as they are, and written back (issue 17).

`ftwizard import FILE`, and `plan`/`run`/`edit` through :func:`load_foreign` (called by
``config.load_config``), read an axolotl YAML, a LLaMA-Factory YAML, a Hugging Face
TrainingArguments JSON (with the DeepSpeed JSON it names) or a DeepSpeed JSON alone. The format
is detected from the keys and named in the output; every source key ends in the mapping table as
mapped, same-as-ftwizard, not carried (with why) or empty, so nothing is dropped silently. A value
that cannot be mapped is an InputError naming the file, the key, the value and the fix.
`export_config` writes the other direction (axolotl, LLaMA-Factory).
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from ftwizard.core.errors import InputError
from ftwizard.core.importers import axolotl, common, hf_args, llamafactory

FORMATS = ("axolotl", "llamafactory", "hf-trainer", "deepspeed")
EXPORT_FORMATS = ("axolotl", "llamafactory")
NATIVE_SECTIONS = {"model", "method", "hardware", "data", "train", "output"}


@dataclass
class ImportResult:
    format: str
    source: str
    config: Any                      # RunConfig
    rows: list[common.Row] = field(default_factory=list)

    @property
    def not_carried(self) -> list[common.Row]:
        return [r for r in self.rows if r.status == common.NOT_CARRIED]

    def summary(self) -> str:
        counts = {s: sum(1 for r in self.rows if r.status == s)
                  for s in (common.MAPPED, common.SAME, common.DEFAULT, common.NOT_CARRIED, common.EMPTY)}
        return (f"{counts['mapped']} mapped, {counts['same']} same as ftwizard, {counts['default']} "
                f"{self.format} defaults written, {counts['not carried']} not carried, "
                f"{counts['empty']} empty")

    def to_dict(self) -> dict[str, Any]:
        return {"format": self.format, "source": self.source, "summary": self.summary(),
                "rows": [r.to_dict() for r in self.rows], "config": self.config.to_dict()}


# ---------------------------------------------------------------- detection

def is_native(data: Any) -> bool:
    """An ftwizard RunConfig (or something meant to be one: it has its sections)."""
    from ftwizard.core.config import RunConfig

    if not isinstance(data, dict) or not data:
        return True
    if any(isinstance(data.get(s), dict) for s in NATIVE_SECTIONS):
        return True
    return set(data) <= set(RunConfig.model_fields)


def detect(data: dict[str, Any]) -> str | None:
    """The tool a config dict belongs to, from the keys only that tool uses; None if none fits."""
    keys = set(data)
    scores = {"axolotl": len(keys & axolotl.MARKERS), "llamafactory": len(keys & llamafactory.MARKERS),
              "hf-trainer": len(keys & hf_args.MARKERS), "deepspeed": len(keys & hf_args.DS_MARKERS)}
    best = max(scores, key=lambda k: scores[k])
    if scores[best] > 0:
        return best
    if keys & hf_args.TRAINER_KEYS:
        return "hf-trainer"
    return None


def _parse(text: str, source: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        pass
    try:
        from ftwizard.core.config import _load_yaml  # the loader that refuses duplicate keys
    except ImportError:  # pragma: no cover - older config.py
        _load_yaml = lambda t, s: yaml.safe_load(t)  # noqa: E731
    try:
        return _load_yaml(text, source)  # a key written twice is an InputError naming both lines
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        raise InputError(f"not valid JSON or YAML{where}: {getattr(err, 'problem', err)}",
                         field=source, value=source,
                         fix="give an axolotl or LLaMA-Factory YAML, or a TrainingArguments / "
                             "DeepSpeed JSON, and fix the syntax there") from None


def read_file(path: str | Path) -> tuple[Any, str]:
    p = Path(path)
    if not p.is_file():
        raise InputError(f"no such file: {p}", field="FILE", value=str(p),
                         fix="give the path of an axolotl/LLaMA-Factory YAML or a TrainingArguments JSON")
    try:
        text = p.read_text(encoding="utf-8")
    except UnicodeDecodeError as err:
        raise InputError(f"{p} is not UTF-8 text (byte {err.start})", field=str(p), value=str(p),
                         fix="give a YAML or JSON config file saved as UTF-8") from None
    return _parse(text, str(p)), text


def import_data(data: Any, source: str, base: Path, fmt: str | None = None,
                overrides: list[str] | None = None) -> ImportResult:
    if not isinstance(data, dict):
        raise InputError(f"{source} holds a {type(data).__name__}, not a mapping of config keys",
                         field=source, value=type(data).__name__,
                         fix="give an axolotl or LLaMA-Factory YAML, or a TrainingArguments / DeepSpeed JSON")
    fmt = fmt or detect(data)
    if fmt is None:
        some = ", ".join(sorted(map(str, data))[:6])
        raise InputError(f"{source}: not a config format ftwizard can read (keys: {some})",
                         field=source, value=some,
                         fix="give an axolotl YAML (base_model, datasets, micro_batch_size, ...), a "
                             "LLaMA-Factory YAML (model_name_or_path, stage, finetuning_type, "
                             "dataset, ...), a TrainingArguments JSON or a DeepSpeed JSON; or an "
                             "ftwizard config (`ftwizard presets show tiny-cpu-demo`)")
    readers = {"axolotl": lambda: axolotl.to_config(data, source, base),
               "llamafactory": lambda: llamafactory.to_config(data, source, base),
               "hf-trainer": lambda: hf_args.to_config(data, source, base),
               "deepspeed": lambda: hf_args.deepspeed_to_config(data, source)}
    if fmt not in readers:
        raise InputError(f"unknown format {fmt!r}", field="--format", value=fmt,
                         fix=f"choose one of {', '.join(FORMATS)}")
    try:
        m = readers[fmt]()
    except (ValueError, TypeError, AttributeError, KeyError) as err:
        # Each key is checked where it is read; this net keeps a shape nobody foresaw (a list
        # where a mapping belongs, deep inside) a message instead of a traceback.
        raise InputError(f"{source}: a value has a form the {fmt} reader does not expect ({err})",
                         field=source, value=None,
                         fix=f"compare the file with the {fmt} documentation; the keys the reader "
                             "knows are listed by `ftwizard import` on a corrected copy") from None
    stem = Path(source).stem
    m.out.setdefault("name", stem)
    m.out.setdefault("description", f"imported from {fmt} config {Path(source).name}")
    cfg = common.validate(m, overrides)
    return ImportResult(fmt, source, cfg, m.rows)


def import_file(path: str | Path, fmt: str | None = None,
                overrides: list[str] | None = None) -> ImportResult:
    data, _ = read_file(path)
    p = Path(path)
    if fmt is None and is_native(data):
        raise InputError(f"{p} is already an ftwizard run config", field=str(p), value=str(p),
                         fix=f"use it directly: `ftwizard plan {p}`")
    return import_data(data, str(p), p.parent, fmt, overrides)


def foreign_format(path: str | Path) -> str | None:
    """The other tool a file is for, or None for an ftwizard config (or an unreadable file)."""
    try:
        data, _ = read_file(path)
    except InputError:
        return None
    return None if is_native(data) else detect(data)


def load_foreign(text: str, path: Path, overrides: list[str] | None = None):  # noqa: ANN201
    """`load_config`'s hook: a foreign config -> RunConfig (and a note on stderr naming the format),
    None for anything else (native configs keep their own errors and did-you-mean hints)."""
    try:
        data = _parse(text, str(path))
    except InputError:
        return None  # not YAML: parse_config says where, in its own words
    if is_native(data):
        return None
    fmt = detect(data)
    if fmt is None:
        return None
    result = import_data(data, str(path), path.parent, fmt, overrides)
    lost = [r.key for r in result.not_carried]
    shown = ", ".join(lost[:6]) + (f" and {len(lost) - 6} more" if len(lost) > 6 else "")
    sys.stderr.write(f"note: {path} read as {describe(fmt)}: {result.summary()}"
                     + (f"; not carried: {shown}" if lost else "")
                     + f" (`ftwizard import {path}` says what each key became and why)\n")
    return result.config


def describe(fmt: str) -> str:
    return {"axolotl": "an axolotl config", "llamafactory": "a LLaMA-Factory config",
            "hf-trainer": "a Hugging Face TrainingArguments JSON",
            "deepspeed": "a DeepSpeed JSON"}.get(fmt, fmt)


# ---------------------------------------------------------------- export

def export_config(cfg, fmt: str, out: str | Path | None) -> tuple[str, list[str], dict[str, Any]]:  # noqa: ANN001
    """RunConfig -> (the YAML text, what could not be written, extra files {relative name: data}).

    Extra files (the DeepSpeed JSON, LLaMA-Factory's dataset_info.json) go beside `out`."""
    out_path = Path(out).resolve() if out else None
    out_dir = out_path.parent if out_path else None
    stem = out_path.stem if out_path else cfg.name
    if fmt == "axolotl":
        data, lost, extra = axolotl.from_config(cfg, out_dir, stem)
    elif fmt == "llamafactory":
        data, lost, extra = llamafactory.from_config(cfg, out_dir, stem)
    else:
        raise InputError(f"cannot write {fmt!r} configs", field="--format", value=fmt,
                         fix=f"choose one of {', '.join(EXPORT_FORMATS)}")
    head = [f"# {fmt} config written by `ftwizard export-config` from run config {cfg.name!r}"]
    if lost:
        head.append(f"# not expressible in {fmt} (kept only in the ftwizard config):")
        head.extend(f"#   - {x}" for x in lost)
    text = "\n".join(head) + "\n" + yaml.safe_dump(data, sort_keys=False, default_flow_style=False,
                                                   allow_unicode=True)
    return text, lost, extra
