"""Local Databricks Git integration: the user's Git credential (its token sealed with the
vault key, as the vaults' secrets are) and Git folders, each a clone kept in the sandbox."""

from __future__ import annotations

import hashlib

from labtui.targets.base import Conflict, NotFound
from labtui.targets.local.databricks.plane import LocalDatabricksPlane, git_folder_of
from labtui.targets.local.git_clones import GitClone
from labtui.targets.local.sandbox import with_latency
from labtui.targets.resources import DatabricksHost, GitCredential, GitFolder

NOTEBOOK_HEADER = "# Databricks notebook source"
"""How a Python file that Databricks shows as a notebook starts."""


def _digest(path: str) -> str:
    return hashlib.sha256(path.encode("utf-8")).hexdigest()[:16]


@with_latency
class LocalRepos(LocalDatabricksPlane):
    """The Git credential and the Git folders (Repos) of the sandbox's workspaces."""

    def set_git_provider(self, host: DatabricksHost, credential: GitCredential | None) -> None:
        with self._sandbox.transaction() as conn:
            name = self._name(host, conn)
            if credential is None:
                conn.execute("DELETE FROM git_credentials WHERE workspace = ?", (name,))
                return
            token = (self._sandbox.encrypt(credential.token) if credential.token is not None
                     else None)
            conn.execute("INSERT OR REPLACE INTO git_credentials VALUES (?, ?, ?, ?)",
                         (name, credential.provider, credential.username, token))

    def git_provider(self, host: DatabricksHost) -> GitCredential | None:
        rows = self._sandbox.query(
            "SELECT provider, username FROM git_credentials WHERE workspace = ?",
            (self._name(host),),
        )
        return GitCredential(str(rows[0]["provider"]), str(rows[0]["username"])) if rows else None

    def _clone(self, workspace: str, path: str, url: str) -> GitClone:
        return GitClone(self._sandbox.folder("databricks", workspace.lower(), "repos") /
                        f"{_digest(path)}.git", url)

    def _has_notebook(self, workspace: str, path: str) -> bool:
        return bool(self._sandbox.query(
            "SELECT 1 FROM notebooks WHERE workspace = ? AND path = ? AND source IS NOT NULL",
            (workspace, path)))

    def create_git_folder(self, host: DatabricksHost, path: str, url: str,
                          provider: str) -> GitFolder:
        name = self._name(host)
        found = self._folder_or_none(name, path)
        if found is not None:
            if found.url != url:
                raise Conflict(f"Git folder {path} is a clone of {found.url}, not {url}")
            return found
        if self._has_notebook(name, path):
            raise Conflict(f"{path} is a notebook, not a Git folder")
        clone = self._clone(name, path, url)
        clone.fetch()
        branch = clone.default_branch()
        head = clone.head(branch)
        with self._sandbox.transaction() as conn:
            conn.execute("INSERT OR REPLACE INTO git_folders VALUES (?, ?, ?, ?, ?, ?)",
                         (name, path, url, provider, branch, head))
        return GitFolder(path, url, provider, branch, head)

    def update_git_folder(self, host: DatabricksHost, path: str, branch: str) -> GitFolder:
        name = self._name(host)
        found = self._folder(name, path)
        clone = self._clone(name, path, found.url)
        clone.fetch()
        head = clone.head(branch)
        with self._sandbox.transaction() as conn:
            conn.execute("UPDATE git_folders SET branch = ?, head = ? WHERE workspace = ? "
                         "AND path = ?", (branch, head, name, path))
        return GitFolder(path, found.url, found.provider, branch, head)

    def git_folder(self, host: DatabricksHost, path: str) -> GitFolder:
        return self._folder(self._name(host), path)

    def git_folders(self, host: DatabricksHost) -> list[GitFolder]:
        return self._folders(self._name(host))

    def delete_git_folder(self, host: DatabricksHost, path: str) -> bool:
        with self._sandbox.transaction() as conn:
            name = self._name(host, conn)
            deleted = conn.execute("DELETE FROM git_folders WHERE workspace = ? AND path = ?",
                                   (name, path)).rowcount
        if deleted:
            self._sandbox.remove_folder("databricks", name.lower(), "repos",
                                        f"{_digest(path)}.git")
        return bool(deleted)

    def _folders(self, workspace: str) -> list[GitFolder]:
        rows = self._sandbox.query("SELECT * FROM git_folders WHERE workspace = ? ORDER BY path",
                                   (workspace,))
        return [git_folder_of(row) for row in rows]

    def _folder_or_none(self, workspace: str, path: str) -> GitFolder | None:
        rows = self._sandbox.query(
            "SELECT * FROM git_folders WHERE workspace = ? AND path = ?",
            (workspace, path.rstrip("/")))
        return git_folder_of(rows[0]) if rows else None

    def _folder(self, workspace: str, path: str) -> GitFolder:
        found = self._folder_or_none(workspace, path)
        if found is None:
            raise NotFound(f"Git folder {path} does not exist in workspace {workspace}")
        return found

    def _git_folder_source(self, workspace: str, path: str) -> str | None:
        """The notebook at `path` inside one of the workspace's Git folders, or None."""
        for folder in self._folders(workspace):
            if not path.startswith(folder.path + "/"):
                continue
            inside = path[len(folder.path) + 1:]
            clone = self._clone(workspace, folder.path, folder.url)
            for candidate in (f"{inside}.py", inside):
                text = clone.read(folder.head_commit, candidate)
                if text is not None and text.startswith(NOTEBOOK_HEADER):
                    return text
        return None
