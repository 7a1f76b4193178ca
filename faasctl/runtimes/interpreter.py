"""One adapter for every interpreter compiled to WASI (QuickJS-NG, CPython): driven by its descriptor.

The descriptor says how to start the interpreter (``entry``: a WASI ``command`` or a QuickJS-style
``reactor``), its argv template, and the prelude that implements the guest API. The prelude and the
host speak one protocol: stdout is the output; each stderr line is a JSON string (one log entry) or a
JSON object ``{"faasctl": "error", ...}`` that says how the function failed; other lines are kept as
raw log lines (messages from the interpreter itself).
"""

from __future__ import annotations

import re
import secrets
import string
from pathlib import Path
from typing import Any

import wasmtime

from faasctl.files import read_json, write_json_atomic
from faasctl.limits import Limits
from faasctl.registry import RuntimeDescriptor
from faasctl.result import RunError
from faasctl.runtimes.base import Execution, Invocation, RuntimeContext
from faasctl.runtimes.guest_protocol import parse_guest_stderr, script_text
from faasctl.runtimes.guest_setup import precompiled_prelude, stdlib_dir
from faasctl.wasm.binaries import verified_binary
from faasctl.wasm.sandbox import Sandbox, SandboxOutcome, SandboxSpec, to_execution

SOURCE = "{source}"


