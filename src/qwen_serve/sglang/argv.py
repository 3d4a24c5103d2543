"""Stage 4 — turn LaunchSettings into the exact `python -m sglang.launch_server …` argv.

Checked against the flag set of the SGLang it is built for (capabilities.SGLangTarget):
a flag that version lacks, or a value outside its choices, is an error here — before a
minute-long model load finds out.
"""

from __future__ import annotations

import shlex
import sys
from dataclasses import dataclass, field
from typing import Any

from ..errors import QwenServeError, control_character, did_you_mean
from ..resolve import LaunchSettings, Setting
from ..secret import MASK, reveal
from ..settings import FIELDS, FIELDS_BY_NAME, HUMMING_DEFAULT_GROUP
from .capabilities import SGLangTarget

SGLANG_MODULE = "sglang.launch_server"
# SGLang's launch_server behind qwen-serve's torchao fix (qwen_serve/sglang/torchao_fix.py) and API-key handover
ENTRY_MODULE = "qwen_serve.sglang.entry"
API_KEY_ENV = "QWEN_SERVE_SGLANG_API_KEY"  # read (and removed) by ENTRY_MODULE
OWN_SECRET_ENV = ("QWEN_SERVE_API_KEY",)  # qwen-serve's own: read by it, passed to no SGLang process


@dataclass(frozen=True)
class EnvVar:
    name: str
    value: str
    origin: str
    secret: bool = False
    default: bool = False  # only where the user's own environment does not set it (the JIT cache folders)

    @property
    def shown(self) -> str:
        return MASK if self.secret else self.value


# The JIT compilers on SGLang's serving path and the variable that places each one's cache: qwen-serve keeps them
# all under one folder it names (`jit_cache_dir`), so that a machine, a volume or a pod keeps what the first start
# compiled (DeepGEMM's block-FP8 GEMMs, awq_marlin, humming, flashinfer, Triton, torch.compile).
JIT_CACHES = (
    ("SGLANG_DG_CACHE_DIR", "deep_gemm"),
    ("TVM_FFI_CACHE_DIR", "tvm-ffi"),  # SGLang's own JIT kernels: awq_marlin and the other Marlin GEMMs
    ("HUMMING_CACHE_DIR", "humming"),
    ("FLASHINFER_WORKSPACE_BASE", "flashinfer"),
    ("TRITON_CACHE_DIR", "triton"),
    ("TORCHINDUCTOR_CACHE_DIR", "torchinductor"),
)
# DeepGEMM compiles the block-FP8 GEMMs for the shapes a server meets (measured on the H200, triton attention: ready
# in 252 s with an empty cache, 329 s with SGLang's default, which compiles every shape at start; docs/presets.md).
DEEP_GEMM_PRECOMPILE = "SGLANG_JIT_DEEPGEMM_PRECOMPILE"


def jit_cache_dir() -> str:
    """Where the JIT caches of the SGLang that qwen-serve starts live: $QWEN_SERVE_JIT_CACHE, else qwen-serve's own
    cache folder ($XDG_CACHE_HOME or ~/.cache)/qwen-serve/jit."""
    import os

    from ..outputs import cache_root

    return os.environ.get("QWEN_SERVE_JIT_CACHE") or str(cache_root() / "jit")


def jit_env(launch: LaunchSettings, folder: str) -> tuple[EnvVar, ...]:
    """The JIT cache folders (each a default the user's environment may override), and DeepGEMM's lazy compile for a
    block-FP8 checkpoint."""
    from ..model import read_checkpoint

    env = [
        EnvVar(name, f"{folder}/{sub}", f"qwen-serve's JIT cache ({folder})", default=True) for name, sub in JIT_CACHES
    ]
    checkpoint = read_checkpoint(launch["model_path"])
    if checkpoint.method == "fp8" and (checkpoint.quantization_config or {}).get("weight_block_size"):
        env.append(
            EnvVar(
                DEEP_GEMM_PRECOMPILE,
                "0",
                "qwen-serve: DeepGEMM compiles each shape on first use, cached (block-FP8 checkpoint)",
                default=True,
            )
        )
    return tuple(env)


