"""Several SGLang workers behind SGLang's own router (`--replicas N`, `--worker-url URL`), supervised as one.

Each worker is a `qwen-serve` process of its own on 127.0.0.1 (port + 1 … port + N, its own GPUs through
CUDA_VISIBLE_DEVICES), so every worker keeps all of qwen-serve's supervision of its SGLang: its plan, its
drain on SIGTERM, nothing outliving it. Once every worker has written its ready file, the SGLang release's router
(sglang-router; smg from SGLang 0.5.18 on) starts
on --host/--port in front of them (cache-aware routing by default); the service is ready when a generation
through the router succeeds. One stop signal: SIGTERM to the router and to every worker (each drains its
SGLang); a second one, a second or more later, or the stop timeout: SIGKILL to all. A worker or the router
that exits on its own stops the rest, and qwen-serve exits with its code and names it: restarting a
replica of a model that just crashed would hide the crash, and the router keeps no state worth saving.
"""

from __future__ import annotations

import json
import os
import re
import signal
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .errors import QwenServeError
from .outputs import WRITER_PID, WRITTEN_BY, remove_ready_file, write_json
from .secret import MASK, Secret, reveal
from .settings import ROUTER_METRICS_PORT
from .sglang.releases import check_router_policy
from .supervise import (
    EXIT_INTERRUPTED,
    EXIT_NOT_READY,
    Engine,
    ManagedProcess,
    answers_a_generation,
    exit_status,
)

ROUTER_ENTRY = "qwen_serve.sglang.router_entry"
ROUTER_KEY_ENV = "QWEN_SERVE_ROUTER_API_KEY"  # the router's key: read in its process, never in its argv


@dataclass(frozen=True)
class Worker:
    index: int
    port: int
    argv: tuple[str, ...]  # qwen-serve's command for this worker (its SGLang command is its own --dry-run)
    env: dict[str, str] = field(default_factory=dict)  # CUDA_VISIBLE_DEVICES
    sglang_argv: tuple[str, ...] = ()  # for --dry-run: what that worker will launch

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


@dataclass(frozen=True)
class Fleet:
    workers: tuple[Worker, ...]
    router_module: str  # the SGLang release's router (Release.router_module); no default
    router_policy: str
    host: str
    port: int
    metrics_port: int  # the router's Prometheus /metrics (requests per worker, latencies)
    remote_workers: tuple[str, ...] = ()  # --worker-url: served elsewhere, not started here
    api_key: Secret | None = None
    gpu_share_staggered: bool = False  # --gpu-share: each worker starts once the one before it is ready

    @property
    def worker_urls(self) -> list[str]:
        return [w.url for w in self.workers] + list(self.remote_workers)

    @property
    def router_argv(self) -> tuple[str, ...]:
        """The release's router (sglang_router, or smg from SGLang 0.5.18 on) in front of the workers, read by that
        router's own parser in CI; its Prometheus metrics on the service's host (the router's own default is every
        interface) and `metrics_port`."""
        return (
            sys.executable,
            "-m",
            ROUTER_ENTRY,
            self.router_module,
            "--worker-urls",
            *self.worker_urls,
            "--policy",
            self.router_policy,
            "--host",
            self.host,
            "--port",
            str(self.port),
            "--prometheus-host",
            self.host,
            "--prometheus-port",
            str(self.metrics_port),
        )


def worker_gpus(index: int, tp_size: int) -> str:
    """Disjoint GPUs: worker i gets GPUs i*tp … (i+1)*tp - 1 of those visible."""
    visible = os.environ.get("CUDA_VISIBLE_DEVICES")
    ids = [x for x in visible.split(",") if x] if visible else None
    chosen = range(index * tp_size, (index + 1) * tp_size)
    return ",".join(ids[i] if ids and i < len(ids) else str(i) for i in chosen)


