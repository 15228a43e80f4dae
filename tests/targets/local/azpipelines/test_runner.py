"""Runs are real: scripts run as processes, conditions decide what runs, results roll up to
jobs, stages and the run, and each run keeps its timeline and logs."""

from __future__ import annotations

import json
import re
import threading
import time
from pathlib import Path

import pytest

from labtui.targets.local.azpipelines import (
    InputSpec,
    PipelineError,
    ResourceRun,
    Runner,
    TaskContext,
    TaskSpec,
    TimelineRecord,
    builtin_registry,
    load_text,
)
from labtui.targets.local.azpipelines.records import LogLine
from tests.targets.local.azpipelines.conftest import RunPipeline, results

JUNIT = ('<testsuites><testsuite name="census"><testcase classname="test_score" name="test_ok"'
         ' time="0.5"/><testcase classname="test_score" name="test_bad" time="0.25">'
         '<failure message="assert 1 == 2">trace</failure></testcase>'
         '<testcase classname="test_score" name="test_later"><skipped/></testcase>'
         '</testsuite></testsuites>')

MULTI_STAGE = f"""
stages:
- stage: Build
  jobs:
  - job: Test
    steps:
    - script: echo building
      displayName: Build
    - script: |
        mkdir -p reports
        echo '{JUNIT}' > reports/TEST-census.xml
        echo "tests ran"
        exit 1
      displayName: Run tests
    - task: PublishTestResults@2
      condition: succeededOrFailed()
      inputs:
        testResultsFiles: reports/TEST-*.xml
        testRunTitle: Census tests
    - script: echo packaging
      displayName: Package
    - script: echo "the build broke"
      displayName: Report
      condition: failed()
- stage: QA
  jobs:
  - job: Deploy
    steps: [{{script: echo qa, displayName: Deploy QA}}]
- stage: Cleanup
  dependsOn: QA
  condition: always()
  jobs:
  - job: Clean
    steps: [{{script: echo cleaning, displayName: Clean}}]
"""


def test_a_multi_stage_run_with_a_failing_step(run_yaml: RunPipeline) -> None:
    run = run_yaml(MULTI_STAGE)
    assert run.result == "failed" and not run.ok
    assert run.stages == {"Build": "failed", "QA": "skipped", "Cleanup": "succeeded"}
    assert results(run) == {
        "Build": "failed", "Build.Test": "failed", "Build.Test.1": "succeeded",
        "Build.Test.2": "failed", "Build.Test.3": "succeeded", "Build.Test.4": "skipped",
        "Build.Test.5": "succeeded",
        "QA": "skipped", "QA.Deploy": "skipped", "QA.Deploy.1": "skipped",
        "Cleanup": "succeeded", "Cleanup.Clean": "succeeded", "Cleanup.Clean.1": "succeeded"}
    failing = run.records.records["Build.Test.2"]
    assert failing.errors == ("Bash exited with code '1'.",)
    assert "tests ran" in run.records.step_log("Build.Test.2")
    assert "packaging" not in run.records.log_path.read_text()
    assert "the build broke" in run.records.step_log("Build.Test.5")
    (tests,) = json.loads((run.records.folder / "tests.json").read_text())
    assert (tests["title"], tests["total"], tests["passed"], tests["failed"],
            tests["skipped"]) == ("Census tests", 3, 1, 1, 1)
    assert tests["cases"][1]["message"] == "assert 1 == 2"
    timeline = json.loads((run.records.folder / "timeline.json").read_text())
    assert [(r["id"], r["type"], r["state"]) for r in timeline][:3] == [
        ("Build", "Stage", "completed"), ("Build.Test", "Job", "completed"),
        ("Build.Test.1", "Task", "completed")]
    assert all(r["finished"] >= r["started"] > 0 for r in timeline if r["result"] != "skipped")
    assert json.loads((run.records.folder / "run.json").read_text())["result"] == "failed"


