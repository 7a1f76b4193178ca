"""The three faces of ``faasctl serve`` against a real server process and a real HTTP client."""

from __future__ import annotations

import base64
import json

import pytest
import wasmtime
from test_server_support import Server, runtime_available

HELLO_JS = "return `hello ${$.name ?? 'world'}`"
ECHO_WAT = """(module (memory (export "memory") 1) (global (export "__heap_base") i32 (i32.const 64))
  (func (export "echo") (param i32 i32) (result i32 i32) (local.get 0) (local.get 1)))"""
WASI_WAT = """(module
  (import "wasi_snapshot_preview1" "fd_write" (func $write (param i32 i32 i32 i32) (result i32)))
  (memory (export "memory") 1) (data (i32.const 16) "wasi ok")
  (func (export "_start")
    (i32.store (i32.const 0) (i32.const 16)) (i32.store (i32.const 4) (i32.const 7))
    (drop (call $write (i32.const 1) (i32.const 0) (i32.const 1) (i32.const 8)))))"""


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    directory = tmp_path_factory.mktemp("serve")
    allowed = str(tmp_path_factory.getbasetemp())  # path deploys of the tests' own files
    options = ("--workers", "2", "--max-timeout", "2s", "--allow-path", allowed)
    with Server(directory / "store.sqlite", *options) as running:
        running.request("PUT", "/v1/functions/hello", {"runtime": "js", "code": HELLO_JS})
        yield running


# -- REST ----------------------------------------------------------------------------------------------------

def test_deploy_is_201_then_200_and_described(server):
    body = {"runtime": "js", "code": "return 1", "limits": {"timeout": "1s", "memory": "64MiB"}}
    first = server.request("PUT", "/v1/functions/one", body)
    assert first.status == 201, first
    again = server.request("PUT", "/v1/functions/one", body)
    assert again.status == 200
    described = server.request("GET", "/v1/functions/one").json()
    assert described["runtime"] == "js" and described["size"] == len("return 1")
    assert described["limits"] == {"timeout": "1s", "memory": "64MiB"}
    assert described["effective_limits"]["timeout"] == "1s" and described["digest"].startswith("sha256:")
    names = [f["name"] for f in server.request("GET", "/v1/functions").json()["functions"]]
    assert "one" in names and "hello" in names


def test_blocking_invoke_returns_the_envelope(server):
    reply = server.request("POST", "/v1/functions/hello/invoke", {"name": "Ada"})
    assert reply.status == 200
    envelope = reply.json()
    assert envelope["ok"] is True and envelope["result"] == "hello Ada" and envelope["function"] == "hello"
    assert envelope["runtime"] == "js" and envelope["error"] is None and "duration_ms" in envelope["stats"]
    assert reply.headers["x-faasctl-invocation-id"].isdigit()
    # an empty body is the empty input
    assert server.request("POST", "/v1/functions/hello/invoke").json()["result"] == "hello world"


def test_function_failure_is_200_with_ok_false(server):
    server.request("PUT", "/v1/functions/boom", {"runtime": "js", "code": "throw new Error('kaput')"})
    envelope = server.request("POST", "/v1/functions/boom/invoke").json()
    assert envelope["ok"] is False and envelope["error"]["type"] == "FunctionError"
    assert "kaput" in envelope["error"]["message"]


def test_limits_are_clamped_to_server_maxima(server):
    body = {"runtime": "js", "code": "while (true) {}", "limits": {"timeout": "1h"}}
    described = server.request("PUT", "/v1/functions/spin", body).json()
    assert described["effective_limits"]["timeout"] == "2s"
    envelope = server.request("POST", "/v1/functions/spin/invoke").json()
    assert envelope["error"]["type"] == "Timeout" and envelope["error"]["message"] == "timed out after 2s"


