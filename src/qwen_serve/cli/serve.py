"""`qwen-serve serve` (the default command): resolve, plan and launch SGLang, or show it with --dry-run."""

from __future__ import annotations

import sys
import textwrap

import click

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
WAIT = {"show_default": True, "metavar": "SECONDS"}  # --ready-timeout, --stop-timeout
ROUTER = "With --replicas/--worker-url: "


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
    "--sglang-version", metavar="X.Y.Z", help="Build the command for this SGLang release, not the installed one."
)
@click.option("--log-file", metavar="PATH", help="SGLang's log (default: ~/.cache/qwen-serve/logs/…).")
@click.option("--quiet", is_flag=True, help="Show progress and the banner, not SGLang's own log lines.")
@click.option("--ready-timeout", type=Finite(1), default=1200, help="Give up (exit 124) if not ready by then.", **WAIT)
@click.option(
    "--stop-timeout",
    default=30,
    type=Finite(0),
    help="Grace period after SIGINT/SIGTERM (SGLang drains running requests) before SIGKILL.",
    **WAIT,
)
@click.option("--ready-file", metavar="PATH", help="Write the ready facts as JSON here once ready (for scripts).")
@click.option("--test", "run_tests", is_flag=True, help="Run qwen-test's checks once the server is ready.")
@click.option(
    "--gpu", "gpu_spec", metavar="SPEC", help="Plan for this GPU, not the detected one: 'RTX 4090', H100x2, 24GiB,sm89."
)
@click.option("--force", is_flag=True, help="Launch even when the memory plan says it does not fit.")
@click.option(
    "--api-key-file",
    metavar="FILE",
    help="Read the API key from this file (its first line); or set QWEN_SERVE_API_KEY. Either keeps the key off "
    "every command line.",
)
@click.option(
    "--replicas",
    type=click.IntRange(0, MAX_REPLICAS),
    metavar="N",
    help="N workers on disjoint GPUs (tp-size each) behind SGLang's router (sglang-router; smg from SGLang 0.5.18) "
    "on --host/--port; workers on 127.0.0.1, ports PORT+1 … PORT+N.  [default: 1]",
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
    help=ROUTER + "the router's policy: cache_aware, round_robin, power_of_two, random.  [default: cache_aware]",
)
@click.option(
    "--router-metrics-port",
    type=PORT_RANGE,
    metavar="PORT",
    help=ROUTER
    + f"the router's Prometheus /metrics on --host (requests per worker).  [default: {ROUTER_METRICS_PORT}]",
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
    options = launch.ServeOptions(**_fields(launch.ServeOptions, params))
    fleet = launch.FleetOptions.asked(**_fields(launch.FleetOptions, params))
    request = launch_request(params, cli_values)
    prepared = launch.prepare(request)
    shown = params["dry_run"] or params["check"]
    if shown:  # answered as the launch would answer them (a launch checks them in launch.serve)
        launch.check_outputs(prepared, options, request.config_path)
    planned = launch.plan_fleet(prepared, request, fleet, options) if fleet else None
    if not shown:
        sys.exit(
            launch.serve_fleet(prepared, request, planned, options)
            if planned is not None
            else launch.serve(request, options, prepared)
        )
    if params["dry_run"]:
        _show_dry_run(prepared, params["as_json"], planned)
    if params["check"]:  # a fleet: what every worker runs, but for its own port and host
        click.echo(launch.check_with_own_parser(prepared))
    if fleet is None:
        refuse_unfit(prepared, request.force)  # shown, and answered as the launch would be


def _fields(cls, params: dict) -> dict:
    """The click parameters named as the library dataclass's fields (tests/test_architecture.py holds them so)."""
    from dataclasses import fields

    return {f.name: params[f.name] for f in fields(cls) if f.name in params}


def _show_dry_run(prepared, as_json: bool, fleet) -> None:
    from ..report import dry_run_json, fleet_dry_run, print_dry_run

    if fleet is not None:
        click.echo(fleet_dry_run(fleet, as_json))
    elif as_json:
        click.echo(dry_run_json(prepared.launch, prepared.command, prepared.fit, prepared.notes))
    else:
        print_dry_run(prepared.launch, prepared.command, click.echo, prepared.fit, prepared.notes)
