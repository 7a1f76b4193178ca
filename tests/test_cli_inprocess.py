"""The CLI in process: ``main(argv, env)`` with an ``Environment`` over in-memory streams, so stdout/stderr
separation, tty-dependent rendering and exit codes are checked without starting a process per case."""

from __future__ import annotations

import json
from pathlib import Path

from conftest import EXAMPLES

from faasctl.cli.environment import Environment
from faasctl.cli.main import main

HELLO = str(EXAMPLES / "hello.js")


def cli(*argv: str, stdin: bytes | None = None, tty: bool = False, **environ: str) -> tuple[int, str, str]:
    import os

    env = Environment.for_test(stdin, tty=tty, environ={**os.environ, **environ})
    env.no_color = bool(environ.get("NO_COLOR"))
    code = main(list(argv), env)
    return code, env.stdout.getvalue(), env.stderr.getvalue()  # type: ignore[union-attr]


def test_run_writes_the_result_to_stdout_and_logs_to_stderr() -> None:
    code, out, err = cli("run", HELLO, "-d", '{"name":"Ada"}')
    assert (code, out, err) == (0, '{"greeting":"Hello, Ada!"}\n', "greeting Ada\n")


def test_run_reads_piped_input_but_not_a_terminal() -> None:
    assert cli("run", HELLO, stdin=b'{"name":"Bo"}')[1] == '{"greeting":"Hello, Bo!"}\n'
    assert cli("run", HELLO)[1] == '{"greeting":"Hello, world!"}\n'  # stdin a terminal: input {}


def test_run_a_script_from_stdin() -> None:
    code, out, _ = cli("run", "-", "--runtime", "js", "-d", "[2,3]", stdin=b"return $[0] * $[1]")
    assert (code, out) == (0, "6\n")
    code, _, err = cli("run", "-", stdin=b"return 1")
    assert code == 2
    assert err == "faasctl: error: a script on standard input needs --runtime (for example: --runtime js)\n"


def test_a_terminal_gets_indented_json_and_a_coloured_error() -> None:
    code, out, _ = cli("run", HELLO, "-q", tty=True)
    assert code == 0 and out == '{\n  "greeting": "Hello, world!"\n}\n'
    script = b"console.log('a log'); throw new Error('no')"
    code, _, err = cli("run", "-", "--runtime", "js", stdin=script, tty=True)
    assert code == 1 and err.startswith("\033[2m│\033[0m a log\n")
    assert err.endswith("\033[31mfaasctl: error:\033[0m FunctionError: Error: no\n")
    code, _, err = cli("run", "-", "--runtime", "js", stdin=script, tty=True, NO_COLOR="1")
    assert code == 1 and err.startswith("a log\n") and "\033" not in err


def test_run_failures_keep_their_exit_codes(tmp_path: Path) -> None:
    spin = tmp_path / "spin.js"
    spin.write_text("while (true) {}")
    code, out, err = cli("run", str(spin), "--timeout", "100ms")
    assert code == 3 and out == "" and err.startswith("faasctl: error: Timeout: ")
    code, out, _ = cli("run", str(spin), "--timeout", "100ms", "--format", "json")
    assert code == 3 and json.loads(out)["error"]["type"] == "Timeout"


def test_usage_errors_are_one_line_with_exit_2() -> None:
    assert cli("run", HELLO, "--timout", "2s")[::2] == (2, "faasctl: error: no such option: --timout "
                                                           "(did you mean --timeout?)\n")
    from faasctl.cli.main import COMMANDS  # every verb, in order: new verbs must not break this test

    assert cli("runn")[::2] == (2, f"faasctl: error: unknown command 'runn' (commands: {', '.join(COMMANDS)}) "
                                   "(did you mean 'run'?)\n")
    assert cli("run")[::2] == (2, "faasctl: error: missing argument TARGET of faasctl run\n")
    assert cli("cache", "lss")[::2] == (2, "faasctl: error: unknown command 'lss' of faasctl cache (commands: ls, "
                                           "prune) (did you mean 'ls'?)\n")
    assert cli("run", HELLO, "--format", "xml")[::2] == (
        2, "faasctl: error: --format: 'xml' is not one of 'result', 'json'\n")
    assert cli("bench", HELLO, "-n", "0")[::2] == (
        2, "faasctl: error: --runs: invalid runs '0': it must be 1 or more\n")
    assert cli("test", "-j", "-1")[::2] == (2, "faasctl: error: --jobs: invalid job count '-1': it must be 0 or more\n")
    assert cli("run", "no-such.js")[::2] == (2, "faasctl: error: no such file: no-such.js\n")


