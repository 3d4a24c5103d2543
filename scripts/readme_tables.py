#!/usr/bin/env python3
"""Regenerate the measured tables of README.md and docs/ from the raw files under bench/results/.

Each table sits between `<!-- BEGIN name -->` and `<!-- END name -->` in a page of PAGES. Numbers are
never typed by hand: change a result file, then run

    uv run python scripts/readme_tables.py            # rewrite README.md
    uv run python scripts/readme_tables.py --check    # exit 1 if README.md is stale (a test runs this)
"""

from __future__ import annotations

import gzip
import json
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results"
QWEN_TEST_RUN = RESULTS / "h100" / "qwen_test" / "2026-11-25-run2"


def qwen_test_h100() -> str:
    data = json.loads((QWEN_TEST_RUN / "qwen_test.json").read_text(encoding="utf-8"))
    log = (QWEN_TEST_RUN / "server.log").read_text(encoding="utf-8", errors="replace")
    weights = re.search(r"Load weight end\..*?mem usage=([\d.]+) GB", log).group(1)
    tokens = re.search(r"max_total_num_tokens=(\d+)", log).group(1)
    rel = QWEN_TEST_RUN.relative_to(ROOT)
    lines = [
        f"From `{rel}/` (one H100 80GB, SGLang 0.5.17, Qwen3-14B shapes with random weights, "
        f"`--preset high_performance`, weights {weights} GB, KV cache {int(tokens):,} tokens):",
        "",
        "| check | result | seconds | detail |",
        "| --- | --- | --- | --- |",
    ]
    for check in data["checks"]:
        detail = check["detail"]
        if check["name"] in ("completions", "chat"):
            detail = detail.split(":")[0] + ": (random-weight text)"
        detail = detail.replace("|", "\\|").replace("\n", " ")
        lines.append(f"| {check['name']} | {check['status']} | {check['seconds']:.2f} | {detail} |")
    s = data["summary"]
    lines += ["", f"{s['pass']} passed, {s['fail']} failed, {s['skip']} skipped."]
    return "\n".join(lines)


def fastpath_cpu() -> str:
    data = json.loads((RESULTS / "fastpath" / "cpu.json").read_text(encoding="utf-8"))
    q, s = data["qwen_serve_dry_run"], data["sglang_help"]
    return (
        f"`qwen-serve --dry-run --preset balanced`: median **{q['median_s']:.3f} s** over {len(q['seconds'])} runs; "
        f"`python -m sglang.launch_server --help`: median {s['median_s']:.2f} s over {len(s['seconds'])} runs; "
        f"ratio **{data['ratio']:.1%}** (targets: ≤ 0.3 s, ≤ 5 %) on {data['machine']['cpus']} CPU cores, "
        f"Python {data['machine']['python']} (`bench/results/fastpath/cpu.json`, by `{data['command']}`)."
    )


def fastpath_cpu_no_bytecode() -> str:
    """The same bench where PYTHONDONTWRITEBYTECODE=1 is set (this workplace sets it): the newest such run, with the
    bytecode its starts found."""
    path = max(
        (RESULTS / "fastpath").glob("cpu-*-dontwritebytecode.json"),
        key=lambda p: json.loads(p.read_text(encoding="utf-8"))["when"],
    )
    data = json.loads(path.read_text(encoding="utf-8"))
    q, found = data["qwen_serve_dry_run"], data.get("bytecode_present")
    state = (
        f"qwen-serve's own modules {'with bytecode' if found['qwen_serve'] else 'without bytecode (compiled at every start)'}, "
        f"site-packages {'with' if found['site_packages'] else 'without'}"
        if found
        else "site-packages' bytecode present"
    )
    return (
        f"With `PYTHONDONTWRITEBYTECODE=1` (Python never writes a `.pyc`): median **{q['median_s']:.3f} s** over "
        f"{len(q['seconds'])} runs ({min(q['seconds']):.2f}-{max(q['seconds']):.2f} s), {state} "
        f"(`{path.relative_to(ROOT).as_posix()}`, {data['when'][:10]})."
    )


def suite_cpu() -> str:
    """The test groups timed by scripts/suite_time.py (bench/suite.py before it moved): every run, oldest first (one
    run is one draw of a spread)."""
    runs = sorted(
        (RESULTS / "suite").glob("cpu-*.json"), key=lambda p: json.loads(p.read_text(encoding="utf-8"))["when"]
    )
    return "\n\n".join(_suite_line(path) for path in runs)


def _suite_line(path: Path) -> str:
    data = json.loads(path.read_text(encoding="utf-8"))
    where = "a fresh clone after `uv sync`, as CI runs it" if data["clean_clone"] else "this checkout"
    counts = ", ".join(f"{n} {word}" for word, n in data.get("counts", {}).items() if word != "warnings")
    return (
        f"`{data['timed']}`: **{data['wall_s']:.1f} s** wall ({counts}; pytest's own {data['pytest_s']:.1f} s) in "
        f"{where}, on {data['machine']['cpus']} CPU cores, commit {data['commit'][:7]} (target ≤ "
        f"{data['target_s']:.0f} s: {'met' if data['meets_target'] else 'not met'}; "
        f"`{path.relative_to(ROOT).as_posix()}`, by `{data['command']}`)."
    )


def startup_h100() -> str:
    folder = RESULTS / "h100" / "startup" / "2026-11-25-no-cuda-graph"
    runs = [r for r in json.loads((folder / "startup.json").read_text())["runs"] if r.get("seconds_to_ready")]
    preexec = [float(x) for x in (folder / "dry_run_times.txt").read_text().split()]
    lines = [
        "| run | launched by | seconds to ready | exit code after SIGTERM | GPU processes after |",
        "| --- | --- | --- | --- | --- |",
    ]
    for i, r in enumerate(runs):
        code = r["exit_code"] if r["exit_code"] >= 0 else 128 - r["exit_code"]
        lines.append(
            f"| {i} | {'qwen-serve' if r['kind'] == 'qwen-serve' else 'python -m sglang.launch_server'} "
            f"| {r['seconds_to_ready']:.1f} | {code} | {r['gpu_processes_after'] or 'none'} |"
        )
    by = {k: [r["seconds_to_ready"] for r in runs if r["kind"] == k] for k in ("direct", "qwen-serve")}
    mean = {k: sum(v) / len(v) for k, v in by.items()}
    lines += [
        "",
        f"Mean: direct {mean['direct']:.1f} s (range {min(by['direct']):.1f}–{max(by['direct']):.1f}), "
        f"qwen-serve {mean['qwen-serve']:.1f} s (range {min(by['qwen-serve']):.1f}–{max(by['qwen-serve']):.1f}); "
        f"qwen-serve's own work before it hands over to SGLang: {min(preexec):.2f}–{max(preexec):.2f} s "
        f"(`{folder.relative_to(ROOT)}/`).",
    ]
    return "\n".join(lines)


