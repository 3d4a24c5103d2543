"""Stage 5 — run SGLang like a service manager: own process group, tee'd log, progress from
SGLang's log lines, readiness proven over HTTP, a ready banner and file, clean stops.

Stop order: the first SIGINT/SIGTERM becomes a SIGTERM to SGLang's server process alone, SGLang's
own graceful path (tokenizer_manager.py in 0.5.17): it finishes running requests, asks its
schedulers to shut down, then ends its process tree with SIGKILL, itself included. A SIGTERM to
the whole group would reach the schedulers too; SGLang takes a scheduler killed by a signal for a
crash and cuts every running request. After --stop-timeout seconds, or at a second signal, the
whole group gets SIGKILL. qwen-serve exits with the child's code (128+N when a signal N ended it),
but 0 for a stop it asked for that SGLang completed itself (its self-SIGKILL is no failure).
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from .outputs import WRITER_PID, WRITTEN_BY, cache_root, log_header, remove_ready_file, write_json
from .secret import MASK, Secret, reveal
from .sglang.log import PHASE_LABELS, LogWatcher, diagnose
from .systemd import sd_notify

EXIT_NOT_READY = 124  # like timeout(1): gave up waiting for readiness
HELD_MAX = 1 << 16  # output with no line end held back this long at most before it is written (masked)
EXIT_INTERRUPTED = 130  # 128 + SIGINT: stopped by the user before SGLang was ready
# Copies of one Ctrl-C arrive together (the terminal signals the whole foreground group, and `uv run`
# forwards its own copy): signals within this many seconds of the first are that same request.
SAME_PRESS_S = 1.0
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)  # SIGHUP: the terminal or SSH session closed
PR_SET_PDEATHSIG = 1


def die_with_parent() -> None:
    """In the child, before exec: the kernel SIGKILLs SGLang's launch process when qwen-serve dies for any
    reason (kill -9 included); SGLang's scheduler and detokenizer set the same on themselves
    (sglang.srt.utils.kill_itself_when_parent_died), so the whole tree goes."""
    import ctypes

    try:
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    except OSError:
        pass  # not Linux: the process-group kill on every exit path below still applies


@dataclass(frozen=True)
class ServerFacts:
    """What the launch was meant to be, for the banner (from the resolved settings)."""

    host: str
    port: int
    model: str
    served_model_name: str | None = None
    preset: str | None = None
    quantization: str = "none (bf16)"
    tp_size: int = 1
    api_key: Secret | str | None = None  # used for the readiness probe only; shown as MASK
    gpu: str | None = None  # the hardware the plan was made for, in words

    @classmethod
    def of(cls, prepared) -> ServerFacts:
        """A prepared launch's (pipeline.Prepared)."""
        from .checkpoint import quantization_label

        launch, fit = prepared.launch, prepared.fit
        return cls(
            host=launch["host"],
            port=launch["port"],
            model=launch["model_path"],
            served_model_name=launch["served_model_name"],
            preset=launch.preset.name if launch.preset else None,
            quantization=quantization_label(launch),
            tp_size=launch["tp_size"],
            api_key=launch["api_key"],
            gpu=fit.hardware if fit else None,
        )

    @property
    def local_url(self) -> str:
        host = "127.0.0.1" if self.host in ("0.0.0.0", "::", "") else self.host
        host = f"[{host}]" if ":" in host else host
        return f"http://{host}:{self.port}"


@dataclass
class SuperviseOptions:
    log_file: Path
    quiet: bool = False
    ready_timeout: float = 1200.0
    stop_timeout: float = 30.0
    ready_file: Path | None = None
    probe_interval: float = 0.25  # once SGLang's HTTP server is up; 1 s before
    env: dict[str, str] | None = None
    secrets: tuple[str, ...] = ()
    after_ready: Any = None  # callable(facts_dict) run once when ready (e.g. qwen-test)
    phase_labels: dict[str, str] = field(default_factory=dict)  # sglang.log.LogWatcher.labels
    # off a terminal (journald, kubectl logs, a pipe): the phase and its progress again after this long without a
    # line of qwen-serve's own, so that a first start compiling for minutes does not read as a hang
    heartbeat_s: float = 60.0
    banner: bool = True  # the ready banner (qwen-serve tune starts servers it measures, not servers to use)


