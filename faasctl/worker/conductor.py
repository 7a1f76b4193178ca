"""``faasctl worker conductor``: the Conductor wasm worker's job, on faasctl's engine.

It registers the ``GLOBAL___js`` / ``GLOBAL___py`` task definitions as that worker did (``retryCount`` 3,
``FIXED``, ``retryDelaySeconds`` 10, ``timeoutSeconds`` 300, ``responseTimeoutSeconds`` 180), polls them in
batches, and runs each task with the section 9 contract: the task's whole ``inputData`` is the script's ``$``
/ ``inputData``, ``scriptExpression`` is the script, ``outputIsJson`` the output mode. A run that succeeds
completes the task with ``{"result": value}`` and its logs; one that fails (or cannot start, such as a task
without ``scriptExpression``) fails it with ``reasonForIncompletion`` = ``TYPE: message``, as
``FAILED_WITH_TERMINAL_ERROR`` when no retry can help (``UsageError``, ``InputError``, ``ArtifactError``) and
``FAILED`` otherwise, so Conductor applies the task's retry policy only where it means something.

The HTTP calls and models are the ``conductor-python`` SDK's (``TaskResourceApi``, ``MetadataResourceApi``,
``TaskResult``, ``TaskDef``), with this module's own loop instead of the SDK's ``TaskHandler``: that one forks
a process per task type and its runner retries a failed update for a minute with sleeps, which would keep a
stopping worker from finishing "the tasks it holds" promptly. SIGTERM (or Ctrl-C) stops polling, lets every
held task finish and report, and exits 0.
"""

from __future__ import annotations

import os
import signal
import socket
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

from faasctl.errors import ArtifactError, FaasError, UsageError, is_retryable
from faasctl.inputs import FunctionInput
from faasctl.worker.functions import FunctionSpec, RunRequest, run_request

if TYPE_CHECKING:
    from faasctl.engine import Engine

TASK_RUNTIMES = {"GLOBAL___js": "js", "GLOBAL___py": "python"}
TASK_ENDINGS = {"js": ".js", "python": ".py"}
# The definitions the Conductor wasm worker registered for its two task types.
TASK_DEFINITION = {"retry_count": 3, "retry_logic": "FIXED", "retry_delay_seconds": 10, "timeout_seconds": 300,
                   "timeout_policy": "TIME_OUT_WF", "response_timeout_seconds": 180,
                   "owner_email": "faasctl@example.com"}
POLL_WAIT_MS = 100  # how long one batch poll may wait on the server for a task (long poll)


class Outcome:
    """What to report for one task: a status, the output and logs, and the reason when it failed."""

    def __init__(self, status: str, output: dict[str, Any], logs: list[str], reason: str | None = None) -> None:
        self.status, self.output, self.logs, self.reason = status, output, logs, reason


def failed(error_type: str, message: str, logs: list[str] | None = None) -> Outcome:
    status = "FAILED" if is_retryable(error_type) else "FAILED_WITH_TERMINAL_ERROR"
    return Outcome(status, {}, list(logs or []), f"{error_type}: {message}")


def run_task(engine: Engine, task_type: str, ref: str, input_data: Any,
             limits: dict[str, Any] | None = None) -> Outcome:
    """One ``GLOBAL___js`` / ``GLOBAL___py`` task on the engine. Never raises: every failure is an outcome."""
    runtime = TASK_RUNTIMES.get(task_type)
    if runtime is None:
        return failed("UsageError", f"this worker runs {', '.join(TASK_RUNTIMES)}, not {task_type}")
    data = input_data if isinstance(input_data, dict) else {}
    script = data.get("scriptExpression")
    if script is None:
        return failed("UsageError", "inputParameters.scriptExpression: missing (the script to run)")
    if not isinstance(script, str):
        return failed("UsageError", "inputParameters.scriptExpression: must be a string")
    from faasctl.output import output_mode

    spec = FunctionSpec(runtime=runtime, name=(ref or task_type) + TASK_ENDINGS[runtime], code=script.encode(),
                        output_json=output_mode(data.get("outputIsJson")),
                        limits={k: v for k, v in (limits or {}).items() if v is not None})
    try:
        result = run_request(engine, RunRequest(spec, FunctionInput.of(data)))
    except FaasError as exc:
        return failed(exc.type_name, exc.one_line())
    except Exception as exc:  # a bug in faasctl fails the task, never the worker
        return failed("InternalError", f"{type(exc).__name__}: {exc}")
    if result.error is not None:
        return failed(result.error.type, result.error.message, list(result.logs))
    return Outcome("COMPLETED", {"result": result.result}, list(result.logs))