def test_async_invoke_then_read_twice(server):
    reply = server.request("POST", "/v1/functions/hello/invoke?blocking=false", {"name": "Bob"})
    assert reply.status == 202
    invocation_id = reply.json()["invocation_id"]
    record = server.wait_state(invocation_id, ("done",))
    assert record["function"] == "hello" and record["envelope"]["result"] == "hello Bob"
    assert server.request("GET", f"/v1/invocations/{invocation_id}").json() == record


@pytest.mark.parametrize("path", ["/v1/invocations/987654", "/v1/invocations/abc", "/invocation/987654",
                                  "/v1/invocations/%C2%B2", "/invocation/%C2%B2"])  # "²" is a str.isdigit()
def test_unknown_invocation_is_404_at_once(server, path):
    reply = server.request("GET", path, timeout=10)
    assert reply.status == 404 and reply.json()["error"]["type"] == "NotFound"


@pytest.mark.parametrize(("method", "path"), [("POST", "/v1/functions/nope/invoke"), ("GET", "/v1/functions/nope"),
                                              ("DELETE", "/v1/functions/nope"), ("POST", "/actions/nope/block"),
                                              ("POST", "/actions/nope"), ("DELETE", "/actions/nope")])
def test_unknown_function_is_404(server, method, path):
    reply = server.request(method, path)
    assert reply.status == 404 and "nope" in reply.json()["error"]["message"]


def test_malformed_json_is_400_with_a_message(server):
    reply = server.request("POST", "/v1/functions/hello/invoke", raw=b'{"name": ')
    assert reply.status == 400
    error = reply.json()["error"]
    assert error["type"] == "InputError" and "line 1 column" in error["message"]
    assert server.request("PUT", "/v1/functions/x", raw=b"[1,").status == 400
    assert server.request("POST", "/function/invoke", raw=b"{").status == 400


def test_unencodable_or_too_deep_json_is_400_not_500(server):
    # a lone surrogate escape parses to a str no UTF-8 encoder takes; deep nesting overflows the parser
    for raw in (b'{"name": "\\ud800"}', b"[" * 100_000 + b"]" * 100_000):
        reply = server.request("POST", "/v1/functions/hello/invoke", raw=raw)
        assert reply.status == 400, reply
        assert reply.json()["error"]["type"] == "InputError"
    reply = server.request("PUT", "/v1/functions/sur", raw=b'{"runtime": "js", "code": "\\udfff"}')
    assert reply.status == 400 and "lone UTF-16 surrogate" in reply.json()["error"]["message"]
    # a valid pair is a character, and a function printing a lone escape gets its output back as text
    assert server.request("POST", "/v1/functions/hello/invoke", raw=b'{"name": "\\ud83d\\ude00"}').json()[
        "result"] == "hello \U0001f600"
    server.request("PUT", "/v1/functions/lone", {"runtime": "js", "code": "return {a: '\\ud800'}"})
    envelope = server.request("POST", "/v1/functions/lone/invoke").json()
    assert envelope["ok"] and envelope["result"] == '{"a":"\\ud800"}' and envelope["output_type"] == "text"
    assert not [line for line in server.stderr_lines if "internal error" in line]


@pytest.mark.parametrize(("body", "words"), [
    ({"code": "return 1"}, "needs a runtime"),
    ({"runtime": "js", "code": "1", "image_ref": "x"}, "unknown deploy key 'image_ref'"),
    ({"runtime": "cobol", "code": "1"}, "unknown runtime 'cobol'"),
    ({"runtime": "js", "code": "1", "limits": {"timeout": "soon"}}, "invalid duration 'soon'"),
    ({"runtime": "js", "code": "1", "limits": {"cpu": 1}}, "unknown limit 'cpu'"),
    ({"runtime": "wasm", "code_base64": "%%%"}, "not valid base64"),
    ({"runtime": "js"}, "one of code, code_base64, path or image"),
    ({"runtime": "js", "path": "/no/such/file.js"}, "outside the directories the server allows"),
    ({"runtime": "python", "path": "/etc/passwd"}, "outside the directories the server allows"),
    ({"runtime": "js", "path": "/dev/zero"}, "outside the directories the server allows"),
    ([1, 2], "must be a JSON object"),
])
def test_bad_deploys_are_400(server, body, words):
    reply = server.request("PUT", "/v1/functions/bad", body)
    assert reply.status == 400, reply
    assert words in reply.json()["error"]["message"]
    assert server.request("GET", "/v1/functions/bad").status == 404


