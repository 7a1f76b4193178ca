"""``faasctl run`` through the installed console script: input sources, stdout/stderr, exit codes."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from conftest import EXAMPLES, run_cli

HELLO = str(EXAMPLES / "hello.js")


def test_hello_with_inline_data():
    result = run_cli("run", HELLO, "-d", '{"name":"Ada"}')
    assert result.code == 0
    assert json.loads(result.stdout) == {"greeting": "Hello, Ada!"}
    assert result.stderr == "greeting Ada\n"  # logs on stderr only


def test_input_file_stdin_and_params(tmp_path):
    data = tmp_path / "data.json"
    data.write_text('{"name": "Bo"}')
    assert run_cli("run", HELLO, "-i", str(data)).json() == {"greeting": "Hello, Bo!"}
    assert run_cli("run", HELLO, input='{"name": "Cy"}').json() == {"greeting": "Hello, Cy!"}
    assert run_cli("run", HELLO, "-i", "-", input='{"name": "Di"}').json() == {"greeting": "Hello, Di!"}
    assert run_cli("run", HELLO, "-d", '{"name":"x"}', "-p", "name=Ed").json() == {"greeting": "Hello, Ed!"}
    assert run_cli("run", HELLO, input="").json() == {"greeting": "Hello, world!"}  # empty stdin: no input


def test_params_parse_json_values(tmp_path):
    script = tmp_path / "types.js"
    script.write_text("return Object.fromEntries(Object.entries($).map(([k, v]) => [k, typeof v]))")
    result = run_cli("run", str(script), "-p", "name=Ada", "-p", "n=3", "-p", "flag=true", "-p", "list=[1]")
    assert result.json() == {"name": "string", "n": "number", "flag": "boolean", "list": "object"}


def test_text_input(tmp_path):
    script = tmp_path / "upper.js"
    script.write_text("return $.toUpperCase()")
    result = run_cli("run", str(script), "--text", input="quiet words\n")
    assert result.code == 0 and result.stdout == "QUIET WORDS\n"


def test_script_on_stdin_needs_runtime():
    result = run_cli("run", "-", "--runtime", "js", "-d", "[1,2]", input="return $.length")
    assert result.code == 0 and result.stdout.strip() == "2"
    missing = run_cli("run", "-", input="return 1")
    assert missing.code == 2 and "--runtime" in missing.stderr


def test_format_json_envelope():
    result = run_cli("run", HELLO, "-d", '{"name":"Ada"}', "--format", "json")
    envelope = result.json()
    assert set(envelope) == {"ok", "result", "output_type", "logs", "error", "stats", "runtime", "function"}
    assert set(envelope["stats"]) == {"duration_ms", "memory_peak_bytes", "fuel_used", "output_bytes",
                                      "cold_start_ms"}
    assert envelope["ok"] is True and envelope["logs"] == ["greeting Ada"] and envelope["runtime"] == "js"
    assert envelope["function"] == "hello.js" and envelope["output_type"] == "json"
    assert result.stderr == ""


def test_output_json_modes(tmp_path):
    script = tmp_path / "obj.js"
    script.write_text("return {a: 1}")
    assert run_cli("run", str(script), "--output-json", "false", "--format", "json").json()["result"] == '{"a":1}'
    text = tmp_path / "text.js"
    text.write_text("return 'hello'")
    bad = run_cli("run", str(text), "--output-json", "true")
    assert bad.code == 1 and "InvalidOutput" in bad.stderr and bad.stdout == ""


def test_quiet_hides_logs():
    result = run_cli("run", HELLO, "--quiet")
    assert result.code == 0 and result.stderr == ""


@pytest.mark.parametrize(("args", "code", "needle"), [
    (["run", "missing.js"], 2, "no such file: missing.js"),
    (["run", str(EXAMPLES)], 2, "is a directory"),
    (["run", HELLO, "-d", "{bad"], 2, "line 1 column 2"),
    (["run", HELLO, "-p", "novalue"], 2, "KEY=VALUE"),
    (["run", HELLO, "--timeout", "soon"], 2, "invalid duration"),
    (["run", HELLO, "--memory", "lots"], 2, "invalid size"),
    (["run", HELLO, "--runtime", "cobol"], 2, "known runtimes"),
    (["run", HELLO, "--timout", "1s"], 2, "did you mean --timeout"),
    (["rnu", HELLO], 2, "did you mean 'run'"),
    (["run", HELLO, "-i", "/nonexistent/in.json"], 2, "input file not found"),
])
def test_usage_errors_are_one_line_exit_2(args, code, needle, tmp_path):
    result = run_cli(*args, cwd=tmp_path)
    assert result.code == code, result.stderr
    assert needle in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1 and "Traceback" not in result.stderr


def test_unknown_ending_suggests_runtime(tmp_path):
    odd = tmp_path / "fn.coffee"
    odd.write_text("x")
    result = run_cli("run", str(odd))
    assert result.code == 2 and "--runtime" in result.stderr and "js" in result.stderr


def test_unreadable_file(tmp_path):
    secret = tmp_path / "secret.js"
    secret.write_text("return 1")
    secret.chmod(0)
    result = run_cli("run", str(secret))
    if result.code == 0:  # running as root reads it anyway; then the run itself must be correct
        assert result.stdout.strip() == "1"
    else:
        assert result.code == 2 and "permission denied" in result.stderr


@pytest.mark.parametrize(("source", "options", "code", "error_type"), [
    ("throw new Error('x')", [], 1, "FunctionError"),
    ("let = ;", [], 1, "FunctionError"),
    ("while (true) {}", ["--timeout", "300ms"], 3, "Timeout"),
    ("const a = []; while (true) a.push('x'.repeat(1000));", ["--memory", "32MiB"], 4, "MemoryLimit"),
    ("let i = 0; while (true) i++", ["--fuel", "1000000"], 5, "FuelExhausted"),
    ("while (true) print('x')", ["--max-output", "4KiB"], 6, "OutputLimit"),
])
def test_run_failures_map_to_exit_codes(tmp_path, source, options, code, error_type):
    script = tmp_path / "f.js"
    script.write_text(source)
    result = run_cli("run", str(script), *options)
    assert result.code == code
    assert f"faasctl: error: {error_type}" in result.stderr
    assert result.stdout == ""
    envelope = run_cli("run", str(script), *options, "--format", "json")
    assert envelope.code == code and envelope.json()["error"]["type"] == error_type


def test_python_hello_through_cli(tmp_path):
    script = tmp_path / "h.py"
    script.write_text("log('log')\nprint('print\\n', end='')\nreturn 'result'\n")
    result = run_cli("run", str(script))
    assert result.code == 0 and result.stdout == "print\nresult" and result.stderr == "log\n"


HEAVY = ("wasmtime", "lupa", "yaml", "rich", "starlette", "uvicorn")
IMPORT_PROBE = """
import contextlib, io, sys
from faasctl.cli.main import main
for argv in {argvs!r}:
    with contextlib.redirect_stdout(io.StringIO()):
        try:
            main(argv)
        except SystemExit:
            pass
