"""How a raw module is called: ABI detection, and the entry functions that call it in a sandbox.

Three conventions (spec section 3):

- ``wasi``: a WASI command. ``_start`` (or ``--invoke NAME``, a function without parameters) runs
  with the input on stdin; stdout is the output and the exit code counts.
- ``string``: the openEuler WasmEngine convention. ``NAME(ptr: i32, len: i32) -> (ptr: i32, len: i32)``
  with the exports ``memory`` and ``__heap_base``: the input is written at ``__heap_base`` (memory
  grown to fit) and the returned span is the output.
- ``core``: a numeric export called with numbers; its results are the output (one result as a JSON
  number, several as a JSON array).

Detection, unless ``--abi`` forces one: ``--invoke NAME`` picks that export, a string-shaped one
(``(i32, i32) -> (i32, i32)`` in a module exporting ``memory`` or ``__heap_base``) means ``string``,
any other ``core``, and a parameterless one in a module importing WASI means ``wasi``. Without
``--invoke``: ``_start`` means ``wasi``; else a string-shaped export named after the file or the
only string-shaped export means ``string``; else the only exported function is called as ``core``.
"""

from __future__ import annotations

import json
import math
import struct
from collections.abc import Callable
from dataclasses import dataclass

import wasmtime

from faasctl.errors import ArtifactError, UsageError
from faasctl.result import RunError
from faasctl.wasm import plugin_imports
from faasctl.wasm.modules import Shape, signature
from faasctl.wasm.sandbox import PAGE, WASI, Sandbox

WASI_MODULE = WASI


def import_providers(shape: Shape, abi: str | None, linker: wasmtime.Linker, store: wasmtime.Store) -> dict[str, str]:
    """Which of the module's imports faasctl satisfies, by qualified name: ``faasctl`` (plugin imports)
    or ``wasi`` (what ``linker`` defines; string-ABI modules get no WASI, as in WasmEngine). The run
    refuses a module with any import missing here; ``faasctl inspect`` shows the same answer."""
    provided = {}
    for item in shape.imports:
        if item.module == plugin_imports.MODULE:
            if item.kind == "func" and item.name in plugin_imports.NAMES:
                provided[item.qualified] = "faasctl"
        elif item.module == WASI and abi != "string":
            try:
                if linker.get(store, item.module, item.name) is not None:
                    provided[item.qualified] = "wasi"
            except wasmtime.WasmtimeError:
                pass
    return provided
ABIS = ("wasi", "string", "core")
STRING_PARAMS = ("i32", "i32")
NUMERIC = ("i32", "i64", "f32", "f64")

Entry = Callable[[Sandbox, wasmtime.Instance], "int | None"]


@dataclass(frozen=True)
class Plan:
    """The chosen ABI, the export to call and why (``inspect`` shows the reason)."""

    abi: str
    entry: str
    reason: str
    params: tuple[str, ...] = ()
    results: tuple[str, ...] = ()


def is_string_shaped(params: tuple[str, ...], results: tuple[str, ...]) -> bool:
    return params == STRING_PARAMS and results == STRING_PARAMS


def plan_call(shape: Shape, name: str, *, invoke: str | None = None, abi: str | None = None) -> Plan:
    """Decide how to call the module. ``name`` is the function's name (the file stem).

    Raises ``ArtifactError`` when the module cannot be called as asked (missing exports, wrong
    signature) and ``UsageError`` when the choice needs ``--invoke``.
    """
    if abi is not None and abi not in ABIS:
        raise UsageError(f"unknown ABI {abi!r}", hint="use wasi, string or core")
    if invoke is not None:
        export = shape.export(invoke)
        if export is None or export.kind != "func":
            names = ", ".join(f.name for f in shape.functions()) or "none"
            what = "no export" if export is None else f"a {export.kind}, not a function,"
            raise UsageError(f"{invoke!r} is {what} in this module", hint=f"exported functions: {names}")
    if abi == "wasi" or (abi is None and invoke is None and shape.export("_start")):
        return _wasi_plan(shape, invoke or "_start", "forced by --abi" if abi else "exports _start")
    if abi == "string":
        return _string_plan(shape, invoke or _string_entry_name(shape, name), "forced by --abi")
    if abi == "core":
        return _core_plan(shape, invoke, "forced by --abi")
    if invoke is not None:
        export = shape.export(invoke)
        assert export is not None
        if is_string_shaped(export.params, export.results) and (shape.export("memory") or shape.export("__heap_base")):
            return _string_plan(shape, invoke, f"{invoke} has the string signature (i32, i32) -> (i32, i32)")
        if not export.params and not export.results and _imports_wasi(shape):
            return _wasi_plan(shape, invoke, f"{invoke} takes no arguments and the module imports WASI")
        return _core_plan(shape, invoke, f"--invoke {invoke}")
    entry = _string_entry_name(shape, name)
    if entry:
        return _string_plan(shape, entry, f"{entry} has the string signature (i32, i32) -> (i32, i32)")
    functions = shape.functions()
    if len(functions) == 1:
        return _core_plan(shape, functions[0].name, "the only exported function")
    names = ", ".join(f.name for f in functions) or "none"
    raise UsageError(f"cannot tell which function to call: the module exports no _start and "
                     f"{len(functions)} functions",
                     hint=f"pass --invoke NAME; exported functions: {names}")


