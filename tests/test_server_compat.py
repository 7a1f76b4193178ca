"""``faasctl serve`` as the clients of the servers it replaces see it, through the real HTTP server:

- lua-experiments: the requests its CLI ``slcli`` (cli/src/index.ts, axios 0.18) sends, replayed as sent
  (compact ``JSON.stringify`` bodies, axios's headers), through the README's walkthrough;
- openEuler WasmEngine: its README's curl calls with their ``--data-raw`` bodies byte for byte (and both
  ``Content-Type`` headers curl sends), against images pushed with ``faasctl push --format docker`` to a
  real local registry.
"""

from __future__ import annotations

import base64
import gzip
import hashlib
import http.client
import io
import json
import tarfile
import time
import urllib.request
from pathlib import Path

import pytest
import wasmtime
from conftest import run_cli
from oci_support import registry_fixture  # noqa: F401  (fixture used by name)
from test_server_support import Server

# -- lua-experiments ---------------------------------------------------------------------------------------

HELLO_LUA = b"function main(args)\n\tif args.name == nil then\n\t\targs.name = 'World'\n\tend\n\t\n" \
            b"\treturn 'Hello ' .. args.name\nend\n"
EVIL_LUA = b"function main(args)\n\tstrings = {}\n\twhile true do\n\t\ttable.insert(strings, 'evil')\n\tend\nend\n"
PAYLOAD_JSON = b'{\n\t"name": "from Lua"\n}\n'
AXIOS = {"Accept": "application/json, text/plain, */*", "User-Agent": "axios/0.18.0"}


def slcli(server: Server, method: str, path: str, payload: object = None):
    """One request as slcli's axios call sends it: ``JSON.stringify`` of the payload, axios's headers."""
    headers = dict(AXIOS)
    body = None
    if payload is not None:
        body = json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode()
        headers["Content-Type"] = "application/json;charset=utf-8"
    return server.request(method, path, raw=body, headers=headers)


def slcli_create(server: Server, name: str, code: bytes, timeout: str | None = None, memory: str | None = None):
    """``slcli create NAME -f FILE [-t T] [-m M]``: its payload keys in its order, ``Math.abs(parseInt(x)) || 0``."""
    payload = {"name": name, "timeout": abs(int(timeout)) if timeout else 0,
               "maxmem": abs(int(memory)) if memory else 0, "code": base64.b64encode(code).decode()}
    return slcli(server, "POST", "/actions", payload)


