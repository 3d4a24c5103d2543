#!/usr/bin/env bash
# sglang-router 0.3.2 for the GPU machine (for --replicas / --worker-url runs), on the CPU machine:
# its wheel is 30.7 MB; its Rust library stripped and xz-compressed is about 17 MB, so .gpu/ (45 MB)
# plus this plus the repository stays near the device's 64 MiB a call carries: move large bench/results
# folders aside for that call. Its Python needs (fastapi, uvicorn, orjson, setproctitle, aiohttp) are in the
# SGLang bundle or the GPU image.
#   usage: build_router.sh OUT_DIR   ->  OUT_DIR/router.tar.xz (unpacked into /tmp/site by env.sh)
set -euo pipefail
OUT=$(realpath -m "${1:?usage: build_router.sh OUT_DIR}")
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
python3 -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
  --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 -d "$WORK/whl" sglang-router==0.3.2
mkdir -p "$OUT" "$WORK/site" && (cd "$WORK/site" && python3 -m zipfile -e "$WORK"/whl/sglang_router-*.whl .)
strip "$WORK"/site/sglang_router/*.so
tar -C "$WORK/site" -cf - --sort=name --owner=0 --group=0 . | xz -T0 -9 > "$OUT/router.tar.xz"
ls -l "$OUT/router.tar.xz" | awk '{printf "router.tar.xz: %.1f MiB\n", $5/1048576}'
