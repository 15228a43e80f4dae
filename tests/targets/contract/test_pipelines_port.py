"""The Pipelines port, against each offline target: definitions from a YAML file in the
repository, runs queued by hand or by a merge the CI trigger includes, what a run publishes
(log with secrets masked, tests, coverage, artifacts), cancel, delete."""

from __future__ import annotations

from pathlib import Path

import pytest

from labtui.targets.base import (
    Conflict,
    GitRepository,
    NotFound,
    Target,
    Transient,
    Variable,
)

from .test_conventions import SECRET, one_line

ORG, PROJECT = "contoso", "lab-builds"
GROUP = "Staging Environment Variable Group"

JUNIT = """<?xml version="1.0" encoding="utf-8"?>
<testsuites><testsuite name="pytest" tests="2" failures="FAILURES">
<testcase classname="test_model" name="test_init" time="0.5"/>
<testcase classname="test_model" name="test_score" time="0.25">FAILURE</testcase>
</testsuite></testsuites>"""
COBERTURA = """<?xml version="1.0" ?>
<coverage line-rate="0.8" branch-rate="0" lines-covered="8" lines-valid="10" version="7">
<packages><package name="inference_code" line-rate="0.8"><classes>
<class name="model_class.py" filename="inference_code/model_class.py" line-rate="0.8"/>
</classes></package></packages></coverage>"""

PIPELINE = """\
trigger:
  branches:
    include:
      - master

variables:
  - group: Staging Environment Variable Group

stages:
  - stage: Build
    jobs:
      - job: Test
        steps:
          - bash: |
              echo "token is $DB_TOKEN"
              echo "model is $(model-name)"
              mkdir -p results
              cp ci/junit.xml ci/coverage.xml results/
              EXTRA
            displayName: Run the tests
            env:
              DB_TOKEN: $(db-access-token)
          - task: PublishTestResults@2
            condition: succeededOrFailed()
            inputs:
              testResultsFormat: JUnit
              testResultsFiles: results/junit.xml
          - task: PublishCodeCoverageResults@2
            condition: succeededOrFailed()
            inputs:
              summaryFileLocation: results/coverage.xml
          - task: PublishPipelineArtifact@1
            inputs:
              targetPath: results
              artifact: results
"""


def write_pipeline(folder: Path, *, failing: bool = False, extra: str = "") -> None:
    ci = folder / "ci"
    ci.mkdir(exist_ok=True)
    failure = '<failure message="assert 1 == 2">assert 1 == 2</failure>' if failing else ""
    (ci / "junit.xml").write_text(JUNIT.replace("FAILURES", "1" if failing else "0")
                                  .replace("FAILURE", failure))
    (ci / "coverage.xml").write_text(COBERTURA)
    (folder / "azure-pipelines.yml").write_text(
        PIPELINE.replace("EXTRA", extra or ("exit 1" if failing else "true")))


@pytest.fixture
def repository(target: Target, tmp_path: Path) -> GitRepository:
    """A repository whose master holds the pipeline file, a branch `ada`, and the variable
    group the file links (a plain one, with a secret)."""
    devops = target.devops
    devops.create_project(ORG, PROJECT)
    repo = devops.create_repository(ORG, PROJECT, PROJECT)
    copy = target.workstation.working_copy(repo, tmp_path / "clone")
    copy.repo()
    copy.checkout("master")
    write_pipeline(copy.path)
    copy.commit_all("the build pipeline")
    copy.push("master")
    copy.checkout("ada", start="master")
    (copy.path / "score.py").write_text("print('works')\n")
    copy.commit_all("works")
    copy.push("ada")
    target.variable_groups.create(ORG, PROJECT, GROUP, [
        Variable("model-name", "worst_regression"), Variable("db-access-token", SECRET, True)])
    return repo


def test_definitions_keep_the_conventions(target: Target, repository: GitRepository) -> None:
    pipelines = target.pipelines
    made = pipelines.create(repository, "build", "azure-pipelines.yml")
    assert made.name == "build" and made.yaml_path == "azure-pipelines.yml"
    assert pipelines.create(repository, "BUILD", "azure-pipelines.yml") == made
    assert pipelines.get(ORG, PROJECT, "Build") == made
    assert [p.name for p in pipelines.pipelines(ORG, PROJECT)] == ["build"]
    with pytest.raises(Conflict) as conflict:
        pipelines.create(repository, "build", "other.yml")
    assert "other.yml" in one_line(conflict.value)
    with pytest.raises(NotFound) as missing:
        pipelines.create(repository, "release", "release.yml")
    assert "release.yml" in one_line(missing.value)
    with pytest.raises(NotFound):
        pipelines.get(ORG, PROJECT, "release")
    assert pipelines.delete(made) is True
    assert pipelines.delete(made) is False
    with pytest.raises(NotFound):
        pipelines.runs(made)


