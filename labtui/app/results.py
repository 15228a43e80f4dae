"""The reports a step published (`ctx.publish`, remembered in the workspace), shown inline: test
cases (outcome, duration, and the failure message of the selected test), coverage per file with
a bar, and the totals — the same data the headless tables show (`labtui.reports`) — and
train-model's metrics."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import DataTable, Static

from labtui.reports import CoverageReport, ReportError, TestReport, bar

OUTCOME_STYLES = {"passed": "green", "failed": "bold red", "error": "bold red",
                  "skipped": "yellow"}
OUTCOME_MARKS = {"passed": "✓", "failed": "✗", "error": "✗", "skipped": "-"}


TESTS, COVERAGE, METRICS = "junit", "coverage", "metrics"
"""The names under which steps publish the results shown here (see `StepContext.publish`)."""
SHOWN = (METRICS, TESTS, COVERAGE)
"""What the results view shows, in this order."""


def has_reports(published: Mapping[str, Path]) -> bool:
    """Whether a unit published anything the results view shows."""
    return any(name in published for name in SHOWN)


def _coverage_style(percent: float) -> str:
    return "green" if percent >= 80 else "yellow" if percent >= 50 else "red"


class TestResults(Vertical):
    """The test cases of a JUnit report; the selected one's failure text below the table."""

    __test__ = False

    def __init__(self, report: TestReport, *, id: str | None = None) -> None:
        super().__init__(id=id, classes="results-block")
        self.report = report

    def compose(self) -> ComposeResult:
        summary = Text("Tests  ", style="bold")
        summary.append(self.report.summary, style="green" if self.report.ok else "red")
        yield Static(summary, classes="results-title")
        # Tests of one module (the lab's are) name it once, in the heading, so their names
        # fit a small terminal.
        modules = {case.classname for case in self.report.cases}
        module = modules.pop() if len(modules) == 1 else ""
        table: DataTable[Text | str] = DataTable(cursor_type="row", zebra_stripes=True,
                                                 classes="tests-table")
        table.add_columns("outcome", "time", f"test in {module}" if module else "test")
        for index, case in enumerate(self.report.cases):
            table.add_row(
                Text(f"{OUTCOME_MARKS[case.outcome]} {case.outcome}",
                     style=OUTCOME_STYLES[case.outcome]),
                Text(f"{case.duration:.2f} s", justify="right"),
                case.name if module else case.id, key=str(index))
        yield table
        yield Static("", classes="case-detail")

    def on_mount(self) -> None:
        table = self.query_one(DataTable)
        first_problem = next((i for i, case in enumerate(self.report.cases)
                              if case.outcome in ("failed", "error")), 0)
        if self.report.cases:
            table.move_cursor(row=first_problem)
            self._show_case(first_problem)

    @on(DataTable.RowHighlighted)
    def case_highlighted(self, event: DataTable.RowHighlighted) -> None:
        event.stop()
        self._show_case(event.cursor_row)

    def on_descendant_focus(self) -> None:
        self._show_case(self.query_one(DataTable).cursor_row)

    def on_descendant_blur(self) -> None:
        self._show_case(self.query_one(DataTable).cursor_row)

    def _show_case(self, index: int) -> None:
        """The selected case's outcome and failure text. A passing case adds nothing to its
        row until the attendee browses the table, so a small terminal keeps room for the
        coverage below."""
        detail = self.query_one(".case-detail", Static)
        if not 0 <= index < len(self.report.cases):
            detail.update("")
            detail.display = False
            return
        case = self.report.cases[index]
        detail.display = case.outcome != "passed" or self.query_one(DataTable).has_focus
        text = Text(case.id, style="bold")
        if case.outcome == "passed":
            text.append(f"  passed in {case.duration:.2f} s", style="green")
        else:
            text.append(f"  {case.outcome}: ", style=OUTCOME_STYLES[case.outcome])
            text.append(case.summary)
            body = [line for line in case.text.splitlines() if line.strip()][:8]
            if body:
                text.append("\n" + "\n".join(body), style="dim")
        detail.update(text)


class CoverageResults(Vertical):
    """Line coverage per file with a bar, and the total."""

    def __init__(self, report: CoverageReport, *, id: str | None = None) -> None:
        super().__init__(id=id, classes="results-block")
        self.report = report

    def compose(self) -> ComposeResult:
        report = self.report
        title = Text("Coverage  ", style="bold")
        title.append(f"{report.percent:.0f}% of {report.lines} lines",
                     style=_coverage_style(report.percent))
        yield Static(title, classes="results-title")
        table: DataTable[Text | str] = DataTable(cursor_type="row", classes="coverage-table")
        table.add_columns("file", "lines", "hit", "cover", "")
        for file in report.files:
            table.add_row(file.filename, Text(str(file.lines), justify="right"),
                          Text(str(file.hits), justify="right"),
                          Text(f"{file.percent:.0f}%", style=_coverage_style(file.percent),
                               justify="right"),
                          bar(file.percent, 12))
        table.add_row(Text("total", style="bold"),
                      Text(str(report.lines), style="bold", justify="right"),
                      Text(str(report.hits), style="bold", justify="right"),
                      Text(f"{report.percent:.0f}%", style="bold " + _coverage_style(
                          report.percent), justify="right"),
                      bar(report.percent, 12))
        yield table


class ReportsView(Vertical):
    """The result files a unit published that we know how to show: the model's metrics first,
    then the tests, then the coverage (the order an attendee asks "did it work?")."""

    def __init__(self, published: Mapping[str, Path], heading: str) -> None:
        super().__init__(classes="reports")
        self.published = dict(published)
        self.heading = heading

    def compose(self) -> ComposeResult:
        yield Static(f"[b]Results[/b] [dim]{self.heading}[/dim]", markup=True,
                     classes="section-title")
        for name in SHOWN:
            path = self.published.get(name)
            if path is None:
                continue
            if not path.is_file():
                yield Static(f"{name}: {path} is gone — run the step again to make it",
                             classes="report-error")
                continue
            yield from self._view(name, path)

    def on_mount(self) -> None:
        blocks = self.query_children(".results-block")
        if blocks:
            blocks.first().add_class("-first")  # right under the section title: no gap

    @staticmethod
    def _view(name: str, path: Path) -> ComposeResult:
        try:
            if name == TESTS:
                yield TestResults(TestReport.load(path))
            elif name == COVERAGE:
                yield CoverageResults(CoverageReport.load(path))
            else:
                from labtui.app.metrics import MetricsView, load_metrics

                yield MetricsView(load_metrics(path))
        except (ReportError, ValueError) as exc:
            yield Static(str(exc), classes="report-error")
