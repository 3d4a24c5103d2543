"""Every bad input: exit 2, one line on stderr naming what, the key, the value, allowed, fix."""

from __future__ import annotations

import json

import pytest
from conftest import free_port


def assert_one_clear_line(result, *fragments: str) -> str:
    assert result.exit_code == 2, (result.exit_code, result.stdout, result.stderr)
    lines = result.error_lines
    assert len(lines) == 1, lines
    line = lines[0]
    assert line.startswith("qwen-serve: error: "), line
    for fragment in fragments:
        assert fragment in line, (fragment, line)
    assert "fix:" in line, line
    assert "launching" not in result.stderr
    return line


def test_malformed_yaml_names_file_and_line(qwen_serve, write_yaml):
    path = write_yaml("port: 30000\nhost: [unclosed\ntp_size: 2\n", name="broken.yaml")
    line = assert_one_clear_line(qwen_serve("--config", path, "--dry-run"), "broken.yaml:", "malformed YAML")
    # the error is on (or reported just after) line 2
    assert "broken.yaml:3:" in line or "broken.yaml:2:" in line


def test_yaml_that_is_not_a_mapping(qwen_serve, write_yaml):
    path = write_yaml("- port\n- 30000\n")
    assert_one_clear_line(qwen_serve("--config", path, "--dry-run"), "top level is a list", "not a mapping")


def test_unknown_key_suggests_the_closest(qwen_serve, write_yaml):
    path = write_yaml("host: 127.0.0.1\nprot: 30001\n")
    line = assert_one_clear_line(
        qwen_serve("--config", path, "--dry-run"), "unknown key 'prot'", "did you mean 'port'?"
    )
    assert "cfg.yaml:2" in line and "allowed:" in line


def test_unknown_key_inside_a_preset(qwen_serve, write_yaml):
    path = write_yaml("presets:\n  mine:\n    torchao_confg: int4wo-128\n")
    assert_one_clear_line(
        qwen_serve("--config", path, "--preset", "mine", "--dry-run"),
        "cfg.yaml:3",
        "preset 'mine'",
        "did you mean 'torchao_config'?",
    )


@pytest.mark.parametrize(
    "yaml_text, fragments",
    [
        ("port: abc\n", ["port: 'abc'", "is a string, expected an integer", "cfg.yaml:1"]),
        ("tp_size: 1.5\n", ["tp_size: 1.5", "expected an integer"]),
        ("enable_torch_compile: maybe\n", ["enable_torch_compile: 'maybe'", "expected true or false"]),
        ("mem_fraction_static: high\n", ["mem_fraction_static: 'high'", "expected a number"]),
        ("sglang_args: [a, b]\n", ["sglang_args is a list", "expected a mapping"]),
        ("presets: [balanced]\n", ["'presets' is a list"]),
        ("presets:\n  x: 3\n", ["preset 'x' is a number"]),
    ],
)
def test_wrong_type_in_yaml(qwen_serve, write_yaml, yaml_text, fragments):
    path = write_yaml(yaml_text)
    assert_one_clear_line(qwen_serve("--config", path, "--dry-run"), *fragments)


@pytest.mark.parametrize(
    "args, fragments",
    [
        (["--port", "70000"], ["port: 70000 (from --port)", "allowed: 1-65535"]),
        (["--port", "0"], ["port: 0", "allowed: 1-65535"]),
        (["--port", "http"], ["port: 'http' (from --port) is not an integer"]),
        (["--mem-fraction-static", "1.2"], ["mem_fraction_static: 1.2", "strictly between 0 and 1"]),
        (["--mem-fraction-static", "0"], ["mem_fraction_static: 0.0", "strictly between 0 and 1"]),
        (["--tp-size", "3"], ["tp_size: 3", "1, 2, 4 or 8", "8 KV heads"]),
        (["--tp-size", "16"], ["tp_size: 16", "1, 2, 4 or 8"]),
        (["--context-length", "-5"], ["context_length: -5", ">= 1"]),
    ],
)
def test_out_of_range_on_the_cli(qwen_serve, args, fragments):
    assert_one_clear_line(qwen_serve(*args, "--dry-run"), *fragments)


