"""GPU facts without torch: NVML for the GPUs in this machine, a data table for `--gpu SPEC`."""

from __future__ import annotations

import os
import re
import sys
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from pathlib import Path

import yaml

from .errors import QwenServeError, did_you_mean

MAX_GPU_MIB = 16 * 2**20  # 16 TiB: a bound for a described GPU (a number of hundreds of digits is no card)


@dataclass(frozen=True)
class GPU:
    name: str
    memory_mib: int  # total, as nvidia-smi reports it
    compute_capability: tuple[int, int]
    bandwidth_gbs: float | None = None
    free_mib: int | None = None  # only for a detected GPU

    @property
    def memory_gib(self) -> float:
        return self.memory_mib / 1024

    @property
    def fp8(self) -> bool:
        return self.compute_capability >= (8, 9)

    @property
    def sm(self) -> str:
        return f"sm{self.compute_capability[0]}{self.compute_capability[1]}"


@dataclass(frozen=True)
class Hardware:
    gpus: tuple[GPU, ...]
    source: str  # "nvml" or "--gpu …"
    driver: str | None = None
    cuda: str | None = None

    @property
    def count(self) -> int:
        return len(self.gpus)

    @property
    def detected(self) -> bool:
        """Read from this machine's NVML (not described by --gpu)."""
        return self.source.startswith("nvml")

    @property
    def gpu(self) -> GPU:
        return self.gpus[0]

    def describe(self) -> str:
        g = self.gpu
        n = f"{self.count} x " if self.count > 1 else ""
        return f"{n}{g.name} ({g.memory_gib:.1f} GiB, {g.sm}) [{self.source}]"


@lru_cache(maxsize=1)
def known_gpus() -> dict[str, dict]:
    text = (resources.files("qwen_serve") / "data" / "gpus.yaml").read_text(encoding="utf-8")
    return yaml.safe_load(text)["gpus"]


def _cc(text: str) -> tuple[int, int]:
    major, minor = str(text).split(".")
    return int(major), int(minor)


def parse_gpu_spec(spec: str) -> Hardware:
    """'RTX 4090', 'H100x2', 'A100-80GB x4', '24GiB,sm89', '48GB,sm90x2'."""
    text = spec.strip()
    count = 1
    m = re.search(r"(?:(?<=\d)|(?<=B)|\s)[x×*]\s*(\d{1,2})$", text, re.IGNORECASE)
    if m:
        count, text = int(m.group(1)), text[: m.start()].strip()
        if count < 1:
            raise QwenServeError(
                f"--gpu: {spec!r} asks for {count} GPUs",
                allowed="a count of 1 to 99 after x",
                fix=f"write e.g. --gpu {text}x2, or --gpu {text} for one",
            )
    custom = re.fullmatch(r"(\d+(?:\.\d+)?)\s*(GiB|GB|G)\s*,\s*sm_?(\d)(\d)", text, re.IGNORECASE)
    if custom:
        size, unit, major, minor = custom.groups()
        mib = float(size) * 1024 if unit.lower() in ("gib", "g") else float(size) * 1e9 / 2**20
        if not 1024 <= mib <= MAX_GPU_MIB:
            shown = size if len(size) <= 12 else f"{size[:6]}…({len(size)} digits)"
            raise QwenServeError(
                f"--gpu: a GPU of {shown} {unit}",
                allowed="1 GiB to 16 TiB of memory, e.g. 24GiB,sm89",
                fix="give the card's memory, e.g. --gpu 24GiB,sm89",
            )
        gpu = GPU(f"{size} {unit}, sm{major}{minor}", int(mib), (int(major), int(minor)))
        return Hardware((gpu,) * count, f"--gpu {spec}")
    wanted = _norm(text)
    for key, entry in known_gpus().items():
        names = [key, entry["name"], *entry.get("aliases", [])]
        if wanted in {_norm(n) for n in names}:
            gpu = GPU(entry["name"], entry["memory_mib"], _cc(entry["compute_capability"]), entry.get("bandwidth_gbs"))
            return Hardware((gpu,) * count, f"--gpu {spec}")
    names = [e["name"] for e in known_gpus().values()]
    hint = did_you_mean(text, names)
    raise QwenServeError(
        f"--gpu: unknown GPU {spec!r}" + (f" — {hint}" if hint else ""),
        allowed=", ".join(names) + ", or MEMORY,smXY such as 24GiB,sm89 (append x2 for two)",
        fix="pick a known name or describe the card, e.g. --gpu 24GiB,sm89",
    )


