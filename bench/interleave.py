#!/usr/bin/env python3
"""qwen-bench and `sglang.bench_serving` in alternating passes on one server: Q B B Q Q B B Q …

Why: in the H100 runs of 2026-11-25 (in git history before 2026-12-02) qwen-bench ran first and
bench_serving after it, and at concurrency 8 qwen-bench's TTFT came out a few % higher (run 6:
+5.8 %, then +2.8 % for the pass after it, the three passes back to back). A server that gets
faster while it runs (caches, clocks, allocator) would give exactly that, with no difference in
the clients. This script takes the order out of the comparison: passes alternate Q B B Q, so a
drift that is linear in time falls on both tools alike, and each pair of passes (Q B or B Q) sends
the same prompts (bench_serving's random-ids prompts for seed 1000 r + c, replayed by qwen-bench
through level_prompts below).

Each pass is the tool's own command-line entry point (qwen-bench's click command, bench_serving's
`cli_main` with its own argument parser), called in this one Python process: a pass then costs a
few seconds instead of bench_serving's ~30 s of imports, so more of a device call measures.

    PYTHONPATH=src:$PYTHONPATH python3 bench/interleave.py --port 30000 --model DIR --concurrency 8 \
        --requests 160 --passes 8 --first 10 --out DIR [--qwen-bench-arg=--flush-cache …]
    (uv run python bench/interleave.py … on a machine where the project is installed)

Writes, per run r (= first + pass // 2): qwen_bench_r.json, bench_serving_r.jsonl (with
--output-details), warm/qwen_bench_0.json with --warm-requests, and passes.json (each pass: tool,
run, start and end in seconds since the first pass, TTFT mean and p50 of its requests). Pool them
with bench/compare_bench_serving.py.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from compare_bench_serving import ours_runs, theirs_runs  # noqa: E402

from qwen_serve.bench import percentile  # noqa: E402

QWEN_BENCH, BENCH_SERVING = "qwen_bench", "bench_serving"


def level_prompts(tokenizer, input_len: int, output_len: int, count: int, seed: int) -> list[str]:
    """The exact prompts `sglang.bench_serving --dataset-name random-ids --seed SEED` sends through its OpenAI
    backend: it seeds `random` and `numpy.random`, takes consecutive token ids from a random offset and decodes
    them to text (which the server re-tokenizes, so a 512-token ask arrives as 489-681 tokens). SGLang's own
    dataset function is called, so it needs SGLang installed."""
    import random

    import numpy as np
    from sglang.benchmark.datasets.random import sample_random_requests

    random.seed(seed)  # what sglang.benchmark.serving.run_benchmark does before building the dataset
    np.random.seed(seed)
    rows = sample_random_requests(
        input_len, output_len, count, 1.0, tokenizer, "", random_sample=False, return_text=True
    )
    return [row.prompt for row in rows]


def order(passes: int) -> list[str]:
    """Q B B Q Q B B Q …: the mean time of each tool's passes is the same after every 4 passes."""
    return [QWEN_BENCH if k % 4 in (0, 3) else BENCH_SERVING for k in range(passes)]


def pass_ttfts_ms(tool: str, path: Path, concurrency: int) -> list[float]:
    """The TTFTs (ms) of the requests that succeeded at `concurrency` in the file a pass wrote, read as
    compare_bench_serving.py reads it."""
    runs = ours_runs([str(path)]) if tool == QWEN_BENCH else theirs_runs([str(path)])
    return runs[0][concurrency]["ttfts_ms"]


@contextlib.contextmanager
def argv(args: list[str]):
    saved = sys.argv
    sys.argv = args
    try:
        yield
    finally:
        sys.argv = saved


def run_qwen_bench(args, run: int, prompts: list[str], out: Path) -> None:
    from qwen_serve.cli import bench_main  # the `qwen-bench` console script itself

    out.mkdir(parents=True, exist_ok=True)
    prompt_file = out / f"prompts_{run}.jsonl"  # the level's warm-up repeats its first prompt, as bench_serving's
    prompt_file.write_text("".join(json.dumps({"prompt": p}) + "\n" for p in [prompts[0]] * args.warmup + prompts))
    cli = [
        "--base-url",
        args.base_url,
        "--model",
        args.model,
        "--tokenizer",
        args.tokenizer,
        "--prompts",
        str(prompt_file),
        "--output-len",
        str(args.output_len),
        "--concurrency",
        str(args.concurrency),
        "--requests",
        str(args.requests),
        "--warmup",
        str(args.warmup),
        "--flush-cache",
        "--seed",
        str(run),
        "--out",
        str(out / f"{QWEN_BENCH}_{run}.json"),
        *args.qwen_bench_arg,
    ]
    with argv(["qwen-bench", "run", *cli]):
        try:
            bench_main()
        except SystemExit as exc:  # it always ends by sys.exit: 1 when a request failed
            if exc.code:
                raise RuntimeError(f"qwen-bench pass of run {run} exited {exc.code}") from None
    prompt_file.unlink()


