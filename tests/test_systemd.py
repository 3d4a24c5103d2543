"""#29 point 5: `qwen-serve systemd` writes a unit that systemd's own verifier accepts, with the key as a credential,
Restart=on-failure and a stop timeout longer than qwen-serve's; qwen-serve tells systemd when it is ready and when it
drains (sd_notify, a real datagram socket, the stand-in SGLang)."""

from __future__ import annotations

import configparser
import os
import shutil
import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import free_port

ROOT = Path(__file__).resolve().parents[1]


def unit_for(qwen_serve, tmp_path, *args):
    key = tmp_path / "api-key"
    key.write_text("sk-systemd-test-0123\n")
    key.chmod(0o600)
    result = qwen_serve("systemd", "--key-file", str(key), *args)
    assert result.exit_code == 0, result.stderr
    path = tmp_path / "qwen-serve.service"
    path.write_text(result.stdout)
    parser = configparser.ConfigParser(strict=False, interpolation=None, delimiters=("=",))
    parser.optionxform = str
    parser.read_string(result.stdout)
    return path, parser, key


def test_the_unit_runs_qwen_serve_with_the_key_as_a_credential(qwen_serve, tmp_path):
    path, unit, key = unit_for(
        qwen_serve,
        tmp_path,
        "--preset",
        "fp8",
        "--port",
        "31000",
        "--stop-timeout",
        "60",
        "--",
        "--enable-cache-report",
    )
    service = unit["Service"]
    assert service["Type"] == "notify" and service["Restart"] == "on-failure"
    assert int(service["TimeoutStopSec"]) > 60  # longer than qwen-serve's own drain, so systemd never cuts it
    assert service["LoadCredential"] == f"api-key:{key}"
    exec_start = service["ExecStart"].split()
    assert exec_start[:3] == [sys.executable, "-m", "qwen_serve"]
    # the key file is qwen-serve's option, before `--`; SGLang's flags after it
    assert exec_start.index("--api-key-file") < exec_start.index("--") < exec_start.index("--enable-cache-report")
    assert exec_start[exec_start.index("--api-key-file") + 1] == "%d/api-key"
    assert "sk-systemd-test" not in path.read_text()  # the key is never in the unit


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="needs systemd-analyze (systemd >= 250)")
def test_systemds_own_verifier_accepts_the_unit(qwen_serve, tmp_path):
    path, _, _ = unit_for(qwen_serve, tmp_path, "--preset", "balanced", "--host", "0.0.0.0")
    run = subprocess.run(["systemd-analyze", "verify", str(path)], capture_output=True, text=True, timeout=60)
    assert run.returncode == 0, run.stderr
    broken = tmp_path / "broken.service"
    broken.write_text(path.read_text().replace("Type=notify", "Type=notifyy"))
    run = subprocess.run(["systemd-analyze", "verify", str(broken)], capture_output=True, text=True, timeout=60)
    assert "notifyy" in run.stderr  # the verifier does read what we write


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (("--preset", "nope"), "unknown preset 'nope'"),
        (("--tp-size", "3"), "tp_size: 3"),
        (("--api-key", "sk-in-the-unit-0123"), "--api-key in `qwen-serve systemd`"),
        (("--key-file", "/nonexistent/key"), "--key-file '/nonexistent/key' is not a file"),
    ],
)
def test_what_a_launch_would_refuse_is_refused_before_the_unit_is_written(qwen_serve, args, fragment):
    result = qwen_serve("systemd", *args)
    assert result.exit_code == 2 and result.stdout == ""
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and fragment in lines[0] and "fix:" in lines[0], lines


