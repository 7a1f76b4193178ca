"""Lua input conversion: faasctl's in-sandbox JSON decoder (under the run's limits) side by side with the
host-side conversion it replaced (``json.loads`` + ``LuaRuntime.table_from`` with the allocator unlimited).

    python bench/lua_input_bench.py [ARRAYS]

Prints seconds and the worker's peak memory for each, for an input of ARRAYS empty arrays (`[[],[],...]`)
and for a typical 2 KB object input.
"""

from __future__ import annotations

import json
import resource
import sys
import time


def in_sandbox(text: bytes, memory: int, repeat: int = 1) -> tuple[float, object]:
    from faasctl.lua.child import State, prelude_bytecode

    state = State(prelude_bytecode())
    env, start = state.build(None)
    state.rt.set_max_memory(memory)
    chunk, _ = state.compile(b"function main(a) return #a end", b"=bench", b"t", env)
    began = time.perf_counter()
    for _ in range(repeat):
        ok, value = state.run_guest(chunk, env, text, start)
    return time.perf_counter() - began, value


def on_host(text: bytes) -> tuple[float, object]:
    """The conversion faasctl did before: Python parses, then builds Lua tables with no limit."""
    import lupa.lua54 as lupa

    rt = lupa.LuaRuntime(encoding=None, register_eval=False, register_builtins=False, max_memory=0)
    mark = rt.eval("function(t) return setmetatable(t, {}) end")

    def to_lua(value):
        if isinstance(value, list):
            return mark(rt.table_from([to_lua(item) for item in value]))
        if isinstance(value, dict):
            return rt.table_from({k.encode(): to_lua(v) for k, v in value.items()})
        return value.encode() if isinstance(value, str) else value

    began = time.perf_counter()
    table = to_lua(json.loads(text))
    return time.perf_counter() - began, len(table)


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> None:
    import os

    arrays = int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000
    big = ("[" + ",".join(["[]"] * arrays) + "]").encode()
    small = json.dumps({"items": [{"id": i, "name": f"item {i}", "tags": ["a", "b"], "price": i * 1.5}
                                  for i in range(25)]}).encode()
    print(f"{'input':<28} {'in the sandbox (s)':>20} {'on the host, before (s)':>24}")
    for label, text, repeat in ((f"{arrays:,} empty arrays", big, 1), (f"{len(small):,} B object x1000", small, 1000)):
        pid = os.fork()
        if pid == 0:  # each measurement in its own process, so peaks do not mix
            sandbox = in_sandbox(text, 2**34, repeat)[0]
            sandbox_peak = peak_mb()
            host = sum(on_host(text)[0] for _ in range(repeat))
            print(f"{label:<28} {sandbox:>20.3f} {host:>24.3f}   (peak {sandbox_peak:.0f} MB, then {peak_mb():.0f} MB)")
            os._exit(0)
        os.waitpid(pid, 0)
    seconds, outcome = in_sandbox(big, 64 * 1024**2)
    print(f"{arrays:,} empty arrays under a 64MiB limit: ended with {outcome!r} after {seconds:.3f}s")


if __name__ == "__main__":
    main()