def run_bench_serving(args, run: int, out: Path) -> None:
    from sglang.benchmark import serving

    cli = [
        "--backend",
        "sglang-oai",
        "--base-url",
        args.base_url,
        "--model",
        args.model,
        "--tokenizer",
        args.tokenizer,
        "--dataset-name",
        "random-ids",
        "--random-input-len",
        str(args.input_len),
        "--random-output-len",
        str(args.output_len),
        "--random-range-ratio",
        "1",
        "--num-prompts",
        str(args.requests),
        "--max-concurrency",
        str(args.concurrency),
        "--warmup-requests",
        str(args.warmup),
        "--flush-cache",
        "--seed",
        str(1000 * run + args.concurrency),
        "--output-details",
        "--disable-tqdm",
        "--output-file",
        str(out / f"{BENCH_SERVING}_{run}.jsonl"),
    ]
    with argv(["sglang.benchmark.serving", *cli]):
        serving.cli_main()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--base-url", help="default: http://127.0.0.1:PORT")
    ap.add_argument("--port", type=int, default=30000)
    ap.add_argument("--model", required=True, help="the served model's name (qwen-serve: its model directory)")
    ap.add_argument("--tokenizer", help="tokenizer directory (default: --model)")
    ap.add_argument("--concurrency", type=int, default=8)
    ap.add_argument("--requests", type=int, default=160, help="per pass (a multiple of --concurrency: whole rounds)")
    ap.add_argument("--passes", type=int, default=8, help="a multiple of 4 balances the order (Q B B Q)")
    ap.add_argument("--first", type=int, default=1, help="run number of the first pair of passes (seed 1000 r + c)")
    ap.add_argument("--input-len", type=int, default=512)
    ap.add_argument("--output-len", type=int, default=128)
    ap.add_argument("--warmup", type=int, default=4)
    ap.add_argument(
        "--time-limit",
        type=float,
        metavar="S",
        help="end within S seconds: start the next four passes "
        "(Q B B Q keeps the order balanced) only if, at the mean pass time so far, they end by then",
    )
    ap.add_argument(
        "--warm-requests",
        type=int,
        default=0,
        help="first a qwen-bench pass of this many requests, kept apart (out/warm/) and not compared",
    )
    ap.add_argument("--qwen-bench-arg", action="append", default=[], help="passed to every qwen-bench pass")
    ap.add_argument("--out", required=True)
    args = ap.parse_args()
    args.base_url = args.base_url or f"http://127.0.0.1:{args.port}"
    args.tokenizer = args.tokenizer or args.model
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(args.tokenizer)
    if args.warm_requests:  # a new server's first batches of each shape compile kernels: none of that in a pass
        print(f"== warm-up pass: qwen_bench, {args.warm_requests} requests (run 0; not compared)", flush=True)
        warm = argparse.Namespace(**{**vars(args), "requests": args.warm_requests})
        run_qwen_bench(
            warm,
            0,
            level_prompts(tokenizer, args.input_len, args.output_len, args.warm_requests, args.concurrency),
            out / "warm",
        )
    passes, t0 = [], time.perf_counter()
    for k, tool in enumerate(order(args.passes)):
        elapsed = time.perf_counter() - t0
        if args.time_limit and k and k % 4 == 0 and elapsed + 4 * elapsed / k > args.time_limit:
            print(
                f"time limit: {k} of {args.passes} passes run (the next four would end past "
                f"{args.time_limit:.0f} s at {elapsed / k:.1f} s a pass)",
                flush=True,
            )
            break
        run = args.first + k // 2
        start = time.perf_counter() - t0
        print(f"== pass {k + 1}/{args.passes}: {tool}, run {run}", flush=True)
        if tool == QWEN_BENCH:
            prompts = level_prompts(
                tokenizer, args.input_len, args.output_len, args.requests, 1000 * run + args.concurrency
            )
            run_qwen_bench(args, run, prompts, out)
            path = out / f"{QWEN_BENCH}_{run}.json"
        else:
            run_bench_serving(args, run, out)
            path = out / f"{BENCH_SERVING}_{run}.jsonl"
        ttfts = pass_ttfts_ms(tool, path, args.concurrency)
        passes.append(
            {
                "pass": k + 1,
                "tool": tool,
                "run": run,
                "start_s": round(start, 1),
                "end_s": round(time.perf_counter() - t0, 1),
                "requests": len(ttfts),
                "ttft_mean_ms": round(sum(ttfts) / len(ttfts), 2),
                "ttft_p50_ms": round(percentile(ttfts, 50), 2),
            }
        )
        (out / "passes.json").write_text(
            json.dumps({"concurrency": args.concurrency, "command": sys.argv, "passes": passes}, indent=1) + "\n"
        )
    print(f"{'pass':>4} {'tool':<14} {'run':>4} {'start s':>8} {'end s':>7} {'n':>4} {'TTFT mean':>10} {'p50':>8}")
    for p in passes:
        print(
            f"{p['pass']:>4} {p['tool']:<14} {p['run']:>4} {p['start_s']:>8} {p['end_s']:>7} {p['requests']:>4} "
            f"{p['ttft_mean_ms']:>10} {p['ttft_p50_ms']:>8}"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
