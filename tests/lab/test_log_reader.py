"""qwen-serve's reading of SGLang's log (sglang/log.py) against a real SGLang log of the H100 runs."""

from __future__ import annotations

from pathlib import Path

from qwen_serve.sglang.log import LogWatcher

H100_LOG = Path(__file__).resolve().parents[2] / "bench/results/h100/qwen_test/2026-11-25-run2/server.log"


def test_watcher_reads_the_real_h100_log():
    watcher = LogWatcher()
    labels = [
        label
        for line in H100_LOG.read_text(errors="replace").splitlines()
        for segment in line.split("\r")
        if (label := watcher.feed(segment))
    ]
    assert watcher.seen_phases == [
        "starting",
        "distributed",
        "weights",
        "weights_loaded",
        "kv_cache",
        "cuda_graphs",
        "http",
        "warmed_up",
    ]
    assert len(labels) == 8
    assert watcher.facts["weight_gb"] == 27.53 and watcher.facts["kv_tokens"] == 246525
    assert watcher.facts["max_total_num_tokens"] == 246525 and watcher.facts["available_gpu_mem_gb"] == 10.59


def test_watcher_reads_the_cuda_graph_bars_of_the_h200_awq_first_start():
    """The progress line's count comes from SGLang 0.5.17's own bars: awq's first start on the H200 (2026-12-04 call
    8) held its prefill bar at 1/58 for 485 s while awq_marlin compiled."""
    import re
    import tarfile

    call = Path(__file__).resolve().parents[2] / "bench/results/h200/presets/2026-12-04/call-8.tar.gz"
    with tarfile.open(call) as tar:
        log = tar.extractfile("presets_raw/cold_awq/server.sglang.log").read().decode(errors="replace")
    watcher, seen = LogWatcher(), []
    for segment in re.split(r"[\r\n]", log):
        watcher.feed(segment)
        if watcher.phase == "cuda_graphs" and watcher.progress and watcher.progress not in seen:
            seen.append(watcher.progress)
    assert seen[:2] == ["0%, 0/58", "2%, 1/58"] and "100%, 58/58" in seen and seen[-1] == "100%, 12/12", seen
