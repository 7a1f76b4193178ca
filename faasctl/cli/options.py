"""What every verb's typer declaration shares: the command classes, the options several verbs take, and
the small parsers of option values. Declarations only: no verb logic, nothing heavy imported.

Options are ``Annotated`` aliases, so a verb lists ``timeout: Timeout = None`` and gets the same flag, help
and panel everywhere; a verb's function collects its parameters into a namespace (``namespace(locals())``)
and hands it to the verb's plain ``handle(args, env)``.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace
from typing import Annotated, Any

import click
import typer
from typer.core import TyperCommand, TyperGroup

HELP_OPTIONS = {"help_option_names": ["-h", "--help"]}
ABIS = ("wasi", "string", "core")
_NUMBER = re.compile(r"^-(\d|\.\d)")


def verb_app() -> typer.Typer:
    """The typer app a verb module declares its command(s) on."""
    return typer.Typer(add_completion=False, pretty_exceptions_enable=False, rich_markup_mode="rich",
                       context_settings=HELP_OPTIONS)


def namespace(values: dict[str, Any]) -> SimpleNamespace:
    """A verb's parameters as the attribute bag its ``handle`` reads (``ctx`` left out); repeatable
    options and ARGS become lists even when typer hands over None or a tuple."""
    return SimpleNamespace(**{k: list(v) if isinstance(v, tuple) else v for k, v in values.items() if k != "ctx"})


def choice(*values: str) -> click.Choice:
    return click.Choice(values)


def complete_path(incomplete: str) -> list[str]:
    """Files and directories starting with what is typed (directories end in /): typer's shell scripts
    ask the program for every word, so paths are completed here rather than by the shell."""
    directory, _, prefix = incomplete.rpartition("/")
    base = Path(directory or ".") if not incomplete.startswith("/") or directory else Path("/")
    try:
        entries = sorted(os.scandir(base), key=lambda e: e.name)
    except OSError:
        return []
    shown = f"{directory}/" if directory or incomplete.startswith("/") else ""
    return [shown + e.name + ("/" if e.is_dir() else "") for e in entries
            if e.name.startswith(prefix) and (prefix.startswith(".") or not e.name.startswith("."))]


def complete_dir(incomplete: str) -> list[str]:
    return [p for p in complete_path(incomplete) if p.endswith("/")]


def whole_number(name: str, minimum: int) -> Callable[[str], int]:
    """A parser of counts such as ``--runs``: one-line errors that say what is allowed."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except (TypeError, ValueError):
            raise click.BadParameter(f"invalid {name} {text!r}: use a whole number") from None
        if value < minimum:
            raise click.BadParameter(f"invalid {name} {text!r}: it must be {minimum} or more")
        return value

    return parse


