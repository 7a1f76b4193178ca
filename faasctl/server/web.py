"""HTTP plumbing shared by the faces: bounded body reading, strict JSON, error rendering, bearer auth.

Bodies are read with a deadline (a client trickling its body cannot hold a connection for ever) and parsed
on the event loop only when small; larger ones are parsed in a thread, and at most ``parse budget`` bytes of
them at once (a 15 MB ``[[],[],...]`` becomes about 300 MB of Python objects: ten at once must not run the
server out of memory), so ``/healthz`` and small requests keep being answered meanwhile.
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
from faasctl.inputs import parse_json_input
from faasctl.server.problems import TIMEOUT, TOO_LARGE, UNAUTHORIZED, HTTPProblem, status_for_error

Endpoint = Callable[[Request], Awaitable[Response]]
OPEN_PATHS = frozenset({"/healthz"})
INLINE_PARSE = 64 * 1024  # bodies up to this size are parsed on the event loop (microseconds)
BODY_DEADLINE = 30.0  # seconds a client has to send its whole body


class ByteBudget:
    """At most ``limit`` bytes of request bodies being parsed at once; others wait their turn."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.used = 0
        self._cond = asyncio.Condition()

    async def run(self, size: int, work: Callable[[], Any]) -> Any:
        from starlette.concurrency import run_in_threadpool

        size = min(size, self.limit)
        async with self._cond:
            await self._cond.wait_for(lambda: self.used + size <= self.limit)
            self.used += size
        try:
            return await run_in_threadpool(work)
        finally:
            async with self._cond:
                self.used -= size
                self._cond.notify_all()


def json_response(value: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    body = json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    return Response(body, status_code=status, media_type="application/json", headers=headers)


async def read_body(request: Request) -> bytes:
    """The request body, refused with 413 as soon as it passes the configured maximum, and with 408 when
    it has not all arrived within ``BODY_DEADLINE``."""
    limit: int = request.app.state.max_body
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise HTTPProblem(TOO_LARGE, "PayloadTooLarge", f"request body of {declared} bytes is over the limit of "
                                                        f"{limit} bytes")
    chunks: list[bytes] = []
    size = 0

    async def collect() -> None:
        nonlocal size
        async for chunk in request.stream():
            size += len(chunk)
            if size > limit:
                raise HTTPProblem(TOO_LARGE, "PayloadTooLarge", f"request body is over the limit of {limit} bytes")
            chunks.append(chunk)

    try:
        await asyncio.wait_for(collect(), BODY_DEADLINE)
    except TimeoutError:
        raise HTTPProblem(TIMEOUT, "RequestTimeout",
                          f"the request body did not arrive within {BODY_DEADLINE:g}s") from None
    return b"".join(chunks)


def parse_body(body: bytes) -> Any:
    try:
        text = body.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InputError(f"the request body is not valid UTF-8 (byte offset {exc.start})") from None
    return parse_json_input(text, "the request body", hint=None)


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
    budget: ByteBudget = request.app.state.parse_budget
    return await budget.run(len(body), lambda: parse_body(body))


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
