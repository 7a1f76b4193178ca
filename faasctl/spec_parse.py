"""Parsing a ``FunctionSpec`` from a plain dict (a deploy body, a case, a flow task, a worker payload).

Kept apart from ``faasctl.spec`` so that ``faasctl run``, which builds its spec from options, does not load
(or, without bytecode caches, compile) the dict parser on every start.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Collection, Mapping
from pathlib import Path
from typing import Any

from faasctl.limits import LIMIT_KEYS
from faasctl.output import output_mode
from faasctl.runtimes.base import RunOptions
from faasctl.spec import (
    ABIS,
    LIST_OPTIONS,
    OCI_PREFIX,
    OPTION_KEYS,
    SOURCE_KEYS,
    SOURCE_MESSAGE,
    WASI_ARGS,
    FunctionSpec,
    SpecError,
    _pull,
    check_limit,
)


def parse(cls: type[FunctionSpec], data: Any, base: Path | None, allowed: Collection[str],
          allowed_options: Collection[str]) -> FunctionSpec:
    """``FunctionSpec.from_dict``: see there."""
    if not isinstance(data, Mapping):
        raise SpecError("", f"a function spec must be an object, not {_type(data)}")
    for key in data:
        if key not in allowed:
            raise SpecError(str(key), f"unknown key {key!r}", hint="known keys: " + ", ".join(allowed))
    sources = _source(data, base)
    limits = _limits(data)
    options = _options(data, base, allowed_options)
    output = output_mode(data.get("output_json", "auto"))
    return cls(
        runtime=_optional_str(data, "runtime"),
        name=_optional_str(data, "name"),
        limits=limits,
        output_json=output,
        options=RunOptions(output_json=output, **options),
        handler=_optional_str(data, "handler"),
        pull=_pull(data.get("pull")),
        **sources,
    )


def decode_base64(text: Any, what: str) -> bytes:
    if not isinstance(text, str):
        raise SpecError(what, f"{what} must be a base64 string")
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise SpecError(what, f"{what} is not valid base64") from None


# -- the parts of from_dict -----------------------------------------------------------------------------


def _type(value: Any) -> str:
    return "null" if value is None else type(value).__name__


def _optional_str(data: Mapping[str, Any], key: str, path: str | None = None) -> str | None:
    value = data.get(key)
    if value is None:
        return None
    if not isinstance(value, str) or not value:
        raise SpecError(path or key, f"'{path or key}' must be a non-empty string")
    return value


def _source(data: Mapping[str, Any], base: Path | None) -> dict[str, Any]:
    given = [key for key in SOURCE_KEYS if data.get(key) is not None]
    if len(given) != 1:
        raise SpecError(given[1] if given else "code", SOURCE_MESSAGE)
    key = given[0]
    value = data[key]
    if key == "code":
        if not isinstance(value, str):
            raise SpecError("code", "code must be a string (use code_base64 for bytes)")
        try:
            source = value.encode("utf-8")
        except UnicodeEncodeError:
            raise SpecError("code", "code holds a lone UTF-16 surrogate; send it as code_base64") from None
        return _inline(data, source)
    if key == "code_base64":
        return _inline(data, decode_base64(value, "code_base64"))
    if not isinstance(value, str) or not value:
        raise SpecError(key, f"'{key}' must be a non-empty string")
    if key == "image" or value.startswith(OCI_PREFIX):
        return {"image": value.removeprefix(OCI_PREFIX)}
    return {"path": str(base / value) if base is not None else value}


def _inline(data: Mapping[str, Any], source: bytes) -> dict[str, Any]:
    name = data.get("name")
    if data.get("runtime") is None and not (isinstance(name, str) and Path(name).suffix):
        raise SpecError("runtime", "inline code needs a runtime", hint='for example "runtime": "js"')
    return {"code": source}


def _limits(data: Mapping[str, Any]) -> dict[str, Any]:
    nested = data.get("limits")
    if nested is None:
        nested = {}
    if not isinstance(nested, Mapping):
        raise SpecError("limits", 'limits must be an object like {"timeout": "2s", "memory": "64MiB"}')
    limits: dict[str, Any] = {}
    for key, value in nested.items():
        if key not in LIMIT_KEYS:
            raise SpecError(f"limits.{key}", f"unknown limit {key!r}", hint="known limits: " + ", ".join(LIMIT_KEYS))
        if value is not None:
            check_limit(f"limits.{key}", key, value)
            limits[key] = value
    for key in LIMIT_KEYS:
        if data.get(key) is not None:
            if key in limits:
                raise SpecError(key, f"{key} is given twice (also as limits.{key})")
            check_limit(key, key, data[key])
            limits[key] = data[key]
    return limits


def _options(data: Mapping[str, Any], base: Path | None, allowed: Collection[str]) -> dict[str, Any]:
    nested = data.get("options")
    if nested is None:
        nested = {}
    if not isinstance(nested, Mapping):
        raise SpecError("options", "options must be an object like {\"invoke\": \"gcd\"}")
    merged: dict[str, tuple[str, Any]] = {}
    for key, value in nested.items():
        if key not in OPTION_KEYS or key not in allowed:
            raise SpecError(f"options.{key}", f"unknown option {key!r}", hint="known options: " + ", ".join(allowed))
        merged[key] = (f"options.{key}", value)
    for key in OPTION_KEYS:
        if data.get(key) is not None:
            if key not in allowed:
                raise SpecError(key, f"option {key!r} is not allowed here")
            if key in merged:
                raise SpecError(key, f"{key} is given twice (also as options.{key})")
            merged[key] = (key, data[key])
    out: dict[str, Any] = {}
    for key, (path, value) in merged.items():
        if value is None:
            continue
        if key in LIST_OPTIONS:
            if not isinstance(value, list | tuple) or not all(
                    isinstance(v, str | int | float) and not isinstance(v, bool) for v in value):
                raise SpecError(path, f"'{path}' must be a list of strings")
            items = tuple(str(v) for v in value)
            if key == "dirs" and base is not None:
                items = tuple(_grant(base, item) for item in items)
            out[key] = items
            continue
        if not isinstance(value, str) or not value:
            raise SpecError(path, f"'{path}' must be a string")
        if key == "abi" and value not in ABIS:
            raise SpecError(path, f"{path}: unknown ABI {value!r}", hint="use " + ", ".join(ABIS))
        if key == "wasi_args" and value not in WASI_ARGS:
            raise SpecError(path, f"{path}: unknown value {value!r}", hint="the only one is 'json'")
        if key == "kv":
            out["kv_path"] = str(base / value) if base is not None else value
        else:
            out[key] = value
    return out


def _grant(base: Path, spec: str) -> str:
    """``HOST[:GUEST][:rw]`` with a relative HOST taken from ``base``."""
    host, sep, rest = spec.partition(":")
    return str(base / host) + sep + rest


