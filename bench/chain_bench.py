"""Lambda handlers, host calls and the XINA demo chain, in process.

    python bench/chain_bench.py [--runs 30]

Prints, side by side in one run:
- a handler against the plain script doing the same work (JS and Python): the issue's reference is
  "handlers cost what a plain script costs";
- one ``call('echo', 'echo', x)`` from JS and Python (100 calls in a run minus the same run without them);
- the XINA queue demo chain end to end (two function runs, four xina-queue calls, two s3 reads/writes):
  the whole chain against the sum of its function runs, so the difference is faasctl's own time
  (queue, tree, object directory, plugin dispatch); the issue's reference is "well under 100 ms".
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from faasctl.engine import Engine, Settings, artifact_from_bytes  # noqa: E402
from faasctl.inputs import FunctionInput  # noqa: E402
from faasctl.runtimes.base import RunOptions  # noqa: E402

PAIRS = {
    "js": ("return {n: $.n * 2}", "exports.handler = async (event, context) => ({n: event.n * 2});"),
    "py": ("return {'n': inputData['n'] * 2}", "def handler(event, context):\n    return {'n': event['n'] * 2}\n"),
}
CALLS = {
    "js": ("let x = 0; for (let i = 0; i < 100; i++) x += call('echo', 'echo', i); return x",
           "let x = 0; for (let i = 0; i < 100; i++) x += i; return x"),
    "py": ("x = 0\nfor i in range(100):\n    x += call('echo', 'echo', i)\nreturn x",
           "x = 0\nfor i in range(100):\n    x += i\nreturn x"),
}


def paired_ms(engine: Engine, first: tuple[str, str], second: tuple[str, str], runs: int) -> tuple[float, float]:
    """Medians of two functions' runs, taken alternately so that load on the machine hits both alike."""
    artifacts = [artifact_from_bytes(name, source.encode()) for source, name in (first, second)]
    value = FunctionInput.of({"n": 21})
    samples: list[list[float]] = [[], []]
    for index in range(runs + 1):
        for which, artifact in enumerate(artifacts):
            start = time.perf_counter()
            result = engine.run(artifact, value, options=RunOptions())
            elapsed = (time.perf_counter() - start) * 1000
            assert result.ok, result.error
            if index:  # the first round warms caches
                samples[which].append(elapsed)
    return statistics.median(samples[0]), statistics.median(samples[1])


def chain_overhead(home: Path, runs: int) -> tuple[float, float, float]:
    """Median of (whole chain, its function runs, the difference) in ms."""
    from faasctl.chain.objects import ObjectStore
    from faasctl.chain.runner import ChainRunner, load_chain_inputs

    examples = ROOT / "examples" / "xina"
    action, tasks, results = load_chain_inputs(str(examples / "run-action.json"), str(examples / "tasks.yaml"),
                                               str(examples / "action-results.json"))
    engine = Engine(Settings(cache_dir=home / "cache", data_dir=home / "data"))
    spent: list[float] = []
    real_run = engine.run

    def timed_run(*args, **kwargs):  # noqa: ANN002, ANN003, ANN202
        start = time.perf_counter()
        try:
            return real_run(*args, **kwargs)
        finally:
            spent.append((time.perf_counter() - start) * 1000)

    engine.run = timed_run  # type: ignore[method-assign]
    totals, inside = [], []
    for index in range(runs + 1):
        spent.clear()
        with tempfile.TemporaryDirectory() as objects:
            start = time.perf_counter()
            state = ChainRunner(engine, tasks, ObjectStore(Path(objects)), results).run(action)
            total = (time.perf_counter() - start) * 1000
        assert state.status() == "FINISHED", state.status()
        if index:  # the first chain compiles and caches
            totals.append(total)
            inside.append(sum(spent))
    overheads = [t - i for t, i in zip(totals, inside, strict=True)]
    return statistics.median(totals), statistics.median(inside), statistics.median(overheads)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=30)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp)
        engine = Engine(Settings(cache_dir=home / "cache", data_dir=home / "data"))
        print(f"{'':34}{'plain script':>14}{'handler':>12}   reference: handlers cost what a plain script costs")
        for lang, (plain, handler) in PAIRS.items():
            ending = ".js" if lang == "js" else ".py"
            a, b = paired_ms(engine, (plain, "plain" + ending), (handler, "handler" + ending), args.runs)
            print(f"{lang + ' run, median ms':34}{a:14.2f}{b:12.2f}   ({b - a:+.2f} ms)")
        print()
        for lang, (with_calls, without) in CALLS.items():
            ending = ".js" if lang == "js" else ".py"
            a, b = paired_ms(engine, (with_calls, "calls" + ending), (without, "nocalls" + ending), args.runs)
            label = f"{lang} call(echo), µs per call"
            print(f"{label:34}{(a - b) * 10:14.1f}   (100 calls: {a:.2f} ms, none: {b:.2f} ms)")
        print()
        total, inside, overhead = chain_overhead(home, max(5, args.runs // 3))
        print(f"XINA demo chain in process, median: {total:.1f} ms; its 2 function runs: {inside:.1f} ms; "
              f"faasctl's own time: {overhead:.2f} ms   reference: well under 100 ms")


if __name__ == "__main__":
    main()
