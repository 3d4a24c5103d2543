"""Client CPU time per streamed request: qwen-bench's client against sglang.bench_serving's own.

A load generator drives at most 1 / (its CPU time per request) requests per second per core, and
a busy event loop reads chunks late (inflating TPOT). This measures that cost with no GPU: a
local Starlette server streams `--chunks` SSE chunks per request (`--gap-ms` apart, as a decoding
server would; the server runs in a process of its own, so the CPU time counted is the client's),
and each client runs the same requests at the same concurrency:
- `qwen-bench`: `qwen_serve.bench.run_level` (aiohttp, keep-alive, or `--new-connection-per-request`);
- `bench_serving`: `sglang.benchmark.serving.async_request_openai_completions`, its OpenAI
  backend, under its own semaphore (needs SGLang installed: `uv sync` has it);
- `httpx`: the httpx streaming client qwen-bench used before (kept here as the reference);
- `qwen-bench CLI (progress bar on a terminal)`: the whole `qwen-bench` command in a process of its
  own, its stderr a pseudo-terminal so its rich progress bar runs (redrawn by a thread of its own);
  the figure is the CLI's own "client CPU/req" (process-wide CPU time over the level, that thread
  included), read from its JSON.

  uv run python bench/client_overhead.py [--chunks 128] [--gap-ms 3] [--levels 1,16,64] [-o out.json]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import platform
import socket
import subprocess
import sys
import time
from pathlib import Path

CHUNK = {
    "id": "x",
    "object": "text_completion",
    "created": 1,
    "model": "m",
    "choices": [{"index": 0, "text": " tok", "logprobs": None, "finish_reason": None}],
    "usage": None,
}


def make_app(chunks: int, gap: float):
    from starlette.applications import Starlette
    from starlette.responses import StreamingResponse
    from starlette.routing import Route

    async def completions(request):
        body = await request.json()
        usage_asked = (body.get("stream_options") or {}).get("include_usage")

        async def stream():
            for _ in range(chunks):
                yield "data: " + json.dumps(CHUNK) + "\n\n"
                await asyncio.sleep(gap)
            if usage_asked:  # as SGLang: a last chunk with no choices, only when asked for
                usage = {"prompt_tokens": 512, "completion_tokens": chunks, "total_tokens": 512 + chunks}
                yield "data: " + json.dumps({**CHUNK, "choices": [], "usage": usage}) + "\n\n"
            yield "data: [DONE]\n\n"

        return StreamingResponse(stream(), media_type="text/event-stream")

    return Starlette(routes=[Route("/v1/completions", completions, methods=["POST"])])


def start_server(script: str, argv: list[str]) -> tuple[str, subprocess.Popen]:
    """`script --serve PORT *argv` in a process of its own (process_time() then counts the client
    alone); its URL once it accepts connections."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen([sys.executable, script, "--serve", str(port), *argv])
    for _ in range(200):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return f"http://127.0.0.1:{port}", proc
        except OSError:
            time.sleep(0.1)
    proc.kill()
    raise SystemExit(f"the local server of {script} did not start")


async def httpx_level(url: str, n: int, concurrency: int, body: dict) -> list[float]:
    """qwen-bench's streaming client up to 2026-11-25-b (httpx, keep-alive): each request's TTFT."""
    import httpx

    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    ttfts: list[float] = []
    async with httpx.AsyncClient(base_url=url, limits=limits, timeout=600) as client:
        queue = list(range(n))

        async def worker():
            while queue:
                queue.pop()
                start, first = time.perf_counter(), None
                async with client.stream("POST", "/v1/completions", json=body) as r:
                    async for line in r.aiter_lines():
                        if line.startswith("data:") and line[5:].strip() != "[DONE]":
                            choices = json.loads(line[5:])["choices"]
                            if first is None and choices and choices[0]["text"]:
                                first = time.perf_counter() - start
                ttfts.append(first)

        await asyncio.gather(*(worker() for _ in range(concurrency)))
    return ttfts


async def bench_serving_level(url: str, n: int, concurrency: int, output_len: int = 128) -> list[float]:
    """sglang.bench_serving's own OpenAI-backend request function under its semaphore: each TTFT."""
    from sglang.benchmark import serving

    serving.args = argparse.Namespace(
        disable_stream=False,
        disable_ignore_eos=False,
        return_logprob=False,
        top_logprobs_num=0,
        cache_report=False,
        header=None,
    )
    semaphore = asyncio.Semaphore(concurrency)  # as sglang.benchmark.serving.benchmark limits concurrency
    request = serving.RequestFuncInput(
        prompt="p",
        api_url=url + "/v1/completions",
        prompt_len=512,
        output_len=output_len,
        model="m",
        lora_name=None,
        image_data=None,
        extra_request_body={},
    )

    async def one():
        async with semaphore:
            out = await serving.async_request_openai_completions(request)
            assert out.success, out.error
            return out.ttft

    return list(await asyncio.gather(*(one() for _ in range(n))))


