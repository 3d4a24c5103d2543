"""One adapter per SGLang release: everything that differs between releases, one folder each.

A folder `vX_Y_Z/` holds that release's `flags.json` (its own parser's options, written by
`python -m qwen_serve.sglang.releases.parser snapshot`) and a `RELEASE` (the `Release` below) in its `__init__.py`. Adding a
release is adding a folder (and its lock entry when it becomes the default); `tests/test_releases.py` is the
contract every adapter passes, against that release's real parser."""

from __future__ import annotations

import json
import pkgutil
from dataclasses import dataclass, field
from functools import cache
from importlib import import_module, resources
from typing import Any

from packaging.version import Version

# The release the lock pins and every measurement was made on (pyproject's `sglang` extra, uv.lock).
DEFAULT = "0.5.17"


@dataclass(frozen=True)
class Release:
    """What qwen-serve needs to know of one SGLang release."""

    version: str
    # the memory plan's constants and the presets' figures were measured on this release (plan.py, docs/presets.md)
    measured: bool
    torchao_config: bool  # --torchao-config exists
    torchao_needs_entry_fix: bool  # its torchao integration calls what torchao 0.17 removed (sglang/torchao_fix.py)
    router_package: str  # the PyPI package of the router that goes with it (--replicas, qwen-serve k8s)
    # a modelled setting this release lacks -> why, and what to use instead (in the one-line refusal)
    removed: dict[str, tuple[str, str]] = field(default_factory=dict)

    @property
    def flags(self) -> dict[str, dict[str, Any]]:
        return _flags(self.version)

    def supports(self, capability: str) -> bool:
        return bool(getattr(self, capability))

    def unmeasured_note(self) -> str | None:
        if self.measured:
            return None
        return (
            f"sglang {self.version} is unmeasured here: the memory plan and the presets' figures are SGLang "
            f"{DEFAULT}'s (plan.py's constants; {self.version} needs a torch the GPU image lacks), so leave headroom"
        )


def _folder(version: str) -> str:
    return "v" + version.replace(".", "_")


@cache
def _flags(version: str) -> dict[str, dict[str, Any]]:
    path = resources.files(__name__) / _folder(version) / "flags.json"
    return json.loads(path.read_text(encoding="utf-8"))["flags"]


@cache
def releases() -> dict[Version, Release]:
    """Every release folder, oldest first."""
    found = {}
    for module in pkgutil.iter_modules(__path__):
        if module.ispkg and module.name.startswith("v"):
            release: Release = import_module(f"{__name__}.{module.name}").RELEASE
            found[Version(release.version)] = release
    return dict(sorted(found.items()))


def release_for(version: Version) -> Release:
    """The adapter for `version`: its own, or the newest older one (an unknown newer release), or the oldest."""
    known = releases()
    older = [v for v in known if v <= version]
    return known[older[-1] if older else next(iter(known))]