def test_out_of_range_in_yaml_names_the_file_key(qwen_serve, write_yaml):
    path = write_yaml("presets:\n  big:\n    tp_size: 6\n")
    assert_one_clear_line(qwen_serve("--config", path, "--preset", "big", "--dry-run"), "tp_size: 6", "cfg.yaml:3")


def test_unknown_preset_lists_the_available_ones(qwen_serve):
    line = assert_one_clear_line(
        qwen_serve("--preset", "balnced", "--dry-run"), "unknown preset 'balnced'", "did you mean 'balanced'?"
    )
    for name in ("balanced", "high_performance", "memory_optimized", "ultra_low_memory"):
        assert name in line


def test_preset_of_another_file_is_unknown_in_the_bundled_one(qwen_serve):
    line = assert_one_clear_line(
        qwen_serve("--preset", "fp8_hopper_example", "--dry-run"), "unknown preset 'fp8_hopper_example'"
    )
    assert "--config" in line


def test_missing_config_file(qwen_serve, tmp_path):
    missing = tmp_path / "nope.yaml"
    assert_one_clear_line(qwen_serve("--config", str(missing), "--dry-run"), "nope.yaml", "does not exist")


def test_config_path_is_a_directory(qwen_serve, tmp_path):
    assert_one_clear_line(qwen_serve("--config", str(tmp_path), "--dry-run"), "is a directory")


def test_unreadable_config_file(qwen_serve, tmp_path):
    path = tmp_path / "latin1.yaml"
    path.write_bytes(b"host: caf\xe9\n")  # not UTF-8
    assert_one_clear_line(qwen_serve("--config", str(path), "--dry-run"), "cannot be read")


def test_unknown_torchao_config_lists_allowed(qwen_serve):
    line = assert_one_clear_line(qwen_serve("--torchao-config", "int3wo", "--dry-run"), "torchao_config: 'int3wo'")
    for value in ("int8wo", "int4wo-128", "fp8dq-per_tensor", "fp8dq-per_row"):
        assert value in line


def test_layered_loading_without_torchao(qwen_serve):
    assert_one_clear_line(
        qwen_serve("--preset", "high_performance", "--load-format", "layered", "--dry-run"),
        "load_format: 'layered' (cli) only serves torchao_config",
        "allowed: auto, safetensors",
        "fix: drop load_format, or set torchao_config",
    )


def test_unknown_quantization_lists_allowed(qwen_serve):
    line = assert_one_clear_line(
        qwen_serve("--quantization", "fp9", "--dry-run"), "quantization: 'fp9' (cli)", "did you mean 'fp8'?"
    )
    assert "awq_marlin" in line and "gptq" in line


def test_seed_int8_kv_cache_is_not_an_sglang_dtype(qwen_serve):
    line = assert_one_clear_line(qwen_serve("--kv-cache-dtype", "int8", "--dry-run"), "kv_cache_dtype: 'int8'")
    assert "fp8_e5m2" in line and "fp8_e4m3" in line


def test_unknown_sglang_arg_in_yaml_suggests(qwen_serve, write_yaml):
    path = write_yaml("sglang_args:\n  enable-cache-repor: true\n")
    assert_one_clear_line(
        qwen_serve("--config", path, "--dry-run"),
        "sglang_args.enable-cache-repor",
        "did you mean '--enable-cache-report'?",
    )


def test_sglang_arg_that_duplicates_a_setting(qwen_serve, write_yaml):
    path = write_yaml("sglang_args:\n  port: 1234\n")
    assert_one_clear_line(
        qwen_serve("--config", path, "--dry-run"), "qwen-serve sets from its setting 'port'", "port: 1234"
    )


def test_unknown_flag_after_double_dash(qwen_serve):
    assert_one_clear_line(
        qwen_serve("--dry-run", "--", "--reasoning-parsr", "qwen3"),
        "--reasoning-parsr",
        "did you mean '--reasoning-parser'?",
    )


def test_enable_flashinfer_conflicts_with_another_backend(qwen_serve):
    assert_one_clear_line(
        qwen_serve("--enable-flashinfer", "--attention-backend", "triton", "--dry-run"),
        "enable_flashinfer (cli) conflicts with attention_backend: triton (cli)",
    )


