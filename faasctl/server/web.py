"""HTTP plumbing shared by the faces: bounded body reading, strict JSON, error rendering, bearer auth.

Bodies are read with a deadline (a client trickling its body cannot hold a connection for ever) and parsed
on the event loop only when small; large invoke bodies go to the parsing helper process (``bodies``), other
large bodies (deploys) to a thread, at most the parse budget's bytes of them at once.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import sys
from collections.abc import Awaitable, Callable
from typing import Any

from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.types import ASGIApp, Receive, Scope, Send

from faasctl.errors import FaasError, InputError
from faasctl.inputs import FunctionInput
from faasctl.server.bodies import LazyInput, parse_body
from faasctl.server.problems import TIMEOUT, TOO_LARGE, UNAUTHORIZED, HTTPProblem, status_for_error

Endpoint = Callable[[Request], Awaitable[Response]]
OPEN_PATHS = frozenset({"/healthz"})
INLINE_PARSE = 256 * 1024  # bodies up to this size are parsed on the event loop (at worst ~0.1 s)


def json_response(value: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    body = json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    return Response(body, status_code=status, media_type="application/json", headers=headers)


async def read_body(request: Request) -> bytes:
    """The request body, refused with 413 as soon as it passes the configured maximum, and with 408 when
    it has not all arrived within the body timeout."""
    limit: int = request.app.state.max_body
    deadline: float = request.app.state.body_timeout
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise HTTPProblem(TOO_LARGE, "PayloadTooLarge", f"request body of {declared} bytes is over the limit of "
                                                        f"{limit} bytes")
    chunks: list[bytes] = []
    size = 0
    try:
        async with asyncio.timeout(deadline):  # no extra task, unlike wait_for
            async for chunk in request.stream():
                size += len(chunk)
                if size > limit:
                    raise HTTPProblem(TOO_LARGE, "PayloadTooLarge",
                                      f"request body is over the limit of {limit} bytes")
                chunks.append(chunk)
    except TimeoutError:
        raise HTTPProblem(TIMEOUT, "RequestTimeout",
                          f"the request body did not arrive within {deadline:g}s") from None
    return b"".join(chunks)


async def read_json(request: Request, empty: Any = None) -> Any:
    """The body as JSON; an empty body is ``empty`` (or an error when ``empty`` is None). Large bodies are
    parsed off the event loop, within the app's parse budget."""
    body = await read_body(request)
    if not body.strip():
        if empty is None:
            raise InputError("the request body is empty; expected JSON")
        return empty
    if len(body) <= INLINE_PARSE:
        return parse_body(body)
    from starlette.concurrency import run_in_threadpool

    async with request.app.state.body_parser.budget.hold(len(body)):
        return await run_in_threadpool(parse_body, body)


async def read_input(request: Request) -> FunctionInput:
    """An invoke body as the function's input (an empty body is ``{}``): large bodies are validated and
    compacted by the parsing helper process, so the event loop never parses them."""
    body = await read_body(request)
    if not body.strip():
        return FunctionInput.of({})
    if len(body) <= INLINE_PARSE:
        return FunctionInput.of(parse_body(body))
    _, text = await request.app.state.body_parser.compact(body)
    return LazyInput(None, text or "null")


async def read_member(request: Request, member: str) -> tuple[dict[str, Any], FunctionInput | None]:
    """A JSON object body's scalar top-level fields, and its ``member`` as an input (None when absent)."""
    body = await read_body(request)
    if not body.strip():
        raise InputError("the request body is empty; expected JSON")
    if len(body) <= INLINE_PARSE:
        value = parse_body(body)
        if not isinstance(value, dict):
            raise InputError("the request body must be a JSON object")
        inner = value.get(member)
        return value, None if inner is None else FunctionInput.of(inner)
    fields, text = await request.app.state.body_parser.compact(body, member)
    return fields, None if text is None else LazyInput(None, text)


def error_parts(exc: BaseException) -> tuple[int, str, str]:
    """(status, error type, one-line message) of any exception, the statuses from the one table."""
    if isinstance(exc, HTTPProblem):
        return exc.status, exc.type_name, exc.message
    if isinstance(exc, FaasError):
        return status_for_error(exc.type_name), exc.type_name, exc.one_line()
    sys.stderr.write(f"faasctl serve: internal error: {type(exc).__name__}: {exc}\n")
    return 500, "InternalError", f"internal error: {type(exc).__name__}: {exc}"


def json_errors(handler: Endpoint) -> Endpoint:
    """REST and lua-experiments routes: errors as ``{"error": {"type", "message"}}``."""

    async def wrapped(request: Request) -> Response:
        try:
            return await handler(request)
        except Exception as exc:
            status, type_name, message = error_parts(exc)
            return json_response({"error": {"type": type_name, "message": message}}, status)

    wrapped.__name__ = handler.__name__
    return wrapped


def text_errors(handler: Endpoint) -> Endpoint:
    """WasmEngine routes: errors as its ``status code: N, message: ...`` text."""

    async def wrapped(request: Request) -> Response:
        try:
            return await handler(request)
        except Exception as exc:
            status, type_name, message = error_parts(exc)
            return wasmengine_text(status, f"{type_name}: {message}")

    wrapped.__name__ = handler.__name__
    return wrapped


def wasmengine_text(status: int, message: str) -> Response:
    return PlainTextResponse(f"status code: {status}, message: {message}", status_code=status)


class BearerAuth:
    """Every route but ``/healthz`` needs ``Authorization: Bearer TOKEN`` when a token is set.
    A plain ASGI middleware: Starlette's BaseHTTPMiddleware costs a task per request."""

    def __init__(self, app: ASGIApp, token: str | None) -> None:
        self.app = app
        self.expected = token.encode() if token else None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self.expected is None or scope["type"] != "http" or scope["path"] in OPEN_PATHS:
            await self.app(scope, receive, send)
            return
        given = dict(scope["headers"]).get(b"authorization", b"")
        scheme, _, credentials = given.partition(b" ")
        # the scheme is case-insensitive (RFC 9110 11.1): "bearer T" is as good as "Bearer T"
        if hmac.compare_digest(credentials, self.expected) and scheme.lower() == b"bearer":
            await self.app(scope, receive, send)
            return
        message = "missing bearer token" if not given else "wrong bearer token"
        response = json_response({"error": {"type": "Unauthorized", "message": message}}, UNAUTHORIZED,
                                 headers={"WWW-Authenticate": 'Bearer realm="faasctl"'})
        await response(scope, receive, send)


class RequestLog:
    """One ``debug`` line per request (method, path, status, milliseconds); added only at ``--log-level
    debug``, so it costs nothing otherwise."""

    def __init__(self, app: ASGIApp, log: Any) -> None:
        self.app = app
        self.log = log

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        import time

        started = time.perf_counter()
        status = 0

        async def sending(message: Any) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, sending)
        finally:
            client = scope.get("client")
            self.log.emit("debug", "request", method=scope["method"], path=scope["path"], status=status or None,
                          ms=round((time.perf_counter() - started) * 1000, 2),
                          client=f"{client[0]}:{client[1]}" if client else None)
