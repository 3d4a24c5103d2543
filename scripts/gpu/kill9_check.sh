#!/usr/bin/env bash
# On the GPU machine (device tool, carry: [".gpu"]): kill -9 of qwen-serve with real SGLang serving ->
# no GPU process within 10 s (nvidia-smi), and SGLang's scheduler gone too. Writes $OUTDIR/kill9.log.
#   export OUTDIR=$OUT; timeout 400 bash scripts/gpu/kill9_check.sh
set -uo pipefail
OUTDIR=${OUTDIR:-${OUT:-./gpu_out}}; mkdir -p "$OUTDIR"
source scripts/gpu/env.sh
LOG=$OUTDIR/kill9.log
say() { echo "[$(date +%T)] $*" | tee -a "$LOG"; }
rm -f /tmp/ready.json
python3 -m qwen_serve --preset high_performance --model-path "$PWD/.gpu/qwen3-14b" --host 127.0.0.1 --port 30000 \
  --attention-backend triton --sampling-backend pytorch --load-format dummy --quiet --ready-file /tmp/ready.json \
  --log-file "$OUTDIR/server.log" -- --cuda-graph-max-bs 64 > "$OUTDIR/qwen_serve.txt" 2>&1 &
QPID=$!
for _ in $(seq 300); do [ -f /tmp/ready.json ] && break; kill -0 $QPID 2>/dev/null || break; sleep 1; done
[ -f /tmp/ready.json ] || { say "not ready"; tail -20 "$OUTDIR/qwen_serve.txt" | tee -a "$LOG"; exit 1; }
SPID=$(python3 -c 'import json; print(json.load(open("/tmp/ready.json"))["pid"])')
say "ready: SGLang's launch process $SPID; its process group: $(ps -o pid=,comm= -g "$SPID" | tr '\n' ';')"
say "GPU processes before: $(nvidia-smi --query-compute-apps=pid,process_name,used_memory --format=csv,noheader | tr '\n' ';') memory in use: $(nvidia-smi --query-gpu=memory.used --format=csv,noheader)"
say "kill -9 qwen-serve (pid $QPID)"
kill -9 $QPID
# nvidia-smi inside a container may list no process at all: the memory in use and SGLang's process group
# (its scheduler included) must both be gone too
for i in $(seq 20); do
  apps=$(nvidia-smi --query-compute-apps=pid --format=csv,noheader | grep -c .)
  used=$(nvidia-smi --query-gpu=memory.used --format=csv,noheader,nounits | head -1)
  left=$(ps -o pid= -g "$SPID" | tr '\n' ' ')
  say "after $((i / 2)).$((i % 2 * 5)) s: $apps GPU processes, $used MiB in use; left of SGLang's group: ${left:-none}"
  if [ "$apps" = 0 ] && [ "$used" -lt 2048 ] && [ -z "${left// /}" ]; then
    say "RESULT: no GPU process, $used MiB in use and SGLang's group gone $((i / 2)).$((i % 2 * 5)) s after kill -9"
    exit 0
  fi
  sleep 0.5
done
say "RESULT: GPU processes still there 10 s after kill -9"; nvidia-smi | tee -a "$LOG"; exit 1
