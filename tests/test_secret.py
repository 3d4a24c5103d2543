"""#39: the API key is a type (qwen_serve.secret.Secret) that shows as **** wherever it becomes text — str, repr,
f-strings, errors, JSON that qwen-serve writes, the command line qwen-bench records — and is revealed only where it
is handed on (the Authorization header, SGLang's environment)."""

from __future__ import annotations

import json
import pickle
import subprocess
import sys

import pytest
from hypothesis import given
from hypothesis import strategies as st

from qwen_serve.secret import MASK, Secret, json_default, masked

KEYS = st.text(alphabet=st.characters(min_codepoint=0x21, max_codepoint=0x7E), min_size=5, max_size=64).filter(
    lambda k: "*" not in k
)


@given(KEYS)
def test_a_secret_never_turns_into_its_text(key):
    secret = Secret(key)
    holder = {"api_key": secret, "nested": [secret]}
    for text in (str(secret), repr(secret), f"{secret}", f"{secret!r:>20}", repr(holder), str([secret])):
        assert key not in text and MASK in text
    assert key not in json.dumps(holder, default=json_default)
    assert secret.reveal() == key and secret == Secret(key) and secret != key and bool(secret)
    with pytest.raises(TypeError):
        pickle.dumps(secret)


@given(KEYS)
def test_a_recorded_command_line_shows_no_key(key):
    words = ["run", "--api-key", key, f"--api-key={key}", "--base-url", "http://x"]
    assert not any(key in w for w in masked(words, [Secret(key)]))


def test_the_key_reaches_no_error_message_or_written_file(tmp_path, monkeypatch):
    from qwen_serve.errors import QwenServeError
    from qwen_serve.outputs import write_json
    from qwen_serve.settings import FIELDS_BY_NAME

    key = "sk-never-shown-0123"
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    value = FIELDS_BY_NAME["api_key"].coerce(key, where="test", from_text=True)
    assert isinstance(value, Secret)
    error = QwenServeError(f"the key {value} was refused", fix=f"use {value!r}")
    assert key not in str(error)
    write_json(tmp_path / "out.json", {"api_key": value})
    assert key not in (tmp_path / "out.json").read_text()


def test_qwen_bench_records_its_command_line_without_the_key(tmp_path):
    """qwen-bench --out keeps the command it ran: with the key masked (a server that only lists models is enough:
    the run fails, the file is still written)."""
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    class Models(BaseHTTPRequestHandler):
        def log_message(self, *args):
            pass

        def do_GET(self):
            body = b'{"data": [{"id": "m"}]}'
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        do_POST = do_GET

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Models)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    try:
        key, out, prompts = "sk-recorded-nowhere-42", tmp_path / "bench.json", tmp_path / "p.jsonl"
        prompts.write_text('{"prompt": "hi"}\n' * 8)
        code = (
            "import sys; from qwen_serve.cli import bench_main; sys.argv = ['qwen-bench', *sys.argv[1:]]; bench_main()"
        )
        url = f"http://127.0.0.1:{httpd.server_address[1]}"
        args = ["run", "--base-url", url, "--api-key", key, "--requests", "2", "--concurrency", "1"]
        r = subprocess.run(
            [sys.executable, "-c", code, *args, "--prompts", str(prompts), "--out", str(out)],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert out.is_file(), r.stderr
        assert key not in out.read_text() and "--api-key ****" in out.read_text()
        assert key not in r.stdout + r.stderr
    finally:
        httpd.shutdown()


@pytest.mark.parametrize(
    "value", [["sk-in-a-list-0123"], {"sk-in-a-map-0123": 1}, 12345678901234, "sk with space 0123"]
)
def test_a_refused_key_is_not_echoed_whatever_its_type(value):
    from qwen_serve.errors import QwenServeError
    from qwen_serve.settings import FIELDS_BY_NAME

    with pytest.raises(QwenServeError) as error:
        FIELDS_BY_NAME["api_key"].coerce(value, where="k.yaml:1")
    text = str(value if not isinstance(value, dict) else next(iter(value)))
    assert text not in str(error.value) and "fix:" in str(error.value)
