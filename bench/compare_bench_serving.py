#!/usr/bin/env python3
"""qwen-bench vs `python -m sglang.benchmark.serving` on the same server, same lengths, same
concurrency levels: the agreement table (target: within 5 %) as JSON and Markdown.

    python bench/compare_bench_serving.py QWEN_BENCH.json BENCH_SERVING.jsonl -o compare.json
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

PAIRS = (  # (qwen-bench level field, key, bench_serving field)
    ("request_throughput", None, "request_throughput"),
    ("output_throughput", None, "output_throughput"),
    ("ttft_ms", "p50", "median_ttft_ms"),
    ("ttft_ms", "p99", "p99_ttft_ms"),
    ("tpot_ms", "p50", "median_tpot_ms"),
    ("e2e_ms", "p50", "median_e2e_latency_ms"),
)


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("qwen_bench")
    ap.add_argument("bench_serving")
    ap.add_argument("-o", "--out", required=True)
    args = ap.parse_args()
    ours = {lv["concurrency"]: lv for lv in json.loads(Path(args.qwen_bench).read_text())["levels"]}
    theirs = {}
    for line in Path(args.bench_serving).read_text().splitlines():
        if line.strip():
            row = json.loads(line)
            theirs[row.get("max_concurrency")] = row
    rows, lines = [], ["| concurrency | metric | qwen-bench | bench_serving | difference |", "| --- | --- | --- | --- | --- |"]
    for c in sorted(set(ours) & set(theirs)):
        for field, key, other in PAIRS:
            a = ours[c][field] if key is None else ours[c][field].get(key)
            b = theirs[c].get(other)
            if a is None or not b:
                continue
            diff = a / b - 1
            rows.append({"concurrency": c, "metric": f"{field}{'.' + key if key else ''}", "qwen_bench": a,
                         "bench_serving": b, "difference": diff})
            lines.append(f"| {c} | {rows[-1]['metric']} | {a:.2f} | {b:.2f} | {diff:+.1%} |")
    worst = max((abs(r["difference"]) for r in rows), default=None)
    Path(args.out).write_text(json.dumps({"rows": rows, "worst_abs_difference": worst}, indent=2) + "\n")
    print("\n".join(lines))
    print(f"worst difference: {worst:.1%}" if worst is not None else "no common levels")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
