"""bench/presets.py summarize: the committed preset table is what the committed raw files say."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RUN = ROOT / "bench/results/h200/presets/2026-12-02"


def presets_script():
    spec = importlib.util.spec_from_file_location("presets", ROOT / "bench" / "presets.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_summary_is_made_from_the_raw_files():
    made = presets_script().summarize(sorted(RUN.glob("call-*.tar.gz")))
    committed = json.loads((RUN / "summary.json").read_text())
    later = {"baseline", "ratio_to_baseline", "workload"}  # fields summarize gained after this run's summary
    assert [{k: v for k, v in r.items() if k not in later} for r in made["rows"]] == committed["rows"]
    assert {r["baseline"] for r in made["rows"] if "baseline" in r} == {"sglang-bf16"}
    ratios = [r for r in made["rows"] if r.get("ratio_to_bf16") is not None]
    assert ratios and all(r["ratio_to_baseline"] == r["ratio_to_bf16"] for r in ratios)


def test_a_level_is_a_concurrency_or_the_shared_prefix_workload():
    presets = presets_script()
    assert [presets.level_concurrency(x) for x in ("1", "64", "shared128")] == [1, 64, 128]
