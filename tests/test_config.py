"""The config file: where it is found, what it holds, how bad files are reported, and that CLI options win."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from conftest import ROOT, run_cli

from faasctl.config import find_project_config, load_config
from faasctl.errors import UsageError
from faasctl.paths import StateDirs


def dirs_in(tmp_path: Path) -> StateDirs:
    return StateDirs(cache=tmp_path / "home/cache", data=tmp_path / "home/data", config=tmp_path / "home/config")


def test_no_config_file_is_empty(tmp_path: Path) -> None:
    (tmp_path / ".git").mkdir()
    assert load_config(None, dirs_in(tmp_path), str(tmp_path)) == {}


def test_no_config_file_does_not_import_yaml(tmp_path: Path) -> None:
    (tmp_path / ".git").mkdir()
    code = ("import sys; from faasctl.config import load_config; from faasctl.paths import StateDirs; "
            "from pathlib import Path; p = Path(sys.argv[1]); "
            "assert load_config(None, StateDirs(p / 'c', p / 'd', p / 'cfg'), str(p)) == {}; "
            "assert 'yaml' not in sys.modules, 'yaml imported'")
    subprocess.run([sys.executable, "-c", code, str(tmp_path)], check=True)


def test_project_file_found_walking_up_but_not_above_git_root(tmp_path: Path) -> None:
    (tmp_path / "faasctl.yaml").write_text("limits: {timeout: 9s}\n")
    repo = tmp_path / "repo"
    deep = repo / "a" / "b"
    deep.mkdir(parents=True)
    assert find_project_config(deep) == tmp_path / "faasctl.yaml"  # no git root: up to the filesystem root
    (repo / ".git").mkdir()
    assert find_project_config(deep) is None  # the file above the git root is not this project's
    (repo / "faasctl.yaml").write_text("limits: {timeout: 3s}\n")
    assert find_project_config(deep) == repo / "faasctl.yaml"


def test_user_and_project_files_merge_project_wins(tmp_path: Path) -> None:
    dirs = dirs_in(tmp_path)
    dirs.config.mkdir(parents=True)
    (tmp_path / "rt").mkdir()
    (dirs.config / "config.yaml").write_text("limits: {timeout: 9s, memory: 32MiB}\noci: {credentials_helper: pass}\n")
    project = tmp_path / "p"
    project.mkdir()
    (project / ".git").mkdir()
    (project / "faasctl.yaml").write_text("limits: {timeout: 2s, fuel: 1000}\nruntime_dirs: [../rt]\n")
    config = load_config(None, dirs, str(project))
    assert config["limits"] == {"timeout": "2s", "memory": "32MiB", "fuel": "1000"}
    assert config["runtime_dirs"] == [(tmp_path / "rt").resolve()]
    assert config["oci"] == {"credentials_helper": "pass"}


def test_explicit_config_replaces_the_others(tmp_path: Path) -> None:
    (tmp_path / ".git").mkdir()
    (tmp_path / "faasctl.yaml").write_text("limits: {timeout: 2s}\n")
    (tmp_path / "ci.yaml").write_text("limits: {memory: 64MiB}\n")
    assert load_config("ci.yaml", dirs_in(tmp_path), str(tmp_path))["limits"] == {"memory": "64MiB"}
    with pytest.raises(UsageError, match="config file not found: nope.yaml"):
        load_config("nope.yaml", dirs_in(tmp_path), str(tmp_path))


@pytest.mark.parametrize(("text", "expected"), [
    ("limits:\n  timeout: 2s\n  memry: 1\n", ":3: limits: unknown key 'memry' (did you mean 'memory'?)"),
    ("limits: {timeout: soon}\n", ":1: limits.timeout: invalid duration 'soon'"),
    ("limits: {memory: true}\n", ":1: limits.memory: expected a value like 5s or 64MiB"),
    ("runtimes: []\n", ":1: unknown key 'runtimes' (did you mean 'runtime_dirs'?)"),
    ("runtime_dirs:\n  - ./missing\n", ":2: runtime_dirs: './missing' is not a directory"),
    ("oci: {helper: x}\n", ":1: oci: unknown key 'helper'"),
    ("limits: [\n", ":2: invalid YAML"),
    ("- 1\n", ":1: expected a mapping"),
    ("limits: 5\n", ":1: 'limits' must be a mapping"),
])
def test_invalid_config_names_file_and_line(tmp_path: Path, text: str, expected: str) -> None:
    (tmp_path / ".git").mkdir()
    (tmp_path / "faasctl.yaml").write_text(text)
    with pytest.raises(UsageError) as info:
        load_config(None, dirs_in(tmp_path), str(tmp_path))
    assert info.value.one_line().startswith(str(tmp_path / "faasctl.yaml") + expected)


def test_cli_uses_config_limits_and_options_win(tmp_path: Path) -> None:
    (tmp_path / ".git").mkdir()
    (tmp_path / "f.js").write_text("let i = 0; while (i < 1e6) i++; return i;")
    (tmp_path / "faasctl.yaml").write_text("limits: {fuel: 1000}\n")
    limited = run_cli("run", "f.js", cwd=tmp_path)
    assert limited.code == 5 and "fuel limit of 1000" in limited.stderr
    wins = run_cli("run", "f.js", "--fuel", "10000000000", cwd=tmp_path)
    assert wins.code == 0 and wins.stdout.strip() == "1000000"
    (tmp_path / "other.yaml").write_text("limits: {memory: 64MiB}\n")
    replaced = run_cli("run", "f.js", "--config", "other.yaml", cwd=tmp_path)
    assert replaced.code == 0, replaced.stderr  # --config replaced the project file: its fuel limit is gone


def test_cli_reports_bad_config_with_exit_2(tmp_path: Path) -> None:
    (tmp_path / ".git").mkdir()
    (tmp_path / "f.js").write_text("return 1;")
    (tmp_path / "faasctl.yaml").write_text("limits:\n  fuel: lots\n")
    result = run_cli("run", "f.js", cwd=tmp_path)
    assert result.code == 2
    assert result.stderr.startswith(f"faasctl: error: {tmp_path / 'faasctl.yaml'}:2: limits.fuel: invalid fuel")


def test_runtime_dirs_add_descriptors(tmp_path: Path) -> None:
    (tmp_path / ".git").mkdir()
    rt = tmp_path / "runtimes"
    rt.mkdir()
    js = (ROOT / "runtimes/js.yaml").read_text()
    # the same adapter under a new name and ending, as a team would add a house runtime
    (rt / "house.yaml").write_text(js.replace("name: js", "name: housejs", 1))
    (tmp_path / "faasctl.yaml").write_text("runtime_dirs: [runtimes]\n")
    listed = run_cli("runtimes", "--format", "json", cwd=tmp_path)
    assert listed.code == 0, listed.stderr
    assert "housejs" in [row["name"] for row in listed.json()]
