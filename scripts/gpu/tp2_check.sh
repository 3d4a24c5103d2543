#!/usr/bin/env bash
# On a two-GPU machine (device tool, kind nvidia-h100-x2 or nvidia-h200-x2, carry: [".gpu"]):
# tensor parallel through qwen-serve, measured against tp 1 on one of the same GPUs.
# For each case: qwen-serve launches SGLang 0.5.17 on the Qwen3-14B skeleton (random weights),
# qwen-test runs every row, qwen-bench measures batch-1 decode (concurrency 1) and concurrency 64,
# the SGLang processes' environment is read back from /proc (NVLink multicast must stay off), and
# the plan for the same settings is written next to SGLang's log for the per-GPU memory check.
#
#   export OUTDIR=$OUT; timeout 590 bash scripts/gpu/tp2_check.sh [CASE…]
#   CASES: hp-tp2 (high_performance --tp-size 2), bal-tp2 (balanced --tp-size 2), hp-tp1 (one GPU)
#   default: hp-tp2 hp-tp1 bal-tp2 — ~3 launches with CUDA graphs; split over calls if one runs long.
set -uo pipefail
OUTDIR=${OUTDIR:-${OUT:-./gpu_out}}; mkdir -p "$OUTDIR"
# KINDS.md: NVLink multicast (NVLS) is unavailable on these machines; qwen-serve passes its
# environment to SGLang unchanged, so exporting here reaches every SGLang process (checked below).
export NCCL_NVLS_ENABLE=0 TORCH_SYMM_MEM_DISABLE_MULTICAST=1 NVSHMEM_DISABLE_NVLS=1
source scripts/gpu/env.sh
MODEL=$PWD/.gpu/qwen3-14b; PORT=30000
say() { echo "[$(date +%T)] $*" | tee -a "$OUTDIR/run.log"; }
say "GPUs: $(nvidia-smi --query-gpu=index,name,memory.total --format=csv,noheader | tr '\n' ';')"
CASES=("$@"); [ ${#CASES[@]} -gt 0 ] || CASES=(hp-tp2 hp-tp1 bal-tp2)

for case in "${CASES[@]}"; do
  case $case in
    hp-tp2) ARGS=(--preset high_performance --tp-size 2); VISIBLE=0,1 ;;
    bal-tp2) ARGS=(--preset balanced --tp-size 2); VISIBLE=0,1 ;;
    hp-tp1) ARGS=(--preset high_performance --tp-size 1); VISIBLE=0 ;;
    *) say "unknown case $case"; continue ;;
  esac
  dir="$OUTDIR/$case"; mkdir -p "$dir"; rm -f /tmp/ready.json
  SERVE=(python3 -m qwen_serve "${ARGS[@]}" --model-path "$MODEL" --host 127.0.0.1 --port $PORT
         --attention-backend triton --sampling-backend pytorch)
  CUDA_VISIBLE_DEVICES=$VISIBLE "${SERVE[@]}" --dry-run --json --load-format dummy > "$dir/dry_run.json" 2>&1
  say "$case: ${SERVE[*]:3} (CUDA_VISIBLE_DEVICES=$VISIBLE)"
  T0=$(date +%s)
  CUDA_VISIBLE_DEVICES=$VISIBLE "${SERVE[@]}" --quiet --ready-file /tmp/ready.json --log-file "$dir/server.log" \
    --ready-timeout 420 --load-format dummy > "$dir/qwen_serve.txt" 2>&1 &
  QPID=$!
  while [ ! -f /tmp/ready.json ] && kill -0 $QPID 2>/dev/null; do sleep 1; done
  if [ ! -f /tmp/ready.json ]; then say "$case: not ready"; tail -20 "$dir/qwen_serve.txt" >> "$OUTDIR/run.log"; continue; fi
  say "$case: ready after $(( $(date +%s) - T0 )) s"
  cp /tmp/ready.json "$dir/ready.json"
  for p in $(pgrep -f "sglang" | grep -v $$); do
    tr '\0' '\n' < /proc/$p/environ 2>/dev/null | grep -E '^(NCCL_NVLS_ENABLE|TORCH_SYMM_MEM_DISABLE_MULTICAST|NVSHMEM_DISABLE_NVLS|CUDA_VISIBLE_DEVICES)=' \
      | sed "s/^/pid $p: /"
  done > "$dir/sglang_env.txt"
  nvidia-smi --query-gpu=index,memory.used --format=csv,noheader > "$dir/gpu_memory_ready.txt"
  python3 -c "from qwen_serve.cli import qwen_test_main; qwen_test_main()" --port $PORT --json > "$dir/qwen_test.json" 2>&1
  say "$case: qwen-test exit $?"
  python3 -c "from qwen_serve.cli import bench_main; bench_main()" --port $PORT --tokenizer "$MODEL" \
    --input-len 512 --output-len 128 --concurrency 1,64 --warmup 4 --label "$case" --out "$dir/qwen_bench.json" \
    > "$dir/qwen_bench.txt" 2>&1
  say "$case: qwen-bench exit $?"; tail -6 "$dir/qwen_bench.txt" >> "$OUTDIR/run.log"
  kill -TERM $QPID; wait $QPID; say "$case: qwen-serve exit $?"
  sleep 3
done
