"""Stand-in for SGLang in supervision tests: only `python -m sglang.launch_server` exists."""
