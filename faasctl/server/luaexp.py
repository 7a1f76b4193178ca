"""The lua-experiments face: ``/actions``, ``/actions/{name}[/block]``, ``/invocation/{id}``, ``/ping``.

As the original (pb82/lua-experiments at its HEAD) answered its CLI ``slcli``: ``POST /actions`` compiles
the action and answers 200 ``OK``, or 500 ``Error compiling action`` / ``Action already exists``;
``GET /ping`` answers ``OK`` and logs ``Ping request received``; each action's ``timeout`` (ms) and
``maxmem`` (KB) are its limits, 0 meaning no limit (here: the server's maxima).
Where that server was wrong, this face is right (see docs/serve.md): a result can be read any number of
times until it expires (the original handed each result to one waiting callback), an unknown or expired
invocation id is a 404 at once (the original waited forever), and results are proper JSON.
"""

from __future__ import annotations

import asyncio
import math
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from faasctl.errors import ArtifactError, InputError, NotFoundError, UsageError
from faasctl.limits import parse_duration, parse_size
from faasctl.server.problems import COMPAT_RUN_FAILED, compat_invoke_status
from faasctl.server.rest import invocation_id_of, service_of
from faasctl.server.service import DeployRequest, Outcome, decode_base64
from faasctl.server.store import FunctionRecord
from faasctl.server.web import json_errors, json_response, read_input, read_json

RESOLVE_GRACE = 10.0  # seconds beyond the server's longest timeout that /invocation/{id} waits for a run


def _whole(value: Any, what: str) -> int:
    if value is None:
        return 0
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value) or value < 0 \
            or int(value) != value:
        raise UsageError(f"{what} must be a whole number >= 0 (0 means no limit)")
    return int(value)


def _listing(record: FunctionRecord) -> dict[str, Any]:
    """name/size/timeout (ms)/maxmem (KB) as slcli shows them; 0 means no limit (the server's maxima)."""
    meta = record.spec.get("meta", {})
    if "timeout_ms" in meta:  # created here: what the client asked for
        timeout, maxmem = meta["timeout_ms"], meta["maxmem_kb"]
    else:  # deployed through another face: its own limits, 0 when it has none
        limits = record.spec.get("limits", {})
        timeout = round(parse_duration(limits["timeout"]) * 1000) if limits.get("timeout") else 0
        maxmem = parse_size(limits["memory"]) // 1024 if limits.get("memory") else 0
    return {"name": record.name, "size": record.size, "timeout": timeout, "maxmem": maxmem}


def _text(status: int, message: str) -> Response:
    """The original's plain-text answers (``OK``, ``Action already exists``, ...)."""
    return PlainTextResponse(message, status_code=status)


@json_errors
async def create(request: Request) -> Response:
    service = service_of(request)
    body = await read_json(request)
    if not isinstance(body, dict):
        raise InputError("the request body must be a JSON object")
    name = body.get("name")
    if not isinstance(name, str) or not name:
        raise UsageError("name is required and must be a string")
    source = decode_base64(body.get("code"), "code")
    timeout, maxmem = _whole(body.get("timeout"), "timeout"), _whole(body.get("maxmem"), "maxmem")
    maxima = service.engine.settings.max_limits
    # 0 is "no limit" at the original's HEAD: here the server's maxima (each limit is clamped to them anyway)
    limits = {"timeout": f"{timeout}ms" if timeout else (maxima.timeout if maxima else None),
              "memory": maxmem * 1024 if maxmem else (maxima.memory if maxima else None)}
    deploy_request = DeployRequest(name=name, runtime="lua", source=source, limits=limits,
                                   meta={"face": "lua-experiments", "timeout_ms": timeout, "maxmem_kb": maxmem})
    try:
        _, created = await run_in_threadpool(service.deploy, deploy_request, replace=False)
    except ArtifactError as exc:  # the original: 500 "Error compiling action"; the reason is in the log
        service.log.emit("error", "Error compiling action", action=name, reason=exc.message)
        return _text(COMPAT_RUN_FAILED, f"Error compiling action: {exc.message}")
    if not created:
        service.log.emit("error", "Action already exists", action=name)
        return _text(COMPAT_RUN_FAILED, "Action already exists")
    service.log.emit("info", "Action compiled successfully", action=name)
    return _text(200, "OK")


@json_errors
async def list_actions(request: Request) -> Response:
    return json_response([_listing(record) for record in service_of(request).store.list_functions()])


@json_errors
async def delete(request: Request) -> Response:
    service_of(request).delete(request.path_params["name"])
    return _text(200, "OK")


def _answer(outcome: Outcome) -> Response:
    status = compat_invoke_status(outcome.error_type, outcome.ran)
    if status == 200:
        return json_response(outcome.envelope["result"])
    return json_response({"error": outcome.envelope["error"]}, status)


@json_errors
async def run_blocking(request: Request) -> Response:
    service = service_of(request)
    record = service.function(request.path_params["name"])
    with service.admission(record) as admission:  # 429 before the body is read
        future = admission.start(await read_input(request))
    return _answer(await asyncio.wrap_future(future))


@json_errors
async def run_async(request: Request) -> Response:
    service = service_of(request)
    record = service.function(request.path_params["name"])
    with service.admission(record) as admission:
        invocation_id = admission.enqueue(await read_input(request))
    return json_response({"InvocationId": invocation_id})


@json_errors
async def resolve(request: Request) -> Response:
    """The result of an async run, waiting (bounded) while it is still queued or running."""
    service = service_of(request)
    text = request.path_params["id"]
    invocation_id = invocation_id_of(text)
    limit = service.engine.settings.max_limits
    await service.settled(invocation_id, (limit.timeout if limit else 30.0) + RESOLVE_GRACE)
    record = service.store.get_invocation(invocation_id)
    if record is None:
        raise NotFoundError(f"no invocation {text!r} (unknown, or its result expired)")
    if record.state != "done" or record.envelope is None:
        return json_response({"InvocationId": record.id, "state": record.state}, 202)
    return _answer(Outcome(record.id, record.envelope, ran=True))


async def ping(request: Request) -> Response:
    service_of(request).log.emit("info", "Ping request received")
    return _text(200, "OK")


ROUTES = [
    Route("/actions", create, methods=["POST"]),
    Route("/actions", list_actions, methods=["GET"]),
    Route("/actions/{name}", delete, methods=["DELETE"]),
    Route("/actions/{name}/block", run_blocking, methods=["POST"]),
    Route("/actions/{name}", run_async, methods=["POST"]),
    Route("/invocation/{id}", resolve, methods=["GET"]),
    Route("/ping", ping, methods=["GET"]),
]
