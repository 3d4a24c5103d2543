"""The files a run writes, checked before anything starts: no output path may destroy what the user has.

An output is refused, in one line, when it is empty, a directory or a device, the same file as an input of the run
(its --config, its API-key file, the model directory's files) or as another output, an existing file that
qwen-serve did not write, the ready file of another qwen-serve that is running, or a place that cannot be written
(a missing or read-only folder, a full disk).

What qwen-serve wrote is known by a signature, not by a phrase: an HMAC, keyed by a random key in the user's cache
folder (created once, mode 0600), over the file's kind and real path (and a JSON file's content). A file that merely
mentions qwen-serve, a file the user edited since (JSON), or one written under another account is not ours, and is
not replaced. Every file is written by `write_json`/`write_png`: a temporary of an unpredictable name in the same
folder (O_EXCL), then an atomic rename that replaces a symlink rather than following it.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import hmac
import json
import os
import secrets
import shutil
import stat
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .errors import QwenServeError, shortened
from .secret import json_default

WRITTEN_BY = "written_by"
SIGNATURE = "signature"
KEY_BYTES = 32
WRITER_PID = "qwen_serve_pid"  # a ready file names the qwen-serve that wrote it: no other one removes it
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


def _key() -> bytes:
    return _key_at(cache_root() / "output-key")


@functools.cache
def _key_at(path: Path) -> bytes:
    """This account's signing key: made once in the cache folder, whole before anyone can read it (written to a
    temporary, then linked into place: two processes starting together read the same key). Where that folder
    cannot hold it, a key for this process only: what it writes is then not recognised later, so it is never
    replaced (the safe side)."""
    try:
        key = path.read_bytes()
        if len(key) == KEY_BYTES:
            return key
    except OSError:
        pass
    key = secrets.token_bytes(KEY_BYTES)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".output-key.")
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(key)
            os.link(tmp, path)  # fails where a key is already in place: that one is read and used
        finally:
            os.unlink(tmp)
    except FileExistsError:  # made meanwhile by another process: whole, since it was linked into place
        with contextlib.suppress(OSError):
            made = path.read_bytes()
            if len(made) == KEY_BYTES:
                return made
    except OSError:
        pass
    return key  # a key file of another length (not ours) is left alone and not used


def signature(path: Path, kind: str, content: bytes = b"") -> str:
    where = os.path.join(os.path.realpath(path.parent), path.name)  # the last part as named: a link there is replaced
    return hmac.new(_key(), kind.encode() + b"\0" + where.encode() + b"\0" + content, hashlib.sha256).hexdigest()[:32]


def _canonical(data: dict[str, Any]) -> bytes:
    data = {k: v for k, v in data.items() if k != SIGNATURE}
    return json.dumps(data, sort_keys=True, ensure_ascii=True, default=json_default).encode()


def log_header(path: Path, when: str) -> str:
    """The first line of a log qwen-serve starts: a later run may append to it."""
    return f"{LOG_MARKER} {signature(path, 'log')}: SGLang's output, from {when}\n"


def image_mark(path: Path) -> str:
    """The PNG's Software text: a later plot may replace it."""
    return f"{IMAGE_MARK} {signature(path, 'image')}"


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
        return head.startswith(f"{LOG_MARKER} {signature(path, 'log')}:".encode())
    if kind == "image":
        return image_mark(path).encode() in head
    if kind in ("json", "ready"):
        try:
            if path.stat().st_size > (8 << 20):
                return False
            data = json.loads(path.read_text(encoding="utf-8"))
            return isinstance(data, dict) and hmac.compare_digest(
                str(data.get(SIGNATURE)), signature(path, "json", _canonical(data))
            )
        except (OSError, ValueError, TypeError):
            return False
    return False


def writer_alive(path: Path) -> int | None:
    """The pid of the running qwen-serve whose ready file this is, if that is another process than this one."""
    try:
        pid = json.loads(path.read_text(encoding="utf-8")).get(WRITER_PID)
    except (OSError, ValueError, AttributeError):
        return None
    if not isinstance(pid, int) or isinstance(pid, bool) or pid <= 0 or pid == os.getpid():
        return None
    import psutil

    return pid if psutil.pid_exists(pid) else None  # any account's (no signal sent: supervise.py alone does)


def remove_ready_file(path: Path) -> None:
    """Remove a ready file unless another running qwen-serve wrote it (two servers given one path)."""
    if writer_alive(path) is None:
        with contextlib.suppress(FileNotFoundError):
            path.unlink()


@contextlib.contextmanager
def _replacing(path: Path):
    """A new file of an unpredictable name beside `path` (O_EXCL), renamed over it once whole: a reader never sees
    half of it, a planted symlink at `path` is replaced (not followed), and a failure leaves `path` as it was."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            yield f
        os.chmod(tmp, 0o666 & ~_umask())  # as open() would have made it: mkstemp's is 0600
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def _umask() -> int:
    """The process's umask, read, not set: os.umask() to read it would leave it 0 for a moment to every thread."""
    try:
        with open("/proc/self/status", encoding="ascii") as f:
            return next(int(line.split()[1], 8) for line in f if line.startswith("Umask:"))
    except (OSError, StopIteration, ValueError, IndexError):
        return 0o022


def write_json(path: Path, data: dict[str, Any]) -> None:
    """A JSON output or record, signed (`ours` knows it again), written whole or not at all."""
    data = {WRITTEN_BY: "qwen-serve", **{k: v for k, v in data.items() if k != SIGNATURE}}
    data[SIGNATURE] = signature(path, "json", _canonical(data))
    with _replacing(path) as f:
        f.write((json.dumps(data, indent=2, ensure_ascii=False, default=json_default) + "\n").encode())


def write_png(fig, path: Path) -> None:
    """A matplotlib figure as a PNG whatever the suffix, signed, written whole or not at all."""
    with _replacing(path) as f:
        fig.savefig(f, format="png", dpi=120, metadata={"Software": image_mark(path)})


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
        shown = shortened(o.path)
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
        if info is not None and o.kind == "ready" and writer_alive(path):
            raise QwenServeError(
                f"{where} is the ready file of another qwen-serve, running as pid {writer_alive(path)}; "
                "nothing was changed",
                allowed="a ready file of its own for each server",
                fix=f"give {o.flag} another path",
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
