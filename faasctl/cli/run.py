"""``faasctl run TARGET``: one run of a function, its result on stdout, its logs on stderr.

No ``from __future__ import annotations`` here: typer reads the declaration's annotations on every start, and
evaluating ~30 annotation strings costs ~5 ms more than reading evaluated ones (``faasctl run`` is measured).
"""

import os
import threading
from typing import TYPE_CHECKING, Annotated, Any

import typer

from faasctl.cli.options import (
    Abi,
    Args,
    ArgsCommand,
    Config,
    Data,
    Fuel,
    Input,
    Insecure,
    Invoke,
    MaxInput,
    MaxOutput,
    Memory,
    Namespace,
    Offline,
    OutputJson,
    Param,
    Runtime,
    Target,
    TaskQueue,
    Temporal,
    Text,
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

WASM = "webassembly"

EXAMPLES = """examples:
  faasctl run examples/hello.js -d '{"name":"Ada"}'
  cat event.json | faasctl run handler.py | jq .total
  faasctl run f.js -p name=Ada -p n=3 --timeout 2s --memory 64MiB
  faasctl run gcd.wat --invoke gcd 6 27"""


app = verb_app()


@app.command("run", cls=ArgsCommand, epilog=EXAMPLES, short_help="run a function once",
             help="Run a function once: a .js/.mjs/.py/.lua/.wasm/.wat file, '-' (script on stdin, needs --runtime) "
                  "or an oci:// reference.")
def run(
    ctx: typer.Context,
    target: Target,
    args: Args = None,
    input: Input = None,
    data: Data = None,
    param: Param = None,
    text: Text = False,
    max_input: MaxInput = None,
    runtime: Runtime = None,
    output_json: OutputJson = "auto",
    format: Annotated[str, typer.Option("--format", "-f", click_type=choice("result", "json"),
                                        help="print the result alone, or the whole JSON envelope")] = "result",
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="hide the function's logs")] = False,
    handler: Annotated[str | None, typer.Option(
        "--handler", metavar="NAME",
        help="JS/Python: the Lambda handler to call (default: exports.handler, handler or lambda_handler)")] = None,
    config: Config = None,
    timeout: Timeout = None,
    memory: Memory = None,
    fuel: Fuel = None,
    max_output: MaxOutput = None,
    invoke: Invoke = None,
    abi: Abi = None,
    wasi_args: Annotated[str | None, typer.Option("--wasi-args", click_type=choice("json"), rich_help_panel=WASM,
                                                  help="'json': pass the input as the only argv element")] = None,
    arg: Annotated[list[str] | None, typer.Option("--arg", metavar="ARG", rich_help_panel=WASM, show_default=False,
                                                  help="extra argv for WASI programs; repeatable")] = None,
    dir: Annotated[list[str] | None, typer.Option("--dir", metavar="HOST[:GUEST][:rw]", rich_help_panel=WASM,
                                                  show_default=False, autocompletion=complete_dir,
                                                  help="grant a directory; repeatable")] = None,
    env: Annotated[list[str] | None, typer.Option("--env", metavar="KEY=VALUE", rich_help_panel=WASM,
                                                  show_default=False,
                                                  help="grant an environment variable; repeatable")] = None,
    kv: Annotated[str | None, typer.Option("--kv", metavar="PATH", autocompletion=complete_path,
                                           help="SQLite file of the kv plugin")] = None,
    pull: Annotated[str, typer.Option("--pull", click_type=choice("always", "missing", "never"), rich_help_panel="oci",
                                      help="when to pull an oci:// target")] = "missing",
    offline: Offline = False,
    insecure: Insecure = False,
    ndjson: Annotated[bool, typer.Option("--ndjson", help="one JSON input per line (stdin or -i FILE), one JSON "
                                                          "envelope per line out, in order")] = False,
    jobs: Annotated[int, typer.Option("--jobs", "-j", metavar="N",
                                      help="with --ndjson: run N records at once (output stays in input order)")] = 1,
    temporal: Temporal = None,
    task_queue: TaskQueue = "faasctl",
    temporal_namespace: Namespace = "default",
) -> int:
    return handle(namespace(locals()), ctx.obj)


def _read_script(stream: Any) -> bytes:
    from faasctl.files import TooLarge, read_stream_capped
    from faasctl.limits import MAX_FUNCTION_FILE, format_size

    try:
        return read_stream_capped(stream, MAX_FUNCTION_FILE)
    except TooLarge:
        raise UsageError(f"the script on standard input is larger than the {format_size(MAX_FUNCTION_FILE)} "
                         "cap on function files") from None


def max_input(args: Any) -> int:
    from faasctl.limits import DEFAULT_MAX_INPUT, parse_size

    value = getattr(args, "max_input", None)
    return DEFAULT_MAX_INPUT if value is None else parse_size(value)


def build_function_input(args: Any, env: "Environment", stdin_used: bool) -> Any:
    from faasctl.inputs import build_input, read_input_file, read_input_stream

    cap = max_input(args)

    def read_capped(stream: Any) -> bytes:
        return read_input_stream(stream, "standard input", cap)

    file_bytes = None
    if args.input == "-":
        if stdin_used:
            raise UsageError("standard input already holds the script; give the input with -i FILE or -d JSON")
        file_bytes = env.read_stdin(read_capped, terminal_too=True) or b""
    elif args.input:
        file_bytes = read_input_file(args.input, cap)
    stdin_bytes = None
    if file_bytes is None and args.data is None and not stdin_used:
        stdin_bytes = env.read_stdin(read_capped)
    return build_input(file_bytes=file_bytes, file_name=args.input, data=args.data, params=args.param or [],
                       stdin_bytes=stdin_bytes, text=args.text)


