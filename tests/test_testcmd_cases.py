"""Case files: validation with file:line errors, and the pure checks (exact, subset, regex, paths, stats)."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from faasctl.result import Result, RunError, Stats
from faasctl.testing.cases import CaseFileError, discover, load_file
from faasctl.testing.checks import check, json_equal, parse_bound, parse_json_path, subset_mismatch


def write(directory: Path, name: str, text: str) -> Path:
    path = directory / name
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def load(tmp_path: Path, text: str) -> list:
    (tmp_path / "f.js").write_text("return $;", encoding="utf-8")
    write(tmp_path, "t.faas.yaml", text)
    return load_file(Path("t.faas.yaml"), tmp_path)


def load_error(tmp_path: Path, text: str) -> str:
    with pytest.raises(CaseFileError) as info:
        load(tmp_path, text)
    return info.value.one_line()


def test_valid_file_merges_defaults_and_resolves_targets(tmp_path: Path) -> None:
    write(tmp_path, "event.json", '{"a": 1, "b": 2}')
    cases = load(tmp_path, """\
        defaults: {timeout: 2s, memory: 64MiB, params: {x: 1}}
        cases:
          - name: from file
            target: f.js
            input_file: event.json
            params: {b: 3}
            fuel: 1_000_000
            expect: {result: {a: 1, b: 3, x: 1}}
          - name: text
            target: f.js
            text: hello
            params: null
            expect: {result_regex: "^hel"}
        """)
    first, second = cases
    assert first.target == str(tmp_path / "f.js")
    assert first.input == {"a": 1, "b": 3, "x": 1}
    assert first.options["timeout"] == "2s" and first.options["memory"] == "64MiB"
    assert first.line == 3
    assert second.input == "hello" and second.text


@pytest.mark.parametrize(("text", "expected"), [
    ("cases: []\n", "t.faas.yaml:1: 'cases' must be a non-empty list"),
    ("cases:\n  - name: a\n    target: f.js\n    expct: {result: 1}\n", "t.faas.yaml:4: case 1: unknown key 'expct' "
                                                                         "(did you mean 'expect'?)"),
    ("cases:\n  - name: a\n    target: nope.js\n", "t.faas.yaml:3: case 'a': target 'nope.js' not found"),
    ("cases:\n  - name: a\n    target: f.js\n    timeout: 2 parsecs\n", "t.faas.yaml:4: case 'a': timeout: invalid"),
    ("cases:\n  - name: a\n    target: f.js\n    expect:\n      stats: {fuel_used: 5}\n",
     "t.faas.yaml:5: case 'a': stats.fuel_used: expected a comparison"),
    ("cases:\n  - name: a\n    target: f.js\n    expect:\n      stats: {fuel: '< 5'}\n",
     "t.faas.yaml:5: case 'a': stats: unknown key 'fuel' (did you mean 'fuel_used'?)"),
    ("cases:\n  - name: a\n    target: f.js\n    expect: {error: Timout}\n",
     "t.faas.yaml:4: case 'a': unknown error type 'Timout' (did you mean 'Timeout'?)"),
    ("cases:\n  - name: a\n    target: f.js\n  - name: a\n    target: f.js\n",
     "t.faas.yaml:4: duplicate case name 'a' (first at line 2)"),
    ("cases:\n  - name: a\n    target: f.js\n    input: {}\n    text: x\n",
     "t.faas.yaml:5: case 'a': give one of input, input_file or text, not input and text"),
    ("cases:\n  - name: a\n    target: f.js\n    expect: {result_regex: '('}\n",
     "t.faas.yaml:4: case 'a': invalid result_regex"),
    ("cases:\n  - name: a\n    target: f.js\n    input: [1]\n    params: {a: 1}\n",
     "t.faas.yaml:5: case 'a': 'params' needs an object input"),
    ("cases:\n  - name: a\n    target: f.js\n    input_file: missing.json\n",
     "t.faas.yaml:4: case 'a': input file 'missing.json' not found"),
    ("cases:\n  - name: a\n    target: f.js\n    expect: {result_path: {'$.a[x]': 1}}\n",
     "t.faas.yaml:4: case 'a': invalid JSON path"),
    ("cases:\n  - name: a\n    target: f.js\n    expect: {error: Timeout, result: 1}\n",
     "t.faas.yaml:4: case 'a': a case expecting an error has no result to check"),
    ("cases:\n  - name: a\n    target: f.js\n    name: b\n", "t.faas.yaml:4: duplicate key 'name'"),
    ("cases:\n  - name: a\n   target: f.js\n", "t.faas.yaml:3: invalid YAML"),
    ("cases:\n  - name: a\n    target: f.js\n    input: 2024-01-01\n", "t.faas.yaml:4: case 'a': input is not JSON"),
    ("- just a list\n", "t.faas.yaml:1: expected a mapping"),
    ("", "t.faas.yaml:1: empty case file"),
    ("cases:\n  - name: ''\n    target: f.js\n", "t.faas.yaml:2: case 1: 'name' must be a non-empty string"),
    ("cases:\n  - name: a\n    target: f.js\n    args: {a: 1}\n", "t.faas.yaml:4: case 'a': 'args' must be a list"),
])
def test_invalid_files_name_file_line_and_problem(tmp_path: Path, text: str, expected: str) -> None:
    assert load_error(tmp_path, text).startswith(expected)


def test_discover_walks_directories_and_skips_hidden_and_venvs(tmp_path: Path) -> None:
    for rel in ("a.faas.yaml", "sub/b.faas.yaml", ".venv/c.faas.yaml", "node_modules/d.faas.yaml", "e.yaml"):
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text("cases: []\n")
    assert discover([], tmp_path) == [Path("a.faas.yaml"), Path("sub/b.faas.yaml")]
    assert discover(["sub"], tmp_path) == [Path("sub/b.faas.yaml")]
    with pytest.raises(Exception, match="no such file or directory: nope"):
        discover(["nope"], tmp_path)
    (tmp_path / "empty").mkdir()
    with pytest.raises(Exception, match="no .faas.yaml files found under empty"):
        discover(["empty"], tmp_path)


def test_json_equal_keeps_json_types_apart() -> None:
    assert json_equal(1, 1.0)
    assert not json_equal(True, 1)
    assert not json_equal("1", 1)
    assert not json_equal(None, False)
    assert json_equal({"a": [1, {"b": None}]}, {"a": [1.0, {"b": None}]})
    assert not json_equal([1, 2], [1, 2, 3])


def test_subset_reports_where_it_differs() -> None:
    actual = {"user": {"id": 7, "tags": ["a", "b"]}, "extra": True}
    assert subset_mismatch({"user": {"id": 7}}, actual) is None
    assert subset_mismatch({"user": {"tags": ["a", "b"]}}, actual) is None
    assert subset_mismatch({"user": {"id": 8}}, actual) == "$.user.id: expected 8, got 7"
    assert subset_mismatch({"user": {"name": "x"}}, actual) == "$.user.name: missing"
    assert subset_mismatch({"user": {"tags": ["a"]}}, actual).startswith("$.user.tags: expected a list of 1")


def test_json_paths() -> None:
    assert parse_json_path("$.user.tags[0]") == ("user", "tags", 0)
    assert parse_json_path("user.name") == ("user", "name")
    assert parse_json_path("$['odd key'][-1]") == ("odd key", -1)
    assert parse_json_path("$") == ()
    with pytest.raises(ValueError):
        parse_json_path("$.a[b]")


def test_stat_bounds_units() -> None:
    assert parse_bound("memory_peak_bytes", "< 16MiB").value == 16 * 1024**2
    assert parse_bound("duration_ms", "< 50").value == 50
    assert parse_bound("duration_ms", "<= 2s").value == 2000
    assert parse_bound("fuel_used", ">= 5_000_000").value == 5_000_000
    assert parse_bound("fuel_used", "< 10").holds(9) and not parse_bound("fuel_used", "< 10").holds(10)
    for bad in ("5", "<", "~ 5", "< lots"):
        with pytest.raises(ValueError):
            parse_bound("fuel_used", bad)


def result(value=None, error=None, logs=(), fuel=100) -> Result:
    return Result(runtime="js", function="f.js", stats=Stats(duration_ms=3.0, fuel_used=fuel, memory_peak_bytes=1024),
                  result=value, logs=list(logs), error=error)


def expect_of(tmp_path: Path, expect: str):
    return load(tmp_path, f"cases:\n  - name: a\n    target: f.js\n    expect: {expect}\n")[0].expect


def test_check_outcomes(tmp_path: Path) -> None:
    exact = expect_of(tmp_path, "{result: {n: 42}}")
    assert check(exact, result({"n": 42})) == []
    failures = check(exact, result({"n": 41}))
    assert failures[0].message == "result differs" and '"n": 42' in failures[0].expected
    assert check(exact, result(error=RunError("Trap", "boom")))[0].message == "run failed: Trap: boom"

    error = expect_of(tmp_path, "{error: Timeout, error_contains: '2s'}")
    assert check(error, result(error=RunError("Timeout", "timed out after 2s"))) == []
    assert "expected error Timeout, got Trap" in check(error, result(error=RunError("Trap", "x")))[0].message
    assert "but the run succeeded" in check(error, result(5))[0].message

    logs = expect_of(tmp_path, "{logs_contain: [computed, done]}")
    assert check(logs, result(logs=["computed 42", "done"])) == []
    assert "'done'" in check(logs, result(logs=["computed"]))[0].message

    stats = expect_of(tmp_path, "{stats: {fuel_used: '< 50', duration_ms: '< 1s'}}")
    assert [f.message for f in check(stats, result(fuel=60))] == ["stats.fuel_used = 60, expected < 50"]
    assert "not measured" in check(stats, result(fuel=None))[0].message

    path = expect_of(tmp_path, "{result_path: {'$.items[1].id': 2}}")
    assert check(path, result({"items": [{"id": 1}, {"id": 2}]})) == []
    assert "has no $.items[1].id" in check(path, result({"items": []}))[0].message

    regex = expect_of(tmp_path, "{result_regex: '^\\{\"a\":1\\}$'}")
    assert check(regex, result({"a": 1})) == []


def test_hostile_yaml_is_rejected_cleanly(tmp_path: Path) -> None:
    bomb = ["cases:", "  - name: bomb", "    target: f.js", "    input:", "      l0: &l0 [1,1,1,1,1,1,1,1,1,1]"]
    bomb += [f"      l{i}: &l{i} [{','.join([f'*l{i - 1}'] * 10)}]" for i in range(1, 9)]
    assert "more than 1,000,000 values once YAML aliases are expanded" in load_error(tmp_path, "\n".join(bomb))
    assert "recursive" in load_error(tmp_path, "cases:\n  - name: loop\n    target: f.js\n    input: &x {a: *x}\n")
    deep = "cases:\n  - name: deep\n    target: f.js\n    input: " + "[" * 3000 + "]" * 3000 + "\n"
    assert load_error(tmp_path, deep) == "t.faas.yaml: nested too deeply"
    (tmp_path / "t.faas.yaml").write_bytes(b"cases: \xff\n")
    with pytest.raises(CaseFileError, match="not valid UTF-8"):
        load_file(Path("t.faas.yaml"), tmp_path)


def test_aliases_within_the_budget_are_fine(tmp_path: Path) -> None:
    cases = load(tmp_path, """\
        cases:
          - name: a
            target: f.js
            input: &shared {user: {id: 7}}
            expect: {result: *shared}
        """)
    assert cases[0].expect.result == {"user": {"id": 7}}


def test_merge_keys_override_without_being_duplicates(tmp_path: Path) -> None:
    # YAML merge semantics: a key written in the mapping overrides the one <<: brings in
    cases = load(tmp_path, """\
        cases:
          - &base {name: a, target: f.js, input: {n: 1}, expect: {result: {n: 1}}}
          - <<: *base
            name: b
            input: {n: 2}
            expect: {result: {n: 2}}
          - <<: [*base, {name: ignored, input: {n: 9}, timeout: 1s}]
            name: c
        """)
    assert [(c.name, c.input) for c in cases] == [("a", {"n": 1}), ("b", {"n": 2}), ("c", {"n": 1})]
    assert cases[1].expect.result == {"n": 2} and cases[2].expect.result == {"n": 1}
    # a key written twice in the mapping itself is still a duplicate, merge or not
    assert load_error(tmp_path, "cases:\n  - &b {name: a, target: f.js}\n  - {<<: *b, name: c, name: d}\n") \
        == "t.faas.yaml:3: duplicate key 'name'"
