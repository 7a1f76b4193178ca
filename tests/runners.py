"""Helpers shared by runtime tests: run a source text through an engine as a file of a given ending."""

from __future__ import annotations

from typing import Any

from faasctl.engine import artifact_from_bytes
from faasctl.inputs import FunctionInput
from faasctl.output import output_mode
from faasctl.runtimes.base import RunOptions


def run_source(engine, source: str | bytes, name: str, input: Any = None, *, output_json: Any = "auto",
               **limits: Any):
    """Run ``source`` as a function file called ``name`` (its ending picks the runtime)."""
    data = source.encode() if isinstance(source, str) else source
    artifact = artifact_from_bytes(name, data)
    function_input = FunctionInput.of({} if input is None else input)
    return engine.run(artifact, function_input, limits=limits, options=RunOptions(output_json=output_mode(output_json)))
