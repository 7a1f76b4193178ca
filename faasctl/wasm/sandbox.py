"""One fresh WASI sandbox per run: store limits, fuel, deadline, captured and capped stdio.

Everything every wasm runtime needs lives here, so the adapters only say what to call. Four WASI
imports are shadowed by host functions because wasmtime's own cannot enforce faasctl's contract:
``fd_write`` on fds 1 and 2 (capture with a cap that stops the guest at once, on the calling thread,
instead of wasmtime's ``stdout_custom`` callbacks that run on another thread and cannot stop it),
``fd_read`` on fd 0 (the input bytes), and ``poll_oneoff`` (a sleeping guest is not interrupted by
epochs, so sleeps are bounded by the run's deadline here).
"""

from __future__ import annotations

import os
import struct
import time
from collections.abc import Callable
from typing import NamedTuple

import wasmtime

from faasctl.errors import ArtifactError
from faasctl.limits import Limits, format_duration, format_size
from faasctl.result import RunError
from faasctl.runtimes.base import Execution
from faasctl.wasm.host import WasmHost, _first_line

WASI = "wasi_snapshot_preview1"
ERRNO_SUCCESS, ERRNO_BADF, ERRNO_FAULT, ERRNO_INVAL = 0, 8, 21, 28
PAGE = 65536
# Host calls bound their own work: at most IOV_MAX iovecs per fd_read/fd_write (wasi-libc's and Linux's
# limit) and SUBSCRIPTIONS_MAX subscriptions per poll_oneoff, and a byte count that fits the u32 result
# (writev's EINVAL when the lengths overflow ssize_t). Epochs do not interrupt a host call, so each
# also checks the run's deadline on entry.
IOV_MAX = 1024
SUBSCRIPTIONS_MAX = 4096
MAX_IO_BYTES = 2**31 - 1

# WASI clock ids: realtime, monotonic, process CPU time, thread CPU time.
_CLOCKS = {0: time.time_ns, 1: time.monotonic_ns, 2: time.process_time_ns, 3: time.thread_time_ns}

_TRAP_TEXT = {
    "STACK_OVERFLOW": "stack overflow",
    "MEMORY_OUT_OF_BOUNDS": "out-of-bounds memory access",
    "HEAP_MISALIGNED": "misaligned memory access",
    "TABLE_OUT_OF_BOUNDS": "undefined element: out of bounds table access",
    "INDIRECT_CALL_TO_NULL": "uninitialized element",
    "BAD_SIGNATURE": "indirect call type mismatch",
    "INTEGER_OVERFLOW": "integer overflow",
    "INTEGER_DIVISION_BY_ZERO": "integer divide by zero",
    "BAD_CONVERSION_TO_INTEGER": "invalid conversion to integer",
    "UNREACHABLE": "wasm `unreachable` instruction executed",
}


class SandboxSpec(NamedTuple):
    """What of the host a run may see. Nothing is visible unless listed here."""

    argv: list[str] = []
    env: dict[str, str] = {}
    dirs: list[tuple[str, str, bool]] = []  # (host, guest, writable)
    stdin: bytes = b""
    wasi: bool = True  # False: no WASI imports at all (modules that import none skip ~0.2 ms of linking)


class SandboxOutcome(NamedTuple):
    """How the guest ended: an exit code, or an error that the sandbox classified."""

    exit_code: int | None
    stdout: bytes
    stderr: bytes
    error: RunError | None
    memory_peak_bytes: int | None
    fuel_used: int | None  # None unless the run had a fuel limit (metering is compiled in only then)
    near_memory_limit: bool
    logs_truncated: bool


class _Stop(Exception):
    """Raised inside host functions to end the guest; the reason is also kept on the sandbox."""


class _TooLarge(Exception):
    """The iovec lengths of one call sum past what its u32 result can report."""


