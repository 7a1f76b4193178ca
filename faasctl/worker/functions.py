"""The worker's one bridge to the core: a function spec from a payload, a run of it, and retryability.

A function spec is what travels with the work: the serve deploy body (``runtime``; one of ``code``,
``code_base64``, ``image``; optional ``limits``, ``output_json``), plus ``name`` (the file name the envelope
reports and whose ending picks ``.mjs`` or ``.wat`` handling) and ``options`` (``invoke``, ``abi``,
``wasi_args``, ``args``: the wasm options that mean the same on any machine). Host-bound options (``--dir``,
``--env``, ``--kv``) never travel: they name things on the submitting machine.

This module keeps the wire form (``to_payload`` writes source text as ``code``, and its error messages name
the payload's keys); every spec it accepts is also parsed by the core's ``FunctionSpec.from_dict``, limited
to the keys that travel, and that core spec is what runs (``Engine.run_spec``, with a ``CancelToken`` that
really stops the guest).
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from faasctl.cancel import CancelToken, Progress
from faasctl.errors import FaasError, UsageError
from faasctl.inputs import FunctionInput
from faasctl.output import OutputMode, output_mode

if TYPE_CHECKING:
    from faasctl.engine import Engine
    from faasctl.result import Result
    from faasctl.spec import FunctionSpec as CoreSpec

SPEC_KEYS = ("name", "runtime", "code", "code_base64", "image", "limits", "output_json", "options")
LIMIT_KEYS = ("timeout", "memory", "fuel", "max_output")
OPTION_KEYS = ("invoke", "abi", "wasi_args", "args")


@dataclass(frozen=True)
class FunctionSpec:
    """One function as it travels: its code (or image reference) and how to run it."""

    runtime: str
    name: str | None = None
    code: bytes | None = None
    image: str | None = None
    limits: dict[str, Any] = field(default_factory=dict)
    output_json: OutputMode = "auto"
    options: dict[str, Any] = field(default_factory=dict)

    def to_payload(self) -> dict[str, Any]:
        """The spec as JSON: source text as ``code`` when it is UTF-8 text, else (a module) ``code_base64``."""
        body: dict[str, Any] = {"runtime": self.runtime}
        if self.name:
            body["name"] = self.name
        if self.image is not None:
            body["image"] = self.image
        elif self.code is not None:
            text = _text(self.code)
            if text is None:
                body["code_base64"] = base64.b64encode(self.code).decode("ascii")
            else:
                body["code"] = text
        if self.limits:
            body["limits"] = dict(self.limits)
        if self.output_json != "auto":
            body["output_json"] = self.output_json
        if self.options:
            body["options"] = dict(self.options)
        return body

    def core(self) -> CoreSpec:
        """The core's description of this function (what ``Engine.run_spec`` runs); raises ``SpecError``."""
        from faasctl.spec import FunctionSpec as CoreSpec

        return CoreSpec.from_dict(self.to_payload(), allowed=SPEC_KEYS, allowed_options=OPTION_KEYS)


def _text(code: bytes) -> str | None:
    if b"\0" in code:  # a module, even when its bytes happen to be valid UTF-8
        return None
    try:
        return code.decode("utf-8")
    except UnicodeDecodeError:
        return None


@dataclass(frozen=True)
class RunRequest:
    """The input of the ``faasctl.run`` activity: a spec and the function's input."""

    spec: FunctionSpec
    input: FunctionInput