@dataclass
class Outcome:
    exit_code: int
    ready: bool
    seconds_to_ready: float | None
    diagnosis: str | None = None
    facts: dict[str, Any] = field(default_factory=dict)


def default_log_path(port: int) -> Path:
    return cache_root() / "logs" / f"sglang-{datetime.now():%Y%m%d-%H%M%S}-{port}.log"


def server_record_path(port: int) -> Path:
    """While a server qwen-serve launched is ready, its ready facts are here too, so that qwen-bench
    and qwen-test on the same machine can say which preset and GPU they measured."""
    return cache_root() / "servers" / f"{port}.json"


def port_holders(port: int) -> list[int | None] | None:
    """The pids holding a listening TCP socket on `port` (None for a socket whose owner this user cannot see; an
    empty list: nothing listens), or None where the system cannot tell (psutil)."""
    import psutil

    try:
        conns = psutil.net_connections(kind="tcp")
    except (psutil.AccessDenied, NotImplementedError, OSError):
        return None
    return [c.pid for c in conns if c.status == psutil.CONN_LISTEN and c.laddr and c.laddr.port == port]


def port_listeners(port: int) -> set[int] | None:
    """Pids holding a listening TCP socket on `port`, or None where the system cannot tell."""
    holders = port_holders(port)
    return None if holders is None else {pid for pid in holders if pid is not None}


def process_tree(pid: int) -> set[int]:
    """`pid` and every process below it (SGLang's server, its schedulers and their children)."""
    import psutil

    try:
        return {pid, *(child.pid for child in psutil.Process(pid).children(recursive=True))}
    except psutil.Error:
        return {pid}


def _cmdline(pid: int) -> str:
    import psutil

    try:
        return " ".join(psutil.Process(pid).cmdline())[:80] or "?"
    except psutil.Error:
        return "?"


def remove_stale_record(port: int) -> None:
    """A record left by a qwen-serve that was killed (its pid is gone) says nothing true: remove it."""
    path = server_record_path(port)
    if path.exists() and read_server_record(port) is None:
        path.unlink(missing_ok=True)


def read_server_record(port: int) -> dict[str, Any] | None:
    """The record for `port`, if its qwen-serve is still running."""
    try:
        facts = json.loads(server_record_path(port).read_text(encoding="utf-8"))
        os.kill(int(facts["qwen_serve_pid"]), 0)
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return facts


def secret_pattern(secret: str):
    """Where a secret stands whole in a log: not inside a longer token (masking it there would show where the key's
    characters stand, and a short key would mask half the log)."""
    import re

    return re.compile(rb"(?<![\w.~+/=-])" + re.escape(secret.encode()) + rb"(?![\w.~+/=-])")


class Display:
    """A live status line on a terminal; plain lines otherwise."""

    def __init__(self, quiet: bool, to_stderr: bool = False):
        from rich.console import Console

        # to_stderr: every line on stderr (qwen-serve tune --json keeps stdout for its JSON)
        self.console = Console(stderr=to_stderr, highlight=False, soft_wrap=True)
        self.err = Console(stderr=True, highlight=False, soft_wrap=True)
        self.quiet = quiet
        self.live = self.console.is_terminal
        self._status = None
        self._lock = threading.Lock()
        self._said = time.monotonic()  # when the last note was printed

    def start(self, text: str) -> None:
        if self.live:
            self._status = self.console.status(text, spinner="dots")
            self._status.start()
        else:
            self.note(text)

    def update(self, text: str) -> None:
        if self._status is not None:
            self._status.update(text)

    def phase(self, elapsed: float, label: str) -> None:
        if not self.live:
            self.note(f"[{elapsed:6.1f} s] {label}")

    def heartbeat(self, elapsed: float, text: str, every: float) -> None:
        """Off a terminal: `text` once `every` seconds have passed without a note (a terminal has the live line)."""
        if not self.live and time.monotonic() - self._said >= every:
            self.note(f"[{elapsed:6.1f} s] {text}")

    def child_line(self, line: str) -> None:
        if self.quiet:
            return
        with self._lock:
            if self.live:
                self.console.print(line.rsplit("\r", 1)[-1], markup=False, highlight=False)
            else:
                sys.stdout.write(line + "\n")
                sys.stdout.flush()

    def note(self, text: str, err: bool = False) -> None:
        with self._lock:
            self._said = time.monotonic()
            (self.err if err else self.console).print(f"qwen-serve: {text}", markup=False, highlight=False)

    def stop(self) -> None:
        if self._status is not None:
            self._status.stop()
            self._status = None


