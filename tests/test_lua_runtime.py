"""The Lua runtime through a real engine: guest API, exact conversions, sandbox, limits, recovery."""

from __future__ import annotations

import json

import pytest
from runners import run_source

from tests.conftest import EXAMPLES


def _names(prefix: str, words: str) -> list[str]:
    return [prefix + word for word in words.split()]


# Everything a guest may reach from its global environment (and the string metatable). A new entry
# here is a decision about the sandbox, never a side effect.
ALLOWED = {
    "_G", "_VERSION", "assert", "error", "getmetatable", "ipairs", "next", "pairs", "rawequal", "rawget",
    "rawlen", "rawset", "select", "setmetatable", "tonumber", "tostring", "type", "print", "log", "call",
    "load", "collectgarbage", "pcall", "xpcall",
    "json.null", "json.encode", "json.decode", "json.array",
    "coroutine.create", "coroutine.wrap", "coroutine.resume", "coroutine.close", "coroutine.isyieldable",
    "coroutine.running", "coroutine.status", "coroutine.yield",
    *_names("string.", "byte char find format gmatch gsub len lower match pack packsize rep reverse sub "
                             "unpack upper"),
    *_names("table.", "concat insert move pack remove sort unpack"),
    *_names("math.", "abs ceil cos deg exp floor fmod huge log max maxinteger min mininteger modf pi rad "
                           "random randomseed sin sqrt tan tointeger type ult acos asin atan"),
    *_names("utf8.", "char charpattern codepoint codes len offset"),
    "os.clock", "os.date", "os.difftime", "os.time",
    "json", "coroutine", "string", "table", "math", "utf8", "os",
    # Lua 5.4's string metatable: methods (the guest's own string table) and string-to-number arithmetic
    *_names("<string metatable>.__", "index add sub mul div mod pow unm idiv"),
}

WALK = r"""
local found, seen = {}, {}
local function walk(t, prefix)
  if seen[t] then return end
  seen[t] = true
  for k, v in pairs(t) do
    local name = prefix .. tostring(k)
    found[#found + 1] = name
    if type(v) == "table" and v ~= json.null then walk(v, name .. ".") end
  end
end
walk(_G, "")
local string_mt = getmetatable("")
for k in pairs(string_mt) do found[#found + 1] = "<string metatable>." .. tostring(k) end
for k in pairs(string_mt.__index) do
  if string_mt.__index[k] ~= string[k] then found[#found + 1] = "<string methods>." .. k end
end
return found
"""


def run(engine, source, input=None, **kw):
    return run_source(engine, source, "t.lua", input, **kw)


def ok(engine, source, input=None, **kw):
    result = run(engine, source, input, **kw)
    assert result.ok, (result.error, result.logs)
    return result.result


# -- the lua-experiments examples -------------------------------------------------------------------

def test_hello_example(engine):
    source = (EXAMPLES / "hello.lua").read_bytes()
    assert ok(engine, source, {"name": "from Lua"}) == "Hello from Lua"
    assert ok(engine, source, {}) == "Hello World"


def test_evil_example_hits_the_memory_limit(engine):
    result = run(engine, (EXAMPLES / "evil.lua").read_bytes(), memory="10MiB")
    assert result.error.type == "MemoryLimit"
    assert result.error.message == "memory limit of 10MiB exceeded"


# -- guest API --------------------------------------------------------------------------------------

def test_chunk_without_main_returns_its_value(engine):
    assert ok(engine, "return {a = 1}") == {"a": 1}
    assert ok(engine, "local x = 2") is None


def test_main_wins_over_the_chunk_value(engine):
    assert ok(engine, "function main(args) return args.n * 2 end return 'ignored'", {"n": 21}) == 42


def test_print_goes_to_output_and_log_to_logs(engine):
    result = run(engine, "print('a', 1) log('hello', {x = 1}, nil) return 'done'")
    assert result.output == b"a\t1\ndone"
    assert result.logs == ['hello {"x":1} nil']


def test_state_is_fresh_for_every_run(engine):
    assert ok(engine, "counter = (counter or 0) + 1 return counter") == 1
    assert ok(engine, "counter = (counter or 0) + 1 return counter") == 1
    assert ok(engine, "string.upper = nil getmetatable('').__index = {} return 1") == 1
    assert ok(engine, "return ('abc'):upper()") == "ABC"


