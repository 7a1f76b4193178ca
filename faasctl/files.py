"""Small file helpers for caches: atomic writes and stat stamps that make re-hashing rare.

A stamp records a file's size, inode, mtime and ctime right after faasctl wrote or verified it. Any
later write to the file changes its ctime, which user space cannot set back, so a matching stamp
means the bytes are the ones that were hashed; a mismatch sends the caller back to a full hash.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from pathlib import Path
from typing import Any


class TooLarge(Exception):
    """A read went past its cap; callers turn it into an error naming the source and the cap."""

    def __init__(self, cap: int) -> None:
        super().__init__(cap)
        self.cap = cap


def read_capped(path: str | os.PathLike[str], cap: int) -> bytes:
    """At most ``cap`` bytes of ``path``, else ``TooLarge``: device files (``/dev/zero``) and endless
    FIFOs have no size to check first, so every read of something a user names goes through a cap.
    Raises ``OSError`` as ``open`` and ``read`` do."""
    with open(path, "rb") as handle:
        return read_stream_capped(handle, cap)


def read_stream_capped(stream: Any, cap: int) -> bytes:
    """At most ``cap`` bytes of a binary stream (standard input, an open file), else ``TooLarge``."""
    data = bytearray()
    while True:
        chunk = stream.read(min(1 << 20, cap + 1 - len(data)))
        if not chunk:
            return bytes(data)
        data += chunk
        if len(data) > cap:
            raise TooLarge(cap)


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def stat_stamp(path: Path) -> dict[str, int]:
    st = os.stat(path)
    return {"size": st.st_size, "ino": st.st_ino, "mtime_ns": st.st_mtime_ns, "ctime_ns": st.st_ctime_ns}


def write_atomic(path: Path, data: bytes | bytearray) -> None:
    """Write to a temporary file beside ``path`` and rename it into place, so readers never see half."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-", suffix=path.suffix)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def read_json(path: Path) -> Any | None:
    """The JSON in ``path``, or None when it is missing or unreadable (caches treat both as a miss)."""
    try:
        return json.loads(path.read_bytes())
    except (OSError, ValueError):
        return None


def write_json_atomic(path: Path, value: Any) -> None:
    write_atomic(path, json.dumps(value, sort_keys=True).encode())


def verified_sha256(path: Path, stamp_path: Path) -> str:
    """SHA-256 of ``path``, re-hashing only when the file changed since ``stamp_path`` was written."""
    stamp = read_json(stamp_path)
    current = stat_stamp(path)
    if isinstance(stamp, dict) and stamp.get("stat") == current and isinstance(stamp.get("sha256"), str):
        return stamp["sha256"]
    digest = sha256_file(path)
    try:
        write_json_atomic(stamp_path, {"sha256": digest, "stat": current, "path": str(path)})
    except OSError:
        pass  # a read-only cache only costs a re-hash next time
    return digest
