"""The Lua worker process: runs one request at a time, each in a fresh sandboxed Lua state.

Why a separate process: no Lua hook can stop a C function (a pathological ``string.find`` ignores
them), ``pcall`` can swallow a hook's error, and an allocation refused outside a protected call
aborts the whole process. Here every limit ends the run by ending this process, after the result
frame (with the partial output and logs) has been written, so nothing in Lua can catch it:

- timeout: a watchdog thread (lupa releases the GIL while Lua runs) writes the Timeout result and
  exits; ``SIGALRM`` with its default action is the backstop if even the watchdog cannot run;
- memory: lupa's ``max_memory``, never lifted from before the input is converted (in Lua, by the
  prelude) until the state is closed; every protected call runs in its own coroutine, so the prelude
  sees the allocator's error before any ``__close`` handler could replace it, and calls back here to
  end the run;
- fuel: a count hook, set again on every coroutine, calls back here;
- output: the ``print`` callback ends the run when the output passes ``max_output``.

The state for the next run is built while the worker waits, so a run starts from a ready state.
"""

from __future__ import annotations

import functools
import os
import signal
import threading
import time
from collections import OrderedDict
from typing import Any

import lupa.lua54 as lupa

from faasctl.lua import protocol
from faasctl.lua.prelude import PRELUDE

FUEL_STEP = 1000  # instructions between fuel hook calls
ORPHAN_CHECK = 0.5  # seconds between the watchdog's checks that the host is still alive
HARD_GRACE = 1.0  # seconds after the deadline at which SIGALRM kills this process outright
CACHE_ENTRIES = 256
CACHE_BYTES = 32 * 1024 * 1024
PUSH_SLACK = 64 * 1024  # bytes kept free beyond a string handed to Lua: its header, stack growth


@functools.cache
def prelude_bytecode() -> bytes:
    """The prelude compiled once (the host calls this before forking, so workers inherit it)."""
    builder = lupa.LuaRuntime(encoding=None, register_eval=False, register_builtins=False)
    return builder.eval(b"string.dump")(builder.compile(PRELUDE.encode(), b"=faasctl"))


def _deny_attributes(obj: Any, name: Any, is_setting: bool) -> Any:
    raise AttributeError("Python attributes are not reachable from faasctl's Lua sandbox")


class Finisher:
    """Writes the one result frame of a run, from whichever thread gets there first."""

    def __init__(self, reply_fd: int) -> None:
        self.reply_fd = reply_fd
        self.lock = threading.Lock()
        self.run: Run | None = None

    def finish(self, run: Run, error: tuple[str, ...] | None, *, exiting: bool = False) -> bool:
        """Send the result unless another thread already did; True when this call sent it.
        ``exiting`` tells the host this process ends right after, so it is not reused."""
        with self.lock:
            if self.run is not run or run.finished:
                return False
            run.finished = True
            header = run.result_header(error)
            header["exiting"] = exiting
            protocol.send(self.reply_fd, header, [run.output_bytes()])
            return True

    def end(self, run: Run, error: tuple[str, ...]) -> None:
        """End a run on a limit: send its result and exit, so nothing in Lua can carry on."""
        if not self.finish(run, error, exiting=True):
            time.sleep(HARD_GRACE)  # the watchdog is ending this run and the process right now
        os._exit(0)


class Watchdog(threading.Thread):
    """Ends the current run at its deadline, even while Lua is busy inside one C function."""

    def __init__(self, finisher: Finisher) -> None:
        super().__init__(name="faasctl-lua-watchdog", daemon=True)
        self.finisher = finisher
        self.cond = threading.Condition()
        self.deadline: float | None = None
        self.run_ref: Run | None = None
        self.parent = os.getppid()

    def arm(self, run: Run, deadline: float) -> None:
        with self.cond:
            self.run_ref, self.deadline = run, deadline
            self.cond.notify()

    def disarm(self) -> None:
        with self.cond:
            self.run_ref, self.deadline = None, None

    def run(self) -> None:  # noqa: D102 - the thread body
        while True:
            with self.cond:
                while self.deadline is None:
                    self.cond.wait()
                remaining = self.deadline - time.monotonic()
                if remaining > 0:
                    # Wake now and then: a host killed mid-run (SIGINT or SIGTERM to faasctl alone) must
                    # not leave this process spinning until a deadline minutes away.
                    self.cond.wait(min(remaining, ORPHAN_CHECK))
                    if os.getppid() != self.parent:
                        os._exit(0)
                    continue
                target = self.run_ref
            if target is not None and self.finisher.finish(target, ("Timeout", ""), exiting=True):
                os._exit(0)


