"""One adapter per SGLang release: everything that differs between releases, one folder each.

A folder `vX_Y_Z/` holds that release's `flags.json` (its own parser's options, written by
`python -m qwen_serve.sglang.releases.parser snapshot`), its memory defaults (`memory.py`) and a `RELEASE` (the
`Release` below) in its `__init__.py`. Adding a
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

from .memory import MemoryRules

# The release the lock pins and every measurement was made on (pyproject's `sglang` extra, uv.lock).
DEFAULT = "0.5.17"
# An unmeasured release's memory plan: SGLang 0.5.17's constants, less this share of the KV tokens and plus this share
# of the peak at load (the plan's worst error against a measured release's log is 3.5 %, tests/test_plan.py)
UNMEASURED_MARGIN = 0.10


@dataclass(frozen=True)
class Release:
    """What qwen-serve needs to know of one SGLang release."""

    version: str
    # the memory plan's constants and the presets' figures were measured on this release (plan.py, docs/presets.md)
    measured: bool
    torchao_config: bool  # --torchao-config exists
    torchao_needs_entry_fix: bool  # its torchao integration calls what torchao 0.17 removed (sglang/torchao_fix.py)
    # the router that goes with it (--replicas, --worker-url, qwen-serve k8s): its PyPI requirement and the module
    # whose `router_args.RouterArgs` and `router.Router` qwen-serve starts (`MODULE.launch_router` in a k8s pod)
    router_requirement: str
    router_module: str
    memory: MemoryRules  # its memory defaults (vX_Y_Z/memory.py), which the plan follows
    # a modelled setting this release lacks -> why, and what to use instead (in the one-line refusal)
    removed: dict[str, tuple[str, str]] = field(default_factory=dict)
    # the first release this adapter holds for (its own version when None): a release between two folders takes
    # the adapter of the newest folder that holds for it, so that what an older release had and a newer one lost
    # is refused from the release that lost it
    applies_from: str | None = None

    @property
    def flags(self) -> dict[str, dict[str, Any]]:
        return _flags(self.version)

    def supports(self, capability: str) -> bool:
        return bool(getattr(self, capability))

    @property
    def plan_margin(self) -> float:
        """The share the memory plan keeps in hand for this release: none where it was measured."""
        return 0.0 if self.measured else UNMEASURED_MARGIN

    @property
    def router_package(self) -> str:
        return self.router_requirement.split("==")[0]

    def unmeasured_note(self, version: str | None = None) -> str | None:
        """What a plan for `version` (this adapter's own by default) leans on, where it was not measured."""
        if self.measured:
            return None
        version = version or self.version
        return (
            f"sglang {version} is unmeasured here: the memory plan is SGLang {DEFAULT}'s with a "
            f"{self.plan_margin:.0%} margin (KV tokens {self.plan_margin:.0%} under, peak at load "
            f"{self.plan_margin:.0%} over) and the presets' figures are {DEFAULT}'s ({self.version} needs a torch the "
            "GPU image lacks)"
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
    """The adapter for `version`: the newest whose `applies_from` is at or below it (its own folder, or the one for
    the releases since a change it carries), else the oldest."""
    known = releases()
    holding = [v for v, release in known.items() if Version(release.applies_from or release.version) <= version]
    return known[holding[-1] if holding else next(iter(known))]


# --policy choices that sglang-router 0.3.2 and smg 1.13 both have (the release adapter picks the router); here, with
# the releases, so that rendering (k8s) checks a policy without importing the fleet's supervisor
ROUTER_POLICIES = ("cache_aware", "round_robin", "power_of_two", "random")


def check_router_policy(policy: str) -> str:
    if policy not in ROUTER_POLICIES:
        from ...errors import QwenServeError

        raise QwenServeError(
            f"--router-policy '{policy}' is not a policy of SGLang's router",
            allowed=", ".join(ROUTER_POLICIES),
            fix="--router-policy cache_aware (reuses each worker's prefix cache)",
        )
    return policy
