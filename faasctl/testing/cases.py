"""Case files (``*.faas.yaml``): finding them, and validating them into ``Case`` values.

Every problem in a file becomes one ``CaseFileError`` line ``FILE:LINE: what is wrong``; the CLI
reports all of them and exits 2 before running anything, so a typo never passes as a green suite.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from faasctl.errors import FaasError, UsageError
from faasctl.testing.checks import STAT_PARSERS, StatBound, parse_bound, parse_json_path
from faasctl.testing.yamlmarks import MarkedDict, MarkedList, read_marked, unknown_key_message

SUFFIX = ".faas.yaml"
LIMIT_KEYS = ("timeout", "memory", "fuel", "max_output")
OPTION_KEYS = (*LIMIT_KEYS, "output_json", "runtime", "invoke", "args", "abi", "wasi_args", "dirs", "env", "kv")
INPUT_KEYS = ("input", "input_file", "params", "text")
EXPECT_KEYS = ("result", "result_subset", "result_regex", "result_path", "error", "error_contains",
               "logs_contain", "stats", "tasks")
FLOW_KEYS = ("flow", "workflow", "tasks")  # a case runs a workflow (faasctl flow run) instead of a target
TASK_EXPECT_KEYS = ("status", "result", "output")
TASK_STATUSES = ("COMPLETED", "FAILED", "COMPLETED_WITH_ERRORS", "CANCELED", "SKIPPED")
CASE_KEYS = ("name", "target", *FLOW_KEYS, *INPUT_KEYS, *OPTION_KEYS, "expect", "skip")
FILE_KEYS = ("defaults", "cases")
SKIP_DIRS = {".git", ".venv", "venv", "node_modules", "__pycache__", ".tox", ".mypy_cache", ".ruff_cache"}


class CaseFileError(UsageError):
    """A case file is invalid; the message starts with ``FILE:LINE:``."""


@dataclass(frozen=True)
class Expect:
    """What a case expects. ``error`` None means the run must succeed."""

    has_result: bool = False
    result: Any = None
    result_subset: Any = None
    has_subset: bool = False
    result_regex: str | None = None
    result_path: tuple[tuple[str, tuple[str | int, ...], Any], ...] = ()
    error: str | None = None
    error_contains: str | None = None
    logs_contain: tuple[str, ...] = ()
    stats: tuple[StatBound, ...] = ()
    tasks: tuple[TaskExpect, ...] = ()


@dataclass(frozen=True)
class TaskExpect:
    """What a flow case expects of one task, by reference name (its last attempt or iteration)."""

    ref: str
    status: str | None = None
    has_result: bool = False
    result: Any = None
    has_output: bool = False
    output: Any = None


@dataclass(frozen=True)
class Case:
    name: str
    file: Path
    line: int
    target: str  # a path resolved against the case file's directory, or an oci:// reference
    input: Any = field(default_factory=dict)
    text: bool = False
    options: dict[str, Any] = field(default_factory=dict)  # run options: limits, runtime, output_json...
    expect: Expect = Expect()
    skip: str | None = None
    flow: str | None = None  # a workflow file: the case runs it as faasctl flow run does
    workflow: str | None = None  # the definition's name, when the flow file holds a list
    tasks: dict[str, str] = field(default_factory=dict)  # SIMPLE task name -> function file

    @property
    def id(self) -> str:
        return f"{self.file}::{self.name}"


def discover(paths: list[str], cwd: Path) -> list[Path]:
    """Case files named by ``paths`` (files, or directories searched recursively); cwd when empty."""
    found: list[Path] = []
    for raw in paths or ["."]:
        shown = Path(raw)
        full = shown if shown.is_absolute() else cwd / shown
        if full.is_file():
            found.append(shown)
        elif full.is_dir():
            found.extend(_walk(full, shown))
        else:
            raise UsageError(f"no such file or directory: {raw}")
    unique = list(dict.fromkeys(found))
    if not unique:
        where = ", ".join(paths) if paths else "the current directory"
        raise UsageError(f"no {SUFFIX} files found under {where}",
                         hint=f"name case files like hello{SUFFIX}; see faasctl test --help")
    return unique


def _walk(root: Path, shown: Path) -> list[Path]:
    files = []
    for directory, subdirs, names in os.walk(root):
        subdirs[:] = sorted(d for d in subdirs if d not in SKIP_DIRS and not d.startswith("."))
        rel = Path(directory).relative_to(root)
        files.extend(shown / rel / name for name in sorted(names) if name.endswith(SUFFIX))
    return [Path(os.path.normpath(f)) for f in files]


def load_file(path: Path, cwd: Path) -> list[Case]:
    """Parse and validate one case file. Raises ``CaseFileError`` for the first problem found."""
    full = path if path.is_absolute() else cwd / path
    try:
        data = read_marked(full)
    except FaasError as exc:
        raise CaseFileError(exc.message.replace(str(full), str(path), 1), hint=exc.hint) from None
    return _Validator(path, full.parent).file(data)


class _Validator:
    def __init__(self, path: Path, base: Path) -> None:
        self.path = path
        self.base = base

    def fail(self, line: int, message: str) -> CaseFileError:
        return CaseFileError(f"{self.path}:{line}: {message}")

    def file(self, data: Any) -> list[Case]:
        if data is None:
            raise self.fail(1, "empty case file: expected a mapping with 'cases'")
        if not isinstance(data, MarkedDict):
            raise self.fail(getattr(data, "line", 1), "expected a mapping with 'defaults' and 'cases'")
        self.keys(data, FILE_KEYS, "file")
        defaults = data.get("defaults") or MarkedDict()
        if not isinstance(defaults, MarkedDict):
            raise self.fail(data.line_of("defaults"), "'defaults' must be a mapping of run options")
        self.keys(defaults, (*INPUT_KEYS, *OPTION_KEYS, "target", *FLOW_KEYS), "defaults")
        cases = data.get("cases")
        if not isinstance(cases, MarkedList) or not cases:
            raise self.fail(data.line_of("cases"), "'cases' must be a non-empty list of cases")
        result, names = [], {}
        for index, raw in enumerate(cases):
            if not isinstance(raw, MarkedDict):
                raise self.fail(cases.line_of(index), f"case {index + 1}: expected a mapping")
            case = self.case(raw, defaults, index)
            if case.name in names:
                raise self.fail(raw.line_of("name"), f"duplicate case name {case.name!r} "
                                                     f"(first at line {names[case.name]})")
            names[case.name] = raw.line
            result.append(case)
        return result

    def keys(self, mapping: MarkedDict, known: tuple[str, ...], what: str) -> None:
        for key in mapping:
            if key not in known:
                raise self.fail(mapping.line_of(key), f"{what}: {unknown_key_message(key, known)}")

    def case(self, raw: MarkedDict, defaults: MarkedDict, index: int) -> Case:
        self.keys(raw, CASE_KEYS, f"case {index + 1}")
        name = raw.get("name")
        if not isinstance(name, str) or not name.strip():
            raise self.fail(raw.line_of("name"), f"case {index + 1}: 'name' must be a non-empty string")
        label = f"case {name!r}"
        merged = MarkedDict({**defaults, **raw})
        merged.line, merged.key_lines = raw.line, {**defaults.key_lines, **raw.key_lines}
        flow = self.flow(raw, merged, label)
        target = merged.get("target")
        if flow is None and (not isinstance(target, str) or not target):
            raise self.fail(merged.line_of("target"), f"{label}: 'target' must be a file path or oci:// reference"
                                                      f" (or 'flow' a workflow file)")
        value, text = self.input(raw, defaults, merged, label)
        options = self.options(merged, label)
        expect_raw = raw.get("expect", MarkedDict())
        if not isinstance(expect_raw, MarkedDict):
            raise self.fail(raw.line_of("expect"), f"{label}: 'expect' must be a mapping")
        skip = raw.get("skip")
        if skip is not None and not isinstance(skip, str | bool):
            raise self.fail(raw.line_of("skip"), f"{label}: 'skip' must be a reason (string) or true")
        expect = self.expect(expect_raw, label)
        if expect.tasks and flow is None:
            raise self.fail(expect_raw.line_of("tasks"), f"{label}: 'expect.tasks' is for flow cases")
        return Case(
            name=name, file=self.path, line=raw.line,
            target=self.target(str(target), merged.line_of("target"), label) if flow is None else "",
            input=value, text=text, options=options, expect=expect,
            skip=(skip if isinstance(skip, str) else "skipped") if skip else None,
            flow=flow, workflow=merged.get("workflow"), tasks=self.task_files(merged, label) if flow else {},
        )

    def flow(self, raw: MarkedDict, merged: MarkedDict, label: str) -> str | None:
        """The workflow file of a flow case (``flow:`` in place of ``target:``), resolved."""
        if "flow" not in raw and ("flow" not in merged or "target" in raw):
            for key in ("workflow", "tasks"):
                if key in raw:
                    raise self.fail(raw.line_of(key), f"{label}: '{key}' goes with 'flow'")
            return None
        if "target" in raw:
            raise self.fail(raw.line_of("target"), f"{label}: give 'target' or 'flow', not both")
        flow = merged["flow"]
        if not isinstance(flow, str) or not flow:
            raise self.fail(merged.line_of("flow"), f"{label}: 'flow' must be a workflow file (JSON or YAML)")
        resolved = self.base / flow
        if not resolved.is_file():
            raise self.fail(merged.line_of("flow"), f"{label}: flow {flow!r} not found (looked for {resolved})")
        workflow = merged.get("workflow")
        if workflow is not None and not isinstance(workflow, str):
            raise self.fail(merged.line_of("workflow"), f"{label}: 'workflow' must be a workflow name")
        if merged.get("text") is not None:
            raise self.fail(merged.line_of("text"), f"{label}: a workflow input is JSON, not 'text'")
        return str(resolved)

    def task_files(self, merged: MarkedDict, label: str) -> dict[str, str]:
        tasks = merged.get("tasks")
        if tasks is None:
            return {}
        if not isinstance(tasks, MarkedDict):
            raise self.fail(merged.line_of("tasks"), f"{label}: 'tasks' must map SIMPLE task names to files")
        files = {}
        for name, file in tasks.items():
            path = self.base / str(file) if isinstance(file, str) else None
            if path is None or not path.is_file():
                raise self.fail(tasks.line_of(name), f"{label}: tasks.{name}: function file {file!r} not found")
            files[str(name)] = str(path)
        return files

    def target(self, target: str, line: int, label: str) -> str:
        if target.startswith("oci://"):
            return target
        resolved = self.base / target
        if not resolved.is_file():
            raise self.fail(line, f"{label}: target {target!r} not found (looked for {resolved})")
        return str(resolved)

    def input(self, raw: MarkedDict, defaults: MarkedDict, merged: MarkedDict, label: str) -> tuple[Any, bool]:
        # A case's own input source replaces the defaults' one; params merge over either.
        own = [k for k in ("input", "input_file", "text") if k in raw]
        sources = own or [k for k in ("input", "input_file", "text") if k in defaults]
        if len(sources) > 1:
            raise self.fail(merged.line_of(sources[1]), f"{label}: give one of input, input_file or text, "
                                                        f"not {' and '.join(sources)}")
        if own:
            merged = MarkedDict({k: v for k, v in merged.items() if k not in ("input", "input_file", "text")
                                 or k in raw})
            merged.line, merged.key_lines = raw.line, {**defaults.key_lines, **raw.key_lines}
        if isinstance(raw.get("params"), dict) and isinstance(defaults.get("params"), dict):
            merged["params"] = MarkedDict({**defaults["params"], **raw["params"]})
        source = sources[0] if sources else None
        value: Any = {}
        if source == "text":
            if not isinstance(merged["text"], str):
                raise self.fail(merged.line_of("text"), f"{label}: 'text' must be a string")
            if merged.get("params") is not None:
                raise self.fail(merged.line_of("params"), f"{label}: 'params' cannot be combined with 'text'")
            return merged["text"], True
        if source == "input":
            value = _plain(merged["input"])
        elif source == "input_file":
            value = self.input_file(merged["input_file"], merged.line_of("input_file"), label)
        params = merged.get("params")
        if params is not None:
            if not isinstance(params, MarkedDict):
                raise self.fail(merged.line_of("params"), f"{label}: 'params' must be a mapping")
            if not isinstance(value, dict):
                raise self.fail(merged.line_of("params"), f"{label}: 'params' needs an object input, "
                                                          f"not {type(value).__name__}")
            value = {**value, **_plain(params)}
        self.check_json(value, merged.line_of(source or "params"), label)
        return value, False

    def input_file(self, name: Any, line: int, label: str) -> Any:
        if not isinstance(name, str):
            raise self.fail(line, f"{label}: 'input_file' must be a path")
        from faasctl.files import TooLarge, read_capped
        from faasctl.inputs import too_large_message
        from faasctl.limits import DEFAULT_MAX_INPUT

        path = self.base / name
        try:
            text = read_capped(path, DEFAULT_MAX_INPUT).decode("utf-8-sig", "replace")
        except TooLarge as exc:
            raise self.fail(line, f"{label}: {too_large_message(f'input file {name!r}', exc.cap)}") from None
        except OSError:
            raise self.fail(line, f"{label}: input file {name!r} not found (looked for {path})") from None
        try:
            return json.loads(text)
        except ValueError as exc:
            raise self.fail(line, f"{label}: input file {name!r} is not valid JSON: {exc}") from None

    def check_json(self, value: Any, line: int, label: str) -> None:
        try:
            json.dumps(value, allow_nan=False)
        except (TypeError, ValueError) as exc:
            raise self.fail(line, f"{label}: input is not JSON-compatible ({exc}); quote dates and "
                                  f"other special YAML values") from None

    def options(self, merged: MarkedDict, label: str) -> dict[str, Any]:
        from faasctl.limits import Limits

        options: dict[str, Any] = {}
        for key in OPTION_KEYS:
            if key not in merged or merged[key] is None:
                continue
            value, line = merged[key], merged.line_of(key)
            if key in LIMIT_KEYS:
                try:
                    Limits().merged(**{key: value})
                except FaasError as exc:
                    raise self.fail(line, f"{label}: {key}: {exc.one_line()}") from None
                options[key] = value
            elif key in ("args", "dirs", "env"):
                if not isinstance(value, list) or not all(isinstance(v, str | int | float) for v in value):
                    raise self.fail(line, f"{label}: '{key}' must be a list of strings")
                items = [str(v) for v in value]
                options[key] = [self.grant(d) for d in items] if key == "dirs" else items
            elif key == "output_json":
                options[key] = value
            elif not isinstance(value, str):
                raise self.fail(line, f"{label}: '{key}' must be a string")
            else:
                options[key] = str(self.base / value) if key == "kv" else value
        return options

    def grant(self, spec: str) -> str:
        """``HOST[:GUEST][:rw]`` with HOST relative to the case file."""
        host, sep, rest = spec.partition(":")
        return str(self.base / host) + sep + rest

    def expect(self, raw: MarkedDict, label: str) -> Expect:
        self.keys(raw, EXPECT_KEYS, f"{label}: expect")
        values: dict[str, Any] = {}
        if "result" in raw:
            values.update(has_result=True, result=_plain(raw["result"]))
        if "result_subset" in raw:
            values.update(has_subset=True, result_subset=_plain(raw["result_subset"]))
        if "result_regex" in raw:
            values["result_regex"] = self.regex(raw["result_regex"], raw.line_of("result_regex"), label)
        if "result_path" in raw:
            values["result_path"] = self.paths(raw["result_path"], raw.line_of("result_path"), label)
        for key in ("error", "error_contains"):
            if key in raw:
                if not isinstance(raw[key], str) or not raw[key]:
                    raise self.fail(raw.line_of(key), f"{label}: '{key}' must be a string")
                values[key] = raw[key]
        if "error" in values:
            self.error_type(values["error"], raw.line_of("error"), label)
        if "logs_contain" in raw:
            logs = raw["logs_contain"]
            logs = [logs] if isinstance(logs, str) else logs
            if not isinstance(logs, list) or not all(isinstance(v, str) for v in logs):
                raise self.fail(raw.line_of("logs_contain"), f"{label}: 'logs_contain' must be a list of strings")
            values["logs_contain"] = tuple(logs)
        if "stats" in raw:
            values["stats"] = self.stats(raw["stats"], raw.line_of("stats"), label)
        if "tasks" in raw:
            values["tasks"] = self.task_expects(raw["tasks"], raw.line_of("tasks"), label)
        if "error" in values and ({"has_result", "has_subset", "result_regex", "result_path"} & set(values)):
            raise self.fail(raw.line_of("error"), f"{label}: a case expecting an error has no result to check")
        return Expect(**values)

    def task_expects(self, value: Any, line: int, label: str) -> tuple[TaskExpect, ...]:
        if not isinstance(value, MarkedDict) or not value:
            raise self.fail(line, f"{label}: 'expect.tasks' must map task references to "
                                  f"{{status: COMPLETED, result: ...}}")
        expects = []
        for ref, wanted in value.items():
            if not isinstance(wanted, MarkedDict):
                raise self.fail(value.line_of(ref), f"{label}: tasks.{ref} must be a mapping like "
                                                    f"{{status: COMPLETED, result: 42}}")
            self.keys(wanted, TASK_EXPECT_KEYS, f"{label}: tasks.{ref}")
            status = wanted.get("status")
            if status is not None and status not in TASK_STATUSES:
                raise self.fail(wanted.line_of("status"), f"{label}: tasks.{ref}.status: unknown status "
                                                          f"{status!r}{_close(str(status), TASK_STATUSES)}")
            expects.append(TaskExpect(str(ref), status, "result" in wanted, _plain(wanted.get("result")),
                                      "output" in wanted, _plain(wanted.get("output"))))
        return tuple(expects)

    def regex(self, value: Any, line: int, label: str) -> str:
        import re

        if not isinstance(value, str):
            raise self.fail(line, f"{label}: 'result_regex' must be a string")
        try:
            re.compile(value)
        except re.error as exc:
            raise self.fail(line, f"{label}: invalid result_regex: {exc}") from None
        return value

    def paths(self, value: Any, line: int, label: str) -> tuple:
        if not isinstance(value, MarkedDict) or not value:
            raise self.fail(line, f"{label}: 'result_path' must map JSON paths to values, e.g. {{$.user.id: 7}}")
        items = []
        for path, expected in value.items():
            try:
                items.append((str(path), parse_json_path(str(path)), _plain(expected)))
            except ValueError as exc:
                raise self.fail(value.line_of(path), f"{label}: {exc}") from None
        return tuple(items)

    def error_type(self, name: str, line: int, label: str) -> None:
        from faasctl.errors import ERROR_TABLE

        if name not in ERROR_TABLE:
            raise self.fail(line, f"{label}: unknown error type {name!r}{_close(name, ERROR_TABLE)}")

    def stats(self, value: Any, line: int, label: str) -> tuple[StatBound, ...]:
        if not isinstance(value, MarkedDict):
            raise self.fail(line, f"{label}: 'stats' must be a mapping like {{fuel_used: '< 5000000'}}")
        bounds = []
        for key, text in value.items():
            if key not in STAT_PARSERS:
                raise self.fail(value.line_of(key), f"{label}: stats: {unknown_key_message(key, STAT_PARSERS)}")
            try:
                bounds.append(parse_bound(key, text))
            except ValueError as exc:
                raise self.fail(value.line_of(key), f"{label}: stats.{key}: {exc}") from None
        return tuple(bounds)


def _close(name: str, known: Any) -> str:
    import difflib

    close = difflib.get_close_matches(name, list(known), n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else f" (known: {', '.join(known)})"


def _plain(value: Any) -> Any:
    """Marked containers back to plain dicts and lists (for equality checks and JSON)."""
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value
