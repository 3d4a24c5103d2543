"""qwen-serve as a library: launch one SGLang server the way `qwen-serve` does, from Python.

    from qwen_serve.launch import LaunchRequest, ServeOptions, serve

    request = LaunchRequest(preset="auto", cli_values={"port": "30001"}, environ=dict(os.environ))
    exit_code = serve(request, ServeOptions(ready_file="/tmp/ready.json", quiet=True))

`serve` runs one pipeline with data flowing one way: `prepare` (config -> settings -> checkpoint -> plan -> SGLang's
command), then `check` (every check that needs no side effect: the output paths, the port, the GPU, the plan's
verdict), then the weights download, then one supervised SGLang until it stops. Bad input raises QwenServeError
(one line: what, allowed, fix; nothing started); the exit code it returns is the one the CLI exits with
(0 stopped after being ready, 130 stopped before, 124 not ready in time, SGLang's own on a crash). `serve` installs
signal handlers: call it from the main thread.
"""

from __future__ import annotations

import os
import stat
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from .errors import QwenServeError
from .pipeline import LaunchRequest, Prepared, clear_to_launch, prepare

__all__ = [
    "FleetOptions",
    "LaunchRequest",
    "Prepared",
    "ServeOptions",
    "check",
    "check_fleet",
    "plan_fleet",
    "prepare",
    "read_key_file",
    "request_from_args",
    "serve",
    "serve_fleet",
    "settings_for",
]


def _to_stderr(line: str) -> None:
    print(f"qwen-serve: {line}", file=sys.stderr, flush=True)


@dataclass(frozen=True, kw_only=True)
class ServeOptions:
    """How to run the server, beside what to run (LaunchRequest). `note` receives each line for the user (warnings
    start with "warning: "); by default they go to stderr as `qwen-serve: LINE`."""

    log_file: str | None = None  # default: ~/.cache/qwen-serve/logs/sglang-DATE-PORT.log
    ready_file: str | None = None
    quiet: bool = False
    ready_timeout: float = 1200.0
    stop_timeout: float = 30.0
    run_tests: bool = False  # qwen-test's checks once ready
    api_key_file: str | None = None  # where the key came from (an input: no output may overwrite it)
    note: Callable[[str], None] = field(default=_to_stderr, compare=False)


def check_outputs(prepared: Prepared, options: ServeOptions, config_path: str | None = None) -> None:
    """No output path (the ready file, the log, the default log's folder) may overwrite an input of this run or a
    file the user has, or fail mid-run."""
    from .outputs import Input, Output
    from .outputs import check_outputs as check_paths
    from .preflight import looks_local
    from .supervise import default_log_path

    model = prepared.launch["model_path"]
    # the default log too: a HOME that is no folder, or a read-only cache, is one line here, not a crash at the start
    log = Output("--log-file", options.log_file or str(default_log_path(int(prepared.launch["port"]))), "log")
    check_paths(
        [Output("--ready-file", options.ready_file, "ready"), log],
        [
            Input("--config", config_path),
            Input("--api-key-file", options.api_key_file),
            Input("--model-path", model if looks_local(model) else None),
        ],
    )


def check(prepared: Prepared, options: ServeOptions, request: LaunchRequest) -> list[str]:
    """Every check of a launch that needs no side effect, in one place; the notes the user should read."""
    check_outputs(prepared, options, request.config_path)
    return clear_to_launch(prepared, request.sglang_version, request.force)


def check_with_own_parser(prepared: Prepared) -> str:
    """`--check`: the installed SGLang's own parser reads the prepared command; the line that says it took every
    intended field as intended (QwenServeError otherwise, or when the command is for another release)."""
    from .pipeline import read_by_own_parser

    target = prepared.command.target
    if not target.installed:
        raise QwenServeError(
            f"--check parses with the installed SGLang, but this is {target.description}",
            fix="drop --sglang-version, or install that release (uv sync)",
        )
    result = read_by_own_parser(prepared.command, f"sglang {target.version}")
    return (
        f"check: sglang {target.version}'s own parser accepts the command; "
        f"all {result.checked} intended fields parse as intended"
    )


def fetch_weights(prepared: Prepared, note: Callable[[str], None] = _to_stderr) -> None:
    """A hub id's files on disk before SGLang starts (qwen_serve.download); what SGLang's environment must add
    (HF_HUB_OFFLINE=1 when the hub was down and the cache is served) goes into this process's environment, which
    SGLang and a fleet's workers inherit."""
    from .download import ensure_weights

    os.environ.update(ensure_weights(prepared.launch["model_path"], echo=note))


