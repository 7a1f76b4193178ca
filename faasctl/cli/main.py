"""The ``faasctl`` command: a typer app whose verbs load lazily, and the one place errors become exit codes.

Start-up is a feature (``faasctl run`` is measured against ``node -e``), so the root group imports only the
module of the verb on the command line; top-level help lists the verbs from ``SUMMARIES`` without importing
any. Usage errors are faasctl's one line (``faasctl: error: ... (did you mean --timeout?)``, exit 2), not
click's box; every other error goes through ``FaasError.exit_code`` (``faasctl.errors.ERROR_TABLE``).

Adding a verb (say ``faasctl flow run FILE``):

1. A module ``faasctl/cli/flow_cmd.py`` with the logic in a plain function, ``handle(args, env) -> int``:
   ``args`` holds the option values by name (``args.file``, ``args.jobs``), ``env`` is the terminal
   (``faasctl.cli.environment.Environment``: write to ``env.stdout``/``env.stderr``, read
   ``env.read_stdin()``, ask ``env.stderr_isatty``; never ``sys.std*``). Import heavy things inside it.
2. In the same module, the declaration::

       from faasctl.cli.options import Command, Config, Timeout, namespace, verb_app
       app = verb_app()

       @app.command("flow", cls=Command, epilog=EXAMPLES, help="Run a Conductor workflow ...")
       def flow(ctx: typer.Context, file: Annotated[str, typer.Argument(help="workflow file")],
                jobs: Annotated[int, typer.Option("--jobs", "-j", parser=whole_number("jobs", 0))] = 1,
                timeout: Timeout = None, config: Config = None) -> int:
           return handle(namespace(locals()), ctx.obj)

   Sub-verbs (``flow run``/``flow chain``): a ``typer.Typer`` added with ``app.add_typer(sub, name="flow")``.
   An option another verb has too is an ``Annotated`` alias in ``faasctl/cli/options.py`` (``Input``,
   ``Data``, ``Param``, ``Timeout``...). argparse spellings map as: ``action="append"`` -> ``list[str] | None``,
   ``choices=`` -> ``click_type=choice(...)``, ``type=f`` -> ``parser=f`` raising ``click.BadParameter``,
   ``nargs="*"`` -> ``list[str] | None`` argument, ``store_true`` -> ``bool``, argument groups ->
   ``rich_help_panel``. Trailing ARGS that may be negative numbers: ``cls=ArgsCommand``.
3. One line in ``COMMANDS`` (verb -> module) and one in ``SUMMARIES`` below, then regenerate nothing:
   completion scripts ask the app at run time (``tests/test_completions.py`` keeps ``completions/`` current).
"""

from __future__ import annotations

import os
import sys
import time
from importlib import import_module
from typing import TYPE_CHECKING, Annotated, Any

import click
import typer

from faasctl import __version__
from faasctl.cli.options import Group
from faasctl.errors import EXIT_INTERNAL, EXIT_INTERRUPTED, FaasError, exit_code_for

if TYPE_CHECKING:
    from faasctl.cli.environment import Environment

# verb -> module under faasctl.cli; each module defines ``app``, a typer app holding that verb's command.
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
    "flow": "run Conductor workflows and XINA chains offline",
    "worker": "run functions for Temporal or Conductor",
}
DESCRIPTION = "Run serverless functions (JavaScript, Python, Lua, WebAssembly) locally, sandboxed and offline."
EXAMPLE = "example: faasctl run examples/hello.js -d '{\"name\":\"Ada\"}'"
COMPLETE_VAR = "_FAASCTL_COMPLETE"


