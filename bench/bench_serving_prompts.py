"""The exact prompts `python -m sglang.bench_serving --dataset-name random-ids` sends, rebuilt offline.

bench_serving seeds `random` and `numpy.random` with --seed, then builds its random-ids dataset:
consecutive token ids from a random offset, *decoded to text* for its OpenAI backend (sglang-oai).
The server re-tokenizes that text, and decode/encode is no round trip: asked for 512 tokens, the
prompts of 2026-11-25 reached SGLang as 489-681 tokens (its own log, "#new-token"), which this
script reproduces id for id. It calls bench_serving's own dataset function with the same seed, so
it needs SGLang installed (0.5.17 here; the GPU bundle or CI's environment).

  python bench/bench_serving_prompts.py --tokenizer DIR --input-len 512 --output-len 128 \
      --levels 1,8,32,64 --run 5 [--warmup 4] [-o prompts.jsonl]

Per level c of run r it uses scripts/gpu/bench_compare.sh's seed (1000 r + c) and prompt count
(max(16, R c) with --rounds R as its ROUNDS=R, default 4; or --requests N as its REQUESTS=N); --warmup W repeats the level's first prompt W
times in front of its prompts, as bench_serving's warm-up does. -o writes JSON lines {"prompt", "tokens", "concurrency"}: a
`qwen-bench --prompts` file that replays bench_serving's workload through qwen-bench. Without -o it
prints each level's server-side prompt lengths (min/mean/max).
"""

from __future__ import annotations

import argparse
import json
import random
import statistics


def level_prompts(tokenizer, input_len: int, output_len: int, count: int, seed: int) -> list[str]:
    import numpy as np
    from sglang.benchmark.datasets.random import sample_random_requests

    random.seed(seed)  # what sglang.benchmark.serving.run_benchmark does before building the dataset
    np.random.seed(seed)
    rows = sample_random_requests(
        input_len, output_len, count, 1.0, tokenizer, "", random_sample=False, return_text=True
    )
    return [row.prompt for row in rows]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tokenizer", required=True)
    ap.add_argument("--input-len", type=int, default=512)
    ap.add_argument("--output-len", type=int, default=128)
    ap.add_argument("--levels", default="1,8,32,64")
    ap.add_argument("--run", type=int, required=True, help="the run number r of bench_compare.sh (seed 1000 r + c)")
    ap.add_argument("--warmup", type=int, default=0)
    ap.add_argument("--rounds", type=int, default=4, help="prompts per level max(16, ROUNDS x concurrency)")
    ap.add_argument("--requests", type=int, help="prompts per level, whatever the concurrency (overrides --rounds)")
    ap.add_argument("-o", "--output")
    args = ap.parse_args()
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(args.tokenizer)
    lines = []
    for c in (int(x) for x in args.levels.split(",")):
        count = args.requests or max(16, args.rounds * c)
        prompts = level_prompts(tok, args.input_len, args.output_len, count, 1000 * args.run + c)
        counts = [len(tok.encode(p)) for p in prompts]
        print(
            f"concurrency {c}: {len(prompts)} prompts asked as {args.input_len} tokens, counted "
            f"{min(counts)}-{max(counts)} (mean {statistics.fmean(counts):.1f}) by the tokenizer"
        )
        for p, n in [(prompts[0], counts[0])] * args.warmup + list(zip(prompts, counts)):
            lines.append(json.dumps({"prompt": p, "tokens": n, "concurrency": c}))
    if args.output:
        with open(args.output, "w", encoding="utf-8") as f:
            f.write("\n".join(lines) + "\n")
        print(f"wrote {len(lines)} prompts to {args.output}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
