"""``faasctl flow chain ACTION``: XINA-style lambda tasks on a local queue (spec section 10).

``add_chain(flow_app)`` declares ``chain`` on the typer app of the ``flow`` verb (``faasctl/cli/flow_cmd.py``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

import typer

from faasctl.cli.options import (
    Command,
    Config,
    Fuel,
    MaxOutput,
    Memory,
    Timeout,
    choice,
    complete_path,
    namespace,
    whole_number,
)
from faasctl.errors import UsageError

if TYPE_CHECKING:
    from faasctl.cli.environment import Environment

EXAMPLES = """examples:
  faasctl flow chain examples/xina/run-action.json --tasks examples/xina/tasks.yaml \\
      --objects /tmp/objects --action-results examples/xina/action-results.json
  faasctl flow chain run-action.json --format json | jq '.tasks[] | {name, status}'"""

Path = Annotated[str | None, typer.Option(metavar="FILE", autocompletion=complete_path)]


def chain(
    ctx: typer.Context,
    action: Annotated[str, typer.Argument(metavar="ACTION", autocompletion=complete_path, show_default=False,
                                          help="JSON file holding a XINA run action")],
    tasks: Annotated[str | None, typer.Option("--tasks", metavar="TASKS.yaml", autocompletion=complete_path,
                                              help="task names to function files (default: tasks.yaml beside "
                                                   "ACTION)")] = None,
    objects: Annotated[str | None, typer.Option("--objects", metavar="DIR", autocompletion=complete_path,
                                                help="object directory of the s3 plugin (default: a temporary "
                                                     "one)")] = None,
    action_results: Annotated[str | None, typer.Option("--action-results", metavar="FILE",
                                                       autocompletion=complete_path,
                                                       help="JSON object: action name -> its result")] = None,
    format: Annotated[str, typer.Option("--format", "-f", click_type=choice("result", "json"),
                                        help="the task tree and action log as text, or one JSON object")] = "result",
    max_actions: Annotated[int, typer.Option("--max-actions", metavar="N", parser=whole_number("--max-actions", 1),
                                             help="stop a chain that queues more actions than this")] = 1000,
    max_depth: Annotated[int, typer.Option("--max-depth", metavar="N", parser=whole_number("--max-depth", 1),
                                           help="deepest nesting of RequestResponse invocations")] = 16,
    config: Config = None,
    timeout: Timeout = None,
    memory: Memory = None,
    fuel: Fuel = None,
    max_output: MaxOutput = None,
) -> int:
    return handle(namespace(locals()), ctx.obj)


def add_chain(flow_app: typer.Typer) -> None:
    """Declare ``chain`` on the ``flow`` verb's app."""
    flow_app.command("chain", cls=Command, epilog=EXAMPLES, short_help="run XINA-style lambda tasks on a local queue",
                     help="Run the lambda tasks a XINA 'run' action starts, and the actions they queue through the "
                          "xina-queue function, on a local FIFO queue; print the task tree and the action log.")(chain)


def handle(args: Any, env: Environment) -> int:
    from faasctl.cli.common import build_engine, limit_overrides

    if args.max_actions > 1_000_000 or args.max_depth > 1000:
        raise UsageError("--max-actions is at most 1000000 and --max-depth at most 1000")
    engine = build_engine(args, env)
    limits = {key: value for key, value in limit_overrides(args).items() if value is not None}
    return run(engine, args.action, tasks=args.tasks, objects=args.objects, action_results=args.action_results,
               fmt=args.format, limits=limits, max_actions=args.max_actions, max_depth=args.max_depth, env=env)


def run(engine: Any, action: str, *, tasks: str | None, objects: str | None, action_results: str | None,
        fmt: str, limits: dict[str, Any], max_actions: int, max_depth: int, env: Environment | None = None) -> int:
    """Run the chain and print it; the exit code is 0 only when every task FINISHED."""
    from faasctl.chain.report import chain_document, chain_text
    from faasctl.chain.runner import ChainOptions, run_chain_files
    from faasctl.cli.common import terminal, write_json

    options = ChainOptions(limits=limits, max_actions=max_actions, max_depth=max_depth)
    state = run_chain_files(engine, action, tasks_path=tasks, objects_dir=objects, results_path=action_results,
                            options=options)
    if fmt == "json":
        write_json(chain_document(state), env)
    else:
        terminal(env).stdout.write(chain_text(state))
    return state.exit_code()
