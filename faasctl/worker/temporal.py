"""Connecting to Temporal, and ``faasctl worker temporal``: one process polling one task queue.

Any number of these share a queue, on one machine or many: each runs up to ``concurrency`` activities at
once on its own engine (compiled runtimes and pulled images cached on its disk). SIGTERM or Ctrl-C stops
polling, lets the running activities finish (up to ``grace`` seconds), then exits 0.
"""

from __future__ import annotations

import asyncio
import re
import signal
import sys
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

from faasctl.errors import ArtifactError, UsageError
from faasctl.worker.stopping import second_signal_exits

if TYPE_CHECKING:
    from temporalio.client import Client
    from temporalio.worker.workflow_sandbox import SandboxRestrictions

    from faasctl.engine import Engine

DEFAULT_ADDRESS = "127.0.0.1:7233"
DEFAULT_NAMESPACE = "default"
DEFAULT_TASK_QUEUE = "faasctl"
STICKY_TIMEOUT = 3.0
_ADDRESS = re.compile(r"^(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+):([0-9]{1,5})$")


def check_address(address: str) -> str:
    """``HOST:PORT`` or a usage error (exit 2) before any connection is tried."""
    match = _ADDRESS.match(address or "")
    if not match or not 0 < int(match.group(2)) < 65536:
        raise UsageError(f"invalid Temporal address {address!r}", hint="use HOST:PORT, for example 127.0.0.1:7233")
    return address


def connection_error(address: str, exc: BaseException) -> ArtifactError:
    """One line for a server that is not there (exit 7), instead of tonic's nested transport error."""
    text = str(exc)
    reason = re.search(r'message: "([^"]+)"', text) or re.search(r'ConnectError\("([^"]+)"', text)
    why = reason.group(1) if reason else text.removeprefix("Failed client connect: ").splitlines()[0][:200]
    return ArtifactError(f"cannot reach the Temporal server at {address}: {why}",
                         hint="start one with: temporal server start-dev --headless")


def require_sdk() -> None:
    """The Temporal SDK is an extra: without it, say how to get it (exit 2) instead of a traceback."""
    try:
        import temporalio  # noqa: F401
    except ModuleNotFoundError:
        raise UsageError("Temporal support is not installed", hint="pip install 'faasctl[worker]'") from None


async def connect(address: str, namespace: str) -> Client:
    check_address(address)
    require_sdk()
    from temporalio.client import Client

    from faasctl.worker.payloads import data_converter

    try:
        return await Client.connect(address, namespace=namespace, data_converter=data_converter())
    except RuntimeError as exc:
        raise connection_error(address, exc) from None


def serve(engine: Engine, *, address: str = DEFAULT_ADDRESS, namespace: str = DEFAULT_NAMESPACE,
          task_queue: str = DEFAULT_TASK_QUEUE, concurrency: int = 1, grace: float = 30.0,
          say: Callable[[str], None] | None = None) -> int:
    """Run a worker until SIGTERM/SIGINT. Raises ``FaasError`` when the server cannot be reached."""
    if concurrency < 1:
        raise UsageError(f"--concurrency must be at least 1, got {concurrency}")
    if not task_queue:
        raise UsageError("--task-queue must not be empty")
    check_address(address)
    require_sdk()
    return asyncio.run(_serve(engine, address, namespace, task_queue, concurrency, grace,
                              say or (lambda line: None)))


async def _serve(engine: Engine, address: str, namespace: str, task_queue: str, concurrency: int,
                 grace: float, say: Callable[[str], None]) -> int:
    from datetime import timedelta

    from temporalio.worker import Worker
    from temporalio.worker.workflow_sandbox import SandboxedWorkflowRunner

    from faasctl.worker.activity import RunActivity
    from faasctl.worker.workflows import workflow_classes

    quiet_sdk_logging()
    client = await connect(address, namespace)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, second_signal_exits(stop.is_set, stop.set, say))
    with ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="faasctl-run") as executor:
        worker = Worker(client, task_queue=task_queue, activities=[RunActivity(engine, executor).run],
                        workflows=workflow_classes(), max_concurrent_activities=concurrency,
                        workflow_runner=SandboxedWorkflowRunner(restrictions=sandbox_restrictions()),
                        # a dead worker's cached workflows move to the shared queue after this, not 10 s
                        sticky_queue_schedule_to_start_timeout=timedelta(seconds=STICKY_TIMEOUT),
                        graceful_shutdown_timeout=timedelta(seconds=grace))
        say(f"worker polling task queue {task_queue!r} on {address} (namespace {namespace}, "
            f"concurrency {concurrency}); stop with Ctrl-C or SIGTERM")
        running = asyncio.create_task(worker.run())
        stopped = asyncio.create_task(stop.wait())
        done, _ = await asyncio.wait({running, stopped}, return_when=asyncio.FIRST_COMPLETED)
        if running in done:  # the worker failed on its own (the server went away for good, a fatal error)
            stopped.cancel()
            exc = running.exception()
            raise connection_error(address, exc) if exc else ArtifactError("the Temporal worker stopped")
        say("stopping: finishing running activities")
        await worker.shutdown()
    say("stopped")
    return 0


def sandbox_restrictions() -> SandboxRestrictions:
    """The default sandbox, with faasctl's pure modules (the flow interpreter) and libjq passed through:
    imported once, not once per workflow run (they hold no state a replay could see)."""
    from temporalio.worker.workflow_sandbox import SandboxRestrictions

    return SandboxRestrictions.default.with_passthrough_modules("faasctl", "jq")


def replayer() -> Any:
    """A ``Replayer`` configured as the worker is (workflows, sandbox, converter): replaying a recorded
    history with it proves the workflow code still decides the same way."""
    from temporalio.worker import Replayer
    from temporalio.worker.workflow_sandbox import SandboxedWorkflowRunner

    from faasctl.worker.payloads import data_converter
    from faasctl.worker.workflows import workflow_classes

    return Replayer(workflows=workflow_classes(), data_converter=data_converter(),
                    workflow_runner=SandboxedWorkflowRunner(restrictions=sandbox_restrictions()))


def quiet_sdk_logging() -> None:
    """temporalio logs every failed activity with its traceback; a function that fails is business as
    usual here (its error travels in the result), so those go, and the rest is one line each."""
    import logging

    class OneLine(logging.Formatter):
        def format(self, record: logging.LogRecord) -> str:
            return f"faasctl: temporal: {record.getMessage()}"

    class DropRunFailures(logging.Filter):
        def filter(self, record: logging.LogRecord) -> bool:
            from temporalio.exceptions import ApplicationError

            failed_run = record.exc_info and isinstance(record.exc_info[1], ApplicationError)
            return not (failed_run and record.getMessage().startswith("Completing activity as failed"))

    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(OneLine())
    handler.addFilter(DropRunFailures())
    logger = logging.getLogger("temporalio")
    logger.addHandler(handler)
    logger.setLevel(logging.WARNING)
    logger.propagate = False
