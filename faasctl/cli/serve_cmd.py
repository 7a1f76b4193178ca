"""``faasctl serve``: the engine over HTTP (REST, WasmEngine and lua-experiments faces) on one SQLite store."""

from __future__ import annotations

import os
import socket
from pathlib import Path
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
    complete_dir,
    complete_path,
    namespace,
    verb_app,
)
from faasctl.errors import UsageError

if TYPE_CHECKING:
    from faasctl.cli.environment import Environment

EXAMPLES = """examples:
  faasctl serve                                   # http://127.0.0.1:8080, one worker per core
  FAASCTL_TOKEN=s3cret faasctl serve --port 9000 --workers 4 --queue 100
  curl -X PUT localhost:8080/v1/functions/hello -d '{"runtime":"js","code":"return `hi ${$.name}`"}'
  curl -X POST localhost:8080/v1/functions/hello/invoke -d '{"name":"Ada"}'"""



app = verb_app()
MAXIMA = "maxima (per-function limits are clamped to these)"


@app.command("serve", cls=Command, epilog=EXAMPLES, short_help="serve functions over HTTP",
             help="Serve deployed functions over HTTP: a REST API (/v1), the openEuler WasmEngine routes "
                  "(/function/...) and the lua-experiments routes (/actions...), persisted in one SQLite store.")
