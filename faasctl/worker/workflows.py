"""Temporal workflows: ``faasctl.function`` (one run, for ``faasctl run --temporal``) and ``faasctl.flow``
(a Conductor definition, decided by the pure flow interpreter, each task a ``faasctl.run`` activity).

Workflow code is replayed: it may only decide, never do. temporalio's sandbox re-imports this module for
every workflow run, so it imports nothing but temporalio at the top, and faasctl's pure modules are passed
through (imported once, outside the sandbox): they keep no state between calls and do no I/O.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError, ApplicationError, TimeoutError, TimeoutType

ACTIVITY_NAME = "faasctl.run"
FUNCTION_WORKFLOW = "faasctl.function"
FLOW_WORKFLOW = "faasctl.flow"
# Every error type a run can end with: a single run is never retried for how the function ended (the
# local path runs it once), only for the worker that ran it dying (a heartbeat timeout).
RUN_ERROR_TYPES = ("FunctionError", "Trap", "InvalidOutput", "Timeout", "MemoryLimit", "FuelExhausted",
                   "OutputLimit", "UsageError", "InputError", "NotFound", "ArtifactError", "InternalError")
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


def worker_lost(error: ActivityError) -> bool:
    cause = error.cause
    return isinstance(cause, TimeoutError) and cause.type == TimeoutType.HEARTBEAT


@workflow.defn(name=FUNCTION_WORKFLOW)
class FunctionWorkflow:
    """Input ``{"function": spec plus "input", "heartbeat_timeout": seconds?}``; output the run envelope,
    failed or not, so the client prints exactly what ``faasctl run`` prints."""

    @workflow.run
    async def run(self, request: dict[str, Any]) -> dict[str, Any]:
        function = request.get("function")
        heartbeat = float(request.get("heartbeat_timeout") or DEFAULT_HEARTBEAT_TIMEOUT)
        try:
            return await workflow.execute_activity(
                ACTIVITY_NAME, function,
                start_to_close_timeout=timedelta(seconds=run_timeout(function) + START_TO_CLOSE_MARGIN),
                heartbeat_timeout=timedelta(seconds=heartbeat),
                retry_policy=RetryPolicy(maximum_attempts=WORKER_LOSS_RETRIES + 1,
                                         non_retryable_error_types=list(RUN_ERROR_TYPES)),
            )
        except ActivityError as exc:
            envelope = envelope_of(exc)
            if envelope is None:
                raise
            return envelope


def workflow_classes() -> list[type]:
    return [FunctionWorkflow]
