#!/usr/bin/env bash
# On the GPU machine (device tool, carry: [".gpu"]): qwen-bench and sglang.bench_serving in
# alternating passes (Q B B Q …, bench/interleave.py) at one concurrency on one server launched by
# qwen-serve, the same prompts for the two passes of a run; first a warm-up pass of 64 requests, not
# compared (a new server compiles kernels for new batch shapes), then as many blocks of four passes
# as fit in BUDGET seconds of the script (default 540: a 600 s device call under `timeout 570`).
# Afterwards compare_bench_serving.py pools every pass of each tool (stdout) and the per-pass table
# shows any drift over the call.
#   export OUTDIR=$OUT; [C=8] [REQUESTS=160] [FIRST=10] [BUDGET=540] timeout 570 bash scripts/gpu/bench_interleave.sh [qwen-bench flags …]
# Files: interleave.txt (the passes' output), passes.json, results.tar.gz (qwen_bench_R.json,
# bench_serving_R.jsonl), compare.txt, qwen_serve.txt, server.log.gz (SGLang's log).
set -uo pipefail
C=${C:-8}; REQUESTS=${REQUESTS:-160}; FIRST=${FIRST:-10}; BUDGET=${BUDGET:-540}
OUTDIR=${OUTDIR:-${OUT:-./gpu_out}}; mkdir -p "$OUTDIR"
source scripts/gpu/bench_server.sh  # MODEL QPID; the datasets stub
echo "server ready after $SECONDS s"
QB_ARGS=(); for flag in "$@"; do QB_ARGS+=("--qwen-bench-arg=$flag"); done
rm -rf /tmp/il
PYTHONPATH=/tmp/stub:$PYTHONPATH python3 bench/interleave.py --port 30000 --model "$MODEL" --concurrency "$C" \
  --requests "$REQUESTS" --warm-requests 64 --passes 400 --first "$FIRST" --time-limit $(( BUDGET - SECONDS - 20 )) \
  --out /tmp/il "${QB_ARGS[@]}" 2>&1 | tee "$OUTDIR/interleave.txt"
kill -TERM $QPID; wait $QPID
gzip -9f "$OUTDIR/server.log"
mv /tmp/il/passes.json "$OUTDIR/"
python3 bench/compare_bench_serving.py --ours /tmp/il/qwen_bench_*.json --theirs /tmp/il/bench_serving_*.jsonl \
  -o /tmp/compare.json | tee "$OUTDIR/compare.txt"
(cd /tmp/il && tar czf "$OUTDIR/results.tar.gz" -- *)
echo "script took $SECONDS s"; ls "$OUTDIR"
