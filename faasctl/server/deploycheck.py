"""What a deploy checks before it stores a function, so a broken one is refused once (422/400) instead of
failing every invoke: wasm modules compile and can be called with the options given, Lua actions compile
(as lua-experiments compiled each action at create), run options are known and meant for the runtime."""

from __future__ import annotations

from typing import Any

from faasctl.errors import ArtifactError, UsageError
from faasctl.runtimes.base import Artifact

RUN_OPTION_VALUES: dict[str, tuple[str, ...] | None] = {
    "abi": ("wasi", "string", "core"),
    "invoke": None,  # any export name, checked against the module
    "wasi_args": ("json",),
}


def run_options(options: dict[str, Any]) -> dict[str, str]:
    """The deploy's ``options``: known keys, string values, values from their sets. Raises ``UsageError``."""
    if not isinstance(options, dict):
        raise UsageError("options must be an object like {\"abi\": \"string\"}")
    checked: dict[str, str] = {}
    for key, value in options.items():
        if key not in RUN_OPTION_VALUES:
            raise UsageError(f"unknown option {key!r}", hint="known options: " + ", ".join(RUN_OPTION_VALUES))
        if value is None:
            continue
        allowed = RUN_OPTION_VALUES[key]
        if not isinstance(value, str) or (allowed is not None and value not in allowed):
            shown = f"one of {', '.join(allowed)}" if allowed else "a string"
            raise UsageError(f"invalid option {key}={value!r}: use {shown}")
        if key == "invoke" and not value:
            raise UsageError("invalid option invoke='': name an exported function")
        checked[key] = value
    return checked


def wasm_abi(engine: Any, artifact: Artifact, options: dict[str, str]) -> str:
    """Compile the module and plan its call as a run would; the ABI it will be called with."""
    from faasctl.runtimes.wasm import function_name
    from faasctl.wasm import abi as abis
    from faasctl.wasm.modules import compiled_module, shape_of

    module, _ = compiled_module(engine.wasm_host(), artifact)
    plan = abis.plan_call(shape_of(module), function_name(artifact), invoke=options.get("invoke"),
                          abi=options.get("abi"))
    return plan.abi


def lua_compile_error(source: bytes, name: str) -> str | None:
    """Lua's own message when the action does not compile (``hello.lua:3: 'end' expected ...``), else None.
    Compiling runs nothing; the state has no libraries and is closed at once."""
    import lupa.lua54 as lupa

    source = source.removeprefix(b"\xef\xbb\xbf")
    if source.startswith(b"#"):  # a shebang line, skipped as the runtime does
        source = source[source.find(b"\n"):] if b"\n" in source else b""
    if source.startswith(b"\x1bLua"):
        return f"{name}: binary chunks are not accepted"
    runtime = lupa.LuaRuntime(register_eval=False, register_builtins=False, unpack_returned_tuples=True)
    loader = runtime.eval("load")
    outcome = loader(source, "=" + name, "t")
    chunk, message = outcome if isinstance(outcome, tuple) else (outcome, None)
    if chunk is None:
        return message.decode("utf-8", "replace") if isinstance(message, bytes) else str(message)
    return None


def check_lua(source: bytes, name: str) -> None:
    problem = lua_compile_error(source, name)
    if problem is not None:
        raise ArtifactError(f"the action does not compile: {problem}")
