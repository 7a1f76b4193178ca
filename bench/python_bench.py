"""Python as fast as JavaScript? The pre-initialised CPython component against its references, in one run.

    python bench/python_bench.py [--runs 50] [--cli-runs 15] [--records 10000] [--loop-runs 50] [--seconds 10]

Prints, side by side:
1. in process (one Engine, a fresh instance per run): Python hello, against JavaScript and python-full
   (the CPython 3.12 WASI build that was the Python runtime before);
2. `faasctl run examples/hello.py` end to end against `faasctl run examples/hello.js`, native
   `python3 -c` and `faasctl run --runtime python-full`;
3. `faasctl run --ndjson` over RECORDS records for JS, Python and Lua (and -j 2), against a shell loop of
   `faasctl run` (timed over LOOP_RUNS runs, extrapolated to RECORDS);
4. `faasctl serve` throughput for python, against python-full (before: ~25 req/s).
Uses the current FAASCTL_HOME (or the user cache), so the component is built and compiled beforehand.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
HELLO = {"python": ROOT / "examples" / "hello.py", "js": ROOT / "examples" / "hello.js",
         "lua": ROOT / "examples" / "hello.lua"}
PY_NATIVE = ('import json, sys; name = "Ada"; print(f"greeting {name}", file=sys.stderr);'
             'print(json.dumps({"greeting": f"Hello, {name}!"}))')
FAASCTL = [str(Path(sys.executable).with_name("faasctl"))]


def stats(samples: list[float]) -> tuple[float, float]:
    ordered = sorted(samples)
    return statistics.median(ordered), ordered[min(len(ordered) - 1, int(len(ordered) * 0.95))]


def in_process(runs: int) -> dict[str, tuple[float, float]]:
    from faasctl.engine import Engine, Settings
    from faasctl.inputs import FunctionInput
    from faasctl.paths import StateDirs

    dirs = StateDirs.from_environment()
    engine = Engine(Settings(cache_dir=dirs.cache, data_dir=dirs.data))
    rows = {}
    for label, path, runtime in (("python", HELLO["python"], None), ("js", HELLO["js"], None),
                                 ("python-full", HELLO["python"], "python-full")):
        artifact = engine.resolve(str(path))
        data = FunctionInput.of({"name": "Ada"})
        assert engine.run(artifact, data, runtime=runtime).ok  # warm: compiled module loaded
        samples = []
        for _ in range(runs):
            started = time.perf_counter()
            result = engine.run(artifact, data, runtime=runtime)
            samples.append((time.perf_counter() - started) * 1000)
            assert result.ok, result.error
        rows[label] = stats(samples)
    return rows


def timed(command: list[str], runs: int, stdin: bytes | None = None) -> list[float]:
    samples = []
    for _ in range(runs):
        started = time.perf_counter()
        subprocess.run(command, input=stdin, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
        samples.append((time.perf_counter() - started) * 1000)
    return samples


def cli(runs: int) -> dict[str, tuple[float, float]]:
    data = ["-d", '{"name":"Ada"}', "-q"]
    commands = {
        "faasctl run hello.py": [*FAASCTL, "run", str(HELLO["python"]), *data],
        "faasctl run hello.js": [*FAASCTL, "run", str(HELLO["js"]), *data],
        "python3 -c (native)": ["python3", "-c", PY_NATIVE],
        "faasctl run hello.py --runtime python-full": [*FAASCTL, "run", str(HELLO["python"]), "--runtime",
                                                       "python-full", *data],
    }
    for command in commands.values():
        timed(command, 1)  # warm the caches
    return {label: stats(timed(command, runs)) for label, command in commands.items()}


def ndjson(records: int, loop_runs: int) -> list[tuple[str, float, float]]:
    """(label, records per second of --ndjson, of --ndjson -j 2), and the shell loop's rate."""
    lines = "".join(json.dumps({"name": f"n{i}"}) + "\n" for i in range(records)).encode()
    rows = []
    for runtime, path in HELLO.items():
        rates = []
        for jobs in ("1", "2"):
            started = time.perf_counter()
            out = subprocess.run([*FAASCTL, "run", str(path), "--ndjson", "-j", jobs], input=lines,
                                 capture_output=True, check=False)
            elapsed = time.perf_counter() - started
            produced = out.stdout.count(b"\n")
            assert produced == records and out.returncode == 0, (runtime, produced, out.stderr[-300:])
            rates.append(records / elapsed)
        rows.append((runtime, rates[0], rates[1]))
    with tempfile.NamedTemporaryFile("w", suffix=".sh", delete=False) as script:
        script.write(f'i=0; while [ $i -lt {loop_runs} ]; do "{FAASCTL[0]}" run "{HELLO["python"]}" '
                     f'-d "{{\\"name\\":\\"n$i\\"}}" -q >/dev/null; i=$((i+1)); done\n')
    try:
        started = time.perf_counter()
        subprocess.run(["sh", script.name], check=True)
        loop_rate = loop_runs / (time.perf_counter() - started)
    finally:
        os.unlink(script.name)
    rows.append(("shell loop of `faasctl run hello.py`", loop_rate, float("nan")))
    return rows