def test_a_script_fails_on_its_last_command_only_as_on_an_agent(run_yaml: RunPipeline) -> None:
    run = run_yaml("""
        steps:
        - script: |
            false
            echo "carried on"
        - bash: |
            set -e
            false
            echo "never"
          continueOnError: true
        """)
    assert results(run)["__default.Job.1"] == "succeeded"
    assert "carried on" in run.records.step_log("__default.Job.1")
    assert results(run)["__default.Job.2"] == "succeededWithIssues"
    assert "never" not in run.records.step_log("__default.Job.2")
    assert run.result == "partiallySucceeded" and run.ok


def test_scripts_run_in_the_sources_folder_with_the_predefined_variables(
        run_yaml: RunPipeline, sources: Path) -> None:
    (sources / "src").mkdir()
    run = run_yaml("""
        stages:
        - stage: Build
          jobs:
          - job: Compile
            displayName: Compile it
            steps:
            - script: |
                pwd
                echo "branch=$(Build.SourceBranch) name=$(Build.SourceBranchName)"
                echo "id=$BUILD_BUILDID stage=$(System.StageName) job=$SYSTEM_JOBNAME"
                echo "sources=$BUILD_SOURCESDIRECTORY default=$(System.DefaultWorkingDirectory)"
                echo "staging=$(Build.ArtifactStagingDirectory) temp=$AGENT_TEMPDIRECTORY"
                echo "workspace=$(Pipeline.Workspace) status=$(Agent.JobStatus)"
            - script: pwd
              workingDirectory: src
        """, branch="refs/heads/feature/census", build_id=42, commit="abc123")
    log = run.records.step_log("Build.Compile.1")
    work = run.records.folder / "work"
    assert f"\n{sources}\n" in log
    assert "branch=refs/heads/feature/census name=census" in log
    assert "id=42 stage=Build job=Compile" in log
    assert f"sources={sources} default={sources}" in log
    assert f"staging={work / 'a'} temp={work / '_temp'}" in log
    assert f"workspace={work} status=Succeeded" in log
    assert f"\n{sources / 'src'}\n" in run.records.step_log("Build.Compile.2")


def test_macros_variables_and_their_scopes(run_yaml: RunPipeline) -> None:
    run = run_yaml("""
        variables:
          model.name: worst_regression
          image: $(model.name)-image
          queued: from-yaml
        stages:
        - stage: One
          variables: {stageonly: s1}
          jobs:
          - job: A
            variables: {jobonly: j1}
            steps:
            - script: |
                echo "macro=$(model.name) env=$MODEL_NAME image=$(IMAGE)" 'unknown=$(no.such)'
                echo "stage=$(stageonly) job=$(jobonly) queued=$(queued) extra=$(extra)"
                echo "##vso[task.setvariable variable=made.here]in-a"
            - script: echo "next step sees $(made.here) and $MADE_HERE"
          - job: B
            steps:
            - script: echo 'other job sees [$(made.here)] [$(jobonly)]'
        """, variables={"queued": "from-queue", "extra": "given"})
    a1, a2 = run.records.step_log("One.A.1"), run.records.step_log("One.A.2")
    assert "macro=worst_regression env=worst_regression image=worst_regression-image " \
           "unknown=$(no.such)" in a1  # an unknown macro is left as written
    assert "stage=s1 job=j1 queued=from-yaml extra=given" in a1
    assert "next step sees in-a and in-a" in a2
    assert "other job sees [$(made.here)] [$(jobonly)]" in run.records.step_log("One.B.1")
    assert "variable 'queued' set when the run was queued is overridden by the pipeline " \
           "file's value" in run.records.log_path.read_text()