class State:
    """One fresh Lua state with the prelude loaded; its callbacks act on whichever run owns it."""

    def __init__(self, prelude_code: bytes) -> None:
        self.run: Run | None = None
        self.rt = lupa.LuaRuntime(encoding=None, register_eval=False, register_builtins=False,
                                  unpack_returned_tuples=True, attribute_filter=_deny_attributes, max_memory=0)
        setup = self.rt.compile(prelude_code, b"=faasctl", b"b")
        self.build, self.run_guest, self.compile, self.dump = setup(self._out, self._log, self._call,
                                                                    self._tick, self._die)

    def close(self) -> None:
        """Drop every reference to the runtime so ``lua_close`` runs now (no guest finalizer is pending:
        the prelude's ``setmetatable`` never marks an object for one)."""
        self.build = self.run_guest = self.compile = self.dump = None
        self.rt = None

    # callbacks: each forwards to the run in progress
    def _out(self, data: bytes) -> None:
        if self.run:
            self.run.out(data)

    def _log(self, data: bytes) -> None:
        if self.run:
            self.run.log(data)

    def _call(self, plugin: bytes, action: bytes, payload: bytes) -> tuple[bool, Any]:
        if not self.run:
            return False, b"call: no run in progress"
        return self.run.call(plugin, action, payload)

    def _tick(self) -> int | None:
        return self.run.tick() if self.run else None

    def _die(self, kind: bytes) -> None:
        if self.run:
            self.run.die(kind.decode())


class Run:
    """One request: limits, collected output and logs, and the conversions between JSON and Lua."""

    def __init__(self, worker: Worker, state: State, header: dict[str, Any]) -> None:
        self.worker = worker
        self.state = state
        self.rt = state.rt
        self.memory = int(header["memory"])
        self.max_output = int(header["max_output"])
        self.fuel: int | None = header.get("fuel")
        self.fuel_used = 0
        self.fuel_step = min(FUEL_STEP, self.fuel) if self.fuel else 0
        self.chunks: list[bytes] = []
        self.out_size = 0
        self.logs: list[str] = []
        self.log_size = 0
        self.logs_truncated = False
        self.memory_used: int | None = None
        self.finished = False

    # -- results -------------------------------------------------------------------------------------

    def output_bytes(self) -> bytes:
        data = b"".join(self.chunks)
        return data[: self.max_output]

    def result_header(self, error: tuple[str, ...] | None) -> dict[str, Any]:
        # Never touch the Lua state here: the watchdog calls this while Lua holds the runtime's lock.
        return {"kind": "result", "error": error, "logs": self.logs, "logs_truncated": self.logs_truncated,
                "memory": self.memory_used, "fuel_used": self.fuel_used if self.fuel else None}

    def die(self, kind: str) -> None:
        """Called on the thread running Lua (inside a callback), so the state may be read."""
        errors = {"memory": "MemoryLimit", "fuel": "FuelExhausted", "output": "OutputLimit"}
        self.memory_used = self.memory if kind == "memory" else (self.rt.get_memory_used() or 0)
        self.worker.finisher.end(self, (errors[kind], ""))

    # -- callbacks -------------------------------------------------------------------------------------

    def out(self, data: bytes) -> None:
        self.chunks.append(data)
        self.out_size += len(data)
        if self.out_size > self.max_output:
            self.die("output")

    def log(self, data: bytes) -> None:
        if self.logs_truncated:
            return
        if self.log_size + len(data) > self.max_output:
            self.logs_truncated = True
            return
        self.log_size += len(data)
        self.logs.append(data.decode("utf-8", "replace"))

    def tick(self) -> int | None:
        assert self.fuel
        self.fuel_used += self.fuel_step
        remaining = self.fuel - self.fuel_used
        if remaining <= 0:
            self.die("fuel")
        if remaining < self.fuel_step:
            self.fuel_step = remaining
            return remaining
        return None

    def call(self, plugin: bytes, action: bytes, payload: bytes) -> tuple[bool, Any]:
        """A plugin call; the reply goes back as JSON text, which the prelude converts under the limits."""
        names = {"plugin": plugin.decode("utf-8", "replace"), "action": action.decode("utf-8", "replace")}
        header, blobs = self.worker.exchange({"kind": "call", **names}, [payload])
        if header.get("error") is not None:
            return False, str(header["error"]).encode()
        reply = blobs[0]
        if not self.fits(len(reply)):
            self.die("memory")
        return True, reply

    def fits(self, size: int) -> bool:
        """Would a string of ``size`` bytes fit the memory budget? Checked before handing one to Lua:
        an allocation refused while lupa pushes a value is outside any protected call and would abort
        the process, or deadlock it inside a callback."""
        return (self.rt.get_memory_used() or 0) + size + PUSH_SLACK <= self.memory


