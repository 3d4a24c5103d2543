#!/usr/bin/env bash
# Its order is fixed: in each repeat qwen-bench runs before bench_serving. On the H100 qwen-bench's TTFT
# at concurrency 8 came out 2.8-5.8 % higher that way, a lean that did not show once the tools took
# turns on the H200 (scripts/gpu/bench_interleave.sh, Q B B Q: the comparison of record since
# 2026-12-01, bench/results/h200/bench/).
# On the GPU machine (device tool, carry: [".gpu"]): one server launched by qwen-serve, measured
# by qwen-bench and by SGLang's own benchmark (sglang.benchmark.serving, backend sglang-oai =
# the same streamed /v1/completions, dataset random-ids = exact lengths offline) at the same
# lengths and concurrency levels; then the agreement table (plot it on the CPU machine).
# Both tools run REPEAT times, interleaved, so each one's run-to-run spread is measured too
# (2026-11-25 ran each once: TTFT differed by up to 46 % with no way to tell noise from bias),
# each with 4 warm-up requests, an emptied prefix cache before every level, and prompts never
# sent before (qwen-bench reused prompts across levels then, so SGLang's radix cache served part
# of their prefill).
# bench_serving spends ~30 s per invocation outside its measurement (imports, tokenizer, warm-up),
# so two repeats of 1,8,32,64 plus a cold start overrun one 600 s device call: run one repeat per
# call with FIRST = 1, 2, … (distinct seeds, run-numbered files) and compare all files afterwards.
# BS_MODE=text (default): bench_serving's OpenAI backend, the same /v1/completions qwen-bench uses;
# random-ids then sends *decoded text* of consecutive token ids, which the server re-tokenizes to
# 489-681 tokens, not the 512 asked for (bench/bench_serving_prompts.py recomputes them exactly).
# BS_MODE=ids: its native backend with --tokenize-prompt, which sends the token ids themselves
# (POST /generate, exactly 512): the same work on the GPU as qwen-bench's exact-length prompts.
# REPLAY=1 (with text): qwen-bench sends bench_serving's very prompts (bench/bench_serving_prompts.py
# rebuilds them from the seed), so both tools put the same work on the same endpoint.
# NEWCONN=1: qwen-bench opens a new connection per request, as bench_serving does (keep-alive otherwise);
# NEWCONN=both runs qwen-bench both ways before bench_serving (with REPLAY=1, levels 1,8,64 fit one
# 600 s call; run 5, one qwen-bench pass at 1,8,32,64, took 468 s).
# REQUESTS=N: N requests per level for both tools instead of max(16, 4 x concurrency) (qwen-bench --rounds 4:
# every run so far used 4 rounds; its default is now 10, see bench/results/h100/bench/README.md). Both tools
# keep every request (qwen-bench's per_request, bench_serving's --output-details), and
# bench/compare_bench_serving.py puts a 95 % bootstrap interval on the TTFT difference: at
# concurrency 8 TTFT spreads over ~40-230 ms, and 32 requests per run cannot settle a p50 to 5 %.
# NOUSAGE=1: qwen-bench --no-stream-usage (no usage chunk, as bench_serving asks none; files *_nousage_*);
# NOUSAGE=both runs each connection variant with the usage chunk, then without. NEWCONN=1 NOUSAGE=1:
# qwen-bench sends bench_serving's very requests (2026-11-25-c left its TTFT mean at concurrency 8 a
# few % above bench_serving's; the usage chunk is the one request field that differs).
# ROUNDS=R: max(16, R x concurrency) requests per level for both tools (default 4; REQUESTS overrides it).
# More than 8 result files (the device returns at most 8) are packed into one results.tar.gz.
#   export OUTDIR=$OUT; [BS_MODE=ids | REPLAY=1] [NEWCONN=1|both] [NOUSAGE=1|both] [REQUESTS=N | ROUNDS=R] timeout 570 bash scripts/gpu/bench_compare.sh [LEVELS] [REPEAT] [FIRST]
set -uo pipefail
LEVELS=${1:-1,8,32,64}; REPEAT=${2:-2}; FIRST=${3:-1}; BS_MODE=${BS_MODE:-text}; REPLAY=${REPLAY:-0}; NEWCONN=${NEWCONN:-0}
REQUESTS=${REQUESTS:-}; ROUNDS=${ROUNDS:-4}; NOUSAGE=${NOUSAGE:-0}
case $NOUSAGE in 0|1|both) ;; *) echo "NOUSAGE must be 0, 1 or both, not $NOUSAGE" >&2; exit 2 ;; esac
case $REQUESTS in ''|*[!0-9]*) [ -z "$REQUESTS" ] || { echo "REQUESTS must be a positive integer, not $REQUESTS" >&2; exit 2; } ;; esac
case $ROUNDS in ''|0|*[!0-9]*) echo "ROUNDS must be a positive integer, not $ROUNDS" >&2; exit 2 ;; esac
count() { if [ -n "$REQUESTS" ]; then echo "$REQUESTS"; else echo $(( $1 * ROUNDS > 16 ? $1 * ROUNDS : 16 )); fi; }
case $NEWCONN in 0|1|both) ;; *) echo "NEWCONN must be 0, 1 or both, not $NEWCONN" >&2; exit 2 ;; esac
case $BS_MODE in
  text) BS_ARGS="--backend sglang-oai"; BS_NAME=bench_serving ;;
  ids) BS_ARGS="--backend sglang --tokenize-prompt"; BS_NAME=bench_serving_ids ;;
  *) echo "BS_MODE must be text or ids, not $BS_MODE" >&2; exit 2 ;;
