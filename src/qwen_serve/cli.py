"""`qwen-serve`: thin click commands that parse flags and hand over to the pipeline stages.

config (load + validate) -> resolve (layer, with origins) -> sglang_args (argv) -> supervise.
Nothing here imports torch or sglang: --help and --dry-run stay instant.
"""

from __future__ import annotations

import functools
import sys

import click

from .errors import QwenServeError
from .settings import FIELDS

_SUBCOMMAND_HELP = """\b
Precedence (lowest first): the bundled server_config.yaml's top level (the
defaults) < your --config file's top level < the selected preset
< QWEN_SERVE_API_KEY < flags you typed.  Other SGLang flags go after `--`, checked
against SGLang's parser (a flag qwen-serve models, like --port, is refused):
  qwen-serve --preset balanced -- --enable-metrics
\b
Other commands:  qwen-serve serve …  (this one, the default)
                 qwen-serve plan [--gpu SPEC]      (memory plan of every preset)
                 qwen-serve skeleton DIR [--tiny]  (offline Qwen3 model directory)"""


class DefaultGroup(click.Group):
    """`qwen-serve --preset x` means `qwen-serve serve --preset x` (`qwen-bench …`: `qwen-bench run …`)."""

    default_command = "serve"

    def parse_args(self, ctx, args):
        if not args or (args[0] not in self.commands and args[0] != "--version"):
            args = [self.default_command, *args]
        return super().parse_args(ctx, args)


class BenchGroup(DefaultGroup):
    default_command = "run"


@click.group(cls=DefaultGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="qwen-serve", prog_name="qwen-serve")
def main_group() -> None:
    """Serve Qwen3-14B on SGLang, configured right for the GPU in front of you."""


def _setting_options(func):
    for spec in reversed(FIELDS):
        if spec.kind is bool:
            decl = f"{spec.cli_flag}/--no-{spec.cli_flag[2:]}"
            func = click.option(decl, spec.name, default=None, help=spec.help)(func)
        else:
            metavar = {int: "INT", float: "FLOAT"}.get(spec.kind, "TEXT")
            func = click.option(spec.cli_flag, spec.name, metavar=metavar, help=spec.help)(func)
    return func