def _imports_wasi(shape: Shape) -> bool:
    return any(i.module == WASI_MODULE for i in shape.imports)


def _string_entry_name(shape: Shape, name: str) -> str:
    """The string-ABI function: the export named after the file, else the only string-shaped one."""
    shaped = [f for f in shape.functions() if is_string_shaped(f.params, f.results)]
    if not (shape.export("memory") or shape.export("__heap_base")):
        return ""
    named = [f for f in shaped if f.name == name]
    if named:
        return named[0].name
    return shaped[0].name if len(shaped) == 1 else ""


def _wasi_plan(shape: Shape, entry: str, reason: str) -> Plan:
    export = shape.export(entry)
    if export is None or export.kind != "func":
        raise ArtifactError(f"the module has no {entry} function; a WASI command exports _start",
                            hint="pass --invoke NAME or --abi string|core")
    if export.params or export.results:
        raise ArtifactError(f"{entry} has type {export.text}; a WASI entry takes no arguments and returns nothing")
    return Plan("wasi", entry, reason)


def _string_plan(shape: Shape, entry: str, reason: str) -> Plan:
    missing = [n for n in ("memory", "__heap_base") if shape.export(n) is None]
    if not entry:
        missing.append("a function NAME(i32, i32) -> (i32, i32)")
    if missing:
        raise ArtifactError(f"the module does not follow the string ABI: missing export {', '.join(missing)}",
                            hint="the string ABI needs exports memory, __heap_base and NAME(i32 ptr, i32 len) "
                                 "-> (i32 ptr, i32 len)")
    memory, heap_base, export = shape.export("memory"), shape.export("__heap_base"), shape.export(entry)
    assert memory is not None and heap_base is not None
    problems = []
    if memory.kind != "memory":
        problems.append(f"memory is a {memory.kind}, not a memory")
    if heap_base.kind != "global" or not heap_base.text.startswith("i32"):
        problems.append(f"__heap_base is {heap_base.kind} {heap_base.text}, not an i32 global")
    if export is None or export.kind != "func":
        problems.append(f"{entry} is not an exported function")
    elif not is_string_shaped(export.params, export.results):
        problems.append(f"{entry} has type {export.text}, not (i32, i32) -> (i32, i32)")
    if problems:
        raise ArtifactError("the module does not follow the string ABI: " + "; ".join(problems))
    return Plan("string", entry, reason, STRING_PARAMS, STRING_PARAMS)


def _core_plan(shape: Shape, entry: str | None, reason: str) -> Plan:
    if entry is None:
        functions = shape.functions()
        if len(functions) != 1:
            names = ", ".join(f.name for f in functions) or "none"
            raise UsageError("--abi core needs --invoke NAME", hint=f"exported functions: {names}")
        entry = functions[0].name
    export = shape.export(entry)
    assert export is not None
    odd = [t for t in (*export.params, *export.results) if t not in NUMERIC]
    if odd:
        raise ArtifactError(f"{entry} has type {export.text}; numeric calls take and return only i32, i64, f32, f64")
    return Plan("core", entry, reason, export.params, export.results)


# -- numeric arguments and results ---------------------------------------------------------------


def convert_args(plan: Plan, raw: list[object]) -> list[int | float]:
    """Arguments as the function's parameter types; raises ``UsageError`` naming the bad one."""
    if len(raw) != len(plan.params):
        sig = signature(plan.params, plan.results)
        raise UsageError(f"{plan.entry} takes {len(plan.params)} argument{'s' * (len(plan.params) != 1)} {sig}, "
                         f"got {len(raw)}", hint=f"for example: --invoke {plan.entry} "
                         + " ".join("1" for _ in plan.params))
    pairs = enumerate(zip(raw, plan.params, strict=True))
    return [_convert(value, kind, i + 1, plan.entry) for i, (value, kind) in pairs]


def _convert(value: object, kind: str, index: int, entry: str) -> int | float:
    bad = UsageError(f"argument {index} of {entry} must be {'an integer' if kind[0] == 'i' else 'a number'} "
                     f"({kind}), got {value!r}")
    if kind in ("f32", "f64"):
        if isinstance(value, bool):
            raise bad
        try:
            return float(value)  # type: ignore[arg-type]
        except (TypeError, ValueError):
            raise bad from None
    if isinstance(value, bool) or isinstance(value, float) and not value.is_integer():
        raise bad
    try:
        number = int(value, 0) if isinstance(value, str) else int(value)  # type: ignore[call-overload]
    except (TypeError, ValueError):
        raise bad from None
    bits = 32 if kind == "i32" else 64
    if not -(1 << (bits - 1)) <= number < (1 << bits):
        raise UsageError(f"argument {index} of {entry} does not fit in {kind}: {number}")
    return number - (1 << bits) if number >= 1 << (bits - 1) else number  # unsigned spelling wraps


