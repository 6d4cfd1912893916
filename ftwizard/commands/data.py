"""`ftwizard data inspect|preview|convert`: the wizard's data step, headless.

`inspect` counts what training will see (examples, tokens, sequences in the chosen mode) with the
model's tokenizer when it is on this machine, and says plainly when the count is approximate.
With `--objective dpo|orpo|kto|reward` (or a config's train.objective) the data is preference
data, counted and filtered as the TRL trainer will (core/preference_data.py): pairs, dropped rows
and why, and the token figures the plan uses; `preview` shows its rows as the trainer tokenizes
them.
`convert` writes the files the seed recipes expect: seed 003's train.csv/validation.csv with
newlines properly escaped, or JSONL.
"""

from __future__ import annotations

import csv
import json
import re
from pathlib import Path
from typing import Any

import click


@click.group("data")
def data() -> None:
    """Inspect and convert training data (txt folders, CSV/TSV, JSONL/JSON, Parquet, hf:NAME)."""


def _objective_option(f: Any) -> Any:
    return click.option(
        "--objective", default=None, type=click.Choice(["sft", "dpo", "orpo", "kto", "reward"]),
        help="Read the data for this train.objective: dpo/orpo/reward take prompt/chosen/rejected "
             "pairs, kto prompt/completion/label (default: the config's, else sft).")(f)


def _source_options(f: Any) -> Any:
    for opt in reversed([
        click.option("--text-field", default=None, help="Column/key holding the text (default: text)."),
        click.option("--format", "fmt", default=None,
                     type=click.Choice(["auto", "text", "csv", "tsv", "jsonl", "json", "parquet", "hf"]),
                     help="Force the file format (default: from the extension)."),
        click.option("--encoding", default=None,
                     help="Text encoding of the files, e.g. latin-1 (default: utf-8)."),
    ]):
        f = opt(f)
    return f


@data.command("inspect")
@click.argument("paths", nargs=-1)
@click.option("--config", "config_path", default=None, type=click.Path(),
              help="Take sources and settings from a run config (PATHs replace its sources).")
@click.option("--model", default=None, help="Model (or tokenizer folder) whose tokenizer counts tokens.")
@click.option("--mode", default=None, type=click.Choice(["corpus", "entries"]), help="Sequence mode.")
@click.option("--block-size", type=click.IntRange(min=1), default=None, help="Tokens per sequence.")
@_source_options
@click.option("--val-split", type=float, default=None, help="Hold out this share for validation.")
@click.option("--val", "val_path", default=None, help="A separate validation file or folder.")
@click.option("--seed", type=int, default=None, help="Seed for the split, sampling and mixing.")
@click.option("--exact", is_flag=True, help="Tokenize everything, even big data (slower).")
@click.option("--packing/--no-packing", default=None,
              help="entries mode: pack several examples per sequence (data.packing).")
@click.option("--chat-template", default=None,
              help="chatml, llama-3, mistral, qwen, gemma or a .jinja file (data.chat_template).")
@click.option("--columns", default=None,
              help="Field names of your file, e.g. prompt=question,completion=answer.")