@dataclass
class Member(ManagedProcess):
    """A worker (a qwen-serve of its own) or the router: its output appended to `log`; a worker says it is
    ready by writing `ready_file`."""

    log: Path | None = None
    ready_file: Path | None = None

    def launch(self) -> None:
        self.log.parent.mkdir(parents=True, exist_ok=True)
        with open(self.log, "ab") as out:
            self.start(out)

    @property
    def ready(self) -> bool:
        return self.ready_file is not None and self.ready_file.exists()


class FleetSupervisor(Engine):
    """supervise.Engine over the workers and the router: workers first (in turn where they share GPUs), the
    router once every worker is ready, ready when a generation through the router succeeds."""

    what = "the router and every worker (each drains its SGLang)"
    whom = "the router and every worker"

    def __init__(
        self,
        fleet: Fleet,
        log_dir: Path,
        ready_timeout: float,
        stop_timeout: float,
        ready_file=None,
        router_log: Path | None = None,
    ):
        super().__init__(stop_timeout)
        self.fleet = fleet
        self.log_dir = log_dir
        self.ready_timeout = ready_timeout
        self.ready_file = ready_file
        self.ready_at: float | None = None
        self.failed: tuple[str, int] | None = None  # (member, return code) that ended on its own
        self.gave_up = False
        env = dict(os.environ)
        self.workers = [
            Member(
                f"worker {w.index} (port {w.port})",
                list(w.argv),
                {**env, **w.env},
                log=log_dir / f"worker{w.index}.out",
                ready_file=log_dir / f"worker{w.index}.ready.json",
            )
            for w in fleet.workers
        ]
        # the router gets the key once, in its own variable; not the user's QWEN_SERVE_API_KEY
        router_env = {k: v for k, v in env.items() if k != "QWEN_SERVE_API_KEY"}
        router_env.update({ROUTER_KEY_ENV: reveal(fleet.api_key)} if fleet.api_key else {})
        self.router = Member(
            f"router (port {fleet.port})",
            list(fleet.router_argv),
            router_env,
            log=router_log or log_dir / "router.log",
        )

    @property
    def members(self) -> list[Member]:
        return [*self.workers, self.router]

    def graceful(self) -> None:
        for m in [self.router, *self.workers]:  # the router first: no new request reaches a draining worker
            m.signal(signal.SIGTERM)

    def start(self) -> None:
        for m in self.workers:
            m.ready_file.unlink(missing_ok=True)
        self.signals.install()
        self._t0 = time.monotonic()
        for m in self.workers[: 1 if self.fleet.gpu_share_staggered else None]:
            m.launch()
        self.note(
            f"starting {len(self.workers)} worker(s) on ports {', '.join(str(w.port) for w in self.fleet.workers)}"
            + (f" and {len(self.fleet.remote_workers)} remote" if self.fleet.remote_workers else "")
            + f"; logs in {self.log_dir}"
        )
        if not self.workers:
            self.router.launch()

    def tick(self) -> bool:
        self.act_on_stops()
        if all(m.exited is not None for m in self.members if m.proc is not None):
            return False
        if self.stop_deadline is not None:
            return True
        for m in self.members:
            if m.proc is not None and m.exited is not None:
                self.failed = (m.name, m.exited)
                self.begin_stop(f"{m.name} exited with code {m.exited} ({m.log})")
                return True
        elapsed = time.monotonic() - self._t0
        waiting = [m for m in self.workers if m.proc is None]
        if waiting and all(m.ready for m in self.workers if m.proc is not None):
            self.note(f"{waiting[0].name}: starting, the worker before it ready after {elapsed:.0f} s")
            waiting[0].launch()
        elif self.router.proc is None and all(m.ready for m in self.workers):
            self.note(f"every worker ready after {elapsed:.0f} s; starting the router ({self.fleet.router_module})")
            self.router.launch()
        elif self.router.proc is not None and self.ready_at is None and self._router_serves():
            self.ready_at = elapsed
            self._announce()
        if self.ready_at is None and elapsed > self.ready_timeout:
            self.gave_up = True
            self.begin_stop(f"not ready after {self.ready_timeout:.0f} s")
        return True

    def _router_serves(self) -> bool:
        return answers_a_generation(f"http://127.0.0.1:{self.fleet.port}", self.fleet.api_key)

    def ready_facts(self) -> dict[str, Any]:
        host = "127.0.0.1" if self.fleet.host in ("0.0.0.0", "::") else self.fleet.host
        base = f"http://{host}:{self.fleet.port}"
        workers = [json.loads(m.ready_file.read_text()) for m in self.workers if m.ready]
        return {
            WRITTEN_BY: "qwen-serve",
            "ready": True,
            "base_url": base,
            "openai_base_url": base + "/v1",
            "seconds_to_ready": round(self.ready_at or 0, 2),
            "router_pid": self.router.proc.pid if self.router.proc else None,
            WRITER_PID: os.getpid(),
            "router_metrics_url": f"http://{host}:{self.fleet.metrics_port}/metrics",
            "api_key_required": bool(self.fleet.api_key),
            "workers": workers,
            "remote_workers": list(self.fleet.remote_workers),
        }

    def _announce(self) -> None:
        facts = self.ready_facts()
        if self.ready_file:
            write_json(Path(self.ready_file), facts)
        self.note(
            f"ready in {self.ready_at:.1f} s: {facts['openai_base_url']} — {self.fleet.router_module} in front of "
            f"{len(self.fleet.worker_urls)} worker(s): {', '.join(self.fleet.worker_urls)}"
            + (f"; router metrics {facts['router_metrics_url']}" if facts["router_metrics_url"] else "")
        )

    def stop(self) -> None:
        for m in self.members:
            if m.proc is not None:
                m.wait()  # nothing of its group outlives it
        self.signals.restore()
        if self.ready_file:  # the fleet is gone: its ready file must not say "ready"
            remove_ready_file(Path(self.ready_file))

    def outcome(self) -> int:
        if self.gave_up:
            return EXIT_NOT_READY
        if self.failed:
            return exit_status(self.failed[1]) or 1
        if self.signals and self.ready_at is None:
            return EXIT_INTERRUPTED
        return 0


