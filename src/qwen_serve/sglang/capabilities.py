"""Which SGLang the command is built for: the installed release (read from package metadata, never by
importing sglang: that takes seconds and pulls in torch) or the one --sglang-version names, with that release's
adapter (sglang/releases/: its flags, what it supports, whether it was measured), so the fast path checks a
command line without SGLang."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from importlib import metadata
from typing import Any

from packaging.version import InvalidVersion, Version

from .releases import DEFAULT, Release, release_for, releases

PINNED_SGLANG = DEFAULT  # the release qwen-serve pins and is tested with (pyproject extra `sglang`)


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
    release: Release  # its adapter (the nearest older one for a release qwen-serve has no folder for)

    @property
    def flagset(self) -> FlagSet:
        return load_flagset(self.release.version)

    @property
    def exact_snapshot(self) -> bool:  # the adapter is of this exact version
        return Version(self.release.version) == self.version

    def supports(self, capability: str) -> bool:
        return self.release.supports(capability)

    @property
    def unmeasured_note(self) -> str | None:
        """What a plan for this release leans on, where it was not measured (None for the measured release)."""
        return self.release.unmeasured_note(str(self.version))

    @property
    def description(self) -> str:
        where = "installed" if self.installed else "planned; not installed here"
        snap = "" if self.exact_snapshot else f", flags from the {self.release.version} snapshot"
        return f"sglang {self.version} ({where}{snap})"


def installed_sglang_version() -> str | None:
    try:
        return metadata.version("sglang")
    except metadata.PackageNotFoundError:
        return None


def snapshot_versions() -> list[Version]:
    return list(releases())


@cache
def load_flagset(version: str) -> FlagSet:
    return FlagSet(version=version, flags=releases()[Version(version)].flags)


def target_for(requested: str | None = None) -> SGLangTarget:
    """The installed SGLang, or `requested` (for planning), with the nearest release adapter."""
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
    return SGLangTarget(
        version=version,
        installed=installed is not None and Version(installed) == version,
        release=release_for(version),
    )
