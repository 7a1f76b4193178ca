"""The local driver: runs the interpreter's requests on the engine, fork branches at once on a thread pool.

The interpreter decides; this module only executes: a request's function spec becomes an artifact and
``Engine.run`` options (``function_target``, the one place that maps a task to a function), retries wait
their delay, cancelled requests stop waiting, and a cancelled run under way is stopped through its
``CancelToken`` (wasm at its next epoch check, Lua by killing its worker); its result is dropped.
"""

from __future__ import annotations

import base64
import os
import time
from collections.abc import Callable, Mapping
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from faasctl.cancel import CancelToken
from faasctl.engine import artifact_from_bytes
from faasctl.errors import FaasError, InternalError, UsageError
from faasctl.inputs import FunctionInput
from faasctl.output import output_mode
from faasctl.runtimes.base import Artifact, RunOptions

if TYPE_CHECKING:
    from faasctl.engine import Engine
    from faasctl.flow.interpreter import Flow

TaskDone = Callable[[dict[str, Any], dict[str, Any]], None]


def function_target(spec: Mapping[str, Any]) -> tuple[Artifact | str, str | None, RunOptions, dict[str, Any]]:
    """A function spec (the serve deploy body) as ``Engine.run`` arguments: target, runtime, options, limits.

    The one mapping from a task to a function; it moves to the core's ``FunctionSpec`` once that lands."""
    runtime = spec.get("runtime")
    options = RunOptions(output_json=output_mode(spec.get("output_json", "auto")))
    limits = dict(spec.get("limits") or {})
    if spec.get("image"):
        image = str(spec["image"])
        return (image if image.startswith("oci://") else "oci://" + image), runtime, options, limits
    if spec.get("code_base64") is not None:
        try:
            source = base64.b64decode(str(spec["code_base64"]), validate=True)
        except ValueError:
            raise UsageError("code_base64 is not valid base64") from None
    else:
        source = str(spec.get("code", "")).encode("utf-8")
    name = str(spec.get("name") or f"function{_ENDINGS.get(str(runtime), '')}")
    path = Path(str(spec["path"])) if spec.get("path") else None
    return artifact_from_bytes(name, source, path=path), runtime, options, limits


_ENDINGS = {"js": ".js", "python": ".py", "lua": ".lua", "wasm": ".wasm"}


def runtime_of(engine: Engine, file: Path) -> str:
    """The runtime a mapped task file runs on, from its ending (as ``faasctl run`` picks it)."""
    descriptor = engine.registry.for_ending(file.suffix.lower())
    if descriptor is None:
        raise UsageError(f"cannot tell the runtime of task file {file}: unknown ending {file.suffix or '(none)'!r}",
                         hint="known endings: " + ", ".join(engine.registry.endings()))
    return descriptor.name


def failure_envelope(exc: FaasError) -> dict[str, Any]:
    """An envelope for a function that could not run at all (unknown runtime, broken artifact)."""
    return {"ok": False, "result": None, "output_type": None, "logs": [], "stats": None,
            "error": {"type": exc.type_name, "message": exc.one_line(), "detail": exc.detail}}


@dataclass
class _Running:
    request: dict[str, Any]
    token: CancelToken = field(default_factory=CancelToken)
    started_ms: int | None = None


