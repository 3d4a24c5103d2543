"""What `--dry-run` prints: the command, then every setting with its value and origin."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from .errors import printable

if TYPE_CHECKING:  # the types of the dry run's functions; qwen-test's CheckTable needs none of the core
    from .resolve import LaunchSettings
    from .sglang.argv import SGLangCommand


def _columns(headers: tuple[str, ...], rows: list[tuple[str, ...]]) -> str:
    """Rows under their headers, each column as wide as its widest cell, two spaces apart."""
    widths = [max(len(cell) for cell in column) for column in zip(headers, *rows)]
    rule = tuple("-" * w for w in widths)
    return "\n".join(
        "  ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip() for row in (headers, rule, *rows)
    )


def _rendered(table, console) -> str:
    """A rich table as text, for `echo` (click's, or a test's)."""
    with console.capture() as capture:
        console.print(table)
    return capture.get().rstrip()


def dry_run_data(
    launch: LaunchSettings, command: SGLangCommand, fit=None, notes: tuple[str, ...] = ()
) -> dict[str, Any]:
    from .resolve import PRECEDENCE

    target = command.target
    return {
        "plan": None
        if fit is None
        else {"hardware": fit.hardware, "summary": fit.line, "auto": fit.auto, **fit.plan.as_dict()},
        "command": command.shell(),
        "argv": command.shown_argv(),
        "sglang": {
            "version": str(target.version),
            "installed": target.installed,
            "flag_snapshot": target.flagset.version,
        },
        "config": launch.config_label,
        "preset": launch.preset.name if launch.preset else None,
        "preset_description": launch.preset.description if launch.preset else None,
        "preset_measured": launch.preset.measured if launch.preset else None,
        "precedence": list(PRECEDENCE),
        "settings": [{"key": s.name, "value": s.shown, "origin": s.origin} for s in launch.settings]
        + [{"key": f"sglang_args.{a.flag}", "value": a.value, "origin": a.origin} for a in launch.sglang_args],
        "env": [{"name": e.name, "value": e.shown, "origin": e.origin, "default": e.default} for e in command.env],
        "passthrough": list(launch.passthrough),
        "checkpoint": checkpoint_line(launch),
        "notes": [*notes, *command.notes],
    }


def checkpoint_line(launch: LaunchSettings) -> str:
    """Which checkpoint is served, what it stores, and (a hub id not in the cache) what will be downloaded."""
    from .model import read_checkpoint
    from .preflight import hf_cache_dir, looks_local

    setting = launch.get("model_path")
    checkpoint = read_checkpoint(setting.value)
    line = f"checkpoint: {setting.value} ({setting.origin}) — {checkpoint.describe()}, {checkpoint.source}"
    if not looks_local(setting.value) and not checkpoint.source.startswith(f"from {hf_cache_dir()}"):
        from .plan import download_bytes

        line += (
            f"; not in the Hugging Face cache: about {download_bytes(setting.value) / 2**30:.1f} GiB will be downloaded "
            "(qwen-serve fetches it before SGLang starts, after checking the free disk)"
        )
    return line


def dry_run_json(launch: LaunchSettings, command: SGLangCommand, fit=None, notes: tuple[str, ...] = ()) -> str:
    return json.dumps(dry_run_data(launch, command, fit, notes), indent=2, ensure_ascii=False)


def print_dry_run(launch: LaunchSettings, command: SGLangCommand, echo, fit=None, notes: tuple[str, ...] = ()) -> None:
    """Plain command line first (copy-pastable, never wrapped), then the settings as aligned plain text: no rich on
    this path (importing it is a third of a dry run where Python keeps no bytecode), and every cell whole, so that
    grep finds a key or an origin."""
    data = dry_run_data(launch, command, fit, notes)
    echo(data["command"])
    title = f"{data['config']}" + (f" · preset {data['preset']}" if data["preset"] else "")
    rows = [(r["key"], "—" if r["value"] is None else str(r["value"]), r["origin"]) for r in data["settings"]]
    echo("\n" + title + "\n" + _columns(("setting", "value", "origin"), rows))
    jit = [v for v in data["env"] if v["default"] and v["origin"].startswith("qwen-serve's JIT cache")]
    for var in data["env"]:
        if var not in jit:
            echo(f"env: {var['name']}={var['value']}  ({var['origin']})")
    if jit:
        folder = jit[0]["origin"].split("(", 1)[1].rstrip(")")
        echo(f"env: JIT caches under {folder}: {', '.join(v['name'] for v in jit)} (a variable you set wins)")
    if data["preset_description"]:
        echo(f"preset {data['preset']}: {data['preset_description']}")
    if data["preset_measured"]:
        echo(f"measured: {data['preset_measured']}")
    sglang = data["sglang"]
    echo(
        f"sglang {sglang['version']} ("
        + ("installed" if sglang["installed"] else "not installed here")
        + f"; flags checked against the {sglang['flag_snapshot']} snapshot)"
    )
    echo("precedence: " + " < ".join(data["precedence"]))
    echo(data["checkpoint"])
    for note in data["notes"]:
        echo(f"note: {note}")
    if fit is None:
        echo("plan: no NVIDIA GPU visible; pass --gpu NAME to check that this fits")
    else:
        if fit.auto:
            echo(fit.auto)
        echo(f"plan: {fit.line}" + ("" if fit.plan.fits else f" ({fit.fix})"))


def fleet_dry_run(fleet, as_json: bool) -> str:
    """--dry-run of a fleet (fleet.Fleet): each worker's SGLang command with its GPUs, the router's; the key masked."""
    from .fleet import ROUTER_ENTRY, describe

    data = describe(fleet)
    if as_json:
        return json.dumps(data, indent=2)
    lines = []
    for w in data["workers"]:
        env = " ".join(f"{k}={v}" for k, v in w["env"].items())
        lines += [f"# worker {w['index']}: {w['url']} (log {w['log_file']})", f"{env} {' '.join(w['argv'])}"]
    lines += [f"# remote worker: {url}" for url in data["remote_workers"]]
    lines.append(f"# router ({ROUTER_ENTRY}: {fleet.router_module}, key from the environment): {data['router']['url']}")
    lines.append(" ".join(data["router"]["argv"]))
    return "\n".join(lines)


def print_plans(plans, hardware: str, config_label: str, echo) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"qwen-serve plan · {hardware} · {config_label}", title_justify="left")
    for column, justify in (
        ("preset", "left"),
        ("weights", "left"),
        ("GiB/GPU", "right"),
        ("peak at load", "right"),
        ("KV tokens", "right"),
        ("4k reqs", "right"),
        ("verdict", "left"),
    ):
        table.add_column(column, justify=justify, overflow="fold")
    for p in plans:
        style = None if p.fits else "red"
        table.add_row(
            p.name,
            p.scheme,
            f"{p.weights_gib:.2f}",
            f"{p.peak_load_gib:.2f}",
            f"{p.kv_tokens:,}",
            str(p.concurrent_4k),
            p.verdict,
            style=style,
        )
    echo(_rendered(table, Console(width=140)))
    first = plans[0]
    echo(
        f"KV cache per token: {first.kv_bytes_per_token:,} bytes per GPU ({first.kv_cache_dtype}); "
        f"free before loading {first.free_at_load_gib} GiB/GPU; mem_fraction_static {first.mem_fraction_static} "
        f"({first.mem_fraction_origin}). Model: SGLang 0.5.17's own reservation logic (qwen_serve/plan.py)"
        + (f", with a {first.margin:.0%} margin." if first.margin else ".")
    )


class CheckTable:
    """qwen-test's output: one line per check as it finishes, then a table and a summary."""

    STYLE = {"pass": "green", "fail": "bold red", "skip": "yellow"}

    def __init__(self, live: bool = True):
        from rich.console import Console

        self.console = Console(highlight=False)
        self.live = live

    def add(self, result) -> None:
        if self.live and not self.console.is_terminal:
            return  # the table at the end says it all
        if self.live:
            style = self.STYLE[result.status]
            self.console.print(f"[{style}]{result.status:>4}[/] {result.name} ({result.seconds:.2f} s)")

    def finish(self, results, url: str) -> None:
        from rich.table import Table
        from rich.text import Text

        # what a server sent (a model id, an error text) and the URL the user typed are Text, never markup: a detail
        # such as "[link=…]" or "[/]" is shown as it is, not interpreted
        table = Table(title=Text(f"qwen-test {url}"), title_justify="left")
        table.add_column("check")
        table.add_column("result")
        table.add_column("seconds", justify="right")
        table.add_column("detail", overflow="fold")
        for r in results:
            table.add_row(r.name, Text(r.status, style=self.STYLE[r.status]), f"{r.seconds:.2f}", Text(r.detail))
        self.console.print(table)
        counts = {status: sum(r.status == status for r in results) for status in self.STYLE}
        self.console.print(f"{counts['pass']} checks passed, {counts['fail']} failed, {counts['skip']} skipped")


