"""Hostile clients against the real server: idle and slowloris sockets, large bodies before admission,
lists of large functions, invalid deploy options, an empty token, and several server processes."""

from __future__ import annotations

import base64
import os
import resource
import signal
import socket
import threading
import time
import tracemalloc
from pathlib import Path

import pytest
import wasmtime
from test_server_support import Server

SPIN = {"runtime": "js", "code": "while (true) {}", "limits": {"timeout": "20s"}}
HELLO = {"runtime": "js", "code": "return `hello ${$.n}`"}


def _room_for_sockets(count: int) -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < count + 256:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, count + 256), hard))


def test_idle_and_slowloris_sockets_do_not_starve_new_clients(tmp_path):
    _room_for_sockets(1200)
    args = ("--max-connections", "200", "--header-timeout", "2s")
    with Server(tmp_path / "store.sqlite", *args) as server:
        assert server.request("PUT", "/v1/functions/hello", HELLO).status == 201
        hostile: list[socket.socket] = []
        try:
            for n in range(1000):  # half idle, half sending a request line and never finishing the headers
                sock = socket.create_connection(("127.0.0.1", server.port), timeout=10)
                if n % 2:
                    sock.sendall(b"POST /v1/functions/hello/invoke HTTP/1.1\r\nHost: x\r\n")
                hostile.append(sock)
            health = server.request("GET", "/healthz", timeout=10)
            assert health.status == 200 and health.json() == {"status": "ok"}
            assert server.request("POST", "/v1/functions/hello/invoke", {"n": 1}, timeout=30).json()["result"] == \
                "hello 1"
            # a trickling client is cut off at the header deadline even though it keeps sending
            slow = socket.create_connection(("127.0.0.1", server.port), timeout=10)
            slow.sendall(b"GET /healthz HTTP/1.1\r\n")
            deadline = time.monotonic() + 15
            closed = False
            while time.monotonic() < deadline and not closed:
                time.sleep(0.5)
                try:
                    slow.sendall(b"X-Slow: 1\r\n")
                    slow.settimeout(0.01)
                    closed = slow.recv(1) == b""
                except TimeoutError:
                    pass
                except OSError:
                    closed = True
            assert closed, "a client trickling its headers kept its connection"
            slow.close()
            # every hostile socket was closed by the server (evicted or past the header deadline)
            time.sleep(2.5)
            still_open = 0
            for sock in hostile:
                sock.settimeout(0.01)
                try:
                    if sock.recv(1) != b"":
                        still_open += 1
                except TimeoutError:
                    still_open += 1
                except OSError:
                    pass
            assert still_open == 0
        finally:
            for sock in hostile:
                sock.close()
        assert server.request("GET", "/healthz").status == 200


def test_a_body_that_does_not_arrive_in_time_is_408(tmp_path):
    with Server(tmp_path / "store.sqlite", "--body-timeout", "1s") as server:
        server.request("PUT", "/v1/functions/hello", HELLO)
        sock = socket.create_connection(("127.0.0.1", server.port), timeout=10)
        sock.sendall(b"POST /v1/functions/hello/invoke HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{\"n\":")
        reply = sock.recv(4096).decode()
        sock.close()
        assert reply.startswith("HTTP/1.1 408"), reply
        assert "did not arrive within 1s" in reply
        assert server.request("POST", "/v1/functions/hello/invoke", {"n": 2}).json()["result"] == "hello 2"


