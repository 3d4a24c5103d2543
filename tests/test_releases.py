"""The contract every SGLang release adapter (qwen_serve/sglang/releases/vX_Y_Z) passes, against that release's
own parser: the installed SGLang for the default release, and for any other its wheel alone, installed by uv into a
folder of this test session (`uv pip install --no-deps --target`; uv's cache keeps the download) and imported
beside the default release's dependencies. Adding a release is adding a folder; these tests then hold it."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from qwen_serve.config import load_config
from qwen_serve.errors import QwenServeError
from qwen_serve.resolve import resolve
from qwen_serve.settings import FIELDS_BY_NAME
from qwen_serve.sglang.argv import build_command
from qwen_serve.sglang.capabilities import installed_sglang_version, target_for
from qwen_serve.sglang.releases import DEFAULT, releases

ROOT = Path(__file__).resolve().parents[1]
SRC = ROOT / "src"
RELEASES = [str(v) for v in releases()]
FILES = ("server_config.yaml", "config_examples.yaml")


@pytest.fixture(scope="session")
def sglang_path(tmp_path_factory):
    """PYTHONPATH under which `import sglang` is the given release."""
    folders: dict[str, str] = {}

    def path(version: str) -> str:
        if version == installed_sglang_version():
            return str(SRC)
        if version not in folders:
            folder = tmp_path_factory.mktemp(f"sglang-{version}")
            uv = shutil.which("uv")
            assert uv, "uv is the project's one prerequisite"
            subprocess.run(
                [uv, "pip", "install", "--no-deps", "--target", str(folder), "--python", sys.executable,
                 f"sglang=={version}"],
                check=True, capture_output=True, timeout=600,
            )  # fmt: skip
            folders[version] = f"{folder}{os.pathsep}{SRC}"
        return folders[version]

    return path


@pytest.fixture(scope="session")
def release_run(sglang_path):
    """For a release: every preset of both shipped files built for it (or refused), and what its real parser said of
    them, with its flags — one run of qwen_serve.sglang.releases.parser (one import of that SGLang) per release."""
    runs: dict[str, dict] = {}

    def run(version: str) -> dict:
        if version in runs:
            return runs[version]
        target = target_for(version)
        commands, refused = {}, {}
        for file in FILES:
            config = load_config(ROOT / file)
            for preset in config.presets:
                launch = resolve(config, preset, {"port": "31000"})
                try:
                    commands[(file, preset)] = (launch, build_command(launch, target))
                except QwenServeError as exc:
                    refused[(file, preset)] = (launch, exc.line)
        result = subprocess.run(
            [sys.executable, "-m", "qwen_serve.sglang.releases.parser", "parse"],
            input=json.dumps([list(c.sglang_argv) for _, c in commands.values()]),
            capture_output=True, text=True, timeout=600,
            env={**os.environ, "PYTHONPATH": sglang_path(version)},
        )  # fmt: skip
        assert result.returncode == 0, result.stderr[-2000:]
        runs[version] = {"commands": commands, "refused": refused, **json.loads(result.stdout)}
        return runs[version]

    return run


def test_the_default_release_is_the_locked_one_and_the_others_are_newer():
    assert installed_sglang_version() == DEFAULT == RELEASES[0]
    assert len(RELEASES) >= 2 and "0.5.23" in RELEASES


@pytest.mark.parametrize("version", RELEASES)
def test_flags_json_is_what_the_releases_own_parser_defines(version, release_run):
    live = release_run(version)
    assert live["sglang_version"] == version
    assert live["flags"] == releases()[next(v for v in releases() if str(v) == version)].flags


@pytest.mark.parametrize("version", RELEASES)
def test_every_preset_is_a_command_the_releases_parser_takes_or_one_line(version, release_run):
    """Every preset of both shipped files, built for this release: accepted by its real parser with the values
    qwen-serve meant (model, port, parsers, metrics, quantization), or refused in one line that names the release,
    for exactly the settings the adapter lists as removed."""
    run = release_run(version)
    commands, refused = run["commands"], run["refused"]
    for ((file, preset), (launch, _)), answer in zip(commands.items(), run["answers"], strict=True):
        assert "error" not in answer, (file, preset, answer)
        ns = answer["namespace"]
        assert ns["model_path"] == launch["model_path"] and ns["port"] == 31000, (file, preset)
        assert ns["tool_call_parser"] == launch["tool_call_parser"] and ns["reasoning_parser"] == "qwen3"
        assert ns["enable_metrics"] is True and ns["quantization"] == launch["quantization"], (file, preset)
    release = target_for(version).release
    for (file, preset), (launch, line) in refused.items():
        removed = [name for name in release.removed if launch[name]]
        assert removed and f"sglang {version}" in line, (file, preset, line)
    assert bool(refused) == bool(release.removed)  # a release that removed nothing refuses nothing


@pytest.mark.parametrize("version", RELEASES)
def test_the_adapters_facts_agree_with_its_flags(version):
    release = target_for(version).release
    assert release.version == version
    committed = ROOT / "src" / "qwen_serve" / "sglang" / "releases" / ("v" + version.replace(".", "_")) / "flags.json"
    assert json.loads(committed.read_text())["sglang_version"] == version  # the folder is the release it says
    assert release.supports("torchao_config") == ("--torchao-config" in release.flags)
    for name in release.removed:
        assert FIELDS_BY_NAME[name].sglang_flag not in release.flags  # removed means gone from its parser
    assert (release.unmeasured_note() is None) == (version == DEFAULT)  # only the locked release was measured


def test_a_dry_run_for_an_unmeasured_release_says_so(qwen_serve):
    planned = qwen_serve("--dry-run", "--sglang-version", "0.5.23", "--preset", "fp8", "--gpu", "H200")
    assert planned.exit_code == 0, planned.stderr
    assert "sglang 0.5.23 is unmeasured here" in planned.stdout + planned.stderr
    measured = qwen_serve("--dry-run", "--preset", "fp8", "--gpu", "H200")
    assert "unmeasured" not in measured.stdout + measured.stderr
