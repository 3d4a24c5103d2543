#!/usr/bin/env python3
"""Time the product's test group (`uv run pytest --ignore=tests/lab`, what a change must keep green) on this machine,
or with --all the README's own `uv run pytest` (the product's and the lab's groups in one session).

A developer's timer, not a benchmark of the product: it measures the tests (issue #30's goal for how fast a change can
be checked), so it lives in scripts/, not bench/ (which measures what users run). Its runs land in
bench/results/suite/ beside the other raw results; runs before 2026-12-04 02:10 UTC were made as bench/suite.py.

Target: <= 150 s on the 2-core CPU machine (issue #41; #30's was 180 s). With --clean-clone the group runs in a
fresh `git clone` of HEAD after `uv sync` (as CI does: no bytecode, a new .venv from uv's cache), else in this
checkout. One run per invocation: it takes minutes, and a second run beside it would time both wrongly.

    uv run python scripts/suite_time.py --clean-clone [--all] [--out bench/results/suite/cpu-DATE[-all].json]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PRODUCT = ["uv", "run", "pytest", "--ignore=tests/lab", "-q", "-p", "no:cacheprovider"]
EVERYTHING = ["uv", "run", "pytest", "-q", "-p", "no:cacheprovider"]
TARGET_S = 150.0
# pytest's last line: "719 passed, 31 warnings in 170.24s (0:02:50)"
SUMMARY = re.compile(r"^=*\s*(?P<counts>.*?) in (?P<seconds>[\d.]+)s\b", re.M)


def parse_summary(output: str) -> dict:
    """pytest's own summary line: its counts and the seconds it says the session took."""
    found = list(SUMMARY.finditer(output))
    if not found:
        return {}
    last = found[-1]
    counts = {word: int(n) for n, word in re.findall(r"(\d+) (\w+)", last.group("counts"))}
    return {"counts": counts, "pytest_s": float(last.group("seconds"))}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--clean-clone", action="store_true", help="run in a fresh clone of HEAD after `uv sync`")
    ap.add_argument("--all", action="store_true", help="time `uv run pytest` (both groups) instead of the product's")
    ap.add_argument("--out", help="default: bench/results/suite/cpu-<date>[-all].json")
    args = ap.parse_args()
    command = EVERYTHING if args.all else PRODUCT
    uv = shutil.which("uv")
    if not uv:
        sys.exit("scripts/suite_time.py: uv is not on PATH")
    commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True, text=True).stdout.strip()
    with tempfile.TemporaryDirectory() as tmp:
        where = ROOT
        if args.clean_clone:
            where = Path(tmp) / "clone"
            subprocess.run(["git", "clone", "-q", str(ROOT), str(where)], check=True)
            subprocess.run([uv, "sync", "-q"], cwd=where, check=True)
        t0 = time.monotonic()
        run = subprocess.run([uv, *command[1:]], cwd=where, capture_output=True, text=True)
        wall = time.monotonic() - t0
    summary = parse_summary(run.stdout)
    result = {
        "command": "uv run python scripts/suite_time.py " + " ".join(sys.argv[1:]),
        "timed": " ".join(command),
        "commit": commit,
        "clean_clone": args.clean_clone,
        "when": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "machine": {"platform": platform.platform(), "python": platform.python_version(), "cpus": os.cpu_count()},
        "PYTHONDONTWRITEBYTECODE": os.environ.get("PYTHONDONTWRITEBYTECODE"),
        "returncode": run.returncode,
        "wall_s": round(wall, 1),
        **summary,
        "target_s": TARGET_S,
        "meets_target": run.returncode == 0 and wall <= TARGET_S,
    }
    name = f"cpu-{result['when'][:10]}{'-all' if args.all else ''}.json"
    out = Path(args.out or ROOT / "bench" / "results" / "suite" / name)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(
        f"{' '.join(command)}: exit {run.returncode}, {wall:.1f} s wall (pytest: {summary.get('pytest_s')} s, "
        f"{summary.get('counts')}), target <= {TARGET_S:.0f} s: " + ("met" if result["meets_target"] else "NOT met")
    )
    print(f"wrote {out}")
    return 0 if run.returncode == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
