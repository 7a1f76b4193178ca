"""The queue and the task tree of one chain, and its failure rule. Pure: no clock, no I/O, ids from
counters (queue ids are name-based UUIDs of the action's sequence number), so a chain replays the same.

The rule (spec section 10): a failed task or action fails its originating task and every ancestor of
it, and the queued actions after it in that chain (the tree under the same root task) are skipped,
unless queued with ``ignore: true`` (such an action runs anyway, and its own failure is recorded
without failing anything). A task run with ``open: true`` stays OPEN until a ``conclude`` names it.
"""

from __future__ import annotations

import uuid
from collections import deque
from dataclasses import dataclass, field
from typing import Any

RUNNING, FINISHED, FAILED, OPEN = "RUNNING", "FINISHED", "FAILED", "OPEN"
QUEUED, DONE, SKIPPED = "QUEUED", "DONE", "SKIPPED"
_QUEUE_NAMESPACE = uuid.UUID("6f0c7a52-4d1e-4c1b-9a57-0f9c2a6b1e11")


@dataclass
class Task:
    id: int
    name: str
    parent: int | None
    conf: Any
    open: bool
    status: str = RUNNING
    logs: list[str] = field(default_factory=list)
    result: Any = None
    error: dict[str, Any] | None = None
    exit_code: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "name": self.name, "parent": self.parent, "status": self.status,
                "open": self.open, "conf": self.conf, "result": self.result, "error": self.error,
                "logs": list(self.logs)}


@dataclass
class Action:
    """One queued item: a XINA action from ``xina-queue``, or an ``Event`` invocation of a function."""

    seq: int
    name: str
    body: Any
    task_id: int | None
    queue_id: str
    ignore: bool = False
    function: str | None = None  # set for Event invocations
    status: str = QUEUED
    error: str | None = None
    result: Any = None

    def to_dict(self) -> dict[str, Any]:
        out = {"seq": self.seq, "action": self.name, "task_id": self.task_id, "queue_id": self.queue_id,
               "ignore": self.ignore, "status": self.status, "error": self.error, "result": self.result}
        if self.function is not None:
            out["function"] = self.function
        return out


class CapReached(Exception):
    """More actions were queued than the chain allows."""


class ChainState:
    def __init__(self, max_actions: int) -> None:
        self.max_actions = max_actions
        self.tasks: dict[int, Task] = {}
        self.actions: list[Action] = []
        self.fifo: deque[Action] = deque()
        self.failed_roots: set[int] = set()
        self.halted: str | None = None

    # -- tasks ------------------------------------------------------------------------------------

    def new_task(self, name: str, conf: Any, opened: bool, parent: int | None) -> Task:
        task = Task(id=len(self.tasks) + 1, name=name, parent=parent, conf=conf, open=opened)
        self.tasks[task.id] = task
        return task

    def root(self, task_id: int | None) -> int | None:
        seen = set()
        while task_id is not None and task_id in self.tasks and task_id not in seen:
            seen.add(task_id)
            parent = self.tasks[task_id].parent
            if parent is None or parent not in self.tasks:
                return task_id
            task_id = parent
        return task_id

    def task_ran(self, task: Task, ok: bool) -> None:
        """A task's function returned: OPEN or FINISHED, unless something already failed it."""
        if task.status != RUNNING:
            return
        task.status = (OPEN if task.open else FINISHED) if ok else FAILED
        if not ok:
            self.fail(task.id, None, task.exit_code or 1)

    def fail(self, task_id: int | None, reason: str | None, exit_code: int = 1) -> None:
        """Fail ``task_id`` (with ``reason`` when given) and its ancestors; skip the rest of its chain."""
        current = task_id
        while current is not None and current in self.tasks:
            task = self.tasks[current]
            if task.status != FAILED or current == task_id:
                if task.error is None:
                    message = reason if current == task_id else f"task {task_id} in its chain failed"
                    if message:
                        task.error = {"type": "ChainError", "message": message, "detail": None}
                task.exit_code = task.exit_code or exit_code
                task.status = FAILED
            current = task.parent
        root = self.root(task_id)
        if root is not None:
            self.failed_roots.add(root)

    def conclude(self, task_id: Any) -> Task:
        """Raises ``ValueError`` naming the problem when the task does not exist or is not open."""
        task = self.tasks.get(task_id) if isinstance(task_id, int) and not isinstance(task_id, bool) else None
        if task is None:
            raise ValueError(f"conclude: task {task_id!r} does not exist")
        if task.status != OPEN:
            raise ValueError(f"conclude: task {task_id} ({task.name}) is not open (it is {task.status})")
        task.status = FINISHED
        return task

    # -- the queue --------------------------------------------------------------------------------

    def enqueue(self, name: str, body: Any, task_id: int | None, ignore: bool = False,
                function: str | None = None) -> Action:
        if len(self.actions) >= self.max_actions:
            raise CapReached(f"the chain queued more than {self.max_actions} actions (--max-actions); "
                             "it was stopped")
        seq = len(self.actions) + 1
        action = Action(seq=seq, name=name, body=body, task_id=task_id, ignore=ignore, function=function,
                        queue_id=str(uuid.uuid5(_QUEUE_NAMESPACE, str(seq))))
        self.actions.append(action)
        self.fifo.append(action)
        return action

    def next(self) -> Action | None:
        """The next action to run; those of a failed chain (not ``ignore``) are marked SKIPPED."""
        while self.fifo:
            action = self.fifo.popleft()
            if self.halted or (self.root(action.task_id) in self.failed_roots and not action.ignore):
                action.status = SKIPPED
                continue
            return action
        return None

    def action_failed(self, action: Action, message: str, exit_code: int = 1) -> None:
        action.status, action.error = FAILED, message
        if not action.ignore:
            self.fail(action.task_id, f"action {action.seq} ({action.name}) failed: {message}", exit_code)

    def halt(self, reason: str, task_id: int | None) -> None:
        """Stop the whole chain (a cap was reached): the rest of the queue is skipped."""
        self.halted = reason
        self.fail(task_id, reason)

    # -- the outcome ------------------------------------------------------------------------------

    def status(self) -> str:
        statuses = {task.status for task in self.tasks.values()}
        if self.halted or FAILED in statuses or RUNNING in statuses:
            return FAILED
        return OPEN if OPEN in statuses else FINISHED

    def exit_code(self) -> int:
        status = self.status()
        if status == FINISHED:
            return 0
        if status == FAILED:
            failed = [t for t in self.tasks.values() if t.status == FAILED and t.exit_code]
            return failed[0].exit_code if failed else 1
        return 1
