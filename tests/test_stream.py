"""``faasctl run --ndjson``: one input per line in, one envelope per line out, in order, bounded memory."""

from __future__ import annotations

import io
import json

from conftest import EXAMPLES, run_cli

from faasctl.stream import StreamOptions, read_records, run_stream

HELLO_JS = str(EXAMPLES / "hello.js")


def envelopes(stdout: str) -> list[dict]:
    return [json.loads(line) for line in stdout.splitlines()]


def test_records_in_order_with_bad_lines_and_failures_reported_in_place(tmp_path):
    script = tmp_path / "half.js"
    script.write_text("if ($.n === 3) throw new Error('three'); log('n', $.n); return $.n / 2")
    stdin = '{"n": 1}\n\n{"n": 2}\nnot json\n{"n": 3}\n{"n": 4}'  # a blank line is skipped; no final newline
    out = run_cli("run", str(script), "--ndjson", input=stdin)
    assert out.code == 1, out.stderr
    lines = envelopes(out.stdout)
    assert [e["ok"] for e in lines] == [True, True, False, False, True]
    assert [e["result"] for e in lines] == [0.5, 1, None, None, 2]
    assert lines[0]["logs"] == ["n 1"] and lines[0]["runtime"] == "js" and lines[0]["function"] == "half.js"
    assert lines[2]["error"]["type"] == "InputError" and "line 4" in lines[2]["error"]["message"]
    assert lines[3]["error"]["type"] == "FunctionError" and "three" in lines[3]["error"]["message"]
    assert out.stderr == ""  # logs travel in the envelopes


def test_all_good_exits_zero_and_reads_a_file(tmp_path):
    records = tmp_path / "in.ndjson"
    records.write_text("".join(json.dumps({"name": f"p{i}"}) + "\n" for i in range(5)))
    out = run_cli("run", HELLO_JS, "--ndjson", "-i", str(records))
    assert out.code == 0, out.stderr
    assert [e["result"]["greeting"] for e in envelopes(out.stdout)] == [f"Hello, p{i}!" for i in range(5)]


def test_concurrent_records_keep_input_order(tmp_path):
    script = tmp_path / "slow.js"
    script.write_text("let x = 0; for (let i = 0; i < $.spin; i++) x += i; return $.id")
    spins = [400000, 1, 200000, 1, 300000, 1, 1, 100000]
    stdin = "".join(json.dumps({"id": i, "spin": s}) + "\n" for i, s in enumerate(spins))
    out = run_cli("run", str(script), "--ndjson", "-j", "3", input=stdin)
    assert out.code == 0, out.stderr
    assert [e["result"] for e in envelopes(out.stdout)] == list(range(len(spins)))


def test_python_and_lua_streams_with_text_and_params(tmp_path):
    upper = tmp_path / "upper.py"
    upper.write_text("return inputData.upper()")
    out = run_cli("run", str(upper), "--ndjson", "--text", input="ab\ncé\n")
    assert [e["result"] for e in envelopes(out.stdout)] == ["AB", "CÉ"], out.stderr
    lua = tmp_path / "add.lua"
    lua.write_text("function main(args) return args.a + args.b end")
    out = run_cli("run", str(lua), "--ndjson", "-p", "b=10", input='{"a": 1}\n{"a": 2}\n[3]\n')
    lines = envelopes(out.stdout)
    assert [e["result"] for e in lines[:2]] == [11, 12]
    assert lines[2]["error"]["type"] == "InputError" and "line 3" in lines[2]["error"]["message"]


def test_usage_errors(tmp_path):
    assert run_cli("run", HELLO_JS, "--ndjson", "-d", "{}").code == 2
    assert run_cli("run", HELLO_JS, "--ndjson", "-i", str(tmp_path / "missing.ndjson")).code == 2
    assert run_cli("run", HELLO_JS, "-j", "2").code == 2
    assert run_cli("run", HELLO_JS, "--ndjson", "-j", "0", input="{}\n").code == 2
    out = run_cli("run", "-", "--runtime", "js", "--ndjson", input="return 1")
    assert out.code == 2 and "--ndjson" in out.stderr
    out = run_cli("run", str(tmp_path / "gone.js"), "--ndjson", input="{}\n")
    assert out.code == 2 and out.stdout == ""


class CountingLines(io.RawIOBase):
    """An endless-looking stream that counts how many records were read."""

    def __init__(self, count: int) -> None:
        self.count = count
        self.read_lines = 0

    def readline(self, size: int = -1) -> bytes:
        if self.read_lines >= self.count:
            return b""
        self.read_lines += 1
        return json.dumps({"n": self.read_lines}).encode() + b"\n"


def test_memory_is_bounded_by_the_jobs_not_the_stream(engine):
    from faasctl.engine import artifact_from_bytes

    artifact = artifact_from_bytes("id.js", b"return $.n")
    stream = CountingLines(40)
    ahead: list[int] = []
    results: list[int] = []

    def emit(envelope: dict) -> None:
        results.append(envelope["result"])
        ahead.append(stream.read_lines - len(results))

    summary = run_stream(engine, artifact, stream, emit, StreamOptions(jobs=3))  # type: ignore[arg-type]
    assert summary.records == 40 and summary.failed == 0
    assert results == list(range(1, 41))
    assert max(ahead) <= 2 * 3


def test_overlong_lines_are_input_errors_read_past_in_chunks():
    data = b'{"a": 1}\n' + b"x" * 5000 + b"\n" + b'{"b": 2}\n'
    records = list(read_records(io.BytesIO(data), max_line=100))
    assert [(n, line) for n, line in records] == [(1, b'{"a": 1}\n'), (2, None), (3, b'{"b": 2}\n')]