def format_results(values: list[int | float], kinds: tuple[str, ...]) -> bytes:
    """One result as a JSON number, several as a JSON array; f32 in its shortest exact form."""
    texts = [_number_text(v, k) for v, k in zip(values, kinds, strict=True)]
    if not texts:
        return b""
    text = texts[0] if len(texts) == 1 else "[" + ",".join(texts) + "]"
    return text.encode()


def _number_text(value: int | float, kind: str) -> str:
    if kind in ("i32", "i64"):
        return str(int(value))
    value = float(value)
    if not math.isfinite(value):
        return json.dumps(value)  # NaN / Infinity: not JSON, so the output parser keeps it as text
    if kind == "f32":
        packed = struct.pack("<f", value)
        for digits in range(1, 10):
            text = f"{value:.{digits}g}"
            if struct.pack("<f", float(text)) == packed:
                return repr(float(text))
    return repr(value)


# -- entries ---------------------------------------------------------------------------------------


def wasi_entry(plan: Plan) -> Entry:
    def run(sandbox: Sandbox, instance: wasmtime.Instance) -> int | None:
        func = instance.exports(sandbox.store)[plan.entry]
        assert isinstance(func, wasmtime.Func)
        func(sandbox.store)
        return 0

    return run


def core_entry(plan: Plan, args: list[int | float]) -> Entry:
    def run(sandbox: Sandbox, instance: wasmtime.Instance) -> int | None:
        func = instance.exports(sandbox.store)[plan.entry]
        assert isinstance(func, wasmtime.Func)
        value = func(sandbox.store, *args)
        values = [] if value is None else list(value) if isinstance(value, list | tuple) else [value]
        _emit(sandbox, format_results(values, plan.results))
        return 0

    return run


def string_entry(plan: Plan, data: bytes, failure: dict[str, RunError]) -> Entry:
    """Write ``data`` at ``__heap_base`` (growing memory to fit), call, and read the returned span.

    Failures that are not traps (memory for the input refused, a bad span) are put in ``failure``
    and end the run without output; the adapter reports them.
    """

    def run(sandbox: Sandbox, instance: wasmtime.Instance) -> int | None:
        store = sandbox.store
        exports = instance.exports(store)
        memory, heap_base, func = exports["memory"], exports["__heap_base"], exports[plan.entry]
        assert isinstance(memory, wasmtime.Memory) and isinstance(heap_base, wasmtime.Global)
        assert isinstance(func, wasmtime.Func)
        base = int(heap_base.value(store)) & 0xFFFFFFFF  # type: ignore[arg-type]
        needed = base + len(data)
        size = memory.data_len(store)
        if needed > size:
            pages = -(-(needed - size) // PAGE)
            try:
                grown = memory.grow(store, pages)
            except wasmtime.WasmtimeError:
                grown = -1
            if grown < 0:
                failure["error"] = RunError(
                    "MemoryLimit", f"the input ({len(data)} bytes at __heap_base {base}) does not fit: memory "
                    f"cannot grow by {pages} pages past the limit or the module's maximum")
                return 0
        if data:
            memory.write(store, data, base)
        ptr, length = (int(v) & 0xFFFFFFFF for v in func(store, base, len(data)))  # type: ignore[union-attr]
        size = memory.data_len(store)
        if ptr + length > size:
            failure["error"] = RunError(
                "FunctionError", f"{plan.entry} returned the span ptr={ptr} len={length}, outside its memory "
                f"of {size} bytes")
            return 0
        room = sandbox.limits.max_output - len(sandbox.stdout)
        if length > room:
            sandbox.stdout.extend(memory.read(store, ptr, ptr + max(room, 0)))
            sandbox.stop_reason = "output"
            return 0
        sandbox.stdout.extend(memory.read(store, ptr, ptr + length))
        return 0

    return run


def with_initialize(entry: Entry) -> Entry:
    """A WASI reactor (exports ``_initialize``) must be initialized before any other export is called."""

    def run(sandbox: Sandbox, instance: wasmtime.Instance) -> int | None:
        initialize = instance.exports(sandbox.store)["_initialize"]
        assert isinstance(initialize, wasmtime.Func)
        initialize(sandbox.store)
        return entry(sandbox, instance)

    return run


def _emit(sandbox: Sandbox, data: bytes) -> None:
    room = sandbox.limits.max_output - len(sandbox.stdout)
    sandbox.stdout.extend(data[: max(room, 0)])
    if len(data) > room:
        sandbox.stop_reason = "output"
