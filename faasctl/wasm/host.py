"""The wasmtime side shared by every wasm runtime: one engine, an epoch ticker and the module cache.

One ``WasmHost`` lives on each ``Engine``. Modules compiled here are shared across runs and threads;
every run gets its own store and instance (see ``sandbox``).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import wasmtime

from faasctl.errors import ArtifactError
from faasctl.files import read_json, sha256_file, stat_stamp, write_atomic, write_json_atomic
from faasctl.wasm.cachepaths import module_cache_path

if TYPE_CHECKING:
    from wasmtime.component import Component

EPOCH_INTERVAL = 0.01  # seconds per epoch tick: the granularity of timeouts

# Called before a slow compile with (label, size in bytes); returns a callable to call when done.
CompileNotice = Callable[[str, int], Callable[[float], None]]


class EpochTicker:
    """Advances the engines' epochs while at least one run is active, and sleeps otherwise."""

    def __init__(self, interval: float = EPOCH_INTERVAL) -> None:
        self._engines: list[wasmtime.Engine] = []
        self._interval = interval
        self._lock = threading.Lock()
        self._active = 0
        self._thread: threading.Thread | None = None
        self._watchers: set[Callable[[], None]] = set()

    def attach(self, engine: wasmtime.Engine) -> None:
        with self._lock:
            self._engines.append(engine)

    def watch(self, callback: Callable[[], None]) -> None:
        """Call ``callback`` on every tick until ``unwatch``; it runs on the ticker thread."""
        with self._lock:
            self._watchers.add(callback)

    def unwatch(self, callback: Callable[[], None]) -> None:
        with self._lock:
            self._watchers.discard(callback)

    def ticks_for(self, seconds: float) -> int:
        return max(1, int(seconds / self._interval) + 1)

    def __enter__(self) -> EpochTicker:
        with self._lock:
            self._active += 1
            if self._thread is None:
                self._thread = threading.Thread(target=self._loop, name="faasctl-epoch", daemon=True)
                self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        with self._lock:
            self._active -= 1

    def _loop(self) -> None:
        while True:
            time.sleep(self._interval)
            with self._lock:
                if self._active == 0:
                    self._thread = None
                    return
                watchers = list(self._watchers)
                engines = list(self._engines)
            for engine in engines:
                engine.increment_epoch()
            for callback in watchers:
                callback()


class WasmHost:
    """Engine configuration, compile cache and epoch ticker for all wasm runs of one faasctl Engine."""

    def __init__(self, cache_dir: Path, compile_notice: CompileNotice | None = None) -> None:
        self.ticker = EpochTicker()
        self._engines: dict[bool, wasmtime.Engine] = {}
        self._cache_root = cache_dir
        self._compile_notice = compile_notice
        self.compile_notice = compile_notice  # also announces other one-time work (the Python component build)
        self._modules: dict[tuple[str, bool], wasmtime.Module] = {}
        self._lock = threading.Lock()
        self._engine_lock = threading.Lock()
        self.engine = self.engine_for(metered=False)

    def engine_for(self, metered: bool) -> wasmtime.Engine:
        """The engine for metered runs (``--fuel``) or unmetered ones. Fuel metering costs about a
        quarter of a CPython start, so it is only compiled in when a run asks for a fuel limit."""
        engine = self._engines.get(metered)
        if engine is None:
            with self._engine_lock:
                engine = self._engines.get(metered)
                if engine is None:
                    config = wasmtime.Config()
                    config.epoch_interruption = True
                    config.consume_fuel = metered
                    config.parallel_compilation = True
                    engine = self._engines[metered] = wasmtime.Engine(config)
                    self.ticker.attach(engine)
        return engine

    def cache_path(self, digest: str, metered: bool = False) -> Path:
        return module_cache_path(self._cache_root, digest, metered)

    def is_cached(self, digest: str, metered: bool = False) -> bool:
        return (digest, metered) in self._modules or self.cache_path(digest, metered).exists()

    def component(self, digest: str, load_bytes: Callable[[], bytes], label: str,
                  metered: bool = False) -> tuple[Component, float | None]:
        """The compiled component for ``digest``, cached like modules (see ``module``)."""
        from wasmtime.component import Component

        return self.module(digest, load_bytes, label, metered, kind=Component)  # type: ignore[return-value]

    def module(self, digest: str, load_bytes: Callable[[], bytes], label: str,
               metered: bool = False, kind: type = wasmtime.Module) -> tuple[wasmtime.Module, float | None]:
        """The compiled module for ``digest``, and how long loading it took in ms (None when it was
        already in memory): a disk-cache load takes about a millisecond, a compile seconds.

        The disk cache is only trusted when its stamp matches (see ``files``); a changed file is
        re-hashed, and a corrupt or unloadable one is compiled again, never loaded blindly.
        """
        key = (digest, metered)
        cached = self._modules.get(key)
        if cached is not None:
            return cached, None
        with self._lock:
            cached = self._modules.get(key)
            if cached is not None:
                return cached, None
            started = time.perf_counter()
            module = self._load_cached(digest, metered, kind)
            if module is None:
                module = self._compile(digest, load_bytes(), label, metered, kind)
            self._modules[key] = module
            return module, (time.perf_counter() - started) * 1000

    def _load_cached(self, digest: str, metered: bool, kind: type) -> wasmtime.Module | None:
        path = self.cache_path(digest, metered)
        meta_path = path.with_suffix(".json")
        meta = read_json(meta_path)
        if not isinstance(meta, dict) or not path.exists():
            return None
        try:
            current = stat_stamp(path)
            if meta.get("stat") != current:
                if sha256_file(path) != meta.get("sha256"):
                    path.unlink(missing_ok=True)
                    return None
                meta["stat"] = current
                write_json_atomic(meta_path, meta)
            return kind.deserialize_file(self.engine_for(metered), str(path))
        except (OSError, wasmtime.WasmtimeError):
            path.unlink(missing_ok=True)
            return None

    def _compile(self, digest: str, wasm: bytes, label: str, metered: bool, kind: type) -> wasmtime.Module:
        done = self._compile_notice(label, len(wasm)) if self._compile_notice and len(wasm) > 256 * 1024 else None
        started = time.perf_counter()
        try:
            module = kind(self.engine_for(metered), wasm)
        except wasmtime.WasmtimeError as exc:
            raise ArtifactError(f"{label} is not a valid WebAssembly module: {_first_line(exc)}") from None
        if done:
            done((time.perf_counter() - started) * 1000)
        path = self.cache_path(digest, metered)
        try:
            data = module.serialize()
            write_atomic(path, data)
            import hashlib

            meta = {"sha256": hashlib.sha256(data).hexdigest(), "stat": stat_stamp(path), "label": label}
            write_json_atomic(path.with_suffix(".json"), meta)
        except OSError:
            pass  # an unwritable cache costs a compile next time, nothing more
        return module


def _first_line(exc: BaseException) -> str:
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    return lines[0] if lines else type(exc).__name__
