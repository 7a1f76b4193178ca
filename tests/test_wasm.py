"""The wasm runtime through the engine: the three ABIs, detection, capabilities, limits and faults.

Every test module is a few lines of WAT compiled by the runtime itself (``.wat`` on the fly)."""

from __future__ import annotations

import pytest
from conftest import EXAMPLES

from faasctl.engine import artifact_from_bytes
from faasctl.errors import ArtifactError, UsageError
from faasctl.inputs import FunctionInput
from faasctl.runtimes.base import RunOptions


def run(engine, wat: str, input=None, *, name: str = "fn.wat", limits=None, **options):  # noqa: ANN001
    artifact = artifact_from_bytes(name, wat.encode() if isinstance(wat, str) else wat)
    value = FunctionInput.of({} if input is None else input)
    return engine.run(artifact, value, limits=limits, options=RunOptions(**options))


def example(engine, name: str, input=None, **options):  # noqa: ANN001
    return run(engine, (EXAMPLES / name).read_bytes(), input, name=name, **options)


# A WASI command that copies stdin to stdout and logs "hi" to stderr; exit code from argv count - 1.
WASI_CAT = """(module
  (import "wasi_snapshot_preview1" "fd_read" (func $read (param i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_write" (func $write (param i32 i32 i32 i32) (result i32)))
  (memory (export "memory") 1)
  (data (i32.const 100) "hi\\n")
  (func (export "_start")
    (i32.store (i32.const 0) (i32.const 1024)) (i32.store (i32.const 4) (i32.const 60000))
    (drop (call $read (i32.const 0) (i32.const 0) (i32.const 1) (i32.const 8)))
    (i32.store (i32.const 4) (i32.load (i32.const 8)))
    (drop (call $write (i32.const 1) (i32.const 0) (i32.const 1) (i32.const 8)))
    (i32.store (i32.const 0) (i32.const 100)) (i32.store (i32.const 4) (i32.const 3))
    (drop (call $write (i32.const 2) (i32.const 0) (i32.const 1) (i32.const 8)))))"""

# Writes its argv (as args_get lays it out: the strings, NUL-separated) to stdout.
WASI_ARGV = """(module
  (import "wasi_snapshot_preview1" "args_sizes_get" (func $sizes (param i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "args_get" (func $get (param i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_write" (func $write (param i32 i32 i32 i32) (result i32)))
  (memory (export "memory") 1)
  (func (export "_start")
    (drop (call $sizes (i32.const 0) (i32.const 4)))
    (drop (call $get (i32.const 64) (i32.const 1024)))
    (i32.store (i32.const 16) (i32.const 1024)) (i32.store (i32.const 20) (i32.load (i32.const 4)))
    (drop (call $write (i32.const 1) (i32.const 16) (i32.const 1) (i32.const 24)))))"""

WASI_EXIT = """(module
  (import "wasi_snapshot_preview1" "proc_exit" (func $exit (param i32)))
  (memory (export "memory") 1)
  (func (export "_start") (call $exit (i32.const 3))))"""

# Opens PATH (from its data segment) under the first preopened fd (3), or at fd 3 when there is none,
# and prints the errno of path_open as one digit or two.
def wasi_open(path: str, oflags: int = 0, rights: int = 2) -> str:
    return f"""(module
  (import "wasi_snapshot_preview1" "path_open"
    (func $open (param i32 i32 i32 i32 i32 i64 i64 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_write" (func $write (param i32 i32 i32 i32) (result i32)))
  (memory (export "memory") 1)
  (data (i32.const 200) "{path}")
  (func (export "_start") (local $err i32)
    (local.set $err (call $open (i32.const 3) (i32.const 0) (i32.const 200) (i32.const {len(path)})
                     (i32.const {oflags}) (i64.const {rights}) (i64.const 0) (i32.const 0) (i32.const 300)))
    (i32.store8 (i32.const 100) (i32.add (i32.const 48) (i32.div_u (local.get $err) (i32.const 10))))
    (i32.store8 (i32.const 101) (i32.add (i32.const 48) (i32.rem_u (local.get $err) (i32.const 10))))
    (i32.store (i32.const 0) (i32.const 100)) (i32.store (i32.const 4) (i32.const 2))
    (drop (call $write (i32.const 1) (i32.const 0) (i32.const 1) (i32.const 8)))))"""


