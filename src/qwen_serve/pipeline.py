"""The pipeline in order, for one launch: config -> resolve -> plan -> argv.

`prepare` is what `qwen-serve` (and `--dry-run`, `--check`) run before anything starts; each
stage takes the previous stage's value. The plan may choose the load format (layered, where only
that fits), so it hands the argv stage the launch settings to use.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .checkpoint import settle as settle_checkpoint
from .config import ConfigFile, load_config
from .errors import QwenServeError
from .long_context import settle as settle_long_context
from .resolve import LaunchSettings, resolve
from .sglang.argv import SGLangCommand, build_command, choice_error


@dataclass(frozen=True)
class Fit:
    """The memory plan of a launch on known hardware, in words and numbers."""

    plan: Any  # plan.Plan
    hardware: str
    line: str
    fix: str
    auto: str | None = None  # why --preset auto chose what it chose


@dataclass(frozen=True)
class PlanTarget:
    """What every plan of one request is made for: the GPUs (named by --gpu or detected), and the SGLang release
    planned for (releases.Release): its memory defaults, and the margin it keeps in hand (Release.plan_margin: 0 where
    its constants were measured, else the share of KV tokens and peak at load it may differ by). Built once per
    request; the planning stages take it whole."""

    hardware: Any  # hardware.Hardware
    release: Any = None  # releases.Release; None: the locked one's rules, no margin

    @property
    def margin(self) -> float:
        return self.release.plan_margin if self.release is not None else 0.0

    @property
    def memory(self):
        return self.release.memory if self.release is not None else None

    @property
    def gpu(self):
        return self.hardware.gpu

    @property
    def count(self) -> int:
        return self.hardware.count

    def describe(self) -> str:
        return self.hardware.describe()


@dataclass(frozen=True)
class Prepared:
    config: ConfigFile
    launch: LaunchSettings
    command: SGLangCommand
    fit: Fit | None  # None: no GPU known (no driver and no --gpu), or --force
    notes: tuple[str, ...] = ()  # what the pipeline decided that the user should read (the checkpoint's choices)
    hardware: Any = None  # hardware.Hardware the plan was made for (named by --gpu or read from NVML once), or None


@dataclass(frozen=True, kw_only=True)
class LaunchRequest:
    """What a launch asks for, before anything is resolved: the library's input (the CLI, k8s, systemd, the fleet
    and the tests build one). `cli_values`: the flags the user typed, as text; `environ`: where QWEN_SERVE_API_KEY
    is read (None: nowhere); `force`: plan without enforcing (the plan is still made where --gpu names the GPUs)."""

    config_path: str | None = None
    preset: str | None = None
    cli_values: dict[str, Any] = field(default_factory=dict)
    passthrough: tuple[str, ...] = ()
    gpu_spec: str | None = None
    force: bool = False
    sglang_version: str | None = None
    environ: dict[str, str] | None = None
    load: str | int | None = None  # --preset auto: the load to pick for (tune.parse_load), from a tune result
    plan_here: str | None = None  # the command that plans for a named GPU, as the command at hand spells it


def prepare(request: LaunchRequest, *, hardware=None) -> Prepared:
    """config -> resolve -> checkpoint -> long context -> plan -> SGLang's command, for one request. `hardware`: the
    GPUs already read for it (a fleet's worker gets its share of the fleet's), not read again."""
    from .sglang.capabilities import target_for

    preset, cli_values, passthrough = request.preset, request.cli_values, request.passthrough
    gpu_spec, force = request.gpu_spec, request.force
    config = load_config(request.config_path)
    target = target_for(request.sglang_version)
    auto = preset == "auto" and "auto" not in config.presets
    # --force skips the plan, unless --gpu names the GPUs to plan for (then the plan is shown, not enforced)
    needs = "--preset auto" if auto else None
    if hardware is not None:
        hw = hardware
    else:
        hw = hardware_for(gpu_spec, needs, request.plan_here) if auto or gpu_spec or not force else None
    on = PlanTarget(hw, target.release) if hw is not None else None
    auto_line = None
    if request.load is not None and not auto:
        raise QwenServeError(
            f"--load {request.load} picks among measured presets, and the preset is {preset or 'not set'}",
            allowed="--load with --preset auto",
            fix="add --preset auto, or drop --load",
        )
    if auto:
        preset, auto_line = auto_preset(config, cli_values, on, passthrough, request.load, target.version)
    launch = resolve(config, preset, cli_values, passthrough, request.environ)
    launch, notes = settle_checkpoint(launch)
    launch, long_notes = settle_long_context(launch)
    notes += long_notes
    if unmeasured := target.unmeasured_note:
        notes = (*notes, unmeasured)
    check_other_presets(config, preset, target)
    fit = None
    if on is not None and (gpu_spec or not force):
        try:
            launch, fit = _fit(launch, config, on, auto_line, cli_values)
        except QwenServeError:
            if not force:
                raise  # with --force, a plan that cannot be made (say, an odd config.json) is not a reason to stop
    return Prepared(config, launch, build_command(launch, target), fit, notes, hw)


def check_other_presets(config: ConfigFile, selected: str | None, target) -> None:
    """A bad value in a preset nobody selected today is a launch that fails another day: check every
    preset's values against SGLang's choices (what can be checked without launching)."""
    from .settings import FIELDS_BY_NAME

    for name, preset in config.presets.items():
        if name == selected:
            continue  # checked in full by the argv stage
        for key, value in preset.values.items():
            flag = FIELDS_BY_NAME[key].sglang_flag
            not_allowed = flag and choice_error(
                target,
                flag,
                value,
                f"{key}: {value!r} (preset {name}, in {config.label})",
                fix=f"correct preset '{name}' (every preset is checked, not only the selected one)",
            )
            if not_allowed:
                raise not_allowed


def clear_to_launch(prepared: Prepared, sglang_version: str | None, force: bool) -> list[str]:
    """The gate between a prepared launch and a started process: raises QwenServeError for what must
    not start (a planned-only SGLang version, a failed preflight, a plan that does not fit), returns
    the notes to print before starting."""
    from .preflight import preflight

    if sglang_version:
        raise QwenServeError(
            f"--sglang-version {sglang_version} is for planning (--dry-run/--check) only",
            fix="drop --sglang-version to launch the installed SGLang",
        )
    fit = prepared.fit
    notes = [fit.auto] if fit is not None and fit.auto else []
    notes += prepared.notes
    preflight(prepared.launch)
    refuse_unfit(prepared, force)
    if not force:  # no GPU here (a --gpu NAME plans for one, it does not make one): SGLang would import, then crash
        from .hardware import detect_with_reason

        hw, found = prepared.hardware, ""
        if hw is None or not hw.detected:  # the plan's GPUs were named (--gpu), not read here: look now
            hw, found = detect_with_reason()
        if hw is None:
            named = f" ({fit.hardware}: --gpu plans for a GPU, it does not put one here)" if fit is not None else ""
            raise QwenServeError(
                f"no NVIDIA GPU to launch SGLang on: {found}" + named,
                allowed="a machine where nvidia-smi lists a GPU that CUDA_VISIBLE_DEVICES leaves visible",
                fix="run it there (check nvidia-smi and CUDA_VISIBLE_DEVICES); here, --dry-run or `qwen-serve plan "
                "--gpu NAME` plan for a GPU and `qwen-test --base-url URL` checks any running server "
                "(--force launches anyway)",
            )
    notes += _between_releases(prepared.command)
    if force:
        notes.append("warning: --force: launching without checking the memory plan")
    return notes


def refuse_unfit(prepared: Prepared, force: bool) -> None:
    """A plan that does not fit is refused in one line (--force: not), by the launch and the dry run alike."""
    fit = prepared.fit
    if fit is not None and not fit.plan.fits and not force:
        raise QwenServeError(fit.line, fix=fit.fix)


def _between_releases(command) -> list[str]:
    """An installed SGLang with no adapter folder of its own gets a command built from the adapter that holds it
    (`release_for`) and that adapter's flag snapshot: its own parser reads the command before anything starts
    (SGLang's import, seconds), so that a flag it removed or changed is one line here, not a crash after
    "launching"."""
    target = command.target
    if not target.installed or target.exact_snapshot:
        return []
    who = f"sglang {target.version} (no adapter of its own: the command is built from the {target.release.version} one)"
    fix = "install a release qwen-serve has an adapter for (uv sync installs the locked one), or report the difference"
    result = read_by_own_parser(command, who, fix)
    return [f"{who}: its own parser accepts it, all {result.checked} intended fields as intended"]


def read_by_own_parser(command, who: str, fix: str | None = None):
    """The installed SGLang's own parser reads the command (`--check`, and the gate above): every intended field as
    intended, or one line saying what it rejected or read otherwise."""
    from .sglang.check import check_command

    result = check_command(command)
    if not result.accepted:
        raise QwenServeError(f"{who}'s parser rejects the command: {result.error}", fix=fix)
    if result.mismatches:
        raise QwenServeError(f"{who}'s parser reads the command differently: " + "; ".join(result.mismatches), fix=fix)
    return result


def hardware_for(gpu_spec: str | None, required: str | None = None, plan_here: str | None = None):
    """The GPUs named by --gpu, else the detected ones; None without either, unless `required`
    (the option that needs them) makes that an error. `plan_here`: the command that plans for a named GPU instead,
    as the command at hand spells it (its fix must be a command that runs)."""
    from . import hardware

    hw = hardware.parse_gpu_spec(gpu_spec) if gpu_spec else hardware.detect()
    if hw is None and required:
        raise QwenServeError(
            f"{required} needs the GPU: none is visible here (no NVIDIA driver or device)",
            # a fix that launches would start SGLang on no GPU: only the plan can run here
            fix="run it on the GPU machine, or plan for a GPU you name here: "
            + (plan_here or f"{required} --gpu 'RTX 4090' --dry-run (or `qwen-serve plan --gpu NAME`)"),
        )
    return hw


def _values(launch: LaunchSettings) -> dict[str, Any]:
    return {s.name: s.value for s in launch.settings}


def cuda_graph(launch: LaunchSettings) -> bool:
    """Whether SGLang captures CUDA graphs (their memory is in the plan): the one place that decides."""
    args = {a.flag: a.value for a in launch.sglang_args}
    return "--disable-cuda-graph" not in launch.passthrough and not args.get("disable-cuda-graph")


def preset_plans(
    config: ConfigFile,
    names: list[str],
    cli_values: dict[str, Any],
    on: PlanTarget,
    passthrough: tuple[str, ...] = (),
) -> list:
    """Each named preset as it would launch here: resolved on its own with the same flags, then planned
    (with layered loading where only that fits). The one loop over presets."""
    from .plan import plan_as_launched

    plans = []
    for name in names:
        try:
            launch, _ = settle_checkpoint(resolve(config, name, cli_values, passthrough))
        except QwenServeError:
            continue  # the flags typed contradict this preset's checkpoint: it cannot launch with them
        plans.append(
            plan_as_launched(
                _values(launch),
                on.gpu,
                on.count,
                name=name,
                cuda_graph=cuda_graph(launch),
                margin=on.margin,
                memory=on.memory,
            )
        )
    return plans


def auto_preset(
    config: ConfigFile,
    cli_values: dict[str, Any],
    on: PlanTarget,
    passthrough: tuple[str, ...] = (),
    load: str | int | None = None,
    sglang: str | None = None,
) -> tuple[str, str]:
    """`--preset auto`: the fastest preset `qwen-serve tune` measured on this GPU for `load`, where a result of this
    GPU, driver and SGLang release is there; else the preset the file's auto_order picks for these GPUs. Why, in one
    line."""
    from .plan import AUTO_MIN_KV_TOKENS, choose_preset

    where = f"{on.count} x {on.gpu.name}" if on.count > 1 else on.gpu.name
    mine = not cli_values.get("model_path")  # a preset that serves a checkpoint of its own is no choice then

    def usable(names) -> list[str]:
        return [n for n in names if mine or "model_path" not in config.presets[n].values]

    measured, note = _tuned(config, cli_values, on, sglang)
    if measured is not None:
        fitting = [
            p.name
            # only what was measured can be picked: only that is planned
            for p in preset_plans(
                config, usable(n for n in config.presets if n in measured.measured), cli_values, on, passthrough
            )
            if p.fits and p.kv_tokens >= AUTO_MIN_KV_TOKENS
        ]
        from .tune_result import pick

        picked = pick(measured, load, fitting)
        if picked is not None:
            return picked[0], f"preset auto -> {picked[0]} on {where}: {picked[1]}"
        note = "qwen-serve tune's result holds no preset that fits with these settings"
    plans = preset_plans(config, usable(config.auto_order_for(on.gpu)), cli_values, on, passthrough)
    name, line = choose_preset(plans, where, config.label)
    if load is not None:
        note = f"--load {load} needs a result of qwen-serve tune on this GPU" + (f" ({note})" if note else "")
    return name, line + (f"; {note}" if note else "; `qwen-serve tune` measures the presets on this GPU")


def _tuned(config: ConfigFile, cli_values: dict[str, Any], on: PlanTarget, sglang: str | None):
    """The tune result of this GPU model, tensor-parallel size, driver and SGLang release, or None and why not."""
    if sglang is None:
        return None, None
    from .tune_result import Machine, read_result

    tp = cli_values.get("tp_size") or config.values.get("tp_size") or 1
    return read_result(Machine(on.gpu.name, int(tp), on.hardware.driver, str(sglang)))


def _fit(
    launch: LaunchSettings, config: ConfigFile, on: PlanTarget, auto_line, cli_values
) -> tuple[LaunchSettings, Fit]:
    from .plan import as_launched, plan

    graphs = cuda_graph(launch)
    asked = {s.name: s.value for s in launch.settings}
    settings = as_launched(asked, on.gpu, on.count, graphs, on.margin, on.memory)
    if settings.get("load_format") != asked.get("load_format"):
        launch = launch.with_setting(
            "load_format", settings["load_format"], "plan (the bf16 model would not fit at load)"
        )
    name = launch.preset.name if launch.preset else "settings"
    this = plan(settings, on.gpu, on.count, name=name, cuda_graph=graphs, margin=on.margin, memory=on.memory)
    line = (
        f"memory plan on {on.describe()}: {this.verdict}"
        if not this.fits
        else f"memory plan on {on.describe()}: fits — weights {this.weights_gib} GiB/GPU, peak at load "
        f"{this.peak_load_gib} GiB ({this.peak_note}), KV cache {this.kv_tokens:,} tokens "
        f"({this.concurrent_4k} x 4k requests)"
    )
    fix = ""
    if not this.fits:  # only then: which presets would
        others = [
            p.name for p in preset_plans(config, list(config.presets), cli_values, on, launch.passthrough) if p.fits
        ]
        fix = (
            f"presets of {config.label} that fit: {', '.join(others)}"
            if others
            else "no preset of this file fits this GPU: use more GPUs (--tp-size) or a smaller or pre-quantized model"
        )
        fix += " (or --force)"
    return launch, Fit(this, on.describe(), line, fix, auto_line)
