#!/usr/bin/env bash
# On the GPU machine (device tool, carry: [".gpu"]): the measured preset table, bench/presets.py run,
# for the rows named on the command line (LABEL=COMMAND, see bench/presets.py), always after the
# plain-SGLang bf16 baseline of the same call. Raw files come back as $OUT/raw.tar.gz.
#   export OUTDIR=$OUT STOP_AT=565; timeout 590 bash scripts/gpu/presets.sh "preset:auto=qwen-serve --preset auto" …
# STOP_AT: end the row in progress then, so that the tarball is still written (an outer timeout kills it
# with everything else); with it a row starts only if the time left is at least what the call's quickest
# whole row took. DEADLINE (optional): start no row after it at all. READY_TIMEOUT: a row's start limit (400 s).
# LEVELS=, measures no level: the rows' times to ready alone (cold:NAME / warm:NAME rows, QWEN_SERVE_JIT_CACHE per row).
# Replicas (two GPUs, kind nvidia-h200-x2), the first row the baseline:
#   export OUTDIR=$OUT BASELINE= LEVELS=64,128,256,shared128; timeout 590 bash scripts/gpu/presets.sh \
#     "replicas:1=qwen-serve --preset auto" "replicas:2-gpus=qwen-serve --preset auto --replicas 2"
set -uo pipefail
OUTDIR=${OUTDIR:-${OUT:-./gpu_out}}; mkdir -p "$OUTDIR"
source scripts/gpu/env.sh
mkdir -p /tmp/stub/datasets && echo 'def load_dataset(*a, **k): raise RuntimeError("offline")' > /tmp/stub/datasets/__init__.py
export PYTHONPATH=/tmp/stub:$PYTHONPATH
# not exported: a qwen-serve row keeps every JIT cache in its own QWEN_SERVE_JIT_CACHE folder, which an exported
# HUMMING_CACHE_DIR would override (its cold rows would then share one humming cache)
humming=${HUMMING_CACHE_DIR:-$HOME/.humming/cache}
echo "humming JIT cache (plain SGLang rows): $humming ($(du -sh "$humming" 2>/dev/null | cut -f1 || echo empty))"
ROWS=()  # the baseline first: plain SGLang bf16, unless BASELINE names another row (or is empty: the first given)
BASELINE=${BASELINE-sglang-bf16=sglang}
[ -n "$BASELINE" ] && ROWS+=(--row "$BASELINE")
for r in "$@"; do ROWS+=(--row "$r"); done
rm -rf /tmp/presets_raw && mkdir -p /tmp/presets_raw
python3 bench/presets.py run --out /tmp/presets_raw --model "$PWD/.gpu/qwen3-14b" --levels "${LEVELS:-1,8,64}" ${COMMON:+--common "$COMMON"} \
  ${DEADLINE:+--deadline $DEADLINE} ${STOP_AT:+--stop-at $STOP_AT} ${READY_TIMEOUT:+--ready-timeout $READY_TIMEOUT} "${ROWS[@]}" 2>&1 | tee /tmp/presets_raw/stdout.txt
rc=${PIPESTATUS[0]}
tar -C /tmp -czf "$OUTDIR/raw.tar.gz" presets_raw
exit $rc
