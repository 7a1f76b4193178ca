"""The openEuler WasmEngine face: ``/function/deploy|delete|list|query|invoke`` with its text bodies.

Its clients read ``status code: 200, message: ...``. As WasmEngine's ``spawn_wasi`` does, one trailing
newline of a WASI function's output is dropped from the message. The list shows only WebAssembly
functions, with the image (or path) they were deployed from and whether they run as WASI commands, since
nothing truthful can be said there of a Lua or JS function. Where WasmEngine was wrong, this face is right
(see docs/serve.md): ``args`` keeps any JSON (WasmEngine's ``HashMap<String, String>`` rejected arrays,
numbers and nested objects), names and images in the list are JSON-escaped strings, and an unknown
function is a 404 with a message instead of a 500 "Unhandled rejection".
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from faasctl.errors import InputError, UsageError
from faasctl.inputs import FunctionInput
from faasctl.server.problems import compat_invoke_status
from faasctl.server.rest import service_of
from faasctl.server.service import DeployRequest
from faasctl.server.store import FunctionRecord
from faasctl.server.web import read_json, read_member, text_errors, wasmengine_text


def _body(value: Any) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise InputError("the request body must be a JSON object")
    name = value.get("function_name")
    if not isinstance(name, str) or not name:
        raise UsageError("function_name is required and must be a string")
    return value


def _image_fields(record: FunctionRecord) -> tuple[str, bool] | None:
    """(image, wasi_cap) of a function this face can describe: a wasm module deployed from an image or a
    path, whose ABI (recorded at deploy) says whether it runs as a WASI command. None for the rest."""
    meta = record.spec.get("meta", {})
    image = meta.get("function_image") or record.spec.get("origin", {}).get("ref")
    if record.runtime != "wasm" or not image:
        return None
    wasi = meta.get("wasi_cap")
    if wasi is None:
        wasi = (meta.get("abi") or record.spec.get("options", {}).get("abi")) == "wasi"
    return str(image), bool(wasi)


@text_errors
async def deploy(request: Request) -> Response:
    body = _body(await read_json(request))
    name = body["function_name"]
    image = body.get("function_image")
    if not isinstance(image, str) or not image:
        raise UsageError("function_image is required: an OCI reference or a local .wasm path")
    wasi_cap = body.get("wasi_cap", False)
    if not isinstance(wasi_cap, bool):
        raise UsageError("wasi_cap must be true or false")
    local = image.removeprefix("file://")
    is_path = image.startswith(("/", "./", "../", "file://")) or Path(local).is_file()
    options = {"abi": "wasi", "wasi_args": "json"} if wasi_cap else {"abi": "string"}
    deploy_request = DeployRequest(
        name=name, runtime="wasm", path=local if is_path else None, image=None if is_path else image,
        filename=f"{name}.wasm", output_json="false", options=options,
        meta={"face": "wasmengine", "function_image": image, "wasi_cap": wasi_cap},
    )
    await run_in_threadpool(service_of(request).deploy, deploy_request)
    return wasmengine_text(200, f"deploy function {name} successfully!\n")


@text_errors
async def delete(request: Request) -> Response:
    name = _body(await read_json(request))["function_name"]
    service_of(request).delete(name)
    return wasmengine_text(200, f"delete function {name} successfully!\n")


@text_errors
async def list_functions(request: Request) -> Response:
    entries = []
    for record in service_of(request).store.list_functions():
        fields = _image_fields(record)
        if fields is None:
            continue
        image, wasi = fields
        entries.append("{" + f"\"func_name\": {json.dumps(record.name)}, \"func_image_name\": {json.dumps(image)}, "
                       f"\"wasi_cap\": {json.dumps(wasi)}" + "}")
    return wasmengine_text(200, f"all deployed function info: [{', '.join(entries)}]\n")


@text_errors
async def query(request: Request) -> Response:
    service = service_of(request)
    record = service.function(_body(await read_json(request))["function_name"])
    image, wasi = _image_fields(record) or (record.spec.get("origin", {}).get("ref") or "",
                                            record.spec.get("meta", {}).get("abi") == "wasi")
    local = f"{service.store.path}#functions/{record.name}"
    return wasmengine_text(200, f"queried function info: FunctionEntry {{ func_name: {json.dumps(record.name)}, "
                                f"func_image_name: {json.dumps(image)}, func_local_path: {json.dumps(local)}, "
                                f"wasi_cap: {json.dumps(wasi)} }}\n")


@text_errors
async def invoke(request: Request) -> Response:
    service = service_of(request)
    fields, args = await read_member(request, "args")
    record = service.function(_body(fields)["function_name"])
    with service.admission(record) as admission:
        future = admission.start(FunctionInput.of({}) if args is None else args)
    outcome = await asyncio.wrap_future(future)
    status = compat_invoke_status(outcome.error_type, outcome.ran)
    if status == 200:
        result = outcome.envelope["result"]
        text = result if isinstance(result, str) else json.dumps(result, ensure_ascii=False, separators=(",", ":"))
        if result is not None and _runs_as_wasi(record):
            text = text.removesuffix("\n")  # WasmEngine's spawn_wasi strips one trailing newline
        return wasmengine_text(200, "" if result is None else text)
    error = outcome.envelope["error"]
    return wasmengine_text(status, f"{error['type']}: {error['message']}")


def _runs_as_wasi(record: FunctionRecord) -> bool:
    return (record.spec.get("meta", {}).get("abi") or record.spec.get("options", {}).get("abi")) == "wasi"


ROUTES = [
    Route("/function/deploy", deploy, methods=["POST"]),
    Route("/function/delete", delete, methods=["POST"]),
    Route("/function/list", list_functions, methods=["GET"]),
    Route("/function/query", query, methods=["POST"]),
    Route("/function/invoke", invoke, methods=["POST"]),
]
