"""``faasctl flow run FILE``: a Conductor workflow definition run on the local engine (spec section 9).

The argument declarations are here; the work is in ``run_flow`` (plain values in, exit code out) and in
``faasctl.flow``. Other ``flow`` subcommands add one entry to ``SUBCOMMANDS``.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Any

EXAMPLES = """examples:
  faasctl flow run examples/wasm-example.json -d '{"enter_your_name": "John"}'
  faasctl flow run workflows.json --workflow orders -p id=7 --format json
  faasctl flow run wf.yaml --task enrich=enrich.js --timeout 2s -j 4"""

# subcommand -> (module under faasctl.cli, its add_parser function name)
SUBCOMMANDS = {"run": ("flow_cmd", "add_run_parser")}


def add_parser(sub: argparse._SubParsersAction) -> None:
    from importlib import import_module

    parser = sub.add_parser("flow", help="run Conductor workflows offline", epilog=EXAMPLES,
                            formatter_class=argparse.RawDescriptionHelpFormatter,
                            description="Workflows on the local engine, with no server.")
    verbs = parser.add_subparsers(dest="flow_command", metavar="COMMAND", parser_class=type(parser))
    for module_name, function in SUBCOMMANDS.values():
        getattr(import_module(f"faasctl.cli.{module_name}"), function)(verbs)
    parser.set_defaults(handler=lambda args: _no_subcommand(parser))


def _no_subcommand(parser: argparse.ArgumentParser) -> int:
    parser.print_help()
    return 2


def add_run_parser(verbs: argparse._SubParsersAction) -> None:
    from faasctl.cli.worker_cmd import add_temporal_options

    parser = verbs.add_parser("run", help="run a Conductor workflow definition", epilog=EXAMPLES,
                              formatter_class=argparse.RawDescriptionHelpFormatter,
                              description="Run a Conductor workflow definition (JSON or YAML, as POST "
                                          "/metadata/workflow takes it) on the local engine, no server.")
    parser.add_argument("file", metavar="FILE", help="workflow definition, or a list of them (with --workflow)")
    add_input_options(parser, "workflow input (default: stdin when piped, else {})")
    parser.add_argument("--workflow", "-w", metavar="NAME", help="the definition to run from a list")
    parser.add_argument("--task", "-t", action="append", default=[], metavar="NAME=FILE",
                        help="run SIMPLE tasks named NAME with the function in FILE (repeatable)")
    parser.add_argument("--format", "-f", choices=["result", "json"], default="result",
                        help="print the workflow output, or the whole execution (GET /workflow/{id} shape)")
    parser.add_argument("-j", "--jobs", type=_jobs, default=0, metavar="N",
                        help="tasks run at once (fork branches); default one per core")
    parser.add_argument("--max-iterations", type=_positive, default=1000, metavar="N",
                        help="stop a DO_WHILE after N iterations (default 1000)")
    parser.add_argument("--quiet", "-q", action="store_true", help="hide the tasks' logs")
    parser.add_argument("--config", metavar="FILE", help="config file (default: ./faasctl.yaml, then user config)")
    add_limit_options(parser)
    add_temporal_options(parser)
    parser.set_defaults(handler=handle_run)


def add_input_options(parser: argparse.ArgumentParser, title: str) -> None:
    """argparse spellings of the shared input options, while this verb goes through the argparse bridge."""
    source = parser.add_argument_group(title)
    source.add_argument("-i", "--input", metavar="FILE", help="JSON input file ('-' for stdin)")
    source.add_argument("-d", "--data", metavar="JSON", help="inline JSON input")
    source.add_argument("-p", "--param", metavar="KEY=VALUE", action="append", default=[],
                        help="set one key of an object input (VALUE as JSON when it parses)")
    source.add_argument("--text", action="store_true", help="take the input as a plain string")


def add_limit_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("limits")
    group.add_argument("--timeout", metavar="DURATION", help="wall-clock limit of one run (default 30s)")
    group.add_argument("--memory", metavar="SIZE", help="guest memory limit (default 256MiB)")
    group.add_argument("--fuel", metavar="N", help="instruction budget (default none)")
    group.add_argument("--max-output", metavar="SIZE", help="bytes of output, and of logs, kept (default 6MiB)")


def _jobs(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"invalid job count {text!r}: use a whole number") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"invalid job count {text!r}: it must be 0 or more")
    return value


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"invalid number {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"invalid number {text!r}: it must be 1 or more")
    return value


def handle_run(args: argparse.Namespace) -> int:
    from faasctl.cli.common import limit_overrides, terminal
    from faasctl.cli.run import build_function_input

    function_input = build_function_input(args, terminal(None), stdin_used=False)
    return run_flow(
        file=args.file, input_value=function_input.value, workflow=args.workflow, tasks=args.task,
        fmt=args.format, jobs=args.jobs or None, limits=limit_overrides(args), quiet=args.quiet,
        config=args.config, max_iterations=args.max_iterations,
        temporal=args.temporal, task_queue=args.task_queue, namespace=args.temporal_namespace,
    )


def run_flow(*, file: str, input_value: Any, workflow: str | None = None, tasks: list[str] | tuple[str, ...] = (),
             fmt: str = "result", jobs: int | None = None, limits: dict[str, Any] | None = None,
             quiet: bool = False, config: str | None = None, max_iterations: int = 1000,
             temporal: str | None = None, task_queue: str = "faasctl", namespace: str = "default") -> int:
    """The whole command with plain values: load, validate, run, print; returns the exit code.
    ``temporal`` (HOST:PORT): the same flow on Temporal workers (docs/worker.md), printed the same way."""
    from faasctl.cli.common import _to_stdout, _write_result, build_engine, terminal, write_json
    from faasctl.cli.main import _error_line
    from faasctl.cli.run import _run_interruptibly
    from faasctl.flow.executor import LocalExecutor
    from faasctl.limits import Limits

    Limits().merged(**(limits or {}))  # a bad --timeout is a usage error before anything is read
    env = terminal(None)
    engine = build_engine(argparse.Namespace(config=config), env)
    flow = prepare_flow(engine, Path(file), input_value, workflow=workflow, tasks=tasks, config=config,
                        max_iterations=max_iterations)
    on_done = None if quiet or fmt == "json" else _print_logs
    if temporal:
        from faasctl.worker.client import run_flow_on_temporal, task_logs

        execution, code = run_flow_on_temporal(flow, input_value, address=temporal, namespace=namespace,
                                               task_queue=task_queue, limits=limits)
        for ref, logs in task_logs(execution) if on_done else ():
            on_done({"ref": ref}, {"logs": logs})
    else:
        executor = LocalExecutor(engine, jobs=jobs, limits=limits, on_task_done=on_done)
        execution = _run_interruptibly(lambda: executor.execute(flow), env)
        code = flow.exit_code
    if fmt == "json":
        _to_stdout(env, lambda: write_json(execution, env))
    elif execution["status"] == "COMPLETED":
        _to_stdout(env, lambda: _write_result(env, execution["output"]))
    if execution["status"] != "COMPLETED":
        _error_line(f"workflow {execution.get('workflowName') or file} {execution['status']}: "
                    f"{execution.get('reasonForIncompletion')}")
    return code


def prepare_flow(engine: Any, path: Path, input_value: Any, *, workflow: str | None = None,
                 tasks: list[str] | tuple[str, ...] = (), config: str | None = None,
                 max_iterations: int = 1000) -> Any:
    """Task mappings from faasctl.yaml, then ``--task`` pairs over them; the rest is ``loader.prepare_flow``."""
    from faasctl.flow import loader
    from faasctl.flow.executor import runtime_of

    mapped = _config_tasks(config)
    mapped.update(loader.parse_task_options(tasks, Path(os.getcwd())))
    return loader.prepare_flow(path, input_value, mapped=mapped, runtime_of=lambda file: runtime_of(engine, file),
                               workflow=workflow, max_iterations=max_iterations)


def _config_tasks(config: str | None) -> dict[str, Path]:
    from faasctl.config import load_config
    from faasctl.paths import StateDirs

    return dict(load_config(config, StateDirs.from_environment(), os.getcwd()).get("tasks", {}))


def _print_logs(request: dict[str, Any], envelope: dict[str, Any]) -> None:
    """Each task's logs on stderr, prefixed by its reference name, as the task ends."""
    logs = envelope.get("logs") or []
    if not logs:
        return
    color = sys.stderr.isatty() and not os.environ.get("NO_COLOR")
    prefix = f"\033[2m[{request['ref']}]\033[0m" if color else f"[{request['ref']}]"
    sys.stderr.write("".join(f"{prefix} {line}\n" for entry in logs for line in str(entry).split("\n")))
    sys.stderr.flush()
