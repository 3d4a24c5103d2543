"""What a checkpoint decides: Qwen's pre-quantized checkpoints as presets, a preset that contradicts the checkpoint
(resolved with one line, or refused when typed), the checkpoint named in --dry-run with what it downloads, and the
JIT caches in one folder qwen-serve names."""

from __future__ import annotations

import json
import shlex

import pytest

from qwen_serve.model import OFFICIAL_CHECKPOINTS, QWEN3_14B_CONFIG


@pytest.fixture
def checkpoint_dir(tmp_path):
    """A local model directory whose config.json carries one of Qwen's quantization_configs."""

    def make(hub_id: str):
        folder = tmp_path / hub_id.split("/")[-1]
        folder.mkdir()
        config = dict(QWEN3_14B_CONFIG, quantization_config=OFFICIAL_CHECKPOINTS[hub_id])
        (folder / "config.json").write_text(json.dumps(config))
        return str(folder)

    return make


def dry_run(qwen_serve, *args):
    result = qwen_serve("--dry-run", "--gpu", "H200", *args)
    assert result.exit_code == 0, result.stderr
    return result, shlex.split(result.stdout.splitlines()[0])


def test_official_checkpoint_presets_serve_qwens_checkpoints_and_say_what_is_downloaded(qwen_serve):
    for preset, hub_id, stored in (
        ("fp8_checkpoint", "Qwen/Qwen3-14B-FP8", "block-wise FP8 (128x128 scales)"),
        ("awq", "Qwen/Qwen3-14B-AWQ", "AWQ int4, group 128"),
    ):
        result, argv = dry_run(qwen_serve, "--preset", preset)
        assert argv[argv.index("--model-path") + 1] == hub_id
        assert "--quantization" not in argv  # the checkpoint's quantization_config decides
        line = next(x for x in result.stdout.splitlines() if x.startswith("checkpoint: "))
        assert hub_id in line and stored in line and f"preset {preset}" in line
        assert "will be downloaded" in line and "GiB" in line


def test_a_preset_quantization_on_a_prequantized_checkpoint_is_dropped_with_one_line(qwen_serve, checkpoint_dir):
    awq = checkpoint_dir("Qwen/Qwen3-14B-AWQ")
    for preset in ("fp8", "balanced_torchao"):
        result, argv = dry_run(qwen_serve, "--preset", preset, "--model-path", awq)
        assert "--quantization" not in argv and "--torchao-config" not in argv
        notes = [x for x in result.stdout.splitlines() if "already quantized" in x]
        assert len(notes) == 1 and f"preset {preset}" in notes[0] and "AWQ int4" in notes[0]
    # humming's kernels read AWQ weights as stored: balanced keeps them, without its quantize-at-load settings
    result, argv = dry_run(qwen_serve, "--preset", "balanced", "--model-path", awq)
    assert argv[argv.index("--quantization") + 1] == "humming"
    assert "humming_weight_dtype int4 (preset balanced)" in result.stdout
    assert not any(w.startswith("SGLANG_HUMMING_ONLINE") for w in result.stdout.split())
    # Qwen's FP8 checkpoint: humming is no kernel for it, so balanced's quantization goes too
    fp8 = checkpoint_dir("Qwen/Qwen3-14B-FP8")
    result, argv = dry_run(qwen_serve, "--preset", "balanced", "--model-path", fp8)
    assert "--quantization" not in argv and "quantization humming (preset balanced)" in result.stdout
    # the hub id alone (not downloaded): Qwen's published config says the same
    result, argv = dry_run(qwen_serve, "--preset", "fp8", "--model-path", "Qwen/Qwen3-14B-AWQ")
    assert "--quantization" not in argv and "already quantized" in result.stdout


def test_a_typed_quantization_contradicting_the_checkpoint_is_refused_in_one_line(qwen_serve, checkpoint_dir):
    fp8 = checkpoint_dir("Qwen/Qwen3-14B-FP8")
    result = qwen_serve("--dry-run", "--quantization", "humming", "--model-path", fp8)
    assert result.exit_code == 2 and len(result.error_lines) == 1
    line = result.error_lines[0]
    assert "quantization: 'humming'" in line and "block-wise FP8" in line and "allowed:" in line and "fix:" in line
    # a kernel choice for the stored format is no contradiction
    awq = checkpoint_dir("Qwen/Qwen3-14B-AWQ")
    _, argv = dry_run(qwen_serve, "--quantization", "awq_marlin", "--model-path", awq)
    assert argv[argv.index("--quantization") + 1] == "awq_marlin"


