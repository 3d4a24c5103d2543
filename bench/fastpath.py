#!/usr/bin/env python3
"""Time `qwen-serve --dry-run --preset balanced` against `python -m sglang.launch_server --help`.

Target: qwen-serve's dry run <= 0.3 s warm and <= 5 % of SGLang's own --help.
Both run in the same Python environment, one after the other, in one invocation:

    uv run python bench/fastpath.py [--runs 10] [--out bench/results/fastpath/cpu.json]
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
    ap.add_argument("--out", default="bench/results/fastpath/cpu.json")
    args = ap.parse_args()

    qwen = timed(QWEN, args.runs)
    sglang = timed(SGLANG, args.sglang_runs)
    q, s = statistics.median(qwen), statistics.median(sglang)
    result = {
        "command": "uv run python bench/fastpath.py " + " ".join(sys.argv[1:]),
        "when": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "machine": {"platform": platform.platform(), "python": platform.python_version(), "cpus": os.cpu_count()},
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