def function_spec(args: Any, script: bytes | None = None) -> Any:
    """The ``FunctionSpec`` that ``run`` and ``bench`` options describe (one mapping for both verbs)."""
    from faasctl.cli.common import limit_overrides
    from faasctl.spec import FunctionSpec

    return FunctionSpec.from_cli(
        args.target, runtime=args.runtime, code=script, limits=limit_overrides(args),
        output_json=args.output_json, invoke=args.invoke,
        args=(*(getattr(args, "arg", None) or ()), *(args.args or ())), abi=args.abi,
        wasi_args=getattr(args, "wasi_args", None), dirs=getattr(args, "dir", None) or (),
        env=getattr(args, "env", None) or (), kv=getattr(args, "kv", None), pull=getattr(args, "pull", None),
        handler=getattr(args, "handler", None))


def function_engine(args: Any, env: "Environment") -> Any:
    """The engine for ``run``/``bench``: OCI settings from the options, the docker config and download
    progress only when the target is an ``oci://`` reference."""
    from faasctl.cli.common import build_engine

    oci: dict[str, Any] = {"offline": bool(getattr(args, "offline", False)),
                           "insecure": bool(getattr(args, "insecure", False))}
    if args.target.startswith("oci://"):
        from faasctl.cli.oci_cmd import cli_oci_settings

        oci.update(cli_oci_settings(env))
    return build_engine(args, env, oci=oci)


def handle(args: Any, env: "Environment") -> int:
    from faasctl.cli.common import render_result

    script = (env.read_stdin(_read_script) or b"") if args.target == "-" and args.runtime else None
    spec = function_spec(args, script)
    engine = function_engine(args, env)
    if spec.runtime:
        engine.registry.get(spec.runtime)  # an unknown --runtime before reading any input
    if getattr(args, "ndjson", False):
        if args.temporal:
            raise UsageError("--ndjson streams run here; --temporal runs one input on a worker")
        options = spec.options._replace(output_json=spec.output_json, handler=spec.handler)
        return _run_interruptibly(lambda: _stream(args, engine, options, env), env)
    if getattr(args, "jobs", 1) != 1:
        raise UsageError("--jobs only applies to --ndjson streams")
    function_input = build_function_input(args, env, stdin_used=args.target == "-")
    if args.temporal:
        from faasctl.worker.client import run_remotely

        # an image stays a reference: a large module travels as its pinned digest, not inline
        target = spec.target if spec.image is not None else engine.artifact_for(spec)
        result = run_remotely(engine, target, function_input, runtime=spec.runtime,
                              limits=dict(spec.limits),
                              options=spec.options._replace(output_json=spec.output_json, handler=spec.handler),
                              address=args.temporal, namespace=args.temporal_namespace,
                              task_queue=args.task_queue, say=_terminal_notice(env))
        return render_result(result, args.format, args.quiet, env)
    with engine:
        result = run_interruptibly(lambda cancel: engine.run_spec(spec, function_input, cancel=cancel), env)
    return render_result(result, args.format, args.quiet, env)


def _terminal_notice(env: "Environment") -> Any:
    """Where ``--temporal`` names the workflow it started: stderr on a terminal, nowhere when piped (so the
    output stays exactly what the local path prints)."""
    if not env.stderr_isatty:
        return None

    def say(line: str) -> None:
        env.stderr.write(f"faasctl: {line}\n")
        env.stderr.flush()

    return say


def _stream(args: Any, engine: Any, options: Any, env: "Environment") -> int:
    from faasctl.cli.common import limit_overrides
    from faasctl.stream import StreamOptions, stream_command

    if args.data is not None:
        raise UsageError("--ndjson reads one input per line from standard input or -i FILE, not --data")
    settings = StreamOptions(runtime=args.runtime, limits=limit_overrides(args), options=options,
                             params=tuple(args.param or ()), text=args.text, jobs=args.jobs)
    return stream_command(engine, args.target, args.input, env.stdin, env.stdout, settings)


def run_interruptibly(call: Any, env: "Environment | None" = None) -> Any:
    """``call(cancel_token)`` in a worker thread, so Ctrl-C is seen at once even while a guest is busy in
    native code. Ctrl-C cancels the run (it ends as Interrupted, exit 130, and Lua workers are killed);
    a run that does not stop within a second, or a second Ctrl-C, exits 130 at once."""
    from faasctl.cancel import CancelToken
    from faasctl.errors import EXIT_INTERRUPTED

    token = CancelToken()
    box: dict[str, Any] = {}

    def work() -> None:
        try:
            box["value"] = call(token)
        except BaseException as exc:  # handed to the main thread
            box["error"] = exc

    worker = threading.Thread(target=work, name="faasctl-run", daemon=True)
    worker.start()
    try:
        while worker.is_alive():
            worker.join(0.25)
    except KeyboardInterrupt:
        from faasctl.cli.common import terminal

        stderr = terminal(env).stderr
        stderr.write("faasctl: interrupted\n")
        stderr.flush()
        token.cancel("interrupted")
        try:
            worker.join(1.0)
        except KeyboardInterrupt:
            pass
        os._exit(EXIT_INTERRUPTED)
    if "error" in box:
        raise box["error"]
    return box["value"]


def _run_interruptibly(call: Any, env: "Environment | None" = None) -> Any:
    """``call()`` as ``run_interruptibly`` runs it, for verbs that hold no cancel token."""
    return run_interruptibly(lambda _token: call(), env)
