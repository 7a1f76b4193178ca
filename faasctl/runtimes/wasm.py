"""The ``wasm`` runtime: a raw WebAssembly module is the function (WASI, string or numeric ABI).

The steps of one run: the compiled module (cached by the artifact's digest), its shape, the call plan
(``faasctl.wasm.abi``), a sandbox granting only what ``--dir`` / ``--env`` name, a link check that
names every import faasctl cannot provide, the call, and the outcome as an ``Execution``.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from faasctl.errors import ArtifactError, UsageError
from faasctl.registry import RuntimeDescriptor
from faasctl.result import RunError
from faasctl.runtimes.base import Artifact, Execution, Invocation, RunOptions, RuntimeContext
from faasctl.wasm import abi as abis
from faasctl.wasm import plugin_imports
from faasctl.wasm.modules import Shape, compiled_module, shape_of
from faasctl.wasm.sandbox import Sandbox, SandboxOutcome, SandboxSpec, to_execution


def function_name(artifact: Artifact) -> str:
    """The function's name for the string ABI: the file name without its ending."""
    name = artifact.name.rsplit("/", 1)[-1]
    return name[: -len(artifact.ending)] if artifact.ending and name.endswith(artifact.ending) else name


def parse_dirs(values: tuple[str, ...]) -> list[tuple[str, str, bool]]:
    """``HOST[:GUEST][:rw|:ro]`` to (host, guest, writable); the host directory must exist."""
    dirs = []
    for value in values:
        parts = value.split(":")
        writable = False
        if len(parts) > 1 and parts[-1] in ("rw", "ro"):
            writable = parts.pop() == "rw"
        if len(parts) > 2 or not parts[0]:
            raise UsageError(f"invalid --dir {value!r}", hint="use HOST[:GUEST][:rw], e.g. --dir ./data:/data")
        host = parts[0]
        guest = parts[1] if len(parts) == 2 and parts[1] else host
        if not Path(host).is_dir():
            raise UsageError(f"--dir {value}: {host} is not a directory")
        dirs.append((os.path.abspath(host), guest, writable))
    return dirs


def parse_env(values: tuple[str, ...]) -> dict[str, str]:
    env = {}
    for value in values:
        key, sep, text = value.partition("=")
        if not sep or not key:
            raise UsageError(f"invalid --env {value!r}: expected KEY=VALUE", hint="for example --env LANG=C")
        env[key] = text
    return env


def unsatisfied_imports(shape: Shape, sandbox: Sandbox, abi: str) -> list[str]:
    """Every import the sandbox cannot provide, as ``module.name (kind)`` (see ``abi.import_providers``)."""
    provided = abis.import_providers(shape, abi, sandbox.linker, sandbox.store)
    return [f"{item.qualified} ({item.kind}{' ' + item.text if item.text else ''})"
            for item in shape.imports if item.qualified not in provided]


