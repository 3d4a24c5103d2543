"""Stage 1 — load and validate a YAML config file (safe loader only) into a typed ConfigFile."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from .errors import QwenServeError, did_you_mean
from .settings import (
    AUTO_ORDER_KEY,
    DESCRIPTION_KEY,
    FIELDS_BY_NAME,
    INHERIT_KEY,
    MEASURED_KEY,
    PRESETS_KEY,
    SGLANG_ARGS_KEY,
)

BUNDLED_CONFIG = "server_config.yaml"
MAX_CONFIG_BYTES = 1 << 20
MAX_CONFIG_NODES = 20_000  # YAML nodes once aliases are expanded (the bundled file has a few hundred)
_TOP_KEYS = (*FIELDS_BY_NAME, SGLANG_ARGS_KEY, PRESETS_KEY, AUTO_ORDER_KEY, INHERIT_KEY)
_PRESET_KEYS = (*FIELDS_BY_NAME, SGLANG_ARGS_KEY, DESCRIPTION_KEY, MEASURED_KEY)


@dataclass(frozen=True)
class Preset:
    name: str
    description: str
    values: dict[str, Any]  # validated settings, only the keys the preset sets
    sglang_args: dict[str, Any]
    measured: str = ""  # what its measurement found, in words
    source: str = ""  # the file it comes from, where that is not the file given (a bundled preset under yours)

    @property
    def start_seconds(self) -> tuple[float | None, float | None]:
        """Its first start (the longest figure) and its start with the JIT cache kept, from its measured words."""
        return start_estimates(self.measured)

    @property
    def start_words(self) -> str | None:
        """e.g. "balanced's first start on the H200: 217 s, 118 s kept", from its measured words; None without."""
        first, kept = self.start_seconds
        if first is None:
            return None
        gpu = self.measured.split(",", 1)[0].strip()
        return f"{self.name}'s first start on the {gpu}: {first:.0f} s" + (f", {kept:.0f} s kept" if kept else "")


# A preset's `measured:` words are the committed summary's figures (the lab holds them to it): read, not retyped.
_FIRST_START = re.compile(r"first start (\d+)(?:[–-](\d+))? s")
_KEPT_START = re.compile(r"(\d+) s with the JIT cache kept")


def start_estimates(measured: str) -> tuple[float | None, float | None]:
    """A preset's first start (the longest figure) and its start with the JIT cache kept, from its measured words."""
    first, kept = _FIRST_START.search(measured or ""), _KEPT_START.search(measured or "")
    return (
        float(first.group(2) or first.group(1)) if first else None,
        float(kept.group(1)) if kept else None,
    )


@dataclass(frozen=True)
class ConfigFile:
    label: str  # how origins name this file, e.g. "server_config.yaml"
    path: Path | None
    values: dict[str, Any]  # the file's base settings (top level)
    sglang_args: dict[str, Any]
    presets: dict[str, Preset] = field(default_factory=dict)
    # under a --config file of the user's: the bundled server_config.yaml's top level, layered below it
    base: ConfigFile | None = None
    # --preset auto: per GPU class ("fp8", "default"), the presets to try, best first
    auto_order: dict[str, tuple[str, ...]] = field(default_factory=dict)
    auto_order_given: bool = False  # the file wrote one (else, under a user's file, the bundled one applies)
    inherit_bundled: bool = True  # a user's file: layered on the bundled server_config.yaml and its presets

    def auto_order_for(self, gpu) -> tuple[str, ...]:
        """The order --preset auto tries on this GPU (hardware.GPU)."""
        if gpu.compute_capability[0] == 9 and "hopper" in self.auto_order:
            return self.auto_order["hopper"]
        if gpu.fp8 and "fp8" in self.auto_order:
            return self.auto_order["fp8"]
        return self.auto_order.get("default", tuple(self.presets))


def bundled_path(name: str = BUNDLED_CONFIG) -> Path:
    """The copy of a default config file that ships inside the package."""
    return Path(str(resources.files("qwen_serve") / "data" / name))


