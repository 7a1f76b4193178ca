"""The input model: every source of input (file, inline, params, stdin, text) becomes one JSON value."""

from __future__ import annotations

import json
from typing import Any, NamedTuple

from faasctl.errors import InputError, UsageError
from faasctl.limits import DEFAULT_MAX_INPUT, format_size
from faasctl.output import loads_strict


class FunctionInput(NamedTuple):
    """One input value and its JSON text (what guests receive)."""

    value: Any
    json_text: str

    @classmethod
    def of(cls, value: Any) -> FunctionInput:
        """Refuses NaN and infinity (a YAML ``.inf``, a Python float): guests' JSON parsers reject them;
        and text that is not Unicode (an argument's undecodable bytes arrive as lone surrogates), which
        no guest could be handed."""
        try:
            text = json.dumps(value, ensure_ascii=False, allow_nan=False, separators=(",", ":"))
        except ValueError:
            raise InputError("the input holds NaN or infinity, which JSON cannot represent") from None
        _require_utf8(text, "the input")
        return cls(value, text)


EMPTY_INPUT = FunctionInput({}, "{}")
TEXT_HINT = "pass --text to take the input as a plain string"


def parse_json_input(text: str, source: str, hint: str | None = TEXT_HINT) -> Any:
    """Parse input JSON; the error names the source, line and column and (on the CLI) suggests ``--text``."""
    try:
        return loads_strict(text)
    except json.JSONDecodeError as exc:
        raise InputError(
            f"invalid JSON in {source}: {exc.msg.removesuffix(' at')} at line {exc.lineno} column {exc.colno}",
            hint=hint,
        ) from None
    except ValueError as exc:
        raise InputError(f"invalid JSON in {source}: {exc}", hint=hint) from None


def parse_param(pair: str) -> tuple[str, Any]:
    """``KEY=VALUE``: VALUE as JSON when it parses, else as a string."""
    key, sep, raw = pair.partition("=")
    if not sep or not key:
        raise UsageError(f"invalid --param {pair!r}: expected KEY=VALUE", hint="for example -p name=Ada -p n=3")
    try:
        return key, loads_strict(raw)
    except ValueError:
        return key, raw


def too_large_message(source: str, cap: int) -> str:
    return f"{source} is larger than the input cap of {format_size(cap)} (raise it with --max-input)"


def read_input_stream(stream: Any, source: str, cap: int = DEFAULT_MAX_INPUT) -> bytes:
    """Input from a stream (standard input), at most ``cap`` bytes: ``yes |`` must not fill the memory."""
    from faasctl.files import TooLarge, read_stream_capped

    try:
        return read_stream_capped(stream, cap)
    except TooLarge:
        raise InputError(too_large_message(source, cap)) from None


def _require_utf8(text: str, source: str) -> None:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        raw = text[exc.start].encode("utf-8", "surrogateescape") if "\udc80" <= text[exc.start] <= "\udcff" else b""
        what = f"byte 0x{raw[0]:02x}" if raw else f"lone surrogate \\u{ord(text[exc.start]):04x}"
        raise InputError(f"{source} is not valid UTF-8 ({what} at character {exc.start})") from None


def _decode(data: bytes, source: str) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InputError(f"{source} is not valid UTF-8 (byte offset {exc.start})") from None


def read_input_file(path: str, cap: int = DEFAULT_MAX_INPUT) -> bytes:
    """The bytes of an input file, at most ``cap`` (``--max-input``)."""
    from faasctl.files import TooLarge, read_capped

    try:
        return read_capped(path, cap)
    except TooLarge:
        raise InputError(too_large_message(f"input file {path}", cap)) from None
    except FileNotFoundError:
        raise InputError(f"input file not found: {path}") from None
    except IsADirectoryError:
        raise InputError(f"input file is a directory: {path}") from None
    except OSError as exc:
        raise InputError(f"cannot read input file {path}: {exc.strerror}") from None


def build_input(
    *,
    file_bytes: bytes | None = None,
    file_name: str | None = None,
    data: str | None = None,
    params: list[str] | tuple[str, ...] = (),
    stdin_bytes: bytes | None = None,
    text: bool = False,
) -> FunctionInput:
    """Combine the sources as the spec says: one of file / inline / stdin, then params merged over.

    ``stdin_bytes`` is only considered when neither a file nor inline data is given; empty stdin
    counts as no input, so CI jobs with ``</dev/null`` behave like an interactive run.
    """
    if file_bytes is not None and data is not None:
        raise UsageError("give the input once: --input and --data cannot be combined")
    raw: str | None = None
    source = ""
    if file_bytes is not None:
        source = f"input file {file_name or '-'}"
        raw = _decode(file_bytes, source)
    elif data is not None:
        _require_utf8(data, "--data")
        source, raw = "--data", data
    elif stdin_bytes:
        source, raw = "standard input", _decode(stdin_bytes, "standard input")
    if text:
        if params:
            raise UsageError("--param cannot be combined with --text: a text input has no keys")
        return FunctionInput.of(raw if raw is not None else "")
    no_input = raw is None or (source == "standard input" and not raw.strip())
    value: Any = {} if no_input else parse_json_input(raw, source)
    if params:
        if not isinstance(value, dict):
            raise UsageError(f"--param needs an object input, but {source} holds {type(value).__name__}")
        value = dict(value)
        for pair in params:
            key, item = parse_param(pair)
            value[key] = item
    return FunctionInput.of(value)
