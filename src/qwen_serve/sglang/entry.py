"""`python -m qwen_serve.sglang.entry ARGS`: SGLang's `launch_server`, with the torchao fix and the API key.

Used by qwen-serve when a torchao config is requested on an SGLang that needs the fix
(sglang/capabilities.py), and whenever an API key is set: the key comes in the environment variable
QWEN_SERVE_SGLANG_API_KEY (readable only by the same user, unlike a command line, which `ps` shows to
everyone) and goes to SGLang's ServerArgs inside this process, so it is in no process's argv. The fix is installed at import time, not under `__main__`: SGLang starts its
scheduler processes with multiprocessing's "spawn", which re-imports this main module in every
child, so each process of the server gets it before SGLang's model runner is imported.
Everything else is SGLang's own `python -m sglang.launch_server`, unchanged.
"""

from qwen_serve.sglang.patches import install

PATCHED = install()

if __name__ == "__main__":
    import os
    import sys

    from sglang.launch_server import run_server
    from sglang.srt.plugins import load_plugins
    from sglang.srt.server_args import prepare_server_args
    from sglang.srt.utils import kill_process_tree

    if PATCHED:
        print("qwen-serve: torchao fix installed (qwen_serve.sglang.torchao_fix)", file=sys.stderr, flush=True)
    load_plugins()
    key = os.environ.pop("QWEN_SERVE_SGLANG_API_KEY", None)  # not inherited by SGLang's own children
    server_args = prepare_server_args(sys.argv[1:] + (["--api-key", key] if key else []))
    try:
        run_server(server_args)
    finally:
        kill_process_tree(os.getpid(), include_parent=False)
