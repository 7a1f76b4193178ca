"""The pre-initialised CPython component: its build, its cache checks, and what a snapshot must not leak.

The component is built once per test session (in the session's FAASCTL_HOME); the tests that damage
it work on a copy of the session cache.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import pytest
from conftest import make_engine, run_cli
from runners import run_source

from faasctl.engine import artifact_from_bytes
from faasctl.errors import ArtifactError
from faasctl.wasm.cachepaths import module_cache_path
from faasctl.wasm.component_build import build_dir, built_state


def py(engine, source, input=None, **limits):
    return run_source(engine, source, "handler.py", input, **limits)


def _copied_home(engine, tmp_path: Path) -> Path:
    py(engine, "return 1")  # the session cache holds the built and compiled component
    home = tmp_path / "home"
    shutil.copytree(engine.settings.cache_dir, home / "cache")
    return home


def test_preimported_standard_library(engine):
    source = """import json, re, datetime, decimal, statistics, hashlib, uuid, csv, zoneinfo, pathlib, sqlite3
import xml.etree.ElementTree as ET, tomllib, zlib, gzip, urllib.parse, html, textwrap, random
db = sqlite3.connect(':memory:')
return {'sql': db.execute('select 6*7').fetchone()[0], 'toml': tomllib.loads('a = 1'),
        'xml': ET.fromstring('<a><b>t</b></a>').find('b').text,
        'zip': zlib.decompress(zlib.compress(b'z')).decode(),
        'latin': 'é'.encode('latin-1').decode('cp1252'),
        'strp': str(datetime.datetime.strptime('2024-02-29', '%Y-%m-%d').date())}"""
    result = py(engine, source)
    expected = {"sql": 42, "toml": {"a": 1}, "xml": "t", "zip": "z", "latin": "é", "strp": "2024-02-29"}
    assert result.result == expected, result


def test_a_module_the_build_lacks_is_a_clear_module_not_found_error(engine):
    for name in ("bz2", "ctypes", "no_such_module_here"):
        result = py(engine, f"import {name}")
        assert result.error.type == "FunctionError"
        assert result.error.message.startswith("ModuleNotFoundError: No module named"), result.error
        assert "python-full" in result.error.message
    caught = py(engine, "try:\n    import lzma\nexcept ImportError:\n    return 'fallback'")
    assert caught.result == "fallback"


def test_every_run_is_a_fresh_instance_of_the_snapshot(engine):
    dirty = py(engine, "import json, sys, builtins\njson.dumps = None\nbuiltins.leak = 1\nsys.modules['x'] = 1\n"
                       "inputData['seen'] = True\nreturn 'dirty'")
    assert dirty.result == "dirty"
    clean = py(engine, "import json, builtins, sys\n"
                       "return [json.dumps([1]), hasattr(builtins, 'leak'), 'x' in sys.modules]")
    assert clean.result == ["[1]", False, False]


def test_random_is_reseeded_per_run(engine):
    draws = {py(engine, "import random, uuid\nreturn [random.random(), str(uuid.uuid4())]").output for _ in range(3)}
    assert len(draws) == 3


def test_sleep_is_bounded_by_the_deadline_and_other_waits_fail_cleanly(engine):
    short = py(engine, "import time\nt = time.monotonic()\ntime.sleep(0.05)\nreturn time.monotonic() - t >= 0.05")
    assert short.result is True
    long = py(engine, "import time\ntime.sleep(30)", timeout="300ms")
    assert long.error.type == "Timeout" and long.stats.duration_ms < 5000
    waited = py(engine, "import select\nselect.select([], [], [], 30)", timeout="5s")
    assert waited.error.type == "FunctionError" and "time.sleep" in waited.error.message
    assert waited.stats.duration_ms < 4000


def test_binary_writes_and_lone_surrogates(engine):
    result = py(engine, "import sys\nsys.stdout.buffer.write('é'.encode()[:1])\n"
                        "sys.stdout.buffer.write('é'.encode()[1:])\nlog('kept')\n")
    assert result.ok and result.output == "é".encode() and result.logs == ["kept"], result
    lone = py(engine, "print('\\ud800')")
    assert lone.error.type == "FunctionError" and "UnicodeEncodeError" in lone.error.message


def test_tampered_built_component_is_rebuilt_never_run(engine, tmp_path):
    home = _copied_home(engine, tmp_path)
    descriptor = engine.registry.get("python")
    component = build_dir(descriptor, home / "cache") / "component.wasm"
    data = bytearray(component.read_bytes())
    data[len(data) // 2 : len(data) // 2 + 16] = b"\xde\xad\xbe\xef" * 4
    component.write_bytes(bytes(data))
    stale = component.parent.with_name("python-" + "0" * 24)  # a build of earlier inputs, and its compile
    stale.mkdir()
    (stale / "component.json").write_text(json.dumps({"sha256": "ab" * 32}))
    stale_compiled = module_cache_path(home / "cache", "ab" * 32)
    stale_compiled.write_bytes(b"old")
    notices: list[str] = []
    fresh = make_engine(home, compile_notice=lambda label, size: notices.append(label) or (lambda ms: None))
    result = py(fresh, "return 'rebuilt'")
    assert result.result == "rebuilt", result
    assert component.read_bytes() != bytes(data)
    state = built_state(descriptor, home / "cache")
    assert state is not None and hashlib.sha256(component.read_bytes()).hexdigest() == state["sha256"]
    assert any("componentize-py" in label for label in notices)
    assert not stale.exists() and not stale_compiled.exists()


def test_corrupt_compiled_component_is_recompiled(engine, tmp_path):
    home = _copied_home(engine, tmp_path)
    state = built_state(engine.registry.get("python"), home / "cache")
    cached = module_cache_path(home / "cache", state["sha256"])
    assert cached.is_file()
    data = bytearray(cached.read_bytes())
    data[len(data) // 2 : len(data) // 2 + 64] = bytes(64)  # zeroed code, as from a bad disk write
    cached.write_bytes(bytes(data))
    result = py(make_engine(home), "return 'still works'")
    assert result.result == "still works"
    assert cached.read_bytes() != bytes(data)


def test_build_tool_must_match_its_pin(engine, tmp_path):
    text = Path(engine.registry.get("python").source_file).read_text()
    override = tmp_path / "runtimes"
    override.mkdir()
    (override / "python.yaml").write_text(text.replace("componentize-py==0.25.1", "componentize-py==0.0.1"))
    shutil.copytree(Path(engine.registry.get("python").source_file).parent / "python_guest", override / "python_guest")
    shutil.copy(Path(engine.registry.get("python").source_file).with_name("python.prelude.py"), override)
    broken = make_engine(tmp_path / "home", runtime_dirs=(override,))
    with pytest.raises(ArtifactError, match="pinned to 0.0.1"):
        py(broken, "return 1")


def test_runtimes_lists_the_component_state(engine):
    py(engine, "return 1")
    rows = {row["name"]: row for row in run_cli("runtimes", "--format", "json").json()}
    assert rows["python"]["cached"] is True and rows["python"]["sha256"]
    assert rows["python-full"]["sha256"] and engine.select_runtime(artifact_from_bytes("a.py", b"")).name == "python"
