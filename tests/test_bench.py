"""qwen-bench against the real CPU server (transformers serve, tiny Qwen3): short runs checked for
consistency — counts, ordered percentiles, tokens counted right — never for speed."""

from __future__ import annotations

import contextlib
import json
import random

import pytest
from click.testing import CliRunner
from conftest import free_port

from qwen_serve.bench import make_prompts, percentiles, read_tokenizer
from qwen_serve.cli import bench_group


def qwen_bench(*args: str):
    return CliRunner().invoke(bench_group, list(args), prog_name="qwen-bench")


def test_prompts_have_the_exact_token_count_by_the_servers_own_tokenizer(cpu_server):
    """make_prompts reads tokenizer.json with `tokenizers` alone; transformers' tokenizer (what SGLang and the CPU
    server count prompts with) finds each prompt exactly as long."""
    from transformers import AutoTokenizer

    served, ours = AutoTokenizer.from_pretrained(str(cpu_server[1])), read_tokenizer(str(cpu_server[1]))
    for length in (1, 17, 256):
        prompts = make_prompts(ours, 5, length, seed=length)
        assert len(prompts) == 5 and len(set(prompts)) == 5
        assert all(len(served.encode(p, add_special_tokens=False)) == length for p in prompts)


def test_a_folder_without_tokenizer_json_is_one_line_naming_the_flag(tmp_path):
    from qwen_serve.errors import QwenServeError

    with pytest.raises(QwenServeError) as caught:
        read_tokenizer(str(tmp_path))
    assert caught.value.line == (
        f"--tokenizer {tmp_path}: no tokenizer.json there; fix: pass --tokenizer DIR, a folder that holds the model's "
        "tokenizer.json"
    )


def test_percentiles_interpolate_like_numpy():
    got = percentiles([0.001 * i for i in range(1, 101)])
    assert got["p50"] == pytest.approx(50.5) and got["p99"] == pytest.approx(99.01) and got["max"] == pytest.approx(100)


