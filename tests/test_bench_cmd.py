"""``faasctl bench``: the figures it computes, warm and cold runs through the real engine, and failures."""

from __future__ import annotations

from pathlib import Path

from conftest import EXAMPLES, make_engine, run_cli

from faasctl.cli.bench_cmd import measure, percentile, summarize
from faasctl.inputs import FunctionInput
from faasctl.result import Result, Stats


def test_percentile_is_nearest_rank() -> None:
    values = [float(v) for v in range(1, 21)]
    assert percentile(values, 0.95) == 19.0
    assert percentile(values, 0.5) == 10.0
    assert percentile([7.0], 0.95) == 7.0


def test_summarize() -> None:
    results = [Result("js", "f.js", Stats(duration_ms=1.0, fuel_used=f, memory_peak_bytes=m))
               for f, m in ((10, 100), (30, 300), (20, 200))]
    report = summarize([1.0, 3.0, 2.0], results, "warm", 2)
    assert report["wall_ms"] == {"min": 1.0, "median": 2.0, "p95": 3.0, "max": 3.0, "mean": 2.0}
    assert report["runs_per_second"] == 500.0
    assert report["fuel_used"] == {"min": 10, "median": 20, "max": 30}
    assert report["memory_peak_bytes"] == {"median": 200, "max": 300}
    assert report["cold_start_ms"] is None


def test_measure_warm_reuses_one_engine_and_cold_builds_one_per_run(faasctl_home: Path) -> None:
    built = []

    def factory():
        built.append(make_engine(faasctl_home))
        return built[-1]

    def run(engine):
        return engine.run(str(EXAMPLES / "hello.js"), FunctionInput.of({"name": "Ada"}))

    wall, results, failed = measure(factory, run, runs=3, warmup=1, cold=False)
    assert (len(wall), len(results), failed, len(built)) == (3, 3, None, 1)
    assert results[0].result == {"greeting": "Hello, Ada!"}
    built.clear()
    wall, results, failed = measure(factory, run, runs=3, warmup=1, cold=True)
    assert (len(wall), failed, len(built)) == (3, None, 4)


def test_bench_table_and_json() -> None:
    table = run_cli("bench", str(EXAMPLES / "hello.js"), "--runs", "5", "--warmup", "1", "-p", "name=Ada")
    assert table.code == 0, table.stderr
    assert "hello.js (js), warm: 5 runs after 1 warm-up" in table.stdout
    for word in ("min", "median", "p95", "max", "runs/s", "fuel", "memory peak"):
        assert word in table.stdout
    data = run_cli("bench", str(EXAMPLES / "gcd.wat"), "--invoke", "gcd", "6", "27", "--runs", "4", "--cold",
                   "--fuel", "1000000", "--format", "json").json()
    assert data["mode"] == "cold" and data["runs"] == 4 and data["runtime"] == "wasm"
    assert data["wall_ms"]["min"] <= data["wall_ms"]["median"] <= data["wall_ms"]["p95"] <= data["wall_ms"]["max"]
    assert data["fuel_used"]["min"] > 0 and data["runs_per_second"] > 0


def test_bench_stops_at_a_failing_run_with_its_exit_code(tmp_path: Path) -> None:
    (tmp_path / "spin.js").write_text("while (true) {}")
    result = run_cli("bench", str(tmp_path / "spin.js"), "--timeout", "100ms", "--runs", "3")
    assert result.code == 3
    assert "bench stopped: run 1 of 6 failed" in result.stderr and "timed out after 100ms" in result.stderr
    assert result.stdout == ""


def test_bench_usage_errors() -> None:
    assert run_cli("bench", "-", "--runtime", "js").code == 2
    bad = run_cli("bench", str(EXAMPLES / "hello.js"), "--runs", "0")
    assert bad.code == 2 and "it must be 1 or more" in bad.stderr
    missing = run_cli("bench", "nope.js")
    assert missing.code == 2 and "no such file: nope.js" in missing.stderr


COUNTS_WAT = """(module
  (import "wasi_snapshot_preview1" "args_sizes_get" (func $args (param i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "environ_sizes_get" (func $environ (param i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_write" (func $write (param i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "proc_exit" (func $exit (param i32)))
  (memory (export "memory") 1)
  (func (export "_start")
    (drop (call $args (i32.const 0) (i32.const 4)))
    (drop (call $environ (i32.const 8) (i32.const 12)))
    ;; "<argc><envc>" as two digits at 32, one iovec at 16
    (i32.store8 (i32.const 32) (i32.add (i32.const 48) (i32.load (i32.const 0))))
    (i32.store8 (i32.const 33) (i32.add (i32.const 48) (i32.load (i32.const 8))))
    (i32.store (i32.const 16) (i32.const 32))
    (i32.store (i32.const 20) (i32.const 2))
    (drop (call $write (i32.const 1) (i32.const 16) (i32.const 1) (i32.const 24)))
    ;; exit 9 unless given two --arg and one --env
    (if (i32.or (i32.ne (i32.load (i32.const 0)) (i32.const 3)) (i32.ne (i32.load (i32.const 8)) (i32.const 1)))
      (then (call $exit (i32.const 9))))))
"""


def test_bench_takes_the_run_options_of_run(tmp_path: Path) -> None:
    """One option definition for run and bench: --arg and --env reach the guest in both."""
    module = tmp_path / "counts.wat"
    module.write_text(COUNTS_WAT)
    options = ["--arg", "a", "--arg", "b", "--env", "K=V", "--output-json", "false"]
    assert run_cli("run", str(module), *options).stdout.strip() == "31"  # argv[0] is the module's name
    bench = run_cli("bench", str(module), *options, "--runs", "2", "--warmup", "0", "--format", "json")
    assert bench.code == 0, bench.stderr
    assert bench.json()["runs"] == 2
    without = run_cli("bench", str(module), "--runs", "2", "--warmup", "0")
    assert without.code == 1 and "exited with code 9" in without.stderr
    refused = run_cli("bench", str(EXAMPLES / "hello.js"), "--dir", str(tmp_path), "--runs", "1")
    assert refused.code == 2 and "does not take --dir" in refused.stderr
    offline = run_cli("bench", "oci://127.0.0.1:9/none:1", "--pull", "never", "--runs", "1")
    assert offline.code == 7 and "--pull never forbids" in offline.stderr
