"""The server's state in one SQLite file (WAL mode): deployed functions and invocation results.

WAL with ``synchronous=NORMAL`` keeps every committed transaction across a SIGKILL of the server (measured:
see pitfalls); a deploy or an invocation is only acknowledged to the client after its row is committed.
One connection per server process, guarded by a lock: writes are a few microseconds each and come from the
event loop and the worker threads alike; several server processes share the file (WAL lets readers run
beside the one writer, and ``busy_timeout`` queues the writers).

Reads of functions on the request path take metadata only (``size`` is ``length(source)``, which SQLite
answers from the record header): a list of eight 50 MB functions must not load 400 MB. The source is read
by digest, once per process, when a function is first run.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from faasctl.errors import UsageError

SCHEMA = """
CREATE TABLE IF NOT EXISTS functions (
    name TEXT PRIMARY KEY,
    runtime TEXT NOT NULL,
    filename TEXT NOT NULL,
    media_type TEXT,
    source BLOB NOT NULL,
    digest TEXT NOT NULL,
    spec TEXT NOT NULL,
    created REAL NOT NULL,
    updated REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS invocations (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    function TEXT NOT NULL,
    state TEXT NOT NULL,
    envelope TEXT,
    created REAL NOT NULL,
    finished REAL
);
CREATE INDEX IF NOT EXISTS invocations_finished ON invocations (finished);
CREATE TABLE IF NOT EXISTS process_metrics (
    slot INTEGER PRIMARY KEY,
    data TEXT NOT NULL,
    updated REAL NOT NULL
);
"""
META_COLUMNS = "name, runtime, filename, media_type, length(source), digest, spec, created, updated"

INTERRUPTED = "interrupted by restart"


@dataclass(frozen=True)
class FunctionRecord:
    """One deployed function's metadata. ``spec`` holds limits, output mode, run options, origin and face
    metadata; the code itself is read separately (``Store.source``)."""

    name: str
    runtime: str
    filename: str
    media_type: str | None
    size: int
    digest: str
    spec: dict[str, Any]
    created: float
    updated: float


@dataclass(frozen=True)
class InvocationRecord:
    id: int
    function: str
    state: str  # queued | running | done
    envelope: dict[str, Any] | None
    created: float
    finished: float | None


class Store:
    """Functions and invocations. ``retention`` seconds: how long finished results stay readable."""

    def __init__(self, path: Path, retention: float) -> None:
        self.path = path
        self.retention = retention
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(str(path), check_same_thread=False, isolation_level=None, timeout=10)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.executescript(SCHEMA)
        except sqlite3.DatabaseError as exc:
            raise UsageError(f"cannot open the store {path}: {exc}") from None
        except OSError as exc:
            raise UsageError(f"cannot open the store {path}: {exc.strerror}") from None
        self._lock = threading.Lock()

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def journal_mode(self) -> str:
        with self._lock:
            return str(self._db.execute("PRAGMA journal_mode").fetchone()[0])

    # -- functions ---------------------------------------------------------------------------------------

    def put_function(self, record: FunctionRecord, source: bytes, *, replace: bool = True) -> bool:
        """Insert (or replace, when ``replace``); True when the name was new. With ``replace`` False an
        existing name is left as it is and False is returned (one transaction: no race between processes)."""
        verb = "INSERT OR REPLACE" if replace else "INSERT OR IGNORE"
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                existed = self._db.execute("SELECT 1 FROM functions WHERE name = ?", (record.name,)).fetchone()
                if existed is None or replace:
                    self._db.execute(
                        f"{verb} INTO functions VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                        (record.name, record.runtime, record.filename, record.media_type, source, record.digest,
                         json.dumps(record.spec), record.created, record.updated),
                    )
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")
        return existed is None

    def get_function(self, name: str) -> FunctionRecord | None:
        with self._lock:
            row = self._db.execute(f"SELECT {META_COLUMNS} FROM functions WHERE name = ?", (name,)).fetchone()
        return _function(row) if row else None

    def list_functions(self) -> list[FunctionRecord]:
        with self._lock:
            rows = self._db.execute(f"SELECT {META_COLUMNS} FROM functions ORDER BY name").fetchall()
        return [_function(row) for row in rows]

    def source(self, name: str, digest: str) -> bytes | None:
        """The code of a function, if it is still the version with ``digest``."""
        with self._lock:
            row = self._db.execute("SELECT source FROM functions WHERE name = ? AND digest = ?",
                                   (name, digest)).fetchone()
        return bytes(row[0]) if row else None

    def delete_function(self, name: str) -> bool:
        with self._lock:
            cursor = self._db.execute("DELETE FROM functions WHERE name = ?", (name,))
        return cursor.rowcount > 0

    # -- invocations ---------------------------------------------------------------------------------------

    def new_invocation(self, function: str) -> int:
        with self._lock:
            cursor = self._db.execute(
                "INSERT INTO invocations (function, state, created) VALUES (?, 'queued', ?)", (function, time.time()))
        return int(cursor.lastrowid or 0)

    def forget(self, invocation_id: int) -> None:
        """Drop an invocation that was never admitted (the client got 429, not an id)."""
        with self._lock:
            self._db.execute("DELETE FROM invocations WHERE id = ?", (invocation_id,))

    def record_finished(self, function: str, envelope: dict[str, Any], created: float) -> int:
        """A blocking invocation, written once when it ends (its id is only told with its answer, so
        nothing acknowledged depends on an earlier row); returns its id."""
        with self._lock:
            cursor = self._db.execute(
                "INSERT INTO invocations (function, state, envelope, created, finished) VALUES (?, 'done', ?, ?, ?)",
                (function, json.dumps(envelope, ensure_ascii=False), created, time.time()))
        return int(cursor.lastrowid or 0)

    def mark_running(self, invocation_id: int) -> None:
        with self._lock:
            self._db.execute("UPDATE invocations SET state = 'running' WHERE id = ? AND state = 'queued'",
                             (invocation_id,))

    def finish(self, invocation_id: int, envelope: dict[str, Any]) -> None:
        with self._lock:
            self._db.execute("UPDATE invocations SET state = 'done', envelope = ?, finished = ? WHERE id = ?",
                             (json.dumps(envelope, ensure_ascii=False), time.time(), invocation_id))

    def get_invocation(self, invocation_id: int) -> InvocationRecord | None:
        """The invocation, or None when unknown or past retention."""
        with self._lock:
            row = self._db.execute("SELECT * FROM invocations WHERE id = ?", (invocation_id,)).fetchone()
        if row is None:
            return None
        record = InvocationRecord(row[0], row[1], row[2], json.loads(row[3]) if row[3] else None, row[4], row[5])
        if record.finished is not None and record.finished + self.retention < time.time():
            return None
        return record

    def purge_expired(self) -> int:
        with self._lock:
            cursor = self._db.execute("DELETE FROM invocations WHERE finished IS NOT NULL AND finished < ?",
                                      (time.time() - self.retention,))
        return cursor.rowcount

    def recover(self, envelope_for: Any) -> int:
        """At start-up: invocations left queued or running by a previous process failed with
        ``interrupted by restart``; ``envelope_for(function)`` builds their envelope. Returns how many."""
        with self._lock:
            rows = self._db.execute("SELECT id, function FROM invocations WHERE state != 'done'").fetchall()
            now = time.time()
            self._db.execute("BEGIN")
            for invocation_id, function in rows:
                self._db.execute("UPDATE invocations SET state = 'done', envelope = ?, finished = ? WHERE id = ?",
                                 (json.dumps(envelope_for(function)), now, invocation_id))
            self._db.execute("COMMIT")
        return len(rows)

    def put_process_metrics(self, slot: int, data: str) -> None:
        with self._lock:
            self._db.execute("INSERT OR REPLACE INTO process_metrics VALUES (?, ?, ?)", (slot, data, time.time()))

    def process_metrics(self, except_slot: int) -> list[str]:
        """Other server processes' metric snapshots (see ``Metrics.snapshot``)."""
        with self._lock:
            rows = self._db.execute("SELECT data FROM process_metrics WHERE slot != ?", (except_slot,)).fetchall()
        return [row[0] for row in rows]

    def clear_process_metrics(self) -> None:
        with self._lock:
            self._db.execute("DELETE FROM process_metrics")

    def counts(self) -> dict[str, int]:
        with self._lock:
            functions = self._db.execute("SELECT COUNT(*) FROM functions").fetchone()[0]
        return {"functions": int(functions)}


def _function(row: tuple[Any, ...]) -> FunctionRecord:
    return FunctionRecord(row[0], row[1], row[2], row[3], int(row[4]), row[5], json.loads(row[6]), row[7], row[8])
