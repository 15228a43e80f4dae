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


def test_git_integration_rollback_restores_the_attendees_provider(
        lab: LabtuiRunner, tmp_path: Path) -> None:
    answers = tmp_path / "answers.toml"
    answers.write_text('prefix = "contoso7"\n'
                       'tenant-id = "72f988bf-86f1-41af-91ab-2d7cd011db47"\n'
                       'subscription-id = "0b1f6471-1bf0-4dda-aec3-cb9272f09590"\n'
                       'databricks-token = "dapi0123456789abcdef0123456789abcdef-1"\n')
    ready = lab("--step", "databricks", "--env", "dev", "--with-requires", "--headless",
                "--values", str(answers))
    assert ready.code == 0, ready.output
    target = LocalTarget(lab.workspace)
    target.databricks.set_git_provider("contoso7-adb-dev", "gitHub")
    target.close()

    for _ in range(2):  # a rerun must not forget what was there before
        ran = lab("--step", "git-integration", "--with-requires", "--force", "--headless")
        assert ran.code == 0, ran.output
    rolled = lab("--step", "git-integration", "--rollback", "--headless")
    assert rolled.code == 0, rolled.output

    target = LocalTarget(lab.workspace)
    databricks = target.databricks
    assert databricks.git_provider("contoso7-adb-dev") == "gitHub"
    assert databricks.notebook_link("contoso7-adb-dev", "/Shared/Project_One/train_model") is None
    target.close()


def test_the_labs_own_git_commands_work_on_the_attendees_branch(lab: LabtuiRunner) -> None:
    """The lab: `git checkout BRANCH`, `git pull`, edit, `git commit`, `git push` — plain git."""
    import subprocess

    ran = lab("--step", "git-integration", "--with-requires", "--headless",
              "--set", "prefix=contoso7", "--set", "branch=ada")
    assert ran.code == 0, ran.output
    clone = lab.workspace / "repos" / "contoso7-mlops"
    env = {**lab.env, "GIT_AUTHOR_NAME": "Ada", "GIT_AUTHOR_EMAIL": "ada@example.com",
           "GIT_COMMITTER_NAME": "Ada", "GIT_COMMITTER_EMAIL": "ada@example.com"}

    def git(*args: str) -> str:
        done = subprocess.run(["git", *args], cwd=clone, env=env, capture_output=True,
                              text=True, timeout=60)
        assert done.returncode == 0, f"git {' '.join(args)}: {done.stderr}"
        return done.stdout.strip()

    git("checkout", "ada")
    assert git("rev-parse", "--abbrev-ref", "ada@{upstream}") == "origin/ada"
    git("pull")
    notebook = clone / "Project_One" / "notebooks" / "train_model.py"
    notebook.write_text(notebook.read_text() + "\n# tried a new feature\n")
    git("commit", "-am", "works")
    git("push")
    assert git("rev-parse", "HEAD") == git("rev-parse", "origin/ada")
    assert git("rev-parse", "origin/master") != git("rev-parse", "origin/ada")
