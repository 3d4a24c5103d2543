"""#29 point 1: a hub id not in the cache is downloaded by qwen-serve (huggingface_hub, the real client) before SGLang
starts: its size checked against the free disk, only the files SGLang reads, and a cut download resumed by the next
run. The hub is a real HTTP server on 127.0.0.1 in the hub's layout (HF_ENDPOINT); SGLang is the stand-in."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from conftest import free_port, free_ports

ROOT = Path(__file__).resolve().parents[1]
FAKE = ROOT / "tests" / "fake_sglang"
SHA = "0123456789abcdef0123456789abcdef01234567"
# 24 MiB "model.safetensors": more than huggingface_hub's 10 MiB read chunk, so that a cut at 16 MiB leaves a written
# chunk to resume from
WEIGHTS = bytes(range(256)) * 4096 * 24
FILES = {
    "config.json": json.dumps({"architectures": ["Qwen3ForCausalLM"], "model_type": "qwen3"}).encode(),
    "tokenizer.json": b'{"version": "1.0"}',
    "model.safetensors": WEIGHTS,
    "pytorch_model.bin": b"x" * 300_000,  # a duplicate SGLang never reads: not downloaded
    "README.md": b"# tiny",
}


class Hub:
    """Repos name -> files; `huge` claims 1 PiB of weights; `cut` closes the first weights download at 16 MiB,
    then (`down_after_cut`) answers 503 for it until `cut` is cleared. Every request is recorded."""

    def __init__(self):
        self.down = False  # every request answered 503: the hub in an outage
        self.cut = self.cut_done = False
        self.down_after_cut = True
        self.cut_at = 16 * 2**20
        self.extra: dict[str, bytes] = {}  # more files in the listing (a name that climbs out of the folder)
        self.slow = False  # the weights a 64 KiB piece every 50 ms: a download long enough to press Ctrl-C in
        self.requests: list[tuple[str, str, str | None]] = []
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self.handler())
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"

    def size(self, repo: str, name: str) -> int:
        return 2**50 if repo == "org/huge" and name == "model.safetensors" else len({**FILES, **self.extra}[name])

    def handler(hub):  # noqa: N805 - the hub, seen from its request handler
        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def send(self, code, body=b"", headers=None):
                self.send_response(code)
                for k, v in (headers or {}).items():
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(body)

            def route(self):
                hub.requests.append((self.command, self.path, self.headers.get("Range")))
                if hub.down:
                    return self.send(503, b"down")
                path = self.path.split("?")[0]
                parts = path.strip("/").split("/")
                if parts[:2] == ["api", "models"]:
                    repo = "/".join(parts[2:4])
                    if repo not in ("org/tiny", "org/huge"):
                        return self.send(404, b'{"error": "not found"}', {"X-Error-Code": "RepoNotFound"})
                    if parts[4:5] == ["revision"]:
                        siblings = [{"rfilename": n, "size": hub.size(repo, n)} for n in {**FILES, **hub.extra}]
                        return self.send(200, json.dumps({"id": repo, "sha": SHA, "siblings": siblings}).encode())
                    if parts[4:5] == ["tree"]:
                        tree = [
                            {"type": "file", "path": n, "size": hub.size(repo, n), "oid": f"oid-{n}"}
                            for n in {**FILES, **hub.extra}
                        ]
                        return self.send(200, json.dumps(tree).encode())
                if len(parts) >= 5 and parts[2] == "resolve":
                    repo, name = "/".join(parts[:2]), "/".join(parts[4:])
                    body = {**FILES, **hub.extra}[name]
                    meta = {"X-Repo-Commit": SHA, "ETag": f'"{hashlib.sha256(body).hexdigest()}"'}
                    if self.command == "HEAD":
                        self.send_response(200)
                        for k, v in meta.items():
                            self.send_header(k, v)
                        self.send_header("Content-Length", str(hub.size(repo, name)))
                        self.end_headers()
                        return None
                    if name == "model.safetensors" and hub.cut and hub.cut_done and hub.down_after_cut:
                        return self.send(503, b"down")
                    if name == "model.safetensors" and hub.cut and not hub.cut_done:
                        hub.cut_done = True
                        self.send_response(200)  # half the file, then the connection drops
                        self.send_header("Content-Length", str(len(body)))
                        self.end_headers()
                        self.wfile.write(body[: hub.cut_at])
                        self.wfile.flush()
                        self.close_connection = True
                        return None
                    if name == "model.safetensors" and hub.slow:
                        self.send_response(200)
                        for k, v in meta.items():
                            self.send_header(k, v)
                        self.send_header("Content-Length", str(len(body)))
                        self.end_headers()
                        try:
                            for i in range(0, len(body), 65536):
                                self.wfile.write(body[i : i + 65536])
                                self.wfile.flush()
                                time.sleep(0.05)
                        except (BrokenPipeError, ConnectionResetError):
                            pass
                        return None
                    start = int(self.headers["Range"].split("=")[1].split("-")[0]) if self.headers.get("Range") else 0
                    if start:
                        meta["Content-Range"] = f"bytes {start}-{len(body) - 1}/{len(body)}"
                    return self.send(206 if start else 200, body[start:], meta)
                return self.send(404, b"")

            do_GET = do_HEAD = route

        return Handler


@pytest.fixture
def hub():
    h = Hub()
    yield h
    h.server.shutdown()


def hub_env(hub: Hub, home: Path, **extra: str) -> dict[str, str]:
    """qwen-serve's environment against the stand-in hub, with its caches under `home`."""
    return {
        **os.environ,
        "PYTHONPATH": str(FAKE),
        "HF_ENDPOINT": hub.url,
        "HF_HOME": str(home),
        "HF_HUB_OFFLINE": "0",
        "HF_HUB_DISABLE_XET": "1",
        "FAKE_SGLANG_MODE": "crash_oom",  # the stand-in SGLang ends at once: we only need to see that it started
        "XDG_CACHE_HOME": str(home / "xdg"),
        **extra,
    }