def test_torchao_on_sglang_without_it_names_version_and_alternatives(qwen_serve):
    line = assert_one_clear_line(
        qwen_serve("--preset", "balanced_torchao", "--sglang-version", "0.5.23", "--dry-run"),
        "sglang 0.5.23",
        "removed --torchao-config in 0.5.18",
        "PR #34304",
        "--quantization fp8",
        "Qwen/Qwen3-14B-AWQ",
        "awq_marlin",
        "Qwen/Qwen3-14B-FP8",
    )
    assert "int4wo-128" in line and "preset balanced_torchao" in line


def test_bad_sglang_version(qwen_serve):
    assert_one_clear_line(qwen_serve("--sglang-version", "latest", "--dry-run"), "'latest' is not a version")


def test_port_in_use_is_refused_before_launch(qwen_serve, tmp_path):
    import socket

    model = tmp_path / "model"
    model.mkdir()
    (model / "config.json").write_text("{}")
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        line = assert_one_clear_line(
            qwen_serve("--model-path", str(model), "--host", "127.0.0.1", "--port", str(port)),
            f"port: {port} (cli) on host 127.0.0.1 is already in use",
            f"--port {port + 1}",
        )
    assert "allowed:" in line


def test_missing_model_directory_is_refused_before_launch(qwen_serve, tmp_path):
    assert_one_clear_line(
        qwen_serve("--model-path", str(tmp_path / "Qwen3-14B"), "--port", str(free_port())),
        "model_path:",
        "does not exist",
        "--model-path",
    )


def test_model_directory_without_config_json(qwen_serve, tmp_path):
    assert_one_clear_line(qwen_serve("--model-path", str(tmp_path), "--port", str(free_port())), "has no config.json")


def test_hub_id_offline_and_not_cached(qwen_serve, tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path))
    assert_one_clear_line(
        qwen_serve("--model-path", "Qwen/Qwen3-14B", "--port", str(free_port())),
        "'Qwen/Qwen3-14B'",
        "not in the Hugging Face cache",
        "HF_HUB_OFFLINE=1",
    )


@pytest.mark.parametrize(
    "after, flag",
    [
        (("--port", "30006"), "--port"),
        (("--api-key", "X"), "--api-key"),
        (("--model-path=/m",), "--model-path"),
        (("--tp-size", "2"), "--tp-size"),
        (("--quantization", "fp8"), "--quantization"),
        (("--load-format", "dummy"), "--load-format"),
    ],
)
def test_a_flag_qwen_serve_models_is_refused_after_the_separator(qwen_serve, after, flag):
    result = qwen_serve("--dry-run", "--port", "30005", "--", *after)
    line = assert_one_clear_line(
        result, f"{flag} after `--`", "qwen-serve sets", f"fix: pass it to qwen-serve before `--`: {flag}"
    )
    assert " X" not in line and "'X'" not in line  # a key typed after -- is not echoed


@pytest.mark.parametrize(
    "after, fix",
    [
        (("--enable-torch-compile",), "--enable-torch-compile"),  # a switch: its fix takes no value
        (("--chunked-prefill-size", "16384"), "--chunked-prefill-size 16384"),  # the value the user gave
        (("--chunked-prefill-size=16384",), "--chunked-prefill-size 16384"),
        (("--port", "--enable-cache-report"), "--port 30000"),  # no value given: the example, not the next flag
    ],
)
def test_the_fix_for_a_modelled_flag_after_the_separator_is_what_to_type(qwen_serve, after, fix):
    line = assert_one_clear_line(qwen_serve("--dry-run", "--", *after), f"{after[0].split('=')[0]} after `--`")
    assert line.endswith(f"fix: pass it to qwen-serve before `--`: {fix}"), line


@pytest.mark.parametrize(
    "command, name", [(("--dry-run",), "qwen-serve"), (("k8s", "--preset", "fp8"), "qwen-serve k8s")]
)
@pytest.mark.parametrize(
    "words, fragments",
    [
        (
            ("--enable-torch-compile", "true"),
            ("'true' before `--`", "--enable-torch-compile is a switch", "fix: write --enable-torch-compile alone"),
        ),
        (("--no-enable-torch-compile", "false"), ("'false' before `--`", "fix: write --no-enable-torch-compile alone")),
        (  # the same word earlier as another option's value: the switch is still found
            ("--served-model-name", "true", "--enable-torch-compile", "true"),
            ("'true' before `--`", "--enable-torch-compile is a switch", "fix: write --enable-torch-compile alone"),
        ),
        (
            ("stray", "--port", "30007"),
            ("'stray' before `--`", "fix: remove it, or put SGLang flags after `--`: -- stray"),
        ),
    ],
)
def test_a_bare_word_before_the_separator_is_refused_not_passed_to_sglang(qwen_serve, command, name, words, fragments):
    """`--enable-torch-compile true` once sent `true` to SGLang, whose parser then refused the launch."""
    line = assert_one_clear_line(qwen_serve(*command, *words), *fragments)
    assert f"not an option of {name}:" in line or f"not an option of {name};" in line


