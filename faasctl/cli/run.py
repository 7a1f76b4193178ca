"""``faasctl run TARGET``: one run of a function, its result on stdout, its logs on stderr."""

from __future__ import annotations

import argparse
import os
import sys
import threading
from typing import Any

from faasctl.errors import UsageError

EXAMPLES = """examples:
  faasctl run examples/hello.js -d '{"name":"Ada"}'
  cat event.json | faasctl run handler.py | jq .total
  faasctl run f.js -p name=Ada -p n=3 --timeout 2s --memory 64MiB
  faasctl run gcd.wat --invoke gcd 6 27"""


def add_parser(sub: argparse._SubParsersAction) -> None:
    from faasctl.cli.common import add_input_options, add_limit_options

    parser = sub.add_parser("run", help="run a function once", epilog=EXAMPLES,
                            formatter_class=argparse.RawDescriptionHelpFormatter,
                            description="Run a function once: a .js/.mjs/.py/.lua/.wasm/.wat file, '-' (script "
                                        "on stdin, needs --runtime) or an oci:// reference.")
    parser.add_argument("target", help="function file, '-' or oci://REF")
    parser.add_argument("args", nargs="*", help="arguments: numbers for --invoke, argv for WASI programs")
    add_input_options(parser, "input (default: stdin when piped, else {})")
    parser.add_argument("--runtime", "-r", metavar="NAME", help="runtime to use (see faasctl runtimes)")
    parser.add_argument("--output-json", choices=["true", "false", "auto"], default="auto",
                        help="must the output be JSON (true), text (false), or either (auto)")
    parser.add_argument("--format", "-f", choices=["result", "json"], default="result",
                        help="print the result alone, or the whole JSON envelope")
    parser.add_argument("--quiet", "-q", action="store_true", help="hide the function's logs")
    parser.add_argument("--config", metavar="FILE", help="config file (default: ./faasctl.yaml, then user config)")
    add_limit_options(parser)
    wasm = parser.add_argument_group("webassembly")
    wasm.add_argument("--invoke", metavar="NAME", help="export to call (string or numeric ABI)")
    wasm.add_argument("--abi", choices=["wasi", "string", "core"], help="force the calling convention")
    wasm.add_argument("--wasi-args", choices=["json"], help="'json': pass the input as the only argv element")
    wasm.add_argument("--arg", action="append", default=[], metavar="ARG", help="extra argv for WASI programs")
    wasm.add_argument("--dir", action="append", default=[], metavar="HOST[:GUEST][:rw]", help="grant a directory")
    wasm.add_argument("--env", action="append", default=[], metavar="KEY=VALUE", help="grant an environment variable")
    parser.add_argument("--kv", metavar="PATH", help="SQLite file of the kv plugin")
    oci = parser.add_argument_group("oci")
    oci.add_argument("--pull", choices=["always", "missing", "never"], default="missing")
    oci.add_argument("--offline", action="store_true", help="use the local cache only")
    oci.add_argument("--insecure", action="store_true", help="allow plain HTTP to a non-loopback registry")
    add_temporal_options(parser)
    parser.set_defaults(handler=handle)
    _accept_intermixed(parser)


def add_temporal_options(parser: argparse.ArgumentParser) -> None:
    """``--temporal``: the same work on a Temporal worker (docs/worker.md); shared with ``flow run``."""
    group = parser.add_argument_group("temporal")
    group.add_argument("--temporal", metavar="HOST:PORT", help="run on a Temporal worker instead of here")
    group.add_argument("--task-queue", default="faasctl", metavar="Q", help="Temporal task queue (default: faasctl)")
    group.add_argument("--namespace", default="default", metavar="NS", help="Temporal namespace (default: default)")


def _accept_intermixed(parser: argparse.ArgumentParser) -> None:
    """Options and positional ARGS in any order (``gcd.wat --invoke gcd 6 27``, or wasmtime's
    ``--invoke gcd gcd.wat 6 27``): plain argparse binds ARGS right after TARGET and rejects later
    numbers as unrecognized. Re-entrancy guard: the intermixed parse calls parse_known_args itself."""

    class Intermixed(type(parser)):  # type: ignore[misc]
        _mixing = False

        def parse_known_args(self, args=None, namespace=None):  # noqa: ANN001, ANN202
            if self._mixing:
                return super().parse_known_args(args, namespace)
            self._mixing = True
            try:
                return self.parse_known_intermixed_args(args, namespace)
            finally:
                self._mixing = False

    parser.__class__ = Intermixed


