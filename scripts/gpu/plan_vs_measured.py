#!/usr/bin/env python3
"""Launch configurations through qwen-serve on the real GPU and compare with `qwen-serve plan`.

For each configuration: the plan (qwen_serve.plan, for the detected GPU), then a launch through
qwen-serve (`--quiet --ready-file`), sampling `nvidia-smi memory.used` every 0.2 s; measured are
SGLang's own "Load weight end … mem usage" (weights), "#tokens" (KV cache) and the highest
memory.used before the KV cache was allocated, minus the memory in use when SGLang started
loading ("Load weight begin. avail mem"), i.e. the peak of the weights while loading.

    python bench/plan_vs_measured.py --out DIR --model .gpu/qwen3-14b \\
        --config "bf16=--preset high_performance" --config "fp8=--quantization fp8" ...
    (every configuration also gets: --attention-backend triton --sampling-backend pytorch
     --load-format dummy -- --disable-cuda-graph; see --common)
"""

from __future__ import annotations

import argparse
import json
import re
import shlex
import signal
import subprocess
import sys
import threading
import time
from datetime import datetime
from pathlib import Path

PORT = 30000
COMMON = "--attention-backend triton --sampling-backend pytorch"
PASSTHROUGH = "--disable-cuda-graph"  # after `--`; dummy weights are qwen-serve's own --load-format
DUMMY = "--load-format dummy"  # not with --real-weights: the model directory holds safetensors


def sample_memory(samples: list, stop: threading.Event) -> None:
    while not stop.is_set():
        try:
            out = subprocess.run(
                ["nvidia-smi", "--query-gpu=memory.used", "--format=csv,noheader,nounits"],
                capture_output=True,
                text=True,
            ).stdout.split()
        except OSError:
            return  # no nvidia-smi: no peak measurement
        if out:
            samples.append((time.time(), int(out[0])))
        time.sleep(0.2)


def log_time(line: str) -> float:
    stamp = re.match(r"\[(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d)\]", line).group(1)
    return datetime.strptime(stamp, "%Y-%m-%d %H:%M:%S").timestamp()


def speed(model_dir: str) -> dict:
    """Once ready: a chat request, batch-1 decode tokens/s, and output tokens/s at concurrency 64."""
    import asyncio

    import httpx

    from qwen_serve import bench

    base = f"http://127.0.0.1:{PORT}"
    facts: dict = {}
    r = httpx.post(
        base + "/v1/chat/completions",
        timeout=120,
        json={"model": "default", "max_tokens": 32, "messages": [{"role": "user", "content": "你好"}]},
    )
    facts["chat_status"] = r.status_code
    arrivals = []
    body = {
        "text": "Once upon a time",
        "stream": True,
        "sampling_params": {"max_new_tokens": 256, "temperature": 0, "ignore_eos": True},
    }
    with httpx.stream("POST", base + "/generate", json=body, timeout=300) as stream:
        for line in stream.iter_lines():
            if line.startswith("data:") and line.strip() != "data: [DONE]":
                arrivals.append((time.perf_counter(), json.loads(line[5:])["meta_info"]["completion_tokens"]))
    if len(arrivals) > 1:
        (t0, n0), (t1, n1) = arrivals[0], arrivals[-1]
        facts["decode_tok_s_batch1"] = round((n1 - n0) / (t1 - t0), 1)
    prompts = bench.make_prompts(bench.read_tokenizer(model_dir), 128, 256, seed=1)
    done, duration, cpu = asyncio.run(bench.run_level(base, "default", prompts, 64, 128, 128, 240, True, None))
    level = bench.summarize(done, 64, duration, cpu, 256, 128)
    facts["conc64"] = {
        "output_tok_s": round(level.output_throughput, 1),
        "completed": level.completed,
        "errors": level.errors,
        "tpot_p50_ms": level.tpot_ms.get("p50"),
        "ttft_p50_ms": level.ttft_ms.get("p50"),
    }
    return facts


