"""The shared WASI sandbox with tiny WAT modules: stdio capture in both modes, caps, sleeps, limits."""

from __future__ import annotations

import hashlib

import pytest
import wasmtime

from faasctl.limits import Limits
from faasctl.wasm.sandbox import Sandbox, SandboxSpec

# A WASI command that copies stdin to stdout (up to 64 KiB), then writes "!" to stderr.
CAT = """
(module
  (import "wasi_snapshot_preview1" "fd_read" (func $read (param i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_write" (func $write (param i32 i32 i32 i32) (result i32)))
  (memory (export "memory") 2)
  (data (i32.const 200) "!")
  (func (export "_start")
    (i32.store (i32.const 0) (i32.const 1024))
    (i32.store (i32.const 4) (i32.const 65536))
    (drop (call $read (i32.const 0) (i32.const 0) (i32.const 1) (i32.const 8)))
    (i32.store (i32.const 4) (i32.load (i32.const 8)))
    (drop (call $write (i32.const 1) (i32.const 0) (i32.const 1) (i32.const 8)))
    (i32.store (i32.const 16) (i32.const 200))
    (i32.store (i32.const 20) (i32.const 1))
    (drop (call $write (i32.const 2) (i32.const 16) (i32.const 1) (i32.const 8)))))
"""

# Writes 4 KiB to stdout forever.
FLOOD = """
(module
  (import "wasi_snapshot_preview1" "fd_write" (func $write (param i32 i32 i32 i32) (result i32)))
  (memory (export "memory") 1)
  (func (export "_start")
    (i32.store (i32.const 0) (i32.const 1024))
    (i32.store (i32.const 4) (i32.const 4096))
    (loop $again
      (drop (call $write (i32.const 1) (i32.const 0) (i32.const 1) (i32.const 8)))
      (br $again))))
"""

# Sleeps 60 s through poll_oneoff (one relative clock subscription).
SLEEP = """
(module
  (import "wasi_snapshot_preview1" "poll_oneoff" (func $poll (param i32 i32 i32 i32) (result i32)))
  (memory (export "memory") 1)
  (func (export "_start")
    (i64.store (i32.const 24) (i64.const 60000000000))
    (drop (call $poll (i32.const 0) (i32.const 100) (i32.const 1) (i32.const 200)))))
"""


def _run(engine, wat: str, limits: Limits, spec: SandboxSpec):
    host = engine.wasm_host()
    wasm = wasmtime.wat2wasm(wat)
    module, _ = host.module(hashlib.sha256(wasm).hexdigest(), lambda: wasm, "test module", limits.fuel is not None)

    def start(sandbox, instance):
        instance.exports(sandbox.store)["_start"](sandbox.store)

    return Sandbox(host, limits, spec).run(module, start)


MODES = {"no-dirs": None, "read-only-dir": False, "writable-dir": True}


def _dirs(tmp_path, mode):
    writable = MODES[mode]
    return [] if writable is None else [(str(tmp_path), "/data", writable)]


@pytest.mark.parametrize("mode", list(MODES))
def test_stdin_stdout_stderr(engine, tmp_path, mode):
    spec = SandboxSpec(stdin="héllo".encode(), dirs=_dirs(tmp_path, mode))
    outcome = _run(engine, CAT, Limits(), spec)
    assert outcome.error is None and outcome.exit_code == 0
    assert outcome.stdout == "héllo".encode()
    assert outcome.stderr == b"!"


@pytest.mark.parametrize("mode", list(MODES))
def test_output_flood_is_an_output_limit(engine, tmp_path, mode):
    outcome = _run(engine, FLOOD, Limits(timeout=2, max_output=64 * 1024), SandboxSpec(dirs=_dirs(tmp_path, mode)))
    assert outcome.error is not None and outcome.error.type == "OutputLimit"
    assert len(outcome.stdout) == 64 * 1024
    assert not list(tmp_path.iterdir())  # nothing written into the granted directory


@pytest.mark.parametrize("mode", ["no-dirs", "read-only-dir"])
def test_output_flood_stops_the_guest_at_once_unless_a_dir_is_writable(engine, tmp_path, mode):
    limits = Limits(timeout=30, max_output=64 * 1024, fuel=10**12)  # fuel only to measure the work done
    outcome = _run(engine, FLOOD, limits, SandboxSpec(dirs=_dirs(tmp_path, mode)))
    assert outcome.error.type == "OutputLimit"
    assert outcome.fuel_used < 50_000_000  # stopped by the cap, not by the 30 s timeout


def test_sleep_is_bounded_by_the_deadline(engine):
    outcome = _run(engine, SLEEP, Limits(timeout=0.3), SandboxSpec())
    assert outcome.error is not None and outcome.error.type == "Timeout"
    assert outcome.error.message == "timed out after 300ms"


def test_fuel_is_metered_only_with_a_fuel_limit(engine):
    unmetered = _run(engine, CAT, Limits(), SandboxSpec(stdin=b"x"))
    metered = _run(engine, CAT, Limits(fuel=10**9), SandboxSpec(stdin=b"x"))
    assert unmetered.fuel_used is None
    assert metered.fuel_used is not None and 0 < metered.fuel_used < 10_000
    assert metered.stdout == unmetered.stdout == b"x"
