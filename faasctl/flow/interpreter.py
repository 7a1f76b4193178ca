"""The workflow interpreter: a pure state machine that says which functions to run next (see the package
docstring for the API).

Control flow is written as generators, one per running task list ("thread"): a thread yields an effect
(run this request; start these branches; wait for a JOIN's tasks; run this sub-workflow; end the workflow)
and the scheduler resumes it with the answer. Fork branches are threads of their own; a sub-workflow is a
thread in a child context. No clock, no I/O, no randomness: ids come from a counter under the caller's
workflow id, times from ``now_ms``, so the same inputs and results always give the same requests and the
same document.
"""

from __future__ import annotations

from collections.abc import Generator, Iterator, Mapping
from typing import Any

from faasctl.errors import exit_code_for
from faasctl.flow import scripts
from faasctl.flow.expressions import resolve
from faasctl.flow.state import (
    Branches,
    Call,
    Child,
    Context,
    End,
    Join,
    Pending,
    Thread,
    case_key,
    copy_json,
    retry_delay,
    task_limits,
    truthy,
)
from faasctl.flow.validate import (
    JS_EVALUATORS,
    SCRIPT_TASKS,
    inline_sub_workflow,
    iter_tasks,
    sub_workflow_name,
    task_type,
    validate,
)

# A function that could not run at all fails the same way on every attempt: not retried.
NOT_RETRIED = frozenset({"UsageError", "InputError", "ArtifactError", "NotFound"})
DEFAULT_MAX_ITERATIONS = 1000
FINISHED = ("COMPLETED", "FAILED", "TERMINATED")
OPEN = ("SCHEDULED", "IN_PROGRESS")


