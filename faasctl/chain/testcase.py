"""``chain:`` cases of ``faasctl test``: a chain in place of ``target``, judged on its final statuses,
its action log and its tasks' results::

    - name: xina queue demo
      chain: run-action.json          # the XINA run action (paths relative to the case file)
      tasks: tasks.yaml               # default: tasks.yaml beside the action
      objects: objects/               # optional: copied to a fresh directory for every run
      action_results: action-results.json   # or an inline mapping
      timeout: 5s                     # any limit, for every function run
      expect:
        status: FINISHED
        tasks: {queue_demo: {status: FINISHED, parent: null}, queue_demo_b: {status: FINISHED, parent: 1}}
        actions: [schema, run, post, conclude]      # names in order; or [{action: post, status: DONE}, ...]

The case file's validator hands ``chain:`` cases here (``chain_case``) and the test runner runs them
here (``run_chain_case``), each on an engine of its own, so the chain's plugins never reach other cases.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from faasctl.errors import FaasError, InternalError

CHAIN_KEYS = ("name", "chain", "tasks", "objects", "action_results", "timeout", "memory", "fuel", "max_output",
              "max_actions", "max_depth", "expect", "skip")
EXPECT_KEYS = ("status", "tasks", "actions", "error_contains")
TASK_EXPECT_KEYS = ("status", "parent", "result", "result_subset", "logs_contain", "error_contains")
STATUSES = ("FINISHED", "FAILED", "OPEN")


@dataclass(frozen=True)
class ChainCase:
    action: str
    tasks: str | None
    objects: str | None
    action_results: Any  # a path, or an inline mapping
    limits: dict[str, Any] = field(default_factory=dict)
    max_actions: int = 1000
    max_depth: int = 16
    expect: dict[str, Any] = field(default_factory=dict)


def chain_case(validator: Any, raw: Any, index: int) -> Any:
    """Validate one ``chain:`` case into a ``Case`` (``target`` is the action file, ``chain`` the rest)."""
    from faasctl.testing.cases import Case, _plain

    fail = validator.fail
    validator.keys(raw, CHAIN_KEYS, f"case {index + 1}")
    name = raw.get("name")
    if not isinstance(name, str) or not name.strip():
        raise fail(raw.line_of("name"), f"case {index + 1}: 'name' must be a non-empty string")
    label = f"case {name!r}"

    def path(key: str, required: bool = False, directory: bool = False) -> str | None:
        value = raw.get(key)
        if value is None and not required:
            return None
        if not isinstance(value, str) or not value:
            raise fail(raw.line_of(key), f"{label}: '{key}' must be a path")
        resolved = validator.base / value
        if not (resolved.is_dir() if directory else resolved.is_file()):
            raise fail(raw.line_of(key), f"{label}: {key} {value!r} not found (looked for {resolved})")
        return str(resolved)

    action = path("chain", required=True)
    results = raw.get("action_results")
    results = _plain(results) if isinstance(results, dict) else path("action_results")
    limits = {key: raw[key] for key in ("timeout", "memory", "fuel", "max_output") if raw.get(key) is not None}
    for key in ("max_actions", "max_depth"):
        if key in raw and (not isinstance(raw[key], int) or isinstance(raw[key], bool) or raw[key] < 1):
            raise fail(raw.line_of(key), f"{label}: '{key}' must be a positive integer")
    expect = raw.get("expect") or {}
    if not isinstance(expect, dict):
        raise fail(raw.line_of("expect"), f"{label}: 'expect' must be a mapping")
    validator.keys(expect, EXPECT_KEYS, f"{label}: expect")
    expect = _plain(expect)
    _check_expect(expect, lambda message: fail(raw.line_of("expect"), f"{label}: expect: {message}"))
    chain = ChainCase(action=str(action), tasks=path("tasks"), objects=path("objects", directory=True),
                      action_results=results, limits=limits, max_actions=raw.get("max_actions", 1000),
                      max_depth=raw.get("max_depth", 16), expect=expect)
    skip = raw.get("skip")
    return Case(name=name, file=validator.path, line=raw.line, target=str(action), chain=chain,
                skip=(skip if isinstance(skip, str) else "skipped") if skip else None)


def _check_expect(expect: dict[str, Any], fail: Any) -> None:
    if "status" in expect and expect["status"] not in STATUSES:
        raise fail(f"status must be one of {', '.join(STATUSES)}")
    tasks = expect.get("tasks", {})
    if not isinstance(tasks, dict):
        raise fail("'tasks' must map task names to {status, parent, result, ...}")
    for task, wanted in tasks.items():
        if not isinstance(wanted, dict):
            raise fail(f"tasks.{task} must be a mapping")
        unknown = sorted(set(wanted) - set(TASK_EXPECT_KEYS))
        if unknown:
            raise fail(f"tasks.{task}: unknown key {unknown[0]!r} (known: {', '.join(TASK_EXPECT_KEYS)})")
        if "status" in wanted and wanted["status"] not in STATUSES:
            raise fail(f"tasks.{task}.status must be one of {', '.join(STATUSES)}")
    actions = expect.get("actions", [])
    if not isinstance(actions, list) or not all(isinstance(a, str | dict) for a in actions):
        raise fail("'actions' must be a list of action names or {action, status} mappings")


def run_chain_case(engine: Any, case: Any) -> Any:
    """Run a chain case on an engine of its own and judge it; never raises for the case's own problems."""
    import shutil
    import tempfile

    from faasctl.chain.runner import ChainOptions, ChainRunner, load_chain_inputs
    from faasctl.engine import Engine
    from faasctl.testing.checks import Failure
    from faasctl.testing.runner import CaseOutcome

    if case.skip:
        return CaseOutcome(case, "skipped", [Failure(case.skip)])
    spec: ChainCase = case.chain
    started = time.perf_counter()
    workdir = Path(tempfile.mkdtemp(prefix="faasctl-chain-case-"))
    try:
        results_path = spec.action_results if isinstance(spec.action_results, str) else None
        action, tasks, results = load_chain_inputs(spec.action, spec.tasks, results_path)
        if isinstance(spec.action_results, dict):
            results = spec.action_results
        objects = workdir / "objects"
        if spec.objects:
            shutil.copytree(spec.objects, objects, symlinks=True)
        else:
            objects.mkdir()
        from faasctl.chain.objects import ObjectStore

        options = ChainOptions(limits=spec.limits, max_actions=spec.max_actions, max_depth=spec.max_depth)
        state = ChainRunner(Engine(engine.settings), tasks, ObjectStore(objects), results, options).run(
            action, Path(spec.action).name)
        failures = judge(spec.expect, state)
    except FaasError as exc:
        failures = [Failure(f"the chain could not run: {exc.one_line()}")]
    except Exception as exc:  # a bug below must fail this case, not the suite
        failures = [Failure(f"the chain could not run: {InternalError(f'{type(exc).__name__}: {exc}').message}")]
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    seconds = time.perf_counter() - started
    return CaseOutcome(case, "failed" if failures else "passed", failures, None, seconds)


