"""`qwen-serve plan`: the memory plan of every preset (or one) on the detected or named GPUs."""

from __future__ import annotations

import click

from ..errors import QwenServeError
from .common import CONTEXT, Command, config_option, setting_options, typed_settings


@click.command("plan", cls=Command, context_settings=CONTEXT)
@config_option
@click.option("--preset", metavar="NAME", help="Plan one preset (default: every preset of the file).")
@click.option(
    "--gpu",
    "gpu_spec",
    metavar="SPEC",
    help="GPU to plan for, e.g. 'RTX 4090', A100-80GB, H100x2, 24GiB,sm89 (default: the detected ones).",
)
@click.option(
    "--sglang-version",
    metavar="X.Y.Z",
    help="Plan for this SGLang release (default: the installed one); an unmeasured one gets a margin.",
)
@setting_options
@click.option("--json", "as_json", is_flag=True, help="Print the plans as JSON.")
def plan_command(config_path, preset, gpu_spec, sglang_version, as_json, **cli_values):
    """Memory plan: weights, peak at load, KV cache tokens and a verdict per preset, before loading anything."""
    from ..checkpoint import settle as settle_checkpoint
    from ..config import load_config
    from ..pipeline import PlanTarget, auto_preset, hardware_for, preset_plans
    from ..report import print_plans
    from ..resolve import resolve, select_preset
    from ..sglang.capabilities import target_for

    cli_values = typed_settings(click.get_current_context(), cli_values)
    config = load_config(config_path)
    target = target_for(sglang_version)
    note = target.unmeasured_note
    hw = hardware_for(gpu_spec, required="qwen-serve plan", plan_here="qwen-serve plan --gpu 'RTX 4090'")
    on = PlanTarget(hw, target.release)
    try:
        auto_name, auto_line = auto_preset(config, cli_values, on)
    except QwenServeError as exc:
        auto_name, auto_line = None, exc.line
    if preset == "auto" and "auto" not in config.presets:
        if auto_name is None:
            raise QwenServeError(auto_line)
        preset = auto_name  # the preset auto takes here, planned like any other
    elif preset is not None:
        select_preset(config, preset)  # an unknown name: one line with the names there are, not an empty table
    plans = preset_plans(config, [preset] if preset else list(config.presets), cli_values, on)
    if not plans:  # the flags typed contradict the preset's checkpoint
        launch = resolve(config, preset, cli_values)
        settle_checkpoint(launch)  # raises the contradiction in one line
    if as_json:
        import json

        click.echo(
            json.dumps(
                {
                    "hardware": hw.describe(),
                    "config": config.label,
                    "sglang": target.description,
                    "margin": on.margin,
                    "note": note,
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
        if note:
            click.echo(note)
