"""What the three HTTP faces share: deploy, list, delete, invoke (blocking or not) and read results.

The faces only translate their request and response shapes; everything with a rule in it is here, so
the REST, WasmEngine and lua-experiments routes cannot disagree about limits, persistence or failures.
"""

from __future__ import annotations

import base64
import binascii
import re
import threading
import time
from concurrent.futures import Future
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from faasctl.engine import Engine, artifact_from_bytes
from faasctl.errors import ArtifactError, FaasError, NotFoundError, UsageError
from faasctl.inputs import FunctionInput
from faasctl.limits import format_duration
from faasctl.output import OutputMode, output_mode
from faasctl.result import Result, RunError, Stats
from faasctl.runtimes.base import Artifact, RunOptions
from faasctl.server.metrics import Metrics
from faasctl.server.pool import QueueFull, RunPool
from faasctl.server.problems import TOO_MANY, HTTPProblem
from faasctl.server.store import INTERRUPTED, FunctionRecord, Store

NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")
RUN_OPTION_KEYS = ("abi", "invoke", "wasi_args")


@dataclass(frozen=True)
class DeployRequest:
    """A deploy from any face, normalised. Exactly one of ``source``, ``path`` and ``image`` is set."""

    name: str
    runtime: str | None = None
    source: bytes | None = None
    path: str | None = None
    image: str | None = None
    filename: str | None = None  # forced artifact name (the WasmEngine face names modules after the function)
    limits: dict[str, Any] = field(default_factory=dict)
    output_json: OutputMode = "auto"
    options: dict[str, Any] = field(default_factory=dict)
    meta: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Outcome:
    """A finished invocation: its envelope and whether the function started at all."""

    invocation_id: int
    envelope: dict[str, Any]
    ran: bool

    @property
    def error_type(self) -> str | None:
        error = self.envelope.get("error")
        return error["type"] if error else None


def shown_name(name: Any) -> str:
    """A client's function name as an error message quotes it: a 10,000-character name is cut short."""
    text = repr(name)
    return text if len(text) <= 140 else f"{text[:137]}... ({len(str(name))} characters)"


def decode_base64(text: Any, what: str) -> bytes:
    if not isinstance(text, str):
        raise UsageError(f"{what} must be a base64 string")
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise UsageError(f"{what} is not valid base64") from None


def failure_envelope(function: str, runtime: str, error_type: str, message: str,
                     detail: str | None = None) -> dict[str, Any]:
    result = Result(runtime=runtime, function=function, stats=Stats(duration_ms=0.0),
                    error=RunError(error_type, message, detail))
    return result.to_dict()


