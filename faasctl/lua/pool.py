"""The host side of Lua runs: a small pool of forked, reused worker processes.

A worker is forked from this process (so it starts with lupa already imported, in a few
milliseconds), serves runs one at a time, and is killed and replaced when a run ends on a limit or
overruns its deadline. Forking instead of spawning keeps the first run cheap; reusing keeps later
runs well under a millisecond of overhead; a process boundary is the only hard stop for Lua work
stuck inside one C function.
"""

from __future__ import annotations

import os
import select
import signal
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from faasctl.errors import EXIT_INTERNAL
from faasctl.lua import protocol

if TYPE_CHECKING:
    from faasctl.cancel import CancelToken

# How long after the run's own deadline the host kills a worker that has not answered. The worker
# ends itself at the deadline (watchdog) or one second later (SIGALRM); this is the last resort.
HOST_GRACE = 2.0
# How often a host waiting on a cancellable run looks at its token (seconds).
CANCEL_CHECK = 0.05

CallHandler = Callable[[str, str, bytes], tuple[bytes | None, str | None]]


@dataclass
class WorkerDied(Exception):
    """The worker ended without a result: killed at the deadline, or crashed."""

    timed_out: bool
    signal_name: str | None
    stderr: str


class WorkerCancelled(Exception):
    """The run was cancelled; its worker was killed (a process is the one sure way to stop Lua)."""


class Worker:
    """One forked Lua worker and the pipes to it."""

    def __init__(self) -> None:
        from faasctl.lua.child import prelude_bytecode

        prelude_bytecode()  # compiled here once, inherited by every fork
        request_r, request_w = os.pipe()
        reply_r, reply_w = os.pipe()
        err_r, err_w = os.pipe()
        pid = os.fork()
        if pid == 0:  # pragma: no cover - runs in the child
            _child(request_r, reply_w, err_w)
        for fd in (request_r, reply_w, err_w):
            os.close(fd)
        self.pid = pid
        self.to_child, self.from_child, self.err = request_w, reply_r, err_r
        os.set_blocking(err_r, False)
        self.alive = True

    def is_alive(self) -> bool:
        if self.alive:
            try:
                done, _ = os.waitpid(self.pid, os.WNOHANG)
            except ChildProcessError:
                done = self.pid
            if done:
                self.alive = False
                self._close()
        return self.alive

    def run(self, header: dict[str, Any], blobs: list[bytes], timeout: float,
            on_call: CallHandler, cancel: CancelToken | None = None) -> tuple[dict[str, Any], bytes]:
        """Send one request and serve its plugin calls until the result arrives.

        Raises ``WorkerDied`` when the worker ends without answering (it is then reaped), and
        ``WorkerCancelled`` when ``cancel`` is set first (the worker is then killed)."""
        hard_deadline = time.monotonic() + timeout + HOST_GRACE
        try:
            protocol.send(self.to_child, header, blobs)
            while True:
                if cancel is not None:
                    self._wait_readable(hard_deadline, cancel)
                reply, parts = protocol.recv(self.from_child, hard_deadline)
                if reply.get("kind") == "result":
                    if reply.get("exiting"):
                        self.reap()
                    return reply, parts[0] if parts else b""
                result, error = on_call(str(reply.get("plugin")), str(reply.get("action")), parts[0])
                try:
                    protocol.send(self.to_child, {"kind": "reply", "error": error},
                                  [result if result is not None else b""])
                except BrokenPipeError:
                    pass  # it ended meanwhile; its result frame, if any, is still readable
        except protocol.ChannelTimeout:
            self.kill()
            raise WorkerDied(True, "SIGKILL", self._stderr()) from None
        except (protocol.ChannelClosed, BrokenPipeError, ValueError):
            raise self._died() from None

    def _wait_readable(self, deadline: float, cancel: CancelToken) -> None:
        """Wait for the worker's next frame, looking at ``cancel`` every CANCEL_CHECK seconds."""
        while True:
            if cancel.cancelled:
                self.kill()
                raise WorkerCancelled()
            remaining = deadline - time.monotonic()
            if remaining <= 0 or select.select([self.from_child], [], [], min(remaining, CANCEL_CHECK))[0]:
                return

    def reap(self) -> None:
        """Wait for a worker that said it is exiting (it does so right after its last frame)."""
        try:
            os.waitpid(self.pid, 0)
        except ChildProcessError:
            pass
        self.alive = False
        self._close()

    def _died(self) -> WorkerDied:
        try:
            _, status = os.waitpid(self.pid, 0)
        except ChildProcessError:
            status = 0
        self.alive = False
        stderr = self._stderr()
        self._close()
        name = signal.Signals(os.WTERMSIG(status)).name if os.WIFSIGNALED(status) else None
        return WorkerDied(name == "SIGALRM", name, stderr)

    def _stderr(self) -> str:
        try:
            return os.read(self.err, 65536).decode("utf-8", "replace")
        except (BlockingIOError, OSError):
            return ""

    def kill(self) -> None:
        if not self.alive:
            return
        try:
            os.kill(self.pid, signal.SIGKILL)
            os.waitpid(self.pid, 0)
        except (ProcessLookupError, ChildProcessError):
            pass
        self.alive = False
        self._close()

    def stop(self) -> None:
        """Ask an idle worker to leave: closing its request pipe makes it exit."""
        if self.alive:
            self._close()
            try:
                os.waitpid(self.pid, 0)
            except ChildProcessError:
                pass
            self.alive = False

    def _close(self) -> None:
        for name in ("to_child", "from_child", "err"):
            fd = getattr(self, name, -1)
            if fd >= 0:
                try:
                    os.close(fd)
                except OSError:
                    pass
                setattr(self, name, -1)


