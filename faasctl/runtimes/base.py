"""The runtime protocol: what the engine hands an adapter, and what it gets back."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple, Protocol

from faasctl.inputs import FunctionInput
from faasctl.limits import Limits
from faasctl.output import OutputMode
from faasctl.result import RunError

if TYPE_CHECKING:
    from faasctl.registry import RuntimeDescriptor
    from faasctl.wasm.host import WasmHost


class Artifact(NamedTuple):
    """The code of one function, resolved from a file, stdin, a deploy body or an OCI reference."""

    name: str
    source: bytes
    digest: str
    ending: str = ""
    path: Path | None = None
    media_type: str | None = None
    annotations: dict[str, str] = {}


class RunOptions(NamedTuple):
    """Options some runtimes use; every runtime ignores what does not concern it."""

    output_json: OutputMode = "auto"
    invoke: str | None = None
    args: tuple[str, ...] = ()
    abi: str | None = None
    wasi_args: str | None = None
    dirs: tuple[str, ...] = ()
    env: tuple[str, ...] = ()
    kv_path: str | None = None
    handler: str | None = None  # JS/Python: the Lambda handler to call (--handler)


class Invocation(NamedTuple):
    artifact: Artifact
    input: FunctionInput
    limits: Limits
    options: RunOptions


class Execution(NamedTuple):
    """How a run ended, before the engine parses the output. ``error`` None means it succeeded."""

    output: bytes
    logs: list[str]
    error: RunError | None = None
    memory_peak_bytes: int | None = None
    fuel_used: int | None = None
    cold_start_ms: float | None = None


class RuntimeContext(Protocol):
    """What an adapter may use from its engine (state lives on the engine, never in globals)."""

    @property
    def cache_dir(self) -> Path: ...

    @property
    def data_dir(self) -> Path: ...

    def wasm_host(self) -> WasmHost: ...

    def plugins(self) -> Any: ...


class Runtime(Protocol):
    descriptor: RuntimeDescriptor

    def execute(self, invocation: Invocation) -> Execution:
        """Run once in a fresh sandbox. Limits and guest failures go in ``Execution.error``;
        raises ``FaasError`` only when the function cannot be run at all."""
        ...

    def status(self) -> dict[str, Any]:
        """Facts for ``faasctl runtimes``: version, digest, whether the compiled form is cached."""
        ...