def test_a_run_executes_the_committed_file_and_keeps_what_it_published(
        target: Target, repository: GitRepository, tmp_path: Path) -> None:
    pipelines = target.pipelines
    pipeline = pipelines.create(repository, "build", "azure-pipelines.yml")
    run = pipelines.queue(pipeline, branch="master")
    assert run.state in ("queued", "running") and run.branch == "master"
    assert run.commit == target.devops.branches(repository)["master"]
    seen: list[str] = []
    done = pipelines.wait(run, 120, on_log=seen.append)
    assert done.state == "succeeded", pipelines.logs(done)
    assert pipelines.runs(pipeline)[0] == done
    log = pipelines.logs(done)
    assert "token is ***" in log and "model is worst_regression" in log
    assert not any(SECRET in line for line in log + seen)
    assert "token is ***" in seen, "on_log heard the lines as they came"
    tests = pipelines.test_results(done)
    assert [(t.name, t.outcome) for t in tests] == [("test_model.test_init", "passed"),
                                                    ("test_model.test_score", "passed")]
    coverage = pipelines.coverage(done)
    assert coverage is not None and coverage.line_rate == pytest.approx(0.8)
    assert coverage.files == {"inference_code/model_class.py": pytest.approx(0.8)}
    assert [a.name for a in pipelines.artifacts(done)] == ["results"]
    pipelines.download_artifact(done, "results", str(tmp_path / "got"))
    assert (tmp_path / "got" / "junit.xml").read_text().startswith("<?xml")
    with pytest.raises(NotFound):
        pipelines.download_artifact(done, "drop", str(tmp_path / "none"))
    with pytest.raises(NotFound):
        pipelines.run(pipeline, done.id + 1000)


def test_a_failing_test_fails_the_run_and_is_named(
        target: Target, repository: GitRepository, tmp_path: Path) -> None:
    copy = target.workstation.working_copy(repository, tmp_path / "clone")
    copy.checkout("master")
    write_pipeline(copy.path, failing=True)
    copy.commit_all("break it")
    copy.push("master")
    pipelines = target.pipelines
    pipeline = pipelines.create(repository, "build", "azure-pipelines.yml")
    done = pipelines.wait(pipelines.queue(pipeline, branch="master"), 120)
    assert done.state == "failed"
    failed = [t for t in pipelines.test_results(done) if t.outcome == "failed"]
    assert [(t.name, t.message) for t in failed] == [("test_model.test_score", "assert 1 == 2")]
    assert pipelines.coverage(done) is not None, "published with succeededOrFailed()"
    assert pipelines.artifacts(done) == [], "the artifact step ran only on success"


def test_completing_a_pull_request_into_master_queues_the_build(
        target: Target, repository: GitRepository) -> None:
    pipelines = target.pipelines
    pipeline = pipelines.create(repository, "build", "azure-pipelines.yml")
    assert pipelines.runs(pipeline) == []
    prs = target.pull_requests
    pr = prs.create(repository, "ada", "master", "works", reviewers=["grace"])
    prs.vote(repository, pr.id, "grace", 10)
    merged = prs.complete(repository, pr.id)
    runs = pipelines.runs(pipeline)
    assert [(r.branch, r.commit) for r in runs] == [("master", merged.merge_commit)]
    done = pipelines.wait(runs[0], 120)
    assert done.state == "succeeded", pipelines.logs(done)


def test_a_run_can_be_cancelled_and_waiting_times_out(
        target: Target, repository: GitRepository, tmp_path: Path) -> None:
    copy = target.workstation.working_copy(repository, tmp_path / "clone")
    copy.checkout("master")
    write_pipeline(copy.path, extra="sleep 60")
    copy.commit_all("slow")
    copy.push("master")
    pipelines = target.pipelines
    pipeline = pipelines.create(repository, "build", "azure-pipelines.yml")
    run = pipelines.queue(pipeline, branch="master")
    with pytest.raises(Transient) as late:
        pipelines.wait(run, 1.5)
    assert str(run.id) in one_line(late.value)
    assert pipelines.run(pipeline, run.id).state == "running"
    assert pipelines.cancel(run) is True
    done = pipelines.wait(run, 30)
    assert done.state == "canceled"
    assert pipelines.cancel(done) is False
    with pytest.raises(NotFound):
        pipelines.queue(pipeline, branch="no-such-branch")


def test_the_timeline_holds_stages_jobs_and_steps_and_each_step_its_own_log(
        target: Target, repository: GitRepository, tmp_path: Path) -> None:
    copy = target.workstation.working_copy(repository, tmp_path / "clone")
    copy.checkout("master")
    write_pipeline(copy.path, failing=True)
    copy.commit_all("break it")
    copy.push("master")
    pipelines = target.pipelines
    pipeline = pipelines.create(repository, "build", "azure-pipelines.yml")
    done = pipelines.wait(pipelines.queue(pipeline, branch="master"), 120)
    assert done.state == "failed"
    records = pipelines.timeline(done)
    assert [r.order for r in records] == sorted(r.order for r in records)
    by_id = {r.id: r for r in records}
    stage = next(r for r in records if r.type == "Stage")
    job = next(r for r in records if r.type == "Job")
    steps = [r for r in records if r.type == "Task" and r.parent == job.id]
    assert (stage.name, stage.parent, stage.result) == ("Build", "", "failed")
    assert (job.name, by_id[job.parent].name, job.result) == ("Test", "Build", "failed")
    assert all(r.state == "completed" for r in records)
    tests = next(r for r in steps if r.display_name == "Run the tests")
    assert tests.result == "failed" and tests.errors and tests.has_log
    assert tests.finished >= tests.started > 0
    artifact = next(r for r in steps if "PublishPipelineArtifact" in r.display_name
                    or "artifact" in r.display_name.lower())
    assert artifact.result == "skipped", "the artifact step ran only on success"
    lines = pipelines.step_log(done, tests.id)
    assert "token is ***" in lines and not any(SECRET in line for line in lines)
    assert "model is worst_regression" in lines
    assert not any("Publish" in line for line in lines), "the step's own lines only"
    assert pipelines.step_log(done, stage.id) == [], "a stage has no log of its own"
    with pytest.raises(NotFound) as unknown:
        pipelines.step_log(done, "no-such-record")
    assert "no-such-record" in one_line(unknown.value)