@_objective_option
@click.option("--no-cache", is_flag=True, help="Recompute instead of using the cached result.")
@click.option("--json", "as_json", is_flag=True, help="Print DataStats as JSON.")
def inspect_cmd(paths: tuple[str, ...], config_path: str | None, model: str | None,
                mode: str | None, block_size: int | None, text_field: str | None,
                fmt: str | None, encoding: str | None, val_split: float | None,
                val_path: str | None, seed: int | None, exact: bool, packing: bool | None,
                chat_template: str | None, columns: str | None, objective: str | None,
                no_cache: bool, as_json: bool) -> int:
    """Count examples, tokens and training sequences of PATH... (PATH:WEIGHT mixes sources)."""
    from ftwizard.core.config import from_dict
    from ftwizard.core.errors import InputError

    base, d = _sources(paths, config_path, text_field, fmt, encoding,
                       usage="ftwizard data inspect my.jsonl [other.csv:0.5 ...] or --config run.yaml")
    if mode:
        d["mode"] = mode
    if block_size:
        d["block_size"] = block_size
    _data_options(d, columns=columns, chat_template=chat_template)
    if packing is not None:
        d["packing"] = packing
    if val_split is not None and val_path:
        raise InputError("give --val-split or --val, not both", field="--val", value=val_path,
                         fix="--val-split 0.05 holds out a share; --val FILE uses a separate file")
    if val_split is not None:
        d["validation"] = {"split": val_split}
    if val_path:
        d["validation"] = {"path": val_path}
    if model:
        base.setdefault("model", {})["name"] = model
    if seed is not None:
        base.setdefault("train", {})["seed"] = seed
    if objective:
        base.setdefault("train", {})["objective"] = objective
    cfg = from_dict(base)
    tok, note = _tokenizer(cfg.model if (model or config_path) else None)
    stats = _run_inspect(cfg, tok, exact=exact, use_cache=not no_cache)
    if note:
        stats.notes.append(note)
    if as_json:
        click.echo(json.dumps(stats.to_dict(), indent=2))
    elif stats.objective != "sft":
        _render_preference(stats)
    else:
        _render(stats)
    return 0


