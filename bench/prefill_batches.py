"""How SGLang batched the prefills of each benchmark level, from its own log.

Both qwen-bench (--flush-cache) and sglang.bench_serving (--flush-cache) empty the prefix cache
right before each measured level, so the server log splits into segments at each
`POST /flush_cache`: segment k is the k-th level run (the next level's warm-up trails at its end).
Per segment: generation requests answered, prefill batches, sequences per prefill batch, and new
prompt tokens per request (with an empty cache every prompt token is new, so this is the mean
prompt length the server saw). TTFT at a fixed concurrency depends on these batches: requests that
arrive together share one prefill; one that arrives a moment early is prefilled alone and the
rest wait for it.

  python bench/prefill_batches.py server.log[.gz] [--names qwen-bench:1,8,32,64 bench_serving:1,8,32,64]
"""

from __future__ import annotations

import argparse
import gzip
import re
import statistics

PREFILL = re.compile(r"Prefill batch, #new-seq: (\d+), #new-token: (\d+), #cached-token: (\d+)")
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
                current["batches"].append(tuple(int(g) for g in m.groups()))
    if current is not None:
        yield current


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("log")
    ap.add_argument("--names", nargs="*", default=[], help="TOOL:LEVELS for the segments in order")
    args = ap.parse_args()
    opener = gzip.open if args.log.endswith(".gz") else open
    with opener(args.log, "rt", encoding="utf-8", errors="replace") as f:
        segs = list(segments(f))
    labels = [f"{tool} c={c}" for spec in args.names for tool, levels in [spec.split(":")] for c in levels.split(",")]
    print("| segment | requests | prefill batches | seqs per batch (mean) | batches of 1 seq | new tokens per request |")
    print("| --- | --- | --- | --- | --- | --- |")
    for i, s in enumerate(segs):
        seqs = [b[0] for b in s["batches"]]
        new = sum(b[1] for b in s["batches"])
        label = labels[i] if i < len(labels) else f"#{i + 1}"
        print(f"| {label} | {s['requests']} | {len(seqs)} | {statistics.fmean(seqs) if seqs else 0:.2f} | "
              f"{seqs.count(1)} | {new / s['requests'] if s['requests'] else 0:.1f} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