def _where(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def parse_spec(body: Any, path: str = "") -> FunctionSpec:
    """A spec from JSON. Raises ``UsageError`` naming the path of the first problem (``limits.timeout:
    invalid duration 'soon'``), so a payload that is not a spec fails once, not on every retry."""
    if not isinstance(body, dict):
        raise UsageError(f"{path or 'function'}: expected an object (a function spec), got {type(body).__name__}")
    unknown = [key for key in body if key not in SPEC_KEYS]
    if unknown:
        raise UsageError(f"{_where(path, str(unknown[0]))}: unknown key",
                         hint="a function spec has " + ", ".join(SPEC_KEYS))
    runtime = body.get("runtime")
    if not isinstance(runtime, str) or not runtime:
        raise UsageError(f"{_where(path, 'runtime')}: {'missing' if runtime is None else 'must be a runtime name'}")
    given = [key for key in ("code", "code_base64", "image") if key in body]
    if len(given) != 1:
        raise UsageError(f"{path or 'function'}: give exactly one of code, code_base64 or image"
                         + (f" (got {', '.join(given)})" if given else ""))
    code, image = None, None
    value = body[given[0]]
    if given[0] == "code":
        if not isinstance(value, str):
            raise UsageError(f"{_where(path, 'code')}: must be a string (use code_base64 for bytes)")
        code = value.encode("utf-8", "surrogatepass")
    elif given[0] == "code_base64":
        try:
            code = base64.b64decode(value, validate=True) if isinstance(value, str) else None
        except (binascii.Error, ValueError):
            code = None
        if code is None:
            raise UsageError(f"{_where(path, 'code_base64')}: not a valid base64 string")
    else:
        if not isinstance(value, str) or not value:
            raise UsageError(f"{_where(path, 'image')}: must be an OCI reference")
        image = value.removeprefix("oci://")
    name = body.get("name")
    if name is not None and (not isinstance(name, str) or not name or len(name) > 255):
        raise UsageError(f"{_where(path, 'name')}: must be a file name of at most 255 characters")
    spec = FunctionSpec(runtime=runtime, name=name, code=code, image=image,
                        limits=_limits(body.get("limits"), _where(path, "limits")),
                        output_json=_output_json(body.get("output_json", "auto"), _where(path, "output_json")),
                        options=_options(body.get("options"), _where(path, "options")))
    try:
        spec.core()  # the core's own checks (abi and wasi_args values), so a bad spec fails once, here
    except FaasError as exc:
        raise UsageError(f"{path}: {exc.message}" if path else exc.message, hint=exc.hint) from None
    return spec


def _limits(value: Any, path: str) -> dict[str, Any]:
    from faasctl.limits import Limits

    if value is None:
        return {}
    if not isinstance(value, dict):
        raise UsageError(f"{path}: expected an object of {', '.join(LIMIT_KEYS)}")
    for key, item in value.items():
        if key not in LIMIT_KEYS:
            raise UsageError(f"{path}.{key}: unknown limit", hint="limits are " + ", ".join(LIMIT_KEYS))
        if item is None:
            continue
        try:
            Limits().merged(**{key: item})
        except FaasError as exc:
            raise UsageError(f"{path}.{key}: {exc.message}") from None
    return {key: item for key, item in value.items() if item is not None}


def _output_json(value: Any, path: str) -> OutputMode:
    if value in (True, False, "true", "false", "auto"):
        return output_mode(value)
    raise UsageError(f"{path}: must be true, false or \"auto\"")


def _options(value: Any, path: str) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise UsageError(f"{path}: expected an object of {', '.join(OPTION_KEYS)}")
    for key, item in value.items():
        if key not in OPTION_KEYS:
            raise UsageError(f"{path}.{key}: unknown option", hint="options that travel are " + ", ".join(OPTION_KEYS))
        if key == "args":
            if not isinstance(item, list) or not all(isinstance(arg, str) for arg in item):
                raise UsageError(f"{path}.args: must be a list of strings")
        elif item is not None and not isinstance(item, str):
            raise UsageError(f"{path}.{key}: must be a string")
    return dict(value)


def parse_run_request(payload: Any) -> RunRequest:
    """The ``faasctl.run`` activity input: a spec whose extra key ``input`` is the function's input."""
    if not isinstance(payload, dict):
        raise UsageError(f"the faasctl.run input must be an object (a function spec plus input), "
                         f"got {type(payload).__name__}")
    body = {key: value for key, value in payload.items() if key != "input"}
    spec = parse_spec(body)
    try:
        function_input = FunctionInput.of(payload.get("input", {}))
    except FaasError as exc:
        raise type(exc)(f"input: {exc.message}") from None
    return RunRequest(spec, function_input)


def request_payload(spec: FunctionSpec, value: Any) -> dict[str, Any]:
    return {**spec.to_payload(), "input": value}


# -- running -----------------------------------------------------------------------------------------------


def run_request(engine: Engine, request: RunRequest, cancel: CancelToken | None = None,
                progress: Progress | None = None) -> Result:
    """One run, exactly as ``faasctl run`` would do it. Raises ``FaasError`` when it cannot start.
    ``cancel`` ends the guest itself (wasm at its next epoch check, Lua by killing its worker process)."""
    return engine.run_spec(request.spec.core(), request.input, cancel=cancel, progress=progress)
