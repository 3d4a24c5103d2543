"""#29 point 3: a context above Qwen3-14B's 40,960 turns YaRN on the way Qwen documents it, and SGLang 0.5.17's own
ModelConfig (CPU, real code) accepts the result where Qwen's flags alone are refused."""

from __future__ import annotations

import json
import shlex
from pathlib import Path

import pytest

from qwen_serve.long_context import yarn_override

ROOT = Path(__file__).resolve().parents[1]


def override_in(command: str) -> dict | None:
    argv = shlex.split(command)
    if "--json-model-override-args" not in argv:
        return None
    return json.loads(argv[argv.index("--json-model-override-args") + 1])


@pytest.mark.parametrize(("context", "factor"), [(131072, 4.0), (65536, 2.0), (41000, 2.0), (90000, 3.0)])
def test_a_long_context_turns_yarn_on_with_the_smallest_whole_factor(qwen_serve, context, factor):
    result = qwen_serve("--dry-run", "--json", "--gpu", "H200", "--preset", "fp8", "--context-length", str(context))
    assert result.exit_code == 0, result.stderr
    data = result.json()
    override = override_in(data["command"])
    assert override["rope_scaling"] == {
        "rope_type": "yarn",
        "factor": factor,
        "original_max_position_embeddings": 32768,
    }
    assert override["max_position_embeddings"] == 32768 * factor >= context
    assert any("YaRN rope scaling is on" in n and f"factor {factor}" in n for n in data["notes"]), data["notes"]
    assert data["plan"]["context_length"] == context


def test_the_native_context_needs_no_yarn(qwen_serve):
    for args in ((), ("--context-length", "40960"), ("--context-length", "8192")):
        data = qwen_serve("--dry-run", "--json", "--gpu", "H200", "--preset", "fp8", *args).json()
        assert override_in(data["command"]) is None
        assert not any("YaRN" in n for n in data["notes"])


def test_the_users_own_override_is_left_alone(qwen_serve):
    own = '{"rope_scaling":{"rope_type":"yarn","factor":2.0,"original_max_position_embeddings":32768}}'
    data = qwen_serve(
        "--dry-run", "--json", "--gpu", "H200", "--context-length", "60000", "--", "--json-model-override-args", own
    ).json()
    assert override_in(data["command"]) == json.loads(own)
    assert not any("YaRN rope scaling is on" in n for n in data["notes"])


def test_the_plan_refuses_a_gpu_that_cannot_hold_one_full_length_request(qwen_serve):
    small = qwen_serve("--dry-run", "--json", "--gpu", "RTX 4090", "--preset", "balanced", "--context-length", "131072")
    plan = small.json()["plan"]
    assert not plan["fits"] and any("not one request of context_length 131,072" in r for r in plan["reasons"])
    big = qwen_serve("--dry-run", "--json", "--gpu", "H200", "--preset", "balanced", "--context-length", "131072")
    assert big.json()["plan"]["fits"]


def test_sglangs_own_model_config_accepts_the_override_and_refuses_qwens_flags_alone(tmp_path, qwen_serve):
    model = tmp_path / "qwen3-14b"
    assert qwen_serve("skeleton", str(model)).exit_code == 0
    config = json.loads((model / "config.json").read_text())
    config["max_position_embeddings"] = 40960  # the real Qwen3-14B's (the tiny skeleton's is smaller)
    (model / "config.json").write_text(json.dumps(config))
    from sglang.srt.configs.model_config import ModelConfig

    ours = ModelConfig(str(model), context_length=131072, model_override_args=json.dumps(yarn_override(131072)))
    assert ours.context_len == 131072
    assert ours.hf_config.rope_scaling["factor"] == 4.0 and ours.hf_config.rope_scaling["rope_type"] == "yarn"
    qwens = {"rope_scaling": yarn_override(131072)["rope_scaling"]}
    with pytest.raises(ValueError, match="greater than the derived context_length"):
        ModelConfig(str(model), context_length=131072, model_override_args=json.dumps(qwens))
