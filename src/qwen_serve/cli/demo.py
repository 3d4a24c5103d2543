"""`qwen-serve demo`: a CPU server to try qwen-test and qwen-bench on, with no GPU and no download."""

from __future__ import annotations

import click

from .common import CONTEXT, PORT_RANGE, Command


@click.command("demo", cls=Command, context_settings=CONTEXT)
@click.option("--host", default="127.0.0.1", show_default=True, help="Interface to listen on.")
@click.option("--port", default=8000, show_default=True, type=PORT_RANGE, help="Port.")
def demo_command(host, port):
    """Serve a tiny Qwen3 (random weights, the real tokenizer) on the CPU, OpenAI-compatible: try qwen-test and
    qwen-bench without a GPU. Its answers are noise.

    \b
    qwen-serve demo                      then, in another terminal:
    qwen-test --port 8000 --model qwen-serve/Qwen3-tiny"""
    import sys

    from ..demo import serve_demo
    from ..outputs import cache_root

    sys.exit(serve_demo(host, port, cache_root() / "demo", say=lambda line: click.echo(f"qwen-serve: {line}")))
