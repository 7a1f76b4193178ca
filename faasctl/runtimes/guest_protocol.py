"""The text protocol every interpreter guest speaks with the host (QuickJS, both CPython builds).

stdout is the output; each stderr line is a JSON string (one log entry) or a JSON object
``{"faasctl": "error", ...}`` that says how the function failed; other lines are kept as raw log lines
(messages from the interpreter itself). No wasmtime here: the Python component imports it too.
"""

from __future__ import annotations

import json
from typing import Any

from faasctl.errors import UsageError
from faasctl.runtimes.base import Artifact


def parse_guest_stderr(stderr: bytes) -> tuple[list[str], dict[str, Any] | None]:
    """Split the guest's stderr into log entries and the failure record, if any."""
    logs: list[str] = []
    record: dict[str, Any] | None = None
    text = stderr.decode("utf-8", errors="replace")
    for line in text.split("\n"):
        if not line:
            continue
        if line[0] in '"{':
            try:
                value = json.loads(line)
            except ValueError:
                value = None
            if isinstance(value, str):
                logs.append(value)
                continue
            if isinstance(value, dict) and value.get("faasctl") == "error":
                record = value
                continue
        logs.append(line)
    return logs, record


def script_text(artifact: Artifact) -> str:
    """The script as text: UTF-8 without a byte-order mark, a shebang line blanked (keeping line
    numbers); raises ``UsageError`` for other encodings and NUL bytes."""
    try:
        source = artifact.source.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise UsageError(f"{artifact.name} is not UTF-8 text (byte offset {exc.start})") from None
    source = source.removeprefix("\ufeff")  # a byte-order mark from a Windows editor; CPython rejects it
    if source.startswith("#!"):  # a shebang line (`#!/usr/bin/env node`): blanked, keeping line numbers
        source = source[source.find("\n"):] if "\n" in source else ""
    if "\0" in source:
        raise UsageError(f"{artifact.name} contains NUL bytes; it is not a script")
    return source
