#!/usr/bin/env bash
# On the GPU machine (device tool, carry: [".gpu"]): the torchao presets through qwen-serve's fix
# next to bf16 and SGLang's native fp8, with memory, KV tokens, peak at load, chat, batch-1 decode
# and concurrency-64 throughput (scripts/gpu/plan_vs_measured.py --speed); first the unpatched
# `python -m sglang.launch_server --torchao-config` for its ImportError. ~100 s per configuration:
# split the list over calls (each call must stay under 10 minutes). SPEED= (empty): memory only.
#   export OUTDIR=$OUT; timeout 580 bash scripts/gpu/torchao_check.sh unpatched bf16 int4wo-128 int4wo-64
#   export OUTDIR=$OUT; timeout 580 bash scripts/gpu/torchao_check.sh fp8_native int8wo fp8dq-per_tensor fp8dq-per_row
#   export OUTDIR=$OUT; timeout 580 bash scripts/gpu/torchao_check.sh layered-int4wo-128 whole-int4wo-128
#     (writes ~30 GB of random weights first; layered-X loads them layer by layer, whole-X the default way)
set -uo pipefail
OUTDIR=${OUTDIR:-${OUT:-./gpu_out}}; mkdir -p "$OUTDIR"
source scripts/gpu/env.sh
MODEL=$PWD/.gpu/qwen3-14b
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader | tee "$OUTDIR/gpu.txt"
CONFIGS=(); LAYERED=()
for name in "$@"; do
  case $name in
    unpatched)
      timeout 200 python3 -m sglang.launch_server --model-path "$MODEL" --load-format dummy --host 127.0.0.1 \
        --port 30000 --torchao-config int4wo-128 --attention-backend triton --sampling-backend pytorch \
        --disable-cuda-graph > /tmp/unpatched.log 2>&1
      echo "unpatched exit $?" | tee "$OUTDIR/unpatched.txt"
      grep -n "ImportError\|cannot import name" /tmp/unpatched.log | head -5 | tee -a "$OUTDIR/unpatched.txt"
      cp /tmp/unpatched.log "$OUTDIR/unpatched_server.log" ;;
    layered-*|whole-*)  # real safetensors on disk (the layered loader reads files; dummy weights skip it)
      [ -d /tmp/qwen3-14b-random ] || python3 scripts/gpu/random_checkpoint.py "$MODEL" /tmp/qwen3-14b-random | tee -a "$OUTDIR/bench.log"
      fmt=auto; [ "${name%%-*}" = layered ] && fmt=layered
      LAYERED+=(--config "$name=--preset high_performance --torchao-config ${name#*-} --load-format $fmt") ;;
    bf16) CONFIGS+=(--config "bf16=--preset high_performance") ;;
    fp8_native) CONFIGS+=(--config "fp8_native=--preset high_performance --quantization fp8") ;;
    *) CONFIGS+=(--config "$name=--preset high_performance --torchao-config $name") ;;
  esac
done
if [ ${#LAYERED[@]} -gt 0 ]; then
  python3 scripts/gpu/plan_vs_measured.py --out /tmp/torchao --model /tmp/qwen3-14b-random --timeout 300 --real-weights \
    "${LAYERED[@]}" 2>&1 | tee -a "$OUTDIR/bench.log"
fi
if [ ${#CONFIGS[@]} -gt 0 ]; then
  python3 scripts/gpu/plan_vs_measured.py --out /tmp/torchao --model "$MODEL" --timeout 240 ${SPEED---speed} "${CONFIGS[@]}" \
    2>&1 | tee -a "$OUTDIR/bench.log"
fi
cp /tmp/torchao/plan_vs_measured*.json "$OUTDIR/" 2>/dev/null
[ -d /tmp/torchao ] && tar -C /tmp/torchao -czf "$OUTDIR/logs.tar.gz" .
