#!/usr/bin/env bash
# On the GPU machine: `qwen-serve tune` as a user runs it, past one 10-minute device call. `start` runs it in a
# process session of its own (setsid) from a copy of the tree in /tmp/tune (the next call's sync cannot touch it),
# with an empty JIT cache folder and cache folder of its own; once it has ended it shows what `--preset auto` then
# picks for each load (--dry-run, reading the result file with this machine's GPU and driver) and starts the
# throughput pick on its tune skeleton (dummy weights: no hub here) to time a start on the JIT cache tune filled.
# `wait SECONDS` returns when all that has ended or after SECONDS, leaving in $OUT what is there so far.
#   source scripts/gpu/env.sh; bash scripts/gpu/tune.sh start --budget 18     (qwen-serve tune's own flags)
#   bash scripts/gpu/tune.sh wait 570                                         (each later call, same batch)
set -uo pipefail
T=/tmp/tune
case "${1:-}" in
start)
  shift
  [ -f $T/pid ] && kill -0 "$(cat $T/pid)" 2>/dev/null && { echo "a tune run is going (pid $(cat $T/pid))" >&2; exit 2; }
  [ -e /tmp/jit ] && [ -n "$(ls -A /tmp/jit 2>/dev/null)" ] && { echo "/tmp/jit is not empty: not a cold run" >&2; exit 2; }
  rm -rf $T && mkdir -p $T/repo/.gpu $T/out && cp -r scripts src $T/repo/ && cp -r .gpu/qwen3-14b $T/repo/.gpu/ || exit 1
  cat > $T/run.sh <<'EOF'
set -uo pipefail
cd /tmp/tune/repo
# this copy's qwen_serve first: the next device call's sync replaces the tree the queue was started from
export XDG_CACHE_HOME=/tmp/tune/cache QWEN_SERVE_JIT_CACHE=/tmp/jit PYTHONPATH=/tmp/tune/repo/src:$PYTHONPATH
out=/tmp/tune/out
{ date -u +%FT%TZ; nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader; } > $out/machine.txt
echo "python3 -m qwen_serve tune --skeleton .gpu/qwen3-14b --plot $out/tune.png $*" > $out/command.txt
SECONDS=0
python3 -m qwen_serve tune --skeleton .gpu/qwen3-14b --plot $out/tune.png "$@" > $out/tune-stdout.txt 2> $out/tune-stderr.txt
echo "tune: exit $? after $SECONDS s" >> $out/command.txt
for load in interactive throughput; do
  python3 -m qwen_serve --dry-run --json --preset auto --load $load > $out/auto-$load.json 2> $out/auto-$load.err
done
picked=$(python3 -c "import json; print(json.load(open('$out/auto-throughput.json'))['preset'])" 2>/dev/null)
echo "throughput pick: ${picked:-?}" >> $out/command.txt
if [ -n "$picked" ]; then
  layout=$(python3 -c "
import sys; sys.path.insert(0, 'src')
from qwen_serve.config import load_config; from qwen_serve.tune import layout_of
print(layout_of(load_config(None).presets['$picked'].values).replace('/', '--'))")
  model=/tmp/tune/cache/qwen-serve/tune/models/$layout; [ "$layout" = Qwen--Qwen3-14B ] && model=.gpu/qwen3-14b
  echo "python3 -m qwen_serve --preset $picked --model-path $model --load-format dummy --host 127.0.0.1 --port 30300 --ready-file $out/ready.json" >> $out/command.txt
  python3 -m qwen_serve --preset "$picked" --model-path "$model" --load-format dummy --host 127.0.0.1 --port 30300 \
    --quiet --ready-file $out/ready.json > $out/warm-start.txt 2>&1 &
  pid=$!
  for _ in $(seq 600); do [ -f $out/ready.json ] && break; kill -0 $pid 2>/dev/null || break; sleep 1; done
  cp $out/ready.json $out/ready-kept.json 2>/dev/null  # qwen-serve removes its ready file when SGLang stops
  kill -INT $pid; wait $pid
fi
EOF
  (setsid bash -c 'bash /tmp/tune/run.sh "$@"; echo $? > /tmp/tune/rc' _ "$@" > $T/log 2>&1 < /dev/null & echo $! > $T/pid)
  echo "tune started (pid $(cat $T/pid))"
  ;;
wait)
  end=$((SECONDS + ${2:?wait SECONDS})); out=${OUT:-./gpu_out}; mkdir -p "$out"
  [ -f $T/pid ] || { echo "no tune run on this machine (a fresh one: the last call's machine went back)" >&2; exit 3; }
  snapshot() {
    tar -C $T -czf "$out/tune-out.tar.gz" out log $(cd $T && ls -d cache/qwen-serve/tune/*.json cache/qwen-serve/tune/logs 2>/dev/null)
  }
  last=$SECONDS
  while [ ! -f $T/rc ] && [ $SECONDS -lt $end ]; do
    sleep 5; [ $((SECONDS - last)) -ge 60 ] && { snapshot; last=$SECONDS; }
  done
  snapshot; tail -5 $T/out/tune-stderr.txt 2>/dev/null
  if [ -f $T/rc ]; then echo "tune run ended: exit $(cat $T/rc)"; cat $T/out/command.txt; exit 0; fi
  echo "tune still running after $2 s"
  ;;
*) echo "usage: tune.sh start TUNE-FLAGS… | wait SECONDS" >&2; exit 2 ;;
esac
