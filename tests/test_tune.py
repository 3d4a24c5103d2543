"""`qwen-serve tune` end to end against the stand-in SGLang (tests/fake_sglang), whose speed per kernel family the
test sets (FAKE_SGLANG_SPEED): real processes, real HTTP on 127.0.0.1, real signals; then `--preset auto --load`
reading the result file, and the result file's reader against any JSON (hypothesis)."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import free_port
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from qwen_serve import tune
from qwen_serve.config import load_config
from qwen_serve.tune_result import (
    Level,
    Load,
    Machine,
    Measured,
    TuneFileError,
    TuneResult,
    level_for,
    pick,
    read_result,
    result_from_json,
    result_path,
    result_to_json,
    save_result,
)

FAKE = Path(__file__).parent / "fake_sglang"
# balanced (humming) leads at one request, the FP8 checkpoint under load; plain bf16 trails both
SPEED = {
    "humming": [0.002, 0.004],
    "checkpoint:fp8": [0.005, 0.0003],
    "fp8": [0.006, 0.0005],
    "bf16": [0.008, 0.001],
}
QUICK = ["--concurrency", "1,8", "--output-len", "16", "--rounds", "2"]


@pytest.fixture(scope="module")
def skeleton(tmp_path_factory):
    from qwen_serve.skeleton import write_skeleton

    return write_skeleton(tmp_path_factory.mktemp("skeleton") / "qwen3-14b")


@pytest.fixture(scope="module")
def prompts(tmp_path_factory):
    """Prompts of the user's own (--prompts): the stand-in needs no exact lengths, and the run no tokenizer import."""
    path = tmp_path_factory.mktemp("prompts") / "prompts.jsonl"
    path.write_text("".join(json.dumps({"prompt": f"question {i}"}) + "\n" for i in range(200)))
    return path


@pytest.fixture
def cache(tmp_path):
    return tmp_path / "cache"


def env_for(cache: Path, speed=SPEED, **extra) -> dict:
    return {
        **os.environ,
        "PYTHONPATH": str(FAKE),
        "XDG_CACHE_HOME": str(cache),
        "FAKE_SGLANG_SPEED": json.dumps(speed),
        **extra,
    }


def qwen_serve(*args, env, timeout=180) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "qwen_serve", *args], env=env, capture_output=True, text=True, timeout=timeout
    )


def tune_args(skeleton, port, *extra, prompts=None) -> list[str]:
    own = ["--prompts", str(prompts)] if prompts else ["--input-len", "16"]
    return ["tune", "--gpu", "H200", "--force", "--skeleton", str(skeleton), "--port", str(port), *QUICK, *own, *extra]


def result_file(cache: Path) -> Path:
    return cache / "qwen-serve" / "tune" / "h200-tp1.json"


def port_free(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) != 0


def test_tune_measures_each_candidate_and_auto_picks_for_the_load(skeleton, cache):
    port = free_port()
    env = env_for(cache)
    run = qwen_serve(*tune_args(skeleton, port, "--presets", "fp8_checkpoint,balanced"), env=env)
    assert run.returncode == 0, run.stderr
    measured = json.loads(result_file(cache).read_text())["measured"]
    # plain SGLang twice beside the presets, the table's likely winners first, every level of every candidate
    assert list(measured) == ["plain-bf16", "balanced", "fp8_checkpoint", "plain-fp8-checkpoint"]
    assert all(m["complete"] and [lv["concurrency"] for lv in m["levels"]] == [1, 8] for m in measured.values())
    assert measured["plain-bf16"]["argv"][1:3] == ["-m", "sglang.launch_server"]
    assert "--load-format" in measured["balanced"]["argv"] and "dummy" in measured["balanced"]["argv"]
    assert port_free(port)
    # the table and the picks, in words
    assert "--load interactive: balanced" in run.stdout, run.stdout
    assert "--load throughput: fp8_checkpoint" in run.stdout, run.stdout
    assert "at 8: fp8_checkpoint " in run.stdout and "plain SGLang on Qwen's FP8 checkpoint" in run.stdout
    # --preset auto reads the file, for the load named
    for load, expected in (("interactive", "balanced"), ("throughput", "fp8_checkpoint"), ("6", "fp8_checkpoint")):
        dry = qwen_serve("--dry-run", "--json", "--preset", "auto", "--gpu", "H200", "--load", load, env=env)
        assert dry.returncode == 0, dry.stderr
        out = json.loads(dry.stdout)
        assert out["preset"] == expected, (load, out["plan"])
        assert "measured on this GPU" in json.dumps(out)


