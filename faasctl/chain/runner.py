"""Runs a chain on an engine: the tasks' functions, the queued actions in FIFO order, and the chain's
built-in plugins, reachable from functions only through host calls (``call`` / ``aws-sdk``):

- ``lambda`` ``invoke`` (``{FunctionName, InvocationType, Payload}``, answered as Lambda does:
  ``{StatusCode, Payload, FunctionError?}``): ``RequestResponse`` runs a mapped function at once (nested
  up to ``max_depth`` levels), ``Event`` queues it, and the function ``xina-queue`` queues a XINA action.
- ``s3`` ``get`` / ``put`` over the object directory.

The engine belongs to the runner (its plugin registry carries the chain's plugins, so they exist in
this chain's runs only).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, NamedTuple

from faasctl.chain.model import (
    MAX_PAYLOAD,
    XINA_QUEUE,
    FunctionRef,
    TaskMap,
    action_problem,
    parse_run,
    read_json_file,
)
from faasctl.chain.objects import ObjectError, ObjectStore
from faasctl.chain.state import DONE, FAILED, CapReached, ChainState, Task
from faasctl.errors import FaasError, UsageError, exit_code_for
from faasctl.inputs import FunctionInput
from faasctl.plugins.registry import PluginError
from faasctl.runtimes.base import Artifact, RunOptions

MAX_OBJECT = 64 * 1024 * 1024
INVOCATION_TYPES = ("RequestResponse", "Event", "DryRun")


class ChainOptions(NamedTuple):
    limits: dict[str, Any] = {}
    max_actions: int = 1000
    max_depth: int = 16  # AWS stops a recursive loop of Lambda invocations after about 16
    bucket: str = "faasctl-local"
    queue: str = "https://sqs.local/000000000000/xina-queue"


DEFAULT_OPTIONS = ChainOptions()


class Outcome(NamedTuple):
    """How one function run ended, whatever stopped it."""

    ok: bool
    result: Any
    logs: list[str]
    error: dict[str, Any] | None
    exit_code: int


class ChainRunner:
    def __init__(self, engine: Any, tasks: TaskMap, objects: ObjectStore, action_results: dict[str, Any],
                 options: ChainOptions = DEFAULT_OPTIONS) -> None:
        self.engine = engine
        self.tasks = tasks
        self.objects = objects
        self.action_results = action_results
        self.options = options
        self.state = ChainState(options.max_actions)
        self.stack: list[int | None] = []  # the tasks whose functions are running, innermost last
        self._artifacts: dict[Path, Artifact] = {}
        runner = self
        engine.plugins().register("lambda", lambda: LambdaPlugin(runner))
        engine.plugins().register("s3", lambda: S3Plugin(runner))

    # -- the chain ----------------------------------------------------------------------------------

    def run(self, action: Any, source: str = "ACTION") -> ChainState:
        """Run the chain a XINA ``run`` action starts, to the end of its queue. A bad action or an
        unmapped task name is a ``UsageError`` raised before anything runs."""
        try:
            specs, _ = parse_run(action, source)
        except ValueError as exc:
            raise UsageError(str(exc)) from None
        for index, spec in enumerate(specs):
            if self.tasks.find(spec.name) is None:
                raise UsageError(f"{source}.tasks[{index}].name: unknown task {spec.name!r}",
                                 hint="tasks map: " + ", ".join(sorted(self.tasks.functions)))
            if spec.parent is not None:
                raise UsageError(f"{source}.tasks[{index}].parent: task {spec.parent} does not exist yet")
        for spec in specs:
            self._run_task(self.state.new_task(spec.name, spec.conf, spec.open, spec.parent))
        while (queued := self.state.next()) is not None:
            self._perform(queued)
        return self.state

    def _run_task(self, task: Task) -> None:
        ref = self.tasks.find(task.name)
        assert ref is not None
        payload = {"conf": task.conf, "task_id": task.id, "parent_id": task.parent,
                   "bucket": self.options.bucket, "queue": self.options.queue}
        outcome = self.invoke(ref, payload, task.id)
        task.logs[:0] = outcome.logs
        task.result = outcome.result
        if not outcome.ok:
            task.error, task.exit_code = outcome.error, outcome.exit_code
        self.state.task_ran(task, outcome.ok)

    def invoke(self, ref: FunctionRef, payload: Any, task_id: int | None) -> Outcome:
        """One run of a mapped function on the engine, on behalf of ``task_id``."""
        self.stack.append(task_id)
        try:
            artifact = self._artifact(ref)
            limits = {**self.options.limits, **ref.limits}
            result = self.engine.run(artifact, FunctionInput.of(payload), runtime=ref.runtime, limits=limits,
                                     options=RunOptions(handler=ref.handler))
        except FaasError as exc:
            refused: dict[str, Any] = {"type": exc.type_name, "message": exc.one_line(), "detail": exc.detail}
            return Outcome(False, None, [], refused, exc.exit_code)
        finally:
            self.stack.pop()
        error = result.error.to_dict() if result.error else None
        return Outcome(result.ok, result.result, list(result.logs), error,
                       exit_code_for(result.error.type) if result.error else 0)

    def _artifact(self, ref: FunctionRef) -> Artifact:
        if ref.path not in self._artifacts:
            from faasctl.engine import read_target

            self._artifacts[ref.path] = read_target(str(ref.path))
        return self._artifacts[ref.path]

    @property
    def current_task(self) -> int | None:
        return self.stack[-1] if self.stack else None

    # -- queued actions -------------------------------------------------------------------------------

    def _perform(self, action: Any) -> None:
        try:
            if action.function is not None:
                outcome = self.invoke(self.tasks.functions[action.function], action.body, action.task_id)
                self._note_logs(action.task_id, action.function, outcome.logs)
                if not outcome.ok:
                    error = outcome.error or {}
                    raise _ActionFailure(f"{error.get('type')}: {error.get('message')}", outcome.exit_code)
                action.result = outcome.result
            elif action.name == "run":
                self._perform_run(action)
            elif action.name == "conclude":
                body = action.body
                try:
                    self.state.conclude(body.get("task"))
                except ValueError as exc:
                    raise _ActionFailure(str(exc)) from None
            else:
                self._perform_api_action(action)
        except _ActionFailure as failure:
            self.state.action_failed(action, str(failure), failure.exit_code)
            return
        action.status = DONE

    def _perform_run(self, action: Any) -> None:
        try:
            specs, _ = parse_run(action.body, "run")
        except ValueError as exc:
            raise _ActionFailure(str(exc)) from None
        for spec in specs:
            if self.tasks.find(spec.name) is None:
                raise _ActionFailure(f"run: unknown task {spec.name!r} (tasks map: "
                                     f"{', '.join(sorted(self.tasks.functions))})")
            if spec.parent is not None and spec.parent not in self.state.tasks:
                raise _ActionFailure(f"run: parent task {spec.parent} does not exist")
        started = [self.state.new_task(s.name, s.conf, s.open, s.parent) for s in specs]
        action.result = {"tasks": [task.id for task in started]}
        for task in started:
            self._run_task(task)
        failed = [task.id for task in started if task.status == FAILED]
        if failed:
            raise _ActionFailure(f"run: task {failed[0]} failed")

    def _perform_api_action(self, action: Any) -> None:
        """Any other XINA action: its result (from --action-results) goes to the object directory."""
        name = action.name
        result = self.action_results.get(name)
        if isinstance(result, dict) and set(result) == {"$error"}:
            raise _ActionFailure(f"{name}: {result['$error']}")
        action.result = result
        key = f"queue/{action.queue_id}/out/content.json"
        try:
            self.objects.put(key, json.dumps(result, ensure_ascii=False).encode("utf-8"))
        except ObjectError as exc:
            raise _ActionFailure(str(exc)) from None

    def _note_logs(self, task_id: int | None, function: str, logs: list[str]) -> None:
        task = self.state.tasks.get(task_id) if task_id is not None else None
        if task is not None:
            task.logs.extend(f"[{function}] {line}" for line in logs)

    # -- xina-queue ---------------------------------------------------------------------------------------

    def queue_action(self, request: Any) -> dict[str, Any]:
        """The built-in ``xina-queue`` function: queue one action, answer its queue id at once.
        Raises ``PluginError`` for a request it refuses (also logged as a failed action)."""
        if not isinstance(request, dict):
            raise PluginError("xina-queue: the payload must be an object {action, task_id, ...}")
        task_id = request.get("task_id")
        if task_id is None:
            task_id = self.current_task
        elif isinstance(task_id, bool) or not isinstance(task_id, int) or task_id not in self.state.tasks:
            raise PluginError(f"xina-queue: task_id {json.dumps(task_id)} is not a task of this chain")
        ignore = request.get("ignore", False) is True
        action = request.get("action")
        if action is None and isinstance(request.get("source"), str):
            action = self._action_from_source(request["source"])
        problem = action_problem(action)
        if problem:
            name = action.get("action") if isinstance(action, dict) and isinstance(action.get("action"), str) else "?"
            record = self._enqueue(str(name), action, task_id, ignore)
            self.state.fifo.remove(record)
            self.state.action_failed(record, f"xina-queue: {problem}")
            raise PluginError(f"xina-queue: {problem}")
        record = self._enqueue(str(action["action"]), action, task_id, ignore)  # type: ignore[index]
        return {"queue_id": record.queue_id}

    def _enqueue(self, name: str, body: Any, task_id: int | None, ignore: bool, function: str | None = None) -> Any:
        try:
            return self.state.enqueue(name, body, task_id, ignore, function)
        except CapReached as exc:
            self.state.halt(str(exc), task_id)
            raise PluginError(str(exc)) from None

    def _action_from_source(self, key: str) -> Any:
        try:
            data = self.objects.get(key, MAX_PAYLOAD)
        except ObjectError as exc:
            raise PluginError(f"xina-queue: source {key}: {exc}") from None
        try:
            return json.loads(data)
        except ValueError as exc:
            raise PluginError(f"xina-queue: source {key} is not JSON: {exc}") from None


class _ActionFailure(Exception):
    def __init__(self, message: str, exit_code: int = 1) -> None:
        super().__init__(message)
        self.exit_code = exit_code


class LambdaPlugin:
    """``call('lambda', 'invoke', {FunctionName, InvocationType, Payload})``, as aws-sdk's Lambda.invoke."""

    def __init__(self, runner: ChainRunner) -> None:
        self.runner = runner
        self.depth = 0

    def action_invoke(self, params: Any, context: Any) -> Any:
        if not isinstance(params, dict) or not isinstance(params.get("FunctionName"), str):
            raise PluginError("lambda.invoke: params need a FunctionName")
        name, kind = params["FunctionName"], params.get("InvocationType", "RequestResponse")
        if kind not in INVOCATION_TYPES:
            raise PluginError(f"lambda.invoke: InvocationType must be one of {', '.join(INVOCATION_TYPES)}")
        payload, size = _payload(params.get("Payload"))
        if size > MAX_PAYLOAD:
            raise PluginError(f"RequestEntityTooLargeException: Request must be smaller than {MAX_PAYLOAD} bytes "
                              "for the InvokeFunction operation")
        runner = self.runner
        if name == XINA_QUEUE:
            reply = runner.queue_action(payload)
            return _response(kind, json.dumps(reply))
        ref = runner.tasks.find(name)
        if ref is None:
            raise PluginError(f"ResourceNotFoundException: Function not found: {name} (tasks map: "
                              f"{', '.join(sorted(runner.tasks.functions))}, and {XINA_QUEUE})")
        if kind == "DryRun":
            return {"StatusCode": 204}
        if kind == "Event":
            runner._enqueue("invoke", payload, runner.current_task, False, ref.name)
            return _response(kind, "")
        if self.depth >= runner.options.max_depth:
            raise PluginError(f"lambda.invoke {name}: RequestResponse invocations nested more than "
                              f"{runner.options.max_depth} deep (--max-depth); a cycle of invocations?")
        self.depth += 1
        try:
            outcome = runner.invoke(ref, payload, runner.current_task)
        finally:
            self.depth -= 1
        runner._note_logs(runner.current_task, ref.name, outcome.logs)
        if not outcome.ok:
            error = outcome.error or {}
            body = {"errorMessage": error.get("message"), "errorType": error.get("type")}
            return {**_response(kind, json.dumps(body, ensure_ascii=False)), "FunctionError": "Unhandled"}
        text = json.dumps(outcome.result, ensure_ascii=False)
        if len(text.encode("utf-8")) > MAX_PAYLOAD:
            body = {"errorMessage": f"Response payload size exceeded maximum allowed payload size ({MAX_PAYLOAD} "
                                    "bytes).", "errorType": "Function.ResponseSizeTooLarge"}
            return {**_response(kind, json.dumps(body)), "FunctionError": "Unhandled"}
        return _response(kind, text)