def serve(request: LaunchRequest, options: ServeOptions | None = None, prepared: Prepared | None = None) -> int:
    """Validate, download, supervise: the exit code. `prepared`: the request already prepared (`prepare(request)`),
    as a caller that showed the plan first has it."""
    options = options or ServeOptions()
    prepared = prepared or prepare(request)
    for line in check(prepared, options, request):
        options.note(line)
    fetch_weights(prepared, options.note)
    return supervise(prepared, options)


def supervise(prepared: Prepared, options: ServeOptions) -> int:
    """One SGLang, started with the prepared command and supervised until it stops: the exit code."""
    from .supervise import ServerFacts, SuperviseOptions, Supervisor, default_log_path

    launch, command = prepared.launch, prepared.command
    facts = ServerFacts.of(prepared)
    supervise_options = SuperviseOptions(
        log_file=Path(options.log_file) if options.log_file else default_log_path(facts.port),
        quiet=options.quiet,
        ready_timeout=options.ready_timeout,
        stop_timeout=options.stop_timeout,
        ready_file=Path(options.ready_file) if options.ready_file else None,
        secrets=(launch["api_key"],) if launch["api_key"] else (),
        after_ready=_post_ready_checks(launch) if options.run_tests else None,
        env=command.child_env(dict(os.environ)),
        phase_labels=dict(command.phase_labels),
    )
    for line in _warnings(prepared, options):
        options.note(line)
    options.note(f"launching {command.shell()}")
    return Supervisor(command.argv, facts, supervise_options).run().exit_code


def _warnings(prepared: Prepared, options: ServeOptions) -> list[str]:
    launch = prepared.launch
    lines = []
    if launch.get("api_key").origin == "cli" and not options.api_key_file:
        lines.append(
            "warning: --api-key on qwen-serve's own command line is visible to every local user "
            "(ps); use QWEN_SERVE_API_KEY or --api-key-file (SGLang gets it through the environment either way)"
        )
    if launch["host"] in ("0.0.0.0", "::") and not launch["api_key"]:
        lines.append(
            f"warning: listening on {launch['host']} without --api-key: anyone who can reach "
            f"port {launch['port']} can use the server (pass --api-key, or --host 127.0.0.1)"
        )
    return lines


def _post_ready_checks(launch):
    def run_checks(facts: dict) -> None:
        from . import client
        from .report import CheckTable

        options = client.Options(base_url=facts["base_url"], api_key=launch["api_key"])
        table = CheckTable(live=False)
        results, _ = client.run_checks(options, list(client.CHECKS))
        table.finish(results, facts["base_url"])

    return run_checks


KEY_FILE_MAX_BYTES = 4096  # a key is a line; a larger file is not a key file


def read_key_file(
    path: str, typed: object = None, flag: str = "--api-key-file", note: Callable[[str], None] = _to_stderr
) -> str:
    """The API key from the first line of a file (the way to keep it off every command line), checked as the
    api_key setting is; a file other users can read is a warning (ssh's rule for private keys)."""
    if typed:
        raise QwenServeError(
            "--api-key and --api-key-file both given", fix="keep one (the file keeps the key out of argv)"
        )
    try:
        # a regular file, read bounded: a FIFO would block for ever and /dev/zero never end
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
        try:
            info = os.fstat(fd)
            if not stat.S_ISREG(info.st_mode):
                raise QwenServeError(
                    f"{flag}: '{path}' is not a regular file (a directory, device, pipe or socket)",
                    fix="pass a text file whose first line is the key",
                )
            data = os.read(fd, KEY_FILE_MAX_BYTES + 1)
        finally:
            os.close(fd)
        if len(data) > KEY_FILE_MAX_BYTES:
            raise QwenServeError(
                f"{flag}: '{path}' is {info.st_size:,} bytes",
                allowed=f"a key file of at most {KEY_FILE_MAX_BYTES:,} bytes",
                fix="pass the file that holds only the key",
            )
        text = data.decode("utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise QwenServeError(
            f"{flag}: '{path}' cannot be read ({exc.__class__.__name__})",
            fix="pass a readable text file whose first line is the key",
        ) from None
    key = text.strip().splitlines()[0].strip() if text.strip() else ""
    if not key:
        raise QwenServeError(f"{flag}: '{path}' is empty", fix="write the key on its first line")
    from .settings import FIELDS_BY_NAME

    FIELDS_BY_NAME["api_key"].coerce(key, where=f"from {flag} {path}", from_text=True)
    if info.st_mode & 0o077:  # ssh's rule for private keys
        note(
            f"warning: {flag} '{path}' can be read by other users (mode {stat.S_IMODE(info.st_mode):o}); "
            f"chmod 600 {path}"
        )
    return key


