"""The ``faasctl`` host import module: plugins (and logs) for raw wasm functions.

The ABI (all strings UTF-8, all pointers into the guest's exported ``memory``)::

    (import "faasctl" "call"  (func (param i32 i32 i32 i32 i32 i32) (result i64)))
    ;; call(plugin_ptr, plugin_len, action_ptr, action_len, payload_ptr, payload_len) -> packed
    (import "faasctl" "reply" (func (param i32 i32) (result i32)))
    ;; reply(dest_ptr, capacity) -> bytes copied
    (import "faasctl" "log"   (func (param i32 i32)))
    ;; log(ptr, len): one log line

``call`` runs ``PluginRegistry.call(plugin, action, payload)`` with the payload parsed from JSON
(length 0 means null) and keeps the reply in a host buffer. It returns ``(status << 32) | length``:
status 0 means the reply is the plugin's result as JSON text, 1 means the reply is an error message.
The guest then copies the reply into memory it owns with ``reply(dest, capacity)``, which copies
``min(capacity, length)`` bytes and returns that count; the buffer stays until the next ``call``.
Two steps instead of the host calling a guest allocator, so a module needs no ``malloc`` export
and a reply the guest does not want costs nothing. Spans outside memory trap the guest.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

import wasmtime

from faasctl.output import loads_strict
from faasctl.wasm.sandbox import Sandbox

MODULE = "faasctl"
STATUS_OK, STATUS_ERROR = 0, 1


def import_types() -> dict[str, wasmtime.FuncType]:
    i32, i64 = wasmtime.ValType.i32(), wasmtime.ValType.i64()
    return {
        "call": wasmtime.FuncType([i32] * 6, [i64]),
        "reply": wasmtime.FuncType([i32, i32], [i32]),
        "log": wasmtime.FuncType([i32, i32], []),
    }


NAMES = ("call", "reply", "log")

class PluginFailure(Exception):
    """A plugin refused the call (its ``PluginError``); the message goes to the guest as the reply."""


# Calls the plugin registry: (plugin, action, payload) -> result; raises on a plugin failure.
PluginCall = Callable[[str, str, Any], Any]


class PluginImports:
    """Per-run state of the ``faasctl`` imports: the reply buffer and the plugin caller."""

    def __init__(self, sandbox: Sandbox, call_plugin: PluginCall) -> None:
        self.sandbox = sandbox
        self.call_plugin = call_plugin
        self.reply_bytes = b""
        self.calls = 0

    def define(self, names: set[str]) -> None:
        """Define the imports the module asks for (unknown names are left for the link check)."""
        types = import_types()
        handlers = {"call": self._call, "reply": self._reply, "log": self._log}
        for name in sorted(names & set(NAMES)):
            self.sandbox.define(MODULE, name, types[name], handlers[name])

    # -- host functions ------------------------------------------------------------------------

    def _call(self, caller: wasmtime.Caller, pp: int, pl: int, ap: int, al: int, yp: int, yl: int) -> int:
        plugin = _text(caller, pp, pl, "plugin name")
        action = _text(caller, ap, al, "action")
        payload_text = _text(caller, yp, yl, "payload")
        self.calls += 1
        try:
            payload = loads_strict(payload_text) if payload_text else None  # nesting too deep is a ValueError
        except ValueError as exc:
            return self._set(STATUS_ERROR, f"payload of {plugin}.{action} is not JSON: {exc}")
        try:
            value = self.call_plugin(plugin, action, payload)
            text = json.dumps(value, ensure_ascii=False, separators=(",", ":"))
        except RecursionError:
            return self._set(STATUS_ERROR, f"the reply of {plugin}.{action} is nested too deeply")
        except PluginFailure as exc:
            return self._set(STATUS_ERROR, str(exc))
        except Exception as exc:  # a plugin's bug is the guest's to handle, never the host's crash
            return self._set(STATUS_ERROR, f"plugin {plugin} failed: {type(exc).__name__}: {exc}")
        finally:
            self._check_deadline()
        return self._set(STATUS_OK, text)

    def _reply(self, caller: wasmtime.Caller, dest: int, capacity: int) -> int:
        data = self.reply_bytes[: max(capacity, 0)]
        if data:
            memory = _memory(caller)
            if dest < 0 or dest + len(data) > memory.data_len(caller):
                raise wasmtime.Trap(f"faasctl.reply: destination {dest}+{len(data)} is outside memory")
            memory.write(caller, data, dest)
        return len(data)

    def _log(self, caller: wasmtime.Caller, ptr: int, length: int) -> None:
        line = _read(caller, ptr, length, "log line")
        sink, room = self.sandbox.stderr, self.sandbox.limits.max_output - len(self.sandbox.stderr)
        entry = line.rstrip(b"\n") + b"\n"
        if len(entry) > room:
            self.sandbox.logs_truncated = True
        sink.extend(entry[: max(room, 0)])

    def _set(self, status: int, text: str) -> int:
        self.reply_bytes = text.encode("utf-8", errors="replace")
        return (status << 32) | len(self.reply_bytes)

    def _check_deadline(self) -> None:
        """Epochs do not interrupt a host call: a slow plugin ends the run here, as a timeout."""
        if self.sandbox.deadline and time.monotonic() > self.sandbox.deadline:
            self.sandbox.stop_reason = "timeout"
            raise wasmtime.Trap("timed out in a plugin call")


def _memory(caller: wasmtime.Caller) -> wasmtime.Memory:
    memory = caller.get("memory")
    if not isinstance(memory, wasmtime.Memory):
        raise wasmtime.Trap("faasctl imports need the module to export its memory as 'memory'")
    return memory


def _read(caller: wasmtime.Caller, ptr: int, length: int, what: str) -> bytes:
    if length == 0:
        return b""
    memory = _memory(caller)
    start, size = ptr & 0xFFFFFFFF, length & 0xFFFFFFFF
    if start + size > memory.data_len(caller):
        raise wasmtime.Trap(f"faasctl: {what} span {start}+{size} is outside memory")
    return bytes(memory.read(caller, start, start + size))


def _text(caller: wasmtime.Caller, ptr: int, length: int, what: str) -> str:
    data = _read(caller, ptr, length, what)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise wasmtime.Trap(f"faasctl.call: {what} is not UTF-8 (byte offset {exc.start})") from None