class S3Plugin:
    """``call('s3', 'get' | 'put', {Bucket, Key[, Body]})`` over the chain's object directory."""

    def __init__(self, runner: ChainRunner) -> None:
        self.objects = runner.objects

    def action_get(self, params: Any, context: Any) -> Any:
        key = params.get("Key") if isinstance(params, dict) else None
        try:
            data = self.objects.get(key, MAX_OBJECT)
        except ObjectError as exc:
            raise PluginError(str(exc)) from None
        return {"Body": data.decode("utf-8", "replace"), "ContentLength": len(data), "Key": key}

    def action_put(self, params: Any, context: Any) -> Any:
        if not isinstance(params, dict):
            raise PluginError("s3.put: params need Key and Body")
        body = params.get("Body", "")
        text = body if isinstance(body, str) else json.dumps(body, ensure_ascii=False)
        data = text.encode("utf-8", "surrogatepass")
        if len(data) > MAX_OBJECT:
            raise PluginError(f"s3.put: Body is larger than {MAX_OBJECT} bytes")
        try:
            self.objects.put(params.get("Key"), data)
        except ObjectError as exc:
            raise PluginError(str(exc)) from None
        import hashlib

        return {"ETag": '"' + hashlib.md5(data, usedforsecurity=False).hexdigest() + '"'}


