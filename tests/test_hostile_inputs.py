"""``faasctl run`` against careless and hostile inputs: each ends with the spec's exit code, one clear
error line on stderr, nothing but the result on stdout, and no traceback."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import EXAMPLES, run_cli
from runners import run_source

from faasctl.errors import InputError, UsageError
from faasctl.inputs import FunctionInput, build_input
from faasctl.limits import MAX_DURATION, MAX_SIZE, parse_duration, parse_size
from faasctl.output import loads_strict, parse_output

BOM = b"\xef\xbb\xbf"


def _one_error_line(stderr: str) -> str:
    lines = [line for line in stderr.splitlines() if line.startswith("faasctl: error:")]
    assert len(lines) == 1, stderr
    assert "Traceback" not in stderr
    return lines[0]


# -- input ------------------------------------------------------------------------------------------


def test_number_overflowing_to_infinity_is_an_input_error(tmp_path):
    script = tmp_path / "echo.js"
    script.write_text("return $")
    for data in ('{"a": 1e999}', "-1E+400", "[" + "9" * 400 + ".5]"):
        result = run_cli("run", str(script), f"--data={data}")
        assert result.code == 2, (data, result)
        assert result.stdout == ""
        assert "too large" in _one_error_line(result.stderr)


def test_infinity_from_a_non_json_source_is_refused():
    with pytest.raises(InputError, match="NaN or infinity"):
        FunctionInput.of({"a": float("inf")})  # a YAML .inf in a test case, a server-side value
    assert FunctionInput.of({"a": 1.5e308}).json_text == '{"a":1.5e+308}'  # compact, as guests get it


def test_control_character_message_reads_once():
    with pytest.raises(InputError) as info:
        build_input(data='{"a": "\x00"}')
    assert "Invalid control character at line 1 column 8" in info.value.message


# -- output -----------------------------------------------------------------------------------------


def test_output_overflowing_to_infinity_is_text_not_invalid_json(tmp_path):
    script = tmp_path / "inf.js"
    script.write_text("return '1e999'")
    result = run_cli("run", str(script), "--format", "json")
    assert result.code == 0
    envelope = loads_strict(result.stdout)  # the envelope itself stays strict JSON
    assert envelope["result"] == "1e999" and envelope["output_type"] == "text"
    assert parse_output(b"1e999", "true").error is not None
    assert parse_output(b"1e300", "auto").result == 1e300


# -- scripts ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["bom.js", "bom.py", "bom.lua"])
def test_script_with_a_byte_order_mark_runs(tmp_path, name):
    script = tmp_path / name
    script.write_bytes(BOM + b"return 1\n")
    result = run_cli("run", str(script))
    assert (result.code, result.stdout, result.stderr) == (0, "1\n", "")


def test_deeply_nested_lua_result_names_a_short_path(tmp_path):
    script = tmp_path / "deep.lua"
    script.write_text("local a = {} for i = 1, 5000 do a = {a} end return a")
    result = run_cli("run", str(script))
    assert result.code == 1 and result.stdout == ""
    line = _one_error_line(result.stderr)
    assert "$[1][1][1][1][1]...[1][1][1][1][1] is nested more than 500 levels deep" in line
    assert len(line) < 200


# -- limits -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["tiny.js", "tiny.py"])
def test_memory_below_the_runtime_start_is_a_memory_limit(tmp_path, name):
    script = tmp_path / name
    script.write_text("return 1")
    result = run_cli("run", str(script), "--memory", "1k")
    assert result.code == 4 and result.stdout == ""
    assert _one_error_line(result.stderr) == "faasctl: error: MemoryLimit: memory limit of 1KiB exceeded"
    envelope = run_cli("run", str(script), "--memory", "1k", "--format", "json").json()
    assert envelope["error"]["type"] == "MemoryLimit" and "exceeds memory limits" in envelope["error"]["detail"]


def test_absurd_limits_are_clamped_or_refused():
    assert parse_duration("99999999h") == MAX_DURATION
    assert parse_size("99999999999999999999GiB") == MAX_SIZE
    with pytest.raises(UsageError, match="shortest is 1ms"):
        parse_duration("0.0001ms")


@pytest.mark.parametrize("option", [("--timeout", "99999999h"), ("--memory", "99999999999999999999GiB"),
                                    ("--max-output", "99999999999999999999GiB")])
def test_lua_runs_with_absurdly_large_limits(tmp_path, option):
    script = tmp_path / "ok.lua"
    script.write_text("return 1")
    result = run_cli("run", str(script), *option)
    assert (result.code, result.stdout, result.stderr) == (0, "1\n", "")


# -- Ctrl-C -----------------------------------------------------------------------------------------


def _children(pid: int) -> list[int]:
    found = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        found += [int(child) for child in (task / "children").read_text().split()]
    return found


def _running(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except (FileNotFoundError, ProcessLookupError):
        return False


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_interrupting_a_lua_run_ends_its_worker(tmp_path):
    """SIGINT to faasctl alone (a supervisor, not a terminal's process group) must not leave the forked
    Lua worker spinning until a deadline minutes away."""
    script = tmp_path / "spin.lua"
    script.write_text("while true do end")
    exe = Path(sys.executable).with_name("faasctl")
    proc = subprocess.Popen([str(exe), "run", str(script), "--timeout", "10m"], stdin=subprocess.DEVNULL,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=dict(os.environ),
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    try:
        workers: list[int] = []
        for _ in range(100):  # until the worker is forked
            workers = _children(proc.pid)
            if workers:
                break
            time.sleep(0.1)
        assert workers
        time.sleep(0.3)
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=30)
        assert proc.returncode == 130 and out == b"" and err == b"faasctl: interrupted\n"
        for _ in range(100):
            if not any(_running(pid) for pid in workers):
                break
            time.sleep(0.1)
        assert not any(_running(pid) for pid in workers)
    finally:
        proc.kill()
        proc.wait()
    assert run_cli("run", str(script), "--timeout", "100ms").code == 3  # the next run still works


def test_python_guest_refuses_a_non_json_constant_with_its_own_message(engine, tmp_path):
    """Defence in depth: the prelude's scanner hook takes the constant's name (it was bound as a method)."""
    script = tmp_path / "echo.py"
    script.write_text("return inputData")
    result = engine.run(str(script), FunctionInput(None, "NaN"))
    assert result.error is not None and "NaN is not JSON" in (result.error.detail or "")
    assert json.loads(json.dumps(result.to_dict()))["ok"] is False


# -- standard output --------------------------------------------------------------------------------


@pytest.mark.parametrize("how", ["closed", "full"])
def test_unwritable_stdout_is_one_line_not_a_crash(tmp_path, how):
    script = tmp_path / "one.js"
    script.write_text("return {a: 1}")
    exe = Path(sys.executable).with_name("faasctl")
    for fmt in ("result", "json"):
        command = [str(exe), "run", str(script), "--format", fmt]
        if how == "closed":
            proc = subprocess.run(command, stdin=subprocess.DEVNULL, capture_output=True,
                                  preexec_fn=lambda: os.close(1))  # as `faasctl run ... >&-`
        else:
            with open("/dev/full", "wb") as full:
                proc = subprocess.run(command, stdin=subprocess.DEVNULL, stdout=full, stderr=subprocess.PIPE)
        err = proc.stderr.decode()
        assert proc.returncode == 2, err
        assert "cannot write the result" in _one_error_line(err)
        assert "internal error" not in err


@pytest.mark.parametrize(("name", "source", "expected"), [
    ("shebang.js", "#!/usr/bin/env node\nreturn 6 * 7\n", 42),
    ("shebang.mjs", "#!/usr/bin/env node\nexport default () => 42\n", 42),
    ("shebang.py", "#!/usr/bin/env python3\nreturn 6 * 7\n", 42),
    ("shebang.lua", "#!/usr/bin/env lua\nreturn 6 * 7\n", 42),
])
def test_a_shebang_line_is_accepted(engine, name, source, expected):
    result = run_source(engine, source, name)
    assert result.ok, result.error
    assert result.result == expected


def test_shebang_keeps_line_numbers(engine):
    result = run_source(engine, "#!/usr/bin/env node\n\nthrow new Error('third line')\n", "lines.js")
    assert "lines.js:3" in result.error.detail


@pytest.mark.parametrize("args", [["--dir", "/etc"], ["--env", "A=1"], ["--invoke", "f"], ["--abi", "core"],
                                  ["--wasi-args", "json"], ["--arg", "x"], ["1", "2"]])
def test_webassembly_options_are_refused_by_script_runtimes(args):
    result = run_cli("run", str(EXAMPLES / "hello.js"), *args)
    assert result.code == 2 and "the js runtime does not take" in result.stderr, result.stderr
    lua = run_cli("run", str(EXAMPLES / "hello.lua"), *args)
    assert lua.code == 2 and "the lua runtime does not take" in lua.stderr