def test_conditions_on_variables_and_status(run_yaml: RunPipeline) -> None:
    run = run_yaml("""
        variables:
          deploy: 'True'
        jobs:
        - job: Main
          steps:
          - script: echo on master
            condition: eq(variables['Build.SourceBranch'], 'refs/heads/master')
          - script: echo deploy
            condition: and(succeeded(), eq(variables.deploy, true))
          - script: exit 4
          - script: echo always
            condition: always()
          - script: echo only when failed
            condition: failed()
          - script: echo canceled
            condition: canceled()
        - job: After
          dependsOn: Main
          condition: failed('Main')
          steps: [{script: echo after failure}]
        - job: Never
          dependsOn: Main
          steps: [{script: echo never}]
        """, branch="master")
    assert results(run) == {
        "__default": "failed", "__default.Main": "failed",
        "__default.Main.1": "succeeded", "__default.Main.2": "succeeded",
        "__default.Main.3": "failed", "__default.Main.4": "succeeded",
        "__default.Main.5": "succeeded", "__default.Main.6": "skipped",
        "__default.After": "succeeded", "__default.After.1": "succeeded",
        "__default.Never": "skipped", "__default.Never.1": "skipped"}


def test_a_condition_that_fails_to_evaluate_fails_the_step(run_yaml: RunPipeline) -> None:
    run = run_yaml("steps:\n- script: echo\n  condition: lt(1, 'x')\n")
    record = run.records.records["__default.Job.1"]
    assert record.result == "failed"
    assert record.errors == ("condition 'lt(1, 'x')': lt(): cannot compare '1' with 'x'",)


def test_logging_commands(run_yaml: RunPipeline, sources: Path) -> None:
    (sources / "tools").mkdir()
    (sources / "tools" / "census-tool").write_text("#!/bin/sh\necho tool ran\n")
    (sources / "tools" / "census-tool").chmod(0o755)
    run = run_yaml(f"""
        steps:
        - script: |
            echo "##vso[task.logissue type=warning]disk is 90% full"
            echo "##vso[task.logissue type=error;sourcepath=a.py]lint failed"
            echo "##vso[task.complete result=SucceededWithIssues;]done, mostly"
            echo "##vso[task.prependpath]{sources / 'tools'}"
            echo "##vso[build.addbuildtag]release"
            echo "##vso[task.setvariable variable=Build.SourceBranch]refs/heads/hacked"
            echo "##vso[task.setvariable variable=pinned;isreadonly=true]first"
        - script: |
            census-tool
            echo "##vso[task.setvariable variable=pinned]second"
          name: second
        - script: echo "pinned=$(pinned) branch=$(Build.SourceBranch)"
        """)
    first = run.records.records["__default.Job.1"]
    assert first.result == "succeededWithIssues"
    assert first.errors == ("lint failed",)
    assert "disk is 90% full" in first.warnings
    assert any("##vso[build.addbuildtag] is not supported by this runner" in warning
               for warning in first.warnings)
    assert any("'Build.SourceBranch' is read-only" in w for w in first.warnings)
    assert "done, mostly" in run.records.step_log("__default.Job.1")
    assert "tool ran" in run.records.step_log("__default.Job.2")
    assert "pinned=first branch=refs/heads/main" in run.records.step_log("__default.Job.3")


def test_fail_on_stderr(run_yaml: RunPipeline) -> None:
    run = run_yaml("""
        steps:
        - script: echo "oops" >&2
        - script: echo "oops" >&2
          failOnStderr: true
          condition: always()
        """)
    assert results(run)["__default.Job.1"] == "succeeded"
    assert run.records.records["__default.Job.2"].errors == (
        "Bash wrote one or more lines to the standard error stream.",)


def test_a_step_timeout_stops_the_process(run_yaml: RunPipeline) -> None:
    started = time.monotonic()
    run = run_yaml("""
        steps:
        - script: sleep 30
          timeoutInMinutes: 0.005
        - script: echo "still runs"
          condition: always()
        """)
    assert time.monotonic() - started < 10
    assert run.records.records["__default.Job.1"].errors == ("The task has timed out",)
    assert results(run)["__default.Job.2"] == "succeeded"


def test_a_job_timeout_fails_the_job_and_skips_the_rest(run_yaml: RunPipeline) -> None:
    started = time.monotonic()
    run = run_yaml("""
        jobs:
        - job: Slow
          timeoutInMinutes: 0.005
          steps:
          - script: sleep 30
          - script: echo never
            condition: always()
        """)
    assert time.monotonic() - started < 10
    job = run.records.records["__default.Slow"]
    assert job.result == "failed"
    assert job.errors == ("The job running on agent local ran longer than the maximum time "
                          "of 0.005 minutes",)
    assert results(run)["__default.Slow.2"] == "skipped"


