"""Several SGLang workers behind SGLang's own router (`--replicas N`, `--worker-url URL`), supervised as one.

Each worker is an SGLang of its own on 127.0.0.1 (port + 1 … port + N, its own GPUs through CUDA_VISIBLE_DEVICES),
built in this process from one `Prepared` each (the request again, for the worker's port and GPUs: its own plan and
command) and run as a supervise.Server: its log masked, its phases read, its readiness proven from its own socket.
Once every worker answers a generation, the SGLang release's router (sglang-router; smg from SGLang 0.5.18 on)
starts on --host/--port in front of them (cache-aware routing by default); the service is ready when a generation
through the router succeeds. One stop signal: SIGTERM to the router, then to each SGLang's server process (each
drains its requests); a second one, a second or more later, or the stop timeout: SIGKILL to every group. A worker or
the router that exits on its own stops the rest, and qwen-serve exits with its code and names it: restarting a
replica of a model that just crashed would hide the crash, and the router keeps no state worth saving.
"""

from __future__ import annotations

import os
import signal
import sys
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from .errors import QwenServeError
from .outputs import WRITER_PID, WRITTEN_BY, remove_ready_file, write_json
from .secret import Secret, reveal
from .settings import ROUTER_METRICS_PORT
from .sglang.releases import check_router_policy
from .supervise import (
    EXIT_INTERRUPTED,
    EXIT_NOT_READY,
    Engine,
    ManagedProcess,
    Server,
    ServerFacts,
    answers_a_generation,
    exit_status,
)

ROUTER_ENTRY = "qwen_serve.sglang.router_entry"
ROUTER_KEY_ENV = "QWEN_SERVE_ROUTER_API_KEY"  # the router's key: read in its process, never in its argv
PROBE_INTERVAL_S = 1.0  # a worker's readiness probe, once its HTTP server is up (or 5 s after its start)
# After a member ends on its own, how long the others get to show whether they ended with it before the stop is
# begun and named: two that end within moments (a router that exits as its worker dies) may be seen in either order,
# and the line names both, workers first, not only the one polled first.
EXIT_SETTLE_S = 0.3


@dataclass(frozen=True)
class Worker:
    """One local SGLang of the fleet: the request prepared again for its port on 127.0.0.1 and its GPUs."""

    index: int
    port: int
    prepared: Any  # pipeline.Prepared: its settings, plan and SGLang command
    gpus: str  # CUDA_VISIBLE_DEVICES
    log_file: Path

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def name(self) -> str:
        return f"worker {self.index} (port {self.port})"

    def env(self, base: dict[str, str]) -> dict[str, str]:
        """Its SGLang's environment: `base` with the command's variables and its GPUs."""
        return {"PYTHONUNBUFFERED": "1", **self.prepared.command.child_env(base), "CUDA_VISIBLE_DEVICES": self.gpus}


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
class RouterProcess(ManagedProcess):
    """The router: its output appended to `log`."""

    log: Path | None = None

    def launch(self) -> None:
        self.log.parent.mkdir(parents=True, exist_ok=True)
        with open(self.log, "ab") as out:
            self.start(out)


