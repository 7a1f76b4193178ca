"""The command line helps: every verb's --help shows an example, errors suggest the fix."""

from __future__ import annotations

import pytest
from conftest import EXAMPLES, run_cli

from faasctl.cli.main import COMMANDS, SUMMARIES, main, verb_command
from faasctl.cli.options import Group


def help_text(capsys: pytest.CaptureFixture[str], *argv: str) -> str:
    """--help in process (typer's rich help prints to sys.stdout)."""
    assert main([*argv, "--help"]) == 0
    return capsys.readouterr().out


def test_top_level_help_shows_an_example_and_every_verb(capsys: pytest.CaptureFixture[str]) -> None:
    text = help_text(capsys)
    assert "example: faasctl run examples/hello.js" in text
    for verb, summary in SUMMARIES.items():
        assert verb in text and summary in text


def test_every_verb_has_a_summary() -> None:
    assert set(COMMANDS) == set(SUMMARIES)


@pytest.mark.parametrize("verb", sorted(COMMANDS))
def test_every_verb_help_shows_an_example(verb: str, capsys: pytest.CaptureFixture[str]) -> None:
    text = help_text(capsys, verb)
    assert "example" in text.lower(), f"faasctl {verb} --help has no example"
    assert f"faasctl {verb}" in text.split("example", 1)[1], f"faasctl {verb} --help: the example does not use it"


@pytest.mark.parametrize("verb", sorted(COMMANDS))
def test_every_option_and_argument_has_help(verb: str) -> None:
    command = verb_command(verb)
    commands = list(command.commands.values()) if isinstance(command, Group) else [command]
    for each in commands:
        for param in each.params:
            assert getattr(param, "help", None), f"faasctl {verb} {param.name}: no help text"


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
