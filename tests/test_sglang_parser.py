"""The command qwen-serve builds, parsed by SGLang's real parser (installed sglang 0.5.17, CPU only).

These tests import sglang (about 12 s once) and never skip: `uv sync` installs it.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from qwen_serve.config import load_config
from qwen_serve.errors import QwenServeError
from qwen_serve.resolve import resolve
from qwen_serve.sglang.argv import build_command
from qwen_serve.sglang.capabilities import PINNED_SGLANG, installed_sglang_version, target_for
from qwen_serve.sglang.check import check_command, parse_with_sglang

ROOT = Path(__file__).resolve().parents[1]
FILES = ("server_config.yaml", "config_examples.yaml")
ALL_PRESETS = [(f, p) for f in FILES for p in load_config(ROOT / f).presets]
CLI_OVERRIDES = [
    {},
    {"tp_size": "4"},
    {"tp_size": "2", "mem_fraction_static": "0.8", "port": "31000", "host": "127.0.0.1"},
    {"enable_flashinfer": True},
    {"enable_torch_compile": True, "kv_cache_dtype": "fp8_e4m3"},
    {"quantization": "fp8", "torchao_config": None},
    {"api_key": "sk-test-0123", "served_model_name": "qwen3-14b", "context_length": "16384"},
    {"attention_backend": "triton", "sampling_backend": "pytorch", "load_format": "dummy"},
]


def test_the_pinned_sglang_is_installed():
    assert installed_sglang_version() == PINNED_SGLANG


def command_for(file: str, preset: str | None, cli: dict, passthrough=()):
    launch = resolve(load_config(ROOT / file), preset, cli, passthrough)
    return build_command(launch, target_for(None))


@pytest.mark.parametrize("file, preset", ALL_PRESETS)
@pytest.mark.parametrize("cli", CLI_OVERRIDES, ids=lambda c: ",".join(c) or "no-overrides")
def test_every_preset_parses_as_intended(file, preset, cli):
    if cli.get("quantization") and load_config(ROOT / file).presets[preset].values.get("torchao_config"):
        with pytest.raises(QwenServeError, match="would quantize the model twice"):  # torchao and fp8: refused
            command_for(file, preset, cli)
        return
    command = command_for(file, preset, cli)
    result = check_command(command)
    assert result.accepted, result.error
    assert result.mismatches == ()
    assert result.checked >= 5


def parsed(file, preset, cli=None, passthrough=()):
    return parse_with_sglang(command_for(file, preset, cli or {}, passthrough).sglang_argv)


def test_balanced_means_humming_and_balanced_torchao_int4wo_128():
    ns = parsed("server_config.yaml", "balanced")
    assert ns.quantization == "humming" and not ns.torchao_config
    assert parsed("server_config.yaml", "balanced_torchao").torchao_config == "int4wo-128"
    assert ns.model_path == "Qwen/Qwen3-14B"
    assert ns.port == 30000 and ns.host == "0.0.0.0" and ns.tp_size == 1
    assert ns.reasoning_parser == "qwen3"
    assert ns.tool_call_parser == "qwen"  # Qwen's own line (qwen25, the same parser's deprecated name)


def test_fp8_hopper_example_means_native_fp8_with_fp8_kv():
    ns = parsed("config_examples.yaml", "fp8_hopper_example")
    assert ns.quantization == "fp8" and ns.kv_cache_dtype == "fp8_e4m3" and not ns.torchao_config
    assert parsed("server_config.yaml", "fp8_torchao").torchao_config == "fp8dq-per_tensor"


def test_multi_gpu_example_and_cli_tp():
    assert parsed("config_examples.yaml", "multi_gpu_4x24gb_example").tp_size == 4
    assert parsed("server_config.yaml", "balanced", {"tp_size": "4"}).tp_size == 4


def test_enable_flashinfer_means_attention_backend_flashinfer():
    ns = parsed("server_config.yaml", "balanced", {"enable_flashinfer": True})
    assert ns.attention_backend == "flashinfer"


def test_ultra_low_memory_means_what_it_says():
    ns = parsed("server_config.yaml", "ultra_low_memory")
    assert (ns.quantization, ns.kv_cache_dtype, ns.context_length, ns.max_running_requests) == (
        "humming",
        "fp8_e4m3",
        8192,
        16,
    )
    assert parsed("server_config.yaml", "ultra_low_memory_torchao").torchao_config == "int8wo"  # the seed's choice


def test_passthrough_and_sglang_args_reach_the_parser():
    ns = parsed("server_config.yaml", None, {}, ("--enable-cache-report", "--schedule-policy", "lpm"))
    assert ns.enable_cache_report is True and ns.schedule_policy == "lpm"


def test_a_wrong_value_would_be_caught_by_the_real_parser():
    # the check is not a rubber stamp: SGLang's parser rejects what it does not know
    with pytest.raises(ValueError, match="invalid choice"):
        parse_with_sglang(["--model-path", "x", "--kv-cache-dtype", "int8"])


def test_check_flag_runs_the_real_parser(qwen_serve):
    result = qwen_serve("--preset", "balanced", "--check")
    assert result.exit_code == 0, result.stderr
    assert "sglang 0.5.17's own parser accepts the command" in result.stdout
    assert "sglang" in sys.modules
