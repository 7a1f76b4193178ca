"""The REST face: ``/v1/functions``, ``/v1/invocations``, ``/healthz``, ``/metrics``, ``/openapi.json``."""

from __future__ import annotations

import asyncio
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from faasctl.errors import InputError, NotFoundError, UsageError
from faasctl.output import output_mode
from faasctl.server.problems import rest_invoke_status
from faasctl.server.service import DeployRequest, Service, decode_base64
from faasctl.server.web import json_errors, json_response, read_input, read_json

DEPLOY_KEYS = ("runtime", "code", "code_base64", "path", "image", "limits", "output_json", "options")
LIMIT_KEYS = ("timeout", "memory", "fuel", "max_output")
FALSE_WORDS = frozenset({"false", "0", "no"})


def service_of(request: Request) -> Service:
    return request.app.state.service  # type: ignore[no-any-return]


def deploy_request(name: str, body: Any) -> DeployRequest:
    """A REST deploy body to a ``DeployRequest``; every wrong key or type is a 400 naming it."""
    if not isinstance(body, dict):
        raise InputError("the deploy body must be a JSON object")
    unknown = sorted(set(body) - set(DEPLOY_KEYS))
    if unknown:
        raise UsageError(f"unknown deploy key {unknown[0]!r}", hint="known keys: " + ", ".join(DEPLOY_KEYS))
    runtime = body.get("runtime")
    if runtime is not None and not isinstance(runtime, str):
        raise UsageError("runtime must be a string")
    source = None
    if "code" in body:
        if not isinstance(body["code"], str):
            raise UsageError("code must be a string (use code_base64 for bytes)")
        source = body["code"].encode("utf-8")
    if "code_base64" in body:
        if source is not None:
            raise UsageError("give code or code_base64, not both")
        source = decode_base64(body["code_base64"], "code_base64")
    limits = body.get("limits") or {}
    if not isinstance(limits, dict):
        raise UsageError("limits must be an object like {\"timeout\": \"2s\", \"memory\": \"64MiB\"}")
    bad = sorted(set(limits) - set(LIMIT_KEYS))
    if bad:
        raise UsageError(f"unknown limit {bad[0]!r}", hint="known limits: " + ", ".join(LIMIT_KEYS))
    options = body.get("options") or {}
    if not isinstance(options, dict):
        raise UsageError("options must be an object like {\"abi\": \"string\"} (abi, invoke, wasi_args)")
    return DeployRequest(name=name, runtime=runtime, source=source, path=body.get("path"), image=body.get("image"),
                         limits=limits, output_json=output_mode(body.get("output_json", "auto")), options=options,
                         meta={"face": "rest"})


@json_errors
async def put_function(request: Request) -> Response:
    service = service_of(request)
    request_ = deploy_request(request.path_params["name"], await read_json(request))
    record, created = await run_in_threadpool(service.deploy, request_)
    return json_response(service.describe(record), 201 if created else 200)


@json_errors
async def get_function(request: Request) -> Response:
    service = service_of(request)
    return json_response(service.describe(service.function(request.path_params["name"])))


@json_errors
async def list_functions(request: Request) -> Response:
    service = service_of(request)
    return json_response({"functions": [service.describe(r) for r in service.store.list_functions()]})


@json_errors
async def delete_function(request: Request) -> Response:
    name = request.path_params["name"]
    service_of(request).delete(name)
    return json_response({"deleted": name})


@json_errors
async def invoke(request: Request) -> Response:
    service = service_of(request)
    record = service.function(request.path_params["name"])
    blocking = request.query_params.get("blocking", "true").lower() not in FALSE_WORDS
    with service.admission(record) as admission:  # 429 before the body is read
        input_ = await read_input(request)
        if not blocking:
            invocation_id = admission.enqueue(input_)
            return json_response({"invocation_id": invocation_id}, 202,
                                 headers={"Location": f"/v1/invocations/{invocation_id}"})
        future = admission.start(input_)
    outcome = await asyncio.wrap_future(future)
    return json_response(outcome.envelope, rest_invoke_status(outcome.error_type, outcome.ran),
                         headers={"X-Faasctl-Invocation-Id": str(outcome.invocation_id)})


def invocation_id_of(text: str) -> int:
    if not (text.isascii() and text.isdigit()) or len(text) > 18:
        raise NotFoundError(f"no invocation {text!r}")
    return int(text)


@json_errors
async def get_invocation(request: Request) -> Response:
    text = request.path_params["id"]
    record = service_of(request).store.get_invocation(invocation_id_of(text))
    if record is None:
        raise NotFoundError(f"no invocation {text!r} (unknown, or its result expired)")
    return json_response({"id": record.id, "function": record.function, "state": record.state,
                          "envelope": record.envelope})


async def healthz(request: Request) -> Response:
    """Touches neither the store nor the pool, so it answers while every worker is busy."""
    return json_response({"status": "ok"})


@json_errors
async def metrics(request: Request) -> Response:
    text = service_of(request).render_metrics()
    return PlainTextResponse(text, media_type="text/plain; version=0.0.4")


@json_errors
async def openapi(request: Request) -> Response:
    from faasctl.server.openapi import document

    return json_response(document())


ROUTES = [
    Route("/v1/functions", list_functions, methods=["GET"]),
    Route("/v1/functions/{name}", put_function, methods=["PUT"]),
    Route("/v1/functions/{name}", get_function, methods=["GET"]),
    Route("/v1/functions/{name}", delete_function, methods=["DELETE"]),
    Route("/v1/functions/{name}/invoke", invoke, methods=["POST"]),
    Route("/v1/invocations/{id}", get_invocation, methods=["GET"]),
    Route("/healthz", healthz, methods=["GET"]),
    Route("/metrics", metrics, methods=["GET"]),
    Route("/openapi.json", openapi, methods=["GET"]),
]
