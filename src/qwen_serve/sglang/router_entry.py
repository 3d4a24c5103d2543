"""`python -m qwen_serve.sglang.router_entry ARGS`: sglang-router's own launch, with its API key taken from
the environment (QWEN_SERVE_ROUTER_API_KEY) instead of its command line, where every local user sees it.

It reads ARGS with the router's own argument definitions (`RouterArgs.add_cli_args`, as
`sglang_router.launch_router` does) and starts the Rust router, without importing that module: it also
loads the Python debugging balancer (mini_lb), which imports SGLang itself, 8 s on a CPU."""

from __future__ import annotations

import argparse
import os
import sys

KEY_ENV = "QWEN_SERVE_ROUTER_API_KEY"


def parse(argv: list[str]):
    """The router's RouterArgs for ARGS, by its own parser."""
    from sglang_router.router_args import RouterArgs

    parser = argparse.ArgumentParser(prog="sglang-router (qwen-serve)")
    RouterArgs.add_cli_args(parser, use_router_prefix=False)
    return RouterArgs.from_cli_args(parser.parse_args(argv), use_router_prefix=False)


def main() -> None:
    import setproctitle
    from sglang_router.router import Router

    router_args = parse(sys.argv[1:])
    key = os.environ.pop(KEY_ENV, None)
    if key:
        router_args.api_key = key
    setproctitle.setproctitle("sglang::router")
    router_args._validate_router_args()
    Router.from_args(router_args).start()


if __name__ == "__main__":
    main()
