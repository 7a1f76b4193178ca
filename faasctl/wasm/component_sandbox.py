"""One fresh store and instance of a WebAssembly component per run, with faasctl's limits.

The component sibling of ``sandbox``: the same limits and the same error classification, over
``wasmtime.component``. WASI p2 comes from wasmtime with nothing granted (no preopened directory, no
environment, no network, no stdin); the guest's stdio is the ``faasctl:python/host`` interface, so
the output cap stops the guest in the call that passes it, on the calling thread. Sleeping is a host
call bounded by the deadline (a guest blocked in a host call ignores epochs), and the WASI monotonic
clock is served here so no other wait can block: ``subscribe-duration``/``subscribe-instant`` end the
run at once instead.

One linker per engine is shared by all runs; its host functions find their run through a
thread-local, since a component call and its host calls run on the calling thread.
"""

from __future__ import annotations

import threading
import time
from typing import Any

import wasmtime
from wasmtime.component import Component, Linker

from faasctl.limits import Limits, format_size
from faasctl.result import RunError
from faasctl.wasm.host import WasmHost
from faasctl.wasm.sandbox import SandboxOutcome, classify_trap

HOST_INTERFACE = "faasctl:python/host@0.1.0"
CLOCK_INTERFACE = "wasi:clocks/monotonic-clock@0.2.9"  # the version componentize-py's adapter imports


class _Stop(Exception):
    """Raised by a host function to end the guest; the reason is kept on the run."""


class _Current(threading.local):
    run: ComponentRun | None = None


class ComponentLinker:
    """The linker of one engine: WASI p2 plus faasctl's host functions, dispatched to the current run."""

    def __init__(self, engine: wasmtime.Engine) -> None:
        self._current = _Current()
        linker = Linker(engine)
        linker.allow_shadowing = True
        linker.add_wasip2()
        with linker.root() as root:
            with root.add_instance(HOST_INTERFACE) as host:
                host.add_func("write", self._write)
                host.add_func("sleep", self._sleep)
            with root.add_instance(CLOCK_INTERFACE) as clock:
                clock.add_func("now", lambda _store: time.monotonic_ns())
                clock.add_func("resolution", lambda _store: 1)
                clock.add_func("subscribe-duration", self._no_wait)
                clock.add_func("subscribe-instant", self._no_wait)
        self.linker = linker

    def _run(self) -> ComponentRun:
        run = self._current.run
        if run is None:  # a host call outside a run: cannot happen, but must not touch another run
            raise _Stop("no run")
        return run

    def _write(self, _store: Any, fd: int, text: str) -> None:
        self._run().write(fd, text)

    def _sleep(self, _store: Any, nanoseconds: int) -> None:
        self._run().sleep(nanoseconds / 1e9)

    def _no_wait(self, _store: Any, *_args: Any) -> None:
        run = self._run()
        run.stop_reason = "wait"
        raise _Stop("wait")

    def run(self, host: WasmHost, component: Component, limits: Limits, args: tuple[Any, ...]) -> SandboxOutcome:
        run = ComponentRun(host, limits)
        self._current.run = run
        try:
            return run.call(self.linker, component, args)
        finally:
            self._current.run = None


class ComponentRun:
    """The state of one run: its store, captured stdio and why it was stopped."""

    def __init__(self, host: WasmHost, limits: Limits) -> None:
        self.host = host
        self.limits = limits
        self.stdout = bytearray()
        self.stderr = bytearray()
        self.stop_reason: str | None = None
        self.logs_truncated = False
        self.deadline = 0.0
        self.metered = limits.fuel is not None
        self.store = wasmtime.Store(host.engine_for(self.metered))
        self.store.set_limits(memory_size=limits.memory)
        if self.metered:
            self.store.set_fuel(limits.fuel or 0)
        self.store.set_wasi(wasmtime.WasiConfig())  # nothing of the host: no dirs, env, args, network

    def write(self, fd: int, text: str) -> None:
        data = text.encode("utf-8", "surrogatepass")
        sink = self.stdout if fd == 1 else self.stderr
        room = self.limits.max_output - len(sink)
        sink.extend(data[: max(room, 0)])
        if len(data) > room:
            if fd == 1:
                self.stop_reason = "output"
                raise _Stop("output limit")
            self.logs_truncated = True

    def sleep(self, seconds: float) -> None:
        remaining = self.deadline - time.monotonic()
        if seconds >= remaining:
            time.sleep(max(remaining, 0))
            self.stop_reason = "timeout"
            raise _Stop("timeout")
        time.sleep(seconds)

    def call(self, linker: Linker, component: Component, args: tuple[Any, ...]) -> SandboxOutcome:
        status: int | None = None
        error: RunError | None = None
        try:
            with self.host.ticker:
                self.store.set_epoch_deadline(self.host.ticker.ticks_for(self.limits.timeout))
                self.deadline = time.monotonic() + self.limits.timeout
                try:
                    instance = linker.instantiate(self.store, component)
                    func = instance.get_func(self.store, "run")
                    assert func is not None, "the component exports no run function"
                    status = int(func(self.store, *args))
                except wasmtime.ExitTrap as exc:
                    status = exc.code
                except Exception as exc:  # traps, and host functions' own _Stop re-raised by wasmtime
                    error = self._classify(exc)
            if error is None and self.stop_reason == "output":
                error = self._classify(_Stop("output limit"))
            fuel = (self.limits.fuel or 0) - self.store.get_fuel() if self.metered else None
        finally:
            self.store.close()  # frees the instance's memory now, not at the next garbage collection
        return SandboxOutcome(exit_code=status, stdout=bytes(self.stdout), stderr=bytes(self.stderr), error=error,
                              memory_peak_bytes=None, fuel_used=fuel, near_memory_limit=False,
                              logs_truncated=self.logs_truncated)

    def _classify(self, exc: Exception) -> RunError:
        if self.stop_reason == "wait":
            return RunError("FunctionError", "blocking waits other than time.sleep are not available in the sandbox")
        text = str(exc)
        if "exceeds memory limits" in text or "memory limit" in text.lower():
            return RunError("MemoryLimit", f"memory limit of {format_size(self.limits.memory)} exceeded",
                            detail=text)
        if self.stop_reason is None:
            # A component call reports traps as WasmtimeError without a trap code: read it from the text.
            causes = text.rsplit("Caused by:", 1)[-1]
            if "wasm trap: interrupt" in causes:
                self.stop_reason = "timeout"
            elif "all fuel consumed" in causes:
                return RunError("FuelExhausted", f"fuel limit of {self.limits.fuel} instructions exhausted")
        return classify_trap(exc, self.stop_reason, self.limits)
