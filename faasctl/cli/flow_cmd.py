"""``faasctl flow run FILE``: a Conductor workflow definition run on the local engine (spec section 9).

The declarations are here; the work is in ``run_flow`` (plain values in, exit code out) and in
``faasctl.flow``. Another ``flow`` sub-verb (``flow chain``) is one more ``@flow_app.command``.
"""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace
from typing import TYPE_CHECKING, Annotated, Any

import click
import typer

from faasctl.cli.chain_cmd import add_chain
from faasctl.cli.options import (
    HELP_OPTIONS,
    Command,
    Config,
    Data,
    Fuel,
    Group,
    Input,
    MaxInput,
    MaxOutput,
    Memory,
    Namespace,
    Param,
    TaskQueue,
    Temporal,
    Text,
    Timeout,
    choice,
    complete_path,
    namespace,
    verb_app,
    whole_number,
)
from faasctl.errors import UsageError

if TYPE_CHECKING:
    from faasctl.cli.environment import Environment

EXAMPLES = """examples:
  faasctl flow run examples/wasm-example.json -d '{"enter_your_name": "John"}'
  faasctl flow run workflows.json --workflow orders -p id=7 --format json
  faasctl flow run wf.yaml --task enrich=enrich.js --timeout 2s -j 4"""


def _jobs(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise click.BadParameter(f"invalid job count {text!r}: use a whole number") from None
    if value < 0:
        raise click.BadParameter(f"invalid job count {text!r}: it must be 0 or more")
    return value


app = verb_app()
flow_app = typer.Typer(cls=Group, help="Chained functions on the local engine, with no server: Conductor workflows "
                                           "(flow run) and XINA lambda-task chains (flow chain).",
                       short_help="run Conductor workflows and XINA chains offline", epilog=EXAMPLES,
                       rich_markup_mode="rich",
                       invoke_without_command=True, context_settings=HELP_OPTIONS)
app.add_typer(flow_app, name="flow")


@flow_app.callback()
def flow(ctx: typer.Context) -> None:
    if ctx.invoked_subcommand is None:
        raise UsageError("flow needs an action", hint="faasctl flow run FILE, or faasctl flow chain ACTION")


@flow_app.command("run", cls=Command, epilog=EXAMPLES, short_help="run a Conductor workflow definition",
                  help="Run a Conductor workflow definition (JSON or YAML, as POST /metadata/workflow takes it) on "
                       "the local engine, no server. Exit 0 when COMPLETED, else the failed task's code.")
def run(
    ctx: typer.Context,
    file: Annotated[str, typer.Argument(metavar="FILE", autocompletion=complete_path, show_default=False,
                                        help="workflow definition, or a list of them (with --workflow)")],
    input: Input = None,
    data: Data = None,
    param: Param = None,
    text: Text = False,
    max_input: MaxInput = None,
    workflow: Annotated[str | None, typer.Option("--workflow", "-w", metavar="NAME",
                                                 help="the definition to run from a list")] = None,
    task: Annotated[list[str] | None, typer.Option("--task", "-t", metavar="NAME=FILE", show_default=False,
                                                   help="run SIMPLE tasks named NAME with the function in FILE; "
                                                        "repeatable")] = None,
    format: Annotated[str, typer.Option("--format", "-f", click_type=choice("result", "json"),
                                        help="print the workflow output, or the whole execution "
                                             "(GET /workflow/{id} shape)")] = "result",
    jobs: Annotated[int, typer.Option("--jobs", "-j", metavar="N", parser=_jobs,
                                      help="tasks run at once (fork branches); 0: one per core")] = 0,
    max_iterations: Annotated[int, typer.Option("--max-iterations", metavar="N", parser=whole_number("N", 1),
                                                help="stop a DO_WHILE after N iterations")] = 1000,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="hide the tasks' logs")] = False,
    config: Config = None,
    timeout: Timeout = None,
    memory: Memory = None,
    fuel: Fuel = None,
    max_output: MaxOutput = None,
    temporal: Temporal = None,
    task_queue: TaskQueue = "faasctl",
    temporal_namespace: Namespace = "default",
) -> int:
    return handle_run(namespace(locals()), ctx.obj)


