"""Flow benchmark: ``faasctl flow run`` side by side with the same tasks as separate ``faasctl run`` calls.

    python bench/flow_bench.py [--runs N] [--iterations N]

1. The Conductor wasm worker's ``wasm-example`` (a GLOBAL___py then a GLOBAL___js task), end to end through
   the CLI, against the two scripts run as two ``faasctl run`` processes.
2. The same workflow in process (``Flow`` + ``LocalExecutor`` on a warm engine), against two ``Engine.run``.
3. A DO_WHILE over a JS task, 100 iterations by default (so 100 task runs and 100 loopCondition
   evaluations, each a QuickJS run), in process and through the CLI, against the 100 task runs alone as
   ``Engine.run`` calls and as separate ``faasctl run`` processes.
4. The overhead per request beyond the function's own run: the flow's wall time minus the sum of the
   runs' ``duration_ms``, divided by the number of requests; and the pure interpreter alone, driven with
   ready-made results (no engine), per request.

Prints medians in milliseconds. The CLI numbers include Python start-up and the module cache load.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
WASM_EXAMPLE = ROOT / "examples" / "wasm-example.json"
INPUT = {"enter_your_name": "John"}


def median_ms(samples: list[float]) -> float:
    return statistics.median(samples) * 1000


def row(label: str, value_ms: float, reference_ms: float | None = None, reference: str = "") -> str:
    text = f"  {label:<58} {value_ms:10.2f} ms"
    if reference_ms is not None:
        text += f"   vs {reference:<34} {reference_ms:10.2f} ms"
    return text


def loop_workflow(iterations: int) -> dict[str, Any]:
    return {"name": "loop100", "version": 1, "tasks": [{
        "name": "loop", "taskReferenceName": "loop_ref", "type": "DO_WHILE",
        "inputParameters": {"limit": iterations},
        "loopCondition": "$.loop_ref.iteration < $.limit",
        "loopOver": [{"name": "GLOBAL___js", "taskReferenceName": "step_ref", "type": "SIMPLE",
                      "inputParameters": {"i": "${loop_ref.output.iteration}", "scriptExpression": "return $.i * 2"}}],
    }]}


def timed(call: Any, runs: int) -> list[float]:
    samples = []
    for _ in range(runs):
        started = time.perf_counter()
        call()
        samples.append(time.perf_counter() - started)
    return samples


def cli(*args: str) -> None:
    exe = Path(sys.executable).with_name("faasctl")
    proc = subprocess.run([str(exe), *args], capture_output=True, stdin=subprocess.DEVNULL)
    if proc.returncode != 0:
        raise SystemExit(f"faasctl {' '.join(args)} failed: {proc.stderr.decode()}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--iterations", type=int, default=100)
    args = parser.parse_args()
    os.environ.setdefault("FAASCTL_HOME", tempfile.mkdtemp(prefix="faasctl-flow-bench-"))

    from faasctl.engine import Engine, Settings, artifact_from_bytes
    from faasctl.flow.executor import LocalExecutor
    from faasctl.flow.interpreter import Flow
    from faasctl.inputs import FunctionInput
    from faasctl.paths import StateDirs
    from faasctl.runtimes.base import RunOptions

    dirs = StateDirs.from_environment()
    engine = Engine(Settings(cache_dir=dirs.cache, data_dir=dirs.data))
    definition = json.loads(WASM_EXAMPLE.read_text())
    py_task, js_task = definition["tasks"]
    tmp = Path(tempfile.mkdtemp(prefix="faasctl-flow-bench-"))
    py_file, js_file = tmp / "create_json.py", tmp / "name_length.js"
    py_file.write_text(py_task["inputParameters"]["scriptExpression"])
    js_file.write_text(js_task["inputParameters"]["scriptExpression"])
    loop_file = tmp / "loop.json"
    loop_file.write_text(json.dumps(loop_workflow(args.iterations)))
    step_file = tmp / "step.js"
    step_file.write_text("return $.i * 2")

    class TimedEngine:
        """The engine, with the wall time of every ``Engine.run`` call recorded (the runs' own cost)."""

        def __init__(self) -> None:
            self.runs: list[float] = []

        def run(self, *a: Any, **k: Any) -> Any:
            started = time.perf_counter()
            try:
                return engine.run(*a, **k)
            finally:
                self.runs.append((time.perf_counter() - started) * 1000)

    def run_flow(wf: dict[str, Any], value: Any) -> tuple[dict[str, Any], float]:
        timed_engine = TimedEngine()
        started = time.perf_counter()
        flow = Flow(wf, value, workflow_id="bench")
        document = LocalExecutor(timed_engine, jobs=1).execute(flow)  # type: ignore[arg-type]
        wall = (time.perf_counter() - started) * 1000
        assert document["status"] == "COMPLETED", document["reasonForIncompletion"]
        return document, (wall - sum(timed_engine.runs)) / max(1, len(timed_engine.runs))

    py_artifact = artifact_from_bytes("create_json.py", py_file.read_bytes())
    js_artifact = artifact_from_bytes("name_length.js", js_file.read_bytes())
    step_artifact = artifact_from_bytes("step.js", step_file.read_bytes())
    strict = RunOptions(output_json="true")

    def two_runs() -> None:
        first = engine.run(py_artifact, FunctionInput.of({"lambdaValue": "John"}), options=strict)
        engine.run(js_artifact, FunctionInput.of({"lambdaValue": first.result}), options=strict)

    def loop_runs() -> None:
        for i in range(1, args.iterations + 1):
            engine.run(step_artifact, FunctionInput.of({"i": i}))

    two_runs()  # warm: compile or load both runtimes once
    print(f"faasctl flow bench (medians of {args.runs} runs; {os.cpu_count()} cores)")
    print("wasm-example (GLOBAL___py then GLOBAL___js):")
    cli_flow = timed(lambda: cli("flow", "run", str(WASM_EXAMPLE), "-d", json.dumps(INPUT)), args.runs)
    cli_runs = timed(lambda: (cli("run", str(py_file), "-d", '{"lambdaValue": "John"}', "--output-json", "true"),
                              cli("run", str(js_file), "-d", '{"lambdaValue": {"name": "John"}}')), args.runs)
    print(row("CLI: faasctl flow run", median_ms(cli_flow), median_ms(cli_runs), "2 x faasctl run"))
    overheads: list[float] = []
    in_flow = timed(lambda: overheads.append(run_flow(definition, INPUT)[1]), args.runs)
    in_runs = timed(two_runs, args.runs)
    print(row("in process: Flow + LocalExecutor", median_ms(in_flow), median_ms(in_runs), "2 x Engine.run"))
    print(row("  overhead per request beyond its run", statistics.median(overheads)))

    print(f"DO_WHILE over a JS task, {args.iterations} iterations ({args.iterations} task runs + "
          f"{args.iterations} loopCondition runs):")
    loop_def = loop_workflow(args.iterations)
    overheads = []
    document, _ = run_flow(loop_def, {})
    assert document["tasks"][0]["outputData"]["iteration"] == args.iterations
    in_loop = timed(lambda: overheads.append(run_flow(loop_def, {})[1]), args.runs)
    in_loop_runs = timed(loop_runs, args.runs)
    print(row("in process: Flow + LocalExecutor", median_ms(in_loop), median_ms(in_loop_runs),
              f"{args.iterations} x Engine.run (tasks only)"))
    print(row("  overhead per request beyond its run", statistics.median(overheads)))
    cli_loop = timed(lambda: cli("flow", "run", str(loop_file)), max(1, args.runs // 2))
    separate = max(5, args.iterations // 10)
    cli_each = timed(lambda: cli("run", str(step_file), "-d", '{"i": 1}'), separate)
    print(row("CLI: faasctl flow run", median_ms(cli_loop), median_ms(cli_each) * args.iterations,
              f"{args.iterations} x faasctl run (est. from {separate})"))

    print("the interpreter alone (ready-made results, no engine):")
    envelope = {"ok": True, "result": 1, "logs": [], "error": None}
    requests = 0

    def pure() -> None:
        nonlocal requests
        flow = Flow(loop_def, {}, workflow_id="pure")
        step = flow.start(0)
        while step["run"]:
            request = step["run"][0]
            requests += 1
            more = request["kind"] == "eval" and request["input"]["loop_ref"]["iteration"] < args.iterations
            answer = envelope if request["kind"] == "task" else {**envelope, "result": more}
            step = flow.complete(request["id"], answer, 0)

    samples = timed(pure, args.runs)
    per_request = median_ms(samples) / (2 * args.iterations)
    print(row("  per request (start/complete, expressions, document)", per_request))

    from faasctl.result import Result, Stats

    class InstantEngine:
        """Answers every run at once: what remains is the driver's and the interpreter's own time."""

        def run(self, target: Any, function_input: Any, **kwargs: Any) -> Result:
            value = function_input.value
            more = isinstance(value, dict) and isinstance(value.get("loop_ref"), dict) and \
                value["loop_ref"]["iteration"] < args.iterations
            return Result("js", "x", Stats(0.0), result=more if "loop_ref" in value else 1)

    def instant() -> None:
        document = LocalExecutor(InstantEngine(), jobs=1).execute(  # type: ignore[arg-type]
            Flow(loop_def, {}, workflow_id="instant"))
        assert document["status"] == "COMPLETED", document["reasonForIncompletion"]

    samples = timed(instant, args.runs)
    print(row("the local driver + interpreter, per request (instant runs)",
              median_ms(samples) / (2 * args.iterations)))


if __name__ == "__main__":
    main()
