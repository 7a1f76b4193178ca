"""How a worker process stops: the first SIGTERM/SIGINT drains, a second one leaves at once."""

from __future__ import annotations

import os
from collections.abc import Callable


def second_signal_exits(stopping: Callable[[], bool], stop: Callable[[], None],
                        say: Callable[[str], None]) -> Callable[..., None]:
    """A signal handler: the first SIGTERM/SIGINT stops gracefully, a second one exits at once (130), leaving
    the held work to the server's timeouts (Temporal's heartbeat, Conductor's response timeout)."""

    def handle(*_: object) -> None:
        if stopping():
            say("stopping now, without waiting for running work")
            os._exit(130)
        stop()

    return handle
