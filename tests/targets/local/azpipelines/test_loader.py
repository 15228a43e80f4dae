"""The loader reads the subset as Azure reads it, and refuses everything else with one line
naming the file, the line and column, and the thing."""

from __future__ import annotations

from pathlib import Path

import pytest

from labtui.targets.local.azpipelines import PipelineError, load
from tests.targets.local.azpipelines.conftest import loaded


def error_of(text: str, **options: object) -> str:
    with pytest.raises(PipelineError) as caught:
        loaded(text, **options)
    message = str(caught.value)
    assert "\n" not in message
    return message


def test_a_top_level_steps_list_is_one_stage_with_one_job() -> None:
    pipeline = loaded("""
        pool:
          vmImage: ubuntu-latest
        steps:
        - script: echo one
          displayName: One
        - bash: echo two
        """)
    (stage,) = pipeline.stages
    (job,) = stage.jobs
    assert (stage.name, job.name) == ("__default", "Job")
    assert [(s.kind, s.task, s.display_name) for s in job.steps] == [
        ("script", "cmdline@2", "One"), ("bash", "bash@3", "Bash")]
    assert job.steps[1].inputs["targetType"] == "inline"


def test_top_level_jobs_keep_their_dependencies() -> None:
    pipeline = loaded("""
        jobs:
        - job: A
          steps: [{script: echo a}]
        - job: B
          dependsOn: A
          condition: failed()
          continueOnError: true
          timeoutInMinutes: 5
          steps: [{script: echo b}]
        """)
    a, b = pipeline.stages[0].jobs
    assert a.depends_on == ()  # jobs do not wait for each other unless told
    assert b.depends_on == ("A",) and b.condition is not None
    assert b.condition.text == "failed()" and b.continue_on_error and b.timeout_minutes == 5


def test_a_stage_waits_for_the_one_before_it_unless_it_says_otherwise() -> None:
    pipeline = loaded("""
        stages:
        - stage: Build
          jobs: [{job: J, steps: [{script: echo}]}]
        - stage: QA
          jobs: [{job: J, steps: [{script: echo}]}]
        - stage: Lint
          dependsOn: []
          jobs: [{job: J, steps: [{script: echo}]}]
        - stage: Prod
          dependsOn: [QA, Lint]
          jobs: [{job: J, steps: [{script: echo}]}]
        """)
    assert [s.depends_on for s in pipeline.stages] == [(), ("Build",), (), ("QA", "Lint")]


def test_triggers_in_each_form() -> None:
    short = loaded("trigger: [master, release/*]\nsteps: [{script: echo}]\n")
    assert short.trigger.matches("refs/heads/master") and short.trigger.matches("release/1")
    assert not short.trigger.matches("feature/x")
    full = loaded("""
        trigger:
          batch: true
          branches:
            include: ['*']
            exclude: [experimental/*]
        pr: none
        steps: [{script: echo}]
        """)
    assert full.trigger.matches("main") and not full.trigger.matches("experimental/a")
    assert not full.pr.enabled and not full.pr.matches("main")
    assert loaded("steps: [{script: echo}]").trigger.matches("any")  # no trigger: every branch
    assert not loaded("trigger: none\nsteps: [{script: echo}]").trigger.matches("main")


def test_variables_in_mapping_and_list_forms() -> None:
    pipeline = loaded("""
        variables:
        - group: census-pipeline
        - name: model.name
          value: worst_regression
          readonly: true
        - name: empty
        jobs:
        - job: J
          variables:
            image: census
          steps: [{script: echo}]
        """)
    group, model, empty = pipeline.variables
    assert group.group == "census-pipeline"
    assert (model.name, model.value, model.readonly) == ("model.name", "worst_regression", True)
    assert empty.value == ""
    assert pipeline.stages[0].jobs[0].variables[0].value == "census"


