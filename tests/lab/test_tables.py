"""The README's and docs' measured tables are generated from the raw results (scripts/readme_tables.py)."""

from __future__ import annotations

import subprocess
import sys


def test_readme_tables_are_generated_from_results():
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    out = subprocess.run(
        [sys.executable, str(root / "scripts" / "readme_tables.py"), "--check"], capture_output=True, text=True
    )
    assert out.returncode == 0, out.stdout + out.stderr
