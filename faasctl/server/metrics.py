"""Prometheus text exposition (format 0.0.4) of invocations, durations and the queue, written by hand:
a dozen lines do not justify a dependency. With several server processes each publishes a snapshot to the
store once a second and ``/metrics`` adds the others' snapshots to its own live figures."""

from __future__ import annotations

import threading
from typing import Any

BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)


GAUGE_HELP = {
    "faasctl_queue_depth": "Invocations waiting for a worker.",
    "faasctl_running": "Invocations running now.",
    "faasctl_workers": "Configured worker threads.",
    "faasctl_abandoned_workers": "Workers replaced after a run overstayed its deadline.",
}


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

    def snapshot(self, gauges: dict[str, float]) -> dict[str, Any]:
        """Counters and gauges as plain JSON, for merging with other server processes."""
        with self._lock:
            return {"invocations": [[f, o, n] for (f, o), n in self._invocations.items()],
                    "buckets": dict(self._buckets), "sums": dict(self._sums), "counts": dict(self._counts),
                    "rejected": self._rejected, "gauges": gauges}

    def render(self, gauges: dict[str, float], others: list[dict[str, Any]] | None = None) -> str:
        """The exposition of this process's metrics plus ``others`` (snapshots of sibling processes)."""
        merged = self.snapshot(gauges)
        invocations = {(f, o): n for f, o, n in merged["invocations"]}
        buckets = {f: list(b) for f, b in merged["buckets"].items()}
        sums, counts, rejected, total_gauges = dict(merged["sums"]), dict(merged["counts"]), merged["rejected"], \
            dict(gauges)
        for other in others or []:
            for function, outcome, count in other.get("invocations", []):
                invocations[function, outcome] = invocations.get((function, outcome), 0) + count
            for function, values in other.get("buckets", {}).items():
                mine = buckets.setdefault(function, [0] * len(BUCKETS))
                buckets[function] = [a + b for a, b in zip(mine, values, strict=True)]
                sums[function] = sums.get(function, 0.0) + other["sums"].get(function, 0.0)
                counts[function] = counts.get(function, 0) + other["counts"].get(function, 0)
            rejected += other.get("rejected", 0)
            for name, value in other.get("gauges", {}).items():
                total_gauges[name] = total_gauges.get(name, 0) + value
        lines = ["# HELP faasctl_invocations_total Finished invocations by function and outcome.",
                 "# TYPE faasctl_invocations_total counter"]
        for (function, outcome), count in sorted(invocations.items()):
            lines.append(f'faasctl_invocations_total{{function="{_label(function)}",outcome="{_label(outcome)}"}}'
                         f" {count}")
        lines += ["# HELP faasctl_invocation_duration_seconds Wall-clock time of invocations, queue excluded.",
                  "# TYPE faasctl_invocation_duration_seconds histogram"]
        for function, counted in sorted(buckets.items()):
            name = _label(function)
            for bound, count in zip(BUCKETS, counted, strict=True):
                lines.append(f'faasctl_invocation_duration_seconds_bucket{{function="{name}",le="{bound}"}} {count}')
            total = counts[function]
            lines.append(f'faasctl_invocation_duration_seconds_bucket{{function="{name}",le="+Inf"}} {total}')
            lines.append(f'faasctl_invocation_duration_seconds_sum{{function="{name}"}} {sums[function]:.6f}')
            lines.append(f'faasctl_invocation_duration_seconds_count{{function="{name}"}} {counts[function]}')
        lines += ["# HELP faasctl_rejected_total Invocations refused with 429 because the queue was full.",
                  "# TYPE faasctl_rejected_total counter", f"faasctl_rejected_total {rejected}"]
        for name, value in total_gauges.items():
            lines += [f"# HELP {name} {GAUGE_HELP.get(name, name)}", f"# TYPE {name} gauge", f"{name} {value:g}"]
        return "\n".join(lines) + "\n"
