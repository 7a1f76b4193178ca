"""The interpreter's state and the effects its threads yield; small pure helpers of the task types.

Plain data only: a context per workflow execution (the main one, each sub-workflow), a thread per running
task list (the main sequence, each fork branch), and what a thread may ask of the scheduler.
"""

from __future__ import annotations

import json
from collections.abc import Generator, Mapping
from dataclasses import dataclass, field
from typing import Any

# -- effects a thread yields ------------------------------------------------------------------------------


@dataclass
class Call:
    request: dict[str, Any]
    record: dict[str, Any] | None


@dataclass
class Branches:
    """Start these fork branches now; the thread goes on at once with their threads."""

    bodies: list[Generator[Any, Any, None]]


@dataclass
class Join:
    """Wait until every ``refs`` task of this iteration ended, or every branch of the fork did."""

    refs: list[str]
    branches: list[Thread]
    iteration: int


@dataclass
class Child:
    context: Context


@dataclass
class End:
    status: str  # FAILED, TERMINATED or COMPLETED (TERMINATE with COMPLETED)
    reason: str
    failed_ref: str | None = None
    error_type: str | None = None
    output: Any = None
    has_output: bool = False


# -- state ------------------------------------------------------------------------------------------------


@dataclass(eq=False)
class Context:
    """One workflow execution: the main one or a sub-workflow."""

    workflow_id: str
    definition: dict[str, Any]
    input: Any
    label: str  # log prefix of its tasks ("" for the main workflow, "sub_ref/" inside a sub-workflow)
    start_time: int
    parent: Thread | None = None
    parent_task_id: str | None = None
    variables: dict[str, Any] = field(default_factory=dict)
    records: list[dict[str, Any]] = field(default_factory=list)
    latest: dict[str, dict[str, Any]] = field(default_factory=dict)
    threads: list[Thread] = field(default_factory=list)
    children: list[Context] = field(default_factory=list)
    status: str = "RUNNING"
    output: Any = None
    reason: str | None = None
    failed_refs: list[str] = field(default_factory=list)
    error_type: str | None = None
    end_time: int | None = None
    loops: dict[str, tuple[dict[str, Any], frozenset[str]]] = field(default_factory=dict)  # running DO_WHILEs
    main_done: bool = False  # its task list ran to the end (fork branches may still run)

    def document(self) -> dict[str, Any]:
        definition = self.definition
        return {
            "workflowId": self.workflow_id,
            "workflowName": definition.get("name"),
            "workflowVersion": definition.get("version", 1),
            "status": self.status,
            "input": self.input,
            "output": self.output if self.output is not None else {},
            "reasonForIncompletion": self.reason,
            "failedReferenceTaskNames": list(self.failed_refs),
            "startTime": self.start_time,
            "endTime": self.end_time,
            "variables": self.variables,
            "parentWorkflowId": self.parent.context.workflow_id if self.parent else None,
            "tasks": self.records,
        }


@dataclass(eq=False)
class Thread:
    body: Generator[Any, Any, None]
    context: Context
    branch: bool = False  # a fork branch (the context's main thread otherwise)
    dead: bool = False
    started: bool = False


@dataclass
class Pending:
    thread: Thread
    record: dict[str, Any] | None


# -- helpers --------------------------------------------------------------------------------------------


def task_limits(task: Mapping[str, Any]) -> dict[str, Any]:
    definition = task.get("taskDefinition") or {}
    seconds = definition.get("timeoutSeconds")
    return {"timeout": f"{seconds}s"} if seconds else {}


def retry_delay(definition: Mapping[str, Any], attempt: int) -> float:
    delay = float(definition.get("retryDelaySeconds", 0) or 0)
    logic = definition.get("retryLogic", "FIXED")
    if logic == "EXPONENTIAL_BACKOFF":
        return delay * 2 ** (attempt - 1)
    if logic == "LINEAR_BACKOFF":
        return delay * float(definition.get("backoffScaleFactor", 1) or 1) * attempt
    return delay


def case_key(value: Any) -> str:
    """A case value as Conductor's String.valueOf gives it for JSON-typed values."""
    if isinstance(value, str):
        return value
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, dict | list):
        return json.dumps(value, separators=(",", ":"))
    return str(value)


def truthy(value: Any) -> bool:
    """Conductor's ScriptEvaluator.toBoolean: a boolean as it is, a number when above 0, anything else false."""
    if isinstance(value, bool):
        return value
    if isinstance(value, int | float):
        return value > 0
    return False


def copy_json(value: Any) -> Any:
    """A copy of a JSON value, so a task's input never aliases another task's output."""
    if isinstance(value, dict):
        return {key: copy_json(item) for key, item in value.items()}
    if isinstance(value, list):
        return [copy_json(item) for item in value]
    return value
