"""`qwen-serve`: thin click commands that parse flags and hand over to the pipeline stages.

config (load + validate) -> resolve (layer, with origins) -> sglang_args (argv) -> supervise.
Nothing here imports torch or sglang: --help and --dry-run stay instant.
"""

from __future__ import annotations

import sys

import click

from .errors import QwenServeError
from .settings import FIELDS

_SUBCOMMAND_HELP = """\b
Precedence (lowest first): built-in defaults < the config file's top level
< the selected preset < flags you typed.  Without --config the bundled
server_config.yaml is used.  Anything after `--` goes to SGLang untouched:
  qwen-serve --preset balanced -- --enable-metrics
\b
Other commands:  qwen-serve serve …  (this one, the default)"""


class DefaultGroup(click.Group):
    """`qwen-serve --preset x` means `qwen-serve serve --preset x`."""

    def parse_args(self, ctx, args):
        if not args or args[0] not in self.commands:
            args = ["serve", *args]
        return super().parse_args(ctx, args)


@click.group(cls=DefaultGroup, context_settings={"help_option_names": ["-h", "--help"]})
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
@click.option("--preset", metavar="NAME", help="A preset of the config file, e.g. balanced.")
@_setting_options
@click.option("--dry-run", is_flag=True, help="Print the SGLang command and every setting's origin; launch nothing.")
@click.option("--json", "as_json", is_flag=True, help="With --dry-run: print JSON.")
@click.option("--check", is_flag=True, help="Parse the command with the installed SGLang's own parser; launch nothing.")
@click.option("--sglang-version", metavar="X.Y.Z", help="Build the command for this SGLang release instead of the installed one.")
@click.argument("passthrough", nargs=-1, type=click.UNPROCESSED)
def serve(config_path, preset, dry_run, as_json, check, sglang_version, passthrough, **cli_values):
    """Launch SGLang with the resolved settings (or show them with --dry-run)."""
    from .capabilities import target_for
    from .config import load_config
    from .resolve import resolve
    from .sglang_args import build_command

    try:
        config = load_config(config_path)
        launch = resolve(config, preset, cli_values, tuple(passthrough))
        command = build_command(launch, target_for(sglang_version))
        if dry_run:
            from .report import dry_run_json, print_dry_run

            if as_json:
                click.echo(dry_run_json(launch, command))
            else:
                print_dry_run(launch, command, click.echo)
        if check:
            _check(command)
        if dry_run or check:
            return
        from .preflight import preflight
        from .supervise import run

        preflight(launch)
        if sglang_version:
            raise QwenServeError(
                f"--sglang-version {sglang_version} is for planning (--dry-run/--check) only",
                fix="drop --sglang-version to launch the installed SGLang",
            )
        click.echo(f"qwen-serve: launching {command.shell()}", err=True)
        sys.exit(run(command.argv))
    except QwenServeError as exc:
        _fail(exc)


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
            f"sglang {target.version}'s parser reads the command differently: "
            + "; ".join(result.mismatches)
        )
    click.echo(
        f"check: sglang {target.version}'s own parser accepts the command; "
        f"all {result.checked} intended fields parse as intended"
    )


def _fail(exc: QwenServeError) -> None:
    click.echo(f"qwen-serve: error: {exc.line}", err=True)
    sys.exit(exc.exit_code)


def main() -> None:
    main_group(prog_name="qwen-serve")


if __name__ == "__main__":
    main()
