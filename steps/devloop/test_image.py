"""`test-image`: the inference image extended with the tests, pytest run with coverage inside
it, and its JUnit and Cobertura results kept.
"""

from __future__ import annotations

import shutil
import uuid
from pathlib import Path

from labtui_steps.devloop import records
from labtui_steps.devloop.common import (
    TESTS_FOLDER,
    copy_ca_bundle,
    fresh,
    image_labels,
    image_tag,
    newest_model,
    remove_quietly,
    working_copy,
)
from labtui_steps.fields import (
    CA_BUNDLE,
    CREATED_BY,
    DEVOPS_ORGANIZATION,
    DEVOPS_PROJECT,
    IMAGE_NAME,
    ML_WORKSPACE,
    MODEL_NAME,
    PREFIX,
)
from labtui_steps.images import PURPOSE_LABEL, remove_dangling

from labtui.step import Change, Check, Step, StepContext, StepError, Verdict
from labtui.targets.base import BuildFailed, NotFound

RESULTS_IN_IMAGE = "/var/azureml-app/test_results"
TESTS_TIMEOUT = 600.0


class TestImage(Step):
    """Extend the inference image with the tests; run pytest with coverage inside it."""

    __test__ = False  # not a pytest test class, whatever its name
    id = "test-image"
    place = 4
    title = "Test the inference container"
    section = "Dev loop"
    summary = ("Build the test image on top of the inference image, run Project_One-Tests with "
               "pytest and coverage inside it, and show the JUnit and coverage results.")
    requires = ("build-image", "write-test")
    environment = "dev"
    inputs = (PREFIX, DEVOPS_ORGANIZATION, DEVOPS_PROJECT, ML_WORKSPACE, MODEL_NAME,
              CREATED_BY, IMAGE_NAME, CA_BUNDLE)

    def run(self, ctx: StepContext) -> None:
        containers = ctx.target.containers
        inference = ctx.outputs.get("image", step="build-image")
        if inference is None:
            raise StepError("build-image has not built an image; run it first")
        version = newest_model(ctx)
        context = fresh(ctx.artifacts / "context")
        shutil.copytree(working_copy(ctx) / TESTS_FOLDER, context, dirs_exist_ok=True,
                        ignore=shutil.ignore_patterns("__pycache__", "*.pyc", ".pytest_cache"))
        copy_ca_bundle(ctx, context)
        tag = image_tag(ctx, f"{ctx.value('image-name')}-tests", version)
        ctx.journal.record(records.TestImage(tag))
        try:
            containers.build(
                context, tag, build_args={"INFERENCE_IMAGE": inference},
                labels=image_labels(ctx, version), log=ctx.log,
                progress=lambda done, total: ctx.progress(done, total,
                                                          f"layer {done + 1} of {total}"),
                cancelled=ctx.cancelled,
            )
        except BuildFailed as exc:
            if exc.cause == "base-image":  # here the base is the inference image, not base-image
                raise StepError(f"the inference image {inference} is gone; run build-image "
                                "again") from None
            raise
        remove_dangling(ctx)
        name = f"labtui-tests-{uuid.uuid4().hex[:10]}"
        ctx.journal.record(records.Container(name))
        container = containers.run(tag, name=name, labels={PURPOSE_LABEL: "tests"})
        try:
            for line in containers.logs(container.id, follow=True):
                ctx.log(line)
                ctx.check_cancelled()
            exit_code = containers.wait(container.id, timeout=TESTS_TIMEOUT)
            results = fresh(ctx.artifacts / "test_results")
            containers.copy_from(container.id, RESULTS_IN_IMAGE, results.parent)
        finally:
            remove_quietly(ctx, container.id)
        self._mask(ctx, results)
        ctx.outputs.set("tests-image", tag)
        ctx.outputs.set("tested-image-id", ctx.outputs.get("image-id", step="build-image") or "")
        self._report(ctx, results, exit_code)

    @staticmethod
    def _mask(ctx: StepContext, folder: Path) -> None:
        for path in folder.rglob("*"):
            if path.is_file() and path.suffix in (".xml", ".html", ".txt", ".json", ".js"):
                text = path.read_text(encoding="utf-8", errors="replace")
                masked = ctx.redact(text)
                if masked != text:
                    path.write_text(masked, encoding="utf-8")

    @staticmethod
    def _report(ctx: StepContext, results: Path, exit_code: int) -> None:
        from labtui.reports import CoverageReport, ReportError, TestReport

        junit, coverage = results / "junit.xml", results / "coverage.xml"
        try:
            report = TestReport.load(junit)
        except ReportError as exc:
            raise StepError(f"no test results (pytest exited {exit_code}): {exc}") from None
        ctx.publish("junit", junit)
        if coverage.exists():
            ctx.publish("coverage", coverage)
            ctx.log(f"coverage {CoverageReport.load(coverage).percent:.0f}%")
        ctx.log(report.summary)
        if not report.ok:
            first = report.problems[0]
            raise StepError(f"{len(report.problems)} of {report.total} tests failed; "
                            f"{first.name}: {first.message}")

    def verify(self, ctx: StepContext) -> Verdict:
        from labtui.reports import ReportError, TestReport

        junit = ctx.artifacts / "test_results" / "junit.xml"
        coverage = ctx.artifacts / "test_results" / "coverage.xml"
        if not junit.exists():
            return Verdict.of(Check("test results", False, "the tests have not run yet",
                                    "run this step"))
        try:
            report = TestReport.load(junit)
        except ReportError as exc:
            return Verdict.of(Check("test results", False, str(exc), "run this step again"))
        tag = ctx.outputs.get("tests-image")
        checks = [Check("tests pass", report.ok, report.summary,
                        "fix the failing tests, then run this step again"),
                  Check("coverage", coverage.exists(), "coverage.xml collected"
                        if coverage.exists() else "no coverage.xml", "run this step again")]
        tested = ctx.outputs.get("tested-image-id")
        current = ctx.outputs.get("image-id", step="build-image")
        checks.append(Check("tested image", tested is not None and tested == current,
                            "results are for the current inference image" if tested == current
                            else "the inference image was rebuilt since the tests ran",
                            "run this step again"))
        if tag is not None:
            try:
                ctx.target.containers.image(tag)
                checks.append(Check("test image", True, tag))
            except NotFound:
                checks.append(Check("test image", False, f"{tag} is gone", "run this step"))
        return Verdict(tuple(checks))

    def plan(self, ctx: StepContext) -> list[Change]:
        return self._plan(ctx, forced=False)

    def forced_plan(self, ctx: StepContext) -> list[Change]:
        return self._plan(ctx, forced=True)

    def _plan(self, ctx: StepContext, *, forced: bool) -> list[Change]:
        results = ctx.artifacts / "test_results"
        try:
            version = newest_model(ctx)
        except StepError as exc:
            return [Change("create", "test image", f"{ctx.value('image-name')}-tests:?",
                           str(exc))]
        tag = image_tag(ctx, f"{ctx.value('image-name')}-tests", version)
        if not forced and self.verify(ctx).ok:
            return [Change("keep", "test image", tag),
                    Change("keep", "test results", str(results), "JUnit and coverage")]
        try:
            ctx.target.containers.image(tag)
            image: Change = Change("change", "test image", tag, "rebuilt with the tests of "
                                   "your working copy")
        except NotFound:
            base = ctx.outputs.get("image", step="build-image") or "the inference image"
            image = Change("create", "test image", tag, f"{base} + pytest + your tests")
        return [image, Change("create", "test container", f"{tag} run",
                              "pytest with coverage inside, removed afterwards"),
                Change("change" if results.exists() else "create", "test results",
                       str(results), "JUnit, Cobertura and the HTML report")]
