"""What the local target adds to the Pipelines ports: approvals a run asks for and waits on
(decided by a person, or timed out), linked variable groups read live from the vault, secret
values sealed at rest, and merges that really land in the bare repository."""

from __future__ import annotations

import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from labtui.targets.base import (
    ApprovalCheck,
    Conflict,
    Environment,
    NotFound,
    Transient,
    Variable,
)
from labtui.targets.local import LocalTarget
from labtui.targets.resources import KEY_VAULTS

ORG, PROJECT = "contoso", "lab-local"
SECRET = "pl41n-never-at-rest-Value"


@pytest.fixture
def target(tmp_path: Path) -> Iterator[LocalTarget]:
    opened = LocalTarget(tmp_path / "ws")
    opened.devops.create_project(ORG, PROJECT)
    yield opened
    opened.close()


def _gated(target: LocalTarget, approvers: tuple[str, ...] = ("grace",)) -> Environment:
    env = target.environments.create(ORG, PROJECT, "production")
    return target.environments.add_approval_check(env, ApprovalCheck(approvers, 2880))


def test_a_run_waits_for_an_approval_a_person_gives(target: LocalTarget) -> None:
    environments = target.environments
    env = _gated(target)
    approval = environments.request(env, 7, "Production")
    assert approval is not None and approval.status == "pending"
    assert approval.approvers == ("grace",)
    assert environments.request(env, 7, "Production") == approval, "asked again: the same one"
    assert environments.approvals(ORG, PROJECT) == [approval]
    with pytest.raises(Transient) as still:
        environments.wait(approval, 0.2)
    assert "grace" in str(still.value)

    decided: list[object] = []
    waiter = threading.Thread(target=lambda: decided.append(environments.wait(approval, 10)))
    waiter.start()
    with pytest.raises(Conflict) as stranger:
        environments.approve(approval, "mallory")
    assert "mallory" in str(stranger.value) and "grace" in str(stranger.value)
    approved = environments.approve(approval, "Grace", "ship it")
    waiter.join(10)
    assert decided == [approved]
    assert (approved.status, approved.approved_by, approved.comment) == (
        "approved", "Grace", "ship it")
    assert environments.approve(approval, "grace") == approved, "approving again returns it"
    with pytest.raises(Conflict):
        environments.reject(approval, "grace", "too late")
    assert environments.approvals(ORG, PROJECT) == []
    assert environments.approvals(ORG, PROJECT, status="approved") == [approved]


def test_a_rejection_ends_the_wait_with_the_reason(target: LocalTarget) -> None:
    environments = target.environments
    approval = environments.request(_gated(target), 8, "Production")
    assert approval is not None
    rejected = environments.reject(approval, "grace", "the smoke test is red")
    assert environments.wait(approval, 1) == rejected
    assert rejected.status == "rejected" and rejected.comment == "the smoke test is red"


def test_an_approval_nobody_gives_times_out(target: LocalTarget) -> None:
    environments = target.environments
    approval = environments.request(_gated(target), 9, "Production",
                                    timeout_seconds=0.3)
    assert approval is not None
    ended = environments.wait(approval, 5)
    assert ended.status == "timed out"
    with pytest.raises(Conflict) as late:
        environments.approve(approval, "grace")
    assert "timed out" in str(late.value)


def test_an_environment_without_a_check_needs_no_approval(target: LocalTarget) -> None:
    env = target.environments.create(ORG, PROJECT, "qa")
    assert target.environments.request(env, 1, "QA") is None


def test_an_approver_must_be_a_persons_name(target: LocalTarget) -> None:
    env = target.environments.create(ORG, PROJECT, "production")
    with pytest.raises(NotFound) as bad:
        target.environments.add_approval_check(env, ApprovalCheck(("",), 60))
    assert "approver" in str(bad.value)


def test_a_linked_group_reads_the_vault_live(target: LocalTarget) -> None:
    target.resource_groups.create("lab-local-rg", "eastus")
    vault = target.vault.create_vault(
        target.ref("lab-local-rg", KEY_VAULTS, "lab-local-kv"), "eastus")
    target.vault.set_secret(vault.uri, "db-access-token", SECRET)
    target.principals.create_service_principal("lab-local-sp", "tenant")
    groups = target.variable_groups
    groups.create_linked(ORG, PROJECT, "Staging", "lab-local-kv", ["db-access-token"],
                         service_connection="lab-local-sp")
    assert groups.values(ORG, PROJECT, "Staging")["db-access-token"] == Variable(
        "db-access-token", SECRET, True)
    target.vault.set_secret(vault.uri, "db-access-token", SECRET + "-rotated")
    assert groups.values(ORG, PROJECT, "Staging")["db-access-token"].value == SECRET + "-rotated"
    target.vault.delete_secret(vault.uri, "db-access-token")
    with pytest.raises(NotFound) as gone:
        groups.values(ORG, PROJECT, "Staging")
    assert "db-access-token" in str(gone.value) and SECRET not in str(gone.value)


