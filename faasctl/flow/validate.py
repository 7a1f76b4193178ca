"""Static checks of a workflow definition, before any task runs: every problem is a ``FlowDefinitionError``
naming the JSON path and one reason (``tasks[1].inputParameters.scriptExpression: missing``), exit 2.

Pure: the definitions of sub-workflows and the SIMPLE task mappings are given by the caller.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from typing import Any

from faasctl.errors import UsageError
from faasctl.flow.expressions import PathError, expressions_in, parse_path, walk_strings

SCRIPT_TASKS = {"GLOBAL___js": "js", "GLOBAL___py": "python"}
TASK_TYPES = ("SIMPLE", "INLINE", "LAMBDA", "SWITCH", "DECISION", "FORK_JOIN", "JOIN", "DO_WHILE",
              "SET_VARIABLE", "TERMINATE", "SUB_WORKFLOW", "JSON_JQ_TRANSFORM")
JS_EVALUATORS = ("javascript", "graaljs")
RETRY_LOGIC = ("FIXED", "EXPONENTIAL_BACKOFF", "LINEAR_BACKOFF")
TERMINATION_STATUSES = ("COMPLETED", "FAILED", "TERMINATED")


class FlowDefinitionError(UsageError):
    """An invalid definition: ``path`` (a JSON path, '' for the whole document) and ``reason``."""

    def __init__(self, path: str, reason: str, *, hint: str | None = None) -> None:
        super().__init__(f"{path}: {reason}" if path else reason, hint=hint)
        self.path = path
        self.reason = reason


def task_type(task: Mapping[str, Any]) -> str:
    """Conductor's default type is SIMPLE."""
    return str(task.get("type") or "SIMPLE")


def iter_tasks(tasks: list[Any], path: str) -> Iterator[tuple[str, dict[str, Any]]]:
    """Every task of a task list, nested ones (forks, cases, loops) included, with its path."""
    for index, task in enumerate(tasks):
        here = f"{path}[{index}]"
        if not isinstance(task, dict):
            continue
        yield here, task
        for child_path, children in child_lists(task, here):
            yield from iter_tasks(children, child_path)


def child_lists(task: Mapping[str, Any], path: str) -> Iterator[tuple[str, list[Any]]]:
    """The task lists a task holds: fork branches, switch cases, the loop body."""
    kind = task_type(task)
    if kind == "FORK_JOIN" and isinstance(task.get("forkTasks"), list):
        for number, branch in enumerate(task["forkTasks"]):
            if isinstance(branch, list):
                yield f"{path}.forkTasks[{number}]", branch
    elif kind in ("SWITCH", "DECISION"):
        cases = task.get("decisionCases")
        if isinstance(cases, dict):
            for name, branch in cases.items():
                if isinstance(branch, list):
                    yield f"{path}.decisionCases.{name}", branch
        if isinstance(task.get("defaultCase"), list):
            yield f"{path}.defaultCase", task["defaultCase"]
    elif kind == "DO_WHILE" and isinstance(task.get("loopOver"), list):
        yield f"{path}.loopOver", task["loopOver"]


def sub_workflow_name(task: Mapping[str, Any]) -> str | None:
    param = task.get("subWorkflowParam")
    return param.get("name") if isinstance(param, dict) and isinstance(param.get("name"), str) else None


def inline_sub_workflow(task: Mapping[str, Any]) -> dict[str, Any] | None:
    param = task.get("subWorkflowParam")
    inline = param.get("workflowDefinition") if isinstance(param, dict) else None
    return inline if isinstance(inline, dict) else None


def validate(definition: Any, *, definitions: Mapping[str, Any] | None = None,
             functions: Mapping[str, Any] | None = None) -> None:
    """Raise ``FlowDefinitionError`` for the first problem; sub-workflows are checked too (cycles refused)."""
    name = definition.get("name") if isinstance(definition, dict) else None
    _Checker(definitions or {}, functions or {}).workflow(definition, "", (name,) if isinstance(name, str) else ())


