"""Load a model one layer at a time, quantizing each layer before the next arrives.

Why: with `--torchao-config`, SGLang 0.5.17's default loader puts the whole bf16 model on the
GPU and quantizes afterwards (measured peak at load for Qwen3-14B: 29.6-30.4 GiB on the H100,
bench/results/h100/torchao/), more than a 24 GB card has. Its `--load-format layered`
(`LayeredModelLoader`) was meant to fix that, but in 0.5.17 it cannot load Qwen3 at all:
- it calls `model.load_weights_to_module`, which only `TorchNativeLlamaForCausalLM` has;
- it hands the *same* weights generator to every module, so the first module consumes it and
  every later module keeps uninitialised memory;
- `Module.to_empty` replaces each parameter with a new one, dropping SGLang's `weight_loader`
  attributes (the sharded q/k/v and gate/up loaders).

This module does what that loader meant to do: the model is built on the meta device, then each
*unit* — one decoder layer, or one other module that holds parameters (embeddings, final norm,
lm_head) — is put on the GPU, filled with just its own tensors read by name from the safetensors
files (through the model's own `load_weights`, so SGLang's sharding and q/k/v stacking apply),
and quantized before the next unit. Peak ≈ the quantized model + one bf16 layer.

`qwen_serve.sglang.patches.install` puts `layered_load_model` in SGLang's place when qwen-serve
launches with `--load-format layered` (which it chooses where the bf16 model would not fit).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator

import torch
from torch import nn


class LayeredLoadError(RuntimeError):
    pass


def units(model: nn.Module) -> list[tuple[str, nn.Module]]:
    """The modules loaded one at a time: every element of an nn.ModuleList (the decoder layers),
    and every other module with parameters of its own that is not inside one of those."""
    found: list[tuple[str, nn.Module]] = []
    inside: list[str] = []
    lists = {name for name, m in model.named_modules() if isinstance(m, nn.ModuleList)}
    for name, module in model.named_modules():
        if any(name.startswith(p + ".") for p in inside):
            continue
        parent = name.rpartition(".")[0]
        if parent in lists and name:
            found.append((name, module))
            inside.append(name)
        elif not isinstance(module, nn.ModuleList) and next(module.parameters(recurse=False), None) is not None:
            found.append((name, module))
            inside.append(name)
    return found


def unit_of(tensor_name: str, unit_names: Iterable[str]) -> str | None:
    """The unit a checkpoint tensor belongs to: the longest unit name that prefixes it
    ("model.layers.3.self_attn.q_proj.weight" -> "model.layers.3", though the parameter is qkv_proj)."""
    best = None
    for unit in unit_names:
        if (tensor_name.startswith(unit + ".") or unit == "") and (best is None or len(unit) > len(best)):
            best = unit
    return best


def _materialize_parameters(module: nn.Module, device: torch.device, prefix: str) -> list[str]:
    """Meta parameters -> parameters on `device`, keeping each Parameter object and its attributes
    (SGLang's weight_loader, input_dim, …), which Module.to_empty would drop. Floating-point ones
    start as NaN, so that whatever the loader never writes is found (see _unwritten)."""
    fresh = []
    for name, param in module.named_parameters(prefix=prefix):
        if param.is_meta:
            attrs = dict(param.__dict__)
            data = torch.empty_like(param, device=device)
            if data.is_floating_point():
                data.fill_(float("nan"))
            torch.utils.swap_tensors(param, nn.Parameter(data, requires_grad=param.requires_grad))
            param.__dict__.update(attrs)
            fresh.append(name)
    return fresh


def _unwritten(module: nn.Module, names: list[str], prefix: str) -> list[str]:
    params = dict(module.named_parameters(prefix=prefix))
    return [n for n in names if params[n].is_floating_point() and bool(torch.isnan(params[n]).any())]


def _rebuild_buffers(module: nn.Module, device: torch.device, prefix: str = "") -> None:
    """Buffers made on the meta device hold no values. The only ones Qwen3 has are SGLang's
    rotary cos/sin caches, computed again here on `device`; any other is an error, never garbage."""
    for name, owner in module.named_modules(prefix=prefix):
        for key, buf in list(owner._buffers.items()):
            if buf is None or not buf.is_meta:
                continue
            if key == "cos_sin_cache" and hasattr(owner, "_compute_cos_sin_cache"):
                with torch.device(device):
                    owner._buffers[key] = owner._compute_cos_sin_cache().to(buf.dtype)
            else:
                raise LayeredLoadError(
                    f"layered loading cannot rebuild buffer {name + '.' if name else ''}{key} of "
                    f"{type(owner).__name__} (created on the meta device); load with --load-format auto"
                )


def load_layer_by_layer(
    model: nn.Module,
    tensor_names: Iterable[str],
    read: Callable[[str], torch.Tensor],
    device: torch.device,
    quantize: Callable[[nn.Module], object] | None = None,
    after_load: Callable[[nn.Module], object] | None = None,
) -> dict:
    """Fill a model built on the meta device unit by unit: materialize, load the unit's own tensors
    through `model.load_weights`, check every new parameter was written, `after_load`, `quantize`;
    at the end check nothing is left on meta.
    Returns {"units": n, "tensors": n, "unplaced": [checkpoint names that belong to no unit]}."""
    unit_list = units(model)
    names = [u for u, _ in unit_list]
    by_unit: dict[str, list[str]] = {}
    unplaced: list[str] = []
    for tensor in tensor_names:
        unit = unit_of(tensor, names)
        (by_unit.setdefault(unit, []) if unit is not None else unplaced).append(tensor)

    def tensors(which: list[str]) -> Iterator[tuple[str, torch.Tensor]]:
        for tensor in which:
            yield tensor, read(tensor)

    loaded = 0
    for name, module in unit_list:
        fresh = _materialize_parameters(module, device, prefix=name)
        _rebuild_buffers(module, device, prefix=name)
        own = by_unit.get(name, [])
        model.load_weights(tensors(own))
        loaded += len(own)
        unwritten = _unwritten(module, fresh, prefix=name)
        if unwritten:
            raise LayeredLoadError(
                f"layered loading: the checkpoint did not fill {', '.join(unwritten[:3])}"
                f"{' …' if len(unwritten) > 3 else ''} (missing tensors, or NaN in them); "
                "check the model directory, or load with --load-format auto"
            )
        if after_load is not None:
            after_load(module)
        if quantize is not None:
            quantize(module)
    _rebuild_buffers(model, device)  # modules with buffers but no parameters of their own
    missing = [n for n, p in model.named_parameters() if p.is_meta]
    if missing:
        raise LayeredLoadError(
            f"layered loading left {len(missing)} parameters unloaded, e.g. {missing[:3]}; load with --load-format auto"
        )
    return {"units": len(unit_list), "tensors": loaded, "unplaced": unplaced}


class SafetensorsFiles:
    """Tensors read by name from a set of .safetensors files (memory-mapped; one tensor at a time)."""

    def __init__(self, files: Iterable[str]):
        from safetensors import safe_open

        self._where: dict[str, object] = {}  # tensor name -> the open file holding it
        for path in files:
            handle = safe_open(path, framework="pt", device="cpu")
            for key in handle.keys():
                self._where[key] = handle

    def names(self) -> list[str]:
        return list(self._where)

    def read(self, name: str) -> torch.Tensor:
        return self._where[name].get_tensor(name)


def layered_load_model(self, *, model_config, device_config) -> nn.Module:
    """Drop-in for SGLang 0.5.17's `LayeredModelLoader.load_model` (see the module docstring)."""
    from sglang.srt.model_loader.loader import _get_quantization_config, _initialize_model, set_default_torch_dtype
    from sglang.srt.runtime_context import get_exec

    from .torchao_fix import apply_torchao_config_to_model, report

    torchao_config = get_exec().graph.torchao_config
    target = torch.device(device_config.device)
    quant_config = _get_quantization_config(model_config, self.load_config)
    _, files, use_safetensors = self._prepare_weights(
        model_config.model_path, model_config.revision, fall_back_to_pt=False
    )
    if not use_safetensors:
        raise LayeredLoadError(
            f"layered loading reads .safetensors files; {model_config.model_path} has none "
            "(convert the checkpoint, or load with --load-format auto)"
        )
    checkpoint = SafetensorsFiles(files)

    def after_load(module: nn.Module) -> None:  # what DefaultModelLoader does after load_weights
        for sub in module.modules():
            method = getattr(sub, "quant_method", None)
            if method is not None:
                method.process_weights_after_loading(sub)

    def quantize(module: nn.Module) -> None:
        apply_torchao_config_to_model(module, torchao_config, summary=False)

    with set_default_torch_dtype(model_config.dtype):
        with torch.device("meta"):
            model = _initialize_model(model_config, self.load_config, quant_config)
        facts = load_layer_by_layer(
            model, checkpoint.names(), checkpoint.read, target, quantize if torchao_config else None, after_load
        )
    if torchao_config:
        model.torchao_applied = True
        report(model, torchao_config, how=f"layer by layer, {facts['units']} units")
    return model.eval()
