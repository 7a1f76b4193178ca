"""The server's log: one line per event on stderr, ``TIME LEVEL message key=value ...``, easy to grep.

The messages a lua-experiments user looks for are kept word for word (``Ping request received``,
``Action 'evil' aborted after violating memory constraints``, ``... aborted after timeout``); every run's
end state is an event (``info`` when it succeeded, ``warning``/``error`` when not), requests are ``debug``.
Written by hand rather than with ``logging``: a line per request must cost microseconds, not a handler chain.
"""

from __future__ import annotations

import json
import sys
import threading
import time
from typing import Any, TextIO

LEVELS = {"debug": 10, "info": 20, "warning": 30, "error": 40, "off": 100}
LIMIT_WORDS = {"MemoryLimit": "aborted after violating memory constraints", "Timeout": "aborted after timeout"}


def _value(value: Any) -> str:
    text = str(value)
    if not text or any(c in text for c in ' "=\n\\') or not text.isprintable():
        return json.dumps(text, ensure_ascii=False)
    return text


class EventLog:
    def __init__(self, level: str = "info", stream: TextIO | None = None) -> None:
        self.threshold = LEVELS[level]
        self.stream = stream or sys.stderr
        self._lock = threading.Lock()

    def enabled(self, level: str) -> bool:
        return LEVELS[level] >= self.threshold

    def emit(self, level: str, message: str, **fields: Any) -> None:
        if LEVELS[level] < self.threshold:
            return
        now = time.time()
        stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(now)) + f".{int(now % 1 * 1000):03d}Z"
        extra = "".join(f" {key}={_value(value)}" for key, value in fields.items() if value is not None)
        line = f"{stamp} {level.upper():<7} {' '.join(message.split())}{extra}\n"
        with self._lock:
            try:
                self.stream.write(line)
                self.stream.flush()
            except (OSError, ValueError):  # stderr closed: logging must never fail a request
                pass

    def run_ended(self, function: str, invocation_id: int | None, envelope: dict[str, Any]) -> None:
        """A run's end state, in the words lua-experiments used for its limits."""
        error = envelope.get("error")
        duration = round(float(envelope.get("stats", {}).get("duration_ms") or 0.0), 1)
        fields = {"invocation": invocation_id, "runtime": envelope.get("runtime") or None, "ms": duration}
        if error is None:
            self.emit("info", f"Action '{function}' finished", outcome="ok", **fields)
        elif error["type"] in LIMIT_WORDS:
            self.emit("error", f"Action '{function}' {LIMIT_WORDS[error['type']]}", outcome=error["type"],
                      reason=error.get("message"), **fields)
        else:
            self.emit("warning", f"Action '{function}' failed", outcome=error["type"],
                      reason=error.get("message"), **fields)
