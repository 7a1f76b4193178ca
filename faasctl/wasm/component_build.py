"""The pre-initialised Python component: built once per machine with componentize-py, kept in the cache.

componentize-py (a pinned PyPI dependency) bundles CPython with faasctl's guest module and runs the
module's top level at build time, snapshotting the heap, so a run starts from an interpreter that has
already imported the standard library. Nothing is downloaded: the build uses only the installed tool,
which is verified first (its version against the pin, each of its files against the wheel's RECORD,
and its native library against a pinned SHA-256 where the descriptor has one for this platform).

The build is not byte-reproducible, so its cache key pins the inputs (tool, guest sources, prelude,
module list); the SHA-256 of the built component is recorded beside it and checked (through a stat
stamp, re-hashed on any change) before every load, so a tampered or truncated component is rebuilt,
never run. This module does not import wasmtime (``faasctl runtimes`` uses it).
"""

from __future__ import annotations

import hashlib
import os
import shutil
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from faasctl.errors import ArtifactError
from faasctl.files import read_json, sha256_file, verified_sha256, write_json_atomic
from faasctl.registry import RuntimeDescriptor

FORMAT = "faasctl-python-component-v1"  # bump when the build recipe changes
GUEST_MODULE = "faasctl_guest"
WORLD = "guest"
BUILD_TIMEOUT = 900.0

# (label, size in bytes) -> callable taken the duration in ms; the engine's compile notice fits.
BuildNotice = Callable[[str, int], Callable[[float], None]]

_LOCKS: dict[str, threading.Lock] = {}
_LOCKS_GUARD = threading.Lock()


def _build_settings(descriptor: RuntimeDescriptor) -> dict[str, Any]:
    build = descriptor.settings.get("build")
    if not isinstance(build, dict) or "tool" not in build or "guest" not in build:
        raise ArtifactError(f"runtime descriptor {descriptor.source_file}: settings.build needs tool and guest")
    return build


def _guest_files(descriptor: RuntimeDescriptor) -> dict[str, str]:
    """The guest's sources (beside the descriptor) and the generated data module, by file name."""
    build = _build_settings(descriptor)
    guest = Path(descriptor.source_file).parent / str(build["guest"])
    files = {p.name: p.read_text(encoding="utf-8") for p in sorted(guest.iterdir()) if p.suffix in (".py", ".wit")}
    prelude = descriptor.resource_text(str(descriptor.settings["prelude"]))
    modules = [str(m) for m in descriptor.settings.get("preimport", [])]
    files["faasctl_guest_data.py"] = (
        '"""Written by faasctl\'s build: the prelude\'s source and the modules to pre-import."""\n'
        f"PRELUDE = {prelude!r}\nMODULES = {modules!r}\n"
    )
    return files


def build_key(descriptor: RuntimeDescriptor) -> str:
    """What the build depends on: the recipe, the pinned tool and every guest source."""
    build = _build_settings(descriptor)
    digest = hashlib.sha256(f"{FORMAT}\0{build['tool']}\0{sorted((build.get('sha256') or {}).items())}".encode())
    for name, text in sorted(_guest_files(descriptor).items()):
        digest.update(b"\0" + name.encode() + b"\0" + text.encode())
    return digest.hexdigest()


def build_dir(descriptor: RuntimeDescriptor, cache_dir: Path) -> Path:
    return cache_dir / "components" / f"{descriptor.name}-{build_key(descriptor)[:24]}"


def built_state(descriptor: RuntimeDescriptor, cache_dir: Path) -> dict[str, Any] | None:
    """The recorded build (``sha256``, ``size``, ...), or None when it has not been built here."""
    directory = build_dir(descriptor, cache_dir)
    meta = read_json(directory / "component.json")
    if isinstance(meta, dict) and isinstance(meta.get("sha256"), str) and (directory / "component.wasm").is_file():
        return meta
    return None


def built_component(descriptor: RuntimeDescriptor, cache_dir: Path,
                    notice: BuildNotice | None = None) -> tuple[Path, str]:
    """Path and SHA-256 of the built component, building it first when it is missing or damaged.

    Raises ``ArtifactError`` when the build tool is missing or does not match its pin, or the build
    itself fails.
    """
    directory = build_dir(descriptor, cache_dir)
    found = _verified(directory)
    if found:
        return found
    key = str(directory)
    with _LOCKS_GUARD:
        lock = _LOCKS.setdefault(key, threading.Lock())
    with lock, _file_lock(directory.parent / f".{directory.name}.lock"):
        found = _verified(directory)  # another thread or process may have built it meanwhile
        if found:
            return found
        return _build(descriptor, directory, notice)


def _verified(directory: Path) -> tuple[Path, str] | None:
    path = directory / "component.wasm"
    meta = read_json(directory / "component.json")
    if not isinstance(meta, dict) or not path.is_file():
        return None
    try:
        actual = verified_sha256(path, directory / "verified.json")
    except OSError:
        return None
    if actual != meta.get("sha256"):
        shutil.rmtree(directory, ignore_errors=True)  # tampered or damaged: rebuilt, never run
        return None
    return path, actual


