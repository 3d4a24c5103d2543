"""How an SGLang release sizes its memory when the user sets nothing (its `_handle_gpu_memory_settings`): the chunked
prefill size and decode CUDA-graph batch size by GPU memory, the prefill graph sizes, and the automatic
mem_fraction_static those give. Each release folder holds its own `MEMORY` (vX_Y_Z/memory.py); the plan asks the
release it plans for. tests/test_releases.py holds each to that release's own source."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Bucket:
    """GPUs with less than `below_mib` of memory: SGLang's defaults for them."""

    below_mib: int
    chunked_prefill_size: int
    decode_graph_max_bs: int  # tp_size < 4
    decode_graph_max_bs_tp4: int  # tp_size >= 4


@dataclass(frozen=True)
class MemoryRules:
    buckets: tuple[Bucket, ...]  # by GPU memory, smallest first
    largest: tuple[int, int]  # (chunked_prefill_size, decode graph max_bs) above the last bucket
    source: str  # where in the release's source these stand

    def defaults(self, gpu_mem_mib: float, tp_size: int) -> tuple[int, int]:
        """(chunked_prefill_size, decode cuda graph max_bs) by GPU memory, as the release picks them."""
        for b in self.buckets:
            if gpu_mem_mib < b.below_mib:
                return b.chunked_prefill_size, b.decode_graph_max_bs if tp_size < 4 else b.decode_graph_max_bs_tp4
        return self.largest

    @staticmethod
    def prefill_graph_sizes(max_bs: int) -> list[int]:
        """The prefill CUDA-graph sizes up to `max_bs` (`_generate_prefill_cuda_graph_batch_sizes`)."""
        sizes = (
            list(range(4, 33, 4))
            + list(range(48, 257, 16))
            + list(range(288, 513, 32))
            + list(range(576, 1025, 64))
            + list(range(1280, 4097, 256))
            + list(range(4608, max_bs + 1, 512))
        )
        return [s for s in sizes if s <= max_bs]

    def auto_mem_fraction_static(
        self, gpu_mem_mib: float, tp_size: int, chunked_prefill_size: int | None = None, cuda_graph: bool = True
    ) -> float:
        """mem_fraction_static when the user sets none: (memory - reserved) / memory, the reserve being the
        activations of one prefill chunk, the tensor-parallel slack and the CUDA graphs' buffers, at least 10 GiB
        on a GPU of more than 60 GiB."""
        default_chunk, max_bs = self.defaults(gpu_mem_mib, tp_size)
        chunk = chunked_prefill_size or default_chunk
        reserved = 512 + max(chunk, 2048) * 1.5 + tp_size / 8 * 1024
        if cuda_graph:  # reserve_for_graph_mb: decode graphs + non-torch memory of prefill graphs
            reserved += max_bs * 2 + len(self.prefill_graph_sizes(chunk)) * 8
        if gpu_mem_mib > 60 * 1024:
            reserved = max(reserved, 10 * 1024)
        return round((gpu_mem_mib - reserved) / gpu_mem_mib, 3)
