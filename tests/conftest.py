from __future__ import annotations

import json
import os
import shlex
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
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
# One OpenMP thread for torch in every test process and server: the tiny CPU model's matrices are too small for a
# second thread to help, and on 2 cores an idle OpenMP thread spins beside the other test processes (a CPU server
# spent 7.4 s of CPU on 256 tokens with the default threads, 3.0 s with one, and answered sooner).
os.environ.setdefault("OMP_NUM_THREADS", "1")
# Python's own default: write the bytecode of what is imported (.pyc), so that the tests' many processes (each
# importing click, rich, transformers or SGLang) compile a module once, not once per process. A workplace that
# sets PYTHONDONTWRITEBYTECODE=1 (this one does) made the product suite take 5 min 43 s on 2 cores, against 3 min
# 30 s with site-packages' bytecode present (2026-12-03).
os.environ.pop("PYTHONDONTWRITEBYTECODE", None)
sys.dont_write_bytecode = False
# What the shared servers and run-ahead subprocesses below start with: the environment as the session began. They
# are started from a thread while tests run in the same process, and a test's monkeypatch.setenv (PYTHONPATH to the
# stand-in SGLang, say) must not reach them; nor a test's monkeypatch.chdir (`python -m` imports from the cwd).
SESSION_ENV = dict(os.environ)


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
from qwen_serve.demo import MODEL_ID  # noqa: E402


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def free_ports(n: int) -> int:
    """A port P with P … P+n-1 all free."""
    for _ in range(50):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            base = s.getsockname()[1]
        if base + n > 65535:
            continue
        try:
            for p in range(base, base + n):
                with socket.socket() as t:
                    t.bind(("127.0.0.1", p))
            return base
        except OSError:
            continue
    raise AssertionError("no run of free ports")


# The CPU servers and the run-ahead subprocesses are shared by the test processes (pytest-xdist's workers and
# the controller that starts them): the first process that wants one starts it, in its own session so that it
# outlives that process, and records it in SHARED; every other process finds it there. The controller (or a
# run without xdist) stops them all at the end. Each worker booting its own would cost the 2-core machine two
# more transformers servers and a second SGLang import.
if "QWEN_SERVE_TEST_SHARED" not in os.environ:  # the first test process: the controller, or a run without xdist
    os.environ["QWEN_SERVE_TEST_SHARED"] = tempfile.mkdtemp(prefix="qwen-serve-tests-")
    os.environ["QWEN_SERVE_TEST_SHARED_OWNER"] = str(os.getpid())
SHARED = Path(os.environ["QWEN_SERVE_TEST_SHARED"])
# only the process that made SHARED stops what it holds (a pytest that a test starts inherits the variables)
OWNER = os.environ.get("QWEN_SERVE_TEST_SHARED_OWNER") == str(os.getpid())


def _record(name: str) -> dict | None:
    try:
        return json.loads((SHARED / f"{name}.json").read_text())
    except (FileNotFoundError, json.JSONDecodeError):
        return None


def _write_record(name: str, record: dict) -> None:
    tmp = SHARED / f"{name}.json.tmp-{os.getpid()}"
    tmp.write_text(json.dumps(record))
    tmp.replace(SHARED / f"{name}.json")


def _lock(name: str):
    from filelock import FileLock

    return FileLock(str(SHARED / f"{name}.lock"))


