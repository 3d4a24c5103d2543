#!/usr/bin/env bash
# On the GPU machine: rows that outlast one device call (10 minutes). `start` runs scripts/gpu/presets.sh in a
# process session of its own (setsid), which the device tool lets run on while the machine stays warm between
# back-to-back calls; it runs from a copy of the tree in /tmp/queue, so that the next call's sync cannot touch it.
# `wait SECONDS` returns when the queue has ended or after SECONDS, and leaves in $OUT what is there so far
# (queue-log.txt, partial.tar.gz of the rows done) and, once it has ended, presets.sh's raw.tar.gz.
#   export BASELINE= LEVELS=, READY_TIMEOUT=400; bash scripts/gpu/queue.sh start "cold:NAME=…" "warm:NAME=…" …
#   bash scripts/gpu/queue.sh wait 570          (each later call, back to back)
# The machine stays warm 30 s after a call: send each `wait` call in the same batch as the call before it (a
# call made after a reply has been read came too late once, on 2026-12-04: bench/results/h200/presets/2026-12-04).
set -uo pipefail
Q=/tmp/queue
case "${1:-}" in
start)
  shift
  [ -f $Q/pid ] && kill -0 "$(cat $Q/pid)" 2>/dev/null && { echo "a queue is running (pid $(cat $Q/pid))" >&2; exit 2; }
  rm -rf $Q && mkdir -p $Q/repo/.gpu && cp -r bench scripts src $Q/repo/ && cp -r .gpu/qwen3-14b $Q/repo/.gpu/ || exit 1
  (cd $Q/repo && OUTDIR=$Q/out setsid bash -c 'bash scripts/gpu/presets.sh "$@"; echo $? > /tmp/queue/rc' _ "$@" \
    > $Q/log 2>&1 < /dev/null & echo $! > $Q/pid)
  echo "queue started (pid $(cat $Q/pid)): $# rows"
  ;;
wait)
  end=$((SECONDS + ${2:?wait SECONDS})); out=${OUT:-./gpu_out}; mkdir -p "$out"
  # a call that came after the machine's warm window lands on a fresh machine: say so at once, not after SECONDS
  [ -f $Q/pid ] || { echo "no queue on this machine (a fresh one: the last call's machine went back)" >&2; exit 3; }
  # what is there so far is copied each minute too, so that a call cut short by the device clock still brings it
  snapshot() { cp $Q/log "$out/queue-log.txt"; [ -d /tmp/presets_raw ] && tar -C /tmp -czf "$out/partial.tar.gz" presets_raw; }
  last=$SECONDS
  while [ ! -f $Q/rc ] && [ $SECONDS -lt $end ]; do
    sleep 5; [ $((SECONDS - last)) -ge 60 ] && { snapshot; last=$SECONDS; }
  done
  snapshot
  if [ -f $Q/rc ]; then cp $Q/out/raw.tar.gz "$out/raw.tar.gz"; echo "queue ended: exit $(cat $Q/rc)"; exit "$(cat $Q/rc)"; fi
  echo "queue still running after $2 s"
  ;;
*) echo "usage: queue.sh start ROW… | wait SECONDS" >&2; exit 2 ;;
esac
