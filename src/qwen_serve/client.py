"""qwen-test's checks: does a running server work the way a client sees it?

/v1 endpoints go through the official `openai` client (what users run); SGLang's native
endpoints through httpx. Each check returns one row: name, pass/fail/skip, seconds, detail.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from typing import Any

import httpx

from .safe_http import bounded_client
from .secret import Secret, reveal


def auth_headers(api_key: Secret | str | None) -> dict[str, str]:
    """The bearer header of an OpenAI-compatible server's --api-key (none without one): where a Secret is revealed."""
    return {"Authorization": f"Bearer {reveal(api_key)}"} if api_key else {}


PASS, FAIL, SKIP = "pass", "fail", "skip"
DEFAULT_PROMPT = "你好，介绍一下Python编程语言。"

# A schema whose every valid answer is short, so even a random-weight model can finish it.
STRUCTURED_SCHEMA = {
    "type": "object",
    "properties": {
        "language": {"type": "string", "enum": ["Python", "C", "Rust"]},
        "compiled": {"type": "boolean"},
    },
    "required": ["language", "compiled"],
    "additionalProperties": False,
}


class Unreachable(Exception):
    """The server did not answer at all (exit 2)."""


@dataclass
class CheckResult:
    name: str
    status: str
    seconds: float
    detail: str


@dataclass
class Options:
    base_url: str  # http://host:port, no /v1
    api_key: str | None = None
    model: str | None = None  # None: the first id /v1/models reports
    prompt: str = DEFAULT_PROMPT
    timeout: float = 120.0
    concurrency: int = 8
    max_tokens: int = 64


@dataclass
class Context:
    options: Options
    http: httpx.Client
    openai: Any
    model: str = "default"
    facts: dict[str, Any] = field(default_factory=dict)

    def headers(self) -> dict[str, str]:
        return auth_headers(self.options.api_key)


class Skip(Exception):
    pass


class Failed(Exception):
    pass


def _reasoning(message: Any) -> str | None:
    value = getattr(message, "reasoning_content", None)
    if value is None and getattr(message, "model_extra", None):
        value = message.model_extra.get("reasoning_content")
    return value


def _ok(condition: bool, why: str) -> None:
    if not condition:
        raise Failed(why)


# --- the checks, in the order they run ----------------------------------------------------


def check_health(ctx: Context) -> str:
    r = ctx.http.get("/health", headers=ctx.headers())
    _ok(r.status_code == 200, f"HTTP {r.status_code}: {r.text[:120]}")
    return "HTTP 200"


def check_models(ctx: Context) -> str:
    ids = [m.id for m in ctx.openai.models.list().data]
    _ok(bool(ids), "the server lists no models")
    _ok(all(isinstance(i, str) for i in ids), f"model ids that are not strings: {ids[:3]!r}")
    if ctx.options.model:
        _ok(
            ctx.options.model in ids or any(i.startswith(ctx.options.model) for i in ids),
            f"--model {ctx.options.model!r} is not among {ids}",
        )
    else:
        ctx.model = ids[0]
    return f"{len(ids)} model(s): {', '.join(ids[:3])}; using {ctx.model!r}"


def _native(ctx: Context, path: str) -> dict:
    r = ctx.http.get(path, headers=ctx.headers())
    if r.status_code == 404:
        raise Skip(f"{path} answers 404: not an SGLang server")
    _ok(r.status_code == 200, f"HTTP {r.status_code}: {r.text[:120]}")
    return r.json()


def check_model_info(ctx: Context) -> str:
    info = _native(ctx, "/get_model_info")
    _ok("model_path" in info, f"no model_path in {list(info)[:8]}")
    ctx.facts["model_info"] = info
    return f"model_path={info['model_path']}, is_generation={info.get('is_generation')}"


