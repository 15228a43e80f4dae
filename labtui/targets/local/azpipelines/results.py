"""Test results (JUnit XML) and code coverage (Cobertura XML), read as the publish tasks read
them; each becomes a plain summary a run keeps as JSON."""

from __future__ import annotations

import xml.etree.ElementTree as ElementTree
from dataclasses import asdict, dataclass, field
from pathlib import Path


class ReportError(ValueError):
    """A results file that cannot be read; the message names the file."""


@dataclass
class TestCase:
    name: str
    classname: str
    outcome: str  # passed | failed | skipped
    duration: float = 0.0
    message: str = ""


@dataclass
class TestRun:
    title: str
    files: list[str] = field(default_factory=list)
    cases: list[TestCase] = field(default_factory=list)

    def count(self, outcome: str) -> int:
        return sum(1 for case in self.cases if case.outcome == outcome)

    def to_json(self) -> dict[str, object]:
        return {"title": self.title, "files": self.files, "total": len(self.cases),
                "passed": self.count("passed"), "failed": self.count("failed"),
                "skipped": self.count("skipped"),
                "duration": round(sum(case.duration for case in self.cases), 3),
                "cases": [asdict(case) for case in self.cases]}


def parse_xml(path: Path) -> ElementTree.Element:
    try:
        return ElementTree.parse(path).getroot()
    except ElementTree.ParseError as error:
        raise ReportError(f"{path}: not valid XML ({error})") from None
    except OSError as error:
        raise ReportError(f"{path}: {error.strerror}") from None


def number(text: str | None) -> float:
    try:
        return float(text or 0)
    except ValueError:
        return 0.0


def read_junit(path: Path, run: TestRun) -> None:
    root = parse_xml(path)
    if root.tag not in ("testsuites", "testsuite"):
        raise ReportError(f"{path}: not a JUnit file (its root is <{root.tag}>)")
    run.files.append(str(path))
    for case in root.iter("testcase"):
        outcome, message = "passed", ""
        for child in case:
            if child.tag in ("failure", "error"):
                outcome = "failed"
                message = child.get("message") or (child.text or "").strip()
                break
            if child.tag == "skipped":
                outcome, message = "skipped", child.get("message") or ""
        run.cases.append(TestCase(case.get("name", ""), case.get("classname", ""), outcome,
                                  number(case.get("time")), message.splitlines()[0]
                                  if message else ""))


def read_cobertura(path: Path) -> dict[str, object]:
    root = parse_xml(path)
    if root.tag != "coverage":
        raise ReportError(f"{path}: not a Cobertura file (its root is <{root.tag}>)")
    files: dict[str, float] = {}
    for item in root.iter("class"):
        name = item.get("filename") or item.get("name") or ""
        files[name] = number(item.get("line-rate"))
    return {"file": str(path), "line_rate": number(root.get("line-rate")),
            "branch_rate": number(root.get("branch-rate")),
            "lines_covered": int(number(root.get("lines-covered"))),
            "lines_valid": int(number(root.get("lines-valid"))),
            "branches_covered": int(number(root.get("branches-covered"))),
            "branches_valid": int(number(root.get("branches-valid"))), "files": files}


def find_files(patterns: str, folder: Path) -> list[Path]:
    """The files that a task's multi-line glob input matches, below `folder`; a line starting
    with `!` removes what it matches."""
    found: dict[Path, None] = {}
    for line in patterns.splitlines():
        pattern = line.strip()
        if not pattern:
            continue
        exclude = pattern.startswith("!")
        pattern = pattern.removeprefix("!")
        if pattern == "**" or pattern.endswith("/**"):  # every file below, as minimatch means
            pattern += "/*"
        base = folder
        if Path(pattern).is_absolute():
            base, pattern = Path("/"), pattern.lstrip("/")
        matches = [path for path in base.glob(pattern) if path.is_file()]
        for path in matches:
            if exclude:
                found.pop(path, None)
            else:
                found[path] = None
    return sorted(found)