def load_config(path: str | Path | None) -> ConfigFile:
    """Read `path` (or the bundled server_config.yaml when None) and validate every key."""
    file = Path(path) if path is not None else bundled_path()
    label = file.name
    where = f"--config {path}" if path is not None else "the bundled server_config.yaml"
    try:
        import stat

        info = file.stat()
        if not stat.S_ISREG(info.st_mode) and not stat.S_ISDIR(info.st_mode):
            raise QwenServeError(
                f"config file '{file}' ({where}) is not a regular file (a device, pipe or socket)",
                fix="pass a YAML file",
            )
        if info.st_size > MAX_CONFIG_BYTES:
            raise QwenServeError(
                f"config file '{file}' ({where}) is {info.st_size:,} bytes",
                allowed=f"at most {MAX_CONFIG_BYTES:,} bytes (a config with every preset is a few KB)",
                fix="pass the YAML config itself, not a data file",
            )
        text = file.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise QwenServeError(
            f"config file '{file}' ({where}) does not exist",
            fix="pass an existing YAML file, e.g. --config server_config.yaml, or omit --config to use the bundled one",
        ) from None
    except IsADirectoryError:
        raise QwenServeError(
            f"config file '{file}' ({where}) is a directory", fix="pass a YAML file, not a folder"
        ) from None
    except (PermissionError, UnicodeDecodeError, OSError) as exc:
        raise QwenServeError(
            f"config file '{file}' ({where}) cannot be read: {exc.__class__.__name__}: {exc}",
            fix="check the file's permissions and that it is UTF-8 text",
        ) from None
    if path is None or file.resolve() == bundled_path().resolve():
        return parse_config(text, label=label, path=file)
    from dataclasses import replace

    bundled = load_config(None)
    config = parse_config(text, label=label, path=file, known_presets=tuple(bundled.presets))
    if not config.inherit_bundled:
        return parse_config(text, label=label, path=file)  # this file alone, its auto_order checked against it
    # your file on top of the bundled one: its defaults below yours, its presets beside yours (yours win)
    source = f"bundled {BUNDLED_CONFIG}"
    inherited = {n: replace(p, source=source) for n, p in bundled.presets.items() if n not in config.presets}
    return replace(
        config,
        base=replace(bundled, label=f"{BUNDLED_CONFIG} (bundled)", presets={}),
        presets={**inherited, **config.presets},
        auto_order=config.auto_order if config.auto_order_given else bundled.auto_order,
    )


def parse_config(text: str, *, label: str, path: Path | None = None, known_presets: tuple[str, ...] = ()) -> ConfigFile:
    """`known_presets`: presets of the file this one is layered on, which its auto_order may name too."""
    try:
        loader = _Loader(text)
        loader.name = label
        try:
            node = loader.get_single_node()
            if node is not None:
                _check_size(node, label)
            data = loader.construct_document(node) if node is not None else None
        finally:
            loader.dispose()
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        at = f"{label}:{mark.line + 1}:{mark.column + 1}" if mark else label
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise QwenServeError(
            f"{at}: malformed YAML: {problem}",
            fix="fix the indentation or quoting at that line (keys are `name: value`)",
        ) from None
    if data is None:
        data = {}
    lines = _key_lines(node)
    if not isinstance(data, dict):
        raise QwenServeError(
            f"{label}: the top level is {_kind(data)}, not a mapping of settings",
            fix="write one `key: value` per line, e.g. `port: 30000`, and presets under `presets:`",
        )

    def at(*keys: str) -> str:
        line = lines.get(keys)
        return f"{label}:{line}" if line else label

    base = _settings(data, _TOP_KEYS, at, prefix=(), label=label)
    presets_raw = data.get(PRESETS_KEY) or {}
    if not isinstance(presets_raw, dict):
        raise QwenServeError(
            f"{at(PRESETS_KEY)}: 'presets' is {_kind(presets_raw)}, not a mapping of preset names",
            fix="write `presets:` then one indented `name:` per preset",
        )
    presets: dict[str, Preset] = {}
    for name, body in presets_raw.items():
        name = str(name)
        if body is None:
            body = {}
        if not isinstance(body, dict):
            raise QwenServeError(
                f"{at(PRESETS_KEY, name)}: preset '{name}' is {_kind(body)}, not a mapping of settings",
                fix=f"indent `key: value` lines under `{name}:`",
            )
        values = _settings(body, _PRESET_KEYS, at, prefix=(PRESETS_KEY, name), label=label)
        description = body.get(DESCRIPTION_KEY) or ""
        presets[name] = Preset(
            name=name,
            description=str(description),
            values={k: v for k, v in values.items() if k in FIELDS_BY_NAME},
            sglang_args=values.get(SGLANG_ARGS_KEY, {}),
            measured=str(body.get(MEASURED_KEY) or ""),
        )
    inherit = data.get(INHERIT_KEY, True)
    if not isinstance(inherit, bool):
        raise QwenServeError(
            f"{at(INHERIT_KEY)}: {INHERIT_KEY} is {inherit!r}",
            allowed="true (layer this file on the bundled server_config.yaml and its presets) or false (this file alone)",
            fix=f"write `{INHERIT_KEY}: false` or leave it out",
        )
    auto_order = _auto_order(data.get(AUTO_ORDER_KEY), {**dict.fromkeys(known_presets), **presets}, at)
    return ConfigFile(
        label=label,
        path=path,
        values={k: v for k, v in base.items() if k in FIELDS_BY_NAME},
        sglang_args=base.get(SGLANG_ARGS_KEY, {}),
        presets=presets,
        auto_order=auto_order,
        auto_order_given=AUTO_ORDER_KEY in data,
        inherit_bundled=inherit,
    )


