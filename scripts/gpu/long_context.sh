#!/usr/bin/env bash
# On the GPU machine: issue #29 points 2 and 3 through qwen-serve itself. Launch
#   qwen-serve --preset auto --context-length 131072 (YaRN turned on by qwen-serve) on a checkpoint layout,
# send one long prompt (scripts/gpu/long_prompt.py: TTFT, token counts), run every qwen-test check (tools among
# them: a named tool_choice must come back as tool_calls whose arguments parse against the schema), stop.
#   export OUTDIR=$OUT MODEL=/tmp/models/fp8; timeout 400 bash scripts/gpu/long_context.sh [extra qwen-serve flags]
# TOKENS=0 sends no prompt of its own; ONLY=tools,chat runs only those qwen-test checks.
# Writes to $OUTDIR/long_context: dry_run.txt, server.log, long_prompt.json, qwen_test.json, run.log
set -uo pipefail
OUTDIR=${OUTDIR:-${OUT:-./gpu_out}}/long_context; mkdir -p "$OUTDIR"
LOG="$OUTDIR/run.log"; PORT=${PORT:-30100}; KEY=${KEY:-sk-qwen-serve-long-context}
MODEL=${MODEL:-$PWD/.gpu/qwen3-14b}; TOKENS=${TOKENS:-100000}; READY_TIMEOUT=${READY_TIMEOUT:-300}
say() { echo "[$(date +%T)] $*" | tee -a "$LOG"; }
source scripts/gpu/env.sh
SERVE=(python3 -m qwen_serve --preset auto --context-length 131072 --model-path "$MODEL" --load-format dummy
       --host 127.0.0.1 --port "$PORT" --api-key "$KEY" "$@")
say "$(echo "qwen-serve ${SERVE[*]:3}" | sed "s/$KEY/****/g")"
python3 -m qwen_serve --dry-run "${SERVE[@]:3}" > "$OUTDIR/dry_run.txt" 2>&1; say "dry run exit $?"
T0=$(date +%s.%N)
"${SERVE[@]}" > "$OUTDIR/server.log" 2>&1 &
QPID=$!
wait_ready $QPID "$OUTDIR/server.log" "$READY_TIMEOUT"
say "ready=$ready after $(python3 -c "import time; print(round(time.time() - $T0, 1))") s"
if [ $ready = 1 ] && [ "$TOKENS" -gt 0 ]; then
  python3 scripts/gpu/long_prompt.py --port "$PORT" --api-key "$KEY" --tokens 1000 > "$OUTDIR/short_prompt.json" 2>>"$LOG"
  say "1,000-token prompt: $(cat "$OUTDIR/short_prompt.json")"
  python3 scripts/gpu/long_prompt.py --port "$PORT" --api-key "$KEY" --tokens "$TOKENS" > "$OUTDIR/long_prompt.json" 2>>"$LOG"
  say "$TOKENS-token prompt (exit $?): $(cat "$OUTDIR/long_prompt.json")"
fi
if [ $ready = 1 ]; then
  QT=(python3 -c "from qwen_serve.cli import qwen_test_main; qwen_test_main()" --port "$PORT" --api-key "$KEY" --wait 30 ${ONLY:+--only "$ONLY"})
  "${QT[@]}" --json > "$OUTDIR/qwen_test.json" 2>>"$LOG"; say "qwen-test --json exit $?"
  COLUMNS=160 "${QT[@]}" 2>&1 | tee -a "$LOG" > "$OUTDIR/qwen_test.txt"
fi
kill -TERM $QPID 2>/dev/null; wait $QPID; say "qwen-serve exit code $?"
say "KV: $(grep -m1 -o 'max_total_num_tokens=[0-9]*' "$OUTDIR/server.log")"
say "override: $(grep -m1 -o 'json_model_override_args=[^,]*,' "$OUTDIR/server.log")"
