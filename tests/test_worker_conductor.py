"""``faasctl worker conductor`` as a real process against a Conductor stand-in: no Conductor server can run
here, so ``tests/conductor_support.py`` implements the task endpoints the conductor-python SDK calls (task
definitions, batch poll, task update, task logs) as Conductor's API documents them."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conductor_support import start_fake_conductor
from tests.conftest import run_cli
from tests.temporal_support import free_port

pytestmark = pytest.mark.timeout(120)

HEALTH = "console.log('console.log'); log('log'); console.error('console.error'); print(\"print\\n\"); return 'result'"


def start(url: str, log: Path, *extra: str) -> subprocess.Popen:
    exe = Path(sys.executable).with_name("faasctl")
    with open(log, "wb") as out:
        process = subprocess.Popen([str(exe), "worker", "conductor", "--server", url, *extra], stdout=out,
                                   stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env={**os.environ})
    deadline = time.monotonic() + 30
    while "polling" not in log.read_text():
        if process.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError(log.read_text())
        time.sleep(0.05)
    return process


@pytest.fixture
def conductor():
    state, server, url = start_fake_conductor()
    yield state, url
    server.shutdown()


def test_registers_polls_runs_and_reports(conductor, tmp_path):
    state, url = conductor
    worker = start(url, tmp_path / "worker.log", "--batch", "3")
    try:
        health = state.enqueue("GLOBAL___js", "health", {"scriptExpression": HEALTH})
        ordered = state.enqueue("GLOBAL___js", "ordered", {
            "lambdaValue": {"name": "Ada"}, "outputIsJson": "true",
            "scriptExpression": "return {zeta: $.lambdaValue.name, alpha: [1, {y: 2, b: 3}]}"})
        text = state.enqueue("GLOBAL___js", "text", {"outputIsJson": "false", "scriptExpression": "return {a: 1}"})
        missing = state.enqueue("GLOBAL___js", "missing", {"lambdaValue": 1})
        boom = state.enqueue("GLOBAL___js", "boom", {"scriptExpression": "throw new RangeError('too far')"})
        python = state.enqueue("GLOBAL___py", "py", {
            "lambdaValue": "John", "outputIsJson": "true",
            "scriptExpression": "log('logging from python')\nreturn {'name': inputData['lambdaValue']}\n"})
        after = state.enqueue("GLOBAL___js", "after",
                              {"lambdaValue": 20, "scriptExpression": "return $.lambdaValue + 1"})

        done = state.wait_done(health)
        assert done["status"] == "COMPLETED"
        assert done["outputData"] == {"result": "print\nresult"}
        assert [entry["log"] for entry in state.logs[health]] == ["console.log", "log", "console.error"]
        assert all(entry["taskId"] == health and entry["createdTime"] > 0 for entry in state.logs[health])

        done = state.wait_done(ordered)
        assert list(done["outputData"]["result"]) == ["zeta", "alpha"]
        assert done["outputData"] == {"result": {"zeta": "Ada", "alpha": [1, {"y": 2, "b": 3}]}}
        assert state.wait_done(text)["outputData"] == {"result": '{"a":1}'}

        done = state.wait_done(missing)
        assert done["status"] == "FAILED_WITH_TERMINAL_ERROR"
        assert done["reasonForIncompletion"] == \
            "UsageError: inputParameters.scriptExpression: missing (the script to run)"
        done = state.wait_done(boom)
        assert done["status"] == "FAILED"
        assert done["reasonForIncompletion"] == "FunctionError: RangeError: too far"
        assert any("RangeError: too far" in entry["log"] for entry in state.logs[boom])

        done = state.wait_done(python, timeout=90)  # the first CPython run may compile it (~7 s)
        assert done["outputData"] == {"result": {"name": "John"}}
        assert [entry["log"] for entry in state.logs[python]] == ["logging from python"]
        assert state.wait_done(after)["outputData"] == {"result": 21}  # the worker went on after the failures
    finally:
        worker.send_signal(signal.SIGTERM)
        code = worker.wait(30)
    output = (tmp_path / "worker.log").read_text()
    assert code == 0, output
    assert "Traceback" not in output
    for name in ("GLOBAL___js", "GLOBAL___py"):
        definition = state.task_defs[name]
        assert {key: definition[key] for key in ("retryCount", "retryLogic", "retryDelaySeconds",
                                                 "timeoutSeconds", "responseTimeoutSeconds")} == {
            "retryCount": 3, "retryLogic": "FIXED", "retryDelaySeconds": 10, "timeoutSeconds": 300,
            "responseTimeoutSeconds": 180}
    polls = [path for method, path in state.requests if "/tasks/poll/batch/" in path]
    assert any("count=3" in path for path in polls) and all("workerid=faasctl-" in path for path in polls)


def test_sigterm_finishes_the_held_task_then_stops(conductor, tmp_path):
    state, url = conductor
    worker = start(url, tmp_path / "worker.log", "--task-types", "GLOBAL___js")
    try:
        slow = state.enqueue("GLOBAL___js", "slow", {
            "scriptExpression": "const end = Date.now() + 1500; while (Date.now() < end) {} return 'finished'"})
        state.wait_polled(slow)
        worker.send_signal(signal.SIGTERM)
        queued = state.enqueue("GLOBAL___js", "queued", {"scriptExpression": "return 1"})
        assert worker.wait(30) == 0
    finally:
        if worker.poll() is None:
            worker.kill()
            worker.wait()
    assert state.tasks[slow]["status"] == "COMPLETED"  # reported before the process ended
    assert state.tasks[slow]["outputData"] == {"result": "finished"}
    assert state.tasks[queued]["status"] == "SCHEDULED"  # nothing new was taken after SIGTERM
    assert "GLOBAL___py" not in " ".join(path for _, path in state.requests)


def test_unreachable_server_and_bad_options(tmp_path):
    url = f"http://127.0.0.1:{free_port()}/api"
    result = run_cli("worker", "conductor", "--server", url, timeout=60)
    assert result.code == 7, result.stderr
    assert result.stderr.startswith(f"faasctl: error: cannot register task definitions at {url}")
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr
    bad = run_cli("worker", "conductor", "--server", url, "--task-types", "GLOBAL___rb")
    assert bad.code == 2 and "unknown task type GLOBAL___rb" in bad.stderr
    bad = run_cli("worker", "conductor", "--server", "localhost:8080")
    assert bad.code == 2 and "invalid --server" in bad.stderr
    bad = run_cli("worker", "conductor", "--server", url, "--timeout", "soon")
    assert bad.code == 2 and "invalid duration" in bad.stderr
