"""JSON_JQ_TRANSFORM through the ``jq`` binding (libjq itself), not a hand-written evaluator.

Compiled programs are cached per process: a DO_WHILE running the same transform 100 times compiles once.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any


@lru_cache(maxsize=256)
def _compiled(program: str) -> Any:
    import jq  # type: ignore  # the binding ships no type information

    return jq.compile(program)


def _first_line(exc: BaseException) -> str:
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    return lines[0].removeprefix("jq: error: ") if lines else type(exc).__name__


def compile_error(program: str) -> str | None:
    """None when ``program`` compiles, else jq's one-line reason."""
    try:
        _compiled(program)
    except ValueError as exc:
        return _first_line(exc)
    return None


def transform(program: str, value: Any) -> tuple[list[Any] | None, str | None]:
    """Every output of ``program`` on ``value``, or (None, the error's one line)."""
    try:
        return _compiled(program).input_value(value).all(), None
    except ValueError as exc:
        return None, _first_line(exc)
