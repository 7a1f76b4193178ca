"""Reading workflow files for the local driver: JSON or YAML, one definition or a list (``--workflow NAME``),
sub-workflows from the same file or ``NAME.json`` / ``NAME.yaml`` beside it, and SIMPLE task mappings
(``--task NAME=FILE``, ``tasks:`` in faasctl.yaml) as function specs.

All the I/O of flows lives here, so the interpreter can stay pure.
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from faasctl.errors import UsageError
from faasctl.flow.validate import FlowDefinitionError, inline_sub_workflow, iter_tasks, sub_workflow_name, task_type
from faasctl.limits import MAX_FUNCTION_FILE

YAML_ENDINGS = (".yaml", ".yml")
SIBLING_ENDINGS = (".json", ".yaml", ".yml")


@dataclass
class Bundle:
    """What ``Flow`` needs, read from disk: the chosen definition and every sub-workflow it can reach."""

    definition: dict[str, Any]
    definitions: dict[str, dict[str, Any]] = field(default_factory=dict)
    source: Path | None = None
    sources: dict[str, Path] = field(default_factory=dict)  # workflow name -> the file that defined it
    documents: dict[str, Any] = field(default_factory=dict)  # workflow name -> the parsed (marked) document


MAX_DEFINITION_BYTES = 16 * 1024**2


def read_capped(path: Path, limit: int, what: str) -> bytes:
    """A file's bytes, refusing more than ``limit`` (``/dev/zero`` or an endless pipe never ends a read)."""
    from faasctl.files import TooLarge
    from faasctl.files import read_capped as read_at_most
    from faasctl.limits import format_size

    try:
        return read_at_most(path, limit)
    except FileNotFoundError:
        raise UsageError(f"no such file: {path}") from None
    except IsADirectoryError:
        raise UsageError(f"{path} is a directory, not {what}") from None
    except TooLarge:
        raise UsageError(f"{path} is larger than {format_size(limit)}: not {what}") from None
    except OSError as exc:
        raise UsageError(f"cannot read {path}: {exc.strerror}") from None


def read_document(path: Path) -> Any:
    """A JSON or YAML file parsed; the error names the file and the line. YAML keeps line marks."""
    data = read_capped(path, MAX_DEFINITION_BYTES, "a workflow definition")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise UsageError(f"{path}: not valid UTF-8 (byte offset {exc.start})") from None
    if path.suffix.lower() in YAML_ENDINGS:
        return _yaml(text, path)
    try:
        from faasctl.output import loads_strict

        return loads_strict(text)
    except json.JSONDecodeError as exc:
        if path.suffix.lower() == ".json" or text.lstrip()[:1] in ("{", "["):
            raise UsageError(f"{path}:{exc.lineno}: not valid JSON: {exc.msg} at column {exc.colno}",
                             hint="a workflow definition is JSON or YAML") from None
    except ValueError as exc:
        raise UsageError(f"{path}: not valid JSON: {exc}") from None
    return _yaml(text, path)


def _yaml(text: str, path: Path) -> Any:
    from faasctl.testing.yamlmarks import expanded_size, load_marked

    value = load_marked(text, str(path))
    expanded_size(value, str(path))
    if isinstance(value, str | int | float) or value is None:
        raise UsageError(f"{path}: not a workflow definition (neither a JSON nor a YAML object)")
    return value


def select(document: Any, name: str | None, path: Path) -> dict[str, Any]:
    """The definition named ``name`` (the highest version) from a document holding one or a list."""
    if isinstance(document, list):
        found = [d for d in document if isinstance(d, dict) and (name is None or d.get("name") == name)]
        names = [str(d.get("name")) for d in document if isinstance(d, dict)]
        if name is None:
            raise UsageError(f"{path} holds {len(document)} workflow definitions: choose one with --workflow NAME",
                             hint="names: " + ", ".join(names) if names else None)
        if not found:
            raise UsageError(f"{path} has no workflow named {name!r}",
                             hint="names: " + ", ".join(names) if names else None)
        return max(found, key=_version)
    if isinstance(document, dict):
        if name is not None and document.get("name") != name:
            raise UsageError(f"{path} defines workflow {document.get('name')!r}, not {name!r}")
        return document
    raise UsageError(f"{path}: not a workflow definition: expected an object or a list of them")


def _version(definition: Mapping[str, Any]) -> int:
    version = definition.get("version", 1)
    return version if isinstance(version, int) and not isinstance(version, bool) else 0


def load_bundle(path: Path, workflow: str | None = None) -> Bundle:
    """The chosen definition and the sub-workflows reachable from it (same file first, then beside it)."""
    document = read_document(path)
    definition = select(document, workflow, path)
    bundle = Bundle(definition=definition, source=path)
    same_file: dict[str, dict[str, Any]] = {}
    for item in document if isinstance(document, list) else [document]:
        if isinstance(item, dict) and isinstance(item.get("name"), str):
            known = same_file.get(item["name"])
            if known is None or _version(item) >= _version(known):  # the highest version, as --workflow
                same_file[item["name"]] = item
    if isinstance(definition.get("name"), str):
        bundle.sources[definition["name"]] = path
        bundle.documents[definition["name"]] = definition
    todo = [(definition, path)]
    while todo:
        current, where = todo.pop()
        for name in _sub_workflow_names(current):
            if name in bundle.definitions:
                continue
            found = _find(name, where, same_file if where == path else {})
            if found is None:
                continue
            child, child_path = found
            bundle.definitions[name] = child
            bundle.sources[name] = child_path
            bundle.documents[name] = child
            todo.append((child, child_path))
    return bundle


