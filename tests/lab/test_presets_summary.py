"""bench/presets.py summarize: the committed preset table is what the committed raw files say."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
RUN = ROOT / "bench/results/h200/presets/2026-12-02"


def script(path: str):
    """A repository script (not a package module) loaded by its path."""
    spec = importlib.util.spec_from_file_location(Path(path).stem, ROOT / path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def presets_script():
    return script("bench/presets.py")


def test_the_summary_is_made_from_the_raw_files():
    made = presets_script().summarize(sorted(RUN.glob("call-*.tar.gz")))
    committed = json.loads((RUN / "summary.json").read_text())
    assert made["rows"] == committed["rows"]
    assert {r["baseline"] for r in made["rows"] if "baseline" in r} == {"sglang-bf16"}
    ratios = [r for r in made["rows"] if r.get("ratio_to_bf16") is not None]
    assert ratios and all(r["ratio_to_baseline"] == r["ratio_to_bf16"] for r in ratios)
    skipped = {(r["call"], r["launch"]): r["error"] for r in made["rows"] if "error" in r}  # from each stdout
    assert skipped[("call-e", "knob:auto+fp8-marlin")] == "not started: past --deadline 390 s"
    assert skipped[("call-g", "knob:auto+fp8-marlin")].startswith("cut by --stop-at 565 s, not ready")


def test_a_level_is_a_concurrency_or_the_shared_prefix_workload():
    presets = presets_script()
    assert [presets.level_concurrency(x) for x in ("1", "64", "shared128")] == [1, 64, 128]


def test_a_replicas_row_counts_each_workers_requests_from_the_routers_metrics(tmp_path):
    """The router's counters (smg_worker_cb_outcomes_total, as sglang-router 0.3.2 prints them) after a level
    less before it."""

    def metrics(a: int, b: int) -> str:
        return "".join(
            f'smg_worker_cb_outcomes_total{{worker="http://127.0.0.1:{port}",outcome="{outcome}"}} {n}\n'
            for port, n in ((30001, a), (30002, b))
            for outcome in ("success", "failure")
        )

    (tmp_path / "metrics_c64.before.txt").write_text(metrics(1, 0))
    (tmp_path / "metrics_c64.after.txt").write_text(metrics(101, 92))
    facts = presets_script().fleet_facts({"folder": tmp_path, "kv_tokens_per_worker": [5, 6]}, "64")
    assert facts["requests_per_worker"] == {"http://127.0.0.1:30001": 100, "http://127.0.0.1:30002": 92}
    assert facts["busiest_worker_share"] == round(100 / 192, 3) and facts["kv_tokens_per_worker"] == [5, 6]
    assert presets_script().fleet_facts({"folder": tmp_path}, "128") == {}  # not a replicas row


def test_the_replicas_summary_is_made_from_the_raw_files_and_counts_every_request():
    run = ROOT / "bench/results/h200/replicas/2026-12-02"
    made = presets_script().summarize([run / "call-a.tar.gz"])
    assert made["rows"] == json.loads((run / "summary.json").read_text())["rows"]
    two = [r for r in made["rows"] if r["launch"] == "replicas:2"]
    assert {(r["workload"], r["concurrency"]) for r in two} == {("random", 64), ("random", 128), ("shared-prefix", 64)}
    for r in two:  # the router's counters: every request of the level (and bench_serving's 2 warm-ups) answered
        requests = presets_script().REQUESTS[r["concurrency"]]
        assert sum(r["requests_per_worker"].values()) == requests + 2, r
        assert len(r["kv_tokens_per_worker"]) == 2 and r["kv_tokens"] == sum(r["kv_tokens_per_worker"])


def test_the_plan_is_within_ten_percent_of_what_real_files_measured():
    """scripts/gpu/quality.py on an H200: each preset loaded the same random bf16 safetensors; the plan's
    weights against SGLang's log, and its peak at load against the measured one where it was caught."""
    from qwen_serve.hardware import parse_gpu_spec
    from qwen_serve.launch import request_from_args, settings_for
    from qwen_serve.plan import plan

    measured = [r for _, r in script("scripts/readme_tables.py").quality_rows()]  # every quality.py call of the day
    assert {r["preset"] for r in measured} >= {"high_performance", "balanced", "fp8", "memory_optimized"}
    for r in measured:
        settings = settings_for(
            request_from_args(["--preset", r["preset"], "--mem-fraction-static", str(r["mem_fraction_static"])])
        )
        p = plan(settings, parse_gpu_spec("H200").gpu, 1, cuda_graph=False)
        assert abs(p.weights_gib / r["weights_gib"] - 1) < 0.10, (r["preset"], p.weights_gib, r["weights_gib"])
        # humming quantizes as it loads: never the bf16 model; the plan is not under it
        if r["preset"] in ("balanced", "memory_optimized"):
            assert abs(p.peak_load_gib / r["peak_load_gib"] - 1) < 0.10 and r["peak_load_gib"] < 0.5 * 27.53
            assert p.peak_load_gib >= r["peak_load_gib"] and abs(p.weights_gib - r["weights_gib"]) <= 0.02


