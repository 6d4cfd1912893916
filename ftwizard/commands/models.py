"""`ftwizard models pull ID [--config-only]`: download a model from the Hugging Face Hub, asked for.

The planner never downloads on its own: a hub id that is neither in the catalog nor in the local
cache is planned after `--config-only` has fetched its 1 KB config.json (cached afterwards), and
trained after a full pull. Gated models say which token to set; offline says so at once.
"""

from __future__ import annotations

import click

from ftwizard.core.errors import EXIT_OK


@click.group("models")
def models() -> None:
    """Models from the Hugging Face Hub (downloads only when asked)."""


@models.command("pull")
@click.argument("model_id")
@click.option("--config-only", is_flag=True, help="Only config.json: enough to plan the model.")
@click.option("--revision", default=None, help="Branch, tag or commit (default: main).")
def pull(model_id: str, config_only: bool, revision: str | None) -> int:
    """Download MODEL_ID (weights, tokenizer, config) into the Hugging Face cache."""
    from ftwizard.core import hub

    if config_only:
        folder = hub.fetch_config(model_id)
        click.echo(f"config.json of {model_id}: {folder} (`ftwizard plan` can plan it now)")
        return EXIT_OK
    folder = hub.pull(model_id, revision=revision)
    click.echo(f"{model_id}: {folder}")
    return EXIT_OK
