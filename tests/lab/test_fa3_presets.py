"""The lab's claims about the H200 calls of 2026-12-03 and 2026-12-04 (FA3 attention, DeepGEMM; one summary over
both folders) hold to their raw files: the YAML's `measured` words (speed and start-up), the choice of --preset
auto, and the memory plan for the new checkpoint layouts."""

from __future__ import annotations

import functools
import importlib.util
import json
import re
import tarfile
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
RUN = ROOT / "bench/results/h200/presets/2026-12-03"
STARTS = ROOT / "bench/results/h200/presets/2026-12-04"  # its summary.json covers both folders' calls


def rows() -> dict[tuple[str, int | None], dict]:
    data = json.loads((STARTS / "summary.json").read_text())
    return {(r["launch"], r.get("concurrency")): r for r in data["rows"] if "error" not in r}


def test_every_measured_row_ran_fa3_with_deep_gemm_bundled():
    data = json.loads((STARTS / "summary.json").read_text())
    named = set()  # calls 1 and 4: cold starts before FA3 had arrived, triton named (and only those rows)
    for call in data["calls"]:
        if "--attention-backend triton" in call["common_flags"]:
            named.add(call["call"])
        else:
            assert call["versions"]["fa3"] is True and "--attention-backend" not in call["common_flags"]
        assert call["versions"]["sgl-deep-gemm"] == "0.1.5.post1"
    assert named == {"2026-12-03/call-1", "2026-12-03/call-4"}
    assert {r["attention_backend"] for r in rows().values() if r["call"] not in named} == {"fa3"}
    assert {r["jit_cache"] for r in rows().values() if r["call"] in named} == {"cold"}


@functools.cache
def script(relative: str):
    """A lab script (bench/presets.py, scripts/readme_tables.py) as a module."""
    spec = importlib.util.spec_from_file_location(Path(relative).stem, ROOT / relative)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def span(starts: list[dict]) -> str:
    """A preset's starts in the YAML's words, as the tables give them (scripts/readme_tables.py's own `_span`): one
    figure, or the range over the machines it started on."""
    return script("scripts/readme_tables.py")._span([r["ready_s"] for r in starts])


@pytest.mark.parametrize(
    "preset", ["awq", "fp8", "balanced", "fp8_checkpoint", "high_performance", "memory_optimized", "ultra_low_memory"]
)
def test_the_presets_start_up_words_are_the_summarys_figures(preset):
    """A start on an empty JIT-cache folder and the next on the same folder, as the YAML says them (the range where
    a preset started on several machines). A start cut at its own ready-timeout (awq's in call 12-04/1) is no
    figure: only finished starts count."""
    measured = yaml.safe_load((ROOT / "server_config.yaml").read_text())["presets"][preset]["measured"]
    data = json.loads((STARTS / "summary.json").read_text())
    done = [r for r in data["rows"] if r.get("concurrency") is None and "error" not in r]
    warm = [r for r in done if r["launch"] == f"warm:{preset}"]
    if warm:
        assert f"{span(warm)} with the JIT cache kept" in measured
    else:  # no start on its kept folder: the words claim none
        assert "with the JIT cache kept" not in measured
    cold = [r for r in done if r["launch"] == f"cold:{preset}" and r["attention_backend"] == "fa3"]
    assert cold, f"{preset}: no finished first start on FA3 in the summary"
    assert f"first start {span(cold)}" in measured


@pytest.mark.parametrize("preset", ["awq", "fp8_checkpoint", "balanced"])
def test_the_progress_lines_start_up_figures_are_the_summarys(preset):
    """The words a user reads while SGLang compiles ("awq's first start on the H200: 595 s, 85 s kept") and the
    humming launch note are figures of this summary, not typed from elsewhere."""
    from qwen_serve.pipeline import LaunchRequest, prepare

    command = prepare(LaunchRequest(preset=preset, gpu_spec="H200")).command
    words = " ".join([dict(command.phase_labels)["cuda_graphs"], *command.notes])
    claims = re.findall(r"(\w+)'s first start on the H200: ([\d–]+ s), ([\d–]+ s) kept", words)
    assert claims, words
    data = json.loads((STARTS / "summary.json").read_text())
    done = [r for r in data["rows"] if r.get("concurrency") is None and "error" not in r]
    for named, first, kept in claims:
        cold = [r for r in done if r["launch"] == f"cold:{named}" and r["attention_backend"] == "fa3"]
        warm = [r for r in done if r["launch"] == f"warm:{named}"]
        assert (first, kept) == (span(cold), span(warm)), (named, words)


