"""Instantiate + call, per run, in process: faasctl's wasm runtime beside WasmEngine's Rust figures.

    python bench/wasm_bench.py [--runs 2000]

For gcd (numeric), echo_string (string ABI) and wasi_echo (WASI command) it prints the median of:
- ``engine.run``: the whole pipeline of one run (plan, sandbox, instantiate, call, output parsing);
- its phases: building the sandbox (store, WASI config, linker with WASI and the shadowed imports),
  instantiating, calling;
- the floor of the Python bindings: a bare ``Store`` + ``Instance`` + call, no linker, no WASI.
The reference is the openEuler WasmEngine Criterion benchmark: 2.5 µs to 38 µs per call in Rust.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from faasctl.engine import Engine, Settings, artifact_from_bytes  # noqa: E402
from faasctl.inputs import FunctionInput  # noqa: E402
from faasctl.runtimes.base import RunOptions  # noqa: E402

CASES = [
    ("gcd", "gcd.wat", FunctionInput.of({}), RunOptions(invoke="gcd", args=("6", "27"))),
    ("echo_string", "echo_string.wat", FunctionInput.of("echo"), RunOptions()),
    ("wasi_echo", "wasi_echo.wat", FunctionInput.of({"name": "Ada"}), RunOptions()),
]
REFERENCE = "WasmEngine (Rust, Criterion): 2.5 µs .. 38 µs per call"


def median_us(samples: list[int]) -> float:
    return statistics.median(samples) / 1000


def time_engine(engine: Engine, artifact, value, options, runs: int) -> tuple[float, object]:  # noqa: ANN001
    result = engine.run(artifact, value, options=options)
    samples = []
    for _ in range(runs):
        start = time.perf_counter_ns()
        result = engine.run(artifact, value, options=options)
        samples.append(time.perf_counter_ns() - start)
    return median_us(samples), result


def time_phases(engine: Engine, artifact, value, options, runs: int) -> dict[str, float]:  # noqa: ANN001
    """Sandbox construction, instantiation and the call, timed separately with the runtime's own parts."""
    from faasctl.runtimes.wasm import function_name
    from faasctl.wasm import abi as abis
    from faasctl.wasm.modules import compiled_module, shape_of
    from faasctl.wasm.sandbox import Sandbox

    host = engine.wasm_host()
    runtime = engine.runtime("wasm")
    module, _ = compiled_module(host, artifact)
    limits = engine.limits_for(engine.registry.get("wasm"))
    phases: dict[str, list[int]] = {"plan": [], "sandbox": [], "instantiate": [], "call": []}
    from faasctl.runtimes.base import Invocation

    invocation = Invocation(artifact, value, limits, options)
    for _ in range(runs):
        t0 = time.perf_counter_ns()
        shape = runtime._shapes.get(artifact.digest) or shape_of(module)  # noqa: SLF001 - as execute() does
        plan = abis.plan_call(shape, function_name(artifact), invoke=options.invoke, abi=options.abi)
        wasi = plan.abi != "string" and any(i.module == abis.WASI_MODULE for i in shape.imports)
        spec, entry = runtime._prepare(plan, invocation, {}, wasi)  # noqa: SLF001
        t1 = time.perf_counter_ns()
        sandbox = Sandbox(host, limits, spec)
        t2 = time.perf_counter_ns()
        with host.ticker:
            sandbox.store.set_epoch_deadline(host.ticker.ticks_for(limits.timeout))
            sandbox.deadline = time.monotonic() + limits.timeout
            instance = sandbox.linker.instantiate(sandbox.store, module)
            t3 = time.perf_counter_ns()
            try:
                entry(sandbox, instance)
            except Exception:  # noqa: BLE001 - wasi_echo's proc_exit is not reached; nothing else raises
                pass
            t4 = time.perf_counter_ns()
        for key, (a, b) in {"plan": (t0, t1), "sandbox": (t1, t2), "instantiate": (t2, t3),
                            "call": (t3, t4)}.items():
            phases[key].append(b - a)
    return {key: median_us(samples) for key, samples in phases.items()}


def time_floor(engine: Engine, runs: int) -> float:
    """The least the Python bindings can do: a fresh store and instance of gcd, one call."""
    import wasmtime

    from faasctl.wasm.modules import compiled_module

    host = engine.wasm_host()
    artifact = artifact_from_bytes("gcd.wat", (ROOT / "examples" / "gcd.wat").read_bytes())
    module, _ = compiled_module(host, artifact)
    samples = []
    for _ in range(runs):
        start = time.perf_counter_ns()
        store = wasmtime.Store(host.engine)  # the unmetered engine, as runs without --fuel use
        store.set_epoch_deadline(1 << 40)
        instance = wasmtime.Instance(store, module, [])
        instance.exports(store)["gcd"](store, 6, 27)  # type: ignore[operator]
        samples.append(time.perf_counter_ns() - start)
    return median_us(samples)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=2000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="faasctl-bench-") as home:
        engine = Engine(Settings(cache_dir=Path(home) / "cache", data_dir=Path(home) / "data"))
        print(f"{args.runs} runs each, medians in µs per run (instantiate + call); {REFERENCE}")
        header = f"{'function':<12} {'engine.run':>11} {'plan':>7} {'sandbox':>8} {'instantiate':>12} {'call':>7}"
        print(header)
        print("-" * len(header))
        for label, file_name, value, options in CASES:
            artifact = artifact_from_bytes(file_name, (ROOT / "examples" / file_name).read_bytes())
            total, result = time_engine(engine, artifact, value, options, args.runs)
            assert result.ok, result.error  # type: ignore[attr-defined]
            phases = time_phases(engine, artifact, value, options, args.runs)
            print(f"{label:<12} {total:>11.1f} {phases['plan']:>7.1f} {phases['sandbox']:>8.1f} "
                  f"{phases['instantiate']:>12.1f} {phases['call']:>7.1f}")
        floor = time_floor(engine, args.runs)
        print(f"{'floor':<12} {floor:>11.1f}   bare Store + Instance + gcd call through wasmtime-py, no linker")
        print(f"{'reference':<12} {'2.5..38':>11}   WasmEngine, Rust")


if __name__ == "__main__":
    main()