def test_a_secret_variable_is_sealed_at_rest(target: LocalTarget, tmp_path: Path) -> None:
    groups = target.variable_groups
    groups.create(ORG, PROJECT, "Plain", [Variable("token", SECRET, secret=True)])
    assert groups.values(ORG, PROJECT, "Plain")["token"].value == SECRET
    target.close()
    stored = b"".join(path.read_bytes() for path in (tmp_path / "ws" / "sandbox").rglob("*")
                      if path.is_file())
    assert SECRET.encode() not in stored


def test_a_merge_that_conflicts_is_refused_and_master_stays(
        target: LocalTarget, tmp_path: Path) -> None:
    devops = target.devops
    repo = devops.create_repository(ORG, PROJECT, PROJECT)
    copy = target.workstation.working_copy(repo, tmp_path / "clone")
    copy.repo()
    copy.checkout("master")
    (copy.path / "score.py").write_text("a = 1\n")
    copy.commit_all("seed")
    copy.push("master")
    copy.checkout("ada", start="master")
    (copy.path / "score.py").write_text("a = 2\n")
    copy.commit_all("ada's change")
    copy.push("ada")
    copy.checkout("master")
    (copy.path / "score.py").write_text("a = 3\n")
    copy.commit_all("someone else's change")
    copy.push("master")
    master = devops.branches(repo)["master"]
    made = target.pull_requests.create(repo, "ada", "master", "works", reviewers=["grace"])
    target.pull_requests.vote(repo, made.id, "grace", 10)
    with pytest.raises(Conflict) as conflict:
        target.pull_requests.complete(repo, made.id)
    assert "score.py" in str(conflict.value) and "\n" not in str(conflict.value)
    assert devops.branches(repo)["master"] == master
    assert not (tmp_path / "ws" / "sandbox" / "merges").exists(), "no clone is left behind"


def test_the_merge_commit_is_in_the_bare_repositorys_history(
        target: LocalTarget, tmp_path: Path) -> None:
    devops = target.devops
    repo = devops.create_repository(ORG, PROJECT, PROJECT)
    copy = target.workstation.working_copy(repo, tmp_path / "clone")
    copy.repo()
    copy.checkout("master")
    (copy.path / "README.md").write_text("lab\n")
    copy.commit_all("seed")
    copy.push("master")
    copy.checkout("ada", start="master")
    (copy.path / "score.py").write_text("print(1)\n")
    copy.commit_all("works")
    copy.push("ada")
    made = target.pull_requests.create(repo, "ada", "master", "works", reviewers=["grace"])
    target.pull_requests.vote(repo, made.id, "grace", 5)
    done = target.pull_requests.complete(repo, made.id, delete_source_branch=True)
    log = subprocess.run(["git", "--git-dir", repo.clone_url, "log", "--format=%H %P %s",
                          "master"], capture_output=True, text=True, check=True).stdout
    first = log.splitlines()[0].split()
    assert first[0] == done.merge_commit and len(first) >= 3, "a merge commit: two parents"
    assert f"Merged PR {made.id}: works" in log
    assert "ada" not in devops.branches(repo), "the source branch was deleted"


