"""Bad definitions are refused before any task runs, with the JSON path and one reason (exit 2)."""

from __future__ import annotations

import pytest
from flow_support import js, workflow

from faasctl.flow.interpreter import Flow
from faasctl.flow.validate import FlowDefinitionError, validate


def refused(definition, **kwargs) -> FlowDefinitionError:
    with pytest.raises(FlowDefinitionError) as info:
        validate(definition, **kwargs)
    assert info.value.exit_code == 2
    assert "\n" not in info.value.one_line()
    return info.value


def test_not_a_workflow():
    assert "no 'tasks'" in refused({"name": "x"}).reason
    assert "expected an object" in refused([1, 2]).reason
    assert refused({"tasks": []}).path == "tasks"


def test_duplicate_reference():
    error = refused(workflow(js("a_ref", "1"), {"name": "f", "taskReferenceName": "f", "type": "FORK_JOIN",
                                                "forkTasks": [[js("a_ref", "2")]]},
                             {"name": "j", "taskReferenceName": "j", "type": "JOIN", "joinOn": []}))
    assert error.path == "tasks[1].forkTasks[0][0].taskReferenceName"
    assert "duplicate reference 'a_ref' (first at tasks[0])" in error.reason


def test_unsupported_type_is_named_with_the_supported_list():
    error = refused(workflow({"name": "h", "taskReferenceName": "h_ref", "type": "HTTP"}))
    assert error.path == "tasks[0].type"
    assert "'HTTP'" in error.reason and "SUB_WORKFLOW" in error.reason and "JSON_JQ_TRANSFORM" in error.reason


def test_unmapped_simple_name():
    error = refused(workflow({"name": "enrich", "taskReferenceName": "e_ref"}))
    assert error.path == "tasks[0].name" and "'enrich' is not mapped" in error.reason
    assert "--task enrich=FILE" in error.hint
    validate(workflow({"name": "enrich", "taskReferenceName": "e_ref"}), functions={"enrich": {"runtime": "js"}})


def test_missing_script():
    error = refused(workflow({"name": "GLOBAL___py", "taskReferenceName": "p", "inputParameters": {}}))
    assert str(error) == "tasks[0].inputParameters.scriptExpression: missing"


def test_expression_naming_an_unknown_reference():
    error = refused(workflow(js("a_ref", "1", x="value: ${ghost_ref.output.result}")))
    assert error.path == "tasks[0].inputParameters.x"
    assert "${ghost_ref.output.result} names no task reference 'ghost_ref'" in error.reason
    error = refused(workflow(js("a_ref", "1"), outputParameters={"y": "${nope.output}"}))
    assert error.path == "outputParameters.y"
    validate(workflow(js("a_ref", "1", x="$${not_an_expression}")))  # escaped: literal text


def test_join_on_refs_outside_its_fork():
    fork = {"name": "f", "taskReferenceName": "f", "type": "FORK_JOIN", "forkTasks": [[js("a", "1")], [js("b", "2")]]}
    error = refused(workflow(js("outside", "0"), fork,
                             {"name": "j", "taskReferenceName": "j", "type": "JOIN", "joinOn": ["a", "outside"]}))
    assert error.path == "tasks[2].joinOn[1]" and "'outside' is not a task of the fork 'f'" in error.reason
    lone_join = workflow({"name": "j", "taskReferenceName": "j", "type": "JOIN"})
    assert "must follow a FORK_JOIN" in refused(lone_join).reason
    assert "followed by its JOIN" in refused(workflow(fork)).reason


def test_sub_workflow_not_found_and_cycles():
    sub = {"name": "s", "taskReferenceName": "s_ref", "type": "SUB_WORKFLOW", "subWorkflowParam": {"name": "child"}}
    error = refused(workflow(sub, name="parent"))
    assert error.path == "tasks[0].subWorkflowParam.name" and "no definition of workflow 'child'" in error.reason
    back = {"name": "b", "taskReferenceName": "b_ref", "type": "SUB_WORKFLOW", "subWorkflowParam": {"name": "parent"}}
    error = refused(workflow(sub, name="parent"), definitions={"child": workflow(back, name="child")})
    assert "sub-workflow cycle: parent -> child -> parent" in error.reason
    assert error.path.startswith("child: tasks[0]")
    self_loop = {"name": "x", "taskReferenceName": "x", "type": "SUB_WORKFLOW", "subWorkflowParam": {"name": "me"}}
    assert "cycle: me -> me" in refused(workflow(self_loop, name="me"), definitions={"me": {}}).reason


def test_errors_inside_a_sub_workflow_name_it():
    sub = {"name": "s", "taskReferenceName": "s_ref", "type": "SUB_WORKFLOW", "subWorkflowParam": {"name": "child"}}
    error = refused(workflow(sub), definitions={"child": workflow({"name": "GLOBAL___js", "taskReferenceName": "c"})})
    assert str(error) == "child: tasks[0].inputParameters.scriptExpression: missing"


def test_do_while_without_condition():
    loop = {"name": "l", "taskReferenceName": "l_ref", "type": "DO_WHILE", "loopOver": [js("b", "1")]}
    error = refused(workflow(loop))
    assert error.path == "tasks[0].loopCondition" and error.reason.startswith("missing")
    nested = dict(loop, loopCondition="false", loopOver=[dict(loop, taskReferenceName="inner", loopCondition="1")])
    assert "inside a DO_WHILE" in refused(workflow(nested)).reason


@pytest.mark.parametrize(("task", "path", "reason"), [
    ({"type": "SWITCH", "expression": "k", "inputParameters": {}}, "tasks[0].expression", "names no input parameter"),
    ({"type": "SWITCH", "evaluatorType": "python", "expression": "1"}, "tasks[0].evaluatorType", "unsupported"),
    ({"type": "DECISION", "inputParameters": {}}, "tasks[0].caseValueParam", "missing"),
    ({"type": "INLINE", "inputParameters": {"evaluatorType": "python", "expression": "1"}},
     "tasks[0].inputParameters.evaluatorType", "unsupported evaluator"),
    ({"type": "LAMBDA", "inputParameters": {}}, "tasks[0].inputParameters.scriptExpression", "missing"),
    ({"type": "TERMINATE", "inputParameters": {"terminationStatus": "DONE"}},
     "tasks[0].inputParameters.terminationStatus", "not one of"),
    ({"type": "JSON_JQ_TRANSFORM", "inputParameters": {"queryExpression": ".a | |"}},
     "tasks[0].inputParameters.queryExpression", "invalid jq program: syntax error"),
    ({"type": "FORK_JOIN", "forkTasks": []}, "tasks[0].forkTasks", "non-empty"),
    ({"type": "SET_VARIABLE", "taskDefinition": {"retryCount": -1}}, "tasks[0].taskDefinition.retryCount", "0 or more"),
    ({"type": "SET_VARIABLE", "taskDefinition": {"retryLogic": "RANDOM"}}, "tasks[0].taskDefinition.retryLogic",
     "not one of"),
    ({"type": "SET_VARIABLE", "inputParameters": [1]}, "tasks[0].inputParameters", "must be an object"),
])
def test_per_type_problems(task, path, reason):
    error = refused(workflow({"name": "t", "taskReferenceName": "t", **task}))
    assert error.path == path and reason in error.reason


def test_flow_validates_before_anything_runs():
    with pytest.raises(FlowDefinitionError):
        Flow(workflow(js("a", "1"), {"name": "h", "taskReferenceName": "h", "type": "WAIT"}))
