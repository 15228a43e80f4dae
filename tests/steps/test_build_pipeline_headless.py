"""The build pipeline, headless on the local target, from the end of the pull request: the
YAML committed to master runs for real (training on the pipeline cluster through the
sandbox's Databricks REST API, the inference and test images built on the Docker engine, the
tests run inside), a merge queues the next run, and the rollback leaves nothing."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from labtui.targets.base import NotFound
from labtui.targets.local import LocalTarget
from labtui.targets.local.containers import DockerContainers
from labtui.targets.local.vault import vault_uri
from tests.conftest import BASE_IMAGE, LAB_DATA, LabtuiRunner, labtui_env, require_lab_data
from tests.steps.test_devloop_headless import workspace_id
from tests.steps.test_pipelines_headless import (
    ANSWERS,
    PROJECT,
    dev_loop_done,
    git_log,
    values,
)
from tests.targets.local.conftest import local_host

__all__ = ["dev_loop_done"]  # the fixture, used by name

CA_BUNDLE = Path("/etc/ssl/certs/ca-certificates.crt")
FAILING_TEST = ("\n\ndef test_the_estimate_is_negative():\n"
                "    assert 1 == 2, 'wages are never negative'\n")


@pytest.fixture
def lab(tmp_path: Path) -> LabtuiRunner:
    require_lab_data()
    home = tmp_path / "home"
    home.mkdir()
    # No databricks-token: the secrets step issues one the sandbox's workspace accepts,
    # which the pipeline's training uses through the REST API.
    env = labtui_env(HOME=str(home), DATABRICKS_CONFIG_FILE=str(home / ".databrickscfg"),
                     COLUMNS="200")
    runner = LabtuiRunner(tmp_path / "ws", env)
    answers = tmp_path / "answers.toml"
    answers.write_text(ANSWERS + f'data-file = "{LAB_DATA}"\n'
                       'data-url = "http://127.0.0.1:9/AdultCensusIncome.csv"\n'
                       f'base-image = "{BASE_IMAGE}"\n'
                       + (f'ca-bundle = "{CA_BUNDLE}"\n' if CA_BUNDLE.exists() else ""))
    runner.env["LABTUI_TEST_ANSWERS"] = str(answers)
    return runner


def pipeline_images(workspace: Path, containers: DockerContainers) -> list[str]:
    """The images of this workspace that a pipeline run built."""
    return [",".join(image.tags) or image.id
            for image in containers.images(f"labtui.workspace={workspace_id(workspace)}")
            if "labtui.pipeline" in image.labels]


def test_the_merge_queues_a_green_build_a_failing_test_fails_it_and_rollback_leaves_nothing(
        lab: LabtuiRunner, dev_loop_done: Path, containers: DockerContainers) -> None:
    assert lab("--step", "pull-request", "--headless", *values(lab)).code == 1
    approved = lab("--step", "pull-request", "--headless", "--approve", "--as", "grace")
    assert approved.code == 0, approved.output
    ready = lab("--step", "variable-group", "--with-requires", "--headless", *values(lab),
                timeout=900)
    assert ready.code == 0, ready.output[-3000:]
    uploaded = lab("--step", "upload-data", "--env", "pipeline", "--headless", *values(lab))
    assert uploaded.code == 0, uploaded.output[-3000:]

    built = lab("--step", "build-pipeline", "--headless", *values(lab), timeout=1500)
    assert built.code == 0, built.output[-5000:]
    out = built.output
    assert "committed azure-pipelines.yml, ci/train_on_cluster.py to master" in out
    assert "the last push came before the pipeline existed" in out
    assert "submitting /Shared/Project_One/train_model_ci on cluster" in out, \
        "the run trained on the pipeline cluster through the REST API"
    assert "##[section]Starting: Build the test image" in out, "the run's log is the step's"
    assert "test_the_attendee_wrote" in out, "the published tests are shown in the summary"
    assert "model_class.py" in out, "the published coverage is shown in the summary"
    tree = [line.split("] ", 1)[-1] for line in out.splitlines()]
    assert any(line.startswith("run ") and " of model-build on master: succeeded" in line
               for line in tree), "the run's tree follows it"
    assert any(line.startswith("  ✓ Train, build and test ") for line in tree)
    assert any(line.startswith("      ✓ Run the unit tests in the test image ")
               for line in tree), "each step with its result, under its job"
    assert git_log(lab)[0].endswith("|Add the build pipeline")
    target = LocalTarget(lab.workspace)
    try:
        token = target.vault.get_secret(vault_uri("contoso7-kv-pipeline"), "db-access-token")
    finally:
        target.close()
    assert token not in out and "DATABRICKS_TOKEN" not in out.replace(
        "DATABRICKS_TOKEN: $(db-access-token)", ""), "the token never shows"
    assert pipeline_images(lab.workspace, containers), "the run built its images"

    verified = lab("--step", "build-pipeline", "--headless", "--verify")
    assert verified.code == 0, verified.output
    assert "tests published" in verified.output and "line rate" in verified.output

    # The attendee's next change carries a failing test: its merge queues the build.
    tests = dev_loop_done / "Project_One-Tests" / "test_model.py"
    tests.write_text(tests.read_text() + FAILING_TEST)
    assert lab("--step", "pull-request", "--headless", "--force").code == 1
    merged = lab("--step", "pull-request", "--headless", "--approve", "--as", "grace")
    assert merged.code == 0, merged.output
    target = LocalTarget(lab.workspace)
    try:
        pipeline = target.pipelines.get("contoso7", PROJECT, "model-build")
        runs = target.pipelines.runs(pipeline)
        head = target.devops.branches(target.devops.get_repository(
            "contoso7", PROJECT, PROJECT))["master"]
        assert (runs[0].commit, runs[0].state) == (head, "queued")
        assert target.pipelines.reason(runs[0]) == "IndividualCI"
    finally:
        target.close()
    drift = lab("--step", "build-pipeline", "--headless", "--verify")
    assert drift.code == 3 and "is queued" in drift.output, drift.output
    failed = lab("--step", "build-pipeline", "--headless", timeout=1500)
    assert failed.code == 1, failed.output[-5000:]
    assert "was queued by the push" in failed.output
    assert "test tests.test_model.test_the_estimate_is_negative failed: AssertionError: " \
        "wages are never negative" in failed.output, \
        failed.output[-3000:]
    assert any(line.split("] ", 1)[-1].startswith("      ✗ Run the unit tests in the test image")
               for line in failed.output.splitlines()), "the tree shows where it failed"

    rolled = lab("--step", "build-pipeline", "--headless", "--rollback")
    assert rolled.code == 0, rolled.output
    target = LocalTarget(lab.workspace)
    try:
        assert target.pipelines.pipelines("contoso7", PROJECT) == []
        assert not (lab.workspace / "sandbox" / "builds").exists(), "no run is left"
        copy = target.workstation.working_copy(
            target.devops.get_repository("contoso7", PROJECT, PROJECT),
            lab.workspace / "repos" / PROJECT)
        copy.fetch()
        assert "azure-pipelines.yml" not in copy.files("origin/master")
        assert target.models.list_models("contoso7-ml-pipeline", "worst_regression") == []
        with pytest.raises(NotFound):
            adb = local_host(target.databricks, "contoso7-adb-pipeline")
            target.databricks.notebook_source(adb,
                                              "/Shared/Project_One/train_model_ci")
    finally:
        target.close()
    assert git_log(lab)[0].endswith("|Remove azure-pipelines.yml") or \
        git_log(lab)[0].endswith("|Remove ci/train_on_cluster.py")
    assert pipeline_images(lab.workspace, containers) == [], "no image of the workspace"
    bare = lab.workspace / "sandbox" / "devops" / "contoso7" / PROJECT / "repos" / \
        f"{PROJECT}.git"
    history = subprocess.run(["git", "--git-dir", str(bare), "log", "--format=%s", "master"],
                             capture_output=True, text=True, check=True).stdout
    assert "Add the build pipeline" in history, "master's history is kept"
