"""The engine: resolve the target, pick its runtime, merge limits, execute, parse the output.

No printing, no exits, no environment reads: edges (CLI, server, test runner) build ``Settings``,
call ``Engine.run`` and render the ``Result``.
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

from faasctl.errors import FaasError, InternalError, UsageError
from faasctl.inputs import EMPTY_INPUT, FunctionInput
from faasctl.limits import Limits
from faasctl.output import parse_output
from faasctl.registry import Registry, RuntimeDescriptor
from faasctl.result import Result, RunError, Stats, unicode_text
from faasctl.runtimes.base import Artifact, Execution, Invocation, RunOptions, Runtime

if TYPE_CHECKING:
    from faasctl.wasm.host import CompileNotice, WasmHost

OCI_PREFIX = "oci://"


class Settings(NamedTuple):
    """Everything an engine needs from its edge. Limits: defaults < ``limits`` < per-call overrides,
    then clamped to ``max_limits`` (the server's maxima)."""

    cache_dir: Path
    data_dir: Path
    limits: dict[str, Any] = {}
    max_limits: Limits | None = None
    runtime_dirs: tuple[Path, ...] = ()
    compile_notice: CompileNotice | None = None
    oci: dict[str, Any] = {}  # pull policy, credentials, insecure...


def artifact_from_bytes(name: str, source: bytes, *, path: Path | None = None,
                        media_type: str | None = None, ending: str | None = None) -> Artifact:
    name = unicode_text(name)  # a display name: a file name's undecodable bytes (lone surrogates) become U+FFFD
    return Artifact(
        name=name,
        source=source,
        digest=hashlib.sha256(source).hexdigest(),
        ending=(ending if ending is not None else Path(name).suffix).lower(),
        path=path,
        media_type=media_type,
    )


def read_target(target: str) -> Artifact:
    """A local file as an artifact; missing or unreadable files are usage errors."""
    from faasctl.files import TooLarge, read_capped
    from faasctl.limits import MAX_FUNCTION_FILE, format_size

    path = Path(target)
    try:
        source = read_capped(path, MAX_FUNCTION_FILE)
    except TooLarge as exc:
        raise UsageError(f"{target} is larger than the {format_size(exc.cap)} cap on function files") from None
    except FileNotFoundError:
        raise UsageError(f"no such file: {target}") from None
    except IsADirectoryError:
        raise UsageError(f"{target} is a directory, not a function file") from None
    except PermissionError:
        raise UsageError(f"cannot read {target}: permission denied") from None
    except OSError as exc:
        raise UsageError(f"cannot read {target}: {exc.strerror}") from None
    return artifact_from_bytes(path.name, source, path=path)


class Engine:
    """Holds the registry, the adapters and the wasm host. Several engines may live in one process."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._registry: Registry | None = None
        self._runtimes: dict[str, Runtime] = {}
        self._host: WasmHost | None = None
        self._plugins: Any = None
        self._lock = threading.RLock()

    # -- RuntimeContext --------------------------------------------------------------------------------

    @property
    def cache_dir(self) -> Path:
        return self.settings.cache_dir

    @property
    def data_dir(self) -> Path:
        return self.settings.data_dir

    def wasm_host(self) -> WasmHost:
        if self._host is None:
            with self._lock:
                if self._host is None:
                    from faasctl.wasm.host import WasmHost

                    self._host = WasmHost(self.settings.cache_dir, self.settings.compile_notice)
        return self._host

    def plugins(self) -> Any:
        if self._plugins is None:
            with self._lock:
                if self._plugins is None:
                    from faasctl.plugins.registry import PluginRegistry

                    self._plugins = PluginRegistry.from_entry_points()
        return self._plugins

    # -- registry ---------------------------------------------------------------------------------------

    @property
    def registry(self) -> Registry:
        if self._registry is None:
            self._registry = Registry.load(self.settings.cache_dir, self.settings.runtime_dirs)
        return self._registry

    def runtime(self, name: str) -> Runtime:
        descriptor = self.registry.get(name)
        with self._lock:
            runtime = self._runtimes.get(descriptor.name)
            if runtime is None:
                runtime = descriptor.adapter_class()(descriptor, self)
                self._runtimes[descriptor.name] = runtime
        return runtime

    def select_runtime(self, artifact: Artifact, explicit: str | None = None) -> RuntimeDescriptor:
        """Explicit name first, then the media type, then the file ending."""
        registry = self.registry
        if explicit:
            return registry.get(explicit)
        if artifact.media_type:
            found = registry.for_media_type(artifact.media_type)
            if found:
                return found
        found = registry.for_ending(artifact.ending) if artifact.ending else None
        if found:
            return found
        raise UsageError(
            f"cannot tell the runtime of {artifact.name}: unknown file ending {artifact.ending or '(none)'!r}",
            hint="pass --runtime NAME; known runtimes: " + ", ".join(registry.names()),
        )

    # -- targets ----------------------------------------------------------------------------------------

    def resolve(self, target: str) -> Artifact:
        """A path or an ``oci://`` reference to an artifact."""
        if target.startswith(OCI_PREFIX):
            from faasctl.oci.resolve import resolve_reference

            return resolve_reference(target[len(OCI_PREFIX):], self.settings)
        return read_target(target)

    def limits_for(self, descriptor: RuntimeDescriptor, overrides: dict[str, Any] | None = None) -> Limits:
        limits = Limits().merged(**descriptor.limits).merged(**self.settings.limits).merged(**(overrides or {}))
        return limits.clamped(self.settings.max_limits) if self.settings.max_limits else limits

    # -- running ----------------------------------------------------------------------------------------

    def run(
        self,
        target: str | Artifact,
        input: FunctionInput = EMPTY_INPUT,
        *,
        runtime: str | None = None,
        limits: dict[str, Any] | None = None,
        options: RunOptions | None = None,
    ) -> Result:
        """Run one function once. Raises ``FaasError`` when it cannot run at all; how a started run
        ended (timeout, trap, limit, invalid output) is in the returned ``Result``."""
        artifact = target if isinstance(target, Artifact) else self.resolve(target)
        descriptor = self.select_runtime(artifact, runtime)
        adapter = self.runtime(descriptor.name)
        options = options or RunOptions()
        _check_accepted(descriptor, options)
        invocation = Invocation(artifact, input, self.limits_for(descriptor, limits), options)
        started = time.perf_counter()
        try:
            execution = adapter.execute(invocation)
        except FaasError:
            raise
        except Exception as exc:  # a bug in an adapter must not take the host down
            raise InternalError(f"{descriptor.name} runtime failed: {type(exc).__name__}: {exc}") from exc
        duration = (time.perf_counter() - started) * 1000
        return self._result(descriptor, artifact, invocation, execution, duration)

    def _result(self, descriptor: RuntimeDescriptor, artifact: Artifact, invocation: Invocation,
                execution: Execution, duration_ms: float) -> Result:
        stats = Stats(
            duration_ms=duration_ms,
            memory_peak_bytes=execution.memory_peak_bytes,
            fuel_used=execution.fuel_used,
            output_bytes=len(execution.output),
            cold_start_ms=execution.cold_start_ms,
        )
        common = {"runtime": descriptor.name, "function": artifact.name, "stats": stats,
                  "logs": execution.logs, "output": execution.output}
        if execution.error is not None:
            return Result(error=execution.error, **common)
        parsed = parse_output(execution.output, invocation.options.output_json)
        if parsed.error:
            return Result(error=RunError("InvalidOutput", parsed.error), **common)
        return Result(result=parsed.result, output_type=parsed.output_type, **common)


def _check_accepted(descriptor: RuntimeDescriptor, options: RunOptions) -> None:
    """Options a runtime would silently ignore are usage errors (``--dir`` means nothing to JavaScript).
    ``kv_path`` is an environment setting (the server passes its store to every run), not checked."""
    from faasctl.registry import OPTION_FLAGS

    for name in ("invoke", "args", "env", "dirs"):
        values = getattr(options, name)
        for value in (values,) if isinstance(values, str) else values or ():
            if not value.isascii():
                try:
                    value.encode("utf-8")
                except UnicodeEncodeError:  # undecodable bytes in argv arrive as lone surrogates
                    raise UsageError(f"{OPTION_FLAGS.get(name, name)} value {value!r} is not valid UTF-8") from None
    given = [name for name in OPTION_FLAGS if name != "kv_path" and getattr(options, name)]
    refused = [OPTION_FLAGS[name] for name in given if name not in descriptor.accepts]
    if refused:
        hint = "--handler is for JavaScript and Python handlers" if refused == ["--handler"] else \
            "those options are for WebAssembly modules"
        raise UsageError(f"the {descriptor.name} runtime does not take {', '.join(refused)}", hint=hint)


def make_compile_notice(write: Callable[[str], None]) -> CompileNotice:
    """A compile notice that writes one line before and one after a slow compile."""

    def notice(label: str, size: int) -> Callable[[float], None]:
        write(f"compiling {label} ({size / 1e6:.1f} MB) once; later runs load it from the cache…")
        return lambda ms: write(f"compiled {label} in {ms / 1000:.1f}s")

    return notice
