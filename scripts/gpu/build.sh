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
# ROUTER=1: sglang-router too, for --replicas runs (about 17 MB more to carry)
[ -z "${ROUTER:-}" ] || [ -f .gpu/router.tar.xz ] || bash scripts/gpu/build_router.sh .gpu
du -sh .gpu
