"""The ``faasctl`` host import module against the real plugin registry (built-in ``echo`` and ``kv``)."""

from __future__ import annotations

import pytest
from conftest import run_cli
from test_wasm import run


def plugged(plugin: str = "echo", action: str = "echo", payload: str | None = None) -> str:
    """A string-ABI function that calls PLUGIN.ACTION with its input (or a fixed PAYLOAD) and returns
    the status digit followed by the reply; it also logs one line through faasctl.log."""
    escaped = (payload or "").replace("\\", "\\\\").replace('"', '\\"')
    payload_data = f'(data (i32.const 64) "{escaped}")' if payload is not None else ""
    payload_args = (f"(i32.const 64) (i32.const {len(payload.encode())})" if payload is not None
                    else "(local.get $ptr) (local.get $len)")
    return f"""(module
  (import "faasctl" "call" (func $call (param i32 i32 i32 i32 i32 i32) (result i64)))
  (import "faasctl" "reply" (func $reply (param i32 i32) (result i32)))
  (import "faasctl" "log" (func $log (param i32 i32)))
  (memory (export "memory") 1)
  (global (export "__heap_base") i32 (i32.const 4096))
  (data (i32.const 0) "{plugin}")
  (data (i32.const 32) "{action}")
  (data (i32.const 48) "called")
  {payload_data}
  (func (export "plugged") (param $ptr i32) (param $len i32) (result i32 i32)
    (local $r i64) (local $n i32) (local $out i32)
    (local.set $r (call $call (i32.const 0) (i32.const {len(plugin)}) (i32.const 32) (i32.const {len(action)})
                   {payload_args}))
    (local.set $n (i32.wrap_i64 (local.get $r)))
    (local.set $out (i32.add (local.get $ptr) (local.get $len)))
    (if (i32.gt_u (i32.add (i32.add (local.get $out) (local.get $n)) (i32.const 1))
                  (i32.mul (memory.size) (i32.const 65536)))
      (then (drop (memory.grow (i32.const 16)))))
    (i32.store8 (local.get $out) (i32.add (i32.const 48) (i32.wrap_i64 (i64.shr_u (local.get $r) (i64.const 32)))))
    (drop (call $reply (i32.add (local.get $out) (i32.const 1)) (local.get $n)))
    (call $log (i32.const 48) (i32.const 6))
    (local.get $out) (i32.add (local.get $n) (i32.const 1))))"""


def test_echo_plugin_round_trip(engine):
    result = run(engine, plugged(), {"n": [1, "é"]}, name="plugged.wat")
    assert result.ok, result.error
    assert result.output.decode() == '0{"n":[1,"é"]}'
    assert result.logs == ["called"]


def test_large_reply(engine):
    text = "x" * 200_000
    result = run(engine, plugged(), {"big": text}, name="plugged.wat")
    assert result.ok and result.output.decode() == '0{"big":"' + text + '"}'


def test_unknown_plugin_or_action_is_an_error_reply_not_a_crash(engine):
    result = run(engine, plugged(plugin="nope"), {}, name="plugged.wat")
    assert result.ok and result.output.decode().startswith("1unknown plugin 'nope'")
    result = run(engine, plugged(action="fly"), {}, name="plugged.wat")
    assert result.ok and result.output.decode().startswith("1plugin 'echo' has no action 'fly'")


def test_kv_plugin_keeps_state_between_runs(engine):
    put = plugged(plugin="kv", action="put", payload='{"key": "n", "value": 41}')
    get = plugged(plugin="kv", action="get", payload='{"key": "n"}')
    assert run(engine, put, {}, name="counter.wat").output == b"0true"
    assert run(engine, get, {}, name="counter.wat").output == b"041"
    assert run(engine, get, {}, name="other.wat").output == b"0null"  # namespaced by function
    bad = run(engine, plugged(plugin="kv", action="get", payload="{}"), {}, name="counter.wat")
    assert bad.output.decode().startswith("1kv: the key must be")


def test_payload_that_is_not_json(engine):
    result = run(engine, plugged(payload="{oops"), {}, name="plugged.wat")
    assert result.ok and result.output.startswith(b"1payload of echo.echo is not JSON")


@pytest.mark.parametrize("length", ["70000", "-1"])
def test_plugin_name_outside_memory_traps(engine, length):
    wat = f"""(module
      (import "faasctl" "call" (func $call (param i32 i32 i32 i32 i32 i32) (result i64)))
      (memory (export "memory") 1)
      (func (export "f") (result i64)
        (call $call (i32.const 0) (i32.const {length}) (i32.const 0) (i32.const 1) (i32.const 0) (i32.const 0))))"""
    result = run(engine, wat)
    assert result.error.type == "Trap" and "outside memory" in result.error.message


def test_unknown_faasctl_import_is_named(engine):
    wat = '(module (import "faasctl" "teleport" (func)) (func (export "f")))'
    from faasctl.errors import ArtifactError

    with pytest.raises(ArtifactError, match="faasctl.teleport"):
        run(engine, wat)


def test_plugin_call_from_the_cli(tmp_path):
    target = tmp_path / "plugged.wat"
    target.write_text(plugged())
    result = run_cli("run", str(target), "-d", '{"a": 1}')
    assert result.code == 0 and result.stdout == '0{"a":1}' and result.stderr == "called\n"
