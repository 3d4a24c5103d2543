"""`qwen-serve skeleton DIR`: a Qwen3-14B model directory written offline (config and tokenizer)."""

from __future__ import annotations

import click

from .common import CONTEXT, Command


@click.command("skeleton", cls=Command, context_settings=CONTEXT)
@click.argument("out_dir", metavar="DIR")
@click.option(
    "--tiny",
    is_flag=True,
    help="A small Qwen3 with random weights (safetensors), for tests on a CPU server such as transformers serve.",
)
@click.option("--ranks", metavar="FILE", help="qwen.tiktoken or a dashscope wheel (default: the installed dashscope).")
@click.option(
    "--checkpoint",
    metavar="HUB_ID",
    help="Write the quantization_config of one of Qwen's pre-quantized checkpoints (Qwen/Qwen3-14B-FP8, "
    "Qwen/Qwen3-14B-AWQ): a dummy-weight server then runs that checkpoint's kernels.",
)
def skeleton(out_dir, tiny, ranks, checkpoint):
    """Write a Qwen3-14B model directory offline: real config.json, real Qwen tokenizer.

    Serve it with SGLang's --load-format dummy (random weights of the real shapes):
    qwen-serve --preset high_performance --model-path DIR --load-format dummy

    DIR must be new, empty, or an earlier skeleton: a directory of other files (a real model) is never written.
    """
    from ..skeleton import write_skeleton

    path = write_skeleton(out_dir, tiny=tiny, ranks=ranks, checkpoint=checkpoint)
    files = ", ".join(sorted(p.name for p in path.iterdir() if not p.name.startswith(".")))
    what = "tiny Qwen3" if tiny else f"{checkpoint or 'Qwen/Qwen3-14B'} skeleton"
    click.echo(f"wrote {what} to {path}: {files}")
