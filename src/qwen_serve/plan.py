"""Stage 3 — the memory plan: what SGLang will do with Qwen3-14B on a given GPU.

Weights per quantization, the peak while loading, KV cache bytes per token (measured on SGLang 0.5.17), and SGLang's
own reservation logic — the release's `_handle_gpu_memory_settings` (the automatic mem_fraction_static; each release
adapter holds its own, sglang/releases/vX_Y_Z/memory.py) and `KVCacheConfigurator._profile_available_bytes` (the KV
pool is what is free after the weights minus pre_model_load_memory * (1 - mem_fraction_static)) — give the KV token
capacity. Checked against SGLang's own log on the H100 (bench/results/h100/) and on an H200
(bench/results/h200/bench/2026-12-01: 643,667 KV tokens planned, 642,870 allocated).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any

from .hardware import GPU
from .model import ModelFacts, model_facts

GIB = 2**30
# Measured on the H100 (SGLang 0.5.17): 79.65 GiB total, "Load weight begin. avail mem=78.50 GB"
# -> CUDA context, cuBLAS/NCCL workspaces and SGLang's IPC pool take ~1.15 GiB before weights.
CONTEXT_OVERHEAD_GIB = 1.15
# Measured there too (bench/results/h100/plan/): bf16 weights report 27.53 GiB for 27.51 GiB of
# parameters (rotary tables and other buffers), and memory peaked 0.04 GiB above that while
# loading (loader transients). Both are added so the peak is never under-estimated.
BUFFERS_GIB = 0.02
LOAD_TRANSIENT_GIB = 0.04
# Measured on the H100 with torchao 0.17 through qwen-serve's fix (bench/results/h100/torchao/):
# - quantizing one linear needs scratch memory: the peak at load rose above the bf16 weights by
#   2.02 GiB (int4wo-128), 1.99 (int4wo-64), 1.12 (int8wo), 2.78/2.79 (fp8dq per tensor/per row),
#   i.e. this many times the largest bf16 linear (gate_up_proj, 0.33 GiB for Qwen3-14B at tp 1);
# - after quantizing, part of the freed bf16 memory stays reserved (allocator fragmentation):
#   SGLang's KV pool came out 1.45 GiB (int4wo-128, whole and layered alike), 0.53 (int8wo)
#   and 0.75 GiB (fp8dq) smaller than the quantized weights alone would leave.
# int8dq and fp8wo were not measured: they take their family's figures.
# Layer by layer (qwen_serve/sglang/layered_load.py, int4wo-128 with real weight files) the peak was 12.34 GiB:
# the quantized weights + one bf16 layer + 2.26 GiB of scratch, 1.12 x the whole-model figure.
QUANTIZE_SCRATCH_X = {"int4": 6.1, "int8": 3.4, "fp8": 8.4}
# Measured on the H200 (SGLang 0.5.17, humming-kernels 0.1.10; bench/results/h200/presets/2026-12-02 and
# quality/2026-12-02), humming int4 group 128: SGLang reports 9.51 GiB of weights in every run where the packed
# int4 weights and bf16 scales come to 9.26 — memory the allocator keeps after quantizing each bf16 tensor as it
# arrives — and loading real files the GPU peaked at 9.96 GiB (a lower bound): the packed weights + 0.70.
HUMMING_HELD_GIB = 0.25
HUMMING_PEAK_GIB = 0.70
# Measured on the H200 (SGLang 0.5.17, FA3, bench/results/h200/presets/2026-12-03, dummy weights of each checkpoint's
# layout): SGLang reports more than the stored bytes once its kernels have re-laid them — awq_marlin repacks AWQ's
# int4 and zero points, DeepGEMM takes block-FP8's scales in its own layout — 0.16 GiB (AWQ, 9.47 reported) and
# 0.11 GiB (block FP8, 15.34); and the GPU peaked that much above the reported weights while loading (50 ms
# readings; lower bounds): 0.19 and 0.63 GiB.
CHECKPOINT_HELD_GIB = {"int4-checkpoint": 0.16, "fp8-checkpoint": 0.11}
CHECKPOINT_PEAK_GIB = {"int4-checkpoint": 0.19, "fp8-checkpoint": 0.63}
LAYERED_SCRATCH_FACTOR = 1.12
QUANTIZE_STRANDED_GIB = {"int4": 1.45, "int8": 0.53, "fp8": 0.75}


def _torchao_family(scheme: str) -> str | None:
    """int4 / int8 / fp8 for a torchao scheme, None otherwise."""
    if not scheme.startswith("torchao:"):
        return None
    name = scheme.split(":")[1]
    return "fp8" if name.startswith("fp8") else name[:4]


def quantize_scratch_bytes(model: ModelFacts, scheme: str, tp_size: int) -> float:
    family = _torchao_family(scheme)
    if family is None:
        return 0.0
    biggest_bf16 = max(linear_bytes(o, i, "bf16") for o, i in model.sglang_linear_shapes()) / tp_size
    return QUANTIZE_SCRATCH_X[family] * biggest_bf16


def quantize_stranded_bytes(scheme: str) -> float:
    family = _torchao_family(scheme)
    return QUANTIZE_STRANDED_GIB[family] * GIB if family else 0.0


# --- weights --------------------------------------------------------------------------------


def weight_scheme(
    torchao_config: str | None,
    quantization: str | None,
    model_path: str,
    humming_weight_dtype: str | None = None,
    humming_group_size: int | None = None,
) -> str:
    from .model import checkpoint_scheme, read_checkpoint

    if torchao_config:
        return f"torchao:{torchao_config}"
    if quantization == "humming" and humming_weight_dtype:
        from .settings import HUMMING_DEFAULT_GROUP

        group = HUMMING_DEFAULT_GROUP if humming_group_size is None else humming_group_size
        return f"humming:{humming_weight_dtype}-g{group}"
    from_config = checkpoint_scheme(read_checkpoint(model_path).quantization_config)
    if from_config:  # the checkpoint's own quantization_config (config.json) says what is stored
        return from_config
    name = model_path.lower()
    if quantization in ("awq", "awq_marlin", "gptq", "gptq_marlin", "moe_wna16") or "awq" in name or "gptq" in name:
        return "int4-checkpoint"
    if quantization in ("fp8", "w8a8_fp8"):
        return "fp8-checkpoint" if "fp8" in name else "fp8-online"
    if "fp8" in name:
        return "fp8-checkpoint"
    return "bf16"


def linear_bytes(out_features: int, in_features: int, scheme: str) -> float:
    """Bytes of one linear weight under a scheme, with its scales (what the kernels keep)."""
    n = out_features * in_features
    if scheme == "bf16":
        return 2 * n
    if scheme.startswith("torchao:int4wo-"):
        group = int(scheme.rsplit("-", 1)[1])
        return n / 2 + out_features * (in_features / group) * 4  # bf16 scale + zero per group
    if scheme in ("torchao:int8wo", "torchao:int8dq"):
        return n + out_features * 2  # bf16 scale per output channel
    if scheme in ("torchao:fp8wo", "torchao:fp8dq-per_row"):
        return n + out_features * 4  # fp32 scale per row
    if scheme == "fp8-checkpoint":  # Qwen/Qwen3-14B-FP8: one fp32 scale per 128x128 block
        return n + math.ceil(out_features / 128) * math.ceil(in_features / 128) * 4
    if scheme in ("torchao:fp8dq-per_tensor", "fp8-online"):
        return n + 4
    if scheme.startswith("humming:"):  # packed int4/int8 + one bf16 scale per group (no zero point)
        dtype, group = scheme.split(":")[1].split("-g")
        bits, group = int(dtype.removeprefix("int")), int(group) or in_features
        return n * bits / 8 + out_features * (in_features / group) * 2
    if scheme == "int4-checkpoint":  # AWQ/GPTQ, group 128: fp16 scales + 4-bit zeros
        return n / 2 + out_features * (in_features / 128) * 2.5
    raise ValueError(scheme)


@dataclass(frozen=True)
class Weights:
    scheme: str
    total_bytes: float  # whole model
    per_gpu_bytes: float  # under tensor parallelism
    peak_load_bytes: float  # per GPU, the most resident while loading
    peak_note: str


def stored_bytes(model: ModelFacts, scheme: str) -> float:
    """The model's weights under a scheme, whole: its linears with their scales; embedding, lm_head and norms bf16."""
    layer = sum(linear_bytes(o, i, scheme) for o, i in model.linear_shapes())
    return model.layers * layer + 2 * (model.embedding_params + model.norm_params)