class Sandbox:
    """A store, a linker and captured stdio for exactly one run."""

    def __init__(self, host: WasmHost, limits: Limits, spec: SandboxSpec) -> None:
        self.host = host
        self.limits = limits
        self.spec = spec
        self.stdout = bytearray()
        self.stderr = bytearray()
        self.metered = limits.fuel is not None
        engine = host.engine_for(self.metered)
        self.store = wasmtime.Store(engine)
        self.store.set_limits(memory_size=limits.memory)
        self._fuel = limits.fuel or 0
        if self.metered:
            self.store.set_fuel(self._fuel)
        wasi = wasmtime.WasiConfig()
        # Which stdio faasctl serves itself (see _shadow_wasi): writes unless a directory is writable,
        # reads unless any directory is mapped (then fds above 2 may be files only wasmtime can read).
        self.native_stdio = any(writable for _, _, writable in spec.dirs)
        self.shadow_read = not spec.dirs
        self._stdio_dir = ""
        if self.native_stdio:
            self._use_native_stdio(wasi)
        elif not self.shadow_read and spec.stdin:
            self._stdin_from_file(wasi)
        if spec.argv:
            wasi.argv = spec.argv
        if spec.env:
            wasi.env = list(spec.env.items())
        for host_dir, guest_dir, writable in spec.dirs:
            wasi.preopen_dir(host_dir, guest_dir, writable)
        self.store.set_wasi(wasi)
        self.linker = wasmtime.Linker(engine)
        self.linker.allow_shadowing = True
        self.logs_truncated = False
        self.stop_reason: str | None = None
        self.deadline = 0.0
        self._stdin_pos = 0
        if spec.wasi:
            self.linker.define_wasi()
            self._shadow_wasi()

    # -- shadowed WASI imports -------------------------------------------------------------------

    def _shadow_wasi(self) -> None:
        """Define the shadowing host functions. A host function cannot call wasmtime's own WASI
        function (it has no calling instance), so ``fd_write`` is shadowed only while no directory is
        writable (then no fd above 2 can be written) and ``fd_read`` only while none is mapped (then no
        fd above 2 exists); otherwise wasmtime's own stdio is used (see ``native_stdio``)."""
        i32, i64 = wasmtime.ValType.i32(), wasmtime.ValType.i64()
        io_type = wasmtime.FuncType([i32, i32, i32, i32], [i32])
        if not self.native_stdio:
            self.linker.define_func(WASI, "fd_write", io_type, self._fd_write, access_caller=True)
        if self.shadow_read:
            self.linker.define_func(WASI, "fd_read", io_type, self._fd_read, access_caller=True)
        self.linker.define_func(WASI, "poll_oneoff", io_type, self._poll_oneoff, access_caller=True)
        clock_type = wasmtime.FuncType([i32, i64, i32], [i32])
        self.linker.define_func(WASI, "clock_time_get", clock_type, self._clock_time_get, access_caller=True)

    def _fd_write(self, caller: wasmtime.Caller, fd: int, iovs: int, count: int, nwritten: int) -> int:
        self._check_deadline()
        memory = caller.get("memory")
        if fd not in (1, 2) or not isinstance(memory, wasmtime.Memory):
            return ERRNO_BADF
        if count > IOV_MAX:
            return ERRNO_INVAL
        try:
            total = self._capture(fd, memory, caller, iovs, count)
            memory.write(caller, struct.pack("<I", total), nwritten)
        except _TooLarge:
            return ERRNO_INVAL
        except (IndexError, ValueError, wasmtime.WasmtimeError):
            return ERRNO_FAULT
        return ERRNO_SUCCESS

    def _fd_read(self, caller: wasmtime.Caller, fd: int, iovs: int, count: int, nread: int) -> int:
        self._check_deadline()
        memory = caller.get("memory")
        if fd != 0 or not isinstance(memory, wasmtime.Memory):
            return ERRNO_BADF
        if count > IOV_MAX:
            return ERRNO_INVAL
        try:
            total = 0
            for ptr, length in _iovecs(memory, caller, iovs, count):
                chunk = self.spec.stdin[self._stdin_pos : self._stdin_pos + length]
                if not chunk:
                    break
                memory.write(caller, chunk, ptr)
                self._stdin_pos += len(chunk)
                total += len(chunk)
            memory.write(caller, struct.pack("<I", total), nread)
        except (IndexError, ValueError, wasmtime.WasmtimeError):
            return ERRNO_FAULT
        return ERRNO_SUCCESS

    def _poll_oneoff(self, caller: wasmtime.Caller, subs: int, events: int, count: int, nevents: int) -> int:
        self._check_deadline()
        memory = caller.get("memory")
        if not isinstance(memory, wasmtime.Memory) or count == 0 or count > SUBSCRIPTIONS_MAX:
            return ERRNO_INVAL
        try:
            return self._poll(memory, caller, subs, events, count, nevents)
        except (IndexError, ValueError, struct.error, wasmtime.WasmtimeError):
            return ERRNO_FAULT

    def _clock_time_get(self, caller: wasmtime.Caller, clock_id: int, _precision: int, result: int) -> int:
        memory = caller.get("memory")
        if not isinstance(memory, wasmtime.Memory):
            return ERRNO_BADF
        if clock_id not in _CLOCKS:
            return ERRNO_INVAL
        try:
            memory.write(caller, struct.pack("<Q", _CLOCKS[clock_id]()), result)
        except (IndexError, ValueError, wasmtime.WasmtimeError):
            return ERRNO_FAULT
        return ERRNO_SUCCESS

    def _check_deadline(self) -> None:
        """A guest that loops on a host call is between epoch checks there: end it at the deadline."""
        if self.deadline and time.monotonic() > self.deadline:
            self.stop_reason = "timeout"
            raise _Stop("timeout")

    def _use_native_stdio(self, wasi: wasmtime.WasiConfig) -> None:
        """wasmtime's own stdio, for runs that may open files. Files, not ``stdout_custom``: those
        callbacks run Python on wasmtime's tokio threads, which panic at interpreter exit. The epoch
        ticker watches the files' sizes and truncates one past the cap (so a flood cannot fill the
        disk); the run is then reported as OutputLimit, though the guest runs on to its own end."""

        self._stdin_from_file(wasi)
        paths = [os.path.join(self._stdio_dir, name) for name in ("stdout", "stderr")]
        for path in paths:
            open(path, "wb").close()
        wasi.stdout_file, wasi.stderr_file = paths

    def _stdin_from_file(self, wasi: wasmtime.WasiConfig) -> None:
        import tempfile

        self._stdio_dir = tempfile.mkdtemp(prefix="faasctl-stdio-")
        path = os.path.join(self._stdio_dir, "stdin")
        with open(path, "wb") as handle:
            handle.write(self.spec.stdin)
        wasi.stdin_file = path

    def _watch_stdio(self) -> None:
        """Ticker callback: keep the first ``max_output`` bytes of each stream, drop the rest."""
        self._drain_stdio(truncate=True)

    def _collect_native_stdio(self) -> None:
        import shutil

        self._drain_stdio(truncate=False)
        shutil.rmtree(self._stdio_dir, ignore_errors=True)

    def _drain_stdio(self, truncate: bool) -> None:
        """Take the first ``max_output`` bytes of each stdio file and flag a stream that went past it;
        while the run goes on (``truncate``), empty a file past the cap so a flood cannot fill the disk."""
        for name, buffer in (("stdout", self.stdout), ("stderr", self.stderr)):
            path = os.path.join(self._stdio_dir, name)
            try:
                over = os.path.getsize(path) > self.limits.max_output
                if truncate and not over:
                    continue
                if not buffer:
                    with open(path, "rb") as handle:
                        buffer.extend(handle.read(self.limits.max_output))
                if over and name == "stdout":
                    self.stop_reason = "output"
                elif over:
                    self.logs_truncated = True
                if truncate:
                    os.truncate(path, 0)
            except OSError:
                pass

    def _capture(self, fd: int, memory: wasmtime.Memory, caller: wasmtime.Caller, iovs: int, count: int) -> int:
        sink = self.stdout if fd == 1 else self.stderr
        vectors = _iovecs(memory, caller, iovs, count)
        if sum(length for _, length in vectors) > MAX_IO_BYTES:
            raise _TooLarge()
        total = 0
        for ptr, length in vectors:
            if length == 0:
                continue
            room = self.limits.max_output - len(sink)
            data = memory.read(caller, ptr, ptr + min(length, max(room, 0)))
            if len(data) != min(length, max(room, 0)):
                raise IndexError("iovec out of bounds")
            sink.extend(data)
            total += length
            if length > room:
                if fd == 1:
                    self.stop_reason = "output"
                    raise _Stop("output limit")
                self.logs_truncated = True
        return total

    def _poll(self, memory: wasmtime.Memory, caller: wasmtime.Caller, subs: int, events: int,
              count: int, nevents: int) -> int:
        raw = memory.read(caller, subs, subs + 48 * count)
        ready: list[tuple[int, int, int]] = []  # (userdata, type, nbytes)
        clocks: list[tuple[float, int]] = []    # (seconds to wait, userdata)
        for i in range(count):
            userdata, tag = struct.unpack_from("<QB", raw, 48 * i)
            if tag == 0:
                clock_id, timeout, _precision, flags = struct.unpack_from("<I4xQQH", raw, 48 * i + 16)
                wait = timeout / 1e9
                if flags & 1:  # absolute time on the guest's clock, which is ours (clock_time_get)
                    wait = max(0, timeout - _CLOCKS.get(clock_id, time.monotonic_ns)()) / 1e9
                clocks.append((wait, userdata))
            else:
                (fd,) = struct.unpack_from("<I", raw, 48 * i + 16)
                pending = len(self.spec.stdin) - self._stdin_pos if fd == 0 else 0
                ready.append((userdata, tag, pending))
        if not ready and clocks:
            wait, _ = min(clocks)
            remaining = self.deadline - time.monotonic()
            if wait >= remaining:
                time.sleep(max(remaining, 0))
                self.stop_reason = "timeout"
                raise _Stop("timeout")
            time.sleep(wait)
            ready = [(userdata, 0, 0) for w, userdata in clocks if w <= wait]
        out = bytearray(32 * len(ready))
        for i, (userdata, kind, nbytes) in enumerate(ready):
            struct.pack_into("<QHBxxxxxQH", out, 32 * i, userdata, 0, kind, nbytes, 0)
        memory.write(caller, bytes(out), events)
        memory.write(caller, struct.pack("<I", len(ready)), nevents)
        return ERRNO_SUCCESS

    # -- running ---------------------------------------------------------------------------------

    def define(self, module: str, name: str, ty: wasmtime.FuncType, func: Callable[..., object]) -> None:
        """Add a host import (used for the ``faasctl`` plugin module of raw wasm)."""
        self.linker.define_func(module, name, ty, func, access_caller=True)

    def run(self, module: wasmtime.Module, entry: Callable[[Sandbox, wasmtime.Instance], int | None],
            label: str = "module") -> SandboxOutcome:
        """Instantiate ``module`` and call ``entry``; limits and traps become a classified error.

        Raises ``ArtifactError`` when the module cannot be linked (unsatisfiable imports).
        """
        instance: wasmtime.Instance | None = None
        exit_code: int | None = None
        error: RunError | None = None
        if self.native_stdio:
            self.host.ticker.watch(self._watch_stdio)
        with self.host.ticker:
            self.store.set_epoch_deadline(self.host.ticker.ticks_for(self.limits.timeout))
            self.deadline = time.monotonic() + self.limits.timeout
            try:
                instance = self.linker.instantiate(self.store, module)
                code = entry(self, instance)
                exit_code = 0 if code is None else int(code)
            except wasmtime.ExitTrap as exc:
                exit_code = exc.code
            except (wasmtime.Trap, _Stop) as exc:  # wasmtime re-raises a host function's own exception
                error = self._classify_trap(exc)
            except wasmtime.WasmtimeError as exc:
                if instance is None and "import" in str(exc):
                    raise ArtifactError(f"{label} cannot be linked: {_link_error(exc)}") from None
                error = self._classify_trap(exc)
        if self.native_stdio:
            self.host.ticker.unwatch(self._watch_stdio)
            self._collect_native_stdio()
        elif self._stdio_dir:
            import shutil

            shutil.rmtree(self._stdio_dir, ignore_errors=True)
        if error is None and self.stop_reason == "output":
            error = self._classify_trap(_Stop("output limit"))
        peak = self._memory_peak(instance)
        # wasmtime-py exposes no resource limiter, so a refused memory.grow is inferred: a run that failed
        # with its memory within max(2 pages, 1/16 of the limit) of the limit hit the limit (a guest that
        # grows in 1 MiB steps fails up to 1 MiB short of it).
        near = peak is not None and peak + max(2 * PAGE, self.limits.memory // 16) > self.limits.memory
        if error is not None and error.type == "Trap" and near:
            error = memory_limit_error(self.limits)
        if error is not None and instance is None and "exceeds memory limits" in (error.detail or ""):
            # wasmtime refused the module's initial memory: the limit is below what it needs to start
            error = memory_limit_error(self.limits)._replace(detail=error.detail)
        outcome = SandboxOutcome(
            exit_code=exit_code,
            stdout=bytes(self.stdout),
            stderr=bytes(self.stderr),
            error=error,
            memory_peak_bytes=peak,
            fuel_used=self._fuel - self.store.get_fuel() if self.metered else None,
            near_memory_limit=near,
            logs_truncated=self.logs_truncated,
        )
        return outcome

    def _memory_peak(self, instance: wasmtime.Instance | None) -> int | None:
        if instance is None:
            return None
        total = 0
        for item in instance.exports(self.store).values():
            if isinstance(item, wasmtime.Memory):
                total += item.data_len(self.store)
        return total

    def _classify_trap(self, exc: Exception) -> RunError:
        return classify_trap(exc, self.stop_reason, self.limits)


def classify_trap(exc: Exception, stop_reason: str | None, limits: Limits) -> RunError:
    """The run error of a trap, or of a host function that stopped the guest for ``stop_reason``."""
    if stop_reason == "output":
        return RunError("OutputLimit", f"output limit of {format_size(limits.max_output)} exceeded")
    code = getattr(exc, "trap_code", None)
    code_name = getattr(code, "name", None)
    if stop_reason == "timeout" or code_name == "INTERRUPT":
        return RunError("Timeout", f"timed out after {format_duration(limits.timeout)}")
    if code_name == "OUT_OF_FUEL":
        return RunError("FuelExhausted", f"fuel limit of {limits.fuel} instructions exhausted")
    text = str(exc)
    message = _TRAP_TEXT.get(code_name or "") or _trap_message(text)
    return RunError("Trap", f"wasm trap: {message}", detail=text)


def memory_limit_error(limits: Limits) -> RunError:
    return RunError("MemoryLimit", f"memory limit of {format_size(limits.memory)} exceeded")


def to_execution(outcome: SandboxOutcome, limits: Limits, logs: list[str], error: RunError | None,
                 load_ms: float | None, oom_markers: tuple[str, ...] | list[str] = ()) -> Execution:
    """The end every wasm adapter shares: note truncated logs, make a non-zero exit a FunctionError,
    and make a failure at the memory limit, or one the guest itself reported as out of memory (its
    allocator was refused by the store's limit), a MemoryLimit."""
    if outcome.logs_truncated:
        logs.append(f"[faasctl] logs truncated at {format_size(limits.max_output)}")
    if error is None and outcome.exit_code:
        error = RunError("FunctionError", f"exited with code {outcome.exit_code}")
    if error is not None and error.type in ("FunctionError", "Trap"):
        text = "\n".join([error.message, error.detail or "", *logs[-5:]])
        if outcome.near_memory_limit or any(marker in text for marker in oom_markers):
            error = memory_limit_error(limits)
    return Execution(output=outcome.stdout, logs=logs, error=error, memory_peak_bytes=outcome.memory_peak_bytes,
                     fuel_used=outcome.fuel_used, cold_start_ms=load_ms)


def _iovecs(memory: wasmtime.Memory, caller: wasmtime.Caller, iovs: int, count: int) -> list[tuple[int, int]]:
    raw = memory.read(caller, iovs, iovs + 8 * count)
    if len(raw) != 8 * count:
        raise IndexError("iovec array out of bounds")
    return [struct.unpack_from("<II", raw, 8 * i) for i in range(count)]


_BACKTRACE_HEADER = "error while executing at wasm backtrace:"


def _trap_message(text: str) -> str:
    """The cause of a trap. wasmtime puts a trap raised inside a host call after its backtrace, under
    ``Caused by:``, so the first line alone would only say ``error while executing at wasm backtrace:``."""
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    for line in reversed(lines):
        if line.startswith("wasm trap:"):
            return line[len("wasm trap:") :].strip()
    if "Caused by:" in lines:
        causes = lines[lines.index("Caused by:") + 1 :]
        if causes:
            return "; ".join(cause.split(":", 1)[1].strip() if cause[:1].isdigit() else cause for cause in causes[:3])
    meaningful = [line for line in lines if line != _BACKTRACE_HEADER and not _is_frame(line)]
    return meaningful[0] if meaningful else _first_line(Exception(text))


def _is_frame(line: str) -> bool:
    """A backtrace frame: ``0:  0x2e - <unknown>!<wasm function 1>`` or its ``at file:line`` follow-up."""
    head, _, rest = line.partition(":")
    return (head.isdigit() and " - " in rest) or line.startswith("at ")


def _link_error(exc: BaseException) -> str:
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    return "; ".join(lines[:3])
