"""How values cross Temporal: JSON that keeps the function's own key order, within the payload limit.

temporalio's default JSON converter writes objects with ``sort_keys=True``, so ``{"b":1,"a":2}`` returned
by a function would come back as ``{"a":2,"b":1}`` and ``faasctl run --temporal`` would print something
other than ``faasctl run``. The converter here is the default one with that single change; payloads stay
plain ``json/plain`` objects, readable in Temporal's UI and by any other SDK.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from temporalio.converter import DataConverter

    from faasctl.result import Result

# Temporal's default blob size limit (``limit.blobSize.error``): the server refuses larger payloads.
PAYLOAD_LIMIT = 2 * 1024 * 1024


def encoded_size(value: Any) -> int:
    """Bytes ``value`` takes as a payload (what the server measures against its limit)."""
    return len(json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode("utf-8", "surrogatepass"))


def data_converter() -> DataConverter:
    """The data converter every faasctl client, worker and replayer uses (they must agree)."""
    import dataclasses

    from temporalio.api.common.v1 import Payload
    from temporalio.converter import (
        CompositePayloadConverter,
        DataConverter,
        DefaultPayloadConverter,
        JSONPlainPayloadConverter,
    )

    class OrderedJSONPayloadConverter(JSONPlainPayloadConverter):
        def to_payload(self, value: Any) -> Payload | None:
            data = json.dumps(value, cls=self._encoder, separators=(",", ":"), ensure_ascii=False)
            return Payload(metadata={"encoding": self.encoding.encode()}, data=data.encode("utf-8"))

    class OrderedPayloadConverter(CompositePayloadConverter):
        def __init__(self) -> None:
            super().__init__(*(
                OrderedJSONPayloadConverter() if isinstance(converter, JSONPlainPayloadConverter) else converter
                for converter in DefaultPayloadConverter.default_encoding_payload_converters
            ))

    return dataclasses.replace(DataConverter.default, payload_converter_class=OrderedPayloadConverter)


def result_from_envelope(envelope: dict[str, Any]) -> Result:
    """The ``Result`` a worker's envelope describes, so the CLI renders it as it renders a local run."""
    from faasctl.result import Result, RunError, Stats

    stats = envelope.get("stats") or {}
    error = envelope.get("error")
    return Result(
        runtime=str(envelope.get("runtime") or ""),
        function=str(envelope.get("function") or ""),
        stats=Stats(duration_ms=float(stats.get("duration_ms") or 0.0),
                    memory_peak_bytes=stats.get("memory_peak_bytes"), fuel_used=stats.get("fuel_used"),
                    output_bytes=int(stats.get("output_bytes") or 0), cold_start_ms=stats.get("cold_start_ms")),
        result=envelope.get("result"),
        output_type=envelope.get("output_type"),
        logs=list(envelope.get("logs") or []),
        error=RunError(str(error.get("type")), str(error.get("message")), error.get("detail")) if error else None,
    )
