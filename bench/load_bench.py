"""Load test of ``faasctl serve`` on loopback: concurrent blocking invocations of a Lua, a JS and a Python
hello (whichever runtimes exist), throughput and latency percentiles printed beside the lua-experiments
server's published ~3000 requests per second. Bounded in count and time; checks that every request got
its own answer (nothing lost, nothing duplicated) and that every invocation id is unique.

    python bench/load_bench.py [--clients 8] [--seconds 20] [--workers N]
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

REFERENCE_RPS = 3000  # lua-experiments README: "~3000 requests per second" with wrk on a desktop PC
HELLOS = {
    "lua": ("function main(args) return 'hello ' .. args.n end", 2000),
    "js": ("return `hello ${$.n}`", 1000),
    "python": ("return f\"hello {inputData['n']}\"", 150),
}


def start_server(store: Path, workers: int) -> tuple[subprocess.Popen[bytes], int]:
    exe = Path(sys.executable).with_name("faasctl")
    command = [str(exe)] if exe.exists() else [sys.executable, "-m", "faasctl"]
    proc = subprocess.Popen([*command, "serve", "--port", "0", "--store", str(store), "--workers", str(workers),
                             "--queue", "256"], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE)
    assert proc.stderr is not None
    for raw in proc.stderr:
        match = re.search(r"listening on http://[^ ]+:(\d+)", raw.decode())
        if match:
            threading.Thread(target=proc.stderr.read, daemon=True).start()
            return proc, int(match.group(1))
    raise SystemExit("the server did not start")


def call(connection: http.client.HTTPConnection, method: str, path: str, body: object = None) -> tuple[int, dict, str]:
    data = None if body is None else json.dumps(body).encode()
    connection.request(method, path, body=data, headers={"Content-Type": "application/json"})
    response = connection.getresponse()
    return response.status, dict(response.getheaders()), response.read().decode()


def available_runtimes(port: int) -> list[str]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    found = []
    for runtime, (code, _) in HELLOS.items():
        status, _, _ = call(connection, "PUT", f"/v1/functions/hello-{runtime}", {"runtime": runtime, "code": code})
        if status in (200, 201):
            status, _, body = call(connection, "POST", f"/v1/functions/hello-{runtime}/invoke", {"n": 0})  # warm
            if status == 200 and json.loads(body)["ok"]:
                found.append(runtime)
    connection.close()
    return found


def drive(port: int, runtime: str, total: int, clients: int, seconds: float) -> dict[str, object]:
    """``total`` invocations over ``clients`` keep-alive connections, stopping early at ``seconds``."""
    latencies: list[float] = []
    answers: dict[int, str] = {}
    ids: list[str] = []
    errors: list[str] = []
    counter = iter(range(1, total + 1))
    lock = threading.Lock()
    deadline = time.monotonic() + seconds

    def client() -> None:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        while time.monotonic() < deadline:
            with lock:
                n = next(counter, None)
            if n is None:
                break
            started = time.perf_counter()
            status, headers, body = call(connection, "POST", f"/v1/functions/hello-{runtime}/invoke", {"n": n})
            elapsed = time.perf_counter() - started
            with lock:
                if status != 200:
                    errors.append(f"{status} {body[:80]}")
                    continue
                latencies.append(elapsed)
                if n in answers:
                    errors.append(f"duplicate answer for {n}")
                answers[n] = json.loads(body)["result"]
                ids.append(headers.get("x-faasctl-invocation-id", ""))
        connection.close()

    began = time.perf_counter()
    threads = [threading.Thread(target=client) for _ in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    wall = time.perf_counter() - began
    wrong = [n for n, result in answers.items() if result != f"hello {n}"]
    ordered = sorted(latencies)

    def pct(p: float) -> float:
        return ordered[min(len(ordered) - 1, int(p * len(ordered)))] * 1000 if ordered else float("nan")

    return {"runtime": runtime, "requests": len(latencies), "rps": len(latencies) / wall if wall else 0.0,
            "p50": pct(0.50), "p95": pct(0.95), "p99": pct(0.99),
            "mean": statistics.fmean(ordered) * 1000 if ordered else float("nan"),
            "errors": len(errors), "wrong": len(wrong), "duplicate_ids": len(ids) - len(set(ids))}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=20.0, help="time cap per runtime")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        proc, port = start_server(Path(tmp) / "bench.sqlite", args.workers)
        try:
            runtimes = available_runtimes(port)
            rows = [drive(port, runtime, HELLOS[runtime][1], args.clients, args.seconds) for runtime in runtimes]
        finally:
            proc.kill()
            proc.wait()
    print(f"faasctl serve, loopback, {args.workers} workers, {args.clients} keep-alive clients, blocking "
          f"POST /v1/functions/NAME/invoke, one fresh sandbox per request (cpu cores: {os.cpu_count()})")
    print(f"{'runtime':<10}{'requests':>9}{'req/s':>9}{'p50 ms':>9}{'p95 ms':>9}{'p99 ms':>9}"
          f"{'errors':>8}{'wrong':>7}{'dup ids':>9}")
    for row in rows:
        print(f"{row['runtime']:<10}{row['requests']:>9}{row['rps']:>9.1f}{row['p50']:>9.1f}{row['p95']:>9.1f}"
              f"{row['p99']:>9.1f}{row['errors']:>8}{row['wrong']:>7}{row['duplicate_ids']:>9}")
    print(f"{'reference':<10}{'':>9}{REFERENCE_RPS:>9}   lua-experiments (C++/libuv, Lua bytecode, wrk, "
          "its author's desktop PC)")
    bad = sum(int(row["errors"]) + int(row["wrong"]) + int(row["duplicate_ids"]) for row in rows)
    print("nothing lost or duplicated" if not bad else f"PROBLEMS: {bad} lost, wrong or duplicated answers")
    return 1 if bad else 0


if __name__ == "__main__":
    raise SystemExit(main())
