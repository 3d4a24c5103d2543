"""Write a Qwen3 model directory offline: Qwen3-14B's real config + the real Qwen tokenizer.

Served with SGLang's `--load-format dummy` it has the real shapes (memory and speed are real,
text is noise). `tiny=True` writes a small Qwen3-architecture model with random weights
(safetensors) that a CPU server can run, for tests.

The tokenizer is rebuilt from the 151,643 BPE ranks that the `dashscope` package ships
(`dashscope/resources/qwen.tiktoken`), plus Qwen3's 26 added tokens at their real ids and the
Qwen2 pre-tokenizer regex, so it encodes like the real one ("Hello world" -> [9707, 1879]).
"""

from __future__ import annotations

import base64
import functools
import importlib.util
import json
import shutil
import zipfile
from pathlib import Path

from .errors import QwenServeError
from .model import OFFICIAL_CHECKPOINTS, QWEN3_14B_CONFIG

# Qwen2 pre-tokenizer split regex (as in the real tokenizer.json).
PRETOKENIZE_REGEX = (
    r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}"
    r"| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"
)

# (id, content, special) exactly as in Qwen3's tokenizer_config.json
ADDED_TOKENS = [
    (151643, "<|endoftext|>", True),
    (151644, "<|im_start|>", True),
    (151645, "<|im_end|>", True),
    (151646, "<|object_ref_start|>", True),
    (151647, "<|object_ref_end|>", True),
    (151648, "<|box_start|>", True),
    (151649, "<|box_end|>", True),
    (151650, "<|quad_start|>", True),
    (151651, "<|quad_end|>", True),
    (151652, "<|vision_start|>", True),
    (151653, "<|vision_end|>", True),
    (151654, "<|vision_pad|>", True),
    (151655, "<|image_pad|>", True),
    (151656, "<|video_pad|>", True),
    (151657, "<tool_call>", False),
    (151658, "</tool_call>", False),
    (151659, "<|fim_prefix|>", False),
    (151660, "<|fim_middle|>", False),
    (151661, "<|fim_suffix|>", False),
    (151662, "<|fim_pad|>", False),
    (151663, "<|repo_name|>", False),
    (151664, "<|file_sep|>", False),
    (151665, "<tool_response>", False),
    (151666, "</tool_response>", False),
    (151667, "<think>", False),
    (151668, "</think>", False),
]
NUM_RANKS = 151643

# A small Qwen3 for CPU tests: same vocabulary and tokenizer, tiny layers, tied embeddings.
TINY_OVERRIDES = {
    "head_dim": 16,
    "hidden_size": 64,
    "intermediate_size": 128,
    "max_position_embeddings": 4096,
    "max_window_layers": 2,
    "num_attention_heads": 4,
    "num_hidden_layers": 2,
    "num_key_value_heads": 2,
    "tie_word_embeddings": True,
    "torch_dtype": "float32",
}

GENERATION_CONFIG = {
    "bos_token_id": 151643,
    "do_sample": True,
    "eos_token_id": [151645, 151643],
    "pad_token_id": 151643,
    "temperature": 0.6,
    "top_k": 20,
    "top_p": 0.95,
    "transformers_version": "4.51.0",
}

