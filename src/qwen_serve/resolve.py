"""Stage 2 — layer the sources into one frozen LaunchSettings where every value knows its origin and its layer.

Precedence is the Layer type below and nothing else: help, --dry-run, the bundled YAML's comment (a test holds it)
and the rules that compare two settings all read it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import IntEnum
from typing import Any

from .config import ConfigFile, Preset
from .errors import QwenServeError, did_you_mean
from .secret import MASK
from .settings import FIELDS, FIELDS_BY_NAME


class Layer(IntEnum):
    """Where a setting's value came from, lowest precedence first."""

    DEFAULT = 0  # built-in defaults (settings.FIELDS)
    BUNDLED = 1  # the bundled server_config.yaml's top level, under your --config file
    CONFIG = 2  # the config file's top level (--config FILE, else the bundled one)
    PRESET = 3  # the selected preset (--preset NAME)
    ENV = 4  # the environment: QWEN_SERVE_API_KEY, the API key only
    CLI = 5  # the flags you typed (a flag you did not type overrides nothing)
    DERIVED = 6  # what a later stage chose from the rest (the checkpoint, the plan, YaRN): its origin says which

    @property
    def words(self) -> str:
        return LAYER_WORDS[self]


LAYER_WORDS = {
    Layer.DEFAULT: "built-in defaults",
    Layer.BUNDLED: "the bundled server_config.yaml's top level",
    Layer.CONFIG: "your --config file's top level",
    Layer.PRESET: "the selected preset",
    Layer.ENV: "QWEN_SERVE_API_KEY",
    Layer.CLI: "flags you typed",
    Layer.DERIVED: "what qwen-serve derived from those (each origin named)",
}
# the layers a user sets, in order (DERIVED is qwen-serve's own)
PRECEDENCE = tuple(layer.words for layer in Layer if layer is not Layer.DERIVED)
# settings that may come from the environment, and the variable each is read from
ENV_SETTINGS = {"api_key": "QWEN_SERVE_API_KEY"}


@dataclass(frozen=True)
class Setting:
    name: str
    value: Any
    origin: str
    layer: Layer = Layer.DERIVED

    @property
    def shown(self) -> Any:
        """The value as it may be printed: secrets masked."""
        if FIELDS_BY_NAME[self.name].secret and self.value is not None:
            return MASK
        return self.value


@dataclass(frozen=True)
class SGLangArg:
    flag: str  # without leading dashes, e.g. "schedule-policy"
    value: Any
    origin: str


@dataclass(frozen=True)
class LaunchSettings:
    settings: tuple[Setting, ...]
    sglang_args: tuple[SGLangArg, ...]  # from `sglang_args:` mappings, file then preset
    passthrough: tuple[str, ...]  # after `--`, untouched
    preset: Preset | None
    config_label: str

    def __getitem__(self, name: str) -> Any:
        return self.get(name).value

    def get(self, name: str) -> Setting:
        for s in self.settings:
            if s.name == name:
                return s
        raise KeyError(name)

    def with_setting(self, name: str, value: Any, origin: str) -> LaunchSettings:
        """A copy with one value replaced (later stages may choose, e.g. the plan's load format)."""
        settings = tuple(Setting(name, value, origin, Layer.DERIVED) if s.name == name else s for s in self.settings)
        return LaunchSettings(settings, self.sglang_args, self.passthrough, self.preset, self.config_label)

    def with_sglang_arg(self, arg: SGLangArg) -> LaunchSettings:
        """A copy with one SGLang flag added or replaced (a later stage's choice, its origin named)."""
        args = tuple(a for a in self.sglang_args if a.flag != arg.flag) + (arg,)
        return LaunchSettings(self.settings, args, self.passthrough, self.preset, self.config_label)


def resolve(
    config: ConfigFile,
    preset_name: str | None,
    cli_values: Mapping[str, Any],
    passthrough: tuple[str, ...] = (),
    environ: Mapping[str, str] | None = None,
) -> LaunchSettings:
    """`environ`: the process environment to read ENV_SETTINGS from (None: none read)."""
    preset = select_preset(config, preset_name)
    # a preset of the file given is "preset NAME"; one inherited from the bundled file under yours says so
    preset_origin = f"preset {preset.name}" + (f" ({preset.source})" if preset.source else "") if preset else ""
    env_values = {
        name: FIELDS_BY_NAME[name].coerce(environ[var], where=f"from {var}", from_text=True)
        for name, var in ENV_SETTINGS.items()
        if (environ or {}).get(var)
    }
    base = config.base
    layers: dict[Layer, tuple[Mapping[str, Any], Any]] = {
        Layer.DEFAULT: ({f.name: f.default for f in FIELDS}, lambda name: "default"),
        Layer.BUNDLED: (base.values if base else {}, lambda name: f"{base.label}:{name}"),
        Layer.CONFIG: (config.values, lambda name: f"{config.label}:{name}"),
        Layer.PRESET: (preset.values if preset else {}, lambda name: preset_origin),
        Layer.ENV: (env_values, lambda name: f"env {ENV_SETTINGS[name]}"),
        Layer.CLI: (_typed_cli(cli_values), lambda name: "cli"),
    }
    chosen: dict[str, Setting] = {}
    for layer in sorted(layers):
        values, origin = layers[layer]
        for name, value in values.items():
            chosen[name] = Setting(name, value, origin(name), layer)
    args: dict[str, SGLangArg] = {}
    for flag, value in (base.sglang_args if base else {}).items():
        args[flag] = SGLangArg(flag, value, f"{base.label}:sglang_args.{flag}")
    for flag, value in config.sglang_args.items():
        args[flag] = SGLangArg(flag, value, f"{config.label}:sglang_args.{flag}")
    if preset:
        for flag, value in preset.sglang_args.items():
            args[flag] = SGLangArg(flag, value, preset_origin)
    return LaunchSettings(
        settings=tuple(chosen[f.name] for f in FIELDS),
        sglang_args=tuple(args.values()),
        passthrough=tuple(passthrough),
        preset=preset,
        config_label=config.label,
    )


def select_preset(config: ConfigFile, name: str | None) -> Preset | None:
    if name is None:
        return None
    if name in config.presets:
        return config.presets[name]
    available = ", ".join(config.presets) or "(none: the file defines no presets)"
    hint = did_you_mean(name, config.presets)
    raise QwenServeError(
        f"unknown preset '{name}' (--preset) in {config.label}" + (f" — {hint}" if hint else ""),
        allowed=available,
        fix="pick one of those, or pass the --config file that defines it",
    )


def _typed_cli(cli_values: Mapping[str, Any]) -> dict[str, Any]:
    """CLI values arrive as text (or bools for switches); only flags actually typed are here."""
    out = {}
    for name, value in cli_values.items():
        if value is None:
            continue
        field = FIELDS_BY_NAME[name]
        out[name] = field.coerce(value, where=f"from {field.cli_flag}", from_text=True)
    return out
