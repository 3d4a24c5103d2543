#!/usr/bin/env bash
# The launcher's own light dependencies for the GPU machine (python 3.12, no network), which
# the GPU image and the SGLang bundle lack: unpacked wheels in OUT_DIR/launcher-site.tar.xz.
#   usage: scripts/gpu/build_launcher_site.sh .gpu
set -euo pipefail
OUT=$(realpath -m "${1:?usage: build_launcher_site.sh OUT_DIR}")
WORK=$(mktemp -d); trap 'rm -rf "$WORK"' EXIT
PKGS=(click==8.5.1 rich markdown-it-py mdurl pygments pyyaml nvidia-ml-py)
PIP_CONSTRAINT= python3 -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 \
  --implementation cp --abi cp312 --abi abi3 --abi none \
  --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 \
  -d "$WORK/whl" "${PKGS[@]}"
mkdir -p "$WORK/site"
for w in "$WORK"/whl/*.whl; do python3 -m zipfile -e "$w" "$WORK/site"; done
ls "$WORK/whl" > "$OUT/LAUNCHER_MANIFEST.txt"
tar -C "$WORK/site" -cf - . | xz -T0 -6 > "$OUT/launcher-site.tar.xz"
ls -l "$OUT/launcher-site.tar.xz"