def test_a_short_sweep_is_consistent(cpu_server, tmp_path):
    url, model_dir = cpu_server
    out = tmp_path / "run.json"
    result = qwen_bench(
        "--base-url",
        url,
        "--tokenizer",
        str(model_dir),
        "--input-len",
        "32",
        "--output-len",
        "8",
        "--concurrency",
        "1,4",
        "--requests",
        "8",
        "--warmup",
        "1",
        "--out",
        str(out),
    )
    assert result.exit_code == 0, result.output
    data = json.loads(out.read_text())
    assert [lv["concurrency"] for lv in data["levels"]] == [1, 4]
    assert data["server"]["sglang"] is False and data["model"] == "qwen-serve/Qwen3-tiny"
    for lv in data["levels"]:
        assert lv["requests"] == lv["completed"] == 8 and lv["errors"] == 0
        assert lv["total_output_tokens"] == 8 * 8  # max_tokens honoured, every token counted
        assert lv["request_throughput"] * lv["duration_s"] == pytest.approx(8, rel=0.01)
        assert lv["output_throughput"] == pytest.approx(lv["request_throughput"] * 8, rel=0.01)
        for key in ("ttft_ms", "tpot_ms", "e2e_ms"):
            p = lv[key]
            assert 0 < p["p50"] <= p["p90"] <= p["p99"] <= p["max"], (key, p)
        assert lv["ttft_ms"]["p50"] < lv["e2e_ms"]["p50"]
        assert lv["client_cpu_ms_per_request"] > 0
        # the server's own count of every prompt: exactly --input-len (the lengths are real, not assumed)
        assert lv["server_input_tokens"] == {"min": 32, "mean": 32, "max": 32, "reported": 8}
        # the raw data: every request in the order sent, and the percentiles are exactly theirs
        rows = lv["per_request"]
        assert {len(column) for column in rows.values()} == {8}
        assert rows["sent_s"] == sorted(rows["sent_s"]) and 0 <= rows["sent_s"][0] < lv["duration_s"]
        assert all(t < e for t, e in zip(rows["ttft_ms"], rows["e2e_ms"]))
        assert all(s + e / 1000 <= lv["duration_s"] + 0.01 for s, e in zip(rows["sent_s"], rows["e2e_ms"]))
        assert rows["output_tokens"] == [8] * 8 and rows["prompt_tokens"] == [32] * 8 and rows["error"] == [None] * 8
        assert percentiles([t / 1000 for t in rows["ttft_ms"]])["p50"] == pytest.approx(lv["ttft_ms"]["p50"], abs=0.01)
        if lv["concurrency"] == 1:  # one at a time: each is sent after the one before has finished
            assert all(s1 >= s0 + e / 1000 for s0, s1, e in zip(rows["sent_s"], rows["sent_s"][1:], rows["e2e_ms"]))
        low, high = lv["ttft_p50_ci95_ms"]  # its own precision, from its own requests
        assert min(rows["ttft_ms"]) <= low <= lv["ttft_ms"]["p50"] <= high <= max(rows["ttft_ms"])
    assert "req/s" in result.output and "TPOT p50" in result.output and "in tok (server)" in result.output
    assert "warning" not in result.stderr
    # 8 requests at concurrency 4 are 2 rounds: said, with the count that makes 10; none at concurrency 1
    assert "note: concurrency 4 ran 2 rounds" in result.stderr and "--requests 40 for 10" in result.stderr
    assert "concurrency 1 ran" not in result.stderr
    png = tmp_path / "plot.png"
    plotted = qwen_bench("plot", str(out), "-o", str(png))
    assert plotted.exit_code == 0, plotted.output
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    # next to sglang.bench_serving's own JSONL (its output-file lines, newest per concurrency kept)
    theirs = tmp_path / "bench_serving.jsonl"
    rows = [
        {"max_concurrency": 1, "output_throughput": 1.0, "median_tpot_ms": 9.0, "median_ttft_ms": 5.0},
        {"max_concurrency": 1, "output_throughput": 2.0, "median_tpot_ms": 8.0, "median_ttft_ms": 4.0},
    ]
    theirs.write_text("".join(json.dumps(r) + "\n" for r in rows))
    from qwen_serve.bench import plot_points

    assert plot_points(str(theirs)) == (
        "sglang.bench_serving (bench_serving.jsonl)",
        [
            {
                "concurrency": 1,
                "output_throughput": 2.0,
                "tpot_p50": 8.0,
                "ttft_p50": 4.0,
                "ttft_ci": None,
                "ttfts_ms": None,
            }
        ],
    )
    label, points = plot_points(str(out))
    assert label.startswith("qwen-bench: ") and [p["concurrency"] for p in points] == [1, 4]
    assert [p["ttft_ci"] for p in points] == [lv["ttft_p50_ci95_ms"] for lv in data["levels"]]
    assert qwen_bench("plot", str(out), str(theirs), "-o", str(png)).exit_code == 0
    # with --output-details bench_serving keeps every TTFT (s; 0.0 failed): its interval, by the same rounds
    detailed = tmp_path / "bench_serving_details.jsonl"
    ttfts = [0.1, 0.12, 0.0, 0.11, 0.2, 0.22, 0.21, 0.19]
    detailed.write_text(
        json.dumps({**rows[1], "max_concurrency": 2, "ttfts": ttfts, "errors": ["", "", "timeout", "", "", "", "", ""]})
        + "\n"
    )
    (point,) = plot_points(str(detailed))[1]
    low, high = point["ttft_ci"]
    assert 100.0 <= low <= high <= 220.0
    assert point["ttfts_ms"] == pytest.approx([100, 120, None, 110, 200, 220, 210, 190])
    assert qwen_bench("plot", str(out), str(detailed), "-o", str(png)).exit_code == 0
    # --pool: a tool's files as one line; TTFT p50 from all their requests, the rest the files' mean
    from qwen_serve.bench import pooled_series

    again = tmp_path / "bench_serving_details_2.jsonl"
    again.write_text(json.dumps({**rows[0], "max_concurrency": 2, "ttfts": [0.3] * 4 + [0.05] * 4}) + "\n")
    ((name, (pooled,)),) = pooled_series([plot_points(str(detailed)), plot_points(str(again))])
    assert name == "sglang.bench_serving (2 files)"
    assert pooled["output_throughput"] == pytest.approx(1.5) and pooled["tpot_p50"] == pytest.approx(8.5)
    # 7 + 8 kept, the 8th lowest: neither file's own p50 (200, 175) nor their mean
    assert len(pooled["ttfts_ms"]) == 16 and pooled["ttft_p50"] == pytest.approx(190)
    assert pooled["ttft_ci"][0] <= 190 <= pooled["ttft_ci"][1]
    series = pooled_series([plot_points(str(out)), plot_points(str(theirs)), plot_points(str(detailed))])
    assert [n for n, _ in series] == [label.rsplit(" (", 1)[0], "sglang.bench_serving (2 files)"]
    assert qwen_bench("plot", "--pool", str(out), str(detailed), str(again), "-o", str(png)).exit_code == 0


