"""The conventions of the Pipelines section's ports (pull requests, variable groups,
environments), run against each offline target: idempotent create, `Conflict` naming the
difference, `NotFound` on a read, delete returning False the second time, names compared
case-insensitively, one-line messages without secrets."""

from __future__ import annotations

from pathlib import Path

import pytest

from labtui.targets.base import (
    ApprovalCheck,
    Conflict,
    GitRepository,
    NotFound,
    Target,
    Variable,
)
from labtui.targets.resources import KEY_VAULTS

from .test_conventions import SECRET, one_line

ORG, PROJECT = "contoso", "lab-pipes"


@pytest.fixture
def repository(target: Target, tmp_path: Path) -> GitRepository:
    """A repository with master and a branch `ada` one commit ahead of it."""
    devops = target.devops
    devops.create_project(ORG, PROJECT)
    repo = devops.create_repository(ORG, PROJECT, PROJECT)
    copy = target.workstation.working_copy(repo, tmp_path / "clone")
    copy.repo()
    copy.checkout("master")
    (copy.path / "README.md").write_text("lab\n")
    copy.commit_all("seed")
    copy.push("master")
    copy.checkout("ada", start="master")
    (copy.path / "score.py").write_text("print('works')\n")
    copy.commit_all("works")
    copy.push("ada")
    return repo


def test_pull_requests_keep_the_conventions(target: Target, repository: GitRepository) -> None:
    prs = target.pull_requests
    made = prs.create(repository, "ada", "master", "works", reviewers=["grace"])
    assert made.status == "active" and made.source == "ada" and made.target == "master"
    assert [(r.name, r.vote) for r in made.reviewers] == [("grace", 0)]
    assert prs.create(repository, "ada", "master", "works", reviewers=["grace"]) == made
    with pytest.raises(Conflict) as conflict:
        prs.create(repository, "ada", "master", "other title")
    message = one_line(conflict.value)
    assert "works" in message and "other title" in message, "the difference is named"
    with pytest.raises(NotFound) as missing:
        prs.create(repository, "no-such-branch", "master", "x")
    assert "no-such-branch" in one_line(missing.value)
    with pytest.raises(NotFound):
        prs.get(repository, made.id + 100)
    assert prs.get(repository, made.id) == made
    assert prs.requests(repository) == [made]
    assert prs.requests(repository, status="completed") == []


def test_a_vote_is_counted_and_replaced(target: Target, repository: GitRepository) -> None:
    prs = target.pull_requests
    made = prs.create(repository, "ada", "master", "works", reviewers=["grace"])
    voted = prs.vote(repository, made.id, "Grace", -5)
    assert [(r.name, r.vote) for r in voted.reviewers] == [("grace", -5)], \
        "reviewers are named case-insensitively"
    again = prs.vote(repository, made.id, "grace", 10)
    assert [(r.name, r.vote, r.required) for r in again.reviewers] == [("grace", 10, True)]
    extra = prs.vote(repository, made.id, "linus", 5)
    assert ("linus", 5, False) in [(r.name, r.vote, r.required) for r in extra.reviewers], \
        "a reviewer who was not asked is added, not required"
    with pytest.raises(Conflict) as bad:
        prs.vote(repository, made.id, "grace", 7)  # type: ignore[arg-type]
    assert "7" in one_line(bad.value)


def test_comments_keep_their_order(target: Target, repository: GitRepository) -> None:
    prs = target.pull_requests
    made = prs.create(repository, "ada", "master", "works", reviewers=["grace"])
    prs.comment(repository, made.id, "grace", "please add a test")
    prs.comment(repository, made.id, "ada", "done")
    assert [(c.author, c.text) for c in prs.comments(repository, made.id)] == [
        ("grace", "please add a test"), ("ada", "done")]
    with pytest.raises(NotFound):
        prs.comment(repository, made.id + 100, "grace", "x")


def test_completing_waits_for_the_required_reviewer_and_merges(
        target: Target, repository: GitRepository, tmp_path: Path) -> None:
    prs, devops = target.pull_requests, target.devops
    made = prs.create(repository, "ada", "master", "works", reviewers=["grace"])
    before = devops.branches(repository)["master"]
    with pytest.raises(Conflict) as waiting:
        prs.complete(repository, made.id)
    assert "grace" in one_line(waiting.value) and "waiting" in str(waiting.value)
    prs.vote(repository, made.id, "grace", 10)
    prs.vote(repository, made.id, "linus", -10)
    with pytest.raises(Conflict) as rejected:
        prs.complete(repository, made.id)
    assert "rejected by linus" in one_line(rejected.value)
    assert devops.branches(repository)["master"] == before, "a refused completion merges nothing"
    prs.vote(repository, made.id, "linus", 0)
    done = prs.complete(repository, made.id)
    assert done.status == "completed" and done.merge_commit
    assert devops.branches(repository)["master"] == done.merge_commit
    assert prs.complete(repository, made.id) == done, "completing again returns it"
    copy = target.workstation.working_copy(repository, tmp_path / "check")
    copy.checkout("master")
    assert "score.py" in copy.files("origin/master"), "the source's change is on master"
    with pytest.raises(Conflict):
        prs.vote(repository, made.id, "grace", 5)
    with pytest.raises(Conflict) as abandon:
        prs.abandon(repository, made.id)
    assert "completed" in one_line(abandon.value)


def test_abandon_says_whether_it_abandoned(target: Target, repository: GitRepository) -> None:
    prs = target.pull_requests
    made = prs.create(repository, "ada", "master", "works", reviewers=["grace"])
    assert prs.abandon(repository, made.id) is True
    assert prs.abandon(repository, made.id) is False
    assert prs.abandon(repository, made.id + 100) is False
    assert prs.get(repository, made.id).status == "abandoned"
    with pytest.raises(Conflict) as abandoned:
        prs.complete(repository, made.id)
    assert "abandoned" in one_line(abandoned.value)
    reopened = prs.create(repository, "ada", "master", "works again")
    assert reopened.id != made.id, "an abandoned request does not block a new one"


