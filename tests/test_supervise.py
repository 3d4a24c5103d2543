"""Supervision, through the real `qwen-serve` command in a subprocess, with a stand-in SGLang
(tests/fake_sglang: prints SGLang-like log lines, serves /health and /generate on 127.0.0.1,
or crashes, or hangs, or ignores SIGTERM). Real signals, real process groups, real HTTP."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from conftest import free_port

from qwen_serve.sglang.log import diagnose

FAKE = Path(__file__).parent / "fake_sglang"
ROOT = Path(__file__).resolve().parents[1]
KEY = "sk-do-not-print-me"


@pytest.fixture
def model_dir(tmp_path):
    d = tmp_path / "model"
    d.mkdir()
    (d / "config.json").write_text("{}")
    return d


class Served:
    def __init__(self, proc, tmp_path, port):
        self.proc, self.port = proc, port
        self.ready_file, self.log_file = tmp_path / "ready.json", tmp_path / "sglang.log"
        self.stdout_path, self.stderr_path = tmp_path / "stdout.txt", tmp_path / "stderr.txt"

    def wait_ready(self, timeout=60):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.ready_file.exists():
                return json.loads(self.ready_file.read_text())
            assert self.proc.poll() is None, (self.proc.returncode, self.out(), self.err())
            time.sleep(0.1)
        raise AssertionError("not ready: " + self.out() + self.err())

    def finish(self, timeout=60) -> int:
        return self.proc.wait(timeout=timeout)

    def out(self):
        return self.stdout_path.read_text(errors="replace")

    def err(self):
        return self.stderr_path.read_text(errors="replace")


@pytest.fixture
def serve(tmp_path, model_dir):
    started = []

    # launcher: how qwen-serve is started (default `python -m qwen_serve`; `uv run qwen-serve` as the README
    # does); session: a process group of its own, as a terminal gives the foreground job
    def start(
        *extra: str,
        mode: str = "ok",
        env_extra: dict | None = None,
        port: int | None = None,
        launcher: tuple[str, ...] = (sys.executable, "-m", "qwen_serve"),
        session: bool = False,
    ) -> Served:
        port = port or free_port()
        served = Served(None, tmp_path, port)
        env = {
            **os.environ,
            "PYTHONPATH": str(FAKE),
            "FAKE_SGLANG_MODE": mode,
            "XDG_CACHE_HOME": str(tmp_path / "xdg-cache"),
            **(env_extra or {}),
        }
        # the CI machine has no GPU: launching the stand-in needs --force (a --gpu NAME is planned for, not launched on)
        gpu = () if "--force" in extra else ("--force",)
        argv = [
            *launcher,
            "--model-path",
            str(model_dir),
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--log-file",
            str(served.log_file),
            "--ready-file",
            str(served.ready_file),
            *gpu,
            *extra,
        ]
        served.proc = subprocess.Popen(
            argv,
            env=env,
            cwd=ROOT,
            start_new_session=session,
            stdout=open(served.stdout_path, "w"),
            stderr=open(served.stderr_path, "w"),
        )
        started.append(served.proc)
        return served

    yield start
    for proc in started:
        if proc.poll() is None:
            proc.kill()


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:  # a zombie is not alive
        return open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def test_ready_file_banner_log_and_clean_stop(serve):
    s = serve("--api-key", KEY, "--preset", "high_performance", "--quantization", "fp8", "--kv-cache-dtype", "fp8_e5m2")
    facts = s.wait_ready()
    assert facts["ready"] is True and facts["base_url"] == f"http://127.0.0.1:{s.port}"
    assert facts["preset"] == "high_performance" and facts["quantization"] == "fp8, KV fp8_e5m2"
    assert facts["sglang"]["kv_tokens"] == 246525 and facts["sglang"]["weight_gb"] == 27.53
    assert facts["sglang"]["max_running_requests"] == 3081 and facts["api_key_required"] is True
    assert 0 < facts["seconds_to_ready"] < 60 and facts["log_file"] == str(s.log_file)
    ready_text = s.ready_file.read_text()
    s.proc.send_signal(signal.SIGTERM)
    assert s.finish() == 0  # the stand-in exits 0 on SIGTERM; qwen-serve passes it through
    assert not s.ready_file.exists()  # SGLang is gone: nothing may read "ready" any more
    out, err, log = s.out(), s.err(), s.log_file.read_text()
    assert log.startswith("# qwen-serve log")  # what lets a later run append to it
    assert "ready in" in out and f"http://127.0.0.1:{s.port}/v1" in out and "curl " in out
    assert "KV cache      246,525 tokens (37.62 GB)" in out and "weights 27.53 GB" in out
    assert "Load weight begin" in log and "api_key='****'" in log
    for text in (out, err, log, ready_text):
        assert KEY not in text
    assert "$QWEN_SERVE_API_KEY" in out


def test_the_ready_banner_names_the_checkpoints_own_quantization(serve, model_dir):
    """An AWQ checkpoint is served int4 (awq_marlin) with no --quantization: the banner and the ready file say what
    the checkpoint stores, not "none (bf16)" (they did until 2026-12-04's awq start-up showed it)."""
    from qwen_serve.model import OFFICIAL_CHECKPOINTS

    awq = OFFICIAL_CHECKPOINTS["Qwen/Qwen3-14B-AWQ"]
    (model_dir / "config.json").write_text(json.dumps({"quantization_config": awq}))
    s = serve("--quiet")
    assert s.wait_ready()["quantization"] == "AWQ int4, group 128 (the checkpoint's)"
    s.proc.send_signal(signal.SIGTERM)
    assert s.finish() == 0
    assert "quantization AWQ int4, group 128 (the checkpoint's)" in s.out()


def test_off_a_terminal_a_long_compile_is_said_again_with_its_progress(tmp_path, model_dir, capsys):
    """A first start compiles inside SGLang's first CUDA graph for minutes (awq: 485 s on the H200, its tqdm bar at
    0/58 all along, no newline). Off a terminal (journald, kubectl logs) the phase and the bar's progress are said
    again every heartbeat_s; the progress is read as the bar's \r-ended updates arrive, not at its end."""
    from qwen_serve.supervise import ServerFacts, SuperviseOptions, Supervisor

    port = free_port()
    env = {**os.environ, "PYTHONPATH": str(FAKE), "FAKE_SGLANG_COMPILE_PAUSE": "2"}
    argv = [sys.executable, "-m", "sglang.launch_server", "--model-path", str(model_dir), "--port", str(port)]
    options = SuperviseOptions(
        tmp_path / "log",
        quiet=True,
        env=env,
        heartbeat_s=0.4,
        after_ready=lambda _: os.kill(os.getpid(), signal.SIGTERM),
    )
    outcome = Supervisor(argv, ServerFacts("127.0.0.1", port, str(model_dir)), options).run()
    out = capsys.readouterr().out
    assert outcome.ready and outcome.exit_code == 0, out
    said = [line for line in out.splitlines() if "still capturing CUDA graphs" in line]
    # while the bar is held at its first step (2 s; a heartbeat every 0.4 s) the lines give that step's count; one
    # may fall after the pause, before the next phase line (the bar then further on)
    held = [line for line in said if line.endswith(" 25%, 1/4")]
    assert len(held) >= 3 and all(re.search(r" \d+%, [1-4]/4$", line) for line in said), out
    assert out.index("capturing CUDA graphs (first run compiles kernels)") < out.index(said[0]) < out.index("ready in")


def test_sglang_gets_qwen_serves_environment_unchanged(serve):
    # e.g. the NCCL switches a multi-GPU machine needs (NVLink multicast off) reach SGLang's processes
    nccl = {"NCCL_NVLS_ENABLE": "0", "TORCH_SYMM_MEM_DISABLE_MULTICAST": "1", "NVSHMEM_DISABLE_NVLS": "1"}
    s = serve("--preset", "high_performance", env_extra={**nccl, "FAKE_SGLANG_ECHO_ENV": ",".join(nccl)})
    s.wait_ready()
    s.proc.send_signal(signal.SIGTERM)
    assert s.finish() == 0
    log = s.log_file.read_text()
    for name, value in nccl.items():
        assert f"env {name}={value}" in log


def test_server_record_names_preset_and_gpu_while_ready(serve, tmp_path, model_dir, monkeypatch):
    from qwen_serve import bench
    from qwen_serve.model import QWEN3_14B_CONFIG

    (model_dir / "config.json").write_text(json.dumps(QWEN3_14B_CONFIG))  # the plan reads the real shapes
    cache = tmp_path / "cache"
    s = serve("--preset", "high_performance", "--gpu", "H100", env_extra={"XDG_CACHE_HOME": str(cache)})
    facts = s.wait_ready()
    assert facts["gpu"] == "H100 80GB HBM3 (79.6 GiB, sm90) [--gpu H100]"
    record = cache / "qwen-serve" / "servers" / f"{s.port}.json"
    assert json.loads(record.read_text())["qwen_serve_pid"] == s.proc.pid
    # qwen-bench on the same machine finds what it is measuring
    monkeypatch.setenv("XDG_CACHE_HOME", str(cache))
    found = bench.server_facts(f"http://127.0.0.1:{s.port}", None)["qwen_serve"]
    assert found["preset"] == "high_performance" and found["gpu"].startswith("H100") and found["tp_size"] == 1
    assert "qwen_serve" not in bench.server_facts(f"http://127.0.0.1:{free_port()}", None)
    s.proc.send_signal(signal.SIGTERM)
    assert s.finish() == 0
    assert not record.exists()  # gone with the server


def test_progress_phases_as_plain_lines_when_not_a_terminal(serve):
    s = serve("--quiet")
    s.wait_ready()
    s.proc.send_signal(signal.SIGTERM)
    s.finish()
    out = s.out()
    phases = [
        "importing SGLang",
        "initialising torch distributed",
        "loading weights",
        "weights loaded",
        "KV cache allocated",
        "capturing CUDA graphs",
        "HTTP server up",
        "ready in",
    ]
    positions = [out.find(p) for p in phases]
    assert all(p >= 0 for p in positions) and positions == sorted(positions), out
    assert "Load weight begin" not in out  # --quiet: SGLang's own lines only in the log file


def test_sglang_lines_are_echoed_without_quiet(serve):
    s = serve()
    s.wait_ready()
    s.proc.send_signal(signal.SIGTERM)
    s.finish()
    assert "Load weight end. elapsed=0.25 s" in s.out()


def test_crash_before_ready_shows_the_tail_and_a_diagnosis(serve):
    s = serve("--quiet", mode="crash_oom")
    assert s.finish() == 1
    err = s.err()
    assert "last " in err and "CUDA out of memory. Tried to allocate" in err
    assert "before it was ready: the GPU ran out of memory" in err and "smaller preset" in err
    assert not s.ready_file.exists()


def test_a_crash_shown_live_is_not_shown_again(serve):
    """Without --quiet SGLang's lines were on the terminal as they came: the crash is said once, with the log's path
    once in the closing line, not the tail a second time."""
    s = serve(mode="crash_oom")
    assert s.finish() == 1
    both = s.out() + s.err()
    assert both.count("CUDA out of memory. Tried to allocate") == 1
    assert "before it was ready: the GPU ran out of memory" in s.err() and "last " not in s.err()


def test_crash_on_a_taken_port_is_diagnosed(serve):
    s = serve("--quiet", mode="crash_port")
    assert s.finish() == 1
    assert "the port is already in use" in s.err()


def test_a_stale_ready_file_is_removed_before_sglang_starts(serve, tmp_path, monkeypatch):
    # an earlier server's ready file would tell a polling script this one is ready (it happened on the H100)
    from qwen_serve.outputs import write_json

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg-cache"))  # the served qwen-serve's key
    write_json(tmp_path / "ready.json", {"ready": True, "base_url": "http://127.0.0.1:1", "qwen_serve_pid": 999999})
    s = serve("--quiet", "--ready-timeout", "2", mode="never_ready")
    assert s.ready_file == tmp_path / "ready.json"
    assert s.finish(timeout=30) == 124
    assert not s.ready_file.exists()


def test_ready_timeout_stops_sglang_and_exits_124(serve):
    s = serve("--quiet", "--ready-timeout", "2", mode="never_ready")
    assert s.finish(timeout=30) == 124
    assert "not ready after 2 s" in s.err()
    assert "SIGTERM" not in s.err() and "again" not in s.err()  # nobody pressed anything


def test_sigterm_escalates_to_sigkill_after_the_stop_timeout(serve):
    s = serve("--quiet", "--stop-timeout", "2", mode="ignore_term")
    s.wait_ready()
    start = time.monotonic()
    s.proc.send_signal(signal.SIGTERM)
    assert s.finish(timeout=30) == 128 + signal.SIGKILL
    assert 1.5 < time.monotonic() - start < 15
    assert "SIGKILL" in s.err()


def test_a_signal_during_the_ready_banner_cannot_deadlock(tmp_path, capsys):
    # CI hung here once: SIGTERM came while the main thread printed the banner under the display's lock,
    # and the handler's own note waited for that lock forever. The handler now only sets flags; the
    # main loop's next turn acts on them (the SIGTERM to SGLang) and says so, once.
    from qwen_serve.supervise import ServerFacts, SuperviseOptions, Supervisor

    sup = Supervisor(["unused"], ServerFacts("127.0.0.1", 1, "m"), SuperviseOptions(tmp_path / "log", quiet=True))
    sup.server.proc = subprocess.Popen(["sleep", "30"], start_new_session=True)

    def interrupted_while_printing():
        with sup.display._lock:  # what the main thread holds while it prints a line
            sup.signals.handler(signal.SIGTERM, None)  # a handler runs in the thread it interrupts

    worker = threading.Thread(target=interrupted_while_printing, daemon=True)
    worker.start()
    worker.join(timeout=5)
    assert not worker.is_alive(), "the signal handler waited for the display's lock"
    assert sup.child.poll() is None and sup.signals.presses == [signal.SIGTERM]  # a flag, no action yet
    assert "stopping SGLang" not in capsys.readouterr().err
    sup.act_on_stops()  # the main loop's next turn
    sup.act_on_stops()
    assert sup.child.wait(timeout=5) == -signal.SIGTERM  # SGLang's server process got the SIGTERM, once
    assert capsys.readouterr().err.count("SIGTERM: stopping SGLang") == 1


def test_second_ctrl_c_stops_at_once(serve):
    s = serve("--quiet", "--stop-timeout", "60", mode="ignore_term")
    s.wait_ready()
    start = time.monotonic()
    s.proc.send_signal(signal.SIGINT)
    time.sleep(1.3)  # a deliberate second press: more than SAME_PRESS_S after the first
    s.proc.send_signal(signal.SIGINT)
    assert s.finish(timeout=20) == 128 + signal.SIGKILL
    assert time.monotonic() - start < 10


def test_no_process_of_the_group_survives(serve, tmp_path):
    pidfile = tmp_path / "grandchild.pid"
    s = serve("--quiet", mode="grandchild", env_extra={"FAKE_SGLANG_PIDFILE": str(pidfile)})
    facts = s.wait_ready()
    grandchild = int(pidfile.read_text())
    assert alive(grandchild) and alive(facts["pid"])
    s.proc.send_signal(signal.SIGTERM)
    s.finish()
    deadline = time.monotonic() + 5
    while alive(grandchild) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not alive(grandchild) and not alive(facts["pid"])


def test_a_stop_takes_sglangs_graceful_path(serve, tmp_path):
    # SGLang drains running requests on a SIGTERM to its server process; a SIGTERM that reaches its
    # scheduler as well kills the scheduler, which SGLang takes for a crash (no drain, SIGQUIT path)
    import threading

    import httpx

    pidfile = tmp_path / "scheduler.pid"
    s = serve(
        "--quiet",
        mode="sglang_stop",
        env_extra={"FAKE_SGLANG_PIDFILE": str(pidfile), "FAKE_SGLANG_GENERATE_DELAY": "1.5"},
    )
    s.wait_ready()
    scheduler = int(pidfile.read_text())
    answers = []
    request = threading.Thread(
        target=lambda: answers.append(
            httpx.post(f"http://127.0.0.1:{s.port}/generate", json={"text": "hi"}, timeout=30).status_code
        )
    )
    request.start()
    time.sleep(0.5)  # the request is running
    s.proc.send_signal(signal.SIGTERM)
    assert s.finish(timeout=30) == 0  # a stop we asked for, ended by SGLang itself
    request.join(timeout=10)
    log = s.log_file.read_text()
    assert answers == [200], (answers, log)  # drained, not cut
    assert "Draining requests" in log and "crashed" not in log and "SIGQUIT" not in log
    assert "SGLang stopped" in s.out() and not alive(scheduler)


def test_open_host_without_api_key_warns(serve):
    s = serve("--quiet", "--host", "0.0.0.0")
    s.wait_ready()
    s.proc.send_signal(signal.SIGTERM)
    s.finish()
    assert "warning: listening on 0.0.0.0 without --api-key" in s.err()


@pytest.mark.parametrize(
    "line, expected",
    [
        (
            "ImportError: cannot import name 'float8_dynamic_activation_float8_weight' from 'torchao.quantization' "
            "(/tmp/site/torchao/quantization/__init__.py)",
            "torchao",
        ),
        (
            "RuntimeError: No accelerator (CUDA, XPU, HPU, NPU, MUSA, MPS) or platform plugin is available.",
            "CUDA is not available",
        ),
        ("OSError: /models/q does not appear to have a file named config.json", "model was not found"),
        ("AssertionError: fp8e4nv data type is not supported on CUDA arch < 89", "compute capability >= 8.9"),
        (
            "launch_server.py: error: argument --kv-cache-dtype: invalid choice: 'int8'",
            "rejected a command-line argument",
        ),
        ("Segmentation fault", "no known cause matched"),
    ],
)
def test_crash_diagnosis(line, expected):
    assert expected in diagnose(["some line", line])


def test_force_launches_what_the_plan_refuses(serve):
    s = serve("--quiet", "--preset", "high_performance", "--gpu", "RTX 4090", "--force")
    s.wait_ready()
    s.proc.send_signal(signal.SIGTERM)
    s.finish()
    assert "warning: --force: launching without checking the memory plan" in s.err()


def test_humming_environment_reaches_sglang_and_its_jit_is_a_named_phase(serve):
    s = serve("--preset", "balanced", "--humming-input-dtype", "float8e4m3", "--force")
    s.wait_ready()
    s.proc.send_signal(signal.SIGTERM)
    assert s.finish() == 0
    log = s.log_file.read_text()
    assert 'humming env SGLANG_HUMMING_ONLINE_QUANT_CONFIG={"dtype":"int4","group_size":128}' in log
    assert 'humming env SGLANG_HUMMING_INPUT_QUANT_CONFIG={"dtype":"float8e4m3"}' in log
    shown = s.out() + s.err()
    assert "humming JIT-compiles its kernels with NVRTC" in shown
    assert "SGLANG_HUMMING_ONLINE_QUANT_CONFIG='{" in shown  # the launch line is a shell command that sets it


def slow_request(port, answers):
    import httpx

    t = threading.Thread(
        target=lambda: answers.append(
            httpx.post(f"http://127.0.0.1:{port}/generate", json={"text": "hi"}, timeout=30).status_code
        )
    )
    t.start()
    time.sleep(0.5)  # the request is running
    return t


def test_one_ctrl_c_drains_however_many_copies_arrive(serve, tmp_path):
    s = serve(
        "--quiet",
        mode="sglang_stop",
        env_extra={"FAKE_SGLANG_PIDFILE": str(tmp_path / "s.pid"), "FAKE_SGLANG_GENERATE_DELAY": "1.5"},
    )
    s.wait_ready()
    answers = []
    request = slow_request(s.port, answers)
    for _ in range(3):  # the terminal's copy to the group, uv's forwarded copy, one more
        s.proc.send_signal(signal.SIGINT)
        time.sleep(0.02)
    assert s.finish(timeout=30) == 0
    request.join(timeout=10)
    assert answers == [200] and "SGLang stopped" in s.out()


@pytest.mark.skipif(shutil.which("uv") is None, reason="needs uv, the README's runner")
def test_ctrl_c_under_uv_run_drains(serve, tmp_path):
    """The README's own command: `uv run qwen-serve …` in a terminal, Ctrl-C to the foreground group."""
    env_extra = {"FAKE_SGLANG_PIDFILE": str(tmp_path / "s.pid"), "FAKE_SGLANG_GENERATE_DELAY": "1.5"}
    s = serve(
        "--quiet",
        mode="sglang_stop",
        env_extra=env_extra,
        launcher=("uv", "run", "--no-sync", "qwen-serve"),
        session=True,
    )
    try:
        s.wait_ready(timeout=60)
        answers = []
        request = slow_request(s.port, answers)
        os.killpg(s.proc.pid, signal.SIGINT)  # what Ctrl-C does: the whole foreground process group
        assert s.finish(timeout=30) == 0, s.out() + s.err()
        request.join(timeout=10)
        assert answers == [200]
    finally:
        if s.proc.poll() is None:
            os.killpg(s.proc.pid, signal.SIGKILL)


def test_kill_9_of_qwen_serve_takes_sglang_and_its_scheduler(serve, tmp_path):
    pidfile = tmp_path / "s.pid"
    s = serve("--quiet", mode="sglang_stop", env_extra={"FAKE_SGLANG_PIDFILE": str(pidfile)})
    facts = s.wait_ready()
    scheduler = int(pidfile.read_text())
    assert alive(facts["pid"]) and alive(scheduler)
    s.proc.kill()
    s.finish()
    deadline = time.monotonic() + 10
    while (alive(facts["pid"]) or alive(scheduler)) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not alive(facts["pid"]) and not alive(scheduler)


def test_sighup_is_a_graceful_stop(serve):
    s = serve("--quiet")
    s.wait_ready()
    s.proc.send_signal(signal.SIGHUP)
    assert s.finish(timeout=30) == 0
    assert "SIGHUP: stopping SGLang" in s.err() and "SGLang stopped" in s.out()


def test_ctrl_c_before_ready_exits_130(serve):
    s = serve("--quiet", mode="never_ready")
    time.sleep(1.5)
    s.proc.send_signal(signal.SIGINT)
    assert s.finish(timeout=30) == 130
    assert "interrupted before SGLang was ready" in s.out() + s.err()


def test_a_stale_server_record_is_removed_at_the_next_start(serve, tmp_path):
    from qwen_serve import supervise

    port = free_port()
    record = tmp_path / "xdg-cache" / "qwen-serve" / "servers" / f"{port}.json"
    record.parent.mkdir(parents=True, exist_ok=True)
    record.write_text(json.dumps({"qwen_serve_pid": 2**22 + 12345, "preset": "stale"}))  # a pid that is gone
    s = serve("--quiet", "--ready-timeout", "3", mode="never_ready", port=port)
    assert s.finish(timeout=30) == 124
    assert not record.exists()
    assert supervise.read_server_record(s.port) is None


@pytest.mark.parametrize("how", ["flag", "env", "file"])
def test_the_api_key_is_in_no_process_command_line(serve, tmp_path, how):
    import httpx

    extra, env_extra = (), None
    if how == "flag":
        extra = ("--api-key", KEY)
    elif how == "env":
        env_extra = {"QWEN_SERVE_API_KEY": KEY}
    else:
        (tmp_path / "key").write_text(KEY + "\n")
        extra = ("--api-key-file", str(tmp_path / "key"))
    s = serve("--quiet", *extra, env_extra=env_extra)
    facts = s.wait_ready()  # the readiness probe authenticated: SGLang has the key
    assert facts["api_key_required"] is True
    # qwen-serve's own command line holds what the user typed (so --api-key warns); SGLang's never does
    for pid in [facts["pid"]] + ([] if how == "flag" else [s.proc.pid]):
        assert KEY not in open(f"/proc/{pid}/cmdline", "rb").read().decode(errors="replace")
    assert ("visible to every local user" in s.err()) == (how == "flag")
    url = f"http://127.0.0.1:{s.port}/generate"
    assert httpx.post(url, json={"text": "hi"}, timeout=5).status_code == 401
    assert (
        httpx.post(url, json={"text": "hi"}, headers={"Authorization": f"Bearer {KEY}"}, timeout=5).status_code == 200
    )
    ready_text = s.ready_file.read_text()
    s.proc.send_signal(signal.SIGTERM)
    assert s.finish() == 0
    for text in (s.out(), s.err(), s.log_file.read_text(), ready_text):
        assert KEY not in text


def test_another_server_on_the_port_is_not_taken_for_sglang(serve, tmp_path):
    """A server that binds the port after qwen-serve's port check answers /health and /generate while
    SGLang is still loading: qwen-serve must not call that ready, and says who holds the port."""
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    class Impostor(BaseHTTPRequestHandler):
        def log_message(self, *a):
            pass

        def _ok(self):
            self.send_response(200)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"{}")

        do_GET = do_POST = _ok

    port = free_port()
    # a slow start: the impostor answers for seconds (qwen-serve probes from 5 s on) before SGLang binds
    s = serve("--quiet", port=port, env_extra={"FAKE_SGLANG_BIND_DELAY": "6"})
    deadline = time.monotonic() + 30
    while not (s.log_file.exists() and "Load weight begin" in s.log_file.read_text()):  # past the port check
        assert time.monotonic() < deadline and s.proc.poll() is None, s.err()
        time.sleep(0.05)
    impostor = ThreadingHTTPServer(("127.0.0.1", port), Impostor)
    threading.Thread(target=impostor.serve_forever, daemon=True).start()
    try:
        code = s.finish(timeout=60)  # the stand-in cannot bind and exits
        assert code != 0 and not s.ready_file.exists()
        out = s.out() + s.err()
        assert "qwen-serve: ready in" not in out
        assert f"port {port} is taken by another server, pid {os.getpid()}" in out
    finally:
        impostor.shutdown()


