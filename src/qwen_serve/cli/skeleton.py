"""`qwen-serve skeleton DIR`: a Qwen3-14B model directory written offline (config and tokenizer)."""

from __future__ import annotations

import click

from .common import CONTEXT, Command


@click.command("skeleton", cls=Command, context_settings=CONTEXT)
@click.argument("out_dir", metavar="DIR")
@click.option("--tiny", is_flag=True, help="A small Qwen3 with random weights (safetensors) that runs on a CPU.")
@click.option("--ranks", metavar="FILE", help="qwen.tiktoken or a dashscope wheel (default: the installed dashscope).")
def skeleton(out_dir, tiny, ranks):
    """Write a Qwen3-14B model directory offline: real config.json, real Qwen tokenizer.

    Serve it with SGLang's --load-format dummy (random weights of the real shapes):
    qwen-serve --preset high_performance --model-path DIR --load-format dummy
    """
    from ..skeleton import write_skeleton

    path = write_skeleton(out_dir, tiny=tiny, ranks=ranks)
    files = ", ".join(sorted(p.name for p in path.iterdir()))
    click.echo(f"wrote {'tiny Qwen3' if tiny else 'Qwen3-14B skeleton'} to {path}: {files}")
