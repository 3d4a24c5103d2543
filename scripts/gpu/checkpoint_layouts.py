#!/usr/bin/env python3
"""On the GPU machine: model directories with the layout of Qwen's official checkpoints, made from one skeleton.

Each is the skeleton (real config, real tokenizer) with the checkpoint's own quantization_config in its config.json
(qwen_serve.model.OFFICIAL_CHECKPOINTS, as `qwen-serve skeleton --checkpoint` writes it); served with
`--load-format dummy`, SGLang runs that checkpoint's kernels (DeepGEMM block-FP8, awq_marlin) on random weights.

    python3 scripts/gpu/checkpoint_layouts.py .gpu/qwen3-14b /tmp/models   ->  /tmp/models/{fp8,awq}
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "src"))
from qwen_serve.model import OFFICIAL_CHECKPOINTS  # noqa: E402
from qwen_serve.skeleton import write_layout  # noqa: E402

SHORT = {"Qwen/Qwen3-14B-FP8": "fp8", "Qwen/Qwen3-14B-AWQ": "awq"}


def main(skeleton: str, out: str) -> None:
    for hub_id, quant in OFFICIAL_CHECKPOINTS.items():
        target = write_layout(skeleton, Path(out) / SHORT[hub_id], hub_id)  # what qwen-serve tune serves too
        print(f"{target}: {hub_id} layout, quantization_config {quant}")


if __name__ == "__main__":
    main(*sys.argv[1:3])
