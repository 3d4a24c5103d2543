#!/usr/bin/env python3
"""The measured preset table (and the replicas table): each row's server in turn on the same GPU(s), one call.

`run` (on the GPU machine) starts each row's server in turn on the same GPU, reads nvidia-smi's
memory.used every 50 ms (peak at load: MemoryReadings.load_peak_gib), times the start (spawn to the first answered
/generate), measures it with SGLang's own `sglang.benchmark.serving` (backend sglang, random-ids,
exact lengths) at each concurrency level in this one process, stops it and waits for the GPU to be
free again. A row is `LABEL=COMMAND`: COMMAND starts with `sglang` (plain `python -m
sglang.launch_server`) or `qwen-serve`, may begin with `NAME=VALUE` environment words, and gets the
common flags of every row (--common, passed to SGLang by both). The first row is the call's baseline
(plain SGLang bf16 for the preset table, `replicas:1` for the replicas table). A level is a concurrency
(random-ids prompts) or `sharedN` (bench_serving's generated-shared-prefix workload at concurrency N,
where a router's cache-aware routing should matter). Everything lands in --out: per row its server log,
bench_serving's JSONL per level and row.json; run.json holds the commands.

`summarize` (on the CPU machine) reads those raw files back and writes summary.json:
    {"gpu", "sglang", "commands", "rows": [{"launch", "resolved", "concurrency", "output_tok_s",
     "tpot_p50_ms", "ttft_p50_ms", "weights_gib", "kv_tokens", "peak_load_gib", "ready_s",
     "baseline", "ratio_to_baseline", "ratio_to_bf16", "hbm_bound_share", "workload"}]}

    python3 bench/presets.py run --out $OUT/raw --model .gpu/qwen3-14b --levels 1,8,64 \\
        --row "sglang-bf16=sglang" --row "preset:auto=qwen-serve --preset auto" …
    uv run python bench/presets.py summarize D/call-a.tar.gz D/call-b.tar.gz … --out D/summary.json
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import shlex
import signal
import subprocess
import sys
import time
from pathlib import Path

PORT = 30000
# Every row, plain SGLang and qwen-serve alike: the attention backend SGLang picks itself (FA3 on Hopper, as in a
# plain install; calls before 2026-12-03 named triton here, FA3 not being in the GPU bundle then), flashinfer's
# sampling JIT skipped, and decode graphs up to batch 64 keep a start near 80-170 s.
COMMON = "--sampling-backend pytorch --cuda-graph-max-bs 64 --load-format dummy"
# rows labelled cold:NAME start on empty JIT caches (a fresh machine, or a fresh QWEN_SERVE_JIT_CACHE folder), and
# warm:NAME on the folder a cold row filled: their time to ready is the point, and a call that starts with one has no
# bf16 baseline (with LEVELS=, a row is its start alone: summarize keeps SGLang's own start-up timings for it)
COLD, WARM = "cold:", "warm:"
STARTUP = (COLD, WARM)
# SGLang's own account of a start, and its CUDA-graph capture's progress bar (how far a start that was cut got)
STARTUP_TIMINGS = re.compile(
    r"Engine startup timings \(s\): load_weight=([\d.]+).*?scheduler_e2e=([\d.]+), cuda_graph=\{prefill=([\d.]+), "
    r"decode=([\d.]+)"
)
CAPTURE_PROGRESS = re.compile(
    r"Capturing num tokens \(num_tokens=\d+[^)]*\):\s+\d+%\|[^|]*\|\s*(\d+)/(\d+) \[(\d+):(\d+)"
)
# bench_serving's requests per level: enough rounds that a level's throughput is not one batch's
REQUESTS = {1: 8, 8: 32, 64: 192, 128: 384}
INPUT_LEN, OUTPUT_LEN = 512, 256
GIB = 2**30
# batch-1 decode reads every weight once per token except the input embedding (one row of it)
EMBEDDING_GIB = 151936 * 5120 * 2 / GIB
HBM_GBS = {"NVIDIA H200": 4800, "NVIDIA H100 80GB HBM3": 3350}
LOG_FACTS = {
    "weights_gib": re.compile(r"Load weight end\..*?mem usage=([\d.]+) GB"),
    "kv_tokens": re.compile(r"KV Cache is allocated\..*?#tokens: (\d+)"),
    "kv_dtype": re.compile(r"KV Cache is allocated\. dtype: ([\w.]+)"),
    # what SGLang itself chose: the attention backend (its server_args line) and the quantization method
    "attention_backend": re.compile(r"attention_backend='(\w+)'"),
    "quantization": re.compile(r"\bquantization='(\w+)'"),
}


def memory_used_mib() -> float | None:
    try:
        out = subprocess.run(
            ["nvidia-smi", "--query-gpu=memory.used", "--format=csv,noheader,nounits"],
            capture_output=True,
            text=True,
            timeout=5,
        ).stdout.split()
        return float(out[0]) if out else None
    except (OSError, subprocess.SubprocessError, ValueError):
        return None


class MemoryReadings:
    """nvidia-smi's memory.used of GPU 0 every 50 ms in the background (its own loop, `-lms`), each reading
    stamped on arrival: a load of a few seconds gets dozens of readings, where one nvidia-smi call per turn of
    a polling loop got a few or none (FP8's 3.5 s load on the H200, 2026-12-02)."""

    def __init__(self, t0: float | None = None, interval_ms: int = 50, command: str = "nvidia-smi"):
        import threading

        self.t0 = time.monotonic() if t0 is None else t0  # readings are stamped in seconds after t0
        self.readings: list[tuple[float, float]] = []
        query = [command, "-i", "0", "--query-gpu=memory.used", "--format=csv,noheader,nounits"]
        try:
            self.proc = subprocess.Popen(
                [*query, "-lms", str(interval_ms)], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True
            )
        except OSError:
            self.proc = None
            return
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        for line in self.proc.stdout:
            with contextlib.suppress(ValueError, IndexError):
                self.readings.append((time.monotonic() - self.t0, float(line.split()[0])))

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait()

    def load_peak_gib(self, begin: float | None, end: float | None) -> float | None:
        """The peak while loading weights, from the times (on this clock) the log's "Load weight begin" and
        "end" lines were seen: the highest reading from 1 s before `begin` (it is seen a polling turn late)
        to `end` (the KV pool is allocated right after it), less the lowest in the second before `begin`."""
        if begin is None or end is None:
            return None
        before = [u for t, u in self.readings if begin - 1 <= t <= begin]
        loading = [u for t, u in self.readings if begin - 1 <= t <= end]
        return round((max(loading) - min(before)) / 1024, 2) if before and loading else None


LOAD_MARKS = {"load_begin": "Load weight begin", "load_end": "Load weight end", "kv": "KV Cache is allocated"}


def note_marks(log_text: str, marks: dict[str, float], now: float) -> None:
    """When (seconds on the caller's clock) each of SGLang's load lines was first seen in its log."""
    for mark, pattern in LOAD_MARKS.items():
        if mark not in marks and pattern in log_text:
            marks[mark] = now


def start_peak_gib(mib: list[float]) -> tuple[float, float]:
    """scripts/gpu/peak_at_load.sh's readings of a whole start (MiB, from an idle GPU, KV pool and CUDA graphs
    kept tiny): the highest above the CUDA context, and the context (the last reading before the first over
    2 GiB above idle), in GiB."""
    idle = mib[0]
    jump = next(i for i, m in enumerate(mib) if m - idle > 2048)
    context = mib[jump - 1] - idle
    return (max(mib) - idle - context) / 1024, context / 1024


def _read(path: Path) -> str:
    """A log's text so far, or "" before it exists."""
    return path.read_text(errors="replace") if path.exists() else ""


def split_env(command: str) -> tuple[dict[str, str], list[str]]:
    """A row's COMMAND as the environment words it begins with (NAME=value) and the words after them."""
    words = shlex.split(command)
    env = {}
    while words and re.match(r"^[A-Z_][A-Z0-9_]*=", words[0]):
        name, value = words.pop(0).split("=", 1)
        env[name] = value
    return env, words


def row_argv(command: str, model: str, common: str, log_file: Path) -> tuple[list[str], dict[str, str]]:
    """The process to start for a row's COMMAND, and the environment words it began with."""
    env, words = split_env(command)
    tool, rest = words[0], words[1:]
    serve = ["--host", "127.0.0.1", "--port", str(PORT)]
    if tool == "sglang":
        return [
            sys.executable,
            "-m",
            "sglang.launch_server",
            "--model-path",
            model,
            *serve,
            *rest,
            *shlex.split(common),
        ], env
    if tool == "qwen-serve":
        if "--" in rest:  # the row's own SGLang flags go after `--` with the common ones
            cut = rest.index("--")
            rest, extra = rest[:cut], rest[cut + 1 :]
        else:
            extra = []
        sglang_flags = shlex.split(common)
        qwen_flags = []
        for flag in ("--attention-backend", "--sampling-backend", "--load-format"):  # qwen-serve's own settings
            if flag in sglang_flags:
                i = sglang_flags.index(flag)
                qwen_flags += sglang_flags[i : i + 2]
                del sglang_flags[i : i + 2]
        return [
            sys.executable,
            "-m",
            "qwen_serve",
            "--model-path",
            model,
            *serve,
            *qwen_flags,
            *rest,
            "--quiet",
            "--log-file",
            str(log_file.with_suffix(".sglang.log")),
            "--",
            *sglang_flags,
            *extra,
        ], env
    raise SystemExit(f"row command must start with sglang or qwen-serve: {command!r}")


def probe() -> bool:
    import urllib.request

    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{PORT}/health", timeout=5) as r:
            if r.status != 200:
                return False
        body = json.dumps({"text": "ping", "sampling_params": {"max_new_tokens": 1, "temperature": 0}}).encode()
        req = urllib.request.Request(
            f"http://127.0.0.1:{PORT}/generate", data=body, headers={"Content-Type": "application/json"}
        )
        with urllib.request.urlopen(req, timeout=120) as r:
            return r.status == 200
    except OSError:
        return False


def router_metrics() -> str:
    """The router's Prometheus text (qwen-serve --replicas, --router-metrics-port at its default)."""
    import urllib.request

    from qwen_serve.settings import ROUTER_METRICS_PORT

    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{ROUTER_METRICS_PORT}/metrics", timeout=10) as r:
            return r.read().decode()
    except OSError as e:
        return f"# unreachable: {e}\n"


def worker_logs(folder: Path) -> list[Path]:
    return sorted(folder.glob("worker*.sglang.log"), key=lambda p: int(re.sub(r"\D", "", p.name) or 0))


def level_concurrency(level: str) -> int:
    """A level is a concurrency (random prompts) or sharedN: bench_serving's generated-shared-prefix workload
    (SHARED_GROUPS system prompts of SHARED_PREFIX_LEN tokens, each under many questions) at concurrency N,
    where a router's cache-aware routing should matter."""
    return int(level.removeprefix("shared"))


SHARED_GROUPS, SHARED_PREFIX_LEN, SHARED_QUESTION_LEN = 16, 2048, 128


def bench_level(model: str, level: str, out_file: Path, seed: int) -> None:
    from sglang.benchmark import serving

    concurrency = level_concurrency(level)
    n = REQUESTS.get(concurrency, 3 * concurrency)
    if level.startswith("shared"):
        dataset = ["--dataset-name", "generated-shared-prefix", "--gsp-num-groups", str(SHARED_GROUPS)]
        dataset += ["--gsp-prompts-per-group", str(max(1, n // SHARED_GROUPS))]
        dataset += ["--gsp-system-prompt-len", str(SHARED_PREFIX_LEN), "--gsp-question-len", str(SHARED_QUESTION_LEN)]
        dataset += ["--gsp-output-len", str(OUTPUT_LEN)]
    else:
        dataset = ["--dataset-name", "random-ids", "--random-input-len", str(INPUT_LEN)]
        dataset += ["--random-output-len", str(OUTPUT_LEN), "--random-range-ratio", "1"]
    cli = [
        "--backend",
        "sglang",
        "--host",
        "127.0.0.1",
        "--port",
        str(PORT),
        "--model",
        model,
        "--tokenizer",
        model,
        *dataset,
        "--num-prompts",
        str(n),
        "--max-concurrency",
        str(concurrency),
        "--warmup-requests",
        "2",
        "--seed",
        str(seed),
        "--disable-tqdm",
        *([] if level.startswith("shared") else ["--tokenize-prompt"]),  # its shared-prefix data is text
        "--output-file",
        str(out_file),
    ]
    from unittest import mock

    with mock.patch.object(sys, "argv", ["sglang.benchmark.serving", *cli]):  # its CLI, in this process
        serving.cli_main()


def stop(proc: subprocess.Popen, timeout: float = 30) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    with contextlib.suppress(ProcessLookupError):  # SGLang's scheduler, if it outlived its parent
        os.killpg(proc.pid, signal.SIGKILL)
    for _ in range(150):  # the next row needs the whole GPU
        used = memory_used_mib()
        if used is None or used < 2048:
            return
        time.sleep(0.2)


def left(args) -> float:
    """Seconds left of the whole run's --stop-at (infinite without one). A device call's outer `timeout` kills
    everything, raw files' tarball included; --stop-at ends the row in progress first and keeps its log."""
    return float("inf") if not args.stop_at else args.stop_at - (time.monotonic() - args.run_t0)


def sglang_log_of(folder: Path, command: str) -> Path:
    """Where a row's SGLang log is: plain SGLang's own output, qwen-serve's --log-file beside its own
    output, or (replicas) the first worker's log beside the router's."""
    words = split_env(command)[1]
    if "--replicas" in words:
        return folder / "worker0.sglang.log"
    return folder / ("server.log" if words[:1] == ["sglang"] else "server.sglang.log")


def decode_rate(log_text: str, running: int) -> float | None:
    """SGLang's own decode-only rate with RUNNING requests in the batch: the median 'gen throughput' of its
    'Decode batch' log lines at that batch size (prefill and queueing left out), None if it logged none."""
    rates = sorted(
        float(m.group(2))
        for m in re.finditer(r"Decode batch, #running-req: (\d+),.*?gen throughput \(token/s\): ([\d.]+)", log_text)
        if int(m.group(1)) == running
    )
    return rates[len(rates) // 2] if rates else None


def run_row(label: str, command: str, args, out: Path, index: int) -> dict:
    folder = out / re.sub(r"[^A-Za-z0-9_.-]", "_", label)
    folder.mkdir(parents=True, exist_ok=True)
    log_file = folder / "server.log"
    argv, env = row_argv(command, args.model, args.common, log_file)
    row = {"launch": label, "command": command, "argv": argv, "env": env, "levels": {}}
    jit = env.get("QWEN_SERVE_JIT_CACHE")
    if label.startswith(COLD) and jit and Path(jit).is_dir() and any(Path(jit).iterdir()):
        # a machine's /tmp can outlive a call (the next call's machine may be the same one): a cold start is measured
        # on an empty folder or not at all
        row["error"] = f"not started: {jit} is not empty, so this would not be a cold start (give the row a new folder)"
        print(f"== {label}: {row['error']}", flush=True)
        (folder / "row.json").write_text(json.dumps(row, indent=2) + "\n")
        return row
    print(f"== {label}: {' '.join(f'{k}={v}' for k, v in env.items())} {shlex.join(argv)}", flush=True)
    t0 = time.monotonic()
    with open(log_file, "wb") as log:
        proc = subprocess.Popen(
            argv,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env={**os.environ, **env},
            start_new_session=True,
        )
    readings = MemoryReadings(t0)
    marks: dict[str, float] = {}
    fleet = "--replicas" in split_env(command)[1]  # workers' logs beside the router's: worker0.sglang.log, …
    sglang_log = sglang_log_of(folder, command)
    last_probe = 0.0
    try:
        while True:
            now = time.monotonic() - t0
            text = _read(sglang_log)
            note_marks(text, marks, now)
            if proc.poll() is not None:
                row["error"] = f"exited {proc.returncode} before ready"
                print(text[-3000:], flush=True)
                return row
            if now > args.ready_timeout:
                row["error"] = f"not ready after {args.ready_timeout:.0f} s"
                return row
            if left(args) <= 0:  # the call's time is up: stop here and keep what this row's log says
                row["error"] = f"cut by --stop-at {args.stop_at:.0f} s, not ready after {now:.0f} s"
                print(f"   {row['error']}; its log ends:\n{text[-2000:]}", flush=True)
                return row
            if "kv" in marks and now - last_probe > 1:
                last_probe = now
                if probe():
                    row["ready_s"] = round(time.monotonic() - t0, 1)
                    break
            time.sleep(0.2)
        for fact, pattern in LOG_FACTS.items():
            m = pattern.search(text)
            row[fact] = (
                (float(m.group(1)) if fact == "weights_gib" else int(m.group(1)) if fact == "kv_tokens" else m.group(1))
                if m
                else None
            )
        if fleet:  # each worker's own KV pool; kv_tokens is their sum
            per = [LOG_FACTS["kv_tokens"].search(p.read_text(errors="replace")) for p in worker_logs(folder)]
            row["kv_tokens_per_worker"] = [int(m.group(1)) if m else None for m in per]
            row["kv_tokens"] = sum(n or 0 for n in row["kv_tokens_per_worker"])
        readings.stop()
        peak = readings.load_peak_gib(marks.get("load_begin"), marks.get("load_end"))
        if peak is not None:
            row["peak_load_gib"] = peak
            row["peak_window"] = "50 ms readings, 1 s before load weight begin to end"
        print(
            f"   ready in {row['ready_s']} s; weights {row['weights_gib']} GiB, KV {row['kv_tokens']} tokens, "
            f"peak at load {row.get('peak_load_gib')} GiB",
            flush=True,
        )
        for c in args.levels:
            if left(args) <= 0:  # the levels measured so far stay in the row (an error would drop them)
                row["cut"] = f"cut by --stop-at {args.stop_at:.0f} s before level {c}"
                print(f"   {row['cut']}", flush=True)
                break
            jsonl = folder / f"bench_c{c}.jsonl"
            if fleet:  # the router's counters before and after: requests per worker at this level
                (folder / f"metrics_c{c}.before.txt").write_text(router_metrics())
            bench_level(args.model, c, jsonl, seed=1000 * index + level_concurrency(c))
            if fleet:
                (folder / f"metrics_c{c}.after.txt").write_text(router_metrics())
            last = json.loads(jsonl.read_text().strip().splitlines()[-1])
            row["levels"][str(c)] = {
                k: last.get(k)
                for k in (
                    "completed",
                    "output_throughput",
                    "median_tpot_ms",
                    "median_ttft_ms",
                    "median_itl_ms",
                    "duration",
                )
            }
            print(
                f"   c={c}: {last.get('output_throughput'):.1f} out tok/s, TPOT p50 {last.get('median_tpot_ms'):.2f} ms, "
                f"TTFT p50 {last.get('median_ttft_ms'):.1f} ms",
                flush=True,
            )
    finally:
        readings.stop()
        stop(proc)
        row["stopped_s"] = round(time.monotonic() - t0, 1)
        (folder / "row.json").write_text(json.dumps(row, indent=2) + "\n")
    return row


def fa3_present() -> bool:
    """Whether sgl_kernel's FA3 library (flash_ops) is installed: without it SGLang cannot run its Hopper default."""
    import importlib.util

    spec = importlib.util.find_spec("sgl_kernel")
    return bool(spec and spec.origin and (Path(spec.origin).parent / "flash_ops.abi3.so").is_file())


def cmd_run(args) -> int:
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    try:
        gpu = subprocess.run(
            ["nvidia-smi", "--query-gpu=name,memory.total,driver_version", "--format=csv,noheader"],
            capture_output=True,
            text=True,
        ).stdout.strip()
    except OSError:
        gpu = "no nvidia-smi"
    from importlib import metadata

    versions = {
        p: _version(metadata, p)
        for p in ("sglang", "sglang-kernel", "sgl-deep-gemm", "humming-kernels", "torch", "flashinfer-python")
    }
    versions["fa3"] = fa3_present()
    rows = [r.split("=", 1) for r in args.row]
    (out / "run.json").write_text(
        json.dumps(
            {
                "gpu": gpu,
                "versions": versions,
                "common": args.common,
                "levels": args.levels,
                "requests": REQUESTS,
                "input_len": INPUT_LEN,
                "output_len": OUTPUT_LEN,
                "rows": dict(rows),
                "command": " ".join(sys.argv),
            },
            indent=2,
        )
        + "\n"
    )
    t0, results, quickest = time.monotonic(), [], None
    args.run_t0 = t0
    for i, (label, command) in enumerate(rows, 1):
        why = too_late(time.monotonic() - t0, quickest, args.deadline, args.stop_at)
        if why:
            print(f"== {label}: skipped, {why}", flush=True)
            results.append({"launch": label, "command": command, "levels": {}, "error": "skipped (device time)"})
            continue
        started = time.monotonic()
        results.append(run_row(label, command, args, out, i))
        if "error" not in results[-1] and "cut" not in results[-1]:
            quickest = min(quickest or float("inf"), time.monotonic() - started)
    for r in results:
        c = {k: v.get("output_throughput") for k, v in r["levels"].items()}
        print(
            f"{r['launch']:<28} ready {r.get('ready_s')} s  weights {r.get('weights_gib')}  KV {r.get('kv_tokens')}  "
            f"peak {r.get('peak_load_gib')}  out tok/s {c}  {r.get('error', '')}",
            flush=True,
        )
    return 0 if all("error" not in r and "cut" not in r for r in results) else 1


def too_late(elapsed: float, quickest: float | None, deadline: float | None, stop_at: float | None) -> str | None:
    """Why a row is not started now, if it is not: past --deadline, or less time left before --stop-at than
    the quickest whole row of this call took (it would be cut before its levels; a slower row still may be)."""
    if deadline and elapsed > deadline:
        return f"past --deadline {deadline:.0f} s"
    if stop_at and quickest is not None and stop_at - elapsed < quickest:
        return (
            f"{stop_at - elapsed:.0f} s left before --stop-at {stop_at:.0f} s, the quickest row took {quickest:.0f} s"
        )
    return None


def _version(metadata, name: str) -> str | None:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return None


# --- summarize (CPU machine) ------------------------------------------------------------------


# the flags that say what a launch is (the rest is the same for every row)
MEANING = (
    "--quantization",
    "--kv-cache-dtype",
    "--attention-backend",
    "--context-length",
    "--max-running-requests",
    "--chunked-prefill-size",
    "--torchao-config",
)


def resolved(row: dict, folder: Path) -> str:
    """What a row's launch was, in SGLang's words: the preset --preset auto chose, the environment
    and the flags that differ between rows, read from qwen-serve's own launch line."""
    words = row["argv"]
    env = [f"{k}={v}" for k, v in row.get("env", {}).items()]
    chose = None
    if "qwen_serve" in words:
        log = (folder / "server.log").read_text(errors="replace")
        m = re.search(r"^qwen-serve: launching (.*)$", log, re.M)
        words = shlex.split(m.group(1)) if m else words
        env += [w for w in words if re.match(r"^[A-Z_][A-Z0-9_]*=", w)]
        a = re.search(r"preset auto -> (\w+)", log)
        chose = a.group(1) if a else None
    flags = [f"{w} {words[i + 1]}" for i, w in enumerate(words[:-1]) if w in MEANING and w != "--attention-backend"]
    attention = [words[i + 1] for i, w in enumerate(words[:-1]) if w == "--attention-backend"]
    text = " ".join(env + flags) or "bf16"
    if attention and attention[-1] != "triton":
        text += f" (attention {attention[-1]})"
    return (f"preset {chose}: " if chose else "") + text


def read_call(source: Path) -> tuple[dict, dict[str, dict], Path]:
    """One device call's raw files (a folder, or the tarball scripts/gpu/presets.sh returns)."""
    if source.is_file():
        import tarfile
        import tempfile

        tmp = Path(tempfile.mkdtemp())
        with tarfile.open(source) as tar:
            tar.extractall(tmp, filter="data")
        source = next(p.parent for p in tmp.rglob("run.json"))
    run = json.loads((source / "run.json").read_text())
    rows = {}
    for path in sorted(source.glob("*/row.json")):
        row = json.loads(path.read_text())
        row["folder"] = path.parent
        rows[row["launch"]] = row
    return run, rows, source


def requests_per_worker(metrics_text: str) -> dict[str, int]:
    """The requests each worker answered, from the router's Prometheus text (smg_worker_cb_outcomes_total,
    outcome success: the router's circuit breaker counts every answer it passed on, per worker URL)."""
    from prometheus_client.parser import text_string_to_metric_families

    served: dict[str, int] = {}
    for family in text_string_to_metric_families(metrics_text):
        for sample in family.samples:
            if sample.name == "smg_worker_cb_outcomes_total" and sample.labels.get("outcome") == "success":
                url = sample.labels["worker"]
                served[url] = served.get(url, 0) + int(sample.value)
    return served


def fleet_facts(row: dict, level: str) -> dict:
    """A replicas row's KV pool per worker and, from the router's own metrics, the requests each worker served
    at this level (the counters after the level less before it)."""
    folder = row["folder"]
    before, after = folder / f"metrics_c{level}.before.txt", folder / f"metrics_c{level}.after.txt"
    if not after.exists():
        return {}
    start, end = requests_per_worker(before.read_text()), requests_per_worker(after.read_text())
    served = {url: n - start.get(url, 0) for url, n in sorted(end.items())}
    total = sum(served.values())
    return {
        "kv_tokens_per_worker": row.get("kv_tokens_per_worker"),
        "requests_per_worker": served,
        "busiest_worker_share": round(max(served.values()) / total, 3) if total else None,
    }


def decode_facts(log_text: str, base_text: str, level: str) -> dict:
    """At a concurrency level of 8 or more: SGLang's decode-only rate with that many requests running, and
    its ratio to the bf16 baseline's — how much of a row's gain is its decode step, prefill left out."""
    if not level.isdigit() or int(level) < 8:
        return {}
    rate, base = decode_rate(log_text, int(level)), decode_rate(base_text, int(level))
    if rate is None:
        return {}
    return {"decode_tok_s_p50": round(rate, 1), "decode_ratio_to_bf16": round(rate / base, 3) if base else None}


def unfinished(label: str, stdout: str) -> str:
    """Why a row of a call has no row.json: skipped for time (its stdout says why), or the call ended first."""
    m = re.search(rf"^== {re.escape(label)}: skipped, (.+)$", stdout, re.M)
    return f"not started: {m.group(1)}" if m else "no row.json: the call ended before this row did"


def startup_timings(log_text: str) -> dict:
    """SGLang's own start-up timings line: where a start's seconds went (CUDA-graph capture holds the JIT compiles)."""
    m = STARTUP_TIMINGS.search(log_text)
    if not m:
        return {}
    load, scheduler, prefill, decode = (float(x) for x in m.groups())
    return {
        "startup_s": {"load_weight": load, "scheduler": scheduler, "prefill_graphs": prefill, "decode_graphs": decode}
    }


def capture_progress(log_text: str) -> dict:
    """How far the prefill CUDA-graph capture of a start that was cut had got (its last progress-bar line)."""
    found = CAPTURE_PROGRESS.findall(log_text)
    if not found:
        return {}
    done, total, minutes, seconds = (int(x) for x in found[-1])
    # the bar's clock moves only when a shape is done: at 0 of N it says nothing of the time spent
    return {
        "capture_progress": {
            "shapes_done": done,
            "shapes": total,
            **({"elapsed_s": minutes * 60 + seconds} if done else {}),
        }
    }


def summarize(sources: list[Path]) -> dict:
    """summary.json for one or more device calls; each row's ratio is to the bf16 baseline of its own call. Calls
    from more than one folder are named FOLDER/call-N."""
    rows, commands, calls = [], {}, []
    qualify = len({source.resolve().parent for source in sources}) > 1
    for source in sources:
        run, row_files, folder = read_call(source)
        call = source.name.removesuffix(".tar.gz")
        call = f"{source.resolve().parent.name}/{call}" if qualify else call
        stdout = _read(folder / "stdout.txt")
        calls.append(
            {
                "call": call,
                "gpu": run["gpu"],
                "versions": run["versions"],
                "common_flags": run.get("common", COMMON),
                "command": run["command"],
            }
        )
        baseline = next(iter(run["rows"]))  # the first row of a call: plain SGLang bf16, or replicas:1
        if baseline.startswith(STARTUP):  # a call of starts only: times to ready, no baseline to compare with
            baseline = None
        base = row_files[baseline] if baseline else {"levels": {}}
        base_text = _read(sglang_log_of(base["folder"], run["rows"][baseline])) if baseline else ""
        common_attention = re.search(r"--attention-backend (\w+)", run.get("common", COMMON))
        bandwidth = HBM_GBS.get(run["gpu"].split(",")[0].strip())
        for label, command in run["rows"].items():
            r = row_files.get(label)
            commands.setdefault(label, command)
            if r is None or "error" in r:
                rows.append(
                    {
                        "launch": label,
                        "call": call,
                        "error": (r or {}).get("error") or unfinished(label, stdout),
                        **(capture_progress(_read(sglang_log_of(r["folder"], command))) if r else {}),
                    }
                )
                continue
            log_text = _read(sglang_log_of(r["folder"], command))
            meaning = resolved(r, r["folder"])
            stored = re.search(r"Load weight end\..*?type=\w+, quant=(\w+), (?:bits|fmt)=(\w+)", log_text)
            if stored:  # a pre-quantized checkpoint: SGLang's load line says what it stores (no flag does)
                meaning = f"checkpoint {stored.group(1)} {stored.group(2)}; {meaning}"
            for c, level in r["levels"].items():
                base_tok_s = (base["levels"].get(c) or {}).get("output_throughput")
                tpot = level["median_tpot_ms"]
                share = None
                if bandwidth and c == "1" and r.get("weights_gib"):
                    bound_ms = (r["weights_gib"] - EMBEDDING_GIB) * GIB / (bandwidth * 1e9) * 1e3
                    share = round(bound_ms / tpot, 3)
                rows.append(
                    {
                        "launch": label,
                        "call": call,
                        "resolved": meaning,
                        "concurrency": level_concurrency(c),
                        "workload": "shared-prefix" if c.startswith("shared") else "random",
                        "output_tok_s": round(level["output_throughput"], 1),
                        "tpot_p50_ms": round(tpot, 2),
                        "ttft_p50_ms": round(level["median_ttft_ms"], 1),
                        "weights_gib": r.get("weights_gib"),
                        "kv_tokens": r.get("kv_tokens"),
                        "kv_dtype": r.get("kv_dtype"),
                        # rows before the load-end window (2026-12-02) sampled into the KV pool's allocation
                        # and a window the sampler saw no reading in (0.0) is no peak either
                        "peak_load_gib": r.get("peak_load_gib")
                        if r.get("peak_window") and r["peak_load_gib"] > 0.05
                        else None,
                        "ready_s": r.get("ready_s"),
                        # what SGLang ran (its own server_args line; calls before it was recorded: the common flag)
                        "attention_backend": r.get("attention_backend")
                        or (common_attention.group(1) if common_attention else None),
                        **({"jit_cache": label.split(":", 1)[0]} if label.startswith(STARTUP) else {}),
                        "baseline": baseline,
                        "ratio_to_baseline": round(level["output_throughput"] / base_tok_s, 3) if base_tok_s else None,
                        "ratio_to_bf16": round(level["output_throughput"] / base_tok_s, 3)
                        if base_tok_s and baseline.startswith("sglang-bf16")
                        else None,
                        "hbm_bound_share": share,
                        **(
                            decode_facts(log_text, base_text, c)
                            if baseline and baseline.startswith("sglang-bf16")
                            else {}
                        ),
                        **fleet_facts(r, c),
                    }
                )
            if not r["levels"] and "cut" not in r:  # a start alone (LEVELS=): its time to ready and SGLang's account
                rows.append(
                    {
                        "launch": label,
                        "call": call,
                        "resolved": meaning,
                        "ready_s": r.get("ready_s"),
                        "weights_gib": r.get("weights_gib"),
                        "kv_tokens": r.get("kv_tokens"),
                        "attention_backend": r.get("attention_backend"),
                        **({"jit_cache": label.split(":", 1)[0]} if label.startswith(STARTUP) else {}),
                        **startup_timings(log_text),
                    }
                )
            if "cut" in r:  # the levels it did not reach
                rows.append({"launch": label, "call": call, "error": r["cut"]})
    first = calls[0]
    return {
        "gpu": first["gpu"],
        "sglang": first["versions"].get("sglang"),
        "versions": first["versions"],
        "common_flags": first["common_flags"],  # each call's own in calls[]
        "bench": {
            "tool": "sglang.benchmark.serving --backend sglang --dataset-name "
            "random-ids --tokenize-prompt --random-range-ratio 1",
            "input_len": INPUT_LEN,
            "output_len": OUTPUT_LEN,
            "requests": REQUESTS,
        },
        "calls": calls,
        "commands": commands,
        "rows": rows,
    }


def cmd_summarize(args) -> int:
    data = summarize([Path(p) for p in args.raw])
    out = Path(args.out)
    out.write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n")
    print(f"wrote {out}")
    return 0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    r = sub.add_parser("run", help="on the GPU machine: start, measure and stop each row's server")
    r.add_argument("--out", required=True)
    r.add_argument("--model", required=True)
    r.add_argument("--row", action="append", required=True, metavar="LABEL=COMMAND")
    r.add_argument("--levels", type=lambda s: [x for x in s.split(",") if x], default=["1", "8", "64"])
    r.add_argument("--common", default=COMMON)
    r.add_argument("--ready-timeout", type=float, default=400)
    r.add_argument("--deadline", type=float, help="start no row after this many seconds")
    # with --stop-at, a row also waits for no time it cannot use: see too_late()
    r.add_argument("--stop-at", type=float, help="end the row in progress after this many seconds (raw files kept)")
    s = sub.add_parser("summarize", help="raw files -> summary.json")
    s.add_argument("raw", nargs="+", help="each device call's raw.tar.gz (or its unpacked folder)")
    s.add_argument("--out", required=True)
    args = ap.parse_args()
    return cmd_run(args) if args.cmd == "run" else cmd_summarize(args)


if __name__ == "__main__":
    sys.exit(main())