class InterpreterRuntime:
    """Runs a script inside an interpreter compiled to WASI, one fresh instance per run."""

    def __init__(self, descriptor: RuntimeDescriptor, context: RuntimeContext) -> None:
        self.descriptor = descriptor
        self.context = context
        self._settings = descriptor.settings
        self._preludes: dict[str, list[str]] = {}
        self._compiled: dict[str, str] = {}
        self._environment: tuple[dict[str, str], list[tuple[str, str, bool]]] | None = None
        self._digest: str | None = None
        self._hidden: HiddenModules | None = None

    # -- module and prelude ------------------------------------------------------------------------

    def _module(self, metered: bool = False) -> tuple[wasmtime.Module, float | None]:
        host = self.context.wasm_host()
        if self._digest is None:
            path, digest = verified_binary(self.descriptor, self.context.cache_dir)
            self._path, self._digest = path, digest
        label = f"{self.descriptor.name} runtime ({self._path.name}{', fuel-metered' if metered else ''})"
        return host.module(self._digest, self._path.read_bytes, label, metered)

    def _guest_environment(self) -> tuple[dict[str, str], list[tuple[str, str, bool]]]:
        """Environment and read-only directories of every run (see ``guest_setup``), prepared once."""
        if self._environment is None:
            env = dict(self._settings.get("env") or {})
            dirs: list[tuple[str, str, bool]] = []
            stdlib = self._settings.get("stdlib")
            if stdlib:
                path = stdlib_dir(stdlib, self._setup_dir(), self._guest_runner())
                dirs.append((str(path), stdlib["mount"], False))
            self._environment = (env, dirs)
        return self._environment

    def _setup_dir(self) -> Path:
        assert self._digest is not None
        return self.context.cache_dir / "guests" / f"{self.descriptor.name}-{self._digest[:16]}"

    def _guest_runner(self):  # noqa: ANN202 - a GuestRunner closure
        def run(argv: list[str], env: dict[str, str], dirs: list[tuple[str, str, bool]], limits: Limits):
            module, _ = self._module(metered=limits.fuel is not None)
            sandbox = Sandbox(self.context.wasm_host(), limits, SandboxSpec(argv=argv, env=env, dirs=dirs))
            return sandbox.run(module, _command_entry, label=self.descriptor.name)

        return run

    def _prelude_argument(self, prelude: str, env: dict[str, str],
                          dirs: list[tuple[str, str, bool]]) -> tuple[str, str]:
        """``{prelude}`` and ``{prelude_code}``: the source itself, or a loader and its bytecode."""
        precompile = self._settings.get("precompile")
        if not precompile:
            return prelude, ""
        if prelude not in self._compiled:
            self._compiled[prelude] = precompiled_prelude(precompile, prelude, env, dirs, self._setup_dir(),
                                                          self._guest_runner())
        return precompile["load"], self._compiled[prelude]

    def _prelude_parts(self, key: str) -> list[str]:
        """The prelude files of ``key`` (read once); the item ``{source}`` marks where an inline
        source goes (module mode), kept as the marker itself."""
        if key not in self._preludes:
            names = self._settings.get(key) or []
            names = [names] if isinstance(names, str) else names
            self._preludes[key] = [n if n == SOURCE else self.descriptor.resource_text(n) for n in names]
        return self._preludes[key]

    def _prelude(self, key: str, source: str, renames: dict[str, str] | None = None) -> tuple[str, str]:
        """The prelude text, with ``source`` inlined where the descriptor says, and the span
        ``start:count`` of its lines (``0:0`` when it is not inline). ``renames``: this run's names of
        the hidden modules, put in place of their real names in the prelude's own text only."""
        parts = self._prelude_parts(key)
        for real, secret in (renames or {}).items():
            parts = [part if part == SOURCE else part.replace(real, secret) for part in parts]
        if SOURCE not in parts:
            return "\n".join(parts), "0:0"
        before = "\n".join(parts[: parts.index(SOURCE)])
        after = "\n".join(parts[parts.index(SOURCE) + 1 :])
        start = before.count("\n") + 2
        return f"{before}\n{source}\n{after}", f"{start}:{source.count(chr(10)) + 1}"

    # -- running -------------------------------------------------------------------------------------

    def execute(self, invocation: Invocation) -> Execution:
        artifact = invocation.artifact
        source = script_text(artifact)
        module, load_ms = self._module(metered=invocation.limits.fuel is not None)
        module_mode = artifact.ending in self._settings.get("module_endings", [])
        hidden = self._hidden_modules()
        renames = hidden.draw() if hidden is not None else {}
        prelude, span = self._prelude("module_prelude" if module_mode else "prelude", source, renames)
        env, dirs = self._guest_environment()
        prelude, prelude_code = self._prelude_argument(prelude, env, dirs)
        values = {
            "{prelude}": prelude,
            "{prelude_code}": prelude_code,
            SOURCE: "" if module_mode else source,
            "{input}": invocation.input.json_text,
            "{filename}": artifact.name,
            "{source_span}": span,
        }
        argv = [values.get(item, item) for item in self._settings["argv"]]
        entry = self._settings.get("entry", "command")
        spec = SandboxSpec(argv=argv if entry == "command" else [], env=env, dirs=dirs)
        sandbox = Sandbox(self.context.wasm_host(), invocation.limits, spec)
        runner = _reactor_entry(argv, hidden, renames) if entry == "reactor" else _command_entry
        outcome = sandbox.run(module, runner, label=self.descriptor.name)
        return self._execution(outcome, invocation, load_ms, span)

    def _execution(self, outcome: SandboxOutcome, invocation: Invocation, load_ms: float | None,
                   span: str = "0:0") -> Execution:
        logs, record = parse_guest_stderr(outcome.stderr)
        error = outcome.error
        if error is None and record is not None:
            # The record travels on the guest's own stderr, which guest code can write too: it may say
            # how the function failed, never that a limit or faasctl itself did (those the host decides).
            detail = record.get("detail")
            error = RunError("FunctionError", str(record.get("message") or ""),
                             detail if isinstance(detail, str) else None)
        elif error is None and outcome.exit_code:
            # No record: the interpreter itself failed (e.g. a syntax error in an inline module).
            raw = [_inline_location(line, span, invocation.artifact.name) for line in logs if line.strip()]
            if raw:
                error = RunError("FunctionError", raw[0], "\n".join(raw))
        return to_execution(outcome, invocation.limits, logs, error, load_ms, self._settings.get("oom_markers", ()))

    def _hidden_modules(self) -> HiddenModules | None:
        names = self._settings.get("hidden_modules")
        if not names:
            return None
        if self._hidden is None:
            self._hidden = HiddenModules([str(name) for name in names], self._setup_dir() / "hidden-modules.json")
        return self._hidden

    def status(self) -> dict[str, Any]:
        binary = self.descriptor.binary or {}
        digest = str(binary.get("sha256", ""))
        return {"digest": digest, "cached": self.context.wasm_host().is_cached(digest)}


_CMDLINE = re.compile(r"<cmdline>:(\d+)")


def _inline_location(line: str, span: str, filename: str) -> str:
    """Map ``<cmdline>:N`` in the interpreter's own messages back to the inlined source's file and line
    (``span`` is ``start:count`` of the source within ``<cmdline>``)."""
    start, count = (int(x) for x in span.split(":"))
    if not count:
        return line

    def mapped(match: re.Match[str]) -> str:
        number = int(match.group(1)) - start + 1
        return f"{filename}:{number}" if 1 <= number <= count else match.group(0)

    return _CMDLINE.sub(mapped, line)