@dataclass(frozen=True)
class SGLangCommand:
    argv: tuple[str, ...]  # what is executed (secrets included)
    expected: dict[str, Any]  # SGLang parser dest -> the value we mean it to have
    notes: tuple[str, ...]
    target: SGLangTarget
    secret_values: frozenset[str] = field(default_factory=frozenset)
    # environment variables SGLang reads instead of flags (humming's quantization), with origins
    env: tuple[EnvVar, ...] = ()
    # start-up phases this command spends differently (sglang_log phase -> label for the progress line)
    phase_labels: tuple[tuple[str, str], ...] = ()

    @property
    def environ(self) -> dict[str, str]:
        """The variables qwen-serve sets for SGLang (defaults included: a manifest or a dry run shows them all)."""
        return {e.name: e.value for e in self.env}

    def child_env(self, base: dict[str, str]) -> dict[str, str]:
        """SGLang's environment: `base` (the user's) with qwen-serve's variables; a default yields to `base`. The
        user's key variable is not passed on: SGLang gets the key once, through API_KEY_ENV, which the entry module
        removes before SGLang's own children start."""
        return {
            **{e.name: e.value for e in self.env if e.default},
            **{k: v for k, v in base.items() if k not in OWN_SECRET_ENV},
            **{e.name: e.value for e in self.env if not e.default},
        }

    @property
    def sglang_argv(self) -> tuple[str, ...]:
        """The arguments after `-m sglang.launch_server`."""
        return self.argv[3:]

    def shown_argv(self) -> list[str]:
        return [MASK if a in self.secret_values else a for a in self.argv]

    def shell(self) -> str:
        # NAME='value' (quoting the whole word would make it a command name, not an assignment)
        # the variables that make the command what it is; the JIT cache folders are listed apart (--dry-run's env:)
        words = [f"{e.name}={shlex.quote(e.shown)}" for e in self.env if not e.default]
        return " ".join([*words, shlex.join(self.shown_argv())])


def build_command(
    launch: LaunchSettings, target: SGLangTarget, python: str | None = None, jit_folder: str | None = None
) -> SGLangCommand:
    """`jit_folder`: where SGLang's JIT caches go (default: jit_cache_dir(); a manifest names the pod's)."""
    b = _Builder(target, [python or sys.executable, "-m", SGLANG_MODULE])
    secret_env = b.settings(launch)
    env = humming_env(launch, b.notes) + tuple(secret_env) + jit_env(launch, jit_folder or jit_cache_dir())
    if secret_env:
        b.argv[2] = ENTRY_MODULE
        b.notes.append(
            f"the API key reaches SGLang through {API_KEY_ENV} and {ENTRY_MODULE}, which hands it to "
            "SGLang's ServerArgs inside the process: it is in no process's command line (ps shows those "
            "to every local user)"
        )
    _check_quantizers(launch)
    b.torchao_entry(launch)
    b.sglang_args(launch)
    b.passthrough(launch)
    b.check_text()
    return SGLangCommand(
        argv=tuple(b.argv),
        expected=b.expected,
        notes=tuple(b.notes),
        target=target,
        secret_values=frozenset(reveal(e.value) for e in secret_env),
        env=env,
        phase_labels=compile_phases(launch),
    )


def _check_quantizers(launch: LaunchSettings) -> None:
    torchao, quantization = launch.get("torchao_config"), launch.get("quantization")
    if torchao.value and quantization.value:
        raise QwenServeError(
            f"torchao_config: {torchao.value!r} ({torchao.origin}) and quantization: {quantization.value!r} "
            f"({quantization.origin}) would quantize the model twice",
            allowed="one of torchao_config or quantization",
            fix="keep one: set the other to null in the YAML, or choose a preset that has only one",
        )
    if launch["load_format"] == "layered" and not launch["torchao_config"]:
        origin = launch.get("load_format").origin
        raise QwenServeError(
            f"load_format: 'layered' ({origin}) only serves torchao_config — it quantizes each layer as it "
            "loads; without torchao there is nothing to quantize, and SGLang 0.5.17's own layered loader "
            "cannot load Qwen3 (no load_weights_to_module)",
            allowed="auto, safetensors, dummy, … (python -m sglang.launch_server --help)",
            fix="drop load_format, or set torchao_config",
        )


