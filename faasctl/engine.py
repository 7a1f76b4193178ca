"""The engine: resolve the target, pick its runtime, merge limits, execute, parse the output.

No printing, no exits, no environment reads: edges (CLI, server, test runner, flow runner, worker) build
``Settings`` (``faasctl.settings.load_settings`` reads the config file and environment for them), call
``Engine.run_spec`` or ``Engine.run`` and render the ``Result``. An engine holds worker processes (Lua):
``close()`` it, or use it as a context manager.
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any

from faasctl.cancel import HEARTBEAT_INTERVAL, CancelToken, Progress, interrupted_error
from faasctl.errors import FaasError, InternalError, UsageError
from faasctl.inputs import EMPTY_INPUT, FunctionInput
from faasctl.invocation import Artifact, Execution, Invocation, RunOptions
from faasctl.limits import Limits
from faasctl.output import parse_output
from faasctl.registry import Registry, RuntimeDescriptor
from faasctl.result import Result, RunError, Stats, unicode_text
from faasctl.settings import OciSettings, Settings

if TYPE_CHECKING:
    from faasctl.runtimes.base import Runtime
    from faasctl.spec import FunctionSpec
    from faasctl.wasm.host import CompileNotice, WasmHost

__all__ = ["Engine", "Settings", "OciSettings", "artifact_from_bytes", "read_target", "make_compile_notice"]

OCI_PREFIX = "oci://"


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
    """Holds the registry, the adapters and the wasm host. Several engines may live in one process.

    ``close()`` (or leaving a ``with`` block) ends the adapters' worker processes; a closed engine
    refuses new runs with ``UsageError``."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._registry: Registry | None = None
        self._runtimes: dict[str, Runtime] = {}
        self._host: WasmHost | None = None
        self._plugins: Any = None
        self._lock = threading.RLock()
        self._closed = False

    @classmethod
    def from_environment(cls, **explicit: Any) -> Engine:
        """An engine from the config file, the environment and ``explicit`` values, as
        ``faasctl.settings.load_settings`` takes them; for servers, flow runners and workers."""
        from faasctl.settings import load_settings

        return cls(load_settings(**explicit))

    def close(self) -> None:
        """End the adapters' worker processes. Idempotent; runs still going finish, then their workers end."""
        with self._lock:
            self._closed = True
            runtimes, self._runtimes = list(self._runtimes.values()), {}
        for runtime in runtimes:
            close = getattr(runtime, "close", None)  # adapters from plugins may predate close()
            if close is not None:
                close()

    def __enter__(self) -> Engine:
        return self

    def __exit__(self, kind: type[BaseException] | None, value: BaseException | None,
                 traceback: TracebackType | None) -> None:
        self.close()

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
            if self._closed:
                raise UsageError("this engine is closed")
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

    def resolve(self, target: str, pull: str | None = None) -> Artifact:
        """A path or an ``oci://`` reference to an artifact; ``pull`` overrides the settings' policy."""
        if target.startswith(OCI_PREFIX):
            from faasctl.oci.resolve import resolve_reference

            return resolve_reference(target[len(OCI_PREFIX):], self.settings, pull=pull)
        return read_target(target)

    def artifact_for(self, spec: FunctionSpec) -> Artifact:
        """The code a spec names: read, pulled (under the spec's pull policy) or taken as given.
        Inline code is named ``spec.name`` (default ``inline``); its ending, if any, is only a hint."""
        spec = spec.checked()
        if spec.artifact is not None:
            return spec.artifact
        if spec.code is not None:
            name = spec.name or "inline"
            return artifact_from_bytes(name, spec.code)
        if spec.image is not None:
            return self.resolve(OCI_PREFIX + spec.image, spec.pull)
        return read_target(str(spec.path))

    def limits_for(self, descriptor: RuntimeDescriptor, overrides: Mapping[str, Any] | None = None) -> Limits:
        limits = Limits().merged(**descriptor.limits).merged(**self.settings.limits).merged(**(overrides or {}))
        return limits.clamped(self.settings.max_limits) if self.settings.max_limits else limits

    # -- running ----------------------------------------------------------------------------------------

    def run_spec(self, spec: FunctionSpec, input: FunctionInput = EMPTY_INPUT, *,
                 cancel: CancelToken | None = None, progress: Progress | None = None) -> Result:
        """Run the function a ``FunctionSpec`` describes, once (see ``run``)."""
        artifact = self.artifact_for(spec)
        return self.run(artifact, input, runtime=spec.runtime, limits=spec.limits,
                        options=spec.options._replace(output_json=spec.output_json,
                                                     handler=spec.handler or spec.options.handler),
                        cancel=cancel,
                        progress=progress)

    def run(
        self,
        target: str | Artifact,
        input: FunctionInput = EMPTY_INPUT,
        *,
        runtime: str | None = None,
        limits: Mapping[str, Any] | None = None,
        options: RunOptions | None = None,
        cancel: CancelToken | None = None,
        progress: Progress | None = None,
    ) -> Result:
        """Run one function once. Raises ``FaasError`` when it cannot run at all; how a started run
        ended (timeout, trap, limit, invalid output) is in the returned ``Result``.

        ``cancel``: set from any thread, the run ends soon after with the error type ``Interrupted``
        (exit 130); a token already set stops the run before it starts. ``progress``: called about every
        second with the seconds so far, on this thread (a Temporal activity heartbeats from it); the run
        itself then goes on a helper thread. An exception from ``progress`` cancels the run and is raised."""
        artifact = target if isinstance(target, Artifact) else self.resolve(target)
        descriptor = self.select_runtime(artifact, runtime)
        adapter = self.runtime(descriptor.name)
        options = options or RunOptions()
        _check_accepted(descriptor, options)
        invocation = Invocation(artifact, input, self.limits_for(descriptor, limits), options, cancel)
        started = time.perf_counter()
        if cancel is not None and cancel.cancelled:
            execution = Execution(output=b"", logs=[], error=interrupted_error(cancel))
        elif progress is None:
            execution = self._execute(adapter, descriptor, invocation)
        else:
            execution = self._execute_reporting(adapter, descriptor, invocation, progress)
        duration = (time.perf_counter() - started) * 1000
        return self._result(descriptor, artifact, invocation, execution, duration)

    @staticmethod
    def _execute(adapter: Runtime, descriptor: RuntimeDescriptor, invocation: Invocation) -> Execution:
        try:
            return adapter.execute(invocation)
        except FaasError:
            raise
        except Exception as exc:  # a bug in an adapter must not take the host down
            raise InternalError(f"{descriptor.name} runtime failed: {type(exc).__name__}: {exc}") from exc

    def _execute_reporting(self, adapter: Runtime, descriptor: RuntimeDescriptor, invocation: Invocation,
                           progress: Progress) -> Execution:
        """``_execute`` on a helper thread while this one calls ``progress`` every HEARTBEAT_INTERVAL."""
        box: dict[str, Any] = {}
        done = threading.Event()

        def work() -> None:
            try:
                box["value"] = self._execute(adapter, descriptor, invocation)
            except BaseException as exc:  # handed to the calling thread
                box["error"] = exc
            finally:
                done.set()

        if invocation.cancel is None:  # progress may fail; the run must then stop too
            invocation = invocation._replace(cancel=CancelToken())
        started = time.monotonic()
        threading.Thread(target=work, name="faasctl-run", daemon=True).start()
        while not done.wait(HEARTBEAT_INTERVAL):
            try:
                progress(time.monotonic() - started)
            except BaseException:
                invocation.cancel.cancel("cancelled by the progress callback")  # type: ignore[union-attr]
                done.wait()
                raise
        if "error" in box:
            raise box["error"]
        return box["value"]  # type: ignore[no-any-return]

    def _result(self, descriptor: RuntimeDescriptor, artifact: Artifact, invocation: Invocation,
                execution: Execution, duration_ms: float) -> Result:
        stats = Stats(
            duration_ms=duration_ms,
            memory_peak_bytes=execution.memory_peak_bytes,
            fuel_used=execution.fuel_used,
            output_bytes=len(execution.output),
            cold_start_ms=execution.cold_start_ms,
        )
        common: dict[str, Any] = {"runtime": descriptor.name, "function": artifact.name, "stats": stats,
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