def serve(hub: Hub, home: Path, model: str, *extra: str, env_extra=None) -> subprocess.CompletedProcess:
    env = hub_env(hub, home, **(env_extra or {}))
    # --quiet: SGLang's lines are not shown as they come, so its crash's tail is (on stderr): the proof it started
    argv = [sys.executable, "-m", "qwen_serve", "--model-path", model, "--force", "--host", "127.0.0.1", "--quiet"]
    argv += ["--port", str(free_port()), "--ready-timeout", "60", *extra]
    return subprocess.run(argv, env=env, capture_output=True, text=True, timeout=120)


def snapshot(home: Path) -> Path:
    return home / "hub" / "models--org--tiny" / "snapshots" / SHA


def test_a_hub_id_is_downloaded_before_sglang_starts_only_what_sglang_reads(hub, tmp_path):
    result = serve(hub, tmp_path, "org/tiny")
    assert "downloading org/tiny" in result.stderr
    assert "Load weight begin" in result.stderr + result.stdout or result.returncode == 1  # the stand-in ran after
    snap = snapshot(tmp_path)
    assert (snap / "model.safetensors").read_bytes() == WEIGHTS
    assert (snap / "config.json").is_file() and (snap / "tokenizer.json").is_file()
    assert not (snap / "pytorch_model.bin").exists() and not (snap / "README.md").exists()
    # downloaded before SGLang was started: the stand-in's own log comes after qwen-serve's download line
    out = result.stderr
    assert out.index("downloading org/tiny") < out.index("Load weight begin"), out[-2000:]
    # a second start finds everything in the cache: no file is fetched again
    before = len([r for r in hub.requests if r[0] == "GET" and "/resolve/" in r[1]])
    serve(hub, tmp_path, "org/tiny")
    assert len([r for r in hub.requests if r[0] == "GET" and "/resolve/" in r[1]]) == before


