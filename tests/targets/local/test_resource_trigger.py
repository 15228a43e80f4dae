"""A green run of one pipeline triggers the pipelines that name it as a `resources: pipelines:`
source (reason ResourceTrigger), passing the finished run as that resource; a manual run takes
the source's latest green run; a deployment job's approval shows as what the run waits for."""

from __future__ import annotations

import shutil
import subprocess
import threading
import time
from pathlib import Path

import pytest

from labtui.targets.base import GitRepository
from labtui.targets.local import LocalTarget
from labtui.targets.ports.pipelines import ApprovalCheck

ORG, PROJECT = "contoso", "Trigger"

BUILD = """\
trigger: none
steps:
- bash: echo "building $(Build.BuildId)"
"""

RELEASE = """\
trigger: none
resources:
  pipelines:
  - pipeline: build
    source: Build Pipeline
    trigger:
      branches:
        include: [master]
stages:
- stage: QA
  jobs:
  - job: Deploy
    steps:
    - bash: >-
        echo "releasing build $(resources.pipeline.build.runID)
        of $(resources.pipeline.build.pipelineName)"
- stage: Production
  dependsOn: QA
  jobs:
  - deployment: DeployProduction
    environment: production
    strategy:
      runOnce:
        deploy:
          steps:
          - bash: echo "production serves build $(resources.pipeline.build.runID)"
"""


@pytest.fixture
def repository(target: LocalTarget, tmp_path: Path) -> GitRepository:
    target.devops.create_project(ORG, PROJECT)
    repo = target.devops.create_repository(ORG, PROJECT, PROJECT)
    copy = target.workstation.working_copy(repo, tmp_path / "clone")
    copy.repo()
    copy.checkout("master")
    (copy.path / "azure-pipelines.yml").write_text(BUILD, encoding="utf-8")
    (copy.path / "release-pipeline.yml").write_text(RELEASE, encoding="utf-8")
    copy.commit_all("the build and the release")
    copy.push("master")
    return repo


def log_text(target: LocalTarget, run_id: int, pipeline_name: str) -> str:
    pipeline = target.pipelines.get(ORG, PROJECT, pipeline_name)
    return "\n".join(target.pipelines.logs(target.pipelines.run(pipeline, run_id)))


def test_a_green_build_queues_the_release_with_that_build_as_its_resource(
        target: LocalTarget, repository: GitRepository) -> None:
    pipelines = target.pipelines
    build = pipelines.create(repository, "Build Pipeline", "azure-pipelines.yml")
    release = pipelines.create(repository, "Release Pipeline", "release-pipeline.yml")
    assert pipelines.runs(release) == []
    run = pipelines.wait(pipelines.queue(build, branch="master"), 120)
    assert run.state == "succeeded"
    triggered = pipelines.runs(release)
    assert len(triggered) == 1, "the green build queued no release"
    assert pipelines.reason(triggered[0]) == "ResourceTrigger"
    assert triggered[0].branch == "master"
    done = pipelines.wait(triggered[0], 120)
    assert done.state == "succeeded", pipelines.logs(done)
    text = log_text(target, done.id, "Release Pipeline")
    assert f"releasing build {run.id} of Build Pipeline" in text
    assert f"production serves build {run.id}" in text


def test_a_failed_build_or_another_branch_triggers_nothing(
        target: LocalTarget, repository: GitRepository, tmp_path: Path) -> None:
    pipelines = target.pipelines
    build = pipelines.create(repository, "Build Pipeline", "azure-pipelines.yml")
    release = pipelines.create(repository, "Release Pipeline", "release-pipeline.yml")
    subprocess.run(["git", "--git-dir", repository.clone_url, "branch", "feature", "master"],
                   check=True)
    assert pipelines.wait(pipelines.queue(build, branch="feature"), 120).state == "succeeded"
    assert pipelines.runs(release) == [], "a build of feature released"
    copy = target.workstation.working_copy(repository, tmp_path / "again")
    copy.repo()
    copy.checkout("master")
    (copy.path / "azure-pipelines.yml").write_text(BUILD + "- bash: exit 3\n",
                                                   encoding="utf-8")
    copy.commit_all("a failing build")
    copy.push("master")
    assert pipelines.wait(pipelines.queue(build, branch="master"), 120).state == "failed"
    assert pipelines.runs(release) == []


