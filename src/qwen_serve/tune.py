"""`qwen-serve tune`: the presets measured on this GPU at the user's load, before any weights are downloaded.

Speed depends on shapes and kernels, not on weight values: each candidate starts on a skeleton of its checkpoint's
layout (Qwen3-14B's real config and tokenizer, with the checkpoint's quantization_config) with `--load-format dummy`,
is loaded by qwen-bench's client at each concurrency level, and is stopped. Plain SGLang is measured beside the
presets, twice: bf16 with no flags (every ratio is to it), and Qwen's FP8 checkpoint with no flags (what a user who
knows SGLang would type). The same JIT cache folder as a real start is used, so the real start that follows is a
warm one.

The result is one file per GPU model and tensor-parallel size in qwen-serve's cache folder, written after every
candidate (an interrupted or cut run keeps what it measured, and the next run goes on from there); `--preset auto`
reads it (`pick`) for the load the user names. A file whose SGLang release, driver or GPU is not this machine's is
ignored with one line (`read_result`).

    request = TuneRequest(budget_s=1200)
    result = run(request, say=print)          # measures, writes the file, returns it
    name, why = pick(result, load="interactive", allowed=["balanced", "fp8_checkpoint"])
"""

from __future__ import annotations

import os
import re
import sys
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from .errors import QwenServeError
from .tune_result import (
    BASELINES,
    BF16_LAYOUT,
    LEVEL_WITH,
    LOADS,
    REFERENCE,
    Level,
    Load,
    Machine,
    Measured,
    TuneResult,
    cache_dir,
    check_writable,
    pick,
    read_result,
    result_path,
    save_result,
)

DEFAULT_LEVELS = (1, 8, 64)
DEFAULT_INPUT_LEN = 1024
DEFAULT_OUTPUT_LEN = 256
DEFAULT_ROUNDS = 3  # each level: `concurrency` requests sent together, this many times over
# one request at a time decodes at a steady pace: 4 tell its rate (qwen-bench's floor of 16 took 48 s of a plain bf16
# candidate's 2 minutes on the H100, bench/results/h100/tune/2026-12-07)
MIN_REQUESTS = 4
DEFAULT_BUDGET_S = 30 * 60
DEFAULT_PORT = 30100
UNKNOWN_START_S = 300.0  # a candidate with no start-up figure of its own: what it is assumed to take
MEASURE_FIRST_GUESS_S = 90.0  # the measurement's own time, until the first candidate has shown it
STOP_TIMEOUT_S = 20.0


# ---- the request and the candidates -------------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class TuneRequest:
    """What a tune run asks for. `presets`: None for every preset the memory plan says fits, in expected order;
    `gpu_spec`: plan for that GPU instead of the detected one (with `force`, start without a visible GPU: a stand-in);
    `budget_s`: the whole run's wall time; `skeleton`: a bf16 skeleton folder to derive the layouts from (default: one
    written into `work_dir`); `fresh`: measure again what the result file already holds."""

    config_path: str | None = None
    presets: tuple[str, ...] | None = None
    tp_size: int = 1
    concurrencies: tuple[int, ...] = DEFAULT_LEVELS
    input_len: int = DEFAULT_INPUT_LEN
    output_len: int = DEFAULT_OUTPUT_LEN
    rounds: int = DEFAULT_ROUNDS
    prompts_path: str | None = None
    budget_s: float = DEFAULT_BUDGET_S
    port: int = DEFAULT_PORT
    gpu_spec: str | None = None
    force: bool = False
    work_dir: Path | None = None  # skeletons and logs (default: qwen-serve's cache folder, tune/)
    results_dir: Path | None = None  # where the result file goes (default: the same)
    skeleton: str | None = None
    fresh: bool = False
    baselines: bool = True


@dataclass(frozen=True)
class Candidate:
    name: str
    kind: str  # "preset" or "plain"
    layout: str  # BF16_LAYOUT or the hub id of the checkpoint whose layout it serves
    description: str
    start_estimate_s: float  # its start here, from the preset's measured figures (UNKNOWN_START_S without)


_RATIO = re.compile(r"(\d+\.\d+)x at (?:concurrency )?(\d+)")