class Service:
    def __init__(self, engine: Engine, store: Store, pool: RunPool, kv_path: str | None = None,
                 allowed_paths: tuple[Path, ...] = (), max_source: int = 16 * 1024**2) -> None:
        self.engine = engine
        self.store = store
        self.pool = pool
        # Server-side files a deploy may name: only regular files under these directories (--allow-path),
        # so a client cannot read /etc/passwd or /dev/zero through a "path" deploy.
        self.allowed_paths = tuple(p.resolve() for p in allowed_paths)
        self.max_source = max_source
        self.metrics = Metrics()
        self.kv_path = kv_path
        self.started = time.time()
        self._artifacts: dict[str, Artifact] = {}
        self._inflight: dict[int, Future[Outcome]] = {}
        self._lock = threading.Lock()

    # -- start-up ---------------------------------------------------------------------------------------

    def recover(self) -> int:
        """Fail what a previous process left queued or running, and purge expired results."""
        count = self.store.recover(lambda function: failure_envelope(function, "", "Interrupted", INTERRUPTED))
        self.store.purge_expired()
        return count

    # -- functions ----------------------------------------------------------------------------------------

    def deploy(self, request: DeployRequest) -> tuple[FunctionRecord, bool]:
        """Store a function; returns it and whether it is new. Raises ``FaasError`` for a bad request."""
        if not isinstance(request.name, str) or not NAME.match(request.name):
            raise UsageError(f"invalid function name {shown_name(request.name)}",
                             hint="use letters, digits, '.', '_' and '-', at most 128 characters")
        artifact = self._deploy_artifact(request)
        descriptor = self.engine.select_runtime(artifact, request.runtime)
        if request.source is not None and not request.filename:
            artifact = artifact_from_bytes(request.name + descriptor.endings[0], artifact.source)
        self.engine.limits_for(descriptor, request.limits)  # raises on a malformed limit
        if descriptor.name == "wasm":  # a module that does not compile is a 422 now, not on every invoke
            from faasctl.wasm.modules import compiled_module

            compiled_module(self.engine.wasm_host(), artifact)
        options = {key: request.options[key] for key in RUN_OPTION_KEYS if request.options.get(key) is not None}
        origin = {"kind": "image", "ref": request.image} if request.image else (
            {"kind": "path", "ref": request.path} if request.path else {"kind": "code"})
        now = time.time()
        existing = self.store.get_function(request.name)
        record = FunctionRecord(
            name=request.name, runtime=descriptor.name, filename=artifact.name, media_type=artifact.media_type,
            source=artifact.source, digest=artifact.digest,
            spec={"limits": {k: v for k, v in request.limits.items() if v is not None},
                  "output_json": request.output_json, "options": options, "origin": origin, "meta": request.meta},
            created=existing.created if existing else now, updated=now,
        )
        return record, self.store.put_function(record)

    def _deploy_artifact(self, request: DeployRequest) -> Artifact:
        given = [x for x in (request.source, request.path, request.image) if x is not None]
        if len(given) != 1:
            raise UsageError("give the function's code once: one of code, code_base64, path or image")
        if request.source is not None:
            if request.runtime is None and request.filename is None:
                raise UsageError("a deploy with code needs a runtime", hint="for example \"runtime\": \"js\"")
            return artifact_from_bytes(request.filename or request.name, request.source)
        target = request.path if request.path is not None else request.image
        if not isinstance(target, str) or not target:
            raise UsageError("path and image must be non-empty strings")
        if request.path is not None:
            target = str(self._allowed_file(target))
        if request.image is not None and not target.startswith("oci://"):
            target = "oci://" + target
        try:
            artifact = self.engine.resolve(target)
        except ModuleNotFoundError:
            raise ArtifactError("this faasctl has no OCI support to pull images") from None
        if request.filename:
            artifact = artifact_from_bytes(request.filename, artifact.source, media_type=artifact.media_type)
        return artifact

    def _allowed_file(self, text: str) -> Path:
        """A deploy's server-side path, if the server allows it: a regular file under --allow-path."""
        if not self.allowed_paths:
            raise UsageError("deploying from a path on the server is off",
                             hint="send the code instead, or start the server with --allow-path DIR")
        path = Path(text).resolve()
        if not any(path.is_relative_to(directory) for directory in self.allowed_paths):
            raise UsageError(f"{shown_name(text)} is outside the directories the server allows (--allow-path)")
        if not path.is_file():
            raise UsageError(f"{shown_name(text)} is not a regular file")
        if path.stat().st_size > self.max_source:
            raise UsageError(f"{shown_name(text)} is larger than the largest request body")
        return path

    def function(self, name: str) -> FunctionRecord:
        record = self.store.get_function(name)
        if record is None:
            raise NotFoundError(f"no function named {shown_name(name)}")
        return record

    def describe(self, record: FunctionRecord) -> dict[str, Any]:
        """The REST view of a function (without its code)."""
        try:
            effective = self.engine.limits_for(self.engine.registry.get(record.runtime),
                                               record.spec.get("limits")).describe()
        except FaasError:
            effective = None
        return {
            "name": record.name, "runtime": record.runtime, "filename": record.filename, "size": len(record.source),
            "digest": "sha256:" + record.digest, "limits": record.spec.get("limits", {}),
            "effective_limits": effective, "output_json": record.spec.get("output_json", "auto"),
            "options": record.spec.get("options", {}), "origin": record.spec.get("origin", {}),
            "created": record.created, "updated": record.updated,
        }

    def delete(self, name: str) -> None:
        if not self.store.delete_function(name):
            raise NotFoundError(f"no function named {shown_name(name)}")

    # -- invocations ------------------------------------------------------------------------------------

    def submit(self, record: FunctionRecord, value: Any) -> tuple[int, Future[Outcome]]:
        """Admit an invocation (``HTTPProblem`` 429 when the queue is full) and persist it as queued
        before returning, so an acknowledged id survives a crash."""
        artifact = self._artifact(record)
        descriptor = self.engine.select_runtime(artifact, record.runtime)
        limits = self.engine.limits_for(descriptor, record.spec.get("limits"))
        spec = record.spec
        options = RunOptions(output_json=output_mode(spec.get("output_json", "auto")), kv_path=self.kv_path,
                             **spec.get("options", {}))
        invocation_id = self.store.new_invocation(record.name)

        def call() -> Outcome:
            self.store.mark_running(invocation_id)
            try:
                result = self.engine.run(artifact, FunctionInput.of(value), runtime=record.runtime,
                                         limits=spec.get("limits"), options=options)
            except FaasError as exc:
                envelope = failure_envelope(record.name, record.runtime, exc.type_name, exc.one_line(), exc.detail)
                return Outcome(invocation_id, envelope, ran=False)
            envelope = result.to_dict()
            envelope["function"] = record.name
            return Outcome(invocation_id, envelope, ran=True)

        def abandon() -> Outcome:
            message = (f"timed out after {format_duration(limits.timeout)} and did not stop; "
                       "its worker was replaced")
            return Outcome(invocation_id, failure_envelope(record.name, record.runtime, "Timeout", message), True)

        try:
            future = self.pool.submit(call, limits.timeout, abandon)
        except QueueFull:
            self.store.forget(invocation_id)
            self.metrics.rejected()
            raise HTTPProblem(TOO_MANY, "QueueFull", "too many invocations in flight; try again later") from None
        with self._lock:
            self._inflight[invocation_id] = future
        future.add_done_callback(lambda done: self._settle(record.name, invocation_id, done))
        return invocation_id, future

    def _settle(self, function: str, invocation_id: int, future: Future[Outcome]) -> None:
        """Persist and count a finished invocation (runs once, on the worker or watchdog thread)."""
        try:
            outcome = future.result()
            envelope = outcome.envelope
        except BaseException as exc:  # an engine bug: still answer, never lose the invocation
            envelope = failure_envelope(function, "", "InternalError", f"{type(exc).__name__}: {exc}")
        self.store.finish(invocation_id, envelope)
        error = envelope.get("error")
        self.metrics.observe(function, error["type"] if error else "ok", envelope["stats"]["duration_ms"] / 1000)
        with self._lock:
            self._inflight.pop(invocation_id, None)

    def inflight(self, invocation_id: int) -> Future[Outcome] | None:
        with self._lock:
            return self._inflight.get(invocation_id)

    def _artifact(self, record: FunctionRecord) -> Artifact:
        with self._lock:
            artifact = self._artifacts.get(record.digest + record.filename)
            if artifact is None:
                artifact = Artifact(name=record.filename, source=record.source, digest=record.digest,
                                    ending=_ending(record.filename), media_type=record.media_type)
                if len(self._artifacts) > 256:
                    self._artifacts.clear()
                self._artifacts[record.digest + record.filename] = artifact
        return artifact


def _ending(filename: str) -> str:
    base = filename.rsplit("/", 1)[-1]
    return ("." + base.rsplit(".", 1)[1].lower()) if "." in base else ""