def _read_stdin(read: Any) -> bytes | None:
    """Standard input through ``read`` (a capped reader), or None when it is a terminal or closed."""
    if sys.stdin is None or sys.stdin.isatty():
        return None
    try:
        return read(sys.stdin.buffer)
    except OSError:
        return None


def _read_script(stream: Any) -> bytes:
    from faasctl.files import TooLarge, read_stream_capped
    from faasctl.limits import MAX_FUNCTION_FILE, format_size

    try:
        return read_stream_capped(stream, MAX_FUNCTION_FILE)
    except TooLarge:
        raise UsageError(f"the script on standard input is larger than the {format_size(MAX_FUNCTION_FILE)} "
                         "cap on function files") from None


def max_input(args: argparse.Namespace) -> int:
    from faasctl.limits import DEFAULT_MAX_INPUT, parse_size

    value = getattr(args, "max_input", None)
    return DEFAULT_MAX_INPUT if value is None else parse_size(value)


def build_function_input(args: argparse.Namespace, stdin_used: bool) -> Any:
    from faasctl.inputs import build_input, read_input_file, read_input_stream

    cap = max_input(args)
    file_bytes = None
    if args.input == "-":
        if stdin_used:
            raise UsageError("standard input already holds the script; give the input with -i FILE or -d JSON")
        file_bytes = read_input_stream(sys.stdin.buffer, "standard input", cap)
    elif args.input:
        file_bytes = read_input_file(args.input, cap)
    stdin_bytes = None
    if file_bytes is None and args.data is None and not stdin_used:
        stdin_bytes = _read_stdin(lambda stream: read_input_stream(stream, "standard input", cap))
    return build_input(file_bytes=file_bytes, file_name=args.input, data=args.data, params=args.param,
                       stdin_bytes=stdin_bytes, text=args.text)


def handle(args: argparse.Namespace) -> int:
    from faasctl.cli.common import build_engine, limit_overrides, render_result
    from faasctl.engine import artifact_from_bytes
    from faasctl.output import output_mode
    from faasctl.runtimes.base import RunOptions

    oci = {"pull": args.pull, "offline": args.offline, "insecure": args.insecure}
    if args.target.startswith("oci://"):  # docker config dir and download progress, only when needed
        from faasctl.cli.oci_cmd import cli_oci_settings

        oci.update(cli_oci_settings())
    engine = build_engine(args, oci=oci)
    target: Any = args.target
    if target == "-":
        if not args.runtime:
            raise UsageError("a script on standard input needs --runtime", hint="for example: --runtime js")
        descriptor = engine.registry.get(args.runtime)
        script = _read_stdin(_read_script) or b""
        target = artifact_from_bytes("stdin" + descriptor.endings[0], script)
    function_input = build_function_input(args, stdin_used=args.target == "-")
    options = RunOptions(
        output_json=output_mode(args.output_json),
        invoke=args.invoke,
        args=tuple(args.args),
        abi=args.abi,
        wasi_args=args.wasi_args,
        dirs=tuple(args.dir),
        env=tuple(args.env),
        kv_path=args.kv,
    )
    if args.arg:
        options = options._replace(args=tuple(args.arg) + tuple(args.args))
    if args.temporal:
        from faasctl.worker.client import run_remotely

        result = run_remotely(engine, target, function_input, runtime=args.runtime, limits=limit_overrides(args),
                              options=options, address=args.temporal, namespace=args.namespace,
                              task_queue=args.task_queue)
        return render_result(result, args.format, args.quiet)
    result = _run_interruptibly(lambda: engine.run(target, function_input, runtime=args.runtime,
                                                   limits=limit_overrides(args), options=options))
    return render_result(result, args.format, args.quiet)


def _run_interruptibly(call: Any) -> Any:
    """Run in a worker thread so Ctrl-C is seen at once even while a guest is busy in native code."""
    box: dict[str, Any] = {}

    def work() -> None:
        try:
            box["value"] = call()
        except BaseException as exc:  # handed to the main thread
            box["error"] = exc

    worker = threading.Thread(target=work, name="faasctl-run", daemon=True)
    worker.start()
    try:
        while worker.is_alive():
            worker.join(0.25)
    except KeyboardInterrupt:
        sys.stderr.write("faasctl: interrupted\n")
        sys.stderr.flush()
        os._exit(130)
    if "error" in box:
        raise box["error"]
    return box["value"]
