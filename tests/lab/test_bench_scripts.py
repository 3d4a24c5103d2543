"""The lab's benchmark scripts (bench/compare_bench_serving.py, bench/interleave.py) against qwen-bench and the
real CPU server: moved here from tests/test_bench.py so that the product's suite never loads the lab."""

from __future__ import annotations

import json
import random
import subprocess
import sys
from pathlib import Path

import pytest
from test_bench import aiohttp_app_served


def bench_script(name: str):
    """A script of bench/ (not a package) imported as a module."""
    import importlib.util

    spec = importlib.util.spec_from_file_location(name, Path(__file__).resolve().parents[2] / "bench" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def run_compare(*args: str) -> str:
    """bench/compare_bench_serving.py ARGS in a process of its own; its stdout."""
    script = Path(__file__).resolve().parents[2] / "bench" / "compare_bench_serving.py"
    return subprocess.run([sys.executable, str(script), *args], capture_output=True, text=True, check=True).stdout


def ours_level(**changes) -> dict:
    """One level of qwen-bench's JSON at concurrency 8 (TTFT 1 ms unless changed)."""
    return {
        "concurrency": 8,
        "request_throughput": 2.0,
        "output_throughput": 256.0,
        "ttft_ms": {"p50": 1.0, "p99": 1.0},
        "tpot_ms": {"p50": 10.0},
        "e2e_ms": {"p50": 1300.0},
        **changes,
    }


def theirs_row(**changes) -> dict:
    """One line of sglang.bench_serving's JSONL, the same run as ours_level unless changed."""
    return {
        "max_concurrency": 8,
        "request_throughput": 2.0,
        "output_throughput": 256.0,
        "median_ttft_ms": 1.0,
        "p99_ttft_ms": 1.0,
        "median_tpot_ms": 10.0,
        "median_e2e_latency_ms": 1300.0,
        **changes,
    }


def test_comparison_with_bench_serving_output(tmp_path):

    ours = {"levels": [ours_level(ttft_ms={"p50": 50.0, "p99": 90.0})]}
    theirs = theirs_row(
        request_throughput=2.1,
        output_throughput=250.0,
        median_ttft_ms=52.0,
        p99_ttft_ms=88.0,
        median_e2e_latency_ms=1290.0,
    )
    (tmp_path / "q.json").write_text(json.dumps(ours))
    (tmp_path / "b.jsonl").write_text(json.dumps(theirs) + "\n")
    out = run_compare(str(tmp_path / "q.json"), str(tmp_path / "b.jsonl"), "-o", str(tmp_path / "c.json"))
    data = json.loads((tmp_path / "c.json").read_text())
    assert len(data["rows"]) == 6 and data["worst_abs_difference"] == pytest.approx(1 - 2.0 / 2.1)
    assert "| 8 | output_throughput | 256.00 | 250.00 | +2.4% |" in out


@pytest.mark.parametrize(
    ("low", "scale", "count", "expected"),
    [
        (170.0, 1.00, 400, "agrees"),  # the same narrow distribution, enough requests: the interval lies within ±5 %
        (170.0, 1.25, 400, "differs"),  # 25 % slower: the interval lies wholly outside
        (80.0, 1.00, 400, "undecided"),  # as wide as TTFT at concurrency 8 on the H100: 400 requests cannot tell 5 %
        (170.0, 1.00, 6, "undecided"),  # too few requests to tell
    ],
)
def test_request_by_request_comparison_gives_an_interval_and_a_verdict(tmp_path, low, scale, count, expected):
    import statistics

    rng = random.Random(count + int(low))
    ttfts = [rng.uniform(low, 240.0) for _ in range(2 * count)]
    ours_ttft, theirs_ttft = ttfts[:count], [t * scale / 1000 for t in ttfts[count:]]
    level = ours_level(per_request={"ttft_ms": ours_ttft + [None], "error": [None] * count + ["HTTP 500"]})
    theirs = theirs_row(ttfts=theirs_ttft + [0.0], errors=[""] * count + ["timeout"])
    (tmp_path / "q.json").write_text(json.dumps({"levels": [level]}))
    (tmp_path / "b.jsonl").write_text(json.dumps(theirs) + "\n")
    out = run_compare(
        "--ours", str(tmp_path / "q.json"), "--theirs", str(tmp_path / "b.jsonl"), "-o", str(tmp_path / "c.json")
    )
    rows = {r["metric"]: r for r in json.loads((tmp_path / "c.json").read_text())["per_request"]}
    p50 = rows["ttft_ms.p50"]
    assert p50["requests"] == [count, count]  # failed requests left out on both sides
    assert p50["ci95"][0] <= p50["difference"] <= p50["ci95"][1]
    assert p50["verdict"] == expected, p50
    assert p50["qwen_bench"] == pytest.approx(statistics.median(ours_ttft))
    assert f"| {expected} |" in out


def test_the_interval_resamples_rounds_not_requests():
    # the requests of a round share its fate (one burst decides their prefills): 8 near-equal TTFTs per
    # round. Resampled as independent requests they would look 8 times as many as they are.

    compare = bench_script("compare_bench_serving")
    rng = random.Random(7)

    def run(rounds: int) -> list[float]:
        return [base + rng.uniform(-1, 1) for base in (rng.uniform(100, 250) for _ in range(rounds)) for _ in range(8)]

    ours, theirs = run(30), run(30)
    by_round = compare.bootstrap(compare.blocks(ours, 8), compare.blocks(theirs, 8), 50)
    by_request = compare.bootstrap(compare.blocks(ours, 1), compare.blocks(theirs, 1), 50)
    assert by_round[0] == pytest.approx(by_request[0])  # the same point estimate
    assert by_round[2] - by_round[1] > 1.8 * (by_request[2] - by_request[1])  # an honest, wider interval
    assert compare.verdict(*by_round[1:], rounds=30) != "agrees"
    assert compare.verdict(0.01, 0.02, rounds=9) == "undecided"  # too few rounds for any verdict


def test_a_median_between_two_modes_is_shown_for_what_it_is():
    # 8 requests a round prefilled in two batches: TTFT near 100 ms or near 200 ms. qwen-bench's rounds
    # put 4 of 8 in the first batch, bench_serving's alternate 4 and 5 (the prefills split a burst by
    # its arrival): the medians differ by half, the shares of requests by 1/16 at most
    compare = bench_script("compare_bench_serving")

    def run(firsts: list[int]) -> dict:
        ttfts = [(100.0 if i < k else 200.0) + i / 10 for k in firsts for i in range(8)]
        return {8: {"ttfts_ms": ttfts}}

    row = compare.distribution_row([run([4] * 20)], [run([4, 5] * 10)], 8)
    p50 = row["percentiles"].index(50)
    assert row["qwen_bench"][p50] > 1.4 * row["bench_serving"][p50]  # p50s 50 % apart …
    assert row["share_gap"] == pytest.approx(1 / 16)  # … where 6 % of the requests sit on the other side
    # qwen-bench's median lies in the gap (half its requests on each side), bench_serving's in a mode
    assert row["median_step"][0] > 0.4 and row["median_step"][1] < 0.01
    assert row["bench_serving_self_share_gap"] == pytest.approx(1 / 8)  # odd rounds (4 each) vs even (5 each)
    assert compare.share_gap([1.0, 2.0, 3.0], [3.0, 2.0, 1.0]) == 0
    assert compare.distribution_row([run([4] * 20)], [{1: {}}], 8) is None  # bench_serving kept no requests there


@pytest.fixture
def relay(cpu_server):
    """The CPU server behind a relay that drops the two SGLang fields bench_serving's OpenAI backend
    always sends (ignore_eos, best_of) and transformers serve refuses with 422; everything else,
    the stream included, passes through as it comes."""

    import aiohttp
    from aiohttp import web

    upstream = cpu_server[0]
    prompts = []  # every completion prompt it passed on, in order

    async def flush_cache(request: web.Request) -> web.Response:  # SGLang's, which both tools call with --flush-cache
        return web.Response(text="Cache flushed.")

    async def forward(request: web.Request) -> web.StreamResponse:
        body = await request.read()
        if request.method == "POST" and body:
            payload = json.loads(body)
            if "prompt" in payload:
                prompts.append(payload["prompt"])
            for key in ("ignore_eos", "best_of"):
                payload.pop(key, None)
            body = json.dumps(payload).encode()
        async with aiohttp.ClientSession() as session:
            async with session.request(
                request.method, upstream + request.path_qs, data=body, headers={"Content-Type": "application/json"}
            ) as r:
                out = web.StreamResponse(status=r.status, headers={"Content-Type": r.headers.get("Content-Type", "")})
                await out.prepare(request)
                async for chunk in r.content.iter_any():
                    await out.write(chunk)
                await out.write_eof()
                return out

    app = web.Application()
    app.router.add_post("/flush_cache", flush_cache)
    app.router.add_route("*", "/{tail:.*}", forward)
    with aiohttp_app_served(app) as url:
        yield url, cpu_server[1], prompts


def test_interleaved_passes_alternate_the_tools_on_the_same_prompts(relay, tmp_path, monkeypatch, capsys):
    # bench/interleave.py: Q B B Q passes, each tool's own CLI entry point in one process; the two
    # passes of a run send the same prompts (bench_serving's, replayed), the next run other ones

    url, model_dir, prompts = relay
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")  # bench_serving looks the model up: offline, in the server's cache
    monkeypatch.setenv("HF_HUB_CACHE", str(model_dir.parents[2]))
    interleave = bench_script("interleave")
    out = tmp_path / "il"
    monkeypatch.setattr(
        sys,
        "argv",
        [
            "interleave.py",
            "--base-url",
            url,
            "--model",
            "qwen-serve/Qwen3-tiny",
            "--tokenizer",
            str(model_dir),
            "--concurrency",
            "2",
            "--requests",
            "4",
            "--passes",
            "4",
            "--first",
            "3",
            "--input-len",
            "16",
            "--output-len",
            "4",
            "--warmup",
            "1",
            "--warm-requests",
            "2",
            "--out",
            str(out),
        ],
    )
    del prompts[:]
    assert interleave.main() == 0
    passes = json.loads((out / "passes.json").read_text())["passes"]
    assert [(p["tool"], p["run"], p["requests"]) for p in passes] == [
        ("qwen_bench", 3, 4),
        ("bench_serving", 3, 4),
        ("bench_serving", 4, 4),
        ("qwen_bench", 4, 4),
    ]
    assert all(p["start_s"] < p["end_s"] <= q["start_s"] for p, q in zip(passes, passes[1:]))
    assert all(0 < p["ttft_p50_ms"] and 0 < p["ttft_mean_ms"] for p in passes)
    assert sorted(f.name for f in out.iterdir()) == [
        "bench_serving_3.jsonl",
        "bench_serving_4.jsonl",
        "passes.json",
        "qwen_bench_3.json",
        "qwen_bench_4.json",
        "warm",
    ]
    assert [f.name for f in (out / "warm").iterdir()] == ["qwen_bench_0.json"]  # the warm-up pass, kept apart
    assert len(prompts) == (1 + 2) + 4 * (1 + 4)  # each pass: its warm-up, then its requests
    sent = [prompts[3 + 5 * k : 3 + 5 * k + 5] for k in range(4)]
    assert sent[0] == sent[1] and sent[2] == sent[3] and sent[0] != sent[2]  # qwen-bench replays bench_serving's
    assert "qwen_bench" in capsys.readouterr().out
    run_compare(
        "--ours",
        *map(str, out.glob("qwen_bench_*.json")),
        "--theirs",
        *map(str, out.glob("bench_serving_*.jsonl")),
        "-o",
        str(tmp_path / "c.json"),
    )
    pooled = {r["metric"]: r for r in json.loads((tmp_path / "c.json").read_text())["per_request"]}
    assert pooled["ttft_ms.mean"]["requests"] == [8, 8]


def test_runs_of_different_levels_pool_per_level(tmp_path):
    # 2026-11-25-c: one run of concurrency 8 alone (40 rounds), one of 1, 8, 32, 64: each level compares
    # the runs that ran it, and bench_serving's odd rounds against its even ones give its own resolution

    rng = random.Random(3)

    def ours(levels: dict) -> dict:
        return {
            "levels": [
                {
                    "concurrency": c,
                    "request_throughput": 2.0,
                    "output_throughput": 256.0,
                    "ttft_ms": {"mean": 1.0, "p50": 1.0, "p99": 1.0},
                    "tpot_ms": {"p50": 10.0},
                    "e2e_ms": {"p50": 1300.0},
                    "per_request": {"ttft_ms": t, "error": [None] * len(t)},
                }
                for c, t in levels.items()
            ]
        }

    def theirs(levels: dict) -> str:
        return "".join(
            json.dumps(
                {
                    "max_concurrency": c,
                    "request_throughput": 2.0,
                    "output_throughput": 256.0,
                    "mean_ttft_ms": 1.0,
                    "median_ttft_ms": 1.0,
                    "p99_ttft_ms": 1.0,
                    "median_tpot_ms": 10.0,
                    "median_e2e_latency_ms": 1300.0,
                    "ttfts": [x / 1000 for x in t],
                }
            )
            + "\n"
            for c, t in levels.items()
        )

    def ttfts(n: int) -> list[float]:
        return [rng.uniform(100, 200) for _ in range(n)]

    files = {
        "q1.json": json.dumps(ours({8: ttfts(320)})),
        "q2.json": json.dumps(ours({1: ttfts(16), 8: ttfts(64)})),
        "b1.jsonl": theirs({8: ttfts(320)}),
        "b2.jsonl": theirs({1: ttfts(16), 8: ttfts(64)}),
    }
    for name, text in files.items():
        (tmp_path / name).write_text(text)
    out = run_compare(
        "--ours",
        str(tmp_path / "q1.json"),
        str(tmp_path / "q2.json"),
        "--theirs",
        str(tmp_path / "b1.jsonl"),
        str(tmp_path / "b2.jsonl"),
        "-o",
        str(tmp_path / "c.json"),
    )
    data = json.loads((tmp_path / "c.json").read_text())
    runs = {(r["concurrency"], r["metric"]): r["runs"] for r in data["rows"]}
    assert runs[(1, "request_throughput")] == [1, 1] and runs[(8, "request_throughput")] == [2, 2]
    assert "| 1 | request_throughput | 2.00 | 2.00 | +0.0% | — / — |" in out  # one run: no spread to show
    pooled = {(r["concurrency"], r["metric"]): r for r in data["per_request"]}
    assert pooled[(8, "ttft_ms.mean")]["requests"] == [384, 384] and pooled[(8, "ttft_ms.mean")]["rounds"] == [48, 48]
    assert pooled[(1, "ttft_ms.p50")]["requests"] == [16, 16]
    mean = pooled[(8, "ttft_ms.mean")]
    assert mean["ci95"][0] <= mean["difference"] <= mean["ci95"][1]
    self_check = mean["bench_serving_self"]  # half the rounds a side: wider than the full comparison
    assert self_check["ci95"][1] - self_check["ci95"][0] > mean["ci95"][1] - mean["ci95"][0]


def test_the_suite_timer_reads_pytests_own_summary_line():
    """scripts/suite_time.py times the product group and keeps pytest's counts and seconds from its last line."""
    import importlib.util

    path = Path(__file__).resolve().parents[2] / "scripts" / "suite_time.py"
    spec = importlib.util.spec_from_file_location("suite_time", path)
    suite = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(suite)
    out = "....\n===== 719 passed, 31 warnings in 170.24s (0:02:50) =====\n"
    assert suite.parse_summary(out) == {"counts": {"passed": 719, "warnings": 31}, "pytest_s": 170.24}
    assert suite.parse_summary("1 failed, 718 passed, 2 skipped in 197.08s (0:03:17)\n") == {
        "counts": {"failed": 1, "passed": 718, "skipped": 2},
        "pytest_s": 197.08,
    }
    assert suite.parse_summary("no summary here") == {}