def print_bench(data: dict, echo) -> None:
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    title = (  # the label names the server's model and version: Text, never markup
        f"qwen-bench {data['base_url']} · {data['label']} · in "
        f"{data['input_len'] or 'prompts from ' + str(data.get('prompts'))} / out {data['output_len']} tokens"
    )
    table = Table(title=Text(printable(title)), title_justify="left")
    for column in (
        "conc.",
        "done",
        "err",
        "in tok (server)",
        "req/s",
        "out tok/s",
        "TTFT p50",
        "TTFT p99",
        "TPOT p50",
        "TPOT p99",
        "E2E p50",
        "E2E p99",
        "client CPU/req",
    ):
        table.add_column(column, justify="right")
    for lv in data["levels"]:
        ms = lambda d, k: f"{d[k]:.1f}" if k in d else "—"  # noqa: E731
        n = lv.get("server_input_tokens")
        counted = "—" if not n else str(n["min"]) if n["min"] == n["max"] else f"{n['min']}-{n['max']}"
        table.add_row(
            str(lv["concurrency"]),
            str(lv["completed"]),
            str(lv["errors"]),
            counted,
            f"{lv['request_throughput']:.2f}",
            f"{lv['output_throughput']:.1f}",
            ms(lv["ttft_ms"], "p50"),
            ms(lv["ttft_ms"], "p99"),
            ms(lv["tpot_ms"], "p50"),
            ms(lv["tpot_ms"], "p99"),
            ms(lv["e2e_ms"], "p50"),
            ms(lv["e2e_ms"], "p99"),
            f"{lv['client_cpu_ms_per_request']:.2f} ms",
        )
    echo(_rendered(table, Console(width=170)))
    echo(
        "in tok (server): prompt tokens as the server counted them (usage.prompt_tokens); "
        "latencies in ms; TPOT = (E2E - TTFT) / (output tokens - 1), as sglang.bench_serving computes it"
    )
