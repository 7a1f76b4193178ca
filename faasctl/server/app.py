"""The Starlette application: the three faces' routes over one ``Service``, bearer auth, JSON 404/405."""

from __future__ import annotations

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import Response

from faasctl.server import luaexp, rest, wasmengine
from faasctl.server.bodies import BodyParser, ByteBudget
from faasctl.server.service import Service
from faasctl.server.web import BearerAuth, RequestLog, json_response


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    message = "no such route" if exc.status_code == 404 else str(exc.detail)
    kind = "NotFound" if exc.status_code == 404 else "MethodNotAllowed" if exc.status_code == 405 else "HTTPError"
    return json_response({"error": {"type": kind, "message": f"{message}: {request.method} {request.url.path}"}},
                         exc.status_code, headers=exc.headers)


def build_app(service: Service, *, token: str | None, max_body: int, body_timeout: float = 30.0) -> Starlette:
    app = Starlette(
        routes=[*rest.ROUTES, *wasmengine.ROUTES, *luaexp.ROUTES],
        middleware=[*([Middleware(RequestLog, log=service.log)] if service.log.enabled("debug") else []),
                    Middleware(BearerAuth, token=token)],
        exception_handlers={HTTPException: _http_error},
    )
    app.state.service = service
    app.state.max_body = max_body
    app.state.body_timeout = body_timeout
    app.state.body_parser = BodyParser(ByteBudget(max_body))
    return app