def weights(model: ModelFacts, scheme: str, tp_size: int = 1, layered: bool = False) -> Weights:
    layer_bf16 = sum(linear_bytes(o, i, "bf16") for o, i in model.linear_shapes())
    buffers = BUFFERS_GIB * GIB
    total = stored_bytes(model, scheme)
    per_gpu = total / tp_size + buffers  # linears, embedding and lm_head are all sharded; norms are tiny
    bf16_per_gpu = stored_bytes(model, "bf16") / tp_size + buffers
    if scheme.startswith("torchao:"):
        scratch = quantize_scratch_bytes(model, scheme, tp_size)
        if layered:
            # --load-format layered (qwen_serve/sglang/layered_load.py) quantizes each layer as it arrives
            peak = per_gpu + layer_bf16 / tp_size + LAYERED_SCRATCH_FACTOR * scratch
            note = "layer by layer (--load-format layered)"
        else:
            # the whole bf16 model first (model_runner: apply_torchao_config_to_model), then quantized
            peak, note = bf16_per_gpu + scratch, "whole bf16 model first, then quantized"
    elif scheme.startswith("humming:"):
        # online: HummingLinearMethod's weight loader quantizes each bf16 tensor as it arrives, so
        # the bf16 model never sits on the GPU whole: the quantized weights + the largest bf16 linear
        # (or the measured 0.70 GiB above the packed weights, when that is more); SGLang then reports the
        # packed weights + what its allocator still holds
        biggest = max(linear_bytes(o, i, "bf16") for o, i in model.sglang_linear_shapes())
        peak, note = per_gpu + max(biggest / tp_size, HUMMING_PEAK_GIB * GIB), "quantized as it loads"
        per_gpu += HUMMING_HELD_GIB * GIB
    elif scheme == "fp8-online":
        # SGLang's --quantization fp8 loads bf16 weights, then Fp8LinearMethod.process_weights_after_loading
        # quantizes them: bf16 weights + the largest quantized linear (measured 27.56 GiB on an H100 and 27.53 on an H200 from real files, planned 27.65)
        biggest = max(linear_bytes(o, i, scheme) for o, i in model.linear_shapes())
        peak, note = bf16_per_gpu + biggest / tp_size, "whole bf16 model first, then quantized"
    elif scheme in CHECKPOINT_HELD_GIB:
        per_gpu += CHECKPOINT_HELD_GIB[scheme] * GIB
        peak, note = per_gpu + CHECKPOINT_PEAK_GIB[scheme] * GIB, "loads as stored, then re-laid for its kernels"
    else:
        peak, note = per_gpu, "weights load as stored"
    return Weights(scheme, total, per_gpu, peak + LOAD_TRANSIENT_GIB * GIB, note)