def _flag_args(cli_values: dict[str, Any]) -> list[str]:
    """The typed settings back as flags, for a worker's own qwen-serve (the API key travels in its environment)."""
    from .settings import FIELDS

    args: list[str] = []
    for spec in FIELDS:
        if spec.name not in cli_values or spec.name == "api_key":
            continue
        value = cli_values[spec.name]
        if spec.kind is bool:
            args.append(spec.cli_flag if value else f"--no-{spec.cli_flag[2:]}")
        else:
            args += [spec.cli_flag, str(value)]
    return args


def check_worker_url(url: str) -> str:
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname or parts.path not in ("", "/"):
        raise QwenServeError(
            f"--worker-url '{url}' is not a server URL",
            allowed="http://HOST:PORT or https://HOST:PORT of an SGLang server",
            fix="e.g. --worker-url http://10.0.0.2:30000",
        )
    return url.rstrip("/")


def build_fleet(
    prepared,
    *,
    replicas: int,
    worker_urls: tuple[str, ...],
    policy: str,
    metrics_port: int | str = ROUTER_METRICS_PORT,
    request,  # pipeline.LaunchRequest: what the user asked for; each worker asks for the same on its own port
    hardware,  # hardware.Hardware of the GPUs named or detected, or None
    show_sglang: bool = False,  # --dry-run: resolve each worker's SGLang command too (each worker does on launch)
    gpu_share: bool = False,
    memory_fraction: float | None = None,
    stop_timeout: float,
    ready_timeout: float,
    log_dir: Path,
) -> Fleet:
    """The workers' qwen-serve commands (each its own SGLang on its own GPUs) and the router's."""
    launch = prepared.launch
    tp = int(launch["tp_size"] or 1)
    _check_fits(prepared, replicas, tp, hardware, gpu_share, memory_fraction, request.force)
    workers = tuple(
        _worker(
            prepared,
            request,
            i,
            tp,
            share_fraction(memory_fraction, replicas, i) if gpu_share else None,
            show_sglang=show_sglang,
            stop_timeout=stop_timeout,
            ready_timeout=ready_timeout,
            log_dir=log_dir,
        )
        for i in range(replicas)
    )
    port, host = int(launch["port"]), launch["host"]
    remote = tuple(check_worker_url(u) for u in worker_urls)
    return Fleet(
        workers=workers,
        router_module=prepared.command.target.release.router_module,
        router_policy=check_router_policy(policy),
        host=host,
        port=port,
        metrics_port=check_metrics_port(metrics_port, port, len(workers)),
        remote_workers=remote,
        api_key=launch["api_key"],
        gpu_share_staggered=gpu_share,
    )


