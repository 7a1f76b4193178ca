"""Python lambda scripts in a pre-initialised CPython component: a fresh instance of a snapshot per run.

The component (built once per machine, see ``wasm.component_build``) holds CPython with the standard
library already imported and the shared Python prelude compiled; a run instantiates it and calls its
``run(filename, source, input)`` export. The prelude and the host speak the protocol of the other
interpreters (``guest_protocol``), so both Python builds share one prelude.
"""

from __future__ import annotations

import threading
from typing import Any

from faasctl.registry import RuntimeDescriptor
from faasctl.result import RunError
from faasctl.runtimes.base import Execution, Invocation, RuntimeContext
from faasctl.runtimes.guest_protocol import parse_guest_stderr, script_text
from faasctl.wasm.component_build import built_component, built_state
from faasctl.wasm.component_sandbox import ComponentLinker
from faasctl.wasm.sandbox import to_execution


def _context_json(invocation: Invocation) -> str:
    """What the prelude reads beyond the script and input: the fields of a Lambda handler's ``context``
    and the handler ``--handler`` names (host calls through an fd do not exist in the component)."""
    import json
    import os
    import time

    artifact, limits = invocation.artifact, invocation.limits
    name = artifact.name.rsplit("/", 1)[-1]
    if artifact.ending and name.endswith(artifact.ending):
        name = name[: -len(artifact.ending)]
    raw = bytearray(os.urandom(16))
    raw[6], raw[8] = raw[6] & 0x0F | 0x40, raw[8] & 0x3F | 0x80  # a version 4 UUID, without importing uuid
    text = raw.hex()
    return json.dumps({
        "function_name": name,
        "aws_request_id": f"{text[:8]}-{text[8:12]}-{text[12:16]}-{text[16:20]}-{text[20:]}",
        "memory_limit_in_mb": limits.memory // (1024 * 1024),
        "deadline_ms": int(time.time() * 1000 + limits.timeout * 1000),
        "handler": getattr(invocation.options, "handler", None),
        "hostcall_fd": None,
    })


class ComponentRuntime:
    """Runs a Python script in a fresh instance of the pre-initialised CPython component."""

    def __init__(self, descriptor: RuntimeDescriptor, context: RuntimeContext) -> None:
        self.descriptor = descriptor
        self.context = context
        self._built: tuple[Any, str] | None = None
        self._linkers: dict[bool, ComponentLinker] = {}
        self._lock = threading.Lock()

    def _component(self, metered: bool) -> tuple[Any, float | None]:
        host = self.context.wasm_host()
        if self._built is None:
            self._built = built_component(self.descriptor, self.context.cache_dir,
                                          host.compile_notice)
        path, digest = self._built
        label = f"{self.descriptor.name} runtime (CPython component{', fuel-metered' if metered else ''})"
        return host.component(digest, path.read_bytes, label, metered)

    def _linker(self, metered: bool) -> ComponentLinker:
        linker = self._linkers.get(metered)
        if linker is None:
            with self._lock:
                linker = self._linkers.get(metered)
                if linker is None:
                    engine = self.context.wasm_host().engine_for(metered)
                    linker = self._linkers[metered] = ComponentLinker(engine)
        return linker

    def execute(self, invocation: Invocation) -> Execution:
        artifact = invocation.artifact
        source = script_text(artifact)
        metered = invocation.limits.fuel is not None
        component, load_ms = self._component(metered)
        args = (artifact.name, source, invocation.input.json_text, _context_json(invocation))
        outcome = self._linker(metered).run(self.context.wasm_host(), component, invocation.limits, args)
        logs, record = parse_guest_stderr(outcome.stderr)
        error = outcome.error
        if error is None and record is not None:
            # Guest code can write the record too: it says how the function failed, never that a limit or
            # faasctl did (as in the interpreter adapter).
            detail = record.get("detail")
            error = RunError("FunctionError", str(record.get("message") or ""),
                             detail if isinstance(detail, str) else None)
        elif error is None and outcome.exit_code:
            raw = [line for line in logs if line.strip()]
            error = RunError("FunctionError", raw[-1] if raw else "the Python guest failed", "\n".join(raw) or None)
        return to_execution(outcome, invocation.limits, logs, error, load_ms,
                            self.descriptor.settings.get("oom_markers", ()))

    def status(self) -> dict[str, Any]:
        state = built_state(self.descriptor, self.context.cache_dir)
        digest = state["sha256"] if state else ""
        return {"digest": digest, "cached": bool(digest) and self.context.wasm_host().is_cached(digest)}
