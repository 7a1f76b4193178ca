"""Running the server: one or several server processes on one listening socket and one SQLite store.

Why several processes: one Python process does the HTTP work, JSON, store writes and hand-offs under one
GIL and plateaus at about one core, while the machine has more. ``processes`` > 1 forks that many servers
after the socket is bound; the kernel hands each new connection to one of them (they all accept on the same
socket), each has its own pool, and they share the store (SQLite WAL: acknowledged writes are committed,
whichever process made them). The parent only supervises: it restarts a server process that dies, stops
them all on SIGTERM/SIGINT, and they die with it (``PR_SET_PDEATHSIG``) if it is killed.
"""

from __future__ import annotations

import os
import signal
import socket
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from faasctl.server.events import EventLog

METRICS_PERIOD = 1.0  # seconds between a server process's metric snapshots (several processes only)
PURGE_PERIOD = 60.0


@dataclass(frozen=True)
class ServeConfig:
    engine: Any
    store_path: Path
    workers: int
    queue: int
    token: str | None
    retention: float
    max_body: int
    allowed_paths: tuple[Path, ...]
    processes: int
    log_level: str
    max_connections: int
    header_timeout: float
    body_timeout: float = 30.0


def serve(config: ServeConfig, sock: socket.socket) -> int:
    """Serve until SIGINT/SIGTERM; returns the exit code."""
    from faasctl.server.store import Store

    log = EventLog(config.log_level)
    store = Store(config.store_path, config.retention)
    try:
        from faasctl.server.service import recover

        interrupted = recover(store)
    finally:
        store.close()
    host, port = sock.getsockname()[:2]
    shown = f"[{host}]" if ":" in host else host
    if interrupted:
        sys.stderr.write(f"faasctl serve: {interrupted} invocations left by the previous run marked "
                         "failed: interrupted by restart\n")
    supervisor = Supervisor(config, sock, log) if config.processes > 1 else None  # signals handled from here
    processes = f"{config.processes} processes × " if config.processes > 1 else ""
    sys.stderr.write(f"faasctl serve: listening on http://{shown}:{port} (store {config.store_path}, "
                     f"{processes}{config.workers} workers, queue {config.queue}"
                     f"{', token required' if config.token else ''})\n")
    sys.stderr.flush()
    if supervisor is None:
        return _serve_process(config, sock, 0, log)
    return supervisor.run()


def _serve_process(config: ServeConfig, sock: socket.socket, slot: int, log: EventLog) -> int:
    import uvicorn

    from faasctl.server.app import build_app
    from faasctl.server.connections import guarded_protocol
    from faasctl.server.pool import RunPool
    from faasctl.server.service import Service
    from faasctl.server.store import Store

    store = Store(config.store_path, config.retention)
    service = Service(config.engine, store, RunPool(config.workers, config.queue), kv_path=str(config.store_path),
                      allowed_paths=config.allowed_paths, max_source=config.max_body, log=log, slot=slot,
                      processes=config.processes)
    app = build_app(service, token=config.token, max_body=config.max_body, body_timeout=config.body_timeout)
    _start_housekeeping(service, publish=config.processes > 1)
    uvicorn_config = uvicorn.Config(
        app, log_level="error" if log.enabled("error") else "critical", access_log=False, lifespan="off",
        timeout_keep_alive=5, limit_concurrency=None, server_header=False, timeout_graceful_shutdown=5,
        http=guarded_protocol(config.max_connections, config.header_timeout),
    )
    try:
        uvicorn.Server(uvicorn_config).run(sockets=[sock])
    finally:
        app.state.body_parser.close()
        service.pool.close()
        store.close()
    return 0


def _start_housekeeping(service: Any, *, publish: bool) -> None:
    """Expired results are deleted once a minute (reads already hide them); with several processes, each
    publishes its metrics once a second for the others' ``/metrics``."""

    def loop() -> None:
        last_purge = time.monotonic()
        while True:
            time.sleep(METRICS_PERIOD if publish else PURGE_PERIOD)
            try:
                if publish:
                    service.publish_metrics()
                if time.monotonic() - last_purge >= PURGE_PERIOD:
                    service.store.purge_expired()
                    last_purge = time.monotonic()
            except Exception:  # a closed store at shutdown
                return

    threading.Thread(target=loop, name="faasctl-housekeeping", daemon=True).start()


# -- several processes ----------------------------------------------------------------------------------

class Supervisor:
    """The parent of several server processes: restarts one that dies, stops all on SIGTERM/SIGINT."""

    def __init__(self, config: ServeConfig, sock: socket.socket, log: EventLog) -> None:
        self.config, self.sock, self.log = config, sock, log
        self.children: dict[int, int] = {}  # pid -> slot
        self.stopping = False
        signal.signal(signal.SIGTERM, self.stop)
        signal.signal(signal.SIGINT, self.stop)

    def stop(self, signum: int = signal.SIGTERM, frame: Any = None) -> None:
        self.stopping = True
        for pid in list(self.children):
            _signal(pid, signal.SIGTERM)

    def run(self) -> int:
        for slot in range(self.config.processes):
            if not self.stopping:
                self.children[_fork(self.config, self.sock, slot, self.log)] = slot
        if self.stopping:  # a signal came while forking
            self.stop()
        started = time.monotonic()
        while self.children:
            try:
                pid, status = os.wait()
            except ChildProcessError:
                break
            slot = self.children.pop(pid, None)
            if slot is None or self.stopping:
                continue
            self.log.emit("error", "server process ended; starting another", slot=slot, pid=pid,
                          status=os.waitstatus_to_exitcode(status))
            if time.monotonic() - started < 2:  # dying at start-up: a configuration problem, do not loop
                self.stop()
                continue
            self.children[_fork(self.config, self.sock, slot, self.log)] = slot
        return 0


def _fork(config: ServeConfig, sock: socket.socket, slot: int, log: EventLog) -> int:
    parent = os.getpid()
    stops = {signal.SIGTERM, signal.SIGINT}
    # blocked across the fork, so a stop signal reaching the child before it resets the parent's handlers
    # waits for them to be reset instead of running the supervisor's handler in the child
    signal.pthread_sigmask(signal.SIG_BLOCK, stops)
    pid = os.fork()
    if pid:
        signal.pthread_sigmask(signal.SIG_UNBLOCK, stops)
        return pid
    code = 70  # pragma: no cover - runs in the child
    try:
        _die_with_parent(parent)
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        signal.signal(signal.SIGINT, signal.SIG_DFL)
        signal.pthread_sigmask(signal.SIG_UNBLOCK, stops)
        code = _serve_process(config, sock, slot, log)
    except BaseException as exc:
        log.emit("error", "server process failed", slot=slot, error=f"{type(exc).__name__}: {exc}")
    finally:
        sys.stderr.flush()
        os._exit(code)


def _die_with_parent(parent: int) -> None:
    """Ask Linux to SIGKILL this process when its parent dies, so a killed server leaves no orphans."""
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGKILL, 0, 0, 0)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):  # not Linux: watch the parent instead
        def watch() -> None:
            while os.getppid() == parent:
                time.sleep(0.5)
            os._exit(1)

        threading.Thread(target=watch, daemon=True).start()
    if os.getppid() != parent:  # the parent died before the request took effect
        os._exit(1)


def _signal(pid: int, signum: int) -> None:
    try:
        os.kill(pid, signum)
    except ProcessLookupError:
        pass
