"""qwen-test against a real OpenAI-compatible server on the CPU: `transformers serve` (Hugging Face)
serving the --tiny Qwen3 skeleton from an offline HF cache. No mock: every row is a real request.

What this server cannot do is skipped with the reason, never faked:
- /get_model_info, /get_server_info: SGLang-only (qwen-test itself reports skip);
- thinking_split: a random-weight model never closes a <think> block, and transformers serve
  does not force reasoning (qwen-test reports skip);
- structured: transformers serve ignores `response_format` (qwen-test fails it: shown below);
- tools: transformers serve does not constrain a named `tool_choice`, and a random-weight model writes no tool call,
  only text (qwen-test fails it; shown with a server answering text, test_tool_calls_must_parse_and_match_the_tools_schema:
  against this one the check would first generate its 1,024 tokens; SGLang constrains it — the replay under its
  grammar below);
- bad_request: transformers serve answers a schema-invalid body with HTTP 500 (shown below);
- auth: transformers serve has no API keys (shown below).
"""

from __future__ import annotations

import json

from click.testing import CliRunner
from conftest import free_port

from qwen_serve.cli.qwen_test import qwen_test_command

UNSUPPORTED_HERE = "structured,bad_request,tools"


def qwen_test(*args: str):
    result = CliRunner().invoke(qwen_test_command, list(args), prog_name="qwen-test")
    return result


def rows(result) -> dict[str, dict]:
    return {c["name"]: c for c in json.loads(result.stdout)["checks"]}


def test_all_supported_checks_pass(server):
    # 16 tokens a chat: what each check proves is the endpoint's shape, not how long a random-weight model can talk
    result = qwen_test(
        "--base-url", server, "--skip", UNSUPPORTED_HERE, "--json", "--concurrency", "4", "--max-tokens", "16"
    )  # fmt: skip
    assert result.exit_code == 0, result.stdout + result.stderr
    got = rows(result)
    for name in ("health", "models", "completions", "chat", "stream", "thinking_off", "max_tokens", "concurrency"):
        assert got[name]["status"] == "pass", got[name]
    for name in ("model_info", "server_info"):
        assert got[name]["status"] == "skip" and "not an SGLang server" in got[name]["detail"]
    assert got["auth"]["status"] == "skip" and "no --api-key" in got["auth"]["detail"]
    assert got["thinking_split"]["status"] in ("skip", "pass")
    assert "using 'qwen-serve/Qwen3-tiny'" in got["models"]["detail"]
    assert "4 parallel requests OK" in got["concurrency"]["detail"]
    assert "time to first token" in got["stream"]["detail"]
    assert json.loads(result.stdout)["summary"]["fail"] == 0


def test_seed_chinese_prompts_work(server):
    for prompt in ("你好，介绍一下Python编程语言。", "什么是人工智能？"):
        result = qwen_test(
            "--base-url", server + "/v1", "--only", "chat,completions", "--prompt", prompt, "--json", "--max-tokens", "16"
        )  # fmt: skip
        assert result.exit_code == 0, result.stdout
        assert all(r["status"] == "pass" for r in rows(result).values())


def test_human_table_and_summary(server):
    result = qwen_test("--base-url", server, "--only", "health,models,max_tokens")
    assert result.exit_code == 0
    assert "max_tokens" in result.stdout and "3 checks passed, 0 failed, 0 skipped" in result.stdout


def test_unsupported_features_fail_loudly(server):
    result = qwen_test("--base-url", server, "--only", "structured,bad_request", "--json")
    assert result.exit_code == 1
    got = rows(result)
    assert got["structured"]["status"] == "fail" and "not JSON" in got["structured"]["detail"]
    assert got["bad_request"]["status"] == "fail" and "HTTP 500 (expected 400 or 422)" in got["bad_request"]["detail"]


def test_api_key_not_enforced_is_a_failure(server):
    result = qwen_test("--base-url", server, "--only", "auth", "--api-key", "sk-secret", "--json")
    assert result.exit_code == 1
    assert rows(result)["auth"]["status"] == "fail" and "was accepted" in rows(result)["auth"]["detail"]


def test_wrong_model_fails_the_models_check(server):
    result = qwen_test("--base-url", server, "--only", "models", "--model", "Qwen/Qwen3-14B", "--json")
    assert result.exit_code == 1 and "is not among" in rows(result)["models"]["detail"]


