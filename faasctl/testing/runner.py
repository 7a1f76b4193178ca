"""Running cases on one shared engine (compiled modules are reused), in parallel with a thread pool."""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from faasctl.errors import FaasError, InternalError
from faasctl.testing.cases import LIMIT_KEYS, Case
from faasctl.testing.checks import Failure, check, check_tasks

if TYPE_CHECKING:
    from faasctl.engine import Engine
    from faasctl.result import Result


@dataclass
class CaseOutcome:
    """``status``: passed, failed (an expectation is unmet), error (could not run), skipped."""

    case: Case
    status: str
    failures: list[Failure] = field(default_factory=list)
    result: Result | None = None
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return self.status in ("passed", "skipped")


# A fuel limit no function reaches: set for cases that assert on ``fuel_used`` without a limit of their own.
METERING_ONLY = 2**62


def run_options(case: Case) -> tuple[dict[str, Any], Any]:
    """The limits and ``RunOptions`` a case's options stand for."""
    from faasctl.output import output_mode
    from faasctl.runtimes.base import RunOptions

    opts = case.options
    options = RunOptions(
        output_json=output_mode(opts.get("output_json", "auto")),
        invoke=opts.get("invoke"),
        args=tuple(opts.get("args", ())),
        abi=opts.get("abi"),
        wasi_args=opts.get("wasi_args"),
        dirs=tuple(opts.get("dirs", ())),
        env=tuple(opts.get("env", ())),
        kv_path=opts.get("kv"),
    )
    limits = {key: opts.get(key) for key in LIMIT_KEYS}
    if limits.get("fuel") is None and any(bound.stat == "fuel_used" for bound in case.expect.stats):
        limits["fuel"] = METERING_ONLY  # fuel is only counted for runs with a fuel limit
    return limits, options


def run_case(engine: Engine, case: Case) -> CaseOutcome:
    """Run one case and judge it. Never raises for a case's own problems."""
    from faasctl.inputs import FunctionInput

    if case.skip:
        return CaseOutcome(case, "skipped", [Failure(case.skip)])
    started = time.perf_counter()
    limits, options = run_options(case)
    result = raised = execution = None
    try:
        if case.flow:
            result, execution = run_flow_case(engine, case, limits)
        else:
            result = engine.run(case.target, FunctionInput.of(case.input), runtime=case.options.get("runtime"),
                                limits=limits, options=options)
    except FaasError as exc:
        raised = exc
    except Exception as exc:  # a bug somewhere below must fail this case, not the whole suite
        raised = InternalError(f"{type(exc).__name__}: {exc}")
    failures = check(case.expect, result, raised)
    if raised is None:
        failures.extend(check_tasks(case.expect, execution))
    seconds = time.perf_counter() - started
    if not failures:
        return CaseOutcome(case, "passed", [], result, seconds)
    status = "error" if raised is not None else "failed"
    return CaseOutcome(case, status, failures, result, seconds)


def prepare_flow_case(engine: Engine, case: Case) -> Any:
    """A flow case's workflow read and validated (a ``UsageError`` naming the problem when it is invalid)."""
    from pathlib import Path

    from faasctl.flow.executor import runtime_of
    from faasctl.flow.loader import prepare_flow

    assert case.flow is not None
    return prepare_flow(Path(case.flow), case.input, mapped={k: Path(v) for k, v in case.tasks.items()},
                        runtime_of=lambda file: runtime_of(engine, file), workflow=case.workflow)


def run_flow_case(engine: Engine, case: Case, limits: dict[str, Any]) -> tuple[Result, dict[str, Any]]:
    """Run a flow case as ``faasctl flow run`` would, and shape it as a run ``Result`` for the checks:
    the workflow output is the result, every task's logs (prefixed by its reference) are the logs."""
    from faasctl.flow.executor import LocalExecutor
    from faasctl.result import Result, RunError, Stats

    flow = prepare_flow_case(engine, case)
    logs: list[str] = []

    def collect(request: dict[str, Any], envelope: dict[str, Any]) -> None:
        logs.extend(f"[{request['ref']}] {line}" for line in envelope.get("logs") or [])

    started = time.perf_counter()
    execution = LocalExecutor(engine, limits=limits, on_task_done=collect).execute(flow)
    stats = Stats(duration_ms=(time.perf_counter() - started) * 1000)
    name = str(execution.get("workflowName") or os.path.basename(case.flow or "workflow"))
    if execution["status"] == "COMPLETED":
        return Result("flow", name, stats, result=execution["output"], output_type="json", logs=logs), execution
    error_type = flow.root.error_type or "FunctionError"
    error = RunError(error_type, f"workflow {execution['status']}: {execution.get('reasonForIncompletion')}")
    return Result("flow", name, stats, logs=logs, error=error), execution


def run_cases(engine: Engine, cases: list[Case], jobs: int = 1,
              on_done: Callable[[CaseOutcome], None] | None = None) -> list[CaseOutcome]:
    """All cases, outcomes in case order; ``on_done`` sees each as soon as it (and those before it) ended."""
    outcomes = []
    for outcome in _ordered(engine, cases, jobs):
        if on_done:
            on_done(outcome)
        outcomes.append(outcome)
    return outcomes


def _ordered(engine: Engine, cases: list[Case], jobs: int) -> Iterator[CaseOutcome]:
    if jobs <= 1 or len(cases) <= 1:
        for case in cases:
            yield run_case(engine, case)
        return
    with ThreadPoolExecutor(max_workers=jobs, thread_name_prefix="faasctl-test") as pool:
        yield from pool.map(lambda case: run_case(engine, case), cases)