# --- variable groups ------------------------------------------------------------------------


def test_plain_variable_groups_keep_the_conventions(target: Target) -> None:
    target.devops.create_project(ORG, PROJECT)
    groups = target.variable_groups
    wanted = [Variable("region", "eastus"), Variable("token", SECRET, secret=True)]
    made = groups.create(ORG, PROJECT, "Staging", wanted)
    assert made.variables == (Variable("region", "eastus"), Variable("token", "", True)), \
        "a secret comes back without its value"
    assert groups.create(ORG, PROJECT, "staging", wanted) == made
    assert groups.get(ORG, PROJECT, "STAGING") == made
    with pytest.raises(Conflict) as conflict:
        groups.create(ORG, PROJECT, "Staging", [Variable("region", "westus"),
                                                Variable("token", "n3w-Secret-v4lue", secret=True)])
    message = one_line(conflict.value)
    assert "eastus" in message and "westus" in message and "n3w-Secret" not in message
    assert SECRET not in message
    with pytest.raises(NotFound):
        groups.create(ORG, "no-project", "Staging")
    groups.set_variable(ORG, PROJECT, "Staging", Variable("zone", "1"))
    assert [v.name for v in groups.get(ORG, PROJECT, "Staging").variables] == [
        "region", "token", "zone"]
    assert groups.delete_variable(ORG, PROJECT, "Staging", "zone") is True
    assert groups.delete_variable(ORG, PROJECT, "Staging", "zone") is False
    assert [g.name for g in groups.groups(ORG, PROJECT)] == ["Staging"]
    with pytest.raises(NotFound) as missing:
        groups.get(ORG, PROJECT, "nowhere")
    assert "nowhere" in one_line(missing.value)
    assert groups.delete(ORG, PROJECT, "staging") is True
    assert groups.delete(ORG, PROJECT, "staging") is False


def test_a_linked_group_exposes_the_vaults_secrets_by_name(target: Target, group: str) -> None:
    target.devops.create_project(ORG, PROJECT)
    vault = target.vault.create_vault(target.ref(group, KEY_VAULTS, "lab-pipe-kv"), "eastus")
    for name in ("sp-app-id", "db-access-token"):
        target.vault.set_secret(vault.uri, name, SECRET + name)
    target.principals.create_service_principal("lab-pipe-sp", "tenant")
    groups = target.variable_groups
    made = groups.create_linked(ORG, PROJECT, "Pipes", "lab-pipe-kv",
                                ["sp-app-id", "db-access-token"], service_connection="lab-pipe-sp")
    assert made.vault == "lab-pipe-kv"
    assert made.variables == (Variable("sp-app-id", "", True),
                              Variable("db-access-token", "", True))
    assert groups.create_linked(ORG, PROJECT, "pipes", "lab-pipe-kv",
                                ["sp-app-id", "db-access-token"],
                                service_connection="lab-pipe-sp") == made
    with pytest.raises(Conflict) as other:
        groups.create_linked(ORG, PROJECT, "Pipes", "lab-pipe-kv", ["sp-app-id"],
                             service_connection="lab-pipe-sp")
    assert "db-access-token" in one_line(other.value)
    with pytest.raises(NotFound) as absent:
        groups.create_linked(ORG, PROJECT, "Other", "lab-pipe-kv", ["no-such-secret"],
                             service_connection="lab-pipe-sp")
    assert "no-such-secret" in one_line(absent.value)
    with pytest.raises(NotFound):
        groups.create_linked(ORG, PROJECT, "Other", "lab-pipe-kv", ["sp-app-id"],
                             service_connection="no-connection")
    with pytest.raises(Conflict) as linked:
        groups.set_variable(ORG, PROJECT, "Pipes", Variable("x", "1"))
    assert "lab-pipe-kv" in one_line(linked.value)
    with pytest.raises(Conflict):
        groups.create(ORG, PROJECT, "Pipes", [Variable("x", "1")])
    assert groups.delete(ORG, PROJECT, "Pipes") is True


# --- environments and approvals ---------------------------------------------------------------


def test_environments_keep_the_conventions(target: Target) -> None:
    target.devops.create_project(ORG, PROJECT)
    environments = target.environments
    made = environments.create(ORG, PROJECT, "Production")
    assert made.checks == ()
    assert environments.create(ORG, PROJECT, "production") == made
    with pytest.raises(NotFound):
        environments.create(ORG, "no-project", "qa")
    check = ApprovalCheck(("grace",), timeout_minutes=2880)
    gated = environments.add_approval_check(made, check)
    assert gated.checks == (check,)
    assert environments.add_approval_check(made, check) == gated, "the same check is kept"
    with pytest.raises(Conflict) as other:
        environments.add_approval_check(made, ApprovalCheck(("grace",), timeout_minutes=60))
    message = one_line(other.value)
    assert "2880" in message and "60" in message
    assert environments.get(ORG, PROJECT, "PRODUCTION") == gated
    assert environments.remove_checks(made) is True
    assert environments.remove_checks(made) is False
    assert environments.approvals(ORG, PROJECT) == []
    with pytest.raises(NotFound):
        environments.approvals(ORG, "no-project")
    with pytest.raises(NotFound) as missing:
        environments.get(ORG, PROJECT, "nowhere")
    assert "nowhere" in one_line(missing.value)
    assert environments.delete(ORG, PROJECT, "production") is True
    assert environments.delete(ORG, PROJECT, "production") is False
