"""Lambda handlers in JavaScript and Python, and call(plugin, action, payload) from both guests."""

from __future__ import annotations

import pytest
from conftest import make_engine

from faasctl.engine import artifact_from_bytes
from faasctl.inputs import FunctionInput
from faasctl.runtimes.base import RunOptions


@pytest.fixture(scope="module")
def hengine(faasctl_home):
    """An engine of its own, with test plugins that answer too much."""
    engine = make_engine(faasctl_home)

    class Big:
        def action_bytes(self, payload, context):
            return "x" * int(payload)

        def action_deep(self, payload, context):
            value: object = 1
            for _ in range(int(payload)):
                value = [value]
            return value

        def action_slow(self, payload, context):
            import time

            time.sleep(float(payload))
            return "late"

    engine.plugins().register("big", Big)
    return engine


def run(engine, source: str, name: str, event=None, handler: str | None = None, runtime: str | None = None,
        **limits):
    artifact = artifact_from_bytes(name, source.encode())
    if runtime is None and name.endswith(".py") and "call(" in source:
        runtime = "python-full"  # host calls: the component runtime has no channel for them yet
    return engine.run(artifact, FunctionInput.of({} if event is None else event), limits=limits,
                      runtime=runtime, options=RunOptions(handler=handler))


# -- JavaScript handlers -------------------------------------------------------------------------------

def test_js_exports_handler_gets_event_and_context(hengine):
    source = """exports.handler = async (event, context) => {
      console.log('in handler');
      return {name: event.name, fn: context.functionName, mb: context.memoryLimitInMB,
              id: context.awsRequestId.length, left: context.getRemainingTimeInMillis() > 500};
    };"""
    result = run(hengine, source, "index.js", {"name": "Ada"}, timeout="5s", memory="64MiB")
    assert result.ok, result.error
    assert result.result == {"name": "Ada", "fn": "index", "mb": "64", "id": 36, "left": True}
    assert result.logs == ["in handler"]


def test_js_module_exports_and_callback_style_and_named_handler(hengine):
    source = "module.exports = { main(event, context, done) { setTimeout(() => done(null, event.n + 1), 1); } };"
    assert run(hengine, source, "cb.js", {"n": 1}, handler="main").result == 2
    mjs = "export const handler = async (event) => ({twice: event.n * 2}); export default () => 'default';"
    assert run(hengine, mjs, "fn.mjs", {"n": 4}).result == {"twice": 8}


def test_js_plain_script_that_returns_is_not_a_handler(hengine):
    assert run(hengine, "exports.handler = () => 'handler'; return 'script'", "s.js").result == "script"


def test_js_handler_that_throws_fails_the_run_with_its_error(hengine):
    result = run(hengine, "exports.handler = async () => { throw new RangeError('too far'); }", "t.js")
    assert result.error.type == "FunctionError"
    assert result.error.message == "RangeError: too far"
    callback = run(hengine, "exports.handler = (e, c, cb) => cb(new Error('via callback'))", "c.js")
    assert callback.error.message == "Error: via callback"


@pytest.mark.parametrize(("source", "handler", "message"), [
    ("exports.handler = () => 1", "nope", "index.js has no handler 'nope' (exports: handler)"),
    ("exports.value = 3", "value", "index.js: handler 'value' is not a function (it is number)"),
    ("exports.helper = () => 1", None, "index.js exports no handler function (exports: helper)"),
    ("module.exports = () => 1", None, "index.js exports no handler function (it exports nothing)"),
])
def test_js_bad_handler_names_are_usage_errors_naming_it(hengine, source, handler, message):
    result = run(hengine, source, "index.js", handler=handler)
    assert result.error.type == "UsageError"
    assert message in result.error.message


def test_js_require_reaches_only_built_ins(hengine):
    result = run(hengine, "require('fs')", "r.js")
    assert result.error.type == "FunctionError"
    assert "Cannot find module 'fs'" in result.error.message and "only built-in modules" in result.error.message
    sdk = run(hengine, "const aws = require('aws-sdk'); return [typeof aws.Lambda, typeof new aws.S3().getObject]",
              "sdk.js")
    assert sdk.result == ["function", "function"]


