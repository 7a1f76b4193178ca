"""``faasctl test [PATHS]``: declarative cases in ``*.faas.yaml`` files; exit 0 all pass, 1 a failure,
2 an invalid case file (every problem listed with file and line, nothing run)."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Annotated, Any

import click
import typer

from faasctl.cli.options import Command, Config, complete_path, namespace, verb_app

if TYPE_CHECKING:
    from faasctl.cli.environment import Environment

EXAMPLES = """case file (hello.faas.yaml; targets are relative to it):
  defaults: {timeout: 2s, memory: 64MiB}
  cases:
    - name: greets Ada
      target: hello.js
      input: {name: Ada}            # or input_file: event.json, params: {n: 3}, text: "..."
      expect:
        result: {greeting: "Hello, Ada!"}   # or result_subset, result_regex, result_path: {$.greeting: ...}
        logs_contain: ["greeting Ada"]
        stats: {fuel_used: "< 50000000", duration_ms: "< 500", memory_peak_bytes: "< 16MiB"}
    - name: runaway
      target: spin.js
      timeout: 200ms
      expect: {error: Timeout}

examples:
  faasctl test                          # every *.faas.yaml under the current directory
  faasctl test examples -j 4 --junit report.xml
  faasctl test tests/api.faas.yaml -k greets"""


def _jobs(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise click.BadParameter(f"invalid job count {text!r}: use a whole number") from None
    if value < 0:
        raise click.BadParameter(f"invalid job count {text!r}: it must be 0 or more")
    return value or (os.cpu_count() or 1)



app = verb_app()


@app.command("test", cls=Command, epilog=EXAMPLES, short_help="run declarative test cases (*.faas.yaml)",
             help="Run the cases of *.faas.yaml files (found under the current directory when no path is given). "
                  "Exit 0 when every case passes, 1 when one fails, 2 when a case file is invalid.")
def test(
    ctx: typer.Context,
    paths: Annotated[list[str] | None, typer.Argument(metavar="[PATH]...", show_default=False,
                                                      autocompletion=complete_path,
                                                      help="case files or directories to search")] = None,
    jobs: Annotated[int, typer.Option("--jobs", "-j", metavar="N", parser=_jobs,
                                      help="cases run at once (0: one per core)")] = 1,
    filter: Annotated[str | None, typer.Option("--filter", "-k", metavar="TEXT",
                                               help="run only cases whose name contains TEXT")] = None,
    junit: Annotated[str | None, typer.Option("--junit", metavar="FILE", autocompletion=complete_path,
                                              help="write a JUnit XML report to FILE")] = None,
    list: Annotated[bool, typer.Option("--list", help="list the cases without running them")] = False,
    config: Config = None,
) -> int:
    return handle(namespace(locals()), ctx.obj)


def load_cases(paths: list[str], env: Environment) -> list[Any]:
    """Every case of every file; all invalid files are reported together as one UsageError."""
    from pathlib import Path

    from faasctl.errors import UsageError
    from faasctl.testing.cases import CaseFileError, discover, load_file

    files = discover(paths, Path(env.cwd))
    cases, problems = [], []
    for file in files:
        try:
            cases.extend(load_file(file, Path(env.cwd)))
        except CaseFileError as exc:
            problems.append(exc.one_line())
    if problems:
        for line in problems[:-1]:
            env.error_line(line)
        raise UsageError(problems[-1])
    return cases


def check_runtimes(engine: object, cases: list[Any], env: Environment) -> None:
    """Unknown runtime names and invalid workflows are case-file errors (exit 2), found before anything runs."""
    from faasctl.errors import FaasError, UsageError
    from faasctl.testing.runner import prepare_flow_case

    problems = []
    for case in cases:
        if case.flow and not case.skip:
            try:
                prepare_flow_case(engine, case)  # type: ignore[arg-type]
            except FaasError as exc:
                problems.append(f"{case.file}:{case.line}: case {case.name!r}: {exc.one_line()}")
        name = case.options.get("runtime")
        if name:
            try:
                engine.registry.get(name)  # type: ignore[attr-defined]
            except FaasError as exc:
                problems.append(f"{case.file}:{case.line}: case {case.name!r}: {exc.one_line()}")
    if problems:
        for line in problems[:-1]:
            env.error_line(line)
        raise UsageError(problems[-1])


def handle(args: Any, env: Environment) -> int:
    import time

    from faasctl.cli.common import build_engine
    from faasctl.errors import UsageError
    from faasctl.testing import junit
    from faasctl.testing.report import make_reporter
    from faasctl.testing.runner import run_cases

    cases = load_cases(args.paths or [], env)
    if args.filter:
        cases = [c for c in cases if args.filter.lower() in c.name.lower()]
        if not cases:
            raise UsageError(f"no case name contains {args.filter!r}")
    if args.list:
        for case in cases:
            env.stdout.write(f"{case.id}\n")
        return 0
    if args.junit is not None:
        junit.check_writable(args.junit)
    engine = build_engine(args, env)
    check_runtimes(engine, cases, env)
    reporter = make_reporter(env.stdout, rich=env.stdout_color)
    started = time.perf_counter()
    from faasctl.cli.run import _run_interruptibly  # Ctrl-C ends at once even while a guest is busy

    outcomes = _run_interruptibly(lambda: run_cases(engine, cases, args.jobs, reporter.case_done), env)
    reporter.finish(outcomes, time.perf_counter() - started)
    if args.junit is not None:
        junit.write(args.junit, outcomes)
    return 0 if all(o.ok for o in outcomes) else 1
