"""``faasctl inspect``: imports, exports, detected ABI, memories and capabilities, as JSON and a table."""

from __future__ import annotations

from pathlib import Path

from conftest import EXAMPLES, run_cli


def inspect_json(*args: str) -> dict:
    result = run_cli("inspect", *args, "--format", "json")
    assert result.code == 0, result.stderr
    return result.json()


def write(tmp_path: Path, name: str, text: str | bytes) -> str:
    path = tmp_path / name
    path.write_bytes(text.encode() if isinstance(text, str) else text)
    return str(path)


def test_gcd_is_a_pure_core_function():
    report = inspect_json(str(EXAMPLES / "gcd.wat"))
    assert (report["abi"], report["entry"], report["format"]) == ("core", "gcd", "wat")
    assert report["exports"] == [{"name": "gcd", "kind": "func", "type": "(i32, i32) -> i32"}]
    assert report["imports"] == [] and report["capabilities"] == [] and report["memories"] == []
    assert report["digest"].startswith("sha256:") and len(report["digest"]) == 71


def test_echo_string_is_string_abi():
    report = inspect_json(str(EXAMPLES / "echo_string.wat"))
    assert (report["abi"], report["entry"]) == ("string", "echo_string")
    assert {e["name"] for e in report["exports"]} == {"memory", "__heap_base", "echo_string"}
    assert report["memories"][0]["memory"] == "export memory" and report["memories"][0]["min_pages"] == 1


def test_wasi_capabilities_and_providers(tmp_path):
    wat = """(module
      (import "wasi_snapshot_preview1" "path_open"
        (func (param i32 i32 i32 i32 i32 i64 i64 i32 i32) (result i32)))
      (import "wasi_snapshot_preview1" "environ_get" (func (param i32 i32) (result i32)))
      (import "wasi_snapshot_preview1" "fd_write" (func (param i32 i32 i32 i32) (result i32)))
      (import "faasctl" "call" (func (param i32 i32 i32 i32 i32 i32) (result i64)))
      (import "faasctl" "reply" (func (param i32 i32) (result i32)))
      (import "env" "secret" (func))
      (memory (export "memory") 2 16)
      (func (export "_start")))"""
    report = inspect_json(write(tmp_path, "fs.wat", wat))
    assert report["abi"] == "wasi"
    providers = {row["qualified"]: row["provided_by"] for row in report["imports"]}
    assert providers == {"wasi_snapshot_preview1.path_open": "wasi", "wasi_snapshot_preview1.environ_get": "wasi",
                         "wasi_snapshot_preview1.fd_write": "wasi", "faasctl.call": "faasctl",
                         "faasctl.reply": "faasctl", "env.secret": None}
    assert report["unsatisfied"] == ["env.secret"]
    grants = {c["capability"]: c["granted_by"] for c in report["capabilities"]}
    assert grants["filesystem"] == "--dir HOST[:GUEST][:rw]"
    assert grants["environment variables"] == "--env KEY=VALUE"
    assert grants["standard output and error (output and logs)"] is None
    assert grants["plugins (call, reply)"] == "plugins registered in faasctl.plugins"
    memory = report["memories"][0]
    assert (memory["min_bytes"], memory["max_bytes"], memory["fits_limit"]) == (2 * 65536, 16 * 65536, True)


def test_memory_checked_against_the_limit(tmp_path):
    target = write(tmp_path, "big.wat", '(module (memory 64) (func (export "f")))')
    report = inspect_json(target, "--memory", "1MiB")
    assert report["memories"] == [{"memory": "memory 0 (defined)", "min_pages": 64, "max_pages": None,
                                   "min_bytes": 4 * 1024 * 1024, "max_bytes": None, "fits_limit": False,
                                   "limit": "1MiB"}]


def test_string_module_with_wasi_import_is_unsatisfied(tmp_path):
    wat = """(module (import "wasi_snapshot_preview1" "fd_write" (func (param i32 i32 i32 i32) (result i32)))
      (memory (export "memory") 1) (global (export "__heap_base") i32 (i32.const 64))
      (func (export "s") (param i32 i32) (result i32 i32) (local.get 0) (local.get 1)))"""
    report = inspect_json(write(tmp_path, "s.wat", wat))
    assert report["abi"] == "string" and report["unsatisfied"] == ["wasi_snapshot_preview1.fd_write"]


def test_undetectable_abi_is_reported_not_fatal(tmp_path):
    wat = '(module (func (export "a")) (func (export "b")))'
    report = inspect_json(write(tmp_path, "two.wat", wat))
    assert report["abi"] is None and "--invoke" in report["reason"]
    assert inspect_json(write(tmp_path, "two.wat", wat), "--invoke", "b")["entry"] == "b"
    forced = inspect_json(str(EXAMPLES / "gcd.wat"), "--abi", "string")
    assert forced["abi"] is None and "missing export memory, __heap_base" in forced["reason"]


def test_table_output():
    result = run_cli("inspect", str(EXAMPLES / "wasi_echo.wat"), env={"COLUMNS": "160"})
    assert result.code == 0
    assert "ABI: wasi calls _start" in result.stdout and "proc_exit" in result.stdout
    assert "standard input (the input JSON)" in result.stdout


def test_bad_targets(tmp_path):
    broken = run_cli("inspect", write(tmp_path, "x.wasm", b"\0asm\x01\0\0\0\x05"))
    assert broken.code == 7 and "not a valid WebAssembly module" in broken.stderr
    script = run_cli("inspect", str(EXAMPLES / "hello.js"))
    assert script.code == 2 and "inspect reads WebAssembly modules" in script.stderr
    missing = run_cli("inspect", str(tmp_path / "nope.wasm"))
    assert missing.code == 2 and "no such file" in missing.stderr
