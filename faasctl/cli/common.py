"""What several verbs share: building an Engine from the environment, limit options, rendering to the
terminal ``Environment`` (never to ``sys.std*`` directly)."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from faasctl.engine import Engine, Settings, make_compile_notice
from faasctl.paths import StateDirs
from faasctl.result import Result

if TYPE_CHECKING:
    from faasctl.cli.environment import Environment


def limit_overrides(args: Any) -> dict[str, Any]:
    return {"timeout": args.timeout, "memory": args.memory, "fuel": args.fuel, "max_output": args.max_output}


def terminal(env: Environment | None) -> Environment:
    """``env``, or this process's terminal for callers that do not hand one over yet."""
    if env is not None:
        return env
    from faasctl.cli.environment import Environment

    return Environment.from_process()


def build_engine(args: Any = None, env: Environment | None = None, **extra: Any) -> Engine:
    """An engine for this process: state dirs from the environment, config file, compile notices."""
    env = terminal(env)
    dirs = StateDirs.from_environment()
    config = _load_config(args, dirs, env.cwd)
    def say(line: str) -> None:
        env.stderr.write(f"faasctl: {line}\n")

    notice = make_compile_notice(say) if env.stderr_isatty else None
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


def _load_config(args: Any, dirs: StateDirs, cwd: str) -> dict[str, Any]:
    """The config file's settings (see ``faasctl.config``); absent config costs nothing."""
    explicit = getattr(args, "config", None) if args else None
    try:
        from faasctl.config import load_config
    except ModuleNotFoundError:
        return {}
    return load_config(explicit, dirs, cwd)


def write_json(value: Any, env: Environment | None = None) -> None:
    """JSON on stdout: indented for a person at a terminal, one compact line for a pipe."""
    env = terminal(env)
    if env.stdout_isatty:
        env.stdout.write(json.dumps(value, indent=2, ensure_ascii=False) + "\n")
    else:
        env.stdout.write(json.dumps(value, ensure_ascii=False, separators=(",", ":")) + "\n")


def render_logs(logs: list[str], env: Environment | None = None) -> None:
    """Logs to stderr: on a terminal dimmed and prefixed, plain lines when redirected."""
    env = terminal(env)
    if not logs:
        return
    if env.stderr_color:
        text = "".join(f"\033[2m│\033[0m {line}\n" for entry in logs for line in entry.split("\n"))
    else:
        text = "".join(entry + "\n" for entry in logs)
    env.stderr.write(text)


def render_result(result: Result, fmt: str, quiet: bool, env: Environment | None = None) -> int:
    """Print a run as ``--format`` says and return its exit code."""
    from faasctl.errors import exit_code_for

    env = terminal(env)
    if fmt == "json":
        _to_stdout(env, lambda: write_json(result.to_dict(), env))
    else:
        if not quiet:
            render_logs(result.logs, env)
        if result.ok:
            _to_stdout(env, lambda: _write_result(env, result.result))
    if result.error is not None:
        if fmt != "json" or not quiet:
            env.error_line(f"{result.error.type}: {result.error.message}")
        return exit_code_for(result.error.type)
    return 0


def _to_stdout(env: Environment, write: Any) -> None:
    """A closed (``>&-``) or full (``>/dev/full``) stdout is one line and exit 2, not a crash; a reader
    that went away (``| head``) stays the BrokenPipeError that ``main`` treats as success."""
    from faasctl.errors import UsageError

    if env.stdout_closed:
        raise UsageError("cannot write the result: standard output is closed")
    try:
        write()
        env.stdout.flush()
    except BrokenPipeError:
        raise
    except OSError as exc:
        raise UsageError(f"cannot write the result to standard output: {exc.strerror or exc}") from None


def _write_result(env: Environment, value: Any) -> None:
    if value is None:
        return
    if isinstance(value, str):
        env.stdout.write(value + ("\n" if env.stdout_isatty and not value.endswith("\n") else ""))
    else:
        write_json(value, env)
    env.stdout.flush()