def test_without_a_result_auto_keeps_its_order_and_suggests_tune(cache):
    env = env_for(cache)
    dry = qwen_serve("--dry-run", "--preset", "auto", "--gpu", "H200", env=env)
    assert dry.returncode == 0, dry.stderr
    assert "`qwen-serve tune` measures the presets on this GPU" in dry.stdout + dry.stderr
    load = qwen_serve("--dry-run", "--preset", "auto", "--gpu", "H200", "--load", "interactive", env=env)
    assert "--load interactive needs a result of qwen-serve tune on this GPU" in load.stdout + load.stderr


def _result(sglang="0.5.17", driver=None, gpu="H200", name="balanced") -> TuneResult:
    level = Level(1, 100.0, 4, 0, 1.0, {"p50": 10.0}, {"p50": 5.0})
    measured = {
        "plain-bf16": Measured(
            "plain-bf16",
            "plain",
            "Qwen/Qwen3-14B",
            ("python",),
            "2026-12-07T00:00:00+00:00",
            10.0,
            "empty",
            (level,),
            True,
        ),
        name: Measured(
            name,
            "preset",
            "Qwen/Qwen3-14B",
            ("python",),
            "2026-12-07T00:00:00+00:00",
            10.0,
            "empty",
            (Level(1, 150.0, 4, 0, 1.0, {"p50": 9.0}, {"p50": 4.0}),),
            True,
        ),
    }
    return TuneResult(Machine(gpu, 1, driver, sglang), Load((1,), 16, 8, 2, None), measured, {}, "2026-12-07T00:00:00")


def test_a_result_of_another_sglang_release_is_ignored_in_one_line(cache):
    stale = _result(sglang="0.5.23")
    save_result(stale, result_path(Machine("H200", 1, None, "0.5.17"), cache / "qwen-serve" / "tune"))
    dry = qwen_serve("--dry-run", "--preset", "auto", "--gpu", "H200", env=env_for(cache))
    assert dry.returncode == 0, dry.stderr
    text = dry.stdout + dry.stderr
    assert "it was measured with SGLang 0.5.23, this is 0.5.17" in text
    assert "preset auto -> fp8_checkpoint" in text  # the static order, not the stale measurement


def test_the_result_is_read_only_for_its_gpu_driver_and_release(tmp_path):
    here = Machine("NVIDIA H200", 1, "570.1", "0.5.17")
    save_result(_result(gpu="NVIDIA H200", driver="570.1"), result_path(here, tmp_path))
    assert read_result(here, tmp_path)[0] is not None
    for other, words in (
        (Machine("NVIDIA H200", 1, "575.2", "0.5.17"), "driver 570.1, this is 575.2"),
        (Machine("NVIDIA H200", 1, "570.1", "0.5.23"), "SGLang 0.5.17, this is 0.5.23"),
    ):
        result, why = read_result(other, tmp_path)
        assert result is None and words in why
    # a file of another GPU model copied under this one's name
    save_result(_result(gpu="NVIDIA H100 80GB HBM3"), result_path(here, tmp_path))
    assert "measured on NVIDIA H100 80GB HBM3, this is NVIDIA H200" in read_result(here, tmp_path)[1]