def test_server_down_exits_2_with_one_line():
    result = qwen_test("--port", str(free_port()))
    assert result.exit_code == 2
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "cannot reach the server" in lines[0] and "is it running?" in lines[0]
    assert "qwen-serve --preset auto" in lines[0]


def test_wait_gives_up_with_exit_2():
    result = qwen_test("--port", str(free_port()), "--wait", "1")
    assert result.exit_code == 2 and "not ready after 1 s" in result.stderr


def test_unknown_check_name_exits_2():
    result = qwen_test("--only", "helth")
    assert result.exit_code == 2 and "unknown check 'helth'" in result.stderr and "health" in result.stderr


def test_a_cut_stream_fails_the_stream_check(tmp_path):
    """A real HTTP server on 127.0.0.1 whose chat stream stops after two text chunks (no finish_reason, no [DONE]):
    the stream check fails and says so; before, two chunks passed it."""
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).parent))
    from aiohttp import web
    from test_bench import aiohttp_app_served

    async def models(request):
        return web.json_response({"object": "list", "data": [{"id": "m", "object": "model"}]})

    async def chat(request):
        out = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await out.prepare(request)
        for word in ("Hello", " there"):
            delta = {"id": "c", "object": "chat.completion.chunk", "created": 0, "model": "m",
                     "choices": [{"index": 0, "delta": {"content": word}, "finish_reason": None}]}  # fmt: skip
            await out.write(f"data: {json.dumps(delta)}\n\n".encode())
        await out.write_eof()
        return out

    app = web.Application()
    app.router.add_get("/v1/models", models)
    app.router.add_post("/v1/chat/completions", chat)
    with aiohttp_app_served(app) as url:
        result = qwen_test("--base-url", url, "--only", "stream", "--json")
    assert result.exit_code == 1, result.stdout + result.stderr
    row = rows(result)["stream"]
    assert row["status"] == "fail" and "without a finish_reason" in row["detail"]


def tools_server(answer: dict):
    """A real chat server on 127.0.0.1 that answers every chat request with ANSWER as its message."""
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).parent))
    from aiohttp import web
    from test_bench import aiohttp_app_served

    async def models(request):
        return web.json_response({"object": "list", "data": [{"id": "m", "object": "model"}]})

    async def chat(request):
        body = await request.json()
        assert body["tool_choice"]["function"]["name"] == "get_weather" and body["tools"][0]["function"]["strict"]
        return web.json_response(
            {
                "id": "c",
                "object": "chat.completion",
                "created": 0,
                "model": "m",
                "choices": [{"index": 0, "message": {"role": "assistant", **answer}, "finish_reason": "tool_calls"}],
                "usage": {"prompt_tokens": 5, "completion_tokens": 9, "total_tokens": 14},
            }
        )

    app = web.Application()
    app.router.add_get("/v1/models", models)
    app.router.add_post("/v1/chat/completions", chat)
    return aiohttp_app_served(app)


def call(arguments: str) -> dict:
    return {
        "content": None,
        "tool_calls": [{"id": "t", "type": "function", "function": {"name": "get_weather", "arguments": arguments}}],
    }


def test_tool_calls_must_parse_and_match_the_tools_schema():
    """The tools check: a named tool_choice must come back as tool_calls with JSON arguments valid for the schema;
    tool calls left as text (no tool-call parser on the server) fail it."""
    for answer, status, words in (
        (call('{"city": "Hangzhou", "unit": "celsius"}'), "pass", "get_weather"),
        (call('{"unit": "celsius"}'), "fail", "'city' is a required property"),
        (call('{"city": "Paris", "unit": "celsius"}'), "fail", "'Paris' is not one of"),
        (call("city=Hangzhou"), "fail", "not JSON"),
        ({"content": "Hangzhou is sunny today."}, "fail", "no tool_calls"),  # a server that constrains nothing
        (
            {"content": '<tool_call>\n{"name": "get_weather", "arguments": {"city": "x"}}\n</tool_call>'},
            "fail",
            "no tool_calls",
        ),
    ):
        with tools_server(answer) as url:
            result = qwen_test("--base-url", url, "--only", "tools", "--json")
        row = rows(result)["tools"]
        assert row["status"] == status and words in row["detail"], row


