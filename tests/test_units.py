"""Pure parts: limits parsing, the output parser, the input model, the error table."""

from __future__ import annotations

import pytest

from faasctl.errors import ERROR_TABLE, InputError, UsageError, exit_code_for
from faasctl.inputs import build_input, parse_param
from faasctl.limits import Limits, format_duration, format_size, parse_duration, parse_fuel, parse_size
from faasctl.output import output_mode, parse_output


@pytest.mark.parametrize(("text", "seconds"), [("250ms", 0.25), ("2s", 2), ("1m", 60), ("1.5h", 5400), ("3", 3)])
def test_parse_duration(text, seconds):
    assert parse_duration(text) == pytest.approx(seconds)


@pytest.mark.parametrize("text", ["", "abc", "-1s", "0", "5 parsecs", "1e3s"])
def test_parse_duration_rejects(text):
    with pytest.raises(UsageError):
        parse_duration(text)


@pytest.mark.parametrize(("text", "size"), [("64MiB", 64 << 20), ("512k", 512 << 10), ("1GB", 10**9), ("100", 100)])
def test_parse_size(text, size):
    assert parse_size(text) == size


@pytest.mark.parametrize("text", ["lots", "-5MiB", "0", "12 furlongs"])
def test_parse_size_rejects(text):
    with pytest.raises(UsageError):
        parse_size(text)


def test_parse_fuel():
    assert parse_fuel("1_000_000") == 1_000_000
    assert parse_fuel(None) is None
    with pytest.raises(UsageError):
        parse_fuel("many")


def test_formats_echo_what_users_type():
    assert [format_duration(s) for s in (0.5, 2, 60, 0.25)] == ["500ms", "2s", "1m", "250ms"]
    assert [format_size(n) for n in (64 << 20, 512 << 10, 1 << 30, 1000)] == ["64MiB", "512KiB", "1GiB", "1000B"]


def test_limits_merge_and_clamp():
    limits = Limits().merged(timeout="2s", memory=None, fuel="10")
    assert (limits.timeout, limits.memory, limits.fuel) == (2.0, 256 << 20, 10)
    clamped = Limits(timeout=60, memory=1 << 30, fuel=None).clamped(Limits(timeout=5, memory=64 << 20, fuel=100))
    assert (clamped.timeout, clamped.memory, clamped.fuel) == (5, 64 << 20, 100)
    with pytest.raises(UsageError):
        Limits().merged(walltime="1s")


@pytest.mark.parametrize(("value", "mode"), [(True, "true"), ("true", "true"), (False, "false"), ("false", "false"),
                                             ("", "auto"), (None, "auto"), ("yes", "auto"), ("auto", "auto")])
def test_output_mode(value, mode):
    assert output_mode(value) == mode


def test_output_parser_modes():
    assert parse_output(b"42", "auto").result == 42
    assert parse_output(b"hello", "auto").result == "hello"
    assert parse_output(b"hello", "auto").output_type == "text"
    assert parse_output(b'{"a":1}', "false").result == '{"a":1}'
    assert parse_output(b'{"a":1}', "true").result == {"a": 1}
    assert parse_output(b"print\nresult", "auto").result == "print\nresult"
    assert parse_output(b"", "auto").result is None
    assert parse_output(b"", "auto").output_type is None
    assert "not JSON" in parse_output(b"hello", "true").error
    assert parse_output(b"", "true").error
    assert parse_output(b"NaN", "auto").output_type == "text"  # Python's NaN extension is not JSON
    assert "UTF-8" in parse_output(b"\xff\xfe", "auto").error


def test_input_sources_and_params():
    assert build_input().value == {}
    assert build_input(data='{"a": 1}', params=["b=2", "c=x", "d=[1,2]"]).value == {"a": 1, "b": 2, "c": "x",
                                                                                     "d": [1, 2]}
    assert build_input(stdin_bytes=b"  \n").value == {}  # empty stdin is no input
    assert build_input(stdin_bytes=b"[1]").value == [1]
    assert build_input(data="plain words", text=True).value == "plain words"
    assert build_input(text=True).value == ""
    assert build_input(file_bytes="{\"é\": \"ü\"}".encode(), file_name="x.json").value == {"é": "ü"}


def test_invalid_json_input_names_source_line_column():
    with pytest.raises(InputError) as info:
        build_input(data='{"a": 1,\n "b": }')
    assert "--data" in info.value.message and "line 2 column 7" in info.value.message
    assert "--text" in info.value.one_line()
    with pytest.raises(InputError) as info:
        build_input(file_bytes=b"{oops", file_name="event.json")
    assert "event.json" in info.value.message and "line 1 column 2" in info.value.message


def test_param_errors():
    with pytest.raises(UsageError):
        parse_param("novalue")
    with pytest.raises(UsageError):
        build_input(data="[1, 2]", params=["a=1"])
    with pytest.raises(UsageError):
        build_input(data="x", text=True, params=["a=1"])
    with pytest.raises(UsageError):
        build_input(file_bytes=b"{}", data="{}")


def test_error_table_matches_spec():
    expected = {"FunctionError": 1, "Trap": 1, "InvalidOutput": 1, "UsageError": 2, "InputError": 2, "Timeout": 3,
                "MemoryLimit": 4, "FuelExhausted": 5, "OutputLimit": 6, "ArtifactError": 7, "InternalError": 70}
    assert {k: exit_code_for(k) for k in expected} == expected
    assert set(expected) <= set(ERROR_TABLE)
    assert exit_code_for("SomethingNew") == 70