class StopPresses:
    """The stop signals (STOP_SIGNALS) as the user pressed them. Copies of one press that arrive within
    SAME_PRESS_S (the terminal's process group and the one `uv run` forwards) count once. The handler
    only records (uvicorn's shape): it runs between two bytecodes of the main thread, which may be printing
    under the display's lock at that moment (the ready banner), so a print or a wait there could deadlock;
    the main loop takes the new presses (`take`) and acts on them."""

    def __init__(self) -> None:
        self.presses: list[int] = []
        self._first_at: float | None = None
        self._taken = 0
        self._previous: dict[int, Any] = {}

    def __bool__(self) -> bool:
        return bool(self.presses)

    def handler(self, signum, _frame) -> None:
        now = time.monotonic()
        if self._first_at is not None and now - self._first_at < SAME_PRESS_S:
            return  # a copy of the first press, not a second Ctrl-C
        if self._first_at is None:
            self._first_at = now
        self.presses.append(signum)

    def take(self) -> list[tuple[str, bool]]:
        """The presses not acted on yet: (signal name, whether it is the first press of all)."""
        new = [(signal.Signals(n).name, self._taken + k == 0) for k, n in enumerate(self.presses[self._taken :])]
        self._taken = len(self.presses)
        return new

    def install(self) -> None:
        self._previous = {s: signal.signal(s, self.handler) for s in STOP_SIGNALS}

    def restore(self) -> None:
        for s, handler in self._previous.items():
            signal.signal(s, handler)
        self._previous = {}


def exit_status(returncode: int) -> int:
    """A child's exit as a shell reports it: 128+N when signal N ended it."""
    return 128 - returncode if returncode < 0 else returncode


@dataclass
class ManagedProcess:
    """One child qwen-serve runs: in a process group of its own (the terminal's Ctrl-C reaches qwen-serve alone,
    which stops it in order), SIGKILLed by the kernel when qwen-serve dies for any reason (die_with_parent)."""

    name: str
    argv: list[str]
    env: dict[str, str]
    proc: subprocess.Popen | None = None

    def start(self, stdout) -> None:
        self.proc = subprocess.Popen(
            self.argv,
            stdout=stdout,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env=self.env,
            start_new_session=True,
            preexec_fn=die_with_parent,
        )

    @property
    def exited(self) -> int | None:
        return None if self.proc is None else self.proc.poll()

    def signal(self, signum: int, group: bool = False) -> None:
        """To the process alone (its own graceful path) or to its whole group."""
        if self.proc is None:
            return
        try:
            (os.killpg if group else os.kill)(self.proc.pid, signum)
        except (ProcessLookupError, PermissionError):
            pass

    def wait(self) -> int:
        """Its return code once it has exited; then nothing of its group outlives it."""
        code = self.proc.wait()
        self.signal(signal.SIGKILL, group=True)
        return code


def answers_a_generation(url: str, api_key: str | None) -> bool:
    """Readiness, for one SGLang and for the router alike: /health answers 200 and one tiny generation succeeds."""
    import httpx

    from .client import auth_headers

    headers = auth_headers(api_key)
    try:
        if httpx.get(url + "/health", headers=headers, timeout=5).status_code != 200:
            return False
        body = {"text": "ping", "sampling_params": {"max_new_tokens": 1, "temperature": 0}}
        return httpx.post(url + "/generate", json=body, headers=headers, timeout=60).status_code == 200
    except httpx.HTTPError:
        return False


def _ignore(*_args) -> None:
    pass


