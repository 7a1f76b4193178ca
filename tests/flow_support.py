"""Helpers for flow tests: run a definition on a real engine through the local executor."""

from __future__ import annotations

from typing import Any

from faasctl.flow.executor import LocalExecutor
from faasctl.flow.interpreter import Flow


def js(ref: str, script: str, **params: Any) -> dict[str, Any]:
    """A GLOBAL___js task."""
    return {"name": "GLOBAL___js", "taskReferenceName": ref, "type": "SIMPLE",
            "inputParameters": {"scriptExpression": script, **params}}


def py(ref: str, script: str, **params: Any) -> dict[str, Any]:
    """A GLOBAL___py task."""
    return {"name": "GLOBAL___py", "taskReferenceName": ref, "type": "SIMPLE",
            "inputParameters": {"scriptExpression": script, **params}}


def workflow(*tasks: dict[str, Any], name: str = "wf", **extra: Any) -> dict[str, Any]:
    return {"name": name, "version": 1, "tasks": list(tasks), **extra}


def run_flow(engine, definition: dict[str, Any], input: Any = None, *, jobs: int = 2,
             limits: dict[str, Any] | None = None, logs: list[str] | None = None, **flow_options: Any):
    """(execution document, Flow) of one run on ``engine``."""
    flow = Flow(definition, input, workflow_id="test", **flow_options)

    def collect(request: dict[str, Any], envelope: dict[str, Any]) -> None:
        if logs is not None:
            logs.extend(f"[{request['ref']}] {line}" for line in envelope.get("logs") or [])

    document = LocalExecutor(engine, jobs=jobs, limits=limits or {"timeout": "10s"},
                             on_task_done=collect).execute(flow)
    return document, flow


def by_ref(document: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Each reference's last task record."""
    return {record["referenceTaskName"]: record for record in document["tasks"]}
