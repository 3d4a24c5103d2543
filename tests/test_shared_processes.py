"""The test session's shared processes (conftest.py): the CPU servers and the subprocesses run ahead are started from
a thread while tests run in the same process, so they must start as the session began, whatever a test has changed."""

from __future__ import annotations

import os
import sys

from conftest import MOSTLY_WAIT, ROOT, SESSION_ENV, TOGETHER, Ahead, scheduling_unit


def test_a_subprocess_run_ahead_gets_the_sessions_environment_and_folder_not_a_running_tests(monkeypatch, tmp_path):
    # a test that puts the stand-in SGLang first on PYTHONPATH made the real SGLang's --help, started beside it,
    # import the stand-in and wait forever (seen twice in five full runs)
    monkeypatch.setenv("PYTHONPATH", str(ROOT / "tests" / "fake_sglang"))
    monkeypatch.setenv("QWEN_SERVE_TEST_ONLY_IN_THIS_TEST", "1")
    monkeypatch.chdir(tmp_path)
    show = "import os; print(os.environ.get('PYTHONPATH')); print(os.environ.get('QWEN_SERVE_TEST_ONLY_IN_THIS_TEST'))"
    probe = Ahead(f"probe-{os.getpid()}", [sys.executable, "-c", f"{show}; print(os.getcwd())"])
    done = probe.result(timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == [str(SESSION_ENV.get("PYTHONPATH")), "None", str(ROOT)]


def test_every_test_the_scheduler_places_by_name_still_exists():
    """conftest's TOGETHER and MOSTLY_WAIT name tests by node id prefix: a renamed or moved test would silently fall
    out of its group (and cost the session an SGLang import or a waiting process again)."""
    for prefix in [*MOSTLY_WAIT, *(p for prefixes in TOGETHER.values() for p in prefixes)]:
        path, _, name = prefix.partition("::")
        source = (ROOT / path).read_text()
        assert not name or f"def {name}" in source, prefix


def test_the_scheduler_keeps_each_group_in_one_unit_and_deals_the_waiting_tests_into_two_lanes():
    lanes: dict[str, str] = {}

    def scope(nodeid):
        return scheduling_unit(nodeid, lanes)

    assert scope("tests/test_torchao_compat.py::test_a") == scope("tests/test_sglang_parser.py::test_b[x]")
    assert scope("tests/test_releases.py::test_flags_json_is_what_the_releases_own_parser_defines[0.5.23]") == scope(
        "tests/test_releases.py::test_every_preset_is_a_command_the_releases_parser_takes_or_one_line[0.5.17]"
    )
    waiting = [scope(f"tests/test_supervise.py::test_{i}") for i in range(4)]
    assert waiting[0] == waiting[2] != waiting[1] == waiting[3]
    assert scope("tests/test_docs.py::test_a") == "tests/test_docs.py::test_a"  # every other test alone
