"""``faasctl flow run`` and flow test cases through the installed console script."""

from __future__ import annotations

import json
import os
import time
import uuid
from pathlib import Path

from conftest import EXAMPLES, run_cli
from flow_support import js, py, workflow

WASM_EXAMPLE = str(EXAMPLES / "wasm-example.json")


def write(path: Path, value) -> Path:
    path.write_text(json.dumps(value) if path.suffix == ".json" else value)
    return path


def test_wasm_example_verbatim():
    result = run_cli("flow", "run", WASM_EXAMPLE, "-d", '{"enter_your_name": "John"}')
    assert result.code == 0, result.stderr
    assert json.loads(result.stdout) == {"result": {"name": "John", "name_length": 4}}
    assert "[create_json_ref] logging from python" in result.stderr.splitlines()
    assert "[calculate_name_length_ref] logging from js" in result.stderr.splitlines()


def test_format_json_is_the_execution_document():
    result = run_cli("flow", "run", WASM_EXAMPLE, "-p", "enter_your_name=Ada", "--format", "json")
    assert result.code == 0
    document = result.json()
    assert (document["workflowName"], document["status"]) == ("wasm-example", "COMPLETED")
    assert document["input"] == {"enter_your_name": "Ada"}
    assert document["output"] == {"result": {"name": "Ada", "name_length": 3}}
    assert document["startTime"] > 1_500_000_000_000 and document["endTime"] >= document["startTime"]
    assert [t["logs"] for t in document["tasks"]] == [["logging from python"], ["logging from js"]]
    assert result.stderr == ""  # the logs are in the document


def test_failed_task_exit_code_and_one_error_line(tmp_path):
    wf = write(tmp_path / "wf.json", workflow(js("bad_ref", "throw new TypeError('nope')"), js("never", "1")))
    result = run_cli("flow", "run", str(wf))
    assert result.code == 1 and result.stdout == ""
    errors = [line for line in result.stderr.splitlines() if line.startswith("faasctl: error:")]
    assert errors == ["faasctl: error: workflow wf FAILED: task bad_ref failed: FunctionError: TypeError: nope"]
    assert "Traceback" not in result.stderr


def test_timeout_exits_3_and_terminate_failed_exits_1(tmp_path):
    spin = write(tmp_path / "spin.json", workflow(js("spin_ref", "while (true) {}")))
    result = run_cli("flow", "run", str(spin), "--timeout", "300ms")
    assert result.code == 3 and "Timeout: timed out after 300ms" in result.stderr
    stop = write(tmp_path / "stop.json", workflow({"name": "t", "taskReferenceName": "t", "type": "TERMINATE",
                                                   "inputParameters": {"terminationStatus": "FAILED"}}))
    assert run_cli("flow", "run", str(stop)).code == 1


def test_invalid_definitions_exit_2_with_the_path(tmp_path):
    broken = tmp_path / "broken.json"
    broken.write_text('{"name": "x",\n "tasks": [}')
    result = run_cli("flow", "run", str(broken))
    assert result.code == 2 and f"{broken}:2: not valid JSON" in result.stderr
    no_tasks = write(tmp_path / "no.json", {"name": "x"})
    assert "not a workflow definition: it has no 'tasks'" in run_cli("flow", "run", str(no_tasks)).stderr
    wf = tmp_path / "wf.yaml"
    wf.write_text("name: y\ntasks:\n  - name: GLOBAL___py\n    taskReferenceName: p\n    inputParameters:\n"
                  "      lambdaValue: 1\n")
    result = run_cli("flow", "run", str(wf))
    assert result.code == 2
    assert result.stderr.strip() == f"faasctl: error: {wf}:5: tasks[0].inputParameters.scriptExpression: missing"


def test_unsupported_type_and_unmapped_name_exit_2_before_running(tmp_path):
    marker = tmp_path / "ran"
    wf = write(tmp_path / "wf.json", workflow(py("first", f"open({str(marker)!r}, 'w')"),
                                              {"name": "http", "taskReferenceName": "h", "type": "HTTP"}))
    result = run_cli("flow", "run", str(wf))
    assert result.code == 2 and "tasks[1].type: unsupported task type 'HTTP'" in result.stderr
    wf = write(tmp_path / "wf2.json", workflow({"name": "enrich", "taskReferenceName": "e"}))
    result = run_cli("flow", "run", str(wf))
    assert result.code == 2 and "SIMPLE task 'enrich' is not mapped" in result.stderr


def test_list_file_needs_workflow_and_sub_workflow_beside_it(tmp_path):
    child = tmp_path / "child.yaml"
    child.write_text("name: child\ntasks:\n  - {name: GLOBAL___js, taskReferenceName: c, "
                     "inputParameters: {x: '${workflow.input.x}', scriptExpression: 'return $.x * 2'}}\n")
    sub = {"name": "s", "taskReferenceName": "s_ref", "type": "SUB_WORKFLOW", "subWorkflowParam": {"name": "child"},
           "inputParameters": {"x": "${workflow.input.x}"}}
    listing = write(tmp_path / "all.json", [workflow(js("a", "return 'first'"), name="first"),
                                            workflow(sub, name="second", outputParameters={"y": "${s_ref.output}"})])
    result = run_cli("flow", "run", str(listing))
    assert result.code == 2 and "choose one with --workflow NAME" in result.stderr and "first, second" in result.stderr
    result = run_cli("flow", "run", str(listing), "--workflow", "second", "-d", '{"x": 21}')
    assert result.code == 0, result.stderr
    assert json.loads(result.stdout)["y"]["result"] == 42
    missing = write(tmp_path / "lonely.json", workflow(dict(sub, subWorkflowParam={"name": "ghost"})))
    result = run_cli("flow", "run", str(missing))
    assert result.code == 2 and "no definition of workflow 'ghost'" in result.stderr