def test_a_cut_connection_is_resumed_where_it_stopped(hub, tmp_path):
    hub.cut, hub.down_after_cut = True, False  # the connection drops half-way once; the hub stays up
    result = serve(hub, tmp_path, "org/tiny")
    assert "Load weight begin" in result.stderr, result.stderr[-2000:]  # SGLang started on the whole file
    assert (snapshot(tmp_path) / "model.safetensors").read_bytes() == WEIGHTS
    ranges = [r for m, p, r in hub.requests if m == "GET" and p.endswith("model.safetensors") and r]
    from huggingface_hub.constants import DOWNLOAD_CHUNK_SIZE

    written = hub.cut_at // DOWNLOAD_CHUNK_SIZE * DOWNLOAD_CHUNK_SIZE  # what it had written when the connection dropped
    assert written > 0 and ranges == [f"bytes={written}-"]  # huggingface_hub asked for the rest only


def test_a_failed_download_is_one_line_and_the_next_run_fetches_only_what_is_missing(hub, tmp_path):
    hub.cut = True  # half the weights, then the hub answers 503
    first = serve(hub, tmp_path, "org/tiny")
    assert first.returncode == 1, first.stderr[-2000:]
    errors = [line for line in first.stderr.splitlines() if "error:" in line]
    assert (
        len(errors) == 1 and "downloading org/tiny failed" in errors[0] and "only the files still missing" in errors[0]
    )
    assert "Load weight begin" not in first.stderr and "Traceback" not in first.stderr  # SGLang never started
    assert (snapshot(tmp_path) / "config.json").is_file()  # what arrived whole stays
    hub.cut = False
    hub.requests.clear()
    second = serve(hub, tmp_path, "org/tiny")
    assert "Load weight begin" in second.stderr, second.stderr[-2000:]
    assert (snapshot(tmp_path) / "model.safetensors").read_bytes() == WEIGHTS
    fetched = [p.rsplit("/", 1)[-1] for m, p, _ in hub.requests if m == "GET" and "/resolve/" in p]
    assert fetched == ["model.safetensors"]


def error_lines(result) -> list[str]:
    return [line for line in result.stderr.splitlines() if line.strip() and "warning: --force" not in line]


def test_too_little_disk_is_refused_before_anything_is_downloaded(hub, tmp_path):
    result = serve(hub, tmp_path, "org/huge")
    assert result.returncode == 2 and len(error_lines(result)) == 1, result.stderr
    assert "org/huge needs 1024.0 TiB" not in result.stderr  # sizes in GiB, as everywhere
    assert "needs 1048576.0 GiB more on disk" in result.stderr and "free" in result.stderr
    assert not any(m == "GET" and "/resolve/" in p for m, p, _ in hub.requests)


def test_an_unknown_hub_id_is_one_line(hub, tmp_path):
    result = serve(hub, tmp_path, "org/nothing")
    assert result.returncode == 2 and len(error_lines(result)) == 1, result.stderr
    assert "org/nothing" in result.stderr and "HF_TOKEN" in result.stderr


