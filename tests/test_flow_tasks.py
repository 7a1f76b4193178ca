"""Every task type of spec section 9, run on the real engine (QuickJS, CPython, Lua) through the local executor."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from flow_support import by_ref, js, py, run_flow, workflow

from faasctl.flow.executor import runtime_of
from faasctl.flow.loader import function_specs


def test_wasm_example_output_logs_and_document(engine):
    definition = json.loads((Path(__file__).parent.parent / "examples" / "wasm-example.json").read_text())
    logs: list[str] = []
    document, flow = run_flow(engine, definition, {"enter_your_name": "John"}, logs=logs)
    assert document["status"] == "COMPLETED" and flow.exit_code == 0
    assert document["output"] == {"result": {"name": "John", "name_length": 4}}
    assert "[create_json_ref] logging from python" in logs
    assert "[calculate_name_length_ref] logging from js" in logs
    first, second = document["tasks"]
    assert first["taskType"] == "GLOBAL___py" and first["outputData"] == {"result": {"name": "John"}}
    assert second["inputData"]["lambdaValue"] == {"name": "John"}  # whole-value expression keeps the type
    assert second["logs"] == ["logging from js"]
    assert first["startTime"] <= first["endTime"] <= second["endTime"]


def test_output_is_json_modes(engine):
    definition = workflow(
        js("auto_ref", "return '42'"),
        js("text_ref", "return {a: 1}", outputIsJson="false"),
        py("json_ref", "return '[1, 2]'", outputIsJson=True),
    )
    document, _ = run_flow(engine, definition)
    tasks = by_ref(document)
    assert tasks["auto_ref"]["outputData"] == {"result": 42}
    assert tasks["text_ref"]["outputData"] == {"result": '{"a":1}'}
    assert tasks["json_ref"]["outputData"] == {"result": [1, 2]}


def test_inline_javascript_graaljs_value_param_and_lambda(engine):
    definition = workflow(
        {"name": "i1", "taskReferenceName": "js_ref", "type": "INLINE",
         "inputParameters": {"value": "${workflow.input.n}",
                             "expression": "function e() { return $.value * 2; } e();"}},
        {"name": "i2", "taskReferenceName": "graal_ref", "type": "INLINE",
         "inputParameters": {"evaluatorType": "graaljs", "s": "x", "expression": "$.s + 'y'"}},
        {"name": "i3", "taskReferenceName": "vp_ref", "type": "INLINE",
         "inputParameters": {"evaluatorType": "value-param", "expression": "pick", "pick": {"k": [1]}}},
        {"name": "i4", "taskReferenceName": "undef_ref", "type": "INLINE",
         "inputParameters": {"expression": "undefined"}},
        {"name": "l1", "taskReferenceName": "lambda_ref", "type": "LAMBDA",
         "inputParameters": {"v": "${js_ref.output.result}",
                             "scriptExpression": "if ($.v > 5) { return {size: 'big'}; } return {size: 'small'};"}},
    )
    document, _ = run_flow(engine, definition, {"n": 4})
    tasks = by_ref(document)
    assert tasks["js_ref"]["outputData"] == {"result": 8}
    assert tasks["graal_ref"]["outputData"] == {"result": "xy"}
    assert tasks["vp_ref"]["outputData"] == {"result": {"k": [1]}}
    assert tasks["undef_ref"]["outputData"] == {"result": None}
    assert tasks["lambda_ref"]["outputData"] == {"result": {"size": "big"}}


def test_inline_keeps_string_results_strings(engine):
    definition = workflow({"name": "i", "taskReferenceName": "s_ref", "type": "INLINE",
                           "inputParameters": {"expression": "'42'"}})
    document, _ = run_flow(engine, definition)
    assert document["tasks"][0]["outputData"] == {"result": "42"}


def _switch(evaluator: str, expression: str, **params):
    return {"name": "sw", "taskReferenceName": "sw_ref", "type": "SWITCH", "evaluatorType": evaluator,
            "expression": expression, "inputParameters": params,
            "decisionCases": {"a": [js("a_ref", "return 'A'")], "2": [js("two_ref", "return 'two'")]},
            "defaultCase": [js("other_ref", "return 'other'")]}


@pytest.mark.parametrize(("evaluator", "expression", "params", "ran", "case"), [
    ("value-param", "which", {"which": "${workflow.input.which}"}, "a_ref", "a"),
    ("value-param", "which", {"which": "${workflow.input.missing}"}, "other_ref", "null"),
    ("javascript", "$.n + 1", {"n": 1}, "two_ref", "2"),
    ("graaljs", "$.n > 5 ? 'a' : 'b'", {"n": 9}, "a_ref", "a"),
])
def test_switch(engine, evaluator, expression, params, ran, case):
    definition = workflow(_switch(evaluator, expression, **params), js("after_ref", "return 1"))
    document, _ = run_flow(engine, definition, {"which": "a"})
    refs = [t["referenceTaskName"] for t in document["tasks"]]
    assert refs == ["sw_ref", ran, "after_ref"]  # the SWITCH is scheduled before the case it starts
    assert document["tasks"][0]["outputData"] == {"evaluationResult": [case]}


def test_decision_value_param_and_case_expression(engine):
    cases = {"big": [js("big_ref", "return 'big'")], "small": [js("small_ref", "return 'small'")]}
    definition = workflow(
        {"name": "d1", "taskReferenceName": "d1_ref", "type": "DECISION", "caseValueParam": "size",
         "inputParameters": {"size": "${workflow.input.size}"}, "decisionCases": cases},
        {"name": "d2", "taskReferenceName": "d2_ref", "type": "DECISION",
         "caseExpression": "$.n > 10 ? 'big' : 'small'", "inputParameters": {"n": 3},
         "decisionCases": {"big": [js("big2_ref", "return 1")], "small": [js("small2_ref", "return 2")]}},
    )
    document, _ = run_flow(engine, definition, {"size": "big"})
    tasks = by_ref(document)
    assert list(tasks) == ["d1_ref", "big_ref", "d2_ref", "small2_ref"]
    assert tasks["d1_ref"]["outputData"] == {"caseOutput": ["big"], "evaluationResult": ["big"]}
    assert tasks["d2_ref"]["outputData"]["caseOutput"] == ["small"]


def test_fork_join_runs_branches_and_joins_outputs(engine):
    definition = workflow(
        {"name": "fork", "taskReferenceName": "fork_ref", "type": "FORK_JOIN", "forkTasks": [
            [js("a_ref", "return 'a'"), js("a2_ref", "return $.x + '!'", x="${a_ref.output.result}")],
            [py("b_ref", "return {'b': 2}")],
        ]},
        {"name": "join", "taskReferenceName": "join_ref", "type": "JOIN", "joinOn": ["a2_ref", "b_ref"]},
    )
    document, _ = run_flow(engine, definition)
    tasks = by_ref(document)
    assert tasks["fork_ref"]["taskType"] == "FORK"
    assert tasks["join_ref"]["inputData"]["joinOn"] == ["a2_ref", "b_ref"]
    assert tasks["join_ref"]["outputData"] == {"a2_ref": {"result": "a!"}, "b_ref": {"result": {"b": 2}}}
    # no outputParameters: the output of the last task in the list (a2_ref: the JOIN was scheduled before it)
    assert document["output"] == {"result": "a!"}
    # both branches were started before either ended, and the JOIN with them, as Conductor schedules it
    assert [t["referenceTaskName"] for t in document["tasks"]][:4] == ["fork_ref", "a_ref", "b_ref", "join_ref"]


def test_do_while_iterations_naming_and_outputs(engine):
    definition = workflow(
        {"name": "loop", "taskReferenceName": "loop_ref", "type": "DO_WHILE",
         "inputParameters": {"limit": "${workflow.input.limit}"},
         "loopCondition": "if ($.loop_ref['iteration'] < $.limit) { true; } else { false; }",
         "loopOver": [js("body_ref", "return $.i * 10", i="${loop_ref.iteration}")]},
        js("after_ref", "return $.last", last="${body_ref.output.result}"),
        outputParameters={"loop": "${loop_ref.output}", "iter": "${loop_ref['iteration']}"},
    )
    document, _ = run_flow(engine, definition, {"limit": 3})
    refs = [t["referenceTaskName"] for t in document["tasks"]]
    assert refs == ["loop_ref", "body_ref__1", "body_ref__2", "body_ref__3", "after_ref"]
    assert [t["iteration"] for t in document["tasks"][1:4]] == [1, 2, 3]
    assert document["output"]["loop"] == {"iteration": 3, "1": {"body_ref": {"result": 10}},
                                         "2": {"body_ref": {"result": 20}}, "3": {"body_ref": {"result": 30}}}
    assert document["output"]["iter"] == 3
    assert by_ref(document)["after_ref"]["outputData"] == {"result": 30}  # the latest iteration's output


def test_do_while_iteration_cap_is_named(engine):
    definition = workflow({"name": "loop", "taskReferenceName": "loop_ref", "type": "DO_WHILE",
                           "loopCondition": "true", "loopOver": [
                               {"name": "v", "taskReferenceName": "v_ref", "type": "SET_VARIABLE",
                                "inputParameters": {"i": "${loop_ref.output.iteration}"}}]})
    document, flow = run_flow(engine, definition, max_iterations=5)
    assert document["status"] == "FAILED" and flow.exit_code == 1
    assert "iteration cap of 5" in document["reasonForIncompletion"]
    assert document["variables"] == {"i": 5}
    assert document["failedReferenceTaskNames"] == ["loop_ref"]


def test_set_variable_and_terminate_completed(engine):
    definition = workflow(
        {"name": "v", "taskReferenceName": "v_ref", "type": "SET_VARIABLE", "inputParameters": {"count": 2}},
        {"name": "t", "taskReferenceName": "t_ref", "type": "TERMINATE",
         "inputParameters": {"terminationStatus": "COMPLETED", "terminationReason": "done early",
                             "workflowOutput": "${workflow.variables.count}"}},
        js("never_ref", "return 1"),
        outputParameters={"ignored": True},
    )
    document, flow = run_flow(engine, definition)
    assert document["status"] == "COMPLETED" and flow.exit_code == 0
    assert document["output"] == {"output": 2}  # not a map: wrapped; it replaces outputParameters
    assert document["reasonForIncompletion"] == "done early"
    assert [t["referenceTaskName"] for t in document["tasks"]] == ["v_ref", "t_ref"]


def test_terminate_failed_exits_one(engine):
    definition = workflow({"name": "t", "taskReferenceName": "t_ref", "type": "TERMINATE",
                           "inputParameters": {"terminationStatus": "FAILED", "terminationReason": "bad order",
                                               "workflowOutput": {"why": "bad"}}})
    document, flow = run_flow(engine, definition)
    assert (document["status"], flow.exit_code) == ("FAILED", 1)
    assert document["output"] == {"why": "bad"} and document["reasonForIncompletion"] == "bad order"


def test_json_jq_transform(engine):
    definition = workflow({"name": "jq", "taskReferenceName": "jq_ref", "type": "JSON_JQ_TRANSFORM",
                           "inputParameters": {"items": "${workflow.input.items}",
                                               "queryExpression": ".items[] | select(.n > 1) | .name"}})
    document, _ = run_flow(engine, definition, {"items": [{"n": 1, "name": "a"}, {"n": 2, "name": "b"},
                                                          {"n": 3, "name": "c"}]})
    assert document["tasks"][0]["outputData"] == {"result": "b", "resultList": ["b", "c"]}


def test_json_jq_runtime_error_fails_the_task(engine):
    definition = workflow({"name": "jq", "taskReferenceName": "jq_ref", "type": "JSON_JQ_TRANSFORM",
                           "inputParameters": {"queryExpression": "error(\"no way\")"}})
    document, flow = run_flow(engine, definition)
    assert flow.exit_code == 1 and document["tasks"][0]["status"] == "FAILED"
    assert "no way" in document["tasks"][0]["reasonForIncompletion"]


def test_sub_workflow_from_definitions(engine):
    child = workflow(js("c_ref", "log('in child'); return $.x + 1", x="${workflow.input.x}"), name="child",
                     outputParameters={"y": "${c_ref.output.result}"})
    definition = workflow({"name": "sub", "taskReferenceName": "sub_ref", "type": "SUB_WORKFLOW",
                           "subWorkflowParam": {"name": "child"}, "inputParameters": {"x": 41}})
    logs: list[str] = []
    document, _ = run_flow(engine, definition, definitions={"child": child}, logs=logs)
    record = document["tasks"][0]
    assert record["outputData"] == {"subWorkflowId": record["subWorkflowId"], "y": 42}
    assert record["subWorkflow"]["status"] == "COMPLETED"
    assert "[sub_ref/c_ref] in child" in logs


def test_sub_workflow_failure_fails_parent_with_its_code(engine):
    child = workflow(js("c_ref", "while (true) {}"), name="child")
    definition = workflow({"name": "sub", "taskReferenceName": "sub_ref", "type": "SUB_WORKFLOW",
                           "subWorkflowParam": {"name": "child"}})
    document, flow = run_flow(engine, definition, definitions={"child": child}, limits={"timeout": "300ms"})
    assert document["status"] == "FAILED" and flow.exit_code == 3
    assert document["failedReferenceTaskNames"] == ["sub_ref"]


def test_mapped_simple_tasks_object_and_plain_results(engine, tmp_path):
    (tmp_path / "enrich.lua").write_text("function main(args) return {name = args.name, n = 7} end")
    (tmp_path / "count.py").write_text("return len(inputData['items'])")
    specs = function_specs({"enrich": tmp_path / "enrich.lua", "count": tmp_path / "count.py"},
                           lambda file: runtime_of(engine, file))
    definition = workflow(
        {"name": "enrich", "taskReferenceName": "e_ref", "inputParameters": {"name": "${workflow.input.who}"}},
        {"name": "count", "taskReferenceName": "c_ref", "inputParameters": {"items": [1, 2, 3]}},
    )
    document, _ = run_flow(engine, definition, {"who": "Ada"}, functions=specs)
    tasks = by_ref(document)
    assert tasks["e_ref"]["taskType"] == "enrich"
    assert tasks["e_ref"]["outputData"] == {"name": "Ada", "n": 7}
    assert tasks["c_ref"]["outputData"] == {"result": 3}


def test_optional_task_completes_with_errors(engine):
    failing = js("bad_ref", "throw new Error('nope')")
    failing["optional"] = True
    definition = workflow(failing, js("next_ref", "return 'went on'"))
    document, flow = run_flow(engine, definition)
    tasks = by_ref(document)
    assert tasks["bad_ref"]["status"] == "COMPLETED_WITH_ERRORS"
    assert tasks["bad_ref"]["error"]["type"] == "FunctionError"
    assert document["status"] == "COMPLETED" and flow.exit_code == 0
    assert document["output"] == {"result": "went on"}


def test_retries_follow_task_definition(engine):
    definition = workflow(js("always_ref", "throw new Error('always')"))
    definition["tasks"][0]["taskDefinition"] = {"retryCount": 2, "retryDelaySeconds": 0}
    document, flow = run_flow(engine, definition)
    records = document["tasks"]
    assert [(r["referenceTaskName"], r["status"], r["retryCount"]) for r in records] == [
        ("always_ref", "FAILED", 0), ("always_ref", "FAILED", 1), ("always_ref", "FAILED", 2)]
    assert records[0]["retried"] is True and "retried" not in records[2]
    assert document["failedReferenceTaskNames"] == ["always_ref"] and flow.exit_code == 1


def test_task_timeout_from_task_definition(engine):
    spin = js("spin_ref", "while (true) {}")
    spin["taskDefinition"] = {"timeoutSeconds": 0.3}
    document, flow = run_flow(engine, workflow(spin), limits={"timeout": "20s"})
    assert flow.exit_code == 3
    assert document["tasks"][0]["error"]["type"] == "Timeout"
    assert "timed out after 300ms" in document["tasks"][0]["reasonForIncompletion"]


def test_script_error_stops_the_workflow(engine):
    definition = workflow(js("ok_ref", "return 1"), py("bad_ref", "raise ValueError('boom')"),
                          js("never_ref", "return 2"))
    document, flow = run_flow(engine, definition)
    assert flow.exit_code == 1 and document["status"] == "FAILED"
    assert [t["referenceTaskName"] for t in document["tasks"]] == ["ok_ref", "bad_ref"]
    bad = document["tasks"][1]
    assert bad["status"] == "FAILED" and bad["error"]["message"] == "ValueError: boom"
    assert document["failedReferenceTaskNames"] == ["bad_ref"]
    assert "bad_ref" in document["reasonForIncompletion"]


def test_invalid_json_output_under_output_is_json_true(engine):
    document, flow = run_flow(engine, workflow(py("p_ref", "return 'not json'", outputIsJson="true")))
    assert flow.exit_code == 1 and document["tasks"][0]["error"]["type"] == "InvalidOutput"


def test_fork_failure_cancels_the_running_branch(engine):
    definition = workflow(
        {"name": "fork", "taskReferenceName": "fork_ref", "type": "FORK_JOIN", "forkTasks": [
            [js("spin_ref", "while (true) {}"), js("after_spin_ref", "return 1")],
            [js("fail_ref", "await new Promise(r => setTimeout(r, 100)); throw new Error('branch failed')")],
        ]},
        {"name": "join", "taskReferenceName": "join_ref", "type": "JOIN", "joinOn": ["after_spin_ref", "fail_ref"]},
    )
    document, flow = run_flow(engine, definition, limits={"timeout": "3s"})
    tasks = by_ref(document)
    assert flow.exit_code == 1
    assert tasks["fail_ref"]["status"] == "FAILED"
    assert tasks["spin_ref"]["status"] == "CANCELED" and tasks["join_ref"]["status"] == "CANCELED"
    assert "after_spin_ref" not in tasks


@pytest.mark.parametrize(("runtime", "code"), [("js", "while (true) {}"), ("lua", "while true do end")])
def test_cancel_stops_a_run_under_way(engine, runtime, code):
    """A request the flow no longer needs is stopped in the guest (Interrupted), not left to its timeout."""
    import threading

    from faasctl.flow.executor import LocalExecutor, _Running

    executor = LocalExecutor(engine)
    running = _Running({"id": "t-1", "function": {"runtime": runtime, "code": code, "limits": {"timeout": "120s"}},
                        "input": {}})
    executor._running["t-1"] = running
    envelopes: list[dict] = []
    thread = threading.Thread(target=lambda: envelopes.append(executor._run(running)))
    thread.start()
    while running.started_ms is None:
        thread.join(0.01)
    executor._cancel("t-1")
    thread.join(60)
    assert not thread.is_alive() and envelopes[0]["error"]["type"] == "Interrupted"
    assert executor.abandoned == 1
