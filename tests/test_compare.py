"""qwen-test --compare: two real CPU servers (transformers serve), and the KL arithmetic through a
server that returns logprobs (transformers serve returns none)."""

from __future__ import annotations

import json
import math
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from click.testing import CliRunner

from qwen_serve.cli.qwen_test import qwen_test_command
from qwen_serve.compare import kl_divergence


def qwen_test(*args):
    result = CliRunner().invoke(qwen_test_command, list(args), prog_name="qwen-test")
    return result


def test_a_server_agrees_with_itself(cpu_server):
    url, model_dir = cpu_server
    result = qwen_test(
        "--base-url", url, "--compare", url, "--tokenizer", str(model_dir), "--max-tokens", "8", "--json"
    )
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["token_agreement"] == 1.0 and report["mean_kl"] is None  # transformers serve: no logprobs
    assert len(report["prompts"]) == 8 and all(p["first_difference"] is None for p in report["prompts"])


def test_other_weights_disagree_and_min_agreement_fails(cpu_server, other_cpu_server):
    url, model_dir = cpu_server
    other, _ = other_cpu_server
    result = qwen_test(
        "--base-url",
        other,
        "--compare",
        url,
        "--tokenizer",
        str(model_dir),
        "--max-tokens",
        "8",
        "--min-agreement",
        "0.99",
    )
    assert result.exit_code == 1, result.output
    assert "token agreement" in result.stdout and "KL not computed" in result.stdout
    line = [ln for ln in result.stdout.splitlines() if ln.startswith("token agreement")][0]
    assert float(line.split()[2].rstrip("%")) < 99


def test_no_logprobs_and_no_tokenizer_is_one_line(cpu_server):
    url, _ = cpu_server
    result = qwen_test("--base-url", url, "--compare", url, "--max-tokens", "4")
    assert result.exit_code == 2
    assert "returns no logprobs" in result.stderr and "--tokenizer" in result.stderr


def test_unreachable_reference_exits_2(cpu_server):
    url, _ = cpu_server
    result = qwen_test("--base-url", url, "--compare", "http://127.0.0.1:9", "--max-tokens", "4")
    assert result.exit_code == 2 and "cannot reach" in result.stderr


def test_kl_divergence_properties():
    p = {"a": math.log(0.7), "b": math.log(0.2), "c": math.log(0.1)}
    assert kl_divergence(p, p) == pytest.approx(0.0, abs=1e-12)
    q = {"a": math.log(0.5), "b": math.log(0.3), "c": math.log(0.2)}
    exact = sum(pp * math.log(pp / qq) for pp, qq in ((0.7, 0.5), (0.2, 0.3), (0.1, 0.2)))
    assert kl_divergence(p, q) == pytest.approx(exact, rel=1e-9)
    assert kl_divergence(p, {"a": math.log(0.5), "d": math.log(0.5)}) > 0.1  # mass where p has little


class LogprobServer(BaseHTTPRequestHandler):
    """/v1/completions with OpenAI's legacy logprobs: tokens t0 t1 …, top-2 at each position; SHIFT
    moves probability between the two candidates (0: the reference's numbers)."""

    SHIFT = 0.0

    def log_message(self, *args):
        pass

    def do_GET(self):
        self._send({"data": [{"id": "m"}]})

    def do_POST(self):
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        n = body["max_tokens"]
        tokens = [f"t{i}" for i in range(n)]
        diverge = n // 2 if self.SHIFT else None  # the shifted server picks another token half-way
        if diverge is not None:
            tokens[diverge] = "x"
        top = [{f"t{i}": math.log(0.8 - self.SHIFT), "x": math.log(0.2 + self.SHIFT)} for i in range(n)]
        self._send({"choices": [{"text": "".join(tokens), "logprobs": {"tokens": tokens, "top_logprobs": top}}]})

    def _send(self, data):
        raw = json.dumps(data).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(raw)))
        self.end_headers()
        self.wfile.write(raw)


@pytest.fixture
def logprob_servers():
    servers = []
    for shift in (0.0, 0.1):
        handler = type("H", (LogprobServer,), {"SHIFT": shift})
        httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        threading.Thread(target=httpd.serve_forever, daemon=True).start()
        servers.append(httpd)
    yield [f"http://127.0.0.1:{s.server_address[1]}" for s in servers]
    for s in servers:
        s.shutdown()


def test_kl_and_agreement_from_logprobs(logprob_servers):
    reference, shifted = logprob_servers
    result = qwen_test("--base-url", shifted, "--compare", reference, "--max-tokens", "10", "--json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["token_agreement"] == pytest.approx(5 / 10)  # the first 5 tokens agree in every prompt
    expected = 0.8 * math.log(0.8 / 0.7) + 0.2 * math.log(0.2 / 0.3)
    assert report["mean_kl"] == pytest.approx(expected, rel=1e-4)  # as_dict rounds to 6 decimals
    assert report["kl_positions"] == 8 * 6  # positions 0..5: the same text before each on both sides