def _attention(launch: LaunchSettings, notes: list[str]) -> Setting:
    """attention_backend, with the seed's enable_flashinfer translated (SGLang has no such flag)."""
    attention = launch.get("attention_backend")
    if not launch["enable_flashinfer"]:
        return attention
    origin = launch.get("enable_flashinfer").origin
    if attention.value not in (None, "flashinfer"):
        raise QwenServeError(
            f"enable_flashinfer ({origin}) conflicts with attention_backend: {attention.value} ({attention.origin})",
            allowed="one attention backend",
            fix="drop --enable-flashinfer, or set --attention-backend flashinfer",
        )
    notes.append(
        "SGLang has no --enable-flashinfer: it is translated to --attention-backend flashinfer "
        f"(enable_flashinfer from {origin})"
    )
    return Setting(
        "attention_backend", "flashinfer", f"{origin} (enable_flashinfer)", launch.get("enable_flashinfer").layer
    )


class _Builder:
    """SGLang's argv for one target release, each flag checked against its parser snapshot as it is added."""

    def __init__(self, target: SGLangTarget, argv: list[str]):
        self.target, self.flagset, self.argv = target, target.flagset, argv
        self.expected: dict[str, Any] = {}
        self.notes: list[str] = []

    def emit(self, option: str, value: Any, origin: str) -> None:
        target, flagset = self.target, self.flagset
        if not flagset.has(option):
            raise QwenServeError(
                f"{option.lstrip('-')}: set ({origin}) but {target.description} has no {option}",
                fix="remove it, or use the SGLang release that has it",
            )
        not_allowed = choice_error(
            target, option, value, f"{option.lstrip('-').replace('-', '_')}: {value!r} ({origin})"
        )
        if not_allowed:
            raise not_allowed
        dest = flagset.dest(option)
        if value is True and not flagset.takes_value(option):
            self.argv.append(option)
        elif isinstance(value, list):
            self.argv.append(option)
            self.argv.extend(_text(v) for v in value)
        else:
            self.argv.extend([option, _text(value)])
        self.expected[dest] = value

    def settings(self, launch: LaunchSettings) -> list[EnvVar]:
        """Every modelled setting as its flag; the API key as an environment variable (returned), never argv."""
        attention = _attention(launch, self.notes)
        secret_env: list[EnvVar] = []
        for spec in FIELDS:
            if spec.sglang_flag is None:
                continue
            setting = attention if spec.name == "attention_backend" else launch.get(spec.name)
            value = setting.value
            if value is None or value is False:
                continue
            if spec.secret:  # the API key: to SGLang through the entry module and the environment, never argv
                if not self.flagset.has(spec.sglang_flag):
                    raise QwenServeError(
                        f"{spec.name}: set ({setting.origin}) but {self.target.description} has no {spec.sglang_flag}",
                        fix="remove it, or use the SGLang release that has it",
                    )
                secret_env.append(EnvVar(API_KEY_ENV, reveal(value), setting.origin, secret=True))
                continue
            if spec.name in self.target.release.removed:
                why, instead = self.target.release.removed[spec.name]
                raise QwenServeError(
                    f"{spec.name}: {value!r} ({setting.origin}) needs --{spec.name.replace('_', '-')}, "
                    f"but {self.target.description} has none — {why}",
                    allowed=instead,
                    fix="choose one of those (or drop the preset's torchao_config)",
                )
            self.emit(spec.sglang_flag, value, setting.origin)
        return secret_env

    def torchao_entry(self, launch: LaunchSettings) -> None:
        target = self.target
        if not (launch["torchao_config"] and target.supports("torchao_needs_entry_fix")):
            return
        self.argv[2] = ENTRY_MODULE
        self.notes.append(
            f"runs SGLang through {ENTRY_MODULE}: SGLang {target.version}'s --torchao-config calls torchao "
            "functions that its pinned torchao 0.17 removed (int4_weight_only, …), so the server would die "
            "at model load; qwen_serve/sglang/torchao_fix.py puts a version built on torchao's *Config API in "
            "its place in every SGLang process, then SGLang's own launch_server runs unchanged"
        )
        if launch["load_format"] == "layered":
            self.notes.append(
                f"--load-format layered ({launch.get('load_format').origin}): {ENTRY_MODULE} also replaces "
                f"SGLang {target.version}'s LayeredModelLoader.load_model with qwen_serve/sglang/layered_load.py — "
                "SGLang's own cannot load Qwen3 (it needs load_weights_to_module, hands one weights generator "
                "to every module, and drops weight_loader attributes); ours loads and quantizes one decoder "
                "layer at a time from the safetensors files, so the whole bf16 model is never on the GPU"
            )

    def sglang_args(self, launch: LaunchSettings) -> None:
        flagset, target = self.flagset, self.target
        for arg in launch.sglang_args:
            option = "--" + arg.flag
            field = modeled_field(option, flagset)
            if field is not None:
                raise QwenServeError(
                    f"sglang_args.{arg.flag} ({arg.origin}) is SGLang's {flagset.parsed_as(option) or option}, "
                    f"which qwen-serve sets from its setting '{field.name}'",
                    allowed="flags qwen-serve does not model under sglang_args",
                    fix=f"write `{field.name}: {_text(arg.value)}` instead of under sglang_args",
                )
            if not flagset.has(option):
                hint = did_you_mean(option, flagset.flags)
                what = f"sglang_args.{arg.flag} ({arg.origin}): {target.description} has no {option}"
                if target.exact_snapshot:
                    raise QwenServeError(
                        what + (f" — {hint}" if hint else ""),
                        fix="correct the flag name (python -m sglang.launch_server --help lists them)",
                    )
                self.notes.append(what + "; passed through unchecked")
                self.argv.extend([option] if arg.value is True else [option, _text(arg.value)])
                continue
            if arg.value is False or arg.value is None:
                continue
            self.emit(option, arg.value, arg.origin)

    def passthrough(self, launch: LaunchSettings) -> None:
        if not launch.passthrough:
            return
        flagset, target = self.flagset, self.target
        check_passthrough(launch.passthrough, flagset, target)
        self.argv.extend(launch.passthrough)
        for token in launch.passthrough:
            option = token.split("=", 1)[0]
            if option.startswith("--") and self.argv.count(option) > 1:
                self.notes.append(f"{option} after `--` overrides the value set before it (last one wins)")
            if option.startswith("--") and not flagset.has(option) and target.exact_snapshot:
                hint = did_you_mean(option, flagset.flags)
                raise QwenServeError(
                    f"{option} (after --): {target.description} has no such flag" + (f" — {hint}" if hint else ""),
                    fix="correct the flag name (python -m sglang.launch_server --help lists them)",
                )

    def check_text(self) -> None:
        """A value from sglang_args or after `--` is printed, logged and written into units as it is."""
        for token in self.argv:
            bad = control_character(str(token))
            if bad is not None:
                raise QwenServeError(
                    f"the SGLang argument {str(token)[:80]!r} holds the control character {bad!r}",
                    allowed="printable text on one line",
                    fix="remove it from sglang_args or from what follows `--`",
                )