def handle_run(args: Any, env: Environment) -> int:
    from faasctl.cli.common import limit_overrides
    from faasctl.cli.run import build_function_input

    function_input = build_function_input(args, env, stdin_used=False)
    return run_flow(
        file=args.file, input_value=function_input.value, workflow=args.workflow, tasks=args.task or (),
        fmt=args.format, jobs=args.jobs or None, limits=limit_overrides(args), quiet=args.quiet,
        config=args.config, max_iterations=args.max_iterations, env=env,
        temporal=args.temporal, task_queue=args.task_queue, namespace=args.temporal_namespace,
    )


def run_flow(*, file: str, input_value: Any, workflow: str | None = None, tasks: list[str] | tuple[str, ...] = (),
             fmt: str = "result", jobs: int | None = None, limits: dict[str, Any] | None = None,
             quiet: bool = False, config: str | None = None, max_iterations: int = 1000,
             env: Environment | None = None, temporal: str | None = None, task_queue: str = "faasctl",
             namespace: str = "default") -> int:
    """The whole command with plain values: load, validate, run, print; returns the exit code.
    ``temporal`` (HOST:PORT): the same flow on Temporal workers (docs/worker.md), printed the same way."""
    from faasctl.cli.common import _to_stdout, _write_result, build_engine, terminal, write_json
    from faasctl.cli.run import _run_interruptibly
    from faasctl.flow.executor import LocalExecutor
    from faasctl.limits import Limits

    env = terminal(env)
    Limits().merged(**(limits or {}))  # a bad --timeout is a usage error before anything is read
    engine = build_engine(SimpleNamespace(config=config), env)
    flow = prepare_flow(engine, Path(file), input_value, workflow=workflow, tasks=tasks, config=config,
                        max_iterations=max_iterations, cwd=env.cwd)
    on_done = None if quiet or fmt == "json" else _log_printer(env)
    if temporal:
        from faasctl.cli.run import _terminal_notice
        from faasctl.worker.client import run_flow_on_temporal, task_logs

        execution, code = run_flow_on_temporal(flow, input_value, address=temporal, namespace=namespace,
                                               task_queue=task_queue, limits=limits, say=_terminal_notice(env))
        if on_done is not None:
            for ref, logs in task_logs(execution):
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
        env.error_line(f"workflow {execution.get('workflowName') or file} {execution['status']}: "
                       f"{execution.get('reasonForIncompletion')}")
    return code


def prepare_flow(engine: Any, path: Path, input_value: Any, *, workflow: str | None = None,
                 tasks: list[str] | tuple[str, ...] = (), config: str | None = None,
                 max_iterations: int = 1000, cwd: str = ".") -> Any:
    """Task mappings from faasctl.yaml, then ``--task`` pairs over them; the rest is ``loader.prepare_flow``."""
    from faasctl.config import load_config
    from faasctl.flow import loader
    from faasctl.flow.executor import runtime_of
    from faasctl.paths import StateDirs

    mapped = dict(load_config(config, StateDirs.from_environment(), cwd).get("tasks", {}))
    mapped.update(loader.parse_task_options(tasks, Path(cwd)))
    return loader.prepare_flow(Path(cwd) / path, input_value, mapped=mapped,
                               runtime_of=lambda file: runtime_of(engine, file), workflow=workflow,
                               max_iterations=max_iterations)


def _log_printer(env: Environment) -> Any:
    """Each task's logs on stderr, prefixed by its reference name, as the task ends."""
    color = env.stderr_isatty and not env.no_color  # dim prefixes for a person, plain lines for a log file

    def print_logs(request: dict[str, Any], envelope: dict[str, Any]) -> None:
        logs = envelope.get("logs") or []
        if not logs:
            return
        prefix = f"\033[2m[{request['ref']}]\033[0m" if color else f"[{request['ref']}]"
        env.stderr.write("".join(f"{prefix} {line}\n" for entry in logs for line in str(entry).split("\n")))
        env.stderr.flush()

    return print_logs


add_chain(flow_app)