def test_bad_function_name_is_400(server):
    reply = server.request("PUT", "/v1/functions/..hidden", {"runtime": "js", "code": "1"})
    assert reply.status == 400 and "invalid function name" in reply.json()["error"]["message"]
    # a 10,000-character name is not echoed back whole
    for method, path, status in (("PUT", "/v1/functions/" + "a" * 10_000, 400),
                                 ("POST", "/v1/functions/" + "a" * 10_000 + "/invoke", 404)):
        reply = server.request(method, path, {"runtime": "js", "code": "1"})
        message = reply.json()["error"]["message"]
        assert reply.status == status and len(message) < 300 and "(10000 characters)" in message, message


def test_path_deploys_take_only_regular_files_under_allowed_directories(server, tmp_path):
    import os

    os.mkfifo(tmp_path / "pipe.js")
    (tmp_path / "zero.js").symlink_to("/dev/zero")
    (tmp_path / "missing.js").symlink_to(tmp_path / "nowhere.js")
    for name, words in (("pipe.js", "not a regular file"), ("zero.js", "outside the directories"),
                        ("missing.js", "not a regular file")):
        reply = server.request("PUT", "/v1/functions/p", {"runtime": "js", "path": str(tmp_path / name)})
        assert reply.status == 400 and words in reply.json()["error"]["message"], (name, reply.json())


def test_path_deploys_are_off_without_allow_path(tmp_path):
    with Server(tmp_path / "store.sqlite", "--workers", "1") as running:
        script = tmp_path / "f.js"
        script.write_text("return 1")
        reply = running.request("PUT", "/v1/functions/f", {"runtime": "js", "path": str(script)})
        assert reply.status == 400 and "--allow-path" in reply.json()["error"]["message"] + str(reply.json())


def test_deploy_from_a_local_path_and_delete(server, tmp_path):
    path = tmp_path / "double.js"
    path.write_text("return $.n * 2")
    assert server.request("PUT", "/v1/functions/double", {"path": str(path)}).status == 201
    path.write_text("return 0")  # the deployed code is a copy in the store
    assert server.request("POST", "/v1/functions/double/invoke", {"n": 21}).json()["result"] == 42
    assert server.request("DELETE", "/v1/functions/double").json() == {"deleted": "double"}
    assert server.request("POST", "/v1/functions/double/invoke").status == 404


def test_wasm_by_code_base64(server):
    module = base64.b64encode(wasmtime.wat2wasm(ECHO_WAT)).decode()
    reply = server.request("PUT", "/v1/functions/echo", {"runtime": "wasm", "code_base64": module})
    assert reply.status == 201, reply
    envelope = server.request("POST", "/v1/functions/echo/invoke", {"list": [1, [2]], "s": "é\"\n"}).json()
    assert envelope["ok"] and envelope["result"] == {"list": [1, [2]], "s": "é\"\n"}


def test_broken_module_is_422_at_deploy(server, tmp_path):
    for body in ({"runtime": "wasm", "code_base64": base64.b64encode(b"\0asm garbage").decode()},
                 {"runtime": "wasm", "code": "hello"}, {"runtime": "wasm", "code": "(module (func"}):
        reply = server.request("PUT", "/v1/functions/broken", body)
        assert reply.status == 422 and reply.json()["error"]["type"] == "ArtifactError", reply
        assert server.request("GET", "/v1/functions/broken").status == 404
    # WebAssembly text deployed as code still compiles and runs
    body = {"runtime": "wasm", "code": '(module (func (export "f") (result i32) i32.const 4))',
            "options": {"invoke": "f"}}
    assert server.request("PUT", "/v1/functions/wat", body).status == 201
    assert server.request("POST", "/v1/functions/wat/invoke").json()["result"] == 4
    (tmp_path / "notes.wasm").write_text("not a module")
    reply = server.request("POST", "/function/deploy", {"function_name": "notwasm",
                                                        "function_image": str(tmp_path / "notes.wasm")})
    assert reply.status == 422 and reply.text.startswith("status code: 422, message: ArtifactError:"), reply


