"""``faasctl inspect``: what a module imports and exports, how it would be called, what it needs.

Pure data (a dict, the same for ``--format json`` and the table); the CLI renders it.
"""

from __future__ import annotations

from typing import Any

import wasmtime

from faasctl.errors import FaasError, UsageError
from faasctl.invocation import Artifact
from faasctl.limits import format_size
from faasctl.wasm import abi as abis
from faasctl.wasm import plugin_imports
from faasctl.wasm.host import WasmHost
from faasctl.wasm.modules import Extern, Shape, compiled_module, defined_memories, is_text, module_bytes, shape_of
from faasctl.wasm.sandbox import PAGE

# WASI function prefix or name -> (capability, the option that grants it or None when always there)
_CAPABILITIES: list[tuple[tuple[str, ...], str, str | None]] = [
    (("path_", "fd_readdir", "fd_prestat_"), "filesystem", "--dir HOST[:GUEST][:rw]"),
    (("environ_",), "environment variables", "--env KEY=VALUE"),
    (("args_",), "command-line arguments", "--arg / ARGS / --wasi-args json"),
    (("sock_",), "network sockets (never granted)", None),
    (("fd_read",), "standard input (the input JSON)", None),
    (("fd_write",), "standard output and error (output and logs)", None),
    (("clock_",), "clocks", None),
    (("random_get",), "random numbers", None),
    (("poll_oneoff", "sched_yield"), "sleeping (bounded by --timeout)", None),
    (("proc_exit",), "exit code", None),
]
_PLUGIN_CAPABILITIES = {"call": ("plugins (call, reply)", "plugins registered in faasctl.plugins"),
                        "reply": ("plugins (call, reply)", "plugins registered in faasctl.plugins"),
                        "log": ("log lines", None)}


def inspect_module(host: WasmHost, artifact: Artifact, *, invoke: str | None = None, abi: str | None = None,
                   memory_limit: int | None = None) -> dict[str, Any]:
    """The report for one module. Raises ``ArtifactError`` when it is not a valid module."""
    module, _ = compiled_module(host, artifact)
    shape = shape_of(module)
    stem = artifact.name.rsplit("/", 1)[-1].removesuffix(artifact.ending) if artifact.ending else artifact.name
    try:
        found = abis.plan_call(shape, stem, invoke=invoke, abi=abi)
        plan: abis.Plan | None = found
        detected: dict[str, str | None] = {"abi": found.abi, "entry": found.entry, "reason": found.reason}
    except FaasError as exc:
        plan = None
        detected = {"abi": None, "entry": None, "reason": exc.one_line()}
    provided = _provided(host, shape, plan.abi if plan else None)
    imports = [_row(item, provided.get(item.qualified)) for item in shape.imports]
    return {
        "name": artifact.name,
        "digest": f"sha256:{artifact.digest}",
        "size": len(artifact.source),
        "format": "wat" if is_text(artifact.source, artifact.ending) else "wasm",
        **detected,
        "imports": imports,
        "exports": [_row(item) for item in shape.exports],
        "unsatisfied": [row["qualified"] for row in imports if not row["provided_by"]],
        "memories": _memories(artifact, shape, memory_limit),
        "capabilities": _capabilities(shape),
    }


def _row(item: Extern, provided_by: str | None = None) -> dict[str, Any]:
    row: dict[str, Any] = {"name": item.name, "kind": item.kind, "type": item.text}
    if item.module:
        row = {"module": item.module, **row, "qualified": item.qualified, "provided_by": provided_by}
    return row


def _provided(host: WasmHost, shape: Shape, abi: str | None) -> dict[str, str]:
    """Which imports faasctl would satisfy, and with what (WASI is not given to string-ABI modules)."""
    linker = wasmtime.Linker(host.engine)
    linker.define_wasi()
    return abis.import_providers(shape, abi, linker, wasmtime.Store(host.engine))


def _memories(artifact: Artifact, shape: Shape, limit: int | None) -> list[dict[str, Any]]:
    exported = [e for e in shape.exports if e.kind == "memory"]
    imported = [i for i in shape.imports if i.kind == "memory"]
    rows: list[dict[str, Any]] = []
    for item in imported:
        rows.append(_memory_row(f"import {item.qualified}", item.memory or (0, None), limit))
    try:
        defined = defined_memories(module_bytes(artifact))
    except FaasError:
        defined = []
    for index, pages in enumerate(defined):
        name = exported[0].name if len(defined) == 1 and len(exported) == 1 and not imported else None
        rows.append(_memory_row(f"export {name}" if name else f"memory {index + len(imported)} (defined)",
                                pages, limit))
    return rows


def _memory_row(source: str, pages: tuple[int, int | None], limit: int | None) -> dict[str, Any]:
    low, high = pages
    row: dict[str, Any] = {"memory": source, "min_pages": low, "max_pages": high, "min_bytes": low * PAGE,
                           "max_bytes": None if high is None else high * PAGE}
    if limit is not None:
        row["fits_limit"] = low * PAGE <= limit
        row["limit"] = format_size(limit)
    return row


def _capabilities(shape: Shape) -> list[dict[str, Any]]:
    found: dict[str, dict[str, Any]] = {}
    for item in shape.imports:
        if item.module == abis.WASI_MODULE:
            match = next(((c, g) for prefixes, c, g in _CAPABILITIES if item.name.startswith(prefixes)), None)
            name, grant = match or (f"WASI {item.name}", None)
        elif item.module == plugin_imports.MODULE and item.name in _PLUGIN_CAPABILITIES:
            name, grant = _PLUGIN_CAPABILITIES[item.name]
        else:
            continue
        entry = found.setdefault(name, {"capability": name, "granted_by": grant, "imports": []})
        entry["imports"].append(item.qualified)
    return list(found.values())


def require_wasm(runtime_name: str, artifact: Artifact) -> None:
    if runtime_name != "wasm":
        raise UsageError(f"inspect reads WebAssembly modules; {artifact.name} is a {runtime_name} function",
                         hint="give a .wasm or .wat file, or an oci:// reference to a module")
