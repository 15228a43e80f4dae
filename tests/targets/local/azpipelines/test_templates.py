"""Template expressions resolve at compile time: parameters (typed, with defaults and allowed
values), variables, and the if/elseif/else and each directives."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from labtui.targets.local.azpipelines import PipelineError, load
from tests.targets.local.azpipelines.conftest import loaded

PARAMETERS = """
parameters:
- name: environment
  type: string
  default: qa
  values: [qa, production]
- name: retries
  type: number
  default: 2
- name: smoke
  type: boolean
  default: false
- name: regions
  type: object
  default: [eastus, westeurope]
variables:
  image.name: census-${{ parameters.environment }}
  tag: ${{ variables['image.name'] }}:${{ parameters.retries }}
steps:
- script: echo deploy to ${{ parameters.environment }} with ${{ parameters.retries }} retries
  displayName: Deploy ${{ upper(parameters.environment) }}
- ${{ if parameters.smoke }}:
  - script: echo smoke
    displayName: Smoke
- ${{ elseif eq(parameters.environment, 'production') }}:
  - script: echo careful
    displayName: Careful
- ${{ else }}:
  - script: echo no smoke
    displayName: NoSmoke
- ${{ each region in parameters.regions }}:
  - script: echo ${{ region }}
    displayName: Region ${{ region }}