def test_syntax_error_and_runtime_error_fail_the_run(engine):
    syntax = run(engine, "function main(")
    assert syntax.error.type == "FunctionError" and syntax.error.message.startswith("t.lua:1:")
    runtime = run(engine, "local function f() error('boom') end\nfunction main() f() end")
    assert runtime.error.type == "FunctionError"
    assert runtime.error.message == "t.lua:1: boom"
    assert "t.lua:2" in runtime.error.detail and "faasctl:" not in runtime.error.detail
    assert runtime.logs and runtime.logs[0].startswith("t.lua:1: boom")
    table_error = run(engine, "error({code = 7})")
    assert table_error.error.message == '{"code":7}'


# -- conversions ------------------------------------------------------------------------------------

@pytest.mark.parametrize("value", [
    {"int": 1, "float": 1.0, "neg": -0.5, "big": 9007199254740993, "max": 2**63 - 1, "min": -(2**63)},
    [1, 2, 3],
    [],
    {},
    {"nested": [[], {}, [None, None], {"k": None}]},
    {"text": "é ü \u2028 \" \\ / \n\t\u0001\u001f\u007f 😀", "": "empty key"},
    [True, False, None],
    ["just a string"],
    0.1,
])
def test_input_round_trips_exactly(engine, value):
    result = run(engine, "function main(args) return args end", value, output_json="true")
    assert result.ok, result.error
    expected = json.dumps(value, ensure_ascii=False, separators=(",", ":"), sort_keys=True)
    got = json.dumps(result.result, ensure_ascii=False, separators=(",", ":"), sort_keys=True)
    assert got == expected
    assert type(result.result) is type(value)


def test_integers_stay_integers_and_floats_stay_floats(engine):
    assert ok(engine, "function main(a) return {math.type(a.i), math.type(a.f), a.i + 1} end",
              {"i": 9007199254740993, "f": 2.0}) == ["integer", "float", 9007199254740994]
    assert run(engine, "return {1.0, 2, 1e100, -0.0}").output == b"[1.0,2,1e+100,-0.0]"


def test_integers_beyond_64_bits_become_floats(engine):
    assert ok(engine, "function main(a) return math.type(a.n) end", {"n": 2**70}) == "float"


def test_sequences_and_empty_tables(engine):
    assert run(engine, "return {1, 2, {}, json.array(), json.array({})}").output == b"[1,2,{},[],[]]"
    assert run(engine, "function main(a) a.list[#a.list + 1] = 3 return a end", {"list": []}).output \
        == b'{"list":[3]}'
    assert run(engine, "return {[1] = 'a', [3] = 'c'}").output == b'{"1":"a","3":"c"}'
    assert run(engine, "return {b = 1, a = 2, [10] = 3}").output == b'{"10":3,"a":2,"b":1}'


def test_json_null_sentinel(engine):
    assert ok(engine, "function main(a) return {a.x == json.null, tostring(json.null), type(a.x)} end",
              {"x": None}) == [True, "null", "table"]
    assert run(engine, "return {json.null, 1}").output == b"[null,1]"
    assert run(engine, "return json.null").output == b"null"


@pytest.mark.parametrize("source, fragment", [
    ("return function() end", "$ is a function"),
    ("return {handler = print}", "$.handler is a function"),
    ("return {coroutine.create(function() end)}", "$[1] is a thread"),
    ("local t = {} t.self = t return t", "$.self is a table that contains itself"),
    ("return {[true] = 1}", "has a key of type boolean"),
    ("return {0/0}", "which JSON cannot represent"),
    ("return {'\\255'}", "not valid UTF-8"),
])
def test_values_json_cannot_hold_fail_clearly(engine, source, fragment):
    result = run(engine, source)
    assert result.error.type == "FunctionError"
    assert result.error.message.startswith("the result is not JSON: ")
    assert fragment in result.error.message


def test_strings_are_raw_and_escaped(engine):
    assert run(engine, "return 'line\\n\"quoted\"'").output == b'line\n"quoted"'
    assert run(engine, "return {s = 'tab\\t\"q\" \\\\ \\0 é'}").output == b'{"s":"tab\\t\\"q\\" \\\\ \\u0000 \xc3\xa9"}'


