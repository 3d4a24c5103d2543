"""The memory plan: hand-computed values, SGLang's reservation logic, and the H100's own logs."""

from __future__ import annotations

import json
import sys

import pytest
from conftest import free_port

from qwen_serve.hardware import parse_gpu_spec
from qwen_serve.model import qwen3_14b
from qwen_serve.plan import GIB, default_memory_rules, plan, weights

H100 = parse_gpu_spec("H100").gpu
QWEN = {"model_path": "Qwen/Qwen3-14B"}


def test_qwen3_14b_parameter_count_by_hand():
    m = qwen3_14b()
    per_layer = 2 * 5120 * 5120 + 2 * 1024 * 5120 + 3 * 17408 * 5120  # q, o; k, v; gate, up, down
    assert m.linear_params == 40 * per_layer == 13_212_057_600
    assert m.embedding_params == 2 * 151936 * 5120  # untied: embedding + lm_head
    assert m.params == 14_768_307_200


def test_bf16_weights_by_hand():
    w = weights(qwen3_14b(), "bf16")
    assert w.total_bytes == 2 * 14_768_307_200 and round(w.total_bytes / GIB, 2) == 27.51
    # + 0.02 GiB of buffers: SGLang reports 27.53 GiB on the H100
    assert round(w.per_gpu_bytes / GIB, 2) == 27.53 and w.peak_load_bytes > w.per_gpu_bytes


def test_int4wo_128_weights_by_hand():
    w = weights(qwen3_14b(), "torchao:int4wo-128")
    linear = 13_212_057_600 / 2 + 13_212_057_600 / 128 * 4  # 4-bit + bf16 scale and zero per 128
    rest = 2 * (2 * 151936 * 5120 + 424_960)  # embedding, lm_head, norms stay bf16
    assert w.total_bytes == pytest.approx(linear + rest)
    assert round(w.total_bytes / GIB, 2) == 9.44
    # SGLang 0.5.17 loads the whole bf16 model before torchao quantizes it
    assert w.peak_load_bytes > weights(qwen3_14b(), "bf16").total_bytes
    layered = weights(qwen3_14b(), "torchao:int4wo-128", layered=True)
    assert layered.peak_load_bytes < 12.5 * GIB  # measured 12.34 GiB on the H100 (docs/seed.md)


def test_kv_bytes_per_token_bf16_and_fp8():
    m = qwen3_14b()
    assert m.kv_bytes_per_token("auto") == 2 * 40 * 8 * 128 * 2 == 160 * 1024
    assert m.kv_bytes_per_token("fp8_e5m2") == m.kv_bytes_per_token("fp8_e4m3") == 80 * 1024


def test_tensor_parallel_splits_weights_and_kv():
    one = plan({**QWEN, "tp_size": 1}, H100, 2)
    two = plan({**QWEN, "tp_size": 2}, H100, 2)
    assert two.weights_gib == pytest.approx(one.weights_gib / 2, abs=0.01)
    assert two.kv_bytes_per_token == one.kv_bytes_per_token // 2
    assert not plan({**QWEN, "tp_size": 2}, H100, 1).fits


def test_sglang_prefill_graph_sizes_and_mem_fraction():
    rules = default_memory_rules()  # the locked release's (0.5.17), which the H100's log came from
    assert len(rules.prefill_graph_sizes(8192)) == 58  # the H100 log lists 58 prefill graph sizes
    assert rules.auto_mem_fraction_static(81559, 1) == 0.83
    assert rules.auto_mem_fraction_static(81559, 1, cuda_graph=False) == 0.841


def test_seed_gpus_verdicts():
    rtx4090 = parse_gpu_spec("RTX 4090").gpu
    assert not plan(QWEN, rtx4090).fits  # bf16 weights alone exceed 24 GB
    balanced = plan({**QWEN, "torchao_config": "int4wo-128"}, rtx4090)
    assert not balanced.fits and "whole bf16 model first" in balanced.verdict
    assert plan({**QWEN, "torchao_config": "int4wo-128", "load_format": "layered"}, rtx4090).fits
    for spec in ("RTX 3060 8GB", "RTX 3080 12GB"):
        assert not plan(
            {**QWEN, "torchao_config": "int4wo-256", "load_format": "layered"}, parse_gpu_spec(spec).gpu
        ).fits
    assert plan(QWEN, parse_gpu_spec("A100-80GB").gpu).fits
    assert plan({**QWEN, "torchao_config": "fp8dq-per_tensor"}, H100).fits
    fp8_on_ampere = plan({**QWEN, "torchao_config": "fp8dq-per_tensor"}, parse_gpu_spec("A100-80GB").gpu)
    assert not fp8_on_ampere.fits and "compute capability >= 8.9" in fp8_on_ampere.verdict


