"""The pipeline run on the page of the step that follows it: build-pipeline's and
release-pipeline's last run as a live tree of stages, jobs and steps with the selected step's
log below, a run the merge queues in the background picked up as it starts, and the release's
pending approval given with the page's Approve button.

The runs are real: a YAML file committed to master of the lab's repository (made by the real
devops-project and seed-repo steps), run by the local target's YAML runner in the app's own
process, as a merge's CI build runs while the app is open. The lab's own pipeline files train
and build images (minutes): the whole-lab test runs those; here the files are small, so the
pictures stay the same from one run to the next.
"""

from __future__ import annotations

import json
import re
import textwrap
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from labtui_steps.devops import DevOpsProject, SeedRepo
from textual.pilot import Pilot
from textual.widgets import Button, Input, Log, Static

from labtui.app.action_form import ActionForm
from labtui.app.app import LabApp
from labtui.app.pipeline_run import PipelineRunView
from labtui.catalog import Catalog
from labtui.targets.base import ApprovalCheck, GitRepository, PipelineRun, Target
from labtui.targets.local import LocalTarget, pipeline_execution
from labtui.testing import StepLab
from tests.app.conftest import AppFactory
from tests.app.test_app import ready
from tests.app.test_pipeline_run import labels, until
from tests.steps.conftest import ANSWERS

ORG, PROJECT = "contoso7", "contoso7-mlops"
ENVIRON = {"LABTUI_PREFIX": "contoso7", "LABTUI_APPROVER": "rm", "LABTUI_REVIEWER": "rm",
           "LABTUI_TENANT_ID": ANSWERS["tenant-id"],
           "LABTUI_SUBSCRIPTION_ID": ANSWERS["subscription-id"]}

BUILD = textwrap.dedent("""
    trigger:
      branches:
        include: [master]
    stages:
    - stage: Build
      displayName: Build and test
      jobs:
      - job: Train
        displayName: Train, build and test
        steps:
        - bash: echo "trained worst_regression version 3"
          displayName: Train on the pipeline cluster
        - bash: |
            while [ ! -e GATE ]; do sleep 0.05; done
            echo "12 passed in 1.50s"
          displayName: Run the tests in the test image
    """)
RELEASE = textwrap.dedent("""
    trigger: none
    stages:
    - stage: QA
      displayName: Deploy to QA
      jobs:
      - deployment: DeployQA
        environment: qa
        strategy:
          runOnce:
            deploy:
              steps:
              - bash: echo "served inference:qa"
                displayName: Serve and smoke-test QA
    - stage: Production
      displayName: Deploy to Production
      dependsOn: QA
      jobs:
      - deployment: DeployProduction
        environment: production
        strategy:
          runOnce:
            deploy:
              steps:
              - bash: echo "served inference:production"
                displayName: Serve and smoke-test Production
    """)
SIZES = [pytest.param((80, 24), id="80x24"), pytest.param((200, 50), id="200x50")]


@pytest.fixture
def lab_repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """The lab's project and repository made by their real steps in tmp_path/ws; master
    holds the build and release files above. The folder the build's test step waits on."""
    monkeypatch.setenv("DATABRICKS_CONFIG_FILE", str(tmp_path / "home" / ".databrickscfg"))
    gate = tmp_path / "gate"
    with StepLab(tmp_path / "ws", answers=dict(ANSWERS)) as lab:
        lab.run(DevOpsProject, None)
        lab.run(SeedRepo, None)
        target = lab.target
        repo = target.devops.get_repository(ORG, PROJECT, PROJECT)
        copy = target.workstation.working_copy(repo, tmp_path / "clone")
        copy.repo()
        copy.checkout("master")
        (copy.path / "azure-pipelines.yml").write_text(
            BUILD.replace("GATE", str(gate / "go")))
        (copy.path / "release-pipeline.yml").write_text(RELEASE)
        copy.commit_all("the pipelines")
        copy.push("master")
        copy.checkout("contoso7", start="master")
        (copy.path / "notes.md").write_text("works\n")
        copy.commit_all("works")
        copy.push("contoso7")
        # As after their first runs (which define the pipelines the tests define here).
        for step in ("build-pipeline", "release-pipeline"):
            lab.workspace.set_status(step, "pipeline", "done")
    gate.mkdir()
    yield gate


