"""SGLang 0.5.23's memory defaults (handle_gpu_memory_settings in sglang/srt/arg_groups/memory_hook.py): 24-32 GB
cards (A10, 4090, 5090) get a 4k prefill chunk and decode graphs up to 48 requests, where 0.5.17 had 2k and 24, so
they reserve more and keep a smaller mem_fraction_static."""

from ..memory import Bucket, MemoryRules

MEMORY = MemoryRules(
    buckets=(
        Bucket(20 * 1024, 2048, 8, 8),  # T4, 4080
        Bucket(35 * 1024, 4096, 48, 160),  # A10, 4090, 5090
        Bucket(60 * 1024, 4096, 32, 160),  # A100 40GB, L40
        Bucket(90 * 1024, 8192, 256, 512),  # H100, A100 80GB
        Bucket(160 * 1024, 8192, 256, 512),  # H20, H200
    ),
    largest=(16384, 512),  # B200, MI300
    source="sglang/srt/arg_groups/memory_hook.py: handle_gpu_memory_settings",
)
