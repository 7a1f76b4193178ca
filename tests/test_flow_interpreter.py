"""The interpreter as a pure state machine: requests, determinism, cancellation and the document's shape.

These drive ``Flow`` with envelopes written here, as a Temporal workflow would feed activity results back;
the real runs are in test_flow_tasks.py.
"""

from __future__ import annotations

import json

from flow_support import js, py, workflow

from faasctl.flow.expressions import resolve
from faasctl.flow.interpreter import Flow


def ok(result, logs=()):
    return {"ok": True, "result": result, "logs": list(logs), "error": None}


def failed(kind="FunctionError", message="boom"):
    return {"ok": False, "result": None, "logs": [], "error": {"type": kind, "message": message, "detail": None}}


def fork(*branches):
    return [{"name": "f", "taskReferenceName": "fork_ref", "type": "FORK_JOIN", "forkTasks": list(branches)},
            {"name": "j", "taskReferenceName": "join_ref", "type": "JOIN",
             "joinOn": [branch[-1]["taskReferenceName"] for branch in branches]}]


def test_requests_carry_a_function_spec_and_the_resolved_input():
    flow = Flow(workflow(py("p_ref", "return 1", lambdaValue="${workflow.input.x}", outputIsJson="true")),
                {"x": [1]}, workflow_id="wf-9")
    step = flow.start(1000)
    assert step["done"] is False and step["cancel"] == []
    (request,) = step["run"]
    assert request == {
        "id": "wf-9-t1", "ref": "p_ref", "kind": "task", "attempt": 0, "delay_seconds": 0,
        "function": {"runtime": "python", "code": "return 1", "name": "p_ref.py", "output_json": "true",
                     "limits": {}},
        "input": {"scriptExpression": "return 1", "lambdaValue": [1], "outputIsJson": "true"},
    }
    json.dumps(step)  # plain data, ready for any driver


def drive(definition, answers, input=None, **options):
    """Run a flow answering each request with answers[ref] (a callable or an envelope); returns (flow, log)."""
    flow = Flow(definition, input, workflow_id="wf", **options)
    log = []
    clock = [0]
    step = flow.start(0)
    queue = list(step["run"])
    while queue:
        request = queue.pop(0)
        log.append(request["id"] + ":" + request["ref"])
        answer = answers[request["ref"]]
        clock[0] += 10
        step = flow.complete(request["id"], answer(request) if callable(answer) else answer, clock[0])
        queue = [r for r in queue if r["id"] not in step["cancel"]] + step["run"]
    return flow, log


def test_the_same_inputs_give_the_same_requests_and_document():
    definition = workflow(*fork([js("a", "1")], [js("b", "2"), js("c", "3", x="${b.output.result}")]),
                          js("d", "4", y="${join_ref.output}"))
    answers = {ref: (lambda request: ok(request["input"])) for ref in "abcd"}
    first = drive(definition, answers, {"k": 1})
    second = drive(definition, answers, {"k": 1})
    assert first[1] == second[1] == ["wf-t2:a", "wf-t3:b", "wf-t5:c", "wf-t6:d"]
    assert json.dumps(first[0].execution()) == json.dumps(second[0].execution())


def test_fork_branches_are_requested_together():
    flow = Flow(workflow(*fork([js("a", "1")], [js("b", "2")], [py("c", "3")])), workflow_id="wf")
    step = flow.start(0)
    assert [r["ref"] for r in step["run"]] == ["a", "b", "c"]
    step = flow.complete("wf-t3", ok(2), 1)
    assert step == {"run": [], "cancel": [], "done": False}


def test_a_failed_branch_cancels_the_others():
    flow = Flow(workflow(*fork([js("a", "1")], [js("b", "2"), js("b2", "x")], [js("c", "3")])), workflow_id="wf")
    step = flow.start(0)
    ids = {r["ref"]: r["id"] for r in step["run"]}
    step = flow.complete(ids["b"], ok(1), 5)  # b ends; b2 is requested
    (b2,) = step["run"]
    step = flow.complete(ids["c"], failed("Timeout", "timed out after 1s"), 7)
    assert step["done"] is True
    assert sorted(step["cancel"]) == sorted([ids["a"], b2["id"]])
    assert flow.exit_code == 3
    statuses = {t["referenceTaskName"]: t["status"] for t in flow.execution()["tasks"]}
    assert statuses == {"fork_ref": "COMPLETED", "a": "CANCELED", "b": "COMPLETED", "b2": "CANCELED", "c": "FAILED",
                        "join_ref": "CANCELED"}
    assert flow.complete(ids["a"], ok(1), 9) == {"run": [], "cancel": [], "done": True}  # late answers are ignored


