"""`ftwizard` (the wizard, the default command) and `ftwizard edit FILE`.

The full-screen app needs a terminal on both stdin and stdout; otherwise (a pipe, a dumb
terminal, `--plain`) the same questions are asked line by line with questionary. Only light
modules are imported here: the first frame must not wait for torch.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import click


def capable_terminal() -> bool:
    """Whether the Textual app can run here (a TTY both ways, not TERM=dumb)."""
    if not (sys.stdin.isatty() and sys.stdout.isatty()):
        return False
    return os.environ.get("TERM", "") not in ("dumb", "")


def _open(config_path: str | None, plain: bool, out: str | None, target: str | None,
          step: str = "hardware") -> int:
    from ftwizard.core.config import load_config

    cfg = load_config(config_path) if config_path else None
    if target:
        from ftwizard.core.config import apply_override, from_dict
        from ftwizard.core import questions as q

        base = cfg or q.default_config(None)
        cfg = from_dict(apply_override(base.to_dict(), f"hardware.target={target}"))
    if plain or not capable_terminal():
        if not sys.stdin.isatty():
            from ftwizard.core.errors import InputError

            raise InputError("the wizard asks questions and there is no terminal to ask them on "
                             "(standard input is not a TTY)", field="ftwizard", value=None,
                             fix="run `ftwizard` in a terminal (over SSH: `ssh -t`), or replay a "
                                 "config without questions: `ftwizard plan FILE` / `ftwizard run "
                                 "FILE` (`ftwizard presets` lists ready ones)")
        from ftwizard.tui.plain import run_plain

        return run_plain(cfg, out=out or config_path)
    from ftwizard.tui.app import WizardApp  # Textual: ~0.25 s

    app = WizardApp(cfg, save_path=out or config_path, step=step)
    code = app.run()
    if app.result_message:
        click.echo(app.result_message)
    return int(code or 0)


@click.command("wizard")
@click.option("--plain", is_flag=True, help="Ask with plain prompts (no full-screen app).")
@click.option("-o", "--out", type=click.Path(dir_okay=False), help="Where to save the config.")
@click.option("--target", help='Plan for another machine, e.g. "A100-80GB x8".')
def wizard(plain: bool, out: str | None, target: str | None) -> int:
    """Plan a fine-tuning run step by step, with live estimates, then launch it."""
    return _open(None, plain, out, target)


@click.command("edit")
@click.argument("file", type=click.Path(dir_okay=False))
@click.option("--plain", is_flag=True, help="Ask with plain prompts (no full-screen app).")
@click.option("-o", "--out", type=click.Path(dir_okay=False),
              help="Save somewhere else (default: FILE itself).")
def edit(file: str, plain: bool, out: str | None) -> int:
    """Open an existing run config or preset in the wizard, and save it back (or as a preset)."""
    path = Path(file)
    if not path.exists():
        try:  # a preset name: open it, but save a copy here, never over the shipped file
            from ftwizard.core.presets import preset_path

            found = preset_path(file)
        except ImportError:
            found = None
        if found is not None:
            return _open(str(found), plain, out or f"{path.name}.yaml", None, step="review")
    from ftwizard.core.importers import foreign_format  # issue 17: never save over their file

    if out is None and foreign_format(path):
        out = str(path.with_name(f"{path.stem}.ftwizard.yaml"))
    return _open(str(path), plain, out, None, step="review")
