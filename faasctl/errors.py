"""One error hierarchy, and the one table that maps error types to exit codes and HTTP statuses.

Two kinds of failure are kept apart. A ``FaasError`` exception means faasctl could not run the
function at all (bad input, unknown runtime, broken artifact). A run that started and ended badly
(timeout, trap, limit) is not an exception: it is a ``Result`` whose ``error`` names one of the run
error types below. Both kinds share the tables here, so the CLI and the server cannot drift apart.
"""

from __future__ import annotations

from typing import NamedTuple


class ErrorKind(NamedTuple):
    """What an error type means outside faasctl: the process exit code, the HTTP status used when it is
    raised before a run starts, and whether trying the same run again may succeed."""

    exit_code: int
    http_status: int
    retryable: bool


# Retryable: a worker (Temporal, Conductor) retries these under the task's retry policy; the others fail
# the task at once. Spec section 11 names UsageError, InputError and ArtifactError non-retryable; NotFound
# joins them (the name will not appear by itself). The limits other than Timeout are non-retryable too:
# the same code on the same input under the same limit uses the same memory, fuel and output, so a retry
# only spends the budget again. A Timeout may pass on a less loaded machine; a function error, trap or
# invalid output may come from something outside the run (a plugin, a store), so they follow the policy,
# which is what Temporal users expect; Interrupted (a cancel, a restart) and InternalError too.
ERROR_TABLE: dict[str, ErrorKind] = {
    "FunctionError": ErrorKind(1, 200, True),
    "Trap": ErrorKind(1, 200, True),
    "InvalidOutput": ErrorKind(1, 200, True),
    "UsageError": ErrorKind(2, 400, False),
    "InputError": ErrorKind(2, 400, False),
    "NotFound": ErrorKind(2, 404, False),
    "Timeout": ErrorKind(3, 200, True),
    "MemoryLimit": ErrorKind(4, 200, False),
    "FuelExhausted": ErrorKind(5, 200, False),
    "OutputLimit": ErrorKind(6, 200, False),
    "ArtifactError": ErrorKind(7, 422, False),
    "InternalError": ErrorKind(70, 500, True),  # a bug in faasctl (EX_SOFTWARE)
    "Interrupted": ErrorKind(130, 500, True),  # Ctrl-C, a cancelled run, a server run cut off by a restart
}

EXIT_INTERRUPTED = ERROR_TABLE["Interrupted"].exit_code
EXIT_INTERNAL = ERROR_TABLE["InternalError"].exit_code


def exit_code_for(error_type: str) -> int:
    """Exit code of an error type; unknown types are faasctl bugs."""
    return ERROR_TABLE.get(error_type, ERROR_TABLE["InternalError"]).exit_code


def http_status_for(error_type: str) -> int:
    return ERROR_TABLE.get(error_type, ERROR_TABLE["InternalError"]).http_status


def is_retryable(error_type: str) -> bool:
    """Whether a retry of a run that ended with ``error_type`` may succeed (see ``ERROR_TABLE``)."""
    return ERROR_TABLE.get(error_type, ERROR_TABLE["InternalError"]).retryable


class FaasError(Exception):
    """Base of every error faasctl raises on purpose; ``type_name`` indexes ``ERROR_TABLE``."""

    type_name = "InternalError"

    def __init__(self, message: str, *, detail: str | None = None, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.detail = detail
        self.hint = hint

    @property
    def exit_code(self) -> int:
        return exit_code_for(self.type_name)

    @property
    def http_status(self) -> int:
        return http_status_for(self.type_name)

    def one_line(self) -> str:
        text = " ".join(self.message.split("\n"))
        return f"{text} ({self.hint})" if self.hint else text


class UsageError(FaasError):
    """The command line or request is wrong: unknown option, missing file, unknown runtime."""

    type_name = "UsageError"


class InputError(FaasError):
    """The function input cannot be built: invalid JSON, a bad ``-p`` pair, an unreadable file."""

    type_name = "InputError"


class NotFoundError(FaasError):
    """A named thing (deployed function, invocation) does not exist."""

    type_name = "NotFound"


class ArtifactError(FaasError):
    """The code to run is broken or unavailable: corrupt binary, digest mismatch, invalid module."""

    type_name = "ArtifactError"


class InternalError(FaasError):
    """A bug in faasctl itself."""

    type_name = "InternalError"
