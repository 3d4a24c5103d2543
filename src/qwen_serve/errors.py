"""The one error users see: a single line naming what, the key, the value, what is allowed, a fix."""

from __future__ import annotations

import difflib
from collections.abc import Iterable

import click

EXIT_USAGE = 2


class QwenServeError(click.ClickException):
    """Bad input or an impossible request: one line naming what, the key, the value, what is allowed and
    the fix. Click prints it as `PROG: error: LINE` and exits 2, and nothing is launched."""

    exit_code = EXIT_USAGE

    def __init__(self, what: str, *, allowed: str | None = None, fix: str | None = None):
        self.what = what
        self.allowed = allowed
        self.fix = fix
        self.prog: str | None = None  # set by the command it came through (cli.common.NamesProgram)
        super().__init__(self.line)

    @property
    def line(self) -> str:
        parts = [self.what.rstrip(".")]
        if self.allowed:
            parts.append(f"allowed: {self.allowed}")
        if self.fix:
            parts.append(f"fix: {self.fix}")
        return "; ".join(parts)

    def show(self, file=None) -> None:
        click.echo(f"{self.prog or 'qwen-serve'}: error: {self.line}", err=True, file=file)

    def __str__(self) -> str:
        return self.line


def closest(word: str, choices: Iterable[str]) -> str | None:
    """The nearest known name to a misspelt one, if any is close enough."""
    matches = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return matches[0] if matches else None


def did_you_mean(word: str, choices: Iterable[str]) -> str | None:
    match = closest(word, choices)
    return f"did you mean '{match}'?" if match else None