def test_unreachable_server_exits_2():
    result = qwen_bench("--port", str(free_port()), "--tokenizer", "x")
    assert result.exit_code == 2 and "cannot reach the server" in result.stderr


@contextlib.contextmanager
def aiohttp_app_served(app):
    """An aiohttp app on 127.0.0.1 in a thread of its own, for the length of the block: its URL."""
    import asyncio
    import threading

    from aiohttp import web

    loop, runner, port = asyncio.new_event_loop(), web.AppRunner(app), free_port()
    listening = threading.Event()

    def serve():
        asyncio.set_event_loop(loop)
        loop.run_until_complete(runner.setup())
        loop.run_until_complete(web.TCPSite(runner, "127.0.0.1", port).start())
        listening.set()
        loop.run_forever()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    assert listening.wait(timeout=10), "the test server did not start"  # a client may connect at once
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        asyncio.run_coroutine_threadsafe(runner.cleanup(), loop).result(timeout=10)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=10)


def completions_app(chunks: int, whole: bool):
    """An OpenAI-style completions server with no /v1/models (not every compatible server has it): CHUNKS streamed
    chunks, then (WHOLE) a finish_reason, the usage chunk when asked for and [DONE], as SGLang sends them — or
    (not WHOLE) the stream just closed after them: a server that died or a proxy that gave up mid-answer."""
    from aiohttp import web

    chunk = {"id": "c", "object": "text_completion", "model": "m", "choices": [{"index": 0, "text": " tok"}]}

    async def completions(request: web.Request) -> web.StreamResponse:
        body = await request.json()
        out = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await out.prepare(request)
        for i in range(chunks):
            end = "length" if whole and i == chunks - 1 else None
            await out.write(
                f"data: {json.dumps({**chunk, 'choices': [{**chunk['choices'][0], 'finish_reason': end}]})}\n\n".encode()
            )
        if whole and (body.get("stream_options") or {}).get("include_usage"):
            usage = {"prompt_tokens": 3, "completion_tokens": 4, "total_tokens": 7}
            await out.write(f"data: {json.dumps({**chunk, 'choices': [], 'usage': usage})}\n\n".encode())
        if whole:
            await out.write(b"data: [DONE]\n\n")
        await out.write_eof()
        return out

    app = web.Application()
    app.router.add_post("/v1/completions", completions)
    return app


@pytest.fixture
def unlisted_server():
    with aiohttp_app_served(completions_app(4, whole=True)) as url:
        yield url


def test_a_server_that_lists_no_models_needs_model(unlisted_server, tmp_path):
    # reached but unlisted is said as such, and --model is enough to go on
    url = unlisted_server
    prompts = tmp_path / "prompts.jsonl"
    prompts.write_text("".join(json.dumps({"prompt": f"p{i}"}) + "\n" for i in range(4)))
    args = ("--base-url", url, "--prompts", str(prompts), "--output-len", "4", "--concurrency", "1")
    args += ("--requests", "2", "--warmup", "0")
    unlisted = qwen_bench(*args)
    assert unlisted.exit_code == 2
    assert f"{url}/v1/models answered HTTP 404 with no model list" in unlisted.stderr
    assert "pass --model NAME" in unlisted.stderr and "cannot reach" not in unlisted.stderr
    named = qwen_bench(*args, "--model", "m")
    assert named.exit_code == 0, named.output


