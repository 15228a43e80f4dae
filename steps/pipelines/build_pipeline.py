"""`build-pipeline`: the CI build, a YAML pipeline on master that trains on the pipeline
cluster, builds and tests the inference image, and publishes the results.
"""

from __future__ import annotations

import shutil
import time
from pathlib import Path

from labtui_steps.databricks_host import databricks_host, host_fields
from labtui_steps.devloop import records as devloop_records
from labtui_steps.devops.common import assets_root, organization, repository
from labtui_steps.fields import (
    BASE_IMAGE,
    CA_BUNDLE,
    DATABRICKS_WORKSPACE,
    DEVOPS_ORGANIZATION,
    DEVOPS_PROJECT,
    KEY_VAULT,
    ML_WORKSPACE,
    MODEL_NAME,
    PREFIX,
    RESOURCE_GROUP,
)
from labtui_steps.infrastructure.common import resource_ref
from labtui_steps.pipelines import records
from labtui_steps.pipelines.common import PIPELINE_NAME, TARGET_BRANCH, VARIABLE_GROUP
from labtui_steps.pipelines.run_tree import run_tree

from labtui.step import Cancelled, Change, Check, Step, StepContext, StepError, Verdict
from labtui.targets.base import GitRepository, NotFound, Pipeline, PipelineRun, Transient
from labtui.targets.resources import KEY_VAULTS

PIPELINE_FILE = "azure-pipelines.yml"
TRAINING_SCRIPT = "ci/train_on_cluster.py"
TRAINING_NOTEBOOK = "/Shared/Project_One/train_model_ci"
"""Where the training script imports the notebook (assets/ci/train_on_cluster.py says it too);
its MLflow runs go to the experiment of that name."""
RUN_TIMEOUT = 3600.0
FOLLOW_SECONDS = 2.0


def pipeline_files(ctx: StepContext) -> dict[str, str]:
    """The files the step commits (repository path → text): the pipeline, written for Azure
    DevOps, with the attendee's base image and CA bundle, and its training script."""
    root = assets_root() / "ci"
    text = (root / PIPELINE_FILE).read_text(encoding="utf-8")
    text = text.replace("    value: python:3.11-slim\n",
                        f"    value: {ctx.value('base-image')}\n", 1)
    bundle = ctx.values.get("ca-bundle", "")
    if bundle:
        text = text.replace("    value: ''\n", f"    value: '{bundle}'\n", 1)
    return {PIPELINE_FILE: text,
            TRAINING_SCRIPT: (root / "train_on_cluster.py").read_text(encoding="utf-8")}


def find_pipeline(ctx: StepContext) -> Pipeline | None:
    try:
        return ctx.target.pipelines.get(organization(ctx), ctx.value("devops-project"),
                                        ctx.value("build-pipeline-name"))
    except NotFound:
        return None


def last_master_run(ctx: StepContext, pipeline: Pipeline) -> PipelineRun | None:
    return next((run for run in ctx.target.pipelines.runs(pipeline)
                 if run.branch == TARGET_BRANCH), None)