# --- SGLang's memory reservation: the release's own rules ---------------------------------------


def default_memory_rules():
    """The locked release's (releases.DEFAULT), for a plan that names none."""
    from packaging.version import Version

    from .sglang.releases import DEFAULT, releases

    return releases()[Version(DEFAULT)].memory


# --- the plan ---------------------------------------------------------------------------------


@dataclass
class Plan:
    name: str  # preset or "settings"
    gpu: str
    gpus: int
    tp_size: int
    scheme: str
    weights_gib: float  # per GPU
    peak_load_gib: float  # per GPU
    peak_note: str
    free_at_load_gib: float
    mem_fraction_static: float
    mem_fraction_origin: str
    kv_cache_dtype: str
    kv_bytes_per_token: int  # per GPU
    kv_pool_gib: float
    kv_tokens: int
    context_length: int
    concurrent_4k: int
    fits: bool
    reasons: list[str] = field(default_factory=list)
    # kept in hand for an SGLang release the constants were not measured on (releases.UNMEASURED_MARGIN): the KV
    # tokens are this share under the model's, the peak at load this share over
    margin: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    @property
    def verdict(self) -> str:
        return "fits" if self.fits else "does not fit: " + "; ".join(self.reasons)


def plan(
    settings: dict[str, Any],
    gpu: GPU,
    gpus: int = 1,
    model: ModelFacts | None = None,
    name: str = "settings",
    cuda_graph: bool = True,
    margin: float = 0.0,
    memory=None,
) -> Plan:
    """Plan one configuration (resolved setting values) on `gpus` x `gpu`, with `margin` kept in hand (the share of
    KV tokens and peak at load an unmeasured SGLang release may differ by) and SGLang's memory defaults as `memory`
    (releases.memory.MemoryRules of the release planned for; the locked one's by default) picks them."""
    model = model or model_facts(settings.get("model_path") or "")
    tp = settings.get("tp_size") or 1
    scheme = weight_scheme(
        settings.get("torchao_config"),
        settings.get("quantization"),
        settings.get("model_path") or "",
        settings.get("humming_weight_dtype"),
        settings.get("humming_group_size"),
    )
    layered = settings.get("load_format") == "layered"
    w = weights(model, scheme, tp, layered)
    kv_dtype = settings.get("kv_cache_dtype") or "auto"
    reasons = _hardware_reasons(settings, gpu, gpus, model, tp, scheme, kv_dtype)
    mfs = settings.get("mem_fraction_static")
    origin = "set"
    if mfs is None:
        mfs, origin = (
            (memory or default_memory_rules()).auto_mem_fraction_static(
                gpu.memory_mib, tp, settings.get("chunked_prefill_size"), cuda_graph
            ),
            "SGLang's automatic value",
        )
    pre_gib = gpu.memory_gib - CONTEXT_OVERHEAD_GIB
    kv_pool_gib = pre_gib - (w.per_gpu_bytes + quantize_stranded_bytes(scheme)) / GIB - pre_gib * (1 - mfs)
    kv_per_token = model.kv_bytes_per_token(kv_dtype) // tp
    kv_tokens = max(0, math.floor(kv_pool_gib * GIB / kv_per_token * (1 - margin))) if kv_pool_gib > 0 else 0
    peak_bytes = w.peak_load_bytes * (1 + margin)
    peak_note = w.peak_note + (f"; +{margin:.0%} margin: unmeasured SGLang release" if margin else "")
    # longer than the model's own only with YaRN (long_context.settle refuses the rest before a plan is made)
    context = settings.get("context_length") or model.max_context
    if peak_bytes / GIB > pre_gib:
        reasons.append(f"loading peaks at {peak_bytes / GIB:.1f} GiB ({peak_note}) but only {pre_gib:.1f} GiB are free")
    if kv_pool_gib <= 0:
        reasons.append(f"{w.per_gpu_bytes / GIB:.1f} GiB of weights leave no KV cache at mem_fraction_static {mfs}")
    elif kv_tokens < 4096:
        reasons.append(f"only {kv_tokens:,} KV tokens: not even one 4k-token request")
    elif settings.get("context_length") and kv_tokens < context:
        reasons.append(f"only {kv_tokens:,} KV tokens: not one request of context_length {context:,}")
    concurrent = kv_tokens // 4096
    if settings.get("max_running_requests"):
        concurrent = min(concurrent, settings["max_running_requests"])
    return Plan(
        name=name,
        gpu=gpu.name,
        gpus=gpus,
        tp_size=tp,
        scheme=scheme,
        weights_gib=round(w.per_gpu_bytes / GIB, 2),
        peak_load_gib=round(peak_bytes / GIB, 2),
        peak_note=peak_note,
        free_at_load_gib=round(pre_gib, 2),
        mem_fraction_static=mfs,
        mem_fraction_origin=origin,
        kv_cache_dtype=kv_dtype,
        kv_bytes_per_token=kv_per_token,
        kv_pool_gib=round(max(kv_pool_gib, 0.0), 2),
        kv_tokens=kv_tokens,
        context_length=context,
        concurrent_4k=concurrent,
        fits=not reasons,
        reasons=reasons,
        margin=margin,
    )