def test_a_deployment_job_names_its_environment_either_way() -> None:
    pipeline = loaded("""
        stages:
        - stage: QA
          jobs:
          - deployment: DeployQA
            environment: qa
            strategy: {runOnce: {deploy: {steps: [{script: echo qa}]}}}
        - stage: Production
          jobs:
          - deployment: DeployProd
            environment:
              name: production
            strategy:
              runOnce:
                deploy:
                  steps:
                  - checkout: self
                  - script: echo prod
        """)
    qa, prod = (stage.jobs[0] for stage in pipeline.stages)
    assert (qa.environment, prod.environment) == ("qa", "production")
    assert [s.kind for s in prod.steps] == ["checkout", "script"]


def test_pipeline_resources_and_the_runs_that_trigger_them() -> None:
    pipeline = loaded("""
trigger: none
resources:
  pipelines:
  - pipeline: build
    source: Build Pipeline
    trigger:
      branches:
        include: [master]
  - pipeline: nightly
    source: Nightly
    branch: main
  - pipeline: any
    source: Other
    trigger: true
steps: [{script: echo}]
""")
    build, nightly, other = pipeline.resources
    assert (build.alias, build.source, build.branch) == ("build", "Build Pipeline", "")
    assert [r.alias for r in pipeline.triggers("build pipeline", "refs/heads/master")] == \
        ["build"], "a green build on master starts the release (names ignore case)"
    assert pipeline.triggers("Build Pipeline", "feature") == []
    assert nightly.branch == "main" and pipeline.triggers("Nightly", "main") == [], \
        "without a trigger a resource is only consumed"
    assert pipeline.triggers("Other", "anything") == [other]
    assert not pipeline.trigger.enabled


def test_task_inputs_get_their_defaults_and_aliases() -> None:
    pipeline = loaded("""
        steps:
        - task: publishtestresults@2
          inputs:
            testResultsFiles: '**/junit.xml'
        - task: PublishPipelineArtifact@1
          inputs:
            path: $(Build.ArtifactStagingDirectory)
            artifactName: drop
        - publish: out
          artifact: out
        - checkout: none
        """)
    tests, artifact, publish = pipeline.stages[0].jobs[0].steps  # checkout: none is no step
    assert tests.inputs["testResultsFormat"] == "JUnit"
    assert tests.inputs["failTaskOnFailedTests"] == "false"
    assert tests.inputs["searchFolder"] == "$(System.DefaultWorkingDirectory)"
    assert artifact.inputs == {"targetPath": "$(Build.ArtifactStagingDirectory)",
                               "artifact": "drop", "publishLocation": "pipeline"}
    assert publish.task == "publishpipelineartifact@1" and publish.inputs["artifact"] == "out"


def test_step_options() -> None:
    (step,) = loaded("""
        steps:
        - bash: ./build.sh
          name: build
          displayName: Build it
          condition: eq(variables['Build.SourceBranch'], 'refs/heads/master')
          continueOnError: True
          enabled: false
          timeoutInMinutes: 0.5
          workingDirectory: src
          failOnStderr: true
          env:
            TOKEN: $(db-access-token)
        """).stages[0].jobs[0].steps
    assert (step.name, step.display_name, step.continue_on_error, step.enabled) == (
        "build", "Build it", True, False)
    assert step.timeout_minutes == 0.5 and step.env == {"TOKEN": "$(db-access-token)"}
    assert step.inputs["workingDirectory"] == "src" and step.inputs["failOnStderr"] == "true"


def test_a_file_is_read_from_disk_and_errors_name_it(tmp_path: Path) -> None:
    path = tmp_path / "azure-pipelines.yml"
    path.write_text("steps:\n- script: echo hi\n  foo: bar\n")
    with pytest.raises(PipelineError) as caught:
        load(path)
    assert str(caught.value).startswith(f"{path}:3:3: unknown key 'foo' in a script step "
                                        "(allowed: script, workingDirectory, failOnStderr")
    with pytest.raises(PipelineError, match="cannot read the file"):
        load(tmp_path / "missing.yml")


