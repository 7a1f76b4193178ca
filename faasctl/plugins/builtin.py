"""The built-in plugins: ``echo`` (for tests and examples) and ``kv`` (a per-function key-value store)."""

from __future__ import annotations

import json
import sqlite3
import threading
from pathlib import Path
from typing import Any

from faasctl.plugins.registry import PluginContext, PluginError

MAX_KEY = 1024


class EchoPlugin:
    """``call("echo", "echo", x)`` returns ``x``: proves the round trip through the host."""

    def action_echo(self, payload: Any, context: PluginContext) -> Any:
        return payload


class KVPlugin:
    """get/put/delete (and list) in a namespace per function, in one SQLite file.

    The file is ``<data dir>/kv.sqlite3`` unless ``--kv PATH`` names another. Values are JSON. WAL
    mode, because it survived SIGKILL without losing an acknowledged commit in our trials.
    """

    def __init__(self) -> None:
        self._connections: dict[str, sqlite3.Connection] = {}
        self._lock = threading.RLock()

    def _db(self, context: PluginContext) -> sqlite3.Connection:
        path = Path(context.kv_path) if context.kv_path else context.data_dir / "kv.sqlite3"
        key = str(path)
        with self._lock:
            db = self._connections.get(key)
            if db is None:
                try:
                    path.parent.mkdir(parents=True, exist_ok=True)
                    db = sqlite3.connect(key, check_same_thread=False, isolation_level=None, timeout=10)
                    db.execute("PRAGMA journal_mode=WAL")
                    db.execute("CREATE TABLE IF NOT EXISTS kv (namespace TEXT NOT NULL, key TEXT NOT NULL, "
                               "value TEXT NOT NULL, PRIMARY KEY (namespace, key))")
                except (OSError, sqlite3.Error) as exc:
                    raise PluginError(f"kv: cannot open {path}: {exc}") from None
                self._connections[key] = db
            return db

    @staticmethod
    def _key(payload: Any) -> str:
        key = payload.get("key") if isinstance(payload, dict) else payload
        if not isinstance(key, str) or not key or len(key) > MAX_KEY:
            raise PluginError(f"kv: the key must be a non-empty string of at most {MAX_KEY} characters")
        return key

    def action_get(self, payload: Any, context: PluginContext) -> Any:
        """``get(key)`` or ``get({key=...})``: the stored value, or null."""
        row = self._db(context).execute("SELECT value FROM kv WHERE namespace = ? AND key = ?",
                                        (context.function, self._key(payload))).fetchone()
        return json.loads(row[0]) if row else None

    def action_put(self, payload: Any, context: PluginContext) -> Any:
        """``put({key=..., value=...})``: stores the value; returns true."""
        if not isinstance(payload, dict) or "value" not in payload:
            raise PluginError("kv: put expects {key = ..., value = ...}")
        text = json.dumps(payload["value"], ensure_ascii=False, allow_nan=False)
        with self._lock:
            self._db(context).execute("INSERT OR REPLACE INTO kv (namespace, key, value) VALUES (?, ?, ?)",
                                      (context.function, self._key(payload), text))
        return True

    def action_delete(self, payload: Any, context: PluginContext) -> Any:
        """``delete(key)``: true when a value was removed."""
        with self._lock:
            cursor = self._db(context).execute("DELETE FROM kv WHERE namespace = ? AND key = ?",
                                               (context.function, self._key(payload)))
        return cursor.rowcount > 0

    def action_list(self, payload: Any, context: PluginContext) -> Any:
        """``list()``: the keys of this function's namespace, sorted."""
        rows = self._db(context).execute("SELECT key FROM kv WHERE namespace = ? ORDER BY key",
                                         (context.function,)).fetchall()
        return [row[0] for row in rows]
