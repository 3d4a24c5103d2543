"""Qwen3 model facts: Qwen3-14B's config (what `qwen-serve skeleton` writes and the plan's shapes), the
hub models the shipped configs name, and what a model directory says about itself (its config.json
shapes and the checkpoint's quantization_config)."""

from __future__ import annotations

import functools
import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from .errors import QwenServeError

QWEN3_14B_CONFIG = {
    "architectures": ["Qwen3ForCausalLM"],
    "attention_bias": False,
    "attention_dropout": 0.0,
    "bos_token_id": 151643,
    "eos_token_id": 151645,
    "head_dim": 128,
    "hidden_act": "silu",
    "hidden_size": 5120,
    "initializer_range": 0.02,
    "intermediate_size": 17408,
    "max_position_embeddings": 40960,
    "max_window_layers": 40,
    "model_type": "qwen3",
    "num_attention_heads": 40,
    "num_hidden_layers": 40,
    "num_key_value_heads": 8,
    "rms_norm_eps": 1e-06,
    "rope_scaling": None,
    "rope_theta": 1000000,
    "sliding_window": None,
    "tie_word_embeddings": False,
    "torch_dtype": "bfloat16",
    "transformers_version": "4.51.0",
    "use_cache": True,
    "use_sliding_window": False,
    "vocab_size": 151936,
}


@dataclass(frozen=True)
class ModelFacts:
    layers: int
    hidden: int
    intermediate: int
    heads: int
    kv_heads: int
    head_dim: int
    vocab: int
    tied_embeddings: bool
    max_context: int
    source: str

    @classmethod
    def from_config(cls, config: dict, source: str) -> ModelFacts:
        hidden = config["hidden_size"]
        heads = config["num_attention_heads"]
        return cls(
            layers=config["num_hidden_layers"],
            hidden=hidden,
            intermediate=config["intermediate_size"],
            heads=heads,
            kv_heads=config.get("num_key_value_heads", heads),
            head_dim=config.get("head_dim") or hidden // heads,
            vocab=config["vocab_size"],
            tied_embeddings=bool(config.get("tie_word_embeddings", False)),
            max_context=config.get("max_position_embeddings", 40960),
            source=source,
        )

    def linear_shapes(self) -> list[tuple[int, int]]:
        """(out, in) of the linear ("proj") layers of one decoder layer."""
        q, kv = self.heads * self.head_dim, self.kv_heads * self.head_dim
        h, i = self.hidden, self.intermediate
        return [(q, h), (kv, h), (kv, h), (h, q), (i, h), (i, h), (h, i)]

    def sglang_linear_shapes(self) -> list[tuple[int, int]]:
        """(out, in) of the linears as SGLang holds them: qkv_proj, o_proj, gate_up_proj, down_proj."""
        q, kv = self.heads * self.head_dim, self.kv_heads * self.head_dim
        h, i = self.hidden, self.intermediate
        return [(q + 2 * kv, h), (h, q), (2 * i, h), (h, i)]

    @property
    def linear_params(self) -> int:
        return self.layers * sum(o * i for o, i in self.linear_shapes())

    @property
    def embedding_params(self) -> int:
        return self.vocab * self.hidden * (1 if self.tied_embeddings else 2)

    @property
    def norm_params(self) -> int:
        return self.layers * (2 * self.hidden + 2 * self.head_dim) + self.hidden

    @property
    def params(self) -> int:
        return self.linear_params + self.embedding_params + self.norm_params

    def kv_bytes_per_token(self, kv_cache_dtype: str | None) -> int:
        element = 1 if kv_cache_dtype and kv_cache_dtype.startswith("fp8") else 2
        return 2 * self.layers * self.kv_heads * self.head_dim * element


