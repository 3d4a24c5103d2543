#!/usr/bin/env python3
"""Seconds to ready: SGLang started by qwen-serve vs the same argv run directly.

Both are timed by this script the same way: from Popen until `/health` answers 200 and a
one-token `/generate` succeeds (polled every 0.25 s), then one chat request, then SIGTERM and
a check that no GPU process is left. The direct argv is exactly the one qwen-serve prints
with `--dry-run --json`. Runs alternate; the first one also fills the JIT caches (Triton,
FlashInfer), so compare runs that started with the same caches.

    python bench/startup_overhead.py --out DIR --runs direct,qwen-serve,direct \\
        -- --preset high_performance --model-path .gpu/qwen3-14b --attention-backend triton \\
           --sampling-backend pytorch --load-format dummy
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx

PORT = 30000


def ready(base: str) -> bool:
    try:
        if httpx.get(base + "/health", timeout=5).status_code != 200:
            return False
        r = httpx.post(
            base + "/generate",
            timeout=60,
            json={"text": "ping", "sampling_params": {"max_new_tokens": 1, "temperature": 0}},
        )
        return r.status_code == 200
    except httpx.HTTPError:
        return False


def gpu_processes() -> str:
    try:
        return subprocess.run(
            ["nvidia-smi", "--query-compute-apps=pid,used_memory", "--format=csv,noheader"],
            capture_output=True,
            text=True,
            timeout=30,
        ).stdout.strip()
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"nvidia-smi failed: {exc}"


def one_run(kind: str, argv: list[str], log_path: Path, timeout: float) -> dict:
    base = f"http://127.0.0.1:{PORT}"
    t0 = time.monotonic()
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        seconds = None
        while time.monotonic() - t0 < timeout and proc.poll() is None:
            if ready(base):
                seconds = time.monotonic() - t0
                break
            time.sleep(0.25)
        chat = None
        if seconds is not None:
            r = httpx.post(
                base + "/v1/chat/completions",
                timeout=120,
                json={"model": "default", "max_tokens": 32, "messages": [{"role": "user", "content": "你好"}]},
            )
            chat = {"status": r.status_code, "usage": r.json().get("usage")}
        stop_t = time.monotonic()
        # the direct run is stopped like a user would: SIGTERM to its process group
        os.killpg(proc.pid, signal.SIGTERM) if kind == "direct" else proc.send_signal(signal.SIGTERM)
        try:
            code = proc.wait(timeout=90)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            code = proc.wait()
        stopped_s = time.monotonic() - stop_t
    time.sleep(3)
    return {
        "kind": kind,
        "seconds_to_ready": seconds,
        "chat": chat,
        "exit_code": code,
        "seconds_to_stop": round(stopped_s, 2),
        "gpu_processes_after": gpu_processes(),
        "log": log_path.name,
    }


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", required=True)
    ap.add_argument("--runs", default="direct,qwen-serve,direct")
    ap.add_argument("--timeout", type=float, default=420)
    ap.add_argument("--budget", type=float, default=520, help="stop starting runs after this many seconds")
    ap.add_argument("qwen_serve_args", nargs=argparse.REMAINDER)
    args = ap.parse_args()
    qargs = args.qwen_serve_args[1:] if args.qwen_serve_args[:1] == ["--"] else args.qwen_serve_args
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    qwen = [sys.executable, "-m", "qwen_serve", "--host", "127.0.0.1", "--port", str(PORT), *qargs]
    split = qwen.index("--") if "--" in qwen else len(qwen)
    dry = subprocess.run(
        [*qwen[:split], "--dry-run", "--json", *qwen[split:]], capture_output=True, text=True, check=True
    )
    direct = json.loads(dry.stdout)["argv"]
    served = [*qwen[:split], "--quiet", "--ready-file", str(out / "ready.json"), *qwen[split:]]
    start, results = time.monotonic(), []
    for i, kind in enumerate(args.runs.split(",")):
        if time.monotonic() - start > args.budget:
            results.append({"kind": kind, "skipped": "out of time budget"})
            continue
        argv = direct if kind == "direct" else served
        if kind == "qwen-serve":
            argv = [*argv[:split], "--log-file", str(out / f"run{i}-sglang.log"), *argv[split:]]
        result = one_run(kind, argv, out / f"run{i}-{kind}.log", args.timeout)
        if kind == "qwen-serve" and (out / "ready.json").exists():
            result["qwen_serve_ready_file"] = json.loads((out / "ready.json").read_text())
            (out / "ready.json").unlink()
        results.append(result)
        print(json.dumps(result), flush=True)
    summary = {"command": " ".join(sys.argv), "direct_argv": direct, "qwen_serve_argv": served, "runs": results}
    (out / "startup.json").write_text(json.dumps(summary, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