def expected_ratios(measured: str, gpu_name: str) -> dict[int, float]:
    """The ratios to plain bf16 a preset's measured words give per concurrency, where they were measured on this GPU
    model (the words begin with its name, e.g. "H200, …"); {} elsewhere."""
    where = (measured or "").split(",", 1)[0].strip()
    if not where or where.lower() not in gpu_name.lower().split():
        return {}
    return {int(c): float(r) for r, c in _RATIO.findall(measured)}


def layout_of(preset_values: dict[str, Any]) -> str:
    """The checkpoint layout a preset serves: its own model_path where that is one of Qwen's official checkpoints."""
    from .model import OFFICIAL_CHECKPOINTS

    path = preset_values.get("model_path")
    return path if path in OFFICIAL_CHECKPOINTS else BF16_LAYOUT


def candidates(config, fitting: Iterable[str], order: Iterable[str], baselines: bool, gpu_name: str) -> list[Candidate]:
    """The candidates by expected value: plain bf16 (the reference); where the committed table was measured on this
    GPU model, the preset it found best at its lowest and at its highest level; then auto's order for this GPU class;
    then the other fitting presets in the file's order. Plain SGLang on the FP8 checkpoint goes right after the first
    preset of that layout, whose compiled kernels it then finds (its start: that preset's kept-cache figure)."""
    fitting, order = list(fitting), list(order)
    ratios = {n: expected_ratios(config.presets[n].measured, gpu_name) for n in fitting}
    levels = sorted({c for r in ratios.values() for c in r})
    leaders = []
    for c in levels[:1] + levels[-1:]:
        best = max((n for n in fitting if c in ratios[n]), key=lambda n: ratios[n][c])
        leaders += [best] if best not in leaders else []
    names = leaders + [n for n in order if n in fitting and n not in leaders]
    names += [n for n in fitting if n not in names]
    presets, kept = [], {}
    for name in names:
        preset = config.presets[name]
        first, kept[name] = preset.start_seconds
        presets.append(
            Candidate(name, "preset", layout_of(preset.values), preset.description, first or UNKNOWN_START_S)
        )
    if not baselines:
        return presets
    known = [c.start_estimate_s for c in presets if c.layout == BF16_LAYOUT and c.start_estimate_s != UNKNOWN_START_S]
    # plain SGLang starts no slower than the quickest preset of its layout measured
    bf16 = Candidate(REFERENCE, "plain", BF16_LAYOUT, BASELINES[0].description, min(known, default=UNKNOWN_START_S))
    out = [bf16, *presets]
    fp8 = BASELINES[1]
    at = next((i for i, c in enumerate(out) if c.layout == fp8.layout), None)
    warm = kept.get(out[at].name) if at is not None else None
    estimate = warm or (out[at].start_estimate_s if at is not None else UNKNOWN_START_S)
    out.insert(len(out) if at is None else at + 1, Candidate(fp8.name, "plain", fp8.layout, fp8.description, estimate))
    return out


# ---- the run ---------------------------------------------------------------------------------------------------------


def layouts_dir(work: Path, skeleton: str | None) -> dict[str, Path]:
    """A model folder per layout: the bf16 skeleton (given, or written once) and one per official checkpoint."""
    from .model import OFFICIAL_CHECKPOINTS
    from .skeleton import write_layout, write_skeleton

    models = work / "models"
    bf16 = Path(skeleton) if skeleton else models / "qwen3-14b"
    if not skeleton and not (bf16 / "tokenizer.json").is_file():
        write_skeleton(bf16)
    if not (bf16 / "config.json").is_file() or not (bf16 / "tokenizer.json").is_file():
        raise QwenServeError(
            f"--skeleton: '{bf16}' is not a model skeleton (no config.json and tokenizer.json)",
            fix="pass a folder written by `qwen-serve skeleton`, or leave --skeleton out",
        )
    out = {BF16_LAYOUT: bf16}
    for hub_id in OFFICIAL_CHECKPOINTS:
        out[hub_id] = write_layout(bf16, models / hub_id.replace("/", "--"), hub_id)
    return out


