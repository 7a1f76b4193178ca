"""Reading workflow files: JSON or YAML, lists, sub-workflows beside the file, task mappings in faasctl.yaml."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from flow_support import js, workflow

from faasctl.config import load_config
from faasctl.errors import UsageError
from faasctl.flow.loader import load_bundle, parse_task_options, prepare_flow
from faasctl.paths import StateDirs


def sub(name: str, ref: str = "s") -> dict:
    return {"name": "s", "taskReferenceName": ref, "type": "SUB_WORKFLOW", "subWorkflowParam": {"name": name}}


def test_neither_json_nor_yaml(tmp_path):
    bad = tmp_path / "wf.yaml"
    bad.write_text("name: x\ntasks: [\n  - a\n")
    with pytest.raises(UsageError, match=r"wf.yaml:\d+: invalid YAML"):
        load_bundle(bad)
    scalar = tmp_path / "wf.txt"
    scalar.write_text("just words")
    with pytest.raises(UsageError, match="not a workflow definition"):
        load_bundle(scalar)
    binary = tmp_path / "wf.json"
    binary.write_bytes(b"\xff\xfe\x00")
    with pytest.raises(UsageError, match="not valid UTF-8"):
        load_bundle(binary)


def test_list_picks_the_highest_version(tmp_path):
    listing = tmp_path / "all.json"
    listing.write_text(json.dumps([workflow(js("v1", "1"), name="w", version=1),
                                   workflow(js("v3", "3"), name="w", version=3),
                                   workflow(js("o", "0"), name="other")]))
    assert load_bundle(listing, "w").definition["version"] == 3
    with pytest.raises(UsageError, match="no workflow named 'nope'"):
        load_bundle(listing, "nope")
    single = tmp_path / "one.json"
    single.write_text(json.dumps(workflow(js("a", "1"), name="one")))
    with pytest.raises(UsageError, match="defines workflow 'one', not 'two'"):
        load_bundle(single, "two")


def test_sub_workflows_same_file_first_then_beside(tmp_path):
    (tmp_path / "child.yaml").write_text("name: child\ntasks:\n  - {name: GLOBAL___js, taskReferenceName: c, "
                                         "inputParameters: {scriptExpression: 'return 1'}}\n")
    (tmp_path / "grandchild.json").write_text(json.dumps(workflow(js("g", "2"), name="grandchild")))
    listing = tmp_path / "main.json"
    listing.write_text(json.dumps([workflow(sub("child"), sub("twin", "t"), name="main"),
                                   workflow(sub("grandchild"), name="twin", version=2),
                                   workflow(js("old", "1"), name="twin", version=1)]))
    bundle = load_bundle(listing, "main")
    assert sorted(bundle.definitions) == ["child", "grandchild", "twin"]
    assert bundle.definitions["twin"]["version"] == 2  # the highest version, wherever it is in the list
    assert bundle.sources["child"] == tmp_path / "child.yaml"
    assert bundle.sources["twin"] == listing


def test_sub_workflow_names_are_never_paths(tmp_path):
    (tmp_path / "secret.json").write_text(json.dumps(workflow(js("x", "1"), name="../secret")))
    inner = tmp_path / "inner"
    inner.mkdir()
    wf = inner / "wf.json"
    wf.write_text(json.dumps(workflow(sub("../secret"))))
    assert load_bundle(wf).definitions == {}
    with pytest.raises(UsageError, match="no definition of workflow '../secret'"):
        prepare_flow(wf, {}, mapped={}, runtime_of=lambda p: "js")


def test_errors_in_a_sibling_file_name_that_file_and_line(tmp_path):
    (tmp_path / "child.yaml").write_text("name: child\ntasks:\n  - name: GLOBAL___js\n    taskReferenceName: c\n")
    wf = tmp_path / "wf.json"
    wf.write_text(json.dumps(workflow(sub("child"))))
    with pytest.raises(UsageError) as info:
        prepare_flow(wf, {}, mapped={}, runtime_of=lambda p: "js")
    assert info.value.message == f"{tmp_path / 'child.yaml'}:3: tasks[0].inputParameters.scriptExpression: missing"


def test_task_options_and_config_tasks(tmp_path):
    assert parse_task_options(["a=x.js"], tmp_path) == {"a": tmp_path / "x.js"}
    for bad in ("a", "=x.js", "a="):
        with pytest.raises(UsageError, match="expected NAME=FILE"):
            parse_task_options([bad], tmp_path)
    (tmp_path / "fn").mkdir()
    (tmp_path / "fn" / "enrich.js").write_text("return 1")
    (tmp_path / "faasctl.yaml").write_text("tasks:\n  enrich: fn/enrich.js\n")
    dirs = StateDirs.from_environment()
    assert load_config(None, dirs, str(tmp_path))["tasks"] == {"enrich": (tmp_path / "fn" / "enrich.js").resolve()}
    (tmp_path / "faasctl.yaml").write_text("tasks:\n  enrich: fn/enrich.js\n  gone: fn/missing.js\n")
    with pytest.raises(UsageError, match=r"faasctl.yaml:3: tasks.gone: 'fn/missing.js' is not a file"):
        load_config(None, dirs, str(tmp_path))


def test_mapped_file_must_exist(tmp_path):
    wf = tmp_path / "wf.json"
    wf.write_text(json.dumps(workflow({"name": "enrich", "taskReferenceName": "e"})))
    with pytest.raises(UsageError, match="task 'enrich': no such file"):
        prepare_flow(wf, {}, mapped={"enrich": Path(tmp_path / "nope.js")}, runtime_of=lambda p: "js")


def test_endless_files_are_refused(tmp_path):
    with pytest.raises(UsageError, match="larger than 16MiB: not a workflow definition"):
        load_bundle(Path("/dev/zero"))
    with pytest.raises(UsageError, match="is a directory, not a workflow definition"):
        load_bundle(tmp_path)


def test_json_definition_errors_point_at_a_line(tmp_path):
    wf = tmp_path / "wf.json"
    wf.write_text('{"name": "w",\n "tasks": [\n  {"name": "GLOBAL___js", "taskReferenceName": "a",\n'
                  '   "inputParameters": {\n     "v": "${ghost.output}",\n     "scriptExpression": "1"}}]}\n')
    with pytest.raises(UsageError) as info:
        prepare_flow(wf, {}, mapped={}, runtime_of=lambda p: "js")
    assert info.value.message.startswith(f"{wf}:5: tasks[0].inputParameters.v: ${{ghost.output}} names no task")