def test_a_budget_that_cuts_candidates_names_each_one_left_out(skeleton, cache, tmp_path, prompts):
    config = tmp_path / "cfg.yaml"
    config.write_text(
        "presets:\n"
        "  quick:\n    description: quick\n    measured: 'H200: first start 5 s'\n    quantization: fp8\n"
        "  slow:\n    description: slow\n    measured: 'H200: first start 900 s'\n    quantization: fp8\n"
    )
    env = env_for(cache)
    run = qwen_serve(
        *tune_args(
            skeleton, free_port(), "--config", str(config), "--presets", "quick,slow", "--budget", "2", prompts=prompts
        ),
        env=env,
    )
    assert run.returncode == 0, run.stderr
    assert "not measured: slow (the budget: " in run.stdout
    assert "not measured: plain-fp8-checkpoint (the budget: " in run.stdout
    data = json.loads(result_file(cache).read_text())
    assert set(data["measured"]) == {"plain-bf16", "quick"}
    assert set(data["left_out"]) == {"slow", "plain-fp8-checkpoint"}
    # a later run of fewer presets keeps naming what no run has measured
    again = qwen_serve(
        *tune_args(
            skeleton, free_port(), "--config", str(config), "--presets", "quick", "--budget", "2", prompts=prompts
        ),
        env=env,
    )
    assert again.returncode == 0, again.stderr
    assert set(json.loads(result_file(cache).read_text())["left_out"]) == {"slow", "plain-fp8-checkpoint"}


def test_ctrl_c_mid_run_stops_cleanly_keeps_what_was_measured_and_the_next_run_goes_on(skeleton, cache, prompts):
    port = free_port()
    slow = {**SPEED, "humming": [0.5, 0.0]}  # balanced, second in line, takes seconds a token
    env = env_for(cache, slow)
    args = tune_args(skeleton, port, "--presets", "fp8_checkpoint,balanced", prompts=prompts)
    proc = subprocess.Popen(
        [sys.executable, "-m", "qwen_serve", *args],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,  # a terminal's foreground job: Ctrl-C reaches the whole group
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:  # until balanced is being measured
        try:
            if "plain-bf16" in json.loads(result_file(cache).read_text())["measured"] and not port_free(port):
                break
        except (OSError, ValueError):
            pass
        time.sleep(0.1)
    time.sleep(1.0)
    os.killpg(proc.pid, signal.SIGINT)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert "interrupted: what was measured is kept" in err
    data = json.loads(result_file(cache).read_text())
    assert data["interrupted"] is True
    assert data["measured"]["plain-bf16"]["complete"] is True
    assert data["measured"]["balanced"]["complete"] is False
    assert port_free(port)
    # the next run keeps plain-bf16 and measures the rest; --json keeps stdout for the result alone
    again = qwen_serve(*args, "--json", env=env_for(cache))
    assert again.returncode == 0, again.stderr
    assert "plain-bf16: measured on" in again.stderr and "kept (--fresh measures it again)" in again.stderr
    done = json.loads(again.stdout)
    assert done == {k: v for k, v in json.loads(result_file(cache).read_text()).items() if k != "signature"}
    assert all(m["complete"] for m in done["measured"].values()) and not done["interrupted"]
    assert done["measured"]["plain-bf16"]["when"] == data["measured"]["plain-bf16"]["when"]


def test_a_result_path_holding_a_file_of_the_users_is_refused_and_left_alone(skeleton, cache, tmp_path):
    folder = tmp_path / "results"
    folder.mkdir()
    mine = folder / "h200-tp1.json"
    mine.write_text('{"my": "notes"}')
    run = qwen_serve(*tune_args(skeleton, free_port(), "--results-dir", str(folder)), env=env_for(cache))
    assert run.returncode == 2
    assert run.stderr.strip().count("\n") == 0 and "is not a result file of qwen-serve tune" in run.stderr
    assert mine.read_text() == '{"my": "notes"}'


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (("--preset", "balanced", "--load", "interactive"), "--load with --preset auto"),
        (("--preset", "auto", "--load", "fast"), "--load: 'fast' is not a load"),
        (("--preset", "auto", "--load", "0"), "--load: '0' is not a load"),
    ],
)
def test_a_bad_load_is_one_line_and_exit_2(args, words, cache):
    run = qwen_serve("--dry-run", "--gpu", "H200", *args, env=env_for(cache))
    assert run.returncode == 2 and words in run.stderr and run.stderr.strip().count("\n") == 0