# -- Python handlers -----------------------------------------------------------------------------------

def test_python_lambda_handler_and_handler_names(hengine):
    source = ("def lambda_handler(event, context):\n"
              "    log('remaining', context.get_remaining_time_in_millis() > 500)\n"
              "    return {'name': event['name'], 'fn': context.function_name, 'mb': context.memory_limit_in_mb,\n"
              "            'id': len(context.aws_request_id)}\n"
              "def other(event, context):\n    return 'other'\n")
    result = run(hengine, source, "app.py", {"name": "Ada"}, memory="128MiB")
    assert result.ok, result.error
    assert result.result == {"name": "Ada", "fn": "app", "mb": 128, "id": 36}
    assert result.logs == ["remaining True"]
    assert run(hengine, source, "app.py", handler="other").result == "other"


def test_python_async_handler_is_awaited_and_errors_fail_the_run(hengine):
    source = ("import asyncio\nasync def handler(event, context):\n    await asyncio.sleep(0.01)\n"
              "    return event['n'] * 2\n")
    # python-full: the component's sandbox refuses the selector wait asyncio's loop makes for a sleep
    assert run(hengine, source, "a.py", {"n": 21}, runtime="python-full").result == 42
    failing = run(hengine, "def handler(event, context):\n    raise ValueError('bad event')\n", "f.py")
    assert failing.error.type == "FunctionError" and failing.error.message == "ValueError: bad event"
    assert 'File "f.py", line 2, in handler' in failing.error.detail


def test_python_top_level_return_keeps_the_script_model(hengine):
    assert run(hengine, "def handler(e, c):\n    return 1\nreturn 2\n", "s.py").result == 2


@pytest.mark.parametrize(("handler", "message"), [
    ("nope", "app.py has no handler 'nope' (top-level functions: handler)"),
    ("x", "app.py: handler 'x' is not a function (it is int)"),
])
def test_python_bad_handler_names_are_usage_errors(hengine, handler, message):
    result = run(hengine, "x = 1\ndef handler(e, c):\n    return 1\n", "app.py", handler=handler)
    assert result.error.type == "UsageError"
    assert result.error.message == message


# -- call() from JavaScript and Python ------------------------------------------------------------------

def test_js_call_round_trips_and_errors_are_catchable(hengine):
    source = """const out = [call('echo', 'echo', {a: [1, 2.5, null, 'é']}), call('echo', 'echo')];
    for (const [p, a] of [['nope', 'x'], ['echo', 'shout']]) {
      try { call(p, a, 1); } catch (e) { out.push(e.message); }
    }
    try { call(1, 'x'); } catch (e) { out.push(e.constructor.name); }
    return out;"""
    result = run(hengine, source, "c.js")
    assert result.ok, result.error
    first, second, unknown, action, bad = result.result
    assert first == {"a": [1, 2.5, None, "é"]} and second is None
    assert unknown.startswith("unknown plugin 'nope'") and "has no action 'shout'" in action
    assert bad == "TypeError"


def test_python_call_round_trips_and_errors_are_catchable(hengine):
    source = ("out = [call('echo', 'echo', {'a': [1, 2.5, None, 'é']})]\n"
              "try:\n    call('kv', 'put', {'nokey': 1})\nexcept Exception as e:\n    out.append(str(e))\n"
              "try:\n    call('echo', 'echo', {1j})\nexcept TypeError as e:\n    out.append('TypeError')\n"
              "return out\n")
    result = run(hengine, source, "c.py")
    assert result.ok, result.error
    assert result.result == [{"a": [1, 2.5, None, "é"]}, "kv: put expects {key = ..., value = ...}", "TypeError"]


