"""A new user's first hour (#40): the commands a user mistypes are understood, and every fix a message suggests is
a command that runs. Each test types what a user would, through the real entry points."""

from __future__ import annotations

import os
import shlex
import signal
import socket
import subprocess
import sys
import time

import pytest
from conftest import free_port

ENTRIES = {"qwen-serve": "main", "qwen-test": "qwen_test_main", "qwen-bench": "bench_main"}


def command(program: str, *args: str) -> list[str]:
    """The argv of an installed entry point (pyproject's [project.scripts]), run by this interpreter."""
    return [sys.executable, "-c", f"from qwen_serve.cli import {ENTRIES[program]} as m; m()", *args]


def run(program: str, *args: str, timeout: float = 60) -> subprocess.CompletedProcess:
    return subprocess.run(command(program, *args), capture_output=True, text=True, timeout=timeout)


def one_line(result) -> str:
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert result.returncode == 2 and len(lines) == 1, (result.returncode, result.stderr)
    return lines[0]


@pytest.mark.parametrize(
    ("argv", "suggestion"),
    [
        (("qwen-serve", "pln"), "unknown command 'pln' — did you mean 'plan'?"),
        (("qwen-serve", "server", "--preset", "balanced"), "unknown command 'server' — did you mean 'serve'?"),
        (("qwen-bench", "plt", "x.json"), "unknown command 'plt' — did you mean 'plot'?"),
    ],
)
def test_a_mistyped_command_is_named_with_the_nearest_one(argv, suggestion):
    assert suggestion in one_line(run(*argv))


def test_plan_with_an_unknown_preset_is_one_line_not_a_traceback(qwen_serve):
    for extra in ((), ("--json",)):
        result = qwen_serve("plan", "--gpu", "H200", "--preset", "balnced", *extra)
        assert result.exit_code == 2 and "did you mean 'balanced'?" in result.stderr, result.stderr
        assert "Traceback" not in result.stderr + result.stdout and '"plans": []' not in result.stdout


def test_plan_of_preset_auto_plans_what_auto_takes(qwen_serve):
    result = qwen_serve("plan", "--gpu", "H200", "--preset", "auto", "--json")
    assert result.exit_code == 0, result.stderr
    data = result.json()
    assert [p["name"] for p in data["plans"]] == ["fp8_checkpoint"]
    assert data["auto"].startswith("preset auto -> fp8_checkpoint")


@pytest.mark.skipif(os.path.exists("/dev/nvidiactl"), reason="the no-GPU fix is for a machine without a GPU")
@pytest.mark.parametrize("command", [("plan",), ("tune",)])
def test_the_no_gpu_fix_of_plan_and_tune_is_a_command_that_runs(command):
    line = one_line(run("qwen-serve", *command))
    suggested = line.split("plan for a GPU you name here: ", 1)[1].split(" (", 1)[0]
    argv = shlex.split(suggested)
    assert argv[0] == "qwen-serve" and argv[1] == command[0]
    assert run(*argv).returncode == 0


def test_qwen_test_suggests_the_nearest_check():
    assert "did you mean 'chat'?" in one_line(run("qwen-test", "--only", "chta"))


def test_qwen_test_says_a_url_needs_its_scheme():
    line = one_line(run("qwen-test", "--base-url", "gpu-box:30000"))
    assert "a URL starts with http:// or https://" in line and "fix: --base-url http://gpu-box:30000" in line


def test_qwen_test_wait_says_what_it_waited_for_in_one_sentence():
    port = free_port()
    result = run("qwen-test", "--port", str(port), "--wait", "1")
    assert result.returncode == 2
    assert f"cannot reach the server at http://127.0.0.1:{port}: not ready after 1 s" in result.stderr


