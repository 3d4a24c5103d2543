"""What can be set, its type, its built-in default and its bounds — one table for YAML and CLI.

The table is the schema of `server_config.yaml` and of the CLI flags; presets (which values to
use) live in the YAML files, never here. Range checks are SGLang-version independent; the
choices that depend on the installed SGLang (quantization methods, KV dtypes, attention
backends) are checked against its flag set in `sglang_args`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from .errors import QwenServeError, control_character, shortened
from .secret import Secret, header_safe

# The values SGLang's torchao_utils.apply_torchao_config_to_model understands (<= 0.5.17).
TORCHAO_CONFIGS = (
    "int8wo",
    "int8dq",
    "int4wo-32",
    "int4wo-64",
    "int4wo-128",
    "int4wo-256",
    "fp8wo",
    "fp8dq-per_tensor",
    "fp8dq-per_row",
)
# SGLang's own online int4/int8 weight quantization (`--quantization humming`, package humming-kernels):
# the weight type, the group its scales cover along the input (0: one scale per output channel), and
# optionally quantized activations (W4A8). qwen-serve hands them to SGLang as the environment
# variables SGLANG_HUMMING_ONLINE_QUANT_CONFIG / SGLANG_HUMMING_INPUT_QUANT_CONFIG.
HUMMING_WEIGHT_DTYPES = ("int4", "int8")
HUMMING_GROUP_SIZES = (0, 32, 64, 128, 256)
HUMMING_INPUT_DTYPES = ("float8e4m3", "int8")
HUMMING_DEFAULT_GROUP = 128  # what humming_group_size: null means
# Qwen3-14B has 8 KV heads; SGLang splits them evenly over tensor-parallel ranks.
TP_SIZES = (1, 2, 4, 8)
ROUTER_METRICS_PORT = 29000  # sglang-router's own Prometheus port: --router-metrics-port's default and k8s's

_TYPE_WORDS = {str: "a string", int: "an integer", float: "a number", bool: "true or false"}


@dataclass(frozen=True)
class Bound:
    """What values are allowed, as a predicate and as words for the error line."""

    ok: Callable[[Any], bool]
    allowed: str
    fix: str


@dataclass(frozen=True)
class Field:
    name: str
    kind: type
    default: Any
    help: str
    bound: Bound | None = None
    # The SGLang flag it becomes; None for launcher-only settings.
    sglang_flag: str | None = None
    secret: bool = False
    # The environment variable it becomes instead of a flag (humming's settings), if any.
    env: str | None = None

    @property
    def cli_flag(self) -> str:
        return "--" + self.name.replace("_", "-")

    @property
    def cli_no_flag(self) -> str:
        """A switch's off spelling (click's `--x/--no-x`)."""
        return "--no-" + self.cli_flag[2:]

    def type_word(self) -> str:
        return _TYPE_WORDS[self.kind]

    def coerce(self, value: Any, *, where: str, from_text: bool = False) -> Any:
        """Type- and range-check a YAML value (typed) or CLI text (from_text); None passes."""
        if value is None:
            return None
        if isinstance(value, Secret):  # checked again (a key file's text, say): by its text
            value = value.reveal()
        if from_text and isinstance(value, str) and self.kind is not str:
            value = self._parse_text(value, where)
        ok = (isinstance(value, self.kind) and not (self.kind is int and isinstance(value, bool))) or (
            self.kind is float and isinstance(value, int) and not isinstance(value, bool)
        )
        if not ok:
            shown = "a value of the wrong type" if self.secret else _short(value)  # a secret is never echoed
            raise QwenServeError(
                f"{self.name}: {shown} ({where}) is {_describe(value)}, expected {self.type_word()}",
                allowed=self.bound.allowed if self.bound else None,
                fix=f"write {self.name}: {self.example}",
            )
        if self.kind is float:
            value = float(value)
        shown = f"a value of {len(value)} characters" if self.secret else _short(value)  # a secret is never echoed
        if self.bound is not None and not self.bound.ok(value):
            raise QwenServeError(
                f"{self.name}: {shown} ({where}) is not allowed",
                allowed=self.bound.allowed,
                fix=self.bound.fix,
            )
        control = control_character(value, allowed="\t") if self.kind is str else None
        if control is not None:  # it would reach a command line, a unit, a manifest or a log as something else
            raise QwenServeError(
                f"{self.name}: {shown} ({where}) holds the control character {control!r}",
                allowed="printable text on one line",
                fix=f"write {self.name}: {self.example}",
            )
        return Secret(value) if self.secret else value

    @property
    def example(self) -> str:
        return _EXAMPLES.get(self.name) or {str: "VALUE", int: "8192", float: "0.5", bool: "true"}[self.kind]

    def cli_usage(self, value: Any = None) -> str:
        """How to give this setting on qwen-serve's command line: a switch takes no value."""
        if self.kind is bool:
            off = value is False or str(value).strip().lower() in ("false", "0", "no", "off")
            return self.cli_no_flag if off else self.cli_flag
        return f"{self.cli_flag} {self.example if value is None else value}"

    def _parse_text(self, text: str, where: str) -> Any:
        try:
            if self.kind is int:
                return int(text)
            if self.kind is float:
                return float(text)
            low = text.strip().lower()
            if low in ("true", "1", "yes", "on"):
                return True
            if low in ("false", "0", "no", "off"):
                return False
            raise ValueError(text)
        except ValueError:
            raise QwenServeError(
                f"{self.name}: {text!r} ({where}) is not {self.type_word()}",
                allowed=self.bound.allowed if self.bound else None,
                fix=f"pass {self.cli_usage()}",
            ) from None