def compile_phases(launch: LaunchSettings) -> tuple[tuple[str, str], ...]:
    """What a first launch compiles while SGLang captures its CUDA graphs, so that the progress line names
    it instead of looking like a hang."""
    from ..model import read_checkpoint

    what = []
    method = read_checkpoint(launch["model_path"]).method
    measured = launch.preset.start_words if launch.preset else None  # the preset's own figures, never retyped here

    def cached_in(folder: str) -> str:
        return f" ({measured}; cached in {folder})" if measured else f" (cached in {folder})"

    if method == "fp8":
        what.append(
            "DeepGEMM JIT-compiles the block-FP8 GEMMs for each new shape on a first launch"
            + cached_in("$SGLANG_DG_CACHE_DIR")
        )
    if method in ("awq", "gptq"):
        what.append(
            f"SGLang JIT-compiles its {method}_marlin GEMMs on a first launch" + cached_in("$TVM_FFI_CACHE_DIR")
        )
    if launch["quantization"] == "humming":
        what.append("humming JIT-compiles its kernels with NVRTC on a first launch" + cached_in("$HUMMING_CACHE_DIR"))
    if launch["enable_torch_compile"]:
        what.append(
            "torch.compile compiles the model for each batch size up to --torch-compile-max-bs on a first "
            "launch (cached in $TORCHINDUCTOR_CACHE_DIR, default /tmp/torchinductor_$USER)"
        )
    return (("cuda_graphs", "capturing CUDA graphs; " + "; ".join(what)),) if what else ()


