"""Start-up and per-run cost of the JS and Python runtimes, side by side with node and native Python.

    python bench/startup_bench.py [--runs N] [--cli-runs N]

In process: one Engine, a fresh sandbox per run (what `faasctl serve` and `faasctl test` do).
CLI: `faasctl run examples/hello.{js,py}` end to end with a warm compile cache, against `node -e` and
`python3 -c` running the same hello. Prints medians (and p95) in milliseconds, and what the typer/click layer
costs: `faasctl --version` (interpreter + typer + the root app, no verb) against `python3 -c pass`, and
`import typer` alone.
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
JS_HELLO = ROOT / "examples" / "hello.js"
PY_HELLO = ROOT / "examples" / "hello.py"
NODE_HELLO = ('const name = "Ada"; console.error(`greeting ${name}`);'
              'console.log(JSON.stringify({greeting: `Hello, ${name}!`}))')
PY_NATIVE = ('import json, sys; name = "Ada"; print(f"greeting {name}", file=sys.stderr);'
             'print(json.dumps({"greeting": f"Hello, {name}!"}))')


def summary(samples: list[float]) -> str:
    ordered = sorted(samples)
    p95 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.95))]
    return f"median {statistics.median(ordered):8.2f} ms   p95 {p95:8.2f} ms   (n={len(ordered)})"


def time_commands(commands: dict[str, list[str]], runs: int,
                  env: dict[str, str]) -> tuple[dict[str, list[float]], dict[str, list[float]]]:
    """Wall times and CPU times (user + system, ms) of each command, run in rounds (one of each per round)
    so that a busy moment of a shared machine slows every command alike instead of one command's series.
    CPU time says what a command costs when the machine is loaded and wall times are inflated."""
    wall: dict[str, list[float]] = {label: [] for label in commands}
    cpu: dict[str, list[float]] = {label: [] for label in commands}
    for _ in range(runs):
        for label, command in commands.items():
            started = time.perf_counter()
            proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                    stdin=subprocess.DEVNULL, env=env)
            _, status, usage = os.wait4(proc.pid, 0)
            proc.returncode = os.waitstatus_to_exitcode(status)
            if proc.returncode != 0:
                raise SystemExit(f"{label} exited {proc.returncode}")
            wall[label].append((time.perf_counter() - started) * 1000)
            cpu[label].append((usage.ru_utime + usage.ru_stime) * 1000)
    return wall, cpu


def in_process(home: Path, runs: int) -> dict[str, list[float]]:
    sys.path.insert(0, str(ROOT))
    from faasctl.engine import Engine, Settings
    from faasctl.inputs import FunctionInput

    engine = Engine(Settings(cache_dir=home / "cache", data_dir=home / "data"))
    data = FunctionInput.of({"name": "Ada"})
    results: dict[str, list[float]] = {}
    for label, target, count in (("js", JS_HELLO, runs), ("python", PY_HELLO, max(10, runs // 5))):
        engine.run(str(target), data)  # compile or load once
        samples = []
        for _ in range(count):
            started = time.perf_counter()
            result = engine.run(str(target), data)
            samples.append((time.perf_counter() - started) * 1000)
            assert result.ok, result.error
        results[label] = samples
    return results


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=200, help="in-process runs of the JS hello")
    parser.add_argument("--cli-runs", type=int, default=20, help="runs of each command")
    args = parser.parse_args()
    home = Path(tempfile.mkdtemp(prefix="faasctl-bench-"))
    env = {**os.environ, "FAASCTL_HOME": str(home)}
    faasctl = shutil.which("faasctl") or str(Path(sys.executable).with_name("faasctl"))
    try:
        print(f"faasctl start-up benchmark ({os.cpu_count()} cores, {sys.version.split()[0]})\n")
        started = time.perf_counter()
        subprocess.run([faasctl, "run", str(JS_HELLO)], env=env, capture_output=True, check=True)
        print(f"first JS run (compiles QuickJS and caches it):      {(time.perf_counter() - started) * 1000:8.0f} ms")
        started = time.perf_counter()
        subprocess.run([faasctl, "run", str(PY_HELLO)], env=env, capture_output=True, check=True)
        print(f"first Python run (compiles CPython and caches it):  {(time.perf_counter() - started) * 1000:8.0f} ms\n")

        print("in process (one Engine, fresh sandbox per run):")
        for label, samples in in_process(home, args.runs).items():
            print(f"  {label:<44} {summary(samples)}")
        print("\nCLI end to end, warm compile cache:")
        rows = [
            ("python3 -c pass", [sys.executable, "-c", "pass"]),
            ("python3 -c 'import typer'", [sys.executable, "-c", "import typer"]),
            ("faasctl --version (CLI layer, no verb)", [faasctl, "--version"]),
            ("node -e <same hello>", ["node", "-e", NODE_HELLO] if shutil.which("node") else None),
            ("faasctl run examples/hello.js", [faasctl, "run", str(JS_HELLO), "-d", '{"name":"Ada"}']),
            ("python3 -c <same hello, native>", [sys.executable, "-c", PY_NATIVE]),
            ("faasctl run examples/hello.py", [faasctl, "run", str(PY_HELLO), "-d", '{"name":"Ada"}']),
        ]
        print(f"  (load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores)")
        timed, cpu = time_commands({label: command for label, command in rows if command is not None},
                                   args.cli_runs, env)
        medians = {label: statistics.median(samples) for label, samples in timed.items()}
        cpu_medians = {label: statistics.median(samples) for label, samples in cpu.items()}
        for label, command in rows:
            shown = f"{summary(timed[label])}   cpu {cpu_medians[label]:7.1f} ms" if command else "(not installed)"
            print(f"  {label:<44} {shown}")
        if "node -e <same hello>" in medians:
            ratio = medians["faasctl run examples/hello.js"] / medians["node -e <same hello>"]
            cpu_ratio = cpu_medians["faasctl run examples/hello.js"] / cpu_medians["node -e <same hello>"]
            print(f"\n  faasctl JS hello / node hello: {ratio:.2f}x wall (goal: within 2x), {cpu_ratio:.2f}x cpu")
        ratio = medians["faasctl run examples/hello.py"] / medians["python3 -c <same hello, native>"]
        print(f"  faasctl Python hello / native python3 hello: {ratio:.2f}x")
        for name, table in (("wall", medians), ("cpu", cpu_medians)):
            typer_ms = table["python3 -c 'import typer'"] - table["python3 -c pass"]
            layer_ms = table["faasctl --version (CLI layer, no verb)"] - table["python3 -c pass"]
            print(f"  {name}: import typer +{typer_ms:.0f} ms; CLI layer (typer, click, root app) +{layer_ms:.0f} ms")
    finally:
        shutil.rmtree(home, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
