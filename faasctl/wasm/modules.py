"""Raw modules as faasctl sees them: binary or text on the way in, a typed shape on the way out.

``module_bytes`` turns an artifact into WebAssembly binary (``.wat`` text through ``wasmtime.wat2wasm``,
with syntax errors reported as ``file:line:column``); ``compiled_module`` goes through the shared
compile cache, so a ``.wat`` is only translated and compiled on a cache miss; ``shape_of`` lists the
imports and exports with their types, which is all ABI detection and ``inspect`` need.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import wasmtime

from faasctl.errors import ArtifactError
from faasctl.invocation import Artifact
from faasctl.wasm.host import WasmHost

WASM_MAGIC = b"\0asm"
_WAT_LOCATION = re.compile(r"--> <anon>:(\d+):(\d+)")


def is_text(source: bytes, ending: str) -> bool:
    """WebAssembly text: a ``.wat`` file, or anything that does not start with the binary magic
    but reads like an s-expression (a ``.wasm`` that is really text still runs)."""
    if source.startswith(WASM_MAGIC):
        return False
    if ending == ".wat":
        return True
    head = source.lstrip()[:2]
    return head.startswith(b"(") or head == b";;"


def module_bytes(artifact: Artifact) -> bytes:
    """The binary module of an artifact. Raises ``ArtifactError`` for a file that is neither wasm
    binary nor valid text; text errors name the line and column."""
    source = artifact.source
    if not is_text(source, artifact.ending):
        if not source.startswith(WASM_MAGIC):
            shown = "empty file" if not source else f"starts with {source[:4]!r}"
            raise ArtifactError(f"{artifact.name} is not a WebAssembly module ({shown}, not the \\0asm magic bytes)")
        return source
    try:
        text = source.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ArtifactError(f"{artifact.name} is not UTF-8 WebAssembly text (byte offset {exc.start})") from None
    try:
        return bytes(wasmtime.wat2wasm(text))
    except wasmtime.WasmtimeError as exc:
        raise ArtifactError(wat_error(artifact.name, str(exc)), detail=str(exc)) from None


def wat_error(name: str, message: str) -> str:
    """``name:line:column: message`` from wat2wasm's report (which names the file ``<anon>``)."""
    lines = [line for line in message.splitlines() if line.strip()]
    first = lines[0].strip() if lines else "syntax error"
    match = _WAT_LOCATION.search(message)
    where = f"{name}:{match.group(1)}:{match.group(2)}" if match else name
    return f"{where}: WebAssembly text syntax error: {first}"


def compiled_module(host: WasmHost, artifact: Artifact, metered: bool = False) -> tuple[wasmtime.Module, float | None]:
    """The compiled module, from memory, the disk cache or a compile (keyed by the artifact's digest;
    ``metered`` for runs with a fuel limit)."""
    return host.module(artifact.digest, lambda: module_bytes(artifact), artifact.name, metered)


@dataclass(frozen=True)
class Extern:
    """One import or export: where it lives, its kind and its type in a readable form."""

    module: str  # "" for exports
    name: str
    kind: str  # func, memory, global, table
    params: tuple[str, ...] = ()
    results: tuple[str, ...] = ()
    text: str = ""  # "(i32, i32) -> i32", "i32 (const)", "pages 1..16"
    memory: tuple[int, int | None] | None = None  # (min pages, max pages)

    @property
    def qualified(self) -> str:
        return f"{self.module}.{self.name}" if self.module else self.name


@dataclass(frozen=True)
class Shape:
    imports: tuple[Extern, ...]
    exports: tuple[Extern, ...]

    def export(self, name: str) -> Extern | None:
        return next((e for e in self.exports if e.name == name), None)

    def functions(self) -> list[Extern]:
        return [e for e in self.exports if e.kind == "func"]


def shape_of(module: wasmtime.Module) -> Shape:
    imports = tuple(_extern(i.module, i.name or "", i.type) for i in module.imports)
    exports = tuple(_extern("", e.name, e.type) for e in module.exports)
    return Shape(imports, exports)


def signature(params: tuple[str, ...], results: tuple[str, ...]) -> str:
    result = results[0] if len(results) == 1 else f"({', '.join(results)})"
    return f"({', '.join(params)}) -> {result}"


def _extern(module: str, name: str, ty: object) -> Extern:
    if isinstance(ty, wasmtime.FuncType):
        params = tuple(str(p) for p in ty.params)
        results = tuple(str(r) for r in ty.results)
        return Extern(module, name, "func", params, results, signature(params, results))
    if isinstance(ty, wasmtime.MemoryType):
        low, high = ty.limits.min, ty.limits.max
        text = f"pages {low}..{high if high is not None else 'unbounded'}" + (" (64-bit)" if ty.is_64 else "")
        return Extern(module, name, "memory", text=text, memory=(low, high))
    if isinstance(ty, wasmtime.GlobalType):
        return Extern(module, name, "global", text=f"{ty.content}{' (mut)' if ty.mutable else ' (const)'}")
    if isinstance(ty, wasmtime.TableType):
        return Extern(module, name, "table", text=f"{ty.element} {ty.limits.min}..{ty.limits.max}")
    return Extern(module, name, type(ty).__name__.lower())


def defined_memories(wasm: bytes) -> list[tuple[int, int | None]]:
    """(min, max) pages of the memories a binary defines itself (section 5), exported or not;
    imported memories are in the import list instead. Malformed input gives what could be read."""
    memories: list[tuple[int, int | None]] = []
    pos = 8
    try:
        while pos < len(wasm):
            section = wasm[pos]
            size, pos = _leb(wasm, pos + 1)
            if section == 5:
                count, cursor = _leb(wasm, pos)
                for _ in range(count):
                    flags = wasm[cursor]
                    low, cursor = _leb(wasm, cursor + 1)
                    high = None
                    if flags & 1:
                        high, cursor = _leb(wasm, cursor)
                    if flags & 8:  # custom page size (proposal): skip its exponent
                        _, cursor = _leb(wasm, cursor)
                    memories.append((low, high))
                return memories
            pos += size
    except IndexError:
        pass
    return memories


def _leb(data: bytes, pos: int) -> tuple[int, int]:
    result = shift = 0
    while True:
        byte = data[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        shift += 7
        if not byte & 0x80:
            return result, pos