def test_retries_with_delays_and_non_retryable_errors():
    task = js("r", "x")
    task["taskDefinition"] = {"retryCount": 3, "retryLogic": "EXPONENTIAL_BACKOFF", "retryDelaySeconds": 2}
    flow = Flow(workflow(task), workflow_id="wf")
    step = flow.start(0)
    delays = []
    for _ in range(3):
        step = flow.complete(step["run"][0]["id"], failed(), 1)
        delays.append((step["run"][0]["attempt"], step["run"][0]["delay_seconds"]))
    assert delays == [(1, 2.0), (2, 4.0), (3, 8.0)]
    linear = js("r", "x")
    linear["taskDefinition"] = {"retryCount": 5, "retryLogic": "LINEAR_BACKOFF", "retryDelaySeconds": 1,
                                "backoffScaleFactor": 3}
    flow = Flow(workflow(linear), workflow_id="wf")
    step = flow.complete(flow.start(0)["run"][0]["id"], failed(), 1)
    assert step["run"][0]["delay_seconds"] == 3.0
    step = flow.complete(step["run"][0]["id"], failed("ArtifactError", "corrupt"), 2)  # never retried
    assert step["done"] and flow.exit_code == 7
    assert [t["retryCount"] for t in flow.execution()["tasks"]] == [0, 1]


def test_conditions_are_eval_requests_with_the_conductor_input():
    loop = {"name": "l", "taskReferenceName": "loop", "type": "DO_WHILE", "inputParameters": {"max": 2},
            "loopCondition": "$.loop.iteration < $.max", "loopOver": [js("body", "x")]}
    flow = Flow(workflow(loop), workflow_id="wf")
    step = flow.start(0)
    step = flow.complete(step["run"][0]["id"], ok("one"), 1)
    (condition,) = step["run"]
    assert condition["kind"] == "eval" and condition["function"]["output_json"] == "true"
    assert condition["input"] == {"max": 2, "loop": {"iteration": 1, "1": {"body": {"result": "one"}}},
                                  "body": {"result": "one"}}
    assert "eval(\"$.loop.iteration < $.max\")" in condition["function"]["code"]


def test_execution_document_shape():
    flow, _ = drive(workflow(js("a", "1"), {"name": "v", "taskReferenceName": "v", "type": "SET_VARIABLE",
                                            "inputParameters": {"x": "${a.output.result}"}}),
                    {"a": ok({"n": 1}, ["hello"])}, {"in": True})
    document = flow.execution()
    assert set(document) >= {"workflowId", "workflowName", "workflowVersion", "status", "input", "output",
                             "reasonForIncompletion", "failedReferenceTaskNames", "startTime", "endTime",
                             "tasks", "variables"}
    assert document["variables"] == {"x": {"n": 1}}
    task = document["tasks"][0]
    assert set(task) >= {"taskId", "taskType", "referenceTaskName", "status", "inputData", "outputData", "logs",
                         "reasonForIncompletion", "retryCount", "startTime", "endTime", "error"}
    assert (task["taskType"], task["logs"], task["startTime"], task["endTime"]) == ("GLOBAL___js", ["hello"], 0, 10)


def test_inputs_never_alias_outputs():
    flow, _ = drive(workflow(js("a", "1"), js("b", "2", v="${a.output.result}")),
                    {"a": ok({"list": [1]}), "b": lambda request: ok(request["input"]["v"]["list"].append(2))})
    a, b = flow.execution()["tasks"]
    assert a["outputData"] == {"result": {"list": [1]}}


