"""The workspace tree's routes in the documented shapes: notebooks (`workspace/*`), Git
folders (`repos`) and the Git credential they clone with (`git-credentials`)."""

from __future__ import annotations

import base64
import hashlib
from typing import Any

from labtui.targets.base import NotFound, TargetError
from labtui.targets.local.databricks import LocalDatabricks
from labtui.targets.local.databricks_api.errors import (
    ApiError,
    already_exists,
    invalid,
    not_found,
)
from labtui.targets.local.databricks_api.request import (
    Request,
    RouteState,
    absolute_path,
    decoded,
    flag,
)
from labtui.targets.resources import DatabricksHost, GitCredential, GitFolder

ROOT_FOLDERS = ("/Repos", "/Shared", "/Users")
"""Folders every workspace has, even empty."""

GIT_PROVIDERS = ("gitHub", "bitbucketCloud", "gitLab", "azureDevOpsServices",
                 "gitHubEnterprise", "bitbucketServer", "gitLabEnterpriseEdition",
                 "awsCodeCommit")

NOTEBOOK_HEADERS = {
    "PYTHON": "# Databricks notebook source", "SQL": "-- Databricks notebook source",
    "SCALA": "// Databricks notebook source", "R": "# Databricks notebook source",
}


class WorkspaceRoutes(RouteState):
    """Notebooks and folders, Git folders, and the user's Git credential."""

    # --- workspace (notebooks) -----------------------------------------------------------

    def _tree(self, workspace: DatabricksHost) -> tuple[set[str], dict[str, GitFolder]]:
        """The notebooks' paths and the Git folders by path."""
        notebooks = set(self.databricks.notebooks(workspace))
        repos = {folder.path: folder for folder in self.databricks.git_folders(workspace)
                 if folder.path not in notebooks}
        return notebooks, repos

    def _object(self, workspace: DatabricksHost, path: str) -> dict[str, Any]:
        notebooks, repos = self._tree(workspace)
        return _object_info(workspace, path, notebooks, repos, self.databricks)

    def workspace_status(self, r: Request) -> dict[str, Any]:
        return self._object(r.workspace, absolute_path(r.arg("path")))

    def workspace_list(self, r: Request) -> dict[str, Any]:
        folder = absolute_path(r.arg("path"))
        notebooks, repos = self._tree(r.workspace)
        info = _object_info(r.workspace, folder, notebooks, repos, self.databricks)
        if info["object_type"] == "NOTEBOOK":
            return {"objects": [info]}
        children: set[str] = set()
        prefix = folder.rstrip("/") + "/"
        for path in [*notebooks, *repos, *ROOT_FOLDERS]:
            if path.startswith(prefix) and path != folder:
                children.add(prefix + path[len(prefix):].split("/", 1)[0])
        objects = [_object_info(r.workspace, child, notebooks, repos, self.databricks)
                   for child in sorted(children)]
        return {"objects": objects} if objects else {}

    def workspace_import(self, r: Request) -> dict[str, Any]:
        path = absolute_path(r.arg("path"))
        fmt = str(r.get("format") or "SOURCE").upper()
        if fmt not in ("SOURCE", "AUTO"):
            raise invalid(f"the local workspace imports SOURCE notebooks only (not {fmt})")
        language = str(r.get("language") or "PYTHON").upper()
        if language not in NOTEBOOK_HEADERS:
            raise invalid(f"Invalid language: {language}")
        source = decoded(str(r.get("content") or ""), "content").decode("utf-8")
        notebooks, repos = self._tree(r.workspace)
        kind = _kind(path, notebooks, repos)
        if kind is not None and (kind != "NOTEBOOK" or not flag(r.get("overwrite"))):
            raise already_exists(f"Path ({path}) already exists.")
        header = NOTEBOOK_HEADERS[language]
        if not source.startswith(header):
            source = f"{header}\n{source}"
        self.databricks.import_notebook(r.workspace, path, source)
        return {}

    def workspace_export(self, r: Request) -> dict[str, Any]:
        path = absolute_path(r.arg("path"))
        fmt = str(r.get("format") or "SOURCE").upper()
        if fmt not in ("SOURCE", "AUTO"):
            raise invalid(f"the local workspace exports SOURCE notebooks only (not {fmt})")
        try:
            source = self.databricks.notebook_source(r.workspace, path)
        except NotFound:
            raise not_found(f"Path ({path}) doesn't exist.") from None
        return {"content": base64.b64encode(source.encode("utf-8")).decode("ascii"),
                "file_type": _extension(source)}

    def workspace_delete(self, r: Request) -> dict[str, Any]:
        path = absolute_path(r.arg("path"))
        notebooks, repos = self._tree(r.workspace)
        kind = _kind(path, notebooks, repos)
        if kind is None:
            raise not_found(f"Path ({path}) doesn't exist.")
        if kind == "NOTEBOOK":
            self.databricks.delete_notebook(r.workspace, path)
            return {}
        if kind == "REPO":
            self.databricks.delete_git_folder(r.workspace, path)
            return {}
        inside = sorted(p for p in [*notebooks, *repos] if p.startswith(path.rstrip("/") + "/"))
        if inside and not flag(r.get("recursive")):
            raise ApiError(400, "DIRECTORY_NOT_EMPTY", f"Folder ({path}) is not empty")
        if path == "/" or path in ROOT_FOLDERS:
            raise invalid(f"Folder ({path}) cannot be deleted")
        for item in inside:
            if item in repos:
                self.databricks.delete_git_folder(r.workspace, item)
            else:
                self.databricks.delete_notebook(r.workspace, item)
        return {}

    # --- Git credentials (one per user, as in Databricks) --------------------------------

    def _credential(self, workspace: DatabricksHost) -> dict[str, Any] | None:
        credential = self.databricks.git_provider(workspace)
        if credential is None:
            return None
        return {"credential_id": _credential_id(workspace),
                "git_provider": credential.provider, "git_username": credential.username}

    def _credential_by_id(self, r: Request, item: str) -> dict[str, Any]:
        found = self._credential(r.workspace)
        if found is None or str(found["credential_id"]) != item:
            raise not_found(f"Credential with id {item} does not exist.")
        return found

    def credentials_list(self, r: Request) -> dict[str, Any]:
        found = self._credential(r.workspace)
        return {"credentials": [found] if found else []}

    def credentials_create(self, r: Request) -> dict[str, Any]:
        if self._credential(r.workspace) is not None:
            raise already_exists("Only one Git credential is supported at this time. To "
                                 "change it, use PATCH /api/2.0/git-credentials/{id}.")
        self._set_credential(r)
        found = self._credential(r.workspace)
        assert found is not None
        return found

    def _set_credential(self, r: Request) -> None:
        token = r.get("personal_access_token")
        self.databricks.set_git_provider(r.workspace, GitCredential(
            _provider(str(r.arg("git_provider"))), str(r.get("git_username") or ""),
            str(token) if token else None))

    def credential_get(self, r: Request, item: str) -> dict[str, Any]:
        return self._credential_by_id(r, item)

    def credential_update(self, r: Request, item: str) -> dict[str, Any]:
        self._credential_by_id(r, item)
        self._set_credential(r)
        return {}

    def credential_delete(self, r: Request, item: str) -> dict[str, Any]:
        self._credential_by_id(r, item)
        self.databricks.set_git_provider(r.workspace, None)
        return {}

    # --- repos (Git folders) -------------------------------------------------------------

    def _repo(self, workspace: DatabricksHost, folder: GitFolder) -> dict[str, Any]:
        repo: dict[str, Any] = {
            "id": _object_id(workspace, folder.path), "path": folder.path, "url": folder.url,
            "branch": folder.branch, "provider": folder.provider}
        if folder.head_commit:
            repo["head_commit_id"] = folder.head_commit
        return repo

    def _repo_by_id(self, r: Request, item: str) -> GitFolder:
        _, repos = self._tree(r.workspace)
        for path, folder in repos.items():
            if str(_object_id(r.workspace, path)) == item:
                return folder
        raise not_found(f"Repo {item} does not exist.")

    def repos_list(self, r: Request) -> dict[str, Any]:
        prefix = str(r.get("path_prefix") or "")
        _, repos = self._tree(r.workspace)
        return {"repos": [self._repo(r.workspace, folder) for path, folder in
                          sorted(repos.items()) if path.startswith(prefix)]}

    def repos_create(self, r: Request) -> dict[str, Any]:
        url, provider = str(r.arg("url")), _provider(str(r.arg("provider")))
        name = url.rstrip("/").rsplit("/", 1)[-1].removesuffix(".git") or "repo"
        credential = self.databricks.git_provider(r.workspace)
        user = (credential.username if credential is not None else "") or "labtui"
        path = absolute_path(r.get("path") or f"/Repos/{user}/{name}")
        if not path.startswith("/Repos/") or path.count("/") < 3:
            raise invalid(f"Repo path {path} must be /Repos/<folder>/<name>")
        notebooks, repos = self._tree(r.workspace)
        if _kind(path, notebooks, repos) is not None:
            raise already_exists(f"Path ({path}) already exists.")
        try:
            folder = self.databricks.create_git_folder(r.workspace, path, url, provider)
            if r.get("branch"):
                folder = self.databricks.update_git_folder(r.workspace, path,
                                                           str(r.body["branch"]))
        except TargetError as exc:  # no such repository or branch: Databricks says 400
            raise invalid(str(exc)) from None
        return self._repo(r.workspace, folder)

    def repo_get(self, r: Request, item: str) -> dict[str, Any]:
        return self._repo(r.workspace, self._repo_by_id(r, item))

    def repo_update(self, r: Request, item: str) -> dict[str, Any]:
        folder = self._repo_by_id(r, item)
        branch = str(r.arg("branch"))
        try:
            updated = self.databricks.update_git_folder(r.workspace, folder.path, branch)
        except NotFound:
            raise invalid(f"Branch {branch} does not exist in {folder.url}") from None
        except TargetError as exc:
            raise invalid(str(exc)) from None
        return self._repo(r.workspace, updated)

    def repo_delete(self, r: Request, item: str) -> dict[str, Any]:
        folder = self._repo_by_id(r, item)
        self.databricks.delete_git_folder(r.workspace, folder.path)
        return {}