def _hardware_reasons(
    settings: dict[str, Any], gpu: GPU, gpus: int, model: ModelFacts, tp: int, scheme: str, kv_dtype: str
) -> list[str]:
    """Why the GPUs cannot run it at all, whatever the memory: too few, a tp that splits no KV heads, FP8 paths
    on a card without FP8."""
    reasons = []
    if tp > gpus:
        reasons.append(f"tp_size {tp} needs {tp} GPUs, {gpus} available")
    if model.kv_heads % tp:
        reasons.append(f"tp_size {tp} does not divide the {model.kv_heads} KV heads")
    needs = [
        what
        for what, needed in (
            # torchao's float8 paths need sm89+ (torch._scaled_mm; SGLang's torchao_utils notes
            # "fp8e4nv data type is not supported on CUDA arch < 89", Triton's e4m3 type, which an
            # fp8_e4m3 KV cache uses too). SGLang's own --quantization fp8 runs on sm80-88 through
            # Marlin weight-only kernels (fp8_utils.can_auto_enable_marlin_fp8), so it is not refused.
            (f"torchao {settings.get('torchao_config')}", scheme.startswith("torchao:fp8")),
            ("an fp8_e4m3 KV cache", kv_dtype == "fp8_e4m3"),
        )
        if needed
    ]
    if needs and not gpu.fp8:
        reasons.append(f"{' and '.join(needs)} need compute capability >= 8.9; {gpu.name} is {gpu.sm}")
    return reasons


