"""Make SGLang 0.5.17's --torchao-config work with the torchao it pins (0.17).

SGLang 0.5.17's `sglang.srt.layers.torchao_utils.apply_torchao_config_to_model` imports
`int4_weight_only`, `int8_weight_only`, `float8_dynamic_activation_float8_weight`, … from
`torchao.quantization`; torchao 0.17 has only the `*Config` classes, so every torchao preset
dies at model load (SGLang removed the integration in 0.5.18, PR #34304). This module provides
the same function on torchao's current API — same values, same filters (which modules get
quantized) — and `install()` puts it in SGLang's place before SGLang uses it.
"""

from __future__ import annotations

import sys

from ..settings import TORCHAO_CONFIGS


def torchao_config_object(name: str):
    """The torchao 0.17 config for one of SGLang's --torchao-config values."""
    from torchao.quantization import (
        Float8DynamicActivationFloat8WeightConfig,
        Float8WeightOnlyConfig,
        Int4WeightOnlyConfig,
        Int8DynamicActivationInt8WeightConfig,
        Int8WeightOnlyConfig,
        PerRow,
        PerTensor,
    )

    if name == "int8wo":
        return Int8WeightOnlyConfig(version=2)  # Int8Tensor; version 1 is deprecated upstream
    if name == "int8dq":
        return Int8DynamicActivationInt8WeightConfig(version=2)  # int8 x int8 matmul, symmetric
    if name.startswith("int4wo-"):
        group = int(name.split("-")[1])
        # tile_packed_to_4d = tinygemm, whose kernels ship inside PyTorch; the default "plain"
        # and "preshuffled" formats need the extra fbgemm/mslk kernel packages
        return Int4WeightOnlyConfig(group_size=group, int4_packing_format="tile_packed_to_4d")
    if name == "fp8wo":
        return Float8WeightOnlyConfig()  # e4m3 weights, bf16 compute: needs sm89+
    if name == "fp8dq-per_tensor":
        return Float8DynamicActivationFloat8WeightConfig(granularity=PerTensor())  # torch._scaled_mm, sm89+
    if name == "fp8dq-per_row":
        return Float8DynamicActivationFloat8WeightConfig(granularity=PerRow())
    raise ValueError(f"unknown torchao config {name!r}; allowed: {', '.join(TORCHAO_CONFIGS)}")


_PROJ_FILTER = object()  # stands for SGLang's default, proj_filter


def _this_module_only(module, fqn: str) -> bool:
    """The module handed in, if it holds a plain 2-D weight (not yet quantized, not a Conv3d)."""
    import torch

    weight = getattr(module, "weight", None)
    return (
        fqn == ""
        and type(weight) in (torch.nn.Parameter, torch.Tensor)
        and weight.dim() == 2
        and not isinstance(module, torch.nn.Conv3d)
    )


def apply_torchao_config_to_model(model, torchao_config: str, filter_fn=_PROJ_FILTER, summary: bool = True):
    """Drop-in for SGLang 0.5.17's function of the same name, with SGLang's filters:
    int8wo/fp8wo/fp8dq quantize every "proj" module but Conv3d; int8dq/int4wo use `filter_fn`
    (default: every "proj" module).

    `filter_fn=None` is what SGLang's layered loader passes for one "proj" module at a time,
    meaning "no filter". torchao reads None as "nn.Linear only", and SGLang's parallel linear
    layers are not nn.Linear, so SGLang's own code quantized nothing on that path; here None
    means the module given. `summary`: print the one-line summary (not once per layer)."""
    if not torchao_config:
        return model
    from sglang.srt.layers.torchao_utils import proj_filter, proj_filter_conv3d
    from torchao.quantization import quantize_

    if filter_fn is None:
        filter_fn = _this_module_only
    elif torchao_config in ("int8wo", "fp8wo") or torchao_config.startswith("fp8dq"):
        filter_fn = proj_filter_conv3d
    elif filter_fn is _PROJ_FILTER:
        filter_fn = proj_filter
    quantize_(model, torchao_config_object(torchao_config), filter_fn=filter_fn)
    if summary and filter_fn is not _this_module_only:  # once per model, not once per layer
        report(model, torchao_config)
    return model


def report(model, name: str, how: str = "after loading the whole model") -> None:
    """One line in SGLang's log from the process that quantized: the fix ran there, on what, and
    the memory the process holds right after (on CUDA: torch.cuda.memory_allocated)."""
    from collections import Counter

    import torch

    # torchao's quantized weights are tensor subclasses (Int8Tensor, …), even once made Parameters
    kinds = Counter(
        type(m.weight).__name__
        for m in model.modules()
        if isinstance(getattr(m, "weight", None), torch.Tensor)
        and type(m.weight) not in (torch.nn.Parameter, torch.Tensor)
    )
    found = ", ".join(f"{n} x {k}" for k, n in sorted(kinds.items())) or "no quantized weights"
    memory = ""
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        memory = f"; {torch.cuda.memory_allocated() / 2**30:.2f} GiB allocated on cuda:{torch.cuda.current_device()}"
    print(
        f"qwen-serve torchao fix: --torchao-config {name} -> {type(torchao_config_object(name)).__name__} "
        f"({how}): {found}{memory}",
        file=sys.stderr,
        flush=True,
    )


def needs_patch() -> bool:
    """SGLang's own function cannot run: the installed torchao lacks the old function names."""
    import torchao.quantization as q

    return not hasattr(q, "int4_weight_only")


def _flag_value(argv: list[str], flag: str) -> str | None:
    for i, arg in enumerate(argv):
        if arg == flag and i + 1 < len(argv):
            return argv[i + 1]
        if arg.startswith(flag + "="):
            return arg.split("=", 1)[1]
    return None
