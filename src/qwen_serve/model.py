"""What a model directory says about its own weights: the checkpoint's quantization_config."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any


def checkpoint_quantization(model_path: str | None) -> dict[str, Any] | None:
    """`quantization_config` of a local model's config.json (AWQ, GPTQ, block-wise FP8, …); None for a
    bf16 checkpoint, a hub id not on disk, or an unreadable file (the preflight reports that)."""
    if not model_path:
        return None
    config = Path(model_path).expanduser() / "config.json"
    try:
        data = json.loads(config.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    quant = data.get("quantization_config") if isinstance(data, dict) else None
    return quant if isinstance(quant, dict) and quant.get("quant_method") else None


def checkpoint_scheme(quant: dict[str, Any] | None) -> str | None:
    """The plan's weight scheme for a pre-quantized checkpoint: Qwen/Qwen3-14B-AWQ (awq, 4 bits, group
    128) -> int4-checkpoint; Qwen/Qwen3-14B-FP8 (fp8, weight_block_size [128, 128]) -> fp8-checkpoint."""
    if not quant:
        return None
    method = str(quant.get("quant_method", "")).lower()
    if method in ("awq", "gptq") and int(quant.get("bits", quant.get("w_bit", 4))) == 4:
        return "int4-checkpoint"
    if method == "fp8":
        return "fp8-checkpoint"
    return None