def _command_entry(sandbox: Sandbox, instance: wasmtime.Instance) -> int | None:
    start = instance.exports(sandbox.store)["_start"]
    assert isinstance(start, wasmtime.Func)
    start(sandbox.store)
    return 0


class HiddenModules:
    """Built-in modules no guest may import (QuickJS's ``qjs:std``, ``qjs:os``, ``qjs:bjson``).

    QuickJS registers them by name when the context is created, and an ``import()`` (or a static
    import in an ``.mjs``) finds a registered module by name whatever the globals say. So before the
    context exists, each name is overwritten in the module's static data, wherever it occurs, with a
    random name of the same length drawn anew for every run (``draw``); the prelude imports the modules
    by this run's names (the host writes them into the prelude's text); guest code cannot name them.
    (``--std`` is not used: the linker shares the tail of ``"qjs:std"`` with its option name.)"""

    ALPHABET = string.ascii_letters + string.digits + "!#$%&()*+,-;<=>?@[]^_`{|}~:"

    def __init__(self, names: list[str], cache_path: Path) -> None:
        self.names = names
        self.cache_path = cache_path  # where the offsets are kept: finding them reads all of memory (~20 ms)
        self.offsets: list[tuple[int, bytes]] | None = None  # the same in every instance of the module

    def draw(self) -> dict[str, str]:
        """This run's names: the real name -> a random one of the same length."""
        return {name: "".join(secrets.choice(self.ALPHABET) for _ in name) for name in self.names}

    def hide(self, store: wasmtime.Store, memory: wasmtime.Memory, renames: dict[str, str]) -> None:
        import ctypes

        base, size = memory.data_ptr(store), memory.data_len(store)

        def holds(offsets: list[tuple[int, bytes]]) -> bool:
            return all(at + len(name) <= size and ctypes.string_at(ctypes.addressof(base.contents) + at, len(name))
                       == name for at, name in offsets)

        if self.offsets is None:
            cached = read_json(self.cache_path)
            if isinstance(cached, list) and cached:
                self.offsets = [(int(at), str(name).encode()) for at, name in cached]
        if self.offsets is None or not holds(self.offsets):
            data = ctypes.string_at(base, size)
            names = [name.encode() for name in self.names]
            self.offsets = [(at, name) for name in names for at in _occurrences(data, name)]
            if not self.offsets:
                raise wasmtime.Trap("the runtime's built-in module names were not found")
            try:
                write_json_atomic(self.cache_path, [[at, name.decode()] for at, name in self.offsets])
            except OSError:
                pass  # an unwritable cache costs a scan next time
        for at, name in self.offsets:
            memory.write(store, renames[name.decode()].encode(), at)


def _occurrences(data: bytes, needle: bytes) -> list[int]:
    found, at = [], data.find(needle)
    while at >= 0:
        found.append(at)
        at = data.find(needle, at + 1)
    return found


def _reactor_entry(argv: list[str], hidden: HiddenModules | None = None,  # noqa: ANN202 - a closure
                   renames: dict[str, str] | None = None):
    """QuickJS reactor: ``_initialize``, hide the built-in modules, then ``qjs_init_argv(argc, argv)``
    with argv in guest memory."""

    def run(sandbox: Sandbox, instance: wasmtime.Instance) -> int | None:
        store = sandbox.store
        exports = instance.exports(store)
        exports["_initialize"](store)  # type: ignore[operator]
        memory = exports["memory"]
        malloc = exports["malloc"]
        assert isinstance(memory, wasmtime.Memory) and isinstance(malloc, wasmtime.Func)
        if hidden is not None and renames:
            hidden.hide(store, memory, renames)
        pointers = []
        for arg in argv:
            data = arg.encode("utf-8") + b"\0"
            pointer = malloc(store, len(data))
            if not pointer:
                raise wasmtime.Trap("out of memory while passing arguments")
            memory.write(store, data, pointer)
            pointers.append(pointer)
        table = malloc(store, 4 * len(pointers))
        memory.write(store, b"".join(p.to_bytes(4, "little") for p in pointers), table)
        return exports["qjs_init_argv"](store, len(pointers), table)  # type: ignore[operator]

    return run
