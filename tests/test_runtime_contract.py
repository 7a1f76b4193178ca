"""The contract every runtime shares, checked with equivalent programs for each registered runtime:
input to result, logs apart from output, every limit with its error type, failures, Unicode, and a
normal run after each failure in the same engine. A new runtime adds one row to PROGRAMS."""

from __future__ import annotations

import pytest
from runners import run_source

# WebAssembly: a WASI command that copies stdin to stdout and logs "seen" on stderr.
WASM_ECHO = """(module
  (import "wasi_snapshot_preview1" "fd_read" (func $read (param i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_write" (func $write (param i32 i32 i32 i32) (result i32)))
  (memory (export "memory") 4)
  (data (i32.const 200) "seen\\n")
  (func (export "_start") (local $n i32)
    (i32.store (i32.const 0) (i32.const 1024))
    (i32.store (i32.const 4) (i32.const 200000))
    (drop (call $read (i32.const 0) (i32.const 0) (i32.const 1) (i32.const 8)))
    (i32.store (i32.const 4) (i32.load (i32.const 8)))
    (drop (call $write (i32.const 1) (i32.const 0) (i32.const 1) (i32.const 8)))
    (i32.store (i32.const 16) (i32.const 200))
    (i32.store (i32.const 20) (i32.const 5))
    (drop (call $write (i32.const 2) (i32.const 16) (i32.const 1) (i32.const 8)))))"""
WASM_FAIL = '(module (memory (export "memory") 1) (func (export "_start") unreachable))'
WASM_SPIN = '(module (memory (export "memory") 1) (func (export "_start") (loop $l (br $l))))'
WASM_GROW = """(module (memory (export "memory") 1)
  (func (export "_start")
    (loop $l (br_if $l (i32.ne (memory.grow (i32.const 16)) (i32.const -1))))
    unreachable))"""
WASM_FLOOD = """(module
  (import "wasi_snapshot_preview1" "fd_write" (func $write (param i32 i32 i32 i32) (result i32)))
  (memory (export "memory") 1)
  (func (export "_start")
    (i32.store (i32.const 0) (i32.const 1024))
    (i32.store (i32.const 4) (i32.const 1000))
    (loop $l (drop (call $write (i32.const 1) (i32.const 0) (i32.const 1) (i32.const 8))) (br $l))))"""

PROGRAMS = {
    "js": {
        "ending": ".js",
        "echo": "log('seen'); return $",
        "fail": "throw new Error('boom')",
        "spin": "while (true) {}",
        "grow": "const a = []; while (true) a.push('x'.repeat(4096) + a.length);",
        "flood": "while (true) print('x'.repeat(1000))",
    },
    "python": {
        "ending": ".py",
        "echo": "log('seen')\nreturn inputData",
        "fail": "raise ValueError('boom')",
        "spin": "while True: pass",
        "grow": "a = []\nwhile True: a.append('x' * 4096 + str(len(a)))",
        "flood": "while True: print('x' * 1000)",
    },
    "lua": {
        "ending": ".lua",
        "echo": "function main(args) log('seen') return args end",
        "fail": "function main(args) error('boom') end",
        "spin": "function main(args) while true do end end",
        "grow": "function main(args) local t = {} while true do t[#t + 1] = string.rep('x', 4096) .. #t end end",
        "flood": "function main(args) while true do print(string.rep('x', 1000)) end end",
    },
    "wasm": {
        "ending": ".wat",
        "echo": WASM_ECHO,
        "fail": WASM_FAIL,
        "spin": WASM_SPIN,
        "grow": WASM_GROW,
        "flood": WASM_FLOOD,
    },
}
INPUT = {"n": 42, "list": [1, 2.5, None, True], "s": "Grüße, 日本 🚀", "nested": {"empty": [], "obj": {}}}


def run(engine, runtime, kind, input=None, **limits):
    program = PROGRAMS[runtime]
    return run_source(engine, program[kind], f"fn{program['ending']}", INPUT if input is None else input, **limits)


@pytest.fixture(params=sorted(PROGRAMS))
def runtime(request, engine):
    if request.param not in engine.registry.names():
        pytest.fail(f"runtime {request.param} is not registered")
    return request.param


def test_input_becomes_the_result_and_logs_stay_apart(engine, runtime):
    result = run(engine, runtime, "echo")
    assert result.ok, result.error
    assert result.result == INPUT
    assert result.logs == ["seen"]
    assert result.runtime == runtime
    assert result.stats.output_bytes == len(result.output) > 0


def test_failure_is_exit_1_with_a_message(engine, runtime):
    result = run(engine, runtime, "fail")
    assert not result.ok
    assert result.error.type in ("FunctionError", "Trap")
    assert result.error.message
    assert result.result is None


def test_timeout(engine, runtime):
    result = run(engine, runtime, "spin", timeout="300ms")
    assert result.error.type == "Timeout"
    assert result.error.message == "timed out after 300ms"


def test_fuel(engine, runtime):
    result = run(engine, runtime, "spin", fuel="2000000", timeout="20s")
    assert result.error.type == "FuelExhausted"


def test_memory_limit(engine, runtime):
    result = run(engine, runtime, "grow", memory="48MiB", timeout="20s")
    assert result.error.type == "MemoryLimit", result.error
    assert result.error.message == "memory limit of 48MiB exceeded"


def test_output_limit(engine, runtime):
    result = run(engine, runtime, "flood", max_output="16KiB", timeout="20s")
    assert result.error.type == "OutputLimit"
    assert result.error.message == "output limit of 16KiB exceeded"
    assert len(result.output) <= 16 * 1024


def test_each_failure_leaves_the_next_run_intact(engine, runtime):
    for kind, limits in (("spin", {"timeout": "200ms"}), ("grow", {"memory": "40MiB"}),
                         ("flood", {"max_output": "4KiB"}), ("spin", {"fuel": "500000"}), ("fail", {})):
        assert not run(engine, runtime, kind, **limits).ok
        after = run(engine, runtime, "echo", {"after": kind})
        assert after.ok and after.result == {"after": kind}, (kind, after.error)
