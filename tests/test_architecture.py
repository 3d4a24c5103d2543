"""#30: the shape of the package, held by CI. The library core imports no click (the CLI alone turns its errors
into exit codes), and the import graph of qwen_serve has no circle, function-level imports included."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "src" / "qwen_serve"


def modules() -> dict[str, Path]:
    out = {}
    for path in PACKAGE.rglob("*.py"):
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        out[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return out


def imports(name: str, path: Path, known: dict[str, Path]) -> set[str]:
    """Modules of the package that `name` imports anywhere in its file."""
    package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            for alias in node.names:
                found.add(f"{target}.{alias.name}" if f"{target}.{alias.name}" in known else target)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
    return {m for m in found if m in known and m != name}


def graph() -> dict[str, set[str]]:
    known = modules()
    return {name: imports(name, path, known) for name, path in known.items()}


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan)."""
    index, low, stack, on, found, counter = {}, {}, [], set(), [], [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in edges[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in edges:
        if v not in index:
            visit(v)
    return found


def test_the_import_graph_has_no_circle():
    assert cycles(graph()) == []


def test_the_finder_does_find_a_circle():
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_the_library_core_imports_no_click():
    """Only qwen_serve.cli imports click."""
    for name, path in modules().items():
        if name.startswith("qwen_serve.cli"):
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"))
        clicks = [
            node.lineno
            for node in ast.walk(tree)
            if isinstance(node, ast.Import)
            and any(a.name == "click" for a in node.names)
            or isinstance(node, ast.ImportFrom)
            and node.module == "click"
        ]
        assert not clicks, (name, clicks)


def test_one_supervision_engine_starts_signals_and_kills_every_child():
    """Point 3: children are started, signalled and stop-pressed in supervise.py alone (ManagedProcess, Engine);
    the fleet is workers and a router on that engine, with no process or signal code of its own."""
    calls = {"Popen", "killpg", "kill", "signal"}
    for name, path in modules().items():
        if name == "qwen_serve.supervise":
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
                owner = node.func.value.id if isinstance(node.func.value, ast.Name) else None
                assert not (owner in ("subprocess", "os", "signal") and node.func.attr in calls), (name, node.lineno)
    fleet = (PACKAGE / "fleet.py").read_text(encoding="utf-8")
    assert "class FleetSupervisor(Engine)" in fleet and "Server(" in fleet  # its workers: the engine's own Server


def test_no_qwen_serve_command_line_is_rendered_but_in_units_and_manifests():
    """#41: a fleet's workers are SGLangs built from one Prepared each in this process, not qwen-serve re-run through
    a command line; only a systemd unit or a k8s manifest (which start qwen-serve elsewhere) spell one."""
    found = set()
    for name, path in modules().items():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, (ast.List, ast.Tuple)):
                words = [e.value for e in node.elts if isinstance(e, ast.Constant)]
                if any(a == "-m" and b == "qwen_serve" for a, b in zip(words, words[1:])):
                    found.add(name)
    assert found == {"qwen_serve.systemd"}, found


CORE = ("config", "resolve", "settings", "pipeline", "plan", "model", "checkpoint", "supervise", "launch", "sglang")


@pytest.mark.parametrize(
    "entry, argv",
    [
        ("qwen_test_main", ["--help"]),
        ("qwen_test_main", ["--base-url", "http://127.0.0.1:1", "--only", "health"]),
        ("bench_main", ["--help"]),
        ("bench_main", ["run", "--base-url", "http://127.0.0.1:1", "--requests", "1"]),
    ],
)
def test_the_clients_import_no_module_of_the_core(entry, argv):
    """qwen-test and qwen-bench talk HTTP: run (to their end: here an unreachable server), they import the client
    side only (client, safe_http, wire, bench, report, outputs, secret, errors), no settings, plan or SGLang."""
    import subprocess
    import sys

    code = (
        "import atexit, sys; atexit.register(lambda: print(' '.join(sorted(m for m in sys.modules "
        "if m.startswith('qwen_serve')))));"
        f" sys.argv = ['x', *sys.argv[1:]]; from qwen_serve.cli import {entry}; {entry}()"
    )
    r = subprocess.run([sys.executable, "-c", code, *argv], capture_output=True, text=True, timeout=60)
    loaded = r.stdout.split()[-40:]
    core = [m for m in loaded if m.split(".")[1:2] and m.split(".")[1] in CORE]
    assert any(m == "qwen_serve.cli" for m in loaded), (r.stdout, r.stderr)
    assert not core, core


def test_no_function_in_src_is_over_80_lines():
    """#41: a function that does one thing reads in one screen (from its `def` to its last line)."""
    long = []
    for name, path in modules().items():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                lines = node.end_lineno - node.lineno + 1
                if lines > 80:
                    long.append(f"{name}.{node.name}: {lines} lines")
    assert not long, long


@pytest.mark.parametrize("module", ["qwen_serve.k8s", "qwen_serve.systemd", "qwen_serve.pipeline", "qwen_serve.plan"])
def test_planning_and_rendering_import_no_process_code(module):
    """#41: what plans or renders starts nothing, and imports neither the supervision engine nor the fleet."""
    import subprocess
    import sys

    code = f"import sys, {module}; print(' '.join(m for m in sys.modules if m.startswith('qwen_serve')))"
    loaded = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60).stdout.split()
    assert module in loaded and not [m for m in loaded if m in ("qwen_serve.supervise", "qwen_serve.fleet")], loaded


