"""``faasctl run --temporal`` and ``faasctl flow run --temporal``: start the work on Temporal, wait, and hand
back what the local path would have produced, so the CLI renders it with the same code.

Functions travel with the work: source text inline, modules inline up to ``INLINE_LIMIT`` bytes, larger
modules from an ``oci://`` target by digest (each worker pulls it once and caches it). Payloads over
Temporal's limit are refused here with a clear error rather than by the server with a gRPC one.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any, NamedTuple

from faasctl.errors import ArtifactError, FaasError, InputError, InternalError, NotFoundError, UsageError
from faasctl.worker.functions import FunctionSpec, request_payload
from faasctl.worker.payloads import PAYLOAD_LIMIT, encoded_size, result_from_envelope
from faasctl.worker.temporal import DEFAULT_NAMESPACE, DEFAULT_TASK_QUEUE, check_address, connect, require_sdk

if TYPE_CHECKING:
    from faasctl.engine import Engine
    from faasctl.inputs import FunctionInput
    from faasctl.result import Result
    from faasctl.runtimes.base import Artifact, RunOptions

# Error types a worker reports when it could not run the function at all; the local path raises these.
NOT_RUN: dict[str, type[FaasError]] = {"UsageError": UsageError, "InputError": InputError,
                                       "NotFound": NotFoundError, "ArtifactError": ArtifactError,
                                       "InternalError": InternalError}
# Modules up to this size travel inside the payload (base64 makes them a third larger).
INLINE_LIMIT = 1024 * 1024
HOST_BOUND = (("dirs", "--dir"), ("env", "--env"), ("kv_path", "--kv"))


def spec_for_target(engine: Engine, target: str | Artifact, *, runtime: str | None, limits: dict[str, Any],
                    options: RunOptions) -> FunctionSpec:
    """The spec of what ``faasctl run`` was asked to run, ready to travel."""
    from faasctl.runtimes.base import Artifact

    for field, flag in HOST_BOUND:
        if getattr(options, field):
            raise UsageError(f"{flag} names something on this machine and cannot travel to a Temporal worker")
    artifact = target if isinstance(target, Artifact) else engine.resolve(target)
    descriptor = engine.select_runtime(artifact, runtime)
    engine.limits_for(descriptor, limits)  # a bad --timeout fails here, as it does locally
    image = None
    if len(artifact.source) > INLINE_LIMIT:
        if not (isinstance(target, str) and target.startswith("oci://")):
            raise UsageError(f"{artifact.name} is {len(artifact.source):,} bytes, more than travels inline to a "
                             f"Temporal worker ({INLINE_LIMIT:,})",
                             hint="push it to a registry (faasctl push) and run the oci:// reference")
        image = pinned_reference(engine, target)
    travel = {"invoke": options.invoke, "abi": options.abi, "wasi_args": options.wasi_args}
    extra: dict[str, Any] = {key: value for key, value in travel.items() if value is not None}
    if options.args:
        extra["args"] = list(options.args)
    return FunctionSpec(runtime=descriptor.name, name=artifact.name, code=None if image else artifact.source,
                        image=image, limits={k: v for k, v in limits.items() if v is not None},
                        output_json=options.output_json, options=extra)


def pinned_reference(engine: Engine, target: str) -> str:
    """``registry/repo@sha256:…`` for a reference just resolved, so every worker runs the same bytes."""
    from faasctl.oci.reference import Reference, parse_reference
    from faasctl.oci.resolve import store_for

    ref = parse_reference(target.removeprefix("oci://"))
    digest = ref.digest or store_for(engine.settings).tag_digest(ref)
    if not digest:
        raise ArtifactError(f"cannot pin {ref} to a digest")
    return str(Reference(ref.registry, ref.repository, None, digest))


def check_payload(value: Any, what: str) -> None:
    size = encoded_size(value)
    if size > PAYLOAD_LIMIT:
        raise InputError(f"{what} makes a Temporal payload of {size:,} bytes, over the limit of {PAYLOAD_LIMIT:,}",
                         hint="pass large data by reference (a URL or object key) instead")


def run_remotely(engine: Engine, target: str | Artifact, function_input: FunctionInput, *, runtime: str | None,
                 limits: dict[str, Any], options: RunOptions, address: str, namespace: str = DEFAULT_NAMESPACE,
                 task_queue: str = DEFAULT_TASK_QUEUE, heartbeat_timeout: float | None = None,
                 say: Callable[[str], None] | None = None) -> Result:
    """One run on a Temporal worker, as a ``Result`` (the envelope the worker made)."""
    spec = spec_for_target(engine, target, runtime=runtime, limits=limits, options=options)
    request: dict[str, Any] = {"function": request_payload(spec, function_input.value)}
    if heartbeat_timeout:
        request["heartbeat_timeout"] = heartbeat_timeout
    check_payload(request, "the function with its input")
    envelope = execute_workflow("faasctl.function", request, address=address, namespace=namespace,
                                task_queue=task_queue, prefix="faasctl-run", say=say)
    if isinstance(envelope, WorkflowFailed):
        raise ArtifactError(f"the run failed on Temporal: {envelope.type}: {envelope.message}")
    error = envelope.get("error") or {}
    raised = NOT_RUN.get(str(error.get("type")))
    if raised is not None:  # the worker could not run it at all: the local path raises, so raise the same
        raise raised(str(error.get("message")))
    return result_from_envelope(envelope)


def run_flow_on_temporal(flow: Any, flow_input: Any, *, address: str, namespace: str = DEFAULT_NAMESPACE,
                         task_queue: str = DEFAULT_TASK_QUEUE, limits: dict[str, Any] | None = None,
                         say: Callable[[str], None] | None = None) -> tuple[dict[str, Any], int]:
    """``faasctl flow run --temporal``: a ``Flow`` prepared (read, mapped, validated) as the local path
    prepares it, run by the ``faasctl.flow`` workflow instead of the local executor."""
    return run_flow_remotely(flow.root.definition, flow_input, address=address, namespace=namespace,
                             task_queue=task_queue, definitions=flow.definitions, functions=flow.functions,
                             limits=limits, max_iterations=flow.max_iterations, flow_id=flow.workflow_id, say=say)


def task_logs(document: dict[str, Any], label: str = "") -> Iterator[tuple[str, list[str]]]:
    """Each task's logs with the reference the local path prefixes them with (``sub_ref/inner_ref`` inside
    a sub-workflow), in the order the tasks ran."""
    for record in document.get("tasks") or []:
        ref = str(record.get("referenceTaskName") or "")
        child = record.get("subWorkflow")
        if isinstance(child, dict):
            yield from task_logs(child, f"{label}{ref}/")
        if record.get("logs"):
            yield label + ref, list(record["logs"])


def run_flow_remotely(definition: Any, flow_input: Any, *, address: str, namespace: str = DEFAULT_NAMESPACE,
                      task_queue: str = DEFAULT_TASK_QUEUE, definitions: dict[str, Any] | None = None,
                      functions: dict[str, Any] | None = None, limits: dict[str, Any] | None = None,
                      max_iterations: int | None = None, flow_id: str | None = None,
                      heartbeat_timeout: float | None = None,
                      say: Callable[[str], None] | None = None) -> tuple[dict[str, Any], int]:
    """A flow run by the ``faasctl.flow`` workflow: its execution document and the exit code the local
    ``faasctl flow run`` would give. An invalid definition is a ``UsageError`` here as it is locally."""
    request: dict[str, Any] = {"definition": definition, "input": flow_input}
    if definitions:
        request["definitions"] = definitions
    if functions:
        request["functions"] = {name: travelling(spec) for name, spec in functions.items()}
    given = {key: value for key, value in (limits or {}).items() if value is not None}
    if given:
        request["limits"] = given
    if max_iterations:
        request["max_iterations"] = max_iterations
    if flow_id:
        request["workflow_id"] = flow_id
    if heartbeat_timeout:
        request["heartbeat_timeout"] = heartbeat_timeout
    check_payload(request, "the flow with its input and functions")
    outcome = execute_workflow("faasctl.flow", request, address=address, namespace=namespace,
                               task_queue=task_queue, prefix="faasctl-flow", say=say)
    if isinstance(outcome, WorkflowFailed):
        if outcome.type == "UsageError" or len(outcome.details) < 2 or not isinstance(outcome.details[0], dict):
            raise (UsageError if outcome.type == "UsageError" else ArtifactError)(outcome.message)
        return outcome.details[0], int(outcome.details[1])
    return outcome, 0


def travelling(spec: Any) -> Any:
    """A mapped task's function spec without its local ``path`` (the file's content goes inline)."""
    if not isinstance(spec, dict) or "path" not in spec:
        return spec
    from pathlib import Path

    from faasctl.worker.functions import FunctionSpec

    path = Path(str(spec["path"]))
    rest = {key: value for key, value in spec.items() if key != "path"}
    if "code" not in spec and "code_base64" not in spec and "image" not in spec:
        try:
            source = path.read_bytes()
        except OSError as exc:
            raise UsageError(f"cannot read {path}: {exc.strerror}") from None
        inline = FunctionSpec(runtime="", code=source).to_payload()
        rest.update({key: value for key, value in inline.items() if key in ("code", "code_base64")})
    size = len(str(rest.get("code") or rest.get("code_base64") or ""))
    if size > INLINE_LIMIT * 4 // 3:
        raise UsageError(f"{path.name} is too large to travel inline to a Temporal worker ({INLINE_LIMIT:,} bytes)",
                         hint="push it to a registry (faasctl push) and map the task to its oci:// reference")
    rest.setdefault("name", path.name)
    return rest


class WorkflowFailed(NamedTuple):
    """A workflow that failed with an ``ApplicationError`` (what ``faasctl.flow`` raises for a failed flow)."""

    type: str
    message: str
    details: tuple[Any, ...]


def execute_workflow(name: str, argument: Any, *, address: str, namespace: str, task_queue: str,
                     prefix: str, workflow_id: str | None = None, say: Callable[[str], None] | None = None) -> Any:
    """Start a workflow and wait: its result, or ``WorkflowFailed``. Raises ``ArtifactError`` when Temporal
    cannot be reached or the workflow failed in any other way."""
    check_address(address)
    require_sdk()
    return asyncio.run(_execute(name, argument, address, namespace, task_queue,
                                workflow_id or f"{prefix}-{uuid.uuid4().hex[:16]}", say))


async def _execute(name: str, argument: Any, address: str, namespace: str, task_queue: str,
                   workflow_id: str, say: Callable[[str], None] | None) -> Any:
    from temporalio.client import WorkflowFailureError
    from temporalio.exceptions import ApplicationError
    from temporalio.service import RPCError

    client = await connect(address, namespace)
    try:
        handle = await client.start_workflow(name, argument, id=workflow_id, task_queue=task_queue)
    except RPCError as exc:
        raise ArtifactError(f"Temporal refused to start {name}: {exc.message}") from None
    if say is not None:
        say(f"running on Temporal as workflow {workflow_id} (task queue {task_queue})")
    try:
        return await handle.result()
    except asyncio.CancelledError:  # Ctrl-C: the work stops too, as a local run would
        try:
            await asyncio.wait_for(handle.cancel(), 5)
        except Exception:
            pass
        raise
    except WorkflowFailureError as exc:
        cause: Any = exc.cause
        if isinstance(cause, ApplicationError):
            return WorkflowFailed(cause.type or "", cause.message, tuple(cause.details))
        while getattr(cause, "cause", None) is not None:
            cause = cause.cause
        raise ArtifactError(f"workflow {workflow_id} failed on Temporal: {cause or exc}") from None
    except RPCError as exc:
        raise ArtifactError(f"lost the Temporal server while waiting for {workflow_id}: {exc.message}") from None