@dataclass(frozen=True, kw_only=True)
class FleetOptions:
    """Several SGLang workers behind the release's router (`--replicas`, `--worker-url`)."""

    replicas: int  # local workers (0: only the router, in front of worker_urls)
    worker_urls: tuple[str, ...] = ()
    gpu_share: bool = False  # the workers share one GPU: each starts once the one before it is ready
    router_policy: str = "cache_aware"
    router_metrics_port: int | None = None

    @classmethod
    def asked(
        cls,
        replicas: int | None = None,
        worker_urls: Sequence[str] = (),
        *,
        gpu_share: bool = False,
        router_policy: str | None = None,
        router_metrics_port: int | None = None,
    ) -> FleetOptions | None:
        """The fleet a command asks for (None: not given), or None for one SGLang with no router. --worker-url
        alone puts the router in front of servers elsewhere; a router's flag with one server is refused, as it
        would do nothing."""
        count = (0 if worker_urls else 1) if replicas is None else replicas
        if count == 1 and not worker_urls:
            given = (
                ("--gpu-share", gpu_share),
                ("--router-policy", router_policy),
                ("--router-metrics-port", router_metrics_port),
            )
            for flag, value in given:
                if value not in (None, False):
                    raise QwenServeError(
                        f"{flag} is for several workers behind a router, and --replicas is 1 with no --worker-url",
                        allowed=f"{flag} with --replicas 2 or more, or with --worker-url",
                        fix=f"add --replicas 2, or drop {flag}",
                    )
            return None
        return cls(
            replicas=count,
            worker_urls=tuple(worker_urls),
            gpu_share=gpu_share,
            router_policy=cls.router_policy if router_policy is None else router_policy,  # the field's default
            router_metrics_port=router_metrics_port,
        )


def plan_fleet(prepared: Prepared, request: LaunchRequest, fleet: FleetOptions, options: ServeOptions):
    """The fleet as data (fleet.Fleet): each worker prepared for its port and GPUs, the router's command; starts
    nothing. The GPUs are the ones `prepare` planned for, read once for every worker."""
    from .fleet import ROUTER_METRICS_PORT, build_fleet

    return build_fleet(
        prepared,
        replicas=fleet.replicas,
        worker_urls=tuple(fleet.worker_urls),
        policy=fleet.router_policy,
        metrics_port=ROUTER_METRICS_PORT if fleet.router_metrics_port is None else fleet.router_metrics_port,
        request=request,
        hardware=prepared.hardware,
        gpu_share=fleet.gpu_share,
        memory_fraction=prepared.launch["mem_fraction_static"]
        or (prepared.fit.plan.mem_fraction_static if prepared.fit else None),
        log_dir=fleet_log_dir(prepared, options),
    )


def fleet_log_dir(prepared: Prepared, options: ServeOptions) -> Path:
    """--log-file names the router's log, the workers' logs beside it; else a folder for the port."""
    from .supervise import default_log_path

    if options.log_file:
        return Path(options.log_file).parent
    port = int(prepared.launch["port"])
    return default_log_path(port).parent / f"fleet-{port}"


def check_fleet(prepared: Prepared, request: LaunchRequest, fleet, options: ServeOptions) -> list[str]:
    """Every check of a fleet's launch that needs no side effect, before any download: the output paths, the
    workers' gate (or the router's host and port alone), every port the fleet binds, the release's router."""
    import importlib.util

    from .fleet import check_fleet_ports
    from .preflight import check_port

    check_outputs(prepared, options, request.config_path)
    notes: list[str] = []
    if fleet.workers:
        notes = clear_to_launch(prepared, request.sglang_version, request.force)
    else:
        check_port(prepared.launch)
    check_fleet_ports(fleet)
    release = prepared.command.target.release
    if importlib.util.find_spec(release.router_module) is None:
        from .sglang.releases import DEFAULT

        raise QwenServeError(
            f"--replicas and --worker-url run {release.router_package} (the router of SGLang "
            f"{prepared.command.target.version}), which is not installed",
            fix="pip install 'qwen-serve[router]' (sglang-router)"
            if release.version == DEFAULT
            else f"pip install '{release.router_requirement}'",
        )
    return notes


