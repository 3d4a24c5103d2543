"""The test session's shared processes (conftest.py): the CPU servers and the subprocesses run ahead are started from
a thread while tests run in the same process, so they must start as the session began, whatever a test has changed."""

from __future__ import annotations

import os
import sys

from conftest import ROOT, SESSION_ENV, Ahead


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