def test_python_function(server):
    code = "log('computing')\nreturn {'sum': sum(inputData['xs'])}"
    assert server.request("PUT", "/v1/functions/pysum", {"runtime": "python", "code": code}).status == 201
    envelope = server.request("POST", "/v1/functions/pysum/invoke", {"xs": [1, 2, 3]}).json()
    assert envelope["ok"], envelope["error"]
    assert envelope["result"] == {"sum": 6} and envelope["logs"] == ["computing"] and envelope["runtime"] == "python"


def test_openapi_metrics_healthz_and_404_route(server):
    document = server.request("GET", "/openapi.json").json()
    assert document["openapi"].startswith("3.") and "/v1/functions/{name}/invoke" in document["paths"]
    server.request("POST", "/v1/functions/hello/invoke")
    metrics = server.request("GET", "/metrics")
    assert metrics.headers["content-type"].startswith("text/plain")
    assert 'faasctl_invocations_total{function="hello",outcome="ok"}' in metrics.text
    assert 'faasctl_invocation_duration_seconds_count{function="hello"}' in metrics.text
    assert "faasctl_queue_depth 0" in metrics.text
    assert server.request("GET", "/healthz").json() == {"status": "ok"}
    missing = server.request("GET", "/no/such/route")
    assert missing.status == 404 and missing.json()["error"]["type"] == "NotFound"
    assert server.request("PATCH", "/v1/functions").status == 405


# -- openEuler WasmEngine ------------------------------------------------------------------------------------

def test_wasmengine_flow(server, tmp_path):
    (tmp_path / "echo.wasm").write_bytes(wasmtime.wat2wasm(ECHO_WAT))
    (tmp_path / "hi.wasm").write_bytes(wasmtime.wat2wasm(WASI_WAT))
    deploy = server.request("POST", "/function/deploy", {"function_name": "echo", "function_image":
                                                         str(tmp_path / "echo.wasm"), "wasi_cap": False})
    assert (deploy.status, deploy.text) == (200, "status code: 200, message: deploy function echo successfully!\n")
    assert server.request("POST", "/function/deploy", {"function_name": "hi", "function_image":
                                                       str(tmp_path / "hi.wasm"), "wasi_cap": True}).status == 200
    listing = server.request("GET", "/function/list").text
    assert listing.startswith("status code: 200, message: all deployed function info: [")
    entries = json.loads(listing[listing.index("["):].strip())
    assert {"func_name": "echo", "func_image_name": str(tmp_path / "echo.wasm"), "wasi_cap": False} in entries
    query = server.request("POST", "/function/query", {"function_name": "hi"}).text
    assert query.startswith('status code: 200, message: queried function info: FunctionEntry { func_name: "hi"')
    assert "wasi_cap: true" in query
    # arrays, numbers and escapes survive (WasmEngine's HashMap<String, String> lost them)
    args = {"arr": [1, 2, {"x": None}], "quote": "a\"b"}
    invoked = server.request("POST", "/function/invoke", {"function_name": "echo", "args": args})
    assert invoked.status == 200
    prefix = "status code: 200, message: "
    assert invoked.text.startswith(prefix) and json.loads(invoked.text[len(prefix):]) == args
    assert server.request("POST", "/function/invoke", {"function_name": "hi"}).text == prefix + "wasi ok"
    deleted = server.request("POST", "/function/delete", {"function_name": "hi"})
    assert deleted.text == "status code: 200, message: delete function hi successfully!\n"
    gone = server.request("POST", "/function/invoke", {"function_name": "hi", "args": {}})
    assert gone.status == 404 and gone.text.startswith("status code: 404, message: NotFound:")