def check_server_info(ctx: Context) -> str:
    info = _native(ctx, "/get_server_info")
    ctx.facts["server_info"] = {
        k: info.get(k)
        for k in (
            "version",
            "tp_size",
            "torchao_config",
            "quantization",
            "kv_cache_dtype",
            "max_total_num_tokens",
            "attention_backend",
            "mem_fraction_static",
            "reasoning_parser",
            "context_length",
            "model_path",
        )
    }
    version = info.get("version")
    _ok(version is not None or "tp_size" in info, f"unexpected keys {list(info)[:8]}")
    return f"sglang {version}, tp_size={info.get('tp_size')}, max_total_num_tokens={info.get('max_total_num_tokens')}"


def check_completions(ctx: Context) -> str:
    r = ctx.openai.completions.create(model=ctx.model, prompt="The capital of France is", max_tokens=16)
    _ok(bool(r.choices), "no choices")
    tokens = r.usage.completion_tokens if r.usage else None
    _ok(bool(tokens), f"usage reports {tokens} completion tokens")
    return f"{tokens} tokens, finish_reason={r.choices[0].finish_reason}: {r.choices[0].text[:40]!r}"


def check_chat(ctx: Context) -> str:
    r = ctx.openai.chat.completions.create(
        model=ctx.model, messages=[{"role": "user", "content": ctx.options.prompt}], max_tokens=ctx.options.max_tokens
    )
    message = r.choices[0].message
    text = (message.content or "") + (_reasoning(message) or "")
    _ok(bool(text), "empty reply (no content, no reasoning_content)")
    _ok(r.usage is not None and r.usage.prompt_tokens > 0, f"usage {r.usage}")
    return f"{r.usage.prompt_tokens} prompt + {r.usage.completion_tokens} completion tokens: {text[:40]!r}"


def check_stream(ctx: Context) -> str:
    start = time.perf_counter()
    arrivals: list[float] = []
    stream = ctx.openai.chat.completions.create(
        model=ctx.model,
        messages=[{"role": "user", "content": ctx.options.prompt}],
        max_tokens=ctx.options.max_tokens,
        stream=True,
    )
    finish = None
    for chunk in stream:
        if chunk.choices:
            delta = chunk.choices[0].delta
            finish = chunk.choices[0].finish_reason or finish
            if (delta.content or "") + (_reasoning(delta) or ""):
                arrivals.append(time.perf_counter() - start)
    # the openai client ends the loop quietly at [DONE] or when the server just closes: only a finish_reason says
    # the stream was whole
    _ok(finish is not None, f"the stream ended after {len(arrivals)} text chunk(s) without a finish_reason: cut short")
    _ok(len(arrivals) >= 2, f"{len(arrivals)} chunk(s) carried text; expected several")
    spread = arrivals[-1] - arrivals[0]
    _ok(spread > 0, "all chunks arrived at once: not streamed incrementally")
    ctx.facts["ttft_s"] = arrivals[0]
    return f"{len(arrivals)} text chunks over {spread:.3f} s; time to first token {arrivals[0]:.3f} s"


def _chat_thinking(ctx: Context, enable: bool | None):
    extra = {} if enable is None else {"chat_template_kwargs": {"enable_thinking": enable}}
    r = ctx.openai.chat.completions.create(
        model=ctx.model,
        messages=[{"role": "user", "content": "What is 17 * 23? Think it through."}],
        max_tokens=ctx.options.max_tokens,
        extra_body=extra,
    )
    message = r.choices[0].message
    return message.content or "", _reasoning(message) or ""


def check_thinking_split(ctx: Context) -> str:
    content, reasoning = _chat_thinking(ctx, True)
    if "<think>" in content or "</think>" in content:
        raise Failed(
            "the think block is left inside content: the server runs no reasoning parser "
            "(qwen-serve passes --reasoning-parser qwen3)"
        )
    if not reasoning:
        raise Skip(
            "no reasoning_content and no <think> in content: the model did not think "
            "(random weights?), or the server has no reasoning parser"
        )
    return f"reasoning_content {len(reasoning)} chars, content {len(content)} chars"


