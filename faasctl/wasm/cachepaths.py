"""Names of compiled-module cache files, computable without importing wasmtime (for ``faasctl runtimes``).

A compiled module is only valid for the wasmtime version and engine configuration that produced it,
so both are part of its file name.
"""

from __future__ import annotations

import os
from functools import lru_cache
from importlib.util import find_spec
from pathlib import Path

# Bump when WasmHost changes its wasmtime.Config. Metered (fuel) and unmetered engines compile differently.
ENGINE_CONFIGS = {False: "epoch-v2", True: "epoch-fuel-v2"}


@lru_cache(maxsize=1)
def wasmtime_version() -> str:
    spec = find_spec("wasmtime")
    if spec and spec.origin:
        site = Path(spec.origin).parent.parent
        for entry in os.scandir(site):
            if entry.name.startswith("wasmtime-") and entry.name.endswith(".dist-info"):
                return entry.name[len("wasmtime-") : -len(".dist-info")]
    from importlib.metadata import version

    return version("wasmtime")


def fingerprint(metered: bool = False) -> str:
    return f"wasmtime-{wasmtime_version()}-{ENGINE_CONFIGS[metered]}"


def module_cache_path(cache_dir: Path, digest: str, metered: bool = False) -> Path:
    return cache_dir / "modules" / f"{digest}-{fingerprint(metered)}.cwasm"
