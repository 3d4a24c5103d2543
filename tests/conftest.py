from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from qwen_serve.cli import main_group

ROOT = Path(__file__).resolve().parents[1]


class Result:
    def __init__(self, r):
        self.exit_code = r.exit_code
        self.stdout = r.stdout
        self.stderr = r.stderr
        self.exception = r.exception

    def json(self):
        return json.loads(self.stdout)

    @property
    def error_lines(self) -> list[str]:
        return [line for line in self.stderr.splitlines() if line.strip()]


@pytest.fixture
def qwen_serve():
    """Run `qwen-serve ARGS…` in-process through click's CliRunner."""
    runner = CliRunner()

    def invoke(*args: str) -> Result:
        return Result(runner.invoke(main_group, list(args), prog_name="qwen-serve"))

    return invoke


@pytest.fixture
def write_yaml(tmp_path):
    def write(text: str, name: str = "cfg.yaml") -> str:
        path = tmp_path / name
        path.write_text(text, encoding="utf-8")
        return str(path)

    return write