class BuildPipelineStep(Step):
    """The CI build: a YAML pipeline on master that trains on the pipeline cluster, builds
    and tests the inference image, and publishes the results."""

    id = "build-pipeline"
    place = 3
    title = "Define the build pipeline"
    section = "Pipelines"
    summary = ("Commit azure-pipelines.yml to master: on every push to master (so every "
               "completed pull request) it trains the model on the pipeline cluster, builds "
               "the inference image and its test image, runs the tests and publishes their "
               "results, the coverage and the artifacts. Its first run must be green.")
    requires = ("pull-request", "variable-group", "upload-data")
    """upload-data: the training reads the census file from the pipeline data lake."""
    environment = "pipeline"
    inputs = (PREFIX, DEVOPS_ORGANIZATION, DEVOPS_PROJECT, RESOURCE_GROUP, KEY_VAULT,
              VARIABLE_GROUP, PIPELINE_NAME, BASE_IMAGE, CA_BUNDLE, DATABRICKS_WORKSPACE,
              ML_WORKSPACE, MODEL_NAME)

    def run(self, ctx: StepContext) -> None:
        repo = repository(ctx)
        self._check_token(ctx)
        self._commit_files(ctx, repo)
        pipelines = ctx.target.pipelines
        name = ctx.value("build-pipeline-name")
        pipeline = find_pipeline(ctx)
        if pipeline is None:
            ctx.journal.record_once(records.BuildPipeline(repo.organization, repo.project,
                                                          name))
            pipeline = pipelines.create(repo, name, PIPELINE_FILE)
            ctx.log(f"defined pipeline {pipeline.name} from {PIPELINE_FILE} on "
                    f"{TARGET_BRANCH}: {pipeline.url}")
        # What the runs make besides their own records: the images, and on the pipeline
        # workspaces the imported notebook, its MLflow runs and the model they register.
        ctx.journal.record_once(records.PipelineImages(f"{repo.project}/{pipeline.name}"))
        ml_workspace = ctx.value("ml-workspace-name")
        ctx.journal.record_once(devloop_records.Notebook(
            TRAINING_NOTEBOOK, workspace=ctx.value("databricks-workspace"),
            **host_fields(databricks_host(ctx, env="pipeline"))))
        ctx.journal.record_once(devloop_records.Experiment(TRAINING_NOTEBOOK,
                                                           workspace=ml_workspace))
        ctx.journal.record_once(devloop_records.Model(ml_workspace, ctx.value("model-name")))
        head = ctx.target.devops.branches(repo)[TARGET_BRANCH]
        runs = [r for r in pipelines.runs(pipeline)
                if r.branch == TARGET_BRANCH and r.commit == head]
        run = runs[0] if runs and runs[0].state not in ("failed", "canceled") else None
        if run is None:
            run = pipelines.queue(pipeline, branch=TARGET_BRANCH)
            why = (f"run {runs[0].id} of this commit {runs[0].state}: it runs again" if runs
                   else "the last push came before the pipeline existed")
            ctx.log(f"queued run {run.id} of {pipeline.name} on {TARGET_BRANCH} "
                    f"({head[:10]}): {why}")
        else:
            ctx.log(f"run {run.id} of {pipeline.name} was queued by the push of {head[:10]} "
                    f"to {TARGET_BRANCH} (CI trigger)")
        try:
            done = self._follow(ctx, run)
        except Cancelled:
            pipelines.cancel(run)
            raise
        ctx.outputs.set("build-run-id", str(done.id))
        for line in run_tree(done, pipelines.timeline(done)):
            ctx.log(line)
        self._publish(ctx, done)
        if done.state != "succeeded":
            raise StepError(f"build run {done.id} {done.state}: {self._why(ctx, done)}")
        ctx.log(f"build run {done.id} succeeded: {done.url}")

    def pipeline_run(self, ctx: StepContext) -> PipelineRun | None:
        """The last run on master (the one verify judges), while it runs too."""
        pipeline = find_pipeline(ctx)
        return last_master_run(ctx, pipeline) if pipeline is not None else None

    def _check_token(self, ctx: StepContext) -> None:
        """The run trains with the vault's db-access-token: a token the pipeline workspace
        does not accept would fail it minutes in, so say so now."""
        vault = ctx.value("key-vault")
        try:
            uri = ctx.target.vault.get_vault(resource_ref(ctx, KEY_VAULTS, "key-vault")).uri
            token = ctx.secret(ctx.target.vault.get_secret(uri, "db-access-token"))
            workspace = ctx.target.vault.get_secret(uri, "db-workspace-name")
        except NotFound as exc:
            raise StepError(f"{exc}: run the secrets step for pipeline (labtui --step "
                            "secrets --env pipeline --headless)") from None
        if not ctx.target.databricks.check_token(databricks_host(ctx, env="pipeline"), token):
            raise StepError(f"db-access-token in {vault} is not a token of the Databricks "
                            f"workspace {workspace}, so the pipeline could not train: give a "
                            "token of that workspace as databricks-token (or none: the "
                            "workspace issues one), then run the secrets step for pipeline "
                            "again")

    def _follow(self, ctx: StepContext, run: PipelineRun) -> PipelineRun:
        """Wait for the run, its log lines going to the step's log as they come, in short
        waits so that a stop is heard."""
        heard = 0
        deadline = time.monotonic() + RUN_TIMEOUT
        while True:
            ctx.check_cancelled()
            position = 0

            def hear(line: str) -> None:
                nonlocal heard, position
                position += 1
                if position > heard:
                    heard = position
                    ctx.log(line)

            try:
                return ctx.target.pipelines.wait(run, FOLLOW_SECONDS, on_log=hear)
            except Transient:
                if time.monotonic() > deadline:
                    raise StepError(f"build run {run.id} did not finish within "
                                    f"{RUN_TIMEOUT:.0f} s") from None

    def _commit_files(self, ctx: StepContext, repo: GitRepository) -> None:
        import tempfile

        files = pipeline_files(ctx)
        with tempfile.TemporaryDirectory(prefix="labtui-pipeline-") as folder:
            copy = ctx.target.workstation.working_copy(repo, Path(folder) / "clone")
            copy.repo()
            copy.checkout(TARGET_BRANCH)
            changed = False
            for path, text in files.items():
                target = copy.path / path
                if target.exists() and target.read_text(encoding="utf-8") == text:
                    continue
                if not target.exists():
                    ctx.journal.record_once(records.PipelineFile(
                        path, TARGET_BRANCH, repo.organization, repo.project, repo.name))
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_text(text, encoding="utf-8")
                changed = True
            if not changed:
                ctx.log(f"{PIPELINE_FILE} on {TARGET_BRANCH} is up to date")
                return
            commit = copy.commit_all("Add the build pipeline")
            copy.push(TARGET_BRANCH)
            ctx.log(f"committed {', '.join(files)} to {TARGET_BRANCH}: {(commit or '')[:10]}")

    def _publish(self, ctx: StepContext, run: PipelineRun) -> None:
        """The run's log, test results, coverage and artifacts, as test-image shows its."""
        pipelines = ctx.target.pipelines
        folder = ctx.artifacts / "build-run"
        if folder.exists():
            shutil.rmtree(folder)
        folder.mkdir(parents=True)
        log = folder / "pipeline-log.txt"
        log.write_text("\n".join(pipelines.logs(run)) + "\n", encoding="utf-8")
        ctx.publish("pipeline-log", log)
        published = {artifact.name for artifact in pipelines.artifacts(run)}
        for name in sorted(published):
            pipelines.download_artifact(run, name, str(folder / name))
            ctx.publish(f"artifact-{name}", folder / name)
        junit, coverage = folder / "test_results" / "junit.xml", \
            folder / "test_results" / "coverage.xml"
        if junit.exists():
            ctx.publish("junit", junit)
        if coverage.exists():
            ctx.publish("coverage", coverage)
        tests = pipelines.test_results(run)
        failed = sum(1 for test in tests if test.outcome == "failed")
        line_rate = pipelines.coverage(run)
        ctx.log(f"build run {run.id}: {len(tests)} tests published, {failed} failed; coverage "
                + (f"{line_rate.line_rate:.0%}" if line_rate else "not published"))

    def _why(self, ctx: StepContext, run: PipelineRun) -> str:
        """The first failed test, else the first error the log shows."""
        pipelines = ctx.target.pipelines
        failed = [test for test in pipelines.test_results(run) if test.outcome == "failed"]
        if failed:
            more = f" (and {len(failed) - 1} more)" if len(failed) > 1 else ""
            return f"test {failed[0].name} failed: {failed[0].message}{more}"
        step = ""
        for line in pipelines.logs(run):
            if line.startswith("##[section]Starting: "):
                step = line.removeprefix("##[section]Starting: ")
            elif line.startswith("##[error]"):
                error = line.removeprefix("##[error]")
                return f"{step}: {error}" if step else error
        return "see the pipeline log"

    def verify(self, ctx: StepContext) -> Verdict:
        pipeline = find_pipeline(ctx)
        if pipeline is None:
            return Verdict.of(Check("pipeline", False,
                                    f"no pipeline {ctx.value('build-pipeline-name')}",
                                    "run this step"))
        checks = [Check("pipeline", True, f"{pipeline.name} from {pipeline.yaml_path}")]
        run = last_master_run(ctx, pipeline)
        if run is None:
            return Verdict((*checks, Check("last run on master", False, "it has not run yet",
                                           "run this step")))
        pipelines = ctx.target.pipelines
        if run.state not in ("succeeded", "failed", "canceled"):
            return Verdict((*checks, Check(
                "last run on master", False, f"run {run.id} is {run.state}",
                "run this step: it waits for the run and shows its results")))
        checks.append(Check("last run on master", run.state == "succeeded",
                            f"run {run.id} {run.state}" + (
                                "" if run.state == "succeeded" else f": {self._why(ctx, run)}"),
                            "fix it on your branch and complete a new pull request, then run "
                            "this step"))
        tests = pipelines.test_results(run)
        checks.append(Check("test results", bool(tests),
                            f"{len(tests)} tests published" if tests else "none published",
                            "the pipeline's PublishTestResults@2 task must find junit.xml"))
        coverage = pipelines.coverage(run)
        checks.append(Check("coverage", coverage is not None,
                            f"line rate {coverage.line_rate:.0%}" if coverage else
                            "none published",
                            "the pipeline's PublishCodeCoverageResults@2 task must find "
                            "coverage.xml"))
        return Verdict(tuple(checks))

    def plan(self, ctx: StepContext) -> list[Change]:
        name = ctx.value("build-pipeline-name")
        pipeline = find_pipeline(ctx)
        last = last_master_run(ctx, pipeline) if pipeline is not None else None
        if last is not None and self.verify(ctx).ok:
            return [Change("keep", "pipeline", name),
                    Change("keep", "pipeline run", str(last.id), f"{last.state} on master")]
        changes = [Change("change", "branch", TARGET_BRANCH, f"commit {PIPELINE_FILE}")]
        if pipeline is None:
            changes.append(Change("create", "pipeline", name, f"from {PIPELINE_FILE}"))
        else:
            changes.append(Change("keep", "pipeline", name))
        changes.append(Change("create", "pipeline run", f"{name} on {TARGET_BRANCH}",
                              "train on the pipeline cluster, build and test the image"))
        return changes