# SGLang flags qwen-serve sets itself, from its own settings (it plans, probes and masks with them)
MODELED = {f.sglang_flag: f for f in FIELDS if f.sglang_flag}


def modeled_field(option: str, flagset) -> Any:
    """The qwen-serve setting behind `option` if SGLang's parser would take it for a flag qwen-serve sets itself —
    under any spelling the parser accepts: an alias (--model for --model-path, --tensor-parallel-size for
    --tp-size) or an abbreviation (--model-pa) — else None. Derived from the parser snapshot, not a hand list."""
    if option in MODELED:
        return MODELED[option]
    parsed = flagset.parsed_as(option)
    if parsed is None:
        return None
    dest = flagset.dest(parsed)
    return next((f for flag, f in MODELED.items() if flagset.has(flag) and flagset.dest(flag) == dest), None)


_TYPES = {"int": int, "float": float}


def check_passthrough(tokens: tuple[str, ...], flagset, target) -> None:
    """What goes after `--`: no flag qwen-serve models (it would launch one thing and wait for another),
    and each known flag's value checked against the installed SGLang's parser snapshot."""
    i = 0
    while i < len(tokens):
        token = tokens[i]
        i += 1
        if not token.startswith("--"):
            continue
        option, inline = (token.split("=", 1) + [None])[:2]
        field = modeled_field(option, flagset)
        if field is not None:
            following = tokens[i] if i < len(tokens) and not tokens[i].startswith("--") else None
            given = inline if inline is not None else following if field.kind is not bool else None
            spelled = "" if option == field.sglang_flag else f" (SGLang reads it as {field.sglang_flag})"
            raise QwenServeError(
                f"{option} after `--`{spelled}: qwen-serve sets {field.sglang_flag} itself from its setting "
                f"'{field.name}'",
                allowed="flags qwen-serve does not model after `--` (python -m sglang.launch_server --help)",
                fix=f"pass it to qwen-serve before `--`: {field.cli_usage(None if field.secret else given)}"
                + (" (or QWEN_SERVE_API_KEY / --api-key-file)" if field.secret else ""),
            )
        if not flagset.has(option) or not flagset.takes_value(option):
            continue
        nargs = flagset.flags[option].get("nargs")
        if inline is None and (i >= len(tokens) or tokens[i].startswith("--")):
            if nargs in ("?", "*"):
                continue
            raise QwenServeError(f"{option} after `--` needs a value", fix=f"write {option} VALUE")
        value = inline if inline is not None else tokens[i]
        i += 0 if inline is not None else 1
        not_allowed = choice_error(target, option, value, f"{option} {value!r} (after --)")
        if not_allowed:
            raise not_allowed
        kind = _TYPES.get(flagset.flags[option].get("type") or "")
        if kind is not None:
            try:
                kind(value)
            except ValueError:
                raise QwenServeError(
                    f"{option} {value!r} (after --) is not {'an integer' if kind is int else 'a number'}",
                    fix=f"write {option} with a number",
                ) from None


