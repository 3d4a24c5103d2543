"""Does the load generator change the batches it measures? A CPU-only look at the mechanism.

On the H100 (2026-11-25-b) qwen-bench's TTFT p50 at concurrency 8 was 7-18 % below
sglang.bench_serving's on the same server. SGLang's log (server_*.log.gz) shows how: at a fixed
output length the prefills of one round run back to back, so all 8 requests of a round finish in
the same decode step ("#running-req: 0" before every round's first prefill), and the client then
sends 8 requests at once. The first to arrive finds the scheduler idle and is prefilled alone;
those that arrive during that prefill share the next one, and so on. The rounds split 1+3+4 under
qwen-bench (its former httpx client) and mostly 1+7 under bench_serving: the client's *burst
spread* (how far apart a round's requests reach the server) decides the prefill batches, and so
TTFT.

This measures that spread for each client against a stand-in for SGLang's overlap scheduler (a
process of its own, `scheduler` below): each turn queues the next batch on a serial "GPU" (every
waiting request as one prefill, base + per-sequence time, else one decode step for all running
requests) before it streams the previous batch's tokens; a request joins the queue after a serial
tokenizing delay. It models the mechanism, not SGLang's speed: the timings (defaults below) were
picked so that rounds split as the H100 log shows, and this machine's CPU is not the H100 host's.
The batch sizes it shows are the model's; the burst spreads are each client's own. Clients: qwen-bench's `run_level` (aiohttp, keep-alive
and a connection per request), bench_serving's own OpenAI-backend function under its semaphore,
and the httpx streaming client qwen-bench used in every H100 run so far.

  uv run python bench/batching_sim.py [--concurrency 8] [--requests 160] [--repeat 2] [-o out.json]
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import json
import os
import platform
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from client_overhead import bench_serving_level, httpx_level, start_server  # noqa: E402  (its clients, its server start)


def make_app(opts: argparse.Namespace):
    from starlette.applications import Starlette
    from starlette.responses import JSONResponse, StreamingResponse
    from starlette.routing import Route

    waiting: collections.deque = collections.deque()
    running: list = []
    batches: list[int] = []  # sequences per prefill batch, in order
    arrivals: list[float] = []  # when each request reached the server (before its body is read)
    wake = asyncio.Event()
    tokenizer = asyncio.Lock()
    loop_task = None
    chunk = (
        "data: "
        + json.dumps(
            {
                "id": "x",
                "object": "text_completion",
                "created": 1,
                "model": "m",
                "usage": None,
                "choices": [{"index": 0, "text": " tok", "logprobs": None, "finish_reason": None}],
            }
        )
        + "\n\n"
    )

    class Req:
        def __init__(self, output_len: int):
            self.left = output_len  # tokens not yet streamed
            self.unscheduled = output_len  # tokens not yet in a launched batch
            self.out: asyncio.Queue = asyncio.Queue()

    async def scheduler():
        """SGLang's overlap event loop, reduced to timing: each turn forms the next batch from what
        has arrived (every waiting request as one prefill, else a decode step of every running
        request), queues it on the GPU (which runs batches one after another), and only then waits
        for the *previous* batch's results and streams them. So at a round's start the first request
        is prefilled alone, those that arrive within one scheduler turn (--schedule-ms) join the
        second prefill, and the rest wait for the first prefill to finish."""
        gpu_free = 0.0
        previous = None  # (finish time, requests, prefill?) of the batch launched last turn
        loop = asyncio.get_running_loop()
        while True:
            launched = None
            if waiting:
                batch = list(waiting)
                waiting.clear()
                batches.append(len(batch))
                length = (opts.prefill_base_ms + opts.prefill_per_seq_ms * len(batch)) / 1000
                launched = (True, batch)
                running.extend(batch)  # as SGLang merges the last prefill into the next decode batch
            elif decodable := [r for r in running if r.unscheduled > 0]:
                batch, length = decodable, opts.decode_ms / 1000
                launched = (False, batch)
            if launched:
                gpu_free = max(loop.time(), gpu_free) + length
                for r in launched[1]:
                    r.unscheduled -= 1
                launched = (gpu_free, *launched)
            if previous is not None:
                await asyncio.sleep(max(0.0, previous[0] - loop.time()))
                batch = previous[2]
                for r in batch:
                    r.out.put_nowait(chunk)
                    r.left -= 1
                    if r.left == 0:
                        running.remove(r)
                        r.out.put_nowait(None)
            elif launched is None:
                wake.clear()
                await wake.wait()
            await asyncio.sleep(opts.schedule_ms / 1000)  # the scheduler's own CPU time per turn
            previous = launched

    async def completions(request):
        nonlocal loop_task
        arrivals.append(time.perf_counter())
        if loop_task is None:
            loop_task = asyncio.get_running_loop().create_task(scheduler())
        body = await request.json()
        req = Req(int(body.get("max_tokens") or opts.output_len))
        async with tokenizer:  # one tokenizer process: requests are tokenized one after another
            await asyncio.sleep(opts.tokenize_ms / 1000)
        waiting.append(req)
        wake.set()

        async def stream():
            while (item := await req.out.get()) is not None:
                yield item
            yield "data: [DONE]\n\n"

        return StreamingResponse(stream(), media_type="text/event-stream")

    async def stats(request):
        sizes, t = list(batches), [a - arrivals[0] for a in arrivals]
        if request.method == "POST":
            batches.clear()
            arrivals.clear()
        return JSONResponse({"prefill_batches": sizes, "arrivals_s": t})

    return Starlette(
        routes=[
            Route("/v1/completions", completions, methods=["POST"]),
            Route("/stats", stats, methods=["GET", "POST"]),
        ]
    )


async def qwen_bench_level(url: str, n: int, c: int, output_len: int, reuse: bool) -> list[float]:
    from qwen_serve import bench

    results, _, _ = await bench.run_level(url, "m", ["p"], c, n, output_len, 600, False, None, reuse_connections=reuse)
    return [r.ttft for r in results if r.ok]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--concurrency", type=int, default=8)
    ap.add_argument("--requests", type=int, default=160)
    ap.add_argument("--repeat", type=int, default=2)
    ap.add_argument("--output-len", type=int, default=128)
    ap.add_argument("--decode-ms", type=float, default=12.0, help="one decode step (TPOT p50 at c=8 on the H100: ~12)")
    ap.add_argument("--prefill-base-ms", type=float, default=15.0)
    ap.add_argument("--prefill-per-seq-ms", type=float, default=15.0)
    ap.add_argument("--tokenize-ms", type=float, default=0.2)
    ap.add_argument("--schedule-ms", type=float, default=3.0, help="one turn of the scheduler's loop (its CPU time)")
    ap.add_argument("-o", "--output")
    ap.add_argument("--serve", type=int, metavar="PORT", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.serve:
        import uvicorn

        uvicorn.run(make_app(args), host="127.0.0.1", port=args.serve, log_level="warning")
        return 0
    import httpx

    model = [
        "--output-len",
        str(args.output_len),
        "--decode-ms",
        str(args.decode_ms),
        "--prefill-base-ms",
        str(args.prefill_base_ms),
        "--prefill-per-seq-ms",
        str(args.prefill_per_seq_ms),
        "--tokenize-ms",
        str(args.tokenize_ms),
        "--schedule-ms",
        str(args.schedule_ms),
    ]
    url, server = start_server(__file__, model)
    n, c, out_len = args.requests, args.concurrency, args.output_len
    body = {"model": "m", "prompt": "p", "max_tokens": out_len, "stream": True}
    clients = {
        "qwen-bench": lambda: qwen_bench_level(url, n, c, out_len, True),
        "qwen-bench --new-connection-per-request": lambda: qwen_bench_level(url, n, c, out_len, False),
        "bench_serving": lambda: bench_serving_level(url, n, c, out_len),
        "httpx (qwen-bench on the H100)": lambda: httpx_level(url, n, c, body),
    }
    rows = []
    try:
        for repeat in range(1, args.repeat + 1):
            for name, run in clients.items():  # interleaved: drift of the machine hits every client
                httpx.post(url + "/stats", timeout=10)
                ttfts = asyncio.run(run())
                seen = httpx.get(url + "/stats", timeout=10).json()
                sizes, arrivals = seen["prefill_batches"], seen["arrivals_s"]
                # all c requests of a round finish in the same decode step (their prefills ran back to
                # back), so the client sends the next c at once: how far apart they reach the server
                spreads = [(arrivals[i + c - 1] - arrivals[i]) * 1000 for i in range(0, len(arrivals) - c + 1, c)]
                row = {
                    "client": name,
                    "repeat": repeat,
                    "requests": len(ttfts),
                    "ttft_ms_p50": statistics.median(ttfts) * 1000,
                    "ttft_ms_mean": statistics.fmean(ttfts) * 1000,
                    "round_spread_ms": {
                        "first": spreads[0],
                        "median": statistics.median(spreads[1:] or spreads),
                        "max": max(spreads[1:] or spreads),
                    },
                    "prefill_batches": len(sizes),
                    "seqs_per_prefill_batch": statistics.fmean(sizes),
                    "batch_sizes": dict(sorted(collections.Counter(sizes).items())),
                }
                rows.append(row)
                print(
                    f"{repeat}  {name:42s} TTFT p50 {row['ttft_ms_p50']:6.1f} ms  mean {row['ttft_ms_mean']:6.1f} ms  "
                    f"{row['seqs_per_prefill_batch']:.2f} seqs per prefill batch  {row['batch_sizes']}  "
                    f"a round of {c} reached the server within {row['round_spread_ms']['median']:.1f} ms "
                    f"(median; max {row['round_spread_ms']['max']:.1f})",
                    flush=True,
                )
    finally:
        server.terminate()
    if args.output:
        facts = {
            "command": "python " + " ".join(sys.argv),
            "python": platform.python_version(),
            "machine": platform.processor() or platform.machine(),
            "cpus": os.cpu_count(),
        }
        Path(args.output).write_text(json.dumps({**facts, **vars(args), "rows": rows}, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