# --- shapes --------------------------------------------------------------------------------


def _kind(path: str, notebooks: set[str], repos: dict[str, Any]) -> str | None:
    """NOTEBOOK, REPO, DIRECTORY or None (no such path)."""
    if path in notebooks:
        return "NOTEBOOK"
    if path in repos:
        return "REPO"
    prefix = path.rstrip("/") + "/"
    if path == "/" or path in ROOT_FOLDERS or any(
            p.startswith(prefix) for p in [*notebooks, *repos]):
        return "DIRECTORY"
    return None


def _object_id(workspace: DatabricksHost, path: str) -> int:
    digest = hashlib.sha256(f"{workspace.workspace_id}\0{path}".encode()).digest()
    return int.from_bytes(digest[:6], "big")


def _object_info(workspace: DatabricksHost, path: str, notebooks: set[str],
                 repos: dict[str, Any],
                 databricks: LocalDatabricks) -> dict[str, Any]:
    kind = _kind(path, notebooks, repos)
    if kind is None and any(path.startswith(folder + "/") for folder in repos):
        # A notebook inside a Git folder: a file of the folder's head commit.
        try:
            databricks.notebook_source(workspace, path)
            kind = "NOTEBOOK"
        except NotFound:
            pass
    if kind is None:
        raise not_found(f"Path ({path}) doesn't exist.")
    info: dict[str, Any] = {"path": path, "object_type": kind,
                            "object_id": _object_id(workspace, path)}
    if kind == "NOTEBOOK":
        info["language"] = _language(databricks.notebook_source(workspace, path))
    return info


def _language(source: str) -> str:
    first = source.split("\n", 1)[0].strip()
    for language, header in NOTEBOOK_HEADERS.items():
        if first == header:
            return language
    return "PYTHON"


def _extension(source: str) -> str:
    return {"PYTHON": "py", "SQL": "sql", "SCALA": "scala", "R": "r"}[_language(source)]


def _credential_id(workspace: DatabricksHost) -> int:
    return int(workspace.workspace_id) % 10**9


def _provider(given: str) -> str:
    for provider in GIT_PROVIDERS:
        if provider.lower() == given.lower():
            return provider
    raise invalid(f"Invalid Git provider {given}: one of {', '.join(GIT_PROVIDERS)}")