def _short(value: Any) -> str:
    """A value as an error names it: its repr (control characters escaped), a long one cut in the middle."""
    return shortened(repr(value))


def _describe(value: Any) -> str:
    for kind, word in (
        (bool, "a boolean"),
        (int, "an integer"),
        (float, "a number"),
        (str, "a string"),
        (list, "a list"),
        (dict, "a mapping"),
    ):
        if isinstance(value, kind):
            return word
    return type(value).__name__


_EXAMPLES = {
    "port": "30000",
    "tp_size": "2",
    "mem_fraction_static": "0.85",
    "torchao_config": "int4wo-128",
    "host": "127.0.0.1",
    "model_path": "Qwen/Qwen3-14B",
}

PORT = Bound(lambda v: 1 <= v <= 65535, "1-65535", "pick a free port, e.g. --port 30001")
TP = Bound(
    lambda v: v in TP_SIZES,
    "1, 2, 4 or 8 (sizes that divide Qwen3-14B's 8 KV heads)",
    "use --tp-size 1, 2, 4 or 8 with at least that many GPUs",
)
FRACTION = Bound(
    lambda v: 0.0 < v < 1.0,
    "a fraction strictly between 0 and 1",
    "try --mem-fraction-static 0.85, or leave it unset to let SGLang size it",
)
POSITIVE = Bound(lambda v: v >= 1, "an integer >= 1", "give a positive number, or null for SGLang's default")
CHUNK = Bound(
    lambda v: v >= 1 or v == -1,
    "an integer >= 1, or -1 (SGLang's own way to turn chunking off)",
    "give a chunk size such as 4096, -1 to disable chunked prefill, or null for SGLang's default",
)
TORCHAO = Bound(
    lambda v: v in TORCHAO_CONFIGS,
    ", ".join(TORCHAO_CONFIGS),
    "pick one of those, e.g. --torchao-config int4wo-128",
)
HUMMING_WEIGHT = Bound(
    lambda v: v in HUMMING_WEIGHT_DTYPES,
    ", ".join(HUMMING_WEIGHT_DTYPES),
    "pick one of those, e.g. --humming-weight-dtype int4",
)
HUMMING_GROUP = Bound(
    lambda v: v in HUMMING_GROUP_SIZES,
    "0 (one scale per output channel), 32, 64, 128 or 256 (they divide Qwen3's 5120 and 17408 input features)",
    "use --humming-group-size 128",
)
HUMMING_INPUT = Bound(
    lambda v: v in HUMMING_INPUT_DTYPES,
    ", ".join(HUMMING_INPUT_DTYPES) + " (or null: bf16 activations)",
    "pick one of those, e.g. --humming-input-dtype float8e4m3, or leave it unset",
)
NONEMPTY = Bound(lambda v: bool(v.strip()), "a non-empty string", "remove the key or give it a value")


