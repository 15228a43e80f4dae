"""Test and coverage results of the test image: JUnit XML and Cobertura XML as plain data.

`TestReport` reads the JUnit XML pytest writes with `--junitxml` (either junit family: xunit1
with file and line attributes, xunit2 without; a `<testsuites>` root or a bare `<testsuite>`).
`CoverageReport` reads the Cobertura XML coverage.py writes with `--cov-report=xml`.
`render_tests` and `render_coverage` turn them into Rich tables for the headless console;
the app shows the same data its own way.

The files come from a container the attendee's code ran in, so they are parsed defensively:
a document type declaration (and with it any entity definition) is refused rather than
resolved, and every problem surfaces as a one-line `ReportError`.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from rich.table import Table
from rich.text import Text

Outcome = Literal["passed", "failed", "error", "skipped"]

_DOCTYPE = re.compile(rb"<!DOCTYPE|<!ENTITY", re.IGNORECASE)


class ReportError(Exception):
    """A results file is missing or is not the XML it should be; the message is one line."""


def _parse(data: str | bytes, kind: str, source: str) -> ET.Element:
    raw = data.encode("utf-8") if isinstance(data, str) else data
    where = f"{source}: " if source else ""
    if _DOCTYPE.search(raw):
        raise ReportError(f"{where}refusing a {kind} file with a DOCTYPE or ENTITY declaration")
    try:
        return ET.fromstring(raw)
    except ET.ParseError as exc:
        raise ReportError(f"{where}not a well-formed {kind} file: {exc}") from None


def _read(path: Path, kind: str) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise ReportError(f"cannot read the {kind} file {path}: {exc.strerror}") from None


def _float(element: ET.Element, name: str, source: str) -> float:
    value = element.get(name)
    if value is None or value == "":
        return 0.0
    try:
        return float(value.replace(",", ""))
    except ValueError:
        where = f"{source}: " if source else ""
        raise ReportError(f"{where}<{element.tag}> has a non-numeric {name}={value!r}") from None


def _first_line(text: str) -> str:
    return next((line.strip() for line in text.splitlines() if line.strip()), "")


# --------------------------------------------------------------------------------------------
# JUnit


@dataclass(frozen=True)
class TestCase:
    """One test: its outcome, how long it took, and for a failure the message and the text
    (pytest puts the assertion's explanation and traceback in the text)."""

    __test__ = False  # not a pytest test class, despite the name

    name: str
    classname: str
    outcome: Outcome
    duration: float
    message: str = ""
    text: str = ""
    file: str = ""
    line: int | None = None

    @property
    def id(self) -> str:
        """`classname::name`, or just the name when there is no class name."""
        return f"{self.classname}::{self.name}" if self.classname else self.name

    @property
    def summary(self) -> str:
        """One line saying what went wrong (empty for a passed test)."""
        if self.outcome == "passed":
            return ""
        return _first_line(self.message) or _first_line(self.text) or self.outcome


@dataclass(frozen=True)
class TestReport:
    """The test cases of one or more JUnit test suites, in file order."""

    __test__ = False

    cases: tuple[TestCase, ...]
    duration: float

    @classmethod
    def from_xml(cls, data: str | bytes, source: str = "") -> TestReport:
        """Parse JUnit XML text.

        Raises:
            ReportError: the text is not well-formed JUnit XML.
        """
        root = _parse(data, "JUnit XML", source)
        if root.tag not in ("testsuites", "testsuite"):
            where = f"{source}: " if source else ""
            raise ReportError(f"{where}not a JUnit XML file: the root element is <{root.tag}>")
        # iter() finds the root suite itself and nested ones; findall() only direct cases.
        suites = list(root.iter("testsuite"))
        cases = tuple(_case(case, source) for suite in suites for case in suite.findall("testcase"))
        if root.get("time"):
            duration = _float(root, "time", source)
        elif root.tag == "testsuites" and any(s.get("time") for s in root.findall("testsuite")):
            duration = sum(_float(suite, "time", source) for suite in root.findall("testsuite"))
        else:
            duration = sum(case.duration for case in cases)
        return cls(cases, duration)

    @classmethod
    def load(cls, path: Path) -> TestReport:
        """Read a JUnit XML file (what `pytest --junitxml=PATH` wrote)."""
        return cls.from_xml(_read(path, "JUnit XML"), str(path))

    def count(self, outcome: Outcome) -> int:
        return sum(1 for case in self.cases if case.outcome == outcome)

    @property
    def total(self) -> int:
        return len(self.cases)

    @property
    def passed(self) -> int:
        return self.count("passed")

    @property
    def failed(self) -> int:
        return self.count("failed")

    @property
    def errors(self) -> int:
        return self.count("error")

    @property
    def skipped(self) -> int:
        return self.count("skipped")

    @property
    def ok(self) -> bool:
        """True when at least one test ran and none failed or errored."""
        return self.total > self.skipped and self.failed == 0 and self.errors == 0

    @property
    def problems(self) -> tuple[TestCase, ...]:
        """The failed and errored tests."""
        return tuple(case for case in self.cases if case.outcome in ("failed", "error"))

    @property
    def summary(self) -> str:
        """ "3 tests: 2 passed, 1 failed in 0.41 s" (outcomes with no tests left out)."""
        parts = [
            f"{number} {word}"
            for number, word in (
                (self.passed, "passed"),
                (self.failed, "failed"),
                (self.errors, "errors" if self.errors != 1 else "error"),
                (self.skipped, "skipped"),
            )
            if number
        ]
        noun = "test" if self.total == 1 else "tests"
        return f"{self.total} {noun}: {', '.join(parts) or 'none ran'} in {self.duration:.2f} s"


def _case(element: ET.Element, source: str) -> TestCase:
    outcome: Outcome = "passed"
    message_parts: list[str] = []
    text_parts: list[str] = []
    # A test that fails and then errors in teardown carries both; failure decides the outcome.
    results: tuple[tuple[str, Outcome], ...] = (
        ("failure", "failed"),
        ("error", "error"),
        ("skipped", "skipped"),
    )
    for tag, result in results:
        for child in element.findall(tag):
            if outcome == "passed":
                outcome = result
            if child.get("message"):
                message_parts.append(child.get("message", ""))
            if child.text and child.text.strip():
                text_parts.append(child.text.strip())
    line = element.get("line")
    return TestCase(
        name=element.get("name", ""),
        classname=element.get("classname", ""),
        outcome=outcome,
        duration=_float(element, "time", source),
        message="\n".join(message_parts),
        text="\n\n".join(text_parts),
        file=element.get("file", ""),
        line=int(line) if line and line.isdigit() else None,
    )


# --------------------------------------------------------------------------------------------
# Cobertura


@dataclass(frozen=True)
class FileCoverage:
    """Line coverage of one source file."""

    filename: str
    lines: int
    hits: int
    missing: tuple[int, ...] = ()

    @property
    def percent(self) -> float:
        return 100.0 * self.hits / self.lines if self.lines else 100.0


@dataclass(frozen=True)
class CoverageReport:
    """Line coverage per file, as coverage.py's Cobertura XML states it."""

    files: tuple[FileCoverage, ...]
    sources: tuple[str, ...] = ()

    @classmethod
    def from_xml(cls, data: str | bytes, source: str = "") -> CoverageReport:
        """Parse Cobertura XML text.

        Raises:
            ReportError: the text is not well-formed Cobertura XML.
        """
        root = _parse(data, "Cobertura XML", source)
        if root.tag != "coverage":
            where = f"{source}: " if source else ""
            raise ReportError(f"{where}not a Cobertura XML file: the root element is <{root.tag}>")
        by_file: dict[str, dict[int, int]] = {}
        for element in root.iter("class"):
            filename = element.get("filename") or element.get("name") or ""
            hits = by_file.setdefault(filename, {})
            lines = element.find("lines")
            for line in lines.iter("line") if lines is not None else ():
                number = int(_float(line, "number", source))
                hits[number] = hits.get(number, 0) + int(_float(line, "hits", source))
        files = tuple(
            FileCoverage(
                filename,
                lines=len(hits),
                hits=sum(1 for count in hits.values() if count > 0),
                missing=tuple(sorted(number for number, count in hits.items() if count == 0)),
            )
            for filename, hits in sorted(by_file.items())
        )
        sources = tuple(element.text.strip() for element in root.iter("source") if element.text)
        return cls(files, sources)

    @classmethod
    def load(cls, path: Path) -> CoverageReport:
        """Read a Cobertura XML file (what `--cov-report=xml:PATH` wrote)."""
        return cls.from_xml(_read(path, "Cobertura XML"), str(path))

    @property
    def lines(self) -> int:
        return sum(file.lines for file in self.files)

    @property
    def hits(self) -> int:
        return sum(file.hits for file in self.files)

    @property
    def percent(self) -> float:
        return 100.0 * self.hits / self.lines if self.lines else 100.0


# --------------------------------------------------------------------------------------------
# Rendering

_OUTCOME_STYLES: dict[str, str] = {
    "passed": "green",
    "failed": "bold red",
    "error": "bold red",
    "skipped": "yellow",
}


def _coverage_style(percent: float) -> str:
    return "green" if percent >= 80 else "yellow" if percent >= 50 else "red"


def render_tests(report: TestReport) -> Table:
    """A table of the test cases: test, outcome, duration, and what went wrong."""
    table = Table(title="Tests", caption=report.summary, expand=False)
    table.add_column("test", overflow="fold")
    table.add_column("outcome")
    table.add_column("time", justify="right")
    table.add_column("why", overflow="fold", max_width=60)
    for case in report.cases:
        table.add_row(
            case.id,
            Text(case.outcome, style=_OUTCOME_STYLES[case.outcome]),
            f"{case.duration:.2f} s",
            case.summary,
        )
    return table


def bar(percent: float, width: int = 20) -> Text:
    """A bar of `width` cells, filled to `percent`."""
    filled = round(width * max(0.0, min(percent, 100.0)) / 100)
    text = Text("█" * filled, style=_coverage_style(percent))
    text.append("░" * (width - filled), style="dim")
    return text


def render_coverage(report: CoverageReport) -> Table:
    """A table of line coverage per file with a bar, and the total in the footer."""
    table = Table(title="Coverage", show_footer=True, expand=False)
    table.add_column("file", footer="total", overflow="fold")
    table.add_column("lines", footer=str(report.lines), justify="right")
    table.add_column("hit", footer=str(report.hits), justify="right")
    table.add_column(
        "cover",
        footer=Text(f"{report.percent:.0f}%", style=_coverage_style(report.percent)),
        justify="right",
    )
    table.add_column("", footer=bar(report.percent), no_wrap=True)
    for file in report.files:
        table.add_row(
            file.filename,
            str(file.lines),
            str(file.hits),
            Text(f"{file.percent:.0f}%", style=_coverage_style(file.percent)),
            bar(file.percent),
        )
    return table


def failure_lines(report: TestReport, max_text_lines: int = 30) -> Iterable[str]:
    """What a failed step shows: each failed or errored test, why, and its failure text."""
    for case in report.problems:
        yield f"{case.outcome.upper()} {case.id}: {case.summary}"
        lines = case.text.splitlines()
        yield from (f"    {line}" for line in lines[:max_text_lines])
        if len(lines) > max_text_lines:
            yield f"    … {len(lines) - max_text_lines} more lines in the JUnit file"
