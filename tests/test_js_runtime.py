"""The JavaScript runtime (QuickJS-NG on WASI) through the engine: guest API, output, limits, faults."""

from __future__ import annotations

import pytest
from runners import run_source


def js(engine, source, input=None, **kwargs):
    return run_source(engine, source, "fn.js", input, **kwargs)


def test_conductor_health_check(engine):
    result = js(engine, "console.log('console.log'); log('log'); console.error('console.error');"
                        "print(\"print\\n\"); return 'result'")
    assert result.ok
    assert result.output == b"print\nresult"
    assert result.result == "print\nresult"
    assert result.logs == ["console.log", "log", "console.error"]


def test_input_and_lambda_value(engine):
    result = js(engine, "return {v: $.lambdaValue * 2, name: $.name}", {"lambdaValue": 21, "name": "Ada"})
    assert result.result == {"v": 42, "name": "Ada"}
    assert result.output_type == "json"


def test_console_methods_and_log_formatting(engine):
    result = js(engine, "console.info('a', 1, {b: [2]}); console.warn([1,'x']); console.debug(null, undefined);"
                        "log('two\\nlines'); return undefined")
    assert result.logs == ['a 1 {"b":[2]}', '[1,"x"]', "null undefined", "two\nlines"]
    assert result.result is None and result.output == b""


def test_print_joins_with_spaces_and_adds_no_newline(engine):
    result = js(engine, "print('a', 2, {c: 3}); print('b')")
    assert result.output == b'a 2 {"c":3}b'


@pytest.mark.parametrize(("body", "output"), [
    ("return null", b""),
    ("return 'raw text'", b"raw text"),
    ("return [1, {a: 2}]", b'[1,{"a":2}]'),
    ("return 42", b"42"),
    ("return true", b"true"),
    ("return 1.5", b"1.5"),
])
def test_return_value_to_output(engine, body, output):
    assert js(engine, body).output == output


def test_promises_are_awaited(engine):
    result = js(engine, "const v = await new Promise(r => setTimeout(() => r(7), 10)); "
                        "return Promise.resolve({v, w: await Promise.resolve(8)})")
    assert result.result == {"v": 7, "w": 8}


def test_output_json_modes(engine):
    assert js(engine, "return '42'").result == 42
    assert js(engine, "return 'hello'").result == "hello"
    assert js(engine, "return {a: 1}", output_json="false").result == '{"a":1}'
    bad = js(engine, "return 'hello'", output_json="true")
    assert not bad.ok and bad.error.type == "InvalidOutput"


def test_mjs_default_export_gets_the_input(engine):
    source = "export default async function (input) { log('in module'); return {double: input.n * 2}; }"
    result = run_source(engine, source, "fn.mjs", {"n": 21})
    assert result.ok, result.error
    assert result.result == {"double": 42}
    assert result.logs == ["in module"]


def test_mjs_without_default_export_or_handler_is_a_usage_error(engine):
    result = run_source(engine, "export const x = 1;", "fn.mjs")
    assert result.error.type == "UsageError"
    assert "no default export" in result.error.message and "exports: x" in result.error.message


def test_syntax_error_fails_with_message_in_logs_not_result(engine):
    result = js(engine, "let x = ;")
    assert not result.ok and result.error.type == "FunctionError"
    assert result.error.message.startswith("SyntaxError")
    assert any("SyntaxError" in line for line in result.logs)
    assert result.result is None and result.output == b""


def test_uncaught_error_has_message_and_stack(engine):
    result = js(engine, "function inner() { throw new TypeError('bad thing'); }\ninner();")
    assert result.error.type == "FunctionError"
    assert result.error.message == "TypeError: bad thing"
    assert "at inner (fn.js:1" in result.error.detail and "fn.js:2" in result.error.detail
    assert "<cmdline>" not in result.error.detail and "<evalScript>" not in result.error.detail


def test_throw_of_non_error(engine):
    result = js(engine, "throw {code: 42}")
    assert result.error.type == "FunctionError"
    assert result.error.message == 'Uncaught {"code":42}'


def test_cyclic_return_value_is_a_clear_failure(engine):
    result = js(engine, "const a = {}; a.self = a; return a")
    assert result.error.type == "FunctionError"
    assert "circular" in result.error.message.lower()


def test_infinite_loop_times_out(engine):
    result = js(engine, "while (true) {}", timeout="500ms")
    assert result.error.type == "Timeout"
    assert result.error.message == "timed out after 500ms"
    assert result.stats.duration_ms < 3000  # generous: the benchmark reports the real figure