def _level(lv) -> Level:
    return Level(
        lv.concurrency,
        round(lv.output_throughput, 2),
        lv.completed,
        lv.errors,
        lv.duration_s,
        {k: round(v, 2) for k, v in lv.ttft_ms.items()},
        {k: round(v, 3) for k, v in lv.tpot_ms.items()},
    )


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def machine_here(request: TuneRequest):
    """The hardware to plan for and the Machine a result is filed under."""
    from .pipeline import hardware_for
    from .sglang.capabilities import target_for

    hw = hardware_for(
        request.gpu_spec,
        required="qwen-serve tune",
        plan_here="qwen-serve tune --gpu 'RTX 4090' --dry-run (the candidates and their order; measuring needs the GPU)",
    )
    target = target_for(None)
    return hw, target, Machine(hw.gpu.name, request.tp_size, hw.driver, str(target.version))


def plan_candidates(request: TuneRequest) -> tuple[list[Candidate], dict[str, str], Any]:
    """The candidates in order, the presets left out by the memory plan (and why), and the Machine."""
    from .config import load_config
    from .pipeline import PlanTarget, preset_plans

    config = load_config(request.config_path)
    hw, target, machine = machine_here(request)
    if request.tp_size > hw.count:
        raise QwenServeError(
            f"--tp-size {request.tp_size} needs {request.tp_size} GPUs; {hw.describe()} has {hw.count}",
            fix=f"--tp-size {hw.count} or less",
        )
    names = list(request.presets) if request.presets is not None else list(config.presets)
    for name in names:
        if name not in config.presets:
            from .errors import did_you_mean

            hint = did_you_mean(name, config.presets)
            raise QwenServeError(
                f"--presets: unknown preset {name!r} in {config.label}",
                allowed=", ".join(config.presets),
                fix=hint or "pick names from that list",
            )
    on = PlanTarget(hw, target.release)
    plans = preset_plans(config, names, {"tp_size": request.tp_size}, on)
    fitting = [p.name for p in plans if p.fits]
    left = {p.name: f"does not fit: {p.verdict}" for p in plans if not p.fits}
    order = config.auto_order_for(hw.gpu)
    return candidates(config, fitting, order, request.baselines, hw.gpu.name), left, machine


def run(request: TuneRequest, say: Callable[[str], None] = print, display=None) -> TuneResult:
    """Measure every candidate in turn within the budget; the result file is written after each one. Raises
    QwenServeError before anything starts for a request that cannot run."""
    t0 = time.monotonic()
    cands, left_by_plan, machine = plan_candidates(request)
    work = request.work_dir or cache_dir()
    path = result_path(machine, request.results_dir)
    load = Load(
        tuple(request.concurrencies),
        None if request.prompts_path else request.input_len,
        request.output_len,
        request.rounds,
        request.prompts_path,
        MIN_REQUESTS,
    )
    result = _resume(request, machine, path, load, left_by_plan, say)
    kept = dict(result.measured)
    layouts = layouts_dir(work, request.skeleton)
    sweep = _sweep(request, layouts[BF16_LAYOUT])
    todo = [c for c in cands if c.name not in kept]
    for name in kept:
        say(f"{name}: measured on {kept[name].when[:10]}, kept (--fresh measures it again)")
    expected = sum(c.start_estimate_s + MEASURE_FIRST_GUESS_S for c in todo)
    say(
        f"tuning on {machine.gpu} (tp {machine.tp_size}, SGLang {machine.sglang}): {len(todo)} candidate"
        f"{'s' if len(todo) != 1 else ''}, up to {expected / 60:.0f} min by their first starts on the committed GPU; "
        f"budget {request.budget_s / 60:g} min; "
        f"result: {path}"
    )
    measure_s, seen = MEASURE_FIRST_GUESS_S, False
    for i, cand in enumerate(todo, 1):
        left_s = request.budget_s - (time.monotonic() - t0)
        need = cand.start_estimate_s + measure_s
        if left_s < need:
            why = f"the budget: {left_s / 60:.1f} min left, it needs about {need / 60:.1f} min"
            result.left_out[cand.name] = why
            say(f"[{i}/{len(todo)}] {cand.name}: left out ({why})")
            continue
        result.left_out.pop(cand.name, None)
        say(
            f"[{i}/{len(todo)}] {cand.name}: starting ({cand.description}); a first start takes up to "
            f"{cand.start_estimate_s:.0f} s, kernels compile once"
        )
        began = time.monotonic()
        try:
            measured, interrupted = _measure(cand, request, layouts, sweep, max(left_s - measure_s, 1.0), display, say)
            if measured.complete:  # what measuring took here (warm-up and stop included) stands for the next ones
                took = time.monotonic() - began - (measured.seconds_to_ready or 0.0)
                measure_s, seen = max(measure_s if seen else 0.0, took * 1.2), True
            result.measured[cand.name] = measured
            say(f"[{i}/{len(todo)}] {cand.name}: " + _outcome_words(result, measured))
            result = replace(result, updated=_now(), interrupted=interrupted)
            save_result(result, path)
            if not interrupted:
                _wait_for_gpu_memory()
        except KeyboardInterrupt:  # between two servers: no server is running, the file holds every one so far
            interrupted = True
            result = replace(result, updated=_now(), interrupted=True)
            save_result(result, path)
        if interrupted:
            say("interrupted: what was measured is kept; run qwen-serve tune again to go on")
            break
    result = replace(result, updated=_now())
    save_result(result, path)  # the candidates the budget left out, named
    return result