@pytest.mark.parametrize(
    "spec, count, name",
    [
        ("H100x2", 2, "H100 80GB HBM3"),
        ("A100-80GB x4", 4, "A100 80GB"),
        ("RTX 4090", 1, "RTX 4090"),
        ("24GiB,sm89", 1, "24 GiB, sm89"),
    ],
)
def test_gpu_specs(spec, count, name):
    hw = parse_gpu_spec(spec)
    assert hw.count == count and hw.gpu.name == name


def test_plan_command_tables(qwen_serve):
    for spec in ("RTX 4090", "A100-80GB", "H100"):
        result = qwen_serve("plan", "--gpu", spec)
        assert result.exit_code == 0, result.stderr
        assert "balanced" in result.stdout and "ultra_low_memory" in result.stdout
    data = qwen_serve("plan", "--gpu", "H100", "--preset", "high_performance", "--json").json()
    (p,) = data["plans"]
    assert (p["weights_gib"], p["kv_tokens"], p["fits"]) == (27.53, 246577, True)


def test_plan_without_a_gpu_or_with_an_unknown_one(qwen_serve):
    result = qwen_serve("plan", "--gpu", "RTX 9999")
    assert result.exit_code == 2 and "unknown GPU 'RTX 9999'" in result.stderr and "RTX 4090" in result.stderr


def test_dry_run_shows_the_plan(qwen_serve):
    out = qwen_serve("--preset", "balanced_torchao", "--gpu", "H100", "--dry-run").stdout
    assert "plan: memory plan on H100 80GB HBM3" in out and "355,515 tokens" in out
    data = qwen_serve("--preset", "high_performance", "--gpu", "RTX 4090", "--dry-run", "--json").json()
    assert data["plan"]["fits"] is False and "27.5 GiB of weights leave no KV cache" in data["plan"]["summary"]


def test_layered_loading_is_chosen_when_only_it_fits(qwen_serve):
    data = qwen_serve("--preset", "balanced_torchao", "--gpu", "RTX 4090", "--dry-run", "--json").json()
    settings = {s["key"]: s for s in data["settings"]}
    assert settings["load_format"]["value"] == "layered" and settings["load_format"]["origin"].startswith("plan")
    assert "--load-format layered" in data["command"] and data["plan"]["fits"] is True
    assert data["plan"]["peak_load_gib"] < 12.5
    # the dry run says that, and why, SGLang's layered loader is replaced
    text = qwen_serve("--preset", "balanced_torchao", "--gpu", "RTX 4090", "--dry-run").stdout
    assert (
        "note: --load-format layered (plan (the bf16 model would not fit at load)): qwen_serve.sglang.entry also "
        "replaces SGLang 0.5.17's LayeredModelLoader.load_model with qwen_serve/sglang/layered_load.py" in text
    )
    # where the bf16 model fits at load, nothing changes; a load format the user chose is kept
    assert (
        "--load-format"
        not in qwen_serve("--preset", "balanced_torchao", "--gpu", "H100", "--dry-run", "--json").json()["command"]
    )
    kept = qwen_serve(
        "--preset", "balanced_torchao", "--gpu", "RTX 4090", "--load-format", "safetensors", "--dry-run", "--json"
    ).json()
    assert "--load-format safetensors" in kept["command"] and kept["plan"]["fits"] is False


def test_a_launch_that_cannot_fit_is_refused_before_anything_starts(qwen_serve, tmp_path):
    from qwen_serve.model import QWEN3_14B_CONFIG

    (tmp_path / "config.json").write_text(json.dumps(QWEN3_14B_CONFIG))
    result = qwen_serve(
        "--preset", "high_performance", "--gpu", "RTX 4090", "--model-path", str(tmp_path), "--port", str(free_port())
    )
    assert result.exit_code == 2
    (line,) = [x for x in result.stderr.splitlines() if x.strip()]
    assert "does not fit" in line and "or --force" in line and "launching" not in result.stderr


def test_a_broken_model_config_is_one_clear_line(qwen_serve, tmp_path):
    (tmp_path / "config.json").write_text(json.dumps({"hidden_size": 1}))
    result = qwen_serve("--gpu", "H100", "--model-path", str(tmp_path), "--dry-run")
    assert result.exit_code == 2 and "config.json: num_hidden_layers is None" in result.stderr


@pytest.mark.parametrize(
    "gpu, chosen",
    [
        ("H100", "fp8_checkpoint"),
        ("A100 40GB", "balanced"),
        ("A100-80GB", "high_performance"),
        ("H100x2", "fp8_checkpoint"),
        ("L40S", "fp8"),
        ("RTX 4090", "balanced"),
    ],
)
def test_preset_auto_picks_the_best_that_fits_with_a_useful_kv_cache(qwen_serve, gpu, chosen):
    result = qwen_serve("--preset", "auto", "--gpu", gpu, "--dry-run", "--json")
    assert result.exit_code == 0, result.stderr
    data = result.json()
    assert data["preset"] == chosen and data["plan"]["auto"].startswith(f"preset auto -> {chosen}")
    assert ">= 32,768 KV tokens" in data["plan"]["auto"]


