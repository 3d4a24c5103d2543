# Sourced by the bench scripts run on the GPU machine (bench_interleave.sh): the
# server both tools measure. qwen-serve --preset high_performance on the Qwen3-14B skeleton with
# dummy weights, port 30000, in the background (QPID); returns once it is ready (ready file), exits 1
# if it is not within 420 s. SGLang's log goes to $OUTDIR/server.log, qwen-serve's to qwen_serve.txt.
# Also stubs `datasets` for sglang.bench_serving, which imports it at load time (random-ids never
# calls it; the shared GPU recipe says why): PYTHONPATH=/tmp/stub:… for bench_serving alone.
source scripts/gpu/env.sh
MODEL=$PWD/.gpu/qwen3-14b; IN=512; OUTLEN=128
mkdir -p /tmp/stub/datasets && echo 'def load_dataset(*a, **k): raise RuntimeError("offline")' > /tmp/stub/datasets/__init__.py
rm -f /tmp/ready.json  # qwen-serve removes a stale one too, but this loop polls before qwen-serve has started
python3 -m qwen_serve --preset high_performance --model-path "$MODEL" --host 127.0.0.1 --port 30000 \
  --attention-backend triton --sampling-backend pytorch --quiet --ready-file /tmp/ready.json \
  --log-file "$OUTDIR/server.log" --load-format dummy > "$OUTDIR/qwen_serve.txt" 2>&1 &
QPID=$!
for _ in $(seq 420); do [ -f /tmp/ready.json ] && break; kill -0 $QPID 2>/dev/null || break; sleep 1; done
[ -f /tmp/ready.json ] || { echo "not ready"; tail -20 "$OUTDIR/qwen_serve.txt"; kill -TERM $QPID 2>/dev/null; exit 1; }
