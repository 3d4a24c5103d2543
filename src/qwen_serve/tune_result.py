"""What `qwen-serve tune` measured: the result file (one per GPU model and tensor-parallel size, in qwen-serve's cache
folder), written and read back with every field checked by type, and the preset it picks for a load. Read by
`--preset auto` (pipeline.auto_preset) without importing the measuring side (tune.py)."""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from .errors import QwenServeError
from .outputs import ours, write_json

FORMAT = 1
WRITTEN_BY = "qwen-serve tune"
DEFAULT_LOAD = "throughput"  # without --load, auto picks for the highest level measured: a server is for many users
LOADS = ("interactive", "throughput")  # the lowest and the highest level measured; or a number of requests
LEVEL_WITH = 0.03  # a ratio within 3 % of 1 is called level, not a win or a loss


@dataclass(frozen=True)
class Baseline:
    """Plain `python -m sglang.launch_server`, with no flag but the model, the dummy load format, host and port."""

    name: str
    layout: str  # the checkpoint whose layout it serves
    description: str


BF16_LAYOUT = "Qwen/Qwen3-14B"
BASELINES = (
    Baseline("plain-bf16", BF16_LAYOUT, "plain SGLang, bf16 Qwen/Qwen3-14B, no flags (every ratio is to this row)"),
    Baseline("plain-fp8-checkpoint", "Qwen/Qwen3-14B-FP8", "plain SGLang on Qwen's FP8 checkpoint, no flags"),
)
REFERENCE = BASELINES[0].name


def cache_dir() -> Path:
    from .outputs import cache_root

    return cache_root() / "tune"


# ---- the result file -------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Level:
    concurrency: int
    output_tok_s: float
    completed: int
    errors: int
    duration_s: float
    ttft_ms: dict[str, float]
    tpot_ms: dict[str, float]


@dataclass(frozen=True)
class Measured:
    name: str
    kind: str
    layout: str
    argv: tuple[str, ...]
    when: str  # ISO time the start began
    seconds_to_ready: float | None
    jit_cache: str  # "empty" (a first start: kernels compile) or "filled"
    levels: tuple[Level, ...]
    complete: bool
    error: str | None = None

    def level(self, concurrency: int) -> Level | None:
        return next((lv for lv in self.levels if lv.concurrency == concurrency), None)


@dataclass(frozen=True)
class Machine:
    """What a result is valid for: the GPU model, the tensor-parallel size, the driver and the SGLang release."""

    gpu: str
    tp_size: int
    driver: str | None
    sglang: str

    def slug(self) -> str:
        name = re.sub(r"[^A-Za-z0-9]+", "-", self.gpu).strip("-").lower() or "gpu"
        return f"{name}-tp{self.tp_size}"

    def differs(self, other: Machine) -> str | None:
        """Why a result made on `other` does not hold here, or None."""
        if other.gpu != self.gpu:
            return f"it was measured on {other.gpu}, this is {self.gpu}"
        if other.sglang != self.sglang:
            return f"it was measured with SGLang {other.sglang}, this is {self.sglang}"
        if self.driver and other.driver != self.driver:
            return f"it was measured with driver {other.driver}, this is {self.driver}"
        return None


@dataclass(frozen=True)
class Load:
    concurrencies: tuple[int, ...]
    input_len: int | None
    output_len: int
    rounds: int
    prompts: str | None  # the --prompts file's path, or None for random prompts of input_len tokens
    min_requests: int = 16  # each level sends max(min_requests, rounds x concurrency) requests


@dataclass(frozen=True)
class TuneResult:
    machine: Machine
    load: Load
    measured: dict[str, Measured] = field(default_factory=dict)
    left_out: dict[str, str] = field(default_factory=dict)  # candidate -> why it was not measured
    updated: str = ""
    interrupted: bool = False

    def ratio(self, name: str, concurrency: int, to: str = REFERENCE) -> float | None:
        mine, ref = self.measured.get(name), self.measured.get(to)
        a = mine.level(concurrency) if mine else None
        b = ref.level(concurrency) if ref else None
        return a.output_tok_s / b.output_tok_s if a and b and b.output_tok_s > 0 else None


class TuneFileError(QwenServeError):
    """A result file that is not one qwen-serve tune wrote, in this format."""


def _fail(where: str, value: Any, wanted: str):
    raise TuneFileError(f"{where}: {type(value).__name__} where the format has {wanted}")


def _str(value: Any, where: str) -> str:
    return value if isinstance(value, str) else _fail(where, value, "text")