def _check_fits(prepared, replicas: int, tp: int, hardware, gpu_share: bool, memory_fraction, force: bool) -> None:
    """Enough GPUs for the workers, or with --gpu-share one worker's share of the memory fits its GPU."""
    gpu_count = hardware.count if hardware else None
    if gpu_share and replicas < 2:
        raise QwenServeError("--gpu-share needs --replicas 2 or more", fix="add --replicas N, or drop --gpu-share")
    if gpu_share and memory_fraction is None:
        raise QwenServeError(
            "--gpu-share splits the memory one server would take (mem_fraction_static), unknown here: no GPU is "
            "visible or named and no mem_fraction_static is set",
            fix="name the GPU (--gpu H200) or set --mem-fraction-static",
        )
    if not gpu_share and gpu_count is not None and replicas * tp > gpu_count and not force:
        raise QwenServeError(
            f"--replicas {replicas} with tp_size {tp} needs {replicas * tp} GPUs; {gpu_count} are visible",
            fix="fewer --replicas, --gpu-share (all on the same GPUs, each with its share of memory), or --force",
        )
    if gpu_share and hardware is not None and not force:
        from .plan import plan

        values = {x.name: x.value for x in prepared.launch.settings}
        first = plan(
            {**values, "mem_fraction_static": share_fraction(memory_fraction, replicas, 0)},
            hardware.gpu,
            tp,
            margin=prepared.command.target.release.plan_margin,
        )
        if not first.fits:
            raise QwenServeError(
                f"--gpu-share: {replicas} workers on {hardware.describe()} get mem_fraction_static "
                f"{memory_fraction} / {replicas} each, and one does not fit: {first.verdict}",
                fix="fewer --replicas, a preset with smaller weights (`qwen-serve plan --gpu ...` lists each preset's), "
                "or --force",
            )


def _worker(
    prepared, request, i: int, tp: int, share: float | None, *, show_sglang, stop_timeout, ready_timeout, log_dir
) -> Worker:
    """Worker i: its qwen-serve command on its own port (and GPUs, or its share of the one GPU)."""
    from dataclasses import replace

    from .pipeline import prepare

    launch = prepared.launch
    preset = launch.preset.name if launch.preset else None
    worker_port = int(launch["port"]) + 1 + i
    local = {**request.cli_values, "port": worker_port, "host": "127.0.0.1"}
    if share is not None:
        local["mem_fraction_static"] = share
    gpu_spec = request.gpu_spec
    argv = [sys.executable, "-m", "qwen_serve", "serve"]
    argv += ["--config", request.config_path] if request.config_path else []
    argv += ["--preset", preset] if preset else []
    argv += _flag_args(local)
    argv += ["--force"] if request.force else []
    argv += ["--gpu", re.sub(r"\s*x\s*\d+\s*$", "", gpu_spec) + (f"x{tp}" if tp > 1 else "")] if gpu_spec else []
    argv += ["--sglang-version", request.sglang_version] if request.sglang_version else []
    argv += ["--stop-timeout", str(stop_timeout), "--ready-timeout", str(ready_timeout), "--quiet"]
    argv += ["--log-file", str(log_dir / f"worker{i}.sglang.log")]
    argv += ["--ready-file", str(log_dir / f"worker{i}.ready.json")]
    argv += ["--", *request.passthrough] if request.passthrough else []
    env = {"CUDA_VISIBLE_DEVICES": worker_gpus(0 if share is not None else i, tp)}
    if launch["api_key"]:
        env["QWEN_SERVE_API_KEY"] = reveal(launch["api_key"])
    sglang_argv = ()
    if show_sglang:
        local_request = replace(request, preset=preset, cli_values=local, gpu_spec=None, force=True, environ=None)
        sglang_argv = prepare(local_request).command.argv
    return Worker(i, worker_port, tuple(argv), env, tuple(sglang_argv))