def test_your_model_path_wins_over_a_presets_checkpoint_with_a_note(qwen_serve, tmp_path):
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "config.json").write_text(json.dumps(QWEN3_14B_CONFIG))
    result, argv = dry_run(qwen_serve, "--preset", "awq", "--model-path", str(mine))
    assert argv[argv.index("--model-path") + 1] == str(mine)
    assert f"your --model-path {mine} replaces preset awq's checkpoint Qwen/Qwen3-14B-AWQ" in result.stdout


def test_auto_takes_qwens_fp8_checkpoint_unless_you_bring_your_own_weights(qwen_serve, tmp_path):
    result, argv = dry_run(qwen_serve, "--preset", "auto")
    assert "preset auto -> fp8_checkpoint" in result.stdout
    assert argv[argv.index("--model-path") + 1] == "Qwen/Qwen3-14B-FP8"
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "config.json").write_text(json.dumps(QWEN3_14B_CONFIG))
    result, argv = dry_run(qwen_serve, "--preset", "auto", "--model-path", str(mine))
    assert "preset auto -> fp8 " in result.stdout and "fp8_checkpoint" not in result.stdout.split("preset auto")[1][:60]
    assert argv[argv.index("--quantization") + 1] == "fp8"


def test_jit_caches_live_in_one_folder_and_yield_to_the_users_environment(qwen_serve, checkpoint_dir, monkeypatch):
    monkeypatch.setenv("QWEN_SERVE_JIT_CACHE", "/srv/jit")
    data = qwen_serve("--dry-run", "--json", "--model-path", checkpoint_dir("Qwen/Qwen3-14B-FP8")).json()
    env = {e["name"]: e for e in data["env"]}
    assert env["SGLANG_DG_CACHE_DIR"]["value"] == "/srv/jit/deep_gemm"
    assert env["TVM_FFI_CACHE_DIR"]["value"] == "/srv/jit/tvm-ffi" and env["HUMMING_CACHE_DIR"]["default"]
    assert env["SGLANG_JIT_DEEPGEMM_PRECOMPILE"]["value"] == "0"  # block-FP8: compile each shape as met

    from qwen_serve.pipeline import LaunchRequest, prepare

    command = prepare(
        LaunchRequest(cli_values={"model_path": checkpoint_dir("Qwen/Qwen3-14B-AWQ")}, gpu_spec="H200")
    ).command
    child = command.child_env({"HUMMING_CACHE_DIR": "/mine", "PATH": "/bin"})
    assert child["HUMMING_CACHE_DIR"] == "/mine" and child["PATH"] == "/bin"  # the user's own wins
    assert child["SGLANG_DG_CACHE_DIR"] == "/srv/jit/deep_gemm"
    assert "SGLANG_JIT_DEEPGEMM_PRECOMPILE" not in child  # not block-FP8


def test_the_progress_line_names_the_checkpoints_jit_compile(checkpoint_dir):
    from qwen_serve.pipeline import LaunchRequest, prepare

    for hub_id, words in (("Qwen/Qwen3-14B-FP8", "DeepGEMM"), ("Qwen/Qwen3-14B-AWQ", "awq_marlin")):
        labels = dict(
            prepare(
                LaunchRequest(cli_values={"model_path": checkpoint_dir(hub_id)}, gpu_spec="H200")
            ).command.phase_labels
        )
        assert words in labels["cuda_graphs"]


def test_k8s_workers_keep_jit_caches_on_a_volume_of_their_own(qwen_serve):
    result = qwen_serve("k8s", "--preset", "fp8_checkpoint", "--gpu", "H200")
    assert result.exit_code == 0, result.stderr
    assert "SGLANG_DG_CACHE_DIR" in result.stdout and "/root/.cache/qwen-serve/jit/deep_gemm" in result.stdout
    assert "name: jit-cache" in result.stdout and "mountPath: /root/.cache/qwen-serve/jit" in result.stdout
