"""The Temporal activity ``faasctl.run``: one function spec plus its input in, the run envelope out.

A run that ends badly raises an ``ApplicationError`` whose ``type`` is the faasctl error type and whose first
detail is the envelope (logs, partial stats), so a workflow or client can show what the local path shows.
Whether a failure is retryable comes from the core's error table (``is_retryable``): a request that is wrong
(usage, input, artifact) or over a limit other than time fails the same way everywhere; the rest follow the
caller's retry policy.

The run itself happens on a thread of the worker's pool (wasmtime and lupa release the GIL), while the event
loop heartbeats every ``heartbeat_every`` seconds, so a worker that dies mid-run is noticed after the
caller's heartbeat timeout and the activity is retried elsewhere. When Temporal cancels the activity the
run's ``CancelToken`` is cancelled, which stops the guest itself, and the activity ends at once.
"""

from __future__ import annotations

import asyncio
from concurrent.futures import Executor
from typing import TYPE_CHECKING, Any

from temporalio import activity
from temporalio.exceptions import ApplicationError

from faasctl.cancel import CancelToken
from faasctl.errors import FaasError, is_retryable
from faasctl.worker.functions import parse_run_request, run_request
from faasctl.worker.payloads import PAYLOAD_LIMIT, encoded_size

if TYPE_CHECKING:
    from faasctl.engine import Engine

ACTIVITY_NAME = "faasctl.run"


def failure(error_type: str, message: str, envelope: dict[str, Any] | None = None,
            non_retryable: bool | None = None) -> ApplicationError:
    """The error a failed run raises; ``str()`` of it reads ``TYPE: message`` in Temporal's UI."""
    details = (envelope,) if envelope is not None else ()
    return ApplicationError(message, *details, type=error_type,
                            non_retryable=not is_retryable(error_type) if non_retryable is None else non_retryable)


def failure_envelope(error_type: str, message: str, runtime: str = "", function: str = "",
                     detail: str | None = None) -> dict[str, Any]:
    from faasctl.result import Result, RunError, Stats

    return Result(runtime=runtime, function=function, stats=Stats(duration_ms=0.0),
                  error=RunError(error_type, message, detail)).to_dict()


class RunActivity:
    """Holds the worker's engine and thread pool; ``run`` is the activity."""

    def __init__(self, engine: Engine, executor: Executor, heartbeat_every: float = 1.0) -> None:
        self.engine = engine
        self.executor = executor
        self.heartbeat_every = heartbeat_every

    @activity.defn(name=ACTIVITY_NAME)
    async def run(self, payload: Any) -> dict[str, Any]:
        try:
            request = parse_run_request(payload)
        except FaasError as exc:
            raise failure(exc.type_name, exc.one_line(), failure_envelope(exc.type_name, exc.one_line())) from None
        token = CancelToken()
        future = asyncio.get_running_loop().run_in_executor(self.executor, run_request, self.engine, request, token)
        timeout = activity.info().heartbeat_timeout
        every = min(self.heartbeat_every, timeout.total_seconds() / 3) if timeout else self.heartbeat_every
        try:
            while not future.done():
                await asyncio.wait({future}, timeout=every)
                activity.heartbeat()
        except asyncio.CancelledError:
            token.cancel("the activity was cancelled")
            raise
        spec = request.spec
        try:
            result = future.result()
        except FaasError as exc:
            envelope = failure_envelope(exc.type_name, exc.one_line(), spec.runtime, spec.name or "")
            raise failure(exc.type_name, exc.one_line(), envelope) from None
        except Exception as exc:  # a bug in faasctl: say so, never let the worker die of it
            message = f"{type(exc).__name__}: {exc}"
            raise failure("InternalError", message, failure_envelope("InternalError", message, spec.runtime)) from None
        envelope = result.to_dict()
        size = encoded_size(envelope)
        if size > PAYLOAD_LIMIT:
            message = (f"the run's envelope is {size:,} bytes, over Temporal's payload limit of "
                       f"{PAYLOAD_LIMIT:,} bytes")
            small = {**envelope, "result": None, "logs": envelope["logs"][-20:], "ok": False,
                     "error": {"type": "OutputLimit", "message": message, "detail": None}}
            if encoded_size(small) > PAYLOAD_LIMIT:
                small["logs"] = []
            raise failure("OutputLimit", message, small, non_retryable=True)
        if result.error is not None:
            raise failure(result.error.type, result.error.message, envelope)
        return envelope
