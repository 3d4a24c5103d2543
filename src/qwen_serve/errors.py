"""The one error users see: a single line naming what, the key, the value, what is allowed, a fix."""

from __future__ import annotations

import difflib
import re
import unicodedata
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
        return printable("; ".join(parts))

    def __str__(self) -> str:
        return self.line


class Interrupted(QwenServeError):
    """Ctrl-C before anything was started (during the weights download): exit 130, the documented code. Library
    threads may still be working (huggingface_hub's download pool): the CLI ends the process without waiting."""

    exit_code = 130


_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")


def printable(text: str) -> str:
    """Text as one terminal line: every control character (line breaks, escapes, NUL) shown as `\\xNN`, so that no
    value in a message can add a line, repaint the terminal or hide what follows."""
    return _CONTROL.sub(lambda m: f"\\x{ord(m.group()):02x}", text)


def shortened(text: str, limit: int = 120) -> str:
    """A long value as a message names it: its start and end, and how long it is, cut in the middle."""
    return text if len(text) <= limit else f"{text[:60]}…({len(text):,} characters)…{text[-40:]}"


def control_character(text: str, allowed: str = "") -> str | None:
    """The first control character in `text` that is not in `allowed`, or None."""
    return next((c for c in text if unicodedata.category(c) == "Cc" and c not in allowed), None)


def closest(word: str, choices: Iterable[str]) -> str | None:
    """The nearest known name to a misspelt one, if any is close enough."""
    matches = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return matches[0] if matches else None


def did_you_mean(word: str, choices: Iterable[str]) -> str | None:
    match = closest(word, choices)
    return f"did you mean '{match}'?" if match else None