class Flow:
    """One workflow execution, driven by ``start`` and ``complete`` (see the package docstring)."""

    def __init__(self, definition: dict[str, Any], input: Any = None, *, workflow_id: str = "wf",
                 definitions: Mapping[str, Any] | None = None, functions: Mapping[str, Any] | None = None,
                 max_iterations: int = DEFAULT_MAX_ITERATIONS) -> None:
        self.definitions = dict(definitions or {})
        self.functions = dict(functions or {})
        validate(definition, definitions=self.definitions, functions=self.functions)
        self.workflow_id = workflow_id
        self.max_iterations = max_iterations
        self.root = Context(workflow_id, definition, {} if input is None else input, "", 0)
        self._counter = 0
        self._now = 0
        self._pending: dict[str, Pending] = {}
        self._run: list[dict[str, Any]] = []
        self._cancel: list[str] = []
        self._joins: list[tuple[Thread, Join]] = []  # JOINs waiting for their tasks
        self.done = False

    # -- the driver's side --------------------------------------------------------------------------------

    def start(self, now_ms: int = 0) -> dict[str, Any]:
        self._now = int(now_ms)
        self.root.start_time = self._now
        self._start_context(self.root)
        self._wake_joins()
        return self._step()

    def complete(self, request_id: str, envelope: Mapping[str, Any], now_ms: int = 0,
                 started_ms: int | None = None) -> dict[str, Any]:
        """Feed back how a request ended; unknown or cancelled ids are ignored."""
        self._now = int(now_ms)
        pending = self._pending.pop(request_id, None)
        if pending is not None and not pending.thread.dead:
            if pending.record is not None and started_ms is not None and pending.record["taskId"] == request_id:
                pending.record["startTime"] = int(started_ms)
            self._advance(pending.thread, dict(envelope))
            self._wake_joins()
        return self._step()

    def execution(self) -> dict[str, Any]:
        return self.root.document()

    @property
    def status(self) -> str:
        return self.root.status

    @property
    def exit_code(self) -> int:
        if self.root.status == "COMPLETED":
            return 0
        if self.root.status == "RUNNING":
            return 70
        return exit_code_for(self.root.error_type) if self.root.error_type else 1

    def _step(self) -> dict[str, Any]:
        run, cancel = self._run, self._cancel
        self._run, self._cancel = [], []
        return {"run": run, "cancel": cancel, "done": self.done}

    # -- scheduling ---------------------------------------------------------------------------------------

    def _next_id(self, kind: str) -> str:
        self._counter += 1
        return f"{self.workflow_id}-{kind}{self._counter}"

    def _start_context(self, context: Context) -> None:
        thread = Thread(self._workflow_body(context), context)
        context.threads.append(thread)
        self._advance(thread, None)

    def _advance(self, thread: Thread, value: Any) -> None:
        """Resume ``thread`` with ``value`` until it waits or ends."""
        while True:
            try:
                if thread.started:
                    effect = thread.body.send(value)
                else:
                    thread.started = True
                    effect = next(thread.body)
            except StopIteration:
                self._thread_done(thread)
                return
            value = None
            if isinstance(effect, Call):
                self._pending[effect.request["id"]] = Pending(thread, effect.record)
                self._run.append(effect.request)
                return
            if isinstance(effect, Branches):
                branches = []
                for body in effect.bodies:
                    child = Thread(body, thread.context, branch=True)
                    thread.context.threads.append(child)
                    branches.append(child)
                    self._advance(child, None)
                    if thread.dead:
                        return
                value = branches
                continue
            if isinstance(effect, Join):
                if self._joined(thread.context, effect):
                    continue
                self._joins.append((thread, effect))
                return
            if isinstance(effect, Child):
                effect.context.parent = thread
                thread.context.children.append(effect.context)
                self._start_context(effect.context)
                return
            if isinstance(effect, End):
                self._end_context(thread.context, effect)
                return

    def _thread_done(self, thread: Thread) -> None:
        thread.dead = True
        context = thread.context
        if not thread.branch:
            context.main_done = True
        context.threads = [t for t in context.threads if not t.dead]  # a loop may start thousands of branches
        # a workflow completes when its task list ran to the end and no fork branch still runs
        if context.status == "RUNNING" and context.main_done and not context.threads:
            context.status = "COMPLETED"
            context.output = self._default_output(context)
            self._close_context(context)

    def _joined(self, context: Context, join: Join) -> bool:
        """Every task joined on ended in this iteration, or every branch ended (a joined task that never
        ran, in a SWITCH case not taken, does not hang the JOIN as it would in Conductor)."""
        if all(branch.dead for branch in join.branches):
            return True
        for ref in join.refs:
            record = context.latest.get(ref)
            if record is None or record.get("iteration", 0) != join.iteration or record["status"] in OPEN:
                return False
        return True

    def _wake_joins(self) -> None:
        """Resume the JOINs whose tasks ended, until none is left to resume."""
        woke = True
        while woke:
            woke = False
            for entry in list(self._joins):
                thread, join = entry
                if thread.dead:
                    self._joins.remove(entry)
                elif self._joined(thread.context, join):
                    self._joins.remove(entry)
                    self._advance(thread, None)
                    woke = True

    def _end_context(self, context: Context, end: End) -> None:
        context.status = end.status
        context.reason = end.reason
        context.error_type = end.error_type
        if end.failed_ref:
            context.failed_refs.append(end.failed_ref)
            failed_base = end.failed_ref.rpartition("__")[0] or end.failed_ref
            for record, body in context.loops.values():  # a DO_WHILE fails with a task of its body
                if failed_base in body and record["status"] == "IN_PROGRESS":
                    record["reasonForIncompletion"] = end.reason
                    self._finish(record, record["outputData"], "FAILED")
        if end.has_output:
            output = end.output
            context.output = output if isinstance(output, dict) else {"output": output}
        elif end.status == "COMPLETED":
            context.output = self._default_output(context)
        self._kill(context)
        self._close_context(context)

    def _kill(self, context: Context) -> None:
        """Stop every thread of a context and its sub-workflows; cancel what they were waiting for."""
        for child in context.children:
            if child.status == "RUNNING":
                child.status, child.reason = "TERMINATED", "the parent workflow ended"
                child.end_time = self._now
                self._kill(child)
        for thread in context.threads:
            if not thread.dead:
                thread.dead = True
                thread.body.close()
        for request_id, pending in list(self._pending.items()):
            if pending.thread.context is context:
                del self._pending[request_id]
                self._cancel.append(request_id)
        for record in context.records:
            if record["status"] in ("SCHEDULED", "IN_PROGRESS"):
                record["status"] = "CANCELED"
                record["endTime"] = self._now

    def _close_context(self, context: Context) -> None:
        context.end_time = self._now
        if context.parent is None:
            self.done = True
            return
        waiter = context.parent
        if not waiter.dead:
            self._advance(waiter, None)

    def _default_output(self, context: Context) -> Any:
        params = context.definition.get("outputParameters")
        if params:
            return resolve(params, self._lookup(context))
        for record in reversed(context.records):
            if record["status"] not in ("CANCELED", "SKIPPED"):
                return record["outputData"]
        return {}

    # -- expressions --------------------------------------------------------------------------------------

    def _lookup(self, context: Context) -> Any:
        def lookup(root: str) -> Any:
            if root == "workflow":
                return {
                    "input": context.input,
                    "variables": context.variables,
                    "workflowId": context.workflow_id,
                    "workflowType": context.definition.get("name"),
                    "workflowVersion": context.definition.get("version", 1),
                    "schemaVersion": context.definition.get("schemaVersion", 2),
                    "status": context.status,
                    "correlationId": None,
                    "parentWorkflowId": context.parent.context.workflow_id if context.parent else None,
                    "parentWorkflowTaskId": context.parent_task_id,
                    "createTime": context.start_time,
                }
            record = context.latest.get(root)
            if record is None:
                return None
            return {
                "input": record["inputData"], "output": record["outputData"], "status": record["status"],
                "taskId": record["taskId"], "referenceTaskName": record["referenceTaskName"],
                "taskType": record["taskType"], "taskDefName": record["taskDefName"],
                "retryCount": record["retryCount"], "iteration": record.get("iteration", 0),
                "startTime": record["startTime"], "endTime": record["endTime"],
                "reasonForIncompletion": record["reasonForIncompletion"],
            }

        return lookup

    def _resolve(self, context: Context, value: Any) -> Any:
        return copy_json(resolve(value, self._lookup(context)))

    # -- task records -------------------------------------------------------------------------------------

    def _record(self, context: Context, task: dict[str, Any], iteration: int, input_data: Any) -> dict[str, Any]:
        ref = task["taskReferenceName"]
        kind = task_type(task)
        record = {
            "taskId": self._next_id("t"),
            "taskType": task.get("name", kind) if kind == "SIMPLE" else "FORK" if kind == "FORK_JOIN" else kind,
            "taskDefName": task.get("name", ref),
            "referenceTaskName": f"{ref}__{iteration}" if iteration else ref,
            "status": "SCHEDULED",
            "inputData": input_data,
            "outputData": {},
            "logs": [],
            "reasonForIncompletion": None,
            "retryCount": 0,
            "startTime": self._now,
            "endTime": None,
            "error": None,
            "optional": bool(task.get("optional", False)),
        }
        if iteration:
            record["iteration"] = iteration
        context.records.append(record)
        context.latest[ref] = record
        return record

    def _finish(self, record: dict[str, Any], output: Any, status: str = "COMPLETED") -> None:
        record["outputData"] = output
        record["status"] = status
        record["endTime"] = self._now

    def _request(self, context: Context, record: dict[str, Any], function: dict[str, Any], input: Any,
                 kind: str = "task", attempt: int = 0, delay: float = 0) -> dict[str, Any]:
        return {
            "id": record["taskId"] if kind == "task" else self._next_id("e"),
            "ref": context.label + record["referenceTaskName"],
            "kind": kind,
            "function": function,
            "input": input,
            "attempt": attempt,
            "delay_seconds": delay,
        }

    # -- control flow -------------------------------------------------------------------------------------

    def _workflow_body(self, context: Context) -> Generator[Any, Any, None]:
        yield from self._sequence(context, context.definition["tasks"], 0)

    def _sequence(self, context: Context, tasks: list[dict[str, Any]], iteration: int) -> Generator[Any, Any, None]:
        branches: list[Thread] = []  # of the FORK_JOIN just before a JOIN (validation keeps them adjacent)
        for task in tasks:
            kind = task_type(task)
            record = self._record(context, task, iteration,
                                  self._resolve(context, task.get("inputParameters") or {}))
            if kind == "JOIN":
                yield from self._run_join(context, task, record, iteration, branches)
            elif kind == "FORK_JOIN":
                branches = yield from self._run_fork_join(context, task, record, iteration)
            else:
                yield from getattr(self, f"_run_{kind.lower()}")(context, task, record, iteration)

    def _failed(self, context: Context, task: dict[str, Any], record: dict[str, Any], error: dict[str, Any],
                output: Any = None) -> Iterator[Any]:
        """A task failed for good: COMPLETED_WITH_ERRORS when optional, else the workflow fails."""
        message = f"{error.get('type')}: {error.get('message')}"
        record["reasonForIncompletion"] = message
        record["error"] = error
        if task.get("optional"):
            self._finish(record, output if output is not None else {}, "COMPLETED_WITH_ERRORS")
            return
        self._finish(record, output if output is not None else {}, "FAILED")
        yield End("FAILED", f"task {context.label}{record['referenceTaskName']} failed: {message}",
                   failed_ref=record["referenceTaskName"], error_type=str(error.get("type") or "FunctionError"))

    def _call(self, context: Context, task: dict[str, Any], record: dict[str, Any], function: dict[str, Any],
              input: Any) -> Generator[Any, Any, dict[str, Any] | None]:
        """Run a function for a task, with the task's retries; the final record is the latest one.
        Returns the successful envelope, or None after ``_failed`` (an optional task goes on)."""
        definition = task.get("taskDefinition") or {}
        retries = int(definition.get("retryCount", 0) or 0)
        attempt, delay = 0, 0.0
        while True:
            record["status"] = "IN_PROGRESS"
            envelope = yield Call(self._request(context, record, function, input, attempt=attempt, delay=delay),
                                   record)
            record["logs"].extend(envelope.get("logs") or [])
            if envelope.get("ok"):
                return envelope
            error = envelope.get("error") or {"type": "FunctionError", "message": "failed", "detail": None}
            if attempt >= retries or error.get("type") in NOT_RETRIED:
                yield from self._failed(context, task, record, error)
                return None
            record["reasonForIncompletion"] = f"{error.get('type')}: {error.get('message')}"
            record["error"] = error
            self._finish(record, {}, "FAILED")
            record["retried"] = True
            attempt += 1
            delay = retry_delay(definition, attempt)
            record = self._retry_record(context, task, record, attempt)

    def _retry_record(self, context: Context, task: dict[str, Any], failed: dict[str, Any],
                      attempt: int) -> dict[str, Any]:
        record = dict(failed)
        record.update(taskId=self._next_id("t"), status="SCHEDULED", outputData={}, logs=[], error=None,
                      reasonForIncompletion=None, retryCount=attempt, startTime=self._now, endTime=None)
        record.pop("retried", None)
        record["retriedTaskId"] = failed["taskId"]
        context.records.append(record)
        context.latest[task["taskReferenceName"]] = record
        return record

    def _evaluate(self, context: Context, task: dict[str, Any], record: dict[str, Any], expression: str,
                  input: Any) -> Generator[Any, Any, tuple[bool, Any]]:
        """A JavaScript expression's value, run as an "eval" request; (False, None) after a failure."""
        function = scripts.js_expression(context.label + record["referenceTaskName"], expression,
                                         task_limits(task))
        envelope = yield Call(self._request(context, record, function, input, kind="eval"), record)
        record["logs"].extend(envelope.get("logs") or [])
        if envelope.get("ok"):
            return True, envelope.get("result")
        error = envelope.get("error") or {"type": "FunctionError", "message": "failed", "detail": None}
        yield from self._failed(context, task, record, error)
        return False, None

    # -- task types ---------------------------------------------------------------------------------------

    def _run_simple(self, context: Context, task: dict[str, Any], record: dict[str, Any],
                    iteration: int) -> Iterator[Any]:
        name = task["name"]
        params = record["inputData"]
        if name in SCRIPT_TASKS:
            function = scripts.lambda_task(SCRIPT_TASKS[name], context.label + record["referenceTaskName"],
                                           params, task_limits(task))
        else:
            function = scripts.mapped_task(self.functions[name], task_limits(task))
        envelope = yield from self._call(context, task, record, function, params)
        if envelope is not None:
            result = envelope.get("result")
            wrap = name in SCRIPT_TASKS or not isinstance(result, dict)
            self._finish(context.latest[task["taskReferenceName"]], {"result": result} if wrap else result)

    def _run_inline(self, context: Context, task: dict[str, Any], record: dict[str, Any],
                    iteration: int) -> Iterator[Any]:
        params = record["inputData"]
        evaluator = params.get("evaluatorType", "javascript")
        if evaluator == "value-param":
            self._finish(record, {"result": copy_json(params.get(params.get("expression")))})
            return
        function = scripts.js_expression(context.label + record["referenceTaskName"], params["expression"],
                                         task_limits(task))
        envelope = yield from self._call(context, task, record, function, params)
        if envelope is not None:
            self._finish(context.latest[task["taskReferenceName"]], {"result": envelope.get("result")})

    def _run_lambda(self, context: Context, task: dict[str, Any], record: dict[str, Any],
                    iteration: int) -> Iterator[Any]:
        params = record["inputData"]
        function = scripts.js_lambda(context.label + record["referenceTaskName"], params["scriptExpression"],
                                     task_limits(task))
        envelope = yield from self._call(context, task, record, function, params)
        if envelope is not None:
            self._finish(context.latest[task["taskReferenceName"]], {"result": envelope.get("result")})

    def _run_switch(self, context: Context, task: dict[str, Any], record: dict[str, Any],
                    iteration: int) -> Iterator[Any]:
        evaluator = task.get("evaluatorType", "value-param")
        if evaluator in JS_EVALUATORS:
            ok, value = yield from self._evaluate(context, task, record, task["expression"], record["inputData"])
            if not ok:
                return
        else:
            value = record["inputData"].get(task["expression"])
        case = case_key(value)
        self._finish(record, {"evaluationResult": [case]})
        yield from self._branch(context, task, case, iteration)

    def _run_decision(self, context: Context, task: dict[str, Any], record: dict[str, Any],
                      iteration: int) -> Iterator[Any]:
        if task.get("caseExpression"):
            ok, value = yield from self._evaluate(context, task, record, task["caseExpression"],
                                                  record["inputData"])
            if not ok:
                return
        else:
            value = record["inputData"].get(task["caseValueParam"])
        case = case_key(value)
        self._finish(record, {"caseOutput": [case], "evaluationResult": [case]})
        yield from self._branch(context, task, case, iteration)

    def _branch(self, context: Context, task: dict[str, Any], case: str, iteration: int) -> Iterator[Any]:
        # YAML may give case keys as numbers or booleans; they match as Conductor's strings would
        cases = {case_key(key): branch for key, branch in (task.get("decisionCases") or {}).items()}
        tasks = cases[case] if case in cases else task.get("defaultCase") or []
        yield from self._sequence(context, tasks, iteration)

    def _run_fork_join(self, context: Context, task: dict[str, Any], record: dict[str, Any],
                       iteration: int) -> Generator[Any, Any, list[Thread]]:
        self._finish(record, {})
        branches = yield Branches([self._branch_body(context, branch, iteration) for branch in task["forkTasks"]])
        return list(branches)

    def _branch_body(self, context: Context, tasks: list[dict[str, Any]],
                     iteration: int) -> Generator[Any, Any, None]:
        yield from self._sequence(context, tasks, iteration)

    def _run_join(self, context: Context, task: dict[str, Any], record: dict[str, Any], iteration: int,
                  branches: list[Thread]) -> Iterator[Any]:
        """Scheduled with the fork's first tasks, as in Conductor; completes when its joinOn tasks ended."""
        join_on = list(task.get("joinOn") or [])
        record["inputData"] = {**record["inputData"], "joinOn": join_on}
        record["status"] = "IN_PROGRESS"
        yield Join(join_on, branches, iteration)
        output = {ref: copy_json(context.latest[ref]["outputData"]) for ref in join_on
                  if ref in context.latest and context.latest[ref].get("iteration", 0) == iteration}
        self._finish(record, output)

    def _run_do_while(self, context: Context, task: dict[str, Any], record: dict[str, Any],
                      iteration: int) -> Iterator[Any]:
        ref = task["taskReferenceName"]
        body_refs = [t["taskReferenceName"] for _, t in iter_tasks(task["loopOver"], "")]
        record["status"] = "IN_PROGRESS"
        output: dict[str, Any] = {}
        record["outputData"] = output
        context.loops[record["taskId"]] = (record, frozenset(body_refs))
        number = 0
        while True:
            number += 1
            record["iteration"] = number
            output["iteration"] = number
            yield from self._sequence(context, task["loopOver"], number)
            output[str(number)] = {name: copy_json(context.latest[name]["outputData"]) for name in body_refs
                                   if context.latest.get(name, {}).get("iteration") == number}
            # Not stored anywhere, only sent: no copies needed (a loop's output grows with every iteration).
            condition_input = resolve(task.get("inputParameters") or {}, self._lookup(context))
            condition_input[ref] = output
            for name in body_refs:
                if name in context.latest:
                    condition_input[name] = context.latest[name]["outputData"]
            ok, value = yield from self._evaluate(context, task, record, task["loopCondition"], condition_input)
            if not ok:
                return
            if not truthy(value):
                break
            if number >= self.max_iterations:
                error = {"type": "FunctionError", "detail": None,
                         "message": f"DO_WHILE {ref} stopped at the iteration cap of {self.max_iterations} "
                                    f"(loopCondition still true; raise it with --max-iterations)"}
                yield from self._failed(context, task, record, error, output)
                return
        self._finish(record, output)

    def _run_set_variable(self, context: Context, task: dict[str, Any], record: dict[str, Any],
                          iteration: int) -> Iterator[Any]:
        context.variables.update(copy_json(record["inputData"]))
        self._finish(record, {})
        return iter(())

    def _run_terminate(self, context: Context, task: dict[str, Any], record: dict[str, Any],
                       iteration: int) -> Iterator[Any]:
        params = record["inputData"]
        status = str(params.get("terminationStatus") or "COMPLETED").upper()
        if status not in FINISHED:
            error = {"type": "FunctionError", "detail": None,
                     "message": f"terminationStatus {status!r} is not COMPLETED, FAILED or TERMINATED"}
            yield from self._failed(context, task, record, error)
            return
        reason = params.get("terminationReason")
        reason = str(reason) if reason is not None else f"terminated by {record['referenceTaskName']} ({status})"
        has_output = "workflowOutput" in params
        self._finish(record, {"output": params.get("workflowOutput")} if has_output else {})
        yield End(status, reason, error_type=None, output=params.get("workflowOutput"), has_output=has_output,
                   failed_ref=record["referenceTaskName"] if status != "COMPLETED" else None)

    def _run_sub_workflow(self, context: Context, task: dict[str, Any], record: dict[str, Any],
                          iteration: int) -> Iterator[Any]:
        definition = inline_sub_workflow(task) or self.definitions[sub_workflow_name(task) or ""]
        child = Context(self._next_id("w"), definition, record["inputData"],
                         f"{context.label}{record['referenceTaskName']}/", self._now, parent_task_id=record["taskId"])
        record["subWorkflowId"] = child.workflow_id
        record["status"] = "IN_PROGRESS"
        yield Child(child)
        record["subWorkflow"] = child.document()
        output = {"subWorkflowId": child.workflow_id, **(child.output or {})}
        if child.status == "COMPLETED":
            self._finish(record, output)
            return
        error = {"type": child.error_type or "FunctionError", "message": child.reason or child.status,
                 "detail": None}
        yield from self._failed(context, task, record, error, output)

    def _run_json_jq_transform(self, context: Context, task: dict[str, Any], record: dict[str, Any],
                               iteration: int) -> Iterator[Any]:
        from faasctl.flow.jq import transform

        params = record["inputData"]
        results, problem = transform(str(params.get("queryExpression")), params)
        if problem is not None:
            error = {"type": "FunctionError", "message": f"jq: {problem}", "detail": None}
            yield from self._failed(context, task, record, error, {"error": problem})
            return
        assert results is not None
        self._finish(record, {"result": results[0] if results else None, "resultList": results})
