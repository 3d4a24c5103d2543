#!/usr/bin/env python3
"""On the GPU machine: each preset's numeric error against bf16 (`qwen-test --compare`) and its peak at load,
from one checkpoint of real safetensors files that every server reads.

Dummy weights (`--load-format dummy`) are seeded (SGLang's initialize_dummy_weights: seed 1234 per parameter,
uniform in +-1e-3, RMSNorm weights included), so two servers would hold the same weights, but at that scale
every logit is near zero and the next-token distribution near uniform: token agreement and KL would say
nothing. Here the weights are scripts/gpu/random_checkpoint.py's (normal, std 0.02, norms at 1) in bf16
safetensors; each server loads the same files and quantizes them its own way (fp8, humming int4 as it
loads), so what differs between two servers is the quantization alone. The figures are numeric error on
random weights, not task accuracy.

The servers run side by side on one GPU, started one after another (the n-th with mem_fraction_static
FRACTION x n / N, as qwen-serve --gpu-share does: SGLang sizes its KV pool from the memory free at its start),
with CUDA graphs off (their start is minutes shorter and the comparison is about numbers, not speed). Peak at
load: nvidia-smi memory.used every 50 ms, presets.MemoryReadings.load_peak_gib between a server's "Load weight
begin" and "Load weight end" (the servers before it sit idle meanwhile).

    python3 scripts/gpu/quality.py --checkpoint /tmp/qwen3-14b-random --out $OUT/quality \\
        --row reference=high_performance --row fp8 --row balanced --row memory_optimized
Writes OUT/quality.json, OUT/LABEL/{server.log,sglang.log,ready.json}, OUT/compare_LABEL.json.
"""

from __future__ import annotations

import argparse
import json
import signal
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))
from presets import LOG_FACTS, MemoryReadings, note_marks  # noqa: E402

BASE_PORT = 30100


def start(label: str, preset: str, index: int, args, out: Path) -> dict:
    folder = out / label
    folder.mkdir(parents=True, exist_ok=True)
    fraction = round(args.fraction * (index + 1) / len(args.row), 4)
    port = BASE_PORT + index
    argv = [sys.executable, "-m", "qwen_serve", "--preset", preset, "--model-path", args.checkpoint]
    argv += ["--host", "127.0.0.1", "--port", str(port), "--load-format", "safetensors"]
    argv += ["--attention-backend", "triton", "--sampling-backend", "pytorch"]
    argv += ["--mem-fraction-static", str(fraction), "--force", "--quiet", "--ready-timeout", str(args.ready_timeout)]
    argv += ["--ready-file", str(folder / "ready.json"), "--log-file", str(folder / "sglang.log")]
    argv += ["--", "--disable-cuda-graph"]
    print(f"== {label}: {' '.join(argv)}", flush=True)
    t0 = time.monotonic()
    proc = subprocess.Popen(
        argv, stdout=open(folder / "server.log", "wb"), stderr=subprocess.STDOUT, start_new_session=True
    )
    readings, marks = MemoryReadings(t0), {}
    while not (folder / "ready.json").exists():
        now = time.monotonic() - t0
        log = folder / "sglang.log"
        text = log.read_text(errors="replace") if log.exists() else ""
        note_marks(text, marks, now)
        if proc.poll() is not None or now > args.ready_timeout + 10:
            readings.stop()
            print((folder / "server.log").read_text(errors="replace")[-3000:], flush=True)
            return {"label": label, "preset": preset, "proc": proc, "error": f"not ready (exit {proc.poll()})"}
        time.sleep(0.1)
    text = (folder / "sglang.log").read_text(errors="replace")
    facts = {k: (m.group(1) if (m := p.search(text)) else None) for k, p in LOG_FACTS.items()}
    readings.stop()
    row = {
        "label": label,
        "preset": preset,
        "port": port,
        "mem_fraction_static": fraction,
        "ready_s": round(time.monotonic() - t0, 1),
        "load_s": round(marks["load_end"] - marks["load_begin"], 1)
        if {"load_begin", "load_end"} <= marks.keys()
        else None,
        "weights_gib": float(facts["weights_gib"]) if facts["weights_gib"] else None,
        "kv_tokens": int(facts["kv_tokens"]) if facts["kv_tokens"] else None,
        "kv_dtype": facts["kv_dtype"],
        "peak_load_gib": readings.load_peak_gib(marks.get("load_begin"), marks.get("load_end")),
        "ready": {k: v for k, v in json.loads((folder / "ready.json").read_text()).items() if k != "sglang"},
        "proc": proc,
    }
    print(
        f"   ready in {row['ready_s']} s (load {row['load_s']} s): weights {row['weights_gib']} GiB, "
        f"peak at load {row['peak_load_gib']} GiB, KV {row['kv_tokens']} tokens ({row['kv_dtype']})",
        flush=True,
    )
    return row


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--checkpoint", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--row", action="append", required=True, metavar="LABEL[=PRESET]", help="the first: reference")
    ap.add_argument("--fraction", type=float, default=0.88, help="mem_fraction_static of all servers together")
    ap.add_argument("--ready-timeout", type=float, default=300)
    ap.add_argument("--max-tokens", type=int, default=64)
    ap.add_argument("--deadline", type=float, help="start no server after this many seconds")
    args = ap.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(124))  # `timeout`: stop the servers, write what was done
    rows, t0 = [], time.monotonic()
    try:
        for i, spec in enumerate(args.row):
            label, _, preset = spec.partition("=")
            if args.deadline and time.monotonic() - t0 > args.deadline:
                print(f"== {label}: skipped, past --deadline {args.deadline:.0f} s", flush=True)
                break
            rows.append(start(label, preset or label, i, args, out))
            if "error" in rows[-1]:
                break
        reference = rows[0]
        for row in rows[1:]:
            if "error" in row or "error" in reference:
                continue
            cmd = [sys.executable, "-c", "from qwen_serve.cli import qwen_test_main; qwen_test_main()"]
            cmd += [
                "--base-url",
                f"http://127.0.0.1:{row['port']}",
                "--compare",
                f"http://127.0.0.1:{reference['port']}",
            ]
            cmd += ["--model", args.checkpoint, "--compare-model", args.checkpoint]
            cmd += ["--max-tokens", str(args.max_tokens), "--top-logprobs", "5", "--timeout", "120", "--json"]
            done = subprocess.run(cmd, capture_output=True, text=True)
            (out / f"compare_{row['label']}.json").write_text(done.stdout)
            print(f"== compare {row['label']} vs {reference['label']}: exit {done.returncode}", flush=True)
            print(done.stdout[-1500:] or done.stderr[-1500:], flush=True)
            try:
                row["compare"] = {k: v for k, v in json.loads(done.stdout).items() if k != "prompts"}
            except ValueError:
                row["compare"] = {"error": done.stderr[-500:]}
    finally:
        for row in rows:
            row["proc"].send_signal(signal.SIGTERM)
        for row in rows:
            try:
                row.pop("proc").wait(60)
            except subprocess.TimeoutExpired:
                pass
        (out / "quality.json").write_text(json.dumps({"command": " ".join(sys.argv), "rows": rows}, indent=2) + "\n")
    return 0 if rows and all("error" not in r for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