def test_a_full_queue_answers_429_before_the_body_arrives(tmp_path):
    with Server(tmp_path / "store.sqlite", "--workers", "1", "--queue", "0") as server:
        server.request("PUT", "/v1/functions/spin", SPIN)
        assert server.request("POST", "/v1/functions/spin/invoke?blocking=false").status == 202
        for path in ("/v1/functions/spin/invoke", "/actions/spin/block", "/actions/spin"):
            sock = socket.create_connection(("127.0.0.1", server.port), timeout=10)
            # announce 15 MB and send none of it: the refusal must not wait for (or parse) the body
            sock.sendall(f"POST {path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                         f"Content-Length: 15000000\r\n\r\n".encode())
            reply = sock.recv(4096).decode()
            sock.close()
            assert reply.startswith("HTTP/1.1 429"), reply
            assert "QueueFull" in reply


def test_large_bodies_are_parsed_off_the_event_loop(tmp_path):
    body = b"[" + b"[]," * 2_500_000 + b"[]]"  # 7.5 MB that parse into 2.5 million lists
    with Server(tmp_path / "store.sqlite", "--workers", "2", "--queue", "8") as server:
        server.request("PUT", "/v1/functions/count", {"runtime": "js", "code": "return $.length"})
        results: list[int] = []

        def post() -> None:
            reply = server.request("POST", "/v1/functions/count/invoke", raw=body, timeout=120)
            results.append(reply.status)

        threads = [threading.Thread(target=post) for _ in range(4)]
        for thread in threads:
            thread.start()
        answered_during = 0
        while any(t.is_alive() for t in threads):
            if server.request("GET", "/healthz", timeout=5).status == 200 and any(t.is_alive() for t in threads):
                answered_during += 1
            time.sleep(0.05)
        for thread in threads:
            thread.join()
        assert results == [200] * 4
        assert answered_during > 0


def test_lists_read_metadata_only(tmp_path):
    from faasctl.server.store import FunctionRecord, Store

    store = Store(tmp_path / "store.sqlite", retention=60)
    for n in range(4):
        record = FunctionRecord(name=f"big{n}", runtime="js", filename=f"big{n}.js", media_type=None,
                                size=0, digest=f"{n}" * 64, spec={}, created=0.0, updated=0.0)
        store.put_function(record, b"x" * (20 * 1024 * 1024))
    tracemalloc.start()
    listed = store.list_functions()
    one = store.get_function("big0")
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert [r.size for r in listed] == [20 * 1024 * 1024] * 4 and one is not None and one.size == 20 * 1024 * 1024
    assert peak < 1024 * 1024, f"listing four 20 MB functions took {peak} bytes"
    assert store.source("big0", "0" * 64) == b"x" * (20 * 1024 * 1024)
    assert store.source("big0", "f" * 64) is None  # a stale digest reads nothing
    store.close()


ECHO_WAT = """(module (memory (export "memory") 1) (global (export "__heap_base") i32 (i32.const 64))
  (func (export "echo") (param i32 i32) (result i32 i32) (local.get 0) (local.get 1)))"""


@pytest.mark.parametrize(("body", "status", "words"), [
    ({"runtime": "wasm", "options": {"abi": "evil"}}, 400, "invalid option abi='evil'"),
    ({"runtime": "wasm", "options": {"wasi_args": "yaml"}}, 400, "invalid option wasi_args='yaml'"),
    ({"runtime": "wasm", "options": {"colour": "red"}}, 400, "unknown option 'colour'"),
    ({"runtime": "wasm", "options": {"abi": 1}}, 400, "invalid option abi=1"),
    ({"runtime": "wasm", "options": {"invoke": "nope"}}, 400, "'nope' is no export"),
    ({"runtime": "wasm", "options": {"abi": "wasi"}}, 422, "_start"),
    ({"runtime": "js", "code": "return 1", "options": {"abi": "string"}}, 400, "does not take the option 'abi'"),
    ({"runtime": "wasm", "options": "abi=string"}, 400, "options must be an object"),
])
def test_deploy_validates_options(tmp_path, body, status, words):
    if "code" not in body:
        body = {**body, "code_base64": base64.b64encode(wasmtime.wat2wasm(ECHO_WAT)).decode()}
    with Server(tmp_path / "store.sqlite", "--workers", "1") as server:
        reply = server.request("PUT", "/v1/functions/opt", body)
        assert reply.status == status, reply
        assert words in reply.json()["error"]["message"], reply.json()
        assert server.request("GET", "/v1/functions/opt").status == 404
        good = {"runtime": "wasm", "code_base64": body.get("code_base64", ""), "options": {"abi": "string"}}
        if good["code_base64"]:
            assert server.request("PUT", "/v1/functions/opt", good).status == 201
            assert server.request("POST", "/v1/functions/opt/invoke", {"a": 1}).json()["result"] == {"a": 1}


@pytest.mark.parametrize(("args", "env", "words"), [
    (["--token", ""], {}, "--token is empty"),
    (["--token", "  "], {}, "--token is empty"),
    ([], {"FAASCTL_TOKEN": ""}, "FAASCTL_TOKEN is empty"),
])
def test_an_empty_token_is_refused(cli, tmp_path, args, env, words):
    result = cli("serve", "--port", "0", "--store", str(tmp_path / "s.sqlite"), *args, env=env, timeout=30)
    assert result.code == 2, result
    assert words in result.stderr and len(result.stderr.strip().splitlines()) == 1


def test_several_processes_share_the_port_and_the_store(tmp_path):
    with Server(tmp_path / "store.sqlite", "--processes", "2", "--workers", "1") as server:
        assert "2 processes" in "\n".join(server.stderr_lines)
        assert server.request("PUT", "/v1/functions/hello", HELLO).status == 201
        ids = [server.request("POST", "/v1/functions/hello/invoke?blocking=false", {"n": n}).json()["invocation_id"]
               for n in range(12)]
        for n, invocation_id in enumerate(ids):  # resolved by whichever process answers, waiting if needed
            resolved = server.request("GET", f"/invocation/{invocation_id}")
            assert resolved.status == 200 and resolved.json() == f"hello {n}"
        answers = [server.request("POST", "/actions/hello/block", {"n": n}).json() for n in range(12)]
        assert answers == [f"hello {n}" for n in range(12)]
        time.sleep(1.5)  # each process publishes its counters once a second
        metrics = server.request("GET", "/metrics").text
        assert 'faasctl_invocations_total{function="hello",outcome="ok"} 24' in metrics
        assert "faasctl_workers 2" in metrics
        children = _children(server.proc.pid)
        assert len(children) == 2
    # the server was SIGKILLed: its server processes went with it
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and any(_alive(pid) for pid in children):
        time.sleep(0.1)
    assert not any(_alive(pid) for pid in children)


def _children(pid: int) -> list[int]:
    return [int(c) for task in Path(f"/proc/{pid}/task").iterdir() for c in (task / "children").read_text().split()]


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    status = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] if Path(f"/proc/{pid}").exists() \
        else "X"
    return status not in ("Z", "X")


