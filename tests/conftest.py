from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner

from qwen_serve.cli import main_group

ROOT = Path(__file__).resolve().parents[1]
# No test reaches a model hub (none is reachable here): set before anything imports huggingface_hub, which
# reads these once; a library that tries the hub regardless (sglang.bench_serving's chat-template check)
# then fails at once instead of sleeping through its retries.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
# Python's own default: write the bytecode of what is imported (.pyc), so that the tests' many processes (each
# importing click, rich, transformers or SGLang) compile a module once, not once per process. A workplace that
# sets PYTHONDONTWRITEBYTECODE=1 (this one does) made the product suite take 5 min 43 s on 2 cores, against 3 min
# 30 s with site-packages' bytecode present (2026-12-03).
os.environ.pop("PYTHONDONTWRITEBYTECODE", None)
sys.dont_write_bytecode = False


class Result:
    def __init__(self, r):
        self.exit_code = r.exit_code
        self.stdout = r.stdout
        self.stderr = r.stderr
        self.exception = r.exception

    def json(self):
        return json.loads(self.stdout)

    @property
    def error_lines(self) -> list[str]:
        return [line for line in self.stderr.splitlines() if line.strip()]


@pytest.fixture
def qwen_serve():
    """Run `qwen-serve ARGS…` in-process through click's CliRunner."""
    runner = CliRunner()

    def invoke(*args: str) -> Result:
        return Result(runner.invoke(main_group, list(args), prog_name="qwen-serve"))

    return invoke


@pytest.fixture
def write_yaml(tmp_path):
    def write(text: str, name: str = "cfg.yaml") -> str:
        path = tmp_path / name
        path.write_text(text, encoding="utf-8")
        return str(path)

    return write


# A real OpenAI-compatible server on the CPU for the client and bench tests: Hugging Face's
# `transformers serve`, serving the --tiny Qwen3 skeleton from an offline HF cache.
MODEL_ID = "qwen-serve/Qwen3-tiny"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class CpuServer:
    """transformers serve on 127.0.0.1, the --tiny Qwen3 (random weights of this seed) from an offline HF
    cache of its own. Spawned as soon as the collected tests show they need it, so that it boots while
    the tests that need no server run; `ready()` waits for it."""

    def __init__(self, seed: int):
        from qwen_serve.skeleton import write_skeleton

        self.home = Path(tempfile.mkdtemp(prefix=f"cpu-server-{seed}-"))
        repo = self.home / "hf-cache" / ("models--" + MODEL_ID.replace("/", "--"))
        revision = "0" * 40
        self.model_dir = repo / "snapshots" / revision
        write_skeleton(self.model_dir, tiny=True, seed=seed)
        (repo / "refs").mkdir()
        (repo / "refs" / "main").write_text(revision)
        self.url = f"http://127.0.0.1:{free_port()}"
        env = {**os.environ, "HF_HUB_CACHE": str(repo.parent), "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
        exe = shutil.which("transformers", path=str(Path(sys.executable).parent))
        self.log = open(self.home / "server.log", "w+")
        port = self.url.rsplit(":", 1)[1]
        self.proc = subprocess.Popen(
            [exe, "serve", "--host", "127.0.0.1", "--port", port, "--device", "cpu"],
            env=env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )
        self.warm = False

    def ready(self) -> tuple[str, Path]:
        deadline = time.monotonic() + 180
        while not self.warm and time.monotonic() < deadline:
            assert self.proc.poll() is None, (self.log.seek(0), self.log.read())
            try:
                if httpx.get(self.url + "/health", timeout=2).status_code == 200:
                    # the first request loads the model; not part of any check's timing
                    body = {"model": MODEL_ID, "prompt": "hi", "max_tokens": 1}
                    httpx.post(self.url + "/v1/completions", json=body, timeout=120)
                    self.warm = True
            except httpx.HTTPError:
                time.sleep(0.5)
        if not self.warm:
            self.stop()
            raise AssertionError("transformers serve did not become healthy in 180 s")
        _boot_next()
        return self.url, self.model_dir

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        self.log.close()
        shutil.rmtree(self.home, ignore_errors=True)


class Ahead:
    """A subprocess whose result a test needs, started ahead of that test (once the CPU servers are up), so that
    its imports (real SGLang: torch and all) run while other tests wait on processes and servers."""

    def __init__(self, argv: list[str]):
        self.argv = argv
        self.proc: subprocess.Popen | None = None

    def start(self) -> None:
        self.out = tempfile.TemporaryFile("w+")
        self.err = tempfile.TemporaryFile("w+")
        self.proc = subprocess.Popen(self.argv, stdout=self.out, stderr=self.err, text=True)

    def result(self, timeout: float) -> subprocess.CompletedProcess:
        if self.proc is None:
            self.start()
        code = self.proc.wait(timeout=timeout)
        self.out.seek(0), self.err.seek(0)
        return subprocess.CompletedProcess(self.argv, code, self.out.read(), self.err.read())


CPU_SERVERS: dict[int, CpuServer] = {}  # seed -> server
NEEDS = {0: {"cpu_server", "server", "relay"}, 1: {"other_cpu_server"}}
WANTED: list[int] = []  # seeds the collected tests need, in boot order
AHEAD = {"entry_module_help": Ahead([sys.executable, "-m", "qwen_serve.sglang.entry", "--help"])}
AHEAD_WANTED: list[str] = []


def pytest_collection_modifyitems(session, config, items):
    names = set().union(*(item.fixturenames for item in items)) if items else set()
    WANTED[:] = [seed for seed, fixtures in NEEDS.items() if names & fixtures]
    AHEAD_WANTED[:] = [name for name in AHEAD if name in names]
    _boot_next()


def _boot_next() -> None:
    """One server boots at a time (on 2 cores, two booting beside the tests slow everything down); the
    subprocesses run ahead once they are up."""
    for seed in WANTED:
        if seed not in CPU_SERVERS:
            CPU_SERVERS[seed] = CpuServer(seed)
            return
        if not CPU_SERVERS[seed].warm:
            return
    for name in AHEAD_WANTED:
        if AHEAD[name].proc is None:
            AHEAD[name].start()


@pytest.fixture
def entry_module_help() -> subprocess.CompletedProcess:
    """`python -m qwen_serve.sglang.entry --help` with the real SGLang, run ahead."""
    return AHEAD["entry_module_help"].result(timeout=300)


def pytest_unconfigure(config):
    for server in CPU_SERVERS.values():
        server.stop()


def _cpu_server(seed: int) -> tuple[str, Path]:
    if seed not in CPU_SERVERS:
        CPU_SERVERS[seed] = CpuServer(seed)
    return CPU_SERVERS[seed].ready()


@pytest.fixture(scope="session")
def cpu_server():
    """transformers serve on 127.0.0.1, model from an offline HF cache: (url, model directory)."""
    return _cpu_server(0)


@pytest.fixture(scope="session")
def other_cpu_server():
    """A second transformers serve whose tiny Qwen3 has other random weights (a stand-in for a quantized
    copy of the same model: same tokenizer and shapes, different numbers)."""
    return _cpu_server(1)


@pytest.fixture
def server(cpu_server):
    return cpu_server[0]