class ConductorWorker:
    """Polls the task types, runs up to ``batch`` tasks at once, reports each one."""

    def __init__(self, engine: Engine, server: str, task_types: tuple[str, ...], *, batch: int = 1,
                 poll_interval: float = 0.1, limits: dict[str, Any] | None = None,
                 say: Callable[[str], None] | None = None) -> None:
        from faasctl.limits import Limits

        unknown = [name for name in task_types if name not in TASK_RUNTIMES]
        if unknown or not task_types:
            raise UsageError(f"unknown task type {unknown[0] if unknown else '(none)'}",
                             hint="this worker runs " + ", ".join(TASK_RUNTIMES))
        if batch < 1:
            raise UsageError(f"--batch must be at least 1, got {batch}")
        if not server.startswith(("http://", "https://")):
            raise UsageError(f"invalid --server {server!r}", hint="use the API root, e.g. http://localhost:8080/api")
        Limits().merged(**(limits or {}))  # a bad --timeout is refused now, not on every task
        from conductor.client.configuration.configuration import Configuration
        from conductor.client.http.api.metadata_resource_api import MetadataResourceApi
        from conductor.client.http.api.task_resource_api import TaskResourceApi
        from conductor.client.http.api_client import ApiClient

        self.engine = engine
        self.server = server.rstrip("/")
        self.task_types = task_types
        self.batch = batch
        self.poll_interval = poll_interval
        self.limits = limits or {}
        self.say = say or (lambda line: None)
        self.worker_id = f"faasctl-{socket.gethostname()}-{os.getpid()}"
        client = ApiClient(Configuration(server_api_url=self.server))
        self.tasks = TaskResourceApi(client)
        self.metadata = MetadataResourceApi(client)
        self.stop = threading.Event()
        self.held: set[Future[None]] = set()

    def register(self) -> None:
        """Create (or update) the task definitions. Raises ``ArtifactError`` when the server is not there."""
        from conductor.client.http.models.task_def import TaskDef
        from conductor.client.http.rest import ApiException

        definitions = [TaskDef(name=name, description="faasctl: a lambda script in WebAssembly",
                               **TASK_DEFINITION) for name in self.task_types]
        try:
            self.metadata.register_task_def(definitions)
        except ApiException as exc:
            raise ArtifactError(f"cannot register task definitions at {self.server}: {_reason(exc)}") from None

    def run(self) -> int:
        self.register()
        self.say(f"conductor worker {self.worker_id} polling {', '.join(self.task_types)} at {self.server} "
                 f"(batch {self.batch}); stop with Ctrl-C or SIGTERM")
        with ThreadPoolExecutor(max_workers=self.batch, thread_name_prefix="faasctl-task") as pool:
            failures = 0
            while not self.stop.is_set():
                self.held = {future for future in self.held if not future.done()}
                got = 0
                for task_type in self.task_types:
                    free = self.batch - len(self.held)
                    if free <= 0 or self.stop.is_set():
                        break
                    try:
                        polled = self.tasks.batch_poll(task_type, workerid=self.worker_id, count=free,
                                                       timeout=POLL_WAIT_MS) or []
                        failures = 0
                    except Exception as exc:  # the server went away for a moment: say so once, back off
                        failures += 1
                        if failures in (1, 10) or failures % 100 == 0:
                            self.say(f"poll of {task_type} failed ({_reason(exc)}); retrying")
                        self.stop.wait(min(0.1 * 2 ** min(failures, 6), 5.0))
                        continue
                    for task in polled:
                        got += 1
                        self.held.add(pool.submit(self._handle, task))
                if not got:
                    self.stop.wait(self.poll_interval if len(self.held) < self.batch else 0.01)
            self.say(f"stopping: finishing {len(self.held)} held task(s)")
        self.say("stopped")
        return 0

    def _handle(self, task: Any) -> None:
        outcome = run_task(self.engine, task.task_def_name or task.task_type, task.reference_task_name,
                           task.input_data, self.limits)
        self._report(task, outcome)

    def _report(self, task: Any, outcome: Outcome) -> None:
        from conductor.client.http.models.task_exec_log import TaskExecLog
        from conductor.client.http.models.task_result import TaskResult

        now = int(time.time() * 1000)
        result = TaskResult(workflow_instance_id=task.workflow_instance_id, task_id=task.task_id,
                            worker_id=self.worker_id, status=outcome.status, output_data=outcome.output,
                            reason_for_incompletion=outcome.reason,
                            logs=[TaskExecLog(log=line, task_id=task.task_id, created_time=now)
                                  for line in outcome.logs])
        for attempt in range(3):  # a held task is reported before the worker stops, or said to be lost
            try:
                self.tasks.update_task(result)
                return
            except Exception as exc:
                if attempt == 2:
                    self.say(f"could not report task {task.task_id} ({_reason(exc)}); Conductor will time it "
                             "out and retry it")
                else:
                    time.sleep(0.5 * (attempt + 1))


def _reason(exc: BaseException) -> str:
    status = getattr(exc, "status", None)
    text = getattr(exc, "reason", None) or str(exc) or type(exc).__name__
    text = " ".join(str(text).split())[:200]
    return f"HTTP {status}: {text}" if status else text


def serve(engine: Engine, *, server: str, task_types: tuple[str, ...], batch: int = 1, poll_interval: float = 0.1,
          limits: dict[str, Any] | None = None, say: Callable[[str], None] | None = None) -> int:
    """Run a Conductor worker until SIGTERM/SIGINT (from the main thread)."""
    try:
        worker = ConductorWorker(engine, server, task_types, batch=batch, poll_interval=poll_interval,
                                 limits=limits, say=say)
    except ModuleNotFoundError as exc:
        raise UsageError(f"the Conductor worker needs {exc.name}", hint="pip install 'faasctl[worker]'") from None
    from faasctl.worker.stopping import second_signal_exits

    handler = second_signal_exits(worker.stop.is_set, worker.stop.set, say or (lambda line: None))
    previous = {signum: signal.signal(signum, handler) for signum in (signal.SIGTERM, signal.SIGINT)}
    try:
        return worker.run()
    finally:
        for signum, old in previous.items():
            signal.signal(signum, old)
