"""What ``faasctl flow chain`` prints: the task tree and the action log, as text or one JSON object."""

from __future__ import annotations

import json
from typing import Any

from faasctl.chain.state import ChainState, Task


def chain_document(state: ChainState) -> dict[str, Any]:
    """``{"status", "tasks": [...], "actions": [...]}`` (and ``"error"`` when the chain was stopped)."""
    document: dict[str, Any] = {
        "status": state.status(),
        "tasks": [task.to_dict() for task in state.tasks.values()],
        "actions": [action.to_dict() for action in state.actions],
    }
    if state.halted:
        document["error"] = state.halted
    return document


def chain_text(state: ChainState) -> str:
    """The tree (children under their parent, in id order), then the actions in queue order."""
    lines = [f"chain {state.status()}: {len(state.tasks)} task(s), {len(state.actions)} action(s)"]
    if state.halted:
        lines.append(f"stopped: {state.halted}")
    lines.append("tasks:")
    children: dict[int | None, list[Task]] = {}
    for task in state.tasks.values():
        parent = task.parent if task.parent in state.tasks else None
        children.setdefault(parent, []).append(task)

    def walk(parent: int | None, depth: int) -> None:
        for task in children.get(parent, []):
            indent = "  " * (depth + 1)
            origin = f" parent {task.parent}" if task.parent is not None else ""
            lines.append(f"{indent}#{task.id} {task.name}{origin}: {task.status}")
            for entry in task.logs:
                for part in entry.split("\n"):
                    lines.append(f"{indent}  | {part}")
            if task.error:
                lines.append(f"{indent}  error: {task.error.get('type')}: {task.error.get('message')}")
            if task.result is not None:
                lines.append(f"{indent}  result: {_compact(task.result)}")
            walk(task.id, depth + 1)

    walk(None, 0)
    lines.append("actions:")
    if not state.actions:
        lines.append("  (none)")
    for action in state.actions:
        what = action.name if action.function is None else f"invoke {action.function}"
        owner = f"task {action.task_id}" if action.task_id is not None else "no task"
        flag = " ignore" if action.ignore else ""
        line = f"  {action.seq}. {what} ({owner}{flag}) {action.status} queue {action.queue_id}"
        if action.error:
            line += f": {action.error}"
        lines.append(line)
    return "\n".join(lines) + "\n"


def _compact(value: Any) -> str:
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
    return text if len(text) <= 300 else text[:297] + "..."