def _resume(request: TuneRequest, machine: Machine, path: Path, load: Load, left_by_plan: dict, say) -> TuneResult:
    """The result this run starts from, written before anything starts (a path that cannot be written is one line,
    not a lost run): an earlier run's complete rows at the same load (unless --fresh), and what it left out."""
    check_writable(path)  # before anything is read or started: a file of the user's there is one line
    earlier, why_not = read_result(machine, request.results_dir)
    if why_not:
        say(why_not)
    if earlier is not None and (earlier.load != load or request.fresh):
        if earlier.load != load:
            say(f"{path} holds a run at another load ({_load_words(earlier.load)}): measuring again")
        earlier = None
    kept = {n: m for n, m in (earlier.measured if earlier else {}).items() if m.complete}
    # what an earlier run left out and no run has measured since stays named
    left = {n: why for n, why in (earlier.left_out if earlier else {}).items() if n not in kept}
    result = TuneResult(machine, load, kept, {**left, **left_by_plan}, _now())
    save_result(result, path)
    return result


def _sweep(request: TuneRequest, tokenizer: Path):
    """The levels every candidate is loaded with, and every prompt they send (the same for each candidate)."""
    from .bench import Sweep, with_prompts

    levels = Sweep(
        list(request.concurrencies),
        None,
        4,  # warm-up requests a level
        request.input_len,
        request.output_len,
        300.0,  # a level's time limit
        rounds=request.rounds,
        min_requests=MIN_REQUESTS,
    )
    return with_prompts(levels, request.prompts_path, str(tokenizer), seed=0)


def _wait_for_gpu_memory(limit_s: float = 60.0) -> None:
    """After a server's exit, until the driver has its memory back (its scheduler processes end a moment after it):
    the next candidate's SGLang sizes its memory from what is free."""
    from .hardware import detect

    deadline = time.monotonic() + limit_s
    while time.monotonic() < deadline:
        hw = detect()
        if hw is None or all(g.free_mib is None or g.free_mib >= 0.9 * g.memory_mib for g in hw.gpus):
            return
        time.sleep(1.0)


def _load_words(load: Load) -> str:
    lengths = f"prompts of {load.prompts}" if load.prompts else f"{load.input_len} tokens in"
    return f"concurrency {','.join(map(str, load.concurrencies))}, {lengths}, {load.output_len} out"


def _outcome_words(result: TuneResult, m: Measured) -> str:
    if m.error:
        return f"not measured: {m.error}"
    ready = f"ready in {m.seconds_to_ready:.0f} s ({m.jit_cache} JIT cache)"
    speeds = []
    for lv in m.levels:
        ratio = result.ratio(m.name, lv.concurrency)
        speeds.append(f"{lv.output_tok_s:,.0f} tok/s at {lv.concurrency}" + (f" ({ratio:.2f}x)" if ratio else ""))
    return f"{ready}; " + ", ".join(speeds) + ("" if m.complete else " (cut short)")


def _jit_state(folder: str) -> str:
    try:
        return "filled" if any(p.is_file() for p in Path(folder).rglob("*")) else "empty"
    except OSError:
        return "empty"


