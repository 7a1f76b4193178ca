"""``faasctl flow chain ACTION``: XINA-style lambda tasks on a local queue (spec section 10).

``add_chain_parser(flow_subparsers)`` adds ``chain`` under the ``flow`` verb; ``add_parser`` registers a
``flow`` verb holding only ``chain``, for as long as no other module provides ``flow``.
"""

from __future__ import annotations

import argparse

EXAMPLES = """examples:
  faasctl flow chain examples/xina/run-action.json --tasks examples/xina/tasks.yaml \\
      --objects /tmp/objects --action-results examples/xina/action-results.json
  faasctl flow chain run-action.json --format json | jq '.tasks[] | {name, status}'"""


def add_parser(sub: argparse._SubParsersAction) -> None:
    flow = sub.add_parser("flow", help="chained functions: XINA lambda-task chains", epilog=EXAMPLES,
                          formatter_class=argparse.RawDescriptionHelpFormatter, description="Chained functions.")
    flow_sub = flow.add_subparsers(dest="flow_command", metavar="COMMAND", parser_class=type(flow))
    flow_sub.required = True
    add_chain_parser(flow_sub)


def add_chain_parser(flow_sub: argparse._SubParsersAction) -> None:
    from faasctl.cli.common import add_limit_options

    parser = flow_sub.add_parser(
        "chain", help="run XINA-style lambda tasks on a local queue", epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Run the lambda tasks a XINA 'run' action starts, and the actions they queue through "
                    "the xina-queue function, on a local FIFO queue; print the task tree and the action log.")
    parser.add_argument("action", metavar="ACTION", help="JSON file holding a XINA run action")
    parser.add_argument("--tasks", metavar="TASKS.yaml", help="task names to function files "
                                                             "(default: tasks.yaml beside ACTION)")
    parser.add_argument("--objects", metavar="DIR", help="object directory of the s3 plugin (default: a temporary one)")
    parser.add_argument("--action-results", metavar="FILE", help="JSON object: action name -> its result")
    parser.add_argument("--format", "-f", choices=["result", "json"], default="result",
                        help="the task tree and action log as text, or one JSON object")
    parser.add_argument("--max-actions", metavar="N", type=_positive, default=1000,
                        help="stop a chain that queues more actions than this (default 1000)")
    parser.add_argument("--max-depth", metavar="N", type=_positive, default=16,
                        help="deepest nesting of RequestResponse invocations (default 16)")
    parser.add_argument("--config", metavar="FILE", help="config file (default: ./faasctl.yaml, then user config)")
    add_limit_options(parser)
    parser.set_defaults(handler=handle)


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if not 1 <= value <= 1_000_000:
        raise argparse.ArgumentTypeError(f"expected an integer from 1 to 1000000, got {text}")
    return value


def handle(args: argparse.Namespace) -> int:
    from faasctl.cli.common import build_engine, limit_overrides

    engine = build_engine(args)
    limits = {key: value for key, value in limit_overrides(args).items() if value is not None}
    return run(engine, args.action, tasks=args.tasks, objects=args.objects, action_results=args.action_results,
               fmt=args.format, limits=limits, max_actions=args.max_actions, max_depth=args.max_depth)


def run(engine, action: str, *, tasks: str | None, objects: str | None, action_results: str | None,  # noqa: ANN001
        fmt: str, limits: dict, max_actions: int, max_depth: int) -> int:
    """Run the chain and print it; the exit code is 0 only when every task FINISHED."""
    import sys

    from faasctl.chain.report import chain_document, chain_text
    from faasctl.chain.runner import ChainOptions, run_chain_files
    from faasctl.cli.common import write_json

    options = ChainOptions(limits=limits, max_actions=max_actions, max_depth=max_depth)
    state = run_chain_files(engine, action, tasks_path=tasks, objects_dir=objects, results_path=action_results,
                            options=options)
    if fmt == "json":
        write_json(chain_document(state))
    else:
        sys.stdout.write(chain_text(state))
    return state.exit_code()
