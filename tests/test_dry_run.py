"""`--dry-run`: the exact command, then every setting with value and origin; nothing launched."""

from __future__ import annotations

import json
import shlex
import sys

from qwen_serve.config import bundled_path


def first_line(result) -> list[str]:
    assert result.exit_code == 0, result.stderr
    return shlex.split(result.stdout.splitlines()[0])


def test_balanced_torchao_keeps_the_seeds_torchao_int4wo_128(qwen_serve):
    result = qwen_serve("--dry-run", "--preset", "balanced_torchao")
    argv = first_line(result)
    # through the torchao fix on SGLang 0.5.17, said in a note
    assert argv[:3] == [sys.executable, "-m", "qwen_serve.sglang.entry"]
    assert "runs SGLang through qwen_serve.sglang.entry" in result.stdout
    assert argv[argv.index("--torchao-config") + 1] == "int4wo-128"
    assert argv[argv.index("--model-path") + 1] == "Qwen/Qwen3-14B"
    assert argv[argv.index("--port") + 1] == "30000"


def test_fp8_hopper_example_is_native_fp8_and_the_seeds_torchao_fp8_is_a_preset(qwen_serve):
    argv = first_line(qwen_serve("--config", "config_examples.yaml", "--preset", "fp8_hopper_example", "--dry-run"))
    assert argv[argv.index("--quantization") + 1] == "fp8" and "--torchao-config" not in argv
    assert argv[argv.index("--kv-cache-dtype") + 1] == "fp8_e4m3"
    seed = first_line(qwen_serve("--preset", "fp8_torchao", "--dry-run"))
    assert seed[seed.index("--torchao-config") + 1] == "fp8dq-per_tensor"


def test_table_shows_every_setting_with_origin(qwen_serve):
    result = qwen_serve("--dry-run", "--preset", "balanced", "--port", "31234")
    out = result.stdout
    assert "preset balanced" in out and "server_config.yaml:host" in out
    row = next(line for line in out.splitlines() if line.strip().startswith("port "))
    assert "31234" in row and "cli" in row


def test_json_has_command_settings_and_origins(qwen_serve):
    data = qwen_serve("--dry-run", "--json", "--preset", "memory_optimized", "--tp-size", "2").json()
    settings = {s["key"]: s for s in data["settings"]}
    assert settings["kv_cache_dtype"] == {
        "key": "kv_cache_dtype",
        "value": "fp8_e4m3",
        "origin": "preset memory_optimized",
    }
    assert settings["humming_group_size"]["value"] == 128 and data["env"][0]["origin"] == "preset memory_optimized"
    assert settings["tp_size"]["origin"] == "cli" and settings["tp_size"]["value"] == 2
    assert settings["host"]["origin"] == "server_config.yaml:host"
    assert "--tp-size 2" in data["command"]
    assert data["sglang"]["version"] == "0.5.17"


def test_api_key_is_never_printed(qwen_serve):
    secret = "sk-very-secret-123"
    for args in (["--dry-run"], ["--dry-run", "--json"]):
        result = qwen_serve("--api-key", secret, *args)
        assert result.exit_code == 0
        assert secret not in result.stdout and secret not in result.stderr
        assert "****" in result.stdout


def test_enable_flashinfer_is_translated_and_said(qwen_serve):
    result = qwen_serve("--enable-flashinfer", "--dry-run")
    argv = first_line(result)
    assert "--enable-flashinfer" not in argv
    assert argv[argv.index("--attention-backend") + 1] == "flashinfer"
    assert "SGLang has no --enable-flashinfer" in result.stdout


def test_passthrough_after_double_dash_is_untouched(qwen_serve):
    argv = first_line(
        qwen_serve("--preset", "balanced", "--dry-run", "--", "--enable-cache-report", "--schedule-policy", "lpm")
    )
    assert argv[-3:] == ["--enable-cache-report", "--schedule-policy", "lpm"]


