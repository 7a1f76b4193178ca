"""The values that travel between the engine and a runtime adapter: the code, the options, one run.

They live apart from the runtime protocol (``faasctl.runtimes.base``) so the wasm and OCI layers can use
them without importing the adapters that import those layers.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING, NamedTuple

from faasctl.inputs import FunctionInput
from faasctl.limits import Limits
from faasctl.output import OutputMode
from faasctl.result import RunError

if TYPE_CHECKING:
    from faasctl.cancel import CancelToken

NO_ANNOTATIONS: Mapping[str, str] = MappingProxyType({})


class Artifact(NamedTuple):
    """The code of one function, resolved from a file, stdin, a deploy body or an OCI reference."""

    name: str
    source: bytes
    digest: str
    ending: str = ""
    path: Path | None = None
    media_type: str | None = None
    annotations: Mapping[str, str] = NO_ANNOTATIONS


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
    cancel: CancelToken | None = None  # set from another thread: the run ends as Interrupted


class Execution(NamedTuple):
    """How a run ended, before the engine parses the output. ``error`` None means it succeeded."""

    output: bytes
    logs: list[str]
    error: RunError | None = None
    memory_peak_bytes: int | None = None
    fuel_used: int | None = None
    cold_start_ms: float | None = None
