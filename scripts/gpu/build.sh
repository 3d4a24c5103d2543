#!/usr/bin/env bash
# Build .gpu/ (git-ignored) for the GPU machine, on the CPU machine (PyPI access, ~2 minutes):
# the slim SGLang 0.5.17 bundle, the launcher's own deps, and the Qwen3-14B skeleton.
# The device tool then carries it: run(carry=[".gpu"], command="... bash scripts/gpu/serve_and_check.sh").
set -euo pipefail
cd "$(dirname "$0")/../.."
mkdir -p .gpu
[ -f .gpu/site.tar.xz ] || bash scripts/gpu/build_bundle.sh .gpu
[ -f .gpu/launcher-site.tar.xz ] || bash scripts/gpu/build_launcher_site.sh .gpu
[ -f .gpu/qwen3-14b/tokenizer.json ] || uv run qwen-serve skeleton .gpu/qwen3-14b
[ -f .gpu/qwen3-14b.tar.xz ] || tar -C .gpu -cJf .gpu/qwen3-14b.tar.xz qwen3-14b  # 1.2 MB to carry instead of 5.8
# FA3, in parts (1.12 GB unpacked): FA3=1 builds them (~8 min)
[ -z "${FA3:-}" ] || [ -f .gpu/fa3/SHA256SUMS ] || bash scripts/gpu/build_fa3.sh .gpu
# ROUTER=1: sglang-router too, for --replicas runs (about 17 MB more to carry)
[ -z "${ROUTER:-}" ] || [ -f .gpu/router.tar.xz ] || bash scripts/gpu/build_router.sh .gpu
du -sh .gpu
