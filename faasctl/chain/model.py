"""The inputs of a chain, validated once with errors that name the file and the key.

- The tasks map (``TASKS.yaml``): task name -> function file, or -> ``{file, handler, timeout,
  memory, fuel}``; either at the top level or under ``tasks:``. Files are relative to the map.
- A XINA ``run`` action: ``{"action": "run", "tasks": [{"name", "conf", "open", "parent"}], "parent"}``.
- Action results (``--action-results``): action name -> the JSON result the XINA server would give.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, NamedTuple

from faasctl.errors import InputError, UsageError

XINA_QUEUE = "xina-queue"
MAX_PAYLOAD = 6 * 1024 * 1024  # Lambda's limit on a synchronous request and response (an action is one)
MAX_FILE = 16 * 1024 * 1024  # the tasks map and the action results
TASK_KEYS = {"name", "conf", "open", "parent", "desc", "auto", "archive", "thread", "ref_id", "priority", "timeout"}
FUNCTION_KEYS = {"file", "handler", "runtime", "timeout", "memory", "fuel"}


class FunctionRef(NamedTuple):
    """One mapped function: its file and per-function run options."""

    name: str
    path: Path
    handler: str | None = None
    limits: dict[str, Any] = {}
    runtime: str | None = None


class TaskSpec(NamedTuple):
    """One task of a ``run`` action."""

    name: str
    conf: Any
    open: bool
    parent: int | None


class TaskMap(NamedTuple):
    functions: dict[str, FunctionRef]

    def find(self, name: str) -> FunctionRef | None:
        """By task name, else by the function file's name without its ending (a Lambda function name)."""
        if name in self.functions:
            return self.functions[name]
        return next((ref for ref in self.functions.values() if ref.path.stem == name), None)


def load_task_map(path: str | Path) -> TaskMap:
    """Read ``TASKS.yaml``; every error is a usage error naming the file and the key."""
    source = Path(path)
    text = _read(source, "tasks", MAX_FILE).decode("utf-8", "replace")
    import yaml

    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise UsageError(f"{path}: invalid YAML: {' '.join(str(exc).split())}") from None
    if isinstance(data, dict) and set(data) == {"tasks"}:
        data = data["tasks"]
    if not isinstance(data, dict) or not data:
        raise UsageError(f"{path}: expected a mapping of task names to function files")
    functions = {}
    for name, entry in data.items():
        functions[str(name)] = _function_ref(str(name), entry, source)
    return TaskMap(functions)


def _function_ref(name: str, entry: Any, source: Path) -> FunctionRef:
    where = f"{source}: {name}"
    if name == XINA_QUEUE:
        raise UsageError(f"{where}: '{XINA_QUEUE}' is built in and cannot be mapped")
    if isinstance(entry, str):
        entry = {"file": entry}
    if not isinstance(entry, dict):
        raise UsageError(f"{where}: expected a file name or a mapping with 'file'")
    unknown = sorted(set(map(str, entry)) - FUNCTION_KEYS)
    if unknown:
        raise UsageError(f"{where}: unknown key {unknown[0]!r} (known: {', '.join(sorted(FUNCTION_KEYS))})")
    file = entry.get("file")
    if not isinstance(file, str) or not file:
        raise UsageError(f"{where}.file: missing")
    path = (source.parent / file) if not Path(file).is_absolute() else Path(file)
    if not path.is_file():
        raise UsageError(f"{where}.file: no such file: {path}")
    handler = entry.get("handler")
    if handler is not None and not isinstance(handler, str):
        raise UsageError(f"{where}.handler: expected a name")
    runtime = entry.get("runtime")
    if runtime is not None and not isinstance(runtime, str):
        raise UsageError(f"{where}.runtime: expected a runtime name")
    limits = {key: entry[key] for key in ("timeout", "memory", "fuel") if key in entry}
    return FunctionRef(name, path, handler, limits, runtime)


def _read(path: str | Path, what: str, cap: int) -> bytes:
    """A file the user names, at most ``cap`` bytes (device files and FIFOs have no size to check)."""
    from faasctl.files import TooLarge, read_capped

    try:
        return read_capped(path, cap)
    except TooLarge:
        raise UsageError(f"{what} file {path} is larger than {cap // (1024 * 1024)}MiB") from None
    except FileNotFoundError:
        raise UsageError(f"no such {what} file: {path}") from None
    except OSError as exc:
        raise UsageError(f"cannot read {what} file {path}: {exc.strerror}") from None


def read_json_file(path: str | Path, what: str) -> Any:
    from faasctl.inputs import parse_json_input

    data = _read(path, what, MAX_PAYLOAD if what == "action" else MAX_FILE)
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InputError(f"{path} is not valid UTF-8 (byte offset {exc.start})") from None
    return parse_json_input(text, str(path), hint=None)


def load_action_results(path: str | Path | None) -> dict[str, Any]:
    if path is None:
        return {}
    value = read_json_file(path, "action results")
    if not isinstance(value, dict):
        raise UsageError(f"{path}: expected an object mapping action names to results")
    return value


def action_problem(action: Any) -> str | None:
    """Why a queued action cannot be queued, or None. Only the shape every action shares is checked
    here; what an action needs (``run``'s tasks, ``conclude``'s task) is checked when it runs."""
    if not isinstance(action, dict):
        return f"an action must be an object, got {_kind(action)}"
    name = action.get("action")
    if not isinstance(name, str) or not name:
        return "an action needs an 'action' name (run, conclude, schema, post, ...)"
    return None


def parse_run(action: Any, where: str) -> tuple[list[TaskSpec], int | None]:
    """The tasks of a ``run`` action. Raises ``ValueError`` with a message naming the key."""
    problem = action_problem(action)
    if problem:
        raise ValueError(f"{where}: {problem}")
    if action["action"] != "run":
        raise ValueError(f"{where}.action: expected 'run', got {action['action']!r}")
    parent = _task_id(action.get("parent"), f"{where}.parent")
    tasks = action.get("tasks")
    if not isinstance(tasks, list) or not tasks:
        raise ValueError(f"{where}.tasks: expected a non-empty list of tasks")
    specs = []
    for index, task in enumerate(tasks):
        at = f"{where}.tasks[{index}]"
        if not isinstance(task, dict):
            raise ValueError(f"{at}: expected a task object, got {_kind(task)}")
        unknown = sorted(set(task) - TASK_KEYS)
        if unknown:
            raise ValueError(f"{at}: unknown key {unknown[0]!r}")
        name = task.get("name")
        if not isinstance(name, str) or not name:
            raise ValueError(f"{at}.name: missing")
        conf = task.get("conf", {})
        if not isinstance(conf, dict):
            raise ValueError(f"{at}.conf: expected a JSON object, got {_kind(conf)}")
        opened = task.get("open", False)
        if not isinstance(opened, bool):
            raise ValueError(f"{at}.open: expected true or false")
        own_parent = _task_id(task.get("parent"), f"{at}.parent")
        specs.append(TaskSpec(name, conf, opened, own_parent if own_parent is not None else parent))
    return specs, parent


def _task_id(value: Any, where: str) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{where}: expected a task id (an integer from 1), got {json.dumps(value)}")
    return value


def _kind(value: Any) -> str:
    return {dict: "an object", list: "a list", str: "a string", bool: "a boolean", type(None): "null"}.get(
        type(value), "a number")