SEED_GPUS = [
    ("RTX 3060 8GB", "ultra_low_memory", "int8wo"),
    ("RTX 3080 12GB", "memory_optimized", "int4wo-64"),
    ("RTX 4090", "balanced", "int4wo-128"),
    ("A100 40GB", "balanced", "int4wo-128"),
    ("A100-80GB", "high_performance", "none"),
    ("H100", "fp8_hopper_example", "fp8dq-per_tensor"),
]


def hardware_plan() -> str:
    sys.path.insert(0, str(ROOT / "src"))
    from qwen_serve.config import load_config
    from qwen_serve.errors import QwenServeError
    from qwen_serve.hardware import parse_gpu_spec
    from qwen_serve.pipeline import PlanTarget, auto_preset, preset_plans

    config = load_config(None)
    names = list(config.presets)
    lines = [
        "| GPU | seed said | " + " | ".join(names) + " | `--preset auto` |",
        "| --- | --- | " + " | ".join("---" for _ in names) + " | --- |",
    ]
    for spec, seed_preset, seed_quant in SEED_GPUS:
        on = PlanTarget(parse_gpu_spec(spec))  # the locked, measured release: no margin
        cells = []
        for p in preset_plans(config, names, {}, on):
            layered = " (layered load)" if p.peak_note.startswith("layer by layer") else ""
            cells.append(f"{p.kv_tokens:,} KV tokens{layered}" if p.fits else "no: " + _short(p))
        try:
            auto = auto_preset(config, {}, on)[0]
        except QwenServeError:
            auto = "none fits"
        lines.append(
            f"| {on.gpu.name} ({on.gpu.memory_gib:.0f} GiB) | {seed_preset} ({seed_quant}) | "
            + " | ".join(cells)
            + f" | {auto} |"
        )
    return "\n".join(lines)


def _short(p) -> str:
    reason = p.reasons[0]
    if p.weights_gib > p.free_at_load_gib:
        return f"{p.weights_gib:.1f} GiB weights > {p.free_at_load_gib:.1f} GiB free"
    if reason.startswith("loading peaks"):
        return f"load peak {p.peak_load_gib:.1f} GiB"
    if "leave no KV cache" in reason:
        return f"{p.weights_gib:.1f} GiB weights, no KV room"
    return reason.split(":")[0]


H200_LOG = RESULTS / "h200" / "bench" / "2026-12-01" / "c8" / "server.log.gz"


def plan_vs_measured() -> str:
    sys.path.insert(0, str(ROOT / "src"))
    from qwen_serve.hardware import parse_gpu_spec
    from qwen_serve.plan import plan
    from qwen_serve.sglang.log import LogWatcher

    h100 = parse_gpu_spec("H100").gpu
    folder = RESULTS / "h100" / "plan" / "2026-11-25"
    data = json.loads((folder / "plan_vs_measured.json").read_text())
    lines = [
        "| configuration (H100 without CUDA graphs, unless said) | weights plan / SGLang | KV tokens plan / SGLang "
        "| peak at load plan / measured |",
        "| --- | --- | --- | --- |",
    ]
    worst = 0.0
    for row in data["rows"]:
        args = row["qwen_serve_args"]
        p, m = plan(_settings_of(args), h100, 1, cuda_graph=False), row["measured"]
        ew = p.weights_gib / m["weight_gib"] - 1
        ek = p.kv_tokens / m["kv_tokens"] - 1
        worst = max(worst, abs(ew), abs(ek))
        lines.append(
            f"| `{' '.join(args)}` | {p.weights_gib:.2f} / {m['weight_gib']:.2f} GiB ({ew:+.1%}) | "
            f"{p.kv_tokens:,} / {m['kv_tokens']:,} ({ek:+.1%}) | {p.peak_load_gib:.2f} / {m['peak_load_gib']:.2f} GiB |"
        )
    # a card the plan was not fitted to: the H200 of the 2026-12-01 bench runs (SGLang's own log, via qwen-serve's reader)
    watcher = LogWatcher()
    for line in gzip.decompress(H200_LOG.read_bytes()).decode(errors="replace").splitlines():
        watcher.feed(line)
    m = watcher.facts
    p = plan(_settings_of(["--preset", "high_performance"]), parse_gpu_spec("H200").gpu, 1, cuda_graph=True)
    ew, ek = p.weights_gib / m["weight_gb"] - 1, p.kv_tokens / m["kv_tokens"] - 1
    worst = max(worst, abs(ew), abs(ek))
    lines.append(
        f"| `--preset high_performance`, H200 (143,771 MiB), CUDA graphs on | {p.weights_gib:.2f} / "
        f"{m['weight_gb']:.2f} GiB ({ew:+.1%}) | {p.kv_tokens:,} / {m['kv_tokens']:,} ({ek:+.1%}) | "
        f"{p.peak_load_gib:.2f} / not sampled |"
    )
    lines += [
        "",
        f"Worst error {worst:.1%} (target 10 %); the peak, where sampled, is never under-estimated. Raw "
        f"logs: `{folder.relative_to(ROOT)}/`, `{H200_LOG.relative_to(ROOT)}`.",
    ]
    return "\n".join(lines)


TORCHAO = RESULTS / "h100" / "torchao"
TORCHAO_ORDER = ["bf16", "fp8_native", "int4wo-128", "int4wo-64", "int8wo", "fp8dq-per_tensor", "fp8dq-per_row"]


def _torchao_rows(json_name: str) -> list[tuple[str, dict]]:
    rows = []
    for folder in sorted(TORCHAO.glob("2026-*")):
        path = folder / json_name
        if path.exists():
            rows += [(folder.name, row) for row in json.loads(path.read_text())["rows"]]
    return rows


def _settings_of(args: list[str]) -> dict:
    """What qwen-serve resolves the recorded arguments to (the library's reading of a recorded command)."""
    sys.path.insert(0, str(ROOT / "src"))
    from qwen_serve.launch import request_from_args, settings_for

    return settings_for(request_from_args(args))