def cli_level(url: str, n: int, concurrency: int, output_len: int = 128) -> float:
    """The CPU ms per request that `qwen-bench` itself reports for one level, run with a
    pseudo-terminal for its stderr (what a user at a terminal sees: the progress bar drawn)."""
    import os
    import pty
    import tempfile
    import threading

    with tempfile.TemporaryDirectory() as tmp:
        prompts, out = Path(tmp) / "prompts.jsonl", Path(tmp) / "run.json"
        prompts.write_text("".join(json.dumps({"prompt": f"p{i}"}) + "\n" for i in range(n)))
        master, slave = pty.openpty()
        drain = threading.Thread(target=lambda: _drain(master), daemon=True)
        drain.start()
        try:
            subprocess.run(
                [
                    sys.executable,
                    "-c",
                    "from qwen_serve.cli import bench_main; bench_main()",
                    "--base-url",
                    url,
                    "--model",
                    "m",
                    "--prompts",
                    str(prompts),
                    "--output-len",
                    str(output_len),
                    "--concurrency",
                    str(concurrency),
                    "--requests",
                    str(n),
                    "--warmup",
                    "0",
                    "--out",
                    str(out),
                ],
                stdout=subprocess.DEVNULL,
                stderr=slave,
                check=True,
            )
        finally:
            os.close(slave)
            drain.join(timeout=10)
            os.close(master)
        return json.loads(out.read_text())["levels"][0]["client_cpu_ms_per_request"]


def _drain(fd: int) -> None:
    import os

    try:
        while os.read(fd, 65536):
            pass
    except OSError:  # the terminal closed
        pass


def measure(run) -> float:
    cpu = time.process_time()
    run()
    return time.process_time() - cpu


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--chunks", type=int, default=128)
    ap.add_argument("--gap-ms", type=float, default=3.0)
    ap.add_argument("--levels", default="1,16,64")
    ap.add_argument("-o", "--output")
    ap.add_argument("--serve", type=int, metavar="PORT", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.serve:
        import uvicorn

        uvicorn.run(make_app(args.chunks, args.gap_ms / 1000), host="127.0.0.1", port=args.serve, log_level="warning")
        return 0
    from qwen_serve import bench

    url, server = start_server(__file__, ["--chunks", str(args.chunks), "--gap-ms", str(args.gap_ms)])
    body = {"model": "m", "prompt": "p", "max_tokens": 128, "stream": True}
    rows = []
    for c in (int(x) for x in args.levels.split(",")):
        n = max(16, 4 * c)
        clients = {
            "qwen-bench": lambda: asyncio.run(bench.run_level(url, "m", ["p"], c, n, 128, 120, False, None)),
            "qwen-bench --new-connection-per-request": lambda: asyncio.run(
                bench.run_level(url, "m", ["p"], c, n, 128, 120, False, None, reuse_connections=False)
            ),
            "bench_serving": lambda: asyncio.run(bench_serving_level(url, n, c)),
            "httpx": lambda: asyncio.run(httpx_level(url, n, c, body)),
        }
        for name, run in clients.items():
            run()  # once to warm imports and caches
            cpu = min(measure(run) for _ in range(3))
            rows.append({"concurrency": c, "client": name, "requests": n, "cpu_ms_per_request": 1000 * cpu / n})
            print(f"concurrency {c:3d}  {name:40s} {1000 * cpu / n:6.2f} ms CPU per request", flush=True)
        name = "qwen-bench CLI (progress bar on a terminal)"
        ms = min(cli_level(url, n, c) for _ in range(3))  # its own process: imports warm in each
        rows.append({"concurrency": c, "client": name, "requests": n, "cpu_ms_per_request": ms})
        print(f"concurrency {c:3d}  {name:40s} {ms:6.2f} ms CPU per request", flush=True)
    server.terminate()
    if args.output:
        facts = {
            "command": "python " + " ".join(sys.argv),
            "python": platform.python_version(),
            "machine": platform.processor() or platform.machine(),
            "chunks": args.chunks,
            "gap_ms": args.gap_ms,
        }
        Path(args.output).write_text(json.dumps({**facts, "rows": rows}, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
