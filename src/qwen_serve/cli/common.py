"""What the commands share: the lazily loaded command group with a default command, the setting flags
drawn from `settings.FIELDS`, and a server URL from --base-url or --host/--port."""

from __future__ import annotations

import importlib
import os
import sys
from typing import Any

import click
from click.core import ParameterSource

from ..errors import Interrupted, QwenServeError
from ..secret import Secret

CONTEXT = {"help_option_names": ["-h", "--help"]}
MAX_SECONDS = 7 * 24 * 3600  # the longest wait any option may ask for: a week


class Finite(click.FloatRange):
    """A float range that is finite at both ends: click's FloatRange lets `nan` through (every comparison with nan
    is false), and `inf` where no maximum is set — a wait that never ends."""

    def __init__(self, min: float | None = None, max: float = MAX_SECONDS):
        super().__init__(min, max)

    def convert(self, value, param, ctx):
        import math

        number = super().convert(value, param, ctx)  # nan passes the range check: every comparison is false
        if not math.isfinite(number):
            self.fail(f"{value!r} is not a finite number; allowed: {self._describe_range()}", param, ctx)
        return number


PORT_RANGE = click.IntRange(1, 65535)
# --config, as every command that reads the settings file takes it
config_option = click.option(
    "--config", "config_path", metavar="FILE", help="YAML config (default: bundled server_config.yaml)."
)


class BearerToken(click.ParamType):
    """A client's --api-key: it travels in the Authorization header, so printable ASCII without spaces (any length:
    the server's key is the server's choice)."""

    name = "KEY"

    def convert(self, value, param, ctx):
        from ..secret import header_safe

        if not header_safe(value):
            self.fail("it is no HTTP bearer token; allowed: printable ASCII, no spaces or line breaks", param, ctx)
        return Secret(value)


def launch_request(params: dict[str, Any], cli_values: dict[str, Any], **changes: Any):
    """The library's pipeline.LaunchRequest from a command's click parameters (serve, k8s and systemd name them
    alike); `changes` for what a command decides itself."""
    import os
    from dataclasses import replace

    from ..pipeline import LaunchRequest
    from ..tune_result import parse_load

    request = LaunchRequest(
        config_path=params.get("config_path"),
        preset=params.get("preset"),
        cli_values=cli_values,
        passthrough=tuple(params.get("passthrough") or ()),
        gpu_spec=params.get("gpu_spec"),
        force=bool(params.get("force")),
        sglang_version=params.get("sglang_version"),
        environ=dict(os.environ),
        load=parse_load(params.get("load")),
    )
    return replace(request, **changes)


class UserError(click.ClickException):
    """A QwenServeError as click shows it: `PROG: error: LINE`, exit with the error's code."""

    def __init__(self, error: QwenServeError, prog: str | None):
        super().__init__(error.line)
        self.exit_code = error.exit_code
        self.prog = prog or "qwen-serve"

    def show(self, file=None) -> None:
        click.echo(f"{self.prog}: error: {self.message}", err=True, file=file)


class ErrorsAsClickErrors:
    """The one place where the library's QwenServeError becomes a click error (parsing and running alike)."""

    def make_context(self, info_name, args, parent=None, **extra):
        prog = parent.find_root().info_name if parent else info_name
        try:
            return super().make_context(info_name, args, parent=parent, **extra)
        except QwenServeError as exc:
            raise UserError(exc, prog) from None
        except click.UsageError as exc:  # click's own (a bad type, an unknown option): one line too, not three
            if isinstance(exc, UserError):
                raise
            where = exc.ctx.command_path if exc.ctx else prog
            raise UserError(QwenServeError(exc.format_message(), fix=f"see `{where} --help`"), prog) from None

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except Interrupted as exc:  # library threads (a download pool) may still run: end now, not when they end
            UserError(exc, ctx.find_root().info_name).show()
            sys.stdout.flush()
            sys.stderr.flush()
            os._exit(exc.exit_code)
        except QwenServeError as exc:
            raise UserError(exc, ctx.find_root().info_name) from None


class Command(ErrorsAsClickErrors, click.Command):
    """A command whose SGLang flags come after `--` (its `passthrough` argument): a bare word before `--`
    is refused, not passed to SGLang — it is most often a value given to a switch (`--enable-x true`)."""

    def parse_args(self, ctx, args):
        words = list(args)  # click's parser consumes the list it is given
        rest = super().parse_args(ctx, args)
        passthrough = ctx.params.get("passthrough") or ()
        after = len(words) - words.index("--") - 1 if "--" in words else 0
        stray = passthrough[: len(passthrough) - after]
        if stray:
            # a switch just before the stray word means it was given a value (look at every place the word
            # stands: the same word may also be another option's value)
            from ..settings import FIELDS

            switches = {w: f for f in FIELDS if f.kind is bool for w in (f.cli_flag, f.cli_no_flag)}
            before = next((w for w, nxt in zip(words, words[1:]) if nxt == stray[0] and w in switches), None)
            switch = switches.get(before)
            name = ctx.command_path.removesuffix(" serve")
            error = QwenServeError(
                f"{stray[0]!r} before `--` is not an option of {name}"
                + (f": {before} is a switch and takes no value" if switch else ""),
                allowed=f"{name}'s options before `--`, SGLang's own flags after it",
                fix=f"write {switch.cli_usage(stray[0])} alone ({switch.cli_flag} on, {switch.cli_no_flag} off)"
                if switch
                else f"remove it, or put SGLang flags after `--`: -- {' '.join(stray)}",
            )
            raise error
        return rest