class CpuServer:
    """transformers serve on 127.0.0.1, the --tiny Qwen3 (random weights of this seed) from an offline HF
    cache of its own. Spawned as soon as the collected tests show they need it, so that it boots while
    the tests that need no server run; `ready()` waits for it, and warms it once (its first request loads
    the model)."""

    @staticmethod
    def start(seed: int) -> None:
        """Start the server of this seed unless a test process already has (its record in SHARED)."""
        with _lock(f"cpu-server-{seed}"):
            if _record(f"cpu-server-{seed}"):
                return
            from qwen_serve.demo import demo_model  # what `qwen-serve demo` serves, of this seed

            home = Path(tempfile.mkdtemp(prefix=f"cpu-server-{seed}-", dir=SHARED))
            model = demo_model(home, seed=seed)
            model_dir = model.snapshot
            url = f"http://127.0.0.1:{free_port()}"
            env = {**SESSION_ENV, "HF_HUB_CACHE": str(model.cache), "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
            exe = shutil.which("transformers", path=str(Path(sys.executable).parent))
            with open(home / "server.log", "w") as log:
                proc = subprocess.Popen(
                    [exe, "serve", "--host", "127.0.0.1", "--port", url.rsplit(":", 1)[1], "--device", "cpu"],
                    env=env,
                    cwd=ROOT,
                    stdin=subprocess.DEVNULL,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,  # outlives the test process that started it; the controller stops it
                )
            record = {"url": url, "model_dir": str(model_dir), "pid": proc.pid, "home": str(home), "warm": False}
            _write_record(f"cpu-server-{seed}", record)

    @staticmethod
    def ready(seed: int) -> tuple[str, Path]:
        CpuServer.start(seed)
        with _lock(f"cpu-server-{seed}-warm"):  # one process warms it; the others wait here, then find it warm
            record = _record(f"cpu-server-{seed}")
            deadline = time.monotonic() + 180
            while not record["warm"] and time.monotonic() < deadline:
                log = Path(record["home"]) / "server.log"
                assert _alive(record["pid"]), log.read_text(errors="replace")[-3000:]
                try:
                    if httpx.get(record["url"] + "/health", timeout=2).status_code == 200:
                        # the first request loads the model; not part of any check's timing
                        body = {"model": MODEL_ID, "prompt": "hi", "max_tokens": 1}
                        httpx.post(record["url"] + "/v1/completions", json=body, timeout=120)
                        record["warm"] = True
                        _write_record(f"cpu-server-{seed}", record)
                except httpx.HTTPError:
                    time.sleep(0.5)
            assert record["warm"], "transformers serve did not become healthy in 180 s"
        return record["url"], Path(record["model_dir"])


def _alive(pid: int) -> bool:
    """Whether the process runs: our own child that exited is reaped (a zombie answers signal 0), another's asked."""
    try:
        if os.waitpid(pid, os.WNOHANG)[0]:
            return False
    except ChildProcessError:
        pass
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def _stop(pid: int) -> None:
    """SIGTERM to the server's session, SIGKILL if it is still there 20 s later."""
    import signal

    for sig, wait in ((signal.SIGTERM, 20.0), (signal.SIGKILL, 5.0)):
        try:
            os.killpg(pid, sig)
        except ProcessLookupError:
            return
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            if not _alive(pid):
                return
            time.sleep(0.1)


class Ahead:
    """A subprocess whose result a test needs, started ahead of that test (once the CPU servers are up), so that
    its imports (real SGLang: torch and all) run while other tests wait on processes and servers. Its output and
    exit code land in SHARED, where any test process reads them."""

    def __init__(self, name: str, argv: list[str]):
        self.name, self.argv = name, argv

    def start(self) -> None:
        with _lock(f"ahead-{self.name}"):
            if _record(f"ahead-{self.name}"):
                return
            out, err, code = (SHARED / f"ahead-{self.name}.{x}" for x in ("out", "err", "code"))
            script = f'"$@" > {shlex.quote(str(out))} 2> {shlex.quote(str(err))}; echo $? > {shlex.quote(str(code))}'
            proc = subprocess.Popen(
                ["sh", "-c", script, "ahead", *self.argv],
                env=SESSION_ENV,
                cwd=ROOT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
            _write_record(f"ahead-{self.name}", {"pid": proc.pid})

    def result(self, timeout: float) -> subprocess.CompletedProcess:
        self.start()
        code = SHARED / f"ahead-{self.name}.code"
        deadline = time.monotonic() + timeout
        while not (code.exists() and code.read_text().strip()):
            assert time.monotonic() < deadline, f"{self.argv} did not finish in {timeout:.0f} s"
            time.sleep(0.2)
        read = (SHARED / f"ahead-{self.name}.{x}" for x in ("out", "err"))
        return subprocess.CompletedProcess(self.argv, int(code.read_text()), *(p.read_text() for p in read))


NEEDS = {0: {"cpu_server", "server", "relay"}, 1: {"other_cpu_server"}}
WANTED: list[int] = []  # seeds the collected tests need, in boot order
AHEAD = {"entry_module_help": Ahead("entry_module_help", [sys.executable, "-m", "qwen_serve.sglang.entry", "--help"])}
AHEAD_WANTED: list[str] = []


# Tests that one test process runs together, by node id prefix, so that what they share is done once in the session:
# those that import SGLang (and with it torch and transformers: about 9 s of CPU) into the test process itself, and
# those that share the releases' parser runs (release_run, one SGLang import in a subprocess per release). A test
# missing here still passes; it only costs its process that work again.
TOGETHER = {
    "in-process SGLang": (
        "tests/test_sglang_parser.py::",
        "tests/test_torchao_compat.py::",
        "tests/test_layered_load.py::",
        "tests/test_skeleton.py::",
        "tests/test_long_context.py::test_sglangs_own_model_config_accepts_the_override",
        "tests/test_client.py::test_sglangs_own_parser_constrains",
        "tests/test_client.py::test_the_tools_check_closes_its_call_under_sglangs_grammar",
        "tests/test_fleet.py::test_check_with_replicas_parses_the_workers_command",
        "tests/test_bench.py::test_prompts_have_the_exact_token_count_by_the_servers_own_tokenizer",
        "tests/lab/test_bench_scripts.py::test_interleaved_passes_alternate_the_tools",
    ),
    "the releases' parser runs": (
        "tests/test_releases.py::test_flags_json_is_what_the_releases_own_parser_defines",
        "tests/test_releases.py::test_every_preset_is_a_command_the_releases_parser_takes",
    ),
}


# Test files whose tests mostly wait (on signals, timeouts, stand-in servers), by node id prefix: two of the four test
# processes (pyproject's -n 4) take them, one test about in turn each, while the other two keep the cores busy with
# the rest. Spread among all four, they had every process waiting at once for a minute, the cores idle. A file
# missing here only runs where it falls.
MOSTLY_WAIT = (
    "tests/test_supervise.py::",
    "tests/test_hostile_servers.py::",
    "tests/test_download.py::",
    "tests/test_tune.py::",
    "tests/lab/test_presets_summary.py::",
)
WAITING_LANES = 2


def scheduling_unit(nodeid: str, lanes: dict[str, str]) -> str:
    """The unit xdist gives one test process for this test: its TOGETHER group, a lane of MOSTLY_WAIT tests (dealt in
    turn, `lanes` remembering each test's), or the test alone."""
    if nodeid.startswith(MOSTLY_WAIT):
        return lanes.setdefault(nodeid, f"mostly waiting, lane {len(lanes) % WAITING_LANES}")
    return next((group for group, prefixes in TOGETHER.items() if nodeid.startswith(prefixes)), nodeid)


def pytest_xdist_make_scheduler(config, log):
    """xdist's load scheduling, test by test, except for the units of `scheduling_unit`. (xdist's own `--dist
    loadgroup` cannot group tests under pytest 9.2, which ignores its renaming of node ids: pytest-xdist#1386.)"""
    from xdist.scheduler import LoadScopeScheduling

    lanes: dict[str, str] = {}  # in the order the scheduler reads the collection

    class Together(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            return scheduling_unit(nodeid, lanes)

    return Together(config, log)


def pytest_collection_modifyitems(session, config, items):
    # the tests that wait on a CPU server (or a subprocess run ahead) last, in their order: the servers boot while
    # the rest run, instead of holding a test process idle (every process sorts alike, as xdist requires)
    waits = set().union(*NEEDS.values(), AHEAD)
    items[:] = sorted(items, key=lambda item: bool(waits & set(item.fixturenames)))
    names = set().union(*(item.fixturenames for item in items)) if items else set()
    WANTED[:] = [seed for seed, fixtures in NEEDS.items() if names & fixtures]
    AHEAD_WANTED[:] = [name for name in AHEAD if name in names]
    if WANTED or AHEAD_WANTED:
        threading.Thread(target=_boot_in_turn, daemon=True).start()


def _boot_in_turn() -> None:
    """What the last tests wait on, made ready one at a time in a thread of the first test process to get here
    (on 2 cores, two booting beside the tests slow everything down): each CPU server booted and warmed, then each
    subprocess run ahead. It runs while the other tests run, largely while they wait on processes of their own. A
    test finds its server or result ready, or makes it ready itself (and fails with the cause) where this did not."""
    from filelock import Timeout

    try:
        with _lock("boot-in-turn").acquire(timeout=0):
            for seed in WANTED:
                CpuServer.ready(seed)
            for name in AHEAD_WANTED:
                AHEAD[name].result(timeout=300)
    except (Timeout, AssertionError, OSError):
        pass  # another process boots them, or the test that needs one meets the failure itself


@pytest.fixture
def entry_module_help() -> subprocess.CompletedProcess:
    """`python -m qwen_serve.sglang.entry --help` with the real SGLang, run ahead."""
    return AHEAD["entry_module_help"].result(timeout=300)


def pytest_unconfigure(config):
    """The controller (or a run without xdist) stops what any test process started, once every one is done."""
    if not OWNER:
        return
    for path in SHARED.glob("*.json"):
        record = _record(path.stem)
        if record and "pid" in record:
            _stop(record["pid"])
    shutil.rmtree(SHARED, ignore_errors=True)


@pytest.fixture(scope="session")
def cpu_server():
    """transformers serve on 127.0.0.1, model from an offline HF cache: (url, model directory)."""
    return CpuServer.ready(0)


@pytest.fixture(scope="session")
def other_cpu_server():
    """A second transformers serve whose tiny Qwen3 has other random weights (a stand-in for a quantized
    copy of the same model: same tokenizer and shapes, different numbers)."""
    return CpuServer.ready(1)


@pytest.fixture
def server(cpu_server):
    return cpu_server[0]
