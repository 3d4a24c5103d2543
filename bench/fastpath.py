#!/usr/bin/env python3
"""Time `qwen-serve --dry-run --preset balanced` against `python -m sglang.launch_server --help`,
and every bad input of a corpus (one line, exit 2: how long and how much memory each takes).

Targets: qwen-serve's dry run <= 0.3 s warm and <= 5 % of SGLang's own --help; a bad input < 2 s and
< 200 MB. Both run in the same Python environment, one after the other, in one invocation:

    uv run python bench/fastpath.py [--runs 10] [--out bench/results/fastpath/cpu.json]
    uv run python bench/fastpath.py --bad-inputs [--out bench/results/fastpath/bad_input.json]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

QWEN = [sys.executable, "-m", "qwen_serve", "--dry-run", "--preset", "balanced"]
SGLANG = [sys.executable, "-m", "sglang.launch_server", "--help"]


# the bad-input corpus is the product's (tests/bad_input_corpus.py, held to one line and exit 2 by its tests);
# this lab script only times it
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from bad_input_corpus import bad_inputs, run_bad_input  # noqa: E402


def bytecode_present() -> dict[str, bool]:
    """Whether qwen-serve's own modules and a dependency on the dry-run path (click) have .pyc files to load."""
    import click

    import qwen_serve

    def compiled(package) -> bool:
        return any((Path(package.__file__).parent / "__pycache__").glob("*.pyc"))

    return {"qwen_serve": compiled(qwen_serve), "site_packages": compiled(click)}


def measure_bad_inputs(out: Path) -> int:
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        runs = [run_bad_input(args, Path(tmp)) for args in bad_inputs(Path(tmp))]
    worst_s, worst_mib = max(r["seconds"] for r in runs), max(r["peak_mib"] for r in runs)
    result = {
        "command": "uv run python bench/fastpath.py " + " ".join(sys.argv[1:]),
        "when": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "machine": {"platform": platform.platform(), "python": platform.python_version(), "cpus": os.cpu_count()},
        "targets": {"seconds_max": 2, "peak_mib_max": 200},
        "max_seconds": worst_s,
        "max_peak_mib": worst_mib,
        "meets_targets": worst_s < 2 and worst_mib < 200 and all(r["exit"] == 2 for r in runs),
        "runs": runs,
    }
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    print(
        f"{len(runs)} bad inputs: slowest {worst_s:.2f} s, largest {worst_mib:.0f} MiB (targets < 2 s, < 200 MB): "
        + ("met" if result["meets_targets"] else "NOT met")
        + f"\nwrote {out}"
    )
    return 0


def timed(argv: list[str], runs: int) -> list[float]:
    subprocess.run(argv, capture_output=True, check=True)  # warm the page cache / .pyc files
    seconds = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run(argv, capture_output=True, check=True)
        seconds.append(time.perf_counter() - start)
    return seconds


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=10)
    ap.add_argument("--sglang-runs", type=int, default=3)
    ap.add_argument("--out")
    ap.add_argument("--bad-inputs", action="store_true", help="measure the bad-input corpus instead")
    args = ap.parse_args()
    if args.bad_inputs:
        return measure_bad_inputs(Path(args.out or "bench/results/fastpath/bad_input.json"))
    args.out = args.out or "bench/results/fastpath/cpu.json"

    qwen = timed(QWEN, args.runs)
    sglang = timed(SGLANG, args.sglang_runs)
    q, s = statistics.median(qwen), statistics.median(sglang)
    result = {
        "command": "uv run python bench/fastpath.py " + " ".join(sys.argv[1:]),
        "when": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "machine": {"platform": platform.platform(), "python": platform.python_version(), "cpus": os.cpu_count()},
        # without .pyc files every start compiles rich, click and yaml again (0.48 s here instead of 0.22)
        "PYTHONDONTWRITEBYTECODE": os.environ.get("PYTHONDONTWRITEBYTECODE"),
        # which bytecode the timed starts found (with PYTHONDONTWRITEBYTECODE=1 none is ever written by them)
        "bytecode_present": bytecode_present(),
        "qwen_serve_dry_run": {"argv": QWEN[1:], "seconds": qwen, "median_s": q},
        "sglang_help": {"argv": SGLANG[1:], "seconds": sglang, "median_s": s},
        "ratio": q / s,
        "targets": {"warm_s_max": 0.3, "ratio_max": 0.05},
        "meets_targets": q <= 0.3 and q / s <= 0.05,
    }
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(
        f"qwen-serve --dry-run --preset balanced: median {q:.3f} s over {args.runs} runs\n"
        f"python -m sglang.launch_server --help:  median {s:.3f} s over {args.sglang_runs} runs\n"
        f"ratio {q / s:.1%} (target <= 5 %), warm {q:.3f} s (target <= 0.3 s): "
        + ("met" if result["meets_targets"] else "NOT met")
        + f"\nwrote {out}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