def measure(
    name: str,
    args: list[str],
    model: str,
    out: Path,
    timeout: float,
    with_speed: bool = False,
    passthrough: str = PASSTHROUGH,
    dummy: str = DUMMY,
) -> dict:
    ready_file, log_file = out / f"{name}.ready.json", out / f"{name}.sglang.log"
    argv = [
        sys.executable,
        "-m",
        "qwen_serve",
        *args,
        "--model-path",
        model,
        "--host",
        "127.0.0.1",
        "--port",
        str(PORT),
        *shlex.split(COMMON),
        "--quiet",
        "--ready-file",
        str(ready_file),
        "--log-file",
        str(log_file),
        "--ready-timeout",
        str(timeout),
        *shlex.split(dummy),
        "--",
        *shlex.split(passthrough),
    ]
    samples: list = []
    stop = threading.Event()
    sampler = threading.Thread(target=sample_memory, args=(samples, stop), daemon=True)
    sampler.start()
    with open(out / f"{name}.qwen-serve.txt", "w") as console:
        proc = subprocess.Popen(argv, stdout=console, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + timeout + 30
        while not ready_file.exists() and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.5)
        speed_facts = {}
        if with_speed and ready_file.exists():
            try:
                speed_facts = speed(model)
            except Exception as exc:  # noqa: BLE001 - recorded, the memory facts still count
                speed_facts = {"speed_error": f"{type(exc).__name__}: {exc}"[:300]}
        proc.send_signal(signal.SIGTERM)
        code = proc.wait(timeout=120)
    stop.set()
    sampler.join()
    text = log_file.read_text(errors="replace") if log_file.exists() else ""
    result = {"name": name, "argv": argv, "exit_code": code, "ready": ready_file.exists(), **speed_facts}
    begin = re.search(r".*Load weight begin\. avail mem=([\d.]+) GB.*", text)
    kv_line = re.search(r".*KV Cache is allocated\..*", text)
    if ready_file.exists():
        facts = json.loads(ready_file.read_text())["sglang"]
        result.update(weight_gib=facts.get("weight_gb"), kv_tokens=facts.get("kv_tokens"))
    if begin and kv_line:
        t_kv = log_time(kv_line.group(0))
        t_begin = log_time(begin.group(0))
        before = [mib for t, mib in samples if t < t_begin]
        loading = [mib for t, mib in samples if t_begin - 1 <= t < t_kv]
        if before and loading:
            result["peak_load_gib"] = round((max(loading) - min(before[-5:])) / 1024, 2)
            result["memory_used_before_load_gib"] = round(min(before[-5:]) / 1024, 2)
    fix = re.search(r"qwen-serve torchao fix: .*; ([\d.]+) GiB allocated", text)
    if fix:  # torch.cuda.memory_allocated right after quantizing (SGLang's "Load weight end" is before)
        result["weights_after_quantization_gib"] = float(fix.group(1))
    mfs = re.search(r"mem_fraction_static=([\d.]+)", text)
    result["mem_fraction_static"] = float(mfs.group(1)) if mfs else None
    err = [line for line in text.splitlines() if re.search(r"Error|error:", line)]
    if not result["ready"]:
        result["error_lines"] = err[-5:]
    return result


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", required=True)
    ap.add_argument("--model", required=True)
    ap.add_argument("--config", action="append", required=True, metavar="NAME=QWEN-SERVE ARGS")
    ap.add_argument("--timeout", type=float, default=300)
    ap.add_argument("--gpu", help="plan for this GPU when NVML sees none (dry runs of this script)")
    ap.add_argument(
        "--speed", action="store_true", help="also: chat, batch-1 decode tok/s, output tok/s at concurrency 64"
    )
    ap.add_argument(
        "--real-weights", action="store_true", help="the model directory has weight files: no --load-format dummy"
    )
    args = ap.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)

    from qwen_serve import hardware
    from qwen_serve.launch import request_from_args, settings_for
    from qwen_serve.plan import plan

    hw = hardware.parse_gpu_spec(args.gpu) if args.gpu else hardware.detect()
    rows = []
    for spec in args.config:
        name, _, qargs = spec.partition("=")
        qargs = shlex.split(qargs)
        # the plan for exactly these settings (the flags the launch gets, read as qwen-serve reads them)
        settings = settings_for(request_from_args([*qargs, "--model-path", args.model]))
        predicted = plan(settings, hw.gpu, hw.count, name=name, cuda_graph=False).as_dict()
        measured = measure(
            name, qargs, args.model, out, args.timeout, with_speed=args.speed, dummy="" if args.real_weights else DUMMY
        )
        row = {"name": name, "qwen_serve_args": qargs, "plan": predicted, "measured": measured}
        rows.append(row)
        print(
            json.dumps(
                {
                    "name": name,
                    "plan_weights": predicted["weights_gib"],
                    "weights": measured.get("weight_gib"),
                    "plan_kv": predicted["kv_tokens"],
                    "kv": measured.get("kv_tokens"),
                    "plan_peak": predicted["peak_load_gib"],
                    "peak": measured.get("peak_load_gib"),
                }
            ),
            flush=True,
        )
        # after every row: a call cut short by its time limit still leaves the rows it finished
        name = "plan_vs_measured_real_weights.json" if args.real_weights else "plan_vs_measured.json"
        (out / name).write_text(
            json.dumps({"command": " ".join(map(shlex.quote, sys.argv)), "gpu": hw.describe(), "rows": rows}, indent=2)
            + "\n"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
