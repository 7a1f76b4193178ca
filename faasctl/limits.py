"""Resource limits shared by every runtime: parsing of ``2s`` / ``64MiB`` and the merge order."""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from typing import Any, NamedTuple

from faasctl.errors import UsageError

_DURATION_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "": 1.0}
_SIZE_UNITS = {
    "": 1, "b": 1,
    "k": 1024, "kb": 1000, "kib": 1024,
    "m": 1024**2, "mb": 1000**2, "mib": 1024**2,
    "g": 1024**3, "gb": 1000**3, "gib": 1024**3,
}
# Larger values mean "no limit" in practice and overflow the timers and allocators below them (time_t,
# thread waits, C sizes), so they are clamped rather than refused.
MAX_DURATION = 1e9  # seconds, about 31 years
MAX_SIZE = 2**63 - 1
# wasmtime keeps fuel in a signed 64-bit counter: a larger budget wrapped round and was exhausted at once.
MAX_FUEL = 2**63 - 1
# Caps on what faasctl reads (see files.read_capped). The input cap follows Lambda's 6 MB synchronous
# payload and is an option (--max-input); function files and documents have fixed caps.
DEFAULT_MAX_INPUT = 6 * 1024**2
MAX_FUNCTION_FILE = 128 * 1024**2  # a script or module named as the target
MAX_DOCUMENT = 16 * 1024**2  # faasctl.yaml, *.faas.yaml case files, runtime descriptors, docker config.json
_NUMBER = re.compile(r"^\s*([0-9]+(?:\.[0-9]+)?)\s*([a-zA-Z]*)\s*$")


def parse_duration(text: str | float | int) -> float:
    """Seconds from ``250ms``, ``2s``, ``1m``, ``1.5h`` or a bare number of seconds."""
    if isinstance(text, bool):
        raise UsageError(f"invalid duration {text!r}")
    if isinstance(text, int | float):
        value = float(text)
    else:
        match = _NUMBER.match(str(text))
        unit = match.group(2).lower() if match else None
        if not match or unit not in _DURATION_UNITS:
            raise UsageError(f"invalid duration {text!r}", hint="use a number with ms, s, m or h, e.g. 500ms or 2s")
        value = float(match.group(1)) * _DURATION_UNITS[unit]
    if not math.isfinite(value) or value <= 0:
        raise UsageError(f"invalid duration {text!r}: it must be positive")
    if value < 0.001:
        raise UsageError(f"invalid duration {text!r}: the shortest is 1ms")
    return min(value, MAX_DURATION)


def parse_size(text: str | int) -> int:
    """Bytes from ``64MiB``, ``512k``, ``1GB`` or a bare number of bytes."""
    if isinstance(text, bool):
        raise UsageError(f"invalid size {text!r}")
    if isinstance(text, int):
        value = text
    else:
        match = _NUMBER.match(str(text))
        unit = match.group(2).lower() if match else None
        if not match or unit not in _SIZE_UNITS:
            raise UsageError(f"invalid size {text!r}", hint="use a number with k, KiB, MiB or GiB, e.g. 64MiB")
        value = int(float(match.group(1)) * _SIZE_UNITS[unit])
    if value <= 0:
        raise UsageError(f"invalid size {text!r}: it must be positive")
    return min(value, MAX_SIZE)


def parse_fuel(text: str | int | None) -> int | None:
    """A whole, positive number of instructions up to ``MAX_FUEL``; floats (``1e23``) are refused
    rather than rounded, larger values rather than wrapped."""
    if text is None:
        return None
    if isinstance(text, bool | float):
        raise UsageError(f"invalid fuel {text!r}", hint="use a whole number of instructions")
    try:
        value = int(str(text).replace("_", ""))
    except ValueError:
        raise UsageError(f"invalid fuel {text!r}", hint="use a whole number of instructions") from None
    if value <= 0:
        raise UsageError(f"invalid fuel {text!r}: it must be positive")
    if value > MAX_FUEL:
        raise UsageError(f"invalid fuel {text!r}: it must be at most {MAX_FUEL} (2^63-1)")
    return value


def format_duration(seconds: float) -> str:
    """Shortest exact form (``500ms``, ``2s``, ``1m``) so messages echo what the user typed."""
    ms = round(seconds * 1000, 3)
    if ms % 60000 == 0:
        return f"{int(ms // 60000)}m"
    if ms % 1000 == 0:
        return f"{int(ms // 1000)}s"
    if ms == int(ms):
        return f"{int(ms)}ms"
    return f"{ms}ms"


def format_size(size: int) -> str:
    for unit, factor in (("GiB", 1024**3), ("MiB", 1024**2), ("KiB", 1024)):
        if size >= factor and size % factor == 0:
            return f"{size // factor}{unit}"
    return f"{size}B"


class Limits(NamedTuple):
    """The limits of one run. ``fuel`` None means no instruction budget."""

    timeout: float = 30.0
    memory: int = 256 * 1024**2
    fuel: int | None = None
    max_output: int = 6 * 1024**2

    def merged(self, **overrides: object) -> Limits:
        """A copy with the given fields parsed and replaced; None values are ignored."""
        parsers: dict[str, Callable[[Any], object]] = {"timeout": parse_duration, "memory": parse_size,
                                                       "fuel": parse_fuel, "max_output": parse_size}
        changes: dict[str, Any] = {}
        for key, value in overrides.items():
            if key not in parsers:
                raise UsageError(f"unknown limit {key!r}", hint="known limits: " + ", ".join(parsers))
            if value is not None:
                changes[key] = parsers[key](value)
        return self._replace(**changes)

    def clamped(self, maxima: Limits) -> Limits:
        """Each limit no larger than the server's maxima (fuel None counts as unbounded)."""
        fuel = self.fuel if maxima.fuel is None else min(self.fuel or maxima.fuel, maxima.fuel)
        return Limits(
            timeout=min(self.timeout, maxima.timeout),
            memory=min(self.memory, maxima.memory),
            fuel=fuel,
            max_output=min(self.max_output, maxima.max_output),
        )

    def describe(self) -> dict[str, object]:
        return {
            "timeout": format_duration(self.timeout),
            "memory": format_size(self.memory),
            "fuel": self.fuel,
            "max_output": format_size(self.max_output),
        }


DEFAULT_LIMITS = Limits()
LIMIT_KEYS: tuple[str, ...] = Limits._fields  # the spelling of each limit in config, cases and requests


def limit_message(error_type: str, limits: Limits) -> str:
    """The spec's wording of a limit that was hit: the error names the limit and its value."""
    if error_type == "Timeout":
        return f"timed out after {format_duration(limits.timeout)}"
    if error_type == "MemoryLimit":
        return f"memory limit of {format_size(limits.memory)} exceeded"
    if error_type == "FuelExhausted":
        return f"fuel limit of {limits.fuel} instructions exhausted"
    if error_type == "OutputLimit":
        return f"output limit of {format_size(limits.max_output)} exceeded"
    return error_type
