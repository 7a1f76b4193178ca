"""The Lua runtime through the installed ``faasctl`` command: exit codes, stdout/stderr separation."""

from __future__ import annotations

import json

from tests.conftest import EXAMPLES, run_cli

HELLO = str(EXAMPLES / "hello.lua")
EVIL = str(EXAMPLES / "evil.lua")


def test_hello(tmp_path):
    result = run_cli("run", HELLO, "-d", '{"name":"from Lua"}')
    assert (result.code, result.stdout) == (0, "Hello from Lua")
    assert run_cli("run", HELLO).stdout == "Hello World"


def test_evil_exits_4_with_the_memory_message():
    result = run_cli("run", EVIL, "--memory", "100MiB")
    assert result.code == 4
    assert result.stdout == ""
    assert "memory limit of 100MiB exceeded" in result.stderr
    assert "Traceback" not in result.stderr


def test_limits_map_to_exit_codes(tmp_path):
    spin = tmp_path / "spin.lua"
    spin.write_text("pcall(function() while true do end end)")
    stuck = tmp_path / "stuck.lua"
    stuck.write_text("return string.find(('a'):rep(40), ('a*'):rep(20) .. 'b')")
    chatty = tmp_path / "chatty.lua"
    chatty.write_text("while true do print('hello') end")
    timeout = run_cli("run", str(spin), "--timeout", "200ms")
    assert timeout.code == 3 and "timed out after 200ms" in timeout.stderr
    assert run_cli("run", str(stuck), "--timeout", "200ms").code == 3
    fuel = run_cli("run", str(spin), "--fuel", "10000")
    assert fuel.code == 5 and "fuel limit of 10000 instructions exhausted" in fuel.stderr
    output = run_cli("run", str(chatty), "--max-output", "1KiB")
    assert output.code == 6 and "output limit of 1KiB exceeded" in output.stderr


def test_function_error_is_one_clear_line_and_logs_stay_on_stderr(tmp_path):
    script = tmp_path / "fail.lua"
    script.write_text("function main(args)\n  log('about to fail')\n  error('no name given')\nend\n")
    result = run_cli("run", str(script))
    assert result.code == 1
    assert result.stdout == ""
    assert "about to fail" in result.stderr
    assert "fail.lua:3: no name given" in result.stderr
    assert "Traceback" not in result.stderr


def test_json_envelope_and_output_json(tmp_path):
    script = tmp_path / "table.lua"
    script.write_text("function main(args) log('hi') return {n = args.n, list = {}} end")
    envelope = run_cli("run", str(script), "-p", "n=3", "--format", "json").json()
    assert envelope["ok"] is True
    assert envelope["runtime"] == "lua"
    assert envelope["result"] == {"n": 3, "list": {}}
    assert envelope["logs"] == ["hi"]
    assert envelope["stats"]["memory_peak_bytes"] > 0
    text = run_cli("run", str(script), "-p", "n=3", "--output-json", "false")
    assert text.stdout == '{"list":{},"n":3}'


def test_script_on_stdin_needs_runtime_lua():
    result = run_cli("run", "-", "--runtime", "lua", input="return 6 * 7")
    assert (result.code, result.stdout.strip()) == (0, "42")


def test_kv_plugin_persists_in_the_chosen_file(tmp_path):
    store = tmp_path / "kv.sqlite3"
    counter = tmp_path / "counter.lua"
    counter.write_text("local n = (call('kv', 'get', 'n') or 0) + 1\ncall('kv', 'put', {key = 'n', value = n})\n"
                       "return n")
    assert run_cli("run", str(counter), "--kv", str(store)).stdout.strip() == "1"
    assert run_cli("run", str(counter), "--kv", str(store)).stdout.strip() == "2"
    assert store.exists()


def test_unknown_plugin_is_a_function_error_not_a_crash(tmp_path):
    script = tmp_path / "plugin.lua"
    script.write_text("return call('nope', 'get', 1)")
    result = run_cli("run", str(script))
    assert result.code == 1
    assert "unknown plugin 'nope'" in result.stderr
    assert json.loads(run_cli("run", str(script), "--format", "json").stdout)["error"]["type"] == "FunctionError"


def test_help_and_runtimes_do_not_import_lupa():
    import subprocess
    import sys

    code = ("import sys; sys.argv = ['faasctl', '--help']\nimport faasctl.cli.main as m\n"
            "try:\n    m.main()\nexcept SystemExit:\n    pass\n"
            "sys.stderr.write(str(sorted(n for n in sys.modules if n.startswith(('lupa', 'faasctl.lua')))))")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert proc.stderr.strip().endswith("[]")
