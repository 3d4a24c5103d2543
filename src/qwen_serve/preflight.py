"""Checks made before anything is launched: cheap facts that would otherwise fail minutes later."""

from __future__ import annotations

import errno
import os
import socket
from pathlib import Path

from .errors import QwenServeError
from .resolve import LaunchSettings
from .sglang.capabilities import installed_sglang_version


def host_problem(host: str) -> str | None:
    """Why `host` is not an address this machine can listen on, or None."""
    try:
        infos = socket.getaddrinfo(host, None, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        return f"not a name or address this machine resolves ({getattr(exc, 'strerror', None) or exc})"
    for family, _, _, _, address in infos:
        with socket.socket(family, socket.SOCK_STREAM) as sock:
            try:
                sock.bind((address[0], 0))
                return None
            except OSError as exc:
                if exc.errno != errno.EADDRNOTAVAIL:
                    return None  # bindable in principle; the port check says more
    return "not an address of this machine"


def port_problem(host: str, port: int) -> str | None:
    """Why `host:port` cannot be bound now, or None. Binds and releases at once."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        # as uvicorn does: connections of a server that just stopped (TIME_WAIT) don't block it
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                return "already in use"
            return exc.strerror or str(exc)
    return None


def looks_local(model_path: str) -> bool:
    """A filesystem path rather than a hub id like 'Qwen/Qwen3-14B'."""
    return (
        model_path.startswith(("/", ".", "~")) or model_path.count("/") != 1 or Path(model_path).expanduser().exists()
    )


def hf_cache_dir() -> Path:
    """Where huggingface_hub keeps downloads (HF_HUB_CACHE, else HF_HOME/hub, else ~/.cache)."""
    if os.environ.get("HF_HUB_CACHE"):
        return Path(os.environ["HF_HUB_CACHE"])
    home = os.environ.get("HF_HOME") or Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "huggingface"
    return Path(home) / "hub"


def offline() -> bool:
    return os.environ.get("HF_HUB_OFFLINE", "").lower() in ("1", "true", "yes", "on")


def check_model_path(launch: LaunchSettings) -> None:
    setting = launch.get("model_path")
    path = Path(setting.value).expanduser()
    if not looks_local(setting.value):
        # a hub id: SGLang downloads it, unless HF_HUB_OFFLINE forbids that: then it must be cached
        cached = hf_cache_dir() / ("models--" + setting.value.replace("/", "--")) / "snapshots"
        if offline() and not any(cached.glob("*/config.json")):
            raise QwenServeError(
                f"model_path: '{setting.value}' ({setting.origin}) is not in the Hugging Face cache "
                f"({hf_cache_dir()}) and HF_HUB_OFFLINE=1 forbids downloading it",
                allowed="a local model directory, or a hub id already in the cache",
                fix="download it where there is network (huggingface-cli download "
                f"{setting.value}), or pass --model-path with a local directory",
            )
        return
    if not path.exists():
        raise QwenServeError(
            f"model_path: '{setting.value}' ({setting.origin}) does not exist",
            allowed="a local model directory holding config.json, or a hub id like Qwen/Qwen3-14B",
            fix="pass --model-path with the directory you downloaded the model to",
        )
    if not (path / "config.json").is_file():
        raise QwenServeError(
            f"model_path: '{setting.value}' ({setting.origin}) has no config.json",
            allowed="a model directory (config.json, tokenizer, *.safetensors)",
            fix="point --model-path at the folder that holds config.json",
        )


def check_port(launch: LaunchSettings) -> None:
    host, port = launch.get("host"), launch.get("port")
    wrong_host = host_problem(host.value)
    if wrong_host:
        raise QwenServeError(
            f"host: '{host.value}' ({host.origin}) is {wrong_host}",
            allowed="0.0.0.0 (every interface), 127.0.0.1, ::, or an address of one of this machine's interfaces",
            fix="pass --host 127.0.0.1 (this machine only) or --host 0.0.0.0",
        )
    check_port_free(host.value, port.value, f"port: {port.value} ({port.origin})", named=True)


def check_port_free(host: str, port: int, what: str, named: bool = False) -> None:
    """One line, exit 2, when `host:port` cannot be bound now. `what` names the setting (with `named`,
    it already holds the value)."""
    problem = port_problem(host, port)
    if problem:
        raise QwenServeError(
            f"{what if named else f'{what} {port}'} on host {host} is {problem}",
            allowed="a free TCP port, 1-65535",
            fix=f"pass --port {port + 1} (or stop whatever listens on {port})"
            if named
            else f"choose another port (or stop whatever listens on {port})",
        )


def check_sglang_installed() -> None:
    if installed_sglang_version() is None:
        raise QwenServeError(
            "sglang is not installed in this Python environment, so nothing can be launched",
            fix="run `uv sync` in the qwen-serve checkout, or `pip install 'qwen-serve[sglang]'` "
            "(--dry-run works without it)",
        )


def check_humming_installed(launch: LaunchSettings) -> None:
    """`--quantization humming` imports `humming` (package humming-kernels) only in the scheduler, after
    SGLang's minute-long start: say it now."""
    import importlib.util

    quantization = launch.get("quantization")
    if quantization.value == "humming" and importlib.util.find_spec("humming") is None:
        raise QwenServeError(
            f"quantization: 'humming' ({quantization.origin}) needs the package humming-kernels, which is not "
            "installed in this Python environment",
            allowed="humming-kernels 0.1.10 (what sglang 0.5.17 pins; `uv sync` installs it)",
            fix="run `uv sync`, or `pip install 'humming-kernels[cu13]==0.1.10'`; or pick a preset without quantization humming (`qwen-serve plan` lists each preset's)",
        )


def preflight(launch: LaunchSettings) -> None:
    check_sglang_installed()
    check_humming_installed(launch)
    check_model_path(launch)
    check_port(launch)