def torchao_h100() -> str:
    sys.path.insert(0, str(ROOT / "src"))
    from qwen_serve.hardware import parse_gpu_spec
    from qwen_serve.plan import plan

    h100 = parse_gpu_spec("H100").gpu
    rows = _torchao_rows("plan_vs_measured.json")
    every = rows + _torchao_rows("plan_vs_measured_real_weights.json")
    lines = [
        "| configuration | chat | weights after quantizing, measured / plan | peak at load, measured / plan | "
        "KV tokens, SGLang / plan | batch-1 decode tok/s | conc. 64: output tok/s | conc. 64: TPOT p50 | run |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for name in TORCHAO_ORDER:
        speed = next(((f, r) for f, r in rows if r["name"] == name and "conc64" in r["measured"]), None)
        if speed is None:
            continue
        folder, row = speed
        m = row["measured"]
        config = _settings_of(row["qwen_serve_args"])["torchao_config"]
        after = next(
            (
                r["measured"]["weights_after_quantization_gib"]
                for _, r in every
                if config
                and _settings_of(r["qwen_serve_args"])["torchao_config"] == config
                and "weights_after_quantization_gib" in r["measured"]
            ),
            None,
        )
        if after is None and not config:
            after = m["weight_gib"]  # no torchao: SGLang's own "Load weight end" figure is after quantizing
        p = plan(_settings_of(row["qwen_serve_args"]), h100, 1, cuda_graph=False)
        label = {"bf16": "bf16 (`high_performance`)", "fp8_native": "SGLang `--quantization fp8`"}.get(
            name, f"torchao `{name}`"
        )
        lines.append(
            f"| {label} | {m.get('chat_status')} | {f'{after:.2f}' if after is not None else 'not measured'} / {p.weights_gib:.2f} GiB "
            f"| {m['peak_load_gib']:.2f} / {p.peak_load_gib:.2f} GiB | {m['kv_tokens']:,} / {p.kv_tokens:,} "
            f"| {m['decode_tok_s_batch1']:.1f} | {m['conc64']['output_tok_s']:.0f} | {m['conc64']['tpot_p50_ms']:.1f} ms "
            f"| `{folder}` |"
        )
    unpatched = (TORCHAO / "2026-11-25-a" / "unpatched.txt").read_text().splitlines()
    error = next(line for line in unpatched if "ImportError" in line).split(":", 1)[1].strip()
    lines += [
        "",
        f"The same `--torchao-config int4wo-128` through `python -m sglang.launch_server` (no fix): "
        f"`{error}` (`2026-11-25-a/unpatched_server.log`).",
    ]
    return "\n".join(lines)


def loading_h100() -> str:
    sys.path.insert(0, str(ROOT / "src"))
    from qwen_serve.hardware import parse_gpu_spec
    from qwen_serve.plan import plan

    h100 = parse_gpu_spec("H100").gpu
    lines = [
        "| int4wo-128 from 27.5 GiB of safetensors | load format | peak at load, measured / plan | "
        "weights after quantizing | KV tokens | ready |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for folder, row in _torchao_rows("plan_vs_measured_real_weights.json"):
        m, settings = row["measured"], _settings_of(row["qwen_serve_args"])
        p = plan(settings, h100, 1, cuda_graph=False)
        how = (
            "layer by layer (qwen-serve's loader)"
            if settings["load_format"] == "layered"
            else "whole model, then quantized"
        )
        lines.append(
            f"| {how} | `{settings['load_format']}` | {m['peak_load_gib']:.2f} / {p.peak_load_gib:.2f} GiB "
            f"| {m['weights_after_quantization_gib']:.2f} GiB | {m['kv_tokens']:,} | {m['ready']} (`{folder}`) |"
        )
    return "\n".join(lines)


BENCH_H200 = RESULTS / "h200" / "bench" / "2026-12-01"
BENCH_H200_COMPARISONS = (("compare.json", "passes alternating Q B B Q, qwen-bench's defaults"),)


def _interval(row: dict) -> str:
    return f"{row['difference']:+.1%} ({row['ci95'][0]:+.1%} … {row['ci95'][1]:+.1%}) {row['verdict']}"


def _bench_table(folder: Path, comparisons: tuple, first: str) -> str:
    """The current client (aiohttp) against bench_serving: the runs' means for throughput and the
    latencies after the first token, TTFT request by request with its interval and verdict."""
    heads = (
        "rounds a side",
        "req/s",
        "TPOT p50 ms",
        "E2E p50 ms",
        "TTFT mean",
        "TTFT p50",
        "TTFT p99",
        "bench_serving vs itself, TTFT p50",
    )
    lines = [
        f"| {first} | conc. | " + " | ".join(heads) + " |",
        "| --- | --- | " + " | ".join("---" for _ in heads) + " |",
    ]
    close, verdicts = [], []
    for name, what in comparisons:
        data = json.loads((folder / name).read_text())
        cell = {(r["concurrency"], r["metric"]): r for r in data["rows"]}
        pooled = {(r["concurrency"], r["metric"]): r for r in data["per_request"]}
        for i, c in enumerate(sorted({r["concurrency"] for r in data["rows"]})):
            aggregate = [
                f"{r['qwen_bench']:.2f} / {r['bench_serving']:.2f} ({r['difference']:+.1%})"
                for r in (cell[(c, m)] for m in ("request_throughput", "tpot_ms.p50", "e2e_ms.p50"))
            ]
            close += [
                abs(cell[(c, m)]["difference"])
                for m in ("request_throughput", "output_throughput", "tpot_ms.p50", "e2e_ms.p50")
            ]
            ttft = [pooled[(c, m)] for m in ("ttft_ms.mean", "ttft_ms.p50", "ttft_ms.p99")]
            verdicts += [r["verdict"] for r in ttft]
            self_p50 = ttft[1].get("bench_serving_self")
            rounds = " / ".join(str(n) for n in ttft[0]["rounds"])
            lines.append(
                f"| {what if i == 0 else ''} | {c} | {rounds} | "
                + " | ".join(aggregate)
                + " | "
                + " | ".join(_interval(r) for r in ttft)
                + " | "
                + (f"{self_p50['ci95'][0]:+.1%} … {self_p50['ci95'][1]:+.1%}" if self_p50 else "—")
                + " |"
            )
    counts = {v: verdicts.count(v) for v in ("agrees", "undecided", "differs")}
    lines += [
        "",
        "qwen-bench / bench_serving (difference), each a mean over the runs that ran the level; TTFT: "
        "every request of each tool pooled, difference (95 % interval, whole rounds resampled) and the "
        "verdict on 5 %; last column: bench_serving's odd rounds against its even rounds. Request "
        f"throughput, output throughput, TPOT p50 and E2E p50 within {max(close):.1%} everywhere; TTFT: "
        + ", ".join(f"{n} {v}" for v, n in counts.items())
        + f". Raw: `{folder.relative_to(ROOT)}/`.",
    ]
    return "\n".join(lines)


def bench_h200() -> str:
    return _bench_table(BENCH_H200, BENCH_H200_COMPARISONS, "set-up")


PRESETS_RUN = RESULTS / "h200" / "presets" / "2026-12-02"


def _preset_rows():
    data = json.loads((PRESETS_RUN / "summary.json").read_text(encoding="utf-8"))
    by_launch: dict[tuple[str, str], dict[int, dict]] = {}
    for row in data["rows"]:
        if "error" not in row:
            by_launch.setdefault((row["launch"], row["call"]), {})[row["concurrency"]] = row
    # a table line needs concurrency 1 and 64 (a row cut before them is named under "Not measured")
    return data, {k: levels for k, levels in by_launch.items() if 1 in levels and 64 in levels}


def _what_it_ran(resolved: str) -> str:
    """summary.json's `resolved`, in table words: humming's JSON and the flag names folded."""
    text = re.sub(
        r'SGLANG_HUMMING_ONLINE_QUANT_CONFIG=\{"dtype":"(\w+)","group_size":(\d+)\} --quantization humming',
        r"humming \1 g\2",
        resolved,
    )
    text = re.sub(r"SGLANG_DG_CACHE_DIR=\S+ ?", "", text)  # where a call kept DeepGEMM's cache: no meaning
    for flag, word in (
        ("--quantization ", ""),
        ("--kv-cache-dtype auto", ""),
        ("--kv-cache-dtype ", "KV "),
        ("--context-length ", "context "),
        ("--max-running-requests ", "running ≤ "),
        ("--chunked-prefill-size ", "prefill chunk "),
    ):
        text = text.replace(flag, word)
    return " ".join(text.split()).rstrip(";") or "bf16"


def _level_cell(level: dict | None) -> str:
    """A level's out tok/s and its ratio to bf16, or — where the call did not run that level."""
    return f"{level['output_tok_s']:.0f} ({level['ratio_to_bf16']:.2f}×)" if level else "—"


def _preset_line(launch: str, call: str, levels: dict[int, dict]) -> str:
    one, eight, many = levels[1], levels.get(8), levels[64]
    wide = levels.get(128)
    share = f"{one['hbm_bound_share']:.0%}" if one.get("hbm_bound_share") else "—"
    c128 = _level_cell(wide)
    return (
        f"| `{launch}` | {_what_it_ran(one['resolved'])} | {one['weights_gib']:.2f} | {one['kv_tokens']:,} | "
        f"{one['output_tok_s']:.1f} (**{one['ratio_to_bf16']:.2f}×**) | {one['tpot_p50_ms']:.2f} | {share} | "
        f"{_level_cell(eight)} | "
        f"{many['output_tok_s']:.0f} (**{many['ratio_to_bf16']:.2f}×**) | {many['tpot_p50_ms']:.2f} | {c128} | "
        f"{one['ready_s']:.0f} | {call.removeprefix('call-')} |"
    )


_PRESET_HEADER = (
    "| launch | what it ran | weights GiB | KV tokens | c=1 out tok/s (× bf16) | TPOT p50 ms | "
    "HBM bound | c=8 out tok/s | c=64 out tok/s (× bf16) | TPOT p50 ms at 64 | c=128 out tok/s | ready s | run |\n"
    "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |"
)


def _calls_flags(data: dict, calls: set[str]) -> str:
    """Which common flags each of these device calls gave every row (calls differ only in the CUDA-graph batch sizes)."""
    by_flags: dict[str, list[str]] = {}
    for c in data["calls"]:
        if c["call"] in calls:
            by_flags.setdefault(c["common_flags"], []).append(c["call"])
    return "; ".join(f"{_calls(names)}: `{flags}`" for flags, names in by_flags.items())


def _call_name(call: str) -> str:
    """A device call in table words: "call-e" -> "e"; a summary over several dated folders names its calls
    FOLDER/call-N: "2026-12-03/call-2" -> "12-03/2"."""
    folder, _, stem = call.rpartition("/")
    return (f"{folder[5:]}/" if folder else "") + stem.removeprefix("call-")


def _calls(calls) -> str:
    """Device calls by their letters: "call e", "calls d, e"."""
    letters = sorted({_call_name(c) for c in calls})
    return ("runs " if len(letters) > 1 else "run ") + ", ".join(letters)


def _calls_at(data: dict, concurrency: int) -> set[str]:
    return {r["call"] for r in data["rows"] if r.get("concurrency") == concurrency}


def _not_measured(data: dict, by_launch: dict, prefix: str) -> list[str]:
    """The rows of this kind that no call measured, each with every call's reason."""
    why: dict[str, list[str]] = {}
    for r in data["rows"]:
        if "error" in r and r["launch"].startswith(prefix) and not any(k[0] == r["launch"] for k in by_launch):
            why.setdefault(r["launch"], []).append(f"{_calls([r['call']])}: {r['error']}")
    return ["", "Not measured: " + "; ".join(f"`{k}` ({', '.join(v)})" for k, v in why.items()) + "."] if why else []


def _table(prefix: str, *, others: bool = False) -> str:
    """The rows whose launch starts with PREFIX (and, with OTHERS, plain-SGLang rows other than bf16), each
    call's bf16 baseline beside them, and what those calls ran; a call with none of them is left out."""
    data, by_launch = _preset_rows()
    kept = [
        k
        for k in by_launch
        if k[0].startswith(prefix) or (others and k[0].startswith("sglang-") and k[0] != "sglang-bf16")
    ]
    calls = {call for _, call in kept}
    lines = [_PRESET_HEADER]
    for key in by_launch:
        if key in kept or (key[0] == "sglang-bf16" and key[1] in calls):
            lines.append(_preset_line(*key, by_launch[key]))
    rel = PRESETS_RUN.relative_to(ROOT)
    requests = data["bench"]["requests"]
    levels = [n for n in (1, 8, 64, 128) if calls & _calls_at(data, n)]  # those some call of the table ran
    missing = [f"{n} not in {_calls(calls - _calls_at(data, n))}" for n in levels if calls - _calls_at(data, n)]
    lines += [
        "",
        f"One {data['gpu'].split(',')[0]}, sglang {data['sglang']}, humming-kernels "
        f"{data['versions'].get('humming-kernels')}, Qwen3-14B shapes with `--load-format dummy`; every row of "
        f"{_calls_flags(data, calls)}; `{data['bench']['tool']}`, {data['bench']['input_len']} in / "
        f"{data['bench']['output_len']} out, {' / '.join(str(requests[str(n)]) for n in levels)} requests at "
        f"concurrency {' / '.join(map(str, levels))}"
        + (f" ({'; '.join(missing)})" if missing else "")
        + f". Ratios are to the `sglang-bf16` row of the same run (`{rel}/summary.json`).",
    ]
    return "\n".join(lines + _not_measured(data, by_launch, prefix))


def presets_h200() -> str:
    """Every preset and the bf16 baseline, each ratio to the plain-SGLang bf16 of the same device call."""
    return _table("preset:")


def knobs_h200() -> str:
    """Knobs tried on top of the FP8 preset (and plain SGLang's own FP8), each next to its call's baseline."""
    return _table("knob:", others=True)


def baseline_h200() -> str:
    """How far the bf16 baseline itself moves from call to call: the noise under every ratio."""
    data, by_launch = _preset_rows()
    runs = {call: levels for (launch, call), levels in by_launch.items() if launch == "sglang-bf16"}
    parts = []
    for level in (1, 64):
        tok = [levels[level]["output_tok_s"] for levels in runs.values()]
        parts.append(f"{min(tok):,.1f}-{max(tok):,.1f} tok/s at concurrency {level} ({max(tok) / min(tok) - 1:.1%})")
    return (
        f"The plain-SGLang bf16 baseline of {_calls(runs)} ({len(runs)} runs) spans "
        + " and ".join(parts)
        + ": ratios within about ±0.02 of each other are the same figure."
    )


def decode_h200() -> str:
    """Each row's whole-run gain at concurrency 64 (and 128) beside its decode step's alone: SGLang's own
    'Decode batch' rate with that many requests running, prefill left out."""
    data, by_launch = _preset_rows()
    lines = [
        "| launch | call | c=64 out tok/s × bf16 | decode-only at 64 × bf16 (tok/s) | c=128 × bf16 | decode-only at 128 × bf16 |",
        "| --- | --- | ---: | ---: | ---: | ---: |",
    ]
    for (launch, call), levels in by_launch.items():
        if launch == "sglang-bf16" or "decode_ratio_to_bf16" not in levels[64]:
            continue
        cells = []
        for n in (64, 128):
            r = levels.get(n)
            cells += (
                [f"{r['ratio_to_bf16']:.2f}×", f"**{r['decode_ratio_to_bf16']:.2f}×** ({r['decode_tok_s_p50']:,.0f})"]
                if r and r.get("decode_ratio_to_bf16")
                else ["—", "—"]
            )
        lines.append(f"| `{launch}` | {call.removeprefix('call-')} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


# one summary over every FA3-era call: 2026-12-03's seven (speed, first cold starts) and 2026-12-04's five (each
# preset's start on an empty JIT-cache folder, then on the same folder kept)
FA3_RUN = RESULTS / "h200" / "presets" / "2026-12-04"


def presets_h200_fa3() -> str:
    """The presets and Qwen's checkpoint layouts as a real Hopper install runs them (FA3 attention, DeepGEMM), each
    against the plain-SGLang bf16 row of its own call; then the cold starts, and what was not measured."""
    data = json.loads((FA3_RUN / "summary.json").read_text(encoding="utf-8"))
    by_launch: dict[tuple[str, str], dict[int, dict]] = {}
    for row in data["rows"]:
        if "error" not in row and row.get("concurrency"):  # start-up rows: the start-up table
            by_launch.setdefault((row["launch"], row["call"]), {})[row["concurrency"]] = row
    lines = [
        "| launch | what it ran | weights GiB | KV tokens | c=1 out tok/s (× bf16) | c=64 out tok/s (× bf16) | "
        "TPOT p50 ms at 64 | decode step at 64 × bf16 | attention | ready s | run |",
        "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | --- | ---: | --- |",
    ]
    cold = []
    for (launch, call), levels in by_launch.items():
        one, many = levels.get(1), levels.get(64)
        if one and one.get("jit_cache") == "cold":
            cold.append(
                f"`{launch}` ready in {one['ready_s']:.0f} s ({one['attention_backend']} attention, {_calls([call])})"
            )
            continue
        if not (one and many):
            continue
        decode = f"{many['decode_ratio_to_bf16']:.2f}×" if many.get("decode_ratio_to_bf16") else "—"
        lines.append(
            f"| `{launch}` | {_what_it_ran(one['resolved'])} | {one['weights_gib']:.2f} | {one['kv_tokens']:,} | "
            f"{one['output_tok_s']:.1f} (**{one['ratio_to_bf16']:.2f}×**) | "
            f"{many['output_tok_s']:.0f} (**{many['ratio_to_bf16']:.2f}×**) | {many['tpot_p50_ms']:.2f} | {decode} | "
            f"{one['attention_backend']} | {one['ready_s']:.0f} | {_call_name(call)} |"
        )
    measured = {launch for launch, _ in by_launch}
    missing: dict[str, list[str]] = {}
    for r in data["rows"]:
        if "error" in r and r["launch"] not in measured and not r["launch"].startswith(("cold:", "warm:")):
            missing.setdefault(r["launch"], []).append(f"{_calls([r['call']])}: {r['error']}")
    requests = data["bench"]["requests"]
    rel = FA3_RUN.relative_to(ROOT)
    named = {c["call"] for c in data["calls"] if "--attention-backend" in c["common_flags"]}
    picked = {c["call"] for c in data["calls"]} - named
    lines += [
        "",
        f"One {data['gpu'].split(',')[0]}, sglang {data['sglang']}, sglang-kernel {data['versions'].get('sglang-kernel')} "
        f"with FA3, sgl-deep-gemm {data['versions'].get('sgl-deep-gemm')}, Qwen3-14B shapes with `--load-format dummy` "
        f"(the checkpoint rows: the skeleton with that checkpoint's own quantization_config); every row of "
        f"{_calls_flags(data, picked)}, the attention backend SGLang picked itself (the cold rows of "
        f"{_calls(named)} named triton: FA3 had not arrived); `{data['bench']['tool']}`, {data['bench']['input_len']} in / "
        f"{data['bench']['output_len']} out, {requests['1']} / {requests['64']} requests at concurrency 1 / 64. "
        f"Ratios are to the `sglang-bf16` row of the same run; `ready s` is that run's start, JIT caches as the "
        f"run found them (`{rel}/summary.json`, over the raw files of both dated folders; each folder's README says "
        f"what each run had compiled before; run N is the folder's call-N.tar.gz).",
    ]
    if cold:
        lines += ["", "Cold starts (empty JIT caches): " + "; ".join(cold) + "."]
    if missing:
        lines += ["", "Not measured: " + "; ".join(f"`{k}` ({', '.join(v)})" for k, v in missing.items()) + "."]
    return "\n".join(lines)


def _startups(data: dict) -> dict[str, dict[str, list[dict]]]:
    """Each preset's start-up rows (qwen-serve on a JIT-cache folder of its own: cold = empty, warm = what the cold
    start left there), by preset and cold/warm: every finished start, or else the cut one with how far it got."""
    found: dict[str, dict[str, list[dict]]] = {}
    for r in data["rows"]:
        kind, _, name = r["launch"].partition(":")
        if kind in ("cold", "warm") and r.get("concurrency") is None:  # a start alone (rows with levels: speed)
            if "error" in r and (
                "not started" in r["error"] or "after 0 s" in r["error"] or "no row.json" in r["error"]
            ):
                continue  # never ran, or lost with its machine: says nothing of the start
            kept = found.setdefault(name, {}).setdefault(kind, [])
            if "error" in r:
                if not kept:
                    kept.append(r)  # a cut start, until a finished one comes
            else:
                kept[:] = [k for k in kept if "error" not in k] + [r]  # a finished start stands over a cut one
    return found


def _span(values: list[float]) -> str:
    """One figure, or the range of several starts of the same preset (machines differ by tens of seconds)."""
    lo, hi = round(min(values)), round(max(values))
    return f"{lo} s" if lo == hi else f"{lo}–{hi} s"


def _ready(starts: list[dict] | None) -> str:
    if not starts:
        return "—"
    if "error" not in starts[0]:
        return _span([r["ready_s"] for r in starts])
    r = starts[0]
    progress = r.get("capture_progress") or {}
    limit = re.search(r"^not ready after (\d+) s", r["error"])  # its own ready-timeout, not the call's clock
    if not limit:
        return "—"  # cut for device time: it says nothing of the start
    took = (
        f"; the first of {progress['shapes']} prefill graphs took {progress['elapsed_s']} s"
        if progress.get("shapes_done") == 1
        else ""
    )
    return f"over {limit.group(1)} s (cut{took})"


def startup_h200() -> str:
    """Time to ready with the JIT caches empty and kept, per preset, from qwen-serve's own cache folder: a fresh
    QWEN_SERVE_JIT_CACHE folder for the cold start, the same folder for the next (one machine, FA3); where a preset
    started more than once, the range."""
    data = json.loads((FA3_RUN / "summary.json").read_text(encoding="utf-8"))
    lines = [
        "| preset | first start (JIT caches empty) | next start (caches kept) | CUDA-graph capture, first / next | calls |",
        "| --- | ---: | ---: | ---: | --- |",
    ]
    for name, pair in _startups(data).items():
        cold, warm = pair.get("cold") or [], pair.get("warm") or []
        capture = " / ".join(
            _span([r["startup_s"]["prefill_graphs"] + r["startup_s"]["decode_graphs"] for r in rs if "startup_s" in r])
            if any("startup_s" in r for r in rs)
            else "—"
            for rs in (cold, warm)
        )
        calls = sorted({r["call"] for r in cold + warm})
        lines.append(f"| `{name}` | {_ready(cold)} | {_ready(warm)} | {capture} | {_calls(calls)} |")
    return "\n".join(lines)


REPLICAS_RUN = RESULTS / "h200" / "replicas" / "2026-12-02"


def replicas_h200() -> str:
    """One replica against two sharing the GPU behind sglang-router, same call, the router's own request counts."""
    data = json.loads((REPLICAS_RUN / "summary.json").read_text(encoding="utf-8"))
    lines = [
        "| launch | workload | concurrency | out tok/s (× 1 replica) | TPOT p50 ms | TTFT p50 ms | KV tokens "
        "(per worker) | requests per worker (router) | ready s |",
        "| --- | --- | ---: | ---: | ---: | ---: | ---: | --- | ---: |",
    ]
    for r in data["rows"]:
        if "error" in r:
            lines.append(f"| `{r['launch']}` | — | — | not measured: {r['error']} | | | | | |")
            continue
        per = r.get("kv_tokens_per_worker")
        kv = f"{r['kv_tokens']:,}" + (f" ({' + '.join(f'{n:,}' for n in per)})" if per else "")
        served = " / ".join(str(n) for n in (r.get("requests_per_worker") or {}).values()) or "—"
        lines.append(
            f"| `{r['launch']}` | {r['workload']} | {r['concurrency']} | {r['output_tok_s']:.0f} "
            f"(**{r['ratio_to_baseline']:.2f}×**) | {r['tpot_p50_ms']:.2f} | {r['ttft_p50_ms']:.0f} | {kv} | "
            f"{served} | {r['ready_s']:.0f} |"
        )
    call = data["calls"][0]
    rel = REPLICAS_RUN.relative_to(ROOT)
    lines += [
        "",
        f"One {data['gpu'].split(',')[0]}, sglang {data['sglang']}, sglang-router 0.3.2, `--preset auto` (fp8) on "
        f"the Qwen3-14B skeleton, every row `{call['common_flags']}` plus `--cuda-graph-max-bs 128`; random: "
        f"512 in / 256 out; shared-prefix: bench_serving's generated-shared-prefix, 16 system prompts of 2,048 "
        f"tokens, 128-token questions, 256 out. Requests per worker: the router's "
        f"`smg_worker_cb_outcomes_total` (success) after a level less before it (`{rel}/summary.json`).",
    ]
    return "\n".join(lines)


QUALITY_RUN = RESULTS / "h200" / "quality" / "2026-12-02"


def quality_rows() -> list[tuple[Path, dict]]:
    """Every row of every scripts/gpu/quality.py call of that day (each call its own checkpoint and reference)."""
    return [
        (path, r)
        for path in sorted(QUALITY_RUN.glob("**/quality.json"), key=lambda p: (len(p.parts), p))  # the first call first
        for r in json.loads(path.read_text(encoding="utf-8"))["rows"]
    ]


def _start_peak(csv: Path) -> tuple[float, float]:
    """bench/presets.py's start_peak_gib of a peak_at_load.sh nvidia-smi CSV."""
    sys.path.insert(0, str(ROOT / "bench"))
    from presets import start_peak_gib

    return start_peak_gib([float(x) for x in csv.read_text().split() if x.replace(".", "").isdigit()])


def quality_h200() -> str:
    """Each preset from the same random bf16 safetensors: its peak at load and `qwen-test --compare` against bf16."""
    lines = [
        "| preset | weights GiB | peak at load GiB (measured) | load s | KV dtype | token agreement | "
        "mean KL (nats, top-5) | positions | from |",
        "| --- | ---: | ---: | ---: | --- | ---: | ---: | ---: | --- |",
    ]
    for path, r in quality_rows():
        peak = f"{r['peak_load_gib']:.2f}" if r.get("peak_load_gib") else "missed (see below)"
        whole = QUALITY_RUN / f"peak-{r['preset']}" / f"peak_{r['preset']}.smi.csv"
        if whole.exists():  # its own start (scripts/gpu/peak_at_load.sh)
            top, context = _start_peak(whole)
            peak += f"; whole start: {top:.2f} above its {context:.2f} GiB CUDA context"
        c = r.get("compare") or {}
        agree = f"{c['token_agreement']:.1%}" if "token_agreement" in c else "reference"
        kl = f"{c['mean_kl']:.3f}" if c.get("mean_kl") is not None else "—"
        lines.append(
            f"| `{r['preset']}` | {r['weights_gib']:.2f} | {peak} | {r['load_s']} | {r['kv_dtype'].removeprefix('torch.')} "
            f"| {agree} | {kl} | {c.get('kl_positions', '—')} | `{path.relative_to(QUALITY_RUN).as_posix()}` |"
        )
    return "\n".join(lines)


def presets_h200_simple() -> str:
    """The README's table: each preset's latest FA3 row (same summary as presets-h200-fa3), in the words a user
    picks by — speed at 1 and 64 requests against plain SGLang bf16 of the same call, KV tokens, time to ready."""
    data = json.loads((FA3_RUN / "summary.json").read_text(encoding="utf-8"))
    rows: dict[str, dict[int, dict]] = {}
    for row in data["rows"]:
        if "error" not in row and row["launch"].startswith("preset:") and row.get("concurrency"):
            rows.setdefault(row["launch"].removeprefix("preset:"), {})[row["concurrency"]] = row
    starts = _startups(data)
    lines = [
        "| preset | speed at 1 request (× plain bf16) | at 64 requests | KV cache tokens | first start | later starts |",
        "| --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    for name, levels in sorted(rows.items(), key=lambda kv: -kv[1][64]["ratio_to_bf16"]):
        one, many = levels[1], levels[64]
        first, later = (starts.get(name) or {}).get("cold"), (starts.get(name) or {}).get("warm")
        # no start on a kept folder of its own: its speed run's start, on the caches that call's earlier starts filled
        kept = _ready(later) if later and "error" not in later[0] else f"{one['ready_s']:.0f} s†"
        lines.append(
            f"| `{name}` | {one['ratio_to_bf16']:.2f}× | {many['ratio_to_bf16']:.2f}× | {one['kv_tokens']:,} | "
            f"{_ready(first).split(' (')[0]} | {kept} |"
        )
    dagger = (
        " (†: the start of its speed run, on caches that run's earlier starts had filled)"
        if any(line.endswith("s† |") for line in lines)
        else ""
    )
    lines += [
        "",
        f"One H200, FA3 attention and DeepGEMM as a real install runs them; plain bf16 SGLang: 1.00× and "
        f"{min(r['kv_tokens'] for r in data['rows'] if r.get('launch') == 'sglang-bf16'):,} KV tokens. "
        "`first start`: time to ready with qwen-serve's JIT cache folder empty (kernels compile); `later starts`: "
        f"with that folder kept{dagger}; a range where a preset started on several machines; "
        "— not measured. Every row, the start-ups and what was not measured: "
        "[docs/presets.md](docs/presets.md).",
    ]
    return "\n".join(lines)


# `qwen-serve tune` as a user runs it on a fresh GPU machine (scripts/gpu/tune.sh): its result file, the picks of
# --preset auto that followed, and the start of the throughput pick on the JIT cache the run filled
TUNE_RUNS = sorted((RESULTS).glob("*/tune/*/result.json"))


def _tune_result(path: Path):
    sys.path.insert(0, str(ROOT / "src"))
    from qwen_serve.tune_result import result_from_json

    return result_from_json(json.loads(path.read_text(encoding="utf-8")))


def tune_runs() -> str:
    """Each committed tune run: every candidate's time to ready and output tok/s (x plain bf16) per level, what the
    budget left out, and what --preset auto picked afterwards for each load."""
    sys.path.insert(0, str(ROOT / "src"))
    from qwen_serve.tune import verdict_lines

    if not TUNE_RUNS:
        return "No run committed yet."
    out = []
    for path in TUNE_RUNS:
        folder = path.parent
        r = _tune_result(path)
        levels = r.load.concurrencies
        lines = [
            f"`{folder.relative_to(ROOT)}/`: {r.machine.gpu}, driver {r.machine.driver}, SGLang {r.machine.sglang}; "
            f"{r.load.input_len} tokens in, {r.load.output_len} out, {r.load.rounds} rounds a level; "
            f"`{(folder / 'command.txt').read_text(encoding='utf-8').splitlines()[0]}`"
            + (
                f", then on another machine `{(folder / 'resume-command.txt').read_text(encoding='utf-8').split('  (')[0]}`"
                if (folder / "resume-command.txt").is_file()
                else ""
            ),
            "",
            "| candidate | ready s (JIT cache) | "
            + " | ".join(f"c={c} out tok/s (× bf16)" for c in levels)
            + f" | × plain FP8 checkpoint at {max(levels)} | TPOT p50 ms at 1 |",
            "| --- | ---: | " + " | ".join("---:" for _ in levels) + " | ---: | ---: |",
        ]
        for m in r.measured.values():
            if m.error and not m.levels:
                lines.append(f"| `{m.name}` | — | " + " | ".join("—" for _ in levels) + f" | — | {m.error} |")
                continue
            cells = []
            for c in levels:
                lv, ratio = m.level(c), r.ratio(m.name, c)
                cells.append(f"{lv.output_tok_s:,.0f} ({ratio:.2f}×)" if lv and ratio else "—")
            first = m.level(min(levels))
            tpot = f"{first.tpot_ms['p50']:.2f}" if first and first.tpot_ms.get("p50") else "—"
            ready = f"{m.seconds_to_ready:.0f} ({m.jit_cache})" if m.seconds_to_ready is not None else "—"
            fp8 = r.ratio(m.name, max(levels), "plain-fp8-checkpoint") if m.name != "plain-fp8-checkpoint" else None
            versus = f"{fp8:.2f}×" if fp8 else "—"
            lines.append(
                f"| `{m.name}`{'' if m.complete else ' (cut)'} | {ready} | "
                + " | ".join(cells)
                + f" | {versus} | {tpot} |"
            )
        lines.append("")
        for name, why in r.left_out.items():
            lines.append(f"- not measured: `{name}` ({why})")
        presets = [m.name for m in r.measured.values() if m.kind == "preset"]
        lines += [f"- {line}" for line in verdict_lines(r, presets)]
        for load in ("interactive", "throughput"):  # after the last call that measured
            auto = folder / f"resume-auto-{load}.json"
            auto = auto if auto.is_file() else folder / f"auto-{load}.json"
            if auto.is_file() and auto.stat().st_size:
                picked = json.loads(auto.read_text(encoding="utf-8"))
                lines.append(f"- then `qwen-serve --dry-run --preset auto --load {load}` took `{picked['preset']}`")
        ready = folder / "ready-kept.json"
        if ready.is_file():
            facts = json.loads(ready.read_text(encoding="utf-8"))
            lines.append(
                f"- the start of `{facts['preset']}` after the run, on the JIT cache it filled: ready in "
                f"{facts['seconds_to_ready']:.0f} s"
            )
        out.append("\n".join(lines))
    return "\n\n".join(out)


def install_sizes() -> str:
    """What each way of installing downloads and takes (scripts/install_size.sh, an empty uv cache each)."""
    path = sorted((RESULTS / "install").glob("*.json"))[-1]
    data = json.loads(path.read_text(encoding="utf-8"))
    full, light = data["full"], data["clients"]
    gb = 1e9
    return (
        f"| way | what it installs | downloaded | installed | time here |\n| --- | --- | ---: | ---: | ---: |\n"
        f"| `{full['command']}` (the first `uv run` does it) | SGLang {_LOCKED_SGLANG}, CUDA torch, the test tools "
        f"| {full['downloaded_cache_bytes'] / gb:.1f} GB | {full['installed_bytes'] / gb:.1f} GB | {full['seconds']:.0f} s |\n"
        f"| `uv venv && uv pip install '.[bench]'` | qwen-test and qwen-bench only (a server elsewhere) "
        f"| {light['downloaded_cache_bytes'] / gb:.2f} GB | {light['installed_bytes'] / gb:.2f} GB | {light['seconds']:.0f} s |\n\n"
        f"Measured on {data['date'][:10]} ({data['machine']}, qwen-serve {data['commit']}, `{path.relative_to(ROOT)}`) from "
        "an empty uv cache each, next to a fast package mirror: the time on your link is the download's size over its "
        "speed."
    )


_LOCKED_SGLANG = "0.5.17"


SECTIONS = {
    "install-sizes": install_sizes,
    "tune-runs": tune_runs,
    "presets-h200-simple": presets_h200_simple,
    "presets-h200-fa3": presets_h200_fa3,
    "startup-h200": startup_h200,
    "presets-h200": presets_h200,
    "knobs-h200": knobs_h200,
    "replicas-h200": replicas_h200,
    "quality-h200": quality_h200,
    "baseline-h200": baseline_h200,
    "decode-h200": decode_h200,
    "hardware-plan": hardware_plan,
    "fastpath-cpu-no-bytecode": fastpath_cpu_no_bytecode,
    "suite-cpu": suite_cpu,
    "torchao-h100": torchao_h100,
    "loading-h100": loading_h100,
    "bench-h200": bench_h200,
    "plan-vs-measured": plan_vs_measured,
    "qwen-test-h100": qwen_test_h100,
    "fastpath-cpu": fastpath_cpu,
    "startup-h100": startup_h100,
}


# every page with generated blocks; a block may stand in several pages, and each must stand in one
PAGES = (
    "README.md",
    "docs/presets.md",
    "docs/seed.md",
    "docs/memory-plan.md",
    "docs/supervision.md",
    "docs/qwen-test.md",
    "docs/benchmarks.md",
    "docs/development.md",
    "docs/scale-out.md",
)


def render(text: str) -> tuple[str, set[str]]:
    """The page with every generated block it holds regenerated, and the names of those blocks."""
    found = set()
    for name, make in SECTIONS.items():
        pattern = re.compile(rf"(<!-- BEGIN {name} -->\n)(?:.*?\n)?(<!-- END {name} -->)", re.DOTALL)
        if pattern.search(text):
            found.add(name)
            table = make()
            text = pattern.sub(lambda m: m.group(1) + table + "\n" + m.group(2), text)
    return text, found


def main() -> int:
    stale, found = [], set()
    for name in PAGES:
        path = ROOT / name
        current = path.read_text(encoding="utf-8")
        fresh, blocks = render(current)
        found |= blocks
        if fresh != current:
            stale.append(name)
            if "--check" not in sys.argv:
                path.write_text(fresh, encoding="utf-8")
    missing = sorted(set(SECTIONS) - found)
    if missing:
        raise SystemExit(
            f"no page holds the block(s) {', '.join(missing)}: add <!-- BEGIN name --> ... <!-- END name -->"
        )
    if "--check" in sys.argv:
        if stale:
            print(f"{', '.join(stale)} stale: run `uv run python scripts/readme_tables.py`")
            return 1
        print("README.md and docs tables are up to date")
        return 0
    print(f"regenerated: {', '.join(stale) or 'nothing (up to date)'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
