#!/usr/bin/env bash
# On the GPU machine (device tool, carry: [".gpu"]): launch real SGLang 0.5.17 THROUGH qwen-serve on
# the Qwen3-14B skeleton with random weights, run qwen-test (every row) and
# scripts/sglang_example.py (all four programs), stop it with SIGTERM, check the GPU is clean.
#
#   export OUTDIR=$OUT; timeout 570 bash scripts/gpu/serve_and_check.sh [PRESET] [extra qwen-serve flags]
#
# Needs .gpu/ built on the CPU machine (scripts/gpu/build.sh). Writes to $OUTDIR:
#   dry_run.txt, server.log, qwen_test.json, qwen_test.txt, sglang_example.txt, run.log
set -uo pipefail
PRESET=${1:-high_performance}; shift || true
OUTDIR=${OUTDIR:-${OUT:-./gpu_out}}; mkdir -p "$OUTDIR"
LOG="$OUTDIR/run.log"; PORT=${PORT:-30000}; KEY=${KEY:-sk-qwen-serve-gpu-check}
READY_TIMEOUT=${READY_TIMEOUT:-450}
say() { echo "[$(date +%T)] $*" | tee -a "$LOG"; }
source scripts/gpu/env.sh
say "GPU: $(nvidia-smi --query-gpu=name,memory.total,memory.used,driver_version --format=csv,noheader)"
say "python: $(python3 -c 'import sys, torch, importlib.metadata as m; print(sys.version.split()[0], "torch", torch.__version__, "sglang", m.version("sglang"), "transformers", m.version("transformers"))' 2>&1 | tail -1)"
python3 -c "import click, rich, yaml, httpx, packaging, jsonschema, openai" 2>&1 | tee -a "$LOG" || exit 1

MODEL=$PWD/.gpu/qwen3-14b
SERVE=(python3 -m qwen_serve --preset "$PRESET" --model-path "$MODEL" --host 127.0.0.1 --port "$PORT"
       --api-key "$KEY" --attention-backend triton --sampling-backend pytorch "$@")
PASS=(--load-format dummy)
say "qwen-serve ${SERVE[*]:3} ${PASS[*]}" | sed "s/$KEY/****/g"
"${SERVE[@]}" --dry-run "${PASS[@]}" > "$OUTDIR/dry_run.txt" 2>&1; cat "$OUTDIR/dry_run.txt" >> "$LOG"

T0=$(date +%s.%N)
"${SERVE[@]}" "${PASS[@]}" > "$OUTDIR/server.log" 2>&1 &
QPID=$!
trap 'kill -TERM $QPID 2>/dev/null; sleep 15; pkill -KILL -f sglang 2>/dev/null; exit 143' TERM INT
wait_ready $QPID "$OUTDIR/server.log" "$READY_TIMEOUT"
say "ready=$ready after $(python3 -c "import time; print(round(time.time() - $T0, 1))") s"

if [ $ready = 1 ]; then
  QT=(python3 -c "from qwen_serve.cli import qwen_test_main; qwen_test_main()" --port "$PORT" --api-key "$KEY" --wait 60)
  "${QT[@]}" --json > "$OUTDIR/qwen_test.json" 2>>"$LOG"; say "qwen-test --json exit $?"
  COLUMNS=160 "${QT[@]}" > "$OUTDIR/qwen_test.txt" 2>&1; say "qwen-test (table) exit $?"
  cat "$OUTDIR/qwen_test.txt" >> "$LOG"
  timeout 240 python3 scripts/sglang_example.py --port "$PORT" --api-key "$KEY" > "$OUTDIR/sglang_example.txt" 2>&1
  say "sglang_example.py exit $?"; tail -3 "$OUTDIR/sglang_example.txt" >> "$LOG"
fi

say "SIGTERM to qwen-serve (pid $QPID)"; TS=$(date +%s.%N)
kill -TERM $QPID 2>/dev/null
wait $QPID; RC=$?
say "qwen-serve exit code $RC, $(python3 -c "import time; print(round(time.time() - $TS, 1))") s after SIGTERM"
sleep 3
say "sglang processes left: [$(pgrep -fa 'sglang.launch_server|sglang::' | grep -v pgrep | tr '\n' ' ')]"
say "GPU processes after stop: [$(nvidia-smi --query-compute-apps=pid,used_memory --format=csv,noheader | tr '\n' ' ')]"
say "GPU memory after stop: $(nvidia-smi --query-gpu=memory.used --format=csv,noheader)"
