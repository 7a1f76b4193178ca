"""The config file: default limits, extra runtime descriptor directories, registry credentials helper.

Where it is read from, lowest precedence first (command-line options always win over both):
1. ``config.yaml`` in the user config dir (``$FAASCTL_HOME/config`` or the platform's config dir);
2. ``faasctl.yaml`` in the project: the current directory, or the nearest parent up to the git root
   (or the filesystem root).
``--config FILE`` names one file and replaces both. With no file at all this costs a few ``stat``
calls and never imports the YAML parser.

    limits: {timeout: 5s, memory: 128MiB, fuel: 100000000, max_output: 1MiB}
    runtime_dirs: [./runtimes]          # relative to the config file
    oci:
      credentials_helper: pass          # docker-credential-pass
      docker_config: ~/.docker/config.json
    tasks: {enrich: ./enrich.js}        # SIMPLE task name -> function file, for faasctl flow run
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from faasctl.errors import FaasError, UsageError
from faasctl.paths import StateDirs

PROJECT_FILE = "faasctl.yaml"
USER_FILE = "config.yaml"
LIMIT_KEYS = ("timeout", "memory", "fuel", "max_output")
OCI_KEYS = ("credentials_helper", "docker_config")
TOP_KEYS = ("limits", "runtime_dirs", "oci", "tasks")


def find_project_config(cwd: Path) -> Path | None:
    """``faasctl.yaml`` in ``cwd`` or the nearest parent, not looking above a git root."""
    for directory in (cwd, *cwd.parents):
        candidate = directory / PROJECT_FILE
        if candidate.is_file():
            return candidate
        if (directory / ".git").exists():
            return None
    return None


def config_files(explicit: str | None, dirs: StateDirs, cwd: str) -> list[Path]:
    """The files to read, lowest precedence first."""
    base = Path(cwd)
    if explicit:
        path = Path(explicit).expanduser()
        path = path if path.is_absolute() else base / path
        if not path.is_file():
            raise UsageError(f"config file not found: {explicit}",
                             hint=f"create it, or drop --config to use ./{PROJECT_FILE}")
        return [path]
    files = []
    user = dirs.config / USER_FILE
    if user.is_file():
        files.append(user)
    project = find_project_config(base)
    if project is not None:
        files.append(project)
    return files


def load_config(explicit: str | None, dirs: StateDirs, cwd: str) -> dict[str, Any]:
    """``{"limits": {name: str}, "runtime_dirs": [Path], "oci": {...}}`` merged from the config files.

    Raises ``UsageError`` naming the file and line of anything invalid; ``{}`` when there is no file.
    """
    files = config_files(explicit, dirs, cwd)
    if not files:
        return {}
    merged: dict[str, Any] = {"limits": {}, "runtime_dirs": [], "oci": {}, "tasks": {}}
    for path in files:
        one = parse_config_file(path)
        merged["limits"].update(one["limits"])
        merged["runtime_dirs"].extend(one["runtime_dirs"])
        merged["oci"].update(one["oci"])
        merged["tasks"].update(one["tasks"])
    return merged


def parse_config_file(path: Path) -> dict[str, Any]:
    from faasctl.testing.yamlmarks import MarkedDict, read_marked, unknown_key_message

    data = read_marked(path)
    if data is None:
        return {"limits": {}, "runtime_dirs": [], "oci": {}, "tasks": {}}
    if not isinstance(data, MarkedDict):
        raise UsageError(f"{path}:{getattr(data, 'line', 1)}: expected a mapping with {', '.join(TOP_KEYS)}")

    def fail(line: int, message: str) -> UsageError:
        return UsageError(f"{path}:{line}: {message}")

    for key in data:
        if key not in TOP_KEYS:
            raise fail(data.line_of(key), unknown_key_message(key, TOP_KEYS))
    return {
        "limits": _limits(data.get("limits"), data.line_of("limits"), fail),
        "runtime_dirs": _runtime_dirs(data.get("runtime_dirs"), data.line_of("runtime_dirs"), path.parent, fail),
        "oci": _oci(data.get("oci"), data.line_of("oci"), path.parent, fail),
        "tasks": _tasks(data.get("tasks"), data.line_of("tasks"), path.parent, fail),
    }


def _limits(value: Any, line: int, fail: Any) -> dict[str, str]:
    from faasctl.limits import Limits
    from faasctl.testing.yamlmarks import MarkedDict, unknown_key_message

    if value is None:
        return {}
    if not isinstance(value, MarkedDict):
        raise fail(line, "'limits' must be a mapping like {timeout: 5s, memory: 128MiB}")
    limits = {}
    for key, item in value.items():
        if key not in LIMIT_KEYS:
            raise fail(value.line_of(key), f"limits: {unknown_key_message(key, LIMIT_KEYS)}")
        if item is None:
            continue
        if isinstance(item, bool) or not isinstance(item, str | int | float):
            raise fail(value.line_of(key), f"limits.{key}: expected a value like 5s or 64MiB, got {item!r}")
        try:
            Limits().merged(**{key: item})
        except FaasError as exc:
            raise fail(value.line_of(key), f"limits.{key}: {exc.one_line()}") from None
        limits[key] = str(item)
    return limits


def _runtime_dirs(value: Any, line: int, base: Path, fail: Any) -> list[Path]:
    if value is None:
        return []
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise fail(line, "'runtime_dirs' must be a list of directories")
    found = []
    for index, item in enumerate(value):
        directory = (base / Path(item).expanduser()).resolve()
        if not directory.is_dir():
            item_line = value.line_of(index) if hasattr(value, "line_of") else line
            raise fail(item_line, f"runtime_dirs: {item!r} is not a directory (looked for {directory})")
        found.append(directory)
    return found


def _oci(value: Any, line: int, base: Path, fail: Any) -> dict[str, str]:
    from faasctl.testing.yamlmarks import MarkedDict, unknown_key_message

    if value is None:
        return {}
    if not isinstance(value, MarkedDict):
        raise fail(line, "'oci' must be a mapping like {credentials_helper: pass}")
    oci = {}
    for key, item in value.items():
        if key not in OCI_KEYS:
            raise fail(value.line_of(key), f"oci: {unknown_key_message(key, OCI_KEYS)}")
        if not isinstance(item, str) or not item:
            raise fail(value.line_of(key), f"oci.{key} must be a non-empty string")
        oci[key] = str((base / Path(item).expanduser()).resolve()) if key == "docker_config" else item
    return oci


def _tasks(value: Any, line: int, base: Path, fail: Any) -> dict[str, Path]:
    """``tasks: {NAME: FILE}``: SIMPLE task names of flows mapped to function files (relative to the config)."""
    from faasctl.testing.yamlmarks import MarkedDict

    if value is None:
        return {}
    if not isinstance(value, MarkedDict):
        raise fail(line, "'tasks' must map task names to function files, like {enrich: ./enrich.js}")
    tasks = {}
    for name, item in value.items():
        if not isinstance(item, str) or not item:
            raise fail(value.line_of(name), f"tasks.{name} must be a function file path")
        path = (base / Path(item).expanduser()).resolve()
        if not path.is_file():
            raise fail(value.line_of(name), f"tasks.{name}: {item!r} is not a file (looked for {path})")
        tasks[str(name)] = path
    return tasks
