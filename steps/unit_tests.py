"""Run the attendee's unit tests (Project_One-Tests) on this machine, the way the lab runs them.

pytest is one of labtui's own dependencies, so the tests run with the interpreter labtui runs
in, never with whatever else the host has. The child process gets a clean environment: only
the inference code on PYTHONPATH, the model folder in AZUREML_MODEL_DIR (as Azure ML sets it),
no user site-packages and no pytest plugins but pytest's own, so the outcome does not depend
on who runs it. The test image (test-image) runs the same tests again inside the container.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from labtui.reports import ReportError, TestCase, TestReport
from labtui.step import StepError

TIMEOUT = 300.0
_WHERE = re.compile(r"^(\S+:\d+): in \S+")


@dataclass(frozen=True)
class TestRun:
    """What one pytest run said: its report, its whole output, and its exit code."""

    __test__ = False  # not a pytest test class, whatever its name

    report: TestReport
    output: tuple[str, ...]
    exit_code: int

    @property
    def ok(self) -> bool:
        return self.exit_code == 0 and self.report.ok

    def explanation(self) -> str:
        """One line: the summary, then where the first problem is and pytest's lines for it
        (the statement that failed and its `E` lines)."""
        if self.ok:
            return self.report.summary
        problems = self.report.problems
        if not problems:
            last = next((line for line in reversed(self.output) if line.strip()), "no output")
            return f"pytest exited with {self.exit_code}: {last.strip()}"
        count = (f"{len(problems)} of {self.report.total} tests failed"
                 if self.report.total > 1 else "the test failed")
        return f"{count}: {failure_lines(problems[0])}"


def failure_lines(case: TestCase) -> str:
    """`name (file:line): statement → E line; E line` from pytest's short traceback."""
    lines = case.text.splitlines()
    where, statement = "", ""
    for i, line in enumerate(lines):
        found = _WHERE.match(line)
        if found:  # the innermost frame wins: that is where the assert is
            where = found[1]
            statement = lines[i + 1].strip() if i + 1 < len(lines) else ""
    errors = [" ".join(line.split()) for line in lines if line.startswith("E ")]
    said = "; ".join(errors) or case.summary
    location = f" ({where})" if where else ""
    code = f"{statement} → " if statement and not statement.startswith("E ") else ""
    return f"{case.name}{location}: {code}{said}"


def run_unit_tests(tests: Path, code: Path, model_dir: Path, junit: Path, *,
                   timeout: float = TIMEOUT) -> TestRun:
    """Run pytest on the `tests` folder with `code` importable and the model in `model_dir`.

    Raises:
        StepError: pytest could not run at all (not installed, timed out, no results).
    """
    junit.parent.mkdir(parents=True, exist_ok=True)
    junit.unlink(missing_ok=True)
    env = {
        "PATH": os.defpath, "LANG": "C.UTF-8", "PYTHONPATH": str(code),
        "AZUREML_MODEL_DIR": str(model_dir), "PYTHONDONTWRITEBYTECODE": "1",
        "PYTHONNOUSERSITE": "1", "PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1", "NO_COLOR": "1",
    }
    command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--tb=short",
               "-o", "junit_family=xunit1", f"--junitxml={junit}", "--rootdir", str(tests),
               str(tests)]
    try:
        done = subprocess.run(command, capture_output=True, text=True, env=env, cwd=tests,
                              timeout=timeout)
    except subprocess.TimeoutExpired:
        raise StepError(f"the tests did not finish within {timeout:.0f} s") from None
    if "No module named pytest" in done.stderr:
        raise StepError(f"pytest is not installed next to labtui ({sys.executable}): "
                        "reinstall labtui (pip install .), which brings it")
    output = tuple(done.stdout.splitlines() + done.stderr.splitlines())
    try:
        report = TestReport.load(junit)
    except ReportError as exc:
        last = next((line for line in reversed(output) if line.strip()), "no output")
        raise StepError(f"pytest exited with {done.returncode} without results ({exc}): "
                        f"{last.strip()}") from None
    return TestRun(report, output, done.returncode)
