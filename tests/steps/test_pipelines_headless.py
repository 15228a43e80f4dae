"""The Pipelines section's pull request and variable group, headless on the local target.

The pull request starts where the dev loop ends: the attendee's branch exists (git-integration
ran for real) and their working copy holds the test they wrote. Training and the images are not
redone here (the whole-lab test does them); the dev loop's steps are recorded as done, which is
all `pull-request` asks of them.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from labtui.state import Workspace
from labtui.targets.local import LocalTarget
from tests.conftest import LabtuiRunner, labtui_env, require_lab_data

PREFIX = "contoso7"
PIPELINE_VAULT_URI = f"https://{PREFIX}-kv-pipeline.vault.azure.net/"
PROJECT = f"{PREFIX}-mlops"
TOKEN = "dapi0123456789abcdef0123456789abcdef"
ANSWERS = (f'prefix = "{PREFIX}"\n'
           'tenant-id = "72f988bf-86f1-41af-91ab-2d7cd011db47"\n'
           'subscription-id = "0b1f6471-1bf0-4dda-aec3-cb9272f09590"\n'
           'reviewer = "grace"\n')
DEV_LOOP = ("train-model", "write-test", "build-image", "test-image")
ATTENDEES_TEST = "\n\ndef test_the_attendee_wrote():\n    assert 2 + 2 == 4\n"


@pytest.fixture
def lab(tmp_path: Path) -> LabtuiRunner:
    home = tmp_path / "home"
    home.mkdir()
    env = labtui_env(HOME=str(home), DATABRICKS_CONFIG_FILE=str(home / ".databrickscfg"),
                     LABTUI_DATABRICKS_TOKEN=TOKEN, COLUMNS="200")
    runner = LabtuiRunner(tmp_path / "ws", env)
    answers = tmp_path / "answers.toml"
    answers.write_text(ANSWERS)
    runner.env["LABTUI_TEST_ANSWERS"] = str(answers)
    return runner


def values(lab: LabtuiRunner) -> tuple[str, str]:
    return "--values", lab.env["LABTUI_TEST_ANSWERS"]


@pytest.fixture
def dev_loop_done(lab: LabtuiRunner) -> Path:
    """The end of the dev loop: the branch and working copy made for real, the attendee's
    test in the working copy, the dev loop's steps recorded as done. The working copy."""
    ready = lab("--step", "git-integration", "--with-requires", "--headless", *values(lab),
                timeout=600)
    assert ready.code == 0, ready.output[-3000:]
    workspace = Workspace.open(lab.workspace, command="test")
    try:
        for step in DEV_LOOP:
            workspace.set_status(step, "dev", "done")
    finally:
        workspace.close()
    copy = lab.workspace / "repos" / PROJECT
    tests = copy / "Project_One-Tests" / "test_model.py"
    tests.write_text(tests.read_text() + ATTENDEES_TEST)
    return copy


def git_log(lab: LabtuiRunner, branch: str = "master") -> list[str]:
    bare = lab.workspace / "sandbox" / "devops" / PREFIX / PROJECT / "repos" / f"{PROJECT}.git"
    out = subprocess.run(["git", "--git-dir", str(bare), "log", "--format=%P|%s", branch],
                         capture_output=True, text=True, check=True).stdout
    return out.splitlines()


