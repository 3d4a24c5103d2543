#!/usr/bin/env python3
"""On the GPU machine: a Qwen3-14B checkpoint of random bf16 weights in safetensors shards.

SGLang 0.5.17's layered loader reads real weight files (it resets --load-format dummy to auto),
so measuring its peak at load needs files on disk: ~29.5 GB, written here in shards of 4 layers
(torch.randn on the GPU, std 0.02; norms at 1), plus the skeleton's config and tokenizer.
    python3 scripts/gpu/random_checkpoint.py .gpu/qwen3-14b /tmp/qwen3-14b-random
"""

import json
import shutil
import sys
import time
from pathlib import Path

import torch
from safetensors.torch import save_file

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "src"))
from qwen_serve.skeleton import weight_shapes  # noqa: E402


def main() -> int:
    skeleton, out = Path(sys.argv[1]), Path(sys.argv[2])
    out.mkdir(parents=True, exist_ok=True)
    for f in skeleton.iterdir():
        shutil.copy(f, out / f.name)
    config = json.loads((skeleton / "config.json").read_text())
    shapes = weight_shapes(config)
    groups: dict[str, list[str]] = {}
    for name in shapes:
        layer = name.split(".")[2] if name.startswith("model.layers.") else "rest"
        key = "rest" if layer == "rest" else f"layers{int(layer) // 4:02d}"
        groups.setdefault(key, []).append(name)
    index, t0, total = {}, time.time(), 0
    for n, (_group, names) in enumerate(sorted(groups.items())):
        shard = f"model-{n + 1:05d}-of-{len(groups):05d}.safetensors"
        tensors = {}
        for name in names:
            shape = shapes[name]
            t = (
                torch.ones(shape, dtype=torch.bfloat16, device="cuda")
                if len(shape) == 1
                else (torch.randn(shape, dtype=torch.bfloat16, device="cuda") * 0.02)
            )
            tensors[name] = t.cpu()
            total += t.numel() * 2
            index[name] = shard
        save_file(tensors, str(out / shard), metadata={"format": "pt"})
    (out / "model.safetensors.index.json").write_text(
        json.dumps({"metadata": {"total_size": total}, "weight_map": index})
    )
    print(f"wrote {len(groups)} shards, {total / 2**30:.2f} GiB, in {time.time() - t0:.0f} s to {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
