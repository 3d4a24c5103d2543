"""`qwen-test`: check a running OpenAI-compatible server, or compare two (--compare)."""

from __future__ import annotations

import functools
import sys

import click

from ..errors import QwenServeError
from .common import CONTEXT, PORT_RANGE, BearerToken, Command, Finite, server_url


class ListsChecks(Command):
    """qwen-test's --help ends with the checks --only and --skip take (read from the client when help is shown)."""

    def format_epilog(self, ctx, formatter) -> None:
        from ..client import CHECKS

        formatter.write_paragraph()
        formatter.write_text("Checks (for --only/--skip): " + ", ".join(CHECKS) + ".")


@click.command("qwen-test", cls=ListsChecks, context_settings=CONTEXT)
@click.version_option(package_name="qwen-serve", prog_name="qwen-test")
@click.option("--host", default="127.0.0.1", show_default=True, help="Server host.")
@click.option("--port", default=30000, show_default=True, type=PORT_RANGE, help="Server port.")
@click.option("--base-url", metavar="URL", help="Server URL (instead of --host/--port), e.g. http://gpu:30000.")
@click.option(
    "--api-key",
    metavar="KEY",
    type=BearerToken(),
    help="Bearer token; also checks that requests without it are refused.",
)
@click.option(
    "--prompt",
    default=None,
    help="Prompt for the chat checks (default: the original guide's 你好，介绍一下Python编程语言。).",
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
@click.option("--timeout", default=120.0, show_default=True, type=Finite(0.1), help="Seconds per request.")
@click.option(
    "--wait",
    default=0.0,
    type=Finite(0),
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
@click.option(
    "--compare-api-key", metavar="KEY", type=BearerToken(), help="With --compare: the reference's bearer token."
)
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
    type=Finite(0, 1),
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
    from .. import client

    if compare_url:
        from ..compare import Side

        this = Side("this", server_url(base_url, host, port), model, api_key)
        reference = Side("reference", server_url(compare_url, "", 0, "--compare"), compare_model, compare_api_key)
        run = functools.partial(
            client_compare,
            prompts_path=prompts_path,
            max_tokens=max_tokens,
            top_logprobs=top_logprobs,
            tokenizer=tokenizer,
            timeout=timeout,
        )
        sys.exit(_compare(this, reference, run, wait, as_json, min_agreement))

    selected = _selected(client.CHECKS, only, skip)
    url = server_url(base_url, host, port)
    options = client.Options(
        base_url=url,
        api_key=api_key,
        model=model,
        prompt=prompt or client.DEFAULT_PROMPT,
        timeout=timeout,
        concurrency=concurrency,
    )
    from ..report import CheckTable

    table = CheckTable(live=not as_json)
    try:
        if wait:
            client.wait_until_up(url, wait)
        results, facts = client.run_checks(options, selected, on_result=table.add)
    except KeyboardInterrupt:  # Ctrl-C while waiting or checking: 128 + SIGINT, as shells and scripts expect
        click.echo("qwen-test: interrupted", err=True)
        sys.exit(130)
    except client.Unreachable as exc:
        click.echo(
            f"qwen-test: error: cannot reach the server at {exc}; is it running? "
            f"start one with `qwen-serve --preset auto`, or pass --base-url/--port, or --wait 600",
            err=True,
        )
        sys.exit(2)
    if as_json:
        click.echo(client.as_json(results, facts, options))
    else:
        table.finish(results, url)
    sys.exit(1 if any(r.status == client.FAIL for r in results) else 0)


def _selected(checks, only, skip) -> list[str]:
    """The checks --only and --skip leave, in their order; an unknown name is one line with the closest."""
    names = list(checks)
    only_list = [n for item in only for n in item.split(",") if n]
    skip_list = [n for item in skip for n in item.split(",") if n]
    for name in [*only_list, *skip_list]:
        if name not in checks:
            from ..errors import did_you_mean

            raise QwenServeError(
                f"unknown check '{name[:40]}' (--only/--skip)",
                allowed=", ".join(names),
                fix=did_you_mean(name, names) or "pick names from the list",
            )
    return [n for n in names if (not only_list or n in only_list) and n not in skip_list]


def client_compare(this, reference, on_prompt, *, prompts_path, max_tokens, top_logprobs, tokenizer, timeout):
    from ..compare import compare, load_prompts

    return compare(this, reference, load_prompts(prompts_path), max_tokens, top_logprobs, tokenizer, timeout, on_prompt)


def _compare(this, reference, run, wait, as_json, min_agreement) -> int:
    """qwen-test --compare: `run(this, reference, on_prompt)` gives the report; print it and choose the exit code."""
    import json

    from .. import client

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
