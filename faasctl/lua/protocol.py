"""Frames between the host and a Lua worker process: a JSON header plus raw byte blobs.

One frame is ``<u32 header length><header JSON><blob bytes...>``; the header lists the blob sizes,
so scripts, inputs and outputs travel as bytes without escaping. Both sides are faasctl; the worker
runs untrusted Lua, so the host parses what it reads as data (JSON, lengths checked), never pickle.
"""

from __future__ import annotations

import json
import os
import select
import struct
import time
from typing import Any

_LENGTH = struct.Struct("<I")
MAX_HEADER = 64 * 1024 * 1024


class ChannelClosed(Exception):
    """The other side closed its end (it exited or was killed)."""


class ChannelTimeout(Exception):
    """Nothing complete arrived before the deadline."""


def send(fd: int, header: dict[str, Any], blobs: tuple[bytes, ...] | list[bytes] = ()) -> None:
    head = json.dumps({**header, "blobs": [len(b) for b in blobs]}, separators=(",", ":")).encode()
    view = memoryview(b"".join([_LENGTH.pack(len(head)), head, *blobs]))
    while view:
        written = os.write(fd, view)
        view = view[written:]


def _read_exact(fd: int, size: int, deadline: float | None) -> bytes:
    chunks: list[bytes] = []
    while size:
        if deadline is not None:
            remaining = deadline - time.monotonic()
            if remaining <= 0 or not select.select([fd], [], [], remaining)[0]:
                raise ChannelTimeout()
        chunk = os.read(fd, min(size, 1 << 20))
        if not chunk:
            raise ChannelClosed()
        chunks.append(chunk)
        size -= len(chunk)
    return b"".join(chunks)


def recv(fd: int, deadline: float | None = None) -> tuple[dict[str, Any], list[bytes]]:
    """One frame; ``deadline`` is a ``time.monotonic()`` value, None waits for ever."""
    (length,) = _LENGTH.unpack(_read_exact(fd, _LENGTH.size, deadline))
    if length > MAX_HEADER:
        raise ChannelClosed()
    header = json.loads(_read_exact(fd, length, deadline))
    blobs = [_read_exact(fd, int(size), deadline) for size in header.pop("blobs", [])]
    return header, blobs
