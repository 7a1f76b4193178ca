"""``faasctl bench TARGET``: repeated runs, warm (one engine) or cold (a fresh engine per run), with
percentiles, runs per second, fuel and memory figures."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Annotated, Any

import typer

from faasctl.cli.options import (
    Abi,
    Args,
    ArgsCommand,
    Config,
    Data,
    Fuel,
    Input,
    Invoke,
    MaxInput,
    MaxOutput,
    Memory,
    OutputJson,
    Param,
    Runtime,
    Text,
    Timeout,
    choice,
    complete_path,
    namespace,
    verb_app,
    whole_number,
)
from faasctl.errors import UsageError

if TYPE_CHECKING:
    from faasctl.cli.environment import Environment

EXAMPLES = """examples:
  faasctl bench examples/hello.js -d '{"name":"Ada"}'
  faasctl bench handler.py --runs 50 --warmup 5 --format json
  faasctl bench f.js --cold --runs 10        # a fresh engine (instance cache) per run"""


app = verb_app()


@app.command("bench", cls=ArgsCommand, epilog=EXAMPLES, short_help="benchmark a function: percentiles, runs per second",
             help="Run a function many times and report wall-clock min/median/p95/max, runs per second, fuel and "
                  "peak memory. Warm by default (one engine, compiled modules and instances reused); --cold builds "
                  "a fresh engine for every run.")
def bench(
    ctx: typer.Context,
    target: Annotated[str, typer.Argument(metavar="TARGET", help="function file or oci://REF", show_default=False,
                                          autocompletion=complete_path)],
    args: Args = None,
    runs: Annotated[int, typer.Option("--runs", "-n", metavar="N", parser=whole_number("runs", 1),
                                      help="measured runs")] = 20,
    warmup: Annotated[int, typer.Option("--warmup", metavar="N", parser=whole_number("warmup", 0),
                                        help="unmeasured runs first")] = 3,
    cold: Annotated[bool, typer.Option("--cold", help="a fresh engine for every run (no instance cache)")] = False,
    format: Annotated[str, typer.Option("--format", "-f", click_type=choice("table", "json"),
                                        help="a table for people or a JSON report")] = "table",
    input: Input = None,
    data: Data = None,
    param: Param = None,
    text: Text = False,
    max_input: MaxInput = None,
    runtime: Runtime = None,
    output_json: OutputJson = "auto",
    invoke: Invoke = None,
    abi: Abi = None,
    config: Config = None,
    timeout: Timeout = None,
    memory: Memory = None,
    fuel: Fuel = None,
    max_output: MaxOutput = None,
) -> int:
    return handle(namespace(locals()), ctx.obj)


def percentile(values: list[float], fraction: float) -> float:
    """Nearest-rank percentile (p95 of 20 runs is the 19th smallest)."""
    import math

    ordered = sorted(values)
    rank = max(1, math.ceil(fraction * len(ordered)))
    return ordered[rank - 1]


def summarize(wall_ms: list[float], results: list[Any], mode: str, warmup: int) -> dict[str, Any]:
    """The figures ``bench`` prints, from the measured runs' wall times and results."""
    import statistics  # ~4 ms of imports: not on the path of every faasctl command

    total = sum(wall_ms)
    fuel = [r.stats.fuel_used for r in results if r.stats.fuel_used is not None]
    memory = [r.stats.memory_peak_bytes for r in results if r.stats.memory_peak_bytes is not None]
    cold = [r.stats.cold_start_ms for r in results if r.stats.cold_start_ms is not None]
    first = results[0]
    return {
        "function": first.function,
        "runtime": first.runtime,
        "mode": mode,
        "runs": len(wall_ms),
        "warmup": warmup,
        "wall_ms": {
            "min": round(min(wall_ms), 3),
            "median": round(statistics.median(wall_ms), 3),
            "p95": round(percentile(wall_ms, 0.95), 3),
            "max": round(max(wall_ms), 3),
            "mean": round(statistics.fmean(wall_ms), 3),
        },
        "runs_per_second": round(len(wall_ms) / (total / 1000), 2) if total > 0 else None,
        "fuel_used": {"min": min(fuel), "median": int(statistics.median(fuel)), "max": max(fuel)} if fuel else None,
        "memory_peak_bytes": {"median": int(statistics.median(memory)), "max": max(memory)} if memory else None,
        "cold_start_ms": {"median": round(statistics.median(cold), 3), "max": round(max(cold), 3)} if cold else None,
    }


