"""Shared fixtures. Every test runs with FAASCTL_HOME in one session temp dir, so the real home is never
touched and compiled modules are cached once per session (CPython takes seconds to compile)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"
FIXTURES = Path(__file__).resolve().parent / "fixtures"


@pytest.fixture(scope="session", autouse=True)
def faasctl_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    home = Path(os.environ.get("FAASCTL_TEST_HOME") or tmp_path_factory.mktemp("faasctl-home"))
    os.environ["FAASCTL_HOME"] = str(home)
    return home


@pytest.fixture(scope="session")
def engine(faasctl_home: Path):
    """One engine for the session: runs share compiled modules, as they do in the server."""
    from faasctl.engine import Engine, Settings

    return Engine(Settings(cache_dir=faasctl_home / "cache", data_dir=faasctl_home / "data"))


def make_engine(home: Path, **settings):
    from faasctl.engine import Engine, Settings

    return Engine(Settings(cache_dir=home / "cache", data_dir=home / "data", **settings))


@dataclass
class CliResult:
    code: int
    stdout: str
    stderr: str

    def json(self):
        return json.loads(self.stdout)


def run_cli(*args: str, input: str | bytes | None = None, cwd: Path | None = None,
            env: dict[str, str] | None = None, timeout: float = 120) -> CliResult:
    """The installed console script in a subprocess, stdin /dev/null unless ``input`` is given."""
    exe = Path(sys.executable).with_name("faasctl")
    command = [str(exe)] if exe.exists() else [sys.executable, "-m", "faasctl"]
    data = input.encode() if isinstance(input, str) else input
    proc = subprocess.run(
        [*command, *args],
        input=data,
        stdin=subprocess.DEVNULL if data is None else None,
        capture_output=True,
        cwd=cwd,
        env={**os.environ, **(env or {})},
        timeout=timeout,
    )
    return CliResult(proc.returncode, proc.stdout.decode("utf-8", "replace"), proc.stderr.decode("utf-8", "replace"))


@pytest.fixture
def cli():
    return run_cli