@main_group.command(
    "serve",
    context_settings={"help_option_names": ["-h", "--help"]},
    epilog=_SUBCOMMAND_HELP,
)
@click.option("--config", "config_path", metavar="FILE", help="YAML config (default: bundled server_config.yaml).")
@click.option(
    "--preset", metavar="NAME", help="A preset of the config file, e.g. balanced; auto: the best that fits this GPU."
)
@_setting_options
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
    type=click.FloatRange(1),
    default=1200,
    show_default=True,
    metavar="SECONDS",
    help="Give up (exit 124) if not ready by then.",
)
@click.option(
    "--stop-timeout",
    type=click.FloatRange(0),
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
@click.argument("passthrough", nargs=-1, type=click.UNPROCESSED)
def serve(
    config_path,
    preset,
    dry_run,
    as_json,
    check,
    sglang_version,
    log_file,
    quiet,
    ready_timeout,
    stop_timeout,
    ready_file,
    run_tests,
    gpu_spec,
    force,
    api_key_file,
    passthrough,
    **cli_values,
):
    """Launch SGLang with the resolved settings (or show them with --dry-run)."""
    import os

    from .pipeline import clear_to_launch, prepare

    try:
        if api_key_file:
            cli_values["api_key"] = _read_key_file(api_key_file, cli_values.get("api_key"))
        prepared = prepare(
            config_path, preset, cli_values, tuple(passthrough), gpu_spec, force, sglang_version, dict(os.environ)
        )
        if dry_run:
            _show_dry_run(prepared, as_json)
        if check:
            _check(prepared.command)
        if dry_run or check:
            return
        notes = clear_to_launch(prepared, sglang_version, force)
    except QwenServeError as exc:
        _fail(exc)
    for note in notes:
        click.echo(f"qwen-serve: {note}", err=True)
    sys.exit(
        _launch(
            prepared.launch,
            prepared.command,
            prepared.fit,
            log_file,
            quiet,
            ready_timeout,
            stop_timeout,
            ready_file,
            run_tests,
            api_key_from_file=bool(api_key_file),
        )
    )


def _read_key_file(path: str, typed: str | None) -> str:
    from pathlib import Path

    if typed:
        raise QwenServeError(
            "--api-key and --api-key-file both given", fix="keep one (the file keeps the key out of argv)"
        )
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise QwenServeError(
            f"--api-key-file: '{path}' cannot be read ({exc.__class__.__name__})",
            fix="pass a readable text file whose first line is the key",
        ) from None
    key = text.strip().splitlines()[0].strip() if text.strip() else ""
    if not key:
        raise QwenServeError(f"--api-key-file: '{path}' is empty", fix="write the key on its first line")
    return key


def _show_dry_run(prepared, as_json: bool) -> None:
    from .report import dry_run_json, print_dry_run

    if as_json:
        click.echo(dry_run_json(prepared.launch, prepared.command, prepared.fit))
    else:
        print_dry_run(prepared.launch, prepared.command, click.echo, prepared.fit)


def resolved_settings(args: list[str]) -> dict:
    """The setting values `qwen-serve ARGS` resolves to (config file, preset, flags), before the
    plan's own choices such as layered loading: for scripts and tests that replay a recorded command."""
    from .config import load_config
    from .resolve import resolve

    params = serve.make_context("serve", list(args)).params
    values = {spec.name: params[spec.name] for spec in FIELDS}
    launch = resolve(load_config(params["config_path"]), params["preset"], values, tuple(params["passthrough"]))
    return {s.name: s.value for s in launch.settings}


def _launch(
    launch,
    command,
    fit,
    log_file,
    quiet,
    ready_timeout,
    stop_timeout,
    ready_file,
    run_tests,
    api_key_from_file: bool = False,
) -> int:
    import os
    from pathlib import Path

    from .supervise import ServerFacts, SuperviseOptions, Supervisor, default_log_path, quantization_label

    facts = ServerFacts(
        host=launch["host"],
        port=launch["port"],
        model=launch["model_path"],
        served_model_name=launch["served_model_name"],
        preset=launch.preset.name if launch.preset else None,
        quantization=quantization_label(launch["torchao_config"], launch["quantization"], launch["kv_cache_dtype"]),
        tp_size=launch["tp_size"],
        api_key=launch["api_key"],
        gpu=fit.hardware if fit else None,
    )
    options = SuperviseOptions(
        log_file=Path(log_file) if log_file else default_log_path(facts.port),
        quiet=quiet,
        ready_timeout=ready_timeout,
        stop_timeout=stop_timeout,
        ready_file=Path(ready_file) if ready_file else None,
        secrets=(launch["api_key"],) if launch["api_key"] else (),
        after_ready=_post_ready_checks(launch) if run_tests else None,
        env={**os.environ, **command.environ} if command.env else None,
        phase_labels=dict(command.phase_labels),
    )
    if launch.get("api_key").origin == "cli" and not api_key_from_file:
        click.echo(
            "qwen-serve: warning: --api-key on qwen-serve's own command line is visible to every local user "
            "(ps); use QWEN_SERVE_API_KEY or --api-key-file (SGLang gets it through the environment either way)",
            err=True,
        )
    if facts.host in ("0.0.0.0", "::") and not facts.api_key:
        click.echo(
            f"qwen-serve: warning: listening on {facts.host} without --api-key: anyone who can reach "
            f"port {facts.port} can use the server (pass --api-key, or --host 127.0.0.1)",
            err=True,
        )
    click.echo(f"qwen-serve: launching {command.shell()}", err=True)
    click.echo(f"qwen-serve: SGLang's log: {options.log_file}", err=True)
    return Supervisor(command.argv, facts, options).run().exit_code


def _post_ready_checks(launch):
    def run_checks(facts: dict) -> None:
        from . import client
        from .report import CheckTable

        options = client.Options(base_url=facts["base_url"], api_key=launch["api_key"])
        table = CheckTable(live=False)
        results, _ = client.run_checks(options, list(client.CHECKS))
        table.finish(results, facts["base_url"])

    return run_checks


@main_group.command("plan", context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--config", "config_path", metavar="FILE", help="YAML config (default: bundled server_config.yaml).")
@click.option("--preset", metavar="NAME", help="Plan one preset (default: every preset of the file).")
@click.option(
    "--gpu",
    "gpu_spec",
    metavar="SPEC",
    help="GPU to plan for, e.g. 'RTX 4090', A100-80GB, H100x2, 24GiB,sm89 (default: the detected ones).",
)
@_setting_options
@click.option("--json", "as_json", is_flag=True, help="Print the plans as JSON.")
def plan_command(config_path, preset, gpu_spec, as_json, **cli_values):
    """Memory plan: weights, peak at load, KV cache tokens and a verdict per preset, before loading anything."""
    from .config import load_config
    from .pipeline import hardware_for
    from .plan import choose_preset, plan_as_launched
    from .report import print_plans
    from .resolve import resolve

    try:
        config = load_config(config_path)
        hw = hardware_for(gpu_spec, required="qwen-serve plan")
        names = [preset] if preset else list(config.presets)
        plans = []
        for name in names:
            launch = resolve(config, name, cli_values)
            plans.append(plan_as_launched({s.name: s.value for s in launch.settings}, hw.gpu, hw.count, name=name))
        try:
            auto_line = choose_preset(config, cli_values, hw.gpu, hw.count)[1]
        except QwenServeError as exc:
            auto_line = exc.line
    except QwenServeError as exc:
        _fail(exc)
    if as_json:
        import json

        click.echo(
            json.dumps(
                {
                    "hardware": hw.describe(),
                    "config": config.label,
                    "auto": auto_line,
                    "auto_order": config.auto_order_for(hw.gpu),
                    "plans": [p.as_dict() for p in plans],
                },
                indent=2,
            )
        )
    else:
        print_plans(plans, hw.describe(), config.label, click.echo)
        click.echo(auto_line)


@main_group.command("skeleton", context_settings={"help_option_names": ["-h", "--help"]})
@click.argument("out_dir", metavar="DIR")
@click.option("--tiny", is_flag=True, help="A small Qwen3 with random weights (safetensors) that runs on a CPU.")
@click.option("--ranks", metavar="FILE", help="qwen.tiktoken or a dashscope wheel (default: the installed dashscope).")
def skeleton(out_dir, tiny, ranks):
    """Write a Qwen3-14B model directory offline: real config.json, real Qwen tokenizer.

    Serve it with SGLang's --load-format dummy (random weights of the real shapes):
    qwen-serve --preset high_performance --model-path DIR --load-format dummy
    """
    from .skeleton import write_skeleton

    try:
        path = write_skeleton(out_dir, tiny=tiny, ranks=ranks)
    except QwenServeError as exc:
        _fail(exc)
    files = ", ".join(sorted(p.name for p in path.iterdir()))
    click.echo(f"wrote {'tiny Qwen3' if tiny else 'Qwen3-14B skeleton'} to {path}: {files}")


def _check(command) -> None:
    from .check import check_command

    target = command.target
    if not target.installed:
        raise QwenServeError(
            f"--check parses with the installed SGLang, but this is {target.description}",
            fix="drop --sglang-version, or install that release (uv sync)",
        )
    result = check_command(command)
    if not result.accepted:
        raise QwenServeError(f"sglang {target.version}'s parser rejects the command: {result.error}")
    if result.mismatches:
        raise QwenServeError(
            f"sglang {target.version}'s parser reads the command differently: " + "; ".join(result.mismatches)
        )
    click.echo(
        f"check: sglang {target.version}'s own parser accepts the command; "
        f"all {result.checked} intended fields parse as intended"
    )


def _server_url(base_url: str | None, host: str, port: int) -> str:
    """http://host:port of a server, from --base-url (with or without /v1) or --host/--port."""
    url = (base_url or f"http://{host}:{port}").rstrip("/")
    return url[: -len("/v1")] if url.endswith("/v1") else url


def _fail(exc: QwenServeError, prog: str = "qwen-serve") -> None:
    click.echo(f"{prog}: error: {exc.line}", err=True)
    sys.exit(exc.exit_code)


def main() -> None:
    main_group(prog_name="qwen-serve")


@click.command("qwen-test", context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="qwen-serve", prog_name="qwen-test")
@click.option("--host", default="127.0.0.1", show_default=True, help="Server host.")
@click.option("--port", default=30000, show_default=True, type=int, help="Server port.")
@click.option("--base-url", metavar="URL", help="Server URL (instead of --host/--port), e.g. http://gpu:30000.")
@click.option("--api-key", metavar="KEY", help="Bearer token; also checks that requests without it are refused.")
@click.option(
    "--prompt", default=None, help="Prompt for the chat checks (default: the seed's 你好，介绍一下Python编程语言。)."
)
@click.option("--model", metavar="NAME", help="Model id to request (default: the first /v1/models reports).")
@click.option("--only", multiple=True, metavar="CHECK", help="Run only these checks (repeat, or comma-separated).")
@click.option("--skip", multiple=True, metavar="CHECK", help="Skip these checks (repeat, or comma-separated).")
@click.option(
    "--concurrency",
    default=8,
    show_default=True,
    type=click.IntRange(1, 1024),
    help="Parallel requests in the burst check.",
)
@click.option("--timeout", default=120.0, show_default=True, type=click.FloatRange(0.1), help="Seconds per request.")
@click.option(
    "--wait",
    default=0.0,
    type=click.FloatRange(0),
    metavar="SECONDS",
    help="First wait this long for /health to answer 200.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the results as JSON.")
@click.option(
    "--compare",
    "compare_url",
    metavar="URL",
    help="Instead of the checks: send the same prompts greedily to "
    "this server and to the reference at URL (e.g. the bf16 one); report token agreement and the mean KL "
    "divergence of the top logprobs.",
)
@click.option("--compare-model", metavar="NAME", help="With --compare: the reference's model id (default: its first).")
@click.option("--compare-api-key", metavar="KEY", help="With --compare: the reference's bearer token.")
@click.option(
    "--prompts",
    "prompts_path",
    metavar="FILE",
    type=click.Path(exists=True, dir_okay=False),
    help='With --compare: JSON lines {"prompt": "..."} instead of the built-in 8 prompts.',
)
@click.option(
    "--max-tokens",
    default=32,
    show_default=True,
    type=click.IntRange(1, 4096),
    help="With --compare: tokens per prompt.",
)
@click.option(
    "--top-logprobs",
    default=5,
    show_default=True,
    type=click.IntRange(0, 20),
    help="With --compare: K of the top-K logprobs the KL is computed from (0: token agreement only).",
)
@click.option(
    "--tokenizer",
    metavar="DIR",
    help="With --compare: the model's tokenizer, to count tokens of a server that returns no logprobs.",
)
@click.option(
    "--min-agreement",
    type=click.FloatRange(0, 1),
    metavar="SHARE",
    help="With --compare: exit 1 when token agreement is below this (e.g. 0.9).",
)
def qwen_test_command(
    host,
    port,
    base_url,
    api_key,
    prompt,
    model,
    only,
    skip,
    concurrency,
    timeout,
    wait,
    as_json,
    compare_url,
    compare_model,
    compare_api_key,
    prompts_path,
    max_tokens,
    top_logprobs,
    tokenizer,
    min_agreement,
):
    """Check a running OpenAI-compatible server: one row per check, exit 0 when all pass.

    Exit codes: 0 all checks that ran passed, 1 a check failed, 2 the server cannot be reached.
    """
    from . import client

    if compare_url:
        from .compare import Side

        this = Side("this", _server_url(base_url, host, port), model, api_key)
        reference = Side("reference", _server_url(compare_url, "", 0), compare_model, compare_api_key)
        run = functools.partial(
            client_compare,
            prompts_path=prompts_path,
            max_tokens=max_tokens,
            top_logprobs=top_logprobs,
            tokenizer=tokenizer,
            timeout=timeout,
        )
        sys.exit(_compare(this, reference, run, wait, as_json, min_agreement))

    names = list(client.CHECKS)
    only_list = [n for item in only for n in item.split(",") if n]
    skip_list = [n for item in skip for n in item.split(",") if n]
    for name in [*only_list, *skip_list]:
        if name not in client.CHECKS:
            _fail(
                QwenServeError(
                    f"unknown check '{name}' (--only/--skip)", allowed=", ".join(names), fix="pick names from the list"
                ),
                prog="qwen-test",
            )
    selected = [n for n in names if (not only_list or n in only_list) and n not in skip_list]
    url = _server_url(base_url, host, port)
    options = client.Options(
        base_url=url,
        api_key=api_key,
        model=model,
        prompt=prompt or client.DEFAULT_PROMPT,
        timeout=timeout,
        concurrency=concurrency,
    )
    from .report import CheckTable

    table = CheckTable(live=not as_json)
    try:
        if wait:
            client.wait_until_up(url, wait)
        results, facts = client.run_checks(options, selected, on_result=table.add)
    except client.Unreachable as exc:
        click.echo(
            f"qwen-test: error: cannot reach the server at {exc}; is it running? "
            f"try `qwen-serve --preset balanced`, or pass --base-url/--port, or --wait 600",
            err=True,
        )
        sys.exit(2)
    if as_json:
        click.echo(client.as_json(results, facts, options))
    else:
        table.finish(results, url)
    sys.exit(1 if any(r.status == client.FAIL for r in results) else 0)


def client_compare(this, reference, on_prompt, *, prompts_path, max_tokens, top_logprobs, tokenizer, timeout):
    from .compare import compare, load_prompts

    return compare(this, reference, load_prompts(prompts_path), max_tokens, top_logprobs, tokenizer, timeout, on_prompt)


def _compare(this, reference, run, wait, as_json, min_agreement) -> int:
    """qwen-test --compare: `run(this, reference, on_prompt)` gives the report; print it and choose the exit code."""
    import json

    from . import client

    def say(p) -> None:
        if not as_json:
            where = "all agree" if p.first_difference is None else f"first difference at token {p.first_difference}"
            kl = "" if p.mean_kl is None else f", mean KL {p.mean_kl:.4f}"
            click.echo(f"  {p.agreed:>4}/{p.reference_tokens:<4} agree ({where}{kl})  {p.prompt[:48]!r}")

    try:
        if wait:
            client.wait_until_up(this.base_url, wait)
            client.wait_until_up(reference.base_url, wait)
        if not as_json:
            click.echo(f"qwen-test --compare: this {this.base_url} against the reference {reference.base_url}, greedy")
        report = run(this, reference, say)
    except client.Unreachable as exc:
        click.echo(f"qwen-test: error: cannot reach the server at {exc}; is it running?", err=True)
        return 2
    except QwenServeError as exc:
        _fail(exc, prog="qwen-test")
    if as_json:
        click.echo(json.dumps(report.as_dict(), indent=2, ensure_ascii=False))
    else:
        kl = (
            "no logprobs from a server: KL not computed"
            if report.mean_kl is None
            else f"mean KL(reference || this) {report.mean_kl:.4f} nats over {report.kl_positions} positions "
            f"(top-{report.top_logprobs} logprobs; numeric error, not task accuracy)"
        )
        click.echo(f"token agreement {report.agreement:.1%} over {len(report.prompts)} prompts; {kl}")
    return 1 if min_agreement is not None and report.agreement < min_agreement else 0


def test_main() -> None:
    qwen_test_command(prog_name="qwen-test")


@click.group(cls=BenchGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="qwen-serve", prog_name="qwen-bench")
def bench_group() -> None:
    """qwen-bench: load an OpenAI-compatible server at several concurrency levels; plot the results.

    \b
    qwen-bench run …   (the default) measure a server
    qwen-bench plot …  throughput against TPOT and TTFT, from qwen-bench or bench_serving results"""


@bench_group.command(
    "run",
    context_settings={"help_option_names": ["-h", "--help"]},
    epilog="Also: qwen-bench plot FILES -o PNG (throughput against TPOT and TTFT; see its --help).",
)
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=30000, show_default=True, type=int)
@click.option("--base-url", metavar="URL", help="Server URL instead of --host/--port.")
@click.option("--api-key", metavar="KEY")
@click.option("--model", metavar="NAME", help="Model id (default: the first /v1/models reports).")
@click.option(
    "--tokenizer",
    metavar="DIR",
    help="Tokenizer for exact prompt lengths (default: --model if it is a local directory).",
)
@click.option("--input-len", default=1024, show_default=True, type=click.IntRange(1))
@click.option("--output-len", default=128, show_default=True, type=click.IntRange(1))
@click.option(
    "--concurrency", "levels", default="1,8,32,64,128", show_default=True, help="Comma-separated concurrency levels."
)
@click.option(
    "--requests",
    "requests_per_level",
    type=click.IntRange(1),
    help="Requests per level (default: max(16, ROUNDS x concurrency)).",
)
@click.option(
    "--rounds",
    default=10,
    show_default=True,
    type=click.IntRange(1),
    help="Without --requests: max(16, ROUNDS x concurrency) requests per level. A round's requests are sent together; TTFT from fewer than 10 rounds varies from run to run.",
)
@click.option(
    "--time-limit", default=300.0, show_default=True, type=click.FloatRange(1), help="Seconds per level at most."
)
@click.option(
    "--warmup", default=2, show_default=True, type=click.IntRange(0), help="Requests before each level, not counted."
)
@click.option("--seed", default=0, show_default=True, type=int)
@click.option(
    "--prompts",
    "prompts_path",
    metavar="FILE",
    type=click.Path(exists=True, dir_okay=False),
    help='Your own prompts instead of random ones: JSON lines {"prompt": "..."}, used in order '
    "(each level's warm-up, then its requests); --input-len is then not used.",
)
@click.option(
    "--flush-cache", is_flag=True, help="SGLang: empty the prefix cache (POST /flush_cache) before each level."
)
@click.option("--label", help="Name of this run in plots (default: the server's preset facts).")
@click.option("--out", "out_path", metavar="FILE", help="Write the results as JSON.")
def bench_run(
    host,
    port,
    base_url,
    api_key,
    model,
    tokenizer,
    input_len,
    output_len,
    levels,
    requests_per_level,
    rounds,
    time_limit,
    warmup,
    seed,
    prompts_path,
    flush_cache,
    label,
    out_path,
):
    """Measure request/s, output tokens/s, TTFT, TPOT and end-to-end latency per concurrency level."""
    import json
    import sys as _sys
    from pathlib import Path

    from rich.console import Console
    from rich.progress import Progress

    from . import bench
    from .report import print_bench

    url = _server_url(base_url, host, port)
    try:
        bench.needs_extra("aiohttp")
        sweep = bench.Sweep(
            bench.parse_levels(levels),
            requests_per_level,
            warmup,
            input_len,
            output_len,
            time_limit,
            flush_cache,
            rounds=rounds,
        )
        model = bench.served_model(url, api_key, model)
        local = model if Path(model).is_dir() else None
        sweep = bench.with_prompts(sweep, prompts_path, tokenizer or local, seed, model)
    except QwenServeError as exc:
        _fail(exc, prog="qwen-bench")
    facts = bench.server_facts(url, api_key)
    console = Console(stderr=True)
    # the bar's refresh thread redraws it on its own clock and costs the client CPU (counted in its
    # CPU/request, and time away from reading streams): 2 Hz, and none where nobody sees it (a pipe, a log)
    with Progress(console=console, transient=True, refresh_per_second=2, disable=not console.is_terminal) as progress:
        results = bench.run_sweep(url, model, sweep, facts["sglang"], api_key, progress)
    data = bench.document(
        url,
        model,
        facts,
        sweep,
        results,
        label=label,
        prompts_path=prompts_path,
        command="qwen-bench " + " ".join(_sys.argv[1:]),
    )
    if out_path:
        Path(out_path).parent.mkdir(parents=True, exist_ok=True)
        Path(out_path).write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
    print_bench(data, click.echo)
    for line in bench.input_length_warnings(results) + bench.few_rounds_notes(results) + bench.interval_notes(results):
        click.echo(line, err=True)
    _sys.exit(1 if any(r.errors for r in results) else 0)


@bench_group.command("plot", context_settings={"help_option_names": ["-h", "--help"]})
@click.argument("files", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False))
@click.option("-o", "--output", "png", required=True, metavar="PNG", help="Where to write the plot.")
@click.option(
    "--pool",
    is_flag=True,
    help="One line per tool and label instead of per file: throughput and TPOT "
    "p50 the mean of its files, TTFT p50 and its interval from all their requests (e.g. the alternating "
    "passes of bench/interleave.py).",
)
def bench_plot(files, png, pool):
    """Throughput vs TPOT and vs TTFT, one line per results file, or per tool with --pool (qwen-bench
    JSON, or the JSONL that `python -m sglang.bench_serving --output-file` writes)."""
    from . import bench

    try:
        bench.plot(files, png, pool=pool)
    except QwenServeError as exc:
        _fail(exc, prog="qwen-bench")
    click.echo(f"wrote {png}")


def bench_main() -> None:
    bench_group(prog_name="qwen-bench")


if __name__ == "__main__":
    main()
