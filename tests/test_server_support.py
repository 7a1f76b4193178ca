"""A real ``faasctl serve`` process on a free port with its own store, and a small HTTP client.

Shared by the server test modules (and bench/load_bench.py); it holds no tests itself.
"""

from __future__ import annotations

import http.client
import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

LISTENING = re.compile(r"listening on http://([^ ]+):(\d+)")


def faasctl_command() -> list[str]:
    exe = Path(sys.executable).with_name("faasctl")
    return [str(exe)] if exe.exists() else [sys.executable, "-m", "faasctl"]


class Reply:
    def __init__(self, status: int, headers: dict[str, str], body: bytes) -> None:
        self.status = status
        self.headers = headers
        self.body = body

    @property
    def text(self) -> str:
        return self.body.decode("utf-8")

    def json(self) -> Any:
        return json.loads(self.body)

    def __repr__(self) -> str:
        return f"Reply({self.status}, {self.body[:300]!r})"


class Server:
    """``faasctl serve --port 0 --store STORE ARGS...`` in a subprocess; ``stop()`` always kills it."""

    def __init__(self, store: Path, *args: str, env: dict[str, str] | None = None, token: str | None = None) -> None:
        self.store = store
        self.args = args
        self.env = env or {}
        self.token = token
        self.proc: subprocess.Popen[bytes] | None = None
        self.port = 0
        self.stderr_lines: list[str] = []

    def start(self, timeout: float = 60) -> Server:
        command = [*faasctl_command(), "serve", "--port", "0", "--store", str(self.store), *self.args]
        self.proc = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.PIPE, env={**os.environ, **self.env})
        found = threading.Event()

        def drain() -> None:
            assert self.proc and self.proc.stderr
            for raw in self.proc.stderr:
                line = raw.decode("utf-8", "replace").rstrip("\n")
                self.stderr_lines.append(line)
                match = LISTENING.search(line)
                if match:
                    self.port = int(match.group(2))
                    found.set()

        threading.Thread(target=drain, daemon=True).start()
        deadline = time.monotonic() + timeout
        while not found.wait(0.05):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError("server did not start: " + "\n".join(self.stderr_lines))
        return self

    def stop(self, sig: int = signal.SIGKILL) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(sig)
            self.proc.wait(timeout=30)

    def __enter__(self) -> Server:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def request(self, method: str, path: str, body: Any = None, *, raw: bytes | None = None,
                headers: dict[str, str] | None = None, timeout: float = 120) -> Reply:
        """One request on a fresh connection; ``body`` is sent as JSON, ``raw`` as given."""
        data = raw if raw is not None else (None if body is None else json.dumps(body).encode())
        sent = {"Content-Type": "application/json"} if data is not None else {}
        if self.token:
            sent["Authorization"] = f"Bearer {self.token}"
        sent.update(headers or {})
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        try:
            connection.request(method, path, body=data, headers=sent)
            response = connection.getresponse()
            return Reply(response.status, {k.lower(): v for k, v in response.getheaders()}, response.read())
        finally:
            connection.close()

    def wait_state(self, invocation_id: int, states: tuple[str, ...], timeout: float = 120) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while True:
            reply = self.request("GET", f"/v1/invocations/{invocation_id}")
            assert reply.status == 200, reply
            record = reply.json()
            if record["state"] in states:
                return record
            if time.monotonic() > deadline:
                raise AssertionError(f"invocation {invocation_id} stayed {record['state']}")
            time.sleep(0.02)


def runtime_available(name: str) -> bool:
    """Whether the registry in this checkout has a runtime (Lua lands in another issue)."""
    from faasctl.registry import Registry

    return name in Registry.load().names()
