"""One-time preparation of an interpreter guest, by running the guest itself, kept in the cache.

Two things make CPython-on-WASI start faster and are worth a one-time run (both descriptor-driven):

- ``stdlib``: the standard library is a zip inside the binary's virtual file system, and zipimport
  parses the zip's whole central directory on every start (40% of a hello run's instructions). The
  guest prints the archive once; it is unpacked into the cache and mapped read-only into each run.
- ``precompile``: compiling the prelude's source inside the guest costs more than loading it as
  marshalled bytecode; the guest compiles it once and prints the bytecode, which runs then receive.

Entries are written to a temporary name and renamed into place, and checked on load (a completion
marker for the library, a SHA-256 for the bytecode), so a damaged entry is redone, never used.
"""

from __future__ import annotations

import hashlib
import io
import os
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from faasctl.errors import InternalError
from faasctl.files import read_json, write_json_atomic
from faasctl.limits import Limits
from faasctl.wasm.sandbox import SandboxOutcome

# Runs the guest once: (argv, env, dirs, limits) -> outcome.
GuestRunner = Callable[[list[str], dict[str, str], list[tuple[str, str, bool]], Limits], SandboxOutcome]

SETUP_LIMITS = Limits(timeout=120.0, memory=1024**3, fuel=None, max_output=256 * 1024**2)
COMPLETE = ".faasctl-complete"


def _checked(outcome: SandboxOutcome, what: str) -> bytes:
    if outcome.error is not None or outcome.exit_code:
        reason = outcome.error.message if outcome.error else f"exit code {outcome.exit_code}"
        detail = outcome.stderr.decode("utf-8", "replace")[-500:]
        raise InternalError(f"preparing the guest failed while {what}: {reason}", detail=detail)
    return outcome.stdout


def stdlib_dir(settings: dict[str, Any], directory: Path, run: GuestRunner) -> Path:
    """The unpacked standard library for this binary, unpacking it on first use."""
    target = directory / "stdlib"
    if (target / COMPLETE).is_file():
        return target
    import zipfile

    archive = _checked(run(list(settings["dump_argv"]), {}, [], SETUP_LIMITS), "reading its library archive")
    directory.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".stdlib-", dir=directory))
    try:
        with zipfile.ZipFile(io.BytesIO(archive)) as bundle:
            for member in bundle.infolist():
                path = (staging / member.filename).resolve()
                if not path.is_relative_to(staging.resolve()):
                    raise InternalError(f"library archive entry escapes its directory: {member.filename}")
            bundle.extractall(staging)
        (staging / COMPLETE).write_text(hashlib.sha256(archive).hexdigest())
        if target.exists():
            shutil.rmtree(target, ignore_errors=True)
        os.replace(staging, target)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return target


def precompiled_prelude(settings: dict[str, Any], prelude: str, env: dict[str, str],
                        dirs: list[tuple[str, str, bool]], directory: Path, run: GuestRunner) -> str:
    """The prelude as base64 of marshalled bytecode compiled by the guest itself."""
    key = hashlib.sha256((prelude + "\0" + repr(settings["compile_argv"])).encode()).hexdigest()[:24]
    path = directory / f"prelude-{key}.json"
    cached = read_json(path)
    if isinstance(cached, dict) and isinstance(cached.get("code"), str):
        code = cached["code"]
        if hashlib.sha256(code.encode()).hexdigest() == cached.get("sha256"):
            return code
    argv = [prelude if item == "{prelude}" else item for item in settings["compile_argv"]]
    code = _checked(run(argv, env, dirs, SETUP_LIMITS), "compiling the prelude").decode("ascii").strip()
    try:
        write_json_atomic(path, {"code": code, "sha256": hashlib.sha256(code.encode()).hexdigest()})
    except OSError:
        pass  # an unwritable cache costs a compile next time
    return code
