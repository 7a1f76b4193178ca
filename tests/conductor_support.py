"""A small Conductor stand-in for the worker tests: no Conductor server can run on these machines (it needs a
JVM and its own downloads), so this HTTP server implements the task endpoints the conductor-python SDK calls,
as Conductor's API documents them (docs/devguide/api/task and metadata):

- ``POST /api/metadata/taskdefs``: a list of task definitions (created or replaced).
- ``GET /api/tasks/poll/batch/{taskType}?workerid=&count=&timeout=``: a long poll; up to ``count`` tasks,
  waiting at most ``timeout`` ms for the first; ``[]`` when none came. Polled tasks become IN_PROGRESS.
- ``POST /api/tasks``: a task result (``taskId``, ``status``, ``outputData``, ``logs``,
  ``reasonForIncompletion``); the logs are kept as the task's execution logs.
- ``GET /api/tasks/{taskId}`` and ``GET /api/tasks/{taskId}/log``: what a client reads back.

Everything it is asked is recorded in ``requests``, so tests can check what the worker sent.
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlparse


@dataclass
class FakeConductor:
    task_defs: dict[str, dict[str, Any]] = field(default_factory=dict)
    tasks: dict[str, dict[str, Any]] = field(default_factory=dict)
    logs: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    queues: dict[str, deque] = field(default_factory=dict)
    requests: list[tuple[str, str]] = field(default_factory=list)
    lock: threading.Condition = field(default_factory=threading.Condition)

    def enqueue(self, task_type: str, ref: str, input_data: dict[str, Any]) -> str:
        task_id = str(uuid.uuid4())
        with self.lock:
            self.tasks[task_id] = {"taskId": task_id, "taskType": task_type, "taskDefName": task_type,
                                   "referenceTaskName": ref, "workflowInstanceId": f"wf-{ref}",
                                   "status": "SCHEDULED", "inputData": input_data, "outputData": {},
                                   "retryCount": 0, "pollCount": 0, "seq": len(self.tasks) + 1,
                                   "responseTimeoutSeconds": 180}
            self.queues.setdefault(task_type, deque()).append(task_id)
            self.lock.notify_all()
        return task_id

    def wait_done(self, task_id: str, timeout: float = 60) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        with self.lock:
            while self.tasks[task_id]["status"] in ("SCHEDULED", "IN_PROGRESS"):
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError(f"task {task_id} is still {self.tasks[task_id]['status']}")
                self.lock.wait(left)
            return dict(self.tasks[task_id])

    def wait_polled(self, task_id: str, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        with self.lock:
            while self.tasks[task_id]["status"] == "SCHEDULED":
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError(f"task {task_id} was never polled")
                self.lock.wait(left)

    # -- the endpoints -----------------------------------------------------------------------------------

    def batch_poll(self, task_type: str, worker_id: str, count: int, timeout_ms: int) -> list[dict[str, Any]]:
        deadline = time.monotonic() + timeout_ms / 1000
        with self.lock:
            queue = self.queues.setdefault(task_type, deque())
            while not queue and time.monotonic() < deadline:
                self.lock.wait(max(0.0, deadline - time.monotonic()))
            polled = []
            while queue and len(polled) < count:
                task = self.tasks[queue.popleft()]
                task.update(status="IN_PROGRESS", workerId=worker_id, pollCount=task["pollCount"] + 1,
                            startTime=int(time.time() * 1000))
                polled.append(dict(task))
            self.lock.notify_all()
            return polled

    def update(self, result: dict[str, Any]) -> str:
        with self.lock:
            task = self.tasks[result["taskId"]]
            task.update(status=result["status"], outputData=result.get("outputData") or {},
                        reasonForIncompletion=result.get("reasonForIncompletion"),
                        workerId=result.get("workerId"), endTime=int(time.time() * 1000))
            self.logs.setdefault(task["taskId"], []).extend(result.get("logs") or [])
            self.lock.notify_all()
            return task["taskId"]


def start_fake_conductor() -> tuple[FakeConductor, ThreadingHTTPServer, str]:
    state = FakeConductor()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args: Any) -> None:
            pass

        def _reply(self, status: int, body: Any) -> None:
            data = body.encode() if isinstance(body, str) else json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "text/plain" if isinstance(body, str) else "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def _body(self) -> Any:
            length = int(self.headers.get("Content-Length") or 0)
            return json.loads(self.rfile.read(length) or b"null")

        def do_GET(self) -> None:  # noqa: N802 - the stdlib's name
            url = urlparse(self.path)
            query = {key: values[0] for key, values in parse_qs(url.query).items()}
            parts = url.path.strip("/").split("/")
            state.requests.append(("GET", self.path))
            if parts[:4] == ["api", "tasks", "poll", "batch"] and len(parts) == 5:
                tasks = state.batch_poll(parts[4], query.get("workerid", ""), int(query.get("count", 1)),
                                         int(query.get("timeout", 100)))
                return self._reply(200, tasks)
            if parts[:2] == ["api", "tasks"] and len(parts) == 4 and parts[3] == "log":
                return self._reply(200, state.logs.get(parts[2], []))
            if parts[:2] == ["api", "tasks"] and len(parts) == 3 and parts[2] in state.tasks:
                return self._reply(200, state.tasks[parts[2]])
            return self._reply(404, {"status": 404, "message": f"no route {url.path}"})

        def do_POST(self) -> None:  # noqa: N802
            url = urlparse(self.path)
            body = self._body()
            state.requests.append(("POST", self.path))
            if url.path == "/api/metadata/taskdefs" and isinstance(body, list):
                for definition in body:
                    state.task_defs[definition["name"]] = definition
                return self._reply(200, "")
            if url.path == "/api/tasks" and isinstance(body, dict) and body.get("taskId") in state.tasks:
                return self._reply(200, state.update(body))
            return self._reply(400, {"status": 400, "message": "bad request"})

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return state, server, f"http://127.0.0.1:{server.server_address[1]}/api"