def _launch_of(cand: Candidate, request: TuneRequest, model: Path, port: int):
    """argv, environment and the facts for the banner of one candidate: a preset through the library's own
    pipeline, a baseline as plain SGLang (only the model, the dummy load format, host and port; tp where > 1) with
    qwen-serve's JIT cache folders, so that what one compiles the others find."""
    from .pipeline import LaunchRequest, clear_to_launch, prepare
    from .sglang.argv import JIT_CACHES, jit_cache_dir
    from .supervise import ServerFacts

    folder = jit_cache_dir()
    facts = ServerFacts(host="127.0.0.1", port=port, model=str(model), preset=cand.name, tp_size=request.tp_size)
    if cand.kind == "plain":
        argv = [sys.executable, "-m", "sglang.launch_server", "--model-path", str(model), "--load-format", "dummy"]
        argv += ["--host", "127.0.0.1", "--port", str(port)]
        argv += ["--tp-size", str(request.tp_size)] if request.tp_size > 1 else []
        env = {**os.environ, **{name: f"{folder}/{sub}" for name, sub in JIT_CACHES if name not in os.environ}}
        return argv, env, facts, folder
    values = {"model_path": str(model), "load_format": "dummy", "host": "127.0.0.1", "port": port}
    values["tp_size"] = request.tp_size
    launch = LaunchRequest(
        config_path=request.config_path,
        preset=cand.name,
        cli_values=values,
        gpu_spec=request.gpu_spec,
        force=request.force,
    )
    prepared = prepare(launch)
    clear_to_launch(prepared, None, request.force)
    command = prepared.command
    env = command.child_env(dict(os.environ))
    return list(command.argv), env, facts, folder


class _LevelNotes:
    """run_sweep's progress hook as one line per level (the servers' own progress is the supervisor's line)."""

    def __init__(self, name: str, say: Callable[[str], None]):
        self.name, self.say = name, say

    def add_task(self, label: str, total: int) -> str:
        level = label.removeprefix("concurrency ")
        self.say(f"{self.name}: measuring {level} concurrent request{'s' if level != '1' else ''} ({total} in all)")
        return label

    def advance(self, task: str) -> None:
        pass


def _measure(cand: Candidate, request: TuneRequest, layouts, sweep, ready_timeout: float, display, say):
    """One candidate: start, measure every level once ready, stop. (Measured, interrupted)."""
    from .bench import run_sweep, served_model
    from .supervise import Display, SuperviseOptions, Supervisor

    port = request.port
    model = layouts[cand.layout]
    try:
        argv, env, facts, folder = _launch_of(cand, request, model, port)
    except QwenServeError as exc:
        return Measured(cand.name, cand.kind, cand.layout, (), _now(), None, "", (), False, exc.line), False
    jit = _jit_state(folder)
    when = _now()
    cancel = threading.Event()
    box: dict[str, Any] = {}
    logs = (request.work_dir or cache_dir()) / "logs"

    def measure(ready: dict) -> None:
        try:
            url = ready["base_url"]
            levels = _LevelNotes(cand.name, say)
            box["levels"] = run_sweep(url, served_model(url, None, None), sweep, True, None, levels, stop=cancel)
        except Exception as exc:  # noqa: BLE001 - any failure of the measurement is this candidate's result
            box["error"] = f"measuring failed: {type(exc).__name__}: {exc}"[:300]
        finally:
            box["done"] = True
            supervisor.request_stop("measured")

    class Measuring(Supervisor):
        def tick(self) -> bool:
            if self.signals:
                cancel.set()  # the user's Ctrl-C: no further level
            return super().tick()

    options = SuperviseOptions(
        log_file=logs / f"{cand.name}-{datetime.now():%Y%m%d-%H%M%S}.log",
        quiet=True,
        ready_timeout=max(ready_timeout, 1.0),
        stop_timeout=STOP_TIMEOUT_S,
        after_ready=measure,
        env=env,
        banner=False,
    )
    supervisor = Measuring(argv, facts, options, display or Display(quiet=True, to_stderr=True))
    outcome = supervisor.run()
    interrupted = bool(supervisor.signals)
    cancel.set()
    deadline = time.monotonic() + 30
    while outcome.ready and "done" not in box and time.monotonic() < deadline:
        time.sleep(0.05)  # the measuring thread ends once its requests fail against the stopped server
    levels = tuple(_level(lv) for lv in box.get("levels", ()) if not (interrupted and lv.errors))
    complete = outcome.ready and not interrupted and "error" not in box and len(levels) == len(sweep.concurrencies)
    error = box.get("error")
    if not outcome.ready:
        error = (
            f"not ready within the budget ({ready_timeout:.0f} s left)"
            if outcome.exit_code == 124
            else (outcome.diagnosis or f"SGLang exited with code {outcome.exit_code}")
        )
    return Measured(
        cand.name, cand.kind, cand.layout, tuple(argv), when, outcome.seconds_to_ready, jit, levels, complete, error
    ), interrupted


