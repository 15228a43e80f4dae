"""The Azure DevOps section headless: reruns and rollbacks leave the repository as it was."""

from __future__ import annotations

from pathlib import Path

import pytest

from labtui.targets.local import LocalTarget
from labtui.targets.resources import GitCredential
from tests.conftest import LabtuiRunner, labtui_env
from tests.targets.local.conftest import local_host

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


DEVOPS_PAT = "devopspat0123456789abcdefghijklmnop"


def _databricks_ready(lab: LabtuiRunner, tmp_path: Path) -> Path:
    answers = tmp_path / "answers.toml"
    answers.write_text('prefix = "contoso7"\n'
                       'tenant-id = "72f988bf-86f1-41af-91ab-2d7cd011db47"\n'
                       'subscription-id = "0b1f6471-1bf0-4dda-aec3-cb9272f09590"\n'
                       'databricks-token = "dapi0123456789abcdef0123456789abcdef-1"\n'
                       f'devops-token = "{DEVOPS_PAT}"\n')
    ready = lab("--step", "databricks", "--env", "dev", "--with-requires", "--headless",
                "--values", str(answers))
    assert ready.code == 0, ready.output
    return answers


def test_git_integration_rollback_restores_the_attendees_provider(
        lab: LabtuiRunner, tmp_path: Path) -> None:
    _databricks_ready(lab, tmp_path)
    target = LocalTarget(lab.workspace)
    adb = local_host(target.databricks, "contoso7-adb-dev")
    target.databricks.set_git_provider(adb, GitCredential("gitHub", "ada-gh"))
    target.close()

    for _ in range(2):  # a rerun must not forget what was there before
        ran = lab("--step", "git-integration", "--with-requires", "--force", "--headless")
        assert ran.code == 0, ran.output
    rolled = lab("--step", "git-integration", "--rollback", "--headless")
    assert rolled.code == 0, rolled.output
    assert "if it had a token, enter it again" in rolled.output

    target = LocalTarget(lab.workspace)
    databricks = target.databricks
    adb = local_host(databricks, "contoso7-adb-dev")
    assert databricks.git_provider(adb) == GitCredential("gitHub", "ada-gh")
    assert databricks.git_folders(adb) == [], "the Git folder is deleted"
    target.close()


def test_git_integration_clones_a_git_folder_on_the_branch_with_the_credential(
        lab: LabtuiRunner, tmp_path: Path) -> None:
    """The credential carries the DevOps token (kept sealed, never shown); the Git folder at
    /Repos/<user>/<repository> is on the attendee's branch, and the notebook in it is the file
    the branch holds; a commit pushed to the branch reaches it on the next update."""
    import subprocess

    _databricks_ready(lab, tmp_path)
    ran = lab("--step", "git-integration", "--with-requires", "--headless",
              "--set", "git-username=ada@contoso.com")
    assert ran.code == 0, ran.output
    assert "Git credential: azureDevOpsServices as ada@contoso.com with your personal" in (
        ran.output)
    target = LocalTarget(lab.workspace)
    databricks = target.databricks
    assert databricks.git_provider(local_host(databricks, "contoso7-adb-dev")) == GitCredential(
        "azureDevOpsServices", "ada@contoso.com")
    adb = local_host(databricks, "contoso7-adb-dev")
    folder = databricks.git_folder(adb, "/Repos/ada@contoso.com/contoso7-mlops")
    repo = target.devops.get_repository("contoso7", "contoso7-mlops", "contoso7-mlops")
    assert (folder.url, folder.branch) == (repo.web_url, "contoso7")
    assert folder.head_commit == target.devops.branches(repo)["contoso7"]
    notebook = "/Repos/ada@contoso.com/contoso7-mlops/Project_One/notebooks/train_model"
    clone = lab.workspace / "repos" / "contoso7-mlops"
    on_branch = (clone / "Project_One" / "notebooks" / "train_model.py").read_text()
    adb = local_host(databricks, "contoso7-adb-dev")
    assert databricks.notebook_source(adb, notebook) == on_branch
    target.close()

    verified = lab("--step", "git-integration", "--verify", "--headless")
    assert verified.code == 0, verified.output
    assert "/Repos/ada@contoso.com/contoso7-mlops on contoso7 at" in verified.output

    # The token is a secret: not in what labtui printed, its state or the journal.
    assert DEVOPS_PAT not in ran.output + verified.output
    for stored in lab.workspace.rglob("*"):
        if stored.is_file() and stored.suffix in (".db", ".json", ".jsonl", ".log", ".toml"):
            assert DEVOPS_PAT.encode() not in stored.read_bytes(), stored

    env = {**lab.env, "GIT_AUTHOR_NAME": "Ada", "GIT_AUTHOR_EMAIL": "ada@example.com",
           "GIT_COMMITTER_NAME": "Ada", "GIT_COMMITTER_EMAIL": "ada@example.com"}
    path = clone / "Project_One" / "notebooks" / "train_model.py"
    path.write_text(on_branch + "\n# tried a new feature\n")
    for args in (["commit", "-qam", "works"], ["push", "-q", "origin", "contoso7"]):
        subprocess.run(["git", *args], cwd=clone, env=env, check=True, timeout=60)
    target = LocalTarget(lab.workspace)
    adb = local_host(target.databricks, "contoso7-adb-dev")
    pulled = target.databricks.update_git_folder(adb, folder.path, "contoso7")
    assert pulled.head_commit != folder.head_commit
    assert target.databricks.notebook_source(adb, notebook).endswith(
        "# tried a new feature\n")
    target.close()


