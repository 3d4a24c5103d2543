#!/usr/bin/env bash
# FA3 (sgl_kernel/flash_ops.abi3.so, SGLang's default attention on Hopper) for the GPU bundle: 1.12 GB
# unpacked, too large for one device call (64 MiB travel), so it goes xz-compressed in parts that travel
# one call each while the machine stays warm; scripts/gpu/env.sh joins them there once all have arrived.
#   usage: build_fa3.sh OUT_DIR [PART_MIB]   (needs: python3 with pip, PyPI access, xz; ~8 min on 2 cores)
#   result: OUT_DIR/fa3/flash_ops.xz.part-aa, -ab, … + OUT_DIR/fa3/SHA256SUMS (of the parts and the .so)
set -euo pipefail
OUT=$(realpath -m "${1:?usage: build_fa3.sh OUT_DIR [PART_MIB]}")/fa3
PART_MIB=${2:-50}
# the version uv.lock pins (tests/lab/test_gpu_bundle.py holds the two together)
KERNEL=sglang-kernel==0.4.5
WORK=$(mktemp -d); trap 'rm -rf "$WORK"' EXIT
mkdir -p "$OUT"
PIP_CONSTRAINT= python3 -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
  --abi abi3 --abi cp312 --platform manylinux2014_x86_64 --platform manylinux_2_17_x86_64 -d "$WORK" "$KERNEL"
(cd "$WORK" && unzip -q -o sglang_kernel-*.whl 'sgl_kernel/flash_ops.abi3.so' -d x)
SO="$WORK/x/sgl_kernel/flash_ops.abi3.so"
xz -T0 -6 -c "$SO" > "$WORK/flash_ops.xz"
rm -f "$OUT"/flash_ops.xz.part-*
split -b "${PART_MIB}M" -a 2 "$WORK/flash_ops.xz" "$OUT/flash_ops.xz.part-"
(cd "$OUT" && sha256sum flash_ops.xz.part-* > SHA256SUMS && echo "$(sha256sum < "$SO" | cut -d' ' -f1)  flash_ops.abi3.so" >> SHA256SUMS)
echo "$KERNEL" > "$OUT/VERSION"
ls -l "$OUT"
