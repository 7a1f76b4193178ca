"""Temporal workflows: ``faasctl.function`` (one run, for ``faasctl run --temporal``) and ``faasctl.flow``
(a Conductor definition, decided by the pure flow interpreter, each task a ``faasctl.run`` activity).

Workflow code is replayed: it may only decide, never do. temporalio's sandbox re-imports this module for
every workflow run, so it imports nothing but temporalio at the top, and faasctl's pure modules are passed
through (imported once, outside the sandbox): they keep no state between calls and do no I/O.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError, ApplicationError, TimeoutError, TimeoutType
from temporalio.workflow import ActivityCancellationType

with workflow.unsafe.imports_passed_through():
    from faasctl.errors import ERROR_TABLE

ACTIVITY_NAME = "faasctl.run"
FUNCTION_WORKFLOW = "faasctl.function"
FLOW_WORKFLOW = "faasctl.flow"
# Every faasctl error type: Temporal never retries an activity for how its run ended (a single run is not
# retried, as the local path runs it once; a flow task's retries are the interpreter's), only when the worker
# running it died (a heartbeat timeout, which is not an application error).
RUN_ERROR_TYPES = tuple(ERROR_TABLE)
DEFAULT_HEARTBEAT_TIMEOUT = 10.0
# Beyond the run's own timeout: a first run may compile its runtime (CPython: ~7 s) or pull an image.
START_TO_CLOSE_MARGIN = 600.0
# How often a task whose worker died (heartbeat timeout) is rescheduled, on top of its own retries.
WORKER_LOSS_RETRIES = 3


def run_timeout(function: dict[str, Any]) -> float:
    """The run's own time limit as the spec gives it (30 s when it does not), in seconds."""
    limits = function.get("limits") if isinstance(function, dict) else None
    text = limits.get("timeout") if isinstance(limits, dict) else None
    if text is None:
        return 30.0
    with workflow.unsafe.imports_passed_through():
        from faasctl.limits import parse_duration
    try:
        return parse_duration(text)
    except Exception:  # the activity reports a bad limit with its path; here any bound will do
        return 30.0


def envelope_of(error: ActivityError) -> dict[str, Any] | None:
    """The envelope a failed ``faasctl.run`` carries as its first detail, if it does."""
    cause = error.cause
    if isinstance(cause, ApplicationError) and cause.details and isinstance(cause.details[0], dict):
        return cause.details[0]
    return None


@workflow.defn(name=FUNCTION_WORKFLOW)
class FunctionWorkflow:
    """Input ``{"function": spec plus "input", "heartbeat_timeout": seconds?}``; output the run envelope,
    failed or not, so the client prints exactly what ``faasctl run`` prints."""

    @workflow.run
    async def run(self, request: dict[str, Any]) -> dict[str, Any]:
        if not isinstance(request, dict):
            raise ApplicationError("the faasctl.function input must be an object with a \"function\"",
                                   type="UsageError", non_retryable=True)
        function = request.get("function")
        heartbeat = _positive(request.get("heartbeat_timeout"), DEFAULT_HEARTBEAT_TIMEOUT)
        try:
            return await workflow.execute_activity(ACTIVITY_NAME, function, **activity_options(function, heartbeat))
        except ActivityError as exc:
            envelope = envelope_of(exc)
            if envelope is None:
                raise
            return envelope


def activity_options(function: Any, heartbeat: float) -> dict[str, Any]:
    """Timeouts and the retry policy of one ``faasctl.run``. How a run ended is never retried here: a single
    run is not retried (the local path runs it once) and a flow task's retries (``retryCount``,
    ``retryDelaySeconds``, ``retryLogic``) are decided by the flow interpreter, so the execution document
    lists every attempt as the local one does. Temporal's own retries cover only what the interpreter cannot
    see: a worker that died mid-run, noticed by the heartbeat timeout."""
    return {
        "start_to_close_timeout": timedelta(seconds=run_timeout(function) + START_TO_CLOSE_MARGIN),
        "heartbeat_timeout": timedelta(seconds=heartbeat),
        "retry_policy": RetryPolicy(maximum_attempts=WORKER_LOSS_RETRIES + 1,
                                    non_retryable_error_types=list(RUN_ERROR_TYPES)),
        # a cancelled workflow ends once its runs have stopped, not while they still hold a worker
        "cancellation_type": ActivityCancellationType.WAIT_CANCELLATION_COMPLETED,
    }


def lost_envelope(error: ActivityError, function: Any) -> dict[str, Any]:
    """What a flow task reports when Temporal gave up on it without a run envelope (every worker that took
    it died, or it outlived its start-to-close timeout)."""
    cause: Any = error.cause
    while getattr(cause, "cause", None) is not None and not isinstance(cause, (TimeoutError, ApplicationError)):
        cause = cause.cause
    if isinstance(cause, TimeoutError) and cause.type == TimeoutType.HEARTBEAT:
        error_type = "Interrupted"
        message = f"the workers running it stopped answering ({WORKER_LOSS_RETRIES + 1} attempts)"
    elif isinstance(cause, TimeoutError):
        error_type, message = "Timeout", f"Temporal timed the activity out ({cause.type.name if cause.type else ''})"
    else:
        error_type, message = "InternalError", str(cause or error)
    name = function.get("name") if isinstance(function, dict) else None
    runtime = function.get("runtime") if isinstance(function, dict) else None
    return {"ok": False, "result": None, "output_type": None, "logs": [],
            "error": {"type": error_type, "message": message, "detail": None}, "stats": None,
            "runtime": runtime or "", "function": name or ""}


