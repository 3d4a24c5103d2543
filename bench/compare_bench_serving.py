#!/usr/bin/env python3
"""qwen-bench vs `python -m sglang.benchmark.serving` on the same server, same lengths, same
concurrency levels: the agreement table (target: within 5 %) as JSON and Markdown.

    uv run python bench/compare_bench_serving.py --ours QB1.json [QB2.json …] --theirs BS1.jsonl [BS2.jsonl …] -o compare.json
    uv run python bench/compare_bench_serving.py QWEN_BENCH.json BENCH_SERVING.jsonl -o compare.json   (one run each)

With several runs per tool (bench/interleave.py alternates them), each figure is the
mean over a tool's runs, and the table also gives each tool's own run-to-run spread
((max - min) / mean): a difference between the tools smaller than the spread of one tool is noise.

Where both tools kept every request (qwen-bench's `per_request`, bench_serving's `--output-details`),
TTFT (mean, p50, p99) is also compared request by request: each tool's requests pooled over its
runs, the difference of the pooled statistic with a 95 % bootstrap interval, and a verdict on the
5 % target: "agrees" (the whole interval within ±5 %), "differs" (wholly outside) or "undecided"
(more requests needed, or fewer than 10 rounds a side). The bootstrap resamples *rounds*, not
requests: blocks of `concurrency` requests in the order sent. Requests in flight together are not
independent: at a fixed output length a whole round finishes in one decode step and its next
requests are prefilled in batches that one burst decides, so resampling
single requests would claim more certainty than the data hold. 32 requests at concurrency 8 (4
rounds) cannot settle a p50 to 5 %: two runs of the same tool differed by up to 16 % there on an H100.
Each row also compares bench_serving with itself (its odd rounds against its even rounds, the same
bootstrap): how finely its own data resolve that statistic.
"""

from __future__ import annotations

import argparse
import json
import random
from pathlib import Path

# qwen-bench's own percentile (numpy's interpolation, as bench_serving's) and round resampling;
# run with the project on the path: `uv run python …`, or PYTHONPATH=src on the GPU machine
from qwen_serve.bench import percentile as quantile
from qwen_serve.bench import resample_rounds
from qwen_serve.bench import rounds_of as blocks

PAIRS = (  # (qwen-bench level field, key, bench_serving field)
    ("request_throughput", None, "request_throughput"),
    ("output_throughput", None, "output_throughput"),
    ("ttft_ms", "mean", "mean_ttft_ms"),
    ("ttft_ms", "p50", "median_ttft_ms"),
    ("ttft_ms", "p99", "p99_ttft_ms"),
    ("tpot_ms", "p50", "median_tpot_ms"),
    ("e2e_ms", "p50", "median_e2e_latency_ms"),
)


TARGET = 0.05
MIN_ROUNDS = 10  # per tool, for any verdict but "undecided"
PER_REQUEST = (
    ("ttft_ms.mean", "mean"),
    ("ttft_ms.p50", 50),
    ("ttft_ms.p99", 99),
)  # compared request by request where both kept them


def ours_runs(paths: list[str]) -> list[dict]:
    runs = []
    for path in paths:
        levels = json.loads(Path(path).read_text())["levels"]
        run = {}
        for lv in levels:
            run[lv["concurrency"]] = {
                f"{f}{'.' + k if k else ''}": (lv[f] if k is None else lv[f].get(k)) for f, k, _ in PAIRS
            }
            rows = lv.get("per_request") or {}
            if rows.get("ttft_ms"):
                run[lv["concurrency"]]["ttfts_ms"] = [
                    t for t, e in zip(rows["ttft_ms"], rows["error"]) if t is not None and not e
                ]
        runs.append(run)
    return runs


def theirs_runs(paths: list[str]) -> list[dict]:
    runs = []
    for path in paths:
        run = {}
        for line in Path(path).read_text().splitlines():
            if line.strip():
                row = json.loads(line)
                level = {f"{f}{'.' + k if k else ''}": row.get(other) for f, k, other in PAIRS}
                if row.get("ttfts"):  # --output-details: seconds, 0.0 for a failed request
                    errors = row.get("errors") or [""] * len(row["ttfts"])
                    level["ttfts_ms"] = [t * 1000 for t, e in zip(row["ttfts"], errors) if t and not e]
                run[row.get("max_concurrency")] = level
        runs.append(run)
    return runs


def stats(values: list[float]) -> tuple[float, float]:
    mean = sum(values) / len(values)
    return mean, ((max(values) - min(values)) / mean if mean else 0.0)


def bootstrap(
    a: list[list[float]], b: list[list[float]], q: int | str, draws: int = 2000, seed: int = 0
) -> tuple[float, float, float]:
    """quantile(pooled a) / quantile(pooled b) - 1 for two lists of rounds, with the 2.5th and 97.5th
    percentiles of that difference over `draws` resamplings of the rounds of each side (with
    replacement, each its own number of rounds; the requests of a drawn round stay together)."""
    rng = random.Random(seed)
    point = quantile([t for x in a for t in x], q) / quantile([t for x in b for t in x], q) - 1
    diffs = sorted(
        quantile(resample_rounds(a, rng), q) / quantile(resample_rounds(b, rng), q) - 1 for _ in range(draws)
    )
    return point, diffs[int(0.025 * draws)], diffs[int(0.975 * draws) - 1]