def _child(request_fd: int, reply_fd: int, err_fd: int) -> None:  # pragma: no cover - child only
    """In the forked child: keep only our pipes, reset signals, serve. Never returns."""
    try:
        devnull = os.open(os.devnull, os.O_RDWR)
        os.dup2(devnull, 0)
        os.dup2(devnull, 1)  # stdout of faasctl is the result: nothing here may write to it
        os.dup2(err_fd, 2)   # a Lua panic message lands here, for the host to classify
        keep = sorted({0, 1, 2, request_fd, reply_fd})
        limit = os.sysconf("SC_OPEN_MAX") if hasattr(os, "sysconf") else 4096
        for low, high in zip(keep, [*keep[1:], limit], strict=True):
            if high > low + 1:
                os.closerange(low + 1, high)
        for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGALRM, signal.SIGPIPE):
            signal.signal(sig, signal.SIG_DFL)
        from faasctl.lua.child import main

        main(request_fd, reply_fd)
    finally:
        os._exit(EXIT_INTERNAL)


class WorkerPool:
    """Idle workers kept for reuse; safe to use from several threads (one run per worker)."""

    def __init__(self, max_idle: int | None = None) -> None:
        self.max_idle = max_idle or max(1, os.cpu_count() or 1)
        self._idle: list[Worker] = []
        self._lock = threading.Lock()
        self._closed = False

    def acquire(self) -> tuple[Worker, float | None]:
        """An idle worker, or a newly forked one with the milliseconds its fork took."""
        with self._lock:
            while self._idle:
                worker = self._idle.pop()
                if worker.is_alive():
                    return worker, None
        started = time.perf_counter()
        worker = Worker()
        return worker, (time.perf_counter() - started) * 1000

    def release(self, worker: Worker) -> None:
        with self._lock:
            if worker.alive and not self._closed and len(self._idle) < self.max_idle:
                self._idle.append(worker)
                return
        worker.stop()

    def replace(self) -> None:
        """After a worker was lost, fork its successor now so the next run does not wait for it."""
        with self._lock:
            if self._idle or self._closed:
                return
        self.release(Worker())

    def close(self) -> None:
        """Stop the idle workers; busy ones stop when their run ends (``release`` after close)."""
        with self._lock:
            self._closed = True
            idle, self._idle = self._idle, []
        for worker in idle:
            worker.stop()
