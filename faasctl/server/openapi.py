"""The OpenAPI 3.1 document of the REST face, served at ``/openapi.json``."""

from __future__ import annotations

from typing import Any

from faasctl import __version__

_ERROR = {"$ref": "#/components/schemas/Error"}
_NAME = {"name": "name", "in": "path", "required": True, "schema": {"type": "string",
                                                                       "pattern": "^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$"}}


def _json(schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _errors(*codes: int) -> dict[str, Any]:
    text = {400: "bad request (malformed JSON, bad field)", 401: "missing or wrong bearer token",
            404: "no such function or invocation", 408: "the request body did not arrive in time",
            413: "request body over the server's maximum",
            422: "the artifact cannot be used (bad module, failed pull)", 429: "queue full; retry later"}
    return {str(code): _json(_ERROR, text[code]) for code in codes}


def document() -> dict[str, Any]:
    function = {"$ref": "#/components/schemas/Function"}
    envelope = {"$ref": "#/components/schemas/Envelope"}
    return {
        "openapi": "3.1.0",
        "info": {"title": "faasctl serve", "version": __version__,
                 "description": "Deploy and invoke sandboxed JS, Python, Lua and WebAssembly functions."},
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
            "schemas": {
                "Error": {"type": "object", "properties": {"error": {"type": "object", "properties": {
                    "type": {"type": "string"}, "message": {"type": "string"}}}}},
                "Deploy": {"type": "object", "additionalProperties": False, "properties": {
                    "runtime": {"type": "string", "enum": ["js", "python", "lua", "wasm"]},
                    "code": {"type": "string", "description": "source text"},
                    "code_base64": {"type": "string", "description": "bytes, e.g. a .wasm module"},
                    "path": {"type": "string", "description": "a file on the server's machine"},
                    "image": {"type": "string", "description": "an OCI reference"},
                    "limits": {"type": "object", "properties": {
                        "timeout": {"type": "string", "examples": ["2s"]},
                        "memory": {"type": "string", "examples": ["64MiB"]},
                        "fuel": {"type": "integer"}, "max_output": {"type": "string"}}},
                    "output_json": {"oneOf": [{"type": "boolean"}, {"const": "auto"}]},
                    "options": {"type": "object", "properties": {
                        "abi": {"enum": ["wasi", "string", "core"]}, "invoke": {"type": "string"},
                        "wasi_args": {"enum": ["json"]}}}}},
                "Function": {"type": "object", "properties": {
                    "name": {"type": "string"}, "runtime": {"type": "string"}, "size": {"type": "integer"},
                    "digest": {"type": "string"}, "limits": {"type": "object"},
                    "effective_limits": {"type": "object"}, "output_json": {}, "origin": {"type": "object"}}},
                "Envelope": {"type": "object", "required": ["ok", "result", "error", "stats"], "properties": {
                    "ok": {"type": "boolean"}, "result": {}, "output_type": {"enum": ["json", "text", None]},
                    "logs": {"type": "array", "items": {"type": "string"}},
                    "error": {"oneOf": [{"type": "null"}, {"type": "object", "properties": {
                        "type": {"type": "string"}, "message": {"type": "string"},
                        "detail": {"type": ["string", "null"]}}}]},
                    "stats": {"type": "object"}, "runtime": {"type": "string"}, "function": {"type": "string"}}},
                "Invocation": {"type": "object", "properties": {
                    "id": {"type": "integer"}, "function": {"type": "string"},
                    "state": {"enum": ["queued", "running", "done"]},
                    "envelope": {"oneOf": [{"type": "null"}, envelope]}}},
            },
        },
        "security": [{"bearer": []}],
        "paths": {
            "/v1/functions": {"get": {"summary": "List functions", "responses": {
                "200": _json({"type": "object", "properties": {"functions": {"type": "array", "items": function}}},
                             "all deployed functions"), **_errors(401)}}},
            "/v1/functions/{name}": {
                "parameters": [_NAME],
                "put": {"summary": "Deploy or replace a function",
                        "requestBody": {"required": True, "content": {"application/json": {
                            "schema": {"$ref": "#/components/schemas/Deploy"}}}},
                        "responses": {"201": _json(function, "created"), "200": _json(function, "replaced"),
                                      **_errors(400, 401, 413, 422)}},
                "get": {"summary": "Describe a function",
                        "responses": {"200": _json(function, "the function"), **_errors(401, 404)}},
                "delete": {"summary": "Delete a function",
                           "responses": {"200": _json({"type": "object"}, "deleted"), **_errors(401, 404)}},
            },
            "/v1/functions/{name}/invoke": {"post": {
                "summary": "Invoke a function; the body is its input JSON (empty: {})",
                "parameters": [_NAME, {"name": "blocking", "in": "query", "schema": {"type": "boolean",
                                                                                      "default": True}}],
                "requestBody": {"content": {"application/json": {"schema": {}}}},
                "responses": {"200": _json(envelope, "the run's envelope (ok false when the function failed)"),
                              "202": _json({"type": "object", "properties": {"invocation_id": {"type": "integer"}}},
                                           "accepted (blocking=false)"),
                              **_errors(400, 401, 404, 408, 413, 422, 429)}}},
            "/v1/invocations/{id}": {"get": {
                "summary": "An invocation's state and envelope, readable until retention passes",
                "parameters": [{"name": "id", "in": "path", "required": True, "schema": {"type": "integer"}}],
                "responses": {"200": _json({"$ref": "#/components/schemas/Invocation"}, "the invocation"),
                              **_errors(401, 404)}}},
            "/healthz": {"get": {"summary": "Liveness (no token needed)", "security": [],
                                 "responses": {"200": _json({"type": "object"}, "alive")}}},
            "/metrics": {"get": {"summary": "Prometheus metrics", "responses": {
                "200": {"description": "text format 0.0.4", "content": {"text/plain": {"schema": {"type": "string"}}}},
                **_errors(401)}}},
        },
    }
