#!/usr/bin/env bash
# On the GPU machine (device tool, carry: [".gpu"]): one server launched by qwen-serve, measured
# by qwen-bench and by SGLang's own benchmark (sglang.benchmark.serving, backend sglang-oai =
# the same streamed /v1/completions, dataset random-ids = exact lengths offline) at the same
# lengths and concurrency levels; then the agreement table (plot it on the CPU machine).
# Both tools run REPEAT times, interleaved, so each one's run-to-run spread is measured too
# (2026-11-25 ran each once: TTFT differed by up to 46 % with no way to tell noise from bias),
# each with 4 warm-up requests, an emptied prefix cache before every level, and prompts never
# sent before (qwen-bench reused prompts across levels then, so SGLang's radix cache served part
# of their prefill).
#   export OUTDIR=$OUT; timeout 580 bash scripts/gpu/bench_compare.sh [LEVELS] [REPEAT]
set -uo pipefail
LEVELS=${1:-1,8,32,64}; REPEAT=${2:-2}
OUTDIR=${OUTDIR:-${OUT:-./gpu_out}}; mkdir -p "$OUTDIR"
source scripts/gpu/env.sh
MODEL=$PWD/.gpu/qwen3-14b; IN=512; OUTLEN=128
# bench_serving imports `datasets` at load time; random-ids never calls it (see shared GPU recipe)
mkdir -p /tmp/stub/datasets && echo 'def load_dataset(*a, **k): raise RuntimeError("offline")' > /tmp/stub/datasets/__init__.py
python3 -m qwen_serve --preset high_performance --model-path "$MODEL" --host 127.0.0.1 --port 30000 \
  --attention-backend triton --sampling-backend pytorch --quiet --ready-file /tmp/ready.json \
  --log-file "$OUTDIR/server.log" -- --load-format dummy > "$OUTDIR/qwen_serve.txt" 2>&1 &
QPID=$!
for _ in $(seq 420); do [ -f /tmp/ready.json ] && break; sleep 1; done
[ -f /tmp/ready.json ] || { echo "not ready"; kill -TERM $QPID; exit 1; }
for r in $(seq "$REPEAT"); do  # interleaved: qwen-bench, bench_serving, qwen-bench, … (drift hits both)
  python3 -c "from qwen_serve.cli import bench_main; bench_main()" --port 30000 --tokenizer "$MODEL" \
    --input-len $IN --output-len $OUTLEN --concurrency "$LEVELS" --warmup 4 --flush-cache --seed $r \
    --out "$OUTDIR/qwen_bench_$r.json" \
    2>&1 | tee "$OUTDIR/qwen_bench_$r.txt"
  for c in ${LEVELS//,/ }; do
    n=$(( c * 4 > 16 ? c * 4 : 16 ))
    PYTHONPATH=/tmp/stub:$PYTHONPATH python3 -m sglang.benchmark.serving --backend sglang-oai --host 127.0.0.1 \
      --port 30000 --model "$MODEL" --tokenizer "$MODEL" --dataset-name random-ids --random-input-len $IN \
      --random-output-len $OUTLEN --random-range-ratio 1 --num-prompts $n --max-concurrency $c \
      --warmup-requests 4 --flush-cache --seed $(( 1000 * r + c )) \
      --output-file "$OUTDIR/bench_serving_$r.jsonl" 2>&1 | tail -25 >> "$OUTDIR/bench_serving_$r.txt"
  done
done
kill -TERM $QPID; wait $QPID
python3 bench/compare_bench_serving.py --ours "$OUTDIR"/qwen_bench_*.json --theirs "$OUTDIR"/bench_serving_*.jsonl \
  -o "$OUTDIR/compare.json" | tee "$OUTDIR/compare.txt"
# matplotlib is not in the GPU bundle: plot on the CPU machine afterwards
#   uv run qwen-bench plot …/qwen_bench_*.json …/bench_serving_*.jsonl -o …/throughput_vs_latency.png
