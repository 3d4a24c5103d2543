"""Servers that must not hang or fool qwen-test and qwen-bench: real HTTP servers on 127.0.0.1 that trickle a byte
at a time for ever, send an endless body, or answer with something that is not JSON. Each ends in the request's
own time limit with a line naming the endpoint and the limit, and nothing is left running."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest


class Hostile(BaseHTTPRequestHandler):
    mode = "trickle"

    def log_message(self, *args):
        pass

    def _answer(self):
        if self.path == "/health" or self.mode == "garbage" and self.path != "/get_server_info":
            body = b'{"object": "list", "data": [{"id": 7}]}' if self.path == "/v1/models" else b"ok"
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
            return
        if self.mode == "garbage":  # /get_server_info: not JSON at all
            body = b"<html>not json</html>"
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
            return
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        end = time.monotonic() + 30  # the server stops by itself
        try:
            while time.monotonic() < end:
                if self.mode == "trickle":
                    self.wfile.write(b" ")
                    self.wfile.flush()
                    time.sleep(0.1)
                else:  # endless: as fast as the socket takes it
                    self.wfile.write(b"x" * 65536)
        except (BrokenPipeError, ConnectionResetError):
            pass

    do_GET = do_POST = _answer


@pytest.fixture
def hostile():
    servers = []

    def start(mode: str) -> str:
        handler = type("H", (Hostile,), {"mode": mode})
        httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        httpd.daemon_threads = True
        threading.Thread(target=httpd.serve_forever, daemon=True).start()
        servers.append(httpd)
        return f"http://127.0.0.1:{httpd.server_address[1]}"

    yield start
    for httpd in servers:
        httpd.shutdown()
        httpd.server_close()


def run(entry: str, *args: str, timeout: float = 30) -> tuple[subprocess.CompletedProcess, float]:
    code = f"import sys; from qwen_serve.cli import {entry}; sys.argv = ['x', *sys.argv[1:]]; {entry}()"
    start = time.monotonic()
    r = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, timeout=timeout)
    return r, time.monotonic() - start


@pytest.mark.parametrize(
    "mode, words", [("trickle", "no complete answer within 2 s"), ("endless", "bytes (the limit)")]
)
def test_qwen_test_ends_on_a_server_that_never_finishes_its_answer(hostile, mode, words):
    url = hostile(mode)
    r, took = run("test_main", "--base-url", url, "--only", "models", "--timeout", "2", "--json")
    assert r.returncode == 1 and took < 15, (r.stdout, r.stderr)
    assert words in r.stdout and "/v1/models" in r.stdout and "Traceback" not in r.stderr


def test_qwen_bench_ends_on_a_trickling_model_list_with_one_line(hostile):
    """The model list is asked within 10 s, or --time-limit where that is shorter."""
    url = hostile("trickle")
    r, took = run("bench_main", "run", "--base-url", url, "--requests", "1", "--concurrency", "1", "--time-limit", "2")
    lines = [x for x in r.stderr.splitlines() if x.strip()]
    assert r.returncode == 2 and took < 12 and len(lines) == 1, r.stderr
    assert "/v1/models" in lines[0] and "no complete answer within 2 s" in lines[0]


def test_malformed_answers_are_no_traceback(hostile):
    from qwen_serve.bench import server_facts

    url = hostile("garbage")
    assert server_facts(url, None)["sglang"] is False  # /get_server_info answered HTML
    r, _ = run("test_main", "--base-url", url, "--only", "models", "--json")
    assert "Traceback" not in r.stderr and r.returncode in (0, 1)


def test_a_model_id_that_is_no_string_is_one_line_for_qwen_bench_and_a_failed_check_for_qwen_test(hostile):
    url = hostile("garbage")  # /v1/models: [{"id": 7}]
    r, _ = run("bench_main", "run", "--base-url", url, "--concurrency", "1", "--requests", "2", "--input-len", "8")
    lines = [line for line in r.stderr.splitlines() if line.strip()]
    assert r.returncode == 2 and len(lines) == 1 and "names its model 7, which is no model id" in lines[0], r.stderr
    r, _ = run("test_main", "--base-url", url, "--only", "models", "--json")
    assert r.returncode == 1 and "Traceback" not in r.stderr and "not strings" in r.stdout


@pytest.mark.parametrize("entry, args", [("test_main", ()), ("bench_main", ("run",))])
@pytest.mark.parametrize("key", ["ключ-0123456", "sk with space", "sk-line\nbreak"])
def test_a_key_that_cannot_travel_in_a_header_is_one_line(hostile, entry, args, key):
    url = hostile("garbage")
    r, seconds = run(entry, *args, "--base-url", url, "--api-key", key)
    lines = [line for line in r.stderr.splitlines() if line.strip()]
    assert r.returncode == 2 and len(lines) == 1 and "no HTTP bearer token" in lines[0], r.stderr
    assert "fix:" in lines[0] and seconds < 10