def _payload(raw: Any) -> tuple[Any, int]:
    """An invoke's Payload: JSON text (as aws-sdk sends it) or already a value; and its size in bytes."""
    if raw is None:
        return {}, 2
    if isinstance(raw, str):
        size = len(raw.encode("utf-8", "surrogatepass"))
        if size > MAX_PAYLOAD:
            return None, size
        try:
            return (json.loads(raw) if raw.strip() else {}), size
        except (ValueError, RecursionError):
            raise PluginError("InvalidRequestContentException: Could not parse request body into json") from None
    return raw, len(json.dumps(raw, ensure_ascii=False).encode("utf-8", "surrogatepass"))


def _response(kind: str, payload: str) -> dict[str, Any]:
    if kind == "Event":
        return {"StatusCode": 202, "Payload": ""}
    return {"StatusCode": 200, "ExecutedVersion": "$LATEST", "Payload": payload}


def load_chain_inputs(action_path: str, tasks_path: str | None, results_path: str | None
                      ) -> tuple[Any, TaskMap, dict[str, Any]]:
    """The action, the tasks map (default: ``tasks.yaml`` beside the action) and the action results."""
    from faasctl.chain.model import load_action_results, load_task_map

    action = read_json_file(action_path, "action")
    if tasks_path is None:
        beside = Path(action_path).parent / "tasks.yaml"
        if not beside.is_file():
            raise UsageError("no tasks map: pass --tasks TASKS.yaml (task names to function files)")
        tasks_path = str(beside)
    return action, load_task_map(tasks_path), load_action_results(results_path)


def run_chain_files(engine: Any, action_path: str, *, tasks_path: str | None = None, objects_dir: str | None = None,
                    results_path: str | None = None, options: ChainOptions = DEFAULT_OPTIONS) -> ChainState:
    """Everything ``flow chain`` does short of printing: read the inputs, run the chain in the object
    directory (a temporary one, removed afterwards, when none is given)."""
    import shutil
    import tempfile

    action, tasks, results = load_chain_inputs(action_path, tasks_path, results_path)
    if objects_dir is not None and Path(objects_dir).exists() and not Path(objects_dir).is_dir():
        raise UsageError(f"--objects {objects_dir}: not a directory")
    root = Path(objects_dir) if objects_dir is not None else Path(tempfile.mkdtemp(prefix="faasctl-objects-"))
    try:
        root.mkdir(parents=True, exist_ok=True)
        return ChainRunner(engine, tasks, ObjectStore(root), results, options).run(action, action_path)
    except OSError as exc:
        raise UsageError(f"--objects {root}: {exc.strerror}") from None
    finally:
        if objects_dir is None:
            shutil.rmtree(root, ignore_errors=True)