@workflow.defn(name=FLOW_WORKFLOW)
class FlowWorkflow:
    """Input ``{"definition", "input", "definitions"?, "functions"?, "limits"?, "max_iterations"?,
    "workflow_id"?, "heartbeat_timeout"?}`` (``limits``: defaults under each task's own, like ``flow run
    --timeout``; ``workflow_id``: the execution's id in its document, Temporal's workflow id if absent); output the
    execution document of a COMPLETED flow. A flow that ends otherwise fails the workflow (so Temporal shows
    it failed) with an ``ApplicationError`` whose type is the failing task's error type and whose details are
    the execution document and the exit code ``faasctl flow run`` would have used."""

    @workflow.run
    async def run(self, request: dict[str, Any]) -> dict[str, Any]:
        with workflow.unsafe.imports_passed_through():
            from faasctl.flow.interpreter import Flow
            from faasctl.flow.validate import FlowDefinitionError
        if not isinstance(request, dict) or not isinstance(request.get("definition"), dict):
            raise ApplicationError("the faasctl.flow input must be an object with a \"definition\" object",
                                   type="UsageError", non_retryable=True)
        heartbeat = _positive(request.get("heartbeat_timeout"), DEFAULT_HEARTBEAT_TIMEOUT)
        try:
            flow = Flow(request["definition"], request.get("input"), workflow_id=_flow_id(request),
                        definitions=request.get("definitions") or {}, functions=request.get("functions") or {},
                        max_iterations=int(_positive(request.get("max_iterations"), 1000)))
        except FlowDefinitionError as exc:
            raise ApplicationError(str(exc), type="UsageError", non_retryable=True) from None
        except (TypeError, ValueError, AttributeError) as exc:  # a shape the validator did not expect
            raise ApplicationError(f"invalid flow input: {exc}", type="UsageError", non_retryable=True) from None
        running: dict[str, asyncio.Task[dict[str, Any]]] = {}
        step = flow.start(_now_ms())
        while True:
            for request_id in step["cancel"]:
                task = running.pop(request_id, None)
                if task is not None:
                    task.cancel()
            for item in step["run"]:
                running[item["id"]] = asyncio.create_task(self._run(item, heartbeat, request.get("limits")))
            if step["done"]:
                break
            await workflow.wait_condition(lambda: any(task.done() for task in running.values()))
            # several may end together: fed back in the order they were requested, as the local driver does
            for request_id in [key for key, task in running.items() if task.done()]:
                envelope = running.pop(request_id).result()
                step = flow.complete(request_id, envelope, _now_ms())
                if step["done"] or step["run"] or step["cancel"]:
                    break
        for task in running.values():
            task.cancel()
        document = flow.execution()
        if flow.exit_code != 0:
            raise ApplicationError(document.get("reasonForIncompletion") or flow.status, document, flow.exit_code,
                                   type=_failure_type(document), non_retryable=True)
        return document

    async def _run(self, request: dict[str, Any], heartbeat: float, limits: Any) -> dict[str, Any]:
        delay = float(request.get("delay_seconds") or 0)
        if delay > 0:  # a durable timer: a retry's delay survives a worker restart
            await workflow.sleep(delay)
        function = request.get("function")
        if isinstance(function, dict) and isinstance(limits, dict) and limits:
            # the command line's limits under the task's own, as the local driver merges them
            function = {**function, "limits": {**limits, **(function.get("limits") or {})}}
        payload = {**function, "input": request.get("input")} if isinstance(function, dict) else function
        try:
            return await workflow.execute_activity(ACTIVITY_NAME, payload, **activity_options(function, heartbeat))
        except ActivityError as exc:
            return envelope_of(exc) or lost_envelope(exc, function)


def _positive(value: Any, default: float) -> float:
    """A positive number from the workflow input, else ``default`` (bad input must not wedge
    the workflow task in a retry loop)."""
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) and value > 0 else default


def _flow_id(request: dict[str, Any]) -> str:
    """The id the interpreter derives task ids from (and ``${workflow.workflowId}`` reads): the one the
    client's local path would use when given, so outputs match it; else Temporal's workflow id."""
    given = request.get("workflow_id")
    return given if isinstance(given, str) and given else workflow.info().workflow_id


def _now_ms() -> int:
    return workflow.time_ns() // 1_000_000


def _failure_type(document: dict[str, Any]) -> str:
    """The failing task's error type (``FunctionError``, ``Timeout``, ...), else the flow's status."""
    failed = set(document.get("failedReferenceTaskNames") or ())
    for record in reversed(document.get("tasks") or []):
        error = record.get("error")
        if record.get("referenceTaskName") in failed and isinstance(error, dict) and error.get("type"):
            return str(error["type"])
    return str(document.get("status") or "FAILED")


def workflow_classes() -> list[type]:
    return [FunctionWorkflow, FlowWorkflow]