def judge(expect: dict[str, Any], state: Any) -> list[Any]:
    """Each unmet expectation of a chain, as ``Failure`` values with texts to diff."""
    import json

    from faasctl.chain.report import chain_document
    from faasctl.testing.checks import Failure

    def text(value: Any) -> str:
        return json.dumps(value, ensure_ascii=False, sort_keys=True)

    document = chain_document(state)
    failures = []
    if "status" in expect and document["status"] != expect["status"]:
        failures.append(Failure("chain status differs", expect["status"], document["status"]))
    if "error_contains" in expect and str(expect["error_contains"]) not in str(document.get("error", "")):
        failures.append(Failure("chain error differs", str(expect["error_contains"]), str(document.get("error"))))
    by_name: dict[str, dict[str, Any]] = {}
    for task in document["tasks"]:
        by_name.setdefault(task["name"], task)
    for name, wanted in expect.get("tasks", {}).items():
        task = by_name.get(name)
        if task is None:
            failures.append(Failure(f"task {name} did not run", name, ", ".join(by_name) or "(no tasks)"))
            continue
        for key in ("status", "parent", "result"):
            if key in wanted and task[key] != wanted[key]:
                failures.append(Failure(f"task {name}: {key} differs", text(wanted[key]), text(task[key])))
        if "result_subset" in wanted and not _subset(wanted["result_subset"], task["result"]):
            failures.append(Failure(f"task {name}: result does not contain the subset",
                                    text(wanted["result_subset"]), text(task["result"])))
        for line in ([wanted["logs_contain"]] if isinstance(wanted.get("logs_contain"), str)
                     else wanted.get("logs_contain", [])):
            if not any(str(line) in entry for entry in task["logs"]):
                failures.append(Failure(f"task {name}: no log line contains {line!r}"))
        if "error_contains" in wanted and str(wanted["error_contains"]) not in text(task["error"]):
            failures.append(Failure(f"task {name}: error differs", str(wanted["error_contains"]), text(task["error"])))
    if "actions" in expect:
        wanted_log = expect["actions"]
        actual = [a["action"] if isinstance(w, str) else {k: a.get(k) for k in w}
                  for a, w in zip(document["actions"], wanted_log, strict=False)]
        if len(document["actions"]) != len(wanted_log) or actual != wanted_log:
            shown = [a["action"] + ("" if a["status"] == "DONE" else f" ({a['status']})") for a in document["actions"]]
            failures.append(Failure("action log differs", text(wanted_log), text(shown)))
    return failures


def _subset(wanted: Any, actual: Any) -> bool:
    if isinstance(wanted, dict):
        return isinstance(actual, dict) and all(k in actual and _subset(v, actual[k]) for k, v in wanted.items())
    return wanted == actual
