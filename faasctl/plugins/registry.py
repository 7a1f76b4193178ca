"""The plugin registry: Python plugins registered through the ``faasctl.plugins`` entry-point group.

A plugin is a class (or factory) named by an entry point; it is imported and instantiated on first
use only, so an engine that never calls a plugin never imports one. An instance handles an action by
a method ``action_<name>(payload, context)``; payloads and replies are JSON values. Every runtime
calls ``PluginRegistry.call`` with the same signature (Lua ``call``, the wasm host import).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ENTRY_POINT_GROUP = "faasctl.plugins"


class PluginError(Exception):
    """A plugin call that cannot be served: unknown plugin or action, bad payload, plugin failure.
    Guests see the message as a catchable error."""


@dataclass(frozen=True)
class PluginContext:
    """Who is calling: the function's name (plugins namespace their state by it) and where state lives."""

    function: str
    data_dir: Path
    kv_path: str | None = None


class PluginRegistry:
    """Plugins by name; factories are resolved lazily and instances kept for the registry's life."""

    def __init__(self, factories: dict[str, Callable[[], Any]] | None = None) -> None:
        self._factories: dict[str, Callable[[], Any]] = dict(factories or {})
        self._instances: dict[str, Any] = {}
        self._lock = threading.Lock()

    @classmethod
    def from_entry_points(cls) -> PluginRegistry:
        """Every plugin installed under the ``faasctl.plugins`` group; nothing is imported yet."""
        from importlib.metadata import entry_points

        factories: dict[str, Callable[[], Any]] = {}
        for point in entry_points(group=ENTRY_POINT_GROUP):
            factories.setdefault(point.name, _lazy(point))
        return cls(factories)

    def names(self) -> list[str]:
        return sorted(self._factories)

    def register(self, name: str, factory: Callable[[], Any]) -> None:
        with self._lock:
            self._factories[name] = factory
            self._instances.pop(name, None)

    def plugin(self, name: str) -> Any:
        with self._lock:
            if name in self._instances:
                return self._instances[name]
            factory = self._factories.get(name)
        if factory is None:
            known = ", ".join(self.names()) or "none"
            raise PluginError(f"unknown plugin {name!r} (installed plugins: {known})")
        try:
            instance = factory()
        except Exception as exc:
            raise PluginError(f"plugin {name!r} failed to load: {type(exc).__name__}: {exc}") from exc
        with self._lock:
            return self._instances.setdefault(name, instance)

    def actions(self, name: str) -> list[str]:
        plugin = self.plugin(name)
        return sorted(attr[len("action_"):] for attr in dir(plugin) if attr.startswith("action_"))

    def call(self, plugin: str, action: str, payload: Any, *, context: PluginContext) -> Any:
        """Run ``plugin.action(payload)``; raises ``PluginError`` with a clear message for an unknown
        plugin or action and for a plugin that fails."""
        instance = self.plugin(plugin)
        method = getattr(instance, f"action_{action}", None) if action.isidentifier() else None
        if not callable(method):
            known = ", ".join(self.actions(plugin)) or "none"
            raise PluginError(f"plugin {plugin!r} has no action {action!r} (actions: {known})")
        try:
            return method(payload, context)
        except PluginError:
            raise
        except Exception as exc:
            raise PluginError(f"{plugin}.{action} failed: {type(exc).__name__}: {exc}") from exc


def _lazy(point: Any) -> Callable[[], Any]:
    def make() -> Any:
        return point.load()()

    return make