def test_offline_uses_the_cache_only(hub, tmp_path):
    env_offline = {"HF_HUB_OFFLINE": "1"}
    result = subprocess.run(
        [sys.executable, "-m", "qwen_serve", "--model-path", "org/tiny", "--force", "--port", str(free_port())],
        env={**os.environ, "HF_HOME": str(tmp_path), "HF_ENDPOINT": hub.url, **env_offline},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2 and "HF_HUB_OFFLINE=1" in result.stderr
    assert hub.requests == []


def test_a_hub_in_an_outage_serves_the_cached_snapshot_and_sglang_does_not_ask_either(hub, tmp_path):
    """A service restarting while the hub is down: the model whole in the cache is served, said in one line, and
    SGLang gets HF_HUB_OFFLINE=1; with nothing cached the same outage is one line, exit 1, and SGLang never starts."""
    assert "Load weight begin" in serve(hub, tmp_path, "org/tiny").stderr  # downloaded while the hub was up
    hub.down = True
    echo = {"FAKE_SGLANG_ECHO_ENV": "HF_HUB_OFFLINE"}
    result = serve(hub, tmp_path, "org/tiny", env_extra=echo)
    notes = [line for line in result.stderr.splitlines() if "the hub could not be asked" in line]
    assert len(notes) == 1 and f"serving the cached snapshot {SHA[:12]}" in notes[0], result.stderr[-2000:]
    assert "error:" not in result.stderr and "env HF_HUB_OFFLINE=1" in result.stderr  # SGLang started, offline
    empty = serve(hub, tmp_path / "other-home", "org/tiny", env_extra=echo)
    errors = error_lines(empty)
    assert empty.returncode == 1 and len(errors) == 1 and "the hub could not be asked" in errors[0], empty.stderr
    assert "Load weight begin" not in empty.stderr


def test_ctrl_c_during_the_download_stops_qwen_serve_and_starts_nothing(hub, tmp_path):
    """Ctrl-C while the weights arrive: qwen-serve ends at once with 130 and one line, SGLang is never started, and
    the next run fetches only what is missing."""
    import signal

    hub.slow = True
    env = hub_env(hub, tmp_path)
    argv = [sys.executable, "-m", "qwen_serve", "--model-path", "org/tiny", "--force", "--host", "127.0.0.1"]
    proc = subprocess.Popen(
        [*argv, "--quiet", "--port", str(free_port())],
        env=env,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    deadline = time.monotonic() + 60
    while not any(m == "GET" and p.endswith("model.safetensors") for m, p, _ in hub.requests):
        assert time.monotonic() < deadline and proc.poll() is None
        time.sleep(0.1)
    time.sleep(0.5)
    os.killpg(proc.pid, signal.SIGINT)  # what a terminal's Ctrl-C sends: the whole foreground group
    start = time.monotonic()
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == 130, err[-2000:]
    assert time.monotonic() - start < 5, err[-2000:]
    assert "Load weight begin" not in err and "Traceback" not in err, err[-2000:]
    lines = [line for line in err.splitlines() if "interrupted" in line]
    assert len(lines) == 1 and "the next run fetches only what is missing" in lines[0], err[-2000:]
    hub.slow = False
    again = serve(hub, tmp_path, "org/tiny")
    assert "Load weight begin" in again.stderr, again.stderr[-2000:]
    assert (snapshot(tmp_path) / "model.safetensors").read_bytes() == WEIGHTS


@pytest.mark.parametrize(
    "name", ["../../../escaped.json", "sub/../../escaped.safetensors", "/abs/escaped.json", "escaped\x1b[2J.json"]
)
def test_a_hub_listing_a_file_outside_the_model_folder_is_one_line_and_writes_nothing_there(hub, tmp_path, name):
    hub.extra = {name: b"{}"}
    result = serve(hub, tmp_path / "home", "org/tiny")
    errors = error_lines(result)
    assert "Traceback" not in result.stderr and "Load weight begin" not in result.stderr, result.stderr[-2000:]
    assert result.returncode in (1, 2) and len(errors) == 1 and "org/tiny" in errors[0], result.stderr[-2000:]
    assert not list(tmp_path.rglob("escaped*")) and not Path("/abs").exists()
    assert "\x1b" not in errors[0]


def test_a_fleet_whose_router_is_not_installed_is_refused_before_the_download(hub, tmp_path):
    """Every check that needs no side effect comes first: the release's router missing (sglang_router hidden from
    this process) is one line before a byte of the weights is fetched."""
    env = hub_env(hub, tmp_path)
    code = (
        "import runpy, sys; sys.modules['sglang_router'] = None; sys.argv = ['qwen-serve', *sys.argv[1:]]; "
        "runpy.run_module('qwen_serve', run_name='__main__')"
    )
    argv = ["--model-path", "org/tiny", "--replicas", "2", "--gpu", "H200x2", "--force", "--host", "127.0.0.1"]
    result = subprocess.run(
        [sys.executable, "-c", code, *argv, "--port", str(free_ports(4))], env=env, capture_output=True, text=True
    )
    errors = error_lines(result)
    assert result.returncode == 2 and len(errors) == 1 and "which is not installed" in errors[0], result.stderr
    assert not [r for r in hub.requests if "/resolve/" in r[1]], hub.requests  # nothing downloaded