def test_bad_concurrency_list_exits_2():
    result = qwen_bench("--concurrency", "1,zero")
    assert result.exit_code == 2 and "--concurrency" in result.stderr


def test_every_request_of_a_sweep_gets_a_prompt_of_its_own(cpu_server, monkeypatch):
    # a prompt sent twice finds its tokens in SGLang's radix cache and skips the prefill: TTFT would lie
    from qwen_serve import bench

    sent, flushed = [], []

    async def spy_level(url, model, prompts, concurrency, requests, *rest, **kw):
        sent.append((concurrency, requests, list(prompts[:requests])))
        return [], 1.0, 0.0

    monkeypatch.setattr(bench, "run_level", spy_level)
    monkeypatch.setattr(bench, "flush_cache", lambda url, key: flushed.append(url))
    sweep = bench.with_prompts(bench.Sweep([1, 4], None, 2, 8, 4, 10.0, flush_cache=True), None, str(cpu_server[1]), 0)
    bench.run_sweep("http://x", "m", sweep, True, None)
    # warm-up, level, warm-up, level; by default max(16, 10 rounds x concurrency) requests per level
    assert [(c, n) for c, n, _ in sent] == [(1, 2), (1, 16), (2, 2), (4, 40)]
    prompts = [p for _, _, ps in sent for p in ps]
    assert len(prompts) == 60 and len(set(prompts)) == 60
    assert flushed == ["http://x", "http://x"]  # after each warm-up, before each level
    flushed.clear()
    bench.run_sweep("http://x", "m", sweep, False, None)  # not SGLang: nothing to flush
    assert flushed == []


def test_the_ttft_interval_resamples_whole_rounds():
    # rounds of 8 near-equal TTFTs (one burst decides a round's prefills): the interval of the level's
    # own p50 must be as wide as 30 rounds allow, not as narrow as 240 independent requests would be
    from qwen_serve.bench import RequestResult, interval_notes, summarize, ttft_p50_interval

    rng = random.Random(5)
    results = [
        RequestResult(True, (base + rng.uniform(-1, 1)) / 1000, 2.0, 8)
        for base in (rng.uniform(100, 250) for _ in range(30))
        for _ in range(8)
    ]
    by_round, by_request = ttft_p50_interval(results, 8), ttft_p50_interval(results, 1)
    assert by_round[1] - by_round[0] > 1.8 * (by_request[1] - by_request[0])
    assert ttft_p50_interval(results, 8) == by_round  # deterministic: the same requests, the same interval
    failed = results[:8] + [RequestResult(False, error="HTTP 500")] * 8 + results[8:]
    assert ttft_p50_interval(failed, 8) == ttft_p50_interval(results[:8] + results[8:], 8)  # failed ones left out
    assert ttft_p50_interval(results[:8], 8) is None  # one round: no interval
    wide = summarize(results, 8, 60.0, 0.1, 512, 8)
    narrow = summarize([RequestResult(True, 0.1 + i * 1e-5, 2.0, 8) for i in range(64)], 8, 60.0, 0.1, 512, 8)
    notes = interval_notes([wide, narrow])
    assert len(notes) == 1 and notes[0].startswith("qwen-bench: note: concurrency 8: TTFT p50 ")
    assert f"95 % interval {wide.ttft_p50_ci95_ms[0]:.1f}-{wide.ttft_p50_ci95_ms[1]:.1f} ms" in notes[0]


def test_prompts_the_server_counted_differently_are_named():
    from qwen_serve.bench import RequestResult, input_length_warnings, summarize

    exact = summarize([RequestResult(True, 0.01, 1.0, 8, prompt_tokens=512)] * 4, 1, 4.0, 0.1, 512, 8)
    drifted = summarize(
        [RequestResult(True, 0.01, 1.0, 8, prompt_tokens=n) for n in (489, 512, 601, 540)], 8, 4.0, 0.1, 512, 8
    )
    silent = summarize([RequestResult(True, 0.01, 1.0, 8)] * 2, 32, 4.0, 0.1, 512, 8)  # no usage reported
    assert drifted.server_input_tokens == {"min": 489, "mean": 535.5, "max": 601, "reported": 4}
    assert silent.server_input_tokens is None
    assert input_length_warnings([exact, drifted, silent]) == [
        "qwen-bench: warning: at concurrency 8 the server counted 489-601 prompt tokens (mean 535.5), not "
        "--input-len 512; pass the served model's own tokenizer with --tokenizer"
    ]