def test_ctrl_c_in_qwen_test_wait_exits_130():
    proc = subprocess.Popen(
        command("qwen-test", "--port", str(free_port()), "--wait", "60"),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    time.sleep(2.0)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == 130, err
    assert "Traceback" not in err


@pytest.mark.parametrize("text", ['{"a": 1}', "not json", '{"levels": [{"completed": 1}]}', "[1, 2]", ""])
def test_qwen_bench_plot_of_a_file_not_its_format_is_one_line(tmp_path, text):
    path = tmp_path / "x.json"
    path.write_text(text)
    line = one_line(run("qwen-bench", "plot", str(path), "-o", str(tmp_path / "p.png")))
    assert "is not a results file qwen-bench plot reads" in line and "qwen-bench run --out" in line
    assert not (tmp_path / "p.png").exists()


@pytest.mark.skipif(os.path.exists("/dev/nvidiactl"), reason="the no-GPU fix is for a machine without a GPU")
def test_the_no_gpu_fix_of_k8s_with_preset_auto_is_a_command_k8s_takes():
    line = one_line(run("qwen-serve", "k8s", "--preset", "auto"))
    suggested = line.split("plan for a GPU you name here: ", 1)[1].split(" (", 1)[0]
    assert "--dry-run" not in suggested  # k8s has no --dry-run
    assert run(*shlex.split(suggested)).returncode == 0


def test_a_dry_run_of_a_preset_that_does_not_fit_shows_it_and_exits_as_the_launch_would(qwen_serve):
    result = qwen_serve("--dry-run", "--preset", "high_performance", "--gpu", "RTX 4090")
    assert result.exit_code == 2 and "does not fit" in result.stderr and "(or --force)" in result.stderr
    assert "sglang.launch_server" in result.stdout  # still shown: what it would have run
    assert qwen_serve("--dry-run", "--preset", "high_performance", "--gpu", "RTX 4090", "--force").exit_code == 0


def test_qwen_test_help_lists_the_checks_only_takes():
    from qwen_serve.client import CHECKS

    out = run("qwen-test", "--help").stdout
    assert "Checks (for --only/--skip):" in out and all(name in out for name in CHECKS)


@pytest.fixture
def html_server():
    """A web server that is no OpenAI-compatible one: /health answers, everything else is an HTML error page."""
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    page = b"<!DOCTYPE html>\n<html><head><title>404</title></head>\n<body>\n<h1>Not Found</h1>\n" + b"<p>x</p>\n" * 40

    class Handler(BaseHTTPRequestHandler):
        def _answer(self):
            code, body = (200, b"ok") if self.path == "/health" else (404, page)
            self.send_response(code)
            self.send_header("Content-Type", "text/html")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        do_GET = do_POST = _answer

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


def test_qwen_test_against_a_server_that_is_not_openai_compatible_says_so_in_one_line_per_check(html_server):
    import json

    result = run("qwen-test", "--base-url", html_server, "--json", "--timeout", "5")
    assert result.returncode == 1, result.stderr
    checks = json.loads(result.stdout)["checks"]
    for check in checks:
        assert "\n" not in check["detail"] and "<" not in check["detail"], check
    by_name = {c["name"]: c for c in checks}
    assert by_name["models"]["status"] == "fail" and "an HTML page" in by_name["models"]["detail"]
    # no model id to ask for: the checks that send one say so once each, instead of failing for it
    assert by_name["chat"]["status"] == "skip" and "pass --model NAME" in by_name["chat"]["detail"]


@pytest.mark.skipif(os.path.exists("/dev/nvidiactl"), reason="the unit is written on a machine without a GPU")
def test_a_systemd_unit_of_preset_auto_is_written_without_a_gpu_and_picks_on_the_host(tmp_path):
    key = tmp_path / "api-key"
    key.write_text("sk-test-0123456789abcdef\n")
    key.chmod(0o600)
    result = run("qwen-serve", "systemd", "--key-file", str(key), "--preset", "auto", "--host", "0.0.0.0")
    assert result.returncode == 0, result.stderr
    lines = dict(line.split("=", 1) for line in result.stdout.splitlines() if "=" in line and not line.startswith("#"))
    assert "--preset auto" in lines["ExecStart"] and "--gpu" not in lines["ExecStart"]
    assert "picked for the host's GPU at each start" in lines["Description"]


def test_check_prints_its_verdict_alone():
    """--check imports SGLang, which warns about the platform on a CPU machine: the user reads one line."""
    result = run("qwen-serve", "--check", "--preset", "balanced", "--gpu", "H200", timeout=180)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().startswith("check: sglang ") and "Warning" not in result.stderr, result.stderr


def test_the_demo_serves_on_the_cpu_for_qwen_test_and_qwen_bench_and_stops_on_ctrl_c(tmp_path):
    """`qwen-serve demo` (docs/offline.md): a tiny Qwen3 on the CPU that qwen-test and qwen-bench run against, as
    the lines it prints say; one Ctrl-C stops it and nothing is left listening."""
    port = free_port()
    env = {**os.environ, "XDG_CACHE_HOME": str(tmp_path / "cache")}
    proc = subprocess.Popen(
        command("qwen-serve", "demo", "--port", str(port)), env=env, stdout=subprocess.PIPE, text=True
    )
    lines = []
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline and not any("Ctrl-C stops it" in x for x in lines):
        lines.append(proc.stdout.readline())
        assert proc.poll() is None, "".join(lines)
    said = {line.split()[1]: shlex.split(line)[1:] for line in lines if line.startswith("qwen-serve:   qwen-")}
    test = run(*said["qwen-test"], "--only", "health,models,chat")
    assert test.returncode == 0, test.stdout + test.stderr
    bench = run(*said["qwen-bench"], "--concurrency", "2", "--input-len", "8", "--output-len", "4", "--requests", "2")
    assert bench.returncode == 0 and "req/s" in bench.stdout, bench.stderr
    proc.send_signal(signal.SIGINT)
    assert proc.wait(timeout=30) == 0
    with socket.socket() as s:
        assert s.connect_ex(("127.0.0.1", port)) != 0