"""


def steps(**parameters: str) -> list[tuple[str, str]]:
    pipeline = loaded(PARAMETERS, parameters=parameters)
    return [(s.display_name, s.inputs["script"]) for s in pipeline.stages[0].jobs[0].steps]


def test_defaults_fill_in_the_parameters() -> None:
    assert steps() == [
        ("Deploy QA", "echo deploy to qa with 2 retries"),
        ("NoSmoke", "echo no smoke"),
        ("Region eastus", "echo eastus"), ("Region westeurope", "echo westeurope")]
    variables = loaded(PARAMETERS).variables
    assert [(v.name, v.value) for v in variables] == [("image.name", "census-qa"),
                                                      ("tag", "census-qa:2")]


def test_given_values_choose_the_branches() -> None:
    assert steps(smoke="true")[1] == ("Smoke", "echo smoke")
    assert steps(environment="production")[1] == ("Careful", "echo careful")
    assert [name for name, _ in steps(regions="[northeurope]")][-1] == "Region northeurope"
    assert loaded(PARAMETERS, parameters={"retries": "5"}).parameters["retries"] == 5.0


@pytest.mark.parametrize(("parameters", "message"), [
    ({"environment": "staging"},
     "azure-pipelines.yml:3:9: parameter 'environment' is 'staging', not one of: qa, "
     "production"),
    ({"retries": "many"}, "azure-pipelines.yml:7:9: parameter 'retries' must be a number, "
                          "not 'many'"),
    ({"smoke": "yes"}, "azure-pipelines.yml:10:9: parameter 'smoke' must be true or false, "
                       "not 'yes'"),
    ({"colour": "red"}, "azure-pipelines.yml: unexpected parameter 'colour' (the file "
                        "declares: environment, retries, smoke, regions)"),
])
def test_a_wrong_parameter_is_named(parameters: dict[str, str], message: str) -> None:
    with pytest.raises(PipelineError) as caught:
        loaded(PARAMETERS, parameters=parameters)
    assert str(caught.value) == message


def test_a_parameter_without_default_must_be_given() -> None:
    text = "parameters:\n- name: target\nsteps:\n- script: echo ${{ parameters.target }}\n"
    with pytest.raises(PipelineError, match=r"^azure-pipelines.yml:2:9: a value for the "
                                            r"parameter 'target' must be provided"):
        loaded(text)
    assert loaded(text, parameters={"target": "x"}).stages[0].jobs[0].steps[0].inputs[
        "script"] == "echo x"


def test_a_directive_merges_keys_into_a_mapping() -> None:
    pipeline = loaded("""
        parameters:
        - name: tolerant
          type: boolean
          default: true
        steps:
        - script: echo
          ${{ if parameters.tolerant }}:
            continueOnError: true
            displayName: Tolerant
        """)
    step = pipeline.stages[0].jobs[0].steps[0]
    assert step.continue_on_error and step.display_name == "Tolerant"


def test_compile_time_variables_from_the_host_are_seen() -> None:
    pipeline = loaded("""
        steps:
        - ${{ if eq(variables['Build.SourceBranch'], 'refs/heads/master') }}:
          - script: echo on master
        """, variables={"Build.SourceBranch": "refs/heads/master"})
    assert len(pipeline.stages[0].jobs[0].steps) == 1


@pytest.mark.parametrize(("text", "message"), [
    ("steps:\n- script: echo ${{ eq(parameters.x) }}\n",
     "azure-pipelines.yml:2:11: template expression '${{ eq(parameters.x) }}': eq() takes 2"),
    ("steps:\n- script: echo ${{ succeeded() }}\n", "unknown function 'succeeded'"),
    ("steps:\n- script: echo ${{ dependencies.a }}\n",
     "unknown name 'dependencies' (allowed: parameters, variables)"),
    ("steps:\n- ${{ else }}:\n  - script: echo\n",
     "azure-pipelines.yml:2:3: '${{ else }}' without an '${{ if }}' before it"),
    ("steps:\n- ${{ each x parameters.y }}:\n  - script: echo\n",
     "'${{ each }}' is written '${{ each item in parameters.list }}'"),
    ("parameters:\n- name: n\n  type: stepList\n  default: []\nsteps: [{script: echo}]\n",
     "azure-pipelines.yml:3:9: parameter type 'steplist' is outside the subset"),
])
def test_template_errors_are_named(text: str, message: str) -> None:
    with pytest.raises(PipelineError) as caught:
        loaded(text)
    assert message in str(caught.value)


def test_an_unknown_parameter_reference_is_empty_as_in_azure() -> None:
    # Azure replaces a parameter that does not exist with an empty string.
    pipeline = loaded("steps:\n- script: echo [${{ parameters.x }}]\n")
    assert pipeline.stages[0].jobs[0].steps[0].inputs["script"] == "echo []"


def test_each_over_an_object_and_if_among_stages() -> None:
    pipeline = loaded("""
        parameters:
        - name: environments
          type: object
          default: {qa: 1, production: 2}
        - name: withLint
          type: boolean
          default: false
        stages:
        - ${{ each env in parameters.environments }}:
          - stage: Deploy_${{ env.key }}
            jobs:
            - job: J
              steps: [{script: "echo ${{ env.key }} is step ${{ env.value }}"}]
        - ${{ if parameters.withLint }}:
          - stage: Lint
            jobs: [{job: J, steps: [{script: lint}]}]
        """)
    assert [stage.name for stage in pipeline.stages] == ["Deploy_qa", "Deploy_production"]
    assert pipeline.stages[1].depends_on == ("Deploy_qa",)
    assert pipeline.stages[1].jobs[0].steps[0].inputs["script"] == "echo production is step 2"


def test_template_files_with_parameters(tmp_path: Path) -> None:
    (tmp_path / "templates").mkdir()
    (tmp_path / "templates" / "test-steps.yml").write_text(textwrap.dedent("""
        parameters:
        - name: suite
          type: string
        - name: coverage
          type: boolean
          default: true
        steps:
        - script: pytest ${{ parameters.suite }}
          displayName: Test ${{ parameters.suite }}
        - ${{ if parameters.coverage }}:
          - template: coverage.yml
        """))
    (tmp_path / "templates" / "coverage.yml").write_text(
        "steps:\n- task: PublishCodeCoverageResults@2\n"
        "  inputs: {summaryFileLocation: coverage.xml}\n")
    (tmp_path / "templates" / "deploy-job.yml").write_text(textwrap.dedent("""
        parameters:
          environment: qa
        jobs:
        - deployment: Deploy_${{ parameters.environment }}
          environment: ${{ parameters.environment }}
          strategy: {runOnce: {deploy: {steps: [{script: echo deploy}]}}}
        """))
    (tmp_path / "vars.yml").write_text("variables:\n- name: image\n  value: census\n")
    path = tmp_path / "azure-pipelines.yml"
    path.write_text(textwrap.dedent("""
        variables:
        - template: vars.yml
        stages:
        - stage: Build
          jobs:
          - job: Test
            steps:
            - template: templates/test-steps.yml
              parameters:
                suite: unit
            - template: /templates/test-steps.yml
              parameters: {suite: integration, coverage: false}
        - stage: Release
          jobs:
          - template: templates/deploy-job.yml
            parameters: {environment: production}
        """))
    pipeline = load(path)
    assert [(v.name, v.value) for v in pipeline.variables] == [("image", "census")]
    build, release = pipeline.stages
    assert [s.display_name for s in build.jobs[0].steps] == [
        "Test unit", "PublishCodeCoverageResults", "Test integration"]
    (job,) = release.jobs
    assert (job.name, job.environment) == ("Deploy_production", "production")


def test_errors_in_a_template_name_the_template(tmp_path: Path) -> None:
    (tmp_path / "steps.yml").write_text("parameters:\n- name: n\n  type: number\n"
                                        "steps:\n- script: echo\n  colour: red\n")
    path = tmp_path / "azure-pipelines.yml"
    path.write_text("steps:\n- template: steps.yml\n  parameters: {n: 1}\n")
    with pytest.raises(PipelineError) as caught:
        load(path)
    assert str(caught.value).startswith(f"{tmp_path / 'steps.yml'}:6:3: unknown key 'colour' "
                                        "in a script step")
    path.write_text("steps:\n- template: steps.yml\n  parameters: {n: x}\n")
    with pytest.raises(PipelineError, match=r"steps.yml:2:9: parameter 'n' must be a number, "
                                            r"not 'x'"):
        load(path)
    path.write_text("steps:\n- template: steps.yml\n  parameters: {n: 1, m: 2}\n")
    with pytest.raises(PipelineError) as caught:
        load(path)
    assert str(caught.value) == f"{path}:3:15: unexpected parameter 'm' (the template " \
                                "declares: n)"
    path.write_text("steps:\n- template: missing.yml\n")
    with pytest.raises(PipelineError, match=r"azure-pipelines.yml:2:13: template "
                                            r"'missing.yml': cannot read .*missing.yml"):
        load(path)
    (tmp_path / "loop.yml").write_text("steps:\n- template: loop.yml\n")
    path.write_text("steps:\n- template: loop.yml\n")
    with pytest.raises(PipelineError, match="more than 20 levels deep"):
        load(path)