# an HTTP bearer token (it travels in the Authorization header: printable ASCII, no space or line break) long
# enough that masking it in logs hides it rather than every occurrence of a common letter
API_KEY = Bound(
    lambda v: 8 <= len(v) <= 512 and header_safe(v),
    "8 to 512 printable ASCII characters, no spaces or line breaks (it travels in an HTTP header)",
    "use a longer random token, e.g. `openssl rand -hex 24`",
)


def _f(name, kind, default, help, bound=None, flag=True, secret=False, env=None) -> Field:
    sglang_flag = "--" + name.replace("_", "-") if flag and not env else None
    return Field(name, kind, default, help, bound, sglang_flag, secret, env)


HUMMING_ONLINE_ENV = "SGLANG_HUMMING_ONLINE_QUANT_CONFIG"
HUMMING_INPUT_ENV = "SGLANG_HUMMING_INPUT_QUANT_CONFIG"

# Built-in defaults: the lowest layer of precedence. None = pass no flag (SGLang's default).
FIELDS: tuple[Field, ...] = (
    _f("model_path", str, "Qwen/Qwen3-14B", "Local model directory or Hugging Face id.", NONEMPTY),
    _f("served_model_name", str, None, "Model id reported by /v1/models.", NONEMPTY),
    _f("host", str, "0.0.0.0", "Interface to listen on.", NONEMPTY),
    _f("port", int, 30000, "HTTP port.", PORT),
    _f("api_key", str, None, "Require this bearer token on every request.", API_KEY, secret=True),
    _f("torchao_config", str, None, "torchao quantization (sglang <= 0.5.17).", TORCHAO),
    _f("quantization", str, None, "SGLang quantization method, e.g. fp8, humming, awq_marlin."),
    _f(
        "humming_weight_dtype",
        str,
        None,
        "With quantization humming: weight type (int4, int8).",
        HUMMING_WEIGHT,
        env=HUMMING_ONLINE_ENV,
    ),
    _f(
        "humming_group_size",
        int,
        None,
        "With quantization humming: input features per weight scale (0: per channel).",
        HUMMING_GROUP,
        env=HUMMING_ONLINE_ENV,
    ),
    _f(
        "humming_input_dtype",
        str,
        None,
        "With quantization humming: quantize activations too (float8e4m3: W4A8).",
        HUMMING_INPUT,
        env=HUMMING_INPUT_ENV,
    ),
    _f("kv_cache_dtype", str, "auto", "KV cache dtype: auto, fp8_e5m2, fp8_e4m3."),
    _f("tp_size", int, 1, "Tensor-parallel GPUs (1, 2, 4, 8).", TP),
    _f("mem_fraction_static", float, None, "GPU memory share for weights + KV cache.", FRACTION),
    _f("context_length", int, None, "Max tokens per request.", POSITIVE),
    _f("max_running_requests", int, None, "Max concurrently decoded requests.", POSITIVE),
    _f("chunked_prefill_size", int, None, "Prefill chunk size in tokens (-1: no chunking).", CHUNK),
    _f("enable_torch_compile", bool, False, "torch.compile the model."),
    _f("attention_backend", str, None, "Attention kernels: flashinfer, triton, fa3, ..."),
    _f("enable_flashinfer", bool, False, "The original guide's switch: --attention-backend flashinfer.", flag=False),
    _f("sampling_backend", str, None, "Sampling kernels: flashinfer or pytorch."),
    _f("load_format", str, None, "auto, safetensors, layered, dummy, ..."),
    _f("dtype", str, "auto", "Weight/activation dtype."),
    _f("reasoning_parser", str, "qwen3", "Reasoning parser: qwen3 splits <think> into reasoning_content."),
    _f("tool_call_parser", str, "qwen", "Tool-call parser: qwen turns <tool_call> blocks into tool_calls."),
    _f("enable_metrics", bool, True, "SGLang's Prometheus /metrics on the server's port (free of measurable cost)."),
)
FIELDS_BY_NAME: dict[str, Field] = {f.name: f for f in FIELDS}

# Keys of a config file (or preset) that are not settings.
SGLANG_ARGS_KEY = "sglang_args"
PRESETS_KEY = "presets"
DESCRIPTION_KEY = "description"
MEASURED_KEY = "measured"  # a preset's measured result, in words (docs/presets.md has the table)
AUTO_ORDER_KEY = "auto_order"
# in a --config file of the user's: false = this file alone (no bundled defaults, no bundled presets)
INHERIT_KEY = "inherit_bundled"