def test_a_manual_release_takes_the_latest_green_build(
        target: LocalTarget, repository: GitRepository) -> None:
    pipelines = target.pipelines
    build = pipelines.create(repository, "Build Pipeline", "azure-pipelines.yml")
    first = pipelines.wait(pipelines.queue(build, branch="master"), 120)
    second = pipelines.wait(pipelines.queue(build, branch="master"), 120)
    assert (first.state, second.state) == ("succeeded", "succeeded")
    # defined after the builds: no trigger fired, a manual run consumes the latest one
    release = pipelines.create(repository, "Release Pipeline", "release-pipeline.yml")
    done = pipelines.wait(pipelines.queue(release, branch="master"), 120)
    assert done.state == "succeeded"
    assert f"releasing build {second.id} of Build Pipeline" in log_text(
        target, done.id, "Release Pipeline")


def test_an_approval_shows_as_what_the_run_waits_for_until_it_is_decided(
        target: LocalTarget, repository: GitRepository) -> None:
    pipelines, environments = target.pipelines, target.environments
    production = environments.create(ORG, PROJECT, "production")
    environments.add_approval_check(production, ApprovalCheck(("rm",), 60))
    build = pipelines.create(repository, "Build Pipeline", "azure-pipelines.yml")
    release = pipelines.create(repository, "Release Pipeline", "release-pipeline.yml")
    pipelines.wait(pipelines.queue(build, branch="master"), 120)
    run = pipelines.wait(pipelines.runs(release)[0], 120)
    assert run.state == "running"
    assert run.waiting_for == "production"
    (approval,) = environments.approvals(ORG, PROJECT)
    environments.approve(approval, "rm", "ship it")
    deadline = time.monotonic() + 60
    while pipelines.run(release, run.id).waiting_for and time.monotonic() < deadline:
        time.sleep(0.1)
    assert pipelines.run(release, run.id).waiting_for == ""
    assert pipelines.wait(run, 120).state == "succeeded"


def test_an_approval_times_out_after_the_targets_timeout(
        target: LocalTarget, repository: GitRepository) -> None:
    pipelines, environments = target.pipelines, target.environments
    production = environments.create(ORG, PROJECT, "production")
    environments.add_approval_check(production, ApprovalCheck(("rm",), 2880))
    pipelines.approval_timeout = 1.0
    release = pipelines.create(repository, "Release Pipeline", "release-pipeline.yml")
    run = pipelines.wait(pipelines.queue(release, branch="master"), 120)
    assert run.waiting_for == "production"
    deadline = time.monotonic() + 30
    while pipelines.run(release, run.id).state == "running" and time.monotonic() < deadline:
        time.sleep(0.1)
    done = pipelines.run(release, run.id)
    assert done.state == "failed", "the approval did not time out after 1 s"
    assert done.waiting_for == ""
    assert "The approval for environment 'production' timed out after 1 second" in \
        "\n".join(pipelines.logs(done))


def test_a_pipeline_whose_repository_is_gone_is_not_triggered_and_breaks_nothing(
        target: LocalTarget, repository: GitRepository, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    errors: list[object] = []
    monkeypatch.setattr(threading, "excepthook", errors.append)
    pipelines = target.pipelines
    other = target.devops.create_repository(ORG, PROJECT, "other")
    copy = target.workstation.working_copy(other, tmp_path / "other")
    copy.repo()
    copy.checkout("master")
    (copy.path / "release-pipeline.yml").write_text(RELEASE, encoding="utf-8")
    copy.commit_all("a release elsewhere")
    copy.push("master")
    release = pipelines.create(other, "Release Pipeline", "release-pipeline.yml")
    shutil.rmtree(other.clone_url)  # removed behind the sandbox's back
    build = pipelines.create(repository, "Build Pipeline", "azure-pipelines.yml")
    assert pipelines.wait(pipelines.queue(build, branch="master"), 120).state == "succeeded"
    assert [run.id for run in pipelines.runs(release)] == []
    assert errors == []
