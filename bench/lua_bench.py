"""Lua runtime benchmark: in-process runs of examples/hello.lua through the engine, side by side with
Debian's ``lua5.4`` running the same script as a process.

    python bench/lua_bench.py [--runs N]

Prints medians (and p90) in milliseconds. The faasctl numbers are whole ``Engine.run`` calls on a warm
engine: a pooled worker process, a fresh sandboxed Lua state per run, the chunk's bytecode cached.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
HELLO = ROOT / "examples" / "hello.lua"
DRIVER = "dofile(%r) io.write(main({}))"


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def row(label: str, values: list[float]) -> str:
    return f"  {label:<52} median {statistics.median(values):8.3f} ms   p90 {percentile(values, 0.9):8.3f} ms"


def bench_faasctl(runs: int) -> dict[str, list[float]]:
    from faasctl.engine import Engine, Settings, artifact_from_bytes
    from faasctl.inputs import FunctionInput

    home = Path(tempfile.mkdtemp(prefix="faasctl-bench-"))
    engine = Engine(Settings(cache_dir=home / "cache", data_dir=home / "data"))
    artifact = artifact_from_bytes("hello.lua", HELLO.read_bytes())
    function_input = FunctionInput.of({"name": "bench"})
    started = time.perf_counter()
    first = engine.run(artifact, function_input)
    cold = [(time.perf_counter() - started) * 1000]
    assert first.result == "Hello bench", first
    fork = [first.stats.cold_start_ms or 0.0]
    warm, fuel = [], []
    for _ in range(runs):
        started = time.perf_counter()
        result = engine.run(artifact, function_input)
        warm.append((time.perf_counter() - started) * 1000)
        assert result.ok
    for _ in range(runs):
        started = time.perf_counter()
        engine.run(artifact, function_input, limits={"fuel": 10**9})
        fuel.append((time.perf_counter() - started) * 1000)
    engine.runtime("lua").close()  # type: ignore[attr-defined]
    shutil.rmtree(home, ignore_errors=True)
    return {"faasctl first run (registry, import lupa, fork a worker)": cold,
            "  of which forking the worker (cold_start_ms)": fork,
            "faasctl warm run, in process": warm,
            "faasctl warm run with --fuel (count hook on)": fuel}


def bench_lua54(runs: int) -> list[float] | None:
    exe = shutil.which("lua5.4")
    if not exe:
        return None
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        out = subprocess.run([exe, "-e", DRIVER % str(HELLO)], capture_output=True, check=True)
        times.append((time.perf_counter() - started) * 1000)
    assert out.stdout == b"Hello World", out.stdout
    return times


def bench_cli(runs: int) -> list[float]:
    exe = Path(sys.executable).with_name("faasctl")
    env = {**os.environ, "FAASCTL_HOME": tempfile.mkdtemp(prefix="faasctl-bench-cli-")}
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        subprocess.run([str(exe), "run", str(HELLO)], capture_output=True, check=True, env=env,
                       stdin=subprocess.DEVNULL)
        times.append((time.perf_counter() - started) * 1000)
    shutil.rmtree(env["FAASCTL_HOME"], ignore_errors=True)
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=300)
    args = parser.parse_args()
    print(f"hello.lua, {args.runs} runs each (cpus: {os.cpu_count()})")
    for label, values in bench_faasctl(args.runs).items():
        print(row(label, values))
    lua = bench_lua54(min(args.runs, 100))
    if lua is None:
        print("  lua5.4 is not installed (apt-get install -y lua5.4): no reference numbers")
    else:
        print(row("lua5.4 hello.lua as a process (reference)", lua))
    print(row("faasctl run hello.lua as a process (whole CLI)", bench_cli(min(args.runs, 20))))


if __name__ == "__main__":
    main()