def app_target(app: LabApp) -> Target:
    return app.lab.engine.target


def repo_of(target: Target) -> GitRepository:
    return target.devops.get_repository(ORG, PROJECT, PROJECT)


def merge(target: Target) -> None:
    """The reviewer approves the pull request and it completes: the merge into master
    queues the build (its CI trigger), which this process runs in the background."""
    prs = target.pull_requests
    pr = prs.create(repo_of(target), "contoso7", "master", "works", reviewers=["rm"])
    prs.vote(repo_of(target), pr.id, "rm", 10)
    prs.complete(repo_of(target), pr.id)


def view(app: LabApp) -> PipelineRunView:
    return app.query_one("#step-run", PipelineRunView)


def run_status(app: LabApp) -> str:
    return str(view(app).query_one("#run-status", Static).render())


def run_title(app: LabApp) -> str:
    return str(view(app).query_one("#run-title", Static).render())


def step_log(app: LabApp) -> str:
    return "\n".join(view(app).query_one("#run-log", Log).lines)


async def test_build_pipelines_page_follows_the_run_the_merge_queued(
        make_app: AppFactory, lab_repo: Path) -> None:
    app = make_app(focus="build-pipeline", catalog=Catalog.discover(), environ=ENVIRON)
    async with app.run_test(size=(120, 50)) as pilot:
        await ready(pilot)
        target = app_target(app)
        assert isinstance(target, LocalTarget)
        await until(pilot, lambda: run_title(app).startswith("Last run: No pipeline run yet"),
                    "the page says there is no run yet")
        target.pipelines.create(repo_of(target), "model-build", "azure-pipelines.yml")
        target.pipelines.background = True  # as the app's own background runner sets it
        merge(target)

        await until(pilot, lambda: "running: Build and test" in run_status(app),
                    "the merge's run shows as it runs")
        first = target.pipelines.runs(target.pipelines.get(ORG, PROJECT, "model-build"))[0]
        assert run_title(app) == f"Last run: model-build #{first.id} · master"
        shown = labels(app)
        assert shown[0].startswith("◐ Build and test")
        assert shown[1].startswith("◐ Train, build and test")
        assert any(s.startswith("✓ Train on the pipeline cluster") for s in shown), shown
        assert any(s.startswith("◐ Run the tests in the test image") for s in shown), shown
        await until(pilot, lambda: "trained worst_regression version 3" in step_log(app),
                    "the first step's log shows below the tree")

        (lab_repo / "go").touch()
        await until(pilot, lambda: run_status(app) == "finished", "the run finishes")
        shown = labels(app)
        assert shown[0].startswith("✓ Build and test")
        assert any(s.startswith("✓ Run the tests in the test image") for s in shown)
        tests = next(r.id for r in view(app).records.values()
                     if r.display_name == "Run the tests in the test image")
        view(app).select(tests)
        await pilot.pause()
        assert "12 passed in 1.50s" in step_log(app)
        assert "trained worst_regression" not in step_log(app)

        # The next merge's run replaces it on the page.
        merge_again(target, lab_repo)
        await until(pilot, lambda: run_title(app) == f"Last run: model-build #{first.id + 1} · "
                    "master",
                    "the newer run replaces the finished one")
        await until(pilot, lambda: run_status(app) == "finished", "the second run finishes")


async def test_a_fresh_workspace_s_build_page_asks_the_target_nothing(
        make_app: AppFactory) -> None:
    app = make_app(focus="build-pipeline", catalog=Catalog.discover(), environ=ENVIRON)
    async with app.run_test(size=(120, 40)) as pilot:
        await ready(pilot)
        await until(pilot, lambda: run_title(app).startswith("Last run: No pipeline run yet"),
                    "the page says there is no run yet")
        await pilot.pause(0.3)
        assert not (Path("ws") / "sandbox").exists(), "looking made no sandbox"


def merge_again(target: Target, gate: Path) -> None:
    copy = target.workstation.working_copy(repo_of(target), gate.parent / "clone")
    copy.checkout("contoso7")
    (copy.path / "notes.md").write_text("works again\n")
    copy.commit_all("works again")
    copy.push("contoso7")
    merge(target)