# The GPU classes an auto_order mapping may name, most specific first: "hopper" = compute capability 9.x (DeepGEMM's
# block-FP8 GEMMs run there; elsewhere SGLang falls back to Triton for them), "fp8" = FP8 tensor cores (compute
# capability >= 8.9: Ada, Hopper, Blackwell), "default" = every other GPU (and the fallback of a class not listed).
AUTO_CLASSES = ("hopper", "fp8", "default")


def _auto_order(raw: Any, presets: dict, at) -> dict[str, tuple[str, ...]]:
    """`auto_order: [a, b]` (one order for every GPU) or `auto_order: {fp8: [...], default: [...]}`."""
    if raw is None:
        return {"default": tuple(presets)}
    by_class = raw if isinstance(raw, dict) else {"default": raw}
    out: dict[str, tuple[str, ...]] = {}
    for gpu_class, order in by_class.items():
        where = at(AUTO_ORDER_KEY) if not isinstance(raw, dict) else at(AUTO_ORDER_KEY, str(gpu_class))
        if str(gpu_class) not in AUTO_CLASSES:
            raise QwenServeError(
                f"{where}: unknown GPU class '{gpu_class}' in auto_order",
                allowed=", ".join(AUTO_CLASSES) + " (hopper: compute capability 9.x; fp8: >= 8.9)",
                fix="write auto_order: {fp8: [...], default: [...]}, or one list for every GPU",
            )
        unknown = [n for n in order if str(n) not in presets] if isinstance(order, list) else order
        if not isinstance(order, list) or unknown or not order:
            raise QwenServeError(
                f"{where}: auto_order must list preset names of this file; got {unknown!r}",
                allowed=", ".join(presets),
                fix="list the presets from the best choice to the smallest footprint",
            )
        out[str(gpu_class)] = tuple(str(n) for n in order)
    out.setdefault("default", next(iter(out.values())))
    return out


class _Loader(getattr(yaml, "CSafeLoader", yaml.SafeLoader)):  # libyaml's parser where PyYAML has it: 10x faster
    """PyYAML's safe loader, refusing a key given twice in one mapping (PyYAML keeps the last silently) — in either
    spelling, since `tp_size` and `tp-size` are one setting — and taking YAML merge keys (`<<: *defaults`), whose
    keys a mapping's own may override as YAML means."""

    def construct_mapping(self, node, deep=False):
        own = [k for k, _ in node.value if k.tag != "tag:yaml.org,2002:merge"]
        if isinstance(node, yaml.MappingNode):
            self.flatten_mapping(node)  # `<<` entries become the mapping's own, before the keys written in it
        seen: dict[Any, tuple[int, Any]] = {}
        for key_node in own:
            key = self.construct_object(key_node, deep=True)
            line = key_node.start_mark.line + 1
            try:
                first, spelled = seen.setdefault(key.replace("-", "_") if isinstance(key, str) else key, (line, key))
            except TypeError:
                continue  # an unhashable key: the constructor reports it
            if first != line:
                as_written = f" as '{spelled}'" if spelled != key else ""
                raise QwenServeError(
                    f"{self.name}:{line}: key '{key}' is given twice in one mapping (first at line {first}"
                    f"{as_written})",
                    fix="keep one of them (YAML would silently take the last)",
                )
        return super().construct_mapping(node, deep=deep)


