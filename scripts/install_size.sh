#!/usr/bin/env bash
# What each way of installing costs on a machine with nothing cached: the full install (`uv sync`, as the README's
# first command runs it: SGLang, CUDA torch, the test tools) and the clients alone (`pip install 'qwen-serve[bench]'`:
# qwen-test and qwen-bench against a server elsewhere). Each with an empty uv cache of its own; wall time and the size
# of what was installed. Writes bench/results/install/DATE.json.
#   bash scripts/install_size.sh
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
WORK=$(mktemp -d); trap 'rm -rf "$WORK"' EXIT
out="$ROOT/bench/results/install/$(date -u +%F).json"
commit=$(git -C "$ROOT" rev-parse --short HEAD)
git clone -q "$ROOT" "$WORK/full"
start=$(date +%s.%N)
(cd "$WORK/full" && UV_CACHE_DIR="$WORK/cache-full" uv sync -q)
full_s=$(echo "$(date +%s.%N) - $start" | bc)
full_bytes=$(du -sb "$WORK/full/.venv" | cut -f1)
full_cache=$(du -sb "$WORK/cache-full" | cut -f1)
rm -rf "$WORK/full" "$WORK/cache-full"
uv venv -q "$WORK/light"
start=$(date +%s.%N)
UV_CACHE_DIR="$WORK/cache-light" uv pip install -q --python "$WORK/light/bin/python" "$ROOT[bench]"
light_s=$(echo "$(date +%s.%N) - $start" | bc)
light_bytes=$(du -sb "$WORK/light" | cut -f1)
light_cache=$(du -sb "$WORK/cache-light" | cut -f1)
"$WORK/light/bin/qwen-test" --help > /dev/null && "$WORK/light/bin/qwen-bench" --help > /dev/null
cat > "$out" <<JSON
{
  "commit": "$commit",
  "date": "$(date -u +%FT%TZ)",
  "machine": "$(nproc) cores, $(free -g | awk '/Mem:/{print $2}') GiB, uv $(uv --version | cut -d' ' -f2)",
  "full": {"command": "uv sync", "seconds": $full_s, "installed_bytes": $full_bytes, "downloaded_cache_bytes": $full_cache},
  "clients": {"command": "uv pip install 'qwen-serve[bench]' (into a fresh venv)", "seconds": $light_s, "installed_bytes": $light_bytes, "downloaded_cache_bytes": $light_cache}
}
JSON
cat "$out"
