"""The corpus of bad inputs (every class, as a user would type them) and how one is run: `qwen-serve --dry-run ARGS`
in a process of its own, reporting its exit code, stderr lines, seconds and peak memory. The product's tests hold
each to one line and exit 2 (tests/test_bad_input.py); the lab times them (bench/fastpath.py --bad-inputs)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

# the real command, reporting its own peak memory to a file on exit: VmHWM, the high-water mark of this
# process image (ru_maxrss would carry over the RSS of the process that forked it, pytest's say)
PEAK_WRAPPER = """
import atexit, os, re, runpy, sys
def peak():
    status = open("/proc/self/status").read()
    open(os.environ["PEAK_FILE"], "w").write(re.search(r"VmHWM:\\s+(\\d+) kB", status).group(1))
atexit.register(peak)
sys.argv = ["qwen-serve", *sys.argv[1:]]
runpy.run_module("qwen_serve", run_name="__main__")
"""


def bad_inputs(tmp: Path) -> list[tuple[str, ...]]:
    """Bad inputs of every class, as a user would type them (files written under tmp)."""
    bomb = tmp / "bomb.yaml"
    bomb.write_text(
        'a0: &a0 ["x", "x", "x", "x", "x", "x", "x", "x"]\n'
        + "".join(f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 8) + "]\n" for i in range(1, 9))
    )
    (tmp / "big.yaml").write_text("# x\n" * 600_000)
    (tmp / "dup.yaml").write_text("port: 1\nport: 2\n")
    (tmp / "spellings.yaml").write_text("tp_size: 1\ntp-size: 2\n")
    (tmp / "deep.yaml").write_text("a: " + "[" * 5000 + "]" * 5000 + "\n")
    (tmp / "nul.yaml").write_text('model_path: "Qwen/Qwen3-14B\\0"\n')
    (tmp / "escape.yaml").write_text('sglang_args:\n  chat-template: "x\\e[2J"\n')
    config = tmp / "mine.yaml"
    config.write_text("port: 31000\n")
    key = tmp / "key"
    key.write_text("sk-corpus-key-0123\n")
    key.chmod(0o600)
    return [
        # issue #28's second corpus: outputs over inputs, aliases of owned flags, values without bounds, keys
        ("--config", str(config), "--ready-file", str(config)),
        ("--api-key-file", str(key), "--log-file", str(key)),
        ("--log-file", str(tmp)),
        ("--", "--model", "/elsewhere"),
        ("--", "--tensor-parallel-size", "8"),
        ("--config", str(tmp / "spellings.yaml")),
        ("--ready-timeout", "nan"),
        ("--stop-timeout", "inf"),
        ("--port", "9" * 300),
        ("--gpu", "1" + "0" * 400 + "GiB,sm90"),
        ("--replicas", "1000000"),
        ("--context-length", "200000"),
        ("--api-key", "ключ-не-ascii-0123"),
        ("--api-key", "sk-with\nnewline"),
        ("--api-key-file", "/dev/zero"),
        ("--config", "/dev/zero"),
        ("--config", str(bomb)),
        ("--config", str(tmp / "big.yaml")),
        ("--config", str(tmp / "dup.yaml")),
        ("--config", str(tmp / "missing.yaml")),
        ("--preset", "balnced"),
        ("--port", "70000"),
        ("--tp-size", "3"),
        ("--mem-fraction-static", "1.5"),
        ("--gpu", "H100x0"),
        ("--gpu", "0GiB,sm90"),
        ("--humming-group-size", "100"),
        ("--kv-cache-dtype", "int8"),
        ("--", "--port", "1"),
        ("--", "--schedule-policy", "nope"),
        ("--api-key-file", str(tmp / "none")),
        ("--chunked-prefill-size", "0"),
        ("--preset", "balanced_torchao", "--quantization", "fp8"),
        # issue #39: nesting past the parser's depth, control characters in a setting and in an SGLang argument
        ("--config", str(tmp / "deep.yaml")),
        ("--config", str(tmp / "nul.yaml")),
        ("--config", str(tmp / "escape.yaml")),
        ("--model-path", "Qwen/Qwen3-14B\x1b]0;owned\x07"),
        ("--", "--chat-template", "line\nExecStartPre=/bin/true"),
    ]


def run_bad_input(args: tuple[str, ...], tmp: Path) -> dict:
    """`qwen-serve --dry-run ARGS` in a process of its own: exit code, stderr lines, seconds, peak MiB."""
    peak = tmp / "peak"
    start = time.perf_counter()
    out = subprocess.run(
        [sys.executable, "-c", PEAK_WRAPPER, "--dry-run", *args],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "PEAK_FILE": str(peak)},
    )
    seconds = time.perf_counter() - start
    return {
        "args": list(args),
        "exit": out.returncode,
        "seconds": round(seconds, 3),
        "peak_mib": round(int(peak.read_text()) / 1024, 1),  # Linux reports KiB
        "stderr": [line for line in out.stderr.splitlines() if line.strip()],
    }