def _norm(name: str) -> str:
    return re.sub(r"[^a-z0-9]", "", name.lower().replace("nvidia", "").replace("geforce", ""))


def visible_indices(value: str | None, uuids: list[str]) -> list[int] | None:
    """The NVML indices CUDA will use under CUDA_VISIBLE_DEVICES=`value` (None: unset, or entries
    this cannot map, such as MIG ids — then every GPU counts). As CUDA does: entries are indices or
    (prefixes of) GPU UUIDs, the list ends at the first invalid one, "" hides every GPU. Indices are
    taken in NVML's (PCI) order, which is CUDA's when the GPUs are alike or CUDA_DEVICE_ORDER=PCI_BUS_ID."""
    if value is None:
        return None
    chosen: list[int] = []
    for entry in (e.strip() for e in value.split(",")):
        if entry.startswith("MIG-"):
            return None
        if entry.isdigit():
            index = int(entry)
        else:
            prefix = entry if entry.startswith("GPU-") else "GPU-" + entry
            matches = [i for i, u in enumerate(uuids) if entry and u.startswith(prefix)]
            index = matches[0] if len(matches) == 1 else -1
        if not 0 <= index < len(uuids) or index in chosen:
            break
        chosen.append(index)
    return chosen


def detect() -> Hardware | None:
    """The GPUs NVML sees that CUDA_VISIBLE_DEVICES leaves to SGLang, or None when there is no
    NVIDIA driver or no visible GPU (planning still works with --gpu)."""
    return detect_with_reason()[0]


def detect_with_reason() -> tuple[Hardware | None, str]:
    """detect(), and what NVML found, in words (for the line that refuses a launch without a GPU)."""
    if sys.platform.startswith("linux") and not (
        Path("/dev/nvidiactl").exists() or Path("/proc/driver/nvidia").exists()
    ):
        return None, "no NVIDIA driver (no /dev/nvidiactl, no /proc/driver/nvidia)"  # skips importing pynvml (60 ms)
    try:
        import pynvml
    except ImportError:
        return None, "no NVML bindings (the nvidia-ml-py package is missing)"
    try:
        pynvml.nvmlInit()
    except pynvml.NVMLError as exc:
        return None, f"NVML could not start: {exc}"
    try:
        handles = [pynvml.nvmlDeviceGetHandleByIndex(i) for i in range(pynvml.nvmlDeviceGetCount())]
        uuids = [u.decode() if isinstance(u, bytes) else u for u in map(pynvml.nvmlDeviceGetUUID, handles)]
        visible = visible_indices(os.environ.get("CUDA_VISIBLE_DEVICES"), uuids)
        source = "nvml" if visible is None else f"nvml, CUDA_VISIBLE_DEVICES={os.environ['CUDA_VISIBLE_DEVICES']}"
        gpus = []
        for i in range(len(handles)) if visible is None else visible:
            handle = handles[i]
            mem = pynvml.nvmlDeviceGetMemoryInfo(handle)
            name = pynvml.nvmlDeviceGetName(handle)
            name = name.decode() if isinstance(name, bytes) else name
            cc = pynvml.nvmlDeviceGetCudaComputeCapability(handle)
            gpus.append(GPU(name, mem.total // 2**20, (cc[0], cc[1]), free_mib=mem.free // 2**20))
        driver = pynvml.nvmlSystemGetDriverVersion()
        cuda = pynvml.nvmlSystemGetCudaDriverVersion()
        if not gpus:
            hidden = (
                f", all hidden by CUDA_VISIBLE_DEVICES={os.environ.get('CUDA_VISIBLE_DEVICES')!r}" if handles else ""
            )
            return None, f"NVML lists {len(handles)} GPUs{hidden}"
        return Hardware(
            tuple(gpus),
            source,
            driver.decode() if isinstance(driver, bytes) else driver,
            f"{cuda // 1000}.{cuda % 1000 // 10}",
        ), f"{len(gpus)} GPUs"
    finally:
        pynvml.nvmlShutdown()