# -- the examples ----------------------------------------------------------------------------------


def test_gcd_example(engine):
    result = example(engine, "gcd.wat", invoke="gcd", args=("6", "27"))
    assert result.ok and result.result == 3 and result.output == b"3"


def test_gcd_arguments_from_a_json_array_input(engine):
    assert example(engine, "gcd.wat", [12, 18]).result == 6


def test_echo_string_example_appends_b(engine):
    result = example(engine, "echo_string.wat", "echo")
    assert result.ok and result.result == "echob"


def test_echo_string_gets_the_input_json(engine):
    result = example(engine, "echo_string.wat", {"a": 1})
    assert result.output == b'{"a":1}b' and result.output_type == "text"


def test_echo_string_large_input_grows_memory(engine):
    text = "x" * 300_000  # far beyond the module's single page
    result = example(engine, "echo_string.wat", text)
    assert result.ok and result.result == text + "b"
    assert result.stats.memory_peak_bytes >= 300_000


def test_wasi_echo_example(engine):
    result = example(engine, "wasi_echo.wat", {"name": "Ada"})
    assert result.ok and result.result == {"echo": {"name": "Ada"}}
    assert result.logs == ["wasi_echo: read 14 bytes"]  # {"name":"Ada"}: compact, as serde writes it


def test_wasi_echo_empty_input_fails_with_exit_code(engine):
    result = example(engine, "wasi_echo.wat", {}, wasi_args="json")  # input in argv, stdin empty
    assert result.error.type == "FunctionError" and "exited with code 1" in result.error.message


# -- WASI ------------------------------------------------------------------------------------------


def test_wasi_stdin_stdout_stderr(engine):
    result = run(engine, WASI_CAT, {"n": 1})
    assert result.ok and result.result == {"n": 1} and result.logs == ["hi"]


def test_wasi_exit_code_is_a_function_error(engine):
    result = run(engine, WASI_EXIT)
    assert result.error.type == "FunctionError" and result.error.message == "exited with code 3"


def test_wasi_default_argv_is_program_name_and_args(engine):
    result = run(engine, WASI_ARGV, name="prog.wat", args=("a", "b c"))
    assert result.output == b"prog.wat\0a\0b c\0"


def test_wasi_args_json_passes_the_input_as_only_argv(engine):
    result = run(engine, WASI_ARGV, {"k": [1, 2]}, wasi_args="json")
    assert result.output == b'{"k":[1,2]}\0'


def test_wasi_env_is_granted_only_when_asked(engine):
    env_wat = """(module
      (import "wasi_snapshot_preview1" "environ_sizes_get" (func $sizes (param i32 i32) (result i32)))
      (import "wasi_snapshot_preview1" "environ_get" (func $get (param i32 i32) (result i32)))
      (import "wasi_snapshot_preview1" "fd_write" (func $write (param i32 i32 i32 i32) (result i32)))
      (memory (export "memory") 1)
      (func (export "_start")
        (drop (call $sizes (i32.const 0) (i32.const 4)))
        (drop (call $get (i32.const 64) (i32.const 1024)))
        (i32.store (i32.const 16) (i32.const 1024)) (i32.store (i32.const 20) (i32.load (i32.const 4)))
        (drop (call $write (i32.const 1) (i32.const 16) (i32.const 1) (i32.const 24)))))"""
    assert run(engine, env_wat).output == b""
    assert run(engine, env_wat, env=("GREETING=hi there",)).output == b"GREETING=hi there\0"


