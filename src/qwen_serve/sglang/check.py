"""`--check`: parse the built command with SGLang's own argument parser, on the CPU.

This is the ground truth the flag snapshots approximate: the installed SGLang's
`ServerArgs.add_cli_args` parser must accept the argv, and every field must come out as
intended (e.g. torchao_config == "int4wo-128", attention_backend == "flashinfer").
Imports sglang (seconds); never on the --help / --dry-run path.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import warnings
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from .argv import SGLangCommand


@dataclass(frozen=True)
class ParserCheck:
    accepted: bool
    error: str | None
    mismatches: tuple[str, ...]  # "dest: parsed X, intended Y"
    checked: int  # how many intended fields were compared

    @property
    def ok(self) -> bool:
        return self.accepted and not self.mismatches


@lru_cache(maxsize=1)
def sglang_parser() -> argparse.ArgumentParser:
    # SGLang's import warns about the platform on a CPU machine (Triton "roll back to CPU"): the check's own verdict
    # is the one line a user reads
    with warnings.catch_warnings(), contextlib.redirect_stderr(io.StringIO()):
        warnings.simplefilter("ignore")
        from sglang.srt.server_args import ServerArgs  # heavy: torch, transformers

    parser = argparse.ArgumentParser(prog="sglang.launch_server", exit_on_error=False)
    ServerArgs.add_cli_args(parser)
    return parser


def parse_with_sglang(args: list[str] | tuple[str, ...]) -> argparse.Namespace:
    """Parse like `python -m sglang.launch_server` does; raises ValueError with argparse's message."""
    parser = sglang_parser()
    stderr = io.StringIO()
    try:
        with contextlib.redirect_stderr(stderr):
            return parser.parse_args(list(args))
    except (argparse.ArgumentError, SystemExit) as exc:
        message = stderr.getvalue().strip().splitlines()
        raise ValueError(message[-1] if message else str(exc)) from None


def check_command(command: SGLangCommand) -> ParserCheck:
    try:
        namespace = parse_with_sglang(command.sglang_argv)
    except ValueError as exc:
        return ParserCheck(False, str(exc), (), 0)
    mismatches = []
    for dest, intended in command.expected.items():
        parsed = getattr(namespace, dest, "<missing>")
        if not _same(parsed, intended):
            mismatches.append(f"{dest}: parsed {parsed!r}, intended {intended!r}")
    return ParserCheck(True, None, tuple(mismatches), len(command.expected))


def _same(parsed: Any, intended: Any) -> bool:
    if isinstance(intended, list):
        return isinstance(parsed, list) and [str(p) for p in parsed] == [str(i) for i in intended]
    if isinstance(intended, bool) or isinstance(parsed, bool):
        return parsed == intended
    if isinstance(intended, (int, float)) and isinstance(parsed, (int, float)):
        return float(parsed) == float(intended)
    return str(parsed) == str(intended)
