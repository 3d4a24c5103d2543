"""`qwen-serve tune`: measure the presets on this GPU at your load, with dummy weights, before any download."""

from __future__ import annotations

import click

from ..errors import QwenServeError
from .common import CONTEXT, PORT_RANGE, Command, Finite, config_option


@click.command("tune", cls=Command, context_settings=CONTEXT)
@config_option
@click.option(
    "--presets", metavar="A,B,…", help="Measure these presets (default: every preset the memory plan says fits)."
)
@click.option(
    "--concurrency", default="1,8,64", show_default=True, metavar="N,N,…", help="Concurrent requests per level."
)
@click.option("--input-len", type=click.IntRange(1, 131072), default=1024, show_default=True, help="Prompt tokens.")
@click.option("--output-len", type=click.IntRange(2, 32768), default=256, show_default=True, help="Output tokens.")
@click.option(
    "--rounds",
    type=click.IntRange(1, 100),
    default=3,
    show_default=True,
    help="Each level sends `concurrency` requests together this many times over.",
)
@click.option("--prompts", "prompts_path", metavar="FILE", help='Your own prompts: JSON lines {"prompt": "..."}.')
@click.option(
    "--budget",
    type=Finite(1, 24 * 60),
    default=30,
    show_default=True,
    metavar="MINUTES",
    help="The whole run's time; candidates that would not fit are left out and named.",
)
@click.option("--tp-size", type=click.IntRange(1, 8), default=1, show_default=True, help="GPUs per server.")
@click.option("--port", type=PORT_RANGE, default=30100, show_default=True, help="Port of the servers measured.")
@click.option("--gpu", "gpu_spec", metavar="SPEC", help="Plan for this GPU instead of the detected one.")
@click.option("--force", is_flag=True, help="Start servers even without a visible GPU (with --gpu; for a stand-in).")
@click.option("--skeleton", metavar="DIR", help="A `qwen-serve skeleton` folder to build the layouts from.")
@click.option("--results-dir", metavar="DIR", help="Where the result file goes (default: ~/.cache/qwen-serve/tune).")
@click.option("--fresh", is_flag=True, help="Measure again what an earlier run of the same load measured.")
@click.option("--dry-run", is_flag=True, help="List the candidates in order with their time estimates; start nothing.")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
@click.option("--plot", "plot_path", metavar="PNG", help="Also draw output tok/s against concurrency per candidate.")
def tune_command(
    config_path,
    presets,
    concurrency,
    input_len,
    output_len,
    rounds,
    prompts_path,
    budget,
    tp_size,
    port,
    gpu_spec,
    force,
    skeleton,
    results_dir,
    fresh,
    dry_run,
    as_json,
    plot_path,
):
    """Measure each preset that fits this GPU (and plain SGLang beside them) with dummy weights at your load, then
    let --preset auto pick from what was measured here (--load interactive|throughput|N).

    \b
    qwen-serve tune                       within --budget (30 min unless you say); no download
    qwen-serve tune --presets fp8_checkpoint,balanced --budget 10
    qwen-serve --preset auto --load interactive    serve what won at one request"""
    import sys
    from pathlib import Path

    from .. import tune
    from ..bench import parse_levels

    request = tune.TuneRequest(
        config_path=config_path,
        presets=tuple(p.strip() for p in presets.split(",") if p.strip()) if presets else None,
        tp_size=tp_size,
        concurrencies=tuple(parse_levels(concurrency)),
        input_len=input_len,
        output_len=output_len,
        rounds=rounds,
        prompts_path=prompts_path,
        budget_s=budget * 60,
        port=port,
        gpu_spec=gpu_spec,
        force=force,
        skeleton=skeleton,
        results_dir=Path(results_dir) if results_dir else None,
        fresh=fresh,
    )
    if plot_path:
        from ..outputs import Output, check_outputs

        check_outputs([Output("--plot", plot_path, "image")])
    if dry_run:
        _show_candidates(tune.plan_candidates(request), tp_size, budget)
        return
    try:
        result = tune.run(request, say=_say)
    except KeyboardInterrupt:  # before the first server started (the skeleton, the prompts): nothing to keep
        _say("interrupted before any server started")
        sys.exit(130)
    _show_result(result, config_path, as_json, request.results_dir)
    if plot_path:
        tune.plot(result, plot_path)
    if result.interrupted:
        sys.exit(130)
    if not any(m.complete and m.kind == "preset" for m in result.measured.values()):
        raise QwenServeError("no preset was measured", fix="see the lines above; raise --budget", exit_code=1)


def _show_result(result, config_path, as_json: bool, results_dir) -> None:
    """The run's table, what was left out, the picks per load and where the result is; or the result as JSON."""
    from .. import tune
    from ..config import load_config

    if as_json:
        import json

        from ..tune_result import result_to_json

        click.echo(json.dumps(result_to_json(result), indent=2))
        return
    click.echo(_aligned(tune.table_rows(result)))
    for name, why in result.left_out.items():
        click.echo(f"not measured: {name} ({why})")
    for line in tune.verdict_lines(result, list(load_config(config_path).presets)):
        click.echo(line)
    click.echo(f"result: {tune.result_path(result.machine, results_dir)}")


def _show_candidates(planned, tp_size: int, budget: float) -> None:
    """--dry-run: the candidates in the order they would start, each with its first-start figure."""
    cands, left, machine = planned
    click.echo(f"on {machine.gpu} (tp {tp_size}, SGLang {machine.sglang}), in this order:")
    width = max(len(c.name) for c in cands) if cands else 0
    for c in cands:
        click.echo(
            f"  {c.name:<{width}}  {c.layout:<20} first start up to {c.start_estimate_s:4.0f} s  {c.description}"
        )
    for name, why in left.items():
        click.echo(f"  {name:<{width}}  left out: {why}")
    total = sum(c.start_estimate_s for c in cands)
    click.echo(f"starts alone: about {total / 60:.0f} min, plus the measuring; --budget {budget:g} min")


def _say(line: str) -> None:
    click.echo(f"qwen-serve: {line}", err=True)


def _aligned(rows: list[list[str]]) -> str:
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    return "\n".join(
        "  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(r, widths))) for r in rows
    )