class _file_lock:
    """An exclusive lock between processes (``fcntl``; a no-op where it does not exist)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.handle: Any = None

    def __enter__(self) -> None:
        try:
            import fcntl
        except ImportError:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.handle = open(self.path, "a")
        fcntl.flock(self.handle, fcntl.LOCK_EX)

    def __exit__(self, *exc: object) -> None:
        if self.handle is not None:
            self.handle.close()


def verify_tool(descriptor: RuntimeDescriptor) -> Path:
    """The installed componentize-py, checked against the descriptor's pin; raises ``ArtifactError``."""
    from base64 import urlsafe_b64decode
    from importlib import metadata

    build = _build_settings(descriptor)
    name, _, version = str(build["tool"]).partition("==")
    hint = f"repair the install with: pip install --force-reinstall '{build['tool']}'"
    try:
        dist = metadata.distribution(name)
    except metadata.PackageNotFoundError:
        raise ArtifactError(f"{name}, which builds the {descriptor.name} runtime, is not installed",
                            hint=hint) from None
    if version and dist.version != version:
        raise ArtifactError(f"{name} {dist.version} is installed; the {descriptor.name} runtime is pinned to "
                            f"{version}", hint=hint)
    tag = _wheel_tag(dist)
    pinned = (build.get("sha256") or {}).get(tag.split("-")[-1]) if tag else None
    native: Path | None = None
    for entry in dist.files or []:
        path = Path(str(dist.locate_file(entry)))
        if entry.suffix in (".so", ".pyd", ".dylib"):
            native = path
        if not entry.hash or entry.hash.mode != "sha256":
            continue
        try:
            actual = sha256_file(path)
        except OSError:
            raise ArtifactError(f"{name} is damaged: {entry} is missing", hint=hint) from None
        expected = urlsafe_b64decode(entry.hash.value + "==").hex()
        if actual != expected:
            raise ArtifactError(f"{name} is damaged: {entry} does not match its RECORD hash", hint=hint)
    if native is None:
        raise ArtifactError(f"{name} is damaged: its native library is missing", hint=hint)
    if pinned and sha256_file(native) != pinned:
        raise ArtifactError(f"{name}'s native library does not match the pinned SHA-256 {pinned[:16]}…", hint=hint)
    return native


def _wheel_tag(dist: Any) -> str | None:
    """The wheel's platform tag (``cp39-abi3-manylinux_2_28_x86_64``) from its WHEEL file."""
    text = dist.read_text("WHEEL") or ""
    tags = [line.split(":", 1)[1].strip() for line in text.splitlines() if line.startswith("Tag:")]
    return tags[0] if tags else None


def _build(descriptor: RuntimeDescriptor, directory: Path, notice: BuildNotice | None) -> tuple[Path, str]:
    import tempfile

    native = verify_tool(descriptor)
    done = notice(f"the {descriptor.name} runtime (pre-initialising CPython with componentize-py)",
                  native.stat().st_size) if notice else None
    import time

    started = time.perf_counter()
    directory.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".build-", dir=directory.parent))
    try:
        app = staging / "app"
        app.mkdir()
        for name, text in _guest_files(descriptor).items():
            (app / name).write_text(text, encoding="utf-8")
        output = staging / "component.wasm"
        _run_componentize(app, output)
        digest = sha256_file(output)
        write_json_atomic(staging / "component.json", {
            "sha256": digest, "size": output.stat().st_size, "tool": _build_settings(descriptor)["tool"],
            "key": build_key(descriptor), "format": FORMAT})
        shutil.rmtree(app)
        if directory.exists():
            shutil.rmtree(directory, ignore_errors=True)
        os.replace(staging, directory)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    _prune_other_builds(directory)
    if done:
        done((time.perf_counter() - started) * 1000)
    return directory / "component.wasm", digest


def _prune_other_builds(directory: Path) -> None:
    """Earlier builds of the same runtime (other inputs: an upgrade) and their compiled forms go: each
    is ~30 MB plus ~45 MB per compiled form, and nothing will load them again."""
    from faasctl.wasm.cachepaths import module_cache_path

    prefix = directory.name.rsplit("-", 1)[0] + "-"
    cache_dir = directory.parent.parent
    for other in directory.parent.glob(prefix + "*"):
        if other == directory or not other.is_dir() or len(other.name) != len(directory.name):
            continue
        meta = read_json(other / "component.json")
        if isinstance(meta, dict) and isinstance(meta.get("sha256"), str):
            for metered in (False, True):
                compiled = module_cache_path(cache_dir, meta["sha256"], metered)
                compiled.unlink(missing_ok=True)
                compiled.with_suffix(".json").unlink(missing_ok=True)
        shutil.rmtree(other, ignore_errors=True)


def _run_componentize(app: Path, output: Path) -> None:
    """componentize-py in a child process: its output stays off ours, and only the guest's own
    directory is on its path (no VIRTUAL_ENV, so no site-packages is searched first)."""
    import subprocess

    command = [sys.executable, "-I", "-c", "import sys, componentize_py; sys.argv[0] = 'componentize-py'; "
               "componentize_py.script()", "-q", "-d", str(app / "world.wit"), "-w", WORLD,
               "componentize", "-p", str(app), "-o", str(output), GUEST_MODULE]
    env = {key: value for key, value in os.environ.items() if key in ("PATH", "TMPDIR", "LANG", "LC_ALL")}
    env["HOME"] = str(app)
    try:
        proc = subprocess.run(command, cwd=app, env=env, stdin=subprocess.DEVNULL, capture_output=True,
                              timeout=BUILD_TIMEOUT)
    except subprocess.TimeoutExpired:
        raise ArtifactError(f"building the Python component took more than {BUILD_TIMEOUT:.0f}s") from None
    if proc.returncode != 0 or not output.is_file():
        detail = (proc.stderr or proc.stdout).decode("utf-8", "replace")[-2000:]
        lines = [line for line in detail.splitlines() if line.strip()]
        raise ArtifactError("building the Python component with componentize-py failed: "
                            + (lines[-1] if lines else f"exit code {proc.returncode}"), detail=detail)