def test_words_after_the_separator_still_pass_through(qwen_serve):
    result = qwen_serve("--dry-run", "--enable-torch-compile", "--", "--torch-compile-max-bs", "8")
    assert result.exit_code == 0, result.stderr
    assert "--enable-torch-compile" in result.stdout and "--torch-compile-max-bs 8" in result.stdout


@pytest.mark.parametrize(
    "after, words",
    [
        (("--schedule-policy", "lmp"), "did you mean 'lpm'"),
        (("--cuda-graph-max-bs", "many"), "is not an integer"),
        (("--cuda-graph-max-bs",), "needs a value"),
        (("--schedule-policy", "--enable-cache-report"), "needs a value"),
    ],
)
def test_passthrough_values_are_checked_on_the_launch_path_too(qwen_serve, after, words, tmp_path):
    (tmp_path / "config.json").write_text("{}")
    for mode in (("--dry-run",), ("--model-path", str(tmp_path), "--force")):  # the dry run and a real launch
        assert_one_clear_line(qwen_serve(*mode, "--", *after), words)


def test_config_that_is_a_device_is_refused_at_once(qwen_serve):
    assert_one_clear_line(qwen_serve("--dry-run", "--config", "/dev/zero"), "not a regular file")


def test_a_huge_config_is_refused_without_reading_it(qwen_serve, tmp_path):
    big = tmp_path / "big.yaml"
    big.write_text("port: 30000\n" + "# padding\n" * 200_000)
    assert_one_clear_line(qwen_serve("--dry-run", "--config", str(big)), "bytes", "at most 1,048,576 bytes")


def test_a_yaml_alias_bomb_is_refused_before_it_expands(qwen_serve, write_yaml):
    lines = ['a0: &a0 ["x", "x", "x", "x", "x", "x", "x", "x", "x", "x"]']
    for i in range(1, 10):
        lines.append(f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 10) + "]")
    path = write_yaml("\n".join(lines) + "\nport: 30000\n")
    assert_one_clear_line(qwen_serve("--dry-run", "--config", path), "expands to more than 20,000 YAML nodes")


@pytest.mark.parametrize(
    "text, words",
    [
        ("port: 30000\nport: 30001\n", "key 'port' is given twice in one mapping (first at line 1)"),
        ("presets:\n  fast: {port: 1}\n  fast: {port: 2}\n", "key 'fast' is given twice"),
    ],
)
def test_duplicate_keys_and_presets_are_refused(qwen_serve, write_yaml, text, words):
    line = assert_one_clear_line(qwen_serve("--dry-run", "--config", write_yaml(text)), words)
    assert "cfg.yaml:" in line


def test_a_bad_value_in_a_preset_that_is_not_selected_is_refused(qwen_serve, write_yaml):
    path = write_yaml("presets:\n  good: {}\n  other: {kv_cache_dtype: fp9}\n")
    assert_one_clear_line(
        qwen_serve("--dry-run", "--config", path, "--preset", "good"), "kv_cache_dtype: 'fp9' (preset other", "fp8_e4m3"
    )


@pytest.mark.parametrize(
    "spec, words", [("H100x0", "asks for 0 GPUs"), ("0GiB,sm90", "1 GiB to 16 TiB"), ("0.5GB,sm89", "1 GiB to 16 TiB")]
)
def test_malformed_gpu_specs_are_one_line(qwen_serve, spec, words):
    assert_one_clear_line(qwen_serve("--dry-run", "--gpu", spec), words)
    assert_one_clear_line(qwen_serve("plan", "--gpu", spec), words)


