"""``faasctl test`` end to end: the installed command on real case files, real runtimes, real exit codes."""

from __future__ import annotations

import io
import textwrap
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from conftest import EXAMPLES, ROOT, run_cli

SUITE = """\
defaults: {timeout: 5s}
cases:
  - name: doubles
    target: double.js
    input: {n: 21}
    expect:
      result: 42
      logs_contain: [computed]
      stats: {fuel_used: "< 500000000", memory_peak_bytes: "< 64MiB", duration_ms: "< 10s"}
  - name: runaway is stopped
    target: spin.js
    timeout: 300ms
    expect: {error: Timeout, error_contains: "300ms"}
  - name: params and subset
    target: echo.js
    params: {user: {id: 7, name: Ada}}
    expect:
      result_subset: {user: {id: 7}}
      result_path: {$.user.name: Ada}
"""


@pytest.fixture
def suite(tmp_path: Path) -> Path:
    (tmp_path / "double.js").write_text("log('computed', $.n * 2); return $.n * 2;", encoding="utf-8")
    (tmp_path / "spin.js").write_text("while (true) {}", encoding="utf-8")
    (tmp_path / "echo.js").write_text("log('\\u0001 control'); return $;", encoding="utf-8")
    (tmp_path / "ok.faas.yaml").write_text(SUITE, encoding="utf-8")
    return tmp_path


def test_passing_suite_exits_0_with_plain_lines(suite: Path) -> None:
    result = run_cli("test", cwd=suite)
    assert result.code == 0, result.stdout + result.stderr
    lines = result.stdout.splitlines()
    assert [line.split(" (")[0] for line in lines[:3]] == [
        "PASS ok.faas.yaml::doubles", "PASS ok.faas.yaml::runaway is stopped", "PASS ok.faas.yaml::params and subset"]
    assert lines[-1].startswith("3 passed in ")
    assert "\033[" not in result.stdout  # piped: no colour


def test_failure_exits_1_with_diff_and_junit(suite: Path) -> None:
    (suite / "bad.faas.yaml").write_text(textwrap.dedent("""\
        cases:
          - name: wrong answer
            target: double.js
            input: {n: 2}
            expect: {result: 5}
          - name: unexpected timeout
            target: spin.js
            timeout: 200ms
            expect: {result: 1}
        """), encoding="utf-8")
    report = suite / "junit.xml"
    result = run_cli("test", "-j", "2", "--junit", str(report), cwd=suite)
    assert result.code == 1
    out = result.stdout
    assert "FAIL bad.faas.yaml::wrong answer" in out
    assert "      -5\n      +4\n" in out  # the diff, expected versus actual
    assert "run failed: Timeout: timed out after 200ms" in out
    assert out.splitlines()[-1].startswith("3 passed, 2 failed")
    root = ET.parse(report).getroot()
    assert root.get("tests") == "5" and root.get("failures") == "2"
    cases = {c.get("name"): c for c in root.iter("testcase")}
    assert set(cases) == {"doubles", "runaway is stopped", "params and subset", "wrong answer",
                          "unexpected timeout"}
    assert cases["wrong answer"].find("failure").get("message") == "result differs"
    assert cases["unexpected timeout"].find("failure").get("type") == "Timeout"
    assert cases["doubles"].find("failure") is None
    # a control character logged by the guest still gives well-formed XML
    assert "control" in cases["params and subset"].find("system-err").text


def test_invalid_file_exits_2_naming_file_and_line_and_runs_nothing(suite: Path) -> None:
    (suite / "broken.faas.yaml").write_text("cases:\n  - name: x\n    target: double.js\n    expect:\n"
                                            "      reslt: 1\n", encoding="utf-8")
    result = run_cli("test", cwd=suite)
    assert result.code == 2
    assert result.stdout == ""
    assert "broken.faas.yaml:5: case 'x': expect: unknown key 'reslt' (did you mean 'result'?)" in result.stderr
    assert "Traceback" not in result.stderr


