"""`python -m qwen_serve.sglang.router_entry ARGS`: sglang-router's own launcher, with its API key taken from
the environment (QWEN_SERVE_ROUTER_API_KEY) instead of its command line, where every local user sees it."""

from __future__ import annotations

import os
import sys

KEY_ENV = "QWEN_SERVE_ROUTER_API_KEY"


def main() -> None:
    from sglang_router.launch_router import launch_router, parse_router_args

    router_args = parse_router_args(sys.argv[1:])
    key = os.environ.pop(KEY_ENV, None)
    if key:
        router_args.api_key = key
    launch_router(router_args)


if __name__ == "__main__":
    main()
