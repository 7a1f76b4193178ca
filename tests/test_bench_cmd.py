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