# Our own ChatML template with Qwen3's conventions: system/user/assistant turns, tools in the
# system turn, <tool_call>/<tool_response> blocks, earlier turns' <think> stripped, and
# `enable_thinking=false` closing an empty think block so the model answers directly.
CHAT_TEMPLATE = """\
{%- macro text(content) -%}
{%- if content is string -%}{{ content }}
{%- elif content -%}{%- for part in content -%}{%- if part.type == 'text' -%}{{ part.text }}{%- endif -%}{%- endfor -%}
{%- endif -%}
{%- endmacro -%}
{%- set first_is_system = messages and messages[0].role == 'system' -%}
{%- if tools -%}
{{- '<|im_start|>system\\n' -}}
{%- if first_is_system -%}{{- text(messages[0].content) + '\\n\\n' -}}{%- endif -%}
{{- '# Tools\\n\\nYou may call one or more functions to assist with the user query.\\n\\n' -}}
{{- 'You are provided with function signatures within <tools></tools> XML tags:\\n<tools>' -}}
{%- for tool in tools -%}{{- '\\n' + (tool | tojson) -}}{%- endfor -%}
{{- '\\n</tools>\\n\\nFor each function call, return a json object with function name and arguments ' -}}
{{- 'within <tool_call></tool_call> XML tags:\\n<tool_call>\\n{"name": <function-name>, ' -}}
{{- '"arguments": <args-json-object>}\\n</tool_call><|im_end|>\\n' -}}
{%- elif first_is_system -%}
{{- '<|im_start|>system\\n' + text(messages[0].content) + '<|im_end|>\\n' -}}
{%- endif -%}
{%- for message in messages -%}
{%- set content = text(message.content) -%}
{%- if message.role == 'system' -%}
{%- if not loop.first -%}{{- '<|im_start|>system\\n' + content + '<|im_end|>\\n' -}}{%- endif -%}
{%- elif message.role == 'user' -%}
{{- '<|im_start|>user\\n' + content + '<|im_end|>\\n' -}}
{%- elif message.role == 'assistant' -%}
{%- if '</think>' in content -%}{%- set content = content.split('</think>')[-1].lstrip('\\n') -%}{%- endif -%}
{{- '<|im_start|>assistant\\n' + content -}}
{%- for call in (message.tool_calls or []) -%}
{%- set fn = call.function if call.function is defined else call -%}
{{- '\\n<tool_call>\\n{"name": "' + fn.name + '", "arguments": ' -}}
{{- (fn.arguments if fn.arguments is string else (fn.arguments | tojson)) + '}\\n</tool_call>' -}}
{%- endfor -%}
{{- '<|im_end|>\\n' -}}
{%- elif message.role == 'tool' -%}
{%- if loop.first or messages[loop.index0 - 1].role != 'tool' -%}{{- '<|im_start|>user' -}}{%- endif -%}
{{- '\\n<tool_response>\\n' + content + '\\n</tool_response>' -}}
{%- if loop.last or messages[loop.index0 + 1].role != 'tool' -%}{{- '<|im_end|>\\n' -}}{%- endif -%}
{%- endif -%}
{%- endfor -%}
{%- if add_generation_prompt -%}
{{- '<|im_start|>assistant\\n' -}}
{%- if enable_thinking is defined and enable_thinking is false -%}{{- '<think>\\n\\n</think>\\n\\n' -}}{%- endif -%}
{%- endif -%}
"""


def find_ranks(ranks: str | Path | None = None) -> bytes:
    """qwen.tiktoken bytes: from a file, a dashscope wheel, or the installed dashscope package."""
    if ranks is not None:
        path = Path(ranks)
        if not path.is_file():
            raise QwenServeError(
                f"--ranks: '{path}' is not a file",
                fix="pass qwen.tiktoken or a dashscope wheel (pip download --no-deps dashscope==2.0.2)",
            )
        if path.suffix == ".whl":
            with zipfile.ZipFile(path) as wheel:
                return wheel.read("dashscope/resources/qwen.tiktoken")
        return path.read_bytes()
    spec = importlib.util.find_spec("dashscope")  # located, not imported
    if spec and spec.submodule_search_locations:
        for folder in spec.submodule_search_locations:
            candidate = Path(folder) / "resources" / "qwen.tiktoken"
            if candidate.is_file():
                return candidate.read_bytes()
    raise QwenServeError(
        "the Qwen BPE ranks (dashscope/resources/qwen.tiktoken) were not found",
        fix="uv sync (installs dashscope), or pass --ranks path/to/qwen.tiktoken or a dashscope wheel",
    )


def parse_ranks(data: bytes) -> dict[bytes, int]:
    ranks = {}
    for line in data.splitlines():
        if line:
            token, rank = line.split()
            ranks[base64.b64decode(token)] = int(rank)
    if len(ranks) != NUM_RANKS or sorted(ranks.values()) != list(range(NUM_RANKS)):
        raise QwenServeError(
            f"the BPE ranks file holds {len(ranks)} ranks, expected Qwen's {NUM_RANKS}",
            fix="use qwen.tiktoken from the dashscope package",
        )
    return ranks


def _bytes_to_unicode() -> dict[int, str]:
    """GPT-2's byte -> printable character map used by byte-level BPE."""
    bs = [*range(ord("!"), ord("~") + 1), *range(ord("¡"), ord("¬") + 1), *range(ord("®"), ord("ÿ") + 1)]
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return dict(zip(bs, map(chr, cs)))


def _merge_parts(ranks: dict[bytes, int], token: bytes, max_rank: int) -> list[bytes]:
    """Replay BPE on `token` using only merges ranked below max_rank: the last merge's halves."""
    parts = [bytes([b]) for b in token]
    while True:
        best = None
        for i in range(len(parts) - 1):
            rank = ranks.get(parts[i] + parts[i + 1])
            if rank is not None and rank < max_rank and (best is None or rank < best[1]):
                best = (i, rank)
        if best is None:
            return parts
        i = best[0]
        parts = parts[:i] + [parts[i] + parts[i + 1]] + parts[i + 2 :]