def test_json_encode_and_decode_in_the_guest(engine):
    assert ok(engine, "return json.decode('[1, 2.5, {\"a\": null}]')[3].a == json.null") is True
    assert ok(engine, "return json.encode({x = {1, 2}})") == {"x": [1, 2]}
    bad = run(engine, "return json.decode('{nope')")
    assert bad.error.type == "FunctionError" and "json.decode: invalid JSON" in bad.error.message
    assert ok(engine, "return select(2, pcall(json.encode, print))") == \
        "json.encode: $ is a function, which JSON cannot represent"


def test_text_input_is_a_lua_string(engine):
    from faasctl.engine import artifact_from_bytes
    from faasctl.inputs import FunctionInput

    result = engine.run(artifact_from_bytes("t.lua", b"function main(s) return s:upper() end"),
                        FunctionInput.of("plain text"))
    assert result.result == "PLAIN TEXT"


# -- sandbox ----------------------------------------------------------------------------------------

def test_global_environment_is_exactly_the_allow_list(engine):
    found = set(ok(engine, WALK))
    assert found - ALLOWED == set()
    assert ALLOWED - found == set()


@pytest.mark.parametrize("name", ["python", "io", "require", "dofile", "loadfile", "debug", "package",
                                  "string.dump", "os.execute", "os.getenv", "os.exit", "os.remove",
                                  "loadstring", "warn", "setfenv", "getfenv", "unpack"])
def test_dangerous_names_are_absent(engine, name):
    expression = name if "." not in name or name.startswith(("string", "os")) else name.split(".")[0]
    assert ok(engine, f"return {expression} == nil") is True


def test_binary_chunks_are_refused(engine):
    assert ok(engine, "local f, err = load('\\27Lua\\84\\0', 'x', 'b') return {f == nil, err}") == \
        [True, "binary chunks are not allowed in faasctl's Lua sandbox"]
    text_mode = ok(engine, "local f, err = load('\\27Lua\\84\\0') return {f == nil, err}")
    assert text_mode[0] is True and "binary chunk" in text_mode[1]
    assert ok(engine, "return load('return x')()", ) is None  # load sees the guest environment
    assert ok(engine, "x = 5 return load('return x')()") == 5
    source = run(engine, b"\x1bLua\x54\x00junk")
    assert source.error.type == "FunctionError" and "binary chunk" in source.error.message


def test_collectgarbage_control_is_refused(engine):
    assert ok(engine, "return type(collectgarbage('count'))") == "number"
    result = run(engine, "collectgarbage('stop')")
    assert "collectgarbage('stop') is not allowed" in result.error.message


def test_python_objects_are_unreachable(engine):
    # the guest's functions are Lua closures, so there is no Python object to index
    assert ok(engine, "return {type(print), type(call), type(json.decode), type(log)}") == ["function"] * 4


# -- limits that cannot be caught -------------------------------------------------------------------

MEMORY_BOMBS = {
    "plain": "local s = {} while true do table.insert(s, 'evil') end",
    "pcall": "pcall(function() local s = {} while true do table.insert(s, 'evil') end end) return 'escaped'",
    "pcall in a loop": "for i = 1, 50 do pcall(function() local s = {} while true do s[#s + 1] = i end end) end",
    "xpcall": "xpcall(function() local s = {} while true do s[#s + 1] = 1 end end, function(e) return e end)",
    "coroutine": "local co = coroutine.create(function() local s = {} while true do s[#s + 1] = 1 end end)\n"
                 "return {coroutine.resume(co)}",
    "coroutine.wrap": "pcall(coroutine.wrap(function() local s = {} while true do s[#s + 1] = 1 end end))",
    "main": "function main() local s = {} while true do s[#s + 1] = 'x' end end",
    "one big string": "return pcall(string.rep, 'x', 2^30)",
    "concatenation": "local s = 'x' while true do s = s .. s end",
    "load": "local ok = pcall(load, string.rep('x', 2^24) .. '=1') return ok",
}


@pytest.mark.parametrize("name", MEMORY_BOMBS)
def test_memory_limit_cannot_be_caught(engine, name):
    result = run(engine, MEMORY_BOMBS[name], memory="8MiB")
    assert result.error is not None, result.result
    assert (result.error.type, result.error.message) == ("MemoryLimit", "memory limit of 8MiB exceeded")
    assert ok(engine, "return 'fine'") == "fine"


