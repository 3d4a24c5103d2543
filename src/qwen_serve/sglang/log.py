"""What SGLang's log says: start-up phases, facts for the ready banner, causes of a crash.

Patterns are taken from SGLang 0.5.17's own log lines (see bench/results/h100/*/server.log).
One table each; the supervisor feeds every line through `LogWatcher.feed`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

# (pattern, phase, label): the phase a line starts. Order = the order SGLang goes through them.
PHASES: tuple[tuple[re.Pattern, str, str], ...] = tuple(
    (re.compile(p), phase, label)
    for p, phase, label in (
        (r"server_args=ServerArgs\(", "starting", "importing SGLang and parsing arguments"),
        (r"Init torch distributed begin", "distributed", "initialising torch distributed"),
        (r"Load weight begin", "weights", "loading weights"),
        (r"Load weight end", "weights_loaded", "weights loaded"),
        (r"KV Cache is allocated", "kv_cache", "KV cache allocated"),
        (
            r"Capture .*cuda graph begin|Capture .*CUDA graph begin",
            "cuda_graphs",
            "capturing CUDA graphs (first run compiles kernels)",
        ),
        (r"Uvicorn running on", "http", "HTTP server up, warming up"),
        (r"The server is fired up and ready to roll", "warmed_up", "warm-up request done"),
    )
)
PHASE_LABELS = {phase: label for _, phase, label in PHASES}  # the short words, whatever a launch's own label is

# progress within a phase: tqdm bars SGLang prints (weights shards, CUDA graph batches), percent and count
# ("Capturing num tokens (num_tokens=8192 avail_mem=12.30 GB):   2%|▏         | 1/58 [08:05<7:41:05, 485.37s/it]")
PROGRESS = (
    (re.compile(r"Loading safetensors checkpoint shards:\s+(\d+)%(?:[^0-9]*(\d+/\d+))?"), "weights"),
    (re.compile(r"Capturing (?:batches|num tokens) \(.*?\):\s+(\d+)%(?:[^0-9]*(\d+/\d+))?"), "cuda_graphs"),
)

# facts for the ready banner and the ready file
FACTS = {
    "weight_gb": re.compile(r"Load weight end\..*?mem usage=([\d.]+) GB"),
    "kv_tokens": re.compile(r"KV Cache is allocated\..*?#tokens: (\d+)"),
    "kv_k_gb": re.compile(r"KV Cache is allocated\..*?K size: ([\d.]+) GB"),
    "kv_v_gb": re.compile(r"KV Cache is allocated\..*?V size: ([\d.]+) GB"),
    "max_total_num_tokens": re.compile(r"max_total_num_tokens=(\d+)"),
    "max_running_requests": re.compile(r"max_total_num_tokens=.*?max_running_requests=(\d+)"),
    "context_len": re.compile(r"max_total_num_tokens=.*?context_len=(\d+)"),
    "available_gpu_mem_gb": re.compile(r"available_gpu_mem=([\d.]+) GB"),
}

# (pattern, diagnosis) for a crash before ready; the first match wins
CRASH_CAUSES: tuple[tuple[re.Pattern, str], ...] = tuple(
    (re.compile(p, re.IGNORECASE), why)
    for p, why in (
        (
            r"CUDA out of memory|OutOfMemoryError|Not enough memory|out of memory",
            "the GPU ran out of memory: `qwen-serve plan` lists the presets that fit this GPU; or a smaller preset, "
            "a lower --context-length, or more GPUs (--tp-size)",
        ),
        (
            r"Address already in use|Errno 98",
            "the port is already in use: pass another --port, or stop the process that listens on it",
        ),
        (
            r"cannot import name '\w+' from 'torchao",
            "SGLang 0.5.17's --torchao-config calls torchao functions that torchao 0.17 removed: use "
            "a preset without torchao_config, or --quantization fp8, instead",
        ),
        (
            r"not supported on CUDA arch|compute capability|fp8e4nv data type is not supported",
            "this GPU cannot run the requested quantization (FP8 needs compute capability >= 8.9): "
            "choose an int4 preset or no quantization",
        ),
        (
            r"does not appear to have a file named config\.json|is not a local folder and is not a valid model identifier"
            r"|Repository Not Found|No such file or directory: .*config\.json|Can't load the configuration",
            "the model was not found: pass --model-path with a directory that holds config.json, or a hub id "
            "(with network access or a filled HF cache)",
        ),
        (
            r"No accelerator|Found no NVIDIA driver|CUDA is not available|No CUDA GPUs are available"
            r"|torch\.cuda\.is_available\(\) is False|CUDA driver initialization failed",
            "CUDA is not available: no NVIDIA GPU or driver is visible to this process (check nvidia-smi "
            "and CUDA_VISIBLE_DEVICES)",
        ),
        (
            r"unrecognized arguments|invalid choice|error: argument",
            "SGLang rejected a command-line argument: run `qwen-serve --check …` to see which",
        ),
    )
)


@dataclass
class LogWatcher:
    """Follows SGLang's output line by line: current phase, progress, facts, last lines."""

    phase: str = "launching"
    label: str = "starting the SGLang process"
    progress: str | None = None  # "2%, 1/58": the phase's tqdm bar as last seen
    facts: dict[str, float | int] = field(default_factory=dict)
    tail: list[str] = field(default_factory=list)
    tail_size: int = 40
    seen_phases: list[str] = field(default_factory=list)
    # phase -> label to show instead of PHASES' (what this launch does there, e.g. humming's JIT)
    labels: dict[str, str] = field(default_factory=dict)

    def feed(self, line: str) -> str | None:
        """Take one line; returns the new phase's label when this line starts a phase."""
        line = line.rstrip()
        if not line:
            return None
        self.tail.append(line)
        del self.tail[: -self.tail_size]
        self.peek(line)
        for name, pattern in FACTS.items():
            m = pattern.search(line)
            if m:
                text = m.group(1)
                self.facts[name] = float(text) if "." in text else int(text)
        for pattern, phase, label in PHASES:
            if pattern.search(line) and phase not in self.seen_phases:
                label = self.labels.get(phase, label)
                self.phase, self.label, self.progress = phase, label, None
                self.seen_phases.append(phase)
                return label
        return None

    def peek(self, text: str) -> None:
        """The progress of the phase from a bar's update not yet ended: tqdm starts each update with \r, so the
        newest one is ended only by the next (awq's first CUDA graph held its bar at 0/58 for 485 s)."""
        for pattern, phase in PROGRESS:
            m = pattern.search(text)
            if m and phase == self.phase:
                self.progress = f"{m.group(1)}%" + (f", {m.group(2)}" if m.group(2) else "")


def diagnose(lines: list[str]) -> str:
    text = "\n".join(lines)
    for pattern, why in CRASH_CAUSES:
        if pattern.search(text):
            return why
    return "no known cause matched: read the log lines above"
