"""Azure DevOps on this machine: a folder per project with bare git repositories.

`<sandbox>/devops/<organization>/<project>/project.json` describes a project;
`repos/<name>.git` beside it is a bare repository that clones and pushes go to, over a plain
file path, through GitPython.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import threading
from collections.abc import Callable
from pathlib import Path

from labtui.targets.base import (
    Conflict,
    DevOps,
    DevOpsProject,
    GitRepository,
    NotFound,
    TargetError,
)

SAFE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9 ._-]*$")


def _segment(kind: str, name: str) -> str:
    if not SAFE_NAME.fullmatch(name) or name in (".", ".."):
        raise TargetError(f"{kind} name {name!r} is not usable as a folder name")
    return name


class LocalDevOps(DevOps):
    """Projects and bare repositories under `<root>` (the sandbox's devops folder)."""

    def __init__(self, root: Path, *, latency: Callable[[], None] = lambda: None) -> None:
        self.root = root
        self._latency = latency
        self._lock = threading.Lock()
        self.on_delete: list[Callable[[str, str, str | None], None]] = []
        """Called with (organization, project, None) after a project is deleted and with
        (organization, project, repository) after a repository is: what lives elsewhere in
        the sandbox for them (pull requests, variable groups) goes with them."""

    def _project_dir(self, organization: str, name: str) -> Path:
        return self.root / _segment("organization", organization) / _segment("project", name)

    def _repo_dir(self, organization: str, project: str, name: str) -> Path:
        return self._project_dir(organization, project) / "repos" / f"{_segment('repo', name)}.git"

    def _project(self, organization: str, folder: Path) -> DevOpsProject:
        data = json.loads((folder / "project.json").read_text())
        return DevOpsProject(organization, data["name"], data["process"],
                             data["version_control"], folder.as_uri())

    def create_project(self, organization: str, name: str, *, process: str = "Agile",
                       description: str = "") -> DevOpsProject:
        self._latency()
        folder = self._project_dir(organization, name)
        with self._lock:
            if (folder / "project.json").exists():
                project = self._project(organization, folder)
                if project.process != process:
                    raise Conflict(f"project {name} exists with the {project.process} process, "
                                   f"not {process}")
                return project
            folder.mkdir(parents=True, exist_ok=True, mode=0o700)
            meta = {"name": name, "process": process, "version_control": "Git",
                    "description": description}
            temporary = folder / "project.json.tmp"
            temporary.write_text(json.dumps(meta))
            os.chmod(temporary, 0o600)
            os.replace(temporary, folder / "project.json")
            return self._project(organization, folder)

    def get_project(self, organization: str, name: str) -> DevOpsProject:
        self._latency()
        folder = self._project_dir(organization, name)
        if not (folder / "project.json").exists():
            raise NotFound(f"DevOps project {organization}/{name} does not exist")
        return self._project(organization, folder)

    def delete_project(self, organization: str, name: str) -> bool:
        self._latency()
        folder = self._project_dir(organization, name)
        with self._lock:
            if not folder.exists():
                return False
            shutil.rmtree(folder)
            org = folder.parent
            if org.exists() and not any(org.iterdir()):
                org.rmdir()
            if self.root.exists() and not any(self.root.iterdir()):
                self.root.rmdir()
        for forget in self.on_delete:
            forget(organization, name, None)
        return True

    def _repository(self, organization: str, project: str, name: str) -> GitRepository:
        path = self._repo_dir(organization, project, name)
        return GitRepository(organization, project, name, str(path), path.as_uri())

    def create_repository(self, organization: str, project: str, name: str) -> GitRepository:
        self.get_project(organization, project)
        path = self._repo_dir(organization, project, name)
        with self._lock:
            if not (path / "HEAD").exists():
                import git

                path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
                git.Repo.init(path, bare=True, initial_branch="master")
        return self._repository(organization, project, name)

    def get_repository(self, organization: str, project: str, name: str) -> GitRepository:
        self.get_project(organization, project)
        if not (self._repo_dir(organization, project, name) / "HEAD").exists():
            raise NotFound(f"repository {organization}/{project}/{name} does not exist")
        return self._repository(organization, project, name)

    def delete_repository(self, organization: str, project: str, name: str) -> bool:
        self._latency()
        path = self._repo_dir(organization, project, name)
        with self._lock:
            if not path.exists():
                return False
            shutil.rmtree(path)
        for forget in self.on_delete:
            forget(organization, project, name)
        return True

    def branches(self, repository: GitRepository) -> dict[str, str]:
        self._latency()
        import git

        path = Path(repository.clone_url)
        if not (path / "HEAD").exists():
            raise NotFound(f"repository {repository.name} does not exist")
        repo = git.Repo(path)
        return {head.name: str(head.commit.hexsha) for head in repo.heads}

    def delete_branch(self, repository: GitRepository, branch: str) -> bool:
        self._latency()
        import git

        path = Path(repository.clone_url)
        if not (path / "HEAD").exists():
            return False
        repo = git.Repo(path)
        if branch not in {head.name for head in repo.heads}:
            return False
        repo.git.update_ref("-d", f"refs/heads/{branch}")
        return True
