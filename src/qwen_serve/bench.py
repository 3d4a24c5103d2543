"""qwen-bench: an asynchronous load generator for OpenAI-compatible servers.

Random prompts of an exact token count (the model's own tokenizer, offline), streamed
/v1/completions, a sweep of concurrency levels, each bounded by a request count and a time
limit; per level: request/s, output tokens/s, TTFT, TPOT and end-to-end percentiles, errors,
and the client's own CPU time per request. Metrics follow `python -m sglang.bench_serving`:
TTFT = first streamed text; TPOT = (end-to-end - TTFT) / (output tokens - 1); throughput over
the level's wall time from the first request sent to the last one finished.
"""

from __future__ import annotations

import asyncio
import collections
import dataclasses
import json
import random
import re
import statistics
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import httpx

from .client import auth_headers
from .outputs import write_png
from .safe_http import bounded_client


@dataclass
class RequestResult:
    ok: bool
    ttft: float | None = None
    e2e: float | None = None
    output_tokens: int = 0
    error: str | None = None
    prompt_tokens: int | None = None  # the server's own count (usage.prompt_tokens), where it reports one
    sent: float | None = None  # time.perf_counter() when it was sent; seconds into its level once run_level returns

    @property
    def tpot(self) -> float | None:
        if self.ok and self.output_tokens > 1 and self.ttft is not None:
            return (self.e2e - self.ttft) / (self.output_tokens - 1)
        return None


@dataclass
class LevelResult:
    concurrency: int
    requests: int
    completed: int
    errors: int
    duration_s: float
    request_throughput: float
    output_throughput: float
    total_output_tokens: int
    input_len: int | None  # None: prompts from a --prompts file, of whatever length they have
    output_len: int
    ttft_ms: dict[str, float]
    tpot_ms: dict[str, float]
    e2e_ms: dict[str, float]
    client_cpu_ms_per_request: float
    error_samples: list[str] = field(default_factory=list)
    # the prompt lengths the server counted ({min, mean, max, reported}); None when it reports none.
    # Equal to input_len when the tokenizers agree: the proof that "exact" lengths reached the model
    server_input_tokens: dict[str, float] | None = None
    # every request in the order sent, column by column (like sglang.bench_serving --output-details):
    # sent_s (seconds after the level began), ttft_ms, e2e_ms, output_tokens, prompt_tokens, error.
    # The raw data behind the percentiles: others can test them, see arrival timing, bootstrap CIs
    per_request: dict[str, list] = field(default_factory=dict)
    # 95 % interval of TTFT p50 (ms) with whole rounds resampled (ttft_p50_interval); None below 2 rounds
    ttft_p50_ci95_ms: list[float] | None = None


def percentile(values: list[float], q: int | str) -> float:
    """The q-th percentile interpolated as numpy.percentile's default (and sglang.bench_serving's);
    q = "mean": the mean."""
    if q == "mean":
        return statistics.fmean(values)
    return statistics.quantiles(values, n=100, method="inclusive")[q - 1] if len(values) > 1 else values[0]


def percentiles(values: list[float]) -> dict[str, float]:
    """Mean, p50, p90, p99 and max in ms."""
    if not values:
        return {}
    return {
        "mean": statistics.fmean(values) * 1000,
        "p50": percentile(values, 50) * 1000,
        "p90": percentile(values, 90) * 1000,
        "p99": percentile(values, 99) * 1000,
        "max": max(values) * 1000,
    }


def rounds_of(values: list, concurrency: int) -> list[list]:
    """Consecutive blocks of `concurrency` values in the order sent: the rounds of a closed-loop level.
    At a fixed output length a round finishes in one decode step and its successors reach the server
    as one burst, so a round's requests are not independent samples: bootstraps resample rounds."""
    return [values[i : i + concurrency] for i in range(0, len(values), concurrency)]


def resample_rounds(rounds: list[list[float]], rng: random.Random) -> list[float]:
    """One bootstrap draw: as many rounds as there are, with replacement, their values pooled."""
    return [value for block in rng.choices(rounds, k=len(rounds)) for value in block]


