"""A bounded pool of worker threads behind a bounded queue, with a watchdog for runs that overstay.

Why not ``ThreadPoolExecutor``: its queue is unbounded (a flood of requests would pile up instead of getting
429 at once), and a worker stuck in native code (a Lua C function no hook can stop) would be lost for good.
Here ``submit`` refuses work when ``workers + queue`` jobs are already admitted, and the watchdog fails a job
that runs past its deadline plus a grace period, frees its slot and starts a replacement worker, so one
runaway never takes the server's capacity with it.
"""

from __future__ import annotations

import collections
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any

# Seconds past a job's own time limit before the watchdog gives up on it. Generous on purpose: a first run
# also compiles its runtime (CPython takes many seconds) outside the guest's deadline, and wasm guests are
# stopped by their epoch deadline anyway; the watchdog is for runs stuck where no deadline reaches.
GRACE = 60.0
MAX_ABANDONED_FACTOR = 4  # stuck threads tolerated per configured worker before no more replacements


class QueueFull(Exception):
    """Every worker is busy and the queue is full."""


@dataclass
class Job:
    call: Callable[[], Any]
    deadline_s: float  # the run's own time limit
    on_abandon: Callable[[], Any]  # the value the future gets when the watchdog gives up
    future: Future[Any] = field(default_factory=Future)
    started: float | None = None
    settled: bool = False


class RunPool:
    def __init__(self, workers: int, queue_size: int, grace: float = GRACE) -> None:
        self.workers = workers
        self.grace = grace
        self.queue_size = queue_size
        self._cond = threading.Condition()
        self._waiting: collections.deque[Job] = collections.deque()
        self._running: dict[int, Job] = {}  # worker id -> job
        self._admitted = 0
        self._closed = False
        self._next_worker = 0
        self._abandoned = 0
        for _ in range(workers):
            self._spawn()
        threading.Thread(target=self._watch, name="faasctl-watchdog", daemon=True).start()

    # -- public -----------------------------------------------------------------------------------------

    def reserve(self) -> None:
        """Take a slot for a job still to come, or raise ``QueueFull`` at once. The server reserves before
        it reads and parses a request body, so a flood of large bodies is refused before it costs memory;
        the slot is then used by ``submit(..., reserved=True)`` or handed back with ``unreserve``."""
        with self._cond:
            if self._closed or self._admitted >= self.workers + self.queue_size:
                raise QueueFull()
            self._admitted += 1

    def unreserve(self) -> None:
        with self._cond:
            self._admitted -= 1

    def submit(self, call: Callable[[], Any], deadline_s: float, on_abandon: Callable[[], Any], *,
               reserved: bool = False) -> Future[Any]:
        """Admit a job (into its reserved slot) or raise ``QueueFull`` at once."""
        if not reserved:
            self.reserve()
        job = Job(call, deadline_s, on_abandon)
        with self._cond:
            self._waiting.append(job)
            self._cond.notify()
        return job.future

    def queue_depth(self) -> int:
        with self._cond:
            return len(self._waiting)

    def running(self) -> int:
        with self._cond:
            return len(self._running)

    def abandoned(self) -> int:
        with self._cond:
            return self._abandoned

    def close(self) -> None:
        with self._cond:
            self._closed = True
            self._cond.notify_all()

    # -- workers ----------------------------------------------------------------------------------------

    def _spawn(self) -> None:
        self._next_worker += 1
        worker_id = self._next_worker
        threading.Thread(target=self._work, args=(worker_id,), name=f"faasctl-worker-{worker_id}",
                         daemon=True).start()

    def _work(self, worker_id: int) -> None:
        while True:
            with self._cond:
                while not self._waiting and not self._closed:
                    self._cond.wait()
                if self._closed:
                    return
                job = self._waiting.popleft()
                job.started = time.monotonic()
                self._running[worker_id] = job
            try:
                value: Any = job.call()
                error: BaseException | None = None
            except BaseException as exc:  # handed to the waiting request
                value, error = None, exc
            with self._cond:
                abandoned = job.settled
                if not abandoned:
                    job.settled = True
                    self._running.pop(worker_id, None)
                    self._admitted -= 1
            if not abandoned:
                if error is not None:
                    job.future.set_exception(error)
                else:
                    job.future.set_result(value)
            else:
                return  # a replacement took this worker's place while it was stuck

    def _watch(self) -> None:
        while True:
            time.sleep(0.25)
            now = time.monotonic()
            overdue: list[Job] = []
            with self._cond:
                if self._closed:
                    return
                for worker_id, job in list(self._running.items()):
                    if job.started is not None and now - job.started > job.deadline_s + self.grace:
                        job.settled = True
                        del self._running[worker_id]
                        self._admitted -= 1
                        self._abandoned += 1
                        overdue.append(job)
                        if self._abandoned <= self.workers * MAX_ABANDONED_FACTOR:
                            self._spawn()
            for job in overdue:
                try:
                    job.future.set_result(job.on_abandon())
                except BaseException as exc:
                    job.future.set_exception(exc)
