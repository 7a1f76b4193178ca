"""The Python runtime (the pre-initialised CPython component) through the engine: guest API, script text,
limits, faults."""

from __future__ import annotations

import shutil
import socket

from conftest import make_engine
from runners import run_source


def py(engine, source, input=None, **kwargs):
    return run_source(engine, source, "handler.py", input, **kwargs)


def test_conductor_health_check(engine):
    result = py(engine, "log('log')\nprint('print\\n', end='')\nreturn 'result'\n")
    assert result.ok, result.error
    assert result.output == b"print\nresult"
    assert result.logs == ["log"]


def test_input_data_and_lambda_value(engine):
    result = py(engine, "return {'v': inputData['lambdaValue'] * 2, 'keys': sorted(inputData)}",
                {"lambdaValue": 21, "b": None})
    assert result.result == {"v": 42, "keys": ["b", "lambdaValue"]}


def test_log_behaves_like_print(engine):
    result = py(engine, "log('a', 1, [2], sep='-')\nlog('x', end='!')\nlog()\nlog({'k': 'v'})")
    assert result.logs == ["a-1-[2]", "x!", "", "{'k': 'v'}"]


def test_print_adds_newlines_and_return_follows(engine):
    result = py(engine, "print('a')\nprint('b', 2)\nreturn [1, 'é']")
    assert result.output == '''a\nb 2\n[1, "é"]'''.encode()
    assert result.output_type == "text"  # the whole output is not one JSON document


def test_none_adds_nothing(engine):
    result = py(engine, "x = 1\nreturn None")
    assert result.ok and result.output == b"" and result.result is None


def test_triple_quoted_string_is_not_reindented(engine):
    source = 'text = """first\n  second\n\tthird"""\nreturn text\n'
    assert py(engine, source).result == "first\n  second\n\tthird"


def test_script_indented_as_a_whole(engine):
    source = '    doc = """a\n  b"""\n    if inputData["n"]:\n        return {"doc": doc, "n": inputData["n"]}\n'
    result = py(engine, source, {"n": 3})
    assert result.result == {"doc": "a\n  b", "n": 3}


def test_tabs_and_error_lines_in_an_indented_script(engine):
    source = "\tx = 1\n\tif x:\n\t\treturn 1 / 0\n"
    result = py(engine, source)
    assert result.error.message == "ZeroDivisionError: division by zero"
    assert 'line 3' in result.error.detail


def test_comment_only_script_returns_nothing(engine):
    result = py(engine, "# nothing to do here\n")
    assert result.ok and result.result is None and result.output == b""


def test_star_import_and_global_work_as_in_a_module(engine):
    source = ("from json import *\ncounter = 0\ndef bump():\n    global counter\n    counter += 1\n"
              "bump(); bump()\nreturn dumps({'counter': counter})\n")
    assert py(engine, source).result == {"counter": 2}


def test_return_inside_blocks_and_functions_keep_their_meaning(engine):
    source = ("def f(x):\n    return x * 2\nfor i in range(10):\n    if i == 3:\n        return f(i)\n"
              "return 'unreached'\n")
    assert py(engine, source).result == 6
    try_source = "try:\n    return 'from try'\nexcept Exception:\n    return 'caught'\nfinally:\n    log('finally')\n"
    result = py(engine, try_source)
    assert result.result == "from try" and result.logs == ["finally"]


def test_standard_library(engine):
    source = """
import json, re, datetime, decimal, hashlib, collections, itertools, math, statistics
return {
    "re": re.sub(r"\\d+", "#", "a1b22"),
    "date": datetime.date(2024, 2, 29).isoformat(),
    "dec": str(decimal.Decimal("0.1") + decimal.Decimal("0.2")),
    "sha": hashlib.sha256(b"abc").hexdigest()[:8],
    "count": collections.Counter("banana").most_common(1)[0][0],
    "pairs": list(itertools.combinations([1, 2, 3], 2)),
    "mean": statistics.mean([1, 2, 3, 4]),
}
"""
    result = py(engine, source)
    assert result.result == {"re": "a#b#", "date": "2024-02-29", "dec": "0.3", "sha": "ba7816bf", "count": "a",
                             "pairs": [[1, 2], [1, 3], [2, 3]], "mean": 2.5}


def test_host_files_network_environment_are_absent(engine):
    files = py(engine, "open('/etc/passwd').read()")
    assert files.error.type == "FunctionError" and "/etc/passwd" in files.error.message
    listing = py(engine, "import os\nreturn os.listdir('/')")
    assert not listing.ok or "etc" not in listing.result
    env = py(engine, "import os\nreturn {'env': dict(os.environ)}")
    assert env.result == {"env": {}}
    with socket.socket() as server:  # a real listener on the host: the guest still cannot reach it
        server.bind(("127.0.0.1", 0))
        server.listen()
        port = server.getsockname()[1]
        for target in ("'127.0.0.1'", "'localhost'"):
            net = py(engine, f"import socket\ntry:\n    socket.create_connection(({target}, {port}), timeout=1)\n"
                             "except OSError as exc:\n    return type(exc).__name__\nreturn 'connected'")
            assert net.ok and net.result != "connected", net
    for spawn in ("import subprocess\nsubprocess.run(['ls'])", "import os\nos.system('ls')",
                  "import os\nos.execv('/bin/ls', ['ls'])"):
        spawned = py(engine, spawn)
        assert not spawned.ok and spawned.error.type == "FunctionError", spawned


