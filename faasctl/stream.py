"""Many inputs through one function: one JSON input per line in, one result envelope per line out.

This is ``faasctl run --ndjson``, the way to push a hundred thousand events through a function in a
shell pipeline: the function is resolved once and every record runs on the same engine (so on one
compiled module), each in its own fresh sandbox as always. A record that fails, or a line that is not
JSON, is reported in its own envelope and the stream goes on. With ``jobs`` > 1 records run at once
and their envelopes still come out in input order; at most ``2 * jobs`` records are held at a time,
so memory stays bounded however long the stream is.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from typing import IO, Any, NamedTuple

from faasctl.errors import FaasError, InputError
from faasctl.inputs import FunctionInput, parse_json_input, parse_param
from faasctl.result import Result, RunError, Stats
from faasctl.runtimes.base import Artifact, RunOptions

MAX_LINE = 32 * 1024 * 1024  # bytes of one record; a longer line is an InputError, read past in chunks


class StreamSummary(NamedTuple):
    records: int
    failed: int

    @property
    def exit_code(self) -> int:
        """0 when every record succeeded, 1 when any failed (each envelope says how)."""
        return 1 if self.failed else 0


class StreamOptions(NamedTuple):
    runtime: str | None = None
    limits: dict[str, Any] = {}
    options: RunOptions = RunOptions()
    params: tuple[str, ...] = ()
    text: bool = False
    jobs: int = 1


def read_records(stream: IO[bytes], max_line: int = MAX_LINE) -> Iterator[tuple[int, bytes | None]]:
    """``(line number, bytes)`` per non-blank line; bytes None for a line longer than ``max_line``."""
    number = 0
    while True:
        line = stream.readline(max_line + 1)
        if not line:
            return
        number += 1
        if len(line) > max_line and not line.endswith(b"\n"):
            while True:  # skip the rest of the overlong line without holding it
                rest = stream.readline(1 << 20)
                if not rest or rest.endswith(b"\n"):
                    break
            yield number, None
            continue
        if line.strip():
            yield number, line


def record_input(number: int, line: bytes | None, params: tuple[str, ...], text: bool) -> FunctionInput:
    """The input of one line; raises ``InputError`` naming the line."""
    where = f"line {number}"
    if line is None:
        raise InputError(f"{where} is longer than {MAX_LINE // (1024 * 1024)} MiB")
    try:
        raw = line.decode("utf-8-sig" if number == 1 else "utf-8").rstrip("\r\n")
    except UnicodeDecodeError as exc:
        raise InputError(f"{where} is not valid UTF-8 (byte offset {exc.start})") from None
    if text:
        return FunctionInput.of(raw)
    value = parse_json_input(raw, where, hint=None)
    if params:
        if not isinstance(value, dict):
            raise InputError(f"--param needs an object input, but {where} holds {type(value).__name__}")
        value = dict(value)
        for pair in params:
            key, item = parse_param(pair)
            value[key] = item
    return FunctionInput.of(value)


def run_stream(engine: Any, target: str | Artifact, stream: IO[bytes], emit: Callable[[dict[str, Any]], None],
               settings: StreamOptions | None = None) -> StreamSummary:
    """Run ``target`` once per record of ``stream`` and ``emit`` each envelope, in input order.

    Raises ``FaasError`` only for what stops every record alike before the first one runs (a target
    that cannot be resolved, an unknown runtime); everything else is reported per record.
    """
    settings = settings or StreamOptions()
    artifact = target if isinstance(target, Artifact) else engine.resolve(target)
    runtime_name = engine.select_runtime(artifact, settings.runtime).name

    def one(number: int, line: bytes | None) -> dict[str, Any]:
        try:
            function_input = record_input(number, line, settings.params, settings.text)
            result = engine.run(artifact, function_input, runtime=settings.runtime, limits=settings.limits,
                                options=settings.options)
        except FaasError as exc:
            result = Result(runtime=runtime_name, function=artifact.name, stats=Stats(duration_ms=0.0),
                            error=RunError(exc.type_name, exc.message, exc.detail))
        return result.to_dict()

    records = failed = 0
    jobs = max(1, settings.jobs)
    if jobs == 1:
        for number, line in read_records(stream):
            envelope = one(number, line)
            records += 1
            failed += not envelope["ok"]
            emit(envelope)
        return StreamSummary(records, failed)
    pending: deque[Future[dict[str, Any]]] = deque()
    with ThreadPoolExecutor(max_workers=jobs, thread_name_prefix="faasctl-stream") as pool:
        for number, line in read_records(stream):
            pending.append(pool.submit(one, number, line))
            while len(pending) >= 2 * jobs or (pending and pending[0].done()):
                envelope = pending.popleft().result()
                records += 1
                failed += not envelope["ok"]
                emit(envelope)
        while pending:
            envelope = pending.popleft().result()
            records += 1
            failed += not envelope["ok"]
            emit(envelope)
    return StreamSummary(records, failed)


def stream_command(engine: Any, target: str, input_path: str | None, stdin: IO[bytes] | None, stdout: IO[str],
                   settings: StreamOptions) -> int:
    """``faasctl run TARGET --ndjson``: records from ``input_path`` (``-`` or None: ``stdin``), one compact
    envelope per line on ``stdout``, flushed as each is ready. Returns the exit code."""
    import json

    from faasctl.errors import UsageError

    if target == "-":
        raise UsageError("--ndjson reads its records from standard input, so the script must be a file")
    if settings.jobs < 1:
        raise UsageError(f"--jobs must be at least 1, not {settings.jobs}")

    def emit(envelope: dict[str, Any]) -> None:
        stdout.write(json.dumps(envelope, ensure_ascii=False, separators=(",", ":")) + "\n")
        stdout.flush()

    if input_path and input_path != "-":
        try:
            handle = open(input_path, "rb")  # noqa: SIM115 - closed below
        except FileNotFoundError:
            raise InputError(f"input file not found: {input_path}") from None
        except IsADirectoryError:
            raise InputError(f"input file is a directory: {input_path}") from None
        except OSError as exc:
            raise InputError(f"cannot read input file {input_path}: {exc.strerror}") from None
        with handle:
            return run_stream(engine, target, handle, emit, settings).exit_code
    if stdin is None:
        raise UsageError("--ndjson needs records on standard input or -i FILE")
    return run_stream(engine, target, stdin, emit, settings).exit_code
