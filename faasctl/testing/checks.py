"""Comparing one run with what its case expects; each mismatch becomes a ``Failure`` with a diff.

Pure functions over plain values, so they are tested without running anything.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from faasctl.errors import FaasError
    from faasctl.result import Result
    from faasctl.testing.cases import Expect


@dataclass(frozen=True)
class Failure:
    """One unmet expectation. ``expected``/``actual`` are texts to diff, when a diff helps."""

    message: str
    expected: str | None = None
    actual: str | None = None


# -- stats bounds ---------------------------------------------------------------------------------------


def _ms(text: str) -> float:
    from faasctl.limits import parse_duration

    text = text.strip()
    if re.fullmatch(r"[0-9]+(\.[0-9]+)?", text):
        return float(text)  # a bare number of a *_ms stat is milliseconds
    return parse_duration(text) * 1000


def _size(text: str) -> float:
    from faasctl.limits import parse_size

    return float(parse_size(text.strip()))


def _count(text: str) -> float:
    return float(int(text.strip().replace("_", "")))


STAT_PARSERS: dict[str, Callable[[str], float]] = {
    "duration_ms": _ms,
    "cold_start_ms": _ms,
    "memory_peak_bytes": _size,
    "fuel_used": _count,
    "output_bytes": _size,
}
_OPS: dict[str, Callable[[float, float], bool]] = {
    "<=": lambda a, b: a <= b, ">=": lambda a, b: a >= b, "==": lambda a, b: a == b,
    "!=": lambda a, b: a != b, "<": lambda a, b: a < b, ">": lambda a, b: a > b,
}
_BOUND = re.compile(r"^\s*(<=|>=|==|!=|<|>)\s*(\S.*?)\s*$")


@dataclass(frozen=True)
class StatBound:
    stat: str
    op: str
    value: float
    text: str

    def holds(self, actual: float) -> bool:
        return _OPS[self.op](actual, self.value)


def parse_bound(stat: str, text: Any) -> StatBound:
    """``"< 5000000"``, ``"<= 16MiB"``, ``"< 50"`` (ms) into a bound; raises ValueError saying why."""
    if isinstance(text, bool) or not isinstance(text, str):
        raise ValueError(f"expected a comparison such as '< {text}', got {text!r}")
    match = _BOUND.match(text)
    if not match:
        raise ValueError(f"expected a comparison such as '< 5000000' (operators < <= > >= == !=), got {text!r}")
    try:
        value = STAT_PARSERS[stat](match.group(2))
    except Exception as exc:  # UsageError from the unit parsers, ValueError from int()
        raise ValueError(f"invalid value {match.group(2)!r}: {getattr(exc, 'message', exc)}") from None
    return StatBound(stat, match.group(1), value, text.strip())


# -- JSON paths -----------------------------------------------------------------------------------------

_TOKEN = re.compile(r"""\.([A-Za-z_$][\w$-]*)|\[(-?\d+)\]|\[\s*'([^']*)'\s*\]|\[\s*"([^"]*)"\s*\]""")


def parse_json_path(path: str) -> tuple[str | int, ...]:
    """``$.user.tags[0]``, ``user.name``, ``$['a key']`` into keys and indexes; raises ValueError."""
    text = path.strip()
    if text.startswith("$"):
        text = text[1:]
    elif text and not text.startswith(("[", ".")):
        text = "." + text
    parts: list[str | int] = []
    position = 0
    while position < len(text):
        match = _TOKEN.match(text, position)
        if not match:
            raise ValueError(f"invalid JSON path {path!r} at {text[position:]!r} "
                             f"(use $.key, $.list[0] or $['odd key'])")
        key, index, single, double = match.groups()
        parts.append(int(index) if index is not None else next(p for p in (key, single, double) if p is not None))
        position = match.end()
    return tuple(parts)


def lookup(value: Any, path: tuple[str | int, ...]) -> tuple[bool, Any]:
    for part in path:
        in_list = isinstance(part, int) and isinstance(value, list) and -len(value) <= part < len(value)
        in_object = isinstance(part, str) and isinstance(value, dict) and part in value
        if not (in_list or in_object):
            return False, None
        value = value[part]
    return True, value


# -- values ---------------------------------------------------------------------------------------------