def verdict(low: float, high: float, rounds: int) -> str:
    if rounds < MIN_ROUNDS:
        return "undecided"
    if -TARGET <= low and high <= TARGET:
        return "agrees"
    if high < -TARGET or low > TARGET:
        return "differs"
    return "undecided"


def pooled_rounds(runs: list[dict], c: int) -> list[list[float]]:
    """The TTFTs at concurrency c of every run that kept that level's requests, as rounds (blocks of
    c in the order sent), run after run."""
    return [block for r in runs if "ttfts_ms" in r.get(c, {}) for block in blocks(r[c]["ttfts_ms"], c)]


def per_request_rows(ours: list[dict], theirs: list[dict], c: int) -> list[dict]:
    """The pooled TTFT comparison at concurrency c, from the runs of each tool that kept that
    level's requests; each row also gives bench_serving against itself (its odd rounds vs its even
    rounds, same bootstrap): the resolution its own data have, at half the rounds."""
    a, b = pooled_rounds(ours, c), pooled_rounds(theirs, c)
    flat_a, flat_b = [t for x in a for t in x], [t for x in b for t in x]
    if len(flat_a) < 2 or len(flat_b) < 2:
        return []
    rows = []
    for metric, q in PER_REQUEST:
        point, low, high = bootstrap(a, b, q)
        row = {
            "concurrency": c,
            "metric": metric,
            "requests": [len(flat_a), len(flat_b)],
            "rounds": [len(a), len(b)],
            "qwen_bench": quantile(flat_a, q),
            "bench_serving": quantile(flat_b, q),
            "difference": point,
            "ci95": [low, high],
            "verdict": verdict(low, high, min(len(a), len(b))),
        }
        if len(b) >= 4:
            self_point, self_low, self_high = bootstrap(b[0::2], b[1::2], q)
            row["bench_serving_self"] = {"difference": self_point, "ci95": [self_low, self_high]}
        rows.append(row)
    return rows


DISTRIBUTION = (10, 25, 45, 50, 55, 75, 90)  # TTFT percentiles shown side by side


def share_gap(a: list[float], b: list[float]) -> float:
    """The largest difference, over all TTFTs t, between the shares of a's and b's requests at or
    below t (the Kolmogorov-Smirnov distance): 0.03 = at no TTFT do the two differ by more than 3 %
    of their requests."""
    import bisect

    a, b = sorted(a), sorted(b)
    return max(abs(bisect.bisect_right(a, t) / len(a) - bisect.bisect_right(b, t) / len(b)) for t in a + b)


def distribution_row(ours: list[dict], theirs: list[dict], c: int) -> dict | None:
    """TTFT percentiles of both tools' pooled requests at concurrency c, and how steep each tool's
    distribution is at its median: (p55 - p45) / p50, how far the median moves when 5 % of the
    requests cross it. Where a round's requests are prefilled in a few batches, TTFT has modes, and
    a median that falls between two of them jumps between them: a p50 difference of 10 % can be
    a 1 % difference in the share of requests, which `share_gap` measures (with bench_serving's
    odd rounds against its even rounds for scale: half its requests a side, so that gap is larger
    by chance alone, about 1.4 times for the same distributions)."""
    a = [t for x in pooled_rounds(ours, c) for t in x]
    b_rounds = pooled_rounds(theirs, c)
    b = [t for x in b_rounds for t in x]
    if len(a) < 2 or len(b) < 2:
        return None
    row = {
        "concurrency": c,
        "percentiles": list(DISTRIBUTION),
        "qwen_bench": [quantile(a, q) for q in DISTRIBUTION],
        "bench_serving": [quantile(b, q) for q in DISTRIBUTION],
        "share_gap": share_gap(a, b),
    }
    row["median_step"] = [
        (v[DISTRIBUTION.index(55)] - v[DISTRIBUTION.index(45)]) / v[DISTRIBUTION.index(50)]
        for v in (row["qwen_bench"], row["bench_serving"])
    ]
    if len(b_rounds) >= 4:
        row["bench_serving_self_share_gap"] = share_gap(
            [t for x in b_rounds[0::2] for t in x], [t for x in b_rounds[1::2] for t in x]
        )
    return row


