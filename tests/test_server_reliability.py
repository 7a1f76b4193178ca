"""Reliability of ``faasctl serve``: crash safety, back-pressure, isolation of runaways, hostile requests."""

from __future__ import annotations

import signal
import sqlite3
import threading
import time
from concurrent.futures import Future

import pytest
from test_server_support import Server

SPIN = {"runtime": "js", "code": "while (true) {}", "limits": {"timeout": "20s"}}
HELLO = {"runtime": "js", "code": "return `hello ${$.n}`"}


def test_sigkill_during_a_stream_loses_nothing_acknowledged(tmp_path):
    store = tmp_path / "store.sqlite"
    deployed: list[str] = []
    completed: dict[int, object] = {}
    accepted: list[int] = []
    stop = threading.Event()
    with Server(store, "--workers", "2") as server:
        assert server.request("PUT", "/v1/functions/hello", HELLO).status == 201
        assert server.request("PUT", "/v1/functions/spin", SPIN).status == 201
        stuck = server.request("POST", "/v1/functions/spin/invoke?blocking=false").json()["invocation_id"]
        server.wait_state(stuck, ("running",))

        def stream() -> None:
            n = 0
            while not stop.is_set():
                n += 1
                try:
                    if server.request("PUT", f"/v1/functions/f{n}", {"runtime": "js", "code": f"return {n}"},
                                      timeout=10).status == 201:
                        deployed.append(f"f{n}")
                    reply = server.request("POST", "/v1/functions/hello/invoke?blocking=false", {"n": n}, timeout=10)
                    if reply.status == 202:
                        accepted.append(reply.json()["invocation_id"])
                    reply = server.request("POST", "/v1/functions/hello/invoke", {"n": n}, timeout=10)
                    if reply.status == 200:
                        completed[int(reply.headers["x-faasctl-invocation-id"])] = reply.json()["result"]
                except OSError:
                    return  # the server is gone

        thread = threading.Thread(target=stream)
        thread.start()
        deadline = time.monotonic() + 60
        while len(completed) < 5 and time.monotonic() < deadline:
            time.sleep(0.05)
        server.stop(signal.SIGKILL)  # mid-stream: the client thread is still sending
        stop.set()
        thread.join(30)
    assert deployed and completed

    with Server(store, "--workers", "2") as restarted:
        assert any("interrupted by restart" in line for line in restarted.stderr_lines)
        names = {f["name"] for f in restarted.request("GET", "/v1/functions").json()["functions"]}
        assert set(deployed) <= names and {"hello", "spin"} <= names
        for invocation_id, result in completed.items():
            record = restarted.request("GET", f"/v1/invocations/{invocation_id}").json()
            assert record["state"] == "done" and record["envelope"]["result"] == result
        for invocation_id in accepted:  # never silently lost: done, or failed as interrupted
            record = restarted.request("GET", f"/v1/invocations/{invocation_id}").json()
            assert record["state"] == "done"
            error = record["envelope"]["error"]
            assert error is None or error["message"] == "interrupted by restart"
        record = restarted.request("GET", f"/v1/invocations/{stuck}").json()
        assert record["state"] == "done" and record["envelope"]["ok"] is False
        assert record["envelope"]["error"]["message"] == "interrupted by restart"
        # the restarted server keeps working on the same store
        assert restarted.request("POST", f"/v1/functions/{deployed[0]}/invoke").json()["ok"] is True


def test_store_is_in_wal_mode(tmp_path):
    with Server(tmp_path / "store.sqlite"):
        mode = sqlite3.connect(tmp_path / "store.sqlite").execute("PRAGMA journal_mode").fetchone()[0]
    assert mode == "wal"


def test_full_queue_answers_429_at_once(tmp_path):
    with Server(tmp_path / "store.sqlite", "--workers", "1", "--queue", "1") as server:
        server.request("PUT", "/v1/functions/spin", SPIN)
        first = server.request("POST", "/v1/functions/spin/invoke?blocking=false")
        second = server.request("POST", "/v1/functions/spin/invoke?blocking=false")
        assert (first.status, second.status) == (202, 202)
        for path in ("/v1/functions/spin/invoke?blocking=false", "/v1/functions/spin/invoke", "/actions/spin/block"):
            refused = server.request("POST", path, timeout=10)
            assert refused.status == 429, refused
            assert refused.json()["error"]["type"] == "QueueFull"
        assert "faasctl_rejected_total 3" in server.request("GET", "/metrics").text
        assert server.request("GET", "/healthz").status == 200