def test_host_files_are_invisible_without_dir(engine):
    result = run(engine, wasi_open("etc/passwd"))
    assert result.ok and result.output == b"08"  # EBADF: there is no preopened directory at all


def test_dir_grants_a_directory_read_only(engine, tmp_path):
    (tmp_path / "data.txt").write_text("hello")
    assert run(engine, wasi_open("data.txt"), dirs=(f"{tmp_path}:/data",)).output == b"00"
    assert run(engine, wasi_open("missing.txt"), dirs=(f"{tmp_path}:/data",)).output == b"44"  # ENOENT
    escaped = run(engine, wasi_open("../../etc/passwd"), dirs=(f"{tmp_path}:/data",)).output
    assert escaped in (b"63", b"76")  # EPERM / ENOTCAPABLE: no way out of the granted directory
    create = wasi_open("new.txt", oflags=1, rights=64)  # O_CREAT, fd_write
    assert run(engine, create, dirs=(f"{tmp_path}:/data",)).output != b"00"
    assert not (tmp_path / "new.txt").exists()
    assert run(engine, create, dirs=(f"{tmp_path}:/data:rw",)).output == b"00"
    assert (tmp_path / "new.txt").exists()


def test_dir_and_env_syntax_errors(engine, tmp_path):
    with pytest.raises(UsageError, match="not a directory"):
        run(engine, WASI_CAT, dirs=(str(tmp_path / "nope"),))
    with pytest.raises(UsageError, match="KEY=VALUE"):
        run(engine, WASI_CAT, env=("JUSTKEY",))


# -- core numeric ------------------------------------------------------------------------------------

NUMERIC = """(module
  (func (export "add64") (param i64 i64) (result i64) (i64.add (local.get 0) (local.get 1)))
  (func (export "half") (param f32) (result f32) (f32.div (local.get 0) (f32.const 2)))
  (func (export "sqrt") (param f64) (result f64) (f64.sqrt (local.get 0)))
  (func (export "divmod") (param i32 i32) (result i32 i32)
    (i32.div_s (local.get 0) (local.get 1)) (i32.rem_s (local.get 0) (local.get 1)))
  (func (export "nothing")))"""


@pytest.mark.parametrize(("invoke", "args", "output"), [
    ("add64", ("9007199254740993", "1"), b"9007199254740994"),
    ("add64", ("-5", "0x10"), b"11"),
    ("half", ("0.2",), b"0.1"),
    ("sqrt", ("2",), b"1.4142135623730951"),
    ("divmod", ("17", "5"), b"[3,2]"),
    ("nothing", (), b""),
])
def test_numeric_types_and_results(engine, invoke, args, output):
    result = run(engine, NUMERIC, invoke=invoke, args=args)
    assert result.ok and result.output == output


def test_numeric_nan_is_kept_as_text(engine):
    result = run(engine, NUMERIC, invoke="sqrt", args=("-1",))
    assert result.ok and result.result == "NaN" and result.output_type == "text"


def test_numeric_argument_errors(engine):
    with pytest.raises(UsageError, match="takes 2 arguments"):
        run(engine, NUMERIC, invoke="add64", args=("1",))
    with pytest.raises(UsageError, match="argument 1 of add64 must be an integer"):
        run(engine, NUMERIC, invoke="add64", args=("1.5", "1"))
    with pytest.raises(UsageError, match="does not fit in i32"):
        run(engine, NUMERIC, invoke="divmod", args=(str(2**32), "1"))
    with pytest.raises(UsageError, match="no export"):
        run(engine, NUMERIC, invoke="missing")


def test_several_functions_need_invoke(engine):
    with pytest.raises(UsageError, match="no _start") as info:
        run(engine, NUMERIC)
    assert info.value.hint == "pass --invoke NAME; exported functions: add64, half, sqrt, divmod, nothing"


# -- detection and the string ABI ---------------------------------------------------------------------