def test_kv_plugin_from_js_and_python_share_a_function_namespace(hengine):
    put = run(hengine, "call('kv', 'put', {key: 'k', value: [1]}); return call('kv', 'get', 'k')", "same.js")
    assert put.result == [1]
    assert run(hengine, "return call('kv', 'get', 'k')", "same.py").result == [1]


@pytest.mark.parametrize("name", ["big.js", "big.py"])
def test_replies_too_large_or_too_deep_are_refused_before_the_guest(hengine, name):
    if name.endswith(".js"):
        source = ("const out = [];\nfor (const [a, p] of [['bytes', 20000000], ['deep', 5000], ['bytes', 10]]) {\n"
                  "  try { out.push(call('big', a, p)); } catch (e) { out.push(e.message); }\n}\n"
                  "out.push(call('big', 'bytes', 1000000).length, call('echo', 'echo', 'é😀'));\nreturn out;")
    else:
        source = ("out = []\nfor a, p in [('bytes', 20000000), ('deep', 5000), ('bytes', 10)]:\n"
                  "    try:\n        out.append(call('big', a, p))\n    except Exception as e:\n"
                  "        out.append(str(e))\n"
                  "out += [len(call('big', 'bytes', 1000000)), call('echo', 'echo', 'é😀')]\nreturn out\n")
    result = run(hengine, source, name, memory="64MiB")
    assert result.ok, result.error
    size, deep, small, large, text = result.result
    assert (large, text) == (1000000, "é😀")
    assert "reply of 20.0 MB is too large for the guest's memory limit of 64MiB" in size
    assert "nested more than 200 levels deep" in deep
    assert small == "x" * 10


def test_a_slow_plugin_ends_the_run_as_a_timeout(hengine):
    result = run(hengine, "call('big', 'slow', 0.6); return 'after'", "slow.js", timeout="300ms")
    assert result.error.type == "Timeout"


def test_the_host_call_fd_serves_nothing_but_calls(hengine):
    # Garbage written straight to the device is an error reply, not a crash or a host file.
    result = run(hengine, "import os\nos.write(0, b'not json\\n')\nreturn call('echo', 'echo', 'still fine')\n",
                 "raw.py", runtime="python-full")
    assert result.ok, result.error
    assert result.result == "still fine"


def test_cli_handler_option_exit_codes(cli, tmp_path):
    (tmp_path / "index.js").write_text("exports.handler = async (event) => ({got: event.n});")
    (tmp_path / "event.json").write_text('{"n": 7}')
    ok = cli("run", "index.js", "--handler", "handler", "-i", "event.json", cwd=tmp_path)
    assert (ok.code, ok.stdout) == (0, '{"got":7}\n')
    bad = cli("run", "index.js", "--handler", "missing", cwd=tmp_path)
    assert bad.code == 2 and "index.js has no handler 'missing'" in bad.stderr
    (tmp_path / "f.lua").write_text("return 1")
    lua = cli("run", "f.lua", "--handler", "main", cwd=tmp_path)
    assert lua.code == 2 and "does not take --handler" in lua.stderr


def test_a_request_without_end_is_capped_at_the_memory_limit(hengine):
    # A guest that streams bytes to the host-call fd and never ends the line gets an error reply once
    # the request passes its memory limit: the host keeps no more than that.
    source = ("import os\nchunk = b'x' * (1 << 20)\nfor _ in range(40):\n    os.write(0, chunk)\n"
              "os.write(0, b'\\n')\nreply = os.pread(0, 200, 0)\nreturn reply.decode()\n")
    result = run(hengine, source, "stream.py", runtime="python-full", memory="32MiB")
    assert result.ok, result.error
    assert "the request is larger than the memory limit of 32MiB" in result.result


def test_js_scripts_may_still_declare_module_exports_and_require(hengine):
    # module/exports/require are globals, not parameters: a script's own declarations do not clash.
    source = "const module = 5; let exports = 2; function require() { return 1; } return module + exports + require()"
    assert run(hengine, source, "own.js").result == 8