def _check_size(node, label: str) -> None:
    """Refuse alias bombs: count nodes as if aliases were expanded, each shared node counted once per use
    (memoised, so the count itself stays cheap)."""
    sizes: dict[int, int] = {}

    def size(n) -> int:
        if id(n) in sizes:
            return sizes[id(n)]
        sizes[id(n)] = 1  # a recursive alias counts once
        total = 1
        if isinstance(n, yaml.MappingNode):
            total += sum(size(k) + size(v) for k, v in n.value)
        elif isinstance(n, yaml.SequenceNode):
            total += sum(size(v) for v in n.value)
        total = min(total, MAX_CONFIG_NODES + 1)
        sizes[id(n)] = total
        return total

    if size(node) > MAX_CONFIG_NODES:
        raise QwenServeError(
            f"{label}: expands to more than {MAX_CONFIG_NODES:,} YAML nodes (aliases of aliases?)",
            allowed=f"at most {MAX_CONFIG_NODES:,} nodes once aliases are expanded",
            fix="write the settings out, or use fewer nested aliases",
        )


def _settings(mapping: dict, allowed: tuple[str, ...], at, *, prefix: tuple, label: str) -> dict:
    """Validate one level of settings; hyphenated keys (flag spelling) are accepted too."""
    out: dict[str, Any] = {}
    for raw_key, value in mapping.items():
        key = str(raw_key).replace("-", "_")
        here = at(*prefix, str(raw_key))
        if key not in allowed:
            hint = did_you_mean(key, allowed)
            scope = f"preset '{prefix[-1]}'" if prefix else "the top level"
            raise QwenServeError(
                f"{here}: unknown key '{raw_key}' in {scope}" + (f" — {hint}" if hint else ""),
                allowed=", ".join(allowed),
                fix="correct the key, or pass other SGLang flags under `sglang_args:`",
            )
        if key in (PRESETS_KEY, DESCRIPTION_KEY, AUTO_ORDER_KEY, MEASURED_KEY, INHERIT_KEY):
            if key == DESCRIPTION_KEY and value is not None and not isinstance(value, str):
                raise QwenServeError(
                    f"{here}: description is {_kind(value)}, expected a string",
                    fix="quote the description text",
                )
            continue
        if key == SGLANG_ARGS_KEY:
            out[key] = _sglang_args(value, here)
            continue
        out[key] = FIELDS_BY_NAME[key].coerce(value, where=here)
    return out


def _sglang_args(value: Any, here: str) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise QwenServeError(
            f"{here}: sglang_args is {_kind(value)}, expected a mapping of SGLang flag names to values",
            fix="write e.g. `sglang_args: {enable-cache-report: true, schedule-policy: lpm}`",
        )
    out: dict[str, Any] = {}
    for flag, arg in value.items():
        name = str(flag).lstrip("-").replace("_", "-")
        if isinstance(arg, dict):
            raise QwenServeError(
                f"{here}: sglang_args.{flag} is a mapping; expected a value, true/false, or a list",
                fix=f"write `{name}: VALUE` (a JSON string if SGLang expects JSON)",
            )
        out[name] = arg
    return out


def _kind(value: Any) -> str:
    if isinstance(value, list):
        return "a list"
    if isinstance(value, str):
        return f"a string ({value[:40]!r})"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return f"a number ({value})"
    return type(value).__name__


def _key_lines(node) -> dict[tuple, int]:
    """Line number (1-based) of every mapping key, by its path of keys."""
    lines: dict[tuple, int] = {}

    def walk(n, path):
        if isinstance(n, yaml.MappingNode):
            for k, v in n.value:
                key = path + (str(k.value),)
                lines[key] = k.start_mark.line + 1
                walk(v, key)

    if node is not None:
        walk(node, ())
    return lines
