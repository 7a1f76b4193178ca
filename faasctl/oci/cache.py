"""The content-addressed OCI cache under ``<cache_dir>/oci``.

Layout::

    blobs/sha256/<hex>          manifests, layers and extracted modules, named by their own digest
    resolved/<manifest hex>.json  manifest digest -> the module's digest, name, media type, annotations
    tags/<registry>/<repo>/<tag>.json   tag -> manifest digest, and when it was pulled

Blobs are written to a temp file in the same directory while they are hashed, and renamed into place
only when the digest matches, so a crash or an interrupted download never leaves a partial blob under
a digest name. Reads hash the file again: a corrupt entry is reported (and removed), never used.
"""

from __future__ import annotations

import builtins
import hashlib
import json
import os
import tempfile
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from faasctl import files
from faasctl.errors import ArtifactError
from faasctl.limits import format_size
from faasctl.oci.reference import Reference
from faasctl.settings import DEFAULT_OCI_MAX_SIZE

CHUNK = 64 * 1024
DEFAULT_MAX_SIZE = DEFAULT_OCI_MAX_SIZE


class CorruptEntry(ArtifactError):
    """A cache file whose content does not hash to its name."""


def split_digest(digest: str) -> str:
    algo, _, hexpart = digest.partition(":")
    if algo != "sha256" or len(hexpart) != 64 or any(c not in "0123456789abcdef" for c in hexpart):
        raise ArtifactError(f"unsupported or malformed digest {digest!r} (only sha256 is accepted)")
    return hexpart


@dataclass(frozen=True)
class BlobInfo:
    digest: str
    size: int
    mtime: float


class BlobStore:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.blobs = root / "blobs" / "sha256"

    def path(self, digest: str) -> Path:
        return self.blobs / split_digest(digest)

    def has(self, digest: str) -> bool:
        return self.path(digest).is_file()

    # -- writing --------------------------------------------------------------------------------------

    def write(self, digest: str, chunks: Iterable[bytes], *, max_size: int, expected_size: int | None = None,
              label: str = "blob", progress: Callable[[int], None] | None = None) -> Path:
        """Stream ``chunks`` into the store under ``digest``, checking size and hash as they arrive.

        Raises ``ArtifactError`` on a digest or size mismatch or when ``max_size`` is passed; the temp
        file is removed on every failure, including KeyboardInterrupt and errors from ``chunks``."""
        final = self.path(digest)
        try:
            self.blobs.mkdir(parents=True, exist_ok=True)
            fd, tmp_name = tempfile.mkstemp(prefix=".partial-", dir=self.blobs)
        except OSError as exc:
            raise cache_write_error(exc, self.root) from None
        hasher = hashlib.sha256()
        size = 0
        try:
            with os.fdopen(fd, "wb") as out:
                for chunk in chunks:
                    size += len(chunk)
                    if size > max_size:
                        cap = format_size(max_size)
                        raise ArtifactError(f"{label} is larger than the size cap of {cap}; refusing it")
                    if expected_size is not None and size > expected_size:
                        raise ArtifactError(f"{label} is larger than the {expected_size} bytes its manifest declares")
                    hasher.update(chunk)
                    out.write(chunk)
                    if progress:
                        progress(len(chunk))
            if expected_size is not None and size != expected_size:
                raise ArtifactError(f"{label} ended after {size} of {expected_size} bytes (download interrupted?)")
            actual = "sha256:" + hasher.hexdigest()
            if actual != digest:
                raise ArtifactError(f"digest mismatch for {label}: expected {digest}, the bytes hash to {actual} "
                                    "(the registry served tampered or corrupt content)")
            os.replace(tmp_name, final)
        except BaseException as exc:
            try:
                os.unlink(tmp_name)
            except FileNotFoundError:
                pass
            if isinstance(exc, OSError):  # network errors arrive as ArtifactError; this is the disk
                raise cache_write_error(exc, self.root) from None
            raise
        return final

    def put_bytes(self, data: bytes, *, label: str = "blob") -> str:
        digest = "sha256:" + hashlib.sha256(data).hexdigest()
        if not self.has(digest):
            self.write(digest, [data], max_size=len(data), label=label)
        return digest

    # -- reading --------------------------------------------------------------------------------------

    def read_verified(self, digest: str) -> bytes:
        """The blob's bytes after hashing them again; a mismatching file is removed and reported."""
        path = self.path(digest)
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            raise CorruptEntry(f"cache entry {digest} is missing from {self.blobs}") from None
        if "sha256:" + hashlib.sha256(data).hexdigest() != digest:
            path.unlink(missing_ok=True)
            raise CorruptEntry(f"cache entry {digest} is corrupt (its bytes no longer match the digest); "
                               "it was removed, pull again")
        return data

    def list(self) -> builtins.list[BlobInfo]:
        if not self.blobs.is_dir():
            return []
        found = []
        for entry in self.blobs.iterdir():
            if entry.name.startswith("."):
                continue
            stat = entry.stat()
            found.append(BlobInfo("sha256:" + entry.name, stat.st_size, stat.st_mtime))
        return sorted(found, key=lambda b: b.mtime)

    # -- references -----------------------------------------------------------------------------------

    def tag_path(self, ref: Reference) -> Path:
        registry = ref.registry.replace(":", "_").replace("[", "").replace("]", "")
        return self.root / "tags" / registry / ref.repository / f"{ref.tag}.json"

    def tag_digest(self, ref: Reference) -> str | None:
        doc = read_json(self.tag_path(ref))
        digest = doc.get("digest") if doc else None
        return digest if isinstance(digest, str) else None

    def set_tag(self, ref: Reference, digest: str) -> None:
        _write_json(self.tag_path(ref), {"reference": str(ref), "digest": digest, "pulled_at": time.time()})

    def resolved_path(self, manifest_digest: str) -> Path:
        return self.root / "resolved" / f"{split_digest(manifest_digest)}.json"

    def resolved(self, manifest_digest: str) -> dict[str, Any] | None:
        return read_json(self.resolved_path(manifest_digest))

    def set_resolved(self, manifest_digest: str, record: dict[str, Any]) -> None:
        _write_json(self.resolved_path(manifest_digest), record)

    def tags(self) -> builtins.list[dict[str, Any]]:
        base = self.root / "tags"
        if not base.is_dir():
            return []
        return [doc for path in sorted(base.rglob("*.json")) if (doc := read_json(path))]

    def records(self) -> builtins.list[tuple[str, dict[str, Any]]]:
        base = self.root / "resolved"
        if not base.is_dir():
            return []
        return [("sha256:" + p.stem, doc) for p in sorted(base.glob("*.json")) if (doc := read_json(p))]


def read_json(path: Path) -> dict[str, Any] | None:
    """A cache record, or None when it is missing, unreadable or not an object."""
    doc = files.read_json(path)
    return doc if isinstance(doc, dict) else None


def cache_write_error(exc: OSError, root: Path) -> ArtifactError:
    """A read-only, full or unwritable cache directory: one line naming it, not a traceback."""
    return ArtifactError(f"cannot write the OCI cache in {root}: {exc.strerror or exc}",
                         hint="check its permissions and free space, or point FAASCTL_HOME elsewhere")


def _write_json(path: Path, doc: dict[str, Any]) -> None:
    try:
        files.write_atomic(path, json.dumps(doc, indent=1, sort_keys=True).encode("utf-8"))
    except OSError as exc:
        raise cache_write_error(exc, path.parent) from None
