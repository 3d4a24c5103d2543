"""`python -m qwen_serve.sglang.router_entry MODULE ARGS`: the SGLang release's router (MODULE: `sglang_router`, or
`smg`, SGLang's router from 0.5.18 on; `Release.router_module`), with its API key taken from the environment
(QWEN_SERVE_ROUTER_API_KEY) instead of its command line, where every local user sees it.

It reads ARGS with the router's own argument definitions (`MODULE.router_args.RouterArgs.add_cli_args`, as
`MODULE.launch_router` does) and starts the Rust router (`MODULE.router.Router`), without importing the launch module:
sglang-router's also loads the Python debugging balancer (mini_lb), which imports SGLang itself, 8 s on a CPU."""

from __future__ import annotations

import argparse
import os
import sys
from importlib import import_module

KEY_ENV = "QWEN_SERVE_ROUTER_API_KEY"


def modules() -> list[str]:
    """The routers SGLang's releases go with: each release adapter's `router_module`."""
    from .releases import releases

    return sorted({release.router_module for release in releases().values()})


def parse(argv: list[str], module: str):
    """The router's RouterArgs for ARGS, by its own parser."""
    RouterArgs = import_module(f"{module}.router_args").RouterArgs

    parser = argparse.ArgumentParser(prog=f"{module} (qwen-serve)")
    RouterArgs.add_cli_args(parser, use_router_prefix=False)
    return RouterArgs.from_cli_args(parser.parse_args(argv), use_router_prefix=False)


def main() -> None:
    import setproctitle

    module, argv = sys.argv[1], sys.argv[2:]
    if module not in modules():
        sys.exit(
            f"qwen-serve router entry: the router module comes first, one of {', '.join(modules())}; got {module!r}"
        )
    router_args = parse(argv, module)
    key = os.environ.pop(KEY_ENV, None)
    if key:
        router_args.api_key = key
    setproctitle.setproctitle(f"{module}::router")
    router_args._validate_router_args()
    import_module(f"{module}.router").Router.from_args(router_args).start()


if __name__ == "__main__":
    main()
