"""The contract every SGLang release adapter (qwen_serve/sglang/releases/vX_Y_Z) passes, against that release's
own parser: the installed SGLang for the default release, and for any other its wheel alone, installed by uv into a
folder of this test session (`uv pip install --no-deps --target`; uv's cache keeps the download) and imported
beside the default release's dependencies. Adding a release is adding a folder; these tests then hold it."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from qwen_serve.config import load_config
from qwen_serve.errors import QwenServeError
from qwen_serve.resolve import resolve
from qwen_serve.settings import FIELDS_BY_NAME
from qwen_serve.sglang.argv import build_command
from qwen_serve.sglang.capabilities import installed_sglang_version, target_for
from qwen_serve.sglang.releases import DEFAULT, releases

ROOT = Path(__file__).resolve().parents[1]
SRC = ROOT / "src"
RELEASES = [str(v) for v in releases()]
FILES = ("server_config.yaml", "config_examples.yaml")


@pytest.fixture(scope="session")
def wheel_path(tmp_path_factory):
    """PYTHONPATH under which a requirement `NAME==VERSION` imports: the installed package where it is that
    version, else its wheel alone (`uv pip install --no-deps --target`) in a folder of this session, beside the
    default release's dependencies. One folder per requirement, made once."""
    from importlib import metadata

    folders: dict[str, str] = {}

    def path(requirement: str) -> str:
        name, version = requirement.split("==")
        try:
            if metadata.version(name) == version:
                return str(SRC)
        except metadata.PackageNotFoundError:
            pass
        if requirement not in folders:
            folder = tmp_path_factory.mktemp(name)
            uv = shutil.which("uv")
            assert uv, "uv is the project's one prerequisite"
            subprocess.run(
                [uv, "pip", "install", "--no-deps", "--target", str(folder), "--python", sys.executable, requirement],
                check=True, capture_output=True, timeout=600,
            )  # fmt: skip
            folders[requirement] = f"{folder}{os.pathsep}{SRC}"
        return folders[requirement]

    return path


@pytest.fixture(scope="session")
def sglang_path(wheel_path):
    """PYTHONPATH under which `import sglang` is the given release."""
    return lambda version: wheel_path(f"sglang=={version}")


@pytest.fixture(scope="session")
def release_run(sglang_path):
    """For a release: every preset of both shipped files built for it (or refused), and what its real parser said of
    them, with its flags — one run of qwen_serve.sglang.releases.parser (one import of that SGLang) per release."""
    runs: dict[str, dict] = {}

    def run(version: str) -> dict:
        if version in runs:
            return runs[version]
        target = target_for(version)
        commands, refused = {}, {}
        for file in FILES:
            config = load_config(ROOT / file)
            for preset in config.presets:
                launch = resolve(config, preset, {"port": "31000"})
                try:
                    commands[(file, preset)] = (launch, build_command(launch, target))
                except QwenServeError as exc:
                    refused[(file, preset)] = (launch, exc.line)
        result = subprocess.run(
            [sys.executable, "-m", "qwen_serve.sglang.releases.parser", "parse"],
            input=json.dumps([list(c.sglang_argv) for _, c in commands.values()]),
            capture_output=True, text=True, timeout=600,
            env={**os.environ, "PYTHONPATH": sglang_path(version)},
        )  # fmt: skip
        assert result.returncode == 0, result.stderr[-2000:]
        runs[version] = {"commands": commands, "refused": refused, **json.loads(result.stdout)}
        return runs[version]

    return run


def test_the_default_release_is_the_locked_one_and_the_others_are_newer():
    assert installed_sglang_version() == DEFAULT == RELEASES[0]
    assert len(RELEASES) >= 2 and "0.5.23" in RELEASES


@pytest.mark.parametrize("version", RELEASES)
def test_flags_json_is_what_the_releases_own_parser_defines(version, release_run):
    live = release_run(version)
    assert live["sglang_version"] == version
    assert live["flags"] == releases()[next(v for v in releases() if str(v) == version)].flags


