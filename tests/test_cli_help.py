"""The command line helps: every verb's --help shows an example, errors suggest the fix."""

from __future__ import annotations

import argparse

import pytest
from conftest import EXAMPLES, run_cli

from faasctl.cli.main import build_parser


def verbs() -> dict[str, argparse.ArgumentParser]:
    parser = build_parser()
    action = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return dict(action.choices)


def test_top_level_help_shows_an_example() -> None:
    assert "example" in build_parser().format_help()


@pytest.mark.parametrize("verb", sorted(verbs()))
def test_every_verb_help_shows_an_example(verb: str) -> None:
    text = verbs()[verb].format_help()
    assert "example" in text.lower(), f"faasctl {verb} --help has no example"
    assert f"faasctl {verb}" in text.split("example", 1)[1], f"faasctl {verb} --help: the example does not use it"


def test_help_through_the_installed_command() -> None:
    result = run_cli("test", "--help")
    assert result.code == 0 and "faasctl test examples -j 4 --junit report.xml" in result.stdout
    assert run_cli("bench", "-h").stdout.count("faasctl bench") >= 2


def test_unknown_runtime_lists_the_known_ones() -> None:
    result = run_cli("run", str(EXAMPLES / "hello.js"), "--runtime", "jss")
    assert result.code == 2
    from faasctl.registry import Registry

    known = ", ".join(Registry.load().names())
    assert f"unknown runtime 'jss' (known runtimes: {known})" in result.stderr


def test_misspelt_option_suggests_the_closest() -> None:
    result = run_cli("run", str(EXAMPLES / "hello.js"), "--timout", "2s")
    assert result.code == 2 and "did you mean --timeout?" in result.stderr
    result = run_cli("test", "--junti", "x.xml")
    assert result.code == 2 and "did you mean --junit?" in result.stderr


def test_misspelt_command_suggests_the_closest() -> None:
    result = run_cli("tset")
    assert result.code == 2 and "did you mean 'test'?" in result.stderr
    assert "Traceback" not in result.stderr
