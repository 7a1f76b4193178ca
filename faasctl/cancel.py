"""Stopping a run from outside: a token any thread may set, and what a cancelled run reports.

A server shutting down, a flow runner whose workflow already failed, a Temporal activity that was
cancelled, or Ctrl-C on the command line hold a ``CancelToken`` and call ``cancel()``. The runtimes look at
it where they already stop runs: wasm at its epoch checks and in the sleeps faasctl serves itself, Lua by
killing the worker process. A cancelled run ends with the error type ``Interrupted`` (exit 130).
"""

from __future__ import annotations

import threading
from collections.abc import Callable

from faasctl.result import RunError

# How often a running function reports that it is alive (``progress``), in seconds.
HEARTBEAT_INTERVAL = 1.0

# Called with the seconds a run has taken so far, from the thread that called ``Engine.run``.
Progress = Callable[[float], None]


class CancelToken:
    """Set once, from any thread; a run given this token ends soon after, as ``Interrupted``."""

    def __init__(self) -> None:
        self._event = threading.Event()
        self.reason = "cancelled"

    def cancel(self, reason: str = "cancelled") -> None:
        if not self._event.is_set():
            self.reason = reason
        self._event.set()

    @property
    def cancelled(self) -> bool:
        return self._event.is_set()

    def wait(self, seconds: float) -> bool:
        """Sleep up to ``seconds``; True at once when (or as soon as) the token is cancelled."""
        return self._event.wait(seconds)


def interrupted_error(token: CancelToken | None) -> RunError:
    return RunError("Interrupted", token.reason if token is not None else "cancelled")
