"""Azure Databricks Git integration over databricks-sdk: the user's Git credential
(`git_credentials`; its token goes in and never comes back) and Git folders (`repos`)."""

from __future__ import annotations

from typing import Any

from labtui.targets.azure.databricks.plane import AzureDatabricksPlane
from labtui.targets.errors import Conflict, NotFound
from labtui.targets.resources import DatabricksHost, GitCredential, GitFolder


class AzureRepos(AzureDatabricksPlane):
    """The Git credential and the Git folders of a workspace."""

    def set_git_provider(self, host: DatabricksHost, credential: GitCredential | None) -> None:
        w = self._client(host)
        with self._sdk(f"the Git credential of Databricks workspace {host.workspace_id}"):
            existing = list(w.git_credentials.list())
            if credential is None:
                for found in existing:
                    w.git_credentials.delete(found.credential_id)
                return
            given = {"git_provider": credential.provider,
                     "git_username": credential.username or None,
                     "personal_access_token": credential.token}
            if existing:
                w.git_credentials.update(existing[0].credential_id, **given)
            else:
                w.git_credentials.create(**given)

    def git_provider(self, host: DatabricksHost) -> GitCredential | None:
        w = self._client(host)
        with self._sdk(f"the Git credential of Databricks workspace {host.workspace_id}"):
            existing = list(w.git_credentials.list())
        if not existing:
            return None
        return GitCredential(str(existing[0].git_provider or ""),
                             str(existing[0].git_username or ""))

    def _folders(self, host: DatabricksHost, prefix: str | None = None) -> list[Any]:
        w = self._client(host)
        with self._sdk(f"the Git folders of Databricks workspace {host.workspace_id}"):
            return list(w.repos.list(path_prefix=prefix))

    def _folder(self, host: DatabricksHost, path: str) -> Any:
        for found in self._folders(host, path):
            if str(found.path).rstrip("/") == path.rstrip("/"):
                return found
        raise NotFound(f"Git folder {path} of Databricks workspace {host.workspace_id} was not "
                       "found")

    def create_git_folder(self, host: DatabricksHost, path: str, url: str,
                          provider: str) -> GitFolder:
        try:
            found = self._folder(host, path)
        except NotFound:
            found = None
        if found is not None:
            if str(found.url).rstrip("/") != url.rstrip("/"):
                raise Conflict(f"Git folder {path} of Databricks workspace {host.workspace_id} "
                               f"holds {found.url} (not {url})")
            return git_folder_of(found)
        w = self._client(host)
        with self._sdk(f"Git folder {path} of Databricks workspace {host.workspace_id}"):
            made = w.repos.create(url=url, provider=provider, path=path)
        return git_folder_of(made)

    def update_git_folder(self, host: DatabricksHost, path: str, branch: str) -> GitFolder:
        found = self._folder(host, path)
        w = self._client(host)
        with self._sdk(f"Git folder {path} of Databricks workspace {host.workspace_id}"):
            w.repos.update(found.id, branch=branch)
            return git_folder_of(w.repos.get(found.id))

    def git_folder(self, host: DatabricksHost, path: str) -> GitFolder:
        return git_folder_of(self._folder(host, path))

    def git_folders(self, host: DatabricksHost) -> list[GitFolder]:
        return sorted((git_folder_of(f) for f in self._folders(host)), key=lambda f: f.path)

    def delete_git_folder(self, host: DatabricksHost, path: str) -> bool:
        try:
            found = self._folder(host, path)
        except NotFound:
            return False
        w = self._client(host)
        with self._sdk(f"Git folder {path} of Databricks workspace {host.workspace_id}"):
            w.repos.delete(found.id)
        return True


def git_folder_of(repo: Any) -> GitFolder:
    return GitFolder(path=str(repo.path or ""), url=str(repo.url or ""),
                     provider=str(repo.provider or ""), branch=str(repo.branch or ""),
                     head_commit=str(repo.head_commit_id or ""))
