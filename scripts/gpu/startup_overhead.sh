#!/usr/bin/env bash
# On the GPU machine (device tool, carry: [".gpu"]): seconds to ready through qwen-serve vs the
# same argv run directly (scripts/gpu/startup_overhead.py), logs tarred into $OUT.
#   export OUTDIR=$OUT; timeout 580 bash scripts/gpu/startup_overhead.sh [RUNS] [extra SGLang flags]
set -uo pipefail
RUNS=${1:-direct,qwen-serve,direct,qwen-serve}; shift || true
OUTDIR=${OUTDIR:-${OUT:-./gpu_out}}; mkdir -p "$OUTDIR"
source scripts/gpu/env.sh
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader | tee "$OUTDIR/gpu.txt"
python3 scripts/gpu/startup_overhead.py --out /tmp/startup --runs "$RUNS" --budget "${BUDGET:-390}" -- \
  --preset high_performance --model-path "$PWD/.gpu/qwen3-14b" --attention-backend triton \
  --sampling-backend pytorch --load-format dummy "$@" 2>&1 | tee "$OUTDIR/bench.log"
cp /tmp/startup/startup.json "$OUTDIR/"
tar -C /tmp/startup -czf "$OUTDIR/logs.tar.gz" .
