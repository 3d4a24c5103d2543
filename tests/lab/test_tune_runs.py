"""The committed `qwen-serve tune` runs (bench/results/*/tune/DATE/) hold to their raw files: result.json is the result
file the last run on that machine wrote (inside tune-out.tar.gz, or a later resuming call's copy), every row it holds
was measured whole or says why not, the picks it records are what --preset auto took there, and the start after the
run is the throughput pick's."""

from __future__ import annotations

import json
import tarfile
from pathlib import Path

import pytest

from qwen_serve.tune_result import pick, result_from_json

ROOT = Path(__file__).resolve().parents[2]
RUNS = sorted(ROOT.glob("bench/results/*/tune/*/result.json"))


def raw_results(folder: Path) -> list[dict]:
    """Every result file the GPU machine wrote, as it came back: inside the run's tarball, and any later call's."""
    found = []
    with tarfile.open(folder / "tune-out.tar.gz") as tar:
        for member in tar.getmembers():
            if member.name.startswith("cache/qwen-serve/tune/") and member.name.endswith(".json"):
                found.append(json.load(tar.extractfile(member)))
    found += [json.loads(p.read_text()) for p in sorted(folder.glob("resume-*-tp[0-9].json"))]
    return found


def test_there_is_a_committed_run():
    assert RUNS


@pytest.mark.parametrize("path", RUNS, ids=lambda p: str(p.parent.relative_to(ROOT)))
def test_a_tune_runs_result_is_its_raw_file_and_its_picks_are_what_auto_took(path):
    folder = path.parent
    data = json.loads(path.read_text())
    assert data == raw_results(folder)[-1]
    result = result_from_json(data)
    presets = [m.name for m in result.measured.values() if m.kind == "preset"]
    for m in result.measured.values():
        assert m.complete or m.error, m.name
    for load in ("interactive", "throughput"):  # the last call's --preset auto, after the last result
        later = folder / f"resume-auto-{load}.json"
        auto = json.loads((later if later.is_file() else folder / f"auto-{load}.json").read_text())
        assert auto["preset"] == pick(result, load, presets)[0]
    ready = json.loads((folder / "ready-kept.json").read_text())
    assert ready["preset"] == json.loads((folder / "auto-throughput.json").read_text())["preset"]
    # the machine the result names is the one the run's own nvidia-smi line names
    machine = (folder / "machine.txt").read_text().splitlines()[1]
    assert machine.startswith(result.machine.gpu + ",") and result.machine.driver in machine


@pytest.mark.parametrize("path", RUNS, ids=lambda p: str(p.parent.relative_to(ROOT)))
def test_each_tune_run_ended_within_its_budget(path):
    """The budget bounds the whole run: every call's tune ended before its --budget (minutes) ran out."""
    import re

    folder = path.parent
    for name in ("command.txt", "resume-command.txt"):
        if not (folder / name).is_file():
            continue
        text = (folder / name).read_text()
        budget = float(re.search(r"--budget ([\d.]+)", text).group(1)) * 60
        took = float(re.search(r"tune: exit 0 after (\d+) s", text).group(1))
        assert took <= budget, (name, took, budget)
