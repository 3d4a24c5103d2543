"""No output path destroys what the user has: --ready-file, --log-file, qwen-bench --out and plot -o are checked
before anything starts — an input of the same run, another output, a directory, a device, an existing file qwen-serve
did not write, an unwritable place — one line, exit 2, and every file the user had is byte for byte the same."""

from __future__ import annotations

import json

import pytest

from qwen_serve.model import QWEN3_14B_CONFIG


@pytest.fixture
def files(tmp_path):
    """A user's working folder: a config, a key file, a model directory, notes."""
    (tmp_path / "my.yaml").write_text("port: 30001\n")
    (tmp_path / "key").write_text("sk-0123456789abc\n")
    (tmp_path / "key").chmod(0o600)
    model = tmp_path / "model"
    model.mkdir()
    (model / "config.json").write_text(json.dumps(QWEN3_14B_CONFIG))
    (tmp_path / "notes.txt").write_text("mine\n")
    return tmp_path


def snapshot(folder):
    return {p: p.read_bytes() for p in folder.rglob("*") if p.is_file()}


@pytest.mark.parametrize(
    "args, words",
    [
        (["--config", "{d}/my.yaml", "--ready-file", "{d}/my.yaml"], "is --config, an input of this run"),
        (["--api-key-file", "{d}/key", "--log-file", "{d}/key"], "is --api-key-file, an input of this run"),
        (["--model-path", "{d}/model", "--ready-file", "{d}/model/config.json"], "is --model-path"),
        (["--ready-file", "{d}/out.json", "--log-file", "{d}/out.json"], "two outputs of this run in one file"),
        (["--log-file", "{d}/notes.txt"], "already exists and qwen-serve did not write it"),
        (["--ready-file", "{d}/notes.txt"], "already exists and qwen-serve did not write it"),
        (["--log-file", "{d}"], "is a directory"),
        (["--log-file", "/dev/null"], "not a regular file"),
        (["--ready-file", ""], "the path is empty"),
        (["--ready-file", "{d}/notes.txt/ready.json"], "Not a directory"),
    ],
)
def test_an_output_path_that_would_destroy_a_file_is_refused_before_anything(qwen_serve, files, args, words):
    before = snapshot(files)
    result = qwen_serve("--gpu", "H200", *[a.format(d=files) for a in args])  # no --dry-run: it would launch
    assert result.exit_code == 2, result.stdout
    assert len(result.error_lines) == 1 and words in result.error_lines[0]
    assert "fix:" in result.error_lines[0]
    assert snapshot(files) == before


def test_files_qwen_serve_wrote_may_be_written_again(qwen_serve, files):
    from qwen_serve.outputs import log_header, write_json

    ready, log = files / "ready.json", files / "sglang.log"
    write_json(ready, {"ready": True})
    log.write_text(log_header(log, "2026-12-03 10:00:00") + "old lines\n")
    result = qwen_serve("--dry-run", "--gpu", "H200", "--ready-file", str(ready), "--log-file", str(log))
    assert result.exit_code == 0, result.stderr


@pytest.mark.parametrize(
    "name, text",
    [
        ("ready.json", '{"written_by": "qwen-serve", "ready": true}'),  # mentions the tool: not its signature
        ("sglang.log", "# qwen-serve log: SGLang's output, from 2026-12-03 10:00:00\nmy notes\n"),
        ("edited.json", None),  # one qwen-serve wrote, edited by the user since: theirs now
    ],
)
def test_a_file_that_merely_mentions_qwen_serve_is_not_taken_for_its_own(qwen_serve, files, name, text):
    from qwen_serve.outputs import write_json

    path = files / name
    if text is None:
        write_json(path, {"ready": True})
        path.write_text(path.read_text().replace('"ready": true', '"ready": true, "my note": "keep"'))
    else:
        path.write_text(text)
    before = snapshot(files)
    flag = "--log-file" if name.endswith(".log") else "--ready-file"
    result = qwen_serve("--gpu", "H200", flag, str(path))
    assert result.exit_code == 2 and "already exists and qwen-serve did not write it" in result.error_lines[0]
    assert snapshot(files) == before


def test_the_ready_file_of_a_running_qwen_serve_is_not_taken_or_removed(qwen_serve, files):
    """Two servers told one --ready-file: the second is refused while the first (a live pid) holds it; a ready file
    whose writer is gone is stale and may be replaced."""
    import os
    import subprocess
    import sys

    from qwen_serve.outputs import remove_ready_file, write_json

    ready = files / "ready.json"
    other = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        write_json(ready, {"ready": True, "qwen_serve_pid": other.pid})
        result = qwen_serve("--gpu", "H200", "--ready-file", str(ready))
        assert result.exit_code == 2 and f"another qwen-serve, running as pid {other.pid}" in result.error_lines[0]
        remove_ready_file(ready)  # what this process's stop does: not another's
        assert ready.exists()
    finally:
        other.kill()
        other.wait()
    remove_ready_file(ready)
    assert not ready.exists()
    write_json(ready, {"ready": True, "qwen_serve_pid": os.getpid()})
    remove_ready_file(ready)
    assert not ready.exists()