@dataclass
class Server(ManagedProcess):
    """One SGLang as qwen-serve runs it, alone (Supervisor) or as a fleet's worker: its output tee'd to its log with
    every secret masked, its start-up phases read from that output (LogWatcher), its readiness proven over HTTP from
    its own socket. `on_line` gets each line of its output, `on_phase` each phase it enters (seconds, label)."""

    facts: ServerFacts | None = None
    log_file: Path | None = None
    secrets: tuple[str, ...] = ()
    phase_labels: dict[str, str] = field(default_factory=dict)
    on_line: Callable[[str], None] = _ignore
    on_phase: Callable[[float, str], None] = _ignore

    def __post_init__(self) -> None:
        self.watcher = LogWatcher(labels=dict(self.phase_labels))
        self.impostors: set[int] = set()  # pids of another server found listening on its port
        self._patterns = [secret_pattern(reveal(s)) for s in self.secrets if s]
        self._longest_secret = max((len(reveal(s).encode()) for s in self.secrets if s), default=0)
        self._log = None
        self._pump_thread: threading.Thread | None = None

    def launch(self) -> None:
        """Spawn it (ManagedProcess.start) with its output piped through the pump into its log."""
        self.log_file.parent.mkdir(parents=True, exist_ok=True)
        self._log = open(self.log_file, "ab")
        if self._log.tell() == 0:  # says who wrote it: a later run may append to it (outputs.check_outputs)
            self._log.write(log_header(self.log_file, f"{datetime.now():%Y-%m-%d %H:%M:%S}").encode())
        self.start(subprocess.PIPE)
        self._pump_thread = threading.Thread(target=self._pump, args=(self.proc.stdout, self._log), daemon=True)
        self._pump_thread.start()

    def close(self) -> int:
        """Once it has exited (ManagedProcess.wait: nothing of its group outlives it): its output drained into the log;
        its return code."""
        code = self.wait()
        if self._pump_thread is not None:
            self._pump_thread.join(timeout=10)
        if self._log is not None:
            self._log.close()
        return code

    @property
    def http_up(self) -> bool:
        return "http" in self.watcher.seen_phases

    def probe(self) -> bool:
        """`answers_a_generation` — from a socket of *this* SGLang: whatever else answers on the port (a server that
        bound it after the port check) does not count."""
        holders = port_holders(self.facts.port)
        if holders is not None and self.proc is not None:
            if not holders:
                return False  # nothing listens yet
            if not set(holders) & process_tree(self.proc.pid):
                self.impostors = {pid for pid in holders if pid is not None}  # someone else's: who, for the diagnosis
                return False
        return answers_a_generation(self.facts.local_url, self.facts.api_key)

    def diagnosis(self) -> str:
        """Why it exited before it was ready, from the last lines of its log (and who holds its port, if another)."""
        why = diagnose(self.watcher.tail)
        if not self.impostors and "port is already in use" in why:
            self.impostors = port_listeners(self.facts.port) or set()  # it is gone: whoever holds the port now
        if self.impostors:
            who = ", ".join(f"pid {p} ({_cmdline(p)})" for p in sorted(self.impostors))
            why = (
                f"port {self.facts.port} is taken by another server, {who}, which answered while SGLang was still "
                f"loading (qwen-serve did not take it for SGLang): stop it, or pass another --port"
            )
        return why

    def ready_facts(self, seconds: float) -> dict[str, Any]:
        f = self.facts
        return {
            WRITTEN_BY: "qwen-serve",
            "ready": True,
            "base_url": f.local_url,
            "openai_base_url": f.local_url + "/v1",
            "host": f.host,
            "port": f.port,
            "pid": self.proc.pid if self.proc else None,
            WRITER_PID: os.getpid(),
            "seconds_to_ready": round(seconds, 2),
            "model": f.model,
            "served_model_name": f.served_model_name or f.model,
            "preset": f.preset,
            "quantization": f.quantization,
            "tp_size": f.tp_size,
            "gpu": f.gpu,
            "api_key_required": bool(f.api_key),
            "log_file": str(self.log_file),
            "sglang": dict(self.watcher.facts),
        }

    # --- output ---------------------------------------------------------------------------
    def _redact(self, data: bytes) -> bytes:
        for secret in self._patterns:
            data = secret.sub(MASK.encode(), data)
        return data

    def _pump(self, stream, log) -> None:
        """Tee the child's output: raw (redacted) to the log file; to the watcher each segment as it ends and the
        progress of the one not yet ended (a tqdm bar's line ends only when the bar is done: minutes, while a first
        start compiles); to the display line by line. Redacted whole: what has arrived up to its last line end (\\n,
        or a bar's \\r) now, the rest with the next read, so that a secret the pipe split is still one piece of text
        (no secret holds a line end)."""
        line, segment, held = b"", b"", b""
        start = time.monotonic()
        while True:
            chunk = stream.read1(65536) if hasattr(stream, "read1") else stream.read(65536)
            if not chunk:
                break
            data = held + chunk
            cut = max(data.rfind(b"\n"), data.rfind(b"\r")) + 1
            if len(data) - cut > HELD_MAX:  # no line end for long: keep back only what may be a secret's start
                cut = len(data) - self._longest_secret
            chunk, held = self._redact(data[:cut]), data[cut:]
            log.write(chunk)
            log.flush()
            *segments, segment = re.split(rb"[\r\n]", segment + chunk)
            for done in segments:
                self._segment(done.decode("utf-8", "replace"), start)
            self.watcher.peek((segment + self._redact(held)).decode("utf-8", "replace"))
            *lines, line = (line + chunk).split(b"\n")
            for done in lines:
                self.on_line(done.decode("utf-8", "replace"))
        if held:  # the child's last words, with no line end
            held = self._redact(held)
            log.write(held)
            log.flush()
            segment, line = segment + held, line + held
        if segment:
            self._segment(segment.decode("utf-8", "replace"), start)
        if line:
            self.on_line(line.decode("utf-8", "replace"))

    def _segment(self, text: str, start: float) -> None:
        label = self.watcher.feed(text)
        if label:
            self.on_phase(time.monotonic() - start, label)