@pytest.mark.parametrize("source", [
    "while true do end",
    "pcall(function() while true do end end) return 'escaped'",
    "while true do pcall(function() while true do end end) end",
    "local co = coroutine.wrap(function() while true do end end) co()",
    "return string.find(('a'):rep(40), ('a*'):rep(20) .. 'b')",  # stuck inside one C call
])
def test_timeout_cannot_be_caught(engine, source):
    result = run(engine, source, timeout="200ms")
    assert result.error is not None, result.result
    assert (result.error.type, result.error.message) == ("Timeout", "timed out after 200ms")
    assert ok(engine, "return 'fine'") == "fine"


@pytest.mark.parametrize("source", [
    "local n = 0 while true do n = n + 1 end",
    "pcall(function() local n = 0 while true do n = n + 1 end end) return 'escaped'",
    "local co = coroutine.create(function() while true do end end) coroutine.resume(co) return 'escaped'",
    "xpcall(function() while true do end end, function() while true do end end)",
])
def test_fuel_counts_lua_instructions_and_cannot_be_caught(engine, source):
    result = run(engine, source, fuel=50_000)
    assert result.error is not None, result.result
    assert result.error.type == "FuelExhausted"
    assert result.error.message == "fuel limit of 50000 instructions exhausted"
    assert result.stats.fuel_used == 50_000


def test_fuel_used_is_reported(engine):
    result = run(engine, "local n = 0 for i = 1, 10000 do n = n + i end return n", fuel=10**9)
    assert result.result == 50005000
    assert 10_000 <= result.stats.fuel_used <= 100_000


def test_output_limit_keeps_the_first_bytes(engine):
    result = run(engine, "while true do print('0123456789') end", max_output="1KiB")
    assert result.error.type == "OutputLimit"
    assert result.error.message == "output limit of 1KiB exceeded"
    assert len(result.output) == 1024 and result.output.startswith(b"0123456789\n")
    big_result = run(engine, "return string.rep('x', 2000)", max_output="1KiB")
    assert big_result.error.type == "OutputLimit"


def test_logs_are_capped(engine):
    result = run(engine, "for i = 1, 200 do log(string.rep('x', 20)) end return 1", max_output="1KiB")
    assert result.ok
    assert result.logs[-1] == "[faasctl] logs truncated at 1KiB"
    assert sum(len(line) for line in result.logs[:-1]) <= 1024


def test_input_larger_than_the_memory_limit(engine):
    result = run(engine, "function main(a) return #a.s end", {"s": "x" * 2_000_000}, memory="1MiB")
    assert result.error.type == "MemoryLimit"
    assert ok(engine, "function main(a) return #a.s end", {"s": "x" * 2_000_000}) == 2_000_000


def test_every_failure_leaves_the_next_run_healthy(engine):
    failures = [("while true do end", {"timeout": "100ms"}),
                ("local s = {} while true do s[#s + 1] = 1 end", {"memory": "4MiB"}),
                ("while true do end", {"fuel": 1000}),
                ("while true do print('x') end", {"max_output": "100"}),
                ("error('x')", {})]
    for source, limits in failures:
        assert not run(engine, source, **limits).ok
        assert ok(engine, "return {1, 2}") == [1, 2]


CLOSE_BYPASSES = {
    # an error raised by a __close handler replaces the memory error that unwinds through it
    "<close>": "pcall(function() local guard <close> = setmetatable({}, {__close = function() error({}, 0) end})\n"
               "  local s = {} while true do s[#s + 1] = 1 end end) return 'escaped'",
    "for closing value": "local function one() return 1 end\n"
                         "pcall(function() for _ in one, nil, nil, setmetatable({}, {__close = function() "
                         "error({}, 0) end}) do local s = {} while true do s[#s + 1] = 1 end end end)\n"
                         "return 'escaped'",
    "<close> after \\z": 'pcall(function() local x = "\\z\n" local g <close> = setmetatable({}, {__close = '
                         'function() error("swallowed") end}) local s = {} while true do s[#s + 1] = 1 end end)\n'
                         "return 'escaped'",
    "xpcall handler": "xpcall(function() local g <close> = setmetatable({}, {__close = function() error({}, 0) end})"
                      " local s = {} while true do s[#s + 1] = 1 end end, function(e) return e end) return 'escaped'",
    "coroutine.wrap": "pcall(coroutine.wrap(function() local g <close> = setmetatable({}, {__close = function() "
                      "error({}, 0) end}) local s = {} while true do s[#s + 1] = 1 end end)) return 'escaped'",
    "main chunk": "local g <close> = setmetatable({}, {__close = function() error('replaced', 0) end})\n"
                  "local s = {} while true do s[#s + 1] = 1 end",
    "finalizer": "setmetatable({}, {__gc = function() end}) local s = {} while true do s[#s + 1] = 1 end",
}


