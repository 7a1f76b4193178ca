"""Throughput of ``faasctl serve`` measured with ``wrk`` (Debian's package), as lua-experiments' C++ server
was measured on this machine: the lua-experiments route ``POST /actions/hello/block`` with its README's
``hello.lua`` and ``payload.json``, at 1, 8 and 32 keep-alive connections, for a Lua and a JS hello.

Printed per runtime and connection count: requests per second, p50/p99 latency, errors (socket errors and
non-2xx answers), CPU milliseconds per request (server processes and their Lua workers together, from
/proc), and the slowest ``/healthz`` answer seen while the load ran; beside the reference figures of the
issue (C++ original and the earlier faasctl, measured here the same way). CPU is split between the server
processes and the processes below them (Lua workers, the body-parsing helper). Every run also checks that the
store holds at least as many finished invocations as wrk counted answers (nothing acknowledged was lost).

    python bench/serve_wrk.py [--processes 2] [--seconds 8] [--repeat 3] [--connections 1,8,32]
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import re
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

HELLO_LUA = "function main(args)\n\tif args.name == nil then\n\t\targs.name = 'World'\n\tend\n\t\n" \
            "\treturn 'Hello ' .. args.name\nend\n"
HELLO_JS = "return 'Hello ' + ($.name ?? 'World')"
PAYLOAD = '{\n\t"name": "from Lua"\n}\n'
# the table (req/s at 1, 8, 32 connections), measured on this machine with wrk
REFERENCE = {"C++ original": {1: 98, 8: 777, 32: 3032}, "faasctl before": {1: 884, 8: 1135, 32: 1153}}
GOAL = {"lua": 3000, "js": 1500}
WRK_SCRIPT = """wrk.method = "POST"
wrk.body = {body}
wrk.headers["Content-Type"] = "application/json;charset=utf-8"
wrk.headers["Accept"] = "application/json, text/plain, */*"
"""


def start_server(store: Path, processes: int, workers: int | None) -> tuple[subprocess.Popen[bytes], int]:
    exe = Path(sys.executable).with_name("faasctl")
    command = [str(exe)] if exe.exists() else [sys.executable, "-m", "faasctl"]
    extra = ["--workers", str(workers)] if workers else []
    proc = subprocess.Popen([*command, "serve", "--port", "0", "--store", str(store), "--processes",
                             str(processes), "--queue", "1024", "--log-level", "warning", *extra],
                            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    assert proc.stderr is not None
    for raw in proc.stderr:
        match = re.search(r"listening on http://[^ ]+:(\d+)", raw.decode())
        if match:
            threading.Thread(target=proc.stderr.read, daemon=True).start()
            return proc, int(match.group(1))
    raise SystemExit("the server did not start")


def request(port: int, method: str, path: str, body: object = None) -> tuple[int, bytes]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    try:
        data = None if body is None else json.dumps(body).encode()
        connection.request(method, path, body=data, headers={"Content-Type": "application/json"})
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


def deploy(port: int) -> None:
    import base64

    status, body = request(port, "POST", "/actions", {"name": "hello", "timeout": 0, "maxmem": 0,
                                                      "code": base64.b64encode(HELLO_LUA.encode()).decode()})
    assert status == 200, body
    status, body = request(port, "PUT", "/v1/functions/hello-js", {"runtime": "js", "code": HELLO_JS})
    assert status in (200, 201), body
    for name in ("hello", "hello-js"):  # warm: compile, fork the first workers
        for _ in range(4):
            status, body = request(port, "POST", f"/actions/{name}/block", json.loads(PAYLOAD))
            assert status == 200 and json.loads(body) == "Hello from Lua", body


def tree_cpu_seconds(pid: int, server_depth: int) -> tuple[float, float]:
    """User + system CPU (with reaped children's) of the server processes (the process tree down to
    ``server_depth``) and of the processes below them (Lua workers, the body-parsing helper)."""
    tick = os.sysconf("SC_CLK_TCK")
    server = workers = 0.0
    pending = [(pid, 0)]
    while pending:
        current, depth = pending.pop()
        try:
            fields = Path(f"/proc/{current}/stat").read_text().rsplit(")", 1)[1].split()
            own = (int(fields[11]) + int(fields[12])) / tick
            reaped = (int(fields[13]) + int(fields[14])) / tick
            children = [c for task in Path(f"/proc/{current}/task").iterdir()
                        for c in (task / "children").read_text().split()]
        except (FileNotFoundError, ProcessLookupError):
            continue
        if depth <= server_depth:
            server += own
            workers += reaped
        else:
            workers += own + reaped
        pending.extend((int(child), depth + 1) for child in children)
    return server, workers


def finished(store: Path) -> int:
    with sqlite3.connect(store) as db:
        return int(db.execute("SELECT COUNT(*) FROM invocations WHERE state = 'done'").fetchone()[0])


def parse_wrk(text: str) -> dict[str, float]:
    def latency(label: str) -> float:
        match = re.search(rf"^\s*{label}%\s+([\d.]+)(us|ms|s)\b", text, re.M)
        if not match:
            return float("nan")
        return float(match.group(1)) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[match.group(2)]

    requests = int(re.search(r"(\d+) requests in", text).group(1))  # type: ignore[union-attr]
    errors = sum(int(n) for n in re.findall(r"(?:connect|read|write|timeout) (\d+)", text))
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", text)
    return {"requests": requests, "rps": float(re.search(r"Requests/sec:\s+([\d.]+)", text).group(1)),  # type: ignore[union-attr]
            "p50": latency("50"), "p99": latency("99"), "errors": errors + (int(non2xx.group(1)) if non2xx else 0)}


def watch_healthz(port: int, stop: threading.Event, worst: list[float]) -> None:
    while not stop.is_set():
        started = time.perf_counter()
        try:
            status, _ = request(port, "GET", "/healthz")
            worst.append((time.perf_counter() - started) * 1000 if status == 200 else float("inf"))
        except OSError:
            worst.append(float("inf"))
        stop.wait(0.1)


def measure(port: int, pid: int, depth: int, store: Path, script: Path, name: str, connections: int,
            seconds: float) -> dict[str, float]:
    threads = min(connections, 2)
    before_cpu, before_done = tree_cpu_seconds(pid, depth), finished(store)
    stop, health = threading.Event(), []
    watcher = threading.Thread(target=watch_healthz, args=(port, stop, health))
    watcher.start()
    try:
        output = subprocess.run(["wrk", f"-t{threads}", f"-c{connections}", f"-d{max(1, round(seconds))}s", "--latency",
                                 "-s", str(script), f"http://127.0.0.1:{port}/actions/{name}/block"],
                                capture_output=True, text=True, check=True).stdout
    finally:
        stop.set()
        watcher.join()
    time.sleep(0.3)  # answers wrk cut off at the end are still being written
    row = parse_wrk(output)
    after_cpu = tree_cpu_seconds(pid, depth)
    row["server_ms"] = (after_cpu[0] - before_cpu[0]) * 1000 / max(1, row["requests"])
    row["worker_ms"] = (after_cpu[1] - before_cpu[1]) * 1000 / max(1, row["requests"])
    row["lost"] = max(0, row["requests"] - (finished(store) - before_done))
    row["healthz_ms"] = max(health) if health else float("nan")
    return row


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--processes", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--workers", type=int, help="run slots per process (default: the server's)")
    parser.add_argument("--seconds", type=float, default=8.0)
    parser.add_argument("--repeat", type=int, default=3, help="runs per cell; the median is printed")
    parser.add_argument("--connections", default="1,8,32")
    parser.add_argument("--runtimes", default="lua,js")
    args = parser.parse_args()
    if not shutil.which("wrk"):
        raise SystemExit("wrk is not installed: apt-get install -y wrk")
    counts = [int(c) for c in args.connections.split(",")]
    runtimes = args.runtimes.split(",")
    rows: dict[tuple[str, int], dict[str, float]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        store = Path(tmp) / "bench.sqlite"
        script = Path(tmp) / "post.lua"
        script.write_text(WRK_SCRIPT.format(body=json.dumps(PAYLOAD)))
        proc, port = start_server(store, args.processes, args.workers)
        try:
            deploy(port)
            for runtime in runtimes:
                name = "hello" if runtime == "lua" else "hello-js"
                for connections in counts:
                    depth = 1 if args.processes > 1 else 0
                    runs = [measure(port, proc.pid, depth, store, script, name, connections, args.seconds)
                            for _ in range(args.repeat)]
                    rows[runtime, connections] = {key: statistics.median(run[key] for run in runs)
                                                  for key in runs[0]} | {"errors": max(r["errors"] for r in runs),
                                                                         "lost": max(r["lost"] for r in runs)}
        finally:
            proc.kill()
            proc.wait()
    load = os.getloadavg()[0]
    print(f"faasctl serve --processes {args.processes}, wrk on the same {os.cpu_count()} cores, "
          f"POST /actions/NAME/block with the lua-experiments payload, {args.seconds:g} s per run, median of "
          f"{args.repeat} (load average at the end: {load:.1f})")
    print(f"{'runtime':<8}{'conns':>6}{'req/s':>9}{'p50 ms':>8}{'p99 ms':>8}{'errors':>7}{'lost':>6}"
          f"{'cpu ms/req server+workers':>27}{'healthz max ms':>15}{'C++ original':>13}{'before':>8}{'goal':>6}")
    failed = False
    for (runtime, connections), row in rows.items():
        goal = GOAL.get(runtime, 0) if connections == 32 else 0
        original = REFERENCE["C++ original"].get(connections, "") if runtime == "lua" else ""
        before = REFERENCE["faasctl before"].get(connections, "") if runtime == "lua" else ""
        print(f"{runtime:<8}{connections:>6}{row['rps']:>9.0f}{row['p50']:>8.1f}{row['p99']:>8.1f}"
              f"{row['errors']:>7.0f}{row['lost']:>6.0f}"
              f"{row['server_ms'] + row['worker_ms']:>13.2f} = {row['server_ms']:.2f}+{row['worker_ms']:.2f}"
              f"{row['healthz_ms']:>15.1f}"
              f"{original:>13}{before:>8}{goal or '':>6}")
        failed |= bool(row["errors"] or row["lost"])
    print("nothing lost, no errors" if not failed else "PROBLEMS: errors or lost answers above")
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