def read_tokenizer(path: str, flag: str = "--tokenizer"):
    """A model's tokenizer.json (a model directory or the file), read by the `tokenizers` library: the engine of
    transformers' fast tokenizer, which SGLang serves the model with, without importing transformers or torch."""
    from .errors import QwenServeError

    file = Path(path) / "tokenizer.json" if Path(path).is_dir() else Path(path)
    if not file.is_file():
        raise QwenServeError(
            f"{flag} {path}: no tokenizer.json there",
            fix=f"pass {flag} DIR, a folder that holds the model's tokenizer.json",
        )
    return needs_extra("tokenizers").Tokenizer.from_file(str(file))


def make_prompts(tokenizer, count: int, input_len: int, seed: int = 0) -> list[str]:
    """Texts that encode to exactly `input_len` tokens (decode random ids, re-encode, trim); `tokenizer` is a
    `tokenizers.Tokenizer` (read_tokenizer)."""
    rng = random.Random(seed)
    special = {i for i, token in tokenizer.get_added_tokens_decoder().items() if token.special}
    vocab = [i for i in range(min(tokenizer.get_vocab_size(with_added_tokens=True), 151643)) if i not in special]
    prompts = []
    while len(prompts) < count:
        ids = [rng.choice(vocab) for _ in range(input_len + 8)]
        for _ in range(10):
            text = tokenizer.decode(ids[:input_len], skip_special_tokens=False)
            ids = tokenizer.encode(text, add_special_tokens=False).ids
            if len(ids) == input_len:
                prompts.append(text)
                break
            if len(ids) < input_len:
                ids = ids + [rng.choice(vocab) for _ in range(input_len - len(ids) + 4)]
    return prompts