def test_an_invalid_host_is_blamed_on_the_host(qwen_serve, tmp_path):
    (tmp_path / "config.json").write_text("{}")
    for host in ("256.1.1.1", "no-such-host.invalid", "10.255.255.254"):
        line = assert_one_clear_line(
            qwen_serve("--host", host, "--model-path", str(tmp_path), "--force"), f"host: '{host}'"
        )
        assert "--port" not in line


def test_chunked_prefill_minus_one_is_sglangs_off_switch(qwen_serve):
    result = qwen_serve("--dry-run", "--json", "--chunked-prefill-size", "-1")
    assert result.exit_code == 0, result.stderr and "--chunked-prefill-size -1" in result.json()["command"]
    assert_one_clear_line(qwen_serve("--dry-run", "--chunked-prefill-size", "0"), "or -1")


def test_no_gpu_is_refused_before_anything_is_imported(qwen_serve, tmp_path, monkeypatch):
    from qwen_serve import hardware

    monkeypatch.setattr(
        hardware, "detect_with_reason", lambda: (None, "no NVIDIA driver (no /dev/nvidiactl, no /proc/driver/nvidia)")
    )
    monkeypatch.setattr(hardware, "detect", lambda: None)
    (tmp_path / "config.json").write_text("{}")
    line = assert_one_clear_line(
        qwen_serve("--preset", "balanced", "--model-path", str(tmp_path)),
        "no NVIDIA GPU to launch SGLang on: no NVIDIA driver",
        "--force",
    )
    assert "CUDA_VISIBLE_DEVICES" in line
    assert "--dry-run" in line and "qwen-test --base-url URL" in line  # what does work without a GPU


def test_a_named_gpu_is_planned_for_not_launched_on(qwen_serve, tmp_path, monkeypatch):
    """--gpu NAME on a machine without one: the plan is for that GPU, but SGLang is not started there (it would
    import for 20 s and crash); every fix the no-GPU lines suggest runs (--dry-run, plan)."""
    from qwen_serve import hardware
    from qwen_serve.model import QWEN3_14B_CONFIG

    monkeypatch.setattr(hardware, "detect_with_reason", lambda: (None, "no NVIDIA driver (test)"))
    monkeypatch.setattr(hardware, "detect", lambda: None)
    (tmp_path / "config.json").write_text(json.dumps(QWEN3_14B_CONFIG))
    line = assert_one_clear_line(
        qwen_serve("--preset", "balanced", "--gpu", "RTX 4090", "--model-path", str(tmp_path)),
        "no NVIDIA GPU to launch SGLang on",
        "--gpu plans for a GPU",
    )
    assert "--dry-run" in line
    auto = qwen_serve("--preset", "auto")
    assert auto.exit_code == 2 and "--gpu 'RTX 4090' --dry-run" in auto.stderr
    assert qwen_serve("--preset", "auto", "--gpu", "RTX 4090", "--dry-run").exit_code == 0  # the fix it gives works
    assert qwen_serve("plan", "--gpu", "RTX 4090").exit_code == 0


def test_every_bad_input_is_one_line_and_under_200_mb(tmp_path):
    """The contract over tests/bad_input_corpus.py's bad inputs, each the real command in a process of its
    own (its time is measured there: `uv run python bench/fastpath.py --bad-inputs`; timing is no unit test)."""
    from bad_input_corpus import bad_inputs, run_bad_input

    for args in bad_inputs(tmp_path):
        run = run_bad_input(args, tmp_path)
        assert run["exit"] == 2, (args, run)
        assert len(run["stderr"]) == 1 and run["stderr"][0].startswith("qwen-serve: error: "), (args, run)
        assert "fix:" in run["stderr"][0], (args, run)
        assert not any(c in run["stderr"][0] for c in "\x00\x07\x1b\r"), (args, run)  # nothing for the terminal
        assert run["peak_mib"] < 200, (args, run)