def test_cancelling_a_run(tmp_path: Path, sources: Path) -> None:
    pipeline = load_text("""
stages:
- stage: Build
  jobs:
  - job: Long
    steps:
    - script: |
        echo started
        sleep 30
    - script: echo "cleaning up"
      condition: always()
    - script: echo "not after a cancel"
      condition: succeededOrFailed()
- stage: Next
  jobs: [{job: J, steps: [{script: echo next}]}]
""")
    cancel = threading.Event()

    def listen(event: TimelineRecord | LogLine) -> None:
        if isinstance(event, LogLine) and event.text == "started":
            cancel.set()

    started = time.monotonic()
    run = Runner(pipeline, sources=sources, folder=tmp_path / "run", cancel=cancel,
                 listener=listen).run()
    assert time.monotonic() - started < 10
    assert run.result == "canceled" and not run.ok
    assert results(run) == {
        "Build": "canceled", "Build.Long": "canceled", "Build.Long.1": "canceled",
        "Build.Long.2": "succeeded", "Build.Long.3": "skipped",
        "Next": "skipped", "Next.J": "skipped", "Next.J.1": "skipped"}
    assert run.records.records["Build.Long.1"].errors == ("The operation was canceled",)


def test_a_host_registers_its_own_task(run_yaml: RunPipeline) -> None:
    seen: dict[str, object] = {}

    def deploy(ctx: TaskContext) -> None:
        seen.update(ctx.inputs)
        seen["environment"] = ctx.environment
        ctx.log(f"deploying {ctx.inputs['image']}")
        ctx.set_variable("endpoint", "http://127.0.0.1:5001/score")

    tasks = builtin_registry()
    tasks.register(TaskSpec("LocalDeploy", 1, deploy, (InputSpec("image", required=True),
                                                      InputSpec("port"))))
    run = run_yaml("""
        variables: {image.name: census}
        jobs:
        - deployment: Deploy
          environment: {name: qa}
          strategy:
            runOnce:
              deploy:
                steps:
                - task: LocalDeploy@1
                  inputs: {image: $(image.name):$(Build.BuildId)}
                - script: echo "endpoint $(endpoint) in $(Environment.Name)"
        """, tasks=tasks, build_id=7)
    assert run.result == "succeeded"
    assert seen == {"image": "census:7", "environment": "qa"}
    assert "deploying census:7" in run.records.step_log("__default.Deploy.1")
    assert "endpoint http://127.0.0.1:5001/score in qa" in run.records.step_log(
        "__default.Deploy.2")


def test_the_listener_hears_the_tree_then_each_change(tmp_path: Path, sources: Path) -> None:
    events: list[TimelineRecord | LogLine] = []
    pipeline = load_text("steps:\n- script: echo hello\n  displayName: Hello\n")
    Runner(pipeline, sources=sources, folder=tmp_path / "r", listener=events.append).run()
    changes = [(e.id, e.state) for e in events if isinstance(e, TimelineRecord)]
    assert changes[:3] == [("__default", "pending"), ("__default.Job", "pending"),
                           ("__default.Job.1", "pending")]
    assert changes[-3:] == [("__default.Job.1", "completed"), ("__default.Job", "completed"),
                            ("__default", "completed")]
    assert LogLine("__default.Job.1", "hello") in events


def test_pool_checkout_and_disabled_steps(run_yaml: RunPipeline, sources: Path) -> None:
    run = run_yaml("""
        pool: {vmImage: ubuntu-latest}
        stages:
        - stage: S
          pool: default
          jobs:
          - job: J
            pool: {name: local}
            steps:
            - checkout: self
            - script: echo disabled
              enabled: false
            - script: echo enabled
        """)
    assert results(run) == {"S": "succeeded", "S.J": "succeeded", "S.J.1": "succeeded",
                            "S.J.3": "succeeded"}  # a disabled step is not in the timeline
    assert f"The sources are already in {sources}" in run.records.step_log("S.J.1")
    assert "disabled" not in run.records.log_path.read_text()