def serve(
    ctx: typer.Context,
    host: Annotated[str, typer.Option("--host", help="address to bind")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", help="port (0 picks a free one)")] = 8080,
    store: Annotated[str | None, typer.Option("--store", metavar="PATH", autocompletion=complete_path,
                                              help="SQLite store (default: server.sqlite in the data dir)")] = None,
    workers: Annotated[int | None, typer.Option("--workers", metavar="N",
                                                help="runs at once (default: one per core)")] = None,
    queue: Annotated[int, typer.Option("--queue", metavar="N",
                                       help="invocations waiting for a worker before 429")] = 64,
    token: Annotated[str | None, typer.Option("--token", show_default=False,
                                              help="bearer token required on every route but /healthz "
                                                   "(or FAASCTL_TOKEN)")] = None,
    retention: Annotated[str, typer.Option("--retention", metavar="DURATION",
                                           help="how long invocation results stay readable")] = "1h",
    max_body: Annotated[str, typer.Option("--max-body", metavar="SIZE", help="largest request body")] = "16MiB",
    allow_path: Annotated[list[str] | None, typer.Option(
        "--allow-path", metavar="DIR", show_default=False, autocompletion=complete_dir,
        help="let deploys name files under DIR on the server (repeatable; default: none)")] = None,
    processes: Annotated[int, typer.Option("--processes", metavar="N",
                                           help="server processes sharing the port and the store (one per "
                                                "core for the most throughput)")] = 1,
    log_level: Annotated[str, typer.Option("--log-level", click_type=choice("debug", "info", "warning", "error",
                                                                             "off"),
                                           help="server log on stderr: requests (debug), runs and events "
                                                "(info), failures (warning, error)")] = "info",
    max_connections: Annotated[int, typer.Option("--max-connections", metavar="N",
                                                 help="open connections per process before the oldest idle "
                                                      "ones are closed")] = 1000,
    header_timeout: Annotated[str, typer.Option("--header-timeout", metavar="DURATION",
                                                help="time a client has to send its request headers")] = "10s",
    body_timeout: Annotated[str, typer.Option("--body-timeout", metavar="DURATION",
                                              help="time a client has to send its request body (then 408)")]
    = "30s",
    config: Config = None,
    timeout: Timeout = None,
    memory: Memory = None,
    fuel: Fuel = None,
    max_output: MaxOutput = None,
    max_timeout: Annotated[str, typer.Option("--max-timeout", metavar="DURATION", rich_help_panel=MAXIMA,
                                             help="the longest timeout a function may ask for")]
    = "5m",
    max_memory: Annotated[str, typer.Option("--max-memory", metavar="SIZE", rich_help_panel=MAXIMA,
                                            help="the most memory a function may ask for")] = "1GiB",
    max_fuel: Annotated[str | None, typer.Option("--max-fuel", metavar="N", rich_help_panel=MAXIMA,
                                                 help="the most fuel a function may ask for (default none)")] = None,
    max_max_output: Annotated[str, typer.Option("--max-max-output", metavar="SIZE", rich_help_panel=MAXIMA,
                                                help="the largest --max-output a function may ask for")]
    = "64MiB",
) -> int:
    return handle(namespace(locals()), ctx.obj)


def _listen(host: str, port: int) -> socket.socket:
    if not 0 <= port <= 65535:
        raise UsageError(f"invalid --port {port}: use 0-65535")
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except socket.gaierror as exc:
        raise UsageError(f"cannot resolve --host {host}: {exc.strerror}") from None
    family, kind, proto, _, address = infos[0]
    sock = socket.socket(family, kind, proto)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind(address)
        sock.listen(1024)
    except OSError as exc:
        sock.close()
        raise UsageError(f"cannot listen on {host}:{port}: {exc.strerror}") from None
    sock.set_inheritable(True)
    return sock


def _settings(args: Any, env: Environment) -> tuple[Any, Any]:
    """The engine (server defaults and maxima applied) and the parsed server options."""
    from faasctl.cli.common import build_engine, limit_overrides
    from faasctl.engine import Engine
    from faasctl.limits import Limits, parse_duration, parse_size

    parsed = Limits().merged(timeout=args.max_timeout, memory=args.max_memory, fuel=args.max_fuel,
                             max_output=args.max_max_output)
    maxima = Limits(timeout=parsed.timeout, memory=parsed.memory, max_output=parsed.max_output,
                    fuel=parsed.fuel if args.max_fuel is not None else None)
    engine = build_engine(args, env, max_limits=maxima)
    defaults = {**engine.settings.limits, **{k: v for k, v in limit_overrides(args).items() if v is not None}}
    Limits().merged(**defaults)  # a bad default is a usage error now, not on the first request
    engine = Engine(_replaced(engine.settings, limits=defaults))
    workers = args.workers if args.workers is not None else (os.cpu_count() or 1)
    if workers < 1 or workers > 256:
        raise UsageError(f"invalid --workers {workers}: use 1-256")
    if args.queue < 0:
        raise UsageError(f"invalid --queue {args.queue}: use 0 or more")
    if not 1 <= args.processes <= 64:
        raise UsageError(f"invalid --processes {args.processes}: use 1-64")
    if not 16 <= args.max_connections <= 100_000:
        raise UsageError(f"invalid --max-connections {args.max_connections}: use 16-100000")
    options = {"workers": workers, "retention": parse_duration(args.retention), "max_body": parse_size(args.max_body),
               "header_timeout": parse_duration(args.header_timeout),
               "body_timeout": parse_duration(args.body_timeout)}
    return engine, options


def bearer_token(flag: str | None, environment: str | None) -> str | None:
    """The token from ``--token`` or ``FAASCTL_TOKEN``; an empty one is refused rather than taken to mean
    "no authentication" (a variable set from a missing secret must not open the server)."""
    for value, source in ((flag, "--token"), (environment, "FAASCTL_TOKEN")):
        if value is not None:
            if not value.strip():
                raise UsageError(f"{source} is empty", hint="give a token, or leave it unset to serve without one")
            return value
    return None


def _raise_file_limit(connections: int) -> None:
    """Room for ``connections`` sockets per process plus the store, pipes and Lua workers."""
    try:
        import resource

        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        wanted = connections + 256
        if soft != resource.RLIM_INFINITY and soft < wanted:
            resource.setrlimit(resource.RLIMIT_NOFILE, (min(wanted, hard), hard))
    except (ImportError, ValueError, OSError):
        pass


def _replaced(value: Any, **changes: Any) -> Any:
    """A copy with fields changed, whether the value is a NamedTuple or a dataclass."""
    if hasattr(value, "_replace"):
        return value._replace(**changes)
    import dataclasses

    return dataclasses.replace(value, **changes)


def handle(args: Any, env: Environment) -> int:
    from faasctl.paths import StateDirs
    from faasctl.server.runner import ServeConfig, serve

    token = bearer_token(args.token, env.environ.get("FAASCTL_TOKEN"))
    engine, options = _settings(args, env)
    store_path = Path(args.store) if args.store else StateDirs.from_environment().data / "server.sqlite"
    _raise_file_limit(args.max_connections)
    sock = _listen(args.host, args.port)
    config = ServeConfig(engine=engine, store_path=store_path, workers=options["workers"], queue=args.queue,
                         token=token, retention=options["retention"], max_body=options["max_body"],
                         allowed_paths=tuple(Path(p) for p in args.allow_path or ()), processes=args.processes,
                         log_level=args.log_level, max_connections=args.max_connections,
                         header_timeout=options["header_timeout"], body_timeout=options["body_timeout"])
    return serve(config, sock)