@pytest.mark.parametrize("version", RELEASES)
def test_every_preset_is_a_command_the_releases_parser_takes_or_one_line(version, release_run):
    """Every preset of both shipped files, built for this release: accepted by its real parser with the values
    qwen-serve meant (model, port, parsers, metrics, quantization), or refused in one line that names the release,
    for exactly the settings the adapter lists as removed."""
    run = release_run(version)
    commands, refused = run["commands"], run["refused"]
    for ((file, preset), (launch, _)), answer in zip(commands.items(), run["answers"], strict=True):
        assert "error" not in answer, (file, preset, answer)
        ns = answer["namespace"]
        assert ns["model_path"] == launch["model_path"] and ns["port"] == 31000, (file, preset)
        assert ns["tool_call_parser"] == launch["tool_call_parser"] and ns["reasoning_parser"] == "qwen3"
        assert ns["enable_metrics"] is True and ns["quantization"] == launch["quantization"], (file, preset)
    release = target_for(version).release
    for (file, preset), (launch, line) in refused.items():
        removed = [name for name in release.removed if launch[name]]
        assert removed and f"sglang {version}" in line, (file, preset, line)
    assert bool(refused) == bool(release.removed)  # a release that removed nothing refuses nothing


@pytest.mark.parametrize("version", RELEASES)
def test_the_adapters_facts_agree_with_its_flags(version):
    release = target_for(version).release
    assert release.version == version
    committed = ROOT / "src" / "qwen_serve" / "sglang" / "releases" / ("v" + version.replace(".", "_")) / "flags.json"
    assert json.loads(committed.read_text())["sglang_version"] == version  # the folder is the release it says
    assert release.supports("torchao_config") == ("--torchao-config" in release.flags)
    for name in release.removed:
        assert FIELDS_BY_NAME[name].sglang_flag not in release.flags  # removed means gone from its parser
    assert (release.unmeasured_note() is None) == (version == DEFAULT)  # only the locked release was measured


def test_a_dry_run_for_an_unmeasured_release_says_so(qwen_serve):
    planned = qwen_serve("--dry-run", "--sglang-version", "0.5.23", "--preset", "fp8", "--gpu", "H200")
    assert planned.exit_code == 0, planned.stderr
    assert "sglang 0.5.23 is unmeasured here" in planned.stdout + planned.stderr
    measured = qwen_serve("--dry-run", "--preset", "fp8", "--gpu", "H200")
    assert "unmeasured" not in measured.stdout + measured.stderr


@pytest.fixture(scope="session")
def router_path(wheel_path):
    """PYTHONPATH under which a release's router package (its `router_requirement`) imports: the locked one is
    installed (the `router` extra), any other's wheel alone."""
    return wheel_path


READ_ROUTER_ARGS = """
import json, sys
from qwen_serve.sglang.router_entry import parse
module, argv = sys.argv[1], sys.argv[2:]
args = parse(argv, module)
args._validate_router_args()
keys = ("worker_urls", "policy", "host", "port", "prometheus_host", "prometheus_port", "service_discovery",
        "selector", "service_discovery_port", "service_discovery_namespace")
print(json.dumps({k: getattr(args, k, None) for k in keys}))
"""


def _router_reads(router_path, release, argv: list[str]) -> dict:
    """What the release's own router parser makes of ARGV (its module first, as qwen-serve runs it)."""
    result = subprocess.run(
        [sys.executable, "-c", READ_ROUTER_ARGS, *argv],
        capture_output=True, text=True, timeout=120,
        env={**os.environ, "PYTHONPATH": router_path(release.router_requirement)},
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-2000:]
    return json.loads(result.stdout)


@pytest.mark.parametrize("version", RELEASES)
def test_the_fleet_and_k8s_run_the_releases_own_router_as_its_parser_reads_them(version, qwen_serve, router_path):
    """--replicas (the router in front of qwen-serve's workers) and `qwen-serve k8s` (service discovery of the
    worker pods), each built for this release: its router module, read by that router's own parser as meant."""
    import yaml

    release = target_for(version).release
    dry = qwen_serve("--dry-run", "--json", "--sglang-version", version, "--replicas", "2", "--gpu", "H200x2")
    assert dry.exit_code == 0, dry.stderr
    argv = json.loads(dry.stdout)["router"]["argv"]
    assert argv[1:4] == ["-m", "qwen_serve.sglang.router_entry", release.router_module]
    fleet = _router_reads(router_path, release, argv[3:])
    assert fleet["worker_urls"] == ["http://127.0.0.1:30001", "http://127.0.0.1:30002"]
    assert (fleet["policy"], fleet["port"], fleet["prometheus_port"]) == ("cache_aware", 30000, 29000)
    k8s = qwen_serve("k8s", "--sglang-version", version, "--preset", "fp8", "--gpu", "H200")
    assert k8s.exit_code == 0, k8s.stderr
    router = next(
        c for d in yaml.safe_load_all(k8s.stdout) if d and d["kind"] == "Deployment"
        for c in d["spec"]["template"]["spec"]["containers"] if c["name"] == "router"
    )  # fmt: skip
    assert router["command"][:3] == ["python3", "-m", f"{release.router_module}.launch_router"]
    pod = _router_reads(router_path, release, [release.router_module, *router["command"][3:]])
    assert pod["service_discovery"] is True and pod["service_discovery_port"] == 30000
    selector = pod["selector"]  # KEY=VALUE words, or the mapping the router made of them
    pairs = selector.items() if isinstance(selector, dict) else (w.split("=", 1) for w in selector)
    assert ("app.kubernetes.io/component", "worker") in {tuple(p) for p in pairs}