STRING_NO_HEAP_BASE = """(module (memory (export "memory") 1)
  (func (export "fn") (param i32 i32) (result i32 i32) (local.get 0) (local.get 1)))"""


def test_string_abi_missing_export_is_named(engine):
    with pytest.raises(ArtifactError, match="missing export __heap_base"):
        run(engine, STRING_NO_HEAP_BASE)
    with pytest.raises(ArtifactError, match="missing export memory, __heap_base"):
        run(engine, "(module (func (export \"f\") (param i32 i32) (result i32 i32) (local.get 0) (local.get 1)))",
            abi="string")


def test_abi_can_be_forced(engine):
    # the same module as core: the function returns its two arguments
    result = run(engine, STRING_NO_HEAP_BASE, abi="core", invoke="fn", args=("4", "5"))
    assert result.output == b"[4,5]"


def test_string_abi_gets_no_wasi(engine):
    wat = """(module (import "wasi_snapshot_preview1" "fd_write" (func (param i32 i32 i32 i32) (result i32)))
      (memory (export "memory") 1) (global (export "__heap_base") i32 (i32.const 64))
      (func (export "fn") (param i32 i32) (result i32 i32) (local.get 0) (local.get 1)))"""
    with pytest.raises(ArtifactError, match="wasi_snapshot_preview1.fd_write"):
        run(engine, wat)


def test_string_abi_rejects_args(engine):
    with pytest.raises(UsageError, match="takes no ARGS"):
        example(engine, "echo_string.wat", "x", args=("extra",))


def test_string_abi_out_of_bounds_span(engine):
    wat = """(module (memory (export "memory") 1) (global (export "__heap_base") i32 (i32.const 64))
      (func (export "fn") (param i32 i32) (result i32 i32) (i32.const 65000) (i32.const 1000)))"""
    result = run(engine, wat)
    assert result.error.type == "FunctionError" and "ptr=65000 len=1000" in result.error.message


def test_string_abi_invalid_utf8_output(engine):
    wat = """(module (memory (export "memory") 1) (global (export "__heap_base") i32 (i32.const 64))
      (data (i32.const 8) "ok\\ff\\fe")
      (func (export "fn") (param i32 i32) (result i32 i32) (i32.const 8) (i32.const 4)))"""
    result = run(engine, wat)
    assert result.error.type == "InvalidOutput" and "not valid UTF-8" in result.error.message
    assert "0xff at offset 2" in result.error.message


def test_string_abi_input_beyond_memory_limit(engine):
    result = example(engine, "echo_string.wat", "y" * 300_000, limits={"memory": "128KiB"})
    assert result.error.type == "MemoryLimit"


# -- faults ----------------------------------------------------------------------------------------------

LOOP = '(module (func (export "spin") (loop (br 0))))'


def test_timeout_of_an_endless_loop(engine):
    result = run(engine, LOOP, limits={"timeout": "200ms"})
    assert result.error.type == "Timeout" and result.error.message == "timed out after 200ms"


def test_fuel_exhausted(engine):
    result = run(engine, LOOP, limits={"fuel": 10_000})
    assert result.error.type == "FuelExhausted" and "10000" in result.error.message
    assert result.stats.fuel_used == 10_000


def test_endless_start_section_times_out(engine):
    wat = '(module (func $spin (loop (br 0))) (start $spin) (func (export "f")))'
    assert run(engine, wat, limits={"timeout": "100ms"}).error.type == "Timeout"


def test_reactor_is_initialized_before_invoke(engine):
    wat = """(module (global $ready (mut i32) (i32.const 0))
      (func (export "_initialize") (global.set $ready (i32.const 7)))
      (func (export "ready") (result i32) (global.get $ready)))"""
    assert run(engine, wat, invoke="ready").result == 7


def test_unreachable_is_a_trap(engine):
    result = run(engine, '(module (func (export "f") unreachable))')
    assert result.error.type == "Trap" and "unreachable" in result.error.message


