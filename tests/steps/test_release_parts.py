"""The parts of release-pipeline that stand on the DevOps and environments ports alone, with
the real contexts StepLab builds on the local target: the release YAML lands on master, the
environments get the approval check from the step's values, the approval a run waits on is
approved or rejected through the step's actions, and a rollback takes it all away again
(the YAML with a new commit on master, never a rewrite of its history)."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from labtui_steps.devops import DevOpsProject, SeedRepo
from labtui_steps.devops.common import repository
from labtui_steps.pipelines import ReleasePipelineStep

from labtui.step import StepError
from labtui.targets.base import NotFound
from labtui.targets.local import LocalTarget
from labtui.testing import StepLab
from tests.steps.conftest import ANSWERS

PROJECT = "contoso7-mlops"


@pytest.fixture
def lab(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[StepLab]:
    monkeypatch.setenv("DATABRICKS_CONFIG_FILE", str(tmp_path / "home" / ".databrickscfg"))
    with StepLab(tmp_path / "ws", answers={**ANSWERS, "approver": "rm",
                                           "approval-timeout": "2d"}) as lab:
        lab.run(DevOpsProject, None)
        lab.run(SeedRepo, None)
        yield lab


def master_log(lab: StepLab) -> list[str]:
    bare = next((lab.path / "sandbox" / "devops").glob(f"*/{PROJECT}/repos/{PROJECT}.git"))
    return subprocess.run(["git", "--git-dir", str(bare), "log", "--format=%s", "master"],
                          capture_output=True, text=True, check=True).stdout.splitlines()


def master_files(lab: StepLab) -> list[str]:
    bare = next((lab.path / "sandbox" / "devops").glob(f"*/{PROJECT}/repos/{PROJECT}.git"))
    return subprocess.run(["git", "--git-dir", str(bare), "ls-tree", "--name-only", "master"],
                          capture_output=True, text=True, check=True).stdout.splitlines()


def test_the_yaml_and_the_gate_land_and_roll_back(lab: StepLab) -> None:
    step = ReleasePipelineStep()
    ctx = lab.ctx(ReleasePipelineStep, "pipeline")
    before = master_log(lab)
    step._commit_files(ctx, repository(ctx))
    step._environments(ctx)
    assert {"release-pipeline.yml", "release-deploy.yml"} <= set(master_files(lab))
    assert master_log(lab)[1:] == before
    step._commit_files(ctx, repository(ctx))
    assert len(master_log(lab)) == len(before) + 1, "a second run commits nothing"

    target = ctx.target
    production = target.environments.get("contoso7", PROJECT, "production")
    ((approvers, minutes),) = [(c.approvers, c.timeout_minutes) for c in production.checks]
    assert (approvers, minutes) == (("rm",), 2880), "two days, by the release manager"
    assert not target.environments.get("contoso7", PROJECT, "qa").checks, "QA needs nobody"

    lab.answers["approver"] = "grace"
    step._environments(lab.ctx(ReleasePipelineStep, "pipeline"))
    production = target.environments.get("contoso7", PROJECT, "production")
    assert production.checks[0].approvers == ("grace",), "the check follows the values"

    lab.rollback(ReleasePipelineStep, "pipeline")
    assert "release-pipeline.yml" not in master_files(lab)
    assert master_log(lab)[0] == "Remove the release pipeline"
    assert master_log(lab)[2:] == before, "master's history is kept"
    for name in ("qa", "production"):
        with pytest.raises(NotFound):
            target.environments.get("contoso7", PROJECT, name)


def test_nothing_to_approve_says_so(lab: StepLab) -> None:
    ctx = lab.ctx(ReleasePipelineStep, "pipeline")
    ReleasePipelineStep()._environments(ctx)
    with pytest.raises(StepError) as nothing:
        ReleasePipelineStep().act(ctx, "approve", {"as": "rm"})
    assert str(nothing.value) == ("nothing to approve: no release waits for an approval on "
                                  "production (run this step to start a release)")


def test_only_the_release_manager_approves(lab: StepLab) -> None:
    ctx = lab.ctx(ReleasePipelineStep, "pipeline")
    ReleasePipelineStep()._environments(ctx)
    target = ctx.target
    assert isinstance(target, LocalTarget)
    production = target.environments.get("contoso7", PROJECT, "production")
    waiting = target.environments.request(production, 3, "Production")  # a run's side
    assert waiting is not None
    with pytest.raises(StepError) as stranger:
        ReleasePipelineStep().act(ctx, "approve", {"as": "mallory"})
    assert str(stranger.value) == "mallory is not an approver of production (its approvers: rm)"
    assert target.environments.approvals("contoso7", PROJECT)[0].status == "pending"


@pytest.mark.parametrize("name, line", [
    ("census-ci", "    source: census-ci  # the build pipeline's name (build-pipeline-name)"),
    ("2024", '    source: "2024"  # the build pipeline\'s name (build-pipeline-name)'),
])
def test_the_release_names_the_build_pipeline_the_build_step_defines(
        lab: StepLab, name: str, line: str) -> None:
    lab.answers["build-pipeline-name"] = name
    ctx = lab.ctx(ReleasePipelineStep, "pipeline")
    ReleasePipelineStep()._commit_files(ctx, repository(ctx))
    bare = next((lab.path / "sandbox" / "devops").glob(f"*/{PROJECT}/repos/{PROJECT}.git"))
    text = subprocess.run(["git", "--git-dir", str(bare), "show",
                           "master:release-pipeline.yml"],
                          capture_output=True, text=True, check=True).stdout
    assert line in text.splitlines()
    before = len(master_log(lab))
    lab.answers["build-pipeline-name"] = "model-build"
    ReleasePipelineStep()._commit_files(lab.ctx(ReleasePipelineStep, "pipeline"),
                                        repository(ctx))
    assert len(master_log(lab)) == before + 1, "another name: the file follows it"