def test_tune_refuses_an_unknown_preset_with_a_suggestion(cache):
    run = qwen_serve("tune", "--gpu", "H200", "--presets", "balnced", "--dry-run", env=env_for(cache))
    assert run.returncode == 2 and "did you mean 'balanced'?" in run.stderr


def test_candidates_put_the_committed_tables_leaders_first_on_its_gpu_and_auto_order_elsewhere():
    config = load_config(None)
    fitting = list(config.presets)
    h200 = [c.name for c in tune.candidates(config, fitting, config.auto_order["hopper"], True, "NVIDIA H200")]
    # the table's best at one request (balanced) and under load (fp8_checkpoint), then plain SGLang on the FP8
    # checkpoint right after the preset that compiled its kernels
    assert h200[:4] == ["plain-bf16", "balanced", "fp8_checkpoint", "plain-fp8-checkpoint"]
    h100 = [
        c.name for c in tune.candidates(config, fitting, config.auto_order["hopper"], True, "NVIDIA H100 80GB HBM3")
    ]
    assert h100[:4] == ["plain-bf16", "fp8_checkpoint", "plain-fp8-checkpoint", "fp8"]
    awq = next(c for c in tune.candidates(config, fitting, (), True, "H200") if c.name == "awq")
    assert awq.start_estimate_s == 595  # its first start compiles for minutes, and the run says so before it starts


def test_level_for_a_load():
    assert level_for("interactive", [64, 1, 8]) == 1
    assert level_for("throughput", [64, 1, 8]) == 64
    assert level_for(6, [1, 8, 64]) == 8
    assert level_for(20, [1, 8, 64]) == 8  # closest on a log scale: 20 is nearer 8 than 64
    assert level_for(None, [1, 8, 64]) == 64


def test_pick_is_the_fastest_allowed_preset_at_the_level():
    result = _result()
    assert pick(result, "interactive", ["balanced"])[0] == "balanced"
    assert "1.50x plain SGLang bf16" in pick(result, "interactive", ["balanced"])[1]
    assert pick(result, "interactive", ["fp8"]) is None  # nothing allowed was measured


def test_the_result_round_trips_through_its_file(tmp_path):
    result = _result()
    path = tmp_path / "r.json"
    save_result(result, path)
    assert result_from_json(json.loads(path.read_text())) == result


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=20,
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(JSON)
def test_any_json_is_a_result_or_one_tune_file_error(data):
    try:
        result_from_json(data)
    except TuneFileError as exc:
        assert "\n" not in exc.line


@settings(max_examples=300, deadline=None)
@given(st.data())
def test_a_valid_result_with_any_field_replaced_is_read_or_refused_never_crashes(data):
    doc = result_to_json(_result())

    def paths(node, at=()):
        yield at
        if isinstance(node, dict):
            for k, v in node.items():
                yield from paths(v, (*at, k))
        elif isinstance(node, list):
            for i, v in enumerate(node):
                yield from paths(v, (*at, i))

    where = data.draw(st.sampled_from([p for p in paths(doc) if p]))
    node = doc
    for key in where[:-1]:
        node = node[key]
    node[where[-1]] = data.draw(JSON)
    try:
        result_from_json(json.loads(json.dumps(doc)))
    except TuneFileError:
        pass