class LazyGroup(ErrorsAsClickErrors, click.Group):
    """Subcommands given as "module:attribute" and imported only when run or listed (vLLM's shape: the
    chosen command alone is imported). The first is the default: `qwen-serve --preset x` means
    `qwen-serve serve --preset x`; `--help` shows the commands and then the default command's options."""

    def __init__(self, *args, lazy: dict[str, str], **kwargs):
        super().__init__(*args, **kwargs)
        self.lazy = lazy
        self.default_command = next(iter(lazy))

    def list_commands(self, ctx) -> list[str]:
        return list(self.lazy)

    def get_command(self, ctx, name: str):
        if name not in self.lazy:
            return None
        module, attribute = self.lazy[name].split(":")
        return getattr(importlib.import_module(module, __package__), attribute)

    def parse_args(self, ctx, args):
        if args and not args[0].startswith("-") and args[0] not in self.lazy:
            # the default command takes no bare word before `--`: a word here is a command name, mistyped
            from ..errors import did_you_mean

            hint = did_you_mean(args[0], self.lazy)
            raise UserError(
                QwenServeError(
                    f"unknown command '{args[0][:40]}'" + (f" — {hint}" if hint else ""),
                    allowed=", ".join(self.lazy),
                    fix=f"see `{ctx.info_name} --help`",
                ),
                ctx.info_name,
            )
        if not args or args[0] not in (*self.lazy, "--version", "--help", "-h"):
            args = [self.default_command, *args]
        return super().parse_args(ctx, args)

    def format_commands(self, ctx, formatter) -> None:
        rows = []
        for name in self.list_commands(ctx):
            help_text = self.get_command(ctx, name).get_short_help_str(limit=200)
            rows.append((name, ("(default) " if name == self.default_command else "") + help_text))
        with formatter.section("Commands"):
            formatter.write_dl(rows)

    def format_epilog(self, ctx, formatter) -> None:
        default = self.get_command(ctx, self.default_command)
        sub = click.Context(default, info_name=self.default_command, parent=ctx)
        formatter.write_paragraph()
        formatter.write_text(f"{ctx.info_name} {self.default_command} (the default command):")
        default.format_options(sub, formatter)
        default.format_epilog(sub, formatter)


def setting_options(func):
    """One flag per setting of `settings.FIELDS`, its built-in default shown (the bundled server_config.yaml's
    top level, which a selected preset overrides). Values come in as text and are checked by the settings
    table itself, so every bad value gets the same one-line error as in YAML."""
    from ..settings import FIELDS  # here, not at the top: qwen-test and qwen-bench import this module too

    for spec in reversed(FIELDS):
        if spec.default is None:
            shown = "SGLang's own" if spec.sglang_flag else "none"
        elif spec.kind is bool:
            shown = "on" if spec.default else "off"
        else:
            shown = str(spec.default)
        if spec.kind is bool:
            decl = f"{spec.cli_flag}/{spec.cli_no_flag}"
            func = click.option(decl, spec.name, default=spec.default, help=f"{spec.help}  [default: {shown}]")(func)
        else:
            metavar = {int: "INT", float: "FLOAT"}.get(spec.kind, "TEXT")
            func = click.option(
                spec.cli_flag,
                spec.name,
                type=click.STRING,
                default=spec.default,
                metavar=metavar,
                help=f"{spec.help}  [default: {shown}]",
            )(func)
    return func


def typed_settings(ctx: click.Context, params: dict) -> dict:
    """The settings the user typed (click's parameter source, not a None sentinel): only these override."""
    from ..settings import FIELDS

    return {
        spec.name: params[spec.name]
        for spec in FIELDS
        if ctx.get_parameter_source(spec.name) is ParameterSource.COMMANDLINE
    }


def server_url(base_url: str | None, host: str, port: int, flag: str = "--base-url") -> str:
    """http://host:port of a server, from --base-url (with or without /v1) or --host/--port."""
    if base_url is not None and not base_url.lower().startswith(("http://", "https://")):
        shown = base_url[:60].encode("unicode_escape").decode()
        raise QwenServeError(
            f"{flag} '{shown}' is not a URL: a URL starts with http:// or https://",
            fix=f"{flag} http://{shown}" if "://" not in shown else f"e.g. {flag} http://gpu-box:30000",
        )
    url = (base_url or f"http://{host}:{port}").rstrip("/")
    return url[: -len("/v1")] if url.endswith("/v1") else url
