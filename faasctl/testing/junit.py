"""JUnit XML for CI systems: one ``testsuite`` per case file, one ``testcase`` per case named by ``name``."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from pathlib import Path

from faasctl.testing.runner import CaseOutcome

# XML 1.0 cannot carry most control characters, even escaped; guests can log anything.
_INVALID_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def _clean(text: str) -> str:
    return _INVALID_XML.sub("\ufffd", text)


def _details(outcome: CaseOutcome) -> str:
    parts = []
    for failure in outcome.failures:
        parts.append(failure.message)
        if failure.expected is not None:
            parts.append(f"--- expected\n{failure.expected}\n+++ actual\n{failure.actual}")
    return _clean("\n".join(parts))


def to_xml(outcomes: list[CaseOutcome]) -> bytes:
    root = ET.Element("testsuites", name="faasctl test")
    by_file: dict[Path, list[CaseOutcome]] = {}
    for outcome in outcomes:
        by_file.setdefault(outcome.case.file, []).append(outcome)
    totals = {"tests": 0, "failures": 0, "errors": 0, "skipped": 0, "time": 0.0}
    for file, items in by_file.items():
        counts = {
            "tests": len(items),
            "failures": sum(o.status == "failed" for o in items),
            "errors": sum(o.status == "error" for o in items),
            "skipped": sum(o.status == "skipped" for o in items),
            "time": sum(o.seconds for o in items),
        }
        attributes = {k: (f"{v:.3f}" if k == "time" else str(v)) for k, v in counts.items()}
        suite = ET.SubElement(root, "testsuite", {"name": _clean(str(file)), **attributes})
        for key, value in counts.items():
            totals[key] += value
        for outcome in items:
            _testcase(suite, outcome)
    for key, value in totals.items():
        root.set(key, f"{value:.3f}" if key == "time" else str(int(value)))
    ET.indent(root)
    return ET.tostring(root, encoding="utf-8", xml_declaration=True) + b"\n"


def _testcase(suite: ET.Element, outcome: CaseOutcome) -> None:
    case = outcome.case
    element = ET.SubElement(suite, "testcase", name=_clean(case.name), classname=_clean(_classname(case.file)),
                            file=_clean(str(case.file)), line=str(case.line), time=f"{outcome.seconds:.3f}")
    if outcome.status in ("failed", "error"):
        tag = "failure" if outcome.status == "failed" else "error"
        child = ET.SubElement(element, tag, message=_clean(outcome.failures[0].message),
                              type=_error_type(outcome))
        child.text = _details(outcome)
    elif outcome.status == "skipped":
        ET.SubElement(element, "skipped", message=_clean(outcome.failures[0].message if outcome.failures else ""))
    if outcome.result is not None and outcome.result.logs:
        ET.SubElement(element, "system-err").text = _clean("\n".join(outcome.result.logs))


def _classname(file: Path) -> str:
    name = file.name[: -len(".faas.yaml")] if file.name.endswith(".faas.yaml") else file.stem
    parent = str(file.parent).strip("./").replace("/", ".").replace("\\", ".")
    return f"{parent}.{name}" if parent else name


def _error_type(outcome: CaseOutcome) -> str:
    if outcome.result is not None and outcome.result.error is not None:
        return outcome.result.error.type
    return "AssertionError" if outcome.status == "failed" else "FaasError"


def check_writable(path: str) -> None:
    """Fail before any case runs when the report could not be written afterwards (a usage error then
    would hide the suite's own result)."""
    import os

    from faasctl.errors import UsageError

    target = Path(path)
    if not path or target.is_dir():
        raise UsageError(f"cannot write JUnit report {path!r}: give a file name")
    parent = target.parent if str(target.parent) else Path(".")
    if not parent.is_dir() or not os.access(parent, os.W_OK) or (target.exists() and not os.access(target, os.W_OK)):
        raise UsageError(f"cannot write JUnit report {path}: its directory is missing or not writable")


def write(path: str, outcomes: list[CaseOutcome]) -> None:
    from faasctl.errors import UsageError

    try:
        Path(path).write_bytes(to_xml(outcomes))
    except OSError as exc:
        raise UsageError(f"cannot write JUnit report {path}: {exc.strerror}") from None
