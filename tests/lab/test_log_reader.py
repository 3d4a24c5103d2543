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