class _Checker:
    def __init__(self, definitions: Mapping[str, Any], functions: Mapping[str, Any]) -> None:
        self.definitions = definitions
        self.functions = functions
        self.checked: set[str] = set()

    def workflow(self, definition: Any, prefix: str, stack: tuple[str, ...]) -> None:
        def fail(path: str, reason: str, hint: str | None = None) -> FlowDefinitionError:
            return FlowDefinitionError(prefix + path, reason, hint=hint)

        if not isinstance(definition, dict):
            raise fail("", f"not a workflow definition: expected an object with 'tasks', "
                           f"got {type(definition).__name__}")
        try:
            json.dumps(definition, allow_nan=False)
        except (TypeError, ValueError, RecursionError) as exc:
            raise fail("", f"not JSON-compatible ({exc}); quote dates and other special YAML values") from None
        tasks = definition.get("tasks")
        if "tasks" not in definition:
            raise fail("", "not a workflow definition: it has no 'tasks'",
                       hint="a definition as POST /metadata/workflow takes it: name, version, tasks")
        if not isinstance(tasks, list) or not tasks:
            raise fail("tasks", "must be a non-empty list of tasks")
        name = definition.get("name")
        if name is not None and not isinstance(name, str):
            raise fail("name", "must be a string")
        for key in ("inputParameters",):
            if key in definition and not isinstance(definition[key], list):
                raise fail(key, "must be a list of input names")
        if "outputParameters" in definition and not isinstance(definition["outputParameters"], dict):
            raise fail("outputParameters", "must be an object")
        refs = self.references(tasks, fail)
        self.sequence(tasks, "tasks", refs, fail, stack, in_loop=False)
        self.expressions(definition.get("outputParameters") or {}, "outputParameters", refs, fail)

    def references(self, tasks: list[Any], fail: Any) -> dict[str, str]:
        refs: dict[str, str] = {}
        for path, task in iter_tasks(tasks, "tasks"):
            ref = task.get("taskReferenceName")
            if not isinstance(ref, str) or not ref:
                raise fail(f"{path}.taskReferenceName", "missing" if ref is None else "must be a non-empty string")
            if "__" in ref:
                raise fail(f"{path}.taskReferenceName", f"{ref!r} holds '__', which DO_WHILE iteration names use")
            if ref in refs:
                raise fail(f"{path}.taskReferenceName", f"duplicate reference {ref!r} (first at {refs[ref]})")
            refs[ref] = path
        return refs

    def sequence(self, tasks: list[Any], path: str, refs: dict[str, str], fail: Any, stack: tuple[str, ...],
                 in_loop: bool) -> None:
        for index, task in enumerate(tasks):
            here = f"{path}[{index}]"
            if not isinstance(task, dict):
                raise fail(here, f"a task must be an object, got {type(task).__name__}")
            kind = task_type(task)
            if kind == "JOIN":
                previous = tasks[index - 1] if index else None
                if not isinstance(previous, dict) or task_type(previous) != "FORK_JOIN":
                    raise fail(here, "a JOIN must follow a FORK_JOIN in the same task list")
            self.task(task, kind, here, refs, fail, stack, in_loop, tasks[index - 1] if index else None)
            if kind == "FORK_JOIN":
                following = tasks[index + 1] if index + 1 < len(tasks) else None
                if not isinstance(following, dict) or task_type(following) != "JOIN":
                    raise fail(here, "a FORK_JOIN must be followed by its JOIN")
            for child_path, children in child_lists(task, here):
                if not children and kind == "DO_WHILE":
                    raise fail(child_path, "must list the tasks of one iteration")
                self.sequence(children, child_path, refs, fail, stack, in_loop or kind == "DO_WHILE")

    def task(self, task: dict[str, Any], kind: str, path: str, refs: dict[str, str], fail: Any,
             stack: tuple[str, ...], in_loop: bool, previous: Any) -> None:
        params = task.get("inputParameters", {})
        if params is None:
            params = {}
        if not isinstance(params, dict):
            raise fail(f"{path}.inputParameters", "must be an object")
        if kind not in TASK_TYPES:
            raise fail(f"{path}.type", f"unsupported task type {kind!r} (supported: {', '.join(TASK_TYPES)})",
                       hint="HTTP, WAIT, HUMAN, EVENT and the like need a Conductor server")
        self.retries(task.get("taskDefinition"), f"{path}.taskDefinition", fail)
        check = getattr(self, f"check_{kind.lower()}")
        check(task, params, path, fail, refs=refs, stack=stack, in_loop=in_loop, previous=previous)
        self.expressions(params, f"{path}.inputParameters", refs, fail)

    # -- per type -----------------------------------------------------------------------------------------

    def check_simple(self, task: dict[str, Any], params: dict[str, Any], path: str, fail: Any, **_: Any) -> None:
        name = task.get("name")
        if not isinstance(name, str) or not name:
            raise fail(f"{path}.name", "missing: a SIMPLE task needs the task name")
        if name in SCRIPT_TASKS:
            self.script(params, "scriptExpression", path, fail)
        elif name not in self.functions:
            mapped = ", ".join(sorted(self.functions)) or "none"
            raise fail(f"{path}.name", f"SIMPLE task {name!r} is not mapped to a function "
                                       f"(supported: GLOBAL___js, GLOBAL___py; mapped: {mapped})",
                       hint=f"map it with --task {name}=FILE or a 'tasks:' entry in faasctl.yaml")

    def check_inline(self, task: dict[str, Any], params: dict[str, Any], path: str, fail: Any, **_: Any) -> None:
        evaluator = params.get("evaluatorType", "javascript")
        if evaluator not in (*JS_EVALUATORS, "value-param"):
            raise fail(f"{path}.inputParameters.evaluatorType",
                       f"unsupported evaluator {evaluator!r} (supported: javascript, graaljs, value-param)")
        self.script(params, "expression", path, fail)

    def check_lambda(self, task: dict[str, Any], params: dict[str, Any], path: str, fail: Any, **_: Any) -> None:
        self.script(params, "scriptExpression", path, fail)

    def check_switch(self, task: dict[str, Any], params: dict[str, Any], path: str, fail: Any, **_: Any) -> None:
        evaluator = task.get("evaluatorType", "value-param")
        if evaluator not in ("value-param", *JS_EVALUATORS):
            raise fail(f"{path}.evaluatorType",
                       f"unsupported evaluator {evaluator!r} (supported: value-param, javascript, graaljs)")
        expression = task.get("expression")
        if not isinstance(expression, str) or not expression.strip():
            raise fail(f"{path}.expression", "missing" if expression is None else "must be a non-empty string")
        if evaluator == "value-param" and expression not in params:
            raise fail(f"{path}.expression", f"names no input parameter {expression!r} "
                                             f"(value-param reads inputParameters.{expression})")
        self.cases(task, path, fail)

    def check_decision(self, task: dict[str, Any], params: dict[str, Any], path: str, fail: Any,
                       **_: Any) -> None:
        value_param, expression = task.get("caseValueParam"), task.get("caseExpression")
        if value_param is None and expression is None:
            raise fail(f"{path}.caseValueParam", "missing (or give caseExpression)")
        if expression is not None and (not isinstance(expression, str) or not expression.strip()):
            raise fail(f"{path}.caseExpression", "must be a non-empty JavaScript expression")
        if expression is None and (not isinstance(value_param, str) or value_param not in params):
            raise fail(f"{path}.caseValueParam", f"names no input parameter {value_param!r}")
        self.cases(task, path, fail)

    def cases(self, task: dict[str, Any], path: str, fail: Any) -> None:
        cases = task.get("decisionCases", {})
        if not isinstance(cases, dict):
            raise fail(f"{path}.decisionCases", "must map case values to task lists")
        for name, branch in cases.items():
            if not isinstance(branch, list):
                raise fail(f"{path}.decisionCases.{name}", "must be a list of tasks")
        if task.get("defaultCase") is not None and not isinstance(task["defaultCase"], list):
            raise fail(f"{path}.defaultCase", "must be a list of tasks")

    def check_fork_join(self, task: dict[str, Any], params: dict[str, Any], path: str, fail: Any,
                        **_: Any) -> None:
        branches = task.get("forkTasks")
        if not isinstance(branches, list) or not branches:
            raise fail(f"{path}.forkTasks", "must be a non-empty list of branches (each a list of tasks)")
        for number, branch in enumerate(branches):
            if not isinstance(branch, list) or not branch:
                raise fail(f"{path}.forkTasks[{number}]", "must be a non-empty list of tasks")

    def check_join(self, task: dict[str, Any], params: dict[str, Any], path: str, fail: Any, *,
                   previous: Any, **_: Any) -> None:
        join_on = task.get("joinOn", [])
        if not isinstance(join_on, list) or not all(isinstance(ref, str) for ref in join_on):
            raise fail(f"{path}.joinOn", "must be a list of task references")
        inside = {t["taskReferenceName"] for _, t in iter_tasks(
            [t for branch in previous.get("forkTasks", []) for t in branch], "")}
        for index, ref in enumerate(join_on):
            if ref not in inside:
                raise fail(f"{path}.joinOn[{index}]", f"{ref!r} is not a task of the fork "
                                                      f"{previous.get('taskReferenceName')!r} before this JOIN")

    def check_do_while(self, task: dict[str, Any], params: dict[str, Any], path: str, fail: Any, *,
                       in_loop: bool, **_: Any) -> None:
        condition = task.get("loopCondition")
        if not isinstance(condition, str) or not condition.strip():
            raise fail(f"{path}.loopCondition", "missing: a DO_WHILE needs a JavaScript loopCondition"
                       if condition is None else "must be a non-empty JavaScript expression")
        if not isinstance(task.get("loopOver"), list):
            raise fail(f"{path}.loopOver", "must be a list of tasks")
        if in_loop:
            raise fail(path, "a DO_WHILE inside a DO_WHILE is not supported (nor is it in Conductor)")

    def check_set_variable(self, task: dict[str, Any], params: dict[str, Any], path: str, fail: Any,
                           **_: Any) -> None:
        return None

    def check_terminate(self, task: dict[str, Any], params: dict[str, Any], path: str, fail: Any,
                        **_: Any) -> None:
        status = params.get("terminationStatus")
        if status is None:
            raise fail(f"{path}.inputParameters.terminationStatus", "missing (COMPLETED or FAILED)")
        if isinstance(status, str) and "${" not in status and status.upper() not in TERMINATION_STATUSES:
            raise fail(f"{path}.inputParameters.terminationStatus",
                       f"{status!r} is not one of {', '.join(TERMINATION_STATUSES)}")

    def check_json_jq_transform(self, task: dict[str, Any], params: dict[str, Any], path: str, fail: Any,
                                **_: Any) -> None:
        query = params.get("queryExpression")
        where = f"{path}.inputParameters.queryExpression"
        if not isinstance(query, str) or not query.strip():
            raise fail(where, "missing" if query is None else "must be a jq program")
        if "${" not in query:
            from faasctl.flow.jq import compile_error

            problem = compile_error(query)
            if problem:
                raise fail(where, f"invalid jq program: {problem}")

    def check_sub_workflow(self, task: dict[str, Any], params: dict[str, Any], path: str, fail: Any, *,
                           stack: tuple[str, ...], **_: Any) -> None:
        inline = inline_sub_workflow(task)
        name = sub_workflow_name(task)
        where = f"{path}.subWorkflowParam"
        if inline is not None:
            label = str(inline.get("name") or f"{task.get('taskReferenceName')} (inline)")
            self.child(inline, label, where + ".workflowDefinition.", stack, fail, where)
            return
        if name is None:
            raise fail(f"{where}.name", "missing: the name of the sub-workflow")
        if name in stack:
            raise fail(f"{where}.name", f"sub-workflow cycle: {' -> '.join((*stack, name))}")
        if name not in self.definitions:
            raise fail(f"{where}.name", f"no definition of workflow {name!r} (looked in the same file and "
                                        f"for {name}.json / {name}.yaml beside it)")
        self.child(self.definitions[name], name, f"{name}: ", stack, fail, f"{where}.name")

    def child(self, definition: Any, name: str, prefix: str, stack: tuple[str, ...], fail: Any,
              where: str) -> None:
        if name in stack:
            cycle = " -> ".join((*stack, name))
            raise fail(where, f"sub-workflow cycle: {cycle}")
        if name in self.checked:
            return
        self.checked.add(name)
        self.workflow(definition, prefix, (*stack, name))

    # -- shared -------------------------------------------------------------------------------------------

    def script(self, params: dict[str, Any], key: str, path: str, fail: Any) -> None:
        value = params.get(key)
        if value is None:
            raise fail(f"{path}.inputParameters.{key}", "missing")
        if not isinstance(value, str) or not value.strip():
            raise fail(f"{path}.inputParameters.{key}", "must be a non-empty script")

    def retries(self, value: Any, path: str, fail: Any) -> None:
        if value is None:
            return
        if not isinstance(value, dict):
            raise fail(path, "must be an object")
        for key in ("retryCount", "retryDelaySeconds", "timeoutSeconds", "backoffScaleFactor"):
            item = value.get(key)
            if item is not None and (isinstance(item, bool) or not isinstance(item, int | float) or item < 0):
                raise fail(f"{path}.{key}", f"must be a number of 0 or more, got {item!r}")
        logic = value.get("retryLogic")
        if logic is not None and logic not in RETRY_LOGIC:
            raise fail(f"{path}.retryLogic", f"{logic!r} is not one of {', '.join(RETRY_LOGIC)}")

    def expressions(self, value: Any, path: str, refs: dict[str, str], fail: Any) -> None:
        for where, text in walk_strings(value, path):
            for expression in expressions_in(text):
                try:
                    root = parse_path(expression)[0]
                except PathError as exc:
                    raise fail(where, f"${{{expression}}}: {exc}") from None
                if root != "workflow" and root not in refs:
                    raise fail(where, f"${{{expression}}} names no task reference {root!r} in this workflow",
                               hint="write $${ for a literal ${")
