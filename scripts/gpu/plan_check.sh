#!/usr/bin/env bash
# On the GPU machine (device tool, carry: [".gpu"]): the memory plan vs what SGLang really uses
# (scripts/gpu/plan_vs_measured.py), for configurations that run on SGLang 0.5.17 today.
#   export OUTDIR=$OUT; timeout 580 bash scripts/gpu/plan_check.sh
set -uo pipefail
OUTDIR=${OUTDIR:-${OUT:-./gpu_out}}; mkdir -p "$OUTDIR"
source scripts/gpu/env.sh
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader | tee "$OUTDIR/gpu.txt"
python3 scripts/gpu/plan_vs_measured.py --out /tmp/plan --model "$PWD/.gpu/qwen3-14b" --timeout 240 \
  --config "bf16=--preset high_performance" \
  --config "fp8_native=--preset high_performance --quantization fp8" \
  --config "bf16_fp8kv=--preset high_performance --kv-cache-dtype fp8_e4m3" \
  2>&1 | tee "$OUTDIR/bench.log"
cp /tmp/plan/plan_vs_measured.json "$OUTDIR/" 2>/dev/null
tar -C /tmp/plan -czf "$OUTDIR/logs.tar.gz" .