def test_an_unmeasured_release_is_planned_with_a_margin_that_plan_and_dry_run_show(qwen_serve):
    """0.5.23's plan is 0.5.17's constants less 10 % of the KV tokens and plus 10 % of the peak at load; `plan`
    says so in its table and JSON, `--dry-run` in its plan line and note."""
    from qwen_serve.sglang.releases import UNMEASURED_MARGIN

    def plans(*args: str) -> dict:
        result = qwen_serve("plan", "--gpu", "H200", "--preset", "fp8", "--json", *args)
        assert result.exit_code == 0, result.stderr
        return json.loads(result.stdout)

    locked, newest = plans(), plans("--sglang-version", "0.5.23")
    assert locked["margin"] == 0 and locked["note"] is None
    assert newest["margin"] == UNMEASURED_MARGIN == 0.10 and "sglang 0.5.23 is unmeasured" in newest["note"]
    a, b = locked["plans"][0], newest["plans"][0]
    assert b["kv_tokens"] == pytest.approx(a["kv_tokens"] * 0.9, abs=1) and b["margin"] == 0.10
    assert b["peak_load_gib"] == pytest.approx(a["peak_load_gib"] * 1.1, abs=0.01)
    table = qwen_serve("plan", "--gpu", "H200", "--preset", "fp8", "--sglang-version", "0.5.23")
    assert "with a 10% margin" in table.stdout and "sglang 0.5.23 is unmeasured" in table.stdout
    dry = qwen_serve("--dry-run", "--preset", "fp8", "--gpu", "H200", "--sglang-version", "0.5.23")
    assert f"KV cache {b['kv_tokens']:,} tokens" in dry.stdout + dry.stderr


@pytest.mark.parametrize(
    "version, adapter", [("0.5.10", "0.5.17"), ("0.5.17", "0.5.17"), ("0.5.20", "0.5.23"), ("0.6.0", "0.5.23")]
)
def test_a_release_between_folders_takes_the_adapter_that_holds_for_it(version, adapter, qwen_serve):
    """0.5.23's adapter holds from 0.5.18, where --torchao-config left SGLang: a torchao preset for 0.5.20 is
    refused in one line naming 0.5.20, not built for a flag its parser lacks."""
    from packaging.version import Version

    from qwen_serve.sglang.releases import release_for

    assert release_for(Version(version)).version == adapter
    torchao = qwen_serve("--dry-run", "--preset", "balanced_torchao", "--sglang-version", version, "--gpu", "H200")
    if adapter == "0.5.17":
        assert torchao.exit_code == 0, torchao.stderr
    else:
        assert torchao.exit_code == 2 and f"sglang {version} (planned" in torchao.stderr, torchao.stderr
        assert "removed --torchao-config in 0.5.18" in torchao.stderr
        assert len(torchao.stderr.strip().splitlines()) == 1, torchao.stderr


def _sglang_root(version: str, sglang_path) -> Path:
    """The folder of release `version`'s `sglang` package: the installed one, or its wheel's."""
    first = sglang_path(version).split(os.pathsep)[0]
    if first == str(SRC):
        import importlib.util

        return Path(importlib.util.find_spec("sglang").submodule_search_locations[0])
    return Path(first) / "sglang"


def _assigned(body: list, name: str) -> list[int]:
    """The integer constants a branch gives `name`, in source order: `x.name = N` or `f(..., name=N)`."""
    import ast

    found = []
    for node in (n for stmt in body for n in ast.walk(stmt)):
        if isinstance(node, ast.Assign) and isinstance(node.value, ast.Constant):
            if any(isinstance(t, ast.Attribute) and t.attr == name for t in node.targets):
                found.append((node.lineno, node.value.value))
        elif isinstance(node, ast.Call):
            found += [
                (k.value.lineno, k.value.value)
                for k in node.keywords
                if k.arg == name and isinstance(k.value, ast.Constant)
            ]
    return [value for _, value in sorted(found)]