def test_fp8_loads_the_whole_bf16_model_first_as_the_plan_says():
    """scripts/gpu/peak_at_load.sh fp8 on an H200 (real files, 4,096-token KV pool, no CUDA graphs): the
    highest nvidia-smi reading above the CUDA context is the bf16 model, and the plan is not under it."""
    from qwen_serve.hardware import parse_gpu_spec
    from qwen_serve.launch import request_from_args, settings_for
    from qwen_serve.plan import plan

    csv = ROOT / "bench/results/h200/quality/2026-12-02/peak-fp8/peak_fp8.smi.csv"
    peak, context = presets_script().start_peak_gib([float(x) for x in csv.read_text().split()])
    planned = plan(settings_for(request_from_args(["--preset", "fp8"])), parse_gpu_spec("H200").gpu, 1).peak_load_gib
    assert 0.3 < context < 1.5 and abs(peak - 27.53) < 0.3  # the bf16 weights, then quantized to 15.78 GiB
    assert planned >= peak and planned / peak - 1 < 0.10


def test_memory_readings_catch_a_short_load_and_take_its_peak(tmp_path):
    """nvidia-smi's own 50 ms loop read in the background (a stand-in nvidia-smi here): a load of well under
    a second still gets its readings, and the peak is the highest in the load's window less the lowest
    in the second before it."""
    import time

    fake = tmp_path / "nvidia-smi"
    fake.write_text(
        "#!/usr/bin/env python3\n"
        "import sys, time\n"
        "assert '-lms' in sys.argv\n"
        "for mib in [700] * 20 + [9000, 20000, 28000, 16000] + [16500] * 100:\n"
        "    print(mib, flush=True); time.sleep(0.05)\n"
    )
    fake.chmod(0o755)
    readings = presets_script().MemoryReadings(command=str(fake))
    deadline = time.monotonic() + 30  # 20 idle readings (1 s), the load (0.2 s), then the weights' plateau
    while not any(mib == 16500 for _, mib in readings.readings) and time.monotonic() < deadline:
        time.sleep(0.05)
    readings.stop()
    times = [t for t, mib in readings.readings if mib > 700]
    begin, end = times[0] + 0.1, times[3] + 0.1  # the log lines seen a little after the fact
    assert len(readings.readings) >= 20
    assert readings.load_peak_gib(begin, end) == round((28000 - 700) / 1024, 2)
    assert readings.load_peak_gib(None, end) is None