class Verbs(Group):
    """The root group: verbs from ``COMMANDS``, each module imported the first time its verb is asked for."""

    _listing = False  # while top-level help is drawn: summaries only, no verb module imported

    def list_commands(self, ctx: click.Context) -> list[str]:
        return list(COMMANDS)

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        if name not in COMMANDS:
            return None
        if self._listing:
            return click.Command(name, help=SUMMARIES.get(name), short_help=SUMMARIES.get(name))
        return verb_command(name)

    def format_help(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        self._listing = True
        try:
            super().format_help(ctx, formatter)
        finally:
            self._listing = False


def verb_command(name: str) -> click.Command:
    """The click command of one verb, from the typer app of its module (or, for a module still declared
    argparse-style with ``add_parser``/``handle``, through ``faasctl.cli.argparse_bridge``)."""
    module = import_module(f"faasctl.cli.{COMMANDS[name]}")
    if not hasattr(module, "app") and hasattr(module, "add_parser"):
        from faasctl.cli.argparse_bridge import bridge

        return bridge(name, module)
    return typer.main.get_group(module.app).commands[name]


def _version(ctx: typer.Context, value: bool) -> None:
    if value:
        ctx.obj.stdout.write(f"faasctl {__version__}\n")
        raise typer.Exit()


def _completion_flag(show: bool) -> Any:
    def callback(ctx: click.Context, param: click.Parameter, value: str | None) -> None:
        if value is None or ctx.resilient_parsing:
            return
        from faasctl.cli.completion_cmd import install_or_show

        raise typer.Exit(install_or_show(value, show=show, env=ctx.obj))

    return callback


def root_app() -> typer.Typer:
    app = typer.Typer(cls=Verbs, add_completion=False, pretty_exceptions_enable=False, rich_markup_mode="rich",
                      invoke_without_command=True, context_settings={"help_option_names": ["-h", "--help"]})

    @app.callback(help=DESCRIPTION, epilog=EXAMPLE)
    def root(
        ctx: typer.Context,
        version: Annotated[bool, typer.Option("--version", is_eager=True, callback=_version,
                                              help="print the version and exit")] = False,
    ) -> None:
        if ctx.invoked_subcommand is None:
            click.echo(ctx.get_help())

    return app


def root_command() -> Verbs:
    group: Verbs = typer.main.get_group(root_app())  # type: ignore[assignment]
    # Options whose value may be left out (``--install-completion`` or ``--install-completion zsh``): plain
    # click options, as typer declares no optional values.
    for flag, show, text in (("--install-completion", False, "install shell completion for bash, zsh or fish "
                                                              "(default: $SHELL) and exit"),
                             ("--show-completion", True, "print the completion script for bash, zsh or fish "
                                                         "and exit")):
        group.params.insert(-1, click.Option([flag], metavar="[SHELL]", is_flag=False, flag_value="auto",
                                             expose_value=False, callback=_completion_flag(show), help=text,
                                             shell_complete=lambda *_: ["bash", "zsh", "fish"]))
    return group


def main(argv: list[str] | None = None, env: Environment | None = None) -> int:
    """Run one command line; returns the exit code. ``env`` is the terminal (default: this process's)."""
    from faasctl.cli.environment import Environment

    env = env or Environment.from_process()
    args = sys.argv[1:] if argv is None else list(argv)
    try:
        group = root_command()
        if env.environ.get(COMPLETE_VAR):
            return _complete(group, env)
        with group.make_context("faasctl", args or ["--help"], obj=env) as ctx:
            return int(group.invoke(ctx) or 0)
    except click.exceptions.Exit as exc:
        return exc.exit_code
    except click.UsageError as exc:
        env.error_line(usage_message(exc))
        return exit_code_for("UsageError")
    except FaasError as exc:
        env.error_line(exc.one_line())
        return exc.exit_code
    except (KeyboardInterrupt, click.Abort):
        env.stderr.write("faasctl: interrupted\n")
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        _silence_stdout(env)
        return 0
    except Exception as exc:  # the last resort: one line, the traceback in a file
        path = _write_traceback(exc)
        env.stderr.write(f"faasctl: internal error: {type(exc).__name__}: {exc} (a bug in faasctl; "
                         f"traceback written to {path})\n")
        return EXIT_INTERNAL


def usage_message(exc: click.UsageError) -> str:
    """click's usage error as faasctl's one line, with the closest option or value suggested."""
    if isinstance(exc, click.NoSuchOption):
        from faasctl.cli.options import suggest_option

        command = exc.ctx.command if exc.ctx else None
        close = suggest_option(command, exc.option_name) if command else None
        return f"no such option: {exc.option_name}" + (f" (did you mean {close}?)" if close else "")
    if isinstance(exc, click.MissingParameter) and exc.param is not None:
        kind = "argument" if isinstance(exc.param, click.Argument) else "option"
        name = exc.param.human_readable_name if kind == "argument" else max(exc.param.opts, key=len)
        return f"missing {kind} {name}" + (f" of faasctl {exc.ctx.info_name}" if exc.ctx else "")
    if isinstance(exc, click.BadParameter) and exc.param is not None:
        name = (exc.param.human_readable_name if isinstance(exc.param, click.Argument)
                else max(exc.param.opts, key=len))
        return f"{name}: {_sentence(exc.message)}"
    return _sentence(exc.format_message())


def _sentence(text: str) -> str:
    text = " ".join(text.split())
    return (text[:1].lower() + text[1:]).rstrip(".")


def _complete(group: click.Command, env: Environment) -> int:
    """Answer a completion request from the shell scripts typer generates (``completions/``)."""
    from typer.completion import completion_init, shell_complete

    completion_init()
    return shell_complete(group, {"obj": env}, "faasctl", COMPLETE_VAR, env.environ[COMPLETE_VAR])


def _error_line(message: str) -> None:
    """faasctl's one-line error on this process's stderr (for code not yet handed an ``Environment``)."""
    from faasctl.cli.common import terminal

    terminal(None).error_line(message)


def _silence_stdout(env: Environment) -> None:
    """A reader that went away (``| head``): point stdout at /dev/null so the final flush cannot fail."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, env.stdout.fileno())
    except (OSError, ValueError, AttributeError):
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
