"""The result envelope of one run, identical in the CLI (``--format json``) and the server."""

from __future__ import annotations

from typing import Any, NamedTuple


class RunError(NamedTuple):
    type: str
    message: str
    detail: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"type": self.type, "message": self.message, "detail": self.detail}


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
    logs: list[str] = []
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
            "logs": list(self.logs),
            "error": self.error.to_dict() if self.error else None,
            "stats": self.stats.to_dict(),
            "runtime": self.runtime,
            "function": self.function,
        }