def test_opened_approved_completed_merges_into_master_and_rolls_back_by_revert(
        lab: LabtuiRunner, dev_loop_done: Path) -> None:
    opened = lab("--step", "pull-request", "--headless", *values(lab))
    assert opened.code == 1, opened.output  # waiting for its review, like a manual step
    assert "opened pull request 1 from contoso7 into master for review by grace" in \
        opened.output
    assert "grace: no vote" in opened.output
    assert "--approve --as grace" in opened.output, "it says how the reviewer approves"
    assert not any("Merged PR" in line for line in git_log(lab))

    approved = lab("--step", "pull-request", "--headless", "--approve", "--as", "grace",
                   "--comment", "looks good")
    assert approved.code == 0, approved.output
    assert "grace approved pull request 1: looks good" in approved.output
    assert "completed pull request 1: merged contoso7 into master" in approved.output
    merge = git_log(lab)[0]
    parents, subject = merge.split("|", 1)
    assert subject == "Merged PR 1: contoso7: works" and len(parents.split()) == 2
    assert "works" in git_log(lab, "contoso7")[0], "the dev loop's work was committed as works"

    logs = lab("logs", "pull-request")
    assert logs.code == 0 and "# approve of pull-request (dev)" in logs.stderr
    assert "grace approved pull request 1: looks good" in logs.stdout

    verified = lab("--step", "pull-request", "--headless", "--verify")
    assert verified.code == 0, verified.output
    assert "grace: approved" in verified.output

    before = git_log(lab)
    rolled = lab("--step", "pull-request", "--headless", "--rollback")
    assert rolled.code == 0, rolled.output
    after = git_log(lab)
    assert after[1:] == before, "master's history is kept: one commit on top"
    assert after[0].split("|", 1)[1].startswith('Revert "Merged PR 1')
    target = LocalTarget(lab.workspace)
    try:
        repo = target.devops.get_repository(PREFIX, PROJECT, PROJECT)
        copy = target.workstation.working_copy(repo, lab.workspace / "repos" / PROJECT)
        copy.fetch()
        assert "def test_the_attendee_wrote" not in copy.show(
            "origin/master", "Project_One-Tests/test_model.py"), "the merge is undone on master"
    finally:
        target.close()
    again = lab("--step", "pull-request", "--headless", "--rollback")
    assert again.code == 0 and git_log(lab) == after, "a second rollback reverts nothing"


def test_a_rejection_shows_the_comment_and_what_to_do(
        lab: LabtuiRunner, dev_loop_done: Path) -> None:
    lab("--step", "pull-request", "--headless", *values(lab))
    rejected = lab("--step", "pull-request", "--headless", "--reject", "--as", "Grace",
                   "--comment", "the new test asserts nothing about the model", "--json")
    assert rejected.code == 1, rejected.stdout + rejected.stderr
    events = [json.loads(line) for line in rejected.stdout.splitlines()]
    assert "Grace rejected pull request 1: the new test asserts nothing about the model" in [
        e["line"] for e in events if e["event"] == "log_line"]
    finished = [e for e in events if e["event"] == "step_finished"][-1]
    assert finished["outcome"] == "failed"
    assert "rejected by grace" in finished["message"]
    assert "the new test asserts nothing about the model" in finished["message"]
    hints = [e["hint"] for e in events if e["event"] == "check_result" and e["name"] == "review"]
    assert hints and "fix it on your branch" in hints[-1]
    assert not any("Merged PR" in line for line in git_log(lab)), "nothing was merged"

    verified = lab("--step", "pull-request", "--headless", "--verify")
    assert verified.code == 3 and "the new test asserts nothing" in verified.output

    # The fix is pushed by the next run, and the reviewer looks again.
    tests = dev_loop_done / "Project_One-Tests" / "test_model.py"
    tests.write_text(tests.read_text() + "\n\ndef test_more():\n    assert True\n")
    rerun = lab("--step", "pull-request", "--headless")
    assert rerun.code == 1 and "grace's vote is reset" in rerun.output, rerun.output
    approved = lab("--step", "pull-request", "--headless", "--approve", "--as", "grace")
    assert approved.code == 0, approved.output


def test_rolling_back_an_open_request_abandons_it(
        lab: LabtuiRunner, dev_loop_done: Path) -> None:
    lab("--step", "pull-request", "--headless", *values(lab))
    rolled = lab("--step", "pull-request", "--headless", "--rollback")
    assert rolled.code == 0 and "abandoned pull request 1" in rolled.output, rolled.output
    target = LocalTarget(lab.workspace)
    try:
        repo = target.devops.get_repository(PREFIX, PROJECT, PROJECT)
        assert [pr.status for pr in target.pull_requests.requests(repo, status=None)] == [
            "abandoned"]
    finally:
        target.close()


@pytest.mark.parametrize("args, words", [
    (["--approve"], "--approve needs --as"),
    (["--reject", "--as", "grace"], "--reject needs --comment"),
    (["--reject", "--as", "grace", "--comment", "   "], "--reject needs --comment"),
    (["--approve", "--as", "grace;rm -rf"], "--as 'grace;rm -rf': 1-64 letters"),
    (["--as", "grace"], "--as and --comment go with --approve or --reject"),
    (["--approve", "--reject", "--as", "grace"], "not allowed with argument"),
])
def test_bad_reviewer_input_is_a_one_line_usage_error(
        lab: LabtuiRunner, args: list[str], words: str) -> None:
    ran = lab("--step", "pull-request", "--headless", *args)
    assert ran.code == 2, ran.output
    assert words in ran.stderr
    assert "Traceback" not in ran.output and len(ran.stderr.strip().splitlines()) == 1, \
        ran.stderr


