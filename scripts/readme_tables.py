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


SECTIONS = {"qwen-test-h100": qwen_test_h100, "fastpath-cpu": fastpath_cpu, "startup-h100": startup_h100}


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