def test_checks_after_ready_do_not_hold_up_the_stop_timeout(tmp_path, model_dir):
    """`--test` runs qwen-test's checks once ready; a stop during them still escalates on time."""
    from qwen_serve.supervise import ServerFacts, SuperviseOptions, Supervisor

    port = free_port()
    env = {**os.environ, "PYTHONPATH": str(FAKE), "FAKE_SGLANG_MODE": "ignore_term"}
    argv = [
        sys.executable,
        "-m",
        "sglang.launch_server",
        "--model-path",
        str(model_dir),
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
    ]
    checks_started = threading.Event()

    def slow_checks(_facts):
        checks_started.set()
        time.sleep(60)

    options = SuperviseOptions(tmp_path / "log", quiet=True, stop_timeout=1, env=env, after_ready=slow_checks)
    sup = Supervisor(argv, ServerFacts("127.0.0.1", port, str(model_dir)), options)
    threading.Thread(
        target=lambda: (checks_started.wait(30), os.kill(os.getpid(), signal.SIGTERM)), daemon=True
    ).start()
    start = time.monotonic()
    outcome = sup.run()
    assert checks_started.is_set() and outcome.exit_code == 128 + signal.SIGKILL
    assert time.monotonic() - start < 20  # not the checks' 60 s


def _installed_as(tmp_path, version: str) -> str:
    """A PYTHONPATH under which SGLang reports `version` (a dist-info ahead of the installed one) and imports as the
    stand-in."""
    info = tmp_path / "dist" / f"sglang-{version}.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: sglang\nVersion: {version}\n")
    return f"{info.parent}{os.pathsep}{FAKE}"