def test_wasmengine_bad_requests(server):
    missing = server.request("POST", "/function/deploy", {"function_name": "x"})
    assert missing.status == 400 and "function_image is required" in missing.text
    assert server.request("POST", "/function/query", {"name": "x"}).status == 400
    assert server.request("POST", "/function/query", {"function_name": "nope"}).status == 404


# -- lua-experiments -----------------------------------------------------------------------------------------

def test_lua_experiments_routes_shared_with_rest(server):
    assert server.request("GET", "/ping").status == 200
    actions = {a["name"]: a for a in server.request("GET", "/actions").json()}
    assert actions["hello"] == {"name": "hello", "size": len(HELLO_JS), "timeout": 0, "maxmem": 0}
    blocked = server.request("POST", "/actions/hello/block", {"name": "Lua"})
    assert blocked.status == 200 and blocked.json() == "hello Lua"
    reply = server.request("POST", "/actions/hello", {"name": "later"})
    invocation_id = reply.json()["InvocationId"]
    for _ in range(2):  # readable more than once
        resolved = server.request("GET", f"/invocation/{invocation_id}")
        assert resolved.status == 200 and resolved.json() == "hello later"
    server.request("PUT", "/v1/functions/boom", {"runtime": "js", "code": "throw new Error('kaput')"})
    failing = server.request("POST", "/actions/boom/block")
    assert failing.status == 500 and failing.json()["error"]["type"] == "FunctionError"


def test_lua_experiments_bad_create(server):
    code = base64.b64encode(b"function main(args) return 1 end").decode()
    assert server.request("POST", "/actions", {"name": "x", "code": code, "timeout": -5}).status == 400
    assert server.request("POST", "/actions", {"name": "x", "code": "@@@"}).status == 400
    assert server.request("POST", "/actions", {"code": code}).status == 400


@pytest.mark.skipif(not runtime_available("lua"), reason="the lua runtime has not landed in this checkout")
def test_lua_experiments_flow(server):
    code = base64.b64encode(b"function main(args)\n if args.name == nil then args.name = 'World' end\n"
                            b" return 'Hello ' .. args.name\nend\n").decode()
    created = server.request("POST", "/actions", {"name": "lhello", "code": code, "timeout": 1500, "maxmem": 10000})
    assert (created.status, created.text) == (200, "OK"), created
    listing = {a["name"]: a for a in server.request("GET", "/actions").json()}
    assert listing["lhello"] == {"name": "lhello", "size": len(base64.b64decode(code)), "timeout": 1500,
                                 "maxmem": 10000}
    assert server.request("POST", "/actions/lhello/block", {"name": "from Lua"}).json() == "Hello from Lua"
    invocation_id = server.request("POST", "/actions/lhello", {}).json()["InvocationId"]
    assert server.request("GET", f"/invocation/{invocation_id}").json() == "Hello World"
    assert server.request("GET", f"/invocation/{invocation_id}").json() == "Hello World"
    envelope = server.request("POST", "/v1/functions/lhello/invoke", {"list": []}).json()
    assert envelope["runtime"] == "lua" and envelope["result"] == "Hello World"
    spin = base64.b64encode(b"function main(args) while true do end end").decode()
    assert server.request("POST", "/actions", {"name": "lspin", "code": spin, "timeout": 300}).status == 200
    stopped = server.request("POST", "/actions/lspin/block")
    assert stopped.status == 500 and stopped.json()["error"]["type"] == "Timeout"
    assert server.request("DELETE", "/actions/lhello").status == 200
    assert "lhello" not in {a["name"] for a in server.request("GET", "/actions").json()}