def compare(ours: list[dict], theirs: list[dict]) -> list[dict]:
    """Per level that both tools ran (in any of their runs): each figure the mean over the runs that
    ran the level."""
    rows = []
    levels = sorted(set().union(*(set(r) for r in ours)) & set().union(*(set(r) for r in theirs)))
    for c in levels:
        for f, k, _ in PAIRS:
            metric = f"{f}{'.' + k if k else ''}"
            a = [r[c][metric] for r in ours if r.get(c, {}).get(metric) is not None]
            b = [r[c][metric] for r in theirs if r.get(c, {}).get(metric)]
            if not a or not b:
                continue
            (ma, sa), (mb, sb) = stats(a), stats(b)
            rows.append(
                {
                    "concurrency": c,
                    "metric": metric,
                    "qwen_bench": ma,
                    "bench_serving": mb,
                    "difference": ma / mb - 1,
                    "runs": [len(a), len(b)],
                    "spread_qwen_bench": sa,
                    "spread_bench_serving": sb,
                }
            )
    return rows


def _self(row: dict) -> str:
    if "bench_serving_self" not in row:
        return "—"
    s = row["bench_serving_self"]
    return f"{s['difference']:+.1%} ({s['ci95'][0]:+.1%} … {s['ci95'][1]:+.1%})"


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
    ours_data, theirs_data = ours_runs(ours), theirs_runs(theirs)
    rows = compare(ours_data, theirs_data)
    levels = sorted({r["concurrency"] for r in rows})
    pooled = [row for c in levels for row in per_request_rows(ours_data, theirs_data, c)]
    shapes = [row for row in (distribution_row(ours_data, theirs_data, c) for c in levels) if row]
    several = any(r["runs"] != [1, 1] for r in rows)
    head = "| concurrency | metric | qwen-bench | bench_serving | difference |"
    lines = [
        head + (" spread qwen-bench / bench_serving |" if several else ""),
        "| --- | --- | --- | --- | --- |" + (" --- |" if several else ""),
    ]
    for r in rows:
        line = f"| {r['concurrency']} | {r['metric']} | {r['qwen_bench']:.2f} | {r['bench_serving']:.2f} | {r['difference']:+.1%} |"
        if several:
            spreads = [
                f"{r[key]:.1%}" if n > 1 else "—"
                for key, n in zip(("spread_qwen_bench", "spread_bench_serving"), r["runs"])
            ]  # one run has no spread
            line += f" {spreads[0]} / {spreads[1]} |"
        lines.append(line)
    worst = max((abs(r["difference"]) for r in rows), default=None)
    Path(args.out).write_text(
        json.dumps(
            {
                "ours": ours,
                "theirs": theirs,
                "rows": rows,
                "worst_abs_difference": worst,
                "per_request": pooled,
                "distribution": shapes,
            },
            indent=2,
        )
        + "\n"
    )
    print("\n".join(lines))
    print(f"worst difference: {worst:.1%}" if worst is not None else "no common levels")
    if pooled:
        print(
            "\nrequest by request (each tool's requests pooled over its runs; 95 % interval from 2000 bootstrap "
            "draws of rounds, i.e. blocks of `concurrency` requests in the order sent):"
        )
        print(
            "| concurrency | metric | requests (rounds) qwen-bench / bench_serving | qwen-bench | bench_serving "
            "| difference | 95 % interval | within 5 % | bench_serving odd vs even rounds |"
        )
        print("| --- | --- | --- | --- | --- | --- | --- | --- | --- |")
        for r in pooled:
            print(
                f"| {r['concurrency']} | {r['metric']} | {r['requests'][0]} ({r['rounds'][0]}) / {r['requests'][1]} "
                f"({r['rounds'][1]}) | {r['qwen_bench']:.2f} "
                f"| {r['bench_serving']:.2f} | {r['difference']:+.1%} | {r['ci95'][0]:+.1%} … {r['ci95'][1]:+.1%} "
                f"| {r['verdict']} | {_self(r)} |"
            )
    if shapes:
        print(
            "\nTTFT distribution (ms, each tool's requests pooled); median step: (p55 - p45) / p50, how far the "
            "median moves when 5 % of the requests cross it; share gap: the largest difference in the share of "
            "requests at or below any TTFT (in brackets: bench_serving's odd vs even rounds, half the requests a side, "
            "so larger by chance alone). The share gap ignores how far apart the TTFTs are: where they hardly vary "
            "(concurrency 1) a fraction of a ms moves many requests."
        )
        print("| concurrency | tool | " + " | ".join(f"p{q}" for q in DISTRIBUTION) + " | median step | share gap |")
        print("| --- | --- | " + " | ".join("---" for _ in DISTRIBUTION) + " | --- | --- |")
        for r in shapes:
            gap = f"{r['share_gap']:.1%}" + (
                f" ({r['bench_serving_self_share_gap']:.1%})" if "bench_serving_self_share_gap" in r else ""
            )
            for i, (tool, name) in enumerate((("qwen_bench", "qwen-bench"), ("bench_serving", "bench_serving"))):
                print(
                    f"| {r['concurrency'] if i == 0 else ''} | {name} | "
                    + " | ".join(f"{v:.1f}" for v in r[tool])
                    + f" | {r['median_step'][i]:.1%} | {gap if i == 0 else ''} |"
                )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
