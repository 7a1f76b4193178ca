"""Request bodies to JSON: small ones on the event loop, large invoke bodies in a helper process.

Why a process and not a thread: ``json.loads`` holds the GIL for the whole parse, and a hostile 7.5 MB
``[[],[],...]`` takes seconds and becomes hundreds of MB of Python objects; in a thread that still freezes
the event loop (``/healthz`` included). The helper validates the body with the same strict rules and sends
back only the compact JSON text the guest will receive, so the server never holds the object tree. At most
``ByteBudget`` bytes are parsed at once, and the helper is replaced after a few jobs so its memory peak is
returned to the system.
"""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from faasctl.errors import InputError
from faasctl.inputs import FunctionInput, parse_json_input

HELPER_JOBS = 16  # large bodies a helper process parses before it is replaced


def parse_body(body: bytes) -> Any:
    """The body as a JSON value (strict: no NaN, no lone surrogates); ``InputError`` names line and column."""
    try:
        text = body.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InputError(f"the request body is not valid UTF-8 (byte offset {exc.start})") from None
    return parse_json_input(text, "the request body", hint=None)


def compact(body: bytes, member: str | None) -> tuple[bool, Any, str | None]:
    """In the helper: ``(True, fields, text)`` with the compact text of the body (or of its ``member``, and
    then the body's other top-level strings as ``fields``), or ``(False, message, None)``."""
    try:
        value = parse_body(body)
    except InputError as exc:
        return False, exc.message, None
    if member is not None:
        if not isinstance(value, dict):
            return False, "the request body must be a JSON object", None
        fields = {k: v for k, v in value.items() if k != member and isinstance(v, str | bool | int | float)}
        inner = value.get(member)
        text = None if inner is None else json.dumps(inner, ensure_ascii=False, separators=(",", ":"))
        return True, fields, text
    return True, {}, json.dumps(value, ensure_ascii=False, separators=(",", ":"))


class LazyInput(FunctionInput):
    """An input known by its JSON text; the value is parsed only if a runtime asks for it."""

    __slots__ = ()

    @property
    def value(self) -> Any:  # type: ignore[override]
        return json.loads(self.json_text)


class ByteBudget:
    """At most ``limit`` bytes of request bodies being parsed at once; others wait their turn."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.used = 0
        self._cond: asyncio.Condition | None = None

    @asynccontextmanager
    async def hold(self, size: int) -> AsyncIterator[None]:
        if self._cond is None:
            self._cond = asyncio.Condition()
        cond = self._cond
        size = min(size, self.limit)
        async with cond:
            await cond.wait_for(lambda: self.used + size <= self.limit)
            self.used += size
        try:
            yield
        finally:
            async with cond:
                self.used -= size
                cond.notify_all()


def exit_with_parent(parent: int) -> None:
    """Runs in the helper: a server killed outright (SIGKILL, OOM) cannot shut its pool down, and the
    helper would outlive it; it leaves as soon as its parent is gone."""
    import threading
    import time

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(0.5)
        os._exit(0)

    threading.Thread(target=watch, name="exit-with-parent", daemon=True).start()


class BodyParser:
    """The server process's parsing helper (started on the first large body)."""

    def __init__(self, budget: ByteBudget) -> None:
        self.budget = budget
        self._executor: Any = None

    async def compact(self, body: bytes, member: str | None = None) -> tuple[dict[str, Any], str | None]:
        """Fields and compact text as ``compact`` makes them; raises ``InputError``."""
        async with self.budget.hold(len(body)):
            future = self._pool().submit(compact, body, member)
            ok, fields, text = await asyncio.wrap_future(future)
        if not ok:
            raise InputError(fields)
        return fields, text

    def _pool(self) -> Any:
        if self._executor is None:
            import multiprocessing
            from concurrent.futures import ProcessPoolExecutor

            # spawn, not fork: this process has threads (the pool's workers) and forking it is unsafe
            self._executor = ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn"),
                                                 max_tasks_per_child=HELPER_JOBS, initializer=exit_with_parent,
                                                 initargs=(os.getpid(),))
        return self._executor

    def close(self) -> None:
        if self._executor is not None:
            self._executor.shutdown(wait=False, cancel_futures=True)
