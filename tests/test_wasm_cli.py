"""The wasm runtime through the installed ``faasctl`` command: stdout, stderr and exit codes."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import EXAMPLES, run_cli
from test_wasm import LOOP, wasi_open


def write(tmp_path: Path, name: str, text: str | bytes) -> str:
    path = tmp_path / name
    path.write_bytes(text.encode() if isinstance(text, str) else text)
    return str(path)


def assert_clean(stderr: str) -> None:
    assert "Traceback" not in stderr and "panicked" not in stderr


def test_gcd_prints_3():
    result = run_cli("run", str(EXAMPLES / "gcd.wat"), "--invoke", "gcd", "6", "27")
    assert (result.code, result.stdout, result.stderr) == (0, "3\n", "")


def test_invoke_before_target_as_in_wasmtime():
    result = run_cli("run", "--invoke", "gcd", str(EXAMPLES / "gcd.wat"), "6", "27")
    assert (result.code, result.stdout) == (0, "3\n")


def test_echo_string_prints_echob():
    result = run_cli("run", str(EXAMPLES / "echo_string.wat"), "-d", '"echo"')
    assert (result.code, result.stdout) == (0, "echob")


def test_echo_string_text_from_stdin():
    result = run_cli("run", str(EXAMPLES / "echo_string.wat"), "--text", input="echo")
    assert (result.code, result.stdout) == (0, "echob")


def test_wasi_echo_from_piped_stdin_with_logs_on_stderr():
    result = run_cli("run", str(EXAMPLES / "wasi_echo.wat"), input='{"n": [1, 2]}')
    assert result.code == 0 and result.stdout == '{"echo":{"n":[1,2]}}\n'
    assert result.stderr == "wasi_echo: read 11 bytes\n"


def test_quiet_hides_logs():
    result = run_cli("run", str(EXAMPLES / "wasi_echo.wat"), "-q", "-d", "1")
    assert result.code == 0 and result.stderr == ""


def test_etc_passwd_needs_dir(tmp_path):
    target = write(tmp_path, "peek.wat", wasi_open("passwd"))
    denied = run_cli("run", target)
    assert (denied.code, denied.stdout) == (0, "08")  # EBADF: no directory was granted
    granted = run_cli("run", target, "--dir", "/etc")
    assert (granted.code, granted.stdout) == (0, "00")


@pytest.mark.parametrize(("wat", "options", "code", "error"), [
    (LOOP, ["--timeout", "300ms"], 3, "Timeout: timed out after 300ms"),
    (LOOP, ["--fuel", "5000"], 5, "FuelExhausted: fuel limit of 5000 instructions exhausted"),
    ('(module (memory (export "memory") 1) (func (export "f") (loop $l (br_if $l (i32.ge_s (memory.grow (i32.const 1)) '
     '(i32.const 0)))) unreachable))', ["--memory", "2MiB"], 4, "MemoryLimit: memory limit of 2MiB exceeded"),
    ('(module (func (export "f") unreachable))', [], 1, "Trap: wasm trap: wasm `unreachable` instruction executed"),
    ('(module (func $f (export "f") (call $f)))', [], 1, "Trap: wasm trap: stack overflow"),
])
def test_limits_and_traps_exit_codes(tmp_path, wat, options, code, error):
    result = run_cli("run", write(tmp_path, "f.wat", wat), *options)
    assert result.code == code and result.stdout == ""
    assert result.stderr == f"faasctl: error: {error}\n"


def test_trap_envelope(tmp_path):
    result = run_cli("run", write(tmp_path, "f.wat", '(module (func (export "f") unreachable))'), "-f", "json")
    envelope = result.json()
    assert result.code == 1 and envelope["ok"] is False and envelope["runtime"] == "wasm"
    assert envelope["error"]["type"] == "Trap" and "unreachable" in envelope["error"]["message"]


def test_output_flood_exit_6(tmp_path):
    wat = """(module (import "wasi_snapshot_preview1" "fd_write" (func $w (param i32 i32 i32 i32) (result i32)))
      (memory (export "memory") 1)
      (func (export "_start") (i32.store (i32.const 4) (i32.const 65536))
        (loop $l (drop (call $w (i32.const 1) (i32.const 0) (i32.const 1) (i32.const 8))) (br $l))))"""
    result = run_cli("run", write(tmp_path, "flood.wat", wat), "--max-output", "1MiB", "--output-json", "false")
    assert result.code == 6 and "OutputLimit: output limit of 1MiB exceeded" in result.stderr
    assert result.stdout == ""


@pytest.mark.parametrize(("name", "content", "message"), [
    ("imports.wat", '(module (import "env" "host_fn" (func)) (func (export "_start")))',
     "imports what faasctl cannot provide: env.host_fn (func () -> ())"),
    ("cut.wasm", b"\0asm\x01\0\0\0\x01\x7f", "cut.wasm is not a valid WebAssembly module"),
    ("notes.wasm", "just some notes\n", "notes.wasm is not a WebAssembly module"),
    ("bad.wat", "(module\n  (func (export \"f\")\n    (i32.const)))", "bad.wat:3:15: WebAssembly text syntax error"),
])
def test_broken_modules_exit_7(tmp_path, name, content, message):
    result = run_cli("run", write(tmp_path, name, content))
    assert result.code == 7 and message in result.stderr and result.stdout == ""
    assert result.stderr.count("\n") == 1
    assert_clean(result.stderr)


def test_usage_errors_exit_2(tmp_path):
    gcd = str(EXAMPLES / "gcd.wat")
    assert run_cli("run", gcd, "--invoke", "gcd", "6").code == 2
    assert run_cli("run", gcd, "--invoke", "nope").code == 2
    assert run_cli("run", gcd, "--abi", "string").code == 7  # not a string-ABI module: an artifact error
    bad_dir = run_cli("run", str(EXAMPLES / "wasi_echo.wat"), "--dir", str(tmp_path / "missing"))
    assert bad_dir.code == 2 and "is not a directory" in bad_dir.stderr