def test_unknown_runtime_in_a_case_is_an_invalid_file(suite: Path) -> None:
    (suite / "rt.faas.yaml").write_text("cases:\n  - name: x\n    target: double.js\n    runtime: jss\n",
                                        encoding="utf-8")
    result = run_cli("test", "rt.faas.yaml", cwd=suite)
    assert result.code == 2
    assert "rt.faas.yaml:2: case 'x': unknown runtime 'jss' (known runtimes: js" in result.stderr


def test_no_case_files_is_a_usage_error(tmp_path: Path) -> None:
    result = run_cli("test", cwd=tmp_path)
    assert result.code == 2
    assert "no .faas.yaml files found under the current directory" in result.stderr


def test_filter_and_list(suite: Path) -> None:
    listed = run_cli("test", "--list", cwd=suite)
    assert listed.code == 0 and len(listed.stdout.splitlines()) == 3
    picked = run_cli("test", "-k", "DOUBLES", cwd=suite)
    assert picked.code == 0 and picked.stdout.splitlines()[-1].startswith("1 passed")
    assert run_cli("test", "-k", "nothing", cwd=suite).code == 2


def test_input_file_and_text_cases_relative_to_the_case_file(tmp_path: Path) -> None:
    sub = tmp_path / "fn"
    sub.mkdir()
    (sub / "upper.js").write_text("return typeof $ === 'string' ? $.toUpperCase() : $.word;", encoding="utf-8")
    (sub / "event.json").write_text('{"word": "from file"}', encoding="utf-8")
    (sub / "u.faas.yaml").write_text(textwrap.dedent("""\
        cases:
          - name: text
            target: upper.js
            text: shout
            expect: {result: SHOUT}
          - name: file
            target: upper.js
            input_file: event.json
            expect: {result: from file}
        """), encoding="utf-8")
    result = run_cli("test", cwd=tmp_path)  # cwd is not the case file's directory
    assert result.code == 0, result.stdout


def test_examples_suite_passes() -> None:
    result = run_cli("test", "examples", cwd=ROOT)
    assert result.code == 0, result.stdout + result.stderr
    assert len(list(EXAMPLES.glob("*.faas.yaml"))) >= 1


def test_rich_reporter_shows_a_coloured_diff(suite: Path) -> None:
    from faasctl.testing.cases import load_file
    from faasctl.testing.checks import Failure
    from faasctl.testing.report import RichReporter
    from faasctl.testing.runner import CaseOutcome

    case = load_file(Path("ok.faas.yaml"), suite)[0]
    stream = io.StringIO()
    reporter = RichReporter(stream)
    outcome = CaseOutcome(case, "failed", [Failure("result differs", "42", "41")])
    reporter.case_done(outcome)
    reporter.finish([outcome], 0.5)
    text = stream.getvalue()
    assert "✗ doubles" in text and "FAIL ok.faas.yaml::doubles:3" in text
    assert "-42" in text and "+41" in text
    assert "0 passed, 1 failed in 0.50s" in text


def test_runner_shares_one_engine_across_parallel_cases(suite: Path, engine) -> None:
    from faasctl.testing.cases import load_file
    from faasctl.testing.runner import run_cases

    cases = load_file(Path("ok.faas.yaml"), suite) * 3
    seen = []
    outcomes = run_cases(engine, cases, jobs=3, on_done=seen.append)
    assert [o.status for o in outcomes] == ["passed"] * 9
    assert [o.case for o in seen] == cases  # reported in case order even when run in parallel


@pytest.mark.parametrize("target", ["", "missing-dir/report.xml", "."])
def test_unwritable_junit_path_is_refused_before_any_case_runs(suite: Path, target: str) -> None:
    result = run_cli("test", "--junit", target, cwd=suite)
    assert result.code == 2
    assert "cannot write JUnit report" in result.stderr
    assert "passed" not in result.stdout  # nothing ran
