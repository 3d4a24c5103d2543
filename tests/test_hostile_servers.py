"""Servers that must not hang or fool qwen-test and qwen-bench: real HTTP servers on 127.0.0.1 that trickle a byte
at a time for ever, send an endless body, or answer with something that is not JSON. Each ends in the request's
own time limit with a line naming the endpoint and the limit, and nothing is left running."""

from __future__ import annotations

import functools
import os
import subprocess
import sys
import threading
import time
import zlib
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st


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

    def _raw(self):
        """The modes that break HTTP itself: written byte by byte on the socket."""
        end = time.monotonic() + 30
        try:
            if self.mode == "informational":  # `100 Continue` for ever: an answer that never begins
                while time.monotonic() < end:
                    self.wfile.write(b"HTTP/1.1 100 Continue\r\n\r\n")
                    self.wfile.flush()
                    time.sleep(0.01)
            elif self.mode == "slow-headers":  # a header line a byte at a time, each within any per-read timeout
                self.wfile.write(b"HTTP/1.1 200 OK\r\nX-Slow: ")
                while time.monotonic() < end:
                    self.wfile.write(b"a")
                    self.wfile.flush()
                    time.sleep(0.2)
            elif self.mode in ("gzip-bomb", "brotli"):
                body = gzip_bomb() if self.mode == "gzip-bomb" else b"\x1b\x00"
                encoding = b"gzip" if self.mode == "gzip-bomb" else b"br"
                self.wfile.write(
                    b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Encoding: "
                    + encoding
                    + b"\r\nContent-Length: "
                    + str(len(body)).encode()
                    + b"\r\n\r\n"
                    + body
                )
        except (BrokenPipeError, ConnectionResetError):
            pass

    def _events(self):
        """A model list, then a stream whose events are valid JSON of the wrong shape."""
        if self.path == "/v1/models":
            body = b'{"object": "list", "data": [{"id": "m"}]}'
            if self.mode == "markup":  # rich markup and a terminal escape (clear the screen) in the model id
                body = b'{"object": "list", "data": [{"id": "[bold red]m[/] [link=file:///etc]x[/link] \\u001b[2J"}]}'
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            return self.wfile.write(body)
        event = {
            "markup": b"{}",
            "event-list": b"[1, 2]",
            "usage-string": b'{"choices": [{"text": "a", "finish_reason": "stop"}], "usage": {"completion_tokens": "5"}}',
        }[self.mode]
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.end_headers()
        self.wfile.write(b'data: {"choices": [{"text": "a"}]}\n\ndata: ' + event + b"\n\ndata: [DONE]\n\n")

    def do_GET(self):
        if self.mode in EVENTS and self.path != "/health":
            self.close_connection = True
            return self._events()
        if self.mode in RAW and self.path != "/health":
            self.close_connection = True
            return self._raw()
        return self._answer()

    do_POST = do_GET


EVENTS = ("event-list", "usage-string", "markup")
RAW = ("informational", "slow-headers", "gzip-bomb", "brotli")


@functools.cache
def gzip_bomb() -> bytes:
    """256 MiB of zeros gzipped into a quarter of a MB (16 times the clients' cap), made a MiB at a time."""
    packer = zlib.compressobj(9, zlib.DEFLATED, zlib.MAX_WBITS | 16)
    mib = b"\0" * (1 << 20)
    return b"".join(packer.compress(mib) for _ in range(256)) + packer.flush()


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


def run(entry: str, *args: str, timeout: float = 30, peak: list | None = None):
    """The entry point in a fresh process; `peak` gets its peak resident memory in MiB, read inside it at exit from
    VmHWM (its own address space's; ru_maxrss would carry the forking test process's figure across the exec)."""
    code = f"import sys; from qwen_serve.cli import {entry}; sys.argv = ['x', *sys.argv[1:]]; {entry}()"
    env = dict(os.environ)
    if peak is not None:
        env["PEAK_FILE"] = f"/tmp/peak-{os.getpid()}-{time.monotonic_ns()}"
        code = (
            "import atexit, os, re; atexit.register(lambda: open(os.environ['PEAK_FILE'], 'w')"
            ".write(re.search(r'VmHWM:\\s+(\\d+)', open('/proc/self/status').read()).group(1))); " + code
        )
    start = time.monotonic()
    r = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, timeout=timeout, env=env)
    if peak is not None:
        with open(env["PEAK_FILE"]) as f:
            peak.append(int(f.read()) / 1024)
        os.unlink(env["PEAK_FILE"])
    return r, time.monotonic() - start


@pytest.mark.parametrize(
    "mode, words", [("trickle", "no complete answer within 2 s"), ("endless", "bytes (the limit)")]
)
def test_qwen_test_ends_on_a_server_that_never_finishes_its_answer(hostile, mode, words):
    url = hostile(mode)
    r, took = run("qwen_test_main", "--base-url", url, "--only", "models", "--timeout", "2", "--json")
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
    r, _ = run("qwen_test_main", "--base-url", url, "--only", "models", "--json")
    assert "Traceback" not in r.stderr and r.returncode in (0, 1)