def test_a_release_between_adapters_is_read_by_its_own_parser_before_anything_starts(serve, tmp_path):
    """SGLang 0.5.20 installed (no folder of its own: the command comes from the adapter that holds it): its own parser
    reads the command first; accepted, one line says so and SGLang starts; a flag it removed is one line naming the
    setting, exit 2, nothing started (argparse then reads --enable-metrics as the start of another flag, as SGLang's
    own parser would)."""
    path = _installed_as(tmp_path, "0.5.20")
    s = serve("--quiet", mode="crash_oom", env_extra={"PYTHONPATH": path})
    s.finish()
    assert "sglang 0.5.20 (no adapter of its own" in s.err() and "its own parser accepts it" in s.err(), s.err()
    assert s.log_file.exists() and "Load weight begin" in s.log_file.read_text()
    s.log_file.unlink()
    refused = serve("--quiet", env_extra={"PYTHONPATH": path, "FAKE_SGLANG_REMOVED_FLAGS": "--enable-metrics"})
    assert refused.finish() == 2
    lines = [line for line in refused.err().splitlines() if line.strip() and "warning: --force" not in line]
    assert len(lines) == 1 and "sglang 0.5.20" in lines[0] and "enable_metrics" in lines[0], refused.err()
    assert not s.log_file.exists()  # SGLang never started