def test_task_mapping_from_option_and_config(tmp_path):
    (tmp_path / "double.lua").write_text("function main(args) return args.n * 2 end")
    (tmp_path / "label.js").write_text("return {label: 'n=' + $.n}")
    (tmp_path / "faasctl.yaml").write_text("tasks: {label: label.js}\n")
    write(tmp_path / "wf.json", workflow({"name": "double", "taskReferenceName": "d",
                                               "inputParameters": {"n": "${workflow.input.n}"}},
                                              {"name": "label", "taskReferenceName": "l",
                                               "inputParameters": {"n": "${d.output.result}"}}))
    result = run_cli("flow", "run", "wf.json", "--task", "double=double.lua", "-p", "n=4", cwd=tmp_path)
    assert result.code == 0, result.stderr
    assert json.loads(result.stdout) == {"label": "n=8"}
    result = run_cli("flow", "run", "wf.json", "--task", "double", cwd=tmp_path)
    assert result.code == 2 and "expected NAME=FILE" in result.stderr


def _marked_processes(marker: str) -> list[int]:
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                if marker.encode() in Path(f"/proc/{entry}/environ").read_bytes():
                    found.append(int(entry))
            except OSError:
                continue
    return found


def test_fork_failure_cancels_other_branches_without_orphans(tmp_path):
    (tmp_path / "spin.lua").write_text("function main(args) while true do end end")
    definition = workflow(
        {"name": "f", "taskReferenceName": "fork", "type": "FORK_JOIN", "forkTasks": [
            [{"name": "spin", "taskReferenceName": "lua_spin"}],
            [js("js_spin", "while (true) {}")],
            [js("fails", "await new Promise(r => setTimeout(r, 200)); throw new Error('branch failed')")]]},
        {"name": "j", "taskReferenceName": "join", "type": "JOIN", "joinOn": ["lua_spin", "js_spin", "fails"]})
    wf = write(tmp_path / "wf.json", definition)
    marker = f"FAASCTL_TEST_MARK={uuid.uuid4()}"
    started = time.monotonic()
    result = run_cli("flow", "run", str(wf), "--task", "spin=spin.lua", "-j", "3", "--timeout", "60s",
                     "--format", "json", cwd=tmp_path, env={marker.split("=")[0]: marker.split("=")[1]})
    assert time.monotonic() - started < 30  # the command did not wait for the 60 s branches
    assert result.code == 1
    statuses = {t["referenceTaskName"]: t["status"] for t in result.json()["tasks"]}
    assert statuses == {"fork": "COMPLETED", "lua_spin": "CANCELED", "js_spin": "CANCELED", "fails": "FAILED",
                        "join": "CANCELED"}
    deadline = time.monotonic() + 5
    while _marked_processes(marker) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert _marked_processes(marker) == []


def test_flow_cases_in_faasctl_test(tmp_path):
    write(tmp_path / "wf.json", workflow(js("a", "return $.n + 1", n="${workflow.input.n}"),
                                              js("b", "log('seen'); return $.v * 10", v="${a.output.result}")))
    (tmp_path / "wf.faas.yaml").write_text(
        "cases:\n"
        "  - name: adds then multiplies\n    flow: wf.json\n    input: {n: 1}\n"
        "    expect:\n      result: {result: 20}\n      logs_contain: ['[b] seen']\n"
        "      tasks: {a: {status: COMPLETED, result: 2}, b: {output: {result: 20}}}\n"
        "  - name: wrong task expectation\n    flow: wf.json\n    input: {n: 1}\n"
        "    expect:\n      tasks: {a: {status: FAILED}}\n")
    result = run_cli("test", "wf.faas.yaml", "--junit", "report.xml", cwd=tmp_path)
    assert result.code == 1, result.stdout + result.stderr
    assert "PASS wf.faas.yaml::adds then multiplies" in result.stdout
    assert "task a: expected status FAILED, got COMPLETED" in result.stdout
    report = (tmp_path / "report.xml").read_text()
    assert 'name="adds then multiplies"' in report and "expected status FAILED" in report
    bad = write(tmp_path / "bad.json", workflow({"name": "x", "taskReferenceName": "x", "type": "WAIT"}))
    (tmp_path / "bad.faas.yaml").write_text(f"cases:\n  - name: invalid\n    flow: {bad.name}\n")
    result = run_cli("test", "bad.faas.yaml", cwd=tmp_path)
    assert result.code == 2 and "unsupported task type 'WAIT'" in result.stderr
