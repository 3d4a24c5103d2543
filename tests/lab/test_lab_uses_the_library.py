"""The lab studies the product through its library API (qwen_serve.launch, plan, …) and runs its commands as a user
does (the console scripts' entry points); it imports nothing else of the CLI, and neither the supervision engine nor
the fleet (#41)."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
ENTRY_POINTS = {"main", "bench_main", "qwen_test_main"}  # pyproject's [project.scripts]


def test_the_lab_reaches_the_cli_only_through_its_entry_points():
    files = [*ROOT.glob("scripts/**/*.py"), *ROOT.glob("bench/**/*.py"), *ROOT.glob("tests/lab/*.py")]
    found = []
    for path in files:
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.module in ("qwen_serve.supervise", "qwen_serve.fleet"):
                found.append((str(path.relative_to(ROOT)), node.module, []))
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("qwen_serve.cli"):
                names = {a.name for a in node.names}
                if node.module != "qwen_serve.cli" or not names <= ENTRY_POINTS:
                    found.append((str(path.relative_to(ROOT)), node.module, sorted(names)))
            elif isinstance(node, ast.Import):
                found += [
                    (str(path.relative_to(ROOT)), a.name, []) for a in node.names if a.name.startswith("qwen_serve.cli")
                ]
    assert len(files) > 10 and not found, found
