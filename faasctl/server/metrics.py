"""Prometheus text exposition (format 0.0.4) of invocations, durations and the queue, written by hand:
a dozen lines do not justify a dependency."""

from __future__ import annotations

import threading
from collections.abc import Callable

BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)


def _label(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


class Metrics:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._invocations: dict[tuple[str, str], int] = {}
        self._buckets: dict[str, list[int]] = {}
        self._sums: dict[str, float] = {}
        self._counts: dict[str, int] = {}
        self._rejected = 0

    def observe(self, function: str, outcome: str, seconds: float) -> None:
        """One finished invocation; ``outcome`` is ``ok`` or the error type."""
        with self._lock:
            key = (function, outcome)
            self._invocations[key] = self._invocations.get(key, 0) + 1
            buckets = self._buckets.setdefault(function, [0] * len(BUCKETS))
            for index, bound in enumerate(BUCKETS):
                if seconds <= bound:
                    buckets[index] += 1
            self._sums[function] = self._sums.get(function, 0.0) + seconds
            self._counts[function] = self._counts.get(function, 0) + 1

    def rejected(self) -> None:
        with self._lock:
            self._rejected += 1

    def render(self, gauges: dict[str, tuple[str, Callable[[], float]]]) -> str:
        lines = ["# HELP faasctl_invocations_total Finished invocations by function and outcome.",
                 "# TYPE faasctl_invocations_total counter"]
        with self._lock:
            for (function, outcome), count in sorted(self._invocations.items()):
                lines.append(f'faasctl_invocations_total{{function="{_label(function)}",outcome="{_label(outcome)}"}}'
                             f" {count}")
            lines += ["# HELP faasctl_invocation_duration_seconds Wall-clock time of invocations, queue excluded.",
                      "# TYPE faasctl_invocation_duration_seconds histogram"]
            for function, buckets in sorted(self._buckets.items()):
                name = _label(function)
                for bound, count in zip(BUCKETS, buckets, strict=True):
                    lines.append(f'faasctl_invocation_duration_seconds_bucket{{function="{name}",le="{bound}"}} '
                                 f"{count}")
                lines.append(f'faasctl_invocation_duration_seconds_bucket{{function="{name}",le="+Inf"}} '
                             f"{self._counts[function]}")
                lines.append(f'faasctl_invocation_duration_seconds_sum{{function="{name}"}} {self._sums[function]:.6f}')
                lines.append(f'faasctl_invocation_duration_seconds_count{{function="{name}"}} {self._counts[function]}')
            lines += ["# HELP faasctl_rejected_total Invocations refused with 429 because the queue was full.",
                      "# TYPE faasctl_rejected_total counter", f"faasctl_rejected_total {self._rejected}"]
        for name, (help_text, read) in gauges.items():
            lines += [f"# HELP {name} {help_text}", f"# TYPE {name} gauge", f"{name} {read():g}"]
        return "\n".join(lines) + "\n"