class Worker:
    """The worker loop: read a request, run it, answer, prepare the next state."""

    def __init__(self, request_fd: int, reply_fd: int) -> None:
        self.request_fd = request_fd
        self.reply_fd = reply_fd
        self.finisher = Finisher(reply_fd)
        self.watchdog = Watchdog(self.finisher)
        self.watchdog.start()
        self.prelude_code = prelude_bytecode()
        self.cache: OrderedDict[str, bytes] = OrderedDict()
        self.cache_bytes = 0

    def exchange(self, header: dict[str, Any], blobs: list[bytes]) -> tuple[dict[str, Any], list[bytes]]:
        """A plugin call: one frame to the host, one reply back (the host counts it in the deadline)."""
        with self.finisher.lock:
            protocol.send(self.reply_fd, header, blobs)
        return protocol.recv(self.request_fd)

    def serve(self) -> None:
        state = State(self.prelude_code)
        while True:
            try:
                header, blobs = protocol.recv(self.request_fd)
            except (protocol.ChannelClosed, OSError):
                os._exit(0)
            run = Run(self, state, header)
            self.execute(run, header, blobs)
            state.close()
            state = State(self.prelude_code)

    def execute(self, run: Run, header: dict[str, Any], blobs: list[bytes]) -> None:
        source, input_json = blobs
        timeout = float(header["timeout"])
        self.finisher.run = run
        run.state.run = run
        self.watchdog.arm(run, time.monotonic() + timeout)
        signal.setitimer(signal.ITIMER_REAL, timeout + HARD_GRACE)
        try:
            error = self.run_guest(run, header, source, input_json)
        except Exception as exc:  # a bug here must come back as one line, never kill the worker silently
            error = ("InternalError", f"Lua worker: {type(exc).__name__}: {exc}")
        run.memory_used = run.state.rt.get_memory_used() or 0
        run.state.run = None
        run.rt = None
        # The memory limit stays in force through close and the deadline is still armed; no guest
        # finalizer runs here anyway (the prelude's setmetatable never marks an object for one).
        run.state.close()
        signal.setitimer(signal.ITIMER_REAL, 0)
        self.watchdog.disarm()
        self.finisher.finish(run, error)
        self.finisher.run = None

    def run_guest(self, run: Run, header: dict[str, Any], source: bytes,
                  input_json: bytes) -> tuple[str, ...] | None:
        state, rt = run.state, run.state.rt
        env, start = state.build(run.fuel_step or None)
        rt.set_max_memory(run.memory)  # from here to the end of close, never lifted
        if not run.fits(len(input_json) + len(source)):
            return ("MemoryLimit", "")
        name = str(header.get("name") or "main.lua").encode("utf-8", "replace")
        chunk, problem = self.load_chunk(state, source, b"=" + name, str(header.get("digest") or ""), env)
        if chunk is None:
            if problem == b"not enough memory":
                return ("MemoryLimit", "")
            return ("FunctionError", (problem or b"").decode("utf-8", "replace"))
        ok, outcome = state.run_guest(chunk, env, input_json, start)
        if ok:
            if outcome is not None:
                run.out(outcome)
            return None
        if outcome == b"not enough memory":
            return ("MemoryLimit", "")
        if isinstance(outcome, bytes):
            return ("FunctionError", outcome.decode("utf-8", "replace"))
        message, trace = outcome[1], outcome[2]
        return ("FunctionError", message.decode("utf-8", "replace"), trace.decode("utf-8", "replace"))

    def load_chunk(self, state: State, source: bytes, name: bytes, digest: str, env: Any) -> tuple[Any, Any]:
        """Compile the script as text (binary chunks are refused), or load this worker's cached bytecode
        of the same source: compiling costs more than loading, and bytecode here only ever comes from
        this worker compiling text."""
        key = f"{digest}:{name.decode('utf-8', 'replace')}"
        cached = self.cache.get(key) if digest else None
        if cached is not None:
            self.cache.move_to_end(key)
            return state.compile(cached, name, b"b", env)
        chunk, problem = state.compile(source, name, b"t", env)
        if chunk is not None and digest:
            code = state.dump(chunk)
            self.cache[key] = code
            self.cache_bytes += len(code)
            while len(self.cache) > CACHE_ENTRIES or self.cache_bytes > CACHE_BYTES:
                _, dropped = self.cache.popitem(last=False)
                self.cache_bytes -= len(dropped)
        return chunk, problem


def main(request_fd: int, reply_fd: int) -> None:
    """Entry point in the forked child; never returns."""
    import sys

    sys.setrecursionlimit(5000)
    try:
        Worker(request_fd, reply_fd).serve()
    finally:
        os._exit(0)