class Engine:
    """The one supervision loop, for one SGLang (Supervisor) and for a fleet (fleet.FleetSupervisor): start the
    members, tick until they have exited, act on stop presses between ticks — the first press (or the
    subclass's own reason: not ready in time, a member that died) starts each member's graceful stop and the
    stop timeout; another press a second or more later, or the timeout, SIGKILLs every member's group — and
    leave no member's group behind on any exit path, an exception of qwen-serve's own included. A subclass
    says what to start, what readiness and failure look like (`tick`), and what its outcome is."""

    what = "SGLang (it finishes running requests)"  # "SIGINT: stopping {what}; SIGKILL in …"
    whom = "the SGLang process group"  # "SIGKILL to {whom}"

    def __init__(self, stop_timeout: float):
        self.stop_timeout = stop_timeout
        self.signals = StopPresses()  # recorded by its handler, acted on by the main loop
        self.stop_deadline: float | None = None
        self.killed = False  # SIGKILL went to a member still running (stop timeout or a second press)
        self.stop_asked: str | None = None  # a stop the library asked for (request_stop), not a signal

    @property
    def members(self) -> list[ManagedProcess]:
        raise NotImplementedError

    def start(self) -> None:
        raise NotImplementedError

    def tick(self) -> bool:
        """One turn of the loop; False once there is nothing left to supervise."""
        raise NotImplementedError

    def stop(self) -> None:
        """After the loop, on every path: wait for the members, release what the run held."""
        raise NotImplementedError

    def outcome(self):
        raise NotImplementedError

    def note(self, text: str) -> None:
        print(f"qwen-serve: {text}", file=sys.stderr, flush=True)

    def graceful(self) -> None:
        """The first step of a stop: SIGTERM to each member alone (SGLang drains on it; see the module's text)."""
        for member in self.members:
            member.signal(signal.SIGTERM)

    def begin_stop(self, why: str, pressed: bool = False) -> None:
        if self.stop_deadline is None:
            again = " (Ctrl-C again, a second or more later, to stop now)" if pressed else ""
            self.note(f"{why}: stopping {self.what}; SIGKILL in {self.stop_timeout:.0f} s{again}")
            sd_notify("STOPPING=1\nSTATUS=draining")
            self.graceful()
            self.stop_deadline = time.monotonic() + self.stop_timeout

    def kill_all(self) -> None:
        if any(m.proc is not None and m.exited is None for m in self.members):
            self.killed = True
        for member in self.members:
            member.signal(signal.SIGKILL, group=True)

    def request_stop(self, why: str) -> None:
        """A graceful stop asked for from another thread (the caller's work with the server is done): the main loop
        acts on it between ticks, as on a first Ctrl-C, and the outcome counts it as a clean stop."""
        self.stop_asked = self.stop_asked or why

    def act_on_stops(self) -> None:
        if self.stop_asked and self.stop_deadline is None:
            self.begin_stop(self.stop_asked)
        for name, first in self.signals.take():
            if first:
                self.begin_stop(name, pressed=True)
            else:
                self.note(f"{name} again: SIGKILL to {self.whom}")
                self.kill_all()
        if self.stop_deadline is not None and time.monotonic() > self.stop_deadline:
            self.note(f"stop timeout: SIGKILL to {self.whom}")
            self.kill_all()
            self.stop_deadline = float("inf")

    def run(self):
        self.start()
        try:
            while self.tick():
                time.sleep(0.1)
        except BaseException:
            self.kill_all()  # a failure of qwen-serve itself leaves nothing it started behind
            raise
        finally:
            self.stop()
        return self.outcome()


