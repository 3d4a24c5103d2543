"""The commands, one module each, every one thin: parse flags, call the package's functions, print.

    qwen-serve [serve] …   cli/serve.py     resolve, plan and launch SGLang (the default command)
    qwen-serve plan …      cli/plan.py      the memory plan of every preset
    qwen-serve skeleton …  cli/skeleton.py  a Qwen3-14B model directory, offline
    qwen-serve k8s …       cli/k8s.py       Kubernetes manifests: workers behind SGLang's router
    qwen-serve tune …      cli/tune.py      measure the presets on this GPU at your load (dummy weights)
    qwen-serve demo        cli/demo.py      a tiny Qwen3 on the CPU, to try qwen-test and qwen-bench without a GPU
    qwen-test …            cli/qwen_test.py check a running server, or compare two
    qwen-bench [run] …     cli/qwen_bench.py  load a server at several concurrency levels; `plot`

Only the command being run is imported, and none of them imports torch or sglang on the --help and
--dry-run paths.
"""

from __future__ import annotations

import click

from .common import CONTEXT, LazyGroup


@click.group(
    cls=LazyGroup,
    lazy={
        "serve": ".serve:serve",
        "plan": ".plan:plan_command",
        "tune": ".tune:tune_command",
        "skeleton": ".skeleton:skeleton",
        "k8s": ".k8s:k8s_command",
        "systemd": ".systemd:systemd_command",
        "demo": ".demo:demo_command",
    },
    context_settings=CONTEXT,
)
@click.version_option(package_name="qwen-serve", prog_name="qwen-serve")
def main_group() -> None:
    """Serve Qwen3-14B on SGLang, configured right for the GPU in front of you.

    \b
    uv run qwen-serve --preset auto          the preset measured best for this GPU
    uv run qwen-serve --dry-run --preset NAME   the SGLang command and every setting's origin"""


@click.group(
    cls=LazyGroup, lazy={"run": ".qwen_bench:bench_run", "plot": ".qwen_bench:bench_plot"}, context_settings=CONTEXT
)
@click.version_option(package_name="qwen-serve", prog_name="qwen-bench")
def bench_group() -> None:
    """qwen-bench: load an OpenAI-compatible server at several concurrency levels; plot the results.

    \b
    qwen-bench run …   (the default) measure a server
    qwen-bench plot …  throughput against TPOT and TTFT, from qwen-bench or bench_serving results"""


def main() -> None:
    main_group(prog_name="qwen-serve")


def qwen_test_main() -> None:
    from .qwen_test import qwen_test_command

    qwen_test_command(prog_name="qwen-test")


def bench_main() -> None:
    bench_group(prog_name="qwen-bench")
