"""Local DevOps: projects with bare repositories that clones push to, for real."""

from __future__ import annotations

from pathlib import Path

import pytest

from labtui.targets.base import Conflict, NotFound
from labtui.targets.local.devops import LocalDevOps
from labtui.targets.shared.workstation import AttendeeWorkstation


def test_project_repository_clone_commit_push(tmp_path: Path) -> None:
    devops = LocalDevOps(tmp_path / "devops")
    workstation = AttendeeWorkstation(tmp_path / "ws")
    project = devops.create_project("contoso", "mlops", process="Agile")
    assert (project.process, project.version_control) == ("Agile", "Git")
    assert devops.create_project("contoso", "mlops") == project, "idempotent"
    with pytest.raises(Conflict):
        devops.create_project("contoso", "mlops", process="Scrum")
    repo = devops.create_repository("contoso", "mlops", "mlops")
    assert devops.branches(repo) == {}

    copy = workstation.working_copy(repo, tmp_path / "clone")
    copy.checkout("master")
    (copy.path / "README.md").write_text("hello\n")
    first = copy.commit_all("initial repo seed")
    assert first is not None
    assert copy.push("master") is True
    assert devops.branches(repo) == {"master": first}
    assert copy.commit_all("nothing changed") is None
    assert copy.push("master") is False, "a second push pushes nothing"

    copy.checkout("ada", start="master")
    assert copy.push("ada") is True
    assert set(devops.branches(repo)) == {"master", "ada"}
    assert devops.delete_branch(repo, "ada") is True
    assert devops.delete_branch(repo, "ada") is False

    other = workstation.working_copy(repo, tmp_path / "other")
    assert other.files("origin/master") == ["README.md"]
    assert other.show("origin/master", "README.md") == "hello"

    assert devops.delete_project("contoso", "mlops") is True
    assert devops.delete_project("contoso", "mlops") is False
    with pytest.raises(NotFound):
        devops.get_repository("contoso", "mlops", "mlops")
    assert not (tmp_path / "devops").exists(), "nothing left behind"


def test_names_that_would_escape_the_sandbox_are_refused(tmp_path: Path) -> None:
    from labtui.targets.base import TargetError

    devops = LocalDevOps(tmp_path / "devops")
    with pytest.raises(TargetError, match="not usable as a folder name"):
        devops.create_project("contoso", "../../etc")