def _memory_buckets(source: str, function: str):
    """The release's buckets as its own code writes them: each `gpu_mem < LIMIT` branch of `function` (under
    `if gpu_mem is not None`) with the chunked prefill size and the decode graph max_bs (tp < 4, tp >= 4) it sets,
    and the last `else`'s (chunked prefill size, max_bs)."""
    import ast

    tree = ast.parse(source)
    func = next(n for n in ast.walk(tree) if isinstance(n, ast.FunctionDef) and n.name == function)
    known = next(n for n in ast.walk(func) if isinstance(n, ast.If) and ast.unparse(n.test) == "gpu_mem is not None")
    from qwen_serve.sglang.releases.memory import Bucket

    buckets, branch = [], known.body[0]
    while isinstance(branch, ast.If):
        assert ast.unparse(branch.test).startswith("gpu_mem < "), ast.unparse(branch.test)
        limit = eval(compile(ast.Expression(branch.test.comparators[0]), "limit", "eval"), {})
        chunk, max_bs = _assigned(branch.body, "chunked_prefill_size"), _assigned(branch.body, "max_bs")
        buckets.append(Bucket(limit, chunk[0], max_bs[0], max_bs[-1]))
        branch = branch.orelse[0] if len(branch.orelse) == 1 and isinstance(branch.orelse[0], ast.If) else branch.orelse
        if not isinstance(branch, ast.If):
            largest = (_assigned(branch, "chunked_prefill_size")[0], _assigned(branch, "max_bs")[-1])
    return tuple(buckets), largest


@pytest.mark.parametrize("version", RELEASES)
def test_each_adapters_memory_defaults_are_its_releases_own_code(version, sglang_path):
    """#41: the plan's automatic mem_fraction_static follows the release planned for; each adapter's buckets,
    reserve and prefill graph sizes are read back from that release's own source (0.5.23 moved them to
    arg_groups/memory_hook.py and gave 24-32 GB cards a 4k chunk and 48 decode graphs)."""
    import ast

    from packaging.version import Version

    rules = releases()[Version(version)].memory
    root = _sglang_root(version, sglang_path)
    file, where = rules.source.split(": ")
    source = (root.parent / file).read_text(encoding="utf-8")
    assert _memory_buckets(source, where.split(".")[-1]) == (rules.buckets, rules.largest)
    reserve = ("reserved_mem = 512", "activation_tokens * 1.5", "/ 8 * 1024", "max(reserved_mem, 10 * 1024)")
    assert all(words in source for words in reserve), [w for w in reserve if w not in source]
    graphs = [p for p in (root / "srt").rglob("*.py") if "prefill_cuda_graph_batch_sizes(self" in p.read_text() or
              "def generate_prefill_cuda_graph_batch_sizes(" in p.read_text()]  # fmt: skip
    text = graphs[0].read_text(encoding="utf-8")
    assert "max_bs * 2" in text or "max_bs * 2" in source  # reserve_for_graph_mb: decode graphs
    assert "len(prefill_cuda_graph_config.bs) * 8" in text + source  # and the prefill graphs' non-torch memory
    func = next(
        n for n in ast.walk(ast.parse(text))
        if isinstance(n, ast.FunctionDef) and n.name.lstrip("_") == "generate_prefill_cuda_graph_batch_sizes"
    )  # fmt: skip
    namespace: dict = {}
    exec(compile(ast.Module([func], []), "sizes", "exec"), namespace)
    theirs = namespace[func.name]
    for max_bs in (2048, 4096, 8192, 16384):
        args = (None, max_bs) if func.args.args[0].arg == "self" else (max_bs,)
        assert rules.prefill_graph_sizes(max_bs) == theirs(*args)


def test_a_24_gb_card_is_planned_with_each_releases_own_reserve(qwen_serve):
    """0.5.23 reserves more on a 24 GB card than 0.5.17 (a 4k prefill chunk and 48 decode graphs), so its
    automatic mem_fraction_static is smaller there; on an H100 both releases pick the same."""

    def fraction(gpu: str, *release: str) -> float:
        result = qwen_serve("plan", "--gpu", gpu, "--preset", "balanced", "--json", *release)
        assert result.exit_code == 0, result.stderr
        return result.json()["plans"][0]["mem_fraction_static"]

    assert fraction("RTX 4090", "--sglang-version", "0.5.23") < fraction("RTX 4090")
    assert fraction("H100", "--sglang-version", "0.5.23") == fraction("H100")
