"""Conductor's parameter expressions: ``${workflow.input.x}``, ``${ref.output.a.b[0]}``, ``${loop['iteration']}``.

As Conductor's ``ParametersUtils`` does: a string that is exactly one expression takes the value's own type;
expressions inside a longer string are interpolated as text (null as the empty string); ``$${`` stands for a
literal ``${``; a path that leads nowhere gives null. One difference, on purpose: interpolated maps and lists
are written as JSON, where Conductor writes Java's ``{a=1}``.

Paths are the JSONPath subset workflow definitions use: ``a.b``, ``a['b']``, ``a["b"]``, ``a[0]``, ``a[-1]``,
``a[*]`` and a leading ``$.``. Pure functions; the caller supplies the root lookup.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from typing import Any

# Conductor splits before every "${" that is not "$${" and after every "}".
_SPLIT = re.compile(r"(?=(?<!\$)\$\{)|(?<=\})")
_TOKEN = re.compile(r"""\.?([^.\[\]'"\s]+)|\[\s*(-?\d+|\*)\s*\]|\[\s*'([^']*)'\s*\]|\[\s*"([^"]*)"\s*\]""")
WILDCARD = object()

Lookup = Callable[[str], Any]  # the root name ("workflow", a task reference) -> its document, or None


class PathError(ValueError):
    """A path that cannot be parsed; the message says where."""


def parse_path(path: str) -> list[Any]:
    """``a.b[0]['c d']`` into ``["a", "b", 0, "c d"]`` (``WILDCARD`` for ``[*]``); raises PathError."""
    text = path.strip()
    if text.startswith("$."):
        text = text[2:]
    elif text.startswith("$["):
        text = text[1:]
    parts: list[Any] = []
    position = 0
    while position < len(text):
        match = _TOKEN.match(text, position)
        if not match or (match.group(1) is not None and position > 0 and text[position] != "."):
            raise PathError(f"cannot read the path {path!r} at {text[position:]!r}")
        key, index, single, double = match.groups()
        if index is not None:
            parts.append(WILDCARD if index == "*" else int(index))
        else:
            parts.append(next(p for p in (key, single, double) if p is not None))
        position = match.end()
    if not parts:
        raise PathError(f"empty path {path!r}")
    if not isinstance(parts[0], str) or parts[0] == "*":
        raise PathError(f"the path {path!r} must start with a name (workflow or a task reference)")
    return parts


def read_path(value: Any, parts: list[Any]) -> Any:
    """Follow ``parts`` into ``value``; None when the path leads nowhere (as JSONPath's suppressed errors)."""
    for position, part in enumerate(parts):
        if part is WILDCARD:
            items = value if isinstance(value, list) else list(value.values()) if isinstance(value, dict) else None
            if items is None:
                return None
            rest = parts[position + 1:]
            return [read_path(item, rest) for item in items] if rest else list(items)
        if isinstance(part, int):
            if not isinstance(value, list) or not -len(value) <= part < len(value):
                return None
            value = value[part]
        elif isinstance(value, dict):
            if part not in value:
                return None
            value = value[part]
        elif isinstance(value, list) and part == "length":
            value = len(value)
        else:
            return None
    return value


def expressions_in(text: str) -> Iterator[str]:
    """The paths of the ``${...}`` expressions in one string."""
    if "${" not in text:
        return
    for piece in _SPLIT.split(text):
        if piece.startswith("${") and piece.endswith("}"):
            inner = piece[2:-1]
            if inner.strip():
                yield inner


def walk_strings(value: Any, path: str) -> Iterator[tuple[str, str]]:
    """Every string inside a JSON value, with its JSON path (``inputParameters.a[0]``)."""
    if isinstance(value, str):
        yield path, value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from walk_strings(item, f"{path}.{key}" if path else str(key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from walk_strings(item, f"{path}[{index}]")


def _evaluate(path: str, lookup: Lookup) -> Any:
    try:
        parts = parse_path(path)
    except PathError:
        return None
    return read_path(lookup(parts[0]), parts[1:])


def _as_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    return str(value)


def resolve_string(text: str, lookup: Lookup) -> Any:
    """One string with its expressions replaced (whole-value keeps the type, else interpolated text)."""
    if "${" not in text:
        return text
    pieces = [piece for piece in _SPLIT.split(text) if piece]
    values: list[Any] = []
    for piece in pieces:
        if piece.startswith("${") and piece.endswith("}"):
            inner = piece[2:-1]
            values.append(_evaluate(inner, lookup) if inner.strip() else "")
        else:
            values.append(piece.replace("$${", "${"))
    if len(values) == 1:
        return values[0]
    return "".join(_as_text(value) for value in values)


def resolve(value: Any, lookup: Lookup) -> Any:
    """A JSON value (inputParameters, outputParameters) with every string's expressions resolved."""
    if isinstance(value, str):
        return resolve_string(value, lookup)
    if isinstance(value, dict):
        return {key: resolve(item, lookup) for key, item in value.items()}
    if isinstance(value, list):
        return [resolve(item, lookup) for item in value]
    return value
