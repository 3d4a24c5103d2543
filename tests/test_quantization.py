"""The quantization paths: humming's settings and environment, FP8 with an FP8 KV cache, checkpoints
that say their own quantization, --preset auto by GPU class, and each preset's plan (the plan against the
measured H200 runs is the lab's: tests/lab/test_preset_logs.py)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from qwen_serve.config import load_config
from qwen_serve.hardware import parse_gpu_spec
from qwen_serve.pipeline import PlanTarget, auto_preset
from qwen_serve.plan import plan, weight_scheme
from qwen_serve.resolve import resolve

H200 = parse_gpu_spec("H200").gpu
HUMMING_ENV = "SGLANG_HUMMING_ONLINE_QUANT_CONFIG"


def test_balanced_sets_humming_environment_with_origins(qwen_serve):
    result = qwen_serve("--dry-run", "--json", "--preset", "balanced", "--gpu", "H200")
    assert result.exit_code == 0, result.stderr
    data = result.json()
    assert "--quantization humming" in data["command"] and data["command"].startswith(f"{HUMMING_ENV}=")
    [env] = [e for e in data["env"] if not e["default"]]  # the JIT cache folders aside
    assert env["name"] == HUMMING_ENV and json.loads(env["value"]) == {"dtype": "int4", "group_size": 128}
    assert env["origin"] == "preset balanced"
    assert any("NVRTC" in note and "HUMMING_CACHE_DIR" in note for note in data["notes"])


def test_cli_humming_flags_override_the_preset(qwen_serve):
    result = qwen_serve(
        "--dry-run",
        "--json",
        "--preset",
        "balanced",
        "--gpu",
        "H200",
        "--humming-group-size",
        "64",
        "--humming-input-dtype",
        "float8e4m3",
    )
    data = result.json()
    envs = {e["name"]: e for e in data["env"]}
    assert json.loads(envs[HUMMING_ENV]["value"]) == {"dtype": "int4", "group_size": 64}
    assert "group cli" in envs[HUMMING_ENV]["origin"]
    assert json.loads(envs["SGLANG_HUMMING_INPUT_QUANT_CONFIG"]["value"]) == {"dtype": "float8e4m3"}
    assert data["plan"]["scheme"] == "humming:int4-g64"


@pytest.mark.parametrize(
    "args, key, allowed",
    [
        (("--humming-weight-dtype", "int5"), "humming_weight_dtype: 'int5'", "int4, int8"),
        (("--humming-group-size", "100"), "humming_group_size: 100", "32, 64, 128 or 256"),
        (("--humming-input-dtype", "fp8"), "humming_input_dtype: 'fp8'", "float8e4m3"),
    ],
)
def test_bad_humming_values_are_one_line(qwen_serve, args, key, allowed):
    result = qwen_serve("--dry-run", "--preset", "balanced", "--gpu", "H200", *args)
    assert result.exit_code == 2
    [line] = result.error_lines
    assert key in line and allowed in line and "fix:" in line


def test_humming_settings_without_humming_quantization_are_refused(qwen_serve):
    result = qwen_serve("--dry-run", "--preset", "fp8", "--gpu", "H200", "--humming-weight-dtype", "int4")
    assert result.exit_code == 2
    [line] = result.error_lines
    assert "only applies with quantization: humming" in line and "'fp8' (preset fp8)" in line


def test_humming_on_a_bf16_checkpoint_needs_a_weight_dtype(qwen_serve, tmp_path):
    (tmp_path / "config.json").write_text(json.dumps({"architectures": ["Qwen3ForCausalLM"]}))
    result = qwen_serve("--dry-run", "--quantization", "humming", "--model-path", str(tmp_path), "--force")
    assert result.exit_code == 2 and "needs humming_weight_dtype" in result.stderr
    (tmp_path / "config.json").write_text(json.dumps({"quantization_config": {"quant_method": "awq", "bits": 4}}))
    assert qwen_serve("--dry-run", "--quantization", "humming", "--model-path", str(tmp_path), "--force").exit_code == 0


def test_torchao_and_quantization_together_are_refused(qwen_serve):
    result = qwen_serve("--dry-run", "--preset", "balanced_torchao", "--quantization", "fp8", "--gpu", "H200")
    assert result.exit_code == 2
    [line] = result.error_lines
    assert "would quantize the model twice" in line and "preset balanced_torchao" in line


def test_missing_humming_package_is_one_line(qwen_serve, monkeypatch, tmp_path):
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "humming" else real(name, *a))
    (tmp_path / "config.json").write_text("{}")
    result = qwen_serve("--preset", "balanced", "--model-path", str(tmp_path), "--force")
    assert result.exit_code == 2
    [line] = result.error_lines
    assert "humming-kernels" in line and "uv sync" in line


def test_fp8_preset_has_an_fp8_kv_cache_and_halves_kv_bytes():
    launch = resolve(load_config(None), "fp8", {})
    settings = {s.name: s.value for s in launch.settings}
    assert settings["quantization"] == "fp8" and settings["kv_cache_dtype"] == "fp8_e4m3"
    p = plan(settings, H200)
    assert p.kv_bytes_per_token == 160 * 1024 // 2


@pytest.mark.parametrize(
    "gpu, expected",
    [
        ("H200", "fp8_checkpoint"),  # Hopper: Qwen's block-FP8 checkpoint through DeepGEMM
        ("L40S", "fp8"),  # Ada: no DeepGEMM, SGLang's per-channel FP8 of the bf16 weights
        ("A100-80GB", "high_performance"),
        ("RTX 4090", "balanced"),
        ("A100 40GB", "balanced"),
    ],
)
def test_auto_picks_by_gpu_class_and_fit(gpu, expected):
    hw = parse_gpu_spec(gpu)
    name, why = auto_preset(load_config(None), {}, PlanTarget(hw))
    assert name == expected, why
    assert why.startswith(f"preset auto -> {expected}")


def test_auto_order_per_class_is_validated(qwen_serve, write_yaml):
    path = write_yaml("auto_order: {ampere: [a]}\npresets:\n  a: {}\n")
    result = qwen_serve("--dry-run", "--config", path, "--preset", "auto", "--gpu", "H200")
    assert result.exit_code == 2 and "unknown GPU class 'ampere'" in result.stderr
    assert "hopper, fp8, default" in result.stderr


@pytest.mark.parametrize(
    "quant, scheme",
    [
        (
            {"quant_method": "awq", "bits": 4, "group_size": 128, "zero_point": True},
            "int4-checkpoint",
        ),  # Qwen/Qwen3-14B-AWQ
        (
            {"quant_method": "fp8", "activation_scheme": "dynamic", "weight_block_size": [128, 128]},
            "fp8-checkpoint",
        ),  # -FP8
        (None, "bf16"),
    ],
)
def test_plan_reads_the_checkpoint_quantization_config(tmp_path, quant, scheme):
    config = {
        "architectures": ["Qwen3ForCausalLM"],
        "hidden_size": 5120,
        "intermediate_size": 17408,
        "num_hidden_layers": 40,
        "num_attention_heads": 40,
        "num_key_value_heads": 8,
        "head_dim": 128,
        "vocab_size": 151936,
    }
    if quant:
        config["quantization_config"] = quant
    (tmp_path / "config.json").write_text(json.dumps(config))
    assert weight_scheme(None, None, str(tmp_path)) == scheme
    p = plan({"model_path": str(tmp_path)}, H200)
    assert p.scheme == scheme and p.fits


def test_humming_is_quantized_as_it_loads_so_balanced_fits_24gb_without_layered_loading():
    launch = resolve(load_config(None), "balanced", {})
    p = plan({s.name: s.value for s in launch.settings}, parse_gpu_spec("RTX 4090").gpu)
    assert p.fits and p.peak_note == "quantized as it loads" and p.peak_load_gib < 11


def test_dry_run_says_what_a_preset_measured(qwen_serve):
    import yaml

    measured = yaml.safe_load((Path(__file__).parents[1] / "server_config.yaml").read_text())["presets"]["balanced"][
        "measured"
    ]
    out = qwen_serve("--dry-run", "--preset", "balanced", "--gpu", "H200").stdout
    assert f"measured: {measured}" in out


def test_plan_shows_the_auto_ranking_and_choice(qwen_serve):
    out = qwen_serve("plan", "--gpu", "RTX 4090").stdout
    assert "preset auto -> balanced on RTX 4090: the first of fp8, balanced, memory_optimized" in out
    data = qwen_serve("plan", "--gpu", "A100-80GB", "--json").json()
    assert data["auto_order"][0] == "high_performance" and data["auto"].startswith("preset auto -> high_performance")


def test_a_typed_quantization_takes_the_presets_humming_settings_along(qwen_serve):
    data = qwen_serve("--dry-run", "--json", "--preset", "balanced", "--quantization", "fp8", "--gpu", "H200").json()
    assert [e for e in data["env"] if not e["default"]] == [] and "--quantization fp8" in data["command"]
    assert any("its humming_* settings are not used" in n for n in data["notes"])


@pytest.mark.parametrize(
    "preset, cli, named",
    [
        ("balanced", {}, ["humming JIT-compiles"]),
        ("fp8", {"enable_torch_compile": True}, ["torch.compile compiles the model", "/tmp/torchinductor_$USER"]),
        ("balanced", {"enable_torch_compile": True}, ["humming JIT-compiles", "torch.compile compiles"]),
        ("fp8", {}, []),
    ],
)
def test_what_a_first_launch_compiles_is_named_in_the_cuda_graph_phase(preset, cli, named):
    """The progress line during SGLang's CUDA-graph capture says what is compiling, not only that it waits."""
    from qwen_serve.pipeline import LaunchRequest, prepare

    labels = dict(prepare(LaunchRequest(preset=preset, cli_values=cli, gpu_spec="H200")).command.phase_labels)
    if not named:
        assert labels == {}  # the generic label of sglang.log.PHASES stays
    for words in named:
        assert words in labels["cuda_graphs"], labels
