"""SGLang's own argument parser, run under whichever sglang is importable (a release's adapter is checked
against it; tests/test_releases.py). No torch is needed beyond what the default release's install has: a
newer release's wheel alone (`uv pip install --no-deps --target DIR sglang==X`) on PYTHONPATH is enough.

    PYTHONPATH=DIR python -m qwen_serve.sglang.releases.parser snapshot src/qwen_serve/sglang/releases
        writes that release's flags.json (its folder needs an __init__.py with its RELEASE)
    PYTHONPATH=DIR python -m qwen_serve.sglang.releases.parser parse < argvs.json
        answers each argv list (JSON) with {"namespace": {...}} or {"error": "..."}, beside the release's flags
"""

from __future__ import annotations

import json
import sys
from importlib.metadata import version
from pathlib import Path


def snapshot() -> dict:
    from ..check import sglang_parser

    flags = {}
    for action in sglang_parser()._actions:
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
        "generated_by": "python -m qwen_serve.sglang.releases.parser snapshot",
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


def parse_each(argvs: list[list[str]]) -> list[dict]:
    """Each argv through the release's parser (--check's own reading): its namespace, or argparse's message."""
    from ..check import parse_with_sglang

    answers = []
    for argv in argvs:
        try:
            namespace = vars(parse_with_sglang(argv))
        except ValueError as exc:
            answers.append({"error": str(exc)})
            continue
        answers.append({"namespace": {k: v if _jsonable(v) else repr(v) for k, v in namespace.items()}})
    return answers


def main() -> int:
    if sys.argv[1:2] == ["parse"]:
        answers = parse_each(json.load(sys.stdin))
        json.dump({**snapshot(), "answers": answers}, sys.stdout)  # one import of SGLang for both
        return 0
    if sys.argv[1:2] != ["snapshot"]:
        print(__doc__, file=sys.stderr)
        return 2
    releases = Path(sys.argv[2] if len(sys.argv) > 2 else "src/qwen_serve/sglang/releases")
    data = snapshot()
    folder = releases / ("v" + data["sglang_version"].replace(".", "_"))  # with an __init__.py giving its RELEASE
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / "flags.json"
    target.write_text(json.dumps(data, indent=1, sort_keys=False) + "\n", encoding="utf-8")
    print(f"wrote {target}: {len(data['flags'])} option strings")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