def measure(make_engine: Callable[[], Any], run: Callable[[Any], Any], runs: int, warmup: int,
            cold: bool) -> tuple[list[float], list[Any], int | None]:
    """Wall times (ms) and results of ``runs`` measured runs after ``warmup`` others, and the 1-based
    number of the run that failed (None when all succeeded; measuring stops there, its result last).
    Cold: a fresh engine per run, its construction inside the timing."""
    engine = None if cold else make_engine()
    wall: list[float] = []
    results: list[Any] = []
    for index in range(warmup + runs):
        started = time.perf_counter()
        current = make_engine() if cold else engine
        result = run(current)
        elapsed = (time.perf_counter() - started) * 1000
        if result.error is not None:
            return wall, [*results, result], index + 1
        if index >= warmup:
            wall.append(elapsed)
            results.append(result)
    return wall, results, None


def render_table(report: dict[str, Any]) -> str:
    wall = report["wall_ms"]
    lines = [
        f"{report['function']} ({report['runtime']}), {report['mode']}: {report['runs']} runs "
        f"after {report['warmup']} warm-up",
        f"  wall time   min {wall['min']:.2f} ms   median {wall['median']:.2f} ms   p95 {wall['p95']:.2f} ms   "
        f"max {wall['max']:.2f} ms",
        f"  throughput  {report['runs_per_second']} runs/s",
    ]
    if report["fuel_used"]:
        fuel = report["fuel_used"]
        lines.append(f"  fuel        min {fuel['min']:,}   median {fuel['median']:,}   max {fuel['max']:,}")
    else:
        lines.append("  fuel        not metered (give --fuel N to count instructions; metering slows wasm runs)")
    if report["memory_peak_bytes"]:
        memory = report["memory_peak_bytes"]
        lines.append(f"  memory peak median {_mib(memory['median'])}   max {_mib(memory['max'])}")
    if report["cold_start_ms"]:
        lines.append(f"  instance    median {report['cold_start_ms']['median']:.2f} ms to instantiate")
    return "\n".join(lines) + "\n"


def _mib(size: int) -> str:
    if size < 1024**2:
        return f"{size / 1024:.1f} KiB"
    return f"{size / 1024**2:.1f} MiB"


def handle(args: Any, env: Environment) -> int:
    from faasctl.cli.common import build_engine, limit_overrides, render_result, write_json
    from faasctl.cli.run import _run_interruptibly, build_function_input
    from faasctl.output import output_mode
    from faasctl.runtimes.base import RunOptions

    if args.target == "-":
        raise UsageError("bench needs a function file or oci:// reference, not standard input")
    function_input = build_function_input(args, env, stdin_used=False)
    options = RunOptions(output_json=output_mode(args.output_json), invoke=args.invoke, args=tuple(args.args or ()),
                         abi=args.abi)
    limits = limit_overrides(args)
    first = build_engine(args, env)  # validates the config once; cold runs rebuild from the same settings

    def make_engine() -> Any:
        from faasctl.engine import Engine

        return Engine(first.settings)

    def run(engine: Any) -> Any:
        return engine.run(args.target, function_input, runtime=args.runtime, limits=limits, options=options)

    wall, results, failed = _run_interruptibly(lambda: measure(make_engine, run, args.runs, args.warmup, args.cold),
                                              env)
    if failed is not None:
        env.stderr.write(f"faasctl: bench stopped: run {failed} of {args.warmup + args.runs} failed\n")
        return render_result(results[-1], "result", False, env)
    report = summarize(wall, results, "cold" if args.cold else "warm", args.warmup)
    if args.format == "json":
        write_json(report, env)
    else:
        env.stdout.write(render_table(report))
    return 0
