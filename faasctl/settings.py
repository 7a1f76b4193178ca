"""What an engine is built from, and the one place that reads it from the config file and environment.

``Settings`` is a plain value; ``load_settings`` makes one from (lowest precedence first) the defaults,
the config file (``faasctl.config``), the environment (``FAASCTL_HOME`` through ``faasctl.paths``) and
explicit values. The CLI, the server, the flow runner and the worker all call it, so none of them needs
the CLI to build an engine.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, NamedTuple

if TYPE_CHECKING:  # types only: a Protocol class costs start-up time on every `faasctl run`
    from typing import Protocol

    from faasctl.limits import Limits
    from faasctl.wasm.host import CompileNotice

    class ProgressBar(Protocol):
        def update(self, n: int) -> None: ...

        def close(self) -> None: ...

    # ``(label, total bytes) -> bar``: how a pull shows a download (the CLI draws a rich bar on a terminal).
    ProgressFactory = Callable[[str, int], ProgressBar]

NO_LIMITS: Mapping[str, Any] = MappingProxyType({})
DEFAULT_OCI_MAX_SIZE = 256 * 1024 * 1024


class OciSettings(NamedTuple):
    """How ``oci://`` targets are fetched. ``pull`` is the default policy; a ``FunctionSpec`` (or
    ``Engine.resolve(..., pull=)``) sets its own per run. ``offline`` forbids any network access."""

    pull: str = "missing"
    offline: bool = False
    insecure: bool = False  # plain HTTP to a non-loopback registry
    username: str | None = None
    password: str | None = None
    docker_config: str | None = None  # the directory holding config.json
    credentials_helper: str | None = None
    max_size: int = DEFAULT_OCI_MAX_SIZE  # largest layer accepted, bytes
    timeout: float = 30.0  # seconds per request
    progress: ProgressFactory | None = None

    @classmethod
    def of(cls, value: OciSettings | Mapping[str, Any] | None) -> OciSettings:
        """Settings from a mapping of the same keys (config files and older callers give dicts);
        unknown keys are a bug in the caller, so they raise ``TypeError``."""
        if value is None:
            return cls()
        if isinstance(value, OciSettings):
            return value
        return cls(**{k: v for k, v in value.items() if v is not None})


class Settings(NamedTuple):
    """Everything an engine needs from its edge. Limits: descriptor defaults < ``limits`` < per-call
    overrides, then clamped to ``max_limits`` (the server's maxima)."""

    cache_dir: Path
    data_dir: Path
    limits: Mapping[str, Any] = NO_LIMITS
    max_limits: Limits | None = None
    runtime_dirs: tuple[Path, ...] = ()
    compile_notice: CompileNotice | None = None
    oci: OciSettings = OciSettings()


def load_settings(*, config: str | None = None, cwd: str | None = None,
                  environ: Mapping[str, str] | None = None, read_config: bool = True,
                  limits: Mapping[str, Any] | None = None, max_limits: Limits | None = None,
                  runtime_dirs: tuple[Path, ...] = (), compile_notice: CompileNotice | None = None,
                  oci: OciSettings | Mapping[str, Any] | None = None) -> Settings:
    """Settings from the config file (``config`` names one; else ``faasctl.yaml`` from ``cwd`` up and the
    user's ``config.yaml``), the environment (``environ``, default ``os.environ``: ``FAASCTL_HOME``) and
    the explicit values, which win. Raises ``UsageError`` for an invalid config file or limit."""
    from faasctl.paths import StateDirs

    dirs = StateDirs.from_environment(dict(environ) if environ is not None else None)
    loaded: dict[str, Any] = {}
    if read_config:
        from faasctl.config import load_config

        loaded = load_config(config, dirs, cwd if cwd is not None else os.getcwd())
    merged_limits = {**loaded.get("limits", {}), **{k: v for k, v in (limits or {}).items() if v is not None}}
    if merged_limits:
        from faasctl.limits import Limits

        Limits().merged(**merged_limits)  # a bad default is refused now, not on the first run
    explicit_oci = OciSettings.of(oci)._asdict() if isinstance(oci, OciSettings) else dict(oci or {})
    oci_settings = OciSettings.of({**loaded.get("oci", {}), **explicit_oci})
    return Settings(
        cache_dir=dirs.cache,
        data_dir=dirs.data,
        limits=MappingProxyType(merged_limits) if merged_limits else NO_LIMITS,
        max_limits=max_limits,
        runtime_dirs=(*loaded.get("runtime_dirs", ()), *runtime_dirs),
        compile_notice=compile_notice,
        oci=oci_settings,
    )