def test_a_sweep_replays_a_prompts_file_in_order(cpu_server, tmp_path):
    url, model_dir = cpu_server
    tok = read_tokenizer(str(model_dir))
    prompts = make_prompts(tok, 1 + 4 + 1 + 4, 24, seed=3)  # level 1: warm-up + 4, level 2: warm-up + 4
    prompts[1] = make_prompts(tok, 1, 40, seed=4)[0]  # one longer prompt, counted by the server
    file = tmp_path / "prompts.jsonl"
    file.write_text("".join(json.dumps({"prompt": p, "note": "ignored"}) + "\n" for p in prompts) + "\n")
    out = tmp_path / "run.json"
    result = qwen_bench(
        "--base-url",
        url,
        "--prompts",
        str(file),
        "--output-len",
        "4",
        "--concurrency",
        "1,2",
        "--requests",
        "4",
        "--warmup",
        "1",
        "--out",
        str(out),
    )
    assert result.exit_code == 0, result.output
    data = json.loads(out.read_text())
    assert data["input_len"] is None and data["prompts"] == str(file)
    first, second = data["levels"]
    assert first["input_len"] is None
    assert first["server_input_tokens"] == {"min": 24, "mean": 28, "max": 40, "reported": 4}  # file order kept
    assert second["server_input_tokens"] == {"min": 24, "mean": 24, "max": 24, "reported": 4}
    assert "warning" not in result.stderr  # lengths of one's own prompts are not "wrong"
    too_few = qwen_bench("--base-url", url, "--prompts", str(file), "--concurrency", "1,2,4", "--requests", "4")
    assert too_few.exit_code == 2 and "holds 10 prompts; the sweep needs 18" in too_few.stderr


@pytest.mark.parametrize("line", ['{"text": "x"}', "not json", '{"prompt": ""}', '["x"]'])
def test_a_bad_prompts_file_exits_2_naming_the_line(cpu_server, tmp_path, line):
    file = tmp_path / "prompts.jsonl"
    file.write_text('{"prompt": "fine"}\n' + line + "\n")
    result = qwen_bench("--base-url", cpu_server[0], "--prompts", str(file))
    assert result.exit_code == 2, result.output
    assert f"--prompts: line 2 of {file} is not a JSON object" in result.stderr


def test_connections_are_kept_alive(cpu_server):
    # a counting TCP relay in front of the real server: one connection per worker, as OpenAI SDK clients pool them
    import asyncio
    import threading
    from urllib.parse import urlsplit

    target = urlsplit(cpu_server[0])
    accepted = []

    async def relay(reader, writer):
        accepted.append(1)
        up_reader, up_writer = await asyncio.open_connection(target.hostname, target.port)

        async def pipe(src, dst):
            try:
                while data := await src.read(65536):
                    dst.write(data)
                    await dst.drain()
            finally:
                dst.close()

        await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer), return_exceptions=True)

    loop = asyncio.new_event_loop()
    server = loop.run_until_complete(asyncio.start_server(relay, "127.0.0.1", 0))
    port = server.sockets[0].getsockname()[1]
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    try:
        result = qwen_bench(
            "--base-url",
            f"http://127.0.0.1:{port}",
            "--tokenizer",
            str(cpu_server[1]),
            "--input-len",
            "8",
            "--output-len",
            "2",
            "--concurrency",
            "2",
            "--requests",
            "6",
            "--warmup",
            "0",
        )
        assert result.exit_code == 0, result.output
        # 6 requests from 2 workers, + the /v1/models and /get_server_info probes, one connection each
        assert len(accepted) == 2 + 2, accepted
    finally:

        async def shutdown():
            server.close()
            await server.wait_closed()
            await asyncio.sleep(0.2)  # the relays' pipes see EOF and close their sockets

        asyncio.run_coroutine_threadsafe(shutdown(), loop).result(timeout=30)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=10)
        loop.close()


