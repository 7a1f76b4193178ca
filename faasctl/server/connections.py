"""Connection guard: idle and slow clients cannot exhaust the server.

uvicorn closes a keep-alive connection idle after a response, but a client that opens a socket and never
finishes its request headers (or trickles them a byte at a time, which re-arms uvicorn's keep-alive timer)
keeps it for ever, and its ``limit_concurrency`` answers 503 to everybody once enough such sockets are open:
a thousand of them took ``/healthz`` down. Here each connection must complete its request headers within
``header_timeout`` of connecting or of its previous response, and when more than ``max_connections`` are
open the oldest connections that have no request in progress are closed to make room, so a new client (a
health check above all) is always served.

Writes are also coalesced: uvicorn writes a response's headers and its body separately, which on a
``TCP_NODELAY`` socket is two ``send`` calls and two packets; here the writes of one event-loop turn go out
in one call (the largest single cost in the server's profile under load).
"""

from __future__ import annotations

import asyncio
import time
from typing import Any


def guarded_protocol(max_connections: int, header_timeout: float) -> type[asyncio.Protocol]:
    """uvicorn's HTTP protocol class (httptools when installed, else h11) with the guard mixed in."""
    try:
        from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol as base
    except ImportError:  # pragma: no cover - httptools is a dependency, h11 the fallback
        from uvicorn.protocols.http.h11_impl import H11Protocol as base  # type: ignore[assignment]

    class GuardedProtocol(base):  # type: ignore[misc, valid-type]
        def connection_made(self, transport: Any) -> None:
            super().connection_made(CoalescingTransport(transport, self.loop))
            self.opened = time.monotonic()
            self._header_timer = self.loop.call_later(header_timeout, self._headers_overdue)
            if len(self.connections) > max_connections:
                _make_room(self.connections, self, len(self.connections) - max_connections)

        def connection_lost(self, exc: Exception | None) -> None:
            self._disarm()
            super().connection_lost(exc)

        def on_response_complete(self) -> None:
            super().on_response_complete()
            if not self.transport.is_closing():  # the next request's headers get the same deadline
                self._disarm()
                self.opened = time.monotonic()
                self._header_timer = self.loop.call_later(header_timeout, self._headers_overdue)

        def _disarm(self) -> None:
            timer = getattr(self, "_header_timer", None)
            if timer is not None:
                timer.cancel()
                self._header_timer = None

        def _headers_overdue(self) -> None:
            self._header_timer = None
            if not _busy(self) and not self.transport.is_closing():
                self.transport.close()

    return GuardedProtocol


def _busy(connection: Any) -> bool:
    """A request whose headers arrived and whose response is not complete yet."""
    cycle = connection.cycle
    return cycle is not None and not cycle.response_complete


def _make_room(connections: set[Any], newcomer: Any, count: int) -> None:
    """Close the ``count`` oldest idle connections (no request in progress), never the newcomer."""
    idle = sorted((c for c in connections if c is not newcomer and not _busy(c) and not c.transport.is_closing()),
                  key=lambda c: getattr(c, "opened", 0.0))
    for connection in idle[:count]:
        connection.transport.close()


class CoalescingTransport:
    """A transport whose writes within one event-loop turn are sent with one ``write`` call."""

    def __init__(self, transport: Any, loop: asyncio.AbstractEventLoop) -> None:
        self._transport = transport
        self._loop = loop
        self._pending: list[bytes] = []

    def write(self, data: bytes) -> None:
        if not self._pending:
            self._loop.call_soon(self._flush)
        self._pending.append(data)

    def _flush(self) -> None:
        if self._pending:
            data = b"".join(self._pending) if len(self._pending) > 1 else self._pending[0]
            self._pending = []
            if not self._transport.is_closing():
                self._transport.write(data)

    def close(self) -> None:
        self._flush()
        self._transport.close()

    def get_write_buffer_size(self) -> int:
        return self._transport.get_write_buffer_size() + sum(len(chunk) for chunk in self._pending)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._transport, name)