class FleetSupervisor(Engine):
    """supervise.Engine over the workers (a supervise.Server each) and the router: workers first (in turn where they
    share GPUs), the router once every worker answers a generation, ready when a generation through the router
    succeeds."""

    what = "the router and every worker (each SGLang drains its requests)"
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
        self.workers = [self._server(w, env) for w in fleet.workers]
        self.started_at: dict[int, float] = {}  # worker index -> when it was started (monotonic)
        self.worker_ready_at: dict[int, float] = {}  # worker index -> seconds from its start to ready
        self._last_probe = 0.0
        self._ended_at: float | None = None  # when a member was first seen to have ended on its own
        # the router gets the key once, in its own variable; not the user's QWEN_SERVE_API_KEY
        router_env = {k: v for k, v in env.items() if k != "QWEN_SERVE_API_KEY"}
        router_env.update({ROUTER_KEY_ENV: reveal(fleet.api_key)} if fleet.api_key else {})
        self.router = RouterProcess(
            f"router (port {fleet.port})",
            list(fleet.router_argv),
            router_env,
            log=router_log or log_dir / "router.log",
        )

    def _server(self, worker: Worker, env: dict[str, str]) -> Server:
        launch, command = worker.prepared.launch, worker.prepared.command
        return Server(
            worker.name,
            list(command.argv),
            worker.env(env),
            facts=ServerFacts.of(worker.prepared),
            log_file=worker.log_file,
            secrets=(launch["api_key"],) if launch["api_key"] else (),
            phase_labels=dict(command.phase_labels),
            on_phase=lambda elapsed, label: self.note(f"{worker.name}: [{elapsed:6.1f} s] {label}"),
        )

    @property
    def members(self) -> list[ManagedProcess]:
        return [*self.workers, self.router]

    def graceful(self) -> None:
        for m in [self.router, *self.workers]:  # the router first: no new request reaches a draining worker
            m.signal(signal.SIGTERM)

    def start(self) -> None:
        self.signals.install()
        self._t0 = time.monotonic()
        for i in range(1 if self.fleet.gpu_share_staggered else len(self.workers)):
            self._launch(i)
        self.note(
            f"starting {len(self.workers)} worker(s) on ports {', '.join(str(w.port) for w in self.fleet.workers)}"
            + (f" and {len(self.fleet.remote_workers)} remote" if self.fleet.remote_workers else "")
            + f"; logs in {self.log_dir}"
        )
        if not self.workers:
            self.router.launch()

    def _launch(self, index: int) -> None:
        self.started_at[index] = time.monotonic()
        self.workers[index].launch()

    def tick(self) -> bool:
        self.act_on_stops()
        started = [i for i, m in enumerate(self.members) if m.proc is not None]
        ended = [i for i in started if self.members[i].exited is not None]
        if ended and self.stop_deadline is None:  # on its own, not stopped: say which and why, first
            self._ended_at = self._ended_at or time.monotonic()
            if len(ended) == len(started) or time.monotonic() - self._ended_at >= EXIT_SETTLE_S:
                first = self.members[ended[0]]  # the members are the workers, then the router
                self.failed = (first.name, first.exited)
                self.begin_stop("; ".join(self._exit_line(self.members[i], i) for i in ended))
        if len(ended) == len(started):
            return False
        if self.stop_deadline is not None:
            return True
        elapsed = time.monotonic() - self._t0
        self._probe_workers()
        waiting = [i for i, m in enumerate(self.workers) if m.proc is None]
        if waiting and len(self.worker_ready_at) == len(self.started_at):
            self.note(f"{self.workers[waiting[0]].name}: starting, the worker before it ready after {elapsed:.0f} s")
            self._launch(waiting[0])
        elif self.router.proc is None and len(self.worker_ready_at) == len(self.workers):
            self.note(f"every worker ready after {elapsed:.0f} s; starting the router ({self.fleet.router_module})")
            self.router.launch()
        elif self.router.proc is not None and self.ready_at is None and self._router_serves():
            self.ready_at = elapsed
            self._announce()
        if self.ready_at is None and elapsed > self.ready_timeout:
            self.gave_up = True
            self.begin_stop(f"not ready after {self.ready_timeout:.0f} s")
        return True

    def _probe_workers(self) -> None:
        """Each started worker not yet ready, once a second: answers a generation from its own socket."""
        now = time.monotonic()
        if now - self._last_probe < PROBE_INTERVAL_S:
            return
        self._last_probe = now
        for i, started in self.started_at.items():
            server = self.workers[i]
            if i not in self.worker_ready_at and (server.http_up or now - started > 5) and server.probe():
                self.worker_ready_at[i] = time.monotonic() - started
                self.note(f"{server.name}: ready after {self.worker_ready_at[i]:.0f} s")

    def _exit_line(self, member: ManagedProcess, index: int) -> str:
        line = f"{member.name} exited with code {exit_status(member.exited)}"
        if isinstance(member, Server):
            if index not in self.worker_ready_at:
                line += f" before it was ready: {member.diagnosis()}"
            return f"{line} ({member.log_file})"
        return f"{line} ({member.log})"

    def _router_serves(self) -> bool:
        return answers_a_generation(f"http://127.0.0.1:{self.fleet.port}", self.fleet.api_key)

    def ready_facts(self) -> dict[str, Any]:
        host = "127.0.0.1" if self.fleet.host in ("0.0.0.0", "::") else self.fleet.host
        base = f"http://{host}:{self.fleet.port}"
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
            "workers": [self.workers[i].ready_facts(s) for i, s in sorted(self.worker_ready_at.items())],
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
        for m in self.workers:
            if m.proc is not None:
                m.close()  # nothing of its group outlives it; its output drained into its log
        if self.router.proc is not None:
            self.router.wait()
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
    metrics_port: int = ROUTER_METRICS_PORT,
    request,  # pipeline.LaunchRequest: what the user asked for; each worker asks for the same on its own port
    hardware,  # hardware.Hardware of the GPUs named or detected (read once, for every worker), or None
    gpu_share: bool = False,
    memory_fraction: float | None = None,
    log_dir: Path,
) -> Fleet:
    """The workers (each its own SGLang on its own GPUs, prepared here) and the router's command."""
    if replicas < 1 and not worker_urls:
        raise QwenServeError(
            f"--replicas {replicas} starts no worker, and no --worker-url names one to route to",
            allowed="--replicas 1 or more, or 0 with --worker-url (only the router)",
            fix="one worker per GPU (or per --gpu-share of one): e.g. --replicas 8 on an 8-GPU machine",
        )
    launch = prepared.launch
    tp = int(launch["tp_size"] or 1)
    _check_fits(prepared, replicas, tp, hardware, gpu_share, memory_fraction, request.force)
    workers = tuple(
        _worker(
            prepared,
            request,
            hardware,
            i,
            tp,
            share_fraction(memory_fraction, replicas, i) if gpu_share else None,
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
            memory=prepared.command.target.release.memory,
        )
        if not first.fits:
            raise QwenServeError(
                f"--gpu-share: {replicas} workers on {hardware.describe()} get mem_fraction_static "
                f"{memory_fraction} / {replicas} each, and one does not fit: {first.verdict}",
                fix="fewer --replicas, a preset with smaller weights (`qwen-serve plan --gpu ...` lists each preset's), "
                "or --force",
            )


def _worker(prepared, request, hardware, i: int, tp: int, share: float | None, *, log_dir: Path) -> Worker:
    """Worker i: the request prepared again for its port on 127.0.0.1 and its GPUs (or its share of the one GPU),
    planned on those GPUs as read once for the fleet."""
    from .pipeline import prepare

    launch = prepared.launch
    port = int(launch["port"]) + 1 + i
    local = {**request.cli_values, "port": port, "host": "127.0.0.1"}
    if share is not None:
        local["mem_fraction_static"] = share
    first = 0 if share is not None else i * tp
    mine = None
    if hardware is not None:
        gpus = hardware.gpus[first : first + tp]
        mine = replace(hardware, gpus=gpus if len(gpus) == tp else hardware.gpus[:tp])
    # --preset auto chose for the fleet: every worker serves that preset
    own = replace(request, preset=launch.preset.name if launch.preset else None, load=None, cli_values=local)
    gpus_of = worker_gpus(0 if share is not None else i, tp)
    return Worker(i, port, prepare(own, hardware=mine), gpus_of, log_dir / f"worker{i}.sglang.log")


def check_metrics_port(metrics_port: int, port: int, workers: int) -> int:
    """--router-metrics-port: a TCP port that none of the service's own (PORT, PORT+1 … PORT+N) already is."""
    if not 1 <= metrics_port <= 65535 or metrics_port in range(port, port + workers + 1):
        raise QwenServeError(
            f"--router-metrics-port {metrics_port} is "
            + ("the router's or a worker's own port" if 1 <= metrics_port <= 65535 else "not a TCP port"),
            allowed=f"1-65535, other than {port}-{port + workers}",
            fix=f"--router-metrics-port {ROUTER_METRICS_PORT} (sglang-router's default)",
        )
    return metrics_port


def check_fleet_ports(fleet: Fleet) -> None:
    """Before anything starts, besides --host/--port (the router's; preflight.check_port, once): its metrics
    port on --host and each local worker's port on 127.0.0.1 free now (a taken one would end the service
    minutes later, or let an impostor answer the readiness probe)."""
    from .preflight import check_port_free

    check_port_free(fleet.host, fleet.metrics_port, "--router-metrics-port")
    for w in fleet.workers:
        check_port_free("127.0.0.1", w.port, f"worker {w.index}'s port (--port + {w.index + 1})")


def share_fraction(fraction: float, replicas: int, index: int) -> float:
    """--gpu-share: worker `index`'s --mem-fraction-static. SGLang sizes its KV pool as the memory free after its
    weights less total x (1 - mem_fraction_static); with `index` workers already holding their share each, a
    fraction of (index + 1) / replicas of one server's leaves this one the same share as the first."""
    return round(fraction * (index + 1) / replicas, 4)


def describe(fleet: Fleet) -> dict[str, Any]:
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
                "env": {
                    **{e.name: e.shown for e in w.prepared.command.env if not e.default},
                    "CUDA_VISIBLE_DEVICES": w.gpus,
                },
                "argv": list(w.prepared.command.shown_argv()),
                "log_file": str(w.log_file),
            }
            for w in fleet.workers
        ],
        "remote_workers": list(fleet.remote_workers),
    }