def test_negative_numbers_are_arguments_not_options(tmp_path: Path) -> None:
    module = tmp_path / "sub.wat"
    module.write_text('(module (func (export "sub") (param i32 i32) (result i32) local.get 0 local.get 1 i32.sub))')
    assert cli("run", str(module), "--invoke", "sub", "-5", "3")[:2] == (0, "-8\n")
    assert cli("run", "--invoke", "sub", str(module), "7", "-2")[:2] == (0, "9\n")  # wasmtime's order
    code, _, err = cli("run", str(module), "--invoke", "sub", "-x", "3")
    assert code == 2 and err == "faasctl: error: no such option: -x\n"
    code, _, err = cli("run", "--timout=2s", str(module))  # before TARGET, would be taken for it
    assert code == 2 and err == "faasctl: error: no such option: --timout (did you mean --timeout?)\n"


def test_runtimes_and_test_list_write_to_the_environment() -> None:
    code, out, _ = cli("runtimes", "--format", "json")
    assert code == 0 and {"js", "python", "lua", "wasm"} <= {row["name"] for row in json.loads(out)}
    code, out, _ = cli("test", str(EXAMPLES / "hello.faas.yaml"), "--list")
    assert code == 0 and "hello.faas.yaml::greets the named person" in out


def test_version_and_completion() -> None:
    from faasctl import __version__

    assert cli("--version")[:2] == (0, f"faasctl {__version__}\n")
    code, out, _ = cli("completion", "bash")
    assert code == 0 and "complete -o default -F _faasctl_completion faasctl" in out


def test_a_verb_still_declared_with_argparse_runs_through_the_bridge(monkeypatch) -> None:
    import sys
    import types

    from faasctl.cli import main as cli_main

    module = types.ModuleType("faasctl.cli.legacy_cmd")

    def add_parser(sub) -> None:
        parser = sub.add_parser("legacy", help="an argparse verb", description="Repeat a word.")
        parser.add_argument("word")
        parser.add_argument("--times", type=int, default=1)
        parser.set_defaults(handler=lambda args: print(args.word * args.times) or 0)

    module.add_parser = add_parser  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "faasctl.cli.legacy_cmd", module)
    monkeypatch.setitem(cli_main.COMMANDS, "legacy", "legacy_cmd")
    monkeypatch.setitem(cli_main.SUMMARIES, "legacy", "an argparse verb")
    code, _, err = cli("legacy", "--times", "2", "ab")
    assert (code, err) == (0, "")
    code, _, err = cli("legacy", "ab", "--tims", "2")
    assert code == 2 and err == "faasctl: error: unrecognized arguments: --tims 2 (did you mean --times?)\n"
    code, out, _ = cli("legacy", "--help")
    assert code == 0 and "Repeat a word." in out


def test_a_closed_stdout_is_one_line_and_exit_2() -> None:
    import io

    env = Environment(io.BytesIO(), None, io.StringIO(), stdin_isatty=True)
    assert main(["run", HELLO, "-q"], env) == 2
    assert env.stderr.getvalue() == "faasctl: error: cannot write the result: standard output is closed\n"


def test_piped_input_is_capped_by_max_input() -> None:
    code, out, err = cli("run", HELLO, "--max-input", "1KiB", stdin=b'{"name":"' + b"x" * 2048 + b'"}')
    assert code == 2 and out == "" and "1KiB" in err and err.count("\n") == 1
    assert cli("run", HELLO, "--max-input", "1KiB", stdin=b'{"name":"Al"}')[:2] == (0, '{"greeting":"Hello, Al!"}\n')
