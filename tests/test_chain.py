"""faasctl flow chain: the XINA queue demo, the queue's failure rule, caps, and every bad input."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import make_engine

from faasctl.chain.model import load_task_map
from faasctl.chain.objects import ObjectError, ObjectStore
from faasctl.chain.report import chain_document
from faasctl.chain.runner import ChainOptions, ChainRunner, run_chain_files
from faasctl.chain.state import ChainState
from faasctl.errors import UsageError

EXAMPLES = Path(__file__).resolve().parent.parent / "examples" / "xina"

# A JS helper every test function starts with: queue(event, action[, ignore]) through aws-sdk.
QUEUE = """const AWS = require('aws-sdk'); const lambda = new AWS.Lambda();
const queue = async (event, action, ignore) => {
  const r = await lambda.invoke({FunctionName: 'xina-queue', Payload: JSON.stringify(
    {action, task_id: event.task_id, parent_id: event.parent_id, ignore: !!ignore})}).promise();
  if (r.FunctionError) throw new Error(JSON.parse(r.Payload).errorMessage);
  return JSON.parse(r.Payload).queue_id;
};
"""


@pytest.fixture(scope="module")
def cengine(faasctl_home):
    return make_engine(faasctl_home)


def chain(cengine, tmp_path: Path, functions: dict[str, str], action, results=None, limits_timeout="10s",
          **options) -> ChainState:
    """Write ``functions`` (task name -> JS handler body) and run ``action`` through them."""
    mapping = {}
    for name, body in functions.items():
        (tmp_path / f"{name}.js").write_text(QUEUE + body)
        mapping[name] = f"{name}.js"
    (tmp_path / "tasks.yaml").write_text(json.dumps(mapping))
    objects = tmp_path / "objects"
    objects.mkdir(exist_ok=True)
    runner = ChainRunner(cengine, load_task_map(tmp_path / "tasks.yaml"), ObjectStore(objects), results or {},
                         ChainOptions(limits={"timeout": limits_timeout}, **options))
    return runner.run(action)


def statuses(state: ChainState) -> dict[str, str]:
    return {f"{t.name}#{t.id}": t.status for t in state.tasks.values()}


def actions(state: ChainState) -> list[tuple[str, str]]:
    return [(a.name if a.function is None else f"invoke {a.function}", a.status) for a in state.actions]


def run_action(*names: str, opened: bool = False) -> dict:
    return {"action": "run", "tasks": [{"name": n, "conf": {}, "open": opened} for n in names]}


def test_the_xina_queue_demo_runs_as_documented(cengine, tmp_path):
    state = run_chain_files(cengine, str(EXAMPLES / "run-action.json"), tasks_path=str(EXAMPLES / "tasks.yaml"),
                            objects_dir=str(tmp_path / "objects"),
                            results_path=str(EXAMPLES / "action-results.json"))
    document = chain_document(state)
    assert document["status"] == "FINISHED" and state.exit_code() == 0
    tasks = {t["name"]: t for t in document["tasks"]}
    shape = {name: (t["id"], t["status"], t["parent"]) for name, t in tasks.items()}
    assert shape == {"queue_demo": (1, "FINISHED", None), "queue_demo_b": (2, "FINISHED", 1)}
    assert [a["action"] for a in document["actions"]] == ["schema", "run", "post", "conclude"]
    assert all(a["status"] == "DONE" for a in document["actions"])
    assert tasks["queue_demo_b"]["result"] == {"database": "demo.events", "fields": 3}
    schema_queue = document["actions"][0]["queue_id"]
    stored = tmp_path / "objects" / "queue" / schema_queue / "out" / "content.json"
    assert json.loads(stored.read_text())["databases"][0]["name"] == "demo.events"
    assert any("demo.events has fields t, event, source" in line for line in tasks["queue_demo_b"]["logs"])


def test_an_open_task_never_concluded_ends_open_and_exits_1(cengine, tmp_path):
    state = chain(cengine, tmp_path, {"a": "exports.handler = async () => 'left open';"}, run_action("a", opened=True))
    assert statuses(state) == {"a#1": "OPEN"}
    assert state.status() == "OPEN" and state.exit_code() == 1


def test_a_failed_task_fails_its_parent_and_skips_the_rest_of_its_chain_but_not_ignore(cengine, tmp_path):
    functions = {
        "root": """exports.handler = async (event) => {
          await queue(event, {action: 'run', tasks: [{name: 'child', conf: {}, parent: event.task_id}]});
          await queue(event, {action: 'post'});
          await queue(event, {action: 'load'}, true);
          await queue(event, {action: 'conclude', task: event.task_id});
        };""",
        "child": "exports.handler = async () => { throw new Error('child broke'); };",
        "other": "exports.handler = async () => 'independent';",
    }
    action = {"action": "run", "tasks": [{"name": "root", "open": True}, {"name": "other"}]}
    state = chain(cengine, tmp_path, functions, action, {"post": 1, "load": 2})
    assert statuses(state) == {"root#1": "FAILED", "other#2": "FINISHED", "child#3": "FAILED"}
    assert actions(state) == [("run", "FAILED"), ("post", "SKIPPED"), ("load", "DONE"), ("conclude", "SKIPPED")]
    assert state.tasks[3].error["message"] == "Error: child broke"
    assert state.status() == "FAILED" and state.exit_code() == 1


def test_a_failed_action_fails_its_originating_task_unless_ignored(cengine, tmp_path):
    functions = {"a": """exports.handler = async (event) => {
        await queue(event, {action: 'post'});
        await queue(event, {action: 'schema'}, true);
        await queue(event, {action: 'conclude', task: event.task_id});
    };"""}
    state = chain(cengine, tmp_path, functions, run_action("a", opened=True),
                  {"post": {"$error": "database is read-only"}, "schema": {"$error": "ignored"}})
    assert actions(state) == [("post", "FAILED"), ("schema", "FAILED"), ("conclude", "SKIPPED")]
    assert state.tasks[1].status == "FAILED"
    assert "action 1 (post) failed: post: database is read-only" in state.tasks[1].error["message"]
    ignored = chain(cengine, tmp_path, {"a": """exports.handler = async (event) => {
        await queue(event, {action: 'post'}, true);
        await queue(event, {action: 'conclude', task: event.task_id});
    };"""}, run_action("a", opened=True), {"post": {"$error": "no space"}})
    assert actions(ignored) == [("post", "FAILED"), ("conclude", "DONE")]
    assert ignored.status() == "FINISHED"


@pytest.mark.parametrize(("action", "message"), [
    ({"action": "run", "tasks": [{"name": "ghost"}]}, "run: unknown task 'ghost'"),
    ({"action": "run", "tasks": [{"name": "a", "parent": 99}]}, "run: parent task 99 does not exist"),
    ({"action": "conclude", "task": 42}, "conclude: task 42 does not exist"),
    ({"action": "conclude", "task": 1}, "conclude: task 1 (a) is not open (it is FINISHED)"),
    ({"action": "conclude", "task": "1"}, "conclude: task '1' does not exist"),
])
def test_bad_queued_actions_fail_the_originating_task(cengine, tmp_path, action, message):
    body = f"if (event.task_id === 1) await queue(event, {json.dumps(action)});"
    functions = {"a": f"exports.handler = async (event) => {{ {body} }};"}
    state = chain(cengine, tmp_path, functions, run_action("a"))
    queued = state.actions[0]
    assert queued.status == "FAILED" and message in queued.error
    assert state.tasks[1].status == "FAILED"


@pytest.mark.parametrize("bad", ["5", "'post'", "[1]", "{name: 'post'}"])
def test_an_action_that_is_not_an_object_is_refused_by_xina_queue(cengine, tmp_path, bad):
    functions = {"a": f"""exports.handler = async (event) => {{
        try {{ await queue(event, {bad}); }} catch (e) {{ return 'refused: ' + e.message; }}
    }};"""}
    state = chain(cengine, tmp_path, functions, run_action("a"))
    assert state.tasks[1].result.startswith("refused: xina-queue: ")
    assert state.actions[0].status == "FAILED" and state.tasks[1].status == "FAILED"


def test_a_chain_that_queues_forever_is_stopped_by_the_action_cap(cengine, tmp_path):
    functions = {"loop": """exports.handler = async (event) => {
        await queue(event, {action: 'run', tasks: [{name: 'loop', parent: event.task_id}]});
    };"""}
    state = chain(cengine, tmp_path, functions, run_action("loop"), max_actions=5)
    assert state.halted and "queued more than 5 actions (--max-actions)" in state.halted
    assert len(state.actions) == 5 and state.status() == "FAILED"
    assert "--max-actions" in chain_document(state)["error"]


def test_a_cycle_of_request_response_invocations_is_stopped_by_the_depth_cap(cengine, tmp_path):
    functions = {"ping": """exports.handler = async (event) => {
        const Payload = JSON.stringify({n: (event.n || 0) + 1});
        const r = await lambda.invoke({FunctionName: 'ping', Payload}).promise();
        return r.FunctionError ? {depth: event.n, error: JSON.parse(r.Payload).errorMessage} : JSON.parse(r.Payload);
    };"""}
    state = chain(cengine, tmp_path, functions, run_action("ping"), max_depth=3)
    result = state.tasks[1].result
    assert result["depth"] == 2
    assert "nested more than 3 deep (--max-depth)" in result["error"]


def test_request_response_and_event_invocations_of_mapped_functions(cengine, tmp_path):
    functions = {
        "caller": """exports.handler = async (event) => {
            const sync = await lambda.invoke({FunctionName: 'callee', Payload: '{"x": 2}'}).promise();
            const failed = await lambda.invoke({FunctionName: 'callee', Payload: '{"fail": true}'}).promise();
            const later = await lambda.invoke({FunctionName: 'callee', InvocationType: 'Event', Payload: '{"x": 5}'})
              .promise();
            let missing;
            try { await lambda.invoke({FunctionName: 'nobody'}).promise(); } catch (e) { missing = e.message; }
            return {sync, failed: [failed.StatusCode, failed.FunctionError, JSON.parse(failed.Payload).errorMessage],
                    later: later.StatusCode, missing};
        };""",
        "callee": "exports.handler = async (e) => { if (e.fail) throw new TypeError('no'); "
                  "log('x is', e.x); return e.x * 10; };",
    }
    state = chain(cengine, tmp_path, functions, run_action("caller"))
    result = state.tasks[1].result
    assert result["sync"] == {"StatusCode": 200, "ExecutedVersion": "$LATEST", "Payload": "20"}
    assert result["failed"] == [200, "Unhandled", "TypeError: no"]
    assert result["later"] == 202
    assert "ResourceNotFoundException: Function not found: nobody" in result["missing"]
    assert actions(state) == [("invoke callee", "DONE")]
    assert state.actions[0].result == 50
    assert "[callee] x is 2" in state.tasks[1].logs and "[callee] x is 5" in state.tasks[1].logs


def test_payloads_over_6_mb_are_refused(cengine, tmp_path):
    functions = {"big": """exports.handler = async (event) => {
        const Payload = JSON.stringify({action: {action: 'post', data: 'x'.repeat(6300000)}});
        try { await lambda.invoke({FunctionName: 'xina-queue', Payload}).promise(); } catch (e) { return e.message; }
    };"""}
    state = chain(cengine, tmp_path, functions, run_action("big"))
    assert state.tasks[1].result.startswith(
        "RequestEntityTooLargeException: Request must be smaller than 6291456 bytes")
    assert state.actions == []


def test_s3_keys_stay_inside_the_object_directory(cengine, tmp_path):
    functions = {"s3": """exports.handler = async (event) => {
        const s3 = new AWS.S3(), out = [];
        await s3.putObject({Bucket: event.bucket, Key: 'a/b.json', Body: '{"ok": 1}'}).promise();
        out.push((await s3.getObject({Bucket: event.bucket, Key: 'a/b.json'}).promise()).Body);
        for (const Key of ['../escape', '/etc/passwd', 'a/../../x', 'missing']) {
          try { await s3.getObject({Bucket: event.bucket, Key}).promise(); out.push('read ' + Key); }
          catch (e) { out.push(e.code + ' ' + e.message); }
        }
        return out;
    };"""}
    state = chain(cengine, tmp_path, functions, run_action("s3"))
    body, *refused = state.tasks[1].result
    assert body == '{"ok": 1}'
    assert all("invalid Key" in text for text in refused[:3])
    assert refused[3].startswith("NoSuchKey NoSuchKey: The specified key does not exist: missing")
    store = ObjectStore(tmp_path / "objects")
    (tmp_path / "objects" / "link").symlink_to("/etc")
    with pytest.raises(ObjectError, match="leads outside the object directory"):
        store.path("link/passwd")


@pytest.mark.parametrize(("action", "message"), [
    ([], "ACTION: an action must be an object, got a list"),
    ({"action": "schema"}, "ACTION.action: expected 'run', got 'schema'"),
    ({"action": "run", "tasks": []}, "ACTION.tasks: expected a non-empty list of tasks"),
    ({"action": "run", "tasks": [{"name": "ghost"}]}, "ACTION.tasks[0].name: unknown task 'ghost'"),
    ({"action": "run", "tasks": [{"name": "a", "conf": [1]}]}, "ACTION.tasks[0].conf: expected a JSON object"),
    ({"action": "run", "tasks": [{"name": "a", "open": "yes"}]}, "ACTION.tasks[0].open: expected true or false"),
    ({"action": "run", "tasks": [{"name": "a"}], "parent": 0}, "ACTION.parent: expected a task id"),
])
def test_a_bad_starting_action_is_a_usage_error_before_anything_runs(cengine, tmp_path, action, message):
    with pytest.raises(UsageError, match=None) as caught:
        chain(cengine, tmp_path, {"a": "exports.handler = async () => 1;"}, action)
    assert message in caught.value.message


@pytest.mark.parametrize(("text", "message"), [
    ("[]", "expected a mapping of task names to function files"),
    ("a: missing.js", "a.file: no such file"),
    ("a: {file: a.js, retries: 3}", "unknown key 'retries'"),
    ("xina-queue: a.js", "'xina-queue' is built in"),
    ("a: [", "invalid YAML"),
])
def test_bad_tasks_maps_are_usage_errors(tmp_path, text, message):
    (tmp_path / "a.js").write_text("exports.handler = () => 1")
    (tmp_path / "tasks.yaml").write_text(text)
    with pytest.raises(UsageError) as caught:
        load_task_map(tmp_path / "tasks.yaml")
    assert message in caught.value.message


def test_cli_flow_chain_prints_the_tree_and_log_and_exit_codes(cli, tmp_path):
    args = ["flow", "chain", str(EXAMPLES / "run-action.json"), "--tasks", str(EXAMPLES / "tasks.yaml"),
            "--action-results", str(EXAMPLES / "action-results.json")]
    text = cli(*args)
    assert text.code == 0, text.stderr
    assert "#1 queue_demo: FINISHED" in text.stdout and "#2 queue_demo_b parent 1: FINISHED" in text.stdout
    assert [line.split()[1] for line in text.stdout.splitlines() if line[:4].strip().rstrip(".").isdigit()] == \
        ["schema", "run", "post", "conclude"]
    document = cli(*args, "--format", "json", "--objects", str(tmp_path / "objects")).json()
    assert document["status"] == "FINISHED"
    (tmp_path / "open.json").write_text('{"action": "run", "tasks": [{"name": "queue_demo", "open": true, '
                                        '"conf": {"database": "demo.events"}}]}')
    missing_results = cli("flow", "chain", str(tmp_path / "open.json"), "--tasks", str(EXAMPLES / "tasks.yaml"))
    assert missing_results.code == 1  # the schema result is missing: queue_demo_b fails, and with it queue_demo
    assert "chain FAILED" in missing_results.stdout
    (tmp_path / "bad.json").write_text("{not json")
    bad = cli("flow", "chain", str(tmp_path / "bad.json"), "--tasks", str(EXAMPLES / "tasks.yaml"))
    assert bad.code == 2 and "invalid JSON in" in bad.stderr
    notasks = cli("flow", "chain", str(tmp_path / "open.json"))
    assert notasks.code == 2 and "no tasks map: pass --tasks" in notasks.stderr
    zero = cli(*args, "--max-actions", "0")
    assert zero.code == 2 and "--max-actions" in zero.stderr


def test_chain_cases_in_faasctl_test_pass_fail_and_refuse_bad_files(cli, tmp_path):
    for name in ("run-action.json", "tasks.yaml", "action-results.json", "xina-queue-demo-a.js",
                 "xina-queue-demo-b.js"):
        (tmp_path / name).write_text((EXAMPLES / name).read_text())
    (tmp_path / "wrong.faas.yaml").write_text(
        "cases:\n  - name: wrong\n    chain: run-action.json\n    action_results: action-results.json\n"
        "    expect:\n      status: OPEN\n      tasks: {queue_demo_b: {parent: 7}}\n      actions: [run, schema]\n")
    wrong = cli("test", "wrong.faas.yaml", cwd=tmp_path)
    assert wrong.code == 1
    output = wrong.stdout + wrong.stderr
    assert "chain status differs" in output and "task queue_demo_b: parent differs" in output
    assert "action log differs" in output
    (tmp_path / "bad.faas.yaml").write_text(
        "cases:\n  - name: bad\n    chain: run-action.json\n    expect: {status: DONE}\n")
    bad = cli("test", "bad.faas.yaml", cwd=tmp_path)
    assert bad.code == 2 and "status must be one of FINISHED, FAILED, OPEN" in bad.stderr
    (tmp_path / "typo.faas.yaml").write_text("cases:\n  - name: typo\n    chain: run-action.json\n    task: x\n")
    typo = cli("test", "typo.faas.yaml", cwd=tmp_path)
    assert typo.code == 2 and "typo.faas.yaml:4" in typo.stderr


def test_python_and_lua_tasks_reach_the_chain_plugins_through_call(cengine, tmp_path):
    (tmp_path / "py_task.py").write_text(
        "import json\n"
        "def lambda_handler(event, context):\n"
        "    call('s3', 'put', {'Bucket': event['bucket'], 'Key': 'from/py.json', 'Body': json.dumps(event['conf'])})\n"
        "    reply = call('lambda', 'invoke', {'FunctionName': 'xina-queue',\n"
        "                 'Payload': json.dumps({'action': {'action': 'run', 'tasks': [{'name': 'lua_task',\n"
        "                                        'parent': event['task_id']}]}, 'task_id': event['task_id']})})\n"
        "    return json.loads(reply['Payload'])['queue_id'][:8]\n")
    (tmp_path / "lua_task.lua").write_text(
        "function main(event)\n"
        "  local body = call('s3', 'get', {Key = 'from/py.json'}).Body\n"
        "  call('lambda', 'invoke', {FunctionName = 'xina-queue', Payload = json.encode({action = {action = 'post'},\n"
        "       task_id = event.task_id})})\n"
        "  return body\nend\n")
    # python-full: the component runtime has no host-call channel yet
    (tmp_path / "tasks.yaml").write_text("py_task: {file: py_task.py, runtime: python-full}\nlua_task: lua_task.lua\n")
    objects = tmp_path / "objects"
    objects.mkdir()
    runner = ChainRunner(cengine, load_task_map(tmp_path / "tasks.yaml"), ObjectStore(objects), {"post": "ok"},
                         ChainOptions(limits={"timeout": "20s"}))
    state = runner.run({"action": "run", "tasks": [{"name": "py_task", "conf": {"n": 1}}]})
    assert statuses(state) == {"py_task#1": "FINISHED", "lua_task#2": "FINISHED"}, state.tasks
    assert state.tasks[2].result == {"n": 1} and state.tasks[2].parent == 1
    assert actions(state) == [("run", "DONE"), ("post", "DONE")]


def test_a_task_failed_by_a_limit_gives_the_chain_that_exit_code(cengine, tmp_path):
    (tmp_path / "spin.js").write_text("exports.handler = async () => { for (;;) {} };")
    (tmp_path / "tasks.yaml").write_text("spin: {file: spin.js, timeout: 300ms}\n")
    objects = tmp_path / "objects"
    objects.mkdir()
    runner = ChainRunner(cengine, load_task_map(tmp_path / "tasks.yaml"), ObjectStore(objects), {})
    state = runner.run(run_action("spin"))
    assert state.tasks[1].status == "FAILED" and state.tasks[1].error["type"] == "Timeout"
    assert state.exit_code() == 3


def test_a_nested_task_timeout_gives_its_exit_code_to_the_chain_and_bad_task_ids_are_refused(cengine, tmp_path):
    functions = {
        "root": """exports.handler = async (event) => {
            let refused;
            try { await queue({task_id: true}, {action: 'post'}); } catch (e) { refused = e.message; }
            await queue(event, {action: 'run', tasks: [{name: 'spin', parent: event.task_id}]});
            return refused;
        };""",
        "spin": "exports.handler = async () => { for (;;) {} };",
    }
    state = chain(cengine, tmp_path, functions, run_action("root", opened=True), limits_timeout="500ms")
    assert state.tasks[1].result == "xina-queue: task_id true is not a task of this chain"
    assert statuses(state) == {"root#1": "FAILED", "spin#2": "FAILED"}
    assert state.exit_code() == 3
