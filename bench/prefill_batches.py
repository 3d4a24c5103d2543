"""How SGLang batched the prefills of each benchmark level, from its own log.

Both qwen-bench (--flush-cache) and sglang.bench_serving (--flush-cache) empty the prefix cache
right before each measured level, so the server log splits into segments at each
`POST /flush_cache`: segment k is the k-th level run (the next level's warm-up trails at its end).
Per segment: generation requests answered, prefill batches, sequences per prefill batch, and new
prompt tokens per request (with an empty cache every prompt token is new, so this is the mean
prompt length the server saw). TTFT at a fixed concurrency depends on these batches: requests that
arrive together share one prefill; one that arrives a moment early is prefilled alone and the
rest wait for it.

"Rounds from an idle server": at a fixed output length the prefills of a closed-loop round run
back to back, so the whole round finishes in one decode step and the next one starts with no
request running ("#running-req: 0" on its first prefill). The column gives how those rounds were
split into prefill batches (e.g. 1+7: one request alone, then seven together), counting the rounds
of exactly the level's concurrency (the warm-up of the next level trails at a segment's end).

  python bench/prefill_batches.py server.log[.gz] [--names qwen-bench:1,8,32,64 bench_serving:1,8,32,64]
"""

from __future__ import annotations

import argparse
import collections
import gzip
import re
import statistics

PREFILL = re.compile(r"Prefill batch, #new-seq: (\d+), #new-token: (\d+), #cached-token: (\d+).*?#running-req: (\d+)")
REQUEST = re.compile(r'"POST /(?:v1/completions|generate) HTTP')


def segments(lines):
    current = None
    for line in lines:
        if "POST /flush_cache" in line and " 200 " in line:
            if current is not None:
                yield current
            current = {"requests": 0, "batches": []}
        elif current is not None:
            if REQUEST.search(line):
                current["requests"] += 1
            elif m := PREFILL.search(line):
                current["batches"].append(tuple(int(g) for g in m.groups()))  # seqs, new, cached, running
    if current is not None:
        yield current


def rounds(batches: list[tuple[int, ...]], concurrency: int | None) -> collections.Counter:
    """How the rounds that started from an idle server split into prefill batches: {"1+7": 3, …}."""
    splits, current = [], None
    for seqs, _new, _cached, running in batches:
        if running == 0:
            if current:
                splits.append(current)
            current = [seqs]
        elif current is not None:
            current.append(seqs)
    if current:
        splits.append(current)
    return collections.Counter(
        "+".join(map(str, split)) for split in splits if concurrency is None or sum(split) == concurrency
    )


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("log")
    ap.add_argument("--names", nargs="*", default=[], help="TOOL:LEVELS for the segments in order")
    args = ap.parse_args()
    opener = gzip.open if args.log.endswith(".gz") else open
    with opener(args.log, "rt", encoding="utf-8", errors="replace") as f:
        segs = list(segments(f))
    named = [(tool, int(c)) for spec in args.names for tool, levels in [spec.split(":")] for c in levels.split(",")]
    print(
        "| segment | requests | prefill batches | seqs per batch (mean) | batches of 1 seq | new tokens per request "
        "| rounds from an idle server |"
    )
    print("| --- | --- | --- | --- | --- | --- | --- |")
    for i, s in enumerate(segs):
        seqs = [b[0] for b in s["batches"]]
        new = sum(b[1] for b in s["batches"])
        tool, c = named[i] if i < len(named) else (None, None)
        label = f"{tool} c={c}" if tool else f"#{i + 1}"
        split = rounds(s["batches"], c) if c and c > 1 else {}
        shown = ", ".join(f"{k} ×{n}" for k, n in sorted(split.items(), key=lambda kv: -kv[1])) or "—"
        print(
            f"| {label} | {s['requests']} | {len(seqs)} | {statistics.fmean(seqs) if seqs else 0:.2f} | "
            f"{seqs.count(1)} | {new / s['requests'] if s['requests'] else 0:.1f} | {shown} |"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