class VerbatimExamples:
    """Rich help, with the examples (the epilog) printed as written: typer's rich help would join their
    lines into one paragraph."""

    epilog: str | None

    def format_help(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        epilog, self.epilog = self.epilog, None
        try:
            super().format_help(ctx, formatter)  # type: ignore[misc]
        finally:
            self.epilog = epilog
        print_examples(epilog)


class Command(VerbatimExamples, TyperCommand):
    """A verb's command."""


class Group(VerbatimExamples, TyperGroup):
    """A verb with sub-verbs (``cache ls``): an unknown sub-verb is faasctl's one line with a suggestion."""

    def resolve_command(self, ctx: click.Context, args: list[str]) -> tuple[Any, Any, list[str]]:
        name = args[0] if args else ""
        known = self.list_commands(ctx)
        if name and not name.startswith("-") and name not in known:
            import difflib

            from faasctl.errors import UsageError

            close = difflib.get_close_matches(name, known, n=1, cutoff=0.6)
            where = f" of faasctl {ctx.info_name}" if ctx.parent is not None else ""
            raise UsageError(f"unknown command {name!r}{where} (commands: {', '.join(known)})",
                             hint=f"did you mean {close[0]!r}?" if close else None)
        return super().resolve_command(ctx, args)


def print_examples(text: str | None) -> None:
    if text:
        click.echo("\n".join(f" {line}" if line else "" for line in text.splitlines()) + "\n")


class ArgsCommand(Command):
    """A verb with trailing ARGS that may be negative numbers (``--invoke add -5 3``), like wasmtime run.
    Click would read ``-5`` as an option; unknown options are let through into ARGS and every one that
    is not a number is refused afterwards, with the closest real option suggested."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs["context_settings"] = {**(kwargs.get("context_settings") or {}), "ignore_unknown_options": True}
        super().__init__(*args, **kwargs)

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        rest = super().parse_args(ctx, args)
        for param in self.params:
            if isinstance(param, click.Argument):
                value = ctx.params.get(param.name or "")
                for word in [value] if isinstance(value, str) else value or ():
                    if word.startswith("-") and len(word) > 1 and not _NUMBER.match(word):
                        raise click.NoSuchOption(word.split("=")[0], ctx=ctx)
        return rest


def suggest_option(command: click.Command, word: str) -> str | None:
    """The closest option of ``command`` to a misspelt one."""
    import difflib

    known = [opt for param in command.params
             for opt in [*getattr(param, "opts", []), *getattr(param, "secondary_opts", [])] if opt.startswith("-")]
    close = difflib.get_close_matches(word, known, n=1, cutoff=0.6)
    return close[0] if close else None


# -- options several verbs share ---------------------------------------------------------------------------

INPUT = "input"
LIMITS = "limits"

Target = Annotated[str, typer.Argument(metavar="TARGET", help="function file, '-' or oci://REF", show_default=False,
                                       autocompletion=complete_path)]
Args = Annotated[list[str] | None, typer.Argument(metavar="[ARGS]...", show_default=False,
                                                  help="arguments: numbers for --invoke, argv for WASI programs")]
Input = Annotated[str | None, typer.Option("--input", "-i", metavar="FILE", help="JSON input file ('-' for stdin)",
                                           rich_help_panel=INPUT, autocompletion=complete_path)]
Data = Annotated[str | None, typer.Option("--data", "-d", metavar="JSON", help="inline JSON input",
                                          rich_help_panel=INPUT)]
Param = Annotated[list[str] | None, typer.Option(
    "--param", "-p", metavar="KEY=VALUE", rich_help_panel=INPUT, show_default=False,
    help="set one key of an object input (VALUE as JSON when it parses); repeatable")]
Text = Annotated[bool, typer.Option("--text", help="take the input as a plain string", rich_help_panel=INPUT)]
MaxInput = Annotated[str | None, typer.Option(
    "--max-input", metavar="SIZE", rich_help_panel=INPUT,
    help="largest input read from a file or stdin (default 6MiB, Lambda's sync payload)")]
Runtime = Annotated[str | None, typer.Option("--runtime", "-r", metavar="NAME",
                                             help="runtime to use (see faasctl runtimes)")]
OutputJson = Annotated[str, typer.Option("--output-json", click_type=choice("true", "false", "auto"),
                                         help="must the output be JSON (true), text (false), or either (auto)")]
Config = Annotated[str | None, typer.Option("--config", metavar="FILE", autocompletion=complete_path,
                                            help="config file (default: ./faasctl.yaml, then user config)")]
Invoke = Annotated[str | None, typer.Option("--invoke", metavar="NAME", help="export to call (string or numeric ABI)",
                                            rich_help_panel="webassembly")]
Abi = Annotated[str | None, typer.Option("--abi", click_type=choice(*ABIS), help="force the calling convention",
                                         rich_help_panel="webassembly")]
Timeout = Annotated[str | None, typer.Option("--timeout", metavar="DURATION", rich_help_panel=LIMITS,
                                             help="wall-clock limit of one run (default 30s)")]
Memory = Annotated[str | None, typer.Option("--memory", metavar="SIZE", rich_help_panel=LIMITS,
                                            help="guest memory limit (default 256MiB)")]
Fuel = Annotated[str | None, typer.Option("--fuel", metavar="N", rich_help_panel=LIMITS,
                                          help="instruction budget (default none)")]
MaxOutput = Annotated[str | None, typer.Option("--max-output", metavar="SIZE", rich_help_panel=LIMITS,
                                               help="bytes of output, and of logs, kept (default 6MiB)")]
Offline = Annotated[bool, typer.Option("--offline", help="use the local OCI cache only", rich_help_panel="oci")]
Insecure = Annotated[bool, typer.Option("--insecure", help="allow plain HTTP to a non-loopback registry",
                                        rich_help_panel="oci")]
# --temporal: the same work on `faasctl worker temporal` processes (docs/worker.md).
Temporal = Annotated[str | None, typer.Option("--temporal", metavar="HOST:PORT", rich_help_panel="temporal",
                                              help="run on a Temporal worker instead of here")]
TaskQueue = Annotated[str, typer.Option("--task-queue", metavar="Q", rich_help_panel="temporal",
                                        help="Temporal task queue")]
Namespace = Annotated[str, typer.Option("--namespace", metavar="NS", rich_help_panel="temporal",
                                        help="Temporal namespace")]