def test_a_recorded_command_reads_as_the_serve_commands_own_parser_reads_it():
    """#41: launch.request_from_args (what scripts and the lab replay recorded commands with, without the CLI) knows
    every option of `qwen-serve serve` with its arity, and reads any mix of setting flags as click does."""
    import click
    from hypothesis import given, settings
    from hypothesis import strategies as st

    from qwen_serve.cli.common import launch_request, typed_settings
    from qwen_serve.cli.serve import serve
    from qwen_serve.launch import REQUEST_FLAGS, REQUEST_SWITCHES, RUN_OPTIONS, request_from_args
    from qwen_serve.settings import FIELDS

    options = {}
    for param in (p for p in serve.params if isinstance(p, click.Option)):
        for opt in [*param.opts, *param.secondary_opts]:
            options[opt] = 0 if getattr(param, "is_flag", False) else 1
    settings_flags = {s.cli_flag for s in FIELDS} | {s.cli_no_flag for s in FIELDS if s.kind is bool}
    ours = {**{f: 1 for f in REQUEST_FLAGS}, **{f: 0 for f in REQUEST_SWITCHES}, **RUN_OPTIONS}
    assert {o: n for o, n in options.items() if o not in settings_flags and o != "--help"} == ours

    def word(spec):
        if spec.kind is bool:
            return st.sampled_from([[spec.cli_flag], [spec.cli_no_flag]])
        text = st.text(st.characters(codec="utf-8", exclude_categories=("Cs", "Cc")), min_size=1, max_size=8)
        return text.filter(lambda v: not v.startswith("-")).flatmap(
            lambda v: st.sampled_from([[spec.cli_flag, v], [f"{spec.cli_flag}={v}"]])
        )

    @settings(max_examples=150, deadline=None)
    @given(
        st.lists(st.sampled_from(FIELDS).flatmap(word), max_size=6),
        st.sampled_from(
            [
                [],
                ["--preset", "fp8", "--load", "interactive"],
                ["--config", "x.yaml", "--quiet", "--gpu", "H100x2", "--force"],
                ["--sglang-version", "0.5.23", "--ready-file", "r.json"],
                ["--", "--schedule-policy", "lpm"],
            ]
        ),
    )
    def same(parts, tail):
        args = [w for part in parts for w in part] + tail
        ctx = serve.make_context("serve", list(args))
        request = request_from_args(args)
        assert request.cli_values == typed_settings(ctx, ctx.params)
        assert (request.preset, request.config_path) == (ctx.params["preset"], ctx.params["config_path"])
        assert request.passthrough == tuple(ctx.params["passthrough"])
        clicked = launch_request(ctx.params, typed_settings(ctx, ctx.params))
        assert (request.gpu_spec, request.force, request.sglang_version, request.load) == (
            clicked.gpu_spec,
            clicked.force,
            clicked.sglang_version,
            clicked.load,
        )

    same()


def test_every_module_is_on_the_drawing_in_docs_development():
    """#41: a newcomer finds each module in docs/development.md's drawing, from its file name."""
    drawing = (PACKAGE.parents[1] / "docs" / "development.md").read_text(encoding="utf-8")
    modules_ = [p for p in PACKAGE.rglob("*.py") if p.name not in ("__init__.py", "__main__.py")]
    missing = [str(p.relative_to(PACKAGE)) for p in modules_ if p.name not in drawing]
    assert len(modules_) > 40 and not missing, missing


def test_the_serve_commands_parameters_are_the_librarys_option_fields():
    """cli/serve.py builds ServeOptions and FleetOptions from click's parameters by field name: each field but the
    `note` callback is a parameter of the command, so a renamed flag cannot silently fall back to a default."""
    from dataclasses import fields

    from qwen_serve.cli.serve import serve
    from qwen_serve.launch import FleetOptions, ServeOptions

    names = {p.name for p in serve.params}
    wanted = {f.name for f in (*fields(ServeOptions), *fields(FleetOptions))} - {"note"}
    assert wanted <= names, wanted - names
