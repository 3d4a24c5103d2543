#!/usr/bin/env python3
"""qwen-bench vs `python -m sglang.benchmark.serving` on the same server, same lengths, same
concurrency levels: the agreement table (target: within 5 %) as JSON and Markdown.

    python bench/compare_bench_serving.py --ours QB1.json [QB2.json …] --theirs BS1.jsonl [BS2.jsonl …] -o compare.json
    python bench/compare_bench_serving.py QWEN_BENCH.json BENCH_SERVING.jsonl -o compare.json   (one run each)

With several runs per tool (scripts/gpu/bench_compare.sh interleaves them), each figure is the
mean over a tool's runs, and the table also gives each tool's own run-to-run spread
((max - min) / mean): a difference between the tools smaller than the spread of one tool is noise.
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


def ours_runs(paths: list[str]) -> list[dict]:
    runs = []
    for path in paths:
        levels = json.loads(Path(path).read_text())["levels"]
        runs.append({lv["concurrency"]: {f"{f}{'.' + k if k else ''}": (lv[f] if k is None else lv[f].get(k))
                                         for f, k, _ in PAIRS} for lv in levels})  # fmt: skip
    return runs


def theirs_runs(paths: list[str]) -> list[dict]:
    runs = []
    for path in paths:
        run = {}
        for line in Path(path).read_text().splitlines():
            if line.strip():
                row = json.loads(line)
                run[row.get("max_concurrency")] = {f"{f}{'.' + k if k else ''}": row.get(other) for f, k, other in PAIRS}
        runs.append(run)
    return runs


def stats(values: list[float]) -> tuple[float, float]:
    mean = sum(values) / len(values)
    return mean, ((max(values) - min(values)) / mean if mean else 0.0)


def compare(ours: list[dict], theirs: list[dict]) -> list[dict]:
    rows = []
    levels = sorted(set.intersection(*(set(r) for r in ours + theirs)))
    for c in levels:
        for f, k, _ in PAIRS:
            metric = f"{f}{'.' + k if k else ''}"
            a = [r[c][metric] for r in ours if r[c].get(metric) is not None]
            b = [r[c][metric] for r in theirs if r[c].get(metric)]
            if not a or not b:
                continue
            (ma, sa), (mb, sb) = stats(a), stats(b)
            rows.append({"concurrency": c, "metric": metric, "qwen_bench": ma, "bench_serving": mb,
                         "difference": ma / mb - 1, "runs": [len(a), len(b)],
                         "spread_qwen_bench": sa, "spread_bench_serving": sb})  # fmt: skip
    return rows


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("files", nargs="*", help="one qwen-bench JSON and one bench_serving JSONL (the old form)")
    ap.add_argument("--ours", nargs="+", default=[])
    ap.add_argument("--theirs", nargs="+", default=[])
    ap.add_argument("-o", "--out", required=True)
    args = ap.parse_args()
    ours, theirs = args.ours, args.theirs
    if args.files:
        ours, theirs = [args.files[0]], [args.files[1]]
    rows = compare(ours_runs(ours), theirs_runs(theirs))
    several = any(r["runs"] != [1, 1] for r in rows)
    head = "| concurrency | metric | qwen-bench | bench_serving | difference |"
    lines = [head + (" spread qwen-bench / bench_serving |" if several else ""),
             "| --- | --- | --- | --- | --- |" + (" --- |" if several else "")]
    for r in rows:
        line = f"| {r['concurrency']} | {r['metric']} | {r['qwen_bench']:.2f} | {r['bench_serving']:.2f} | {r['difference']:+.1%} |"
        if several:
            line += f" {r['spread_qwen_bench']:.1%} / {r['spread_bench_serving']:.1%} |"
        lines.append(line)
    worst = max((abs(r["difference"]) for r in rows), default=None)
    Path(args.out).write_text(json.dumps({"ours": ours, "theirs": theirs, "rows": rows, "worst_abs_difference": worst},
                                         indent=2) + "\n")  # fmt: skip
    print("\n".join(lines))
    print(f"worst difference: {worst:.1%}" if worst is not None else "no common levels")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