def test_expressions_whole_value_interpolation_and_paths():
    roots = {"workflow": {"input": {"name": "Ada", "n": 3, "deep": {"a": [{"b": "x"}]}}},
             "r": {"output": {"result": {"k": [10, 20]}, "nothing": None}, "iteration": 2}}
    lookup = roots.get
    assert resolve("${workflow.input.n}", lookup) == 3
    assert resolve("n=${workflow.input.n}", lookup) == "n=3"
    assert resolve("${workflow.input.deep.a[0].b}", lookup) == "x"
    assert resolve("${r.output.result.k[-1]}", lookup) == 20
    assert resolve("${r['iteration']}", lookup) == 2
    assert resolve("${r.output['result'][\"k\"][0]}", lookup) == 10
    assert resolve("${workflow.input.missing.path}", lookup) is None
    assert resolve("[${r.output.nothing}]", lookup) == "[]"
    assert resolve("obj ${r.output.result}", lookup) == 'obj {"k":[10,20]}'
    assert resolve("$${literal} ${workflow.input.name}", lookup) == "${literal} Ada"
    assert resolve({"list": ["${workflow.input.name}", 1, True]}, lookup) == {"list": ["Ada", 1, True]}
    assert resolve("${r.output.result.k[*]}", lookup) == [10, 20]
    assert resolve("${ghost.output}", lookup) is None


def test_branches_and_sub_workflows_that_end_at_once():
    def setter(ref, **values):
        return {"name": ref, "taskReferenceName": ref, "type": "SET_VARIABLE", "inputParameters": values}

    child = workflow(setter("inner", x=1), name="child")
    sub = {"name": "s", "taskReferenceName": "sub", "type": "SUB_WORKFLOW", "subWorkflowParam": {"name": "child"}}
    flow = Flow(workflow(*fork([setter("a", a=1)], [setter("b", b=2)]), sub, setter("after", c=3)),
                workflow_id="wf", definitions={"child": child})
    step = flow.start(0)
    assert step == {"run": [], "cancel": [], "done": True}
    document = flow.execution()
    assert [t["referenceTaskName"] for t in document["tasks"]] == ["fork_ref", "a", "b", "join_ref", "sub", "after"]
    assert document["variables"] == {"a": 1, "b": 2, "c": 3} and document["status"] == "COMPLETED"
    # the same, with a task to run after the fork: the fork's thread is resumed once, and waits for it
    flow = Flow(workflow(*fork([setter("a", a=1)], [setter("b", b=2)]), js("next", "1")), workflow_id="wf")
    (request,) = flow.start(0)["run"]
    assert request["ref"] == "next"
    assert flow.complete(request["id"], ok(5), 1)["done"] and flow.execution()["output"] == {"result": 5}


def test_yaml_case_keys_match_as_strings():
    switch = {"name": "s", "taskReferenceName": "s", "type": "SWITCH", "expression": "v", "inputParameters": {"v": 2},
              "decisionCases": {2: [{"name": "x", "taskReferenceName": "two", "type": "SET_VARIABLE"}],
                                True: [{"name": "y", "taskReferenceName": "yes", "type": "SET_VARIABLE"}]}}
    flow = Flow(workflow(switch), workflow_id="wf")
    flow.start(0)
    assert [t["referenceTaskName"] for t in flow.execution()["tasks"]] == ["s", "two"]


def test_definitions_must_be_json_compatible():
    import datetime

    import pytest

    from faasctl.flow.validate import FlowDefinitionError

    with pytest.raises(FlowDefinitionError, match="not JSON-compatible"):
        Flow(workflow(js("a", "1"), version=datetime.date(2024, 1, 1)))


def test_a_failing_loop_body_fails_the_do_while():
    loop = {"name": "l", "taskReferenceName": "loop", "type": "DO_WHILE", "loopCondition": "true",
            "loopOver": [js("body", "x")]}
    flow = Flow(workflow(loop), workflow_id="wf")
    step = flow.start(0)
    while step["run"]:
        request = step["run"][0]
        first = request["ref"] == "body__1"
        answer = ok(True) if request["kind"] == "eval" else ok(1) if first else failed()
        step = flow.complete(request["id"], answer, 1)
    statuses = [(t["referenceTaskName"], t["status"]) for t in flow.execution()["tasks"]]
    assert statuses == [("loop", "FAILED"), ("body__1", "COMPLETED"), ("body__2", "FAILED")]
    assert flow.execution()["failedReferenceTaskNames"] == ["body__2"]