def check_thinking_off(ctx: Context) -> str:
    content, reasoning = _chat_thinking(ctx, False)
    _ok(not reasoning, f"enable_thinking=false ignored: reasoning_content has {len(reasoning)} chars")
    _ok("<think>" not in content, "enable_thinking=false ignored: <think> in content")
    _ok(bool(content), "empty content")
    return f"no reasoning_content; content {len(content)} chars"


def check_structured(ctx: Context) -> str:
    import jsonschema

    r = ctx.openai.chat.completions.create(
        model=ctx.model,
        max_tokens=128,
        messages=[
            {"role": "user", "content": "Name a programming language and say if it is compiled. Answer in JSON."}
        ],
        response_format={"type": "json_schema", "json_schema": {"name": "language", "schema": STRUCTURED_SCHEMA}},
        extra_body={"chat_template_kwargs": {"enable_thinking": False}},
    )
    text = r.choices[0].message.content or ""
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise Failed(f"reply is not JSON ({exc.msg}): {text[:60]!r}") from None
    try:
        jsonschema.validate(value, STRUCTURED_SCHEMA)
    except jsonschema.ValidationError as exc:
        raise Failed(f"JSON does not match the schema: {exc.message}") from None
    return f"valid JSON matching the schema: {text[:60]}"


WEATHER_TOOL = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Current weather in a city.",
        # strict: the arguments are constrained to the schema. SGLang (0.5.17's FunctionCallParser, as OpenAI's
        # protocol has it) constrains a named call's format always, its arguments only when strict: without it a
        # random-weight server answered get_weather(-0.0) on the H200 (bench/results/h200/long_context/2026-12-03).
        # Closed values (enums, both required): the structural tag SGLang builds admits any whitespace inside the
        # JSON (--constrained-json-disable-any-whitespace reaches json_schema only), and random weights wandered in
        # it past 128 tokens with a free-text city; with closed values the call closes within max_tokens.
        "strict": True,
        "parameters": {
            "type": "object",
            "properties": {
                "city": {"type": "string", "enum": ["Hangzhou", "Beijing", "Shanghai"]},
                "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]},
            },
            "required": ["city", "unit"],
            "additionalProperties": False,
        },
    },
}


def check_tools(ctx: Context) -> str:
    """An agent's request: `tools` and a named `tool_choice` must come back as `tool_calls` whose arguments parse as
    JSON and match the tool's schema (SGLang constrains a named, strict call, so this holds with random weights too), with no
    raw <tool_call> text left in the content (the tool-call parser is on: qwen-serve's tool_call_parser)."""
    import jsonschema

    r = ctx.openai.chat.completions.create(
        model=ctx.model,
        max_tokens=1024,
        messages=[{"role": "user", "content": "What is the weather in Hangzhou?"}],
        tools=[WEATHER_TOOL],
        tool_choice={"type": "function", "function": {"name": "get_weather"}},
        parallel_tool_calls=False,
        extra_body={"chat_template_kwargs": {"enable_thinking": False}},
    )
    message = r.choices[0].message
    calls = message.tool_calls or []
    _ok(calls, f"no tool_calls; content {(message.content or '')[:60]!r} (is the server's tool-call parser on?)")
    call = calls[0].function
    _ok(call.name == "get_weather", f"called {call.name!r}, expected 'get_weather'")
    try:
        arguments = json.loads(call.arguments)
    except json.JSONDecodeError as exc:
        raise Failed(f"arguments are not JSON ({exc.msg}): {call.arguments[:60]!r}") from None
    try:
        jsonschema.validate(arguments, WEATHER_TOOL["function"]["parameters"])
    except jsonschema.ValidationError as exc:
        raise Failed(f"arguments do not match the tool's schema: {exc.message}") from None
    _ok("<tool_call>" not in (message.content or ""), "raw <tool_call> text left in the content")
    return f"tool_calls: get_weather({call.arguments[:60]})"


