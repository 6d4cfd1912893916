"""`ftwizard import FILE [-o ftwizard.yaml]`: an axolotl / LLaMA-Factory / TrainingArguments /
DeepSpeed config as an ftwizard run config, with the table of what every key became.

`plan` and `run` read those files directly too; this command shows the mapping and saves it.
"""

from __future__ import annotations

import json
from pathlib import Path

import click

from ftwizard.core.errors import EXIT_OK, InputError

STYLES = {"mapped": "green", "same": "cyan", "default": "yellow", "not carried": "bold red", "empty": "dim"}


@click.command("import")
@click.argument("file", type=click.Path(dir_okay=False))
@click.option("-o", "--out", type=click.Path(dir_okay=False), default=None,
              help="Write the ftwizard run config here (YAML).")
@click.option("--format", "fmt", type=click.Choice(["auto", "axolotl", "llamafactory", "hf-trainer", "deepspeed"]),
              default="auto", show_default=True, help="The source format (auto: detected from the keys).")
@click.option("--force", is_flag=True, help="Overwrite --out if it exists.")
@click.option("--json", "as_json", is_flag=True, help="Print the mapping and the config as JSON.")
def import_cmd(file: str, out: str | None, fmt: str, force: bool, as_json: bool) -> int:
    """Read another tool's training config (axolotl, LLaMA-Factory, TrainingArguments + DeepSpeed
    JSON) and show what each key becomes in ftwizard."""
    from ftwizard.core.importers import describe, import_file

    result = import_file(file, None if fmt == "auto" else fmt)
    if out:
        target = Path(out)
        if target.resolve() == Path(file).resolve():
            raise InputError("--out is the file being imported; writing it would replace the "
                             f"{result.format} config", field="--out", value=out,
                             fix="give another file name, e.g. -o ftwizard.yaml")
        if target.exists() and not force:
            raise InputError(f"{target} exists", field="--out", value=out,
                             fix="give another name, or add --force to overwrite it")
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(result.config.to_yaml(), encoding="utf-8")
    if as_json:
        click.echo(json.dumps(result.to_dict(), indent=2, default=str))
        return EXIT_OK
    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table

    con = Console()
    con.print(f"[bold]{escape(file)}[/]: detected format [bold]{result.format}[/] ({describe(result.format)})")
    table = Table(show_lines=False, expand=True)
    for col, ratio in (("source key", 3), ("value", 2), ("status", 0), ("became", 3), ("why / note", 4)):
        if ratio:
            table.add_column(col, overflow="fold", ratio=ratio)
        else:
            table.add_column(col, no_wrap=True)
    for r in result.rows:
        value = "" if r.value is None else (r.value if isinstance(r.value, str) else json.dumps(r.value, default=str))
        if len(value) > 40:
            value = value[:37] + "..."
        table.add_row(escape(r.key), escape(value), f"[{STYLES.get(r.status, '')}]{r.status}[/]",
                      escape(r.became), escape(r.note))
    con.print(table)
    con.print(result.summary())
    if out:
        con.print(f"wrote {out}: `ftwizard plan {out}` estimates it", soft_wrap=True)
    else:
        con.print(f"`ftwizard plan {file}` plans it as it is; add -o ftwizard.yaml to save the "
                  "ftwizard config", soft_wrap=True)
    return EXIT_OK