def test_workflow_fields_and_task_inputs_in_expressions():
    definition = workflow(js("a", "1", given="${workflow.input.n}"),
                          {"name": "v", "taskReferenceName": "v", "type": "SET_VARIABLE",
                           "inputParameters": {"seen": "${a.input.given}", "status": "${a.status}"}},
                          outputParameters={"id": "${workflow.workflowId}", "type": "${workflow.workflowType}",
                                            "vars": "${workflow.variables}", "label": "wf ${workflow.workflowId}",
                                            "task": "${a['taskId']}"})
    flow, _ = drive(definition, {"a": ok(1)}, {"n": 7})
    assert flow.execution()["output"] == {"id": "wf", "type": "wf", "vars": {"seen": 7, "status": "COMPLETED"},
                                          "label": "wf wf", "task": "wf-t1"}


def test_join_waits_for_its_join_on_tasks_only():
    definition = workflow(
        {"name": "f", "taskReferenceName": "fork", "type": "FORK_JOIN",
         "forkTasks": [[js("quick", "1")], [js("slow", "2"), js("slower", "3")]]},
        {"name": "j", "taskReferenceName": "join", "type": "JOIN", "joinOn": ["quick"]},
        js("after", "4", joined="${join.output}"))
    flow = Flow(definition, workflow_id="wf")
    step = flow.start(0)
    ids = {r["ref"]: r["id"] for r in step["run"]}
    assert [t["referenceTaskName"] for t in flow.execution()["tasks"]] == ["fork", "quick", "slow", "join"]
    step = flow.complete(ids["quick"], ok("q"), 1)
    (after,) = step["run"]  # the JOIN completed: the task after it runs while "slow" still does
    assert after["ref"] == "after" and after["input"]["joined"] == {"quick": {"result": "q"}}
    step = flow.complete(after["id"], ok("a"), 2)
    assert step["done"] is False  # the workflow waits for the branch nobody joined
    (slower,) = flow.complete(ids["slow"], ok("s"), 3)["run"]
    assert flow.complete(slower["id"], ok("z"), 4)["done"] is True
    assert flow.status == "COMPLETED"


def test_join_on_a_task_that_never_runs_does_not_hang():
    switch = {"name": "s", "taskReferenceName": "s", "type": "SWITCH", "expression": "v", "inputParameters": {"v": "x"},
              "decisionCases": {"y": [js("skipped", "1")]}}
    definition = workflow(
        {"name": "f", "taskReferenceName": "fork", "type": "FORK_JOIN", "forkTasks": [[switch], [js("b", "2")]]},
        {"name": "j", "taskReferenceName": "join", "type": "JOIN", "joinOn": ["skipped", "b"]})
    flow, log = drive(definition, {"b": ok(2)})
    assert flow.status == "COMPLETED" and flow.execution()["output"] == {"b": {"result": 2}}


def test_terminate_in_a_branch_cancels_the_other_and_sets_the_output():
    stop = {"name": "t", "taskReferenceName": "stop", "type": "TERMINATE",
            "inputParameters": {"terminationStatus": "COMPLETED", "terminationReason": "enough",
                                "workflowOutput": {"done": "${first.output.result}"}}}
    flow = Flow(workflow(*fork([js("first", "1"), stop], [js("long", "2")])), workflow_id="wf")
    step = flow.start(0)
    ids = {r["ref"]: r["id"] for r in step["run"]}
    step = flow.complete(ids["first"], ok("yes"), 1)
    assert step == {"run": [], "cancel": [ids["long"]], "done": True}
    document = flow.execution()
    assert (document["status"], document["output"], document["reasonForIncompletion"]) == \
        ("COMPLETED", {"done": "yes"}, "enough")
    assert {t["referenceTaskName"]: t["status"] for t in document["tasks"]}["long"] == "CANCELED"
    assert flow.exit_code == 0


def test_the_interpreter_imports_no_engine_clock_or_threads():
    import subprocess
    import sys

    code = ("import sys, faasctl.flow.interpreter; "
            "bad = [m for m in ('faasctl.engine', 'faasctl.runtimes.base', 'wasmtime', 'lupa', 'yaml', 'random', "
            "'concurrent.futures', 'faasctl.flow.executor', 'faasctl.flow.loader') if m in sys.modules]; "
            "print(bad); raise SystemExit(1 if bad else 0)")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
