"""What `qwen-serve tune` measured: the result file (one per GPU model and tensor-parallel size, in qwen-serve's cache
folder), written and read back with every field checked by type, and the preset it picks for a load. Read by
`--preset auto` (pipeline.auto_preset) without importing the measuring side (tune.py)."""

from __future__ import annotations

import json
import math
import os
import re
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from .errors import QwenServeError

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
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "qwen-serve" / "tune"


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


def _expect(value: Any, kind, where: str):
    ok = isinstance(value, kind) and not (kind in (int, (int, float)) and isinstance(value, bool))
    if kind is float or kind == (int, float):
        ok = ok and math.isfinite(value)
    if not ok:
        raise TuneFileError(f"{where}: {type(value).__name__} where the format has {getattr(kind, '__name__', kind)}")
    return value


def _ms(value: Any, where: str) -> dict[str, float]:
    _expect(value, dict, where)
    return {_expect(k, str, where): float(_expect(v, (int, float), f"{where}.{k}")) for k, v in value.items()}


def result_from_json(data: Any) -> TuneResult:
    """A result file's JSON, every field checked by type (a file is input like any other)."""
    _expect(data, dict, "the file")
    if data.get("written_by") != WRITTEN_BY or data.get("format") != FORMAT:
        raise TuneFileError(f"not a result of {WRITTEN_BY} format {FORMAT}")
    m = _expect(data.get("machine"), dict, "machine")
    driver = m.get("driver")
    machine = Machine(
        _expect(m.get("gpu"), str, "machine.gpu"),
        _expect(m.get("tp_size"), int, "machine.tp_size"),
        None if driver is None else _expect(driver, str, "machine.driver"),
        _expect(m.get("sglang"), str, "machine.sglang"),
    )
    ld = _expect(data.get("load"), dict, "load")
    input_len, prompts = ld.get("input_len"), ld.get("prompts")
    load = Load(
        tuple(_expect(c, int, "load.concurrencies[]") for c in _expect(ld.get("concurrencies"), list, "load")),
        None if input_len is None else _expect(input_len, int, "load.input_len"),
        _expect(ld.get("output_len"), int, "load.output_len"),
        _expect(ld.get("rounds"), int, "load.rounds"),
        None if prompts is None else _expect(prompts, str, "load.prompts"),
    )
    measured = {}
    for name, raw in _expect(data.get("measured"), dict, "measured").items():
        where = f"measured.{_expect(name, str, 'measured')}"
        _expect(raw, dict, where)
        levels = tuple(
            Level(
                _expect(lv.get("concurrency"), int, f"{where}.concurrency"),
                float(_expect(lv.get("output_tok_s"), (int, float), f"{where}.output_tok_s")),
                _expect(lv.get("completed"), int, f"{where}.completed"),
                _expect(lv.get("errors"), int, f"{where}.errors"),
                float(_expect(lv.get("duration_s"), (int, float), f"{where}.duration_s")),
                _ms(lv.get("ttft_ms"), f"{where}.ttft_ms"),
                _ms(lv.get("tpot_ms"), f"{where}.tpot_ms"),
            )
            for lv in (_expect(x, dict, f"{where}.levels[]") for x in _expect(raw.get("levels"), list, where))
        )
        ready, error = raw.get("seconds_to_ready"), raw.get("error")
        measured[name] = Measured(
            name,
            _expect(raw.get("kind"), str, f"{where}.kind"),
            _expect(raw.get("layout"), str, f"{where}.layout"),
            tuple(_expect(a, str, f"{where}.argv[]") for a in _expect(raw.get("argv"), list, f"{where}.argv")),
            _expect(raw.get("when"), str, f"{where}.when"),
            None if ready is None else float(_expect(ready, (int, float), f"{where}.seconds_to_ready")),
            _expect(raw.get("jit_cache"), str, f"{where}.jit_cache"),
            levels,
            _expect(raw.get("complete"), bool, f"{where}.complete"),
            None if error is None else _expect(error, str, f"{where}.error"),
        )
    left = _expect(data.get("left_out", {}), dict, "left_out")
    return TuneResult(
        machine,
        load,
        measured,
        {_expect(k, str, "left_out"): _expect(v, str, f"left_out.{k}") for k, v in left.items()},
        _expect(data.get("updated", ""), str, "updated"),
        _expect(data.get("interrupted", False), bool, "interrupted"),
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


def save_result(result: TuneResult, path: Path) -> None:
    """Atomically, over a file only this tool wrote (its signature checked), never over anything else."""
    from .supervise import write_atomic

    if path.is_symlink() or (path.exists() and not _ours(path)):
        raise QwenServeError(
            f"{path} exists and is not a result file of {WRITTEN_BY}",
            fix="move it away, or pass --results-dir to write elsewhere",
        )
    path.parent.mkdir(parents=True, exist_ok=True)
    write_atomic(path, result_to_json(result))


def _ours(path: Path) -> bool:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError, RecursionError):
        return False
    return isinstance(data, dict) and data.get("written_by") == WRITTEN_BY


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
        f"{best_speed:,.0f} output tok/s at {level} concurrent request{'s' if level > 1 else ''}{versus}: the fastest "
        f"of {len(scored)} presets measured on this GPU on {day} (--load {asked})"
    )