def test_sigterm_stops_every_server_process(tmp_path):
    server = Server(tmp_path / "store.sqlite", "--processes", "2", "--workers", "1").start()
    try:
        deadline = time.monotonic() + 30
        while len(children := _children(server.proc.pid)) < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert len(children) == 2
        server.proc.send_signal(signal.SIGTERM)
        assert server.proc.wait(timeout=30) == 0
        assert not any(_alive(pid) for pid in children)
    finally:
        server.stop()


def test_log_levels(tmp_path):
    with Server(tmp_path / "quiet.sqlite", "--log-level", "warning") as quiet:
        quiet.request("GET", "/ping")
        quiet.request("PUT", "/v1/functions/hello", HELLO)
        quiet.request("POST", "/v1/functions/hello/invoke", {"n": 1})
        quiet.request("POST", "/v1/functions/nope/invoke", {"n": 1})
    assert not [line for line in quiet.stderr_lines if " INFO " in line or " DEBUG " in line]
    with Server(tmp_path / "loud.sqlite", "--log-level", "debug") as loud:
        loud.request("POST", "/v1/functions/nope/invoke", raw=b'{"n": 1}')
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and not any(" DEBUG " in line for line in loud.stderr_lines):
            time.sleep(0.02)
    requests = [line for line in loud.stderr_lines if " DEBUG " in line and "request" in line]
    assert requests and "method=POST" in requests[0] and "path=/v1/functions/nope/invoke" in requests[0]
    assert "status=404" in requests[0]


def _processes_with(marker: str) -> list[int]:
    """Pids of live processes whose environment holds ``marker`` (a test's own state directory)."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/environ", "rb") as handle:
                if marker.encode() in handle.read():
                    found.append(int(entry))
        except OSError:
            continue
    return found


def test_the_body_parsing_helper_ends_with_a_killed_server(tmp_path):
    """A server killed outright cannot shut its parsing helper down; the helper must not outlive it."""
    marker = str(tmp_path / "helper-home")
    body = b"[" + b"[]," * 200_000 + b"[]]"  # over the in-loop size: parsed by the helper process
    with Server(tmp_path / "store.sqlite", env={"FAASCTL_HOME": marker}) as server:
        server.request("PUT", "/v1/functions/count", {"runtime": "js", "code": "return $.length"})
        assert server.request("POST", "/v1/functions/count/invoke", raw=body, timeout=60).status == 200
        assert len(_processes_with(marker)) >= 2  # the server and its helper
    deadline = time.monotonic() + 10
    while _processes_with(marker) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert _processes_with(marker) == []