def choice_error(target, option: str, value: Any, what: str, fix: str | None = None) -> QwenServeError | None:
    """The error for a value outside the choices SGLang's parser has for `option`, or None when it is allowed."""
    choices = target.flagset.choices(option) if target.flagset.has(option) else None
    if not choices or value is None or str(value) in choices:
        return None
    hint = did_you_mean(str(value), choices)
    return QwenServeError(
        f"{what} is not a value {target.description} accepts for {option}" + (f" — {hint}" if hint else ""),
        allowed=", ".join(choices),
        fix=fix or f"pick one of those for {option}",
    )


def humming_env(launch: LaunchSettings, notes: list[str]) -> tuple[EnvVar, ...]:
    """SGLang's humming quantization is configured by environment variables, not flags: build them
    from the humming_* settings, and refuse settings that would be silently ignored."""
    import json

    quantization = launch.get("quantization")
    fields = [f for f in FIELDS if f.env]
    given = [launch.get(f.name) for f in fields if launch[f.name] is not None]
    if quantization.value != "humming":
        # a preset's humming_* keys go with the preset's quantization: a quantization typed over it
        # takes them along; humming_* set as high as the quantization itself contradict it
        stronger = [s for s in given if s.layer >= quantization.layer]
        if given and not stronger:
            notes.append(
                f"quantization {quantization.value!r} ({quantization.origin}) replaces the humming "
                f"quantization of {given[0].origin}: its humming_* settings are not used"
            )
        if stronger:
            s = stronger[0]
            raise QwenServeError(
                f"{s.name}: {s.value!r} ({s.origin}) only applies with quantization: humming, but quantization is "
                f"{quantization.value!r} ({quantization.origin})",
                allowed="humming_* settings together with quantization: humming",
                fix="set --quantization humming, or drop the humming_* settings",
            )
        return ()
    weight, group = launch.get("humming_weight_dtype"), launch.get("humming_group_size")
    weight_field = FIELDS_BY_NAME["humming_weight_dtype"]
    if weight.value is None:
        from ..model import read_checkpoint

        if read_checkpoint(launch["model_path"]).quantization_config is None:
            raise QwenServeError(
                f"quantization: 'humming' ({quantization.origin}) on a bf16 checkpoint needs humming_weight_dtype "
                "(SGLang's online quantization is configured by it)",
                allowed="humming_weight_dtype: int4 or int8, humming_group_size: 0, 32, 64, 128 or 256",
                fix="add --humming-weight-dtype int4 --humming-group-size 128 (or a preset that sets them)",
            )
    env: list[EnvVar] = []
    if weight.value is not None:
        config = {"dtype": weight.value, "group_size": HUMMING_DEFAULT_GROUP if group.value is None else group.value}
        origin = (
            weight.origin
            if group.value is None or group.origin == weight.origin
            else (f"{weight.origin}; group {group.origin}")
        )
        env.append(EnvVar(weight_field.env, json.dumps(config, separators=(",", ":")), origin))
    elif group.value is not None:
        raise QwenServeError(
            f"humming_group_size: {group.value} ({group.origin}) without humming_weight_dtype",
            allowed="humming_weight_dtype: int4 or int8",
            fix="add --humming-weight-dtype int4",
        )
    activations = launch.get("humming_input_dtype")
    if activations.value is not None:
        env.append(
            EnvVar(
                FIELDS_BY_NAME["humming_input_dtype"].env,
                json.dumps({"dtype": activations.value}, separators=(",", ":")),
                activations.origin,
            )
        )
    how = (
        ("configured through " + ", ".join(e.name for e in env))
        if env
        else "serving the checkpoint's own quantization_config"
    )
    measured = launch.preset.start_words if launch.preset else None
    notes.append(
        f"quantization humming: SGLang's own int4/int8 kernels (package humming-kernels), {how}; they JIT-compile "
        "with NVRTC on the first launch" + (f" ({measured})" if measured else "") + ", cached in "
        "$HUMMING_CACHE_DIR (qwen-serve's JIT cache)"
    )
    return tuple(env)


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)
