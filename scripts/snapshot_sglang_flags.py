#!/usr/bin/env python3
"""Write the flag set of an SGLang release as JSON, read from SGLang's own argument parser.

qwen-serve checks the command line it builds against these snapshots on the fast path (no
sglang import), and the tests translate every preset against each snapshot. Refresh or add a
release on any machine (no GPU needed):

    uv run --no-project --isolated --with sglang==0.5.23 \
        python scripts/snapshot_sglang_flags.py src/qwen_serve/data/sglang_flags
"""

from __future__ import annotations

import argparse
import json
import sys
from importlib.metadata import version
from pathlib import Path


def snapshot() -> dict:
    from sglang.srt.server_args import ServerArgs

    parser = argparse.ArgumentParser()
    ServerArgs.add_cli_args(parser)
    flags = {}
    for action in parser._actions:
        if not action.option_strings or action.dest == "help":
            continue
        takes_value = action.nargs != 0
        entry = {
            "dest": action.dest,
            "takes_value": takes_value,
            "nargs": action.nargs if isinstance(action.nargs, (int, str)) else None,
            "choices": _choices(action.choices),
            "type": getattr(action.type, "__name__", None) if action.type else None,
            "default": action.default if _jsonable(action.default) else repr(action.default),
        }
        for option in action.option_strings:
            flags[option] = entry
    return {
        "sglang_version": version("sglang"),
        "generated_by": "scripts/snapshot_sglang_flags.py",
        "flags": dict(sorted(flags.items())),
    }


def _choices(choices) -> list[str] | None:
    if not choices:
        return None
    names = [str(c) for c in choices]
    # some choice lists are built from sets: sort those so snapshots are reproducible
    return sorted(names) if isinstance(choices, (set, frozenset)) else names


def _jsonable(value) -> bool:
    try:
        json.dumps(value)
        return True
    except TypeError:
        return False


def main() -> int:
    out_dir = Path(sys.argv[1] if len(sys.argv) > 1 else "src/qwen_serve/data/sglang_flags")
    data = snapshot()
    out_dir.mkdir(parents=True, exist_ok=True)
    target = out_dir / f"{data['sglang_version']}.json"
    target.write_text(json.dumps(data, indent=1, sort_keys=False) + "\n", encoding="utf-8")
    print(f"wrote {target}: {len(data['flags'])} option strings")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