def _sources(paths: tuple[str, ...], config_path: str | None, text_field: str | None,
             fmt: str | None, encoding: str | None, *, usage: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """(config dict, its data section) with data.train from PATH... or from --config's sources,
    the command line's --text-field / --format / --encoding applied to each."""
    from ftwizard.core.config import load_config, parse_source
    from ftwizard.core.errors import InputError

    base: dict[str, Any] = load_config(config_path).to_dict() if config_path else {}
    d = base.setdefault("data", {})
    if paths:
        d["train"] = [_source_dict(parse_source(p), text_field, fmt, encoding) for p in paths]
    elif config_path:
        d["train"] = [_source_dict(s, text_field, fmt, encoding) for s in d.get("train", [])]
    else:
        raise InputError("no data given", field="PATH", value=None, fix=usage)
    return base, d


def _data_options(d: dict[str, Any], *, columns: str | None = None,
                  chat_template: str | None = None, train_on: str | None = None) -> None:
    """--columns OURS=YOURS,... on every source; --chat-template and --train-on on data."""
    from ftwizard.core.errors import InputError

    if columns:
        mapping = {}
        for part in columns.split(","):
            k, sep, v = part.partition("=")
            if not sep or not k.strip() or not v.strip():
                raise InputError(f"--columns: {part!r} is not OURS=YOURS", field="--columns",
                                 value=columns, fix="e.g. --columns prompt=question,completion=answer")
            mapping[k.strip()] = v.strip()
        for src in d.get("train", []):
            src["columns"] = mapping
    if chat_template:
        d["chat_template"] = chat_template
    if train_on:
        d["train_on"] = train_on


def _source_dict(s: dict[str, Any], text_field: str | None, fmt: str | None,
                 encoding: str | None) -> dict[str, Any]:
    s = dict(s)
    if text_field:
        s["text_field"] = text_field
    if fmt:
        s["format"] = fmt
    if encoding:
        s["encoding"] = encoding
    return s


def _tokenizer(model: Any) -> tuple[Any, str | None]:
    from ftwizard.core.data import load_tokenizer, no_tokenizer_fix, tokenizer_folder

    if model is None:
        return None, "no --model given: token counts are approximate; add --model NAME for exact counts"
    if tokenizer_folder(model) is None:
        name = model.tokenizer or model.name
        return None, f"no local tokenizer for {name}: {no_tokenizer_fix(name)}"
    return load_tokenizer(model, light=True), None


def _run_inspect(cfg: Any, tok: Any, *, exact: bool, use_cache: bool) -> Any:
    import sys

    from ftwizard.core.data import inspect

    show = sys.stderr.isatty()
    last = [-1]

    def progress(f: float) -> None:
        pct = int(f * 100)
        if show and pct // 10 != last[0]:
            last[0] = pct // 10
            click.echo(f"\rinspecting... {pct:3d}%", nl=False, err=True)

    stats = inspect(cfg.data, tok, seed=cfg.train.seed, progress=progress,
                    exact=True if exact else None, use_cache=use_cache,
                    pad_token_id=cfg.model.pad_token_id, train=cfg.train)
    if show:
        click.echo("\r" + " " * 20 + "\r", nl=False, err=True)
    return stats


def _render(s: Any) -> None:
    from rich.console import Console  # ~60 ms
    from rich.table import Table

    con = Console(highlight=False)
    approx = "" if s.tokens_exact else f" (approx., ±{s.tokens_error:.1%})"
    t = Table(show_header=False, show_edge=False, pad_edge=False, box=None)
    t.add_column(style="bold")
    t.add_column(justify="right")
    t.add_column()
    from ftwizard.core.data_formats import FORMAT_LABELS

    fmts = ", ".join(f"{FORMAT_LABELS.get(k, k)} {v:,}" for k, v in sorted(s.formats.items()))
    rows = [
        ("examples", f"{s.examples:,}", f"{s.empty:,} empty (skipped), {s.duplicates:,} duplicates"),
        ("formats", f"{len(s.formats)}", fmts or "-"),
        ("characters", f"{s.characters:,}", ""),
        *([("trained tokens", f"{s.trained_tokens:,}",
            "carry loss; the others are masked (data.train_on)")]
          if s.trained_tokens is not None else []),
        ("tokens", f"{s.tokens:,}", f"{approx.strip()} tokenizer: {s.tokenizer}".strip()),
        ("longest example", f"{s.longest_tokens:,}", "tokens"),
        (f"over block_size {s.block_size}", f"{s.over_block:,}",
         f"{s.over_block_share:.1%} of examples, "
         + ("truncated" if s.mode == "entries" else "split across sequences")),
        (f"sequences ({s.mode})", f"{s.sequences:,}", "training, after validation split and mixing"),
        ("validation", f"{s.validation_sequences:,}",
         f"sequences from {s.validation_examples:,} examples"),
        ("tokens dropped", f"{s.tokens_dropped:,}",
         "last partial block per source" if s.mode == "corpus" else "cut by truncation"),
    ]
    if s.mode == "entries" and s.sequences_unpacked:
        un = s.padding_unpacked / max(1, s.sequences_unpacked * s.block_size)
        pk = s.padding_packed / max(1, s.sequences_packed * s.block_size)
        rows.append(("padding" + (" (packed)" if s.packing else ""), f"{s.padding_tokens:,}",
                     f"tokens; unpacked {s.padding_unpacked:,} ({un:.1%}) in "
                     f"{s.sequences_unpacked:,} sequences, packed {s.padding_packed:,} ({pk:.1%}) "
                     f"in {s.sequences_packed:,}"))
    for r in rows:
        t.add_row(*r)
    con.print(t)
    if len(s.per_source) > 1 or any(p.get("role") == "validation" for p in s.per_source):
        st = Table(show_edge=False, pad_edge=False)
        for col in ("source", "weight", "examples", "tokens", "sequences", "in mix"):
            st.add_column(col, justify="left" if col == "source" else "right")
        for p in s.per_source:
            st.add_row(p["path"], f"{p['weight']:.3f}" if "weight" in p else "val",
                       f"{p['examples']:,}", f"{p['tokens']:,}", f"{p.get('sequences', 0):,}",
                       f"{p.get('mixed_sequences', 0):,}")
        con.print(st)
        con.print(f"[dim]mixing: {s.mixing}[/]")
    if s.histogram:
        top = max(c for _, c in s.histogram) or 1
        con.print("[bold]length histogram[/] (tokens per example)")
        prev = 0
        for upper, count in s.histogram:
            bar = "#" * max(1 if count else 0, round(30 * count / top))
            con.print(f"  {prev + 1:>7,}-{upper:<7,} {count:>9,} {bar}")
            prev = upper
    for note in s.notes:
        con.print(f"[yellow]note:[/] {note}")
    if s.cached:
        con.print("[dim](cached result; --no-cache recomputes)[/]")


def _render_preference(s: Any) -> None:
    """data inspect for preference data: rows (pairs or kto completions), what the trainer
    would drop and why, and the token figures the plan uses (core/data_stats.DataStats)."""
    from rich.console import Console
    from rich.table import Table

    from ftwizard.core.preference_data import SHAPE_LABELS

    con = Console(highlight=False)
    kto = s.objective == "kto"
    unit = "rows" if kto else "pairs"
    approx = "" if s.tokens_exact else " (approx.)"
    t = Table(show_header=False, show_edge=False, pad_edge=False, box=None)
    t.add_column(style="bold")
    t.add_column(justify="right")
    t.add_column()
    fmts = ", ".join(f"{SHAPE_LABELS.get(k, k)} {v:,}" for k, v in sorted(s.formats.items()))
    why = "; ".join(f"{n:,} {r}" for r, n in s.dropped_reasons.items())
    rows = [
        ("objective", s.objective, "TRL's trainer counts and filters as shown here"),
        ("records", f"{s.examples:,}", f"{s.duplicates:,} duplicates"),
        ("shapes", f"{len(s.formats)}", fmts or "-"),
        (f"{unit} (training)", f"{s.sequences:,}",
         "after the trainer's filter, validation split and mixing"),
        ("validation", f"{s.validation_sequences:,}", unit),
        ("dropped", f"{s.dropped:,}", why or "none"),
        ("prompt tokens", f"{s.prompt_tokens_mean:,.1f}", f"mean{approx}; max "
                                                         f"{s.prompt_tokens_max:,}"),
    ]
    if kto:
        rows += [("prompt + completion", f"{s.completion_tokens_mean:,.1f}",
                  f"mean tokens; max {s.completion_tokens_max:,} (cut at block_size "
                  f"{s.block_size})"),
                 ("desirable / undesirable", f"{s.desirable:,} / {s.undesirable:,}",
                  "training rows labelled true / false")]
    else:
        rows += [("prompt + chosen", f"{s.chosen_tokens_mean:,.1f}",
                  f"mean tokens; max {s.chosen_tokens_max:,} (cut at block_size "
                  f"{s.block_size})"),
                 ("prompt + rejected", f"{s.rejected_tokens_mean:,.1f}",
                  f"mean tokens; max {s.rejected_tokens_max:,}"),
                 ("chosen == rejected", f"{s.identical_pairs:,}", "pairs (kept; teach nothing)")]
    rows += [("tokens per epoch", f"{s.tokens:,}", f"every sequence the trainer runs{approx}; "
                                                   f"tokenizer: {s.tokenizer}"),
             ("longest sequence", f"{s.longest_tokens:,}", "tokens, before the cut")]
    for r in rows:
        t.add_row(*r)
    con.print(t)
    if len(s.per_source) > 1 or any(p.get("role") == "validation" for p in s.per_source):
        st = Table(show_edge=False, pad_edge=False)
        for col in ("source", "weight", "records", "dropped", unit, "in mix"):
            st.add_column(col, justify="left" if col == "source" else "right")
        for p in s.per_source:
            st.add_row(p["path"], f"{p['weight']:.3f}" if "weight" in p else "val",
                       f"{p['examples']:,}", f"{p.get('dropped', 0):,}",
                       f"{p.get('sequences', p.get('validation_examples', 0)):,}",
                       f"{p.get('mixed_sequences', 0):,}")
        con.print(st)
        con.print(f"[dim]mixing: {s.mixing}[/]")
    for note in s.notes:
        con.print(f"[yellow]note:[/] {note}")
    if s.cached:
        con.print("[dim](cached result; --no-cache recomputes)[/]")


@data.command("preview")
@click.argument("paths", nargs=-1)
@click.option("--config", "config_path", default=None, type=click.Path(),
              help="Take sources and settings from a run config (PATHs replace its sources).")
@click.option("--model", default=None, help="Model (or tokenizer folder) whose tokenizer to use.")
@click.option("--n", "n", type=click.IntRange(min=1), default=3, show_default=True,
              help="Examples to show.")
@click.option("--mode", default=None, type=click.Choice(["corpus", "entries"]), help="Sequence mode.")
@click.option("--block-size", type=click.IntRange(min=1), default=None, help="Tokens per sequence.")
@click.option("--train-on", default=None, type=click.Choice(["completion", "last_turn", "all"]),
              help="Which tokens carry loss (data.train_on).")
@click.option("--chat-template", default=None,
              help="chatml, llama-3, mistral, qwen, gemma or a .jinja file (data.chat_template).")
@click.option("--columns", default=None,
              help="Field names of your file, e.g. prompt=question,completion=answer.")
@_source_options
@_objective_option
@click.option("--json", "as_json", is_flag=True,
              help="Print a list with one object per example: ids, tokens, trained (0/1).")
def preview_cmd(paths: tuple[str, ...], config_path: str | None, model: str | None, n: int,
                mode: str | None, block_size: int | None, train_on: str | None,
                chat_template: str | None, columns: str | None, text_field: str | None,
                fmt: str | None, encoding: str | None, objective: str | None,
                as_json: bool) -> int:
    """Show the first examples of PATH as the model sees them: trained tokens highlighted,
    masked ones dimmed, with counts of trained, masked and padding tokens."""
    from ftwizard.core.config import from_dict
    from ftwizard.core.data import load_tokenizer
    from ftwizard.core.data_preview import preview
    from ftwizard.core.errors import InputError

    base, d = _sources(paths, config_path, text_field, fmt, encoding,
                       usage="ftwizard data preview my.jsonl --model MODEL, or --config run.yaml")
    _data_options(d, columns=columns, chat_template=chat_template, train_on=train_on)
    for key, v in (("mode", mode), ("block_size", block_size)):
        if v:
            d[key] = v
    if model:
        base.setdefault("model", {})["name"] = model
    if objective:
        base.setdefault("train", {})["objective"] = objective
    cfg = from_dict(base)
    if not (model or config_path):
        raise InputError("preview needs the model's tokenizer", field="--model", value=None,
                         fix="add --model NAME (or a tokenizer folder), or --config run.yaml")
    shown = preview(cfg, load_tokenizer(cfg.model, light=True), n)
    if as_json:
        rows = [json.dumps(e.to_dict(), ensure_ascii=False) for e in shown]
        click.echo("[\n" + ",\n".join(rows) + "\n]")  # one example per line
        return 0
    _render_preview(shown, cfg)
    return 0


def _render_preview(shown: list[Any], cfg: Any) -> None:
    from rich.console import Console

    from ftwizard.core.data_preview import counts_text, example_text

    con = Console(highlight=False)
    obj = cfg.train.objective
    if obj != "sft":
        what = "scored sequences" if obj == "reward" else "completions bright, prompts dimmed"
        con.print(f"{obj}: each row as the trainer tokenizes it, {what}; block_size "
                  f"{cfg.data.block_size} (truncation {cfg.train.preference.truncation})")
    else:
        con.print(f"[bold]trained[/] tokens bright, [dim]masked dimmed[/]; mode {cfg.data.mode}, "
                  f"block_size {cfg.data.block_size}, train_on {cfg.data.train_on}"
                  + ("" if cfg.data.mask_prompt else " (mask_prompt: false: all)"))
    for k, e in enumerate(shown, 1):
        con.rule(f"example {k}: {e.source} ({e.format})" if obj == "sft"
                 else f"{e.format} · {e.source}")  # the sequence first: long paths get cut
        con.print(example_text(e))   # the wizard's Data step draws it with the same two
        con.print(counts_text(e))


@data.command("convert")
@click.argument("sources", nargs=-1, required=True)
@click.option("--out", "out", required=True, type=click.Path(),
              help="Output file: .csv, .tsv or .jsonl (the format follows the extension).")
@click.option("--split", "split", default="files", show_default=True,
              type=click.Choice(["files", "paragraphs"]),
              help="Text input: one row per file, or one per blank-line-separated paragraph.")
@_source_options
@click.option("--val-split", type=click.FloatRange(0, 1, min_open=True, max_open=True),
              default=None, help="Also write a validation file with this share of the rows.")
@click.option("--val-out", default=None, type=click.Path(),
              help="Validation file (default: OUT with 'train' replaced by 'validation').")
@click.option("--seed", type=int, default=42, show_default=True, help="Seed for --val-split.")
def convert(sources: tuple[str, ...], out: str, split: str, text_field: str | None,
            fmt: str | None, encoding: str | None, val_split: float | None,
            val_out: str | None, seed: int) -> int:
    """Convert SOURCES (txt files/folders, CSV, JSONL, ...) to CSV or JSONL, optionally
    splitting off a validation file (seed 003's train.csv / validation.csv)."""
    from ftwizard.core.config import DataSource
    from ftwizard.core.data import iter_examples
    from ftwizard.core.data_prep import validation_indices
    from ftwizard.core.errors import InputError

    out_p = Path(out)
    kind = out_p.suffix.lower()
    if kind not in (".csv", ".tsv", ".jsonl"):
        raise InputError(f"cannot write {out_p.suffix or 'a file without extension'}",
                         field="--out", value=out, fix="end --out with .csv, .tsv or .jsonl")
    srcs = [DataSource(**_source_dict({"path": spec}, text_field, fmt, encoding)) for spec in sources]
    vp = (Path(val_out) if val_out else _val_name(out_p)) if val_split else None
    _refuse_own_input(srcs, [("--out", out_p)] + ([("--val-out", vp)] if vp else []))
    rows: list[Any] = []
    for src in srcs:
        for ex in iter_examples(src):
            if split == "paragraphs" and ex.text is not None:
                rows += [type(ex)(text=p.strip(), source=ex.source)
                         for p in re.split(r"\n\s*\n", ex.text) if p.strip()]
            elif not ex.is_empty():
                rows.append(ex)
    if not rows:
        raise InputError("nothing to write: the sources hold no non-empty examples",
                         field="SOURCES", value=" ".join(sources), fix="check the paths")
    held = validation_indices(len(rows), val_split or 0, seed, "convert") if val_split else set()
    train = [r for i, r in enumerate(rows) if i not in held]
    val = [r for i, r in enumerate(rows) if i in held]
    _write(out_p, train, kind)
    msg = f"wrote {len(train):,} rows to {out_p}"
    if vp is not None:
        _write(vp, val, kind)
        msg += f" and {len(val):,} to {vp}"
    click.echo(msg)
    return 0


def _refuse_own_input(sources: list[Any], outputs: list[tuple[str, Path]]) -> None:
    """An output that is one of the files read (same path, a symlink or a hard link to it) would
    replace the user's dataset with what convert keeps of it (issue 13: every field but text was
    lost): refuse before reading anything. Two outputs naming one file would lose the first."""
    import os

    from ftwizard.core.data_sources import is_hf, source_files
    from ftwizard.core.errors import InputError
    from ftwizard.core.paths import same_file

    read = [f for s in sources if not is_hf(s.path) for f, _ in source_files(s)]
    for flag, out in outputs:
        for f in read:
            if same_file(out, f):
                spelled = "" if os.path.abspath(out) == os.path.abspath(f) else f" (through {out})"
                raise InputError(
                    f"{f} is one of the sources; writing {flag} there would replace your data "
                    f"with the converted rows{spelled}", field=flag, value=str(out),
                    fix=f"write to another file, e.g. {flag} {_fresh_name(f, out.suffix)}")
    if len(outputs) == 2 and same_file(outputs[0][1], outputs[1][1]):
        raise InputError("--out and --val-out name the same file (the training rows would be "
                         "overwritten by the validation rows)", field="--val-out",
                         value=str(outputs[1][1]), fix="give --val-out another file name")


def _fresh_name(src: Path, suffix: str) -> Path:
    """`train.jsonl` -> `train.converted.jsonl` (or .converted-2, ...) beside the source."""
    base = src.with_name(f"{src.stem}.converted{suffix or src.suffix}")
    n = 2
    while base.exists():
        base = src.with_name(f"{src.stem}.converted-{n}{suffix or src.suffix}")
        n += 1
    return base


def _val_name(p: Path) -> Path:
    if "train" in p.stem:
        return p.with_name(p.stem.replace("train", "validation") + p.suffix)
    return p.with_name(p.stem + "_validation" + p.suffix)


def _write(path: Path, rows: list[Any], kind: str) -> None:
    """Write the rows to a temporary file beside `path`, then rename it over `path`: a full disk or
    an error halfway leaves an existing file as it was, never half converted."""
    import contextlib
    import errno
    import os

    from ftwizard.core.errors import EXIT_DOES_NOT_FIT, InputError

    kinds = {r.kind for r in rows}
    if kind != ".jsonl" and ("chat" in kinds or len(kinds) > 1):
        raise InputError(f"{path}: CSV holds one shape of example; found {', '.join(sorted(kinds))}",
                         field="--out", value=str(path),
                         fix="write .jsonl instead (it holds text, prompt/completion and messages)")
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with tmp.open("w", encoding="utf-8", newline="\n" if kind == ".jsonl" else "") as f:
            _write_rows(f, rows, kind, kinds)
        os.replace(tmp, path)
    except OSError as err:
        with contextlib.suppress(OSError):
            tmp.unlink()
        problem = InputError(f"cannot write {path}: {err.strerror or err}", field="--out",
                             value=str(path), fix=_write_fix(path, err))
        if err.errno in (errno.ENOSPC, errno.EDQUOT, errno.EFBIG):
            problem.exit_code = EXIT_DOES_NOT_FIT  # the disk does not fit, as `run` reports it
        raise problem from None


def _write_fix(path: Path, err: OSError) -> str:
    import errno

    if err.errno in (errno.ENOSPC, errno.EDQUOT, errno.EFBIG):
        return "free some disk space (or write elsewhere); nothing was changed"
    for parent in [path, *path.parents]:
        if parent.exists() and not parent.is_dir() and parent != path:
            return f"{parent} is a file where a folder is needed: choose another --out"
    return "choose a folder you can write to"


def _write_rows(f: Any, rows: list[Any], kind: str, kinds: set[str]) -> None:
    if kind == ".jsonl":
        for r in rows:
            rec = ({"messages": r.messages, **({"tools": r.tools} if r.tools else {})}
                   if r.kind == "chat" else
                   {"prompt": r.prompt or "", "completion": r.completion or ""}
                   if r.kind == "prompt" else {"text": r.text})
            f.write(json.dumps(rec, ensure_ascii=False) + "\n")
        return
    # csv.writer quotes cells holding newlines, quotes or delimiters (seed 003's escaping advice).
    w = csv.writer(f, delimiter="\t" if kind == ".tsv" else ",")
    if kinds == {"prompt"}:
        w.writerow(["prompt", "completion"])
        w.writerows([r.prompt or "", r.completion or ""] for r in rows)
    else:
        w.writerow(["text"])
        w.writerows([r.text] for r in rows)