def stand_in_run(tmp_path, monkeypatch, mode: str, **options):
    """`bench/presets.py run`'s module and arguments on the CPU: the stand-in SGLang (tests/fake_sglang, in
    FAKE_SGLANG_MODE `mode`) as plain SGLang and behind qwen-serve, a stand-in nvidia-smi, a free port."""
    import argparse
    import os
    import socket
    import sys

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    smi = tmp_path / "bin" / "nvidia-smi"
    smi.parent.mkdir()
    smi.write_text(
        "#!/usr/bin/env python3\nimport sys, time\n"
        "if '-lms' not in sys.argv:\n    print(0); sys.exit()\n"
        "while True:\n    print(700, flush=True); time.sleep(0.05)\n"
    )
    smi.chmod(0o755)
    model = tmp_path / "model"
    model.mkdir()
    (model / "config.json").write_text("{}")
    monkeypatch.setenv("PATH", f"{smi.parent}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setenv("PYTHONPATH", f"{ROOT / 'tests' / 'fake_sglang'}{os.pathsep}{ROOT / 'src'}")
    monkeypatch.setenv("FAKE_SGLANG_MODE", mode)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    presets = presets_script()
    monkeypatch.setattr(presets, "PORT", port)
    monkeypatch.setattr(sys, "argv", ["presets.py", "run"])
    args = argparse.Namespace(
        out=str(tmp_path / "raw"),
        model=str(model),
        row=["sglang-bf16=sglang", "preset:fp8=qwen-serve --preset fp8 --force"],
        common="--load-format dummy",
        ready_timeout=60,
        deadline=None,
        **{"levels": [], "stop_at": None, **options},
    )
    return presets, args


def test_run_starts_measures_nothing_and_summarizes_each_row_on_the_stand_in_sglang(tmp_path, monkeypatch):
    """`bench/presets.py run` end to end on the CPU, no bench levels; then `summarize` of what it wrote."""
    presets, args = stand_in_run(tmp_path, monkeypatch, "ok")
    assert presets.cmd_run(args) == 0
    rows = {r["launch"]: r for r in (json.loads(p.read_text()) for p in (tmp_path / "raw").glob("*/row.json"))}
    assert set(rows) == {"sglang-bf16", "preset:fp8"}
    summary = presets.summarize([tmp_path / "raw"])  # no levels: each row is its start alone
    assert summary["calls"][0]["common_flags"] == "--load-format dummy"
    starts = {r["launch"]: r for r in summary["rows"]}
    assert set(starts) == set(rows) and all("concurrency" not in r and "jit_cache" not in r for r in starts.values())
    assert [starts[k]["ready_s"] for k in rows] == [rows[k]["ready_s"] for k in rows]
    for r in rows.values():  # the stand-in's log facts, read as SGLang's
        assert r["ready_s"] > 0 and r["weights_gib"] == 27.53 and r["kv_tokens"] > 0 and "error" not in r
    assert "--quantization fp8" in presets.resolved(rows["preset:fp8"], tmp_path / "raw" / "preset_fp8")


def test_stop_at_ends_a_row_that_is_not_ready_and_keeps_its_raw_files(tmp_path, monkeypatch):
    """A device call's outer timeout kills the tarball step too (a whole call's files were lost so): --stop-at
    ends the row in progress first, says why in its row.json, stops its server and lets the run finish."""
    import time

    presets, args = stand_in_run(tmp_path, monkeypatch, "never_ready", levels=["1"], stop_at=3)
    t0 = time.monotonic()
    assert presets.cmd_run(args) == 1
    assert time.monotonic() - t0 < 45  # not the 60 s ready timeout
    first = json.loads((tmp_path / "raw" / "sglang-bf16" / "row.json").read_text())
    assert first["error"].startswith("cut by --stop-at 3 s, not ready after") and "ready_s" not in first
    assert (tmp_path / "raw" / "sglang-bf16" / "server.log").exists()
    second = json.loads((tmp_path / "raw" / "preset_fp8" / "row.json").read_text())
    assert second["error"].startswith("cut by --stop-at 3 s")  # no time left: ended at once
    summary = presets.summarize([tmp_path / "raw"])  # both rows say why they have no figures
    assert [r["error"][:16] for r in summary["rows"]] == ["cut by --stop-at"] * 2


def test_stop_at_after_ready_keeps_the_row_and_what_it_measured(tmp_path, monkeypatch):
    """Time up between levels: the row keeps its start-up facts and every level it ran (marked `cut`, not
    an error that would drop them), no further level is started, and summarize names the cut."""
    presets, args = stand_in_run(tmp_path, monkeypatch, "ok", levels=["1"], stop_at=600)
    probe = presets.probe

    def ready_then_time_up():  # the call's time runs out the moment the first server is ready
        ok = probe()
        if ok:
            args.stop_at = 1e-3
        return ok

    def no_level(*a, **k):
        raise AssertionError("a level started after --stop-at")

    monkeypatch.setattr(presets, "probe", ready_then_time_up)
    monkeypatch.setattr(presets, "bench_level", no_level)
    assert presets.cmd_run(args) == 1
    first = json.loads((tmp_path / "raw" / "sglang-bf16" / "row.json").read_text())
    assert first["ready_s"] > 0 and first["weights_gib"] == 27.53 and "error" not in first
    assert first["cut"] == "cut by --stop-at 0 s before level 1" and first["levels"] == {}
    summary = presets.summarize([tmp_path / "raw"])
    assert {(r["launch"], r["error"][:16]) for r in summary["rows"]} == {
        ("sglang-bf16", "cut by --stop-at"),
        ("preset:fp8", "cut by --stop-at"),
    }


def test_a_cold_row_is_not_started_on_a_jit_folder_that_is_not_empty(tmp_path, monkeypatch):
    """A cold start is the point of a cold row: on a folder an earlier start filled (a machine's /tmp outlives a
    call), the row says why and nothing starts; on an empty folder it runs."""
    full, empty = tmp_path / "jit-full", tmp_path / "jit-empty"
    (full / "humming").mkdir(parents=True)
    (full / "humming" / "kernel.cubin").write_bytes(b"x")
    presets, args = stand_in_run(tmp_path, monkeypatch, "ok")
    args.row = [
        f"cold:fp8=QWEN_SERVE_JIT_CACHE={full} qwen-serve --preset fp8 --force",
        f"cold:again=QWEN_SERVE_JIT_CACHE={empty} qwen-serve --preset fp8 --force",
    ]
    presets.cmd_run(args)
    refused = json.loads((tmp_path / "raw" / "cold_fp8" / "row.json").read_text())
    assert (
        refused["error"]
        == f"not started: {full} is not empty, so this would not be a cold start (give the row a new folder)"
    )
    assert not (tmp_path / "raw" / "cold_fp8" / "server.log").exists()
    ran = json.loads((tmp_path / "raw" / "cold_again" / "row.json").read_text())
    assert "error" not in ran and ran["ready_s"] > 0


def test_a_row_is_not_started_without_the_time_its_quickest_sibling_needed():
    """Call j's case: --deadline 125 s and a warm baseline of 128 s left 172 s before --stop-at 300 unused.
    With --stop-at, a row starts when the time left is at least what the quickest whole row took."""
    presets = presets_script()
    assert presets.too_late(128, 128, 125, 300) == "past --deadline 125 s"  # a deadline stays a hard limit
    assert presets.too_late(128, 128, None, 300) is None  # 172 s left, 128 needed: start it
    assert presets.too_late(0, None, None, 300) is None  # the first row (the baseline) always starts
    why = presets.too_late(200, 128, None, 300)
    assert why == "100 s left before --stop-at 300 s, the quickest row took 128 s"
    stdout = f"== knob:x: skipped, {why}\n"
    assert presets.unfinished("knob:x", stdout) == f"not started: {why}"
    assert presets.unfinished("knob:y", stdout) == "no row.json: the call ended before this row did"


def test_the_decode_step_is_read_from_sglangs_own_log_at_the_levels_batch_size(tmp_path):
    presets = presets_script()
    line = "[t] Decode batch, #running-req: {n}, #token: 9, token usage: 0.01, cuda graph: True, gen throughput (token/s): {r}, #queue-req: 0\n"
    log = "".join(line.format(n=n, r=r) for n, r in ((64, 100.0), (64, 300.0), (63, 1.0), (64, 200.0), (1, 9.0)))
    assert presets.decode_rate(log, 64) == 200.0 and presets.decode_rate(log, 1) == 9.0
    assert presets.decode_rate(log, 128) is None
    assert presets.decode_facts(log, log.replace("200.0", "100.0"), "64") == {
        "decode_tok_s_p50": 200.0,
        "decode_ratio_to_bf16": 2.0,
    }
    assert presets.decode_facts(log, log, "1") == {}  # batch 1 is TPOT's, in its own columns
    where = {
        c: presets.sglang_log_of(tmp_path, c).name
        for c in (
            "sglang --quantization fp8",
            "X=1 sglang",
            "qwen-serve --preset auto",
            "X=1 qwen-serve",
            "qwen-serve --replicas 2",
        )
    }
    assert list(where.values()) == [
        "server.log",
        "server.log",
        "server.sglang.log",
        "server.sglang.log",
        "worker0.sglang.log",
    ]


def test_fp8s_decode_step_at_64_is_the_same_ratio_in_every_call_whatever_the_knob():
    """What docs/presets.md concludes from the decode column: the knobs moved prefill and queueing only."""
    committed = json.loads((RUN / "summary.json").read_text())["rows"]
    fp8 = [
        r["decode_ratio_to_bf16"]
        for r in committed
        if r.get("concurrency") == 64
        and r.get("resolved", "").startswith("preset fp8: --quantization fp8 --kv-cache-dtype fp8_e4m3")
        and "flashinfer" not in r["resolved"]
    ]
    assert len(fp8) >= 6 and max(fp8) - min(fp8) <= 0.02, fp8
