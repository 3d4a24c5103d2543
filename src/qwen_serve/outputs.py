"""The files a run writes, checked before anything starts: no output path may destroy what the user has.

An output is refused, in one line, when it is empty, a directory or a device, the same file as an input of the run
(its --config, its API-key file, the model directory's files) or as another output, an existing file that
qwen-serve did not write, or a place that cannot be written (a missing or read-only folder, a full disk). What
qwen-serve writes says so, so that a later run may write it again: JSON files carry `"written_by"`, a log starts
with LOG_MARKER.
"""

from __future__ import annotations

import json
import os
import shutil
import stat
from dataclasses import dataclass
from pathlib import Path

from .errors import QwenServeError

WRITTEN_BY = "written_by"
IMAGE_MARK = "qwen-bench plot"  # the PNG's Software text chunk
LOG_MARKER = "# qwen-serve log"
MIN_FREE_BYTES = 16 << 20  # a log or a ready file on a disk with less than this fails mid-run


def cache_root() -> Path:
    """qwen-serve's own cache folder: logs, server records, JIT caches, tune results, the demo model."""
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "qwen-serve"


@dataclass(frozen=True)
class Output:
    flag: str  # how the user named it, e.g. "--ready-file"
    path: str
    kind: str  # "json" (a file of ours with WRITTEN_BY), "log" (appended, starts with LOG_MARKER), "image"


@dataclass(frozen=True)
class Input:
    flag: str
    path: str


def ours(path: Path, kind: str) -> bool:
    """Whether an existing regular file is one qwen-serve wrote (or is empty: nothing to lose)."""
    try:
        with open(path, "rb") as f:
            head = f.read(4096)
    except OSError:
        return False
    if not head.strip():
        return True
    if kind == "log":
        return head.startswith(LOG_MARKER.encode())
    if kind == "image":
        return IMAGE_MARK.encode() in head
    if kind == "json":
        try:
            size = path.stat().st_size
            return size < (8 << 20) and WRITTEN_BY in json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError, TypeError):
            return False
    return False


def _same(a: Path, b: Path) -> bool:
    try:
        return a.resolve() == b.resolve() or (a.exists() and b.exists() and os.path.samefile(a, b))
    except OSError:
        return False


def _inputs_files(inputs: list[Input]) -> list[tuple[str, Path]]:
    """Each input as the files it stands for: a model directory is its files."""
    files = []
    for i in inputs:
        if not i.path:
            continue
        p = Path(i.path).expanduser()
        if p.is_dir():
            files += [(f"{i.flag} {i.path}", child) for child in p.iterdir() if child.is_file()]
        files.append((i.flag, p))
    return files


def check_outputs(outputs: list[Output], inputs: list[Input] = ()) -> None:
    """Refuse, before anything starts, an output path that would destroy a file of the user's or fail mid-run."""
    named = [o for o in outputs if o.path is not None]
    for o in named:
        shown = o.path if len(o.path) <= 120 else o.path[:60] + f"…({len(o.path):,} characters)…" + o.path[-40:]
        where = f"{o.flag} {shown!r}"  # a path of thousands of characters is named, not printed whole
        if not str(o.path).strip():
            raise QwenServeError(
                f"{o.flag}: the path is empty ('')", allowed="a file path", fix=f"name a file: {o.flag} FILE"
            )
        path = Path(o.path).expanduser()
        for flag, other in _inputs_files(list(inputs)):
            if _same(path, other):
                raise QwenServeError(
                    f"{where} is {flag}"
                    + (f" ({other})" if str(other) != str(path) else "")
                    + ", an input of this run; "
                    "nothing was written",
                    allowed="a new file, or one qwen-serve wrote before",
                    fix=f"give {o.flag} another path",
                )
        for other in named:
            if other is not o and _same(path, Path(other.path).expanduser()):
                raise QwenServeError(
                    f"{where} is also {other.flag}: two outputs of this run in one file",
                    allowed="a path of its own for each output",
                    fix=f"give {o.flag} another path",
                )
        try:
            info = path.stat()
        except FileNotFoundError:
            info = None
        except OSError as exc:
            raise QwenServeError(
                f"{where} cannot be used: {exc.strerror or exc}", fix=f"give {o.flag} another path"
            ) from None
        if info is not None and stat.S_ISDIR(info.st_mode):
            raise QwenServeError(
                f"{where} is a directory", allowed="a file path", fix=f"name a file inside it: {o.flag} {path / 'FILE'}"
            )
        if info is not None and not stat.S_ISREG(info.st_mode):
            raise QwenServeError(
                f"{where} is not a regular file (a device, pipe or socket)",
                allowed="a regular file path",
                fix=f"give {o.flag} a file path",
            )
        if info is not None and not ours(path, o.kind):
            raise QwenServeError(
                f"{where} already exists and qwen-serve did not write it; nothing was changed",
                allowed="a new file, or one qwen-serve wrote before",
                fix=f"give {o.flag} another path, or move that file away first",
            )
        _check_writable(o, path)


def _check_writable(o: Output, path: Path) -> None:
    folder = path.parent
    existing = folder
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if not existing.is_dir():
        raise QwenServeError(
            f"{o.flag} {o.path!r}: {existing} is not a directory", fix=f"give {o.flag} a path in a directory"
        )
    target = path if path.exists() else existing
    if not os.access(target, os.W_OK) or (target is existing and not os.access(existing, os.X_OK)):
        raise QwenServeError(
            f"{o.flag} {o.path!r} cannot be written: {target} is not writable for this user",
            allowed="a path in a folder you can write",
            fix=f"give {o.flag} a path under a folder of yours (e.g. ~/…)",
        )
    usage = shutil.disk_usage(existing)
    if usage.total == 0:
        raise QwenServeError(
            f"{o.flag} {o.path!r}: {existing} is a virtual filesystem, not a place for files",
            fix=f"give {o.flag} a path on a disk",
        )
    free = usage.free
    if free < MIN_FREE_BYTES:
        raise QwenServeError(
            f"{o.flag} {o.path!r}: the disk of {existing} has {free:,} bytes free",
            allowed=f"at least {MIN_FREE_BYTES >> 20} MiB free",
            fix="free some space, or give the path on another disk",
        )
