# Sourced by the scripts/gpu/*.sh run on the GPU machine: unpack the SGLang bundle and the
# launcher's deps from .gpu/ (once per machine), and put them and qwen-serve on PYTHONPATH.
export PYTHONUNBUFFERED=1 HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1
for pair in "site.tar.xz:/tmp/site" "launcher-site.tar.xz:/tmp/launcher" "router.tar.xz:/tmp/router"; do
  tarball=.gpu/${pair%%:*}; dest=${pair##*:}
  [ -f "$tarball" ] || [ "${pair%%:*}" != router.tar.xz ] || continue  # only in a bundle built with ROUTER=1
  if [ ! -f "$dest/.installed" ]; then
    mkdir -p "$dest" && tar -xJf "$tarball" -C "$dest" && touch "$dest/.installed" \
      || { echo "unpacking $tarball failed" >&2; exit 1; }
  fi
done
export PYTHONPATH=/tmp/site:/tmp/launcher:/tmp/router:$PWD/src
