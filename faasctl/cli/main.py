"""The ``faasctl`` command: argument parsing, dispatch, and the one place errors become exit codes.

argparse, not typer: a trivial typer command costs ~380 ms of start-up here, more than a whole run.
Each verb lives in its own module with ``add_parser`` and ``handle``; only the chosen verb's module
imports what it needs.
"""

from __future__ import annotations

import argparse
import difflib
import os
import sys
import time
from importlib import import_module

from faasctl import __version__
from faasctl.errors import EXIT_INTERRUPTED, FaasError, UsageError

# verb -> module under faasctl.cli; each module defines add_parser(subparsers) and handle(args).
COMMANDS = {
    "run": "run",
    "runtimes": "runtimes_cmd",
    "inspect": "inspect_cmd",
    "pull": "oci_cmd",
    "push": "oci_cmd",
    "cache": "cache_cmd",
    "serve": "serve_cmd",
    "test": "test_cmd",
    "bench": "bench_cmd",
    "completion": "completion_cmd",
    "flow": "flow_cmd",
    "worker": "worker_cmd",
}
# One-line summaries for the top-level help, so it lists every verb without importing its module.
SUMMARIES = {
    "run": "run a function once",
    "runtimes": "list the runtimes",
    "inspect": "show a module's imports, exports, ABI and capabilities",
    "pull": "pull a function from an OCI registry",
    "push": "push a .wasm function to an OCI registry",
    "cache": "list or prune the local caches",
    "serve": "serve functions over HTTP",
    "test": "run declarative test cases (*.faas.yaml)",
    "bench": "run a function repeatedly and print timing figures",
    "completion": "print the shell completion script",
    "flow": "run Conductor workflows offline (flow run FILE)",
    "worker": "run functions for Temporal or Conductor",
}


class Parser(argparse.ArgumentParser):
    """argparse with one-line errors that suggest the closest option or command."""

    def error(self, message: str) -> None:  # type: ignore[override]
        hint = _suggestion(self, message)
        raise UsageError(message, hint=hint)


def _suggestion(parser: argparse.ArgumentParser, message: str) -> str | None:
    words = message.replace(",", " ").replace("'", " ").split()
    if "unrecognized" in message:
        known = _all_options(parser)
        for word in words:
            if word.startswith("-"):
                close = difflib.get_close_matches(word.split("=")[0], known, n=1, cutoff=0.6)
                if close:
                    return f"did you mean {close[0]}?"
    if "invalid choice" in message:
        for word in words:
            close = difflib.get_close_matches(word, list(COMMANDS), n=1, cutoff=0.6)
            if close and word not in COMMANDS:
                return f"did you mean {close[0]!r}?"
    return None


def _all_options(parser: argparse.ArgumentParser) -> list[str]:
    """Option strings of the parser and, for the top-level parser, of the chosen subcommand."""
    options = []
    for action in parser._actions:
        options.extend(action.option_strings)
        if isinstance(action, argparse._SubParsersAction):
            chosen = next((a for a in sys.argv[1:] if a in action.choices), None)
            if chosen:
                options.extend(_all_options(action.choices[chosen]))
    return options


def _chosen_verb(argv: list[str]) -> str | None:
    """The verb of a command line: its first argument that is not an option."""
    return next((arg for arg in argv if not arg.startswith("-")), None)


def build_parser(only: str | None = None) -> Parser:
    """The whole parser, or (``only``) one with just that verb's options; the other verbs get
    argument-less stand-ins so top-level help and suggestions still know them. Building one verb
    instead of all keeps the other verbs' imports off the start-up path of ``faasctl run``."""
    parser = Parser(
        prog="faasctl",
        description="Run serverless functions (JavaScript, Python, Lua, WebAssembly) locally, sandboxed and offline.",
        epilog="example: faasctl run examples/hello.js -d '{\"name\":\"Ada\"}'",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"faasctl {__version__}")
    parser.add_argument("--install-completion", metavar="SHELL", nargs="?", const="auto",
                        help="install shell completion for bash, zsh or fish and exit")
    parser.add_argument("--show-completion", metavar="SHELL", nargs="?", const="auto",
                        help="print the completion script for bash, zsh or fish and exit")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=Parser)
    seen: set[str] = set()
    for verb, module_name in COMMANDS.items():
        if module_name in seen:
            continue
        if only is not None and COMMANDS.get(only) != module_name:
            sub.add_parser(verb, help=SUMMARIES.get(verb), add_help=False)
            continue
        seen.add(module_name)
        try:
            module = import_module(f"faasctl.cli.{module_name}")
        except ModuleNotFoundError as exc:
            if exc.name == f"faasctl.cli.{module_name}":
                continue  # a verb not built yet
            raise
        module.add_parser(sub)
        del verb
    return parser


def main(argv: list[str] | None = None) -> int:
    args_list = sys.argv[1:] if argv is None else argv
    try:
        parser = build_parser(only=_chosen_verb(args_list) or "")
        if not args_list:
            parser.print_help()
            return 0
        args = parser.parse_args(args_list)
        if args.install_completion or args.show_completion:
            from faasctl.cli.completion_cmd import handle_flags

            return handle_flags(args)
        if not args.command:
            parser.print_help()
            return 0
        return int(args.handler(args) or 0)
    except FaasError as exc:
        _error_line(exc.one_line())
        return exc.exit_code
    except KeyboardInterrupt:
        sys.stderr.write("faasctl: interrupted\n")
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        _silence_stdout()
        return 0
    except Exception as exc:  # the last resort: one line, the traceback in a file
        path = _write_traceback(exc)
        sys.stderr.write(f"faasctl: internal error: {type(exc).__name__}: {exc} (a bug in faasctl; "
                         f"traceback written to {path})\n")
        return 70


def _error_line(message: str) -> None:
    color = sys.stderr.isatty() and not os.environ.get("NO_COLOR")
    prefix = "\033[31mfaasctl: error:\033[0m" if color else "faasctl: error:"
    sys.stderr.write(f"{prefix} {message}\n")


def _silence_stdout() -> None:
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except OSError:
        pass


def _write_traceback(exc: BaseException) -> str:
    import tempfile
    import traceback

    from faasctl.paths import StateDirs

    text = "".join(traceback.format_exception(exc))
    try:
        directory = StateDirs.from_environment().cache / "crashes"
        directory.mkdir(parents=True, exist_ok=True)
        path = directory / f"crash-{time.strftime('%Y%m%d-%H%M%S')}-{os.getpid()}.txt"
        path.write_text(text, encoding="utf-8")
    except OSError:
        fd, name = tempfile.mkstemp(prefix="faasctl-crash-", suffix=".txt")
        with os.fdopen(fd, "w") as handle:
            handle.write(text)
        return name
    return str(path)


def entry() -> None:
    """The console script: ``main``, then an immediate exit. Tearing down the interpreter (and wasmtime's
    engine and modules with it) costs 25-35 ms of a 150 ms run and has nothing left to do: output is
    flushed here, the state on disk is written atomically, and worker processes exit on their own
    when their pipe closes."""
    code = main()
    try:
        sys.stdout.flush()
    except (OSError, ValueError, AttributeError):  # a reader gone, a full disk, stdout closed (None)
        pass
    try:
        sys.stderr.flush()
    except (BrokenPipeError, ValueError):
        pass
    os._exit(code)


if __name__ == "__main__":
    raise SystemExit(main())
