#!/usr/bin/env bash
# On the GPU machine (device tool, carry: [".gpu"]): a preset's peak GPU memory while it loads real
# safetensors files (scripts/gpu/random_checkpoint.py's random bf16 Qwen3-14B), read as the highest of
# nvidia-smi's memory.used every 50 ms over the whole start, with the KV pool held to 4,096 tokens
# (--max-total-tokens) and no CUDA graphs, so that nothing but the weights, the load's transients and
# the CUDA context can make the peak. Writes $OUTDIR/peak_PRESET.{log,smi.csv,sglang.log}.
#   export OUTDIR=$OUT; timeout 200 bash scripts/gpu/peak_at_load.sh fp8 [balanced …]
# The ready file is not waited for: the load is over once SGLang logs its KV pool.
set -uo pipefail
OUTDIR=${OUTDIR:-${OUT:-./gpu_out}}; mkdir -p "$OUTDIR"
source scripts/gpu/env.sh
CKPT=${CKPT:-/tmp/qwen3-14b-random}
[ -f "$CKPT/config.json" ] && ls "$CKPT"/*.safetensors >/dev/null 2>&1 \
  || python3 scripts/gpu/random_checkpoint.py .gpu/qwen3-14b "$CKPT" | tee "$OUTDIR/checkpoint.txt"
for preset in "$@"; do
  LOG=$OUTDIR/peak_$preset.log; rm -f /tmp/peak_ready.json
  nvidia-smi --query-gpu=memory.used --format=csv,noheader,nounits -lms 50 > "$OUTDIR/peak_$preset.smi.csv" &
  SMI=$!
  sleep 0.5
  python3 -m qwen_serve --preset "$preset" --model-path "$CKPT" --load-format safetensors --host 127.0.0.1 \
    --port 30000 --attention-backend triton --sampling-backend pytorch --force --quiet \
    --ready-file /tmp/peak_ready.json --log-file "$OUTDIR/peak_$preset.sglang.log" \
    -- --disable-cuda-graph --max-total-tokens 4096 > "$LOG" 2>&1 &
  QPID=$!
  # the load is over once the KV pool is allocated: no need to wait for ready (its warm-up can take minutes cold)
  for _ in $(seq 240); do
    grep -q "KV Cache is allocated" "$OUTDIR/peak_$preset.sglang.log" 2>/dev/null && break
    kill -0 $QPID 2>/dev/null || break; sleep 0.5
  done
  sleep 2
  kill -TERM $QPID 2>/dev/null; wait $QPID 2>/dev/null; sleep 1; kill $SMI 2>/dev/null
  python3 - "$OUTDIR/peak_$preset.smi.csv" "$OUTDIR/peak_$preset.sglang.log" "$preset" <<'EOF' | tee -a "$LOG"
import re, sys
sys.path.insert(0, "bench")
from presets import start_peak_gib  # the same reading of the CSV as the docs' table
mib = [float(x) for x in open(sys.argv[1]).read().split() if x.replace(".", "").isdigit()]
w = re.search(r"Load weight end\..*?mem usage=([\d.]+) GB", open(sys.argv[2], errors="replace").read())
peak, context = start_peak_gib(mib)
print(f"RESULT {sys.argv[3]}: peak {peak:.2f} GiB above its {context:.2f} GiB CUDA context ({len(mib)} readings "
      f"every 50 ms); weights after load {w.group(1) if w else '?'} GiB (SGLang's log)")
EOF
done