print("LOADED", [m for m in {heavy!r} if m in sys.modules])
"""


def _loaded_after(*argvs: list[str], heavy: tuple[str, ...] = HEAVY) -> str:
    code = IMPORT_PROBE.format(argvs=list(argvs), heavy=heavy)
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60,
                          stdin=subprocess.DEVNULL)
    return proc.stdout.strip().splitlines()[-1] if proc.stdout.strip() else proc.stderr[-500:]


def test_help_and_runtimes_do_not_import_engines():
    assert _loaded_after(["runtimes", "--format", "json"]) == "LOADED []"
    no_rich = tuple(m for m in HEAVY if m != "rich")  # help is drawn with rich
    assert _loaded_after(["--help"], ["run", "--help"], heavy=no_rich) == "LOADED []"


OTHER_VERBS = ("faasctl.cli.serve_cmd", "faasctl.cli.test_cmd", "faasctl.cli.bench_cmd", "faasctl.cli.oci_cmd",
               "faasctl.cli.inspect_cmd", "faasctl.cli.cache_cmd", "faasctl.cli.completion_cmd", "pydantic")


def test_run_js_does_not_import_lupa_or_yaml_or_rich_or_other_verbs():
    assert _loaded_after(["run", HELLO, "-q"], heavy=HEAVY[1:] + OTHER_VERBS) == "LOADED []"


def _run_with_terminal_stderr(args: list[str], home: str) -> tuple[int, str, str]:
    """Run the CLI with stderr on a pseudo-terminal (as in an interactive shell) and stdout piped."""
    import os
    import pty

    primary, secondary = pty.openpty()
    exe = [sys.executable, "-m", "faasctl"]
    proc = subprocess.Popen([*exe, *args], stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=secondary,
                            env={**os.environ, "FAASCTL_HOME": home, "NO_COLOR": "1"})
    os.close(secondary)
    chunks = []
    while True:
        try:
            data = os.read(primary, 4096)
        except OSError:  # the other side closed
            break
        if not data:
            break
        chunks.append(data)
    stdout = proc.stdout.read().decode()
    code = proc.wait(timeout=120)
    os.close(primary)
    return code, stdout, b"".join(chunks).decode("utf-8", "replace")


def test_first_run_shows_the_compile_on_a_terminal_only(tmp_path):
    code, stdout, stderr = _run_with_terminal_stderr(["run", HELLO, "-q"], str(tmp_path / "home"))
    assert code == 0 and '"Hello, world!"' in stdout
    assert "compiling js runtime" in stderr and "compiled js runtime" in stderr
    code, _, stderr = _run_with_terminal_stderr(["run", HELLO, "-q"], str(tmp_path / "home"))
    assert code == 0 and "compiling" not in stderr  # cached now
    piped = run_cli("run", HELLO, "-q", env={"FAASCTL_HOME": str(tmp_path / "other")})
    assert piped.code == 0 and piped.stderr == ""  # no notice when stderr is not a terminal