def logged(server: Server, *words: str, timeout: float = 10) -> bool:
    """Whether a server log line holding all ``words`` arrives (the log is read from a pipe, so a line
    written before a response may be read after it)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if any(all(word in line for word in words) for line in list(server.stderr_lines)):
            return True
        time.sleep(0.02)
    return False


@pytest.fixture(scope="module")
def lua_server(tmp_path_factory):
    with Server(tmp_path_factory.mktemp("slcli") / "store.sqlite", "--workers", "2", "--max-timeout", "10s") as running:
        yield running


def test_slcli_walkthrough(lua_server):
    server = lua_server
    # slcli connect: GET /ping, "OK", and the log line the README tells users to look for
    ping = slcli(server, "GET", "/ping")
    assert (ping.status, ping.text) == (200, "OK")
    assert logged(server, "Ping request received")
    assert slcli(server, "GET", "/actions").json() == []
    # slcli create hello -f hello.lua: the original answered 200 "OK"
    created = slcli_create(server, "hello", HELLO_LUA)
    assert (created.status, created.text) == (200, "OK")
    assert slcli(server, "GET", "/actions").json() == [{"name": "hello", "size": len(HELLO_LUA), "timeout": 0,
                                                        "maxmem": 0}]
    # slcli run hello -b -p payload.json
    payload = json.loads(PAYLOAD_JSON)
    blocked = slcli(server, "POST", "/actions/hello/block", payload)
    assert blocked.status == 200 and blocked.json() == "Hello from Lua"
    # slcli run hello -p payload.json, then slcli resolve ID (twice: results stay readable)
    invocation = slcli(server, "POST", "/actions/hello", payload).json()["InvocationId"]
    for _ in range(2):
        assert slcli(server, "GET", f"/invocation/{invocation}").json() == "Hello from Lua"
    # slcli run hello -b (no payload): axios posts {}
    assert slcli(server, "POST", "/actions/hello/block", {}).json() == "Hello World"
    # every run's end state is logged
    assert logged(server, "Action 'hello' finished", "outcome=ok")
    # slcli delete hello
    deleted = slcli(server, "DELETE", "/actions/hello")
    assert (deleted.status, deleted.text) == (200, "OK")
    assert slcli(server, "GET", "/actions").json() == []


def test_slcli_evil_action_hits_its_memory_limit_and_is_logged(lua_server):
    created = slcli_create(lua_server, "evil", EVIL_LUA, memory="100000")
    assert created.status == 200
    listed = {a["name"]: a for a in slcli(lua_server, "GET", "/actions").json()}
    assert listed["evil"]["maxmem"] == 100000 and listed["evil"]["timeout"] == 0
    ran = slcli(lua_server, "POST", "/actions/evil/block", {})
    assert ran.status == 500 and ran.json()["error"]["type"] == "MemoryLimit"
    assert logged(lua_server, "Action 'evil' aborted after violating memory constraints"), \
        lua_server.stderr_lines[-5:]


def test_slcli_create_compiles_and_refuses_duplicates(lua_server):
    broken = slcli_create(lua_server, "broken", b"function main(args)\n\treturn 'x'\n")
    assert broken.status == 500 and broken.text.startswith("Error compiling action"), broken
    assert "'end' expected" in broken.text
    assert "broken" not in {a["name"] for a in slcli(lua_server, "GET", "/actions").json()}
    assert slcli_create(lua_server, "twice", HELLO_LUA).status == 200
    again = slcli_create(lua_server, "twice", b"function main(args) return 'replaced' end")
    assert (again.status, again.text) == (500, "Action already exists")
    assert slcli(lua_server, "POST", "/actions/twice/block", {}).json() == "Hello World"
    # the REST face keeps replace-on-deploy, and refuses code that does not compile with 422
    rest = lua_server.request("PUT", "/v1/functions/twice", {"runtime": "lua", "code": "return 'replaced'"})
    assert rest.status == 200
    assert slcli(lua_server, "POST", "/actions/twice/block", {}).json() == "replaced"
    bad = lua_server.request("PUT", "/v1/functions/bad-lua", {"runtime": "lua", "code": "return ("})
    assert bad.status == 422 and "does not compile" in bad.json()["error"]["message"], bad


def test_zero_timeout_means_no_limit_within_the_server_maxima(tmp_path):
    spin = b"function main(args) while true do end end"
    with Server(tmp_path / "store.sqlite", "--timeout", "200ms", "--max-timeout", "1s") as server:
        assert slcli_create(server, "spin0", spin).status == 200  # timeout 0: the server's maximum, 1s
        assert slcli_create(server, "spin300", spin, timeout="300").status == 200
        for name, words in (("spin0", "timed out after 1s"), ("spin300", "timed out after 300ms")):
            ran = slcli(server, "POST", f"/actions/{name}/block", {})
            assert ran.status == 500 and ran.json()["error"]["message"] == words, ran
        assert logged(server, "Action 'spin0' aborted after timeout")


# -- openEuler WasmEngine ------------------------------------------------------------------------------------

# The README's --data-raw bodies, byte for byte (the registry address is the test registry's).
DEPLOY_AUTH = '{\n    "function_name": "authentication",\n    "function_image": "REGISTRY/authentication-wasm:v4",' \
              '\n    "wasi_cap": false\n}'
DEPLOY_HELLO = '{\n    "function_name": "hello",\n    "function_image": "REGISTRY/hello-wasm:v2",\n' \
               '    "wasi_cap": true\n}'
QUERY_AUTH = '{\n  "function_name": "authentication"\n}'
INVOKE_AUTH = '{\n  "function_name": "authentication",\n  "args": {"arg_uri": "yes", "arg_body": "yes", ' \
              '"arg_secret": "12345"}\n}'
DELETE_HELLO = '{\n  "function_name": "hello"\n}'
# Stand-ins for the README's modules, written here: "authentication" (string ABI) answers the JSON text it
# was given, so the test sees the bytes a guest receives; "hello" (WASI) prints as the README's does.
AUTH_WAT = """(module (memory (export "memory") 1) (global (export "__heap_base") i32 (i32.const 1024))
  (func (export "authentication") (param i32 i32) (result i32 i32) (local.get 0) (local.get 1)))"""
HELLO_WAT = """(module
  (import "wasi_snapshot_preview1" "fd_write" (func $w (param i32 i32 i32 i32) (result i32)))
  (memory (export "memory") 1) (data (i32.const 64) "Hello, Budda!\\n")
  (func (export "_start")
    (i32.store (i32.const 0) (i32.const 64)) (i32.store (i32.const 4) (i32.const 14))
    (drop (call $w (i32.const 1) (i32.const 0) (i32.const 1) (i32.const 8)))))"""
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
DOCKER_LAYER = "application/vnd.docker.image.rootfs.diff.tar.gzip"


def curl(server: Server, method: str, path: str, data_raw: str | None = None) -> tuple[int, str]:
    """``curl --location --request METHOD URL --header 'Content-Type: application/json' --header
    'Content-Type: text/plain' [--data-raw BODY]`` as curl puts it on the wire."""
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=120)
    try:
        connection.putrequest(method, path, skip_accept_encoding=True)
        connection.putheader("User-Agent", "curl/7.88.1")
        connection.putheader("Accept", "*/*")
        connection.putheader("Content-Type", "application/json")
        connection.putheader("Content-Type", "text/plain")
        body = data_raw.encode() if data_raw is not None else None
        if body is not None:
            connection.putheader("Content-Length", str(len(body)))
        connection.endheaders(body)
        response = connection.getresponse()
        return response.status, response.read().decode()
    finally:
        connection.close()


def push_docker(tmp_path: Path, registry, wat: str, name: str, ref: str) -> bytes:
    module = wasmtime.wat2wasm(wat)
    (tmp_path / f"{name}.wasm").write_bytes(module)
    env = {"FAASCTL_HOME": str(tmp_path / "pusher"), "DOCKER_CONFIG": str(tmp_path / "docker")}
    pushed = run_cli("push", str(tmp_path / f"{name}.wasm"), f"{registry.host}/{ref}", "--format", "docker",
                     env=env)
    assert pushed.code == 0, pushed.stderr
    return module


def test_push_format_docker_is_a_from_scratch_image(tmp_path, registry):
    module = push_docker(tmp_path, registry, HELLO_WAT, "hello", "scratch-hello:v1")
    request = urllib.request.Request(f"{registry.url}/v2/scratch-hello/manifests/v1",
                                     headers={"Accept": DOCKER_MANIFEST})
    with urllib.request.urlopen(request, timeout=30) as reply:
        manifest = json.loads(reply.read())
    assert manifest["mediaType"] == DOCKER_MANIFEST
    assert manifest["config"]["mediaType"] == "application/vnd.docker.container.image.v1+json"
    # WasmEngine pulls with accepted layer types [tar.gzip] and unpacks the first layer into its directory
    assert [layer["mediaType"] for layer in manifest["layers"]] == [DOCKER_LAYER]
    with urllib.request.urlopen(f"{registry.url}/v2/scratch-hello/blobs/{manifest['layers'][0]['digest']}",
                                timeout=30) as reply:
        layer = reply.read()
    with tarfile.open(fileobj=io.BytesIO(gzip.decompress(layer))) as archive:
        assert archive.getnames() == ["hello.wasm"]
        assert archive.extractfile("hello.wasm").read() == module  # type: ignore[union-attr]
    with urllib.request.urlopen(f"{registry.url}/v2/scratch-hello/blobs/{manifest['config']['digest']}",
                                timeout=30) as reply:
        config = json.loads(reply.read())
    diff_id = "sha256:" + hashlib.sha256(gzip.decompress(layer)).hexdigest()
    assert config["rootfs"] == {"type": "layers", "diff_ids": [diff_id]}
    assert config["config"]["Labels"]["dev.faasctl.abi"] == "wasi"
    # and faasctl pulls it back and runs it
    env = {"FAASCTL_HOME": str(tmp_path / "puller"), "DOCKER_CONFIG": str(tmp_path / "docker")}
    assert run_cli("pull", f"{registry.host}/scratch-hello:v1", env=env).code == 0
    ran = run_cli("run", f"oci://{registry.host}/scratch-hello:v1", "--offline", env=env)
    assert (ran.code, ran.stdout) == (0, "Hello, Budda!\n"), ran.stderr


def test_wasmengine_readme_walkthrough(tmp_path, registry):
    push_docker(tmp_path, registry, AUTH_WAT, "authentication", "authentication-wasm:v4")
    push_docker(tmp_path, registry, HELLO_WAT, "hello", "hello-wasm:v2")
    with Server(tmp_path / "store.sqlite", "--workers", "2") as server:
        server.request("PUT", "/v1/functions/lua-fn", {"runtime": "lua", "code": "return 1"})
        server.request("PUT", "/v1/functions/js-fn", {"runtime": "js", "code": "return 1"})
        for body, name in ((DEPLOY_AUTH, "authentication"), (DEPLOY_HELLO, "hello")):
            status, text = curl(server, "POST", "/function/deploy", body.replace("REGISTRY", registry.host))
            assert (status, text) == (200, f"status code: 200, message: deploy function {name} successfully!\n")
        status, text = curl(server, "GET", "/function/list")
        prefix = "status code: 200, message: all deployed function info: "
        assert status == 200 and text.startswith(prefix) and text.endswith("\n")
        # only what this face can describe truthfully: the two wasm images, not the Lua and JS functions
        assert json.loads(text[len(prefix):]) == [
            {"func_name": "authentication", "func_image_name": f"{registry.host}/authentication-wasm:v4",
             "wasi_cap": False},
            {"func_name": "hello", "func_image_name": f"{registry.host}/hello-wasm:v2", "wasi_cap": True}]
        status, text = curl(server, "POST", "/function/query", QUERY_AUTH)
        assert status == 200 and text.startswith('status code: 200, message: queried function info: FunctionEntry '
                                                 '{ func_name: "authentication", func_image_name: ')
        # the guest gets serde's compact JSON of args, byte for byte
        status, text = curl(server, "POST", "/function/invoke", INVOKE_AUTH)
        assert (status, text) == (200, 'status code: 200, message: {"arg_uri":"yes","arg_body":"yes",'
                                       '"arg_secret":"12345"}')
        # a WASI function's trailing newline is dropped, as WasmEngine's spawn_wasi does
        status, text = curl(server, "POST", "/function/invoke", '{"function_name": "hello"}')
        assert (status, text) == (200, "status code: 200, message: Hello, Budda!")
        status, text = curl(server, "POST", "/function/delete", DELETE_HELLO)
        assert (status, text) == (200, "status code: 200, message: delete function hello successfully!\n")


def test_guests_get_compact_json_on_the_cli_too(tmp_path):
    (tmp_path / "echo.wat").write_text(AUTH_WAT.replace('"authentication"', '"echo"'))
    ran = run_cli("run", str(tmp_path / "echo.wat"), "-d", '{"a": "b", "n": [1, 2]}', "--output-json", "false")
    assert (ran.code, ran.stdout) == (0, '{"a":"b","n":[1,2]}'), ran.stderr
