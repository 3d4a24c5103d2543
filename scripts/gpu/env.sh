# Sourced by the scripts/gpu/*.sh run on the GPU machine: unpack the SGLang bundle and the
# launcher's deps from .gpu/ (once per machine), and put them and qwen-serve on PYTHONPATH.
export PYTHONUNBUFFERED=1 HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1
# DeepGEMM and humming JIT-compile with the image's nvcc
command -v nvcc >/dev/null && export CUDA_HOME=${CUDA_HOME:-$(dirname "$(dirname "$(command -v nvcc)")")}
for pair in "site.tar.xz:/tmp/site" "launcher-site.tar.xz:/tmp/launcher" "router.tar.xz:/tmp/router"; do
  tarball=.gpu/${pair%%:*}; dest=${pair##*:}
  [ -f "$tarball" ] || [ "${pair%%:*}" != router.tar.xz ] || continue  # only in a bundle built with ROUTER=1
  if [ ! -f "$dest/.installed" ]; then
    mkdir -p "$dest" && tar -xJf "$tarball" -C "$dest" && touch "$dest/.installed" \
      || { echo "unpacking $tarball failed" >&2; exit 1; }
  fi
done
# the skeleton may travel packed (scripts/gpu/build.sh writes both; a device call with little room carries the tarball)
[ -f .gpu/qwen3-14b/tokenizer.json ] || [ ! -f .gpu/qwen3-14b.tar.xz ] || tar -C .gpu -xJf .gpu/qwen3-14b.tar.xz
export PYTHONPATH=/tmp/site:/tmp/launcher:/tmp/router:$PWD/src
# FA3 (sgl_kernel/flash_ops.abi3.so, SGLang's attention default on Hopper) travels in parts, one device call each
# (scripts/gpu/build_fa3.sh): each part is kept in /tmp/fa3 as it arrives, and once all have, they are checked
# against SHA256SUMS, joined and unpacked into the bundle. Until then SGLang must be told another backend.
if [ -f .gpu/fa3/SHA256SUMS ] && [ ! -f /tmp/site/sgl_kernel/flash_ops.abi3.so ]; then
  mkdir -p /tmp/fa3 && cp -n .gpu/fa3/SHA256SUMS .gpu/fa3/flash_ops.xz.part-* /tmp/fa3/ 2>/dev/null
  parts=$(grep -c 'part-' /tmp/fa3/SHA256SUMS); have=$(ls /tmp/fa3/flash_ops.xz.part-* 2>/dev/null | wc -l)
  if [ "$have" -lt "$parts" ]; then
    echo "FA3: $have of $parts parts here (attention: name a backend other than fa3 until all have arrived)"
  elif (cd /tmp/fa3 && grep 'part-' SHA256SUMS | sha256sum -c --quiet); then
    cat /tmp/fa3/flash_ops.xz.part-* | xz -d > /tmp/site/sgl_kernel/flash_ops.abi3.so.tmp \
      && (cd /tmp/site/sgl_kernel && [ "$(sha256sum < flash_ops.abi3.so.tmp | cut -d' ' -f1)" = "$(grep ' flash_ops.abi3.so$' /tmp/fa3/SHA256SUMS | cut -d' ' -f1)" ]) \
      && mv /tmp/site/sgl_kernel/flash_ops.abi3.so.tmp /tmp/site/sgl_kernel/flash_ops.abi3.so \
      && echo "FA3: joined $parts parts, checksum ok: $(ls -l /tmp/site/sgl_kernel/flash_ops.abi3.so | awk '{print $5}') bytes"
  else
    echo "FA3: a part does not match SHA256SUMS" >&2
  fi
fi
# wait_ready PID LOG SECONDS: sets ready=1 once SGLang's log says so, ready=0 if PID exits first or time runs out
wait_ready() {
  ready=0
  for _ in $(seq "$3"); do
    kill -0 "$1" 2>/dev/null || { echo "[$(date +%T)] qwen-serve exited before ready"; return; }
    grep -q "fired up and ready to roll" "$2" && { ready=1; return; }
    sleep 1
  done
}