def test_sglang_gets_the_key_once_and_its_children_not_at_all(serve):
    """The user's QWEN_SERVE_API_KEY is qwen-serve's: SGLang gets the key in its entry module's variable, which that
    module removes before SGLang starts anything (the stand-in echoes what SGLang's code sees)."""
    names = ("QWEN_SERVE_API_KEY", "QWEN_SERVE_SGLANG_API_KEY")
    s = serve(env_extra={"QWEN_SERVE_API_KEY": "sk-env-key-0123456", "FAKE_SGLANG_ECHO_ENV": ",".join(names)})
    s.wait_ready()
    s.proc.send_signal(signal.SIGTERM)
    assert s.finish() == 0
    log = s.log_file.read_text()
    assert all(f"env {name}=<unset>" in log for name in names), log[-2000:]
    assert "sk-env-key-0123456" not in log + s.err()


def test_a_key_split_across_two_pipe_reads_is_still_masked(serve, tmp_path):
    """SGLang writes a line holding the key in two writes, 0.3 s apart: qwen-serve masks whole lines, so neither the
    log nor the screen shows the key (masking each read alone showed it)."""
    (tmp_path / "key").write_text(KEY + "\n")
    s = serve("--api-key-file", str(tmp_path / "key"), env_extra={"FAKE_SGLANG_SPLIT_KEY": "1"})
    s.wait_ready()
    s.proc.send_signal(signal.SIGTERM)
    assert s.finish() == 0
    log = s.log_file.read_text()
    assert "api_key='****' (one line, two writes)" in log, log[-2000:]
    for text in (s.out(), s.err(), log):
        assert KEY not in text and KEY[4:] not in text