def define_release(target: Target) -> PipelineRun:
    """The release pipeline with Production gated on rm's approval, and a run queued."""
    environments = target.environments
    for name in ("qa", "production"):
        environments.create(ORG, PROJECT, name)
    environments.add_approval_check(environments.get(ORG, PROJECT, "production"),
                                    ApprovalCheck(("rm",), 60))
    pipeline = target.pipelines.create(repo_of(target), "Release Pipeline",
                                       "release-pipeline.yml")
    return target.pipelines.queue(pipeline, branch="master")


async def test_release_pipelines_page_shows_the_approval_and_approve_goes_on(
        make_app: AppFactory, lab_repo: Path) -> None:
    app = make_app(focus="release-pipeline", catalog=Catalog.discover(), environ=ENVIRON)
    async with app.run_test(size=(120, 50)) as pilot:
        await ready(pilot)
        target = app_target(app)
        assert isinstance(target, LocalTarget)
        target.pipelines.background = True
        define_release(target)
        await until(pilot, lambda: "waits for approval" in run_status(app),
                    "Production waits for its approval")
        assert "Deploy to Production waits for approval: approve or reject it with this " \
            "step's actions" in run_status(app)
        shown = labels(app)
        assert shown[0].startswith("✓ Deploy to QA")
        assert any(s.startswith("⏸ Approval for environment 'production'")
                   and s.endswith("waiting for approval") for s in shown), shown

        assert app.query_one("#do-act-approve", Button).variant == "success", \
            "the pending approval shows as the action to take"

        await pilot.click("#do-act-approve")
        await pilot.pause()
        assert isinstance(app.screen, ActionForm)
        app.screen.query_one("#input-as", Input).focus()
        await pilot.press(*"rm", "enter", "enter")
        await until(pilot, lambda: run_status(app) == "finished", "the approved run finishes")
        shown = labels(app)
        assert any(s.startswith("✓ Approval for environment 'production'") for s in shown)
        assert any(s.startswith("✓ Serve and smoke-test Production") for s in shown), shown
        assert app.query_one("#do-act-approve", Button).variant == "default"


def settle_times(target: LocalTarget, run: PipelineRun, work: Path) -> None:
    """The finished run's times and paths made constant, so its picture does not change."""
    folder = target.pipelines.folder(run)
    timeline = json.loads((folder / "timeline.json").read_text())
    for record in timeline:
        record["started"] = 100.0 if record["started"] else 0.0
        record["finished"] = 101.5 if record["finished"] else 0.0
    (folder / "timeline.json").write_text(json.dumps(timeline))
    for log in (folder / "logs").iterdir():
        text = log.read_text().replace(str(work), "/work")
        log.write_text(re.sub(r"[0-9a-f]{8}-[0-9a-f-]{27}\.sh", "script.sh", text))


@pytest.fixture
def finished_build(lab_repo: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A build run that finished for real, before the app opens; its id is the first of
    the range the sandbox draws it from, so that the picture shows the same one."""
    (lab_repo / "go").touch()
    target = LocalTarget(lab_repo.parent / "ws")
    try:
        pipeline = target.pipelines.create(repo_of(target), "model-build",
                                           "azure-pipelines.yml")
        with monkeypatch.context() as patch:
            patch.setattr(pipeline_execution.secrets, "randbelow", lambda _: 0)
            queued = target.pipelines.queue(pipeline, branch="master")
        run = target.pipelines.wait(queued, 60)
        assert run.state == "succeeded", target.pipelines.logs(run)
        settle_times(target, run, lab_repo.parent)
    finally:
        target.close()
    return lab_repo


@pytest.mark.parametrize("size", SIZES)
def test_build_pipelines_page_with_its_finished_run(
        make_app: AppFactory, finished_build: Path, snap_compare: Callable[..., bool],
        size: tuple[int, int], monkeypatch: pytest.MonkeyPatch) -> None:
    # The banner shows the sandbox's subscription id, drawn when the sandbox is made.
    monkeypatch.setattr(LocalTarget, "subscription_id",
                        property(lambda _: "00000000-0000-4000-8000-000000000000"))
    app = make_app(focus="build-pipeline", catalog=Catalog.discover(), environ=ENVIRON)

    async def shown(pilot: Pilot[int]) -> None:
        await ready(pilot)
        await until(pilot, lambda: run_status(app) == "finished" and bool(step_log(app)),
                    "the run is shown")  # type: ignore[arg-type]

    assert snap_compare(app, terminal_size=size, run_before=shown)
