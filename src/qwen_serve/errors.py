"""The one error users see: a single line naming what, the key, the value, what is allowed, a fix."""

from __future__ import annotations

import difflib
from collections.abc import Iterable

EXIT_USAGE = 2  # bad input or an impossible request: nothing was started
EXIT_FAULT = 1  # the world failed (the hub, the network): the same command may work again


class QwenServeError(Exception):
    """Bad input or an impossible request: one line naming what, the key, the value, what is allowed and
    the fix, and nothing launched. A plain exception of the library: the CLI alone (cli.common) prints it as
    `PROG: error: LINE` and exits with its exit_code (EXIT_USAGE; EXIT_FAULT where the world failed)."""

    exit_code = EXIT_USAGE

    def __init__(self, what: str, *, allowed: str | None = None, fix: str | None = None, exit_code: int | None = None):
        self.what = what
        self.allowed = allowed
        self.fix = fix
        if exit_code is not None:
            self.exit_code = exit_code
        super().__init__(self.line)

    @property
    def line(self) -> str:
        parts = [self.what.rstrip(".")]
        if self.allowed:
            parts.append(f"allowed: {self.allowed}")
        if self.fix:
            parts.append(f"fix: {self.fix}")
        return "; ".join(parts)

    def __str__(self) -> str:
        return self.line


def closest(word: str, choices: Iterable[str]) -> str | None:
    """The nearest known name to a misspelt one, if any is close enough."""
    matches = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return matches[0] if matches else None


def did_you_mean(word: str, choices: Iterable[str]) -> str | None:
    match = closest(word, choices)
    return f"did you mean '{match}'?" if match else None
