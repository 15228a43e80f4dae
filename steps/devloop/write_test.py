"""`write-test`: the attendee's own test of the inference code, beside the lab's, in
Project_One-Tests of their working copy.
"""

from __future__ import annotations

import ast
import shutil
from pathlib import Path

from labtui_steps.devloop import records
from labtui_steps.devloop.common import TESTS_FOLDER, newest_model, working_copy
from labtui_steps.devops.common import working_copy_path as repo_path
from labtui_steps.fields import (
    CREATED_BY,
    DEVOPS_ORGANIZATION,
    DEVOPS_PROJECT,
    ML_WORKSPACE,
    MODEL_NAME,
    PREFIX,
)

from labtui.step import Change, Check, Step, StepContext, StepError, Verdict

REFERENCE_TEST = '''

def test_run_returns_a_numeric_estimate():
    """Reference answer (labtui --solve): scoring the lab's sample gives a number."""
    from inference_code.model_class import MyModel

    model = MyModel()
    model.init()
    answer = model.score('{"age": 37, "hours-per-week": 40.0, "sex": "Female", '
                         '"occupation": "Exec-managerial"}')
    assert isinstance(answer["estimated_wages"], float)
'''


def count_tests(folder: Path) -> int:
    """Test functions pytest would collect from test_*.py files (top level and in Test classes)."""
    count = 0
    for path in sorted(folder.rglob("test_*.py")):
        try:
            tree = ast.parse(path.read_text(encoding="utf-8"))
        except SyntaxError as exc:
            raise StepError(f"{path.name} line {exc.lineno}: {exc.msg}") from None
        for node in tree.body:
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and \
                    node.name.startswith("test"):
                count += 1
            elif isinstance(node, ast.ClassDef) and node.name.startswith("Test"):
                count += sum(1 for item in node.body
                             if isinstance(item, ast.FunctionDef) and item.name.startswith("test"))
    return count


def test_file(ctx: StepContext) -> Path:
    """Where the attendee writes their test: absolute, known before the working copy exists."""
    return (repo_path(ctx) / TESTS_FOLDER / "test_model.py").resolve()


class WriteTest(Step):
    """Manual: the attendee adds a unit test to Project_One-Tests; verify runs them."""

    id = "write-test"
    place = 2
    title = "Write a unit test"
    section = "Dev loop"
    summary = ("Add one more test to Project_One-Tests/test_model.py (the example checks that "
               "x_scaler is populated by init). Verify counts and runs the tests.")
    manual = True
    requires = ("train-model",)
    environment = "dev"
    inputs = (PREFIX, DEVOPS_ORGANIZATION, DEVOPS_PROJECT, ML_WORKSPACE, MODEL_NAME, CREATED_BY)

    def _publish(self, ctx: StepContext, tests: Path) -> None:
        ctx.outputs.set("test-file", str(tests))
        ctx.publish("test-file", tests)

    def run(self, ctx: StepContext) -> None:
        tests = test_file(ctx)
        working_copy(ctx)
        self._publish(ctx, tests)
        ctx.log(f"This step is yours: open {tests}, add a test (pytest style, e.g. that "
                "run() returns a number for the lab's sample input), save, then verify.")

    def verify(self, ctx: StepContext) -> Verdict:
        import labtui_assets

        tests = test_file(ctx)
        ctx.publish("test-file", tests)  # front ends show it (and open it) from the start
        try:
            folder = working_copy(ctx) / TESTS_FOLDER
        except StepError as exc:
            return Verdict.of(Check("test file", False, f"{tests} (not there yet: {exc})",
                                    "run seed-repo first"))
        if not tests.is_file():
            return Verdict.of(Check("test file", False, f"{tests} does not exist",
                                    "restore it from your branch (git checkout -- .)"))
        given = count_tests(labtui_assets.root() / TESTS_FOLDER)
        found = count_tests(folder)
        checks = [Check("test file", True, str(tests)),
                  Check("tests written", found > given,
                        f"{found} test{'s' if found != 1 else ''} ({given} given)",
                        f"add a test function named test_… to {tests}")]
        if found > given:
            try:
                checks.append(self._run_tests(ctx, folder))
            except StepError as exc:
                checks.append(Check("tests pass", False, str(exc), "run train-model first"))
        return Verdict(tuple(checks))

    def _run_tests(self, ctx: StepContext, folder: Path) -> Check:
        from labtui_steps.unit_tests import run_unit_tests

        model_dir = ctx.artifacts / "model"
        if model_dir.exists():
            shutil.rmtree(model_dir)
        version = newest_model(ctx)
        files = ctx.target.models.download_model(
            ctx.value("ml-workspace-name"), version.name, model_dir, version=version.version)
        junit = ctx.artifacts / "test_results" / "junit.xml"
        try:
            ran = run_unit_tests(folder, folder.parent / "Project_One", files, junit)
        except StepError as exc:
            return Check("tests pass", False, str(exc), "the output of pytest is in the log")
        for line in ran.output:
            ctx.log(line)
        return Check("tests pass", ran.ok, ran.explanation(),
                     f"fix the failing test in {folder} (pytest's output is in the step log)")

    def plan(self, ctx: StepContext) -> list[Change]:
        import labtui_assets

        tests = test_file(ctx)
        try:
            found = count_tests(working_copy(ctx) / TESTS_FOLDER)
        except StepError as exc:
            return [Change("change", "test file", str(tests), f"yours to write, once {exc}")]
        if found > count_tests(labtui_assets.root() / TESTS_FOLDER):
            return [Change("keep", "test file", str(tests),
                           f"{found} tests: verify runs them with pytest")]
        return [Change("change", "test file", str(tests),
                       "yours to write: add a test function (--solve adds the reference "
                       "test)")]

    def solve(self, ctx: StepContext) -> None:
        working_copy(ctx)
        tests = test_file(ctx)
        self._publish(ctx, tests)
        original = tests.read_text(encoding="utf-8")
        if "def test_run_returns_a_numeric_estimate" in original:
            ctx.log("the reference test is already there")
            return
        ctx.journal.record(records.ReferenceTest(str(tests), original=original))
        tests.write_text(original.rstrip("\n") + "\n" + REFERENCE_TEST, encoding="utf-8")
        ctx.log(f"added test_run_returns_a_numeric_estimate to {tests}")