def test_passthrough_overriding_an_sglang_args_flag_is_noted(qwen_serve, write_yaml):
    path = write_yaml("sglang_args:\n  schedule-policy: lpm\n")
    result = qwen_serve("--dry-run", "--config", path, "--", "--schedule-policy", "fcfs")
    assert result.exit_code == 0, result.stderr
    assert "--schedule-policy after `--` overrides" in result.stdout


def test_sglang_args_mapping_becomes_flags(qwen_serve, write_yaml):
    path = write_yaml(
        "sglang_args:\n  enable-cache-report: true\n  schedule-policy: lpm\n  disable-radix-cache: false\n"
    )
    argv = first_line(qwen_serve("--config", path, "--dry-run"))
    assert "--enable-cache-report" in argv
    assert argv[argv.index("--schedule-policy") + 1] == "lpm"
    assert "--disable-radix-cache" not in argv


def test_unset_values_pass_no_flag(qwen_serve):
    argv = first_line(qwen_serve("--preset", "high_performance", "--dry-run"))
    assert argv[:3] == [sys.executable, "-m", "sglang.launch_server"]  # no torchao: SGLang's own entry
    for flag in ("--torchao-config", "--quantization", "--mem-fraction-static", "--api-key", "--enable-torch-compile"):
        assert flag not in argv


def test_high_performance_builds_for_sglang_0_5_23(qwen_serve):
    result = qwen_serve("--preset", "high_performance", "--sglang-version", "0.5.23", "--dry-run", "--json")
    assert result.exit_code == 0, result.stderr
    assert result.json()["sglang"] == {"version": "0.5.23", "installed": False, "flag_snapshot": "0.5.23"}


def test_native_fp8_works_on_both_flag_sets(qwen_serve):
    for version in ("0.5.17", "0.5.23"):
        argv = first_line(qwen_serve("--quantization", "fp8", "--sglang-version", version, "--dry-run"))
        assert argv[argv.index("--quantization") + 1] == "fp8"