def test_sglangs_own_parser_constrains_the_tools_checks_arguments_to_the_schema():
    """What makes the tools check hold with random weights: SGLang 0.5.17's real FunctionCallParser, with
    qwen-serve's tool_call_parser (qwen), turns the check's named, strict call into a structural tag that forces
    one <tool_call> and carries the tool's schema; without strict the schema is left out (any JSON passes)."""
    import copy

    from sglang.srt.entrypoints.openai.protocol import Tool, ToolChoice
    from sglang.srt.function_call.function_call_parser import FunctionCallParser

    from qwen_serve.client import WEATHER_TOOL
    from qwen_serve.config import load_config

    parser_name = load_config(None).values["tool_call_parser"]
    named = ToolChoice(type="function", function={"name": "get_weather"})

    def constraint(tool: dict):
        kind, tag = FunctionCallParser([Tool(**tool)], parser_name).get_structure_constraint(named)
        return kind, json.dumps(tag.model_dump() if hasattr(tag, "model_dump") else tag)

    kind, tag = constraint(WEATHER_TOOL)
    assert kind == "structural_tag" and "<tool_call>" in tag and '"enum": ["celsius", "fahrenheit"]' in tag
    loose = copy.deepcopy(WEATHER_TOOL)
    del loose["function"]["strict"]
    assert "celsius" not in constraint(loose)[1]


def test_the_tools_check_closes_its_call_under_sglangs_grammar_with_random_weights(tmp_path):
    """What the GPU check meets: SGLang 0.5.17 compiles the check's named, strict call (tool_call_parser from the
    bundled config) into a structural tag with its real xgrammar backend; sampling at random among the tokens that
    grammar allows (random weights) must close the call within the check's max_tokens, and SGLang's parser must
    read it back as a call whose arguments match the schema. With a free-text city the whitespace the tag admits
    kept most random runs open past 128 tokens (the H200 run of 2026-12-03)."""
    import jsonschema
    import numpy
    import xgrammar
    from sglang.srt.constrained.xgrammar_backend import XGrammarGrammarBackend
    from sglang.srt.entrypoints.openai.protocol import Tool, ToolChoice
    from sglang.srt.function_call.function_call_parser import FunctionCallParser
    from transformers import AutoTokenizer

    from qwen_serve.client import WEATHER_TOOL
    from qwen_serve.config import load_config
    from qwen_serve.skeleton import write_skeleton

    tokenizer = AutoTokenizer.from_pretrained(write_skeleton(tmp_path / "tiny", tiny=True))
    vocab = len(tokenizer)
    parser = FunctionCallParser([Tool(**WEATHER_TOOL)], load_config(None).values["tool_call_parser"])
    kind, tag = parser.get_structure_constraint(
        ToolChoice(type="function", function={"name": "get_weather"}), parallel_tool_calls=False
    )
    assert kind == "structural_tag"
    backend = XGrammarGrammarBackend(tokenizer, vocab_size=vocab)
    key = json.dumps(tag.model_dump(by_alias=True) if hasattr(tag, "model_dump") else tag)
    rng = numpy.random.default_rng(0)
    for _ in range(10):
        matcher = backend.dispatch_structural_tag(key).matcher
        bitmask = xgrammar.allocate_token_bitmask(1, vocab)
        ids = []
        while not matcher.is_terminated() and len(ids) < 1024:  # the check's max_tokens
            matcher.fill_next_token_bitmask(bitmask)
            # random weights: the argmax of random logits under the grammar's mask, that is one of the tokens the
            # mask allows, each as likely (bit k of the mask's word j allows token 32j + k)
            allowed = numpy.flatnonzero(numpy.unpackbits(bitmask.numpy().view(numpy.uint8), bitorder="little")[:vocab])
            ids.append(int(rng.choice(allowed)))
            assert matcher.accept_token(ids[-1])
            if "</tool_call>" in tokenizer.decode(ids[-12:]):
                break  # the call is closed: what follows is free text the parser leaves in the content
        _, calls = parser.parse_non_stream(tokenizer.decode(ids))
        assert [c.name for c in calls] == ["get_weather"], tokenizer.decode(ids)[:200]
        jsonschema.validate(json.loads(calls[0].parameters), WEATHER_TOOL["function"]["parameters"])
