"""Stage 5 — the weights on disk before SGLang starts. A hub id that is not complete in the Hugging Face cache is
downloaded here, by huggingface_hub (what SGLang itself would use), so that a user sees its size, the free space
checked against it, and a progress bar — instead of SGLang downloading 28 GB inside its own start, after "launching",
and surfacing a failure mid-download as a crash. Only the files SGLang reads are fetched (config, tokenizer,
safetensors; not the .bin/.pt/GGUF duplicates some repositories carry). A connection cut mid-file is resumed by
huggingface_hub with an HTTP Range request (up to five times in a run); a run that fails keeps every file that
arrived whole, and the next run fetches only the rest (huggingface_hub >= 1.x drops a partial file: each process
downloads into its own temporary file). HF_TOKEN, HF_ENDPOINT and HF_HOME are huggingface_hub's own.
HF_HUB_OFFLINE=1: the cache only (preflight refuses what is not there). A hub that cannot be asked (down, or no
network) with the model whole in the cache is no reason to refuse a start (a service restarting in an outage): the
cached snapshot is served, said in one line, and SGLang gets HF_HUB_OFFLINE=1 so that it does not ask either.
"""

from __future__ import annotations

import shutil
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .errors import EXIT_FAULT, Interrupted, QwenServeError, control_character

# what SGLang's loader reads of a Qwen3 checkpoint (weights as safetensors only; not the copies some repositories
# keep in original/ or gguf/)
ALLOW_PATTERNS = ("*.json", "*.safetensors", "*.txt", "*.model", "*.tiktoken", "*.jinja")
IGNORE_PATTERNS = ("original/*", "gguf/*")
HEADROOM_BYTES = 2 * 2**30  # left free after the download: logs, JIT caches, the next .incomplete


@dataclass(frozen=True)
class Remote:
    repo_id: str
    revision: str  # the commit the files come from
    files: dict[str, int]  # name -> size in bytes, the files SGLang needs
    missing: dict[str, int]  # those not complete in the cache

    @property
    def total_bytes(self) -> int:
        return sum(self.files.values())

    @property
    def missing_bytes(self) -> int:
        return sum(self.missing.values())


class HubUnreachable(QwenServeError):
    """The hub could not be asked what to download (network, 5xx): the world failed, not the request."""

    exit_code = EXIT_FAULT

    def __init__(self, repo_id: str, reason: str):
        self.reason = reason
        super().__init__(
            f"model_path: '{repo_id}': the hub could not be asked what to download ({reason})",
            fix="check the network (and HF_ENDPOINT), or download it elsewhere and pass --model-path",
        )


def gib(n: int) -> str:
    return f"{n / 2**30:.1f} GiB"


def remote(repo_id: str, revision: str | None = None) -> Remote:
    """What the hub holds for `repo_id` that SGLang reads, and what of it the cache lacks (huggingface_hub's own
    dry run: one listing and a HEAD per file, nothing downloaded)."""
    import httpx
    from huggingface_hub import snapshot_download
    from huggingface_hub.errors import (
        DryRunError,
        HfHubHTTPError,
        LocalEntryNotFoundError,
        RepositoryNotFoundError,
        RevisionNotFoundError,
    )
    from huggingface_hub.utils import are_progress_bars_disabled, disable_progress_bars, enable_progress_bars

    quiet_before = are_progress_bars_disabled()
    disable_progress_bars()  # a dry run has nothing to show
    try:
        infos = snapshot_download(
            repo_id,
            revision=revision,
            allow_patterns=list(ALLOW_PATTERNS),
            ignore_patterns=list(IGNORE_PATTERNS),
            dry_run=True,
        )
    except (HfHubHTTPError, LocalEntryNotFoundError, DryRunError, httpx.HTTPError, OSError) as exc:
        cause = exc.__cause__ if isinstance(exc, DryRunError) and exc.__cause__ else exc  # what the hub answered
        if isinstance(cause, (RepositoryNotFoundError, RevisionNotFoundError)):
            raise QwenServeError(
                f"model_path: '{repo_id}' is not a model on the hub ({type(cause).__name__}; a gated or private one "
                "needs HF_TOKEN)",
                allowed="a hub id such as Qwen/Qwen3-14B, or a local model directory",
                fix="check the id (and export HF_TOKEN for a gated model), or pass --model-path with a local directory",
            ) from None
        raise HubUnreachable(repo_id, _reason(cause)) from None
    except ValueError as exc:  # huggingface_hub's own check of the listing: a file name that leaves the folder
        raise QwenServeError(
            f"model_path: the hub's listing of {repo_id} cannot be downloaded safely ({_reason(exc)}); nothing was "
            "downloaded",
            fix="ask the repository's owner to rename it, or download the model yourself and pass its folder",
            exit_code=EXIT_FAULT,
        ) from None
    finally:
        if not quiet_before:
            enable_progress_bars()
    for name in (i.filename for i in infos):  # what the hub lists is input: a file lands inside the snapshot or nowhere
        if not _inside(name):
            raise QwenServeError(
                f"model_path: the hub lists a file of {repo_id} named {name[:120]!r}, which lies outside the model's "
                "folder; nothing was downloaded",
                allowed="relative file names without '..' segments",
                fix="ask the repository's owner to rename it, or download the model yourself and pass its folder",
                exit_code=EXIT_FAULT,
            )
    files = {i.filename: i.file_size or 0 for i in infos}
    missing = {i.filename: i.file_size or 0 for i in infos if i.will_download}
    return Remote(repo_id, infos[0].commit_hash if infos else (revision or "main"), files, missing)


