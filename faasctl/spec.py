"""One description of a function: what code, on which runtime, with which limits and run options.

Every edge describes a function the same way. A serve deploy body, a test case, a flow task and a worker
payload are plain dicts parsed by ``FunctionSpec.from_dict``; the command line builds one with
``FunctionSpec.from_cli``. Both validate once, and a bad value is a ``SpecError`` naming its key path
(``limits.timeout``, ``options.args``), so an edge only adds where the dict came from (a file and line, a
request). ``Engine.run_spec`` runs it.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, NamedTuple

from faasctl.errors import FaasError, UsageError
from faasctl.limits import LIMIT_KEYS, Limits
from faasctl.output import OutputMode, output_mode
from faasctl.runtimes.base import Artifact, RunOptions

if TYPE_CHECKING:
    from typing import Literal

    PullPolicy = Literal["missing", "always", "never"]
PULL_POLICIES: tuple[PullPolicy, ...] = ("missing", "always", "never")
OCI_PREFIX = "oci://"
ABIS = ("wasi", "string", "core")
WASI_ARGS = ("json",)
# Run options as dict keys (``kv`` is ``RunOptions.kv_path``); list-valued ones take several strings.
OPTION_KEYS = ("invoke", "args", "abi", "wasi_args", "dirs", "env", "kv")
LIST_OPTIONS = ("args", "dirs", "env")
SOURCE_KEYS = ("code", "code_base64", "path", "image", "target")
# The nested shape (the serve deploy body) and the flat one (test cases, flow tasks) are both accepted.
SPEC_KEYS = ("runtime", *SOURCE_KEYS, "name", "limits", "output_json", "options", "handler", "pull",
             *LIMIT_KEYS, *OPTION_KEYS)
SOURCE_MESSAGE = "give the function's code once: one of code, code_base64, path or image"
NO_LIMITS: Mapping[str, Any] = MappingProxyType({})


class SpecError(UsageError):
    """A function description is invalid; ``key`` is the path of the offending key (``limits.timeout``)."""

    def __init__(self, key: str, message: str, *, hint: str | None = None) -> None:
        super().__init__(message, hint=hint)
        self.key = key


class FunctionSpec(NamedTuple):
    """A function and how to run it. Exactly one source is set: ``path`` (a local file), ``code``
    (inline source or module bytes), ``image`` (an OCI reference, without ``oci://``) or ``artifact``
    (code an edge already holds, e.g. a deployed function). Inline code picks its runtime from
    ``runtime`` (or the ending of ``name``), never from a made-up file name. ``limits`` keeps the given
    spellings (``"2s"``), already validated; the engine merges them over the descriptor's and settings'
    defaults. ``handler`` names the function a Lambda-style script exports (None: the runtime's default)."""

    runtime: str | None = None
    path: str | None = None
    code: bytes | None = None
    image: str | None = None
    artifact: Artifact | None = None
    name: str | None = None
    limits: Mapping[str, Any] = NO_LIMITS
    output_json: OutputMode = "auto"
    options: RunOptions = RunOptions()
    handler: str | None = None
    pull: PullPolicy | None = None

    def checked(self) -> FunctionSpec:
        """Itself, once it is sure to hold one source; ``options.output_json`` follows ``output_json``
        (a NamedTuple, so it costs no ``dataclasses`` import on the ``faasctl run`` path)."""
        given = [k for k in ("path", "code", "image", "artifact") if getattr(self, k) is not None]
        if len(given) != 1:
            raise SpecError("code", SOURCE_MESSAGE)
        if self.options.output_json != self.output_json:
            return self._replace(options=self.options._replace(output_json=self.output_json))
        return self

    # -- parsing ----------------------------------------------------------------------------------------

    @classmethod
    def from_dict(cls, data: Any, *, base: Path | None = None, allowed: Collection[str] = SPEC_KEYS,
                  allowed_options: Collection[str] = OPTION_KEYS) -> FunctionSpec:
        """Parse a plain dict (JSON or YAML). ``base`` resolves relative ``path``/``target``, ``dirs``
        and ``kv`` (a case file's directory); ``allowed``/``allowed_options`` narrow what an untrusted
        edge takes (the server refuses host directories). Raises ``SpecError`` naming the key."""
        from faasctl.spec_parse import parse

        return parse(cls, data, base, allowed, allowed_options).checked()

    @classmethod
    def from_cli(cls, target: str, *, runtime: str | None = None, code: bytes | None = None,
                 limits: Mapping[str, Any] | None = None, output_json: object = "auto",
                 invoke: str | None = None, args: tuple[str, ...] | list[str] = (), abi: str | None = None,
                 wasi_args: str | None = None, dirs: tuple[str, ...] | list[str] = (),
                 env: tuple[str, ...] | list[str] = (), kv: str | None = None, pull: str | None = None,
                 handler: str | None = None) -> FunctionSpec:
        """The command line's values: TARGET is a file or ``oci://REF``; ``code`` the script read from
        standard input when TARGET is ``-`` (it then needs ``runtime``). Limits are validated here, so a
        bad ``--timeout`` is refused before anything runs."""
        given_limits = {k: v for k, v in (limits or {}).items() if v is not None}
        for key, value in given_limits.items():
            check_limit(f"--{key.replace('_', '-')}", key, value)
        if target == "-":
            if not runtime:
                raise SpecError("runtime", "a script on standard input needs --runtime",
                                hint="for example: --runtime js")
            source: dict[str, Any] = {"code": code or b"", "name": "stdin"}
        elif target.startswith(OCI_PREFIX):
            source = {"image": target[len(OCI_PREFIX):]}
        else:
            source = {"path": target}
        output = output_mode(output_json)
        options = RunOptions(output_json=output, invoke=invoke, args=tuple(args), abi=abi, wasi_args=wasi_args,
                             dirs=tuple(dirs), env=tuple(env), kv_path=kv)
        return cls(runtime=runtime, limits=given_limits, output_json=output, options=options, handler=handler,
                   pull=_pull(pull, "--pull"), **source).checked()

    # -- views ------------------------------------------------------------------------------------------

    @property
    def target(self) -> str:
        """How messages and the engine name the source: a path, ``oci://REF`` or the inline name."""
        if self.path is not None:
            return self.path
        if self.image is not None:
            return OCI_PREFIX + self.image
        if self.artifact is not None:
            return self.artifact.name
        return self.name or "inline"

    def to_dict(self) -> dict[str, Any]:
        """The plain form ``from_dict`` reads back (inline bytes as ``code_base64``; an ``artifact``
        source has no plain form and is written as its bytes)."""
        out: dict[str, Any] = {}
        if self.runtime:
            out["runtime"] = self.runtime
        if self.path is not None:
            out["path"] = self.path
        elif self.image is not None:
            out["image"] = self.image
        else:
            source = self.code if self.code is not None else self.artifact.source  # type: ignore[union-attr]
            import base64

            out["code_base64"] = base64.b64encode(source).decode("ascii")
            name = self.name if self.code is not None else self.artifact.name  # type: ignore[union-attr]
            if name:
                out["name"] = name
        if self.limits:
            out["limits"] = dict(self.limits)
        if self.output_json != "auto":
            out["output_json"] = self.output_json
        options = option_dict(self.options)
        if options:
            out["options"] = options
        if self.handler:
            out["handler"] = self.handler
        if self.pull:
            out["pull"] = self.pull
        return out


def option_dict(options: RunOptions) -> dict[str, Any]:
    """The run options that are set, under their dict keys."""
    out: dict[str, Any] = {}
    for key in OPTION_KEYS:
        value = getattr(options, "kv_path" if key == "kv" else key)
        if value:
            out[key] = list(value) if key in LIST_OPTIONS else value
    return out


def check_limit(path: str, key: str, value: Any) -> None:
    """Raises ``SpecError`` unless ``value`` is a valid ``key`` limit; messages start with ``path``."""
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise SpecError(path, f"{path}: expected a value like 5s or 64MiB, got {value!r}")
    try:
        Limits().merged(**{key: value})
    except FaasError as exc:
        raise SpecError(path, f"{path}: {exc.one_line()}") from None


def _pull(value: Any, path: str = "pull") -> PullPolicy | None:
    if value is None:
        return None
    if value not in PULL_POLICIES:
        raise SpecError(path, f"unknown pull policy {value!r}", hint="use always, missing or never")
    return value  # type: ignore[no-any-return]