def _opt_str(value: Any, where: str) -> str | None:
    return None if value is None else _str(value, where)


def _bool(value: Any, where: str) -> bool:
    return value if isinstance(value, bool) else _fail(where, value, "true or false")


def _int(value: Any, where: str, minimum: int = 0) -> int:
    if isinstance(value, int) and not isinstance(value, bool) and minimum <= value <= 10**9:
        return value
    return _fail(where, value, f"a whole number from {minimum}")


def _num(value: Any, where: str) -> float:
    if isinstance(value, (int, float)) and not isinstance(value, bool) and 0 <= value <= 1e12:
        return float(value)  # nan, inf and negatives fail the range check
    return _fail(where, value, "a finite number >= 0")


def _list(value: Any, where: str) -> list:
    return value if isinstance(value, list) else _fail(where, value, "a list")


def _dict(value: Any, where: str) -> dict:
    return value if isinstance(value, dict) else _fail(where, value, "a mapping")


def _ms(value: Any, where: str) -> dict[str, float]:
    return {_str(k, where): _num(v, f"{where}.{k}") for k, v in _dict(value, where).items()}


def _level(raw: Any, where: str) -> Level:
    raw = _dict(raw, where)
    return Level(
        _int(raw.get("concurrency"), f"{where}.concurrency", 1),
        _num(raw.get("output_tok_s"), f"{where}.output_tok_s"),
        _int(raw.get("completed"), f"{where}.completed"),
        _int(raw.get("errors"), f"{where}.errors"),
        _num(raw.get("duration_s"), f"{where}.duration_s"),
        _ms(raw.get("ttft_ms"), f"{where}.ttft_ms"),
        _ms(raw.get("tpot_ms"), f"{where}.tpot_ms"),
    )


def _measured(name: str, raw: Any) -> Measured:
    where = f"measured.{name}"
    raw = _dict(raw, where)
    ready = raw.get("seconds_to_ready")
    return Measured(
        name,
        _str(raw.get("kind"), f"{where}.kind"),
        _str(raw.get("layout"), f"{where}.layout"),
        tuple(_str(a, f"{where}.argv[]") for a in _list(raw.get("argv"), f"{where}.argv")),
        _str(raw.get("when"), f"{where}.when"),
        None if ready is None else _num(ready, f"{where}.seconds_to_ready"),
        _str(raw.get("jit_cache"), f"{where}.jit_cache"),
        tuple(_level(lv, f"{where}.levels[]") for lv in _list(raw.get("levels"), f"{where}.levels")),
        _bool(raw.get("complete"), f"{where}.complete"),
        _opt_str(raw.get("error"), f"{where}.error"),
    )


def result_from_json(data: Any) -> TuneResult:
    """A result file's JSON, every field checked by type and range (a file is input like any other)."""
    data = _dict(data, "the file")
    if data.get("written_by") != WRITTEN_BY or data.get("format") != FORMAT:
        raise TuneFileError(f"not a result of {WRITTEN_BY} format {FORMAT}")
    m = _dict(data.get("machine"), "machine")
    machine = Machine(
        _str(m.get("gpu"), "machine.gpu"),
        _int(m.get("tp_size"), "machine.tp_size", 1),
        _opt_str(m.get("driver"), "machine.driver"),
        _str(m.get("sglang"), "machine.sglang"),
    )
    ld = _dict(data.get("load"), "load")
    input_len = ld.get("input_len")
    load = Load(
        tuple(_int(c, "load.concurrencies[]", 1) for c in _list(ld.get("concurrencies"), "load.concurrencies")),
        None if input_len is None else _int(input_len, "load.input_len", 1),
        _int(ld.get("output_len"), "load.output_len", 1),
        _int(ld.get("rounds"), "load.rounds", 1),
        _opt_str(ld.get("prompts"), "load.prompts"),
        _int(ld.get("min_requests", 16), "load.min_requests", 1),  # 16 in files written before it was recorded
    )
    measured = {_str(k, "measured"): _measured(k, v) for k, v in _dict(data.get("measured"), "measured").items()}
    left = _dict(data.get("left_out", {}), "left_out")
    return TuneResult(
        machine,
        load,
        measured,
        {_str(k, "left_out"): _str(v, f"left_out.{k}") for k, v in left.items()},
        _str(data.get("updated", ""), "updated"),
        _bool(data.get("interrupted", False), "interrupted"),
    )


