"""`qwen-serve serve` (the default command): resolve, plan and launch SGLang, or show it with --dry-run."""

from __future__ import annotations

import sys
import textwrap

import click

from ..errors import QwenServeError
from ..resolve import PRECEDENCE
from ..settings import ROUTER_METRICS_PORT
from .common import CONTEXT, PORT_RANGE, Command, Finite, config_option, launch_request, setting_options, typed_settings

MAX_REPLICAS = 64  # workers on one machine: 8 GPUs shared 8 ways at most

# the help's closing words: the precedence as resolve.Layer declares it, and how other SGLang flags pass through
HELP_EPILOG = (
    "\b\n"
    + textwrap.fill(
        "Precedence (lowest first): " + " < ".join(PRECEDENCE) + ". Other SGLang flags go after `--`, "
        "checked against SGLang's parser (a flag qwen-serve models, like --port, is refused):",
        78,
    )
    + "\n  qwen-serve --preset balanced -- --schedule-policy lpm"
)


@click.command("serve", cls=Command, context_settings=CONTEXT, epilog=HELP_EPILOG)
@config_option
@click.option(
    "--preset", metavar="NAME", help="A preset of the config file, e.g. balanced; auto: the best that fits this GPU."
)
@click.option(
    "--load",
    metavar="interactive|throughput|N",
    help="With --preset auto and a `qwen-serve tune` result: pick the fastest preset measured at one request "
    "(interactive), the most (throughput) or about N at once.",
)
@setting_options
@click.option("--dry-run", is_flag=True, help="Print the SGLang command and every setting's origin; launch nothing.")
@click.option("--json", "as_json", is_flag=True, help="With --dry-run: print JSON.")
@click.option("--check", is_flag=True, help="Parse the command with the installed SGLang's own parser; launch nothing.")
@click.option(
    "--sglang-version", metavar="X.Y.Z", help="Build the command for this SGLang release instead of the installed one."
)
@click.option("--log-file", metavar="PATH", help="SGLang's log (default: ~/.cache/qwen-serve/logs/…).")
@click.option("--quiet", is_flag=True, help="Show progress and the banner, not SGLang's own log lines.")
@click.option(
    "--ready-timeout",
    type=Finite(1),
    default=1200,
    show_default=True,
    metavar="SECONDS",
    help="Give up (exit 124) if not ready by then.",
)
@click.option(
    "--stop-timeout",
    type=Finite(0),
    default=30,
    show_default=True,
    metavar="SECONDS",
    help="Grace period after SIGINT/SIGTERM (SGLang drains running requests) before SIGKILL.",
)
@click.option("--ready-file", metavar="PATH", help="Write the ready facts as JSON here once ready (for scripts).")
@click.option("--test", "run_tests", is_flag=True, help="Run qwen-test's checks once the server is ready.")
@click.option(
    "--gpu",
    "gpu_spec",
    metavar="SPEC",
    help="Plan for this GPU instead of the detected one, e.g. 'RTX 4090', H100x2, 24GiB,sm89.",
)
@click.option("--force", is_flag=True, help="Launch even when the memory plan says it does not fit.")
@click.option(
    "--api-key-file",
    metavar="FILE",
    help="Read the API key from this file (its first line); "
    "or set QWEN_SERVE_API_KEY. Either keeps the key off every command line.",
)
@click.option(
    "--replicas",
    type=click.IntRange(0, MAX_REPLICAS),
    default=1,
    show_default=True,
    metavar="N",
    help="N workers on disjoint GPUs (tp-size each) behind SGLang's router (sglang-router; smg from SGLang 0.5.18) "
    "on --host/--port; workers on 127.0.0.1, ports PORT+1 … PORT+N.",
)
@click.option(
    "--worker-url",
    "worker_urls",
    multiple=True,
    metavar="URL",
    help="An SGLang server elsewhere to route to as well (repeat); with no local --replicas, only the router runs.",
)
@click.option(
    "--gpu-share",
    is_flag=True,
    help="With --replicas: every worker on the same GPU(s), each with 1/N of the memory one server would take, "
    "started one after another.",
)
@click.option(
    "--router-policy",
    default="cache_aware",
    show_default=True,
    help="The router's policy with --replicas/--worker-url: cache_aware, round_robin, power_of_two, random.",
)
@click.option(
    "--router-metrics-port",
    type=PORT_RANGE,
    default=ROUTER_METRICS_PORT,
    show_default=True,
    metavar="PORT",
    help="With --replicas/--worker-url: the router's Prometheus /metrics on --host (requests per worker).",
)
@click.argument("passthrough", nargs=-1, type=click.UNPROCESSED)
def serve(**params):
    """Launch SGLang with the resolved settings (or show them with --dry-run)."""
    from .. import launch
    from ..pipeline import refuse_unfit

    ctx = click.get_current_context()
    cli_values = typed_settings(ctx, params)
    if params["api_key_file"]:
        cli_values["api_key"] = launch.read_key_file(params["api_key_file"], cli_values.get("api_key"))
    options = _options(launch.ServeOptions, params)
    request = launch_request(params, cli_values)
    prepared = launch.prepare(request)
    dry_run, check, as_json = params["dry_run"], params["check"], params["as_json"]
    if dry_run or check:  # answered as the launch would answer (a launch checks them in launch.serve)
        launch.check_outputs(prepared, options, request.config_path)
    count = _replicas(ctx, params["replicas"], params["worker_urls"])
    if count is not None:
        fleet = _options(launch.FleetOptions, params, replicas=count, worker_urls=tuple(params["worker_urls"]))
        _serve_fleet(prepared, request, options, fleet, dry_run=dry_run, as_json=as_json, check=check)
        return
    if dry_run:
        _show_dry_run(prepared, as_json)
    if check:
        _check(prepared)
    if dry_run or check:
        refuse_unfit(prepared, request.force)  # shown, and answered as the launch would be
        return
    sys.exit(launch.serve(request, options, prepared))