def load_prompts(path: str) -> list[str]:
    """A --prompts file: JSON lines, each {"prompt": "..."} (other keys ignored), used in order."""
    from .errors import QwenServeError

    prompts = []
    for number, line in enumerate(Path(path).read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            prompt = json.loads(line)["prompt"]
        except (json.JSONDecodeError, TypeError, KeyError):
            prompt = None
        if not isinstance(prompt, str) or not prompt:
            raise QwenServeError(
                f'--prompts: line {number} of {path} is not a JSON object with a non-empty string "prompt"',
                fix='write one {"prompt": "..."} per line',
            )
        prompts.append(prompt)
    return prompts


async def one_request(session, url: str, body: dict, headers: dict) -> RequestResult:
    """One streamed completion. Output tokens: the server's usage count where it sends one, else
    the text chunks streamed. Every event is checked by type (wire.StreamEvent) before it is counted."""
    import aiohttp

    from .wire import StreamEvent, ValidationError, why

    start = time.perf_counter()
    first = None
    chunks = 0
    usage_tokens = prompt_tokens = None
    # a stream is whole once a finish_reason arrived (the model's end); [DONE] follows on SGLang, vLLM and OpenAI but
    # not on every server (transformers serve never sends it), so its absence alone is no cut
    finished = False
    try:
        async with session.post(url, json=body, headers={**headers, "Accept-Encoding": "identity"}) as r:
            encoding = r.headers.get("Content-Encoding", "identity").strip().lower() or "identity"
            if encoding != "identity":  # the session decodes nothing: a compressed stream is refused, not inflated
                return RequestResult(
                    False, error=f"compressed stream ({encoding[:20]!r}) though asked for none", sent=start
                )
            if r.status != 200:
                text = (await r.content.read(4096)).decode(errors="replace")
                return RequestResult(False, error=f"HTTP {r.status}: {text[:120]}", sent=start)
            async for raw in r.content:  # one SSE line at a time
                if not raw.startswith(b"data:"):
                    continue
                data = raw[5:].strip()
                if data == b"[DONE]":
                    break
                event = StreamEvent.model_validate_json(data)
                if event.usage:
                    usage_tokens, prompt_tokens = event.usage.completion_tokens, event.usage.prompt_tokens
                for choice in event.choices:
                    finished = finished or bool(choice.finish_reason)
                    if choice.text:
                        chunks += 1
                        if first is None:
                            first = time.perf_counter() - start
    except ValidationError as exc:
        return RequestResult(False, error=f"an event of the wrong shape: {why(exc, whole='the event')}", sent=start)
    except (aiohttp.ClientError, asyncio.TimeoutError, ValueError) as exc:  # ValueError: overlong line
        return RequestResult(False, error=f"{type(exc).__name__}: {exc}"[:160], sent=start)
    e2e = time.perf_counter() - start
    tokens = usage_tokens if usage_tokens is not None else chunks
    if first is None:
        return RequestResult(False, e2e=e2e, error="no text streamed", sent=start)
    if not finished:  # the server closed the stream before its end: an error, not a completion
        return RequestResult(False, e2e=e2e, error="stream cut: ended without a finish_reason", sent=start)
    return RequestResult(True, first, e2e, tokens, prompt_tokens=prompt_tokens, sent=start)


async def run_level(
    base_url: str,
    model: str,
    prompts: list[str],
    concurrency: int,
    requests: int,
    output_len: int,
    time_limit: float,
    sglang: bool,
    api_key: str | None,
    on_done=lambda: None,
) -> tuple[list[RequestResult], float, float]:
    """The requests of one level from `concurrency` workers on one event loop. The streaming client
    is aiohttp, not httpx: a load generator's CPU time per request caps the load it can drive, and
    against a local stream of 128 SSE chunks per request httpx's client spent several times the CPU
    of this one, which spends no more than sglang.bench_serving's own. Wall and CPU time start once
    the connection pool exists, so neither counts its set-up."""
    aiohttp = needs_extra("aiohttp")

    headers = auth_headers(api_key)
    # SGLang: ignore_eos, so every request streams exactly output_len tokens; the usage chunk
    # (stream_options) gives the server's own prompt and output counts
    extra = {"ignore_eos": True, "stream_options": {"include_usage": True}} if sglang else {}
    # keep-alive: one connection per worker, as OpenAI SDK clients pool them
    connector = aiohttp.TCPConnector(limit=concurrency)
    timeout = aiohttp.ClientTimeout(total=time_limit + 60, sock_connect=10)
    url = base_url.rstrip("/") + "/v1/completions"
    results: list[RequestResult] = []
    queue = collections.deque(range(requests))  # sent in the order given
    # auto_decompress off: no answer is inflated (a gzip bomb is refused in one_request, not decoded)
    session = aiohttp.ClientSession(connector=connector, timeout=timeout, read_bufsize=2**20, auto_decompress=False)
    async with session:
        cpu0, t0 = time.process_time(), time.perf_counter()
        deadline = t0 + time_limit

        async def worker():
            while queue and time.perf_counter() < deadline:
                i = queue.popleft()
                body = {
                    "model": model,
                    "prompt": prompts[i % len(prompts)],
                    "max_tokens": output_len,
                    "temperature": 0.0,
                    "stream": True,
                    **extra,
                }
                results.append(await one_request(session, url, body, headers))
                on_done()

        await asyncio.gather(*(worker() for _ in range(concurrency)))
        duration, cpu = time.perf_counter() - t0, time.process_time() - cpu0
    results.sort(key=lambda r: r.sent)
    for r in results:
        r.sent -= t0
    return results, duration, cpu


MIN_ROUNDS = 10  # a level's default: `concurrency` requests sent together, this many times over


@dataclass(frozen=True)
class Sweep:
    concurrencies: list[int]
    requests_per_level: int | None  # None: max(min_requests, rounds x concurrency)
    warmup: int
    input_len: int | None  # None with `prompts`
    output_len: int
    time_limit: float
    flush_cache: bool = False
    prompts: tuple[str, ...] | None = (
        None  # all it sends, in order: each level's warm-up, then its requests (with_prompts)
    )
    rounds: int = MIN_ROUNDS
    min_requests: int = 16  # a level's floor: one request at a time still sends this many

    def requests(self, concurrency: int) -> int:
        return self.requests_per_level or max(self.min_requests, self.rounds * concurrency)

    def needed(self) -> int:
        return sum(self.warmup + self.requests(c) for c in self.concurrencies)


def parse_levels(text: str) -> list[int]:
    from .errors import QwenServeError

    try:
        levels = [int(c) for c in text.split(",") if c.strip()]
        if levels and min(levels) >= 1:
            return levels
    except ValueError:
        pass
    raise QwenServeError(f"--concurrency: {text!r} is not a list of positive integers", fix="e.g. --concurrency 1,8,32")


def served_model(url: str, api_key: str | None, model: str | None, limit: float = 10.0) -> str:
    """`model`, else the first id the server's /v1/models lists. The server must answer either way, its whole answer
    within `limit` seconds (any HTTP answer will do when `model` is given: not every OpenAI-compatible server lists
    models)."""
    from .errors import QwenServeError

    headers = auth_headers(api_key)
    try:
        with bounded_client(limit) as http:
            r = http.get(url + "/v1/models", headers=headers)
    except httpx.HTTPError as exc:
        raise QwenServeError(
            f"cannot reach the server at {url} ({type(exc).__name__}: {exc})",
            fix="is it running? start one with `qwen-serve --preset auto`",
        ) from exc
    if model:
        return model
    from .wire import NO_MODEL, first_model

    found, why_not = first_model(r.status_code, r.content)
    if found or why_not == NO_MODEL:
        return found or "default"
    raise QwenServeError(f"{url}/v1/models {why_not}, so the model to ask for is unknown", fix="pass --model NAME")


def with_prompts(
    sweep: Sweep, prompts_path: str | None, tokenizer_path: str | None, seed: int, model: str = ""
) -> Sweep:
    """The sweep with every prompt it will send: a --prompts file's (in order, input_len then None),
    else random ones of exactly input_len tokens from the model's own tokenizer."""
    from .errors import QwenServeError

    if prompts_path:
        prompts = load_prompts(prompts_path)
        if len(prompts) < sweep.needed():
            raise QwenServeError(
                f"--prompts: {prompts_path} holds {len(prompts)} prompts; the sweep needs "
                f"{sweep.needed()} (warm-up + requests of every level)",
                fix="add prompts, or lower --requests/--warmup/--concurrency",
            )
        return dataclasses.replace(sweep, input_len=None, prompts=tuple(prompts[: sweep.needed()]))
    if tokenizer_path is None:
        raise QwenServeError(
            f"no tokenizer for exact prompt lengths: model {model!r} is not a local directory",
            fix="pass --tokenizer DIR (e.g. a `qwen-serve skeleton` directory), or --prompts FILE",
        )
    prompts = make_prompts(read_tokenizer(tokenizer_path), sweep.needed(), sweep.input_len, seed)
    return dataclasses.replace(sweep, prompts=tuple(prompts))


def run_sweep(
    url: str, model: str, sweep: Sweep, sglang: bool, api_key: str | None, progress=None, stop=None
) -> list[LevelResult]:
    """Every level in turn: warm-up, optionally an emptied prefix cache, then the measured requests.
    Every request of the sweep, warm-up included, gets a prompt of its own: a prompt sent before
    would find its 512 or 1024 tokens in SGLang's radix cache and skip most of the prefill, making
    TTFT look better than it is (the 2026-11-25 H100 comparison reused prompts across levels).
    The sweep carries them all (`with_prompts`). `stop` (an Event, set from another thread) ends the sweep before
    its next level."""
    if sweep.prompts is None or len(sweep.prompts) < sweep.needed():
        raise ValueError("run_sweep needs a sweep with its prompts (with_prompts)")
    prompts = iter(sweep.prompts)

    def send(n: int, concurrency: int, on_done=lambda: None):  # the next n prompts, as the sweep sends them
        return asyncio.run(
            run_level(
                url,
                model,
                [next(prompts) for _ in range(n)],
                concurrency,
                n,
                sweep.output_len,
                sweep.time_limit,
                sglang,
                api_key,
                on_done,
            )
        )

    results = []
    for c in sweep.concurrencies:
        if stop is not None and stop.is_set():  # a threading.Event: the levels done so far are the result
            break
        n = sweep.requests(c)
        if sweep.warmup:
            send(sweep.warmup, min(c, sweep.warmup))
        if sweep.flush_cache and sglang:
            flush_cache(url, api_key)
        task = progress.add_task(f"concurrency {c}", total=n) if progress is not None else None
        done, duration, cpu = send(n, c, (lambda: progress.advance(task)) if progress is not None else (lambda: None))
        results.append(summarize(done, c, duration, cpu, sweep.input_len, sweep.output_len))
    return results


def flush_cache(url: str, api_key: str | None) -> None:
    """SGLang's POST /flush_cache (what sglang.bench_serving --flush-cache calls); it answers 200
    once the cache is empty, or 400 while requests are still running."""
    headers = auth_headers(api_key)
    for _ in range(20):
        with bounded_client(30) as http:
            flushed = http.post(url + "/flush_cache", headers=headers).status_code == 200
        if flushed:
            return
        time.sleep(0.5)
    print(
        f"qwen-bench: warning: {url}/flush_cache did not succeed in 10 s; the level runs with a warm cache",
        file=sys.stderr,
    )


def summarize(
    results: list[RequestResult], concurrency: int, duration: float, cpu: float, input_len: int | None, output_len: int
) -> LevelResult:
    ok = [r for r in results if r.ok]
    tokens = sum(r.output_tokens for r in ok)
    return LevelResult(
        concurrency=concurrency,
        requests=len(results),
        completed=len(ok),
        errors=len(results) - len(ok),
        duration_s=round(duration, 3),
        request_throughput=len(ok) / duration if duration else 0.0,
        output_throughput=tokens / duration if duration else 0.0,
        total_output_tokens=tokens,
        input_len=input_len,
        output_len=output_len,
        ttft_ms=percentiles([r.ttft for r in ok]),
        tpot_ms=percentiles([r.tpot for r in ok if r.tpot is not None]),
        e2e_ms=percentiles([r.e2e for r in ok]),
        client_cpu_ms_per_request=cpu / len(results) * 1000 if results else 0.0,
        error_samples=sorted({r.error for r in results if r.error})[:3],
        server_input_tokens=_counted([r.prompt_tokens for r in ok if r.prompt_tokens is not None]),
        per_request=per_request(results),
        ttft_p50_ci95_ms=ttft_p50_interval(results, concurrency),
    )


INTERVAL_DRAWS = 1000


def ttft_p50_interval(
    results: list[RequestResult], concurrency: int, draws: int = INTERVAL_DRAWS, seed: int = 0
) -> list[float] | None:
    """The 95 % bootstrap interval of the level's TTFT p50, in ms, resampling whole rounds: blocks
    of `concurrency` requests in the order sent (results come sorted by send time). A round's
    requests are not independent samples (see few_rounds_notes), so resampling single requests
    would claim more precision than the level has; at concurrency 1 a round is one request.
    Deterministic (a fixed seed), so the same results give the same interval."""
    rounds = [[r.ttft for r in block if r.ok and r.ttft is not None] for block in rounds_of(results, concurrency)]
    rounds = [block for block in rounds if block]
    if len(rounds) < 2:
        return None
    rng = random.Random(seed)
    p50s = sorted(percentile(resample_rounds(rounds, rng), 50) for _ in range(draws))
    return [p50s[int(0.025 * draws)] * 1000, p50s[int(0.975 * draws) - 1] * 1000]


def per_request(results: list[RequestResult]) -> dict[str, list]:
    def ms(seconds: float | None) -> float | None:
        return None if seconds is None else round(seconds * 1000, 3)

    return {
        "sent_s": [None if r.sent is None else round(r.sent, 6) for r in results],
        "ttft_ms": [ms(r.ttft) for r in results],
        "e2e_ms": [ms(r.e2e) for r in results],
        "output_tokens": [r.output_tokens for r in results],
        "prompt_tokens": [r.prompt_tokens for r in results],
        "error": [r.error for r in results],
    }


def _counted(counts: list[int]) -> dict[str, float] | None:
    if not counts:
        return None
    return {"min": min(counts), "mean": statistics.fmean(counts), "max": max(counts), "reported": len(counts)}


def input_length_warnings(levels: list[LevelResult]) -> list[str]:
    """One line per level whose prompts the server counted differently from --input-len (a tokenizer
    other than the server's): TTFT and throughput then measure other prompts than the ones asked for."""
    lines = []
    for lv in levels:
        n = lv.server_input_tokens
        if n and lv.input_len is not None and (n["min"] != lv.input_len or n["max"] != lv.input_len):
            lines.append(
                f"qwen-bench: warning: at concurrency {lv.concurrency} the server counted {n['min']}-{n['max']} "
                f"prompt tokens (mean {n['mean']:.1f}), not --input-len {lv.input_len}; pass the served "
                "model's own tokenizer with --tokenizer"
            )
    return lines


def few_rounds_notes(levels: list[LevelResult]) -> list[str]:
    """One line per level of too few rounds for a stable TTFT. With every request of a round at the
    same output length, a round finishes in one decode step and its successors reach the server as
    one burst, prefilled in the few batches that burst splits into: the requests of a round are not
    independent samples, and a level of 4 rounds (32 requests at concurrency 8) gave TTFT p50s up to
    13-16 % apart between two runs of the same tool on an H100 (bench/results/h100/bench/)."""
    return [
        f"qwen-bench: note: concurrency {lv.concurrency} ran {lv.requests / lv.concurrency:.0f} rounds of requests "
        f"sent together; TTFT percentiles from fewer than {MIN_ROUNDS} rounds vary from run to run "
        f"(--requests {MIN_ROUNDS * lv.concurrency} for {MIN_ROUNDS})"
        for lv in levels
        if lv.concurrency > 1 and lv.requests < MIN_ROUNDS * lv.concurrency
    ]


def interval_notes(levels: list[LevelResult], tolerance: float = 0.05) -> list[str]:
    """One line per level whose TTFT p50 is not pinned to ±tolerance by its own requests (the 95 %
    interval of ttft_p50_interval reaches further): a difference that size from another run, or
    from another tool, is within this level's noise. On an H100 at concurrency 8 even 40-50 rounds
    leave more than ±5 % (bench/results/h100/bench/2026-11-25-c)."""
    lines = []
    for lv in levels:
        p50, ci = lv.ttft_ms.get("p50"), lv.ttft_p50_ci95_ms
        if not p50 or not ci or (ci[0] >= p50 * (1 - tolerance) and ci[1] <= p50 * (1 + tolerance)):
            continue
        lines.append(
            f"qwen-bench: note: concurrency {lv.concurrency}: TTFT p50 {p50:.1f} ms, 95 % interval "
            f"{ci[0]:.1f}-{ci[1]:.1f} ms ({ci[0] / p50 - 1:+.0%} … {ci[1] / p50 - 1:+.0%}, whole rounds "
            f"resampled): another run's TTFT p50 within that range is no evidence of a difference"
        )
    return lines


def server_facts(base_url: str, api_key: str | None) -> dict[str, Any]:
    headers = auth_headers(api_key)
    facts: dict[str, Any] = {"sglang": False}
    try:
        with bounded_client(10) as http:
            r = http.get(base_url + "/get_server_info", headers=headers)
        info = r.json() if r.status_code == 200 else None
        if isinstance(info, dict):  # not SGLang's answer (non-JSON, a list): no SGLang facts, no traceback
            facts = {
                "sglang": True,
                **{
                    k: info.get(k)
                    for k in (
                        "version",
                        "model_path",
                        "tp_size",
                        "torchao_config",
                        "quantization",
                        "kv_cache_dtype",
                        "mem_fraction_static",
                        "max_total_num_tokens",
                        "attention_backend",
                        "chunked_prefill_size",
                    )
                },
            }
    except (httpx.HTTPError, ValueError):
        pass
    record = _local_record(base_url)
    if record:  # launched by qwen-serve on this machine: the preset and GPU behind the numbers
        facts["qwen_serve"] = {k: record.get(k) for k in ("preset", "quantization", "tp_size", "gpu", "model")}
    return facts


def _local_record(base_url: str) -> dict[str, Any] | None:
    from urllib.parse import urlsplit

    from .supervise import read_server_record

    url = urlsplit(base_url)
    if url.hostname not in ("127.0.0.1", "localhost", "::1") or url.port is None:
        return None
    return read_server_record(url.port)


def document(
    url: str,
    model: str,
    facts: dict[str, Any],
    sweep: Sweep,
    results: list[LevelResult],
    *,
    label: str | None,
    prompts_path: str | None,
    command: str,
) -> dict[str, Any]:
    """The results file: what was measured, against which server (its facts, the preset and GPU
    where qwen-serve launched it), with the exact command, then one entry per level."""
    from datetime import datetime, timezone

    return {
        "tool": "qwen-bench",
        "command": command,
        "when": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "label": label or _label(facts, model),
        "base_url": url,
        "model": model,
        "server": facts,
        "input_len": sweep.input_len,
        "output_len": sweep.output_len,
        "flush_cache": sweep.flush_cache,
        "prompts": prompts_path,
        "levels": [asdict(r) for r in results],
    }


def _label(facts: dict[str, Any], model: str) -> str:
    if "qwen_serve" in facts and facts["qwen_serve"].get("preset"):
        q = facts["qwen_serve"]
        return f"{q['preset']} tp{q.get('tp_size') or 1}"
    if facts["sglang"]:
        return f"{facts.get('quantization') or facts.get('torchao_config') or 'bf16'} tp{facts.get('tp_size')}"
    return model


def plot_points(path: str) -> tuple[str, list[dict]]:
    """_plot_points, or one line saying the file is not a results file (a file is input like any other)."""
    from .errors import QwenServeError

    try:
        label, points = _plot_points(path)
        if not points:
            raise ValueError("no level measured in it")
        return label, points
    except (OSError, UnicodeDecodeError, ValueError, KeyError, TypeError, AttributeError, IndexError) as exc:
        raise QwenServeError(
            f"{path} is not a results file qwen-bench plot reads ({type(exc).__name__}: {str(exc)[:80]})",
            allowed="the JSON `qwen-bench run --out` writes, or the JSONL `python -m sglang.bench_serving "
            "--output-file` writes",
            fix="pass one of those files",
        ) from None


def _plot_points(path: str) -> tuple[str, list[dict]]:
    """(label, [{concurrency, output_throughput, tpot_p50, ttft_p50, ttft_ci, ttfts_ms}]) from a qwen-bench
    results file, or from sglang.bench_serving's JSONL (one line per run, the newest per concurrency
    kept). ttft_ci: the 95 % interval of TTFT p50 with whole rounds resampled, and ttfts_ms every
    request's TTFT in the order sent (None: failed), where the file holds every request (qwen-bench's
    per_request, bench_serving's --output-details), else None."""
    text = Path(path).read_text(encoding="utf-8")
    try:
        data = json.loads(text)
    except json.JSONDecodeError:
        data = None
    if isinstance(data, dict) and "levels" in data:
        points = []
        for lv in data["levels"]:
            if lv["completed"]:
                rows = lv.get("per_request") or {}
                ttfts = _kept(rows.get("ttft_ms"), rows.get("error"))
                points.append(
                    {
                        "concurrency": lv["concurrency"],
                        "output_throughput": lv["output_throughput"],
                        "tpot_p50": lv["tpot_ms"].get("p50"),
                        "ttft_p50": lv["ttft_ms"].get("p50"),
                        "ttft_ci": lv.get("ttft_p50_ci95_ms") or _interval_of(ttfts, lv["concurrency"]),
                        "ttfts_ms": ttfts,
                    }
                )
        name = Path(path).name
        return f"qwen-bench: {data['label']} ({name})" if data.get("label") else f"qwen-bench: {name}", points
    runs: dict = {}
    for line in text.splitlines():
        if line.strip():
            row = json.loads(line)
            c = row.get("max_concurrency")
            ttfts = [t * 1000 if t else None for t in row["ttfts"]] if row.get("ttfts") else None  # s; 0.0: failed
            ttfts = _kept(ttfts, row.get("errors"))
            runs[c] = {
                "concurrency": c,
                "output_throughput": row["output_throughput"],
                "tpot_p50": row.get("median_tpot_ms"),
                "ttft_p50": row.get("median_ttft_ms"),
                "ttft_ci": _interval_of(ttfts, c or 1),
                "ttfts_ms": ttfts,
            }
    return f"sglang.bench_serving ({Path(path).name})", sorted(runs.values(), key=lambda r: r["concurrency"] or 0)


def _kept(ttfts_ms: list | None, errors: list | None) -> list[float | None] | None:
    """TTFTs kept in a results file (ms, in the order sent), None where the request failed."""
    if not ttfts_ms:
        return None
    return [None if e else t for t, e in zip(ttfts_ms, errors or [None] * len(ttfts_ms))]


def _interval_of(ttfts_ms: list | None, concurrency: int) -> list[float] | None:
    """ttft_p50_interval for TTFTs kept in a results file (ms, in the order sent; None: failed)."""
    if not ttfts_ms:
        return None
    results = [RequestResult(t is not None, None if t is None else t / 1000) for t in ttfts_ms]
    return ttft_p50_interval(results, concurrency)


def pooled_series(series: list[tuple[str, list[dict]]]) -> list[tuple[str, list[dict]]]:
    """The files of one tool and label as one series (plot_points' labels without their file name):
    per level, output throughput and TPOT p50 the mean of its files'; TTFT p50 and its interval from
    all their requests, file after file, so every round stays whole (the Q B B Q passes of
    bench/interleave.py, drawn as two lines). Where a file kept no requests, TTFT p50 is the mean too."""
    groups: dict[str, list[list[dict]]] = {}
    for label, points in series:
        groups.setdefault(re.sub(r" \([^()]*\)$", "", label), []).append(points)
    pooled = []
    for name, files in groups.items():
        levels = sorted({p["concurrency"] for points in files for p in points}, key=lambda c: c or 0)
        out = []
        for c in levels:
            at = [p for points in files for p in points if p["concurrency"] == c]

            def mean(key: str) -> float | None:
                values = [p[key] for p in at if p[key] is not None]
                return sum(values) / len(values) if values else None

            ttfts = [t for p in at for t in p["ttfts_ms"]] if all(p["ttfts_ms"] for p in at) else None
            kept = [t for t in ttfts or [] if t is not None]
            out.append(
                {
                    "concurrency": c,
                    "output_throughput": mean("output_throughput"),
                    "tpot_p50": mean("tpot_p50"),
                    "ttft_p50": percentile(kept, 50) if kept else mean("ttft_p50"),
                    "ttft_ci": _interval_of(ttfts, c or 1),
                    "ttfts_ms": ttfts,
                }
            )
        pooled.append((f"{name} ({len(files)} files)" if len(files) > 1 else name, out))
    return pooled


def needs_extra(module: str):
    """Import qwen-bench's optional dependency `module`, or say in one line how to get it."""
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError:
        from .errors import QwenServeError

        raise QwenServeError(
            f"qwen-bench needs {module.split('.')[0]}, which is not installed",
            fix="pip install 'qwen-serve[bench]' (uv sync installs it)",
        ) from None


def plot(files, png: str, pool: bool = False) -> None:
    matplotlib = needs_extra("matplotlib")

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(12, 4.5))
    series = [plot_points(path) for path in files]
    for label, points in pooled_series(series) if pool else series:
        x = [p["output_throughput"] for p in points]
        for ax, key in ((ax1, "tpot_p50"), (ax2, "ttft_p50")):
            y = [p[key] if p[key] is not None else float("nan") for p in points]
            (line,) = ax.plot(x, y, marker="o", label=label, linestyle="-" if label.startswith("qwen-bench") else "--")
            for xi, yi, p in zip(x, y, points):
                ax.annotate(str(p["concurrency"]), (xi, yi), textcoords="offset points", xytext=(4, 4), fontsize=8)
        bars = [(p["output_throughput"], p["ttft_p50"], p["ttft_ci"]) for p in points if p["ttft_ci"] and p["ttft_p50"]]
        if bars:  # how precisely each level's own requests pin its TTFT p50
            ax2.errorbar(
                [b[0] for b in bars],
                [b[1] for b in bars],
                fmt="none",
                capsize=3,
                color=line.get_color(),
                yerr=[[max(0.0, b[1] - b[2][0]) for b in bars], [max(0.0, b[2][1] - b[1]) for b in bars]],
            )
    for ax, what in ((ax1, "TPOT p50 (ms)"), (ax2, "TTFT p50 (ms), bars: 95 % interval")):
        ax.set_xlabel("output throughput (tokens/s)")
        ax.set_ylabel(what)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    fig.suptitle("throughput vs latency (point labels: concurrency)")
    fig.tight_layout()
    write_png(fig, Path(png))  # signed: a later plot may replace it