@pytest.mark.parametrize("name", CLOSE_BYPASSES)
def test_memory_limit_cannot_be_caught_through_close_handlers(engine, name):
    result = run(engine, CLOSE_BYPASSES[name], memory="8MiB")
    assert result.error is not None, result.result
    assert (result.error.type, result.error.message) == ("MemoryLimit", "memory limit of 8MiB exceeded")


def test_to_be_closed_variables_work(engine):
    source = ("local closed = {}\n"
              "local function closer(name) return setmetatable({}, {__close = function(_, e) closed[#closed + 1] = "
              "name .. ':' .. tostring(e) end}) end\n"
              "do local a <close> = closer('a') end\n"
              "local ok, err = pcall(function() local b <close> = closer('b') error('boom', 0) end)\n"
              "local ok2, err2 = pcall(function() local c <close> = setmetatable({}, {__close = function() "
              "error('replaced', 0) end}) error('boom', 0) end)\n"
              "for _ in function(_, i) if not i then return 1 end end, nil, nil, closer('for') do end\n"
              "return {closed, err, err2}")
    assert ok(engine, source) == [["a:nil", "b:boom", "for:nil"], "boom", "replaced"]


def test_protected_calls_keep_their_lua_semantics(engine):
    source = """
local co = coroutine.create(function(a)
  local ok, v = pcall(function(x) return coroutine.yield(x + 1) * 2 end, a)
  return ok, v
end)
local _, first = coroutine.resume(co, 1)
local _, ok, doubled = coroutine.resume(co, 10)
local main, ismain = coroutine.running()
local inner = {pcall(function() local c, m = coroutine.running() return c == main, m, coroutine.isyieldable(),
                                     coroutine.status(main) end)}
local yield_outside = {pcall(coroutine.yield, 1)}
local wrapped = coroutine.wrap(function() error('inside') end)
local werr = select(2, pcall(wrapped))
return {first, ok, doubled, ismain, inner, yield_outside, werr,
        {xpcall(function() error({code = 1}) end, function(e) return e.code + 1 end)},
        {pcall(setmetatable({}, {__call = function(_, x) return x end}), 5)}, {pcall(nil)}}
"""
    result = ok(engine, source)
    assert result[:5] == [2, True, 20, True, [True, True, True, False, "running"]]
    assert result[5] == [False, "attempt to yield from outside a coroutine"]
    assert result[6].endswith("inside")
    assert result[7:9] == [[False, 2], [True, 5]]
    assert result[9][0] is False and "attempt to call a nil value" in result[9][1]


def test_finalizers_never_run(engine):
    source = ("local ran = false\n"
              "setmetatable({}, {__gc = function() ran = true end})\n"
              "collectgarbage() collectgarbage()\n"
              "local mt = {__gc = function() end} local t = setmetatable({}, mt)\n"
              "return {ran, getmetatable(t) == mt, type(mt.__gc)}")
    assert ok(engine, source) == [False, True, "function"]
    # issue 16: a finalizer allocating gigabytes at close, and one that never ends, cost nothing
    assert ok(engine, "setmetatable({}, {__gc = function() local t = {} for i = 1, 40 do "
                      "t[i] = string.rep('x', 50 * 2^20) .. i end end}) return 1", memory="64MiB") == 1
    assert ok(engine, "setmetatable({}, {__gc = function() while true do end end}) return 1", timeout="1s") == 1


def test_concurrent_runs_use_separate_workers(engine):
    from concurrent.futures import ThreadPoolExecutor

    jobs = [("function main(a) return a.n * 2 end", {"n": n}, {}) for n in range(6)]
    jobs.append(("while true do end", {}, {"timeout": "300ms"}))
    with ThreadPoolExecutor(max_workers=4) as pool:
        results = list(pool.map(lambda job: run(engine, job[0], job[1], **job[2]), jobs))
    assert [r.result for r in results[:6]] == [0, 2, 4, 6, 8, 10]
    assert results[6].error.type == "Timeout"
