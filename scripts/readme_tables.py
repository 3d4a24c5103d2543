#!/usr/bin/env python3
"""Regenerate the README's measured tables from the raw files under bench/results/.

Each table sits between `<!-- BEGIN name -->` and `<!-- END name -->` in README.md. Numbers are
never typed by hand: change a result file, then run

    uv run python scripts/readme_tables.py            # rewrite README.md
    uv run python scripts/readme_tables.py --check    # exit 1 if README.md is stale (a test runs this)
"""

from __future__ import annotations

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


def startup_h100() -> str:
    folder = RESULTS / "h100" / "startup" / "2026-11-25-no-cuda-graph"
    runs = [r for r in json.loads((folder / "startup.json").read_text())["runs"] if r.get("seconds_to_ready")]
    preexec = [float(x) for x in (folder / "dry_run_times.txt").read_text().split()]
    lines = ["| run | launched by | seconds to ready | exit code after SIGTERM | GPU processes after |",
             "| --- | --- | --- | --- | --- |"]
    for i, r in enumerate(runs):
        code = r["exit_code"] if r["exit_code"] >= 0 else 128 - r["exit_code"]
        lines.append(f"| {i} | {'qwen-serve' if r['kind'] == 'qwen-serve' else 'python -m sglang.launch_server'} "
                     f"| {r['seconds_to_ready']:.1f} | {code} | {r['gpu_processes_after'] or 'none'} |")
    by = {k: [r["seconds_to_ready"] for r in runs if r["kind"] == k] for k in ("direct", "qwen-serve")}
    mean = {k: sum(v) / len(v) for k, v in by.items()}
    lines += ["", f"Mean: direct {mean['direct']:.1f} s (range {min(by['direct']):.1f}–{max(by['direct']):.1f}), "
              f"qwen-serve {mean['qwen-serve']:.1f} s (range {min(by['qwen-serve']):.1f}–{max(by['qwen-serve']):.1f}); "
              f"qwen-serve's own work before it hands over to SGLang: {min(preexec):.2f}–{max(preexec):.2f} s "
              f"(`{folder.relative_to(ROOT)}/`)."]
    return "\n".join(lines)


SEED_GPUS = [("RTX 3060 8GB", "ultra_low_memory", "int8wo"), ("RTX 3080 12GB", "memory_optimized", "int4wo-64"),
             ("RTX 4090", "balanced", "int4wo-128"), ("A100 40GB", "balanced", "int4wo-128"),
             ("A100-80GB", "high_performance", "none"), ("H100", "fp8_hopper_example", "fp8dq-per_tensor")]


def hardware_plan() -> str:
    sys.path.insert(0, str(ROOT / "src"))
    from qwen_serve.config import load_config
    from qwen_serve.errors import QwenServeError
    from qwen_serve.hardware import parse_gpu_spec
    from qwen_serve.plan import choose_preset, plan_as_launched
    from qwen_serve.resolve import resolve

    config = load_config(None)
    names = list(config.presets)
    lines = ["| GPU | seed said | " + " | ".join(names) + " | `--preset auto` |",
             "| --- | --- | " + " | ".join("---" for _ in names) + " | --- |"]
    for spec, seed_preset, seed_quant in SEED_GPUS:
        hw = parse_gpu_spec(spec)
        cells = []
        for name in names:
            launch = resolve(config, name, {})
            p = plan_as_launched({s.name: s.value for s in launch.settings}, hw.gpu, hw.count, name=name)
            layered = " (layered load)" if p.peak_note.startswith("layer by layer") else ""
            cells.append(f"{p.kv_tokens:,} KV tokens{layered}" if p.fits else "no: " + _short(p))
        try:
            auto = choose_preset(config, {}, hw.gpu, hw.count)[0]
        except QwenServeError:
            auto = "none fits"
        lines.append(f"| {hw.gpu.name} ({hw.gpu.memory_gib:.0f} GiB) | {seed_preset} ({seed_quant}) | "
                     + " | ".join(cells) + f" | {auto} |")
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


def plan_vs_measured() -> str:
    sys.path.insert(0, str(ROOT / "src"))
    from qwen_serve.hardware import parse_gpu_spec
    from qwen_serve.plan import plan

    h100 = parse_gpu_spec("H100").gpu
    folder = RESULTS / "h100" / "plan" / "2026-11-25"
    data = json.loads((folder / "plan_vs_measured.json").read_text())
    lines = ["| configuration (H100, no CUDA graphs) | weights plan / SGLang | KV tokens plan / SGLang | peak at load plan / measured |",
             "| --- | --- | --- | --- |"]
    worst = 0.0
    for row in data["rows"]:
        args = row["qwen_serve_args"]
        settings = {"model_path": "Qwen/Qwen3-14B",
                    "quantization": "fp8" if "--quantization" in args else None,
                    "kv_cache_dtype": args[args.index("--kv-cache-dtype") + 1] if "--kv-cache-dtype" in args else "auto"}
        p, m = plan(settings, h100, 1, cuda_graph=False), row["measured"]
        ew = p.weights_gib / m["weight_gib"] - 1
        ek = p.kv_tokens / m["kv_tokens"] - 1
        worst = max(worst, abs(ew), abs(ek))
        lines.append(f"| `{' '.join(args)}` | {p.weights_gib:.2f} / {m['weight_gib']:.2f} GiB ({ew:+.1%}) | "
                     f"{p.kv_tokens:,} / {m['kv_tokens']:,} ({ek:+.1%}) | {p.peak_load_gib:.2f} / {m['peak_load_gib']:.2f} GiB |")
    lines += ["", f"Worst error {worst:.1%} (target 10 %); the peak is never under-estimated. Raw logs: "
              f"`{folder.relative_to(ROOT)}/`."]
    return "\n".join(lines)


SECTIONS = {"hardware-plan": hardware_plan, "plan-vs-measured": plan_vs_measured, "qwen-test-h100": qwen_test_h100, "fastpath-cpu": fastpath_cpu, "startup-h100": startup_h100}


def render(readme: str) -> str:
    for name, make in SECTIONS.items():
        pattern = re.compile(rf"(<!-- BEGIN {name} -->\n)(?:.*?\n)?(<!-- END {name} -->)", re.DOTALL)
        if not pattern.search(readme):
            raise SystemExit(f"README.md has no <!-- BEGIN {name} --> ... <!-- END {name} --> block")
        readme = pattern.sub(lambda m: m.group(1) + make() + "\n" + m.group(2), readme)
    return readme


def main() -> int:
    path = ROOT / "README.md"
    current = path.read_text(encoding="utf-8")
    fresh = render(current)
    if "--check" in sys.argv:
        if fresh != current:
            print("README.md is stale: run `uv run python scripts/readme_tables.py`")
            return 1
        print("README.md tables are up to date")
        return 0
    path.write_text(fresh, encoding="utf-8")
    print("README.md tables regenerated")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