def check_max_tokens(ctx: Context) -> str:
    r = ctx.openai.chat.completions.create(
        model=ctx.model,
        max_tokens=5,
        messages=[{"role": "user", "content": "Write a long essay about the history of computing."}],
    )
    choice = r.choices[0]
    _ok(choice.finish_reason == "length", f"finish_reason={choice.finish_reason!r}, expected 'length'")
    _ok(r.usage.completion_tokens == 5, f"{r.usage.completion_tokens} completion tokens, expected 5")
    return "5 tokens, finish_reason=length"


def check_concurrency(ctx: Context) -> str:
    n = ctx.options.concurrency

    def one(i: int) -> int:
        r = ctx.openai.chat.completions.create(
            model=ctx.model, max_tokens=32, messages=[{"role": "user", "content": f"Request {i}: count from 1 to 20."}]
        )
        return r.usage.completion_tokens

    start = time.perf_counter()
    with ThreadPoolExecutor(max_workers=n) as pool:
        futures = [pool.submit(one, i) for i in range(n)]
        errors, tokens = [], 0
        for f in futures:
            try:
                tokens += f.result()
            except Exception as exc:  # noqa: BLE001 - reported, not raised
                errors.append(f"{type(exc).__name__}: {exc}"[:80])
    wall = time.perf_counter() - start
    _ok(not errors, f"{len(errors)}/{n} failed: {errors[0] if errors else ''}")
    return f"{n} parallel requests OK; {tokens} tokens in {wall:.2f} s = {tokens / wall:.1f} tok/s"


def check_bad_request(ctx: Context) -> str:
    bodies = {
        "broken JSON": b'{"model": "x", "messages": [',
        "messages not a list": json.dumps({"model": ctx.model, "messages": "hello"}).encode(),
    }
    codes = {}
    for what, body in bodies.items():
        r = ctx.http.post(
            "/v1/chat/completions", content=body, headers={**ctx.headers(), "Content-Type": "application/json"}
        )
        codes[what] = r.status_code
    # 401/403/404/405 are 4xx too, but say nothing about validating the body
    bad = {w: c for w, c in codes.items() if not 400 <= c < 500 or c in (401, 403, 404, 405)}
    _ok(not bad, "; ".join(f"{w} -> HTTP {c} (expected 400 or 422)" for w, c in bad.items()))
    return ", ".join(f"{w} -> {c}" for w, c in codes.items())


def check_auth(ctx: Context) -> str:
    if not ctx.options.api_key:
        raise Skip("no --api-key given")
    body = {"model": ctx.model, "messages": [{"role": "user", "content": "hi"}], "max_tokens": 1}
    codes = {
        "no key": ctx.http.post("/v1/chat/completions", json=body).status_code,
        "wrong key": ctx.http.post(
            "/v1/chat/completions", json=body, headers={"Authorization": "Bearer wrong-key"}
        ).status_code,
    }
    accepted = [w for w, c in codes.items() if c < 400]
    _ok(not accepted, f"request with {', '.join(accepted)} was accepted (HTTP {codes})")
    return ", ".join(f"{w} -> HTTP {c}" for w, c in codes.items())


def one_line(text: str, limit: int = 300) -> str:
    """A check's detail as one printable line: whatever a server sent (an HTML error page, control characters,
    line breaks) is shown for what it is, never as pages of markup or terminal escapes."""
    if re.search(r"<(!doctype|html|body|head)\b", text, re.IGNORECASE):
        head = re.split(r"<", text, maxsplit=1)[0].strip(" :")
        text = (
            head + ": " if head else ""
        ) + f"an HTML page ({len(text):,} characters), not an OpenAI-compatible answer"
    text = re.sub(r"\s+", " ", text)
    text = "".join(c if c.isprintable() else f"\\x{ord(c):02x}" for c in text)
    return text[:limit]


# the checks that send no model id: run even when the server names none
MODEL_FREE = ("health", "models", "model_info", "server_info")

