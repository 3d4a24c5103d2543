"""Precedence: defaults < config file top level < preset < CLI flags actually typed."""

from __future__ import annotations

from qwen_serve.config import load_config, parse_config
from qwen_serve.resolve import PRECEDENCE, resolve
from qwen_serve.settings import FIELDS

LAYERED = """
port: 31000
tp_size: 2
kv_cache_dtype: fp8_e5m2
presets:
  mine:
    tp_size: 4
    torchao_config: int8wo
"""


def origins(launch):
    return {s.name: (s.value, s.origin) for s in launch.settings}


def test_precedence_is_written_once_in_order():
    """One ordered type: the words of help, --dry-run and the bundled YAML's comment come from it."""
    from pathlib import Path

    from qwen_serve.cli.serve import serve
    from qwen_serve.resolve import Layer

    assert [layer.name for layer in Layer] == ["DEFAULT", "BUNDLED", "CONFIG", "PRESET", "ENV", "CLI", "DERIVED"]
    assert PRECEDENCE == tuple(layer.words for layer in Layer)[:-1]
    line = " < ".join(PRECEDENCE)
    assert line in " ".join(serve.epilog.split())
    yaml_text = (Path(__file__).resolve().parents[1] / "server_config.yaml").read_text()
    comment = " ".join(w for row in yaml_text.splitlines()[3:6] for w in row.lstrip("#").split())
    assert line in comment


def test_each_setting_knows_its_layer_and_later_stages_are_derived():
    config = parse_config(LAYERED, label="my.yaml")
    launch = resolve(config, "mine", {"tp_size": "8"}, (), {"QWEN_SERVE_API_KEY": "from-env-key"})
    from qwen_serve.resolve import Layer

    layers = {s.name: s.layer for s in launch.settings}
    assert (layers["host"], layers["port"], layers["torchao_config"]) == (Layer.DEFAULT, Layer.CONFIG, Layer.PRESET)
    assert (layers["api_key"], layers["tp_size"]) == (Layer.ENV, Layer.CLI)
    assert launch.with_setting("load_format", "layered", "plan").get("load_format").layer is Layer.DERIVED


def test_the_api_key_from_the_environment_sits_between_preset_and_cli():
    config = parse_config("api_key: from-file\npresets:\n  p: {api_key: from-preset}\n", label="k.yaml")
    env = {"QWEN_SERVE_API_KEY": "from-env-key"}
    assert resolve(config, "p", {}, (), env).get("api_key").origin == "env QWEN_SERVE_API_KEY"
    assert resolve(config, "p", {"api_key": "typed-key"}, (), env).get("api_key").value.reveal() == "typed-key"
    assert resolve(config, "p", {}, (), {}).get("api_key").value.reveal() == "from-preset"


def test_each_layer_overrides_the_one_below():
    config = parse_config(LAYERED, label="my.yaml")
    got = origins(resolve(config, "mine", {"tp_size": "8"}))
    assert got["host"] == ("0.0.0.0", "default")
    assert got["port"] == (31000, "my.yaml:port")
    assert got["kv_cache_dtype"] == ("fp8_e5m2", "my.yaml:kv_cache_dtype")
    assert got["torchao_config"] == ("int8wo", "preset mine")
    assert got["tp_size"] == (8, "cli")


def test_preset_overrides_file_when_cli_is_silent():
    config = parse_config(LAYERED, label="my.yaml")
    got = origins(resolve(config, "mine", {"tp_size": None, "port": None}))
    assert got["tp_size"] == (4, "preset mine")
    assert got["port"] == (31000, "my.yaml:port")


def test_no_preset_means_the_file_top_level():
    got = origins(resolve(parse_config(LAYERED, label="my.yaml"), None, {}))
    assert got["tp_size"] == (2, "my.yaml:tp_size")
    assert got["torchao_config"] == (None, "default")


def test_cli_switch_off_overrides_a_preset_switch_on():
    config = parse_config("presets:\n  fast:\n    enable_torch_compile: true\n", label="c.yaml")
    assert origins(resolve(config, "fast", {}))["enable_torch_compile"] == (True, "preset fast")
    assert origins(resolve(config, "fast", {"enable_torch_compile": False}))["enable_torch_compile"] == (False, "cli")


def test_preset_may_null_a_file_value():
    config = parse_config("torchao_config: int8wo\npresets:\n  plain:\n    torchao_config: null\n", label="c.yaml")
    assert origins(resolve(config, "plain", {}))["torchao_config"] == (None, "preset plain")


