"""The user docs hold together: every relative link and image in README.md and docs/ points at a file that exists,
and every #anchor at a heading of that page (GitHub's slugs)."""

from __future__ import annotations

import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
LINK = re.compile(r"!?\[[^\]]*\]\(([^)\s]+)(?:\s+\"[^\"]*\")?\)")
FENCE = re.compile(r"```.*?```", re.DOTALL)
CODE = re.compile(r"```.*?```|`[^`\n]*`", re.DOTALL)


def slug(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped (not - or _), spaces to hyphens."""
    text = re.sub(r"`|\*", "", heading.strip().lower())
    text = re.sub(r"[^\w\- ]", "", text, flags=re.UNICODE)
    return text.replace(" ", "-")


def anchors(page: Path) -> set[str]:
    text = FENCE.sub("", page.read_text(encoding="utf-8"))
    return {slug(m.group(1)) for m in re.finditer(r"^#{1,6}\s+(.+?)\s*$", text, flags=re.MULTILINE)}


def links(page: Path) -> list[str]:
    return LINK.findall(CODE.sub("", page.read_text(encoding="utf-8")))


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_relative_link_and_image_resolves(page):
    broken = []
    for target in links(page):
        if re.match(r"[a-z]+:", target):  # http:, https:, mailto:
            continue
        path, _, anchor = target.partition("#")
        file = (page.parent / path).resolve() if path else page
        if not file.exists():
            broken.append(f"{target} (no {file.relative_to(ROOT) if file.is_relative_to(ROOT) else file})")
        elif anchor and file.suffix == ".md" and anchor not in anchors(file):
            broken.append(f"{target} (no heading #{anchor} in {file.name})")
    assert not broken, broken


def test_the_checker_finds_a_broken_link(tmp_path):
    page = tmp_path / "page.md"
    page.write_text("# Title\n[a](missing.md) [b](#title) [c](#nothing)\n```\n[d](also-missing.md)\n```\n")
    assert links(page) == ["missing.md", "#title", "#nothing"]
    assert anchors(page) == {"title"}


PLANS_ONLY = ("--dry-run", "plan", "k8s", "--help")  # commands that start nothing: safe to run on any machine


def shell_lines(text: str) -> list[str]:
    """The lines of the shell code blocks (```bash, ```sh, ```console or no language) of a Markdown page."""
    lines, fence = [], None
    for line in text.splitlines():
        if line.lstrip().startswith("```"):
            fence = None if fence is not None else line.strip().removeprefix("```")
        elif fence in ("bash", "sh", "console", ""):
            lines.append(line)
    return lines


def doc_commands() -> list[tuple[str, str]]:
    """(page, command) for each qwen-serve command in a shell block of the user docs that starts nothing: a dry run,
    a plan or manifests. Lines with shell syntax beyond one command (pipes, redirections, variables) are left out."""
    found = []
    for page in PAGES:
        for raw in shell_lines(page.read_text(encoding="utf-8")):
            line = raw.strip().removeprefix("$ ").removeprefix("uv run ")
            command = line.split(" #")[0].strip()
            if not line.startswith("qwen-serve ") or re.search(r"[|<>$&;\\]", command):
                continue
            if any(w in PLANS_ONLY for w in shlex.split(command)[1:]):
                found.append((str(page.relative_to(ROOT)), command))
    return found


def test_the_docs_show_commands_to_run():
    assert len(doc_commands()) >= 5


@pytest.mark.parametrize(("page", "line"), doc_commands(), ids=[f"{p}: {c}" for p, c in doc_commands()])
def test_every_command_the_docs_show_runs_or_says_it_needs_the_gpu(page, line):
    words = shlex.split(line, comments=True)
    result = subprocess.run(
        [sys.executable, "-c", "from qwen_serve.cli import main; main()", *words[1:]],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
    )
    errors = [x for x in result.stderr.splitlines() if x.startswith("qwen-serve: error:")]
    needs_gpu = result.returncode == 2 and len(errors) == 1 and "needs the GPU" in errors[0]
    assert result.returncode == 0 or needs_gpu, (page, line, result.stderr[-2000:])
    assert "Traceback" not in result.stderr
