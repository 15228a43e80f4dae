"""The whole lab on the local target, end to end: Infrastructure, Azure DevOps and the Dev loop
with a real git repository, the notebook training on the census data with Spark, a real Docker
image serving predictions and the tests running inside it with coverage."""

from __future__ import annotations

import json
import os
import subprocess
import urllib.request
from pathlib import Path

import pytest

from labtui.targets.local.containers import DockerContainers
from tests.conftest import BASE_IMAGE, LAB_DATA, LabtuiRunner, labtui_env, require_lab_data
from tests.sandbox_snapshot import snapshot

CA_BUNDLE = Path("/etc/ssl/certs/ca-certificates.crt")
TOKEN = "dapi7c1e9a2b440123456789abcdef012345"


@pytest.fixture
def lab(tmp_path: Path) -> LabtuiRunner:
    require_lab_data()
    home = tmp_path / "home"
    home.mkdir()
    env = labtui_env(HOME=str(home), DATABRICKS_CONFIG_FILE=str(home / ".databrickscfg"),
                     COLUMNS="160")
    return LabtuiRunner(tmp_path / "ws", env)


def test_the_whole_lab_runs_serves_tests_and_rolls_back(
        lab: LabtuiRunner, tmp_path: Path, containers: DockerContainers) -> None:
    docker = containers
    prefix = f"dl{os.getpid() % 10**6}"  # images of concurrent runs never meet
    answers = tmp_path / "answers.toml"
    answers.write_text(
        f'prefix = "{prefix}"\n'
        'tenant-id = "72f988bf-86f1-41af-91ab-2d7cd011db47"\n'
        'subscription-id = "0b1f6471-1bf0-4dda-aec3-cb9272f09590"\n'
        'reviewer = "grace"\n'
        f'data-file = "{LAB_DATA}"\n'
        'data-url = "http://127.0.0.1:9/AdultCensusIncome.csv"\n'
        f'base-image = "{BASE_IMAGE}"\n'
        + (f'ca-bundle = "{CA_BUNDLE}"\n' if CA_BUNDLE.exists() else "")
        # The given token is dev's: the pipeline workspace issues its own, which the build
        # pipeline trains with (the sandbox accepts only the tokens it issued).
        + f'[env.dev]\ndatabricks-token = "{TOKEN}"\n'
    )
    before = snapshot(lab.workspace)

    ran = lab("--all", "--headless", "--solve", "--values", str(answers), timeout=1500)
    assert ran.code == 0, ran.output[-4000:]
    assert "rows: 32561" in ran.output, "the notebook trained on the whole census file"
    assert f"pulled {prefix} into /Repos/" in ran.output, "it ran from the Git folder"
    assert "MAE" in ran.output and "R²" in ran.output
    assert "test_run_returns_a_numeric_estimate" in ran.output, "the test table is shown"
    assert "model_class.py" in ran.output, "the coverage table is shown"
    assert TOKEN not in ran.output
    # The Pipelines section from the end of the dev loop: the reviewer's approval (--solve)
    # completed the pull request into master, and the variable group links the vault.
    assert "solved: grace approved pull request 1" in ran.output
    bare = (lab.workspace / "sandbox" / "devops" / prefix / f"{prefix}-mlops" / "repos"
            / f"{prefix}-mlops.git")
    master = subprocess.run(["git", "--git-dir", str(bare), "log", "--format=%s", "master"],
                            capture_output=True, text=True, check=True).stdout.splitlines()
    assert master[0] == "Add the release pipeline (QA, then Production on approval)"
    assert f"Merged PR 1: {prefix}: works" in master
    # The build the merge needs ran green, then the release: QA served and smoke-tested,
    # Production approved (--solve, as the release manager) and answering a scoring request.
    assert "✓ build-pipeline (pipeline): done and verified" in ran.output
    assert "approval: approved by grace: solved: the reference release" in ran.output
    assert f"QA serving: {prefix}-inference-qa: estimated_wages" in ran.output
    assert f"Production serving: {prefix}-inference-production: estimated_wages" in ran.output
    assert "succeeded: QA and Production are served" in ran.output
    assert "variable group 'Staging Environment Variable Group' linked to key vault " \
        f"{prefix}-kv-pipeline" in ran.output

    metrics = json.loads((lab.workspace / "artifacts" / "train-model-dev" / "metrics.json")
                         .read_text())
    assert metrics["r2"] < 0.05, "the world's worst regression explains next to nothing"
    assert len(metrics["actual"]) == len(metrics["predicted"]) == 10746  # 33% of 32,561

    owner = workspace_id(lab.workspace)
    image = f"{prefix}-inference:1-{owner}"
    assert docker.image(image).labels["labtui.workspace"] == owner
    served = docker.run(image, name=f"labtui-e2e-{os.getpid()}", ports={5001: None})
    try:
        port = docker.container(served.id).ports[5001]
        body = json.dumps({"age": 37, "hours-per-week": 40.0, "sex": "Female",
                           "occupation": "Exec-managerial"}).encode()
        request = urllib.request.Request(f"http://127.0.0.1:{port}/score", data=body,
                                         headers={"Content-Type": "application/json"})
        answer = _retry_json(request)
        wages = answer["estimated_wages"]
        assert isinstance(wages, float) and wages > 0
    finally:
        docker.remove_container(served.id)

    # A test that fails makes the step fail and says which test and why.
    tests = lab.workspace / "repos" / f"{prefix}-mlops" / "Project_One-Tests" / "test_model.py"
    tests.write_text(tests.read_text() + "\n\ndef test_breaks():\n    assert 1 + 1 == 3\n")
    failed = lab("--step", "test-image", "--headless", "--force", timeout=600)
    assert failed.code == 1, failed.output[-3000:]
    assert "1 of 3 tests failed; test_breaks" in failed.output

    rolled = lab("--all", "--headless", "--rollback", "--yes", timeout=600)
    assert rolled.code == 0, rolled.output[-3000:]
    label = f"labtui.workspace={owner}"
    assert docker.images(label) == [] and docker.containers(label) == []
    assert snapshot(lab.workspace) == before
    assert not (lab.workspace / "repos").exists()


def workspace_id(workspace: Path) -> str:
    """The id the workspace labels its images and containers with (kept in sandbox.db)."""
    import sqlite3

    conn = sqlite3.connect(workspace / "sandbox" / "sandbox.db")
    try:
        (value,) = conn.execute("SELECT value FROM meta WHERE key = 'workspace-id'").fetchone()
    finally:
        conn.close()
    return str(value)


def _retry_json(request: urllib.request.Request) -> dict[str, object]:
    import time
    import urllib.error

    deadline = time.monotonic() + 60
    while True:
        try:
            with urllib.request.urlopen(request, timeout=10) as answer:
                data: dict[str, object] = json.loads(answer.read())
                return data
        except (urllib.error.URLError, ConnectionError):
            if time.monotonic() > deadline:
                raise
            time.sleep(0.5)
