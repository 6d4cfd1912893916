"""Errors a user can act on.

Every bad input becomes an :class:`InputError` that names the field or file, the bad value and the
fix. The CLI prints it and exits 2; the wizard shows it beside the field. Nothing else in ftwizard
should let a traceback reach a user for something they typed.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable

EXIT_OK = 0
EXIT_FAILED = 1          # the training itself failed
EXIT_BAD_INPUT = 2
EXIT_DOES_NOT_FIT = 3


class FtwizardError(Exception):
    """Base of ftwizard's own errors; `exit_code` is what the CLI returns."""

    exit_code = 1


class InputError(FtwizardError):
    """A bad value in a config, a flag or a file, with the place, the value and the fix."""

    exit_code = EXIT_BAD_INPUT

    def __init__(self, message: str, *, field: str | None = None, value: object = None,
                 fix: str | None = None) -> None:
        self.message = message
        self.field = field
        self.value = value
        self.fix = fix
        super().__init__(self.render())

    def render(self) -> str:
        head = f"{self.field}: {self.message}" if self.field else self.message
        if self.fix:
            head += f"\n  fix: {self.fix}"
        return head


class InputErrors(InputError):
    """Several independent problems found at once (a config with three typos gets three lines)."""

    def __init__(self, errors: list[InputError]) -> None:
        self.errors = errors
        super().__init__("\n".join(e.render() for e in errors))

    def render(self) -> str:  # noqa: D102 - the joined messages are the rendering
        return "\n".join(e.render() for e in getattr(self, "errors", []))


def did_you_mean(word: str, choices: Iterable[str]) -> str | None:
    """The closest known name to a typo, for "did you mean ...?" hints."""
    match = difflib.get_close_matches(str(word), list(choices), n=1, cutoff=0.6)
    return match[0] if match else None
