"""`--replicas N` / `--worker-url`: N qwen-serve workers (each supervising its SGLang) behind SGLang's own
router, supervised as one. The commands are read by qwen-serve's and sglang-router's own parsers; the live
tests run the real sglang-router (it runs on a CPU) in front of workers running the stand-in SGLang."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from conftest import free_ports

from qwen_serve.secret import MASK

FAKE = Path(__file__).parent / "fake_sglang"
ROOT = Path(__file__).resolve().parents[1]
KEY = "sk-fleet-secret"


def dry(qwen_serve, *args: str) -> dict:
    result = qwen_serve("--dry-run", "--json", *args)
    assert result.exit_code == 0, result.stderr
    return result.json()


def test_every_worker_is_the_same_sglang_on_its_own_gpus_and_port(qwen_serve):
    data = dry(qwen_serve, "--preset", "fp8", "--replicas", "2", "--gpu", "H100x4", "--tp-size", "2", "--port", "31000")
    one = dry(qwen_serve, "--preset", "fp8", "--gpu", "H100x2", "--tp-size", "2", "--port", "31000")["argv"]
    assert [w["url"] for w in data["workers"]] == ["http://127.0.0.1:31001", "http://127.0.0.1:31002"]
    assert [w["env"]["CUDA_VISIBLE_DEVICES"] for w in data["workers"]] == ["0,1", "2,3"]  # disjoint GPUs
    for i, w in enumerate(data["workers"]):
        argv = w["argv"]
        assert argv[1:3] == ["-m", "sglang.launch_server"]  # SGLang itself, not another qwen-serve
        # what one server on two of the GPUs would run, for the worker's own host and port
        assert argv[argv.index("--port") + 1] == str(31001 + i) and argv[argv.index("--host") + 1] == "127.0.0.1"
        mine = [a for a in argv if a not in ("127.0.0.1", str(31001 + i))]
        assert mine == [a for a in one if a not in ("0.0.0.0", "31000")]


def test_the_gpus_are_read_once_for_the_whole_fleet_and_each_worker_plans_on_its_own(monkeypatch, tmp_path):
    """#41: the library prepares every worker in this process from the GPUs read once (NVML), each planned on its own
    tp_size GPUs; the gate before the start does not read them again."""
    from qwen_serve import hardware, launch

    h100 = hardware.parse_gpu_spec("H100x4").gpu
    reads = []

    def detected():
        reads.append(1)
        gpus = tuple(
            hardware.GPU(h100.name, h100.memory_mib, h100.compute_capability, free_mib=80000 - i) for i in range(4)
        )
        return hardware.Hardware(gpus, "nvml", "580.1", "13.0"), "4 GPUs"

    monkeypatch.setattr(hardware, "detect_with_reason", detected)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    monkeypatch.setenv("HF_HUB_OFFLINE", "0")  # the hub id is SGLang's to download: nothing is fetched here
    port = free_ports(4)
    request = launch.LaunchRequest(preset="fp8", cli_values={"tp_size": 2, "port": port, "host": "127.0.0.1"})
    options = launch.ServeOptions()
    prepared = launch.prepare(request)
    fleet = launch.plan_fleet(prepared, request, launch.FleetOptions(replicas=2, router_metrics_port=port + 3), options)
    launch.check_fleet(prepared, request, fleet, options)
    assert len(reads) == 1
    assert [[g.free_mib for g in w.prepared.hardware.gpus] for w in fleet.workers] == [[80000, 79999], [79998, 79997]]
    assert all(w.prepared.fit.plan.fits and w.prepared.hardware.count == 2 for w in fleet.workers)


def test_the_router_fronts_every_worker_as_its_own_parser_reads_it(qwen_serve):
    from qwen_serve.sglang.router_entry import parse as parse_router_args  # the router's own parser

    data = dry(qwen_serve, "--replicas", "2", "--gpu", "H100x2", "--worker-url", "http://10.0.0.9:30000/")
    argv = data["router"]["argv"]
    assert argv[1:4] == ["-m", "qwen_serve.sglang.router_entry", "sglang_router"]  # the locked release's router
    args = parse_router_args(argv[4:], "sglang_router")
    assert args.worker_urls == ["http://127.0.0.1:30001", "http://127.0.0.1:30002", "http://10.0.0.9:30000"]
    assert (args.policy, args.host, args.port) == ("cache_aware", "0.0.0.0", 30000)
    assert (args.prometheus_host, args.prometheus_port) == ("0.0.0.0", 29000)  # the router's metrics, on --host
    local = dry(
        qwen_serve, "--replicas", "2", "--gpu", "H100x2", "--host", "127.0.0.1", "--router-metrics-port", "9100"
    )
    assert (
        parse_router_args(local["router"]["argv"][4:], "sglang_router").prometheus_host,
        local["router"]["metrics_port"],
    ) == (
        "127.0.0.1",
        9100,
    )
    only_router = dry(qwen_serve, "--worker-url", "http://10.0.0.9:30000", "--router-policy", "round_robin")
    assert (
        only_router["workers"] == []
        and parse_router_args(only_router["router"]["argv"][4:], "sglang_router").policy == "round_robin"
    )


def test_gpu_share_splits_one_servers_memory_and_the_first_share_must_fit(qwen_serve):
    data = dry(qwen_serve, "--preset", "fp8", "--replicas", "2", "--gpu-share", "--gpu", "H200")
    one = dry(qwen_serve, "--preset", "fp8", "--gpu", "H200")  # what one server would take
    whole = {s["key"]: s for s in one["settings"]}.get("mem_fraction_static", {}).get("value") or one["plan"][
        "mem_fraction_static"
    ]
    fractions = [float(w["argv"][w["argv"].index("--mem-fraction-static") + 1]) for w in data["workers"]]
    # SGLang sizes its KV pool from the memory free after its weights less total x (1 - fraction): with worker 0
    # holding its half, worker 1 at the whole fraction gets the same half
    assert fractions == [round(whole / 2, 4), round(whole, 4)]
    assert [w["env"]["CUDA_VISIBLE_DEVICES"] for w in data["workers"]] == ["0", "0"]
    too_many = qwen_serve(
        "--dry-run", "--preset", "high_performance", "--replicas", "4", "--gpu-share", "--gpu", "RTX 4090"
    )
    assert too_many.exit_code == 2 and "--gpu-share: 4 workers on RTX 4090" in too_many.stderr
    assert "does not fit" in too_many.stderr and len(too_many.error_lines) == 1


def test_the_api_key_is_in_no_fleet_command_line(qwen_serve):
    from qwen_serve.sglang.argv import API_KEY_ENV

    data = dry(qwen_serve, "--replicas", "2", "--gpu", "H100x2", "--api-key", KEY)
    text = json.dumps(data)
    assert KEY not in text  # the router reads it from its environment, each SGLang from API_KEY_ENV
    assert all(w["env"][API_KEY_ENV] == MASK and "--api-key" not in w["argv"] for w in data["workers"])
    assert "--api-key" not in data["router"]["argv"]


@pytest.mark.parametrize(
    "args, words",
    [
        (("--replicas", "0"), "--replicas 0 starts no worker, and no --worker-url names one"),
        (("--replicas", "two"), "'--replicas': 'two' is not a valid integer"),
        (("--replicas", "65"), "'--replicas': 65 is not in the range 0<=x<=64"),
        (("--replicas", "3", "--gpu", "H100x2"), "--replicas 3 with tp_size 1 needs 3 GPUs; 2 are visible"),
        (("--worker-url", "ftp://x:1"), "--worker-url 'ftp://x:1' is not a server URL"),
        (("--worker-url", "http://x:1/v1"), "--worker-url 'http://x:1/v1' is not a server URL"),
        (("--replicas", "2", "--gpu", "H100x2", "--router-policy", "best"), "--router-policy 'best' is not a policy"),
        (
            ("--replicas", "1", "--gpu-share", "--gpu", "H100", "--worker-url", "http://x:1"),
            "--gpu-share needs --replicas 2",
        ),
        (("--replicas", "2", "--gpu-share", "--force"), "--gpu-share splits the memory one server would take"),
        (("--replicas", "2", "--gpu", "H100x2", "--router-metrics-port", "0"), "'--router-metrics-port': 0 is not in"),
        (
            ("--replicas", "2", "--gpu", "H100x2", "--router-metrics-port", "30002"),
            "--router-metrics-port 30002 is the router's or a worker's own port",
        ),
        (("--replicas", "2", "--gpu", "H100x2", "--router-metrics-port", "x"), "'--router-metrics-port': 'x' is not a"),
        (("--gpu", "H100", "--gpu-share"), "--gpu-share is for several workers behind a router"),
        (("--gpu", "H100", "--router-policy", "round_robin"), "--router-policy is for several workers"),
        (("--gpu", "H100", "--replicas", "1", "--router-metrics-port", "9100"), "--router-metrics-port is for several"),
    ],
)
def test_bad_fleet_input_is_one_line(qwen_serve, args, words):
    result = qwen_serve("--dry-run", *args)
    assert result.exit_code == 2 and len(result.error_lines) == 1, result.stderr
    assert words in result.stderr


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
        return open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()[0] != "Z"
    except (ProcessLookupError, OSError):
        return False


@pytest.fixture
def fleet(tmp_path):
    procs = []

    def start(*extra: str, mode: str = "ok", port: int | None = None):
        port = port or free_ports(4)  # router, two workers, the router's metrics
        model = tmp_path / "model"
        model.mkdir(exist_ok=True)
        (model / "config.json").write_text("{}")
        env = {
            **os.environ,
            "PYTHONPATH": str(FAKE),
            "FAKE_SGLANG_MODE": mode,
            "XDG_CACHE_HOME": str(tmp_path / "cache"),
        }
        argv = [sys.executable, "-m", "qwen_serve", "--model-path", str(model), "--host", "127.0.0.1"]
        argv += ["--port", str(port), "--force", "--ready-file", str(tmp_path / "ready.json"), *extra]
        argv += ["--router-metrics-port", str(port + 3)]
        err = open(tmp_path / "stderr.txt", "w")
        proc = subprocess.Popen(argv, env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=err)
        procs.append(proc)
        return proc, port

    def wait_ready(proc, timeout=90):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if (tmp_path / "ready.json").exists():
                return json.loads((tmp_path / "ready.json").read_text())
            assert proc.poll() is None, (tmp_path / "stderr.txt").read_text()
            time.sleep(0.2)
        raise AssertionError("not ready: " + (tmp_path / "stderr.txt").read_text())

    yield start, wait_ready, tmp_path
    for p in procs:
        if p.poll() is None:
            p.kill()


def test_two_workers_behind_the_router_then_one_ctrl_c_stops_everything(fleet):
    start, wait_ready, tmp = fleet
    proc, port = start("--replicas", "2", "--api-key", KEY)
    facts = wait_ready(proc)
    assert facts["base_url"] == f"http://127.0.0.1:{port}" and facts["api_key_required"]
    pids = [facts["router_pid"]] + [w["pid"] for w in facts["workers"]]  # router, each worker's SGLang
    assert len(facts["workers"]) == 2 and all(alive(p) for p in pids)
    for pid in pids:  # the key reached them, yet stands in no process's command line
        assert KEY.encode() not in Path(f"/proc/{pid}/cmdline").read_bytes()
    body = {"text": "hi", "sampling_params": {"max_new_tokens": 1}}
    headers = {"Authorization": f"Bearer {KEY}"}
    assert httpx.post(f"http://127.0.0.1:{port}/generate", json=body, headers=headers, timeout=30).status_code == 200
    assert httpx.post(f"http://127.0.0.1:{port}/generate", json=body, timeout=30).status_code == 401
    proc.send_signal(signal.SIGINT)
    assert proc.wait(timeout=60) == 0, (tmp / "stderr.txt").read_text()
    deadline = time.monotonic() + 10
    while any(alive(p) for p in pids) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not any(alive(p) for p in pids)
    assert "SIGINT: stopping the router and every worker" in (tmp / "stderr.txt").read_text()


def test_a_worker_that_dies_stops_the_service_and_is_named(fleet):
    start, wait_ready, tmp = fleet
    proc, port = start("--replicas", "2")
    facts = wait_ready(proc)
    pids = [facts["router_pid"]] + [w["pid"] for w in facts["workers"]]
    os.kill(facts["workers"][1]["pid"], signal.SIGKILL)  # worker 1's SGLang crashes
    code = proc.wait(timeout=60)
    err = (tmp / "stderr.txt").read_text()
    assert code != 0 and f"worker 1 (port {port + 2}) exited with code" in err, err
    deadline = time.monotonic() + 10
    while any(alive(p) for p in pids) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not any(alive(p) for p in pids)


def test_a_router_that_ends_just_before_the_worker_it_followed_names_both_the_worker_first(fleet):
    """A router and a worker that end within moments, the router first as qwen-serve sees them (seen once with a
    killed worker): the line names both, the worker first."""
    start, wait_ready, tmp = fleet
    proc, port = start("--replicas", "2")
    facts = wait_ready(proc)
    os.kill(facts["router_pid"], signal.SIGKILL)
    time.sleep(0.05)
    os.kill(facts["workers"][1]["pid"], signal.SIGKILL)
    assert proc.wait(timeout=60) != 0
    err = (tmp / "stderr.txt").read_text()
    line = next(x for x in err.splitlines() if "exited with code" in x)
    assert line.index(f"worker 1 (port {port + 2}) exited with code 137") < line.index(
        f"router (port {port}) exited with code 137"
    ), err


def test_a_worker_that_fails_to_start_is_named_with_why_and_no_log_holds_the_key(fleet):
    """Each worker is an SGLang this process supervises: its start-up phases are noted under its name, its crash
    before ready is diagnosed from its own log, and its log has the key masked (the stand-in prints it)."""
    start, _, tmp = fleet
    proc, port = start("--replicas", "2", "--api-key", KEY, mode="crash_oom")
    code = proc.wait(timeout=60)
    err = (tmp / "stderr.txt").read_text()
    assert code == 1 and "exited with code 1 before it was ready: the GPU ran out of memory" in err, err
    assert f"worker 0 (port {port + 1}): [" in err and "loading weights" in err  # its phases, under its name
    logs = sorted(tmp.glob("cache/qwen-serve/logs/fleet-*/worker*.sglang.log"))
    assert len(logs) == 2 and all("api_key='****'" in log.read_text() for log in logs)
    assert not any(KEY in log.read_text() for log in logs) and not (tmp / "ready.json").exists()


@pytest.fixture
def router_in_front_of_cpu_servers(cpu_server, other_cpu_server, tmp_path):
    """The real sglang-router (`qwen-serve --worker-url`) in front of the two CPU servers, each behind a shim
    that makes `transformers serve` look like SGLang to the router: /get_model_info and SGLang's native
    /generate (the readiness probe's one-token generation, through /v1/completions), and the SGLang-only
    request fields (ignore_eos, no_stop_trim, …) that transformers serve refuses with 422 'Unexpected fields
    in the request: {…}' dropped. The OpenAI endpoints qwen-test and qwen-bench use pass through as they come."""
    import ast
    import re

    import aiohttp
    from aiohttp import web
    from conftest import MODEL_ID
    from test_bench import aiohttp_app_served

    def shim(upstream: str, model_dir: Path) -> web.Application:
        # the tokenizer from the local model directory: the router would look the model id up on the hub
        info = {"model_path": MODEL_ID, "served_model_name": MODEL_ID, "tokenizer_path": str(model_dir)}

        async def model_info(request: web.Request) -> web.Response:
            return web.json_response({**info, "is_generation": True})

        async def generate(request: web.Request) -> web.Response:
            ask = await request.json()
            body = {"model": MODEL_ID, "prompt": ask.get("text", ""), "max_tokens": 1, "temperature": 0}
            async with aiohttp.ClientSession() as session:
                async with session.post(upstream + "/v1/completions", json=body) as r:
                    done = await r.json()
            return web.json_response({"text": done["choices"][0]["text"], "meta_info": {"completion_tokens": 1}})

        async def forward(request: web.Request) -> web.StreamResponse:
            body = await request.read()
            async with aiohttp.ClientSession() as session:
                for _ in range(3):  # drop what it names as unexpected, then send again
                    async with session.request(
                        request.method,
                        upstream + request.path_qs,
                        data=body,
                        headers={"Content-Type": "application/json"},
                    ) as r:
                        if r.status == 422 and body:
                            found = re.search(r"Unexpected fields in the request: (\{.*?\})", await r.text())
                            if found:
                                payload = json.loads(body)
                                for key in ast.literal_eval(found.group(1)):
                                    payload.pop(key, None)
                                body = json.dumps(payload).encode()
                                continue
                        out = web.StreamResponse(
                            status=r.status, headers={"Content-Type": r.headers.get("Content-Type", "")}
                        )
                        await out.prepare(request)
                        async for chunk in r.content.iter_any():
                            await out.write(chunk)
                        await out.write_eof()
                        return out
            return web.Response(status=502)

        app = web.Application()
        for path in ("/get_model_info", "/model_info", "/get_server_info", "/server_info"):
            app.router.add_get(path, model_info)
        app.router.add_post("/generate", generate)
        app.router.add_route("*", "/{tail:.*}", forward)
        return app

    with (
        aiohttp_app_served(shim(*cpu_server)) as one,
        aiohttp_app_served(shim(*other_cpu_server)) as two,
    ):
        port = free_ports(2)
        ready = tmp_path / "router.json"
        env = {**os.environ, "XDG_CACHE_HOME": str(tmp_path / "cache")}
        argv = [sys.executable, "-m", "qwen_serve", "--worker-url", one, "--worker-url", two, "--host", "127.0.0.1"]
        argv += ["--port", str(port), "--ready-file", str(ready), "--router-policy", "round_robin"]
        argv += ["--router-metrics-port", str(port + 1)]
        err = open(tmp_path / "stderr.txt", "w")
        proc = subprocess.Popen(argv, env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=err)
        try:
            deadline = time.monotonic() + 60
            while not ready.exists():
                assert proc.poll() is None and time.monotonic() < deadline, (tmp_path / "stderr.txt").read_text()
                time.sleep(0.2)
            yield f"http://127.0.0.1:{port}", cpu_server[1], json.loads(ready.read_text()), (one, two)
        finally:
            proc.send_signal(signal.SIGINT)
            assert proc.wait(timeout=30) == 0, (tmp_path / "stderr.txt").read_text()


def test_qwen_test_and_qwen_bench_work_through_the_router(router_in_front_of_cpu_servers, tmp_path):
    from click.testing import CliRunner

    from qwen_serve.cli import bench_group
    from qwen_serve.cli.qwen_test import qwen_test_command

    url, model_dir, facts, workers = router_in_front_of_cpu_servers
    # the OpenAI endpoints through the router (chat is checked against the servers themselves in test_client:
    # a CPU server's first chat request costs it 17 s of warm-up)
    checks = CliRunner().invoke(qwen_test_command, ["--base-url", url, "--json", "--only", "health,models,completions"])
    assert checks.exit_code == 0, checks.output
    assert {r["name"]: r["status"] for r in json.loads(checks.stdout)["checks"]} == dict.fromkeys(
        ("health", "models", "completions"), "pass"
    )
    out = tmp_path / "bench.json"
    bench = CliRunner().invoke(
        bench_group,
        ["--base-url", url, "--tokenizer", str(model_dir), "--input-len", "8", "--output-len", "2"]
        + ["--concurrency", "2", "--requests", "4", "--warmup", "0", "--out", str(out)],
    )
    assert bench.exit_code == 0, bench.output
    assert json.loads(out.read_text())["levels"][0]["completed"] == 4
    # the router's own metrics count what each worker served: round_robin gave both a share of the traffic
    from prometheus_client.parser import text_string_to_metric_families

    served: dict[str, float] = {}
    for family in text_string_to_metric_families(httpx.get(facts["router_metrics_url"], timeout=10).text):
        for s in family.samples:  # the router's circuit breaker counts every answer it passed on, per worker
            if s.name == "smg_worker_cb_outcomes_total" and s.labels.get("outcome") == "success":
                served[s.labels["worker"]] = served.get(s.labels["worker"], 0) + s.value
    assert set(served) == set(workers) and all(n >= 2 for n in served.values()), served


def test_with_gpu_share_the_workers_start_one_after_another(fleet):
    start, wait_ready, tmp = fleet
    proc, port = start("--replicas", "2", "--gpu-share", "--mem-fraction-static", "0.8")
    facts = wait_ready(proc)
    err = (tmp / "stderr.txt").read_text()
    assert f"worker 1 (port {port + 2}): starting, the worker before it ready" in err, err
    assert err.index("worker 1 (port") < err.index("every worker ready")
    assert [w["port"] for w in facts["workers"]] == [port + 1, port + 2]
    proc.send_signal(signal.SIGINT)
    assert proc.wait(timeout=60) == 0


def test_check_with_replicas_parses_the_workers_command_and_launches_nothing(qwen_serve):
    result = qwen_serve("--replicas", "2", "--gpu", "H100x2", "--preset", "fp8", "--check")
    assert result.exit_code == 0, result.stderr
    assert "own parser accepts the command" in result.stdout and "starting" not in result.stderr


def test_log_file_names_the_routers_log_and_the_workers_logs_go_beside_it(qwen_serve, tmp_path):
    data = dry(qwen_serve, "--replicas", "2", "--gpu", "H100x2", "--log-file", str(tmp_path / "run" / "router.log"))
    assert [w["log_file"] for w in data["workers"]] == [str(tmp_path / "run" / f"worker{i}.sglang.log") for i in (0, 1)]


@pytest.mark.parametrize(
    "offset, words",
    [(3, "--router-metrics-port {p} on host 127.0.0.1 is already in use"), (2, "worker 1's port (--port + 2) {p}")],
)
def test_a_taken_router_metrics_or_worker_port_is_one_line_before_anything_starts(fleet, offset, words):
    start, _, tmp = fleet
    with socket.socket() as taken:
        port = free_ports(4)
        taken.bind(("127.0.0.1", port + offset))
        taken.listen()
        proc, _ = start("--replicas", "2", port=port)
        code = proc.wait(timeout=60)
    err = (tmp / "stderr.txt").read_text()
    lines = [x for x in err.splitlines() if "error:" in x]
    assert code == 2 and len(lines) == 1 and words.format(p=port + offset) in lines[0], err
    assert "starting 2 worker(s)" not in err and not list(tmp.glob("cache/qwen-serve/logs/fleet-*/worker*"))


def test_with_worker_urls_alone_the_routers_taken_port_is_one_line(fleet):
    start, _, tmp = fleet
    with socket.socket() as taken:
        port = free_ports(4)
        taken.bind(("127.0.0.1", port))
        taken.listen()
        proc, _ = start("--worker-url", "http://127.0.0.1:9", port=port)
        code = proc.wait(timeout=60)
    err = (tmp / "stderr.txt").read_text()
    lines = [x for x in err.splitlines() if "error:" in x]
    assert code == 2 and len(lines) == 1 and f"port: {port} (cli) on host 127.0.0.1 is already in use" in lines[0], err


def test_the_library_refuses_a_fleet_with_no_worker_as_the_command_does(tmp_path, monkeypatch):
    from qwen_serve import launch
    from qwen_serve.errors import QwenServeError

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    request = launch.LaunchRequest(preset="fp8", gpu_spec="H100x2")
    prepared = launch.prepare(request)
    with pytest.raises(QwenServeError, match="--replicas 0 starts no worker"):
        launch.plan_fleet(prepared, request, launch.FleetOptions(replicas=0), launch.ServeOptions())
    only_router = launch.FleetOptions(replicas=0, worker_urls=("http://10.0.0.9:30000",))
    assert launch.plan_fleet(prepared, request, only_router, launch.ServeOptions()).worker_urls == [
        "http://10.0.0.9:30000"
    ]


def test_the_library_reads_the_fleets_flags_as_the_command_does():
    """FleetOptions.asked: nothing given is one server with no router; --worker-url alone is the router alone; a
    router's flag with one server is refused, naming the flag, as `qwen-serve` refuses it."""
    from qwen_serve.errors import QwenServeError
    from qwen_serve.launch import FleetOptions

    assert FleetOptions.asked() is None and FleetOptions.asked(replicas=1) is None
    assert FleetOptions.asked(worker_urls=["http://10.0.0.9:30000"]) == FleetOptions(
        replicas=0, worker_urls=("http://10.0.0.9:30000",)
    )
    assert FleetOptions.asked(replicas=2, router_policy=None).router_policy == "cache_aware"
    assert FleetOptions.asked(replicas=2, router_policy="random", router_metrics_port=29001) == FleetOptions(
        replicas=2, router_policy="random", router_metrics_port=29001
    )
    for given, flag in (
        ({"gpu_share": True}, "--gpu-share"),
        ({"router_metrics_port": 29000}, "--router-metrics-port"),
    ):
        with pytest.raises(QwenServeError, match=f"^{flag} is for several workers behind a router"):
            FleetOptions.asked(replicas=1, **given)
