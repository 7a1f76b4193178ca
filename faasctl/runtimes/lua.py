"""The Lua runtime adapter: hands each run to a pooled worker process and reads back how it ended.

The work happens in ``faasctl.lua``: ``pool`` (host side: fork, reuse, kill, replace), ``child``
(the worker: a fresh sandboxed state per run, the limits) and ``prelude`` (the Lua-side sandbox).
Plugin calls from Lua come back here, because plugins live in the host's engine.
"""

from __future__ import annotations

import json
from typing import Any

from faasctl.limits import Limits, format_size, limit_message
from faasctl.registry import RuntimeDescriptor
from faasctl.result import RunError
from faasctl.runtimes.base import Execution, Invocation, RuntimeContext


def clean_traceback(trace: str) -> str | None:
    """A Lua traceback without the sandbox's own frames (chunk ``faasctl``) and the host's xpcall."""
    lines = trace.split("\n")
    kept = [line.replace("in upvalue 'chunk'", "in main chunk") for line in lines[1:]
            if not line.strip().startswith(("faasctl:", "[C]: in function 'xpcall'", "(...tail calls...)"))]
    if not any(not line.strip().startswith("[C]") for line in kept):
        return None
    return "\n".join([lines[0], *kept])


class LuaRuntime:
    """Runs ``.lua`` actions; one per engine, its worker pool shared by the engine's runs."""

    def __init__(self, descriptor: RuntimeDescriptor, context: RuntimeContext) -> None:
        from faasctl.lua.pool import WorkerPool

        self.descriptor = descriptor
        self.context = context
        self.pool = WorkerPool()

    def execute(self, invocation: Invocation) -> Execution:
        from faasctl.lua.pool import WorkerCancelled, WorkerDied

        limits = invocation.limits
        artifact = invocation.artifact
        header = {
            "kind": "run",
            "name": artifact.name,
            "digest": artifact.digest,
            "timeout": limits.timeout,
            "memory": limits.memory,
            "fuel": limits.fuel,
            "max_output": limits.max_output,
        }
        source = artifact.source.removeprefix(b"\xef\xbb\xbf")  # a byte-order mark; Lua's load rejects it
        if source.startswith(b"#"):  # a shebang line, skipped as lua(1) does, keeping line numbers
            source = source[source.find(b"\n"):] if b"\n" in source else b""
        blobs = [source, invocation.input.json_text.encode("utf-8", "surrogatepass")]
        worker, cold_ms = self.pool.acquire()
        try:
            reply, output = worker.run(header, blobs, limits.timeout, self._call_handler(invocation),
                                       invocation.cancel)
        except WorkerCancelled:
            from faasctl.cancel import interrupted_error

            return Execution(output=b"", logs=[], error=interrupted_error(invocation.cancel), cold_start_ms=cold_ms)
        except WorkerDied as died:
            self.pool.replace()
            return Execution(output=b"", logs=[], error=self._death_error(died, limits), cold_start_ms=cold_ms)
        self.pool.release(worker)
        if not worker.alive:
            self.pool.replace()
        return self._execution(reply, output, limits, cold_ms)

    def _execution(self, reply: dict[str, Any], output: bytes, limits: Limits, cold_ms: float | None) -> Execution:
        logs = [str(line) for line in reply.get("logs") or []]
        if reply.get("logs_truncated"):
            logs.append(f"[faasctl] logs truncated at {format_size(limits.max_output)}")
        error = None
        raw = reply.get("error")
        if raw:
            kind, message = str(raw[0]), str(raw[1]) if len(raw) > 1 else ""
            detail = str(raw[2]) if len(raw) > 2 and raw[2] else None
            if kind in ("Timeout", "MemoryLimit", "FuelExhausted", "OutputLimit"):
                message = limit_message(kind, limits)
            elif kind == "FunctionError" and detail:
                detail = clean_traceback(detail)
                logs.append(message + ("\n" + detail if detail else ""))
            error = RunError(kind, message, detail)
        return Execution(
            output=output,
            logs=logs,
            error=error,
            memory_peak_bytes=reply.get("memory"),
            fuel_used=reply.get("fuel_used"),
            cold_start_ms=cold_ms,
        )

    @staticmethod
    def _death_error(died: Any, limits: Limits) -> RunError:
        if died.timed_out or died.signal_name == "SIGKILL":
            return RunError("Timeout", limit_message("Timeout", limits))
        if "not enough memory" in died.stderr:
            return RunError("MemoryLimit", limit_message("MemoryLimit", limits))
        how = f"signal {died.signal_name}" if died.signal_name else "an exit without a result"
        tail = " ".join(died.stderr.split())[-300:]
        return RunError("Trap", f"the Lua worker process ended with {how}" + (f": {tail}" if tail else ""))

    def _call_handler(self, invocation: Invocation):  # noqa: ANN202 - a closure over the invocation
        """Serve ``call(plugin, action, payload)`` from the worker with the engine's plugin registry."""

        def handle(plugin: str, action: str, payload: bytes) -> tuple[bytes | None, str | None]:
            from faasctl.plugins.registry import PluginContext, PluginError

            context = PluginContext(function=invocation.artifact.name, data_dir=self.context.data_dir,
                                    kv_path=invocation.options.kv_path)
            try:
                value = self.context.plugins().call(plugin, action, json.loads(payload), context=context)
                return json.dumps(value, ensure_ascii=False, allow_nan=False).encode("utf-8", "surrogatepass"), None
            except PluginError as exc:
                return None, str(exc)
            except (TypeError, ValueError) as exc:
                return None, f"call({plugin!r}, {action!r}): the plugin's reply is not JSON: {exc}"
            except Exception as exc:  # a plugin bug is the function's failure, never the host's
                return None, f"call({plugin!r}, {action!r}) failed: {type(exc).__name__}: {exc}"

        return handle

    def close(self) -> None:
        """Stop the idle workers (they also exit by themselves when this process ends)."""
        self.pool.close()
