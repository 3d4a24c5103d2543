from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner

from qwen_serve.cli import main_group

ROOT = Path(__file__).resolve().parents[1]


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


def start_transformers_serve(tmp_path_factory, seed: int = 0):
    """transformers serve on 127.0.0.1, the --tiny Qwen3 (random weights of this seed) from an offline HF
    cache. Returns (process, url, model directory, log file)."""
    from qwen_serve.skeleton import write_skeleton

    cache = tmp_path_factory.mktemp("hf-cache")
    repo = cache / ("models--" + MODEL_ID.replace("/", "--"))
    revision = "0" * 40
    write_skeleton(repo / "snapshots" / revision, tiny=True, seed=seed)
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text(revision)
    port = free_port()
    env = {**os.environ, "HF_HUB_CACHE": str(cache), "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
    exe = shutil.which("transformers", path=str(Path(sys.executable).parent))
    log = open(tmp_path_factory.mktemp("log") / "server.log", "w+")
    proc = subprocess.Popen(
        [exe, "serve", "--host", "127.0.0.1", "--port", str(port), "--device", "cpu"],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        assert proc.poll() is None, (log.seek(0), log.read())
        try:
            if httpx.get(url + "/health", timeout=2).status_code == 200:
                break
        except httpx.HTTPError:
            time.sleep(0.5)
    else:
        proc.kill()
        raise AssertionError("transformers serve did not become healthy in 180 s")
    # first request loads the model; not part of any check's timing
    httpx.post(url + "/v1/completions", json={"model": MODEL_ID, "prompt": "hi", "max_tokens": 1}, timeout=120)
    return proc, url, repo / "snapshots" / revision, log


def stop_server(proc, log) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()
    log.close()


@pytest.fixture(scope="session")
def cpu_server(tmp_path_factory):
    """transformers serve on 127.0.0.1, model from an offline HF cache; stopped afterwards."""
    proc, url, model_dir, log = start_transformers_serve(tmp_path_factory)
    yield url, model_dir
    stop_server(proc, log)


@pytest.fixture(scope="session")
def other_cpu_server(tmp_path_factory):
    """A second transformers serve whose tiny Qwen3 has other random weights (a stand-in for a quantized
    copy of the same model: same tokenizer and shapes, different numbers)."""
    proc, url, model_dir, log = start_transformers_serve(tmp_path_factory, seed=1)
    yield url, model_dir
    stop_server(proc, log)


@pytest.fixture
def server(cpu_server):
    return cpu_server[0]
