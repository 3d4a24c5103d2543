"""--help and --dry-run import neither torch nor sglang, nor rich, a third of a dry run where Python keeps no bytecode
(timing lives in bench/fastpath.py)."""

from __future__ import annotations

import json
import subprocess
import sys

HEAVY = ("torch", "sglang", "transformers", "rich")
PROBE = """
import json, sys
from click.testing import CliRunner
from qwen_serve.cli import main_group
r = CliRunner().invoke(main_group, sys.argv[1:])
print(json.dumps({"exit": r.exit_code, "heavy": [m for m in HEAVY if m in sys.modules]}))
""".replace("HEAVY", repr(HEAVY))


def probe(*args: str) -> dict:
    out = subprocess.run([sys.executable, "-c", PROBE, *args], capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_help_imports_nothing_heavy():
    assert probe("--help") == {"exit": 0, "heavy": []}


def test_dry_run_imports_nothing_heavy():
    assert probe("--dry-run", "--preset", "balanced") == {"exit": 0, "heavy": []}
    assert probe("--dry-run", "--json", "--config", "config_examples.yaml", "--preset", "fp8_hopper_example") == {
        "exit": 0,
        "heavy": [],
    }


def test_help_lists_every_seed_flag():
    out = subprocess.run(
        [sys.executable, "-m", "qwen_serve", "--help"], capture_output=True, text=True, check=True
    ).stdout
    for flag in (
        "--model-path",
        "--host",
        "--port",
        "--preset",
        "--config",
        "--torchao-config",
        "--quantization",
        "--kv-cache-dtype",
        "--tp-size",
        "--mem-fraction-static",
        "--enable-torch-compile",
        "--enable-flashinfer",
        "--dry-run",
        "--check",
    ):
        assert flag in out, flag
