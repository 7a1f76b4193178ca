"""Where faasctl keeps state. ``FAASCTL_HOME`` relocates all of it (the tests point it at a temp dir)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import NamedTuple


class StateDirs(NamedTuple):
    cache: Path
    data: Path
    config: Path

    @classmethod
    def from_environment(cls, environ: os._Environ[str] | dict[str, str] | None = None) -> StateDirs:
        """Resolve the directories; only edges call this, the engine receives the result."""
        env = os.environ if environ is None else environ
        home = env.get("FAASCTL_HOME")
        if home:
            root = Path(home)
            return cls(cache=root / "cache", data=root / "data", config=root / "config")
        import platformdirs

        return cls(
            cache=Path(platformdirs.user_cache_dir("faasctl")),
            data=Path(platformdirs.user_data_dir("faasctl")),
            config=Path(platformdirs.user_config_dir("faasctl")),
        )
