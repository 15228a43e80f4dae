"""JUnit and Cobertura results of the test image, parsed and rendered.

The fixtures are real: pytest + pytest-cov ran Project_One-Tests against a trained model, in
the test image (xunit1, passing) and on the host with extra tests (xunit2, one failing, one
skipped).
"""

from __future__ import annotations

from pathlib import Path

import pytest
from rich.console import Console

from labtui.reports import (
    CoverageReport,
    ReportError,
    TestReport,
    bar,
    failure_lines,
    render_coverage,
    render_tests,
)

FIXTURES = Path(__file__).parent / "fixtures" / "reports"


def text_of(renderable: object) -> str:
    console = Console(width=140, record=True, color_system=None)
    console.print(renderable)
    return console.export_text()


def test_passing_run_from_the_test_image() -> None:
    report = TestReport.load(FIXTURES / "junit-passed-xunit1.xml")
    assert report.total == report.passed == 1
    assert report.ok
    (case,) = report.cases
    assert case.id == "tests.test_model::test_init_populates_x_scaler"
    assert case.outcome == "passed"
    assert case.file == "tests/test_model.py"
    assert case.line == 9
    assert case.duration == pytest.approx(1.684)
    assert report.duration == pytest.approx(2.016)
    assert report.summary == "1 test: 1 passed in 2.02 s"


def test_failing_run_names_the_test_and_why() -> None:
    report = TestReport.load(FIXTURES / "junit-failed-xunit2.xml")
    assert (report.total, report.passed, report.failed, report.skipped, report.errors) == (
        5,
        3,
        1,
        1,
        0,
    )
    assert not report.ok
    (failed,) = report.problems
    assert failed.id == "tests.test_model::test_estimate_is_negative"
    assert failed.file == "" and failed.line is None  # xunit2 has neither
    assert failed.summary == "AssertionError: a census weight is never negative"
    assert "assert 191369.4167752492 < 0" in failed.message
    assert 'answer = provider.run(\'{"age": 37, "hours-per-week": 40.0}\')' in failed.text
    skipped = next(case for case in report.cases if case.outcome == "skipped")
    assert skipped.summary == "waiting for a second model"
    assert report.summary == "5 tests: 3 passed, 1 failed, 1 skipped in 3.36 s"
    lines = list(failure_lines(report))
    assert lines[0] == (
        "FAILED tests.test_model::test_estimate_is_negative: "
        "AssertionError: a census weight is never negative"
    )
    assert any("E       assert 191369.4167752492 < 0" in line for line in lines)


def test_render_tests() -> None:
    text = text_of(render_tests(TestReport.load(FIXTURES / "junit-failed-xunit2.xml")))
    assert "test_model::test_estimate_is_negative" in text
    assert "failed" in text and "skipped" in text
    assert "AssertionError: a census weight is never negative" in text
    assert "5 tests: 3 passed, 1 failed, 1 skipped in 3.36 s" in text


def test_coverage_of_the_test_image() -> None:
    report = CoverageReport.load(FIXTURES / "coverage-passed.xml")
    assert [file.filename for file in report.files] == ["__init__.py", "model_provider.py"]
    provider = report.files[1]
    assert (provider.lines, provider.hits) == (65, 32)
    assert provider.percent == pytest.approx(100 * 32 / 65)
    assert len(provider.missing) == 33
    assert report.sources == ("/var/azureml-app/inference_code",)
    assert report.files[0].percent == 100.0  # a file without statements is fully covered
    more = CoverageReport.load(FIXTURES / "coverage-failed.xml")
    assert (more.lines, more.hits) == (65, 54)


def test_render_coverage_has_a_bar_and_a_total() -> None:
    text = text_of(render_coverage(CoverageReport.load(FIXTURES / "coverage-passed.xml")))
    assert "model_provider.py" in text
    assert "49%" in text
    total = next(line for line in text.splitlines() if "total" in line)
    assert "65" in total and "32" in total and "█" in total and "░" in total
    assert bar(0.0).plain == "░" * 20
    assert bar(100.0, width=4).plain == "████"


def test_bare_testsuite_root_and_errors() -> None:
    report = TestReport.from_xml(
        '<testsuite name="t" tests="2">'
        '<testcase classname="c" name="a" time="0.5"><error message="fixture blew up">'
        "trace</error></testcase>"
        '<testcase name="b" time="0.25"/>'
        "</testsuite>"
    )
    assert [case.outcome for case in report.cases] == ["error", "passed"]
    assert report.cases[1].id == "b"
    assert report.duration == pytest.approx(0.75)
    assert report.summary == "2 tests: 1 passed, 1 error in 0.75 s"
    assert not report.ok


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ("<testsuites><testsuite>", "not a well-formed JUnit XML file: no element found"),
        ("<html/>", "not a JUnit XML file: the root element is <html>"),
        (
            '<!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]><testsuites>&e;</testsuites>',
            "refusing a JUnit XML file with a DOCTYPE or ENTITY declaration",
        ),
        ('<testsuite><testcase name="a" time="soon"/></testsuite>', "non-numeric time='soon'"),
    ],
)
def test_malformed_junit_is_a_one_line_error(data: str, message: str) -> None:
    with pytest.raises(ReportError, match=message) as caught:
        TestReport.from_xml(data, "junit.xml")
    assert str(caught.value).startswith("junit.xml: ")
    assert "\n" not in str(caught.value)


def test_malformed_coverage_and_missing_files(tmp_path: Path) -> None:
    with pytest.raises(ReportError, match="not a Cobertura XML file: the root element is <x>"):
        CoverageReport.from_xml("<x/>")
    with pytest.raises(ReportError, match=r"cannot read the Cobertura XML file .*coverage\.xml"):
        CoverageReport.load(tmp_path / "coverage.xml")
    with pytest.raises(ReportError, match="cannot read the JUnit XML file"):
        TestReport.load(tmp_path / "junit.xml")