def test_python_dash_m_qwen_serve_works():
    import subprocess

    out = subprocess.run(
        [sys.executable, "-m", "qwen_serve", "--dry-run", "--preset", "balanced"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert "--quantization humming" in out and "SGLANG_HUMMING_ONLINE_QUANT_CONFIG=" in out


def test_bundled_config_ships_inside_the_package():
    assert bundled_path().is_file() and bundled_path("config_examples.yaml").is_file()
    assert "site-packages" in str(bundled_path()) or "src/qwen_serve/data" in str(bundled_path())


def test_a_wheel_ships_the_config_files(tmp_path):
    import shutil
    import subprocess
    import zipfile
    from pathlib import Path

    uv = shutil.which("uv")
    assert uv, "uv is the project's one prerequisite"
    root = Path(__file__).resolve().parents[1]
    subprocess.run([uv, "build", "--wheel", "-o", str(tmp_path), str(root)], check=True, capture_output=True)
    (wheel,) = tmp_path.glob("qwen_serve-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    for name in ("data/server_config.yaml", "data/config_examples.yaml", "sglang/releases/v0_5_17/flags.json"):
        assert f"qwen_serve/{name}" in names, name
    assert "qwen_serve/sglang/releases/v0_5_23/flags.json" in names
    metadata = zipfile.ZipFile(wheel).read(next(n for n in names if n.endswith("METADATA"))).decode()
    requires = [line for line in metadata.splitlines() if line.startswith("Requires-Dist:")]
    assert not any("torch" in line or ("sglang" in line and "extra ==" not in line) for line in requires), requires


def test_api_key_from_the_environment_has_its_origin_and_is_masked(qwen_serve, monkeypatch):
    monkeypatch.setenv("QWEN_SERVE_API_KEY", "sk-env-secret")
    data = qwen_serve("--dry-run", "--json", "--preset", "balanced").json()
    settings = {s["key"]: s for s in data["settings"]}
    assert settings["api_key"] == {"key": "api_key", "value": "****", "origin": "env QWEN_SERVE_API_KEY"}
    assert "sk-env-secret" not in json.dumps(data) and "--api-key" not in data["argv"]
    assert {
        "name": "QWEN_SERVE_SGLANG_API_KEY",
        "value": "****",
        "origin": "env QWEN_SERVE_API_KEY",
        "default": False,
    } in data["env"]
    assert data["argv"][2] == "qwen_serve.sglang.entry"
    typed = qwen_serve("--dry-run", "--json", "--api-key", "sk-typed").json()
    assert {s["key"]: s for s in typed["settings"]}["api_key"]["origin"] == "cli"


def test_api_key_file_problems_are_one_line(qwen_serve, tmp_path):
    (tmp_path / "empty").write_text("\n")
    for args, words in (((str(tmp_path / "missing"),), "cannot be read"), ((str(tmp_path / "empty"),), "is empty")):
        result = qwen_serve("--dry-run", "--api-key-file", *args)
        assert result.exit_code == 2 and words in result.stderr and len(result.error_lines) == 1
    result = qwen_serve("--dry-run", "--api-key", "x", "--api-key-file", str(tmp_path / "empty"))
    assert result.exit_code == 2 and "both given" in result.stderr


def test_every_command_has_a_version(qwen_serve):
    from click.testing import CliRunner

    from qwen_serve.cli import bench_group
    from qwen_serve.cli.qwen_test import qwen_test_command

    assert qwen_serve("--version").stdout.startswith("qwen-serve, version ")
    assert CliRunner().invoke(bench_group, ["--version"]).output.startswith("qwen-bench, version ")
    assert CliRunner().invoke(qwen_test_command, ["--version"]).output.startswith("qwen-test, version ")
    assert "qwen-bench plot FILES" in CliRunner().invoke(bench_group, ["--help"]).output


def test_help_lists_every_command_and_the_defaults(qwen_serve):
    from click.testing import CliRunner

    from qwen_serve.cli import bench_group

    out = qwen_serve("--help").stdout
    commands = out.split("Commands:")[1].split("qwen-serve serve (the default command)")[0]
    names = [line.split()[0] for line in commands.splitlines() if line.startswith("  ") and line[2] != " "]
    assert names == ["serve", "plan", "tune", "skeleton", "k8s", "systemd", "demo"]
    assert "(default) Launch SGLang" in commands
    for shown in ("[default: 30000]", "[default: Qwen/Qwen3-14B]", "[default: qwen3]", "[default: off]"):
        assert shown in out, shown  # the bundled server_config.yaml's top level, which a preset overrides
    assert "--replicas N" in out and "Precedence (lowest first)" in out
    bench = CliRunner().invoke(bench_group, ["--help"]).output
    assert "plot" in bench.split("Commands:")[1] and "--concurrency" in bench


def test_the_help_texts_pass_through_example_is_a_command_qwen_serve_takes(qwen_serve):
    """`qwen-serve --help` ends with an example of SGLang flags after `--`; it must not name a flag qwen-serve owns
    (it named --enable-metrics after that became a setting)."""
    import shlex

    from qwen_serve.cli.serve import HELP_EPILOG

    example = shlex.split(HELP_EPILOG.splitlines()[-1].strip())
    assert example[0] == "qwen-serve" and "--" in example
    result = qwen_serve("--dry-run", *example[1:])
    assert result.exit_code == 0, result.stderr


def test_a_dry_run_with_preset_auto_reads_config_json_once(qwen_serve, tmp_path, monkeypatch):
    """--preset auto plans every candidate preset from the checkpoint: its config.json is read once (the stages
    ask for it many times; read again only when the file changed)."""
    import json
    from pathlib import Path

    from qwen_serve.model import QWEN3_14B_CONFIG

    model = tmp_path / "model"
    model.mkdir()
    (model / "config.json").write_text(json.dumps(QWEN3_14B_CONFIG))
    reads = []
    read_text = Path.read_text

    def counting(self, *args, **kwargs):
        if self.name == "config.json" and self.parent == model:
            reads.append(self)
        return read_text(self, *args, **kwargs)

    monkeypatch.setattr(Path, "read_text", counting)
    result = qwen_serve("--dry-run", "--preset", "auto", "--gpu", "H200", "--model-path", str(model))
    assert result.exit_code == 0, result.stderr
    assert len(reads) == 1, len(reads)