MEASURED = [
    n for n, p in yaml.safe_load((ROOT / "server_config.yaml").read_text())["presets"].items() if p.get("measured")
]


@pytest.mark.parametrize("preset", MEASURED)
def test_the_presets_measured_words_are_the_summarys_figures(preset):
    launch = f"preset:{preset}"
    measured = yaml.safe_load((ROOT / "server_config.yaml").read_text())["presets"][preset]["measured"]
    r = rows()
    one, many = r[(launch, 1)]["ratio_to_bf16"], r[(launch, 64)]["ratio_to_bf16"]
    assert "H200, FA3 attention" in measured  # every `measured:` is a row of this summary, none typed from elsewhere
    assert f"{one:.2f}x at concurrency 1" in measured and f"{many:.2f}x at 64" in measured


def test_auto_order_puts_first_what_served_most_under_load():
    order = yaml.safe_load((ROOT / "server_config.yaml").read_text())["auto_order"]["fp8"]
    r = rows()
    fp8_family = [p for p in order if (f"preset:{p}", 64) in r and p.startswith("fp8")]
    assert fp8_family == sorted(fp8_family, key=lambda p: -r[(f"preset:{p}", 64)]["ratio_to_bf16"])


def _log(call: str, row: str) -> str:
    with tarfile.open(RUN / f"{call}.tar.gz") as tar:
        member = next(m for m in tar.getmembers() if m.name.endswith(f"{row}/server.sglang.log"))
        return tar.extractfile(member).read().decode(errors="replace")


@pytest.mark.parametrize(
    "hub_id, call, row, kv",
    [
        ("Qwen/Qwen3-14B-FP8", "call-2", "preset_fp8_checkpoint", "fp8_e4m3"),
        ("Qwen/Qwen3-14B-AWQ", "call-3", "preset_awq", None),
    ],
)
def test_the_plan_of_each_checkpoint_layout_is_within_one_percent_of_sglangs_log(tmp_path, hub_id, call, row, kv):
    from qwen_serve.hardware import parse_gpu_spec
    from qwen_serve.model import OFFICIAL_CHECKPOINTS, QWEN3_14B_CONFIG
    from qwen_serve.plan import plan

    folder = tmp_path / "layout"
    folder.mkdir()
    (folder / "config.json").write_text(
        json.dumps(dict(QWEN3_14B_CONFIG, quantization_config=OFFICIAL_CHECKPOINTS[hub_id]))
    )
    log = _log(call, row)
    weight_gb = float(re.search(r"Load weight end\..*?mem usage=([\d.]+) GB", log).group(1))
    kv_tokens = int(re.search(r"KV Cache is allocated\..*?#tokens: (\d+)", log).group(1))
    p = plan({"model_path": str(folder), "kv_cache_dtype": kv}, parse_gpu_spec("H200").gpu, 1)
    # the present accuracy of the plan against SGLang's log (tests/test_plan.py): 1 %
    assert p.weights_gib == pytest.approx(weight_gb, rel=0.01)
    assert p.kv_tokens == pytest.approx(kv_tokens, rel=0.01)
    peak = rows()[(row.replace("preset_", "preset:"), 1)]["peak_load_gib"]
    assert p.peak_load_gib >= peak  # never under what the GPU was seen to hold while loading


def test_the_summary_is_made_from_the_raw_files():
    presets = script("bench/presets.py")
    made = presets.summarize(sorted(RUN.glob("call-*.tar.gz")))
    assert made["rows"] == json.loads((RUN / "summary.json").read_text())["rows"]
    cold = [r for r in made["rows"] if r["launch"].startswith("cold:") and "error" not in r]
    assert cold and all(r["baseline"] is None and r["ratio_to_bf16"] is None for r in cold)
    both = presets.summarize(sorted(RUN.glob("call-*.tar.gz")) + sorted(STARTS.glob("call-*.tar.gz")))
    assert both["rows"] == json.loads((STARTS / "summary.json").read_text())["rows"]
    starts = [r for r in both["rows"] if r.get("concurrency") is None and "error" not in r]
    assert {r["launch"] for r in starts} == {
        "cold:fp8",
        "warm:fp8",
        "cold:awq",
        "warm:awq",
        "cold:balanced",
        "warm:balanced",
        "cold:fp8_checkpoint",
        "warm:fp8_checkpoint",
        "cold:high_performance",
        "warm:high_performance",
        "cold:memory_optimized",
        "warm:memory_optimized",
        "cold:ultra_low_memory",
        "warm:ultra_low_memory",
    }
    assert all(r["attention_backend"] == "fa3" and r["startup_s"]["prefill_graphs"] > 0 for r in starts)
