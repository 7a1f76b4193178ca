"""The local object directory behind the chain's ``s3`` plugin (``--objects DIR``).

Keys are paths under the directory (the bucket is recorded, not used: one directory is one bucket).
A key that is absolute, climbs with ``..``, holds NUL or a backslash, or resolves outside the
directory through a symbolic link is refused, so a function reaches nothing else of the host.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

MAX_KEY = 1024


class ObjectError(Exception):
    """A refused key or a missing object; the message goes to the guest."""


class ObjectStore:
    def __init__(self, root: Path) -> None:
        self.root = root.resolve()

    def path(self, key: object) -> Path:
        if not isinstance(key, str) or not key or len(key) > MAX_KEY:
            raise ObjectError(f"s3: Key must be a non-empty string of at most {MAX_KEY} characters")
        parts = key.split("/")
        if key.startswith("/") or "\0" in key or "\\" in key or any(p in ("..", ".") for p in parts):
            raise ObjectError(f"s3: invalid Key {key!r} (a relative path without '.', '..' or '\\\\')")
        path = self.root.joinpath(*[p for p in parts if p])
        resolved = path.resolve()
        if resolved != self.root and not resolved.is_relative_to(self.root):
            raise ObjectError(f"s3: Key {key!r} leads outside the object directory")
        return resolved

    def get(self, key: object, limit: int) -> bytes:
        path = self.path(key)
        try:
            if not path.is_file():
                raise ObjectError(f"NoSuchKey: The specified key does not exist: {key}")
            if path.stat().st_size > limit:
                raise ObjectError(f"s3: object {key} is larger than {limit} bytes")
            with open(path, "rb") as handle:
                return handle.read(limit + 1)[:limit]
        except OSError as exc:
            raise ObjectError(f"s3: cannot read {key}: {exc.strerror}") from None

    def put(self, key: object, data: bytes) -> None:
        path = self.path(key)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            handle, temp = tempfile.mkstemp(dir=path.parent, prefix=".put-")
            with os.fdopen(handle, "wb") as out:
                out.write(data)
            os.replace(temp, path)
        except OSError as exc:
            raise ObjectError(f"s3: cannot write {key}: {exc.strerror}") from None
