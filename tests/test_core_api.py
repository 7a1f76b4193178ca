"""The core as flow runners, workers and servers use it: FunctionSpec, the settings factory, cancelling a
run, progress, closing an engine, and what importing the engine pulls in."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from conftest import EXAMPLES, make_engine

from faasctl.cancel import CancelToken
from faasctl.errors import ArtifactError, UsageError
from faasctl.inputs import FunctionInput
from faasctl.runtimes.base import RunOptions
from faasctl.settings import OciSettings, load_settings
from faasctl.spec import FunctionSpec, SpecError

# -- FunctionSpec -------------------------------------------------------------------------------------


@pytest.mark.parametrize(("data", "key", "words"), [
    ({"runtime": "js"}, "code", "one of code, code_base64, path or image"),
    ({"runtime": "js", "code": "1", "image": "r/x"}, "image", "give the function's code once"),
    ({"code": "return 1"}, "runtime", "inline code needs a runtime"),
    ({"runtime": "js", "code": 7}, "code", "code must be a string"),
    ({"runtime": "wasm", "code_base64": "%%"}, "code_base64", "not valid base64"),
    ({"runtime": "js", "code": "1", "limits": {"timeout": "soon"}}, "limits.timeout", "invalid duration 'soon'"),
    ({"runtime": "js", "code": "1", "limits": {"cpu": 1}}, "limits.cpu", "unknown limit 'cpu'"),
    ({"runtime": "js", "code": "1", "limits": [1]}, "limits", "limits must be an object"),
    ({"runtime": "js", "code": "1", "limits": {"memory": True}}, "limits.memory", "expected a value like"),
    ({"runtime": "js", "code": "1", "timeout": "2s", "limits": {"timeout": "1s"}}, "timeout", "given twice"),
    ({"runtime": "wasm", "code": "1", "options": {"args": "a b"}}, "options.args", "must be a list of strings"),
    ({"runtime": "wasm", "code": "1", "options": {"abi": "cobol"}}, "options.abi", "unknown ABI 'cobol'"),
    ({"runtime": "wasm", "code": "1", "options": {"invoke": 3}}, "options.invoke", "must be a string"),
    ({"runtime": "wasm", "code": "1", "options": {"color": "red"}}, "options.color", "unknown option 'color'"),
    ({"runtime": "js", "code": "1", "pull": "sometimes"}, "pull", "unknown pull policy"),
    ({"runtime": "js", "code": "1", "handler": ""}, "handler", "'handler' must be a non-empty string"),
    ({"runtime": "js", "code": "1", "colour": 1}, "colour", "unknown key 'colour'"),
    ([1, 2], "", "must be an object"),
])
def test_bad_specs_name_the_offending_key(data, key, words):
    with pytest.raises(SpecError) as caught:
        FunctionSpec.from_dict(data)
    assert caught.value.key == key and words in caught.value.one_line(), caught.value.one_line()
    assert caught.value.exit_code == 2


def test_untrusted_edges_can_refuse_host_options():
    with pytest.raises(SpecError, match="unknown option 'dirs'"):
        FunctionSpec.from_dict({"runtime": "wasm", "code": "x", "options": {"dirs": ["/"]}},
                               allowed_options=("abi", "invoke"))
    with pytest.raises(SpecError, match="'kv' is not allowed"):
        FunctionSpec.from_dict({"runtime": "lua", "code": "x", "kv": "/etc/db"}, allowed_options=("abi",))


def test_nested_and_flat_keys_give_the_same_spec(tmp_path: Path):
    nested = FunctionSpec.from_dict({"target": "f.wat", "limits": {"timeout": "2s"}, "output_json": True,
                                     "options": {"invoke": "gcd", "args": [6, 27], "dirs": ["data:/d"],
                                                 "kv": "kv.db"}}, base=tmp_path)
    flat = FunctionSpec.from_dict({"target": "f.wat", "timeout": "2s", "output_json": "true", "invoke": "gcd",
                                   "args": ["6", "27"], "dirs": ["data:/d"], "kv": "kv.db"}, base=tmp_path)
    assert nested == flat
    assert nested.path == str(tmp_path / "f.wat") and nested.options.dirs == (f"{tmp_path / 'data'}:/d",)
    assert nested.options.kv_path == str(tmp_path / "kv.db") and nested.options.output_json == "true"
    assert FunctionSpec.from_dict(nested.to_dict()) == nested
    image = FunctionSpec.from_dict({"target": "oci://127.0.0.1:5000/f:1", "pull": "never"})
    assert image.image == "127.0.0.1:5000/f:1" and image.target == "oci://127.0.0.1:5000/f:1"
    assert FunctionSpec.from_dict(image.to_dict()) == image


def test_cli_values_build_the_same_spec_as_a_dict():
    cli = FunctionSpec.from_cli("gcd.wat", limits={"timeout": "2s", "memory": None}, output_json="false",
                                invoke="gcd", args=["6", "27"], pull="always")
    data = FunctionSpec.from_dict({"path": "gcd.wat", "limits": {"timeout": "2s"}, "output_json": False,
                                   "options": {"invoke": "gcd", "args": ["6", "27"]}, "pull": "always"})
    assert cli == data
    with pytest.raises(SpecError, match="--timeout: invalid duration"):
        FunctionSpec.from_cli("f.js", limits={"timeout": "soon"})
    with pytest.raises(SpecError, match="needs --runtime"):
        FunctionSpec.from_cli("-", code=b"return 1")


def test_inline_code_runs_on_its_runtime_without_a_file_name(engine):
    spec = FunctionSpec.from_dict({"runtime": "js", "code": "return {n: $.n * 2}"})
    result = engine.run_spec(spec, FunctionInput.of({"n": 21}))
    assert result.ok and result.result == {"n": 42} and result.function == "inline"
    named = FunctionSpec.from_dict({"code": "return 1", "name": "one.lua"})  # a name with an ending is enough
    assert engine.run_spec(named).runtime == "lua"


def test_a_spec_runs_what_its_options_say(engine):
    spec = FunctionSpec.from_dict({"path": str(EXAMPLES / "gcd.wat"), "invoke": "gcd", "args": [6, 27]})
    assert engine.run_spec(spec).result == 3
    text = FunctionSpec.from_dict({"runtime": "js", "code": "return '42'", "output_json": False})
    assert engine.run_spec(text).result == "42"
    slow = FunctionSpec.from_dict({"runtime": "js", "code": "while (true) {}", "timeout": "200ms"})
    assert engine.run_spec(slow).error.type == "Timeout"


# -- settings -----------------------------------------------------------------------------------------


def test_settings_come_from_config_environment_and_explicit_values(tmp_path: Path):
    home = tmp_path / "home"
    (tmp_path / "faasctl.yaml").write_text("limits: {timeout: 3s, memory: 64MiB}\noci: {docker_config: dock}\n")
    settings = load_settings(cwd=str(tmp_path), environ={"FAASCTL_HOME": str(home)},
                             limits={"timeout": "1s", "fuel": None}, oci={"insecure": True})
    assert settings.cache_dir == home / "cache" and settings.data_dir == home / "data"
    assert dict(settings.limits) == {"timeout": "1s", "memory": "64MiB"}
    assert settings.oci == OciSettings(insecure=True, docker_config=str((tmp_path / "dock").resolve()))
    with pytest.raises(UsageError, match="invalid size"):
        load_settings(cwd=str(tmp_path), environ={"FAASCTL_HOME": str(home)}, limits={"memory": "lots"})
    bare = load_settings(cwd=str(tmp_path), environ={"FAASCTL_HOME": str(home)}, read_config=False)
    assert dict(bare.limits) == {} and bare.oci == OciSettings()


def test_the_pull_policy_is_per_run(tmp_path: Path):
    with make_engine(tmp_path) as engine:
        spec = FunctionSpec.from_dict({"image": "127.0.0.1:9/nothing:1", "pull": "never"})
        with pytest.raises(ArtifactError, match="not in the local cache and --pull never forbids"):
            engine.run_spec(spec)


# -- cancel, progress, close --------------------------------------------------------------------------


def _cancel_soon(token: CancelToken, after: float = 0.3) -> threading.Timer:
    timer = threading.Timer(after, token.cancel)
    timer.start()
    return timer


@pytest.mark.parametrize(("runtime", "code"), [
    ("js", "while (true) {}"),
    ("lua", "while true do end"),
    ("lua", 'return string.find(("a"):rep(40), ("a*"):rep(20) .. "b")'),  # stuck in one C call
    ("wasm", '(module (memory (export "memory") 1) (func (export "_start") (loop br 0)))'),
])
def test_a_cancelled_run_ends_promptly_as_interrupted(engine, runtime, code):
    token = CancelToken()
    spec = FunctionSpec(runtime=runtime, code=code.encode(), name="spin", limits={"timeout": "60s"})
    _cancel_soon(token)
    started = time.monotonic()
    result = engine.run_spec(spec, cancel=token)
    assert result.error is not None and result.error.type == "Interrupted", result
    assert time.monotonic() - started < 10  # not the 60 s timeout
    after = {"js": FunctionSpec(runtime="js", code=b"return 3"), "lua": FunctionSpec(runtime="lua", code=b"return 3"),
             "wasm": FunctionSpec.from_dict({"path": str(EXAMPLES / "gcd.wat"), "invoke": "gcd", "args": [6, 9]})}
    assert engine.run_spec(after[runtime]).result == 3  # the engine (and its Lua pool) is still usable


def test_a_cancelled_sleep_in_a_host_call_ends_too(engine):
    token = CancelToken()
    spec = FunctionSpec(runtime="js", code=b"await new Promise(r => setTimeout(r, 50000)); return 1",
                        limits={"timeout": "60s"})
    _cancel_soon(token)
    started = time.monotonic()
    result = engine.run_spec(spec, cancel=token)
    assert result.error is not None and result.error.type == "Interrupted", result
    assert time.monotonic() - started < 10


def test_a_token_cancelled_before_the_run_stops_it_before_it_starts(engine):
    token = CancelToken()
    token.cancel("shutting down")
    result = engine.run_spec(FunctionSpec(runtime="js", code=b"return 1"), cancel=token)
    assert result.error.type == "Interrupted" and result.error.message == "shutting down"
    from faasctl.errors import exit_code_for, is_retryable

    assert exit_code_for("Interrupted") == 130 and is_retryable("Interrupted")


def test_progress_is_called_on_the_calling_thread_and_can_stop_the_run(engine):
    calls: list[tuple[float, str]] = []

    def progress(seconds: float) -> None:
        calls.append((seconds, threading.current_thread().name))
        if len(calls) == 2:
            raise KeyboardInterrupt  # e.g. a Temporal activity told to stop while heartbeating

    spec = FunctionSpec(runtime="js", code=b"while (true) {}", limits={"timeout": "60s"})
    with pytest.raises(KeyboardInterrupt):
        engine.run_spec(spec, progress=progress)
    assert len(calls) == 2 and calls[0][0] < calls[1][0]
    assert {name for _, name in calls} == {threading.current_thread().name}
    assert engine.run_spec(FunctionSpec(runtime="js", code=b"return 5"), progress=progress).result == 5


def _children() -> set[int]:
    """Processes (zombies included) whose parent is this one."""
    found = set()
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = Path(f"/proc/{entry}/stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == os.getpid():
                found.add(int(entry))
    return found


def test_engines_built_and_closed_in_a_loop_leave_no_child_processes(tmp_path: Path):
    before = _children()
    for index in range(5):
        with make_engine(tmp_path) as engine:
            assert engine.run_spec(FunctionSpec(runtime="lua", code=b"return 1")).result == 1
            if index == 0:
                assert _children() - before  # the idle Lua worker is a child while the engine is open
            token = CancelToken()
            _cancel_soon(token, 0.05)
            engine.run_spec(FunctionSpec(runtime="lua", code=b"while true do end"), cancel=token)
            assert engine.run_spec(FunctionSpec(runtime="lua", code=b"return 2")).result == 2
    assert _children() - before == set()
    with pytest.raises(UsageError, match="closed"):
        engine.run_spec(FunctionSpec(runtime="lua", code=b"return 1"))
    engine.close()  # twice is fine


def test_the_core_imports_no_cli_or_server_stack(tmp_path: Path):
    code = """
