"""One long prompt through a running server's /generate (SGLang's native API, token ids, streamed): time to the
first token, total time, and the token counts SGLang reports. Prints one JSON line.

    python3 scripts/gpu/long_prompt.py --port 30000 --tokens 100000 [--api-key KEY]
"""

from __future__ import annotations

import argparse
import json
import random
import time

import httpx


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, default=30000)
    ap.add_argument("--tokens", type=int, default=100000)
    ap.add_argument("--output", type=int, default=32)
    ap.add_argument("--api-key")
    ap.add_argument("--seed", type=int, help="default: the token count, so two lengths share no cached prefix")
    args = ap.parse_args()
    rng = random.Random(args.tokens if args.seed is None else args.seed)
    ids = [rng.randrange(1000, 150000) for _ in range(args.tokens)]  # plain vocabulary, no special tokens
    body = {
        "input_ids": ids,
        "sampling_params": {"max_new_tokens": args.output, "temperature": 0, "ignore_eos": True},
        "stream": True,
    }
    headers = {"Authorization": f"Bearer {args.api_key}"} if args.api_key else {}
    t0 = time.perf_counter()
    first = last = None
    meta = {}
    with httpx.stream("POST", f"http://127.0.0.1:{args.port}/generate", json=body, headers=headers, timeout=600) as r:
        r.raise_for_status()
        for line in r.iter_lines():
            if not line.startswith("data:") or line.strip() == "data: [DONE]":
                continue
            chunk = json.loads(line[5:])
            now = time.perf_counter()
            if first is None and chunk.get("output_ids"):
                first = now
            last = now
            meta = chunk.get("meta_info", meta)
    print(
        json.dumps(
            {
                "prompt_tokens_sent": args.tokens,
                "prompt_tokens": meta.get("prompt_tokens"),
                "completion_tokens": meta.get("completion_tokens"),
                "finish_reason": meta.get("finish_reason"),
                "ttft_s": round(first - t0, 3) if first else None,
                "total_s": round(last - t0, 3) if last else None,
            }
        )
    )


if __name__ == "__main__":
    main()