esac
OUTDIR=${OUTDIR:-${OUT:-./gpu_out}}; mkdir -p "$OUTDIR"
source scripts/gpu/bench_server.sh  # MODEL IN OUTLEN QPID; the datasets stub
NAMES=""  # the qwen-bench variants run, each compared with bench_serving at the end
for r in $(seq "$FIRST" $(( FIRST + REPEAT - 1 ))); do  # interleaved: qwen-bench, bench_serving, qwen-bench, … (drift hits both)
  QB_NAME=qwen_bench; PROMPTS="--input-len $IN"
  if [ "$REPLAY" = 1 ]; then
    QB_NAME=qwen_bench_replay; PROMPTS="--prompts /tmp/prompts_$r.jsonl"
    PYTHONPATH=/tmp/stub:$PYTHONPATH python3 bench/bench_serving_prompts.py --tokenizer "$MODEL" --input-len $IN \
      --output-len $OUTLEN --levels "$LEVELS" --run $r --warmup 4 --rounds $ROUNDS ${REQUESTS:+--requests $REQUESTS} \
      -o /tmp/prompts_$r.jsonl 2>&1 | grep -v '^#'
  fi
  case $NEWCONN in 0) CONNS="keep" ;; 1) CONNS="new" ;; both) CONNS="keep new" ;; esac
  case $NOUSAGE in 0) USAGES="usage" ;; 1) USAGES="nousage" ;; both) USAGES="usage nousage" ;; esac
  for u in $USAGES; do
    for v in $CONNS; do  # "both": the same prompts again, keep-alive then a connection per request
      name=$QB_NAME; flags=$PROMPTS
      [ "$u" = nousage ] && { name=${name}_nousage; flags="$flags --no-stream-usage"; }
      [ "$v" = new ] && { name=${name}_newconn; flags="$flags --new-connection-per-request"; }
      case " $NAMES " in *" $name "*) ;; *) NAMES="$NAMES $name" ;; esac
      python3 -c "from qwen_serve.cli import bench_main; bench_main()" --port 30000 --tokenizer "$MODEL" \
        $flags --output-len $OUTLEN --concurrency "$LEVELS" --warmup 4 --flush-cache --seed $r \
        ${REQUESTS:+--requests $REQUESTS} --rounds $ROUNDS \
        --out "$OUTDIR/${name}_$r.json" \
        2>&1 | tee "$OUTDIR/${name}_$r.txt"
    done
  done
  for c in ${LEVELS//,/ }; do
    n=$(count "$c")
    PYTHONPATH=/tmp/stub:$PYTHONPATH python3 -m sglang.benchmark.serving $BS_ARGS --host 127.0.0.1 \
      --port 30000 --model "$MODEL" --tokenizer "$MODEL" --dataset-name random-ids --random-input-len $IN \
      --random-output-len $OUTLEN --random-range-ratio 1 --num-prompts $n --max-concurrency $c \
      --warmup-requests 4 --flush-cache --seed $(( 1000 * r + c )) --output-details \
      --output-file "$OUTDIR/${BS_NAME}_$r.jsonl" 2>&1 | tail -25 >> "$OUTDIR/${BS_NAME}_$r.txt"
  done
done
kill -TERM $QPID; wait $QPID
gzip -9f "$OUTDIR/server.log"  # the device returns at most 8 files: the comparison goes to stdout only
for name in $NAMES; do  # each variant's runs pooled
  ours=$(cd "$OUTDIR" && ls ${name}_[0-9]*.json 2>/dev/null | sed "s|^|$OUTDIR/|")
  [ -n "$ours" ] || continue
  echo "== ${name}_*.json vs ${BS_NAME}_*.jsonl"
  python3 bench/compare_bench_serving.py --ours $ours --theirs "$OUTDIR"/${BS_NAME}_*.jsonl -o /tmp/compare.json
done
if [ "$(ls "$OUTDIR" | wc -l)" -gt 8 ]; then
  (cd "$OUTDIR" && tar czf /tmp/results.tar.gz --remove-files -- * && mv /tmp/results.tar.gz .)
  echo "packed into results.tar.gz: $(tar tzf "$OUTDIR/results.tar.gz" | tr '\n' ' ')"
fi
# matplotlib is not in the GPU bundle: plot on the CPU machine afterwards
#   uv run qwen-bench plot …/qwen_bench_*.json …/bench_serving_*.jsonl -o …/throughput_vs_latency.png
