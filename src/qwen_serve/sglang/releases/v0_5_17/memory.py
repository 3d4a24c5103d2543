"""SGLang 0.5.17's memory defaults (ServerArgs._handle_gpu_memory_settings in sglang/srt/server_args.py)."""

from ..memory import Bucket, MemoryRules

MEMORY = MemoryRules(
    buckets=(
        Bucket(20 * 1024, 2048, 8, 8),  # T4, 4080
        Bucket(35 * 1024, 2048, 24, 80),  # A10, 4090, 5090
        Bucket(60 * 1024, 4096, 32, 160),  # A100 40GB, L40
        Bucket(90 * 1024, 8192, 256, 512),  # H100, A100 80GB
        Bucket(160 * 1024, 8192, 256, 512),  # H20, H200
    ),
    largest=(16384, 512),  # B200, MI300
    source="sglang/srt/server_args.py: ServerArgs._handle_gpu_memory_settings",
)