def check_metrics_port(metrics_port: int | str, port: int, workers: int) -> int:
    """--router-metrics-port: a TCP port that none of the service's own (PORT, PORT+1 … PORT+N) already is."""
    try:
        value = int(metrics_port)
    except ValueError:
        value = None
    if value is None or not 1 <= value <= 65535 or value in range(port, port + workers + 1):
        raise QwenServeError(
            f"--router-metrics-port {metrics_port} is "
            + ("the router's or a worker's own port" if value and 1 <= value <= 65535 else "not a TCP port"),
            allowed=f"1-65535, other than {port}-{port + workers}",
            fix=f"--router-metrics-port {ROUTER_METRICS_PORT} (sglang-router's default)",
        )
    return value


def check_fleet_ports(fleet: Fleet) -> None:
    """Before anything starts, besides --host/--port (the router's; preflight.check_port, once): its metrics
    port on --host and each local worker's port on 127.0.0.1 free now (a taken one would end the service
    minutes later, or let an impostor answer the readiness probe)."""
    from .preflight import check_port_free

    check_port_free(fleet.host, fleet.metrics_port, "--router-metrics-port")
    for w in fleet.workers:
        check_port_free("127.0.0.1", w.port, f"worker {w.index}'s port (--port + {w.index + 1})")


def requests_per_worker(metrics_text: str) -> dict[str, int]:
    """The requests each worker answered, from the router's Prometheus text (smg_worker_cb_outcomes_total,
    outcome success: the router's circuit breaker counts every answer it passed on, per worker URL)."""
    from prometheus_client.parser import text_string_to_metric_families

    served: dict[str, int] = {}
    for family in text_string_to_metric_families(metrics_text):
        for sample in family.samples:
            if sample.name == "smg_worker_cb_outcomes_total" and sample.labels.get("outcome") == "success":
                url = sample.labels["worker"]
                served[url] = served.get(url, 0) + int(sample.value)
    return served


def share_fraction(fraction: float, replicas: int, index: int) -> float:
    """--gpu-share: worker `index`'s --mem-fraction-static. SGLang sizes its KV pool as the memory free after its
    weights less total x (1 - mem_fraction_static); with `index` workers already holding their share each, a
    fraction of (index + 1) / replicas of one server's leaves this one the same share as the first."""
    return round(fraction * (index + 1) / replicas, 4)


def describe(fleet: Fleet, mask: str = MASK) -> dict[str, Any]:
    """--dry-run --json of a fleet: every command, the key masked."""
    return {
        "router": {
            "argv": list(fleet.router_argv),
            "url": f"http://{fleet.host}:{fleet.port}",
            "metrics_port": fleet.metrics_port,
        },
        "workers": [
            {
                "index": w.index,
                "url": w.url,
                "env": {k: (mask if k == "QWEN_SERVE_API_KEY" else v) for k, v in w.env.items()},
                "argv": list(w.argv),
                "sglang_argv": list(w.sglang_argv),
            }
            for w in fleet.workers
        ],
        "remote_workers": list(fleet.remote_workers),
    }
