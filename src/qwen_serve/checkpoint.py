"""Stage 2b — what the checkpoint decides: a pre-quantized checkpoint (Qwen/Qwen3-14B-FP8, -AWQ, a local AWQ/GPTQ/FP8
directory) carries its own quantization_config, and SGLang serves it with that checkpoint's kernels. A preset's own
weight quantization (fp8, humming int4, torchao) then contradicts it: the checkpoint wins, said in one line; a
contradiction the user typed is refused in one line. A preset may also name the checkpoint it serves (its
model_path); a --model-path the user gives wins over it, said in one line.

This stage takes resolve's LaunchSettings and returns new ones (each change a named origin), plus its notes.
"""

from __future__ import annotations

from .errors import QwenServeError
from .model import read_checkpoint
from .resolve import LaunchSettings

# --quantization values that serve a checkpoint of each quant_method as stored: its own kernels, a faster kernel for
# the same format (awq_marlin), or humming's kernels, which read AWQ/GPTQ weights as they are
COMPATIBLE = {
    "awq": {"awq", "awq_marlin", "humming"},
    "gptq": {"gptq", "gptq_marlin", "humming"},
    "fp8": {"fp8"},
    "compressed-tensors": {"compressed-tensors"},
}
# settings that quantize bf16 weights as they load: meaningless on weights stored quantized
ONLINE_QUANTIZATION = ("torchao_config", "humming_weight_dtype", "humming_group_size")
USER_ORIGINS = ("cli", "env ")


def settle(launch: LaunchSettings) -> tuple[LaunchSettings, tuple[str, ...]]:
    """The launch with the checkpoint's decisions applied, and what was decided, one line each."""
    notes = []
    model = launch.get("model_path")
    preset = launch.preset
    named = preset.values.get("model_path") if preset else None
    if named and named != model.value and model.origin.startswith(USER_ORIGINS):
        notes.append(
            f"your --model-path {model.value} replaces preset {preset.name}'s checkpoint {named}; "
            "its quantization_config decides the kernels"
        )
    checkpoint = read_checkpoint(model.value)
    method = checkpoint.method
    if method is None:
        return launch, tuple(notes)
    compatible = COMPATIBLE.get(method, {method})
    quantization = launch.get("quantization")
    conflicts = [launch.get(name) for name in ONLINE_QUANTIZATION if launch[name] is not None]
    if quantization.value is not None and quantization.value not in compatible:
        conflicts.insert(0, quantization)
        if launch["humming_input_dtype"] is not None:  # goes with the humming quantization it came with
            conflicts.append(launch.get("humming_input_dtype"))
    typed = next((c for c in conflicts if c.origin.startswith(USER_ORIGINS)), None)
    if typed is not None:
        flag = "--" + typed.name.replace("_", "-")
        raise QwenServeError(
            f"{typed.name}: {typed.value!r} ({flag}, {typed.origin}) on {model.value}, a checkpoint already "
            f"quantized ({checkpoint.describe()}, {checkpoint.source})",
            allowed=f"no quantization of bf16 weights on it; --quantization {' / '.join(sorted(compatible))} to pick "
            "the kernels that read it",
            fix=f"drop {flag}: the checkpoint's own quantization serves it; or point --model-path at the bf16 "
            "Qwen/Qwen3-14B to quantize at load",
        )
    dropped = []
    for setting in conflicts:
        launch = launch.with_setting(setting.name, None, f"checkpoint {model.value} (its own quantization: {method})")
        dropped.append(f"{setting.name} {setting.value} ({setting.origin})")
    if dropped:
        notes.append(
            f"{model.value} is already quantized ({checkpoint.describe()}): its own quantization serves it, "
            f"so {', '.join(dropped)} {'is' if len(dropped) == 1 else 'are'} dropped"
        )
    return launch, tuple(notes)


def quantization_label(launch: LaunchSettings) -> str:
    """The ready banner's words for what quantizes the weights (and the KV cache): --quantization, torchao's config,
    or, with neither, the checkpoint's own quantization_config (Qwen/Qwen3-14B-AWQ: 'AWQ int4, group 128 (the
    checkpoint's)'); bf16 only where none of these is."""
    parts = []
    if launch["torchao_config"]:
        parts.append(f"torchao {launch['torchao_config']}")
    if launch["quantization"]:
        parts.append(launch["quantization"])
    if not parts:
        stored = read_checkpoint(launch["model_path"])
        if stored.method:
            parts.append(f"{stored.describe()} (the checkpoint's)")
    label = " + ".join(parts) or "none (bf16)"
    if launch["kv_cache_dtype"] and launch["kv_cache_dtype"] != "auto":
        label += f", KV {launch['kv_cache_dtype']}"
    return label