def test_syntax_error_message_and_line(engine):
    result = py(engine, "x = 1\ny = (2,\nreturn x\n")
    assert result.error.type == "FunctionError"
    assert result.error.message.startswith("SyntaxError")
    assert "line 2" in result.error.message or "line 3" in result.error.message
    assert any("SyntaxError" in line for line in result.logs)


def test_exception_with_traceback(engine):
    result = py(engine, "def inner():\n    raise ValueError('bad value')\ninner()\n")
    assert result.error.message == "ValueError: bad value"
    assert 'File "handler.py", line 2, in inner' in result.error.detail
    assert "raise ValueError('bad value')" in result.error.detail
    assert "<string>" not in result.error.detail  # prelude frames are hidden
    assert result.result is None


def test_unserialisable_return_values(engine):
    for source in ("return {1, 2}", "return (x for x in range(3))"):
        result = py(engine, source)
        assert result.error.type == "FunctionError"
        assert result.error.message.startswith("TypeError: Object of type")
        assert "not JSON serializable" in result.error.message


def test_none_under_output_json_true_is_invalid_output(engine):
    result = py(engine, "return None", output_json="true")
    assert result.error.type == "InvalidOutput"


def test_sys_exit(engine):
    result = py(engine, "import sys\nprint('before')\nsys.exit(3)\n")
    assert result.error.type == "FunctionError"
    assert result.error.message == "exited with code 3"
    ok = py(engine, "import sys\nsys.exit(0)")
    assert ok.ok


def test_infinite_loop_and_sleep_time_out(engine):
    loop = py(engine, "while True: pass", timeout="500ms")
    assert loop.error.type == "Timeout" and loop.error.message == "timed out after 500ms"
    sleep = py(engine, "import time\ntime.sleep(30)", timeout="500ms")
    assert sleep.error.type == "Timeout"
    assert sleep.stats.duration_ms < 5000
    short = py(engine, "import time\ntime.sleep(0.05)\nreturn 'awake'", timeout="5s")
    assert short.result == "awake"


def test_memory_bomb(engine):
    result = py(engine, "a = []\nwhile True: a.append('x' * 100000)\n", memory="64MiB")
    assert result.error.type == "MemoryLimit"
    assert result.error.message == "memory limit of 64MiB exceeded"


def test_fuel_limit(engine):
    result = py(engine, "while True: pass", fuel="50000000")
    assert result.error.type == "FuelExhausted"


def test_recursion_limit(engine):
    result = py(engine, "def f(n):\n    return f(n + 1)\nf(0)\n")
    assert result.error.type == "FunctionError"
    assert "RecursionError" in result.error.message


def test_output_flood(engine):
    result = py(engine, "while True: print('y' * 1000)", max_output="100KiB")
    assert result.error.type == "OutputLimit"
    assert len(result.output) == 100 * 1024


def test_one_mebibyte_input_and_utf8(engine):
    big = "ü" * (512 * 1024)
    result = py(engine, "log('ünï ✓')\nreturn {'n': len(inputData['s']), 'echo': inputData['t']}",
                {"s": big, "t": "日本語 🚀"})
    assert result.result == {"n": len(big), "echo": "日本語 🚀"}
    assert result.logs == ["ünï ✓"]


def test_text_input_is_a_string(engine):
    assert py(engine, "return inputData.upper()", "shout").result == "SHOUT"


def test_runs_after_failures_still_work(engine):
    for source, limits in [("while True: pass", {"timeout": "300ms"}),
                           ("a = []\nwhile True: a.append('x' * 10**6)", {"memory": "48MiB"}),
                           ("raise SystemExit(9)", {}), ("1/0", {})]:
        assert not py(engine, source, **limits).ok
        after = py(engine, "return inputData['n'] + 1", {"n": 1})
        assert after.ok and after.result == 2


def full(engine, source, input=None):
    """The fuller CPython 3.12 build, reachable as ``--runtime python-full``."""
    from faasctl.engine import artifact_from_bytes
    from faasctl.inputs import FunctionInput

    return engine.run(artifact_from_bytes("handler.py", source.encode()), FunctionInput.of(input or {}),
                      runtime="python-full")


def test_python_full_has_the_modules_the_component_lacks(engine):
    result = full(engine, "import bz2, sys\nreturn [bz2.decompress(bz2.compress(b'ok')).decode(), sys.version[:4]]")
    assert result.result == ["ok", "3.12"], result.error
    shared = full(engine, "log('log')\nprint('print\\n', end='')\nreturn 'result'\n")  # the same prelude
    assert shared.output == b"print\nresult" and shared.logs == ["log"]


def test_mapped_standard_library_is_read_only(engine):
    result = full(engine, "open('/stdlib/json/__init__.pyc', 'wb').write(b'x')")
    assert result.error.type == "FunctionError"
    assert "Error" in result.error.message
    assert full(engine, "import json\nreturn json.dumps([1])").result == [1]


def test_damaged_guest_setup_is_redone(engine, tmp_path):
    full(engine, "return 1")
    home = tmp_path / "home"
    shutil.copytree(engine.settings.cache_dir, home / "cache")
    (guest,) = (home / "cache" / "guests").glob("python-*")
    for prelude in guest.glob("prelude-*.json"):
        prelude.write_text(prelude.read_text().replace('"code": "', '"code": "AAAA'))
    (guest / "stdlib" / ".faasctl-complete").unlink()
    (guest / "stdlib" / "json").rename(guest / "stdlib" / "json-moved")
    result = full(make_engine(home), "import json\nreturn json.dumps({'again': True})")
    assert result.result == {"again": True}, result.error
    assert (guest / "stdlib" / ".faasctl-complete").is_file()
