"""Stage 2c — a context longer than the model's own: YaRN rope scaling, the way Qwen documents it.

Qwen3-14B was trained on 32,768 tokens (its config allows 40,960: 32k of prompt plus 8k of output). Qwen's
instructions serve 131,072 with static YaRN, `"rope_scaling": {"rope_type": "yarn", "factor": 4.0,
"original_max_position_embeddings": 32768}`. A context_length above the model's maximum turns that on here, with
the smallest whole factor that covers it (static YaRN scales every prompt, so a larger factor than needed costs
short prompts more), and one line that says so. The user's own --json-model-override-args (after `--` or under
sglang_args) is left alone.

SGLang 0.5.17 derives a model's longest context from max_position_embeddings and ignores the YaRN factor when
original_max_position_embeddings is given (hf_transformers/common.py get_context_length), so Qwen's flags alone are
refused there above 40,960; the override also raises max_position_embeddings to the YaRN length (its rotary
embedding takes its length from rope_scaling, not from that field).
"""

from __future__ import annotations

import json
import math

from .errors import QwenServeError
from .resolve import LaunchSettings, SGLangArg

OVERRIDE_FLAG = "json-model-override-args"
YARN_ORIGINAL = 32768  # Qwen3's pretraining context: YaRN's original_max_position_embeddings
YARN_MAX_FACTOR = 4  # Qwen's documented (and evaluated) maximum: 4 x 32,768 = 131,072 tokens


def user_override(launch: LaunchSettings) -> str | None:
    """Where the user's own --json-model-override-args comes from, if they gave one."""
    if any(t.split("=", 1)[0] == "--" + OVERRIDE_FLAG for t in launch.passthrough):
        return "after --"
    return next((a.origin for a in launch.sglang_args if a.flag == OVERRIDE_FLAG and a.value), None)


def yarn_override(context_length: int) -> dict:
    factor = max(2, math.ceil(context_length / YARN_ORIGINAL))
    return {
        "rope_scaling": {
            "rope_type": "yarn",
            "factor": float(factor),
            "original_max_position_embeddings": YARN_ORIGINAL,
        },
        "max_position_embeddings": YARN_ORIGINAL * factor,
    }


def settle(launch: LaunchSettings) -> tuple[LaunchSettings, tuple[str, ...]]:
    """The launch with YaRN on where its context_length needs it, and the line that says so."""
    from .model import model_facts

    setting = launch.get("context_length")
    if setting.value is None or user_override(launch):
        return launch, ()
    facts = model_facts(launch["model_path"])
    if setting.value <= facts.max_context:
        return launch, ()
    longest = YARN_ORIGINAL * YARN_MAX_FACTOR if facts.max_context >= YARN_ORIGINAL else facts.max_context
    if setting.value > longest:
        how = "with YaRN, Qwen's documented maximum" if longest > facts.max_context else "max_position_embeddings"
        raise QwenServeError(
            f"context_length: {setting.value:,} ({setting.origin}) is longer than the model's {longest:,} tokens "
            f"({how}; {facts.source})",
            allowed=f"1 to {longest:,}",
            fix=f"use --context-length {longest} or less",
        )
    override = yarn_override(setting.value)
    scaling = override["rope_scaling"]
    origin = f"context_length {setting.value:,} > the model's {facts.max_context:,} (YaRN)"
    launch = launch.with_sglang_arg(SGLangArg(OVERRIDE_FLAG, json.dumps(override, separators=(",", ":")), origin))
    return launch, (
        f"context_length {setting.value:,} ({setting.origin}) is above the model's native {facts.max_context:,}: "
        f"YaRN rope scaling is on (factor {scaling['factor']} over {YARN_ORIGINAL:,}, as Qwen documents it; "
        f"--{OVERRIDE_FLAG}). Static YaRN scales short prompts too and may lower their quality: set a long "
        "context only where long prompts come",
    )
