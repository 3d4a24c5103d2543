"""`qwen-bench run` (the default) and `qwen-bench plot`: load a server at several concurrency levels; plot."""

from __future__ import annotations

import click

from .common import CONTEXT, PORT_RANGE, BearerToken, Command, Finite, server_url


@click.command(
    "run",
    cls=Command,
    context_settings=CONTEXT,
    epilog="Also: qwen-bench plot FILES -o PNG (throughput against TPOT and TTFT; see its --help).",
)
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=30000, show_default=True, type=PORT_RANGE)
@click.option("--base-url", metavar="URL", help="Server URL instead of --host/--port.")
@click.option("--api-key", metavar="KEY", type=BearerToken())
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
    "--time-limit",
    default=300.0,
    show_default=True,
    type=Finite(1),
    help="Seconds per level at most (asking the model list: this or 10 s, the shorter).",
)
@click.option(
    "--warmup", default=2, show_default=True, type=click.IntRange(0), help="Requests before each level, not counted."
)
@click.option("--seed", default=0, show_default=True, type=click.IntRange(0, 2**32 - 1))
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
    import sys as _sys
    from pathlib import Path

    from rich.console import Console
    from rich.progress import Progress

    from .. import bench
    from ..outputs import WRITTEN_BY, Input, Output, check_outputs, write_json
    from ..report import print_bench
    from ..secret import masked

    # before any request: the results file must not be an input (the prompts, the tokenizer) or a file of yours
    check_outputs(
        [Output("--out", out_path, "json")], [Input("--prompts", prompts_path), Input("--tokenizer", tokenizer)]
    )
    url = server_url(base_url, host, port)
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
    # asking which model is served takes at most 10 s, and no longer than a level may take
    model = bench.served_model(url, api_key, model, limit=min(10.0, time_limit))
    local = model if Path(model).is_dir() else None
    sweep = bench.with_prompts(sweep, prompts_path, tokenizer or local, seed, model)
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
        command="qwen-bench " + " ".join(masked(_sys.argv[1:], [api_key])),
    )
    if out_path:
        write_json(Path(out_path), {WRITTEN_BY: "qwen-bench", **data})
    print_bench(data, click.echo)
    for line in bench.input_length_warnings(results) + bench.few_rounds_notes(results) + bench.interval_notes(results):
        click.echo(line, err=True)
    _sys.exit(1 if any(r.errors for r in results) else 0)


@click.command("plot", cls=Command, context_settings=CONTEXT)
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
    from .. import bench
    from ..outputs import Input, Output, check_outputs

    check_outputs([Output("-o/--output", png, "image")], [Input("FILES", f) for f in files])
    bench.plot(files, png, pool=pool)
    click.echo(f"wrote {png}")