def test_a_step_after_one_that_continued_on_error_still_succeeds(
        run_yaml: RunPipeline) -> None:
    run = run_yaml("""
        steps:
        - script: exit 2
          continueOnError: true
        - script: echo "status $(Agent.JobStatus)"
        - script: echo "not failed"
          condition: failed()
        """)
    assert results(run)["__default.Job.1"] == "succeededWithIssues"
    assert "status SucceededWithIssues" in run.records.step_log("__default.Job.2")
    assert results(run)["__default.Job.3"] == "skipped"
    assert run.result == "partiallySucceeded"


def test_a_failed_task_is_retried(run_yaml: RunPipeline) -> None:
    run = run_yaml("""
        steps:
        - script: |
            count=$(cat attempts 2>/dev/null || echo 0)
            echo $((count + 1)) > attempts
            echo "attempt $((count + 1))"
            [ "$count" -ge 2 ]
          retryCountOnTaskFailure: 3
        """)
    assert results(run)["__default.Job.1"] == "succeeded"
    log = run.records.step_log("__default.Job.1")
    assert "attempt 3" in log and "attempt 4" not in log
    assert "Retrying 2 time(s) out of 3" in log


def test_a_job_that_continues_on_error_and_the_build_number(run_yaml: RunPipeline) -> None:
    run = run_yaml("""
        name: census-$(Date:yyyyMMdd)$(Rev:.r)
        jobs:
        - job: Flaky
          continueOnError: true
          steps: [{script: exit 1}]
        - job: Next
          dependsOn: Flaky
          steps: [{script: echo "number $(Build.BuildNumber)"}]
        """)
    assert results(run)["__default.Flaky"] == "succeededWithIssues"
    assert results(run)["__default.Next"] == "succeeded"
    assert re.search(r"number census-\d{8}\.1\n", run.records.step_log("__default.Next.1"))
    assert run.result == "partiallySucceeded"


def test_an_error_logged_without_failing_leaves_the_step_green(run_yaml: RunPipeline) -> None:
    run = run_yaml("""
        steps:
        - script: echo "##vso[task.logissue type=error]flaky test quarantined"
        - script: echo "##vso[task.complete result=Failed;]gave up"
        """)
    first, second = (run.records.records[f"__default.Job.{n}"] for n in (1, 2))
    assert (first.result, first.errors) == ("succeeded", ("flaky test quarantined",))
    assert second.result == "failed"
    assert "##[error]flaky test quarantined" in run.records.step_log("__default.Job.1")


def test_a_run_sees_the_pipeline_resource_run_that_triggered_it(run_yaml: RunPipeline) -> None:
    text = """
        trigger: none
        resources:
          pipelines:
          - pipeline: build
            source: Build Pipeline
            trigger: {branches: {include: [master]}}
        variables:
          image: inference:$(resources.pipeline.build.runID)
        steps:
        - script: |
            echo "run=$(resources.pipeline.build.runID) of $(resources.pipeline.build.pipelineName)"
            echo "branch=$RESOURCES_PIPELINE_BUILD_SOURCEBRANCH"
            echo "commit=$(resources.pipeline.build.sourceCommit)"
            echo "reason=$(Build.Reason) image=$(image)"
        """
    run = run_yaml(text, reason="ResourceTrigger", resources={
        "build": ResourceRun(7, "20261201.3", 1, "Build Pipeline", "master", "c0ffee")})
    assert run.ok
    log = run.records.step_log("__default.Job.1")
    assert "run=7 of Build Pipeline" in log
    assert "branch=refs/heads/master\ncommit=c0ffee" in log
    assert "reason=ResourceTrigger image=inference:7" in log, "file variables may use them"
    with pytest.raises(PipelineError, match="no pipeline resource named tests"):
        run_yaml(text, resources={"tests": ResourceRun(1, "1", 2, "Tests", "master", "")})
