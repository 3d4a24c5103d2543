"""SGLang 0.5.23, the newest: planned and checked against its own parser, not measured (it needs torch 2.14.1,
the GPU image has 2.11). It removed --torchao-config (0.5.18, sgl-project/sglang PR #34304), --cuda-graph-max-bs /
--cuda-graph-bs (now -decode / -prefill variants; qwen-serve sets neither) and the piecewise-graph flags; its
router is `smg`, the renamed SGLang Model Gateway (sglang-router stopped at 0.3.2)."""

from .. import Release
from .memory import MEMORY

RELEASE = Release(
    version="0.5.23",
    measured=False,
    torchao_config=False,
    torchao_needs_entry_fix=False,
    router_requirement="smg==1.13.0",  # the newest smg on PyPI when this adapter was written (2026-10)
    router_module="smg",
    memory=MEMORY,
    applies_from="0.5.18",  # --torchao-config left in 0.5.18: the releases from it on are planned with this one
    removed={
        "torchao_config": (
            "SGLang removed --torchao-config in 0.5.18 (sgl-project/sglang PR #34304)",
            "--quantization fp8 (online FP8 from the bf16 checkpoint, compute capability >= 8.9); "
            "a pre-quantized checkpoint: --model-path Qwen/Qwen3-14B-AWQ --quantization awq_marlin, "
            "or --model-path Qwen/Qwen3-14B-FP8; or install sglang==0.5.17 (uv sync)",
        ),
    },
)
