"""A verb still declared argparse-style (``add_parser(sub)`` and ``handle(args)``) as a click command, so
verbs written before the CLI moved to typer keep working until they are re-declared (see the docstring of
``faasctl.cli.main``). Its options are parsed by argparse; its errors are faasctl's one line."""

from __future__ import annotations

import argparse
import difflib
from types import ModuleType
from typing import Any

import click

from faasctl.errors import UsageError


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        hint = None
        if "unrecognized" in message:
            known = [s for action in self._actions for s in action.option_strings]
            for word in message.replace(",", " ").split():
                close = difflib.get_close_matches(word.split("=")[0], known, n=1) if word.startswith("-") else []
                if close:
                    hint = f"did you mean {close[0]}?"
                    break
        raise UsageError(message, hint=hint)


def _parser(name: str, module: ModuleType) -> argparse.ArgumentParser:
    root = _Parser(prog="faasctl")
    sub = root.add_subparsers(dest="command", parser_class=_Parser)
    module.add_parser(sub)
    return sub.choices[name]


def bridge(name: str, module: ModuleType) -> click.Command:
    """``faasctl NAME ...`` handed to the module's argparse parser and its handler."""

    def invoke(ctx: click.Context, argv: tuple[str, ...]) -> Any:
        parser = _parser(name, module)
        if any(arg in ("-h", "--help") for arg in argv):
            ctx.obj.stdout.write(parser.format_help())
            return 0
        try:
            args = parser.parse_intermixed_args(list(argv))
        except TypeError:  # sub-verbs: argparse cannot intermix them
            args = parser.parse_args(list(argv))
        return int(args.handler(args) or 0)

    parser = _parser(name, module)
    return click.Command(name, callback=click.pass_context(invoke), help=parser.description,
                         short_help=getattr(parser, "help", None), add_help_option=False,
                         context_settings={"ignore_unknown_options": True},
                         params=[click.Argument(["argv"], nargs=-1, type=click.UNPROCESSED)])