def _options(cls, params: dict, **changes):
    """A library options dataclass from click's parameters: its field names are the command's parameter names
    (tests/test_architecture.py holds them so)."""
    from dataclasses import fields

    return cls(**{**{f.name: params[f.name] for f in fields(cls) if f.name in params}, **changes})


def _show_dry_run(prepared, as_json: bool) -> None:
    from ..report import dry_run_json, print_dry_run

    if as_json:
        click.echo(dry_run_json(prepared.launch, prepared.command, prepared.fit, prepared.notes))
    else:
        print_dry_run(prepared.launch, prepared.command, click.echo, prepared.fit, prepared.notes)


def _check(prepared) -> None:
    from ..launch import check_with_own_parser

    click.echo(check_with_own_parser(prepared))


def _replicas(ctx: click.Context, replicas: int, worker_urls) -> int | None:
    """Local workers behind a router, or None for one SGLang with no router."""
    from click.core import ParameterSource

    given = ctx.get_parameter_source("replicas") is ParameterSource.COMMANDLINE
    count = 0 if worker_urls and not given else replicas  # --worker-url alone: the router in front of servers elsewhere
    if count == 1 and not worker_urls:  # one SGLang, no router: the router's flags would do nothing (0: the library's)
        for name, flag in (
            ("gpu_share", "--gpu-share"),
            ("router_policy", "--router-policy"),
            ("router_metrics_port", "--router-metrics-port"),
        ):
            if ctx.get_parameter_source(name) is ParameterSource.COMMANDLINE:
                raise QwenServeError(
                    f"{flag} is for several workers behind a router, and --replicas is 1 with no --worker-url",
                    allowed=f"{flag} with --replicas 2 or more, or with --worker-url",
                    fix=f"add --replicas 2, or drop {flag}",
                )
        return None
    return count


def _serve_fleet(prepared, request, options, fleet_options, *, dry_run: bool, as_json: bool, check: bool) -> None:
    """--replicas / --worker-url: the fleet shown (--dry-run, --check) or served through the library."""
    from .. import launch

    fleet = launch.plan_fleet(prepared, request, fleet_options, options)
    if dry_run:
        from ..report import fleet_dry_run

        click.echo(fleet_dry_run(fleet, as_json))
    if check:
        _check(prepared)  # what every worker runs, but for its own port and host
    if dry_run or check:
        return
    sys.exit(launch.serve_fleet(prepared, request, fleet, options))