# --preset auto wants room for 8 concurrent 4k-token requests: with less, a server queues more
# than it serves, and a smaller preset with more KV cache serves the same users better.
AUTO_MIN_KV_TOKENS = 32768


def choose_preset(plans: list[Plan], where: str, source: str) -> tuple[str, str]:
    """The first plan, in auto_order, that fits with >= AUTO_MIN_KV_TOKENS (else the fitting one with
    the most KV cache); why, in one line. `plans`: the candidates as they would launch, in order."""
    from .errors import QwenServeError

    order = ", ".join(p.name for p in plans)
    for p in plans:
        if p.fits and p.kv_tokens >= AUTO_MIN_KV_TOKENS:
            skipped = [
                f"{q.name} ({'does not fit' if not q.fits else f'{q.kv_tokens:,} KV tokens'})"
                for q in plans[: plans.index(p)]
            ]
            why = f"; skipped {', '.join(skipped)}" if skipped else ""
            return p.name, (
                f"preset auto -> {p.name} on {where}: the first of {order} that "
                f"fits with >= {AUTO_MIN_KV_TOKENS:,} KV tokens ({p.kv_tokens:,}){why}"
            )
    fitting = [p for p in plans if p.fits]
    if fitting:
        best = max(fitting, key=lambda p: p.kv_tokens)
        return best.name, (
            f"preset auto -> {best.name} on {where}: no preset reaches {AUTO_MIN_KV_TOKENS:,} KV tokens; "
            f"this one has the most ({best.kv_tokens:,})"
        )
    raise QwenServeError(
        f"--preset auto: no preset of {source} fits {where}: " + "; ".join(f"{p.name}: {p.verdict}" for p in plans),
        fix="use more GPUs, a pre-quantized or smaller model, or pick a preset and --force",
    )


def loading_choice(
    settings: dict[str, Any], gpu: GPU, gpus: int = 1, cuda_graph: bool = True, margin: float = 0.0, memory=None
) -> str | None:
    """'layered' when only layer-by-layer loading fits: a torchao preset whose bf16 model would not
    fit the GPU at load, with no load format chosen by the user."""
    if not settings.get("torchao_config") or settings.get("load_format"):
        return None
    whole = plan(settings, gpu, gpus, cuda_graph=cuda_graph, margin=margin, memory=memory)
    layered = plan(
        {**settings, "load_format": "layered"}, gpu, gpus, cuda_graph=cuda_graph, margin=margin, memory=memory
    )
    return "layered" if not whole.fits and layered.fits else None


def plan_as_launched(
    settings: dict[str, Any],
    gpu: GPU,
    gpus: int = 1,
    name: str = "settings",
    cuda_graph: bool = True,
    margin: float = 0.0,
    memory=None,
) -> Plan:
    """The plan of what qwen-serve would launch: with layered loading where only that fits."""
    settings = as_launched(settings, gpu, gpus, cuda_graph, margin, memory)
    return plan(settings, gpu, gpus, name=name, cuda_graph=cuda_graph, margin=margin, memory=memory)


def as_launched(
    settings: dict[str, Any], gpu: GPU, gpus: int, cuda_graph: bool, margin: float, memory=None
) -> dict[str, Any]:
    """The settings with the loader qwen-serve picks: layered where only that fits, else as they are."""
    if loading_choice(settings, gpu, gpus, cuda_graph, margin, memory) == "layered":
        return {**settings, "load_format": "layered"}
    return settings


def download_bytes(model_path: str) -> int:
    """What a checkpoint weighs on disk: its weights as stored (bf16, or its own quantization), whatever a preset
    then quantizes them to in memory."""
    from .model import model_facts

    return round(stored_bytes(model_facts(model_path), weight_scheme(None, None, model_path)))
