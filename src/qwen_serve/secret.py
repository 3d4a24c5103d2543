"""A secret (the API key) as a type: shown as MASK wherever it is turned into text — str, repr, f-strings, error
messages, JSON written by qwen-serve, a recorded command line — and revealed only where it is handed on: the
Authorization header, and SGLang's environment through the entry module."""

from __future__ import annotations

import hmac
from collections.abc import Iterable

MASK = "****"  # how a secret is shown wherever qwen-serve prints or writes it


class Secret:
    __slots__ = ("_value",)

    def __init__(self, value: str):
        if isinstance(value, Secret):
            value = value.reveal()
        if not isinstance(value, str):
            raise TypeError("a Secret holds text")
        self._value = value

    def reveal(self) -> str:
        """The value itself: for the one place that hands it on, never for a message or a file."""
        return self._value

    def __str__(self) -> str:
        return MASK

    __repr__ = __str__

    def __format__(self, spec: str) -> str:
        return format(MASK, spec)

    def __bool__(self) -> bool:
        return bool(self._value)

    def __len__(self) -> int:
        return len(self._value)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and hmac.compare_digest(self._value.encode(), other._value.encode())

    def __hash__(self) -> int:
        return hash((Secret, self._value))

    def __reduce__(self):
        raise TypeError("a Secret is not pickled")


def header_safe(token: str) -> bool:
    """A bearer token that can travel in an HTTP header: printable ASCII, no space or line break."""
    return bool(token) and all(33 <= ord(c) <= 126 for c in token)


def reveal(value: Secret | str | None) -> str | None:
    """The text of a secret or of a plain value (clients given a key in code), None for none."""
    return value.reveal() if isinstance(value, Secret) else value


def masked(words: Iterable[str], secrets: Iterable[Secret | str | None]) -> list[str]:
    """A command line as it may be recorded: each word that holds a secret's text shows MASK in its place."""
    texts = [t for t in (reveal(s) for s in secrets) if t]
    out = []
    for word in words:
        for text in texts:
            word = word.replace(text, MASK)
        out.append(word)
    return out


def json_default(value: object) -> str:
    """json.dumps(default=…): a Secret is written as MASK; anything else unknown is an error as usual."""
    if isinstance(value, Secret):
        return MASK
    raise TypeError(f"Object of type {type(value).__name__} is not JSON serializable")