def test_runaway_never_blocks_healthz_or_other_functions(tmp_path):
    with Server(tmp_path / "store.sqlite", "--workers", "2") as server:
        server.request("PUT", "/v1/functions/spin", SPIN)
        server.request("PUT", "/v1/functions/hello", HELLO)
        stuck = server.request("POST", "/v1/functions/spin/invoke?blocking=false").json()["invocation_id"]
        server.wait_state(stuck, ("running",))
        assert server.request("GET", "/healthz", timeout=5).status == 200
        for n in range(3):
            envelope = server.request("POST", "/v1/functions/hello/invoke", {"n": n}).json()
            assert envelope["result"] == f"hello {n}"
        assert "faasctl_running 1" in server.request("GET", "/metrics").text
        # the runaway was still running all along
        assert server.request("GET", f"/v1/invocations/{stuck}").json()["state"] == "running"


def test_watchdog_frees_a_worker_stuck_past_its_deadline():
    """A run stuck where no deadline reaches (a Lua C function) is failed and its worker replaced."""
    from faasctl.pool import RunPool

    pool = RunPool(workers=1, queue_size=1, grace=0.1)
    release = threading.Event()
    stuck: Future = pool.submit(lambda: release.wait(30) and "late", 0.1, lambda: "abandoned")
    after: Future = pool.submit(lambda: "next", 1.0, lambda: "abandoned")
    assert stuck.result(timeout=10) == "abandoned"
    assert after.result(timeout=10) == "next"
    assert pool.abandoned() == 1
    release.set()
    pool.close()


def test_auth_body_limit_and_retention(tmp_path):
    args = ("--token", "s3cret", "--max-body", "1KiB", "--retention", "1s")
    with Server(tmp_path / "store.sqlite", *args, token="s3cret") as server:
        assert server.request("PUT", "/v1/functions/hello", HELLO).status == 201
        for headers in ({"Authorization": "Bearer wrong"}, {"Authorization": "s3cret"}):
            for method, path in (("GET", "/v1/functions"), ("POST", "/function/invoke"), ("GET", "/actions"),
                                 ("GET", "/metrics"), ("GET", "/openapi.json")):
                reply = server.request(method, path, headers=headers)
                assert reply.status == 401 and reply.json()["error"]["type"] == "Unauthorized"
        for scheme in ("bearer", "BEARER"):  # the scheme is case-insensitive, the token is not
            assert server.request("GET", "/v1/functions", headers={"Authorization": f"{scheme} s3cret"}).status == 200
        assert server.request("GET", "/v1/functions", headers={"Authorization": "Bearer S3CRET"}).status == 401
        server.token = None
        assert server.request("GET", "/v1/functions").status == 401
        assert server.request("GET", "/healthz").status == 200
        server.token = "s3cret"

        big = {"runtime": "js", "code": "return 1 // " + "x" * 2000}
        reply = server.request("PUT", "/v1/functions/big", big)
        assert reply.status == 413 and "limit of 1024 bytes" in reply.json()["error"]["message"]
        assert server.request("POST", "/v1/functions/hello/invoke", {"pad": "y" * 2000}).status == 413

        invocation_id = server.request("POST", "/v1/functions/hello/invoke?blocking=false", {"n": 1}) \
            .json()["invocation_id"]
        server.wait_state(invocation_id, ("done",))
        time.sleep(1.3)
        assert server.request("GET", f"/v1/invocations/{invocation_id}").status == 404
        assert server.request("GET", f"/invocation/{invocation_id}").status == 404


def test_token_from_the_environment(tmp_path):
    with Server(tmp_path / "store.sqlite", env={"FAASCTL_TOKEN": "from-env"}, token="from-env") as server:
        assert server.request("GET", "/v1/functions").status == 200
        server.token = "other"
        assert server.request("GET", "/v1/functions").status == 401


@pytest.mark.parametrize(("args", "words"), [
    (["--port", "70000"], "invalid --port"),
    (["--workers", "0"], "invalid --workers"),
    (["--timeout", "soon"], "invalid duration"),
    (["--retention", "-1"], "invalid duration"),
    (["--max-body", "lots"], "invalid size"),
])
def test_bad_serve_options_exit_2_with_one_line(cli, tmp_path, args, words):
    result = cli("serve", "--store", str(tmp_path / "s.sqlite"), *args, timeout=30)
    assert result.code == 2, result
    assert words in result.stderr and "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_port_in_use_is_a_usage_error(cli, tmp_path):
    with Server(tmp_path / "a.sqlite") as server:
        result = cli("serve", "--port", str(server.port), "--store", str(tmp_path / "b.sqlite"), timeout=30)
    assert result.code == 2 and "cannot listen on" in result.stderr