class Supervisor(Engine):
    """The engine over one SGLang (Server): its progress on the display, a ready banner, file and record, and an
    outcome that says why it ended."""

    def __init__(
        self, argv: Sequence[str], facts: ServerFacts, options: SuperviseOptions, display: Display | None = None
    ):
        super().__init__(options.stop_timeout)
        self.facts = facts
        self.options = options
        self.display = display or Display(options.quiet)
        env = dict(options.env if options.env is not None else os.environ)
        env.setdefault("PYTHONUNBUFFERED", "1")
        self.server = Server(
            "SGLang",
            list(argv),
            env,
            facts=facts,
            log_file=options.log_file,
            secrets=options.secrets,
            phase_labels=dict(options.phase_labels),
            on_line=self.display.child_line,
            on_phase=self.display.phase,
        )
        self.ready = False
        self.ready_at: float | None = None  # seconds from the start to ready
        self._last_probe = 0.0
        self.gave_up = False  # our own stop after --ready-timeout, not the user's
        self.record_written = False  # server_record_path(port), removed again when SGLang exits

    # --- the engine's hooks ------------------------------------------------------------------------
    @property
    def members(self) -> list[ManagedProcess]:
        return [self.server]

    @property
    def child(self) -> subprocess.Popen | None:
        return self.server.proc

    @property
    def watcher(self) -> LogWatcher:
        return self.server.watcher

    def note(self, text: str) -> None:
        self.display.stop()
        self.display.note(text, err=True)

    # --- the run: start, tick until SGLang exits, stop -------------------------------------------

    def start(self) -> None:
        """Spawn SGLang in a process group of its own that dies with qwen-serve; tee its output."""
        opts = self.options
        if opts.ready_file:  # one left by an earlier server would say "ready" before this one is
            remove_ready_file(opts.ready_file)
        self._t0 = time.monotonic()
        self.signals.install()
        remove_stale_record(self.facts.port)
        self.server.launch()
        self.display.start(f"starting SGLang (pid {self.child.pid}); log: {opts.log_file}")

    def tick(self) -> bool:
        """One turn of the main loop: act on signals and the stop timeout, show progress, probe readiness.
        False once SGLang has exited."""
        if self.child.poll() is not None:
            return False
        opts = self.options
        self.act_on_stops()
        now = time.monotonic()
        elapsed = now - self._t0
        if self.ready or self.signals or self.gave_up or self.stop_asked:
            return True
        w = self.watcher
        progress = f" {w.progress}" if w.progress is not None else ""
        self.display.update(f"[{elapsed:5.0f} s] {w.label}{progress}")
        self.display.heartbeat(elapsed, f"still {PHASE_LABELS.get(w.phase, w.label)}{progress}", opts.heartbeat_s)
        http_up = self.server.http_up
        interval = opts.probe_interval if http_up else max(opts.probe_interval, 1.0)
        if now - self._last_probe >= interval and (http_up or elapsed > 5):
            self._last_probe = now
            if self.server.probe():
                self.ready, self.ready_at = True, time.monotonic() - self._t0
                self.display.stop()
                self._announce(self.ready_at)
                if opts.after_ready:  # beside the loop: signals and the stop timeout still act
                    threading.Thread(
                        target=opts.after_ready, args=(self.ready_facts(self.ready_at),), daemon=True
                    ).start()
        if not self.ready and elapsed > opts.ready_timeout:
            self.gave_up = True
            self.begin_stop(f"not ready after {opts.ready_timeout:.0f} s (raise --ready-timeout for slow first starts)")
        return True

    def stop(self) -> None:
        """After SGLang's exit: nothing of its group outlives it, the handlers and the record go."""
        self.display.stop()
        self.act_on_stops()
        self.returncode = self.server.close()
        self.signals.restore()
        if self.record_written:
            server_record_path(self.facts.port).unlink(missing_ok=True)
        if self.options.ready_file:  # SGLang is gone: a ready file left behind would say "ready" to whoever reads it
            remove_ready_file(self.options.ready_file)

    def outcome(self) -> Outcome:
        exit_code, ready_at = exit_status(self.returncode), self.ready_at
        facts = dict(self.watcher.facts)
        stopped = self.signals or self.stop_asked
        if self.ready and stopped and not self.killed and exit_code in (0, 128 + signal.SIGKILL):
            self.display.note(f"SGLang stopped; log: {self.options.log_file}")
            return Outcome(0, True, ready_at, None, facts)
        if self.ready:
            self.display.note(f"SGLang exited with code {exit_code}; log: {self.options.log_file}")
            return Outcome(exit_code, True, ready_at, None, facts)
        if self.gave_up:
            return Outcome(EXIT_NOT_READY, False, None, "not ready before --ready-timeout", facts)
        if stopped:
            self.display.note(
                f"interrupted before SGLang was ready (SGLang exit code {exit_code}); exit {EXIT_INTERRUPTED}"
            )
            return Outcome(EXIT_INTERRUPTED, False, None, "interrupted before ready", facts)
        why = self.server.diagnosis()
        if self.display.quiet:  # SGLang's lines were not shown as they came: its last ones now, once
            err = self.display.err
            err.print(
                f"--- last {len(self.watcher.tail)} lines of SGLang's log ({self.options.log_file}) ---",
                markup=False,
                highlight=False,
            )
            for line in self.watcher.tail:
                err.print(line.rsplit("\r", 1)[-1], markup=False, highlight=False)
        self.display.note(f"SGLang exited with code {exit_code} before it was ready: {why}", err=True)
        return Outcome(exit_code or 1, False, None, why, facts)

    def ready_facts(self, seconds: float) -> dict[str, Any]:
        return self.server.ready_facts(seconds)

    def _announce(self, seconds: float) -> None:
        facts = self.ready_facts(seconds)
        try:  # before the ready file: whoever waits for that one finds the record too
            write_json(server_record_path(self.facts.port), facts)
            self.record_written = True
        except OSError:
            pass  # a read-only cache only costs the benchmark its preset/GPU label
        if self.options.ready_file:
            write_json(self.options.ready_file, facts)
        sd_notify(f"READY=1\nSTATUS=serving {facts['base_url']}")  # under systemd (Type=notify): now active
        for line in banner_lines(facts) if self.options.banner else ():
            self.display.note(line)


