"""What several verbs share: building an Engine from the environment, limit options, rendering."""

from __future__ import annotations

import argparse
import json
import os
import sys
from typing import Any

from faasctl.engine import Engine, Settings, make_compile_notice
from faasctl.paths import StateDirs
from faasctl.result import Result


def add_input_options(parser: argparse.ArgumentParser, title: str) -> None:
    """The input options every verb that runs a function shares (see ``faasctl.inputs``)."""
    source = parser.add_argument_group(title)
    source.add_argument("-i", "--input", metavar="FILE", help="JSON input file ('-' for stdin)")
    source.add_argument("-d", "--data", metavar="JSON", help="inline JSON input")
    source.add_argument("-p", "--param", metavar="KEY=VALUE", action="append", default=[],
                        help="set one key of an object input (VALUE as JSON when it parses)")
    source.add_argument("--text", action="store_true", help="take the input as a plain string")
    source.add_argument("--max-input", metavar="SIZE",
                        help="largest input read from a file or stdin (default 6MiB, Lambda's sync payload)")


def add_limit_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("limits")
    group.add_argument("--timeout", metavar="DURATION", help="wall-clock limit of one run (default 30s)")
    group.add_argument("--memory", metavar="SIZE", help="guest memory limit (default 256MiB)")
    group.add_argument("--fuel", metavar="N", help="instruction budget (default none)")
    group.add_argument("--max-output", metavar="SIZE", help="bytes of output, and of logs, kept (default 6MiB)")


def limit_overrides(args: argparse.Namespace) -> dict[str, Any]:
    return {"timeout": args.timeout, "memory": args.memory, "fuel": args.fuel, "max_output": args.max_output}


def stderr_is_terminal() -> bool:
    return sys.stderr.isatty()


def build_engine(args: argparse.Namespace | None = None, **extra: Any) -> Engine:
    """An engine for this process: state dirs from the environment, config file, compile notices."""
    dirs = StateDirs.from_environment()
    config = _load_config(args, dirs)
    notice = make_compile_notice(lambda line: sys.stderr.write(f"faasctl: {line}\n")) if stderr_is_terminal() else None
    settings = Settings(
        cache_dir=dirs.cache,
        data_dir=dirs.data,
        limits=config.get("limits", {}),
        runtime_dirs=tuple(config.get("runtime_dirs", ())),
        compile_notice=notice,
        oci={**config.get("oci", {}), **extra.pop("oci", {})},
        **extra,
    )
    return Engine(settings)


def _load_config(args: argparse.Namespace | None, dirs: StateDirs) -> dict[str, Any]:
    """The config file's settings (see ``faasctl.config``); absent config costs nothing."""
    explicit = getattr(args, "config", None) if args else None
    try:
        from faasctl.config import load_config
    except ModuleNotFoundError:
        return {}
    return load_config(explicit, dirs, os.getcwd())


def write_json(value: Any, stream: Any = None) -> None:
    stream = stream or sys.stdout
    if stream.isatty():
        stream.write(json.dumps(value, indent=2, ensure_ascii=False) + "\n")
    else:
        stream.write(json.dumps(value, ensure_ascii=False, separators=(",", ":")) + "\n")


def render_logs(logs: list[str]) -> None:
    """Logs to stderr: on a terminal dimmed and prefixed, plain lines when redirected."""
    if not logs:
        return
    if sys.stderr.isatty() and not os.environ.get("NO_COLOR"):
        text = "".join(f"\033[2m│\033[0m {line}\n" for entry in logs for line in entry.split("\n"))
    else:
        text = "".join(entry + "\n" for entry in logs)
    sys.stderr.write(text)


def render_result(result: Result, fmt: str, quiet: bool) -> int:
    """Print a run as ``--format`` says and return its exit code."""
    from faasctl.errors import exit_code_for

    if fmt == "json":
        _to_stdout(lambda: write_json(result.to_dict()))
    else:
        if not quiet:
            render_logs(result.logs)
        if result.ok:
            _to_stdout(lambda: _write_result(result.result))
    if result.error is not None:
        if fmt != "json" or not quiet:
            from faasctl.cli.main import _error_line

            _error_line(f"{result.error.type}: {result.error.message}")
        return exit_code_for(result.error.type)
    return 0


def _to_stdout(write: Any) -> None:
    """A closed (``>&-``) or full (``>/dev/full``) stdout is one line and exit 2, not a crash; a reader
    that went away (``| head``) stays the BrokenPipeError that ``main`` treats as success."""
    from faasctl.errors import UsageError

    if sys.stdout is None:
        raise UsageError("cannot write the result: standard output is closed")
    try:
        write()
        sys.stdout.flush()
    except BrokenPipeError:
        raise
    except OSError as exc:
        raise UsageError(f"cannot write the result to standard output: {exc.strerror or exc}") from None


def _write_result(value: Any) -> None:
    if value is None:
        return
    if isinstance(value, str):
        sys.stdout.write(value + ("\n" if sys.stdout.isatty() and not value.endswith("\n") else ""))
    else:
        write_json(value)
    sys.stdout.flush()
