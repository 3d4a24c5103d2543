"""`qwen-serve systemd [SERVE ARGS…]`: a systemd unit that runs `qwen-serve SERVE ARGS` as a service."""

from __future__ import annotations

import click

from ..errors import QwenServeError
from .common import CONTEXT, Command

EPILOG = """\b
Every argument not listed above is qwen-serve's own, checked now as a launch would check it:
  qwen-serve systemd --key-file /etc/qwen-serve/api-key --preset auto --host 0.0.0.0 > qwen-serve.service
  sudo cp qwen-serve.service /etc/systemd/system/ && sudo systemctl enable --now qwen-serve"""


@click.command(
    "systemd",
    cls=Command,
    context_settings={**CONTEXT, "ignore_unknown_options": True, "allow_interspersed_args": False},
    epilog=EPILOG,
)
@click.option("--key-file", metavar="FILE", help="The API key's file on the host: the unit loads it as a credential.")
@click.option("--user", metavar="NAME", help="Run the service as this user (default: root).")
@click.option("--working-directory", metavar="DIR", help="The service's working directory (where --config is read).")
@click.argument("serve_args", nargs=-1, type=click.UNPROCESSED)
def systemd_command(key_file, user, working_directory, serve_args):
    """Print a systemd unit: qwen-serve as a service, ready when a real generation succeeds."""
    import os

    from ..pipeline import prepare
    from ..systemd import Unit, render
    from .common import launch_request, typed_settings
    from .serve import serve

    args = list(serve_args)
    for own in ("--api-key", "--api-key-file", "--dry-run", "--check", "--ready-file"):
        if any(a == own or a.startswith(own + "=") for a in args):
            raise QwenServeError(
                f"{own} in `qwen-serve systemd`'s arguments",
                allowed="qwen-serve's launch options; the key comes from --key-file (a systemd credential)",
                fix="drop it" + (" and pass --key-file FILE" if own.startswith("--api-key") else ""),
            )
    ctx = serve.make_context("serve", list(args))
    params = ctx.params
    if key_file and not os.path.isfile(key_file):
        raise QwenServeError(
            f"--key-file {key_file!r} is not a file here",
            fix="write the key there first (chmod 600), or drop --key-file",
        )
    if key_file:  # read as the service's launch will read it: a key it would refuse is refused now, not in a loop
        from ..launch import read_key_file

        read_key_file(key_file, None, flag="--key-file")
    # what a launch would refuse is refused now, not at the service's first start; force: the GPU is the service
    # host's, not necessarily this machine's
    typed = typed_settings(ctx, params)
    if params.get("preset") == "auto" and not params.get("gpu_spec"):
        # the host's GPU picks at each start (ExecStart keeps --preset auto): every preset auto may take is checked
        from ..config import load_config

        config = load_config(params.get("config_path"))
        for name in dict.fromkeys(n for order in config.auto_order.values() for n in order):
            prepare(launch_request(params, typed, force=True, preset=name))
        what = "Qwen3-14B on SGLang (preset auto: picked for the host's GPU at each start)"
    else:
        prepared = prepare(launch_request(params, typed, force=True))
        preset = prepared.launch.preset.name if prepared.launch.preset else "settings"
        picked = f"preset auto: {preset} on {params['gpu_spec']}" if params.get("preset") == "auto" else preset
        what = f"{prepared.launch['model_path']} on SGLang ({picked})"
    unit = Unit(
        serve_args=tuple(args),
        description=f"qwen-serve: {what}",
        stop_timeout=params["stop_timeout"],
        key_file=os.path.abspath(key_file) if key_file else None,
        user=user,
        working_directory=os.path.abspath(working_directory) if working_directory else None,
    )
    click.echo(render(unit), nl=False)