def test_no_tokenizer_and_no_prompts_exits_2(cpu_server):
    # the served model id is no local directory: exact lengths need its tokenizer, or your own prompts
    result = qwen_bench("--base-url", cpu_server[0], "--concurrency", "1")
    assert result.exit_code == 2, result.output
    assert (
        "no tokenizer for exact prompt lengths: model 'qwen-serve/Qwen3-tiny' is not a local directory" in result.stderr
    )
    assert "--prompts FILE" in result.stderr


def test_output_tokens_are_the_servers_usage_count():
    # to SGLang qwen-bench sends ignore_eos and asks for the usage chunk (stream_options.include_usage):
    # the output tokens are the server's count, not the chunks, which may carry several tokens each
    import asyncio

    from aiohttp import web

    from qwen_serve import bench

    bodies = []

    async def completions(request):
        body = await request.json()
        bodies.append(body)
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await response.prepare(request)
        for text, end in (("two tokens", "null"), (" six more tokens in one chunk", '"length"')):  # 8 tokens, 2 chunks
            await response.write(f'data: {{"choices": [{{"text": "{text}", "finish_reason": {end}}}]}}\n\n'.encode())
        if (body.get("stream_options") or {}).get("include_usage"):
            await response.write(b'data: {"choices": [], "usage": {"completion_tokens": 8, "prompt_tokens": 5}}\n\n')
        await response.write(b"data: [DONE]\n\n")
        return response

    async def measure():
        app = web.Application()
        app.router.add_post("/v1/completions", completions)
        runner = web.AppRunner(app)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]
        try:
            return await bench.run_level(f"http://127.0.0.1:{port}", "m", ["p"], 2, 4, 8, 30.0, True, None)
        finally:
            await runner.cleanup()

    with_usage, _, _ = asyncio.run(measure())
    assert all(b["stream_options"] == {"include_usage": True} and b["ignore_eos"] is True for b in bodies)
    assert [(r.output_tokens, r.prompt_tokens) for r in with_usage] == [(8, 5)] * 4  # the server's counts
    assert all(r.ok and r.tpot == pytest.approx((r.e2e - r.ttft) / 7) for r in with_usage)


def test_a_missing_bench_extra_is_one_line(monkeypatch, tmp_path):
    import builtins

    from click.testing import CliRunner

    from qwen_serve.cli import bench_group

    real = builtins.__import__
    monkeypatch.setattr(
        builtins,
        "__import__",
        lambda name, *a, **k: (
            (_ for _ in ()).throw(ImportError(name))
            if name.split(".")[0] in ("aiohttp", "matplotlib")
            else real(name, *a, **k)
        ),
    )
    import importlib

    real_module = importlib.import_module
    monkeypatch.setattr(
        importlib,
        "import_module",
        lambda name, *a: (
            (_ for _ in ()).throw(ImportError(name))
            if name.split(".")[0] in ("aiohttp", "matplotlib")
            else real_module(name, *a)
        ),
    )
    f = tmp_path / "r.json"
    f.write_text("{}")
    for args in (["run", "--port", "9"], ["plot", str(f), "-o", str(tmp_path / "p.png")]):
        result = CliRunner().invoke(bench_group, args)
        assert result.exit_code == 2, result.output
        assert "pip install 'qwen-serve[bench]'" in result.stderr


@pytest.fixture
def cutting_server():
    with aiohttp_app_served(completions_app(2, whole=False)) as url:
        yield url


def test_a_cut_stream_is_an_errored_request_not_a_completed_one(cutting_server, tmp_path):
    prompts = tmp_path / "prompts.jsonl"
    prompts.write_text("".join(json.dumps({"prompt": f"p{i}"}) + "\n" for i in range(4)))
    out = tmp_path / "r.json"
    result = qwen_bench(
        "--base-url", cutting_server, "--model", "m", "--prompts", str(prompts), "--output-len", "4",
        "--concurrency", "1", "--requests", "2", "--warmup", "0", "--out", str(out),
    )  # fmt: skip
    assert result.exit_code == 1, result.output  # errors: exit 1
    level = json.loads(out.read_text())["levels"][0]
    assert level["completed"] == 0 and level["errors"] == 2
    assert "stream cut" in json.dumps(level)
