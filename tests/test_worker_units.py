"""The worker's pure parts: function specs from payloads (errors name the path), the payload converter that
keeps key order, envelopes back to results, connection errors in one line, Conductor task outcomes."""

from __future__ import annotations

import json

import pytest

from faasctl.errors import UsageError
from faasctl.worker.functions import FunctionSpec, parse_run_request, parse_spec, request_payload


@pytest.mark.parametrize(("payload", "message"), [
    ([1], "function: expected an object (a function spec), got list"),
    ({"code": "x"}, "runtime: missing"),
    ({"runtime": 3, "code": "x"}, "runtime: must be a runtime name"),
    ({"runtime": "js"}, "function: give exactly one of code, code_base64 or image"),
    ({"runtime": "js", "code": "x", "image": "r/x:1"}, "function: give exactly one of code, code_base64 or image "
                                                       "(got code, image)"),
    ({"runtime": "js", "code": 5}, "code: must be a string"),
    ({"runtime": "wasm", "code_base64": "%%%"}, "code_base64: not a valid base64 string"),
    ({"runtime": "js", "code": "x", "limits": {"timeout": "soon"}}, "limits.timeout: invalid duration 'soon'"),
    ({"runtime": "js", "code": "x", "limits": {"cpu": 1}}, "limits.cpu: unknown limit"),
    ({"runtime": "js", "code": "x", "limits": [1]}, "limits: expected an object"),
    ({"runtime": "js", "code": "x", "output_json": "maybe"}, "output_json: must be true, false or \"auto\""),
    ({"runtime": "js", "code": "x", "options": {"dirs": ["/"]}}, "options.dirs: unknown option"),
    ({"runtime": "js", "code": "x", "options": {"args": "1 2"}}, "options.args: must be a list of strings"),
    ({"runtime": "js", "code": "x", "path": "/etc/passwd"}, "path: unknown key"),
])
def test_bad_specs_name_the_path_of_the_problem(payload, message):
    with pytest.raises(UsageError) as caught:
        parse_spec(payload)
    assert caught.value.message.startswith(message)


def test_spec_round_trip_and_run_request():
    spec = parse_spec({"runtime": "wasm", "code_base64": "AGFzbQEAAAA=", "name": "m.wasm",
                       "limits": {"timeout": "2s", "fuel": None}, "output_json": False,
                       "options": {"invoke": "f", "args": ["1"]}})
    assert spec.code == b"\0asm\x01\0\0\0" and spec.limits == {"timeout": "2s"} and spec.output_json == "false"
    assert parse_spec(spec.to_payload()) == spec
    text = FunctionSpec(runtime="js", code="return 'é'".encode())
    assert text.to_payload() == {"runtime": "js", "code": "return 'é'"}
    request = parse_run_request(request_payload(text, {"b": 1, "a": 2}))
    assert list(request.input.value) == ["b", "a"] and request.input.json_text.index('"b"') < \
        request.input.json_text.index('"a"')
    with pytest.raises(UsageError, match="must be an object"):
        parse_run_request("return 1")
    with pytest.raises(Exception, match="input: the input holds NaN"):
        parse_run_request({"runtime": "js", "code": "x", "input": float("nan")})


def test_converter_keeps_the_functions_key_order():
    from temporalio.converter import DataConverter

    envelope = {"ok": True, "result": {"zeta": 1, "alpha": {"c": 3, "b": 2}, "é": "ü"}, "logs": []}
    from faasctl.worker.payloads import data_converter

    ours = data_converter().payload_converter
    payload = ours.to_payloads([envelope])[0]
    assert payload.data == json.dumps(envelope, ensure_ascii=False, separators=(",", ":")).encode()
    assert list(ours.from_payloads([payload])[0]["result"]) == ["zeta", "alpha", "é"]
    # the reason it exists: the default converter sorts
    default = DataConverter.default.payload_converter.to_payloads([envelope])[0]
    assert list(json.loads(default.data)["result"]) == ["alpha", "zeta", "é"]


def test_envelope_back_to_result():
    from faasctl.result import Result, RunError, Stats
    from faasctl.worker.payloads import result_from_envelope

    original = Result(runtime="js", function="f.js", stats=Stats(1.5, 10, None, 3, None), result=[1],
                      output_type="json", logs=["a"], error=RunError("Timeout", "timed out after 2s", None))
    assert result_from_envelope(json.loads(json.dumps(original.to_dict()))).to_dict() == original.to_dict()


