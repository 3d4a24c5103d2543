"""Which SGLang is installed and what it can do — every version difference lives in this module.

The installed version is read from package metadata, never by importing sglang (that takes
seconds and pulls in torch). Flag sets come from JSON snapshots of SGLang's own parser
(`scripts/snapshot_sglang_flags.py`), so the fast path can check a command line without SGLang.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from importlib import metadata, resources
from typing import Any

from packaging.version import InvalidVersion, Version

# The release qwen-serve pins and is tested with (pyproject extra `sglang`).
PINNED_SGLANG = "0.5.17"


@dataclass(frozen=True)
class Capability:
    name: str
    since: str | None  # first version that has it (None: always)
    until: str | None  # last version that has it (None: still there)
    note: str

    def available(self, version: Version) -> bool:
        if self.since and version < Version(self.since):
            return False
        return not (self.until and version > Version(self.until))


# capability -> versions. Add a row here rather than an `if version` anywhere else.
CAPABILITIES: dict[str, Capability] = {
    c.name: c
    for c in (
        Capability(
            "torchao_config",
            since=None,
            until="0.5.17",
            note="SGLang removed --torchao-config in 0.5.18 (sgl-project/sglang PR #34304)",
        ),
        # SGLang's torchao integration calls functions torchao 0.17 (pinned by 0.5.17) removed
        Capability(
            "torchao_needs_entry_fix",
            since=None,
            until="0.5.17",
            note="SGLang <= 0.5.17 calls torchao functions that torchao 0.17 removed",
        ),
    )
}

# What to use instead when a capability is missing (shown in the error line).
ALTERNATIVES = {
    "torchao_config": (
        "--quantization fp8 (online FP8 from the bf16 checkpoint, compute capability >= 8.9); "
        "a pre-quantized checkpoint: --model-path Qwen/Qwen3-14B-AWQ --quantization awq_marlin, "
        "or --model-path Qwen/Qwen3-14B-FP8; or install sglang==0.5.17 (uv sync)"
    ),
}


@dataclass(frozen=True)
class FlagSet:
    """SGLang's launch_server options for one version, as its parser defines them."""

    version: str  # the snapshot's version
    flags: dict[str, dict[str, Any]]  # option string ("--port") -> dest, takes_value, choices…

    def has(self, option: str) -> bool:
        return option in self.flags

    def choices(self, option: str) -> list[str] | None:
        entry = self.flags.get(option)
        return entry["choices"] if entry else None

    def takes_value(self, option: str) -> bool:
        return bool(self.flags[option]["takes_value"])

    def dest(self, option: str) -> str:
        return self.flags[option]["dest"]

    def parsed_as(self, option: str) -> str | None:
        """The option string SGLang's argparse parser takes `option` for: itself, or the one option it abbreviates
        (argparse's allow_abbrev, on in SGLang's parser); None if unknown or ambiguous."""
        if option in self.flags:
            return option
        if not option.startswith("--") or len(option) < 3:
            return None
        matches = {self.flags[o]["dest"]: o for o in self.flags if o.startswith(option)}
        return next(iter(matches.values())) if len(matches) == 1 else None

    def spellings(self, dest: str) -> list[str]:
        """Every option string of the parser that sets `dest` (e.g. --model and --model-path)."""
        return sorted(o for o, entry in self.flags.items() if entry["dest"] == dest)


@dataclass(frozen=True)
class SGLangTarget:
    """The SGLang the command line is built for."""

    version: Version
    installed: bool  # False: not installed here, planning for `version`
    flagset: FlagSet
    exact_snapshot: bool  # the flag snapshot is of this exact version

    def supports(self, capability: str) -> bool:
        return CAPABILITIES[capability].available(self.version)

    @property
    def description(self) -> str:
        where = "installed" if self.installed else "planned; not installed here"
        snap = "" if self.exact_snapshot else f", flags from the {self.flagset.version} snapshot"
        return f"sglang {self.version} ({where}{snap})"


def installed_sglang_version() -> str | None:
    try:
        return metadata.version("sglang")
    except metadata.PackageNotFoundError:
        return None


def snapshot_versions() -> list[Version]:
    folder = resources.files("qwen_serve") / "data" / "sglang_flags"
    return sorted(Version(p.name[: -len(".json")]) for p in folder.iterdir() if p.name.endswith(".json"))


@cache
def load_flagset(version: str) -> FlagSet:
    path = resources.files("qwen_serve") / "data" / "sglang_flags" / f"{version}.json"
    data = json.loads(path.read_text(encoding="utf-8"))
    return FlagSet(version=data["sglang_version"], flags=data["flags"])


def target_for(requested: str | None = None) -> SGLangTarget:
    """The installed SGLang, or `requested` (for planning), with the nearest flag snapshot."""
    from ..errors import QwenServeError

    installed = installed_sglang_version()
    text = requested or installed or PINNED_SGLANG
    try:
        version = Version(text)
    except InvalidVersion:
        raise QwenServeError(
            f"--sglang-version: {text!r} is not a version number",
            allowed="a release such as 0.5.17 or 0.5.23",
            fix="pass --sglang-version 0.5.17",
        ) from None
    known = snapshot_versions()
    older = [v for v in known if v <= version]
    snap = older[-1] if older else known[0]
    return SGLangTarget(
        version=version,
        installed=installed is not None and Version(installed) == version,
        flagset=load_flagset(str(snap)),
        exact_snapshot=snap == version,
    )