def test_preset_auto_explains_a_skipped_preset(qwen_serve):
    out = qwen_serve("--preset", "auto", "--gpu", "A100 40GB", "--dry-run").stdout
    assert "skipped high_performance (29," in out  # bf16 fits 40 GB but leaves < 32k KV tokens


def test_preset_auto_when_nothing_fits(qwen_serve):
    result = qwen_serve("--preset", "auto", "--gpu", "RTX 3080 12GB", "--dry-run")
    assert result.exit_code == 2 and "no preset of server_config.yaml fits RTX 3080 12GB" in result.stderr


def test_preset_auto_needs_a_gpu(qwen_serve, monkeypatch):
    from qwen_serve import hardware

    monkeypatch.setattr(hardware, "detect", lambda: None)
    result = qwen_serve("--preset", "auto", "--dry-run")
    assert result.exit_code == 2 and "--preset auto needs the GPU" in result.stderr
    # the fix it gives must work here (it once launched SGLang on no GPU, a traceback 45 s later): it plans
    fix = result.stderr.split("fix: ", 1)[1].split(":", 1)[1].split(" (or", 1)[0].strip()
    import shlex

    followed = qwen_serve(*shlex.split(fix)[2:] if fix.startswith("qwen-serve") else shlex.split(fix))
    assert followed.exit_code == 0 and "preset auto ->" in followed.stdout, (fix, followed.stderr)


def test_auto_order_must_name_presets(qwen_serve, write_yaml):
    path = write_yaml("auto_order: [fast]\npresets:\n  slow: {}\n")
    result = qwen_serve("--config", path, "--dry-run")
    assert result.exit_code == 2 and "auto_order must list preset names" in result.stderr


def test_cuda_visible_devices_decides_which_gpus_are_planned_for():
    from qwen_serve.hardware import visible_indices

    uuids = ["GPU-aaaa1111-0000", "GPU-bbbb2222-0000", "GPU-cccc3333-0000"]
    assert visible_indices(None, uuids) is None  # unset: every GPU
    assert visible_indices("0", uuids) == [0]
    assert visible_indices("2,0", uuids) == [2, 0]
    assert visible_indices("GPU-bbbb2222-0000,0", uuids) == [1, 0]
    assert visible_indices("bbbb", uuids) == [1]  # a UUID prefix, as CUDA accepts
    assert visible_indices("1,7,0", uuids) == [1]  # CUDA stops at the first invalid entry
    assert visible_indices("0,0", uuids) == [0]
    assert visible_indices("", uuids) == []  # no GPU at all
    assert visible_indices("MIG-5c8a…", uuids) is None  # not mapped: every GPU counts


def test_detect_keeps_only_the_gpus_cuda_will_show(monkeypatch):
    # NVML lists every GPU of the machine whatever CUDA_VISIBLE_DEVICES says; SGLang sees only those it leaves
    import types

    from qwen_serve import hardware

    class NVMLError(Exception):
        pass

    cards = [("GPU-aaaa", 81559), ("GPU-bbbb", 40960)]
    fake = types.SimpleNamespace(
        NVMLError=NVMLError,
        nvmlInit=lambda: None,
        nvmlShutdown=lambda: None,
        nvmlDeviceGetCount=lambda: len(cards),
        nvmlDeviceGetHandleByIndex=lambda i: i,
        nvmlDeviceGetUUID=lambda h: cards[h][0],
        nvmlDeviceGetName=lambda h: f"card {h}",
        nvmlDeviceGetMemoryInfo=lambda h: types.SimpleNamespace(total=cards[h][1] * 2**20, free=cards[h][1] * 2**20),
        nvmlDeviceGetCudaComputeCapability=lambda h: (9, 0),
        nvmlSystemGetDriverVersion=lambda: "580.159.04",
        nvmlSystemGetCudaDriverVersion=lambda: 13000,
    )
    monkeypatch.setitem(sys.modules, "pynvml", fake)
    monkeypatch.setattr(hardware.sys, "platform", "nvidia-test")  # past the /dev/nvidiactl shortcut
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)
    assert hardware.detect().count == 2
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "1")
    hw = hardware.detect()
    assert [g.name for g in hw.gpus] == ["card 1"] and hw.source == "nvml, CUDA_VISIBLE_DEVICES=1"
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "")
    assert hardware.detect() is None


def test_presets_that_fit_are_planned_as_each_would_launch(qwen_serve, write_yaml):
    """The hint of a launch that does not fit plans every other preset resolved on its own: the
    current preset's values must not leak into them (they did: mem_fraction_static here)."""
    path = write_yaml("inherit_bundled: false\npresets:\n  tight: {mem_fraction_static: 0.1}\n  roomy: {}\n")
    data = qwen_serve("--dry-run", "--json", "--config", path, "--preset", "tight", "--gpu", "H100").json()
    assert data["plan"]["fits"] is False
    summary = qwen_serve("--dry-run", "--config", path, "--preset", "tight", "--gpu", "H100").stdout
    assert "presets of cfg.yaml that fit: roomy" in summary