def tokenizer_json(ranks: dict[bytes, int]) -> dict:
    b2u = _bytes_to_unicode()

    def enc(b: bytes) -> str:
        return "".join(b2u[x] for x in b)

    vocab, merges = {}, []
    for token, rank in sorted(ranks.items(), key=lambda kv: kv[1]):
        vocab[enc(token)] = rank
        if len(token) > 1:
            parts = _merge_parts(ranks, token, rank)
            assert len(parts) == 2, (token, parts)
            merges.append([enc(parts[0]), enc(parts[1])])
    byte_level = {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": False, "use_regex": False}
    return {
        "version": "1.0",
        "truncation": None,
        "padding": None,
        "added_tokens": [
            {
                "id": i,
                "content": c,
                "single_word": False,
                "lstrip": False,
                "rstrip": False,
                "normalized": False,
                "special": s,
            }
            for i, c, s in ADDED_TOKENS
        ],
        "normalizer": {"type": "NFC"},
        "pre_tokenizer": {
            "type": "Sequence",
            "pretokenizers": [
                {"type": "Split", "pattern": {"Regex": PRETOKENIZE_REGEX}, "behavior": "Isolated", "invert": False},
                byte_level,
            ],
        },
        "post_processor": byte_level,
        "decoder": {"type": "ByteLevel", "add_prefix_space": True, "trim_offsets": True, "use_regex": True},
        "model": {
            "type": "BPE",
            "dropout": None,
            "unk_token": None,
            "continuing_subword_prefix": "",
            "end_of_word_suffix": "",
            "fuse_unk": False,
            "byte_fallback": False,
            "ignore_merges": False,
            "vocab": vocab,
            "merges": merges,
        },
    }


@functools.lru_cache(maxsize=2)
def _tokenizer_text(ranks_data: bytes) -> str:
    """tokenizer.json's text, built once per process and ranks file (the BPE replay takes seconds; a process that
    writes several skeletons, such as the tests, pays it once)."""
    return json.dumps(tokenizer_json(parse_ranks(ranks_data)), ensure_ascii=False)


def tokenizer_config() -> dict:
    return {
        "add_bos_token": False,
        "add_prefix_space": False,
        "added_tokens_decoder": {
            str(i): {
                "content": c,
                "lstrip": False,
                "normalized": False,
                "rstrip": False,
                "single_word": False,
                "special": s,
            }
            for i, c, s in ADDED_TOKENS
        },
        "additional_special_tokens": [c for i, c, _ in ADDED_TOKENS if 151644 <= i <= 151656],
        "bos_token": None,
        "chat_template": CHAT_TEMPLATE,
        "clean_up_tokenization_spaces": False,
        "eos_token": "<|im_end|>",
        "errors": "replace",
        "model_max_length": 131072,
        "pad_token": "<|endoftext|>",
        "split_special_tokens": False,
        "tokenizer_class": "Qwen2Tokenizer",
        "unk_token": None,
    }


def weight_shapes(config: dict) -> dict[str, tuple[int, ...]]:
    """Qwen3ForCausalLM's parameter names and shapes, as in its safetensors checkpoints."""
    h, inter, v = config["hidden_size"], config["intermediate_size"], config["vocab_size"]
    d, nq, nkv = config["head_dim"], config["num_attention_heads"], config["num_key_value_heads"]
    shapes: dict[str, tuple[int, ...]] = {"model.embed_tokens.weight": (v, h)}
    for i in range(config["num_hidden_layers"]):
        p = f"model.layers.{i}."
        shapes.update(
            {
                p + "self_attn.q_proj.weight": (nq * d, h),
                p + "self_attn.k_proj.weight": (nkv * d, h),
                p + "self_attn.v_proj.weight": (nkv * d, h),
                p + "self_attn.o_proj.weight": (h, nq * d),
                p + "self_attn.q_norm.weight": (d,),
                p + "self_attn.k_norm.weight": (d,),
                p + "mlp.gate_proj.weight": (inter, h),
                p + "mlp.up_proj.weight": (inter, h),
                p + "mlp.down_proj.weight": (h, inter),
                p + "input_layernorm.weight": (h,),
                p + "post_attention_layernorm.weight": (h,),
            }
        )
    shapes["model.norm.weight"] = (h,)
    if not config["tie_word_embeddings"]:
        shapes["lm_head.weight"] = (v, h)
    return shapes


def tiny_weights(config: dict, seed: int = 0) -> dict:
    """Random weights (normal, std 0.02; norms at 1) with Qwen3's parameter names and shapes."""
    import numpy as np

    rng = np.random.default_rng(seed)
    return {
        name: np.ones(shape, np.float32)
        if len(shape) == 1
        else (rng.standard_normal(shape, dtype=np.float32) * 0.02).astype(np.float32)
        for name, shape in weight_shapes(config).items()
    }


# Written into every skeleton: a directory holding it was written by qwen-serve and may be written again.
MARKER = ".qwen-serve-skeleton"


def checked_out_dir(out: str | Path) -> Path:
    """The directory a skeleton may be written to: a new or empty one, or an earlier skeleton (its marker file);
    never the current directory by accident, a file, or a directory of someone else's files (a real model)."""
    text = str(out)
    if not text.strip():
        raise QwenServeError(
            "skeleton: the output directory is empty ('')", allowed="a new or empty directory", fix="name one: DIR"
        )
    path = Path(text).expanduser()
    if path.exists() and not path.is_dir():
        raise QwenServeError(
            f"skeleton: {text} is a file, not a directory",
            allowed="a new or empty directory, or an earlier skeleton",
            fix="name a new directory",
        )
    if path.is_dir() and any(path.iterdir()) and not (path / MARKER).is_file():
        raise QwenServeError(
            f"skeleton: {text} already holds files that qwen-serve did not write (e.g. "
            f"{sorted(p.name for p in path.iterdir())[0]}); nothing was changed",
            allowed="a new or empty directory, or an earlier skeleton",
            fix="name a new directory",
        )
    return path


def write_skeleton(
    out: str | Path,
    *,
    tiny: bool = False,
    ranks: str | Path | None = None,
    seed: int = 0,
    checkpoint: str | None = None,
) -> Path:
    """`checkpoint`: one of OFFICIAL_CHECKPOINTS, whose quantization_config the config.json then carries."""
    if checkpoint is not None and checkpoint not in OFFICIAL_CHECKPOINTS:
        raise QwenServeError(
            f"skeleton: unknown checkpoint {checkpoint!r} (--checkpoint)",
            allowed=", ".join(OFFICIAL_CHECKPOINTS),
            fix="pick one of those, or leave --checkpoint out for the bf16 Qwen/Qwen3-14B",
        )
    if checkpoint is not None and tiny:
        raise QwenServeError(
            "skeleton: --checkpoint and --tiny together",
            allowed="one of them",
            fix="--tiny writes bf16 random weights; drop --checkpoint",
        )
    out = checked_out_dir(out)
    ranks_data = find_ranks(ranks)  # read before anything is written: a missing file changes nothing
    out.mkdir(parents=True, exist_ok=True)
    (out / MARKER).write_text(f"written by qwen-serve skeleton ({checkpoint or 'Qwen/Qwen3-14B'})\n")
    config = dict(QWEN3_14B_CONFIG, **(TINY_OVERRIDES if tiny else {}))
    if checkpoint is not None:
        config["quantization_config"] = dict(OFFICIAL_CHECKPOINTS[checkpoint])

    def dump(name: str, obj: dict, **kw) -> None:
        (out / name).write_text(json.dumps(obj, ensure_ascii=False, **kw), encoding="utf-8")

    dump("config.json", config, indent=2)
    dump("generation_config.json", GENERATION_CONFIG, indent=2)
    dump("tokenizer_config.json", tokenizer_config(), indent=2)
    (out / "tokenizer.json").write_text(_tokenizer_text(ranks_data), encoding="utf-8")
    if tiny:
        from safetensors.numpy import save_file

        save_file(tiny_weights(config, seed), str(out / "model.safetensors"), metadata={"format": "pt"})
    return out


def write_layout(base: str | Path, out: str | Path, checkpoint: str) -> Path:
    """A skeleton of one of OFFICIAL_CHECKPOINTS' layouts made from an existing skeleton folder (no tokenizer ranks
    needed): `base`'s files, with the checkpoint's quantization_config in config.json. Served with --load-format
    dummy, SGLang runs that checkpoint's kernels on random weights."""
    if checkpoint not in OFFICIAL_CHECKPOINTS:
        raise QwenServeError(
            f"skeleton: unknown checkpoint {checkpoint!r}", allowed=", ".join(OFFICIAL_CHECKPOINTS), fix="pick one"
        )
    base, out = Path(base), checked_out_dir(out)
    config = json.loads((base / "config.json").read_text(encoding="utf-8"))
    config["quantization_config"] = dict(OFFICIAL_CHECKPOINTS[checkpoint])
    out.mkdir(parents=True, exist_ok=True)
    (out / MARKER).write_text(f"written by qwen-serve skeleton ({checkpoint})\n")
    for name in ("generation_config.json", "tokenizer_config.json", "tokenizer.json"):
        if (base / name).is_file():
            shutil.copyfile(base / name, out / name)
    (out / "config.json").write_text(json.dumps(config, ensure_ascii=False, indent=2), encoding="utf-8")
    return out