def _sub_workflow_names(definition: Any) -> list[str]:
    if not isinstance(definition, dict) or not isinstance(definition.get("tasks"), list):
        return []
    names = []
    for _, task in iter_tasks(definition["tasks"], "tasks"):
        if task_type(task) != "SUB_WORKFLOW":
            continue
        inline = inline_sub_workflow(task)
        if inline is not None:
            names.extend(_sub_workflow_names(inline))
        elif sub_workflow_name(task):
            names.append(str(sub_workflow_name(task)))
    return names


def _find(name: str, beside: Path, same_file: Mapping[str, Any]) -> tuple[dict[str, Any], Path] | None:
    if name in same_file:
        return same_file[name], beside
    if not re.fullmatch(r"[\w.-]+", name) or name in (".", ".."):
        return None  # a name that is not a plain file name is never looked up on disk
    for ending in SIBLING_ENDINGS:
        candidate = beside.parent / f"{name}{ending}"
        if candidate.is_file():
            return select(read_document(candidate), name, candidate), candidate
    return None


def line_of(document: Any, path: str) -> int | None:
    """The YAML line of a JSON path (``tasks[1].inputParameters.x``) in a marked document, if known."""
    from faasctl.testing.yamlmarks import MarkedDict, MarkedList

    line = getattr(document, "line", None)
    value = document
    for key, index in re.findall(r"([^.\[\]]+)|\[(\d+)\]", path):
        if index:
            if not isinstance(value, MarkedList) or int(index) >= len(value):
                break
            line, value = value.line_of(int(index)), value[int(index)]
        else:
            if not isinstance(value, MarkedDict) or key not in value:
                break
            line, value = value.line_of(key), value[key]
    return line


def _marked(document: Any, source: Path, name: str | None) -> Any:
    """The definition with YAML line marks: as read for YAML; for JSON, its text read again by the YAML
    parser (JSON is almost always valid YAML), only to point at a line when reporting an error."""
    from faasctl.testing.yamlmarks import MarkedDict

    if isinstance(document, MarkedDict):
        return document
    try:
        from faasctl.testing.yamlmarks import load_marked

        marked = load_marked(source.read_text(encoding="utf-8-sig"), str(source))
        return select(marked, name if isinstance(marked, list) else None, source) if marked is not None else None
    except Exception:  # no line then: the message still has the path
        return None


def locate(error: FlowDefinitionError, bundle: Bundle) -> UsageError:
    """The definition error with its file and line in front: ``wf.yaml:12: tasks[1].x: missing``."""
    path, prefix = error.path, None
    for name in bundle.sources:
        if path.startswith(f"{name}: "):
            path, prefix = path[len(name) + 2:], name
            break
    source = bundle.sources.get(prefix) if prefix else bundle.source
    document = bundle.documents.get(prefix) if prefix else bundle.definition
    where = str(source) if source else "workflow"
    workflow = prefix or bundle.definition.get("name")
    line = line_of(_marked(document, source, workflow if isinstance(workflow, str) else None), path) if source else None
    if line:
        where += f":{line}"
    return UsageError(f"{where}: {path}: {error.reason}" if path else f"{where}: {error.reason}", hint=error.hint)


# -- task mappings ----------------------------------------------------------------------------------------


def parse_task_options(pairs: Iterable[str], cwd: Path) -> dict[str, Path]:
    """``--task NAME=FILE`` pairs; FILE relative to the current directory."""
    mapped: dict[str, Path] = {}
    for pair in pairs:
        name, sep, file = pair.partition("=")
        if not sep or not name or not file:
            raise UsageError(f"invalid --task {pair!r}: expected NAME=FILE", hint="for example --task enrich=enrich.js")
        mapped[name] = (cwd / file).resolve() if not Path(file).is_absolute() else Path(file)
    return mapped


def function_specs(mapped: Mapping[str, Path], runtime_of: Callable[[Path], str]) -> dict[str, dict[str, Any]]:
    """Each mapped file as a function spec (the serve deploy body) for the interpreter."""
    specs = {}
    for name, file in mapped.items():
        try:
            data = read_capped(file, MAX_FUNCTION_FILE, "a function")
        except UsageError as exc:
            raise UsageError(f"task {name!r}: {exc.message}") from None
        spec: dict[str, Any] = {"runtime": runtime_of(file), "name": file.name, "path": str(file)}
        try:
            spec["code"] = data.decode("utf-8")
        except UnicodeDecodeError:
            spec["code_base64"] = base64.b64encode(data).decode("ascii")
        specs[name] = spec
    return specs


def prepare_flow(path: Path, input_value: Any, *, mapped: Mapping[str, Path], runtime_of: Callable[[Path], str],
                 workflow: str | None = None, max_iterations: int = 1000, workflow_id: str | None = None) -> Any:
    """Read and validate a workflow file into a ready ``Flow``; errors name the file, the path and (YAML) line."""
    from faasctl.flow.interpreter import Flow

    bundle = load_bundle(path, workflow)
    specs = function_specs(mapped, runtime_of)
    name = bundle.definition.get("name")
    try:
        return Flow(bundle.definition, input_value, definitions=bundle.definitions, functions=specs,
                    workflow_id=workflow_id or (f"{name}-1" if isinstance(name, str) and name else "workflow-1"),
                    max_iterations=max_iterations)
    except FlowDefinitionError as exc:
        raise locate(exc, bundle) from None
