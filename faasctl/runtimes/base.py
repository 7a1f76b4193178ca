"""The runtime protocol: what an adapter is given (a ``RuntimeContext``) and must do (``Runtime``).

The values an adapter receives and returns live in ``faasctl.invocation``; they are re-exported here
because adapters and plugins written against earlier versions import them from this module.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from faasctl.invocation import Artifact, Execution, Invocation, RunOptions

if TYPE_CHECKING:
    from faasctl.registry import RuntimeDescriptor
    from faasctl.wasm.host import WasmHost

__all__ = ["Artifact", "Execution", "Invocation", "RunOptions", "Runtime", "RuntimeContext"]


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
        """Run once in a fresh sandbox. Limits and guest failures go in ``Execution.error``; a run whose
        ``invocation.cancel`` is set ends soon after with the error type ``Interrupted``. Raises
        ``FaasError`` only when the function cannot be run at all."""
        ...

    def close(self) -> None:
        """Release what the adapter holds (worker processes); the engine calls it once, at its close."""
        ...