def test_a_model_id_that_is_no_string_is_one_line_for_qwen_bench_and_a_failed_check_for_qwen_test(hostile):
    url = hostile("garbage")  # /v1/models: [{"id": 7}]
    r, _ = run("bench_main", "run", "--base-url", url, "--concurrency", "1", "--requests", "2", "--input-len", "8")
    lines = [line for line in r.stderr.splitlines() if line.strip()]
    assert (
        r.returncode == 2
        and len(lines) == 1
        and "no model list (data.0.id: Input should be a valid string)" in lines[0]
    ), r.stderr
    r, _ = run("qwen_test_main", "--base-url", url, "--only", "models", "--json")
    assert r.returncode == 1 and "Traceback" not in r.stderr and "not strings" in r.stdout


@pytest.mark.parametrize("entry, args", [("qwen_test_main", ()), ("bench_main", ("run",))])
@pytest.mark.parametrize("key", ["ключ-0123456", "sk with space", "sk-line\nbreak"])
def test_a_key_that_cannot_travel_in_a_header_is_one_line(hostile, entry, args, key):
    url = hostile("garbage")
    r, seconds = run(entry, *args, "--base-url", url, "--api-key", key)
    lines = [line for line in r.stderr.splitlines() if line.strip()]
    assert r.returncode == 2 and len(lines) == 1 and "no HTTP bearer token" in lines[0], r.stderr
    assert "fix:" in lines[0] and seconds < 10


@pytest.mark.parametrize(
    "mode, words",
    [
        ("informational", "no complete answer within 2 s"),
        ("slow-headers", "no complete answer within 2 s"),
        ("gzip-bomb", "bytes (the limit), decoded"),
        ("brotli", "compressed its answer as 'br' though asked for none"),
    ],
)
def test_no_server_holds_qwen_test_past_its_limit_or_fills_its_memory(hostile, mode, words):
    """Endless `1xx`, headers a byte at a time, a gzip bomb, an encoding it cannot read: each ends within the
    request's one deadline (--timeout), in well under 200 MB, as a failed check naming why."""
    gzip_bomb()  # made before the server answers: its making is no part of the client's time
    url = hostile(mode)
    peak: list[float] = []
    r, took = run("qwen_test_main", "--base-url", url, "--only", "models", "--timeout", "2", "--json", peak=peak)
    assert r.returncode == 1 and took < 15, (r.stdout, r.stderr)
    assert words in r.stdout and "/v1/models" in r.stdout and "Traceback" not in r.stderr, r.stdout
    assert peak[0] < 200, f"{peak[0]:.0f} MiB"


def test_the_readiness_probe_and_qwen_bench_share_the_limits(hostile):
    """The same client under qwen-bench: the model list from a gzip bomb is one line, not gigabytes."""
    gzip_bomb()
    url = hostile("gzip-bomb")
    r, took = run("bench_main", "run", "--base-url", url, "--requests", "1", "--concurrency", "1", "--time-limit", "5")
    lines = [x for x in r.stderr.splitlines() if x.strip()]
    assert r.returncode == 2 and took < 12 and len(lines) == 1, r.stderr
    assert "/v1/models" in lines[0] and "bytes (the limit), decoded" in lines[0]


@pytest.mark.parametrize(
    "mode, words", [("event-list", "the event: Input should be an object"), ("usage-string", "usage.completion_tokens")]
)
def test_a_streamed_event_of_the_wrong_shape_is_a_failed_request_not_a_traceback(hostile, mode, words, tmp_path):
    """An event that is a list, a usage count that is a string: each request fails naming the field, none is counted,
    and qwen-bench ends with its table (exit 1), not a traceback or a figure made of a string."""
    url = hostile(mode)
    out, prompts = tmp_path / "bench.json", tmp_path / "prompts.jsonl"
    prompts.write_text('{"prompt": "hi"}\n' * 8)
    args = ("--requests", "2", "--concurrency", "1", "--prompts", str(prompts), "--out", str(out))
    r, _ = run("bench_main", "run", "--base-url", url, *args)
    assert r.returncode == 1 and "Traceback" not in r.stderr, r.stderr
    assert "an event of the wrong shape" in out.read_text() and words in out.read_text()


def test_what_a_server_names_is_printed_as_text_not_markup_or_terminal_codes(hostile):
    """A model id holding rich markup and an escape sequence: qwen-test's table shows the brackets as they are and
    the escape as \\x1b; nothing reaches the terminal to style, link or clear it."""
    url = hostile("markup")
    r, _ = run("qwen_test_main", "--base-url", url, "--only", "models")
    assert r.returncode == 0, (r.stdout, r.stderr)
    assert "[bold red]m[/]" in r.stdout and "[link=file:///etc]" in r.stdout, r.stdout
    assert "\x1b" not in r.stdout and "\\x1b[2J" in r.stdout


@settings(max_examples=300, deadline=None)
@given(st.integers(100, 599), st.one_of(st.binary(max_size=200), st.text(max_size=200).map(str.encode)))
def test_every_client_reads_a_model_list_one_way_and_never_raises(status, content):
    """#41: qwen-test, qwen-bench, --compare and tune name the served model through wire.first_model: any answer
    gives a model id or why not, in words."""
    from qwen_serve.wire import first_model

    found, why_not = first_model(status, content)
    assert (found is None) != (why_not == "") and (found is None or found)
    assert first_model(200, b'{"data": [{"id": "qwen"}, {"id": "other"}]}') == ("qwen", "")
