"""The child's exit code passes through; a signal to qwen-serve reaches the child's group."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time

from qwen_serve.supervise import run


def test_exit_code_passes_through():
    assert run([sys.executable, "-c", "import sys; sys.exit(3)"]) == 3
    assert run([sys.executable, "-c", "pass"]) == 0


def test_child_killed_by_signal_maps_to_128_plus_n():
    assert run([sys.executable, "-c", "import os, signal; os.kill(os.getpid(), signal.SIGKILL)"]) == 128 + 9


def test_sigterm_is_forwarded_to_the_child_group(tmp_path):
    marker = tmp_path / "got-term"
    child = textwrap.dedent(f"""
        import signal, sys, time
        def bye(*_):
            open({str(marker)!r}, "w").write("term")
            sys.exit(7)
        signal.signal(signal.SIGTERM, bye)
        print("ready", flush=True)
        time.sleep(60)
    """)
    parent = textwrap.dedent(f"""
        import sys
        from qwen_serve.supervise import run
        sys.exit(run([sys.executable, "-c", {child!r}]))
    """)
    proc = subprocess.Popen([sys.executable, "-c", parent], stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "ready"
    os.kill(proc.pid, signal.SIGTERM)
    assert proc.wait(timeout=20) == 7
    assert marker.read_text() == "term"