def test_stack_overflow_is_a_trap(engine):
    result = run(engine, '(module (func $f (export "f") (call $f)))')
    assert result.error.type == "Trap" and "stack overflow" in result.error.message


def test_memory_growth_past_the_limit(engine):
    # grows one page at a time; when memory.grow returns -1 the guest gives up with a trap
    wat = """(module (memory (export "memory") 1)
      (func (export "f") (loop $more
        (br_if $more (i32.ge_s (memory.grow (i32.const 1)) (i32.const 0))))
        unreachable))"""
    result = run(engine, wat, limits={"memory": "1MiB"})
    assert result.error.type == "MemoryLimit" and result.error.message == "memory limit of 1MiB exceeded"
    assert result.stats.memory_peak_bytes == 1024 * 1024


def test_guest_sees_memory_grow_fail(engine):
    wat = """(module (memory (export "memory") 1)
      (func (export "f") (result i32) (memory.grow (i32.const 100))))"""
    result = run(engine, wat, limits={"memory": "1MiB"})
    assert result.ok and result.result == -1


def test_declared_memory_above_the_limit(engine):
    result = run(engine, '(module (memory 64) (func (export "f")))', limits={"memory": "1MiB"})
    assert result.error.type == "MemoryLimit"


def test_output_flood(engine):
    wat = """(module
      (import "wasi_snapshot_preview1" "fd_write" (func $write (param i32 i32 i32 i32) (result i32)))
      (memory (export "memory") 1)
      (func (export "_start")
        (i32.store (i32.const 0) (i32.const 1024)) (i32.store (i32.const 4) (i32.const 4096))
        (loop $more (drop (call $write (i32.const 1) (i32.const 0) (i32.const 1) (i32.const 8))) (br $more))))"""
    result = run(engine, wat, limits={"max_output": "64KiB", "timeout": "5s"})
    assert result.error.type == "OutputLimit" and len(result.output) == 64 * 1024


def test_string_output_over_the_limit(engine):
    result = example(engine, "echo_string.wat", "z" * 5000, limits={"max_output": "1KiB"})
    assert result.error.type == "OutputLimit"


def test_unsatisfiable_imports_are_named(engine):
    wat = """(module (import "env" "now" (func (result i64))) (import "env" "mem" (memory 1))
      (import "wasi_snapshot_preview1" "no_such_call" (func)) (func (export "_start")))"""
    with pytest.raises(ArtifactError) as info:
        run(engine, wat)
    message = info.value.message
    assert "env.now" in message and "env.mem (memory" in message and "wasi_snapshot_preview1.no_such_call" in message


def test_truncated_and_non_wasm_files(engine):
    with pytest.raises(ArtifactError, match="not a valid WebAssembly module"):
        run(engine, b"\0asm\x01\0\0\0\x01\x05\x01", name="cut.wasm")
    with pytest.raises(ArtifactError, match="not a WebAssembly module"):
        run(engine, b"\x7fELF\x02\x01\x01", name="prog.wasm")
    with pytest.raises(ArtifactError, match="empty file"):
        run(engine, b"", name="empty.wasm")


def test_wat_syntax_error_names_line_and_column(engine):
    with pytest.raises(ArtifactError, match=r"^bad\.wat:3:7: WebAssembly text syntax error: "):
        run(engine, "(module\n  (func\n      i32.bogus))", name="bad.wat")


def test_binary_module_runs_and_is_cached(engine):
    import wasmtime

    wasm = bytes(wasmtime.wat2wasm('(module (func (export "answer") (result i32) (i32.const 42)))'))
    first = run(engine, wasm, name="answer.wasm")
    again = run(engine, wasm, name="answer.wasm")
    assert first.result == 42 and again.result == 42
    assert again.stats.cold_start_ms is None  # the compiled module came from memory
    assert engine.wasm_host().is_cached(artifact_from_bytes("answer.wasm", wasm).digest)