def test_the_library_serves_as_the_command_does(tmp_path, model_dir):
    """docs/using.md's example, on the stand-in SGLang: launch.serve(request, options) prepares, checks, supervises
    and returns the command's exit code (0 after a SIGTERM once ready); a bad request raises before anything runs."""
    import textwrap

    ready = tmp_path / "ready.json"
    script = textwrap.dedent(
        f"""
        import os, sys
        from qwen_serve.errors import QwenServeError
        from qwen_serve.launch import LaunchRequest, ServeOptions, serve
        try:
            serve(LaunchRequest(cli_values={{"port": "99999"}}, environ={{}}))
        except QwenServeError as exc:
            print("refused:", exc, file=sys.stderr)
        request = LaunchRequest(
            cli_values={{"model_path": {str(model_dir)!r}, "port": "{free_port()}", "host": "127.0.0.1"}},
            force=True, environ={{}},
        )
        lines = []
        sys.exit(serve(request, ServeOptions(ready_file={str(ready)!r}, quiet=True, note=lines.append)))
        """
    )
    env = {**os.environ, "PYTHONPATH": str(FAKE), "XDG_CACHE_HOME": str(tmp_path / "cache")}
    proc = subprocess.Popen([sys.executable, "-c", script], env=env, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 60
    while not ready.exists():
        assert proc.poll() is None and time.monotonic() < deadline, proc.stderr.read()
        time.sleep(0.1)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    assert "refused: port: 99999" in err and "Traceback" not in err