def test_connection_errors_are_one_line():
    from faasctl.worker.temporal import check_address, connection_error

    raw = ('Failed client connect: Server connection error: tonic::transport::Error(Transport, ConnectError('
           'ConnectError("tcp connect error", 127.0.0.1:1, Os { code: 111, kind: ConnectionRefused, message: '
           '"Connection refused" })))')
    error = connection_error("127.0.0.1:1", RuntimeError(raw))
    assert error.exit_code == 7
    assert error.one_line().startswith("cannot reach the Temporal server at 127.0.0.1:1: Connection refused")
    for bad in ("", "host", "host:", ":7233", "host:99999", "a b:1"):
        with pytest.raises(UsageError):
            check_address(bad)
    assert check_address("[::1]:7233") == "[::1]:7233"


def test_flow_logs_come_out_with_the_local_prefixes():
    from faasctl.worker.client import task_logs

    document = {"tasks": [
        {"referenceTaskName": "a", "logs": ["one"]},
        {"referenceTaskName": "sub", "logs": [],
         "subWorkflow": {"tasks": [{"referenceTaskName": "x", "logs": ["in"]}]}},
        {"referenceTaskName": "b", "logs": []},
    ]}
    assert list(task_logs(document)) == [("a", ["one"]), ("sub/x", ["in"])]


def test_mapped_specs_travel_without_their_path(tmp_path):
    from faasctl.worker.client import travelling

    module = tmp_path / "m.wasm"
    module.write_bytes(b"\0asm\x01\0\0\0")
    assert travelling({"runtime": "wasm", "path": str(module)}) == {
        "runtime": "wasm", "code_base64": "AGFzbQEAAAA=", "name": "m.wasm"}
    assert travelling({"runtime": "js", "path": "/nowhere/x.js", "code": "return 1", "name": "x.js"}) == {
        "runtime": "js", "code": "return 1", "name": "x.js"}
    with pytest.raises(UsageError, match="cannot read"):
        travelling({"runtime": "js", "path": str(tmp_path / "missing.js")})


def test_conductor_task_outcomes(engine):
    from faasctl.worker.conductor import run_task

    done = run_task(engine, "GLOBAL___js", "r",
                    {"lambdaValue": 2, "scriptExpression": "log('x'); return $.lambdaValue * 21"})
    assert (done.status, done.output, done.logs, done.reason) == ("COMPLETED", {"result": 42}, ["x"], None)
    missing = run_task(engine, "GLOBAL___js", "r", {"lambdaValue": 2})
    assert missing.status == "FAILED_WITH_TERMINAL_ERROR"
    assert missing.reason == "UsageError: inputParameters.scriptExpression: missing (the script to run)"
    assert run_task(engine, "GLOBAL___js", "r", {"scriptExpression": ["x"]}).reason == \
        "UsageError: inputParameters.scriptExpression: must be a string"
    failed = run_task(engine, "GLOBAL___js", "r", {"scriptExpression": "while (true) {}"}, {"timeout": "200ms"})
    assert (failed.status, failed.reason) == ("FAILED", "Timeout: timed out after 200ms")
    invalid = run_task(engine, "GLOBAL___js", "r", {"scriptExpression": "return 'x'", "outputIsJson": True})
    assert invalid.status == "FAILED" and invalid.reason.startswith("InvalidOutput: ")
    assert run_task(engine, "GLOBAL___rb", "r", {"scriptExpression": "1"}).status == "FAILED_WITH_TERMINAL_ERROR"


def test_without_the_worker_extra_the_cli_says_how_to_get_it(monkeypatch, capsys):
    import sys

    from faasctl.cli.main import main
    from tests.conftest import EXAMPLES

    monkeypatch.setitem(sys.modules, "temporalio", None)  # as if `pip install faasctl` without [worker]
    assert main(["worker", "temporal", "--address", "127.0.0.1:1"]) == 2
    assert main(["run", str(EXAMPLES / "hello.js"), "--temporal", "127.0.0.1:1"]) == 2
    assert capsys.readouterr().err.count("Temporal support is not installed (pip install 'faasctl[worker]')") == 2