def test_a_sandbox_another_process_holds_is_transient(tmp_path: Path) -> None:
    import sqlite3

    target = LocalTarget(tmp_path / "ws", busy_timeout=0.1)
    target.devops.create_project(ORG, PROJECT)
    target.environments.create(ORG, PROJECT, "qa")
    holder = sqlite3.connect(tmp_path / "ws" / "sandbox" / "sandbox.db", isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    try:
        with pytest.raises(Transient) as busy:
            target.environments.create(ORG, PROJECT, "production")
        assert "busy" in str(busy.value) and "\n" not in str(busy.value)
        with pytest.raises(Transient):
            target.variable_groups.create(ORG, PROJECT, "Staging")
    finally:
        holder.execute("ROLLBACK")
        holder.close()
        target.close()


def test_deleting_the_project_takes_its_requests_groups_and_environments(
        target: LocalTarget, tmp_path: Path) -> None:
    from tests.sandbox_snapshot import snapshot

    devops = target.devops
    repo = devops.create_repository(ORG, PROJECT, PROJECT)
    copy = target.workstation.working_copy(repo, tmp_path / "clone")
    copy.repo()
    copy.checkout("master")
    (copy.path / "README.md").write_text("lab\n")
    copy.commit_all("seed")
    copy.push("master")
    copy.checkout("ada", start="master")
    (copy.path / "a.py").write_text("a = 1\n")
    copy.commit_all("works")
    copy.push("ada")
    made = target.pull_requests.create(repo, "ada", "master", "works", reviewers=["grace"])
    target.pull_requests.comment(repo, made.id, "grace", "nice")
    target.variable_groups.create(ORG, PROJECT, "Plain", [Variable("a", "1")])
    env = _gated(target)
    target.environments.request(env, 1, "Production")
    assert devops.delete_repository(ORG, PROJECT, PROJECT)
    with pytest.raises(NotFound):
        target.pull_requests.get(repo, made.id)
    assert target.variable_groups.get(ORG, PROJECT, "Plain").name == "Plain"
    assert devops.delete_project(ORG, PROJECT)
    tables = snapshot(tmp_path / "ws")["tables"]
    left = {name for name in tables if name.startswith(
        ("pull_request", "variable_group", "group_variables", "environment", "approvals"))}
    assert left == set(), left


GATED_RUN = """\
trigger: none
stages:
- stage: QA
  jobs:
  - job: Serve
    steps:
    - bash: echo "served qa"
      displayName: Serve QA
- stage: Production
  jobs:
  - deployment: Serve
    environment: production
    strategy:
      runOnce:
        deploy:
          steps:
          - bash: echo "served production"
            displayName: Serve Production
"""


def test_a_run_waiting_for_an_approval_outlives_its_process_and_goes_on_in_the_next(
        tmp_path: Path) -> None:
    first = LocalTarget(tmp_path / "ws")
    first.devops.create_project(ORG, PROJECT)
    repo = first.devops.create_repository(ORG, PROJECT, PROJECT)
    copy = first.workstation.working_copy(repo, tmp_path / "clone")
    copy.repo()
    copy.checkout("master")
    (copy.path / "release.yml").write_text(GATED_RUN)
    copy.commit_all("release")
    copy.push("master")
    _gated(first)
    pipeline = first.pipelines.create(repo, "release", "release.yml")
    waiting = first.pipelines.wait(first.pipelines.queue(pipeline, branch="master"), 60)
    assert waiting.waiting_for == "production"
    first.close()  # the command that queued it ends: the run is parked, not canceled

    second = LocalTarget(tmp_path / "ws")
    try:
        parked = second.pipelines.run(pipeline, waiting.id)
        assert (parked.state, parked.waiting_for) == ("running", "production")
        (approval,) = second.environments.approvals(ORG, PROJECT)
        second.environments.approve(approval, "grace", "ship it")
        done = second.pipelines.wait(parked, 60)
        assert done.state == "succeeded", second.pipelines.logs(done)
        records = {r.display_name or r.name: r for r in second.pipelines.timeline(done)}
        assert records["Serve QA"].result == "succeeded"
        assert records["Serve Production"].result == "succeeded"
        assert second.pipelines.step_log(done, records["Serve QA"].id).count("served qa") == 1, \
            "the stage finished before the process ended did not run again"
        assert "served production" in second.pipelines.step_log(
            done, records["Serve Production"].id)
    finally:
        second.close()


def test_a_parked_run_can_be_canceled(tmp_path: Path) -> None:
    first = LocalTarget(tmp_path / "ws")
    first.devops.create_project(ORG, PROJECT)
    repo = first.devops.create_repository(ORG, PROJECT, PROJECT)
    copy = first.workstation.working_copy(repo, tmp_path / "clone")
    copy.repo()
    copy.checkout("master")
    (copy.path / "release.yml").write_text(GATED_RUN)
    copy.commit_all("release")
    copy.push("master")
    _gated(first)
    pipeline = first.pipelines.create(repo, "release", "release.yml")
    waiting = first.pipelines.wait(first.pipelines.queue(pipeline, branch="master"), 60)
    first.close()
    second = LocalTarget(tmp_path / "ws")
    try:
        assert second.pipelines.cancel(waiting) is True
        assert second.pipelines.run(pipeline, waiting.id).state == "canceled"
    finally:
        second.close()