class LocalExecutor:
    """Drives one ``Flow`` to its end on ``engine``; ``jobs`` requests at most run at once."""

    def __init__(self, engine: Engine, *, jobs: int | None = None, limits: Mapping[str, Any] | None = None,
                 on_task_done: TaskDone | None = None, clock: Callable[[], float] = time.time) -> None:
        self.engine = engine
        self.jobs = max(1, jobs or os.cpu_count() or 1)
        self.limits = {key: value for key, value in (limits or {}).items() if value is not None}
        self.on_task_done = on_task_done
        self.clock = clock
        self.abandoned = 0  # requests cancelled while running (their runs are stopped through their token)
        self._running: dict[str, _Running] = {}
        self._targets: dict[tuple[Any, ...], tuple[Artifact | str, str | None, RunOptions]] = {}

    def _now(self) -> int:
        return int(self.clock() * 1000)

    def execute(self, flow: Flow) -> dict[str, Any]:
        """Run ``flow`` to its end and return its execution document."""
        futures: dict[Future[dict[str, Any]], _Running] = {}
        pool = ThreadPoolExecutor(max_workers=self.jobs, thread_name_prefix="faasctl-flow")
        try:
            step = flow.start(self._now())
            while True:
                for request_id in step["cancel"]:
                    self._cancel(request_id)
                if len(step["run"]) == 1 and not futures and not step["done"]:
                    # nothing else in flight: run it here, without a hand-off to a pool thread and back
                    running = _Running(step["run"][0])
                    envelope = self._run(running)
                    if self.on_task_done is not None:
                        self.on_task_done(running.request, envelope)
                    step = flow.complete(running.request["id"], envelope, self._now(), running.started_ms)
                    continue
                for request in step["run"]:
                    running = _Running(request)
                    self._running[request["id"]] = running
                    futures[pool.submit(self._run, running)] = running
                if step["done"]:
                    break
                live = {future: running for future, running in futures.items() if not running.token.cancelled}
                if not live:
                    raise InternalError("the flow waits for nothing but has not ended")
                done, _ = wait(live, return_when=FIRST_COMPLETED)
                # several may end together: feed them back in the order they were requested (deterministic)
                step = {"run": [], "cancel": [], "done": False}
                for future in sorted(done, key=lambda f: _order(futures[f].request["id"])):
                    running = futures.pop(future)
                    self._running.pop(running.request["id"], None)
                    envelope = future.result()
                    if self.on_task_done is not None:
                        self.on_task_done(running.request, envelope)
                    more = flow.complete(running.request["id"], envelope, self._now(), running.started_ms)
                    step["run"].extend(more["run"])
                    step["cancel"].extend(more["cancel"])
                    step["done"] = more["done"]
                    if more["done"]:
                        break
            for future, running in futures.items():
                if not future.done():
                    self._cancel(running.request["id"])
        finally:
            pool.shutdown(wait=False, cancel_futures=True)
        return flow.execution()

    def _cancel(self, request_id: str) -> None:
        """Stop one request: a queued run never starts, a retry stops waiting, and a run already under way
        is cancelled through its token (it ends as ``Interrupted``); its result is dropped."""
        running = self._running.pop(request_id, None)
        if running is None:
            return
        running.token.cancel("the flow no longer needs this task")
        if running.started_ms is not None:
            self.abandoned += 1

    def _run(self, running: _Running) -> dict[str, Any]:
        request = running.request
        delay = float(request.get("delay_seconds") or 0)
        if delay > 0 and running.token.wait(delay):
            return failure_envelope(InternalError("cancelled"))
        if running.token.cancelled:
            return failure_envelope(InternalError("cancelled"))
        running.started_ms = self._now()
        try:
            return self._run_function(request, running.token)
        except FaasError as exc:
            return failure_envelope(exc)
        except Exception as exc:  # a bug below must fail the task, not the driver
            return failure_envelope(InternalError(f"{type(exc).__name__}: {exc}"))

    def _run_function(self, request: dict[str, Any], cancel: CancelToken | None = None) -> dict[str, Any]:
        spec = request["function"]
        # a loop runs the same code again and again: decode and hash it once
        key = (spec.get("runtime"), spec.get("name"), spec.get("code"), spec.get("code_base64"), spec.get("image"),
               spec.get("output_json"), spec.get("path"))
        cached = self._targets.get(key)
        if cached is None:
            target, runtime, options, _ = function_target(spec)
            cached = self._targets[key] = (target, runtime, options)
        target, runtime, options = cached
        merged = {**self.limits, **(spec.get("limits") or {})}
        result = self.engine.run(target, FunctionInput.of(request.get("input")), runtime=runtime,
                                 limits=merged, options=options, cancel=cancel)
        return result.to_dict()


def _order(request_id: str) -> int:
    digits = request_id.rsplit("-", 1)[-1].lstrip("tew")
    return int(digits) if digits.isdigit() else 0
