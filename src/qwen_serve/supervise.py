"""Stage 5 — run SGLang as a child in its own process group; signals go to the whole group."""

from __future__ import annotations

import os
import signal
import subprocess
from collections.abc import Sequence


def run(argv: Sequence[str], env: dict[str, str] | None = None) -> int:
    """Run the command to completion; returns its exit code (128+N when killed by signal N)."""
    child = subprocess.Popen(list(argv), env=env, start_new_session=True)

    def forward(signum, _frame):
        try:
            os.killpg(child.pid, signum)
        except ProcessLookupError:
            pass

    previous = {s: signal.signal(s, forward) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        code = child.wait()
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)
    return 128 - code if code < 0 else code
