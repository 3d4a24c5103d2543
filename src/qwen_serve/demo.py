"""`qwen-serve demo`: an OpenAI-compatible server on the CPU, to try qwen-test and qwen-bench without a GPU.

A 2-layer Qwen3 with random weights and the real Qwen tokenizer (`qwen-serve skeleton --tiny`), laid out as a
Hugging Face cache entry (`qwen-serve/Qwen3-tiny`, offline), served by `transformers serve` on the CPU under the one
supervision engine (supervise.Engine): Ctrl-C stops it, nothing outlives it. Its answers are noise; its endpoints,
streaming, usage counts and errors are a real server's.
"""

from __future__ import annotations

import os
import shutil
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import httpx

from .errors import QwenServeError
from .supervise import Engine, ManagedProcess

MODEL_ID = "qwen-serve/Qwen3-tiny"
REVISION = "0" * 40
READY_TIMEOUT_S = 300.0


@dataclass(frozen=True)
class DemoModel:
    cache: Path  # HF_HUB_CACHE
    snapshot: Path  # the model folder: its tokenizer is the one qwen-bench's --tokenizer takes


def demo_model(folder: Path, seed: int = 0) -> DemoModel:
    """The tiny model (random weights of `seed`) as a Hugging Face cache entry under `folder` (written once)."""
    from .skeleton import write_skeleton

    repo = folder / "hf" / ("models--" + MODEL_ID.replace("/", "--"))
    snapshot = repo / "snapshots" / REVISION
    if not (snapshot / "model.safetensors").is_file():
        write_skeleton(snapshot, tiny=True, seed=seed)
        (repo / "refs").mkdir(parents=True, exist_ok=True)
        (repo / "refs" / "main").write_text(REVISION)
    return DemoModel(repo.parent, snapshot)


def transformers_cli() -> str:
    found = shutil.which("transformers", path=str(Path(sys.executable).parent)) or shutil.which("transformers")
    if not found:
        raise QwenServeError(
            "qwen-serve demo runs `transformers serve`, which is not installed here",
            fix="uv sync (the README's set-up installs it), or pip install 'transformers[serving]'",
        )
    return found


class DemoServer(Engine):
    """transformers serve on the CPU: ready once a completion has been answered (its first request loads the
    model), then serving until Ctrl-C."""

    what = "the demo server"
    whom = "the demo server"

    def __init__(self, model: DemoModel, host: str, port: int, log: Path, say=print):
        super().__init__(stop_timeout=10.0)
        env = {**os.environ, "HF_HUB_CACHE": str(model.cache), "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
        argv = [transformers_cli(), "serve", "--host", host, "--port", str(port), "--device", "cpu"]
        self.server = ManagedProcess("transformers serve", argv, env)
        self.url = f"http://{'127.0.0.1' if host in ('0.0.0.0', '::') else host}:{port}"
        self.model, self.log, self.say = model, log, say
        self.ready = False
        self._t0 = 0.0

    @property
    def members(self) -> list[ManagedProcess]:
        return [self.server]

    def start(self) -> None:
        self.log.parent.mkdir(parents=True, exist_ok=True)
        self._log = open(self.log, "ab")
        self._t0 = time.monotonic()
        self.signals.install()
        self.server.start(self._log)
        self.say(f"starting transformers serve on the CPU (log: {self.log})")

    def tick(self) -> bool:
        if self.server.exited is not None:
            return False
        self.act_on_stops()
        if self.ready or self.signals or self.stop_deadline is not None:
            return True
        if self._answers():
            self.ready = True
            model = f"--model {MODEL_ID}"
            self.say(f"ready in {time.monotonic() - self._t0:.0f} s at {self.url} (random weights: the text is noise)")
            self.say(f"  qwen-test --base-url {self.url} {model}")
            self.say(f"  qwen-bench --base-url {self.url} {model} --tokenizer {self.model.snapshot} --concurrency 1,4")
            self.say("Ctrl-C stops it")
        elif time.monotonic() - self._t0 > READY_TIMEOUT_S:
            self.begin_stop(f"not ready after {READY_TIMEOUT_S:.0f} s (see {self.log})")
        return True

    def _answers(self) -> bool:
        try:
            if httpx.get(self.url + "/health", timeout=2).status_code != 200:
                return False
            body = {"model": MODEL_ID, "prompt": "hi", "max_tokens": 1}
            return httpx.post(self.url + "/v1/completions", json=body, timeout=120).status_code == 200
        except httpx.HTTPError:
            time.sleep(0.4)
            return False

    def stop(self) -> None:
        self.act_on_stops()
        self.returncode = self.server.wait()
        self._log.close()
        self.signals.restore()

    def outcome(self) -> int:
        if self.ready and self.signals:
            self.say("stopped")
            return 0
        if self.signals:
            return 130
        return self.returncode or 1


def serve_demo(host: str, port: int, folder: Path, say=print) -> int:
    """Write the model (once), serve it until Ctrl-C; the exit code."""
    from .preflight import check_port_free

    check_port_free(host, port, f"--port {port}", named=True)
    model = demo_model(folder)
    return DemoServer(model, host, port, folder / "demo.log", say).run()