def test_every_spelling_sglangs_parser_accepts_for_a_modelled_flag_is_refused(qwen_serve, write_yaml):
    """Aliases (--model, --tensor-parallel-size) and abbreviations argparse accepts (--model-pa): each would launch
    another model or tp size than the one planned and reported. Derived from the installed SGLang's parser snapshot."""
    from qwen_serve.settings import FIELDS
    from qwen_serve.sglang.capabilities import target_for

    flagset = target_for(None).flagset
    spellings = []
    for field in FIELDS:
        if field.sglang_flag and flagset.has(field.sglang_flag):
            spellings += [(s, field) for s in flagset.spellings(flagset.dest(field.sglang_flag))]
    assert ("--model", next(f for f in FIELDS if f.name == "model_path")) in spellings
    assert any(s == "--tensor-parallel-size" for s, _ in spellings)
    for spelling, field in spellings + [("--model-pa", None), ("--mem-frac", None)]:
        value = [] if field is not None and field.kind is bool else ["1"]
        result = qwen_serve("--dry-run", "--gpu", "H200", "--", spelling, *value)
        assert result.exit_code == 2 and len(result.error_lines) == 1, (spelling, result.stdout)
        assert "qwen-serve sets" in result.error_lines[0] and "fix:" in result.error_lines[0]
    path = write_yaml("sglang_args:\n  model: /elsewhere\n")
    result = qwen_serve("--dry-run", "--gpu", "H200", "--config", path)
    assert result.exit_code == 2 and "model_path" in result.stderr and "/elsewhere" not in result.stdout
    assert qwen_serve("--dry-run", "--gpu", "H200", "--", "--enable-cache-report").exit_code == 0


@pytest.mark.parametrize(
    "prog, args, words",
    [
        ("qwen-serve", ["--dry-run", "--ready-timeout", "nan"], "not a finite number"),
        ("qwen-serve", ["--dry-run", "--stop-timeout", "inf"], "0<=x<=604800"),
        ("qwen-serve", ["--dry-run", "--replicas", "1000000"], "0<=x<=64"),
        ("qwen-serve", ["--dry-run", "--port", "9" * 300], "port"),
        ("qwen-test", ["--timeout", "nan"], "not a finite number"),
        ("qwen-test", ["--wait", "nan"], "not a finite number"),
        ("qwen-test", ["--port", "9" * 40], "1<=x<=65535"),
        ("qwen-bench", ["--time-limit", "nan"], "not a finite number"),
    ],
)
def test_nan_infinity_and_huge_numbers_are_one_line_and_exit_2(prog, args, words):
    """nan passes click's float ranges (every comparison with it is false), inf passes an open one: each is a wait
    that never ends; a port of 300 digits was an OverflowError traceback."""
    import subprocess
    import sys

    entry = {"qwen-serve": "main", "qwen-test": "qwen_test_main", "qwen-bench": "bench_main"}[prog]
    code = f"import sys; from qwen_serve.cli import {entry}; sys.argv = [{prog!r}, *sys.argv[1:]]; {entry}()"
    r = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, timeout=60)
    lines = [x for x in r.stderr.splitlines() if x.strip() and not x.startswith(("Usage:", "Try "))]
    assert r.returncode == 2 and len(lines) == 1 and words in lines[0], r.stderr
    assert "Traceback" not in r.stderr


def test_api_keys_are_checked_before_launch_and_read_bounded(qwen_serve, tmp_path, monkeypatch):
    """A key with a line break waited out the whole ready timeout, a non-ASCII key crashed after SGLang loaded, a FIFO
    key file hung and /dev/zero read 1.8 GB: each is one line now, and the key itself is never echoed."""
    import os

    os.mkfifo(tmp_path / "fifo")
    (tmp_path / "unicode").write_text("ключ-ключ-ключ\n")
    for args, words in (
        (("--api-key", "ab\ncdefghijk"), "printable ASCII"),
        (("--api-key", "abc"), "8 to 512"),
        (("--api-key-file", str(tmp_path / "unicode")), "from --api-key-file"),
        (("--api-key-file", str(tmp_path / "fifo")), "not a regular file"),
        (("--api-key-file", "/dev/zero"), "not a regular file"),
    ):
        result = qwen_serve("--dry-run", "--gpu", "H200", *args)
        assert result.exit_code == 2 and len(result.error_lines) == 1 and words in result.stderr, (args, result.stderr)
        assert "cdefghijk" not in result.stderr and "ключ" not in result.stderr
    monkeypatch.setenv("QWEN_SERVE_API_KEY", "two words")
    result = qwen_serve("--dry-run", "--gpu", "H200")
    assert result.exit_code == 2 and "QWEN_SERVE_API_KEY" in result.stderr and "two words" not in result.stderr


