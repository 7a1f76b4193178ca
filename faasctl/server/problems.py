"""The one place where the server decides HTTP statuses.

Errors raised before a run starts (bad input, unknown function, broken artifact) take their status from
``faasctl.errors.http_status_for``; a run that started and ended badly is a 200 with ``ok: false`` on the
REST face, and a 500 on the WasmEngine and lua-experiments faces, whose clients only look at the status.
HTTP-level refusals that are not engine errors (auth, size, capacity, routing) are ``HTTPProblem``.
"""

from __future__ import annotations

from faasctl.errors import http_status_for

UNAUTHORIZED = 401
NOT_FOUND = 404
METHOD_NOT_ALLOWED = 405
TIMEOUT = 408
TOO_LARGE = 413
TOO_MANY = 429
COMPAT_RUN_FAILED = 500


class HTTPProblem(Exception):
    """A refusal at the HTTP level; ``type_name`` goes into the JSON error body."""

    def __init__(self, status: int, type_name: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.type_name = type_name
        self.message = message


def status_for_error(error_type: str) -> int:
    """Status of an error raised before a run could start."""
    return http_status_for(error_type)


def rest_invoke_status(error_type: str | None, ran: bool) -> int:
    """REST face: the envelope says how a run ended, so a run that happened is 200 whatever its outcome."""
    if error_type is None or ran:
        return 200
    return http_status_for(error_type)


def compat_invoke_status(error_type: str | None, ran: bool) -> int:
    """WasmEngine / lua-experiments faces: their clients read failure from the status alone."""
    if error_type is None:
        return 200
    return COMPAT_RUN_FAILED if ran else http_status_for(error_type)
