"""Reporters: plain lines when piped (CI logs, grep), a rich summary with coloured diffs on a terminal."""

from __future__ import annotations

import difflib
from typing import IO, Any

from faasctl.testing.checks import Failure
from faasctl.testing.runner import CaseOutcome

MARKS = {"passed": "PASS", "failed": "FAIL", "error": "ERROR", "skipped": "SKIP"}


def diff_lines(failure: Failure) -> list[str]:
    """A unified diff of expected versus actual (empty when the failure carries none)."""
    if failure.expected is None or failure.actual is None:
        return []
    lines = list(difflib.unified_diff(failure.expected.splitlines(), failure.actual.splitlines(),
                                      "expected", "actual", lineterm="", n=3))
    return lines or [f"- expected: {failure.expected}", f"+ actual:   {failure.actual}"]


def summary_counts(outcomes: list[CaseOutcome]) -> dict[str, int]:
    counts = {status: 0 for status in MARKS}
    for outcome in outcomes:
        counts[outcome.status] += 1
    return counts


def summary_text(outcomes: list[CaseOutcome], seconds: float) -> str:
    counts = summary_counts(outcomes)
    parts = [f"{counts['passed']} passed"]
    names = {"failed": "failed", "error": "error" if counts["error"] == 1 else "errors", "skipped": "skipped"}
    parts += [f"{counts[s]} {names[s]}" for s in ("failed", "error", "skipped") if counts[s]]
    return f"{', '.join(parts)} in {seconds:.2f}s"


class PlainReporter:
    """One line per case as it ends, failure details indented under it, one summary line."""

    def __init__(self, stream: IO[str], verbose: bool = False) -> None:
        self.stream = stream
        self.verbose = verbose

    def case_done(self, outcome: CaseOutcome) -> None:
        case = outcome.case
        line = f"{MARKS[outcome.status]} {case.id} ({outcome.seconds * 1000:.0f} ms)"
        if outcome.status == "skipped":
            line = f"SKIP {case.id} ({outcome.failures[0].message if outcome.failures else 'skipped'})"
        out = [line]
        if outcome.status in ("failed", "error"):
            for failure in outcome.failures:
                out.append(f"    {failure.message}")
                out.extend(f"      {d}" for d in diff_lines(failure))
            if outcome.result is not None and outcome.result.logs:
                out.append("    logs:")
                out.extend(f"      {log}" for log in outcome.result.logs[-20:])
        self.stream.write("\n".join(out) + "\n")
        self.stream.flush()

    def finish(self, outcomes: list[CaseOutcome], seconds: float) -> None:
        self.stream.write(summary_text(outcomes, seconds) + "\n")
        self.stream.flush()


class RichReporter:
    """Ticks while running, then a panel per failure with a coloured diff, then the summary."""

    def __init__(self, stream: IO[str], verbose: bool = False) -> None:
        from rich.console import Console

        self.console = Console(file=stream, highlight=False)
        self.verbose = verbose

    def case_done(self, outcome: CaseOutcome) -> None:
        style = {"passed": "green", "failed": "red", "error": "red", "skipped": "yellow"}[outcome.status]
        mark = {"passed": "✓", "failed": "✗", "error": "✗", "skipped": "-"}[outcome.status]
        case = outcome.case
        timing = f"{outcome.seconds * 1000:.0f} ms" if outcome.status != "skipped" else "skipped"
        self.console.print(f"[{style}]{mark}[/] {_esc(case.name)} [dim]{_esc(str(case.file))} · {timing}[/]")

    def finish(self, outcomes: list[CaseOutcome], seconds: float) -> None:
        from rich.panel import Panel
        from rich.text import Text

        for outcome in outcomes:
            if outcome.status not in ("failed", "error"):
                continue
            body = Text()
            for failure in outcome.failures:
                body.append(failure.message + "\n", style="bold")
                for line in diff_lines(failure):
                    body.append(line + "\n", style=_diff_style(line))
            if outcome.result is not None and outcome.result.logs:
                body.append("logs:\n", style="dim")
                for log in outcome.result.logs[-20:]:
                    body.append(f"  {log}\n", style="dim")
            title = f"{MARKS[outcome.status]} {outcome.case.id}:{outcome.case.line}"
            body.rstrip()
            self.console.print(Panel(body, title=_esc(title), title_align="left",
                                     border_style="red"))
        counts = summary_counts(outcomes)
        style = "bold green" if counts["failed"] + counts["error"] == 0 else "bold red"
        self.console.print(f"[{style}]{_esc(summary_text(outcomes, seconds))}[/]")


def _diff_style(line: str) -> str:
    if line.startswith(("+++", "---")):
        return "bold"
    if line.startswith("+"):
        return "green"
    if line.startswith("-"):
        return "red"
    if line.startswith("@@"):
        return "cyan"
    return ""


def _esc(text: str) -> str:
    from rich.markup import escape

    return escape(text)


def make_reporter(stream: IO[str], rich: bool, verbose: bool = False) -> Any:
    return RichReporter(stream, verbose) if rich else PlainReporter(stream, verbose)