@pytest.mark.parametrize(("text", "expected"), [
    ("steps:\n- script: echo\n  foo: 1\n",
     "azure-pipelines.yml:3:3: unknown key 'foo' in a script step (allowed: script, "),
    ("steps:\n- task: AzureCLI@2\n  inputs: {}\n",
     "azure-pipelines.yml:2:9: unknown task 'AzureCLI@2' (this runner knows: Bash@3, "
     "CmdLine@2, CopyFiles@2, PublishBuildArtifacts@1, PublishCodeCoverageResults@2, "
     "PublishPipelineArtifact@1, PublishTestResults@2)"),
    ("steps:\n- task: PublishTestResults@2\n  inputs:\n    testResultsFormat: NUnit\n",
     "azure-pipelines.yml:4:5: input 'testResultsFormat' of PublishTestResults@2 is 'NUnit'; "
     "this runner supports: JUnit"),
    ("steps:\n- task: PublishTestResults@2\n  inputs:\n    colour: red\n",
     "azure-pipelines.yml:4:5: unknown input 'colour' of PublishTestResults@2 (allowed: "),
    ("steps:\n- task: PublishCodeCoverageResults@2\n",
     "azure-pipelines.yml:2:9: PublishCodeCoverageResults@2 needs the input "
     "'summaryFileLocation'"),
    ("steps:\n- script: echo\n  condition: eq(variables.a, 'b'\n",
     "azure-pipelines.yml:3:14: condition 'eq(variables.a, 'b'': the expression ends too "
     "early"),
    ("steps:\n- script: echo\n  condition: iif(true, 1, 2)\n",
     "azure-pipelines.yml:3:14: condition 'iif(true, 1, 2)': unknown function 'iif'"),
    ("steps:\n- pwsh: Write-Host hi\n",
     "azure-pipelines.yml:2:3: 'pwsh' steps are outside the subset this runner supports"),
    ("steps:\n- template: steps.yml\n",
     "azure-pipelines.yml:2:13: templates need the pipeline to be loaded from a file"),
    ("steps:\n- template: steps.yml\n  displayName: x\n",
     "azure-pipelines.yml:2:3: 'template' steps are outside the subset"),
    ("resources:\n  repositories: []\nsteps: [{script: echo}]\n",
     "azure-pipelines.yml:2:3: 'resources: repositories' is outside the subset this runner "
     "supports (allowed: pipelines)"),
    ("resources:\n  pipelines:\n  - pipeline: build\nsteps: [{script: echo}]\n",
     "azure-pipelines.yml:3:5: 'source' is missing"),
    ("resources:\n  pipelines:\n  - {pipeline: b, source: B}\n  - {pipeline: B, source: C}\n"
     "steps: [{script: echo}]\n",
     "azure-pipelines.yml:4:5: pipeline resource 'B' is defined twice"),
    ("resources:\n  pipelines:\n  - {pipeline: b, source: B, trigger: sometimes}\n"
     "steps: [{script: echo}]\n",
     "azure-pipelines.yml:3:39: a pipeline resource's trigger is true, none or branches, "
     "not 'sometimes'"),
    ("resources:\n  pipelines:\n  - {pipeline: b, source: B, trigger: {stages: [A]}}\n"
     "steps: [{script: echo}]\n",
     "unknown key 'stages' in a pipeline resource's 'trigger' (allowed: enabled, branches)"),
    ("colour: red\nsteps: [{script: echo}]\n",
     "azure-pipelines.yml:1:1: unknown key 'colour' at the top of the pipeline (allowed: "),
    ("trigger: [main]\n", "azure-pipelines.yml:1:1: a pipeline needs exactly one of "
                          "'stages', 'jobs' or 'steps'"),
    ("steps: [{script: echo}]\njobs: [{job: A, steps: [{script: echo}]}]\n",
     "needs exactly one of 'stages', 'jobs' or 'steps' (found jobs, steps)"),
    ("stages:\n- stage: A\n  jobs:\n  - job: J\n    steps: [{script: echo}]\n"
     "- stage: B\n  dependsOn: C\n  jobs:\n  - job: J\n    steps: [{script: echo}]\n",
     "azure-pipelines.yml:6:3: stage 'B' depends on unknown stage 'C'"),
    ("jobs:\n- job: A\n  dependsOn: B\n  steps: [{script: echo}]\n"
     "- job: B\n  dependsOn: A\n  steps: [{script: echo}]\n",
     "the jobs depend on each other in a loop: A -> B -> A"),
    ("jobs:\n- job: A\n  steps: [{script: echo}]\n- job: a\n  steps: [{script: echo}]\n",
     "azure-pipelines.yml:4:3: job name 'a' is used twice"),
    ("jobs:\n- job: my-job\n  steps: [{script: echo}]\n",
     "azure-pipelines.yml:2:8: job name 'my-job' may hold only letters, digits and '_'"),
    ("jobs:\n- job: A\n  strategy: {matrix: {}}\n  steps: [{script: echo}]\n",
     "azure-pipelines.yml:3:3: unknown key 'strategy' in a job (allowed: job, "),
    ("jobs:\n- deployment: D\n  environment: qa\n  strategy:\n    canary: {}\n",
     "azure-pipelines.yml:5:5: the 'canary' strategy is outside the subset"),
    ("jobs:\n- deployment: D\n  strategy: {runOnce: {deploy: {steps: []}}}\n",
     "azure-pipelines.yml:2:3: deployment 'D' needs 'environment'"),
    ("steps:\n- script: echo\n  continueOnError: maybe\n",
     "azure-pipelines.yml:3:20: 'continueOnError' must be true or false, not 'maybe'"),
    ("steps:\n- script: echo\n  timeoutInMinutes: soon\n",
     "azure-pipelines.yml:3:21: 'timeoutInMinutes' must be a number of minutes, not 'soon'"),
    ("variables:\n  a: $[ variables.b ]\nsteps: [{script: echo}]\n",
     "azure-pipelines.yml:2:6: runtime expressions '$[ ]' are outside the subset"),
    ("variables:\n  bad name: x\nsteps: [{script: echo}]\n",
     "azure-pipelines.yml:2:3: variable name 'bad name' may hold only letters"),
    ("steps:\n- checkout: other\n",
     "azure-pipelines.yml:2:13: checkout 'other': only 'self' and 'none' are supported"),
    ("steps:\n- script: echo\n  name: a\n- script: echo\n  name: A\n",
     "azure-pipelines.yml:4:3: step name 'A' is used twice in one job"),
])
def test_each_error_names_the_place_and_the_thing(text: str, expected: str) -> None:
    assert expected in error_of(text)


@pytest.mark.parametrize(("text", "expected"), [
    ("steps:\n- script: echo\n   bad: indentation\n",
     "azure-pipelines.yml:3:7: malformed YAML: mapping values are not allowed here"),
    ("steps: [\n", "azure-pipelines.yml:2:1: malformed YAML: while parsing a flow node "
                   "expected the node content, but found"),
    ("steps:\n- script: 'unterminated\n", "azure-pipelines.yml:3:1: malformed YAML: while "
                                           "scanning a quoted scalar found unexpected end"),
    ("a: &x 1\nsteps: [{script: *x}]\n",
     "azure-pipelines.yml:1:4: anchors and aliases are not supported"),
    ("steps: [{script: a}]\nsteps: [{script: b}]\n",
     "azure-pipelines.yml:2:1: 'steps' is already defined"),
    ("", "azure-pipelines.yml: the file is empty"),
    ("- just\n- a list\n", "azure-pipelines.yml:1:1: a pipeline file must be a mapping"),
])
def test_malformed_yaml_is_reported_the_same_way(text: str, expected: str) -> None:
    assert expected in error_of(text)
