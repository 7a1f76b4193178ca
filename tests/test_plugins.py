"""The plugin registry and the built-in plugins, directly and through Lua's ``call``."""

from __future__ import annotations

import pytest
from runners import run_source

from faasctl.plugins.builtin import EchoPlugin, KVPlugin
from faasctl.plugins.registry import PluginContext, PluginError, PluginRegistry


@pytest.fixture
def context(tmp_path):
    return PluginContext(function="f.lua", data_dir=tmp_path, kv_path=None)


def test_entry_points_name_the_builtins_and_load_lazily():
    registry = PluginRegistry.from_entry_points()
    assert {"echo", "kv"} <= set(registry.names())
    assert registry._instances == {}


def test_echo_returns_its_payload(context):
    registry = PluginRegistry.from_entry_points()
    payload = {"a": [1, 2.5, None, "é"]}
    assert registry.call("echo", "echo", payload, context=context) == payload


def test_unknown_plugin_and_action_are_clear_errors(context):
    registry = PluginRegistry({"echo": EchoPlugin})
    with pytest.raises(PluginError, match=r"unknown plugin 'nope' \(installed plugins: echo\)"):
        registry.call("nope", "echo", 1, context=context)
    with pytest.raises(PluginError, match=r"plugin 'echo' has no action 'shout' \(actions: echo\)"):
        registry.call("echo", "shout", 1, context=context)
    with pytest.raises(PluginError, match="has no action '__init__'"):
        registry.call("echo", "__init__", 1, context=context)


def test_a_failing_plugin_becomes_a_plugin_error(context):
    class Broken:
        def action_go(self, payload, context):
            raise RuntimeError("disk on fire")

    registry = PluginRegistry({"broken": Broken})
    with pytest.raises(PluginError, match="broken.go failed: RuntimeError: disk on fire"):
        registry.call("broken", "go", None, context=context)


def test_kv_get_put_delete_list(context):
    kv = KVPlugin()
    assert kv.action_get("missing", context) is None
    assert kv.action_put({"key": "a", "value": {"x": [1, 2]}}, context) is True
    assert kv.action_get("a", context) == {"x": [1, 2]}
    assert kv.action_get({"key": "a"}, context) == {"x": [1, 2]}
    assert kv.action_list(None, context) == ["a"]
    assert kv.action_delete("a", context) is True
    assert kv.action_delete("a", context) is False
    assert (context.data_dir / "kv.sqlite3").exists()


def test_kv_namespaces_are_per_function(tmp_path):
    kv = KVPlugin()
    one = PluginContext("one.lua", tmp_path)
    two = PluginContext("two.lua", tmp_path)
    kv.action_put({"key": "k", "value": 1}, one)
    assert kv.action_get("k", two) is None
    assert kv.action_get("k", one) == 1


def test_kv_rejects_bad_keys_and_payloads(context):
    kv = KVPlugin()
    for bad in (None, "", 5, {"key": 3}, "x" * 5000):
        with pytest.raises(PluginError, match="key must be a non-empty string"):
            kv.action_get(bad, context)
    with pytest.raises(PluginError, match="put expects"):
        kv.action_put({"key": "a"}, context)


def test_kv_path_option_chooses_the_file(tmp_path):
    path = tmp_path / "elsewhere" / "store.db"
    kv = KVPlugin()
    kv.action_put({"key": "a", "value": True}, PluginContext("f", tmp_path / "data", str(path)))
    assert path.exists()
    assert not (tmp_path / "data" / "kv.sqlite3").exists()


def test_lua_call_round_trip_and_catchable_errors(engine):
    result = run_source(engine, "return call('echo', 'echo', {1, 'two', json.null, {k = 1.5}})", "c.lua")
    assert result.result == [1, "two", None, {"k": 1.5}]
    caught = run_source(engine, "local ok, err = pcall(call, 'kv', 'explode', 1) return {ok, err}", "c.lua")
    assert caught.result[0] is False and "has no action 'explode'" in caught.result[1]
    bad_payload = run_source(engine, "return call('echo', 'echo', {f = print})", "c.lua")
    assert bad_payload.error.type == "FunctionError"
    assert "call: the payload is not JSON: $.f is a function" in bad_payload.error.message
    bad_args = run_source(engine, "return call(1, 2)", "c.lua")
    assert "plugin and action must be strings" in bad_args.error.message


def test_plugin_reply_counts_against_the_memory_limit(engine):
    source = "return #call('echo', 'echo', string.rep('x', 3 * 1024 * 1024))"
    assert run_source(engine, source, "m.lua").result == 3 * 1024 * 1024
    result = run_source(engine, "local s = string.rep('x', 3 * 1024 * 1024) local t = {s, call('echo', 'echo', s)}",
                        "m.lua", memory="7MiB")
    assert result.error.type == "MemoryLimit"


def test_kv_from_lua_is_namespaced_by_function(engine):
    put = "call('kv', 'put', {key = 'who', value = 'first'}) return call('kv', 'get', 'who')"
    assert run_source(engine, put, "first.lua").result == "first"
    assert run_source(engine, "return call('kv', 'get', 'who')", "second.lua").result is None
