"""The output parser: raw function output to a typed result, with the Conductor ``outputIsJson`` rules."""

from __future__ import annotations

import json
import re
from typing import Any, Literal, NamedTuple

OutputMode = Literal["true", "false", "auto"]


def output_mode(value: object) -> OutputMode:
    """Normalise an ``outputIsJson`` value: true/"true", false/"false", anything else auto."""
    if value is True or (isinstance(value, str) and value.strip().lower() == "true"):
        return "true"
    if value is False or (isinstance(value, str) and value.strip().lower() == "false"):
        return "false"
    return "auto"


def reject_constant(name: str) -> Any:
    """``parse_constant`` for ``json.loads``: NaN and Infinity are Python's extensions, not JSON."""
    raise ValueError(f"{name} is not JSON")


_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")
# A float that overflows to infinity: a three-digit exponent or 309+ digits (1e999 parses as inf).
_HUGE_NUMBER = re.compile(r"[0-9][eE]\+?[0-9]{3}|[0-9]{309}")


def loads_strict(text: str) -> Any:
    """``json.loads`` without Python's NaN/Infinity extensions, and with every failure a ``ValueError``:
    nesting past Python's recursion limit, and a lone UTF-16 surrogate escape (``"\\ud800"``), which
    decodes to a string no UTF-8 encoder accepts, are refused here instead of crashing whoever encodes
    the value next (the guest's stdin, the envelope, the store)."""
    try:
        value = json.loads(text, parse_constant=reject_constant)
    except RecursionError:
        raise ValueError("nested too deeply") from None
    if _SURROGATE_ESCAPE.search(text) or _HUGE_NUMBER.search(text):  # rare: only then pay for a full check
        try:
            json.dumps(value, ensure_ascii=False, allow_nan=False).encode("utf-8")
        except UnicodeEncodeError as exc:
            code = ord(exc.object[exc.start])
            raise ValueError(f"\\u{code:04x} is a lone UTF-16 surrogate, not a character") from None
        except ValueError:
            raise ValueError("a number is too large (it overflows to infinity)") from None
        except RecursionError:
            raise ValueError("nested too deeply") from None
    return value


class ParsedOutput(NamedTuple):
    result: Any
    output_type: Literal["json", "text"] | None
    error: str | None = None  # set when JSON was required and the output is not JSON


def parse_output(raw: bytes, mode: OutputMode) -> ParsedOutput:
    """Turn the whole output into the result.

    ``true``: must be JSON, else an error. ``false``: plain text. ``auto``: JSON when it parses, else
    text. Empty output is no result at all (except under ``true``, where it is not JSON).
    """
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        bad = f"byte 0x{raw[exc.start]:02x} at offset {exc.start}"
        return ParsedOutput(None, None, f"output is not valid UTF-8 ({bad})")
    if mode == "false":
        return ParsedOutput(text, "text")
    if mode == "auto" and text == "":
        return ParsedOutput(None, None)
    try:
        return ParsedOutput(loads_strict(text), "json")
    except ValueError as exc:
        if mode == "true":
            shown = text if len(text) <= 60 else text[:57] + "..."
            return ParsedOutput(None, None, f"output is not JSON ({exc}): {shown!r}")
        return ParsedOutput(text, "text")