def test_a_key_file_others_can_read_is_warned_about(qwen_serve, tmp_path):
    key = tmp_path / "key"
    key.write_text("sk-0123456789abcdef\n")
    key.chmod(0o644)
    result = qwen_serve("--dry-run", "--gpu", "H200", "--api-key-file", str(key))
    assert result.exit_code == 0 and "can be read by other users" in result.stderr and "chmod 600" in result.stderr
    key.chmod(0o600)
    assert "can be read" not in qwen_serve("--dry-run", "--gpu", "H200", "--api-key-file", str(key)).stderr


def test_the_log_masks_the_key_where_it_stands_whole():
    from qwen_serve.secret import MASK
    from qwen_serve.supervise import secret_pattern

    key = "sk-0123456789"
    out = secret_pattern(key).sub(MASK.encode(), f"api_key='{key}' Bearer {key}\nx{key}y".encode())
    assert out == b"api_key='****' Bearer ****\nx" + key.encode() + b"y"


@pytest.mark.parametrize(
    "change, words",
    [
        ({"architectures": ["LlamaForCausalLM"]}, "is not Qwen3"),
        ({"num_attention_heads": 0}, "num_attention_heads is 0"),
        ({"hidden_size": "5120"}, "hidden_size is '5120'"),
        ({"num_hidden_layers": None}, "num_hidden_layers is None"),
        ({"head_dim": True}, "head_dim is True"),
    ],
)
def test_the_model_directorys_config_json_is_checked_before_it_is_planned(qwen_serve, tmp_path, change, words):
    """A Llama config launched with Qwen's parser and plan; zero or string fields gave ZeroDivisionError/TypeError."""
    from qwen_serve.model import QWEN3_14B_CONFIG

    (tmp_path / "config.json").write_text(json.dumps({**QWEN3_14B_CONFIG, **change}))
    result = qwen_serve("--dry-run", "--gpu", "H200", "--model-path", str(tmp_path))
    assert result.exit_code == 2 and len(result.error_lines) == 1, result.stdout
    assert "config.json" in result.error_lines[0] and words in result.error_lines[0]


def test_nan_in_config_json_is_named_not_planned_as_zero_kv_tokens(qwen_serve, tmp_path):
    from qwen_serve.model import QWEN3_14B_CONFIG

    text = json.dumps(QWEN3_14B_CONFIG).replace('"hidden_size": 5120', '"hidden_size": NaN')
    (tmp_path / "config.json").write_text(text)
    result = qwen_serve("--dry-run", "--gpu", "H200", "--model-path", str(tmp_path))
    assert result.exit_code == 2 and "hidden_size is nan" in result.stderr and "KV" not in result.stderr


def test_one_setting_in_two_spellings_is_a_duplicate_key(qwen_serve, write_yaml):
    path = write_yaml("tp_size: 1\ntp-size: 2\n")
    result = qwen_serve("--dry-run", "--config", path)
    assert result.exit_code == 2 and len(result.error_lines) == 1
    assert "key 'tp-size' is given twice" in result.stderr and "as 'tp_size'" in result.stderr


def test_yaml_merge_keys_work_and_the_mappings_own_keys_override(qwen_serve, write_yaml):
    path = write_yaml(
        "presets:\n  mine: &m\n    kv_cache_dtype: fp8_e4m3\n    tp_size: 1\n  other:\n    <<: *m\n    tp_size: 2\n"
    )
    data = qwen_serve("--dry-run", "--json", "--config", path, "--preset", "other", "--gpu", "H200x2").json()
    settings = {s["key"]: s["value"] for s in data["settings"]}
    assert settings["kv_cache_dtype"] == "fp8_e4m3" and settings["tp_size"] == 2


def test_a_context_longer_than_yarn_reaches_is_refused_not_planned(qwen_serve):
    result = qwen_serve("--dry-run", "--gpu", "H200", "--context-length", "131073")
    assert result.exit_code == 2 and len(result.error_lines) == 1
    assert "131,073" in result.stderr and "1 to 131,072" in result.stderr and "fix:" in result.stderr
    assert qwen_serve("--dry-run", "--gpu", "H200", "--context-length", "40960").exit_code == 0
