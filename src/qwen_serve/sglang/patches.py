"""What `python -m qwen_serve.sglang.entry` puts into SGLang's processes before SGLang runs: the torchao fix
(torchao_fix.py) and, for --load-format layered, the layered loader (layered_load.py). The one module that knows
both, so that neither imports the other."""

from __future__ import annotations

import sys

from .torchao_fix import _flag_value, apply_torchao_config_to_model, needs_patch


def install(argv: list[str] | None = None) -> bool:
    """Put the working function in SGLang's place when --torchao-config is used; True if done."""
    argv = sys.argv if argv is None else argv
    if not _flag_value(argv, "--torchao-config"):
        return False
    if not needs_patch():
        return False
    import sglang.srt.layers.torchao_utils as torchao_utils

    # model_runner does `from …torchao_utils import apply_torchao_config_to_model` when it is
    # first imported, which happens after this in every SGLang process; the layered loader
    # looks the name up at call time. Both get this function.
    torchao_utils.apply_torchao_config_to_model = apply_torchao_config_to_model
    model_runner = sys.modules.get("sglang.srt.model_executor.model_runner")
    if model_runner is not None:
        model_runner.apply_torchao_config_to_model = apply_torchao_config_to_model
    if _flag_value(argv, "--load-format") == "layered":
        # SGLang 0.5.17's LayeredModelLoader cannot load Qwen3 (see sglang/layered_load.py)
        from sglang.srt.model_loader.loader import LayeredModelLoader

        from .layered_load import layered_load_model

        LayeredModelLoader.load_model = layered_load_model
    return True