# ---- the table ------------------------------------------------------------------------------------------------------


def table_rows(result: TuneResult) -> list[list[str]]:
    """The table the run ends with: a row per candidate, tok/s and the ratio to plain bf16 at each level."""
    levels = result.load.concurrencies
    top, fp8 = max(levels), BASELINES[1].name
    head = ["candidate", "ready", *(f"tok/s @{c}" for c in levels), *(f"x bf16 @{c}" for c in levels)]
    head += [f"x plain FP8 ckpt @{top}", "TPOT p50 @1"]
    rows = [head]
    for m in result.measured.values():
        if m.error and not m.levels:
            rows.append([m.name, "-", *("-" for _ in levels), *("-" for _ in levels), "-", m.error[:60]])
            continue
        speeds, ratios = [], []
        for c in levels:
            lv, ratio = m.level(c), result.ratio(m.name, c)
            speeds.append(f"{lv.output_tok_s:,.0f}" if lv else "-")
            ratios.append(f"{ratio:.2f}x" if ratio else "-")
        first = m.level(min(levels))
        tpot = f"{first.tpot_ms.get('p50', 0):.1f} ms" if first and first.tpot_ms else "-"
        ready = f"{m.seconds_to_ready:.0f} s" if m.seconds_to_ready is not None else "-"
        versus = result.ratio(m.name, top, fp8) if m.name != fp8 else None
        rows.append([m.name + ("" if m.complete else " (cut)"), ready, *speeds, *ratios, _versus(versus), tpot])
    return rows


def _versus(ratio: float | None) -> str:
    """A ratio to plain SGLang on the FP8 checkpoint, in words a table cell holds."""
    if ratio is None:
        return "-"
    if abs(ratio - 1) <= LEVEL_WITH:
        return f"{ratio:.2f}x (level)"
    return f"{ratio:.2f}x ({'+' if ratio > 1 else '-'}{abs(ratio - 1) * 100:.0f} %)"


def verdict_lines(result: TuneResult, allowed: Iterable[str]) -> list[str]:
    """The picks for the lowest and highest levels, and how the best preset stands to plain SGLang on Qwen's FP8
    checkpoint at the highest (beats it, or by how much it falls short)."""
    allowed = list(allowed)
    lines = []
    for load in LOADS:
        picked = pick(result, load, allowed)
        if picked:
            lines.append(f"--load {load}: {picked[0]} — {picked[1]}")
    top = max(result.load.concurrencies)
    best = pick(result, "throughput", allowed)
    fp8 = result.ratio(best[0], top, BASELINES[1].name) if best else None
    if fp8 is not None:
        word = "beats" if fp8 > 1 + LEVEL_WITH else "falls short of" if fp8 < 1 - LEVEL_WITH else "is level with"
        lines.append(f"at {top}: {best[0]} {word} plain SGLang on Qwen's FP8 checkpoint ({fp8:.2f}x)")
    return lines


def plot(result: TuneResult, png: str) -> None:
    """Output tok/s against concurrency, a line per candidate (plain SGLang dashed)."""
    from .bench import needs_extra
    from .outputs import write_png

    matplotlib = needs_extra("matplotlib")
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(8, 5))
    for m in result.measured.values():
        if not m.levels:
            continue
        xs = [lv.concurrency for lv in m.levels]
        ax.plot(
            xs, [lv.output_tok_s for lv in m.levels], marker="o", label=m.name, ls="--" if m.kind == "plain" else "-"
        )
    ax.set_xscale("log", base=2)
    ax.set_xticks(list(result.load.concurrencies), [str(c) for c in result.load.concurrencies])
    ax.set_xlabel("concurrent requests")
    ax.set_ylabel("output tokens/s")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    ax.set_title(f"qwen-serve tune on {result.machine.gpu}, SGLang {result.machine.sglang} ({result.updated[:10]})")
    fig.tight_layout()
    write_png(fig, Path(png))