def test_memory_bomb_is_a_memory_limit_not_a_timeout(engine):
    result = js(engine, "const a = []; while (true) a.push('x'.repeat(1000) + a.length);", memory="64MiB")
    assert result.error.type == "MemoryLimit"
    assert result.error.message == "memory limit of 64MiB exceeded"
    assert result.stats.memory_peak_bytes <= 64 << 20


def test_single_huge_allocation_is_a_memory_limit(engine):
    result = js(engine, "const b = new ArrayBuffer(512 * 1024 * 1024); return b.byteLength", memory="64MiB")
    assert result.error.type == "MemoryLimit"


def test_deep_recursion_is_a_clean_failure(engine):
    result = js(engine, "function f(n) { return f(n + 1) + 1 } return f(0)")
    assert not result.ok
    assert result.error.type in ("Trap", "FunctionError")
    nested = js(engine, "return JSON.parse('['.repeat(200000))")
    assert not nested.ok


def test_fuel_limit(engine):
    result = js(engine, "let i = 0; while (true) i++;", fuel="20000000")
    assert result.error.type == "FuelExhausted"
    assert "20000000" in result.error.message
    assert js(engine, "return 1").stats.fuel_used is None  # metering is compiled in only for fuel limits
    metered = js(engine, "return 1", fuel="100000000")
    assert metered.ok and 0 < metered.stats.fuel_used < 100_000_000


def test_output_flood_past_max_output(engine):
    result = js(engine, "while (true) print('x'.repeat(1000))", max_output="64KiB")
    assert result.error.type == "OutputLimit"
    assert result.error.message == "output limit of 64KiB exceeded"
    assert len(result.output) == 64 * 1024


def test_log_flood_is_truncated_not_fatal(engine):
    result = js(engine, "for (let i = 0; i < 2000; i++) log('y'.repeat(100)); return 'done'", max_output="16KiB")
    assert result.ok and result.result == "done"
    assert result.logs[-1].startswith("[faasctl] logs truncated at 16KiB")


def test_one_mebibyte_input(engine):
    big = "é" * (512 * 1024)
    result = js(engine, "return $.s.length", {"s": big})
    assert result.result == len(big)


def test_non_ascii_input_output_and_logs(engine):
    result = js(engine, "log('日本語 ✓'); return {greeting: 'Grüße, ' + $.name}", {"name": "Zoë 🚀"})
    assert result.result == {"greeting": "Grüße, Zoë 🚀"}
    assert result.logs == ["日本語 ✓"]


def test_no_host_access(engine):
    result = js(engine, "return typeof std + ' ' + typeof os + ' ' + typeof scriptArgs")
    assert result.result == "undefined undefined undefined"
    denied = js(engine, "const std = await import('std'); return std.loadFile('/etc/passwd')")
    assert denied.result is None


def test_runs_after_each_failure_still_work(engine):
    failures = [
        ("while (true) {}", {"timeout": "300ms"}),
        ("const a = []; while (true) a.push('x'.repeat(4096));", {"memory": "32MiB"}),
        ("while (true) print('z')", {"max_output": "1KiB"}),
        ("let i = 0; while (true) i++", {"fuel": "1000000"}),
        ("function f() { return f() + 1 } f()", {}),
        ("throw new Error('x')", {}),
    ]
    for source, limits in failures:
        assert not js(engine, source, **limits).ok
        after = js(engine, "return {ok: $.n + 1}", {"n": 1})
        assert after.ok and after.result == {"ok": 2}, (source, after.error)


def test_globals_do_not_leak_between_runs(engine):
    js(engine, "globalThis.leak = 'secret'; return 1")
    assert js(engine, "return typeof leak").result == "undefined"


def test_mjs_errors_name_the_module_lines(engine):
    source = ("export default function (input) {\n  return helper(input);\n}\n"
              "function helper() { throw new Error('deep'); }\n")
    result = run_source(engine, source, "mod.mjs")
    assert result.error.message == "Error: deep"
    assert "mod.mjs:4" in result.error.detail and "mod.mjs:2" in result.error.detail
    assert "<cmdline>" not in result.error.detail


def test_mjs_syntax_error_is_a_function_error(engine):
    result = run_source(engine, "export default function ( {", "bad.mjs")
    assert result.error.type == "FunctionError"
    assert "SyntaxError" in result.error.message
    later = run_source(engine, "export default (x) => x;\nlet q = (;\n", "later.mjs")
    assert "later.mjs:2" in later.error.message + (later.error.detail or ""), later.error