def test_hyphenated_keys_are_accepted_in_yaml():
    config = parse_config("mem-fraction-static: 0.8\nsglang_args:\n  enable_cache_report: true\n", label="c.yaml")
    launch = resolve(config, None, {})
    assert launch["mem_fraction_static"] == 0.8
    assert [(a.flag, a.value) for a in launch.sglang_args] == [("enable-cache-report", True)]


def test_preset_sglang_args_override_the_files():
    config = parse_config(
        "sglang_args:\n  schedule-policy: fcfs\npresets:\n  p:\n    sglang_args:\n      schedule-policy: lpm\n",
        label="c.yaml",
    )
    args = resolve(config, "p", {}).sglang_args
    assert [(a.flag, a.value, a.origin) for a in args] == [("schedule-policy", "lpm", "preset p")]


def test_bundled_files_define_the_seed_presets():
    assert set(load_config(None).presets) == {
        "balanced",
        "high_performance",
        "memory_optimized",
        "ultra_low_memory",
        "fp8",
        "fp8_checkpoint",
        "awq",
        "balanced_torchao",
        "memory_optimized_torchao",
        "ultra_low_memory_torchao",
        "fp8_torchao",
    }
    examples = load_config("config_examples.yaml").presets
    assert "fp8_hopper_example" in examples and len(examples) >= 7
    assert any(p.values.get("tp_size", 1) > 1 for p in examples.values())


def test_built_in_defaults_are_the_ones_server_config_yaml_shows():
    """One source of defaults: every setting stands at the top of the bundled server_config.yaml, with
    settings.FIELDS' default."""
    bundled = load_config(None)
    for field in FIELDS:
        assert field.name in bundled.values, f"{field.name} is missing from server_config.yaml's top level"
        assert bundled.values[field.name] == field.default, field.name


def test_a_users_config_layers_over_the_bundled_defaults(qwen_serve, write_yaml):
    data = qwen_serve("--dry-run", "--json", "--config", write_yaml("port: 31000\n")).json()
    settings = {s["key"]: s for s in data["settings"]}
    assert settings["port"] == {"key": "port", "value": 31000, "origin": "cfg.yaml:port"}
    assert settings["reasoning_parser"]["value"] == "qwen3"
    assert settings["sglang_args.constrained-json-disable-any-whitespace"]["origin"].startswith(
        "server_config.yaml (bundled):"
    )
    assert "--constrained-json-disable-any-whitespace" in data["command"]


def test_your_config_file_layers_on_the_bundled_presets(qwen_serve, write_yaml):
    """`--config my.yaml --preset balanced` with a one-line my.yaml: the bundled presets stay, your keys win, and
    --dry-run says which file each value came from."""
    path = write_yaml("port: 31000\npresets:\n  mine: {kv_cache_dtype: fp8_e4m3}\n")
    data = qwen_serve("--dry-run", "--json", "--config", path, "--preset", "balanced", "--gpu", "H200").json()
    settings = {s["key"]: s for s in data["settings"]}
    assert settings["port"]["value"] == 31000 and settings["port"]["origin"] == "cfg.yaml:port"
    assert settings["quantization"] == {
        "key": "quantization",
        "value": "humming",
        "origin": "preset balanced (bundled server_config.yaml)",
    }
    assert settings["dtype"]["origin"] == "server_config.yaml (bundled):dtype"
    mine = qwen_serve("--dry-run", "--json", "--config", path, "--preset", "mine", "--gpu", "H200").json()
    assert {s["key"]: s for s in mine["settings"]}["kv_cache_dtype"]["origin"] == "preset mine"
    auto = qwen_serve("--dry-run", "--json", "--config", path, "--preset", "auto", "--gpu", "H200").json()
    assert auto["preset"] == "fp8_checkpoint"  # the bundled auto_order, since the file writes none


def test_your_preset_of_a_bundled_name_wins_and_inherit_bundled_false_stands_alone(qwen_serve, write_yaml):
    path = write_yaml("presets:\n  balanced: {kv_cache_dtype: fp8_e4m3}\n")
    data = qwen_serve("--dry-run", "--json", "--config", path, "--preset", "balanced", "--gpu", "H200").json()
    settings = {s["key"]: s for s in data["settings"]}
    assert settings["quantization"]["value"] is None and settings["kv_cache_dtype"]["origin"] == "preset balanced"
    alone = write_yaml("inherit_bundled: false\nport: 31000\n", name="alone.yaml")
    result = qwen_serve("--dry-run", "--config", alone, "--preset", "balanced")
    assert result.exit_code == 2 and "unknown preset 'balanced'" in result.stderr
    bad = write_yaml("inherit_bundled: maybe\n", name="bad.yaml")
    result = qwen_serve("--dry-run", "--config", bad)
    assert result.exit_code == 2 and "inherit_bundled is 'maybe'" in result.stderr
