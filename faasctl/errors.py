"""One error hierarchy, and the one table that maps error types to exit codes and HTTP statuses.

Two kinds of failure are kept apart. A ``FaasError`` exception means faasctl could not run the
function at all (bad input, unknown runtime, broken artifact). A run that started and ended badly
(timeout, trap, limit) is not an exception: it is a ``Result`` whose ``error`` names one of the run
error types below. Both kinds share the tables here, so the CLI and the server cannot drift apart.
"""

from __future__ import annotations

# error type -> (exit code, HTTP status used when the error is raised before a run starts)
ERROR_TABLE: dict[str, tuple[int, int]] = {
    "FunctionError": (1, 200),
    "Trap": (1, 200),
    "InvalidOutput": (1, 200),
    "UsageError": (2, 400),
    "InputError": (2, 400),
    "NotFound": (2, 404),
    "Timeout": (3, 200),
    "MemoryLimit": (4, 200),
    "FuelExhausted": (5, 200),
    "OutputLimit": (6, 200),
    "ArtifactError": (7, 422),
    "Interrupted": (130, 500),  # a server run cut off by a restart
    "InternalError": (70, 500),
}

RUN_ERROR_TYPES = frozenset(
    {"FunctionError", "Trap", "InvalidOutput", "Timeout", "MemoryLimit", "FuelExhausted", "OutputLimit"}
)

EXIT_INTERRUPTED = 130


def exit_code_for(error_type: str) -> int:
    """Exit code of an error type; unknown types are faasctl bugs."""
    return ERROR_TABLE.get(error_type, ERROR_TABLE["InternalError"])[0]


def http_status_for(error_type: str) -> int:
    return ERROR_TABLE.get(error_type, ERROR_TABLE["InternalError"])[1]


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