def free_bytes(folder: Path) -> int:
    """Free space where `folder` is, or would be created."""
    for candidate in (folder, *folder.parents):
        if candidate.exists():
            return shutil.disk_usage(candidate).free
    return shutil.disk_usage("/").free


def check_space(r: Remote, cache: Path) -> None:
    free = free_bytes(cache)
    if r.missing_bytes + HEADROOM_BYTES > free:
        raise QwenServeError(
            f"model_path: {r.repo_id} needs {gib(r.missing_bytes)} more on disk ({len(r.missing)} files) but "
            f"{cache} has {gib(free)} free",
            allowed=f"at least {gib(r.missing_bytes + HEADROOM_BYTES)} free ({gib(HEADROOM_BYTES)} kept as headroom)",
            fix="free space there, or set HF_HOME to a larger disk, or pass --model-path with a local directory",
        )


def fetch(r: Remote, echo=None) -> str:
    """Download what the cache lacks; the snapshot folder. One line on failure: which file, and that a rerun resumes."""
    import httpx
    from huggingface_hub import snapshot_download
    from huggingface_hub.errors import HfHubHTTPError

    if echo and r.missing:
        echo(f"downloading {r.repo_id} ({gib(r.missing_bytes)} in {len(r.missing)} files, of {gib(r.total_bytes)})")
    try:
        return _interruptible(
            lambda: snapshot_download(
                r.repo_id,
                revision=r.revision,
                allow_patterns=list(ALLOW_PATTERNS),
                ignore_patterns=list(IGNORE_PATTERNS),
            )
        )
    except KeyboardInterrupt:
        raise Interrupted(
            f"interrupted during the download of {r.repo_id}; nothing was started, the files that arrived whole are "
            "kept in the cache and the next run fetches only what is missing"
        ) from None
    except (HfHubHTTPError, httpx.HTTPError, OSError) as exc:
        raise QwenServeError(
            f"model_path: downloading {r.repo_id} failed ({_reason(exc)}); the files that arrived whole are kept "
            "in the cache",
            fix="run the same command again: it fetches only the files still missing",
            exit_code=EXIT_FAULT,
        ) from None


def _inside(name: str) -> bool:
    """A repository file name that stays inside the snapshot folder: relative, no '..' segment, no control
    character, no backslash (a Windows separator)."""
    parts = name.split("/")
    return (
        bool(name)
        and not name.startswith("/")
        and "\\" not in name
        and ".." not in parts
        and control_character(name) is None
    )


def _interruptible(work):
    """`work()` in a thread of its own, waited for here, where Ctrl-C arrives: huggingface_hub downloads in a pool of
    threads that it joins before a KeyboardInterrupt gets out of it, so Ctrl-C used to wait for the whole download
    and, once it was over, the launch went ahead."""
    outcome: dict[str, Any] = {}

    def run() -> None:
        try:
            outcome["value"] = work()
        except BaseException as exc:  # noqa: BLE001 - handed to the waiting thread as it is
            outcome["error"] = exc

    thread = threading.Thread(target=run, name="qwen-serve download", daemon=True)
    thread.start()
    while thread.is_alive():
        thread.join(0.2)
    if "error" in outcome:
        raise outcome["error"]
    return outcome["value"]


def _reason(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return f"{type(exc).__name__}: {text[:160]}" if text else type(exc).__name__


def ensure_weights(model_path: str, echo=None) -> dict[str, str]:
    """For a hub id, the files SGLang needs complete in the cache before it starts (nothing for a local path, or
    with HF_HUB_OFFLINE, where preflight checked the cache). What SGLang's environment must add: HF_HUB_OFFLINE=1
    where the hub could not be asked and the cache's snapshot is served."""
    from .preflight import hf_cache_dir, looks_local, offline

    if looks_local(model_path) or offline():
        return {}
    try:
        r = remote(model_path)
    except HubUnreachable as exc:
        snap = cached_snapshot(model_path)
        if snap is None:  # the cache cannot stand in for the hub: the same line, saying so
            raise QwenServeError(
                f"{exc.what}, and the cache holds no complete snapshot of it", fix=exc.fix, exit_code=EXIT_FAULT
            ) from None
        if echo:
            echo(
                f"the hub could not be asked about {model_path} ({exc.reason}); serving the cached snapshot "
                f"{snap.name[:12]} ({snap}), with HF_HUB_OFFLINE=1 for SGLang"
            )
        return {"HF_HUB_OFFLINE": "1"}
    if r.missing:
        check_space(r, hf_cache_dir())
        fetch(r, echo)
    return {}


def cached_snapshot(repo_id: str) -> Path | None:
    """The cache's snapshot of `repo_id` (its main ref) if SGLang can load it without the hub: complete for the files
    SGLang reads (huggingface_hub's own check), config.json, and every weights file its safetensors index names (or,
    with no index, a *.safetensors); else None."""
    import json

    from huggingface_hub import snapshot_download
    from huggingface_hub.errors import LocalEntryNotFoundError

    try:  # huggingface_hub checks the files against the listing it cached at the download, where it has one
        snap = Path(
            snapshot_download(
                repo_id,
                local_files_only=True,
                allow_patterns=list(ALLOW_PATTERNS),
                ignore_patterns=list(IGNORE_PATTERNS),
            )
        )
    except (LocalEntryNotFoundError, OSError, ValueError):
        return None
    if not (snap / "config.json").is_file():
        return None
    index = snap / "model.safetensors.index.json"
    if index.is_file():
        try:
            shards = set(json.loads(index.read_text())["weight_map"].values())
        except (ValueError, KeyError, TypeError, AttributeError):
            return None
        return snap if shards and all((snap / s).is_file() for s in shards) else None
    return snap if any(snap.glob("*.safetensors")) else None
