"""The `ftwizard` command line.

Bare `ftwizard` opens the wizard; every subcommand is headless and runs the same `ftwizard.core`
code the wizard uses. Subcommands live in `ftwizard/commands/<name>.py` and are imported only when
called, so `ftwizard hw` never pays for the wizard and the wizard never pays for torch.
"""

from __future__ import annotations

import importlib
import sys

import click
from click_default_group import DefaultGroup

from ftwizard import __version__

# command name -> "module:attribute" (a click.Command), loaded on first use.
COMMANDS: dict[str, str] = {
    "wizard": "ftwizard.commands.wizard:wizard",
    "edit": "ftwizard.commands.wizard:edit",
    "hw": "ftwizard.commands.hw:hw",
    "plan": "ftwizard.commands.plan:plan",
    "data": "ftwizard.commands.data:data",
    "run": "ftwizard.commands.runs:run",
    "runs": "ftwizard.commands.runs:runs",
    "attach": "ftwizard.commands.runs:attach",
    "stop": "ftwizard.commands.runs:stop",
    "resume": "ftwizard.commands.runs:resume",
    "export": "ftwizard.commands.export:export",
    "export-config": "ftwizard.commands.export:export_config",
    "import": "ftwizard.commands.importcfg:import_cmd",
    "presets": "ftwizard.commands.presets:presets",
    "models": "ftwizard.commands.models:models",
    "calibration": "ftwizard.commands.calibration:calibration",
}


class LazyGroup(DefaultGroup):
    """A DefaultGroup whose subcommands are imported only when invoked (click's lazy-group recipe)."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(n for n in COMMANDS if self._available(n))

    @staticmethod
    def _available(name: str) -> bool:
        module = COMMANDS[name].split(":")[0]
        return importlib.util.find_spec(module) is not None

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        # `ftwizard --plain` / `ftwizard -o x.yaml`: options of the default command (the wizard)
        # given without its name; the group itself only knows --version and --help.
        if args and args[0].startswith("-") and args[0] not in ("--version", "-h", "--help"):
            args = [self.default_cmd_name, *args]
        return super().parse_args(ctx, args)

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        target = COMMANDS.get(name)
        if target is None or not self._available(name):
            return None
        module, attr = target.split(":")
        return getattr(importlib.import_module(module), attr)


@click.group(cls=LazyGroup, default="wizard", default_if_no_args=True,
             context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="ftwizard")
def cli() -> None:
    """Plan, launch and watch LLM fine-tuning runs. Run with no command for the wizard."""


def main(argv: list[str] | None = None) -> None:
    """Console-script entry point: ftwizard's own errors become a message and an exit code."""
    from ftwizard.core.errors import FtwizardError

    try:
        rv = cli.main(args=argv, prog_name="ftwizard", standalone_mode=False)
        if isinstance(rv, int):
            sys.exit(rv)
    except FtwizardError as err:
        click.echo(f"error: {err}", err=True)
        sys.exit(err.exit_code)
    except click.exceptions.Exit as err:
        sys.exit(err.exit_code)
    except click.ClickException as err:
        err.show()
        sys.exit(2)
    except click.exceptions.Abort:
        click.echo("aborted", err=True)
        sys.exit(130)
    except KeyboardInterrupt:
        sys.exit(130)
    except OSError as err:  # a full disk, a read-only folder, a file in the way: never a traceback
        from ftwizard.core.local_state import os_error_message

        text, code = os_error_message(err)
        click.echo(f"error: {text}", err=True)
        sys.exit(code)