def json_equal(a: Any, b: Any) -> bool:
    """JSON equality: 1 == 1.0, but true != 1 and "1" != 1."""
    if isinstance(a, bool) or isinstance(b, bool):
        return type(a) is type(b) and a == b
    if isinstance(a, int | float) and isinstance(b, int | float):
        return a == b
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(json_equal(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(json_equal(x, y) for x, y in zip(a, b, strict=True))
    return type(a) is type(b) and a == b


def subset_mismatch(expected: Any, actual: Any, where: str = "$") -> str | None:
    """Where ``actual`` fails to contain ``expected`` (objects: listed keys only; lists: item by item)."""
    if isinstance(expected, dict):
        if not isinstance(actual, dict):
            return f"{where}: expected an object, got {show(actual)}"
        for key, value in expected.items():
            if key not in actual:
                return f"{where}.{key}: missing"
            problem = subset_mismatch(value, actual[key], f"{where}.{key}")
            if problem:
                return problem
        return None
    if isinstance(expected, list):
        if not isinstance(actual, list) or len(actual) != len(expected):
            return f"{where}: expected a list of {len(expected)}, got {show(actual)}"
        for index, (want, got) in enumerate(zip(expected, actual, strict=True)):
            problem = subset_mismatch(want, got, f"{where}[{index}]")
            if problem:
                return problem
        return None
    return None if json_equal(expected, actual) else f"{where}: expected {show(expected)}, got {show(actual)}"


def show(value: Any, limit: int = 200) -> str:
    text = json.dumps(value, ensure_ascii=False, default=str)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def pretty(value: Any) -> str:
    """Text for diffs: strings as they are, other values as indented JSON."""
    if isinstance(value, str):
        return value
    return json.dumps(value, indent=2, ensure_ascii=False, sort_keys=True, default=str)


def as_text(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, separators=(",", ":"))


# -- one case -------------------------------------------------------------------------------------------


def check(expect: Expect, result: Result | None, raised: FaasError | None = None) -> list[Failure]:
    """Every way the run (or the error raised before it could run) misses the expectation."""
    if raised is not None:
        if expect.error == raised.type_name:
            return _error_text(expect, raised.one_line())
        return [Failure(f"could not run: {raised.type_name}: {raised.one_line()}")]
    assert result is not None
    failures = _outcome(expect, result)
    failures.extend(_logs(expect, result.logs))
    failures.extend(_stats(expect, result.stats.to_dict()))
    return failures


def _outcome(expect: Expect, result: Result) -> list[Failure]:
    error = result.error
    if expect.error:
        if error is None:
            return [Failure(f"expected error {expect.error}, but the run succeeded with {show(result.result)}")]
        if error.type != expect.error:
            return [Failure(f"expected error {expect.error}, got {error.type}: {error.message}")]
        return _error_text(expect, error.message + ("\n" + error.detail if error.detail else ""))
    if error is not None:
        return [Failure(f"run failed: {error.type}: {error.message}")]
    failures = _error_text(expect, None) if expect.error_contains else []
    actual = result.result
    if expect.has_result and not json_equal(expect.result, actual):
        failures.append(Failure("result differs", pretty(expect.result), pretty(actual)))
    if expect.has_subset:
        problem = subset_mismatch(expect.result_subset, actual)
        if problem:
            failures.append(Failure(f"result_subset not matched at {problem}", pretty(expect.result_subset),
                                    pretty(actual)))
    if expect.result_regex is not None and not re.search(expect.result_regex, as_text(actual)):
        failures.append(Failure(f"result does not match /{expect.result_regex}/: {show(as_text(actual))}"))
    for text, path, want in expect.result_path:
        found, got = lookup(actual, path)
        if not found:
            failures.append(Failure(f"result has no {text}: {show(actual)}"))
        elif not json_equal(want, got):
            failures.append(Failure(f"{text} differs", pretty(want), pretty(got)))
    return failures


def _error_text(expect: Expect, message: str | None) -> list[Failure]:
    if expect.error_contains is None:
        return []
    if message is None:
        return [Failure(f"expected an error containing {expect.error_contains!r}, but the run succeeded")]
    if expect.error_contains in message:
        return []
    return [Failure(f"error message does not contain {expect.error_contains!r}: {show(message)}")]


def _logs(expect: Expect, logs: list[str]) -> list[Failure]:
    joined = "\n".join(logs)
    missing = [text for text in expect.logs_contain if text not in joined]
    if not missing:
        return []
    return [Failure(f"logs do not contain {', '.join(map(repr, missing))}", "\n".join(missing), joined)]


def _stats(expect: Expect, stats: dict[str, Any]) -> list[Failure]:
    failures = []
    for bound in expect.stats:
        actual = stats.get(bound.stat)
        if actual is None:
            failures.append(Failure(f"stats.{bound.stat} is not measured for this runtime"))
        elif not bound.holds(float(actual)):
            failures.append(Failure(f"stats.{bound.stat} = {actual}, expected {bound.text}"))
    return failures


def check_tasks(expect: Expect, execution: dict[str, Any] | None) -> list[Failure]:
    """``expect.tasks`` of a flow case against its execution document (each reference's last record)."""
    if not expect.tasks:
        return []
    if execution is None:
        return [Failure("the workflow did not run, so no task can be checked")]
    latest: dict[str, dict[str, Any]] = {}
    for record in execution.get("tasks", []):
        ref = str(record.get("referenceTaskName", ""))
        latest[ref] = record
        base, sep, number = ref.rpartition("__")
        if sep and number.isdigit():
            latest[base] = record  # REF names the loop task's last iteration
    failures = []
    for wanted in expect.tasks:
        record = latest.get(wanted.ref)
        if record is None:
            failures.append(Failure(f"task {wanted.ref} did not run (ran: {', '.join(latest) or 'none'})"))
            continue
        if wanted.status is not None and record.get("status") != wanted.status:
            reason = record.get("reasonForIncompletion")
            failures.append(Failure(f"task {wanted.ref}: expected status {wanted.status}, got {record.get('status')}"
                                    + (f" ({reason})" if reason else "")))
        output = record.get("outputData")
        if wanted.has_result:
            actual = output.get("result") if isinstance(output, dict) else None
            if not json_equal(wanted.result, actual):
                failures.append(Failure(f"task {wanted.ref}: result differs", pretty(wanted.result), pretty(actual)))
        if wanted.has_output and not json_equal(wanted.output, output):
            failures.append(Failure(f"task {wanted.ref}: output differs", pretty(wanted.output), pretty(output)))
    return failures
