"""SGLang 0.5.17: the release the lock pins; everything in docs/presets.md and plan.py was measured on it."""

from .. import Release
from .memory import MEMORY

RELEASE = Release(
    version="0.5.17",
    measured=True,
    torchao_config=True,
    torchao_needs_entry_fix=True,  # it calls torchao functions that torchao 0.17 (its own pin) removed
    router_requirement="sglang-router==0.3.2",  # the lock's (the `router` extra)
    router_module="sglang_router",
    memory=MEMORY,
)
