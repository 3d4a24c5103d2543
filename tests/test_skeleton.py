"""The offline Qwen3 model directory: real config, real tokenizer ids, our chat template."""

from __future__ import annotations

import json

import pytest

from qwen_serve.model import QWEN3_14B_CONFIG
from qwen_serve.skeleton import ADDED_TOKENS, find_ranks, parse_ranks


@pytest.fixture(scope="module")
def skeleton_dir(tmp_path_factory):
    from qwen_serve.skeleton import write_skeleton

    return write_skeleton(tmp_path_factory.mktemp("qwen3-14b"))


@pytest.fixture(scope="module")
def hf_tokenizer(skeleton_dir):
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(str(skeleton_dir))


def test_config_is_qwen3_14b(skeleton_dir):
    config = json.loads((skeleton_dir / "config.json").read_text())
    assert config == QWEN3_14B_CONFIG
    assert (
        config["num_hidden_layers"],
        config["hidden_size"],
        config["num_attention_heads"],
        config["num_key_value_heads"],
        config["head_dim"],
        config["intermediate_size"],
        config["vocab_size"],
        config["tie_word_embeddings"],
    ) == (40, 5120, 40, 8, 128, 17408, 151936, False)


def test_known_ids(hf_tokenizer):
    assert hf_tokenizer.encode("Hello world") == [9707, 1879]
    assert hf_tokenizer.convert_tokens_to_ids(
        ["<|endoftext|>", "<|im_start|>", "<|im_end|>", "<think>", "</think>"]
    ) == [151643, 151644, 151645, 151667, 151668]
    assert hf_tokenizer.eos_token == "<|im_end|>" and hf_tokenizer.pad_token == "<|endoftext|>"


@pytest.mark.parametrize("text", ["你好，介绍一下Python编程语言。", "什么是人工智能？", "混合 text 与中文 123 🙂"])
def test_chinese_round_trip(hf_tokenizer, text):
    ids = hf_tokenizer.encode(text)
    assert hf_tokenizer.decode(ids) == text
    assert all(i < 151643 for i in ids)


def test_matches_tiktoken_on_samples(hf_tokenizer):
    import tiktoken

    from qwen_serve.skeleton import PRETOKENIZE_REGEX

    ranks = parse_ranks(find_ranks())
    reference = tiktoken.Encoding(
        "qwen", pat_str=PRETOKENIZE_REGEX, mergeable_ranks=ranks, special_tokens={c: i for i, c, _ in ADDED_TOKENS}
    )
    for text in [
        "  leading spaces\tand\ttabs\n\nnewlines 12345",
        "def f(x):\n    return x**2  # c\n",
        "I'm we'll they've",
        "Unicode: naïve café, 日本語のテキスト",
        "你好，世界！",
    ]:
        assert hf_tokenizer.encode(text) == reference.encode(text), text


def test_chat_template_turns_and_thinking_switch(hf_tokenizer):
    messages = [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "Hi"},
        {"role": "assistant", "content": "<think>\nhmm\n</think>\n\nHello!"},
        {"role": "user", "content": "Again"},
    ]
    on = hf_tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
    assert on == (
        "<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n"
        "<|im_start|>assistant\nHello!<|im_end|>\n<|im_start|>user\nAgain<|im_end|>\n<|im_start|>assistant\n"
    )
    off = hf_tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True, enable_thinking=False)
    assert off == on + "<think>\n\n</think>\n\n"


def test_chat_template_tools(hf_tokenizer):
    tools = [
        {
            "type": "function",
            "function": {
                "name": "get_weather",
                "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
            },
        }
    ]
    messages = [
        {"role": "user", "content": "Weather in Paris?"},
        {
            "role": "assistant",
            "content": "",
            "tool_calls": [{"type": "function", "function": {"name": "get_weather", "arguments": {"city": "Paris"}}}],
        },
        {"role": "tool", "content": "18 C, sunny"},
    ]
    text = hf_tokenizer.apply_chat_template(messages, tools=tools, tokenize=False, add_generation_prompt=True)
    assert text.startswith("<|im_start|>system\n# Tools\n") and '"name": "get_weather"' in text
    assert '<tool_call>\n{"name": "get_weather", "arguments": {"city": "Paris"}}\n</tool_call><|im_end|>' in text
    assert "<|im_start|>user\n<tool_response>\n18 C, sunny\n</tool_response><|im_end|>\n<|im_start|>assistant\n" in text


