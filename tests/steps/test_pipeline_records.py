"""The Pipelines section's journal records undo as they always did, through the helper they
share (`labtui_steps.pipeline_undo`): files committed to master go with one new commit (and a
folder they leave empty), a pipeline goes with its runs, and an entry stored before (its
payload as state.db keeps it) is undone the same way."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from labtui_steps.devops import DevOpsProject, SeedRepo
from labtui_steps.pipelines.records import BuildPipeline, PipelineFile
from labtui_steps.pipelines.release_records import ReleaseDefinition, ReleaseFiles

from labtui.targets.base import NotFound
from labtui.testing import StepLab
from tests.steps.conftest import ANSWERS

ORG, PROJECT = "contoso7", "contoso7-mlops"


@pytest.fixture
def lab(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[StepLab]:
    monkeypatch.setenv("DATABRICKS_CONFIG_FILE", str(tmp_path / "home" / ".databrickscfg"))
    with StepLab(tmp_path / "ws", answers=dict(ANSWERS)) as lab:
        lab.run(DevOpsProject, None)
        lab.run(SeedRepo, None)
        yield lab


def git(lab: StepLab, *args: str) -> list[str]:
    bare = lab.path / "sandbox" / "devops" / ORG / PROJECT / "repos" / f"{PROJECT}.git"
    return subprocess.run(["git", "--git-dir", str(bare), *args], capture_output=True,
                          text=True, check=True).stdout.splitlines()


def commit(lab: StepLab, files: dict[str, str]) -> None:
    target = lab.target
    repo = target.devops.get_repository(ORG, PROJECT, PROJECT)
    copy = target.workstation.working_copy(repo, lab.path.parent / "clone")
    copy.repo()
    copy.checkout("master")
    for path, text in files.items():
        (copy.path / path).parent.mkdir(parents=True, exist_ok=True)
        (copy.path / path).write_text(text)
    copy.commit_all("pipelines")
    copy.push("master")


def test_committed_files_go_with_one_new_commit_each_record(lab: StepLab) -> None:
    commit(lab, {"azure-pipelines.yml": "trigger: none\nsteps:\n- bash: 'true'\n",
                 "ci/train_on_cluster.py": "print('trained')\n",
                 "release-pipeline.yml": "trigger: none\n", "release-deploy.yml": "steps: []\n"})
    before = git(lab, "log", "--format=%s", "master")
    ctx = lab.ctx(SeedRepo, None)
    stored = PipelineFile.from_stored("ci/train_on_cluster.py", {
        "branch": "master", "organization": ORG, "project": PROJECT, "repository": PROJECT})
    stored.undo(ctx)
    assert git(lab, "log", "--format=%s", "master")[0] == "Remove ci/train_on_cluster.py"
    assert not any(name.startswith("ci") for name in git(lab, "ls-tree", "--name-only",
                                                            "master")), "ci/ went with it"
    stored.undo(ctx)
    assert len(git(lab, "log", "--format=%s", "master")) == len(before) + 1, \
        "a second undo commits nothing"

    ReleaseFiles(ORG, PROJECT, PROJECT, "master",
                 ("release-pipeline.yml", "release-deploy.yml")).undo(ctx)
    log = git(lab, "log", "--format=%s", "master")
    assert log[0] == "Remove the release pipeline" and log[2:] == before
    files = git(lab, "ls-tree", "--name-only", "master")
    assert "azure-pipelines.yml" in files and "release-pipeline.yml" not in files
    assert any("removed release-pipeline.yml, release-deploy.yml from master" in line
               for line in lab.log.lines)


def test_a_pipeline_goes_with_its_runs(lab: StepLab) -> None:
    commit(lab, {"azure-pipelines.yml": "trigger: none\nsteps:\n- bash: echo built\n"})
    pipelines = lab.target.pipelines
    repo = lab.target.devops.get_repository(ORG, PROJECT, PROJECT)
    build = pipelines.create(repo, "model-build", "azure-pipelines.yml")
    pipelines.wait(pipelines.queue(build, branch="master"), 60)
    pipelines.create(repo, "Release Pipeline", "azure-pipelines.yml")
    ctx = lab.ctx(SeedRepo, None)
    BuildPipeline(ORG, PROJECT, "model-build").undo(ctx)
    ReleaseDefinition(ORG, PROJECT, "Release Pipeline").undo(ctx)
    assert pipelines.pipelines(ORG, PROJECT) == []
    assert any(line.endswith("deleted pipeline model-build and its 1 run")
               for line in lab.log.lines), lab.log.lines
    assert any(line.endswith("deleted pipeline Release Pipeline with its runs")
               for line in lab.log.lines)
    BuildPipeline(ORG, PROJECT, "model-build").undo(ctx)  # gone already: fine
    with pytest.raises(NotFound):
        pipelines.get(ORG, PROJECT, "model-build")