import sys
import faasctl.engine, faasctl.spec, faasctl.settings, faasctl.pool, faasctl.cancel
from faasctl.engine import Engine
from faasctl.spec import FunctionSpec
with Engine.from_environment(read_config=False) as engine:
    assert engine.run_spec(FunctionSpec(runtime="js", code=b"return 1")).result == 1
    assert engine.run_spec(FunctionSpec(runtime="lua", code=b"return 1")).result == 1
banned = ("typer", "rich", "starlette", "uvicorn", "faasctl.cli", "faasctl.server", "faasctl.testing", "click")
print(sorted(m for m in sys.modules if m.split(".")[0] in banned or m.startswith(banned)))
"""
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path,
                          env={**os.environ, "FAASCTL_HOME": os.environ["FAASCTL_HOME"]}, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "[]"


def test_run_options_keep_their_defaults_unshared():
    first, second = RunOptions(), RunOptions()
    assert first.args == () and first.args is second.args  # immutable, so sharing is harmless
    from faasctl.result import Result, Stats

    result = Result(runtime="js", function="f", stats=Stats(duration_ms=1.0))
    assert Result(runtime="js", function="g", stats=Stats(duration_ms=1.0)).logs == result.logs == ()
    assert result.to_dict()["logs"] == []


def test_the_error_table_holds_every_exit_code_and_whether_to_retry():
    from faasctl.errors import ERROR_TABLE, exit_code_for, http_status_for, is_retryable

    codes = {name: row.exit_code for name, row in ERROR_TABLE.items()}
    assert sorted(set(codes.values())) == [1, 2, 3, 4, 5, 6, 7, 70, 130]  # spec section 6, nothing elsewhere
    for name in ("UsageError", "InputError", "ArtifactError", "NotFound", "MemoryLimit", "FuelExhausted",
                 "OutputLimit"):
        assert not is_retryable(name), name
    for name in ("FunctionError", "Trap", "InvalidOutput", "Timeout", "Interrupted", "InternalError"):
        assert is_retryable(name), name
    assert exit_code_for("NoSuchType") == 70 and http_status_for("NoSuchType") == 500 and is_retryable("NoSuchType")
    assert http_status_for("NotFound") == 404 and http_status_for("ArtifactError") == 422