def test_qwen_serve_tells_systemd_when_it_is_ready_and_when_it_drains(tmp_path):
    model = tmp_path / "model"
    model.mkdir()
    (model / "config.json").write_text("{}")
    address = str(tmp_path / "notify.sock")
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        sock.bind(address)
        sock.settimeout(60)
        env = {**os.environ, "PYTHONPATH": str(ROOT / "tests" / "fake_sglang"), "NOTIFY_SOCKET": address}
        env["XDG_CACHE_HOME"] = str(tmp_path / "cache")
        port = free_port()
        proc = subprocess.Popen(
            [sys.executable, "-m", "qwen_serve", "--model-path", str(model), "--force", "--host", "127.0.0.1"]
            + ["--port", str(port), "--quiet"],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            ready = sock.recv(4096).decode()
            assert ready.startswith("READY=1") and f"http://127.0.0.1:{port}" in ready
            proc.send_signal(signal.SIGTERM)
            assert sock.recv(4096).decode().startswith("STOPPING=1")
            assert proc.wait(timeout=60) == 0
        finally:
            proc.kill()


# --- #39: every value is checked and escaped by one function; any text either round-trips or is one line ---------

from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from qwen_serve.errors import QwenServeError  # noqa: E402
from qwen_serve.systemd import Unit, render  # noqa: E402


def systemd_words(line: str) -> list[str]:
    """ExecStart= split as systemd splits it: words at spaces, "…" quoted with \\ escapes; then $$ and %% undone."""
    words, i = [], 0
    while i < len(line):
        if line[i] == " ":
            i += 1
            continue
        if line[i] == '"':
            i, word = i + 1, ""
            while line[i] != '"':
                word, i = (word + line[i + 1], i + 2) if line[i] == "\\" else (word + line[i], i + 1)
            i += 1
        else:
            end = line.find(" ", i) if " " in line[i:] else len(line)
            word, i = line[i:end], end
        words.append(word.replace("$$", "$").replace("%%", "%"))
    return words


def fields(unit_text: str) -> dict[str, str]:
    return dict(x.split("=", 1) for x in unit_text.splitlines() if "=" in x and not x.startswith("#"))


TEXT = st.text(max_size=20)


@settings(max_examples=400, deadline=None)
@given(args=st.lists(TEXT, max_size=4), user=st.none() | TEXT, workdir=st.none() | TEXT, description=TEXT)
def test_any_text_in_any_field_is_refused_in_one_line_or_round_trips(args, user, workdir, description):
    unit = Unit(
        serve_args=("--preset", "balanced", *args),
        description=description,
        stop_timeout=30,
        key_file="/etc/qwen-serve/api-key",
        user=user,
        working_directory=None if workdir is None else "/srv/" + workdir,
        python="/usr/bin/python3",
    )
    try:
        text = render(unit)
    except QwenServeError as exc:
        assert "\n" not in exc.line
        return
    lines = text.splitlines()
    assert len(lines) == 23 + (user is not None) + (workdir is not None)  # no value added a line of its own
    got = fields(text)
    argv = systemd_words(got["ExecStart"])
    assert argv == [
        "/usr/bin/python3",
        "-m",
        "qwen_serve",
        "--preset",
        "balanced",
        *args,
        "--api-key-file",
        "%d/api-key",
    ]
    assert got["Description"].replace("%%", "%") == description
    if user is not None:
        assert got["User"] == user and user  # an empty User= (root) is never written
    if workdir is not None:
        assert got["WorkingDirectory"].replace("%%", "%") == "/srv/" + workdir


@pytest.mark.parametrize(
    ("field", "value", "words"),
    [
        ("args", "x\nExecStartPre=/bin/sh -c 'id'", "holds '\\\\n'"),
        ("user", "", "an empty User= would run the service as root"),
        ("user", "root\n[Service]", "holds '\\\\n'"),
        ("workdir", "relative/dir", "is not an absolute path"),
    ],
)
def test_injection_attempts_are_refused_in_one_line(field, value, words):
    unit = Unit(
        serve_args=("--preset", "balanced", *([value] if field == "args" else [])),
        description="d",
        stop_timeout=30,
        user=value if field == "user" else None,
        working_directory=value if field == "workdir" else None,
    )
    with pytest.raises(QwenServeError) as caught:
        render(unit)
    assert words in caught.value.line, caught.value.line


def test_a_percent_in_a_value_is_written_as_text_not_a_specifier():
    text = render(Unit(serve_args=("--served-model-name", "%h-model"), description="a %u b", stop_timeout=30))
    assert '"%%h-model"' in fields(text)["ExecStart"] and fields(text)["Description"] == "a %%u b"


def test_a_key_file_a_launch_would_refuse_is_refused_before_the_unit_is_written(qwen_serve, tmp_path):
    short = tmp_path / "api-key"
    short.write_text("sk-1\n")
    result = qwen_serve("systemd", "--key-file", str(short), "--preset", "balanced")
    assert result.exit_code == 2 and "--key-file" in result.stderr and "8 to 512" in result.stderr
    assert "ExecStart" not in result.stdout
