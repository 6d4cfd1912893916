"""`ftwizard presets [list|show NAME]`: the shipped seed recipes and your saved presets."""

from __future__ import annotations

import click


@click.group(invoke_without_command=True)
@click.pass_context
def presets(ctx: click.Context) -> None:
    """List presets, or show one as YAML."""
    if ctx.invoked_subcommand is None:
        ctx.invoke(list_cmd)


@presets.command("list")
def list_cmd() -> None:
    """Every preset with its description."""
    from rich.console import Console
    from rich.table import Table

    from ftwizard.core.config import load_config
    from ftwizard.core.presets import list_presets

    t = Table("name", "description", box=None)
    for name, path in list_presets().items():
        try:
            desc = load_config(path).description
        except Exception as err:  # noqa: BLE001 - a broken user preset must not hide the others
            desc = f"(does not load: {str(err).splitlines()[0]})"
        t.add_row(name, desc)
    Console().print(t)


@presets.command("show")
@click.argument("name")
def show(name: str) -> None:
    """Print a preset's YAML."""
    from ftwizard.core.config import load_config

    click.echo(load_config(name).to_yaml(), nl=False)