def test_writing_replaces_a_planted_link_and_never_leaves_half_a_file(files):
    """A symlink at the output path is replaced by the file, not followed into what it points at; a write that
    fails leaves the old file whole and no temporary behind; a plot named .jpg is a whole PNG."""
    from qwen_serve.outputs import ours, write_json, write_png

    target, link = files / "notes.txt", files / "ready.json"
    link.symlink_to(target)
    write_json(link, {"ready": True})
    assert target.read_text() == "mine\n" and not link.is_symlink() and ours(link, "ready")
    before = link.read_bytes()
    with pytest.raises(TypeError):
        write_json(link, {"ready": object()})
    assert link.read_bytes() == before and not list(files.glob(".ready.json.*"))

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig = plt.figure()
    write_png(fig, files / "plot.jpg")
    assert (files / "plot.jpg").read_bytes().startswith(b"\x89PNG") and ours(files / "plot.jpg", "image")


def test_qwen_bench_results_and_plots_never_overwrite_their_inputs(tmp_path):
    import subprocess
    import sys

    prompts = tmp_path / "prompts.jsonl"
    prompts.write_text('{"prompt": "hi"}\n')
    mine = tmp_path / "chart.png"
    mine.write_bytes(b"\x89PNG\r\n\x1a\n a chart of my own")
    before = snapshot(tmp_path)
    for argv, words in (
        (["qwen_serve.cli:bench_main", "run", "--prompts", str(prompts), "--out", str(prompts)], "is --prompts"),
        (["qwen_serve.cli:bench_main", "plot", str(prompts), "-o", str(prompts)], "is FILES"),
        (["qwen_serve.cli:bench_main", "plot", str(prompts), "-o", str(mine)], "did not write it"),
    ):
        module, func = argv[0].split(":")
        code = f"import sys; from {module} import {func}; sys.argv = ['qwen-bench', *sys.argv[1:]]; {func}()"
        r = subprocess.run([sys.executable, "-c", code, *argv[1:]], capture_output=True, text=True, timeout=60)
        lines = [x for x in r.stderr.splitlines() if x.strip()]
        assert r.returncode == 2 and len(lines) == 1 and words in lines[0], r.stderr
    assert snapshot(tmp_path) == before


def test_a_home_that_is_no_folder_is_one_line_before_anything_starts(tmp_path, files):
    """The default log lives under the cache folder (XDG_CACHE_HOME, else HOME/.cache): where that cannot be a folder,
    the launch is refused in one line naming the path and the flag that moves it, not a traceback at the start."""
    import os
    import subprocess
    import sys

    home = tmp_path / "home-is-a-file"
    home.write_text("")
    env = {k: v for k, v in os.environ.items() if k != "XDG_CACHE_HOME"}
    argv = [
        sys.executable,
        "-m",
        "qwen_serve",
        "--model-path",
        str(files / "model"),
        "--gpu",
        "H200",
        "--port",
        "31999",
    ]
    r = subprocess.run(argv, env={**env, "HOME": str(home)}, capture_output=True, text=True, timeout=60)
    lines = [x for x in r.stderr.splitlines() if x.strip()]
    assert r.returncode == 2 and len(lines) == 1 and "Traceback" not in r.stderr, r.stderr[-2000:]
    assert "--log-file '" in lines[0] and "/logs/sglang-" in lines[0] and "Not a directory" in lines[0]
    assert "fix: give --log-file another path" in lines[0]


def test_processes_starting_together_sign_with_one_key(tmp_path, monkeypatch):
    """The signing key is created once, whole, even when several processes make it at the same moment: each of them
    recognises the files the others wrote."""
    import os
    import subprocess
    import sys

    code = (
        "import sys; from pathlib import Path; from qwen_serve.outputs import write_json; "
        "write_json(Path(sys.argv[1]), {'ready': True})"
    )
    env = {**os.environ, "XDG_CACHE_HOME": str(tmp_path / "cache")}
    procs = [subprocess.Popen([sys.executable, "-c", code, str(tmp_path / f"out{i}.json")], env=env) for i in range(6)]
    assert all(p.wait(timeout=60) == 0 for p in procs)
    from qwen_serve.outputs import ours

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    assert all(ours(tmp_path / f"out{i}.json", "ready") for i in range(6))
    key = tmp_path / "cache" / "qwen-serve" / "output-key"
    assert len(key.read_bytes()) == 32 and key.stat().st_mode & 0o077 == 0
