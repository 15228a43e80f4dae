"""The Azure DevOps section headless: reruns and rollbacks leave the repository as it was."""

from __future__ import annotations

from pathlib import Path

import pytest

from labtui.targets.local import LocalTarget
from tests.conftest import LabtuiRunner, labtui_env

ORGANIZATION = "https://dev.azure.com/contoso7"


@pytest.fixture
def lab(tmp_path: Path) -> LabtuiRunner:
    home = tmp_path / "home"
    home.mkdir()
    env = labtui_env(HOME=str(home), DATABRICKS_CONFIG_FILE=str(home / ".databrickscfg"),
                     COLUMNS="200")
    return LabtuiRunner(tmp_path / "ws", env)


def test_seed_repo_run_again_still_rolls_back(lab: LabtuiRunner) -> None:
    first = lab("--step", "seed-repo", "--with-requires", "--headless",
                "--set", "prefix=contoso7")
    assert first.code == 0, first.output
    again = lab("--step", "seed-repo", "--force", "--headless")
    assert again.code == 0, again.output
    rolled = lab("--step", "seed-repo", "--rollback", "--headless")
    assert rolled.code == 0, rolled.output
    target = LocalTarget(lab.workspace)
    repo = target.devops.get_repository("contoso7", "contoso7-mlops", "contoso7-mlops")
    assert "master" not in target.devops.branches(repo), "the seed's master is removed"
    assert not (lab.workspace / "repos").exists()
    target.close()


def test_rollback_keeps_a_project_that_existed_before(lab: LabtuiRunner) -> None:
    target = LocalTarget(lab.workspace)
    target.devops.create_project("contoso7", "contoso7-mlops", process="Agile")
    target.close()
    ran = lab("--step", "devops-project", "--headless", "--set", "prefix=contoso7")
    assert ran.code == 0, ran.output
    rolled = lab("--step", "devops-project", "--rollback", "--headless")
    assert rolled.code == 0, rolled.output
    target = LocalTarget(lab.workspace)
    assert target.devops.get_project("contoso7", "contoso7-mlops").name == "contoso7-mlops"
    with pytest.raises(Exception, match="does not exist"):
        target.devops.get_repository("contoso7", "contoso7-mlops", "contoso7-mlops")
    target.close()