# Qwen's own pre-quantized Qwen3-14B checkpoints: the quantization_config each config.json carries (what
# `qwen-serve skeleton --checkpoint` writes, so that a dummy-weight server runs that checkpoint's kernels).
OFFICIAL_CHECKPOINTS: dict[str, dict[str, Any]] = {
    "Qwen/Qwen3-14B-FP8": {  # block-wise FP8: one fp32 scale per 128x128 weight block, activations per token-group
        "quant_method": "fp8",
        "fmt": "e4m3",
        "activation_scheme": "dynamic",
        "weight_block_size": [128, 128],
    },
    "Qwen/Qwen3-14B-AWQ": {  # int4, group 128, with zero points (AutoAWQ's GEMM layout; SGLang: awq_marlin)
        "quant_method": "awq",
        "bits": 4,
        "group_size": 128,
        "zero_point": True,
        "version": "gemm",
        "modules_to_not_convert": None,
    },
}


def qwen3_14b() -> ModelFacts:
    return ModelFacts.from_config(QWEN3_14B_CONFIG, "built-in Qwen3-14B config")


# Shapes of the hub models the shipped configs name (pre-quantized variants share them).
QWEN3_8B_CONFIG = {
    "hidden_size": 4096,
    "intermediate_size": 12288,
    "num_hidden_layers": 36,
    "num_attention_heads": 32,
    "num_key_value_heads": 8,
    "head_dim": 128,
    "vocab_size": 151936,
    "tie_word_embeddings": False,
    "max_position_embeddings": 40960,
}


SHAPE_FIELDS = ("hidden_size", "num_hidden_layers", "num_attention_heads", "intermediate_size", "vocab_size")
OPTIONAL_SHAPE_FIELDS = ("num_key_value_heads", "head_dim", "max_position_embeddings")
ARCHITECTURE = "Qwen3ForCausalLM"


def check_config(data: Any, path: str) -> None:
    """A model directory's config.json is a Qwen3 decoder with positive integer shapes: another architecture would be
    planned and launched as Qwen3 (its reasoning parser, its plan), and a zero, a string or NaN would crash the plan."""
    if not isinstance(data, dict):
        raise QwenServeError(f"{path} is not a JSON object", fix="point --model-path at the model's own directory")
    arch = data.get("architectures")
    if arch is not None and ARCHITECTURE not in (arch if isinstance(arch, list) else [arch]):
        raise QwenServeError(
            f"{path}: architectures {arch!r} is not Qwen3 (qwen-serve plans and launches Qwen3 only)",
            allowed=f"a {ARCHITECTURE} model: Qwen3-14B or one of its quantized checkpoints",
            fix="point --model-path at a Qwen3 model directory (or pass --force to skip the plan)",
        )
    for name in SHAPE_FIELDS + OPTIONAL_SHAPE_FIELDS:
        value = data.get(name)
        if value is None and name in OPTIONAL_SHAPE_FIELDS:
            continue
        if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
            raise QwenServeError(
                f"{path}: {name} is {value!r}",
                allowed="a positive integer",
                fix="use the model's own config.json (or pass --force to skip the plan)",
            )


def json_file(path: Path) -> Any:
    """A model's config.json, read and parsed once per process while the file is unchanged: a launch asks for it in
    many stages (the checkpoint, the shapes, every preset's plan). OSError or ValueError as reading it would raise."""
    info = path.stat()
    kind, value = _json_file(str(path), info.st_mtime_ns, info.st_size)
    if kind == "error":
        raise value
    return value


@functools.lru_cache(maxsize=32)
def _json_file(path: str, mtime_ns: int, size: int) -> tuple[str, Any]:
    try:
        return "ok", json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        return "error", exc