def result_to_json(result: TuneResult) -> dict[str, Any]:
    return {"written_by": WRITTEN_BY, "format": FORMAT, **asdict(result)}


def result_path(machine: Machine, folder: Path | None = None) -> Path:
    return (folder or cache_dir()) / f"{machine.slug()}.json"


def load_result(path: Path) -> TuneResult:
    """The result file at `path`, checked; TuneFileError for one that cannot be used (unreadable, not ours, wrong
    shape). A missing file is FileNotFoundError."""
    size = path.stat().st_size
    if size > 4 << 20:
        raise TuneFileError(f"{path} is {size:,} bytes, more than a result file holds")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as exc:
        raise TuneFileError(f"{path} is not JSON ({type(exc).__name__})") from None
    return result_from_json(data)


def check_writable(path: Path) -> None:
    """A result may replace only a file this tool wrote (its signature checked), never a link or anything else."""
    if path.is_symlink() or (path.exists() and not _ours(path)):
        raise QwenServeError(
            f"{path} exists and is not a result file of {WRITTEN_BY}; nothing was changed",
            fix="move it away, or pass --results-dir to write elsewhere",
        )


def save_result(result: TuneResult, path: Path) -> None:
    """Atomically (a new file beside it, then a rename), over a file only this tool wrote."""
    check_writable(path)
    write_json(path, result_to_json(result))


def _ours(path: Path) -> bool:
    """Signed by this account's qwen-serve, or a whole result file (one carried from another machine): every field
    checked, not a phrase in the text."""
    if ours(path, "json"):
        return True
    try:
        load_result(path)
    except (OSError, TuneFileError):
        return False
    return True


def read_result(machine: Machine, folder: Path | None = None) -> tuple[TuneResult | None, str | None]:
    """The result measured on this machine, or None and, where a file was there but cannot be used, why (one line)."""
    path = result_path(machine, folder)
    try:
        result = load_result(path)
    except FileNotFoundError:
        return None, None
    except (OSError, TuneFileError) as exc:
        return None, f"ignored {path}: {exc}"
    differs = machine.differs(result.machine)
    if differs:
        return None, f"ignored {path}: {differs}; qwen-serve tune measures this one"
    return result, None


# ---- picking for a load ----------------------------------------------------------------------------------------------


def level_for(load: str | int | None, levels: Iterable[int]) -> int:
    """The measured level that stands for a load: interactive the lowest, throughput the highest, a number of
    concurrent requests the closest (the lower on a tie)."""
    levels = sorted(set(levels))
    load = DEFAULT_LOAD if load is None else load
    if load == "interactive":
        return levels[0]
    if load == "throughput":
        return levels[-1]
    return min(levels, key=lambda c: (abs(math.log(c) - math.log(int(load))), c))


def parse_load(text: str | None) -> str | int | None:
    if text is None or text in LOADS:
        return text
    if text.isdigit() and 1 <= int(text) <= 100_000:
        return int(text)
    raise QwenServeError(
        f"--load: {text[:40]!r} is not a load",
        allowed="interactive (one request at a time), throughput (many), or a number of concurrent requests",
        fix="e.g. --load interactive, --load throughput or --load 16",
    )


def pick(result: TuneResult, load: str | int | None, allowed: Iterable[str]) -> tuple[str, str] | None:
    """The fastest preset of `allowed` at the level standing for `load`, and why in words; None when none of them was
    measured there."""
    allowed = list(allowed)
    measured = [m for m in result.measured.values() if m.kind == "preset" and m.complete and m.name in allowed]
    levels = [lv.concurrency for m in measured for lv in m.levels]
    if not levels:
        return None
    level = level_for(load, levels)
    scored = [(m.level(level).output_tok_s, m.name) for m in measured if m.level(level)]
    best_speed, best = max(scored)
    ratio = result.ratio(best, level)
    versus = f", {ratio:.2f}x plain SGLang bf16" if ratio else ""
    fp8 = result.ratio(best, level, BASELINES[1].name)
    versus += f", {fp8:.2f}x plain SGLang on Qwen's FP8 checkpoint" if fp8 else ""
    asked = DEFAULT_LOAD if load is None else load
    day = result.updated[:10]
    return best, (
        f"{best_speed:,.0f} output tok/s at {level} concurrent request{'s' if level > 1 else ''}{versus}: "
        + (f"the fastest of {len(scored)} presets" if len(scored) > 1 else "the only preset")
        + f" measured on this GPU on {day} (--load {asked})"
    )
