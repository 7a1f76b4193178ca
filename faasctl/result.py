"""The result envelope of one run, identical in the CLI (``--format json``) and the server."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, NamedTuple


def unicode_text(text: str) -> str:
    """``text`` as valid Unicode: a guest's log or error may hold lone UTF-16 surrogates (QuickJS and
    CPython pass ``'\\ud800'`` through), which no UTF-8 encoder accepts, so the envelope could not be
    written. Pairs are joined, lone ones become U+FFFD; the common case costs one ``isascii``."""
    if text.isascii():
        return text
    try:
        text.encode("utf-8")
        return text
    except UnicodeEncodeError:
        return text.encode("utf-16-le", "surrogatepass").decode("utf-16-le", "replace")


class RunError(NamedTuple):
    type: str
    message: str
    detail: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"type": unicode_text(self.type), "message": unicode_text(self.message),
                "detail": None if self.detail is None else unicode_text(self.detail)}


class Stats(NamedTuple):
    duration_ms: float
    memory_peak_bytes: int | None = None
    fuel_used: int | None = None
    output_bytes: int = 0
    cold_start_ms: float | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "duration_ms": round(self.duration_ms, 3),
            "memory_peak_bytes": self.memory_peak_bytes,
            "fuel_used": self.fuel_used,
            "output_bytes": self.output_bytes,
            "cold_start_ms": None if self.cold_start_ms is None else round(self.cold_start_ms, 3),
        }


class Result(NamedTuple):
    """How one run ended. ``error`` set means ``ok`` is False; output and logs are kept either way."""

    runtime: str
    function: str
    stats: Stats
    result: Any = None
    output_type: str | None = None
    logs: Sequence[str] = ()  # immutable default: a NamedTuple's default is shared by every instance
    error: RunError | None = None
    output: bytes = b""

    @property
    def ok(self) -> bool:
        return self.error is None

    def to_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "result": self.result,
            "output_type": self.output_type,
            "logs": [unicode_text(line) for line in self.logs],
            "error": self.error.to_dict() if self.error else None,
            "stats": self.stats.to_dict(),
            "runtime": self.runtime,
            "function": self.function,
        }
