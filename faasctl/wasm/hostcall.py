"""Host calls from interpreters compiled to WASI (QuickJS, CPython): ``call(plugin, action, payload)``.

Prebuilt interpreter binaries import nothing but WASI, so no custom import can be linked into them.
What they can reach is their own WASI calls, which the sandbox already serves itself (``fd_write``,
``fd_read``): the host call is a private device on one reserved fd number, served on the calling
thread inside those shadowed functions, never by wasmtime's WASI (the fd is in no WASI table, so
nothing else of the host stands behind it).

The protocol, one call at a time::

    guest: fd_write(FD, '["plugin", "action", payload]\\n')   -- one JSON line, any number of writes
    host:  runs the plugin while the guest waits in that fd_write
    guest: fd_read(FD, ...)                                -- QuickJS (os.read into an ArrayBuffer)
           fd_pread(FD, ..., offset)                        -- CPython, whose fd_read stays wasmtime's
                                                              because its stdlib is a mapped directory
    reply: b"0" or b"1" (ok / error), the body's length in decimal, b"\n", then the body: JSON text in
           ASCII, the plugin's result or the error message as a JSON string (a catchable error in the guest).
           A guest reads a first chunk (64 KiB) and, for a longer reply, the rest at once: two host calls
           per call() in the usual case (one write, one read).

Replies are checked before they reach the guest: larger than a quarter of the memory the guest has
left under its limit, or nested deeper than ``MAX_DEPTH``, is an error reply (a guest parser would
trap or run out of memory on it). Requests are capped at the memory limit.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

from faasctl.limits import format_size

# A fd number no WASI table hands out (wasmtime numbers preopens and opened files from 3 upwards).
# CPython's build wraps WASI in wasi-vfs, which answers EBADF for any fd it did not see opened, so
# its runtime uses fd 0 instead (its stdin is otherwise unused: the input comes in argv), written
# through the shadowed fd_write and read back with fd_pread; wasmtime's own fd_read(0) stays empty.
HOSTCALL_FD = 0x3FFF_FF00
MAX_DEPTH = 200  # QuickJS-NG's JSON.parse traps (stack overflow) far deeper; CPython's limit is 1000
STATUS_OK, STATUS_ERROR = b"0", b"1"


class PluginFailure(Exception):
    """A plugin refused the call; the message goes back to the guest as a catchable error."""


# (plugin, action, payload) -> result; raises PluginFailure when the plugin refuses.
PluginCall = Callable[[str, str, Any], Any]


class HostCallChannel:
    """Per-run state of the host-call device: the request being written and the reply being read."""

    def __init__(self, call_plugin: PluginCall, memory_limit: int, deadline: Callable[[], float],
                 fd: int = HOSTCALL_FD) -> None:
        self.fd = fd
        self.call_plugin = call_plugin
        self.memory_limit = memory_limit
        self.deadline = deadline
        self.request = bytearray()
        self.reply = b""
        self.position = 0
        self.calls = 0
        self.timed_out = False
        self.discarding = False

    def write(self, data: bytes, memory_in_use: int) -> None:
        """Bytes of a request; a complete line is served at once (the guest waits in its write). A
        request past the memory limit is answered with an error and the rest of its line dropped."""
        newline = data.find(b"\n")
        if self.discarding:
            if newline < 0:
                return
            self.discarding = False
            data = data[newline + 1 :]
            newline = data.find(b"\n")
        if newline < 0:
            self.request.extend(data)
            if len(self.request) > self.memory_limit:
                self.request.clear()
                self.discarding = True
                self._answer(STATUS_ERROR, f"call: the request is larger than the memory limit of "
                                           f"{format_size(self.memory_limit)}")
            return
        self.request.extend(data[:newline])
        line = bytes(self.request)
        self.request.clear()
        self._serve(line, memory_in_use)
        rest = data[newline + 1 :]
        if rest:
            self.write(rest, memory_in_use)

    def read(self, size: int, offset: int | None = None) -> bytes:
        """Up to ``size`` bytes of the reply: from the read position, or from ``offset`` (pread).
        An empty answer is the end of the reply (and forgets it)."""
        start = self.position if offset is None else offset
        chunk = self.reply[start : start + max(size, 0)]
        if offset is None:
            self.position += len(chunk)
        if not chunk:
            self.reply, self.position = b"", 0
        return chunk

    # -- serving ------------------------------------------------------------------------------------

    def _serve(self, line: bytes, memory_in_use: int) -> None:
        self.calls += 1
        try:
            request = json.loads(line)
        except (ValueError, RecursionError) as exc:
            self._answer(STATUS_ERROR, f"call: the payload is not JSON: {_short(exc)}")
            return
        if (not isinstance(request, list) or len(request) != 3 or not isinstance(request[0], str)
                or not isinstance(request[1], str)):
            self._answer(STATUS_ERROR, "call: a request is [plugin, action, payload]")
            return
        plugin, action, payload = request
        try:
            value = self.call_plugin(plugin, action, payload)
            if json_depth(value) > MAX_DEPTH:
                self._answer(STATUS_ERROR, f"call({plugin!r}, {action!r}): the reply is nested more than "
                                           f"{MAX_DEPTH} levels deep")
                return
            text = json.dumps(value, allow_nan=False)  # ASCII: the guest decodes it without a UTF-8 decoder
        except PluginFailure as exc:
            self._answer(STATUS_ERROR, str(exc))
            return
        except (TypeError, ValueError, RecursionError) as exc:
            self._answer(STATUS_ERROR, f"call({plugin!r}, {action!r}): the plugin's reply is not JSON: {_short(exc)}")
            return
        except Exception as exc:  # a plugin's bug is the guest's to handle, never the host's crash
            self._answer(STATUS_ERROR, f"call({plugin!r}, {action!r}) failed: {type(exc).__name__}: {_short(exc)}")
            return
        finally:
            if self.deadline() and time.monotonic() > self.deadline():
                self.timed_out = True
        problem = self._too_big(text, memory_in_use)
        if problem:
            self._answer(STATUS_ERROR, f"call({plugin!r}, {action!r}): {problem}")
            return
        self._answer(STATUS_OK, text)

    def _too_big(self, text: str, memory_in_use: int) -> str | None:
        size = len(text)
        room = max(self.memory_limit - memory_in_use, 0) // 4
        if size > room:
            return (f"the reply of {size / 1e6:.1f} MB is too large for the guest's memory limit of "
                    f"{format_size(self.memory_limit)}")
        return None

    def _answer(self, status: bytes, text: str) -> None:
        """The reply: status, the body's length and a newline, then the body, JSON in ASCII (an error
        message is a JSON string), so one read of a small buffer takes a whole small reply."""
        body = (text if status == STATUS_OK else json.dumps(text)).encode("ascii")
        self.reply = status + str(len(body)).encode("ascii") + b"\n" + body
        self.position = 0


def json_depth(value: Any, limit: int = MAX_DEPTH) -> int:
    """Nesting depth of a JSON value, counted without recursion, stopping once past ``limit``."""
    deepest = 0
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, (dict, list)):
            deepest = max(deepest, depth)
            if deepest > limit:
                return deepest
            stack.extend((child, depth + 1) for child in (item.values() if isinstance(item, dict) else item))
    return deepest


def _short(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return text if len(text) <= 200 else text[:197] + "..."


def engine_plugin_caller(context: Any, function: str, kv_path: str | None) -> PluginCall:
    """Calls into an engine's plugin registry (``RuntimeContext.plugins()``), created on first use only."""
    state: dict[str, Any] = {}

    def call(plugin: str, action: str, payload: Any) -> Any:
        from faasctl.plugins.registry import PluginContext, PluginError

        if "context" not in state:
            state["registry"] = context.plugins()
            state["context"] = PluginContext(function=function, data_dir=context.data_dir, kv_path=kv_path)
        try:
            return state["registry"].call(plugin, action, payload, context=state["context"])
        except PluginError as exc:
            raise PluginFailure(str(exc)) from None

    return call