class WasmRuntime:
    """Runs raw modules; one fresh store and instance per run, compiled modules shared."""

    def __init__(self, descriptor: RuntimeDescriptor, context: RuntimeContext) -> None:
        self.descriptor = descriptor
        self.context = context
        self._shapes: dict[str, Shape] = {}

    def execute(self, invocation: Invocation) -> Execution:
        artifact, options = invocation.artifact, invocation.options
        host = self.context.wasm_host()
        module, load_ms = compiled_module(host, artifact, metered=invocation.limits.fuel is not None)
        shape = self._shapes.get(artifact.digest)
        if shape is None:  # reading a module's imports and exports costs more than running gcd
            shape = self._shapes.setdefault(artifact.digest, shape_of(module))
        try:
            plan = abis.plan_call(shape, function_name(artifact), invoke=options.invoke, abi=options.abi)
        except ArtifactError as exc:
            raise ArtifactError(f"{artifact.name}: {exc.message}", hint=exc.hint) from None
        failure: dict[str, RunError] = {}
        wasi = plan.abi != "string" and any(i.module == abis.WASI_MODULE for i in shape.imports)
        spec, entry = self._prepare(plan, invocation, failure, wasi)
        if plan.entry != "_start" and shape.export("_initialize") is not None:
            entry = abis.with_initialize(entry)
        sandbox = Sandbox(host, invocation.limits, spec, invocation.cancel)
        wanted = {i.name for i in shape.imports if i.module == plugin_imports.MODULE}
        if wanted:
            plugin_imports.PluginImports(sandbox, self._plugin_caller(artifact, options)).define(wanted)
        missing = unsatisfied_imports(shape, sandbox, plan.abi)
        if missing:
            provided = "faasctl (call, reply, log)" if plan.abi == "string" else \
                "wasi_snapshot_preview1 and faasctl (call, reply, log)"
            raise ArtifactError(f"{artifact.name} imports what faasctl cannot provide: {', '.join(missing)}",
                                hint=f"{plan.abi} ABI modules may import {provided}")
        outcome = sandbox.run(module, entry, label=artifact.name)
        return self._execution(outcome, invocation, failure, load_ms)

    def _prepare(self, plan: abis.Plan, invocation: Invocation, failure: dict[str, RunError],
                 wasi: bool = True) -> tuple[SandboxSpec, abis.Entry]:
        """The sandbox spec and the entry of one run; ``wasi`` False links no WASI at all."""
        options = invocation.options
        dirs, env = parse_dirs(options.dirs), parse_env(options.env)
        if plan.abi == "wasi":
            text = invocation.input.json_text
            if options.wasi_args == "json":
                spec = SandboxSpec(argv=[text, *options.args], env=env, dirs=dirs, wasi=wasi)
            else:
                spec = SandboxSpec(argv=[invocation.artifact.name, *options.args], env=env, dirs=dirs,
                                   stdin=text.encode("utf-8"), wasi=wasi)
            return spec, abis.wasi_entry(plan)
        if plan.abi == "string":
            if options.args:
                raise UsageError(f"{plan.entry} uses the string ABI, which takes no ARGS ({' '.join(options.args)})",
                                 hint="give the input with -d JSON, -i FILE or --text on stdin")
            value = invocation.input.value
            # A string input is passed as its text (``echo`` gives ``echob``), as WasmEngine passes args.
            text = value if isinstance(value, str) else invocation.input.json_text
            spec = SandboxSpec(env=env, dirs=dirs, wasi=wasi)
            return spec, abis.string_entry(plan, text.encode("utf-8"), failure)
        raw: list[object] = list(options.args)
        if not raw and isinstance(invocation.input.value, list):
            raw = list(invocation.input.value)  # the server's invoke body: [6, 27]
        args = abis.convert_args(plan, raw)
        return SandboxSpec(env=env, dirs=dirs, wasi=wasi), abis.core_entry(plan, args)

    def _plugin_caller(self, artifact: Artifact, options: RunOptions) -> plugin_imports.PluginCall:
        """Calls into the engine's plugin registry, created on the first call only."""
        state: dict[str, Any] = {}

        def call(plugin: str, action: str, payload: Any) -> Any:
            from faasctl.plugins.registry import PluginContext, PluginError

            if "context" not in state:
                state["registry"] = self.context.plugins()
                state["context"] = PluginContext(function=function_name(artifact),
                                                 data_dir=self.context.data_dir, kv_path=options.kv_path)
            try:
                return state["registry"].call(plugin, action, payload, context=state["context"])
            except PluginError as exc:
                raise plugin_imports.PluginFailure(str(exc)) from None

        return call

    def _execution(self, outcome: SandboxOutcome, invocation: Invocation, failure: dict[str, RunError],
                   load_ms: float | None) -> Execution:
        text = outcome.stderr.decode("utf-8", errors="replace")
        logs = text.split("\n")
        if logs and logs[-1] == "":
            logs.pop()
        # "exceeds memory limits": wasmtime's message when instantiation needs more than the limit.
        return to_execution(outcome, invocation.limits, logs, outcome.error or failure.get("error"), load_ms,
                            ("exceeds memory limits",))

    def close(self) -> None:
        """Nothing to release: compiled modules belong to the engine's wasm host."""