def test_sglang_detects_the_thinking_toggle(skeleton_dir):
    from sglang.srt.parser.template_detection import detect_reasoning_pattern

    template = json.loads((skeleton_dir / "tokenizer_config.json").read_text())["chat_template"]
    always_on, config = detect_reasoning_pattern(template)
    assert not always_on and config.toggle_param == "enable_thinking" and config.default_enabled is True


def test_tiny_model_runs_on_cpu(tmp_path):
    import torch
    from transformers import AutoModelForCausalLM

    from qwen_serve.skeleton import write_skeleton

    path = write_skeleton(tmp_path / "tiny", tiny=True)
    model = AutoModelForCausalLM.from_pretrained(str(path))
    assert type(model).__name__ == "Qwen3ForCausalLM"
    logits = model(torch.tensor([[9707, 1879]])).logits
    assert logits.shape == (1, 2, 151936) and torch.isfinite(logits).all()


def test_skeleton_command(qwen_serve, tmp_path):
    result = qwen_serve("skeleton", str(tmp_path / "m"))
    assert result.exit_code == 0, result.stderr
    assert sorted(p.name for p in (tmp_path / "m").iterdir()) == [
        ".qwen-serve-skeleton",  # what lets a later skeleton write here again, and nothing else
        "config.json",
        "generation_config.json",
        "tokenizer.json",
        "tokenizer_config.json",
    ]


def test_skeleton_with_a_missing_ranks_file(qwen_serve, tmp_path):
    result = qwen_serve("skeleton", str(tmp_path / "m"), "--ranks", str(tmp_path / "nope.tiktoken"))
    assert result.exit_code == 2 and "is not a file" in result.stderr


def test_sglang_example_script_loads_with_real_sglang(monkeypatch, capsys):
    # in this process: real SGLang's frontend (`import sglang as sgl`) loads once for every test that needs it
    import importlib.util
    import sys
    from pathlib import Path

    script = Path(__file__).resolve().parents[1] / "scripts" / "sglang_example.py"
    spec = importlib.util.spec_from_file_location("sglang_example", script)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    monkeypatch.setattr(sys, "argv", ["sglang_example.py", "--help"])
    with pytest.raises(SystemExit) as done:
        module.main()
    assert done.value.code == 0
    out = capsys.readouterr().out
    for example in ("multi_turn", "chain_of_thought", "structured", "batch"):
        assert example in out


def test_checkpoint_skeleton_carries_that_checkpoints_quantization_config(qwen_serve, tmp_path):
    from qwen_serve.model import OFFICIAL_CHECKPOINTS

    for hub_id in OFFICIAL_CHECKPOINTS:
        out = tmp_path / hub_id.split("/")[-1]
        result = qwen_serve("skeleton", str(out), "--checkpoint", hub_id)
        assert result.exit_code == 0, result.stderr
        config = json.loads((out / "config.json").read_text())
        assert config["quantization_config"] == OFFICIAL_CHECKPOINTS[hub_id]
        assert {k: v for k, v in config.items() if k != "quantization_config"} == QWEN3_14B_CONFIG
    bad = qwen_serve("skeleton", str(tmp_path / "x"), "--checkpoint", "Qwen/Qwen3-14B-INT3")
    assert bad.exit_code == 2 and "Qwen/Qwen3-14B-FP8" in bad.stderr and not (tmp_path / "x").exists()


def test_skeleton_never_writes_over_a_directory_it_did_not_write(qwen_serve, tmp_path):
    model = tmp_path / "real-model"
    model.mkdir()
    (model / "config.json").write_text('{"real": true}')
    (model / "tokenizer.json").write_text("{}")
    before = {p.name: p.read_bytes() for p in model.iterdir()}
    result = qwen_serve("skeleton", str(model))
    assert result.exit_code == 2 and len(result.error_lines) == 1 and "did not write" in result.stderr
    assert {p.name: p.read_bytes() for p in model.iterdir()} == before  # nothing changed, nothing added
    a_file = tmp_path / "notes.txt"
    a_file.write_text("mine")
    assert qwen_serve("skeleton", str(a_file)).exit_code == 2 and a_file.read_text() == "mine"
    empty = qwen_serve("skeleton", "")
    assert empty.exit_code == 2 and "''" in empty.stderr


def test_skeleton_may_rewrite_its_own_earlier_skeleton(qwen_serve, tmp_path):
    out = tmp_path / "sk"
    assert qwen_serve("skeleton", str(out)).exit_code == 0
    again = qwen_serve("skeleton", str(out), "--checkpoint", "Qwen/Qwen3-14B-FP8")
    assert again.exit_code == 0, again.stderr
    assert json.loads((out / "config.json").read_text())["quantization_config"]["quant_method"] == "fp8"