def serve(seconds: float) -> list[dict[str, object]]:
    spec = importlib.util.spec_from_file_location("load_bench", ROOT / "bench" / "load_bench.py")
    assert spec and spec.loader
    load = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(load)
    code = "return f\"hello {inputData['n']}\""
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        proc, port = load.start_server(Path(tmp) / "bench.sqlite", os.cpu_count() or 1)
        try:
            import http.client

            for runtime in ("python", "python-full"):
                connection = http.client.HTTPConnection("127.0.0.1", port, timeout=300)  # idle ones are closed
                status, _, body = load.call(connection, "PUT", f"/v1/functions/hello-{runtime}",
                                            {"runtime": runtime, "code": code})
                if status not in (200, 201):
                    rows.append({"runtime": runtime, "error": body[:120]})
                    continue
                load.call(connection, "POST", f"/v1/functions/hello-{runtime}/invoke", {"n": 0})  # warm
                connection.close()
                rows.append(load.drive(port, runtime, 100000, 8, seconds))
        finally:
            proc.kill()
            proc.wait()
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=50)
    parser.add_argument("--cli-runs", type=int, default=15)
    parser.add_argument("--records", type=int, default=10000)
    parser.add_argument("--loop-runs", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=10.0, help="time per serve measurement")
    args = parser.parse_args()
    print(f"cpu cores: {os.cpu_count()}, load average: {os.getloadavg()[0]:.1f}")

    print(f"\n1. hello in process (one Engine, fresh instance per run, n={args.runs})      goal: python <= 3 ms")
    for label, (median, p95) in in_process(args.runs).items():
        print(f"   {label:<14} median {median:7.2f} ms   p95 {p95:7.2f} ms")

    rows = cli(args.cli_runs)
    ratio = rows["faasctl run hello.py"][0] / rows["faasctl run hello.js"][0]
    print(f"\n2. end to end, warm caches (n={args.cli_runs})            goal: hello.py within 1.3x of hello.js")
    for label, (median, p95) in rows.items():
        print(f"   {label:<44} median {median:7.1f} ms   p95 {p95:7.1f} ms")
    print(f"   hello.py / hello.js = {ratio:.2f}x")

    print(f"\n3. --ndjson over {args.records} records (records per second)")
    for label, one, two in ndjson(args.records, args.loop_runs):
        extra = f"   -j 2: {two:8.0f}/s" if two == two else f"   (timed over {args.loop_runs} runs)"
        print(f"   {label:<38} {one:8.0f}/s{extra}   {args.records / one:7.1f} s for {args.records}")

    print(f"\n4. faasctl serve, blocking invoke, 8 keep-alive clients, {args.seconds:.0f} s each  "
          "goal: >= 10x the ~25 req/s of before")
    for row in serve(args.seconds):
        if "error" in row:
            print(f"   {row['runtime']:<12} not deployable: {row['error']}")
            continue
        print(f"   {row['runtime']:<12} {row['rps']:8.1f} req/s   p50 {row['p50']:7.1f} ms   p95 {row['p95']:7.1f} ms"
              f"   errors {row['errors']}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