def serve_fleet(prepared: Prepared, request: LaunchRequest, fleet, options: ServeOptions) -> int:
    """Validate, download (once, before the workers start: each then finds the cache complete), supervise the
    workers and the router under one engine: the exit code."""
    from .fleet import FleetSupervisor

    for line in check_fleet(prepared, request, fleet, options):
        options.note(line)
    if fleet.workers:
        fetch_weights(prepared, options.note)
    supervisor = FleetSupervisor(
        fleet,
        fleet_log_dir(prepared, options),
        options.ready_timeout,
        options.stop_timeout,
        Path(options.ready_file) if options.ready_file else None,
        router_log=Path(options.log_file) if options.log_file else None,
    )
    return supervisor.run()


# A recorded `qwen-serve` command (a unit, a lab's raw file): the request's own flags, and the options of the run
# that are no setting (how many words each takes); tests/test_architecture.py holds both to the serve command's.
REQUEST_FLAGS = {
    "--config": "config_path",
    "--preset": "preset",
    "--load": "load",
    "--gpu": "gpu_spec",
    "--sglang-version": "sglang_version",
}
REQUEST_SWITCHES = {"--force": "force"}
RUN_OPTIONS = {
    "--log-file": 1,
    "--ready-file": 1,
    "--ready-timeout": 1,
    "--stop-timeout": 1,
    "--api-key-file": 1,
    "--replicas": 1,
    "--worker-url": 1,
    "--router-policy": 1,
    "--router-metrics-port": 1,
    "--quiet": 0,
    "--dry-run": 0,
    "--json": 0,
    "--check": 0,
    "--test": 0,
    "--gpu-share": 0,
}


def request_from_args(args: Sequence[str]) -> LaunchRequest:
    """The request a recorded `qwen-serve [serve] ARGS` command makes: REQUEST_FLAGS, --force, each setting's flag
    (`--flag VALUE`, `--flag=VALUE`, `--flag`/`--no-flag`) and the words after `--`; the run's options (RUN_OPTIONS:
    --quiet, --log-file, …) are read past. Any other word: QwenServeError naming it."""
    from .settings import FIELDS

    settings = {spec.cli_flag: spec.name for spec in FIELDS if spec.kind is not bool}
    switches = {spec.cli_flag: (spec.name, True) for spec in FIELDS if spec.kind is bool}
    switches |= {spec.cli_no_flag: (spec.name, False) for spec in FIELDS if spec.kind is bool}
    words = list(args[1:] if list(args[:1]) == ["serve"] else args)
    values: dict[str, object] = {}
    known: dict[str, object] = {}
    while words:
        word = words.pop(0)
        flag, eq, inline = word.partition("=")
        if word == "--":
            known["passthrough"] = tuple(words)
            break
        if word in switches:
            name, on = switches[word]
            values[name] = on
        elif word in REQUEST_SWITCHES:
            known[REQUEST_SWITCHES[word]] = True
        elif RUN_OPTIONS.get(word) == 0:
            continue  # a switch of the run
        elif flag in settings or flag in REQUEST_FLAGS or flag in RUN_OPTIONS:
            if not eq and not words:
                raise QwenServeError(f"{flag} has no value in the recorded command", fix=f"give {flag} a value")
            value = inline if eq else words.pop(0)
            if flag in settings:
                values[settings[flag]] = value
            elif flag in REQUEST_FLAGS:
                known[REQUEST_FLAGS[flag]] = value
        else:
            raise QwenServeError(
                f"'{word}' in a recorded qwen-serve command is no option of `qwen-serve serve`",
                fix="`qwen-serve --help` lists them; SGLang's own flags go after `--`",
            )
    if "load" in known:
        from .tune_result import parse_load

        known["load"] = parse_load(known["load"])
    return LaunchRequest(cli_values=values, **known)


def settings_for(request: LaunchRequest) -> dict[str, object]:
    """The setting values a request resolves to (config file, preset, flags), before the plan's own choices such as
    layered loading: for scripts that replay a recorded command. `--preset auto` is not chosen here (that needs
    the GPU): name the preset it chose."""
    from .config import load_config
    from .resolve import resolve

    launch = resolve(load_config(request.config_path), request.preset, request.cli_values, request.passthrough)
    return {s.name: s.value for s in launch.settings}
