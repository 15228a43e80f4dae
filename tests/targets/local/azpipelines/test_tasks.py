"""The built-in publish tasks: test results, code coverage and pipeline artifacts, kept with
the run."""

from __future__ import annotations

import json
from pathlib import Path

from tests.targets.local.azpipelines.conftest import RunPipeline, results

COBERTURA = """<?xml version="1.0" ?>
<coverage line-rate="0.8125" branch-rate="0.5" lines-covered="13" lines-valid="16"
          branches-covered="1" branches-valid="2" version="7.4">
  <packages><package name="app"><classes>
    <class name="score.py" filename="score.py" line-rate="0.75" branch-rate="0.5"/>
    <class name="util.py" filename="util.py" line-rate="1" branch-rate="1"/>
  </classes></package></packages>
</coverage>
"""

FAILING_JUNIT = ('<testsuite name="s"><testcase classname="c" name="one"/>'
                 '<testcase classname="c" name="two"><error message="ZeroDivisionError"/>'
                 '</testcase></testsuite>')


def test_publishing_tests_coverage_and_an_artifact(run_yaml: RunPipeline,
                                                   sources: Path) -> None:
    (sources / "results").mkdir()
    (sources / "results" / "TEST-unit.xml").write_text(FAILING_JUNIT)
    (sources / "results" / "TEST-ignored.xml").write_text(FAILING_JUNIT)
    (sources / "coverage.xml").write_text(COBERTURA)
    run = run_yaml("""
        steps:
        - task: PublishTestResults@2
          inputs:
            testResultsFiles: |
              results/TEST-*.xml
              !results/TEST-ignored.xml
            failTaskOnFailedTests: true
        - task: PublishCodeCoverageResults@2
          condition: always()
          inputs:
            summaryFileLocation: $(System.DefaultWorkingDirectory)/coverage.xml
        - script: |
            mkdir -p $(Build.ArtifactStagingDirectory)/model
            echo weights > $(Build.ArtifactStagingDirectory)/model/model.pkl
          condition: always()
        - task: PublishPipelineArtifact@1
          condition: always()
          inputs:
            targetPath: $(Build.ArtifactStagingDirectory)
            artifact: drop
        - publish: coverage.xml
          artifact: coverage
          condition: always()
        - publish: coverage.xml
          artifact: coverage
          condition: always()
        """)
    tests_step = run.records.records["__default.Job.1"]
    assert tests_step.result == "failed"
    assert tests_step.errors == ("There are one or more test failures detected in result "
                                 "files",)
    (published,) = json.loads((run.records.folder / "tests.json").read_text())
    assert (published["total"], published["failed"]) == (2, 1)
    assert published["files"] == [str(sources / "results" / "TEST-unit.xml")]
    assert "failed: c.two: ZeroDivisionError" in run.records.step_log("__default.Job.1")
    (coverage,) = json.loads((run.records.folder / "coverage.json").read_text())
    assert (coverage["line_rate"], coverage["branch_rate"], coverage["lines_covered"],
            coverage["lines_valid"]) == (0.8125, 0.5, 13, 16)
    assert coverage["files"] == {"score.py": 0.75, "util.py": 1.0}
    assert "line rate 81.2%, branch rate 50.0%" in run.records.step_log("__default.Job.2")
    artifacts = run.records.folder / "artifacts"
    assert (artifacts / "drop" / "model" / "model.pkl").read_text() == "weights\n"
    assert (artifacts / "coverage" / "coverage.xml").read_text() == COBERTURA
    assert json.loads((run.records.folder / "artifacts.json").read_text()) == {
        "drop": 8, "coverage": len(COBERTURA.encode())}
    assert results(run)["__default.Job.6"] == "failed"
    assert run.records.records["__default.Job.6"].errors == (
        "An artifact named 'coverage' was already published in this run",)


def test_missing_results_warn_unless_asked_to_fail(run_yaml: RunPipeline) -> None:
    run = run_yaml("""
        steps:
        - task: PublishTestResults@2
        - task: PublishCodeCoverageResults@2
          inputs: {summaryFileLocation: nothing.xml}
        - task: PublishTestResults@2
          inputs: {failTaskOnMissingResultsFile: true}
        - task: PublishPipelineArtifact@1
          condition: always()
          inputs: {targetPath: missing, artifact: m}
        """)
    first = run.records.records["__default.Job.1"]
    assert first.result == "succeeded"
    assert first.warnings[0].startswith("No test result files matching '**/TEST-*.xml' were "
                                        "found in ")
    assert run.records.records["__default.Job.2"].warnings == (
        "No code coverage results were found to publish ('nothing.xml')",)
    assert results(run)["__default.Job.3"] == "failed"
    assert run.records.records["__default.Job.4"].errors[0].startswith("Path does not exist: ")


def test_a_broken_results_file_is_named(run_yaml: RunPipeline, sources: Path) -> None:
    (sources / "TEST-broken.xml").write_text("<testsuite><testcase")
    (sources / "cov.xml").write_text("<report/>")
    run = run_yaml("""
        steps:
        - task: PublishTestResults@2
        - task: PublishCodeCoverageResults@2
          inputs: {summaryFileLocation: cov.xml}
        """)
    assert "TEST-broken.xml: not valid XML" in run.records.records["__default.Job.1"].warnings[0]
    assert run.records.records["__default.Job.2"].errors == (
        f"{sources / 'cov.xml'}: not a Cobertura file (its root is <report>)",)


def test_copy_files_and_publish_build_artifacts(run_yaml: RunPipeline, sources: Path) -> None:
    (sources / "Project_One" / "notebooks").mkdir(parents=True)
    (sources / "Project_One" / "notebooks" / "train_model.py").write_text("# train\n")
    (sources / "Project_One" / "score.py").write_text("def run(): ...\n")
    (sources / "Project_One" / "notes.md").write_text("not copied\n")
    run = run_yaml("""
        steps:
        - task: CopyFiles@2
          inputs:
            SourceFolder: Project_One
            Contents: |
              **
              !**/*.md
            TargetFolder: $(Build.ArtifactStagingDirectory)/app
        - task: CopyFiles@2
          inputs:
            SourceFolder: Project_One
            Contents: score.py
            TargetFolder: $(Build.ArtifactStagingDirectory)/app
        - task: PublishBuildArtifacts@1
        """)
    assert run.result == "succeeded"
    app = run.records.folder / "artifacts" / "drop" / "app"
    assert sorted(str(p.relative_to(app)) for p in app.rglob("*") if p.is_file()) == [
        "notebooks/train_model.py", "score.py"]
    assert "Skipped " in run.records.step_log("__default.Job.2")
    assert "it exists (OverWrite is false)" in run.records.step_log("__default.Job.2")
