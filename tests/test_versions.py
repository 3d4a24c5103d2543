"""Every preset of both files, translated for each SGLang flag snapshot (0.5.17 and 0.5.23)."""

from __future__ import annotations

from pathlib import Path

import pytest

from qwen_serve.config import load_config
from qwen_serve.errors import QwenServeError
from qwen_serve.resolve import resolve
from qwen_serve.sglang.argv import build_command
from qwen_serve.sglang.capabilities import snapshot_versions, target_for

ROOT = Path(__file__).resolve().parents[1]
CASES = [
    (f, p, str(v))
    for f in ("server_config.yaml", "config_examples.yaml")
    for p in load_config(ROOT / f).presets
    for v in snapshot_versions()
]


def test_both_flag_sets_are_committed():
    assert {"0.5.17", "0.5.23"} <= {str(v) for v in snapshot_versions()}


@pytest.mark.parametrize("file, preset, version", CASES)
def test_preset_translates_or_is_refused_with_alternatives(file, preset, version):
    launch = resolve(load_config(ROOT / file), preset, {})
    target = target_for(version)
    if launch["torchao_config"] and not target.supports("torchao_config"):
        with pytest.raises(QwenServeError) as err:
            build_command(launch, target)
        assert f"sglang {version}" in err.value.line and "--quantization fp8" in err.value.line
        return
    command = build_command(launch, target)
    options = [a for a in command.sglang_argv if a.startswith("--")]
    assert options and all(target.flagset.has(o) for o in options)


def test_torchao_capability_ends_at_0_5_17():
    assert target_for("0.5.17").supports("torchao_config") and not target_for("0.5.23").supports("torchao_config")
    between = target_for("0.5.20")  # no folder of its own: 0.5.23's (it holds from 0.5.18), and the description says so
    assert between.release.version == "0.5.23" and "flags from the 0.5.23 snapshot" in between.description
    assert not between.supports("torchao_config")  # gone in 0.5.18
    assert not target_for("0.5.23").flagset.has("--torchao-config")
    assert target_for("0.5.17").flagset.has("--torchao-config")


def test_unknown_newer_release_uses_the_nearest_older_snapshot():
    target = target_for("0.6.1")
    assert target.flagset.version == "0.5.23" and not target.exact_snapshot
    assert "flags from the 0.5.23 snapshot" in target.description