def banner_lines(facts: dict[str, Any]) -> list[str]:
    s = facts["sglang"]
    kv = f"{s['kv_tokens']:,} tokens" if "kv_tokens" in s else "(not in the log)"
    if "kv_k_gb" in s and "kv_v_gb" in s:
        kv += f" ({s['kv_k_gb'] + s['kv_v_gb']:.2f} GB)"
    memory = []
    if "weight_gb" in s:
        memory.append(f"weights {s['weight_gb']} GB")
    if "available_gpu_mem_gb" in s:
        memory.append(f"{s['available_gpu_mem_gb']} GB left free")
    auth = ' -H "Authorization: Bearer $QWEN_SERVE_API_KEY"' if facts["api_key_required"] else ""
    body = json.dumps(
        {"model": facts["served_model_name"], "messages": [{"role": "user", "content": "你好"}], "max_tokens": 64},
        ensure_ascii=False,
    )
    curl = f"curl {facts['openai_base_url']}/chat/completions -H 'Content-Type: application/json'{auth} -d '{body}'"
    lines = [
        f"ready in {facts['seconds_to_ready']:.1f} s — {facts['openai_base_url']} (OpenAI-compatible)",
        f"  model         {facts['model']}"
        + (f"  (served as {facts['served_model_name']})" if facts["served_model_name"] != facts["model"] else ""),
        f"  preset        {facts['preset'] or '(none)'}    quantization {facts['quantization']}    tp {facts['tp_size']}",
        f"  KV cache      {kv}"
        + (f"    max running requests {s['max_running_requests']}" if "max_running_requests" in s else ""),
        f"  GPU memory    {', '.join(memory) or '(not in the log)'}",
        f"  log           {facts['log_file']}",
        f"  try           {curl}",
    ]
    return lines