def test_an_action_the_step_does_not_offer_is_a_usage_error(lab: LabtuiRunner) -> None:
    ran = lab("--step", "seed-repo", "--headless", "--approve", "--as", "grace")
    assert ran.code == 2
    assert "seed-repo offers no --approve" in ran.stderr
    assert len(ran.stderr.strip().splitlines()) == 1


def test_someone_who_is_not_the_reviewer_cannot_approve(
        lab: LabtuiRunner, dev_loop_done: Path) -> None:
    lab("--step", "pull-request", "--headless", *values(lab))
    ran = lab("--step", "pull-request", "--headless", "--approve", "--as", "mallory")
    assert ran.code == 1
    assert "mallory is not a reviewer of pull request 1 (its reviewers: grace)" in ran.output
    assert "Traceback" not in ran.output


def test_the_variable_group_lists_exactly_the_vaults_secrets_masked(
        lab: LabtuiRunner) -> None:
    require_lab_data()
    ran = lab("--step", "variable-group", "--with-requires", "--headless", "--json",
              *values(lab), timeout=600)
    assert ran.code == 0, ran.stderr[-3000:]
    target = LocalTarget(lab.workspace)
    try:
        group = target.variable_groups.get(PREFIX, PROJECT, "Staging Environment Variable Group")
        vault = target.vault
        names = vault.list_secrets(PIPELINE_VAULT_URI)
        assert sorted(v.name for v in group.variables) == sorted(names)
        assert len(names) == 16 and {"db-access-token", "image-name", "sp-password"} <= set(names)
        assert all(v.secret and v.value == "" for v in group.variables)
        secret_values = [vault.get_secret(PIPELINE_VAULT_URI, n)
                         for n in ("sp-password", "db-access-token", "sp-app-id")]
    finally:
        target.close()
    verified = lab("--step", "variable-group", "--headless", "--verify", "--json")
    assert verified.code == 0, verified.stderr
    lines = [e["line"] for e in map(json.loads, verified.stdout.splitlines())
             if e["event"] == "log_line"]
    assert "db-access-token = •••• (key vault contoso7-kv-pipeline)" in lines
    for value in secret_values:
        assert value not in ran.stdout + ran.stderr + verified.stdout + verified.stderr

    # Read live: a secret gone from the vault is drift at once.
    target = LocalTarget(lab.workspace)
    target.vault.delete_secret(PIPELINE_VAULT_URI, "image-name")
    target.close()
    gone = lab("--step", "variable-group", "--headless", "--verify")
    assert gone.code == 3 and "contoso7-kv-pipeline has no image-name" in gone.output
    target = LocalTarget(lab.workspace)
    target.vault.recover_deleted_secret(PIPELINE_VAULT_URI, "image-name")
    target.close()

    rolled = lab("--step", "variable-group", "--headless", "--rollback")
    assert rolled.code == 0, rolled.output
    drift = lab("--step", "variable-group", "--headless", "--verify")
    assert drift.code == 3 and "does not exist" in drift.output


def test_new_work_after_a_merge_opens_a_new_request(
        lab: LabtuiRunner, dev_loop_done: Path) -> None:
    lab("--step", "pull-request", "--headless", *values(lab))
    assert lab("--step", "pull-request", "--headless", "--approve", "--as", "grace").code == 0
    again = lab("--step", "pull-request", "--headless")
    assert again.code == 0 and "already done" in again.output, "nothing new: it stays done"
    tests = dev_loop_done / "Project_One-Tests" / "test_model.py"
    tests.write_text(tests.read_text() + "\n\ndef test_next():\n    assert True\n")
    forced = lab("--step", "pull-request", "--headless", "--force")
    assert forced.code == 1 and "opened pull request 2" in forced.output, forced.output
    rolled = lab("--step", "pull-request", "--headless", "--rollback")
    assert rolled.code == 0, rolled.output
    assert "abandoned pull request 2" in rolled.output
    assert "reverted the merge of pull request 1" in rolled.output
