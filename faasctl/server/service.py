"""What the three HTTP faces share: deploy, list, delete, invoke (blocking or not) and read results.

The faces only translate their request and response shapes; everything with a rule in it is here, so
the REST, WasmEngine and lua-experiments routes cannot disagree about limits, persistence or failures.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import json
import re
import threading
import time
from collections.abc import Iterator
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
from faasctl.server import deploycheck
from faasctl.server.events import EventLog
from faasctl.server.metrics import Metrics
from faasctl.server.pool import QueueFull, RunPool
from faasctl.server.problems import TOO_MANY, HTTPProblem
from faasctl.server.store import INTERRUPTED, FunctionRecord, Store

NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")
STORE_POLL = 0.02  # seconds between store reads while waiting for another process's invocation


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
    """A finished (and persisted) invocation: its id, its envelope and whether the function started."""

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


def recover(store: Store) -> int:
    """At start-up, before any server process runs: fail what a previous server left queued or running,
    purge expired results and stale metric snapshots. Returns how many invocations were failed."""
    count = store.recover(lambda function: failure_envelope(function, "", "Interrupted", INTERRUPTED))
    store.purge_expired()
    store.clear_process_metrics()
    return count


class Service:
    """``slot`` numbers this server process among ``processes`` sharing the store (metrics are merged)."""

    def __init__(self, engine: Engine, store: Store, pool: RunPool, kv_path: str | None = None,
                 allowed_paths: tuple[Path, ...] = (), max_source: int = 16 * 1024**2,
                 log: EventLog | None = None, slot: int = 0, processes: int = 1) -> None:
        self.engine = engine
        self.store = store
        self.pool = pool
        # Server-side files a deploy may name: only regular files under these directories (--allow-path),
        # so a client cannot read /etc/passwd or /dev/zero through a "path" deploy.
        self.allowed_paths = tuple(p.resolve() for p in allowed_paths)
        self.max_source = max_source
        self.metrics = Metrics()
        self.log = log or EventLog("off")
        self.slot = slot
        self.processes = processes
        self.kv_path = kv_path
        self.started = time.time()
        self._artifacts: dict[str, Artifact] = {}
        self._inflight: dict[int, Future[Outcome]] = {}
        self._lock = threading.Lock()

    # -- functions ----------------------------------------------------------------------------------------

    def deploy(self, request: DeployRequest, *, replace: bool = True) -> tuple[FunctionRecord, bool]:
        """Store a function; returns it and whether it is new (with ``replace`` False an existing name is
        kept and ``False`` returned). Raises ``FaasError`` for a bad request or code that cannot run."""
        if not isinstance(request.name, str) or not NAME.match(request.name):
            raise UsageError(f"invalid function name {shown_name(request.name)}",
                             hint="use letters, digits, '.', '_' and '-', at most 128 characters")
        options = deploycheck.run_options(request.options)
        artifact = self._deploy_artifact(request)
        descriptor = self.engine.select_runtime(artifact, request.runtime)
        if request.source is not None and not request.filename:
            artifact = artifact_from_bytes(request.name + descriptor.endings[0], artifact.source)
        self.engine.limits_for(descriptor, request.limits)  # raises on a malformed limit
        refused = sorted(key for key in options if key not in descriptor.accepts)
        if refused:
            raise UsageError(f"the {descriptor.name} runtime does not take the option {refused[0]!r}",
                             hint="abi, invoke and wasi_args are for WebAssembly modules")
        meta = dict(request.meta)
        if descriptor.name == "wasm":  # a module that does not compile or cannot be called: 422 now
            meta["abi"] = deploycheck.wasm_abi(self.engine, artifact, options)
        elif descriptor.name == "lua":
            deploycheck.check_lua(artifact.source, artifact.name)
        origin = {"kind": "image", "ref": request.image} if request.image else (
            {"kind": "path", "ref": request.path} if request.path else {"kind": "code"})
        now = time.time()
        existing = self.store.get_function(request.name)
        record = FunctionRecord(
            name=request.name, runtime=descriptor.name, filename=artifact.name, media_type=artifact.media_type,
            size=len(artifact.source), digest=artifact.digest,
            spec={"limits": {k: v for k, v in request.limits.items() if v is not None},
                  "output_json": request.output_json, "options": options, "origin": origin, "meta": meta},
            created=existing.created if existing else now, updated=now,
        )
        created = self.store.put_function(record, artifact.source, replace=replace)
        if created or replace:
            self.log.emit("info", f"Function '{record.name}' deployed", runtime=record.runtime, size=record.size,
                          digest=record.digest[:12], replaced=not created or None)
        return record, created

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
            "name": record.name, "runtime": record.runtime, "filename": record.filename, "size": record.size,
            "digest": "sha256:" + record.digest, "limits": record.spec.get("limits", {}),
            "effective_limits": effective, "output_json": record.spec.get("output_json", "auto"),
            "options": record.spec.get("options", {}), "origin": record.spec.get("origin", {}),
            "created": record.created, "updated": record.updated,
        }

    def delete(self, name: str) -> None:
        if not self.store.delete_function(name):
            raise NotFoundError(f"no function named {shown_name(name)}")
        self.log.emit("info", f"Function '{name}' deleted")

    # -- invocations ------------------------------------------------------------------------------------

    @contextlib.contextmanager
    def admission(self, record: FunctionRecord) -> Iterator[Admission]:
        """Take a run slot before the request body is read (``HTTPProblem`` 429 when every slot is taken);
        the slot is handed back if the body is refused before the run starts."""
        try:
            self.pool.reserve()
        except QueueFull:
            self.metrics.rejected()
            self.log.emit("warning", "Invocation refused: queue full", function=record.name)
            raise HTTPProblem(TOO_MANY, "QueueFull", "too many invocations in flight; try again later") from None
        admission = Admission(self, record)
        try:
            yield admission
        finally:
            if not admission.used:
                self.pool.unreserve()

    def _start(self, record: FunctionRecord, input_: FunctionInput, invocation_id: int | None) -> Future[Outcome]:
        """Hand the run to the pool (into a reserved slot). The future's outcome is already persisted:
        a blocking run gets its id when its row is written, an async one had it before it was queued."""
        artifact = self._artifact(record)
        descriptor = self.engine.select_runtime(artifact, record.runtime)
        limits = self.engine.limits_for(descriptor, record.spec.get("limits"))
        spec = record.spec
        options = RunOptions(output_json=output_mode(spec.get("output_json", "auto")), kv_path=self.kv_path,
                             **spec.get("options", {}))
        created = time.time()
        once = threading.Lock()  # the run and the watchdog race to settle an overdue run: the first wins

        def settle(envelope: dict[str, Any], ran: bool) -> Outcome:
            if not once.acquire(blocking=False):
                return Outcome(invocation_id or 0, envelope, ran)
            return self._persist(record.name, invocation_id, envelope, ran, created)

        def call() -> Outcome:
            try:
                if invocation_id is not None:
                    self.store.mark_running(invocation_id)
                result = self.engine.run(artifact, input_, runtime=record.runtime,
                                         limits=spec.get("limits"), options=options)
            except FaasError as exc:
                return settle(failure_envelope(record.name, record.runtime, exc.type_name, exc.one_line(),
                                               exc.detail), False)
            except Exception as exc:  # an engine bug: still answer, never lose the invocation
                self.log.emit("error", "internal error", function=record.name, error=f"{type(exc).__name__}: {exc}")
                return settle(failure_envelope(record.name, record.runtime, "InternalError",
                                               f"{type(exc).__name__}: {exc}"), False)
            envelope = result.to_dict()
            envelope["function"] = record.name
            return settle(envelope, True)

        def abandon() -> Outcome:
            message = (f"timed out after {format_duration(limits.timeout)} and did not stop; "
                       "its worker was replaced")
            return settle(failure_envelope(record.name, record.runtime, "Timeout", message), True)

        future: Future[Outcome] = self.pool.submit(call, limits.timeout, abandon, reserved=True)
        if invocation_id is not None:
            with self._lock:
                self._inflight[invocation_id] = future
            future.add_done_callback(lambda _: self._forget(invocation_id))
        return future

    def _persist(self, function: str, invocation_id: int | None, envelope: dict[str, Any], ran: bool,
                 created: float) -> Outcome:
        try:
            if invocation_id is None:
                invocation_id = self.store.record_finished(function, envelope, created)
            else:
                self.store.finish(invocation_id, envelope)
        except Exception as exc:  # a full disk or a lone surrogate: answer with the run's outcome anyway
            self.log.emit("error", "could not store an invocation result", function=function,
                          error=f"{type(exc).__name__}: {exc}")
            invocation_id = invocation_id or 0
        error = envelope.get("error")
        self.metrics.observe(function, error["type"] if error else "ok", envelope["stats"]["duration_ms"] / 1000)
        self.log.run_ended(function, invocation_id, envelope)
        return Outcome(invocation_id, envelope, ran)

    def _forget(self, invocation_id: int) -> None:
        with self._lock:
            self._inflight.pop(invocation_id, None)

    def inflight(self, invocation_id: int) -> Future[Outcome] | None:
        with self._lock:
            return self._inflight.get(invocation_id)

    async def settled(self, invocation_id: int, wait: float) -> None:
        """Wait up to ``wait`` seconds for an invocation to finish: on its future when this process runs
        it, else by reading the store (another server process runs it)."""
        import asyncio

        future = self.inflight(invocation_id)
        if future is not None:
            try:
                await asyncio.wait_for(asyncio.shield(asyncio.wrap_future(future)), wait)
            except TimeoutError:
                pass
            return
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            record = self.store.get_invocation(invocation_id)
            if record is None or record.state == "done":
                return
            await asyncio.sleep(STORE_POLL)

    def _artifact(self, record: FunctionRecord) -> Artifact:
        key = record.digest + record.filename
        with self._lock:
            artifact = self._artifacts.get(key)
        if artifact is None:
            source = self.store.source(record.name, record.digest)
            if source is None:  # replaced or deleted since its metadata was read
                raise NotFoundError(f"function {shown_name(record.name)} changed while it was being invoked",
                                    hint="try again")
            artifact = Artifact(name=record.filename, source=source, digest=record.digest,
                                ending=_ending(record.filename), media_type=record.media_type)
            with self._lock:
                if len(self._artifacts) > 256:
                    self._artifacts.clear()
                self._artifacts[key] = artifact
        return artifact

    # -- metrics across processes -------------------------------------------------------------------------

    def gauges(self) -> dict[str, float]:
        pool = self.pool
        return {"faasctl_queue_depth": pool.queue_depth(), "faasctl_running": pool.running(),
                "faasctl_workers": pool.workers, "faasctl_abandoned_workers": pool.abandoned()}

    def publish_metrics(self) -> None:
        """This process's counters for the others' ``/metrics`` (several processes share the store)."""
        self.store.put_process_metrics(self.slot, json.dumps(self.metrics.snapshot(self.gauges())))

    def render_metrics(self) -> str:
        others = [json.loads(text) for text in self.store.process_metrics(self.slot)] if self.processes > 1 else []
        return self.metrics.render(self.gauges(), others)


class Admission:
    """A reserved run slot for one invocation; ``start`` (blocking) or ``enqueue`` (async) uses it."""

    def __init__(self, service: Service, record: FunctionRecord) -> None:
        self.service = service
        self.record = record
        self.used = False

    def start(self, input_: FunctionInput) -> Future[Outcome]:
        future = self.service._start(self.record, input_, None)
        self.used = True
        return future

    def enqueue(self, input_: FunctionInput) -> int:
        """Persist the invocation as queued, then run it; the id is safe to acknowledge on return."""
        invocation_id = self.service.store.new_invocation(self.record.name)
        try:
            self.service._start(self.record, input_, invocation_id)
        except BaseException:
            self.service.store.forget(invocation_id)
            raise
        self.used = True
        return invocation_id


def _ending(filename: str) -> str:
    base = filename.rsplit("/", 1)[-1]
    return ("." + base.rsplit(".", 1)[1].lower()) if "." in base else ""
