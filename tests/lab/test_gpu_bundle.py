"""The GPU bundle is uv.lock: what scripts/gpu/build_bundle.sh carries to the GPU machine is the locked version of
each package, and every package of the locked sglang closure it leaves out is named, with why, in
scripts/gpu/bundle_omissions.txt — so a measurement runs what a `uv sync` install runs."""

from __future__ import annotations

import re
from pathlib import Path

import tomllib

ROOT = Path(__file__).resolve().parents[2]
OTHER_PLATFORMS = ("sys_platform == 'darwin'", "sys_platform == 'win32'", "platform_machine == 'aarch64'")


def locked() -> dict[str, dict]:
    return {p["name"]: p for p in tomllib.loads((ROOT / "uv.lock").read_text())["package"]}


def closure(packages: dict[str, dict], root: str) -> set[str]:
    """`root` and everything it needs on linux x86-64, by uv.lock's dependency lists."""
    seen, todo = set(), [root]
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        for dep in packages[name].get("dependencies", []):
            if not any(m in dep.get("marker", "") for m in OTHER_PLATFORMS):
                todo.append(dep["name"])
    return seen


def bundled() -> dict[str, str]:
    """NAME==VERSION of build_bundle.sh's PKGS list."""
    text = (ROOT / "scripts/gpu/build_bundle.sh").read_text()
    block = text.split("PKGS=(", 1)[1].split("\n)", 1)[0]
    block = "\n".join(line.split("#", 1)[0] for line in block.splitlines())
    return {re.sub(r"[-_.]+", "-", n).lower(): v for n, v in re.findall(r"([A-Za-z0-9_.\-]+)==([\w.\-]+)", block)}


def omissions() -> dict[str, str]:
    out = {}
    for line in (ROOT / "scripts/gpu/bundle_omissions.txt").read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            name, reason = line.split(":", 1)
            assert reason.strip(), f"{name}: an omission needs its reason"
            out[name.strip()] = reason.strip()
    return out


def test_every_bundled_package_is_at_its_locked_version():
    packages = locked()
    wrong = {
        n: (v, packages[n]["version"]) for n, v in bundled().items() if n in packages and packages[n]["version"] != v
    }
    assert not wrong, f"bundle version != uv.lock version: {wrong}"


def test_every_locked_sglang_dependency_is_bundled_or_named_as_omitted():
    packages = locked()
    needed = closure(packages, "sglang")
    assert {"sgl-deep-gemm", "sglang-kernel", "flashinfer-python"} <= needed  # the serving path's kernels
    missing = sorted(needed - set(bundled()) - set(omissions()))
    assert not missing, f"in uv.lock's sglang closure, neither bundled nor named in bundle_omissions.txt: {missing}"


def test_the_omission_list_names_only_locked_packages_it_really_leaves_out():
    packages, omitted = locked(), omissions()
    needed = closure(packages, "sglang")
    assert not set(omitted) & set(bundled()), "a package is both bundled and omitted"
    assert not set(omitted) - needed, f"omissions not in the lock's sglang closure: {sorted(set(omitted) - needed)}"


def test_deep_gemm_and_fa3_travel_at_the_locked_versions():
    """The two the 2026-12-03 measurements found missing: DeepGEMM (block-FP8 GEMMs) in the bundle, and FA3
    (sglang-kernel's flash_ops, SGLang's Hopper attention default) in parts of its own, from the same wheel."""
    packages = locked()
    assert bundled()["sgl-deep-gemm"] == packages["sgl-deep-gemm"]["version"]
    fa3 = (ROOT / "scripts/gpu/build_fa3.sh").read_text()
    assert f"KERNEL=sglang-kernel=={packages['sglang-kernel']['version']}\n" in fa3
    slimming = (ROOT / "scripts/gpu/build_bundle.sh").read_text()
    assert "flash_ops" in slimming and "build_fa3.sh" in slimming  # removed there only because it travels apart
