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
    8) held its prefill bar at 0/58 for 485 s while awq_marlin compiled."""
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


def test_off_a_terminal_the_h200_start_said_the_bars_count_it_had_then():
    """A real first start (bench/results/h200/progress/2026-12-04): qwen-serve's heartbeat line during the CUDA-graph
    capture gives the count SGLang's bar had at that moment (its first step took longer than the heartbeat)."""
    import re
    import tarfile

    call = Path(__file__).resolve().parents[2] / "bench/results/h200/progress/2026-12-04/call-1.tar.gz"
    with tarfile.open(call) as tar:
        ours, theirs = (
            tar.extractfile(f"presets_raw/cold_high_performance/{name}").read().decode(errors="replace")
            for name in ("server.log", "server.sglang.log")
        )
    began = float(re.search(r"\[\s*([\d.]+) s\] capturing CUDA graphs", ours).group(1))
    said = re.findall(
        r"\[\s*([\d.]+) s\] still capturing CUDA graphs \(first run compiles kernels\) (\d+)%, (\d+)/58", ours
    )
    assert said, ours
    first_step = float(re.search(r"\| 1/58 \[[\d:]+<[\d:]+, ([\d.]+)s/it\]", theirs).group(1))  # tqdm: seconds to 1/58
    early = [(float(at) - began, int(count)) for at, _, count in said if float(at) - began < first_step]
    assert early and all(count == 0 for _, count in early), said  # the bar stood at 0/58 until its first step ended
    assert all(55 <= after for after, _ in early), said  # said after about 60 s without a line, not sooner