def test_rollback_undoes_what_an_older_git_integration_journaled(
        lab: LabtuiRunner, tmp_path: Path) -> None:
    """Entries in the shapes labtui wrote before Git folders: the provider without a user
    name, and the single notebook's link (nothing left to unlink: the rollback says so)."""
    import sqlite3
    import time

    _databricks_ready(lab, tmp_path)
    target = LocalTarget(lab.workspace)
    target.databricks.set_git_provider(local_host(target.databricks, "contoso7-adb-dev"),
                                       GitCredential("azureDevOpsServices", "contoso7"))
    target.close()
    with sqlite3.connect(lab.workspace / "state.db") as db:
        for kind, ref, undo in (
                ("git-provider", "contoso7-adb-dev", '{"previous": "gitHub"}'),
                ("notebook-link", "/Shared/Project_One/train_model",
                 '{"previous": [], "workspace": "contoso7-adb-dev"}')):
            db.execute("INSERT INTO journal (step, env, kind, ref, undo, created) VALUES "
                       "('git-integration', 'dev', ?, ?, ?, ?)", (kind, ref, undo, time.time()))
    rolled = lab("--step", "git-integration", "--rollback", "--headless")
    assert rolled.code == 0, rolled.output
    assert "notebooks run from Git folders now, so there is no link to undo" in rolled.output
    target = LocalTarget(lab.workspace)
    adb = local_host(target.databricks, "contoso7-adb-dev")
    assert target.databricks.git_provider(adb) == GitCredential("gitHub")
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


def test_the_seed_has_the_labs_scripts_and_a_gitignore_for_git_add(lab: LabtuiRunner) -> None:
    """The lab: edit runbuild_local's four variables and run it (labtui builds), then
    `git add ./` takes the attendee's change and none of what builds and tests leave."""
    import subprocess
    import sys

    ran = lab("--step", "seed-repo", "--with-requires", "--headless", "--set", "prefix=contoso7")
    assert ran.code == 0, ran.output
    clone = lab.workspace / "repos" / "contoso7-mlops"

    def git(*args: str) -> str:
        done = subprocess.run(["git", *args], cwd=clone, capture_output=True, text=True,
                              timeout=60)
        assert done.returncode == 0, f"git {' '.join(args)}: {done.stderr}"
        return done.stdout

    executable = {line.split()[3] for line in git("ls-files", "-s").splitlines()
                  if line.startswith("100755")}
    assert executable == {"Project_One/runbuild_local.sh", "Project_One-Tests/runtests_local.sh"}

    # What a build, a test run and an editor leave behind stays out of `git add ./`.
    for leftover in ("Project_One/inference_code/__pycache__/model_class.cpython-311.pyc",
                     "Project_One-Tests/test_results/junit.xml",
                     "Project_One-Tests/test_results/cov_html/index.html",
                     "Project_One-Tests/.pytest_cache/v/cache/nodeids",
                     "Project_One/model/outputs/model.pkl", "Project_One/ca-bundle.crt",
                     ".coverage"):
        (clone / leftover).parent.mkdir(parents=True, exist_ok=True)
        (clone / leftover).write_text("left behind\n")
    tests = clone / "Project_One-Tests" / "test_model.py"
    tests.write_text(tests.read_text() + "\n\ndef test_mine():\n    assert True\n")
    git("add", "./")
    assert git("status", "--porcelain").splitlines() == ["M  Project_One-Tests/test_model.py"]

    # runbuild_local.sh with the lab's four variables set runs labtui's build-image on this
    # workspace (found from where the working copy is) with them.
    script = clone / "Project_One" / "runbuild_local.sh"
    script.write_text(script.read_text()
                      .replace('ml_workspace_name=""', 'ml_workspace_name="ada-ml-dev"')
                      .replace('ml_alg_author=""', 'ml_alg_author="ada"'))
    labtui = Path(sys.executable).parent / "labtui"
    planned = subprocess.run([str(script), "--plan"], cwd=script.parent, capture_output=True,
                             text=True, timeout=120, env={**lab.env, "LABTUI": str(labtui)})
    output = planned.stdout + planned.stderr
    assert "build-image" in output, output
    assert "ML workspace ada-ml-dev does not exist" in output, output
    for windows in ("Project_One/runbuild_local.cmd", "Project_One-Tests/runtests_local.cmd"):
        text = (clone / windows).read_text()
        twin = (clone / windows.replace(".cmd", ".sh")).read_text()
        for needed in ("--step", "--headless", "--workspace", "state.db"):
            assert needed in text and needed in twin, (windows, needed)
    build_cmd = (clone / "Project_One" / "runbuild_local.cmd").read_text()
    for variable, field in (("subscription_id", "subscription-id"),
                            ("ml_resource_group", "resource-group"),
                            ("ml_workspace_name", "ml-workspace-name"),
                            ("ml_alg_author", "created-by")):
        assert f"set {variable}=\n" in build_cmd and f"{variable}=" in script.read_text()
        assert f"--set \"{field}=%{variable}%\"" in build_cmd
