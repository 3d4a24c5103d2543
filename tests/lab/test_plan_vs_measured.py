"""The memory plan against the logs and measurements of the GPU runs (bench/results): the lab's hold on the plan's
fitted constants. The plan's own arithmetic is tested in tests/test_plan.py without any results."""

from __future__ import annotations

import gzip
import json
import re
import tarfile
from pathlib import Path

import pytest

from qwen_serve.hardware import parse_gpu_spec
from qwen_serve.launch import request_from_args, settings_for
from qwen_serve.plan import plan

ROOT = Path(__file__).resolve().parents[2]
H100 = parse_gpu_spec("H100").gpu
QWEN = {"model_path": "Qwen/Qwen3-14B"}


def sglang_log_facts(text: str) -> dict:
    grab = lambda p: re.findall(p, text)[-1]  # noqa: E731
    return {
        "weight_gb": float(grab(r"Load weight end\..*?mem usage=([\d.]+) GB")),
        "kv_tokens": int(grab(r"KV Cache is allocated\..*?#tokens: (\d+)")),
        "mem_fraction_static": float(grab(r"mem_fraction_static=([\d.]+)")),
    }


def measured_runs():
    run2 = ROOT / "bench/results/h100/qwen_test/2026-11-25-run2/server.log"
    yield "H100 cuda graphs", H100, True, run2.read_text(errors="replace")
    with tarfile.open(ROOT / "bench/results/h100/startup/2026-11-25-no-cuda-graph/logs.tar.gz") as tar:
        yield "H100 no cuda graph", H100, False, tar.extractfile("./run0-direct.log").read().decode(errors="replace")
    # the H200 (143771 MiB) of the 2026-12-01 bench runs: the same preset, a card the plan was not fitted to
    h200 = ROOT / "bench/results/h200/bench/2026-12-01/c8/server.log.gz"
    yield (
        "H200 cuda graphs",
        parse_gpu_spec("H200").gpu,
        True,
        gzip.decompress(h200.read_bytes()).decode(errors="replace"),
    )


@pytest.mark.parametrize(
    "label, gpu, cuda_graph, log", list(measured_runs()), ids=lambda x: x if isinstance(x, str) and len(x) < 20 else ""
)
def test_plan_matches_the_sglang_log(label, gpu, cuda_graph, log):
    measured = sglang_log_facts(log)
    p = plan({**QWEN, "tp_size": 1}, gpu, 1, cuda_graph=cuda_graph)
    assert p.mem_fraction_static == measured["mem_fraction_static"]
    assert p.weights_gib == pytest.approx(measured["weight_gb"], rel=0.01)
    assert p.kv_tokens == pytest.approx(measured["kv_tokens"], rel=0.01)


def test_plan_against_every_configuration_measured_on_the_h100():
    """Weights and KV tokens within 10 %; the peak at load never under-estimated."""
    data = json.loads((ROOT / "bench/results/h100/plan/2026-11-25/plan_vs_measured.json").read_text())
    assert {r["name"] for r in data["rows"]} == {"bf16", "fp8_native", "bf16_fp8kv"}
    for row in data["rows"]:
        p = plan(settings_for(request_from_args(row["qwen_serve_args"])), H100, 1, cuda_graph=False)
        m = row["measured"]
        assert p.mem_fraction_static == m["mem_fraction_static"]
        assert p.weights_gib == pytest.approx(m["weight_gib"], rel=0.10), row["name"]
        assert p.kv_tokens == pytest.approx(m["kv_tokens"], rel=0.10), row["name"]
        assert p.peak_load_gib >= m["peak_load_gib"], row["name"]


def test_plan_against_every_torchao_run_on_the_h100():
    """The torchao runs (bench/results/h100/torchao/): the plan's scratch and fragmentation figures
    were fitted to them, so this guards against drift: weights after quantizing and KV tokens within
    3 %, the peak at load never under-estimated by more than 0.05 GiB."""
    rows = [
        row
        for path in sorted((ROOT / "bench/results/h100/torchao").glob("2026-*/plan_vs_measured*.json"))
        for row in json.loads(path.read_text())["rows"]
    ]
    torchao = [r for r in rows if settings_for(request_from_args(r["qwen_serve_args"]))["torchao_config"]]
    assert {settings_for(request_from_args(r["qwen_serve_args"]))["torchao_config"] for r in torchao} == {
        "int4wo-128",
        "int4wo-64",
        "int8wo",
        "fp8dq-per_tensor",
        "fp8dq-per_row",
    }
    assert any(settings_for(request_from_args(r["qwen_serve_args"]))["load_format"] == "layered" for r in torchao)
    for row in torchao:
        p, m = plan(settings_for(request_from_args(row["qwen_serve_args"])), H100, 1, cuda_graph=False), row["measured"]
        assert m["ready"], row["name"]
        if "weights_after_quantization_gib" in m:
            assert p.weights_gib == pytest.approx(m["weights_after_quantization_gib"], rel=0.03), row["name"]
        assert p.kv_tokens == pytest.approx(m["kv_tokens"], rel=0.03), row["name"]
        assert p.peak_load_gib >= m["peak_load_gib"] - 0.05, row["name"]