CHECKS: dict[str, Callable[[Context], str]] = {
    "health": check_health,
    "models": check_models,
    "model_info": check_model_info,
    "server_info": check_server_info,
    "completions": check_completions,
    "chat": check_chat,
    "stream": check_stream,
    "thinking_split": check_thinking_split,
    "thinking_off": check_thinking_off,
    "structured": check_structured,
    "tools": check_tools,
    "max_tokens": check_max_tokens,
    "concurrency": check_concurrency,
    "bad_request": check_bad_request,
    "auth": check_auth,
}


def wait_until_up(base_url: str, seconds: float) -> None:
    """Poll /health until it answers 200 (any HTTP answer counts as reachable)."""
    deadline = time.monotonic() + seconds
    last = "no attempt"
    while True:
        try:
            with bounded_client(5) as http:
                healthy = http.get(base_url + "/health").status_code == 200
            if healthy:
                return
            last = "not healthy yet"
        except httpx.HTTPError as exc:
            last = f"{type(exc).__name__}: {exc}"
        if time.monotonic() >= deadline:
            raise Unreachable(f"{base_url}: not ready after {seconds:.0f} s ({last})")
        time.sleep(1.0)


def run_checks(
    options: Options, selected: list[str], on_result: Callable[[CheckResult], None] = lambda r: None
) -> tuple[list[CheckResult], dict]:
    from openai import OpenAI

    # no keep-alive: a server that answers a malformed request with 500 may drop the connection
    # --timeout is each request's whole time, streams included, and no answer may grow past MAX_ANSWER_BYTES
    http = bounded_client(options.timeout, base_url=options.base_url, limits=httpx.Limits(max_keepalive_connections=0))
    client = OpenAI(
        base_url=options.base_url + "/v1",
        api_key=reveal(options.api_key) or "EMPTY",
        timeout=options.timeout,
        max_retries=0,
        http_client=bounded_client(options.timeout),
    )
    ctx = Context(options=options, http=http, openai=client, model=options.model or "default")
    try:
        http.get("/health", headers=ctx.headers())
    except httpx.HTTPError as exc:
        raise Unreachable(f"{options.base_url}: {type(exc).__name__}: {exc}") from None
    no_model = None  # why no model id is known: the checks that send one are skipped, not failed for it
    if not options.model:  # pick the served model even when the `models` row is not selected
        from .wire import first_model

        try:
            r = http.get("/v1/models", headers=ctx.headers())
            found, why_not = first_model(r.status_code, r.content)
        except httpx.HTTPError as exc:  # the `models` check reports this properly
            found, why_not = None, f"failed ({type(exc).__name__})"
        if found:
            ctx.model = found
        else:
            no_model = f"/v1/models {why_not}"
    results = []
    try:
        for name in selected:
            start = time.perf_counter()
            try:
                if no_model and name not in MODEL_FREE:
                    raise Skip(f"no model id to ask for: {no_model}; pass --model NAME")
                status, detail = PASS, CHECKS[name](ctx)
            except Skip as exc:
                status, detail = SKIP, str(exc)
            except Failed as exc:
                status, detail = FAIL, str(exc)
            except Exception as exc:  # noqa: BLE001 - any client error is this check's failure
                cause = exc.__cause__ if isinstance(exc.__cause__, httpx.HTTPError) else exc  # openai wraps httpx's
                status, detail = FAIL, f"{type(cause).__name__}: {cause}"[:300]
            result = CheckResult(name, status, round(time.perf_counter() - start, 3), one_line(detail))
            results.append(result)
            on_result(result)
    finally:
        http.close()
        client.close()
    ctx.facts["model"] = ctx.model
    return results, ctx.facts


def as_json(results: list[CheckResult], facts: dict, options: Options) -> str:
    return json.dumps(
        {
            "base_url": options.base_url,
            "model": facts.get("model"),
            "checks": [asdict(r) for r in results],
            "facts": facts,
            "summary": summarize(results),
        },
        indent=2,
        ensure_ascii=False,
    )


def summarize(results: list[CheckResult]) -> dict[str, int]:
    return {s: sum(r.status == s for r in results) for s in (PASS, FAIL, SKIP)}