def model_facts(model_path: str) -> ModelFacts:
    """From the local config.json; else the built-in shapes of a known hub id; else Qwen3-14B's, said so."""
    config = Path(model_path).expanduser() / "config.json"
    if config.is_file():
        try:
            data = json_file(config)
        except (OSError, ValueError) as exc:
            raise QwenServeError(
                f"model_path: {config} is not readable JSON ({type(exc).__name__}: {exc})",
                fix="point --model-path at the model's own directory (or pass --force to skip the plan)",
            ) from None
        check_config(data, str(config))
        try:
            return ModelFacts.from_config(data, str(config))
        except (ValueError, KeyError, TypeError) as exc:
            raise QwenServeError(
                f"model_path: {config} is not a usable model config ({type(exc).__name__}: {exc})",
                allowed="a decoder config.json with hidden_size, num_hidden_layers, num_attention_heads, ...",
                fix="point --model-path at the model's own directory (or pass --force to skip the plan)",
            ) from None
    base = model_path.lower().split("/")[-1]
    for suffix in ("-awq", "-fp8", "-gptq-int4", "-gptq-int8"):
        base = base.removesuffix(suffix)
    if base == "qwen3-8b":
        return ModelFacts.from_config(QWEN3_8B_CONFIG, "built-in Qwen3-8B config")
    facts = qwen3_14b()
    if base != "qwen3-14b" and model_path:
        return ModelFacts(
            **{**asdict(facts), "source": f"unknown model {model_path!r}: planned with Qwen3-14B's shapes"}
        )
    return facts


@dataclass(frozen=True)
class Checkpoint:
    model_path: str
    quantization_config: dict[str, Any] | None
    source: str  # where its quantization_config was read, in words: "from PATH", "from Qwen's published config.json"

    @property
    def method(self) -> str | None:
        q = self.quantization_config
        return str(q.get("quant_method")).lower() if q else None

    def describe(self) -> str:
        """One phrase: what is stored, e.g. 'block-wise FP8 (128x128 scales)', 'AWQ int4, group 128', 'bf16'."""
        q = self.quantization_config
        if not q:
            return "no quantization_config (bf16 weights)"
        if self.method == "fp8":
            block = q.get("weight_block_size")
            return f"block-wise FP8 ({block[0]}x{block[1]} scales)" if block else "FP8 (per-tensor scales)"
        if self.method in ("awq", "gptq"):
            return f"{self.method.upper()} int{q.get('bits', 4)}, group {q.get('group_size', 128)}"
        return f"{self.method} checkpoint"


def read_checkpoint(model_path: str) -> Checkpoint:
    """The checkpoint's quantization_config: from its local config.json (a directory, or the Hugging Face cache's
    snapshot of a hub id), else from Qwen's published config of an official checkpoint, else none known."""
    from .preflight import hf_cache_dir, looks_local

    candidates = [Path(model_path).expanduser() / "config.json"]
    if not looks_local(model_path):
        snapshots = hf_cache_dir() / ("models--" + model_path.replace("/", "--")) / "snapshots"
        candidates += sorted(snapshots.glob("*/config.json"))
    for config in candidates:
        try:
            data = json_file(config)
        except (OSError, ValueError):
            continue
        quant = data.get("quantization_config") if isinstance(data, dict) else None
        valid = isinstance(quant, dict) and quant.get("quant_method")
        return Checkpoint(model_path, quant if valid else None, f"from {config}")
    if model_path in OFFICIAL_CHECKPOINTS:
        return Checkpoint(model_path, OFFICIAL_CHECKPOINTS[model_path], "from Qwen's published config.json")
    return Checkpoint(model_path, None, "no config.json found: assumed")


def checkpoint_scheme(quant: dict[str, Any] | None) -> str | None:
    """The plan's weight scheme for a pre-quantized checkpoint: Qwen/Qwen3-14B-AWQ (awq, 4 bits, group
    128) -> int4-checkpoint; Qwen/Qwen3-14B-FP8 (fp8, weight_block_size [128, 128]) -> fp8-checkpoint."""
    if not quant:
        return None
    method = str(quant.get("quant_method", "")).lower()
    if method in ("awq", "gptq") and int(quant.get("bits", quant.get("w_bit", 4))) == 4:
        return "int4-checkpoint"
    if method == "fp8":
        return "fp8-checkpoint"
    return None
