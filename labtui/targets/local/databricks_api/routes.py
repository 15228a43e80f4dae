"""The REST API subset the lab's commands and labtui's steps use, in the documented shapes
of Databricks' REST API 2.0/2.1, over the local Databricks port.

Each route answers for the workspace its bearer token belongs to. Secret values never leave:
`secrets/list` names keys only, and no route reads a secret's value.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from labtui.targets.base import Cluster, Library, NotFound, TargetError
from labtui.targets.local.databricks import LocalDatabricks
from labtui.targets.local.databricks_api.errors import (
    ApiError,
    already_exists,
    from_target_error,
    invalid,
    not_found,
)
from labtui.targets.local.databricks_api.runs import JobRuns
from labtui.targets.resources import DatabricksHost, GitCredential, GitFolder

ROOT_FOLDERS = ("/Repos", "/Shared", "/Users")
"""Folders every workspace has, even empty."""

GIT_PROVIDERS = ("gitHub", "bitbucketCloud", "gitLab", "azureDevOpsServices",
                 "gitHubEnterprise", "bitbucketServer", "gitLabEnterpriseEdition",
                 "awsCodeCommit")

SECRET_KEY = re.compile(r"[A-Za-z0-9_.-]{1,128}")

NOTEBOOK_HEADERS = {
    "PYTHON": "# Databricks notebook source", "SQL": "-- Databricks notebook source",
    "SCALA": "// Databricks notebook source", "R": "# Databricks notebook source",
}

@dataclass
class Request:
    """One authenticated call: the host of the workspace its token belongs to and its
    arguments."""

    method: str
    path: str
    query: dict[str, str]
    body: dict[str, Any]
    workspace: DatabricksHost
    user_token: bool = False
    """Signed with a Microsoft Entra user's token (not a personal access token, not a service
    principal's): what a Key Vault-backed scope needs."""

    def get(self, name: str) -> Any:
        return self.body[name] if name in self.body else self.query.get(name)

    def arg(self, name: str) -> Any:
        value = self.get(name)
        if value is None or value == "":
            raise invalid(f"Missing required field: {name}")
        return value


class Api:
    """The routes of one sandbox's workspaces."""

    def __init__(self, databricks: LocalDatabricks, host: str) -> None:
        self.databricks = databricks
        self.host = host
        self.runs = JobRuns(databricks)
        self.vault_exists: Callable[[str], bool] | None = None
        """Whether a Key Vault (by resource id) exists for a Key Vault-backed scope: set when
        serving another cloud's workspaces, whose vaults this sandbox does not keep (the
        sandbox's own API is called with personal access tokens, which cannot make one)."""
        self.vault_secret_names: Callable[[str], list[str]] | None = None
        """The secret names in such a vault (by resource id), read live as Databricks lists a
        Key Vault-backed scope; set with `vault_exists`."""
        self._routes: dict[tuple[str, str], Callable[[Request], dict[str, Any]]] = {
            ("POST", "/api/2.0/token/create"): self.token_create,
            ("GET", "/api/2.0/token/list"): self.token_list,
            ("POST", "/api/2.0/token/delete"): self.token_delete,
            ("GET", "/api/2.0/clusters/list"): self.clusters_list,
            ("GET", "/api/2.0/clusters/get"): self.clusters_get,
            ("POST", "/api/2.0/clusters/create"): self.clusters_create,
            ("POST", "/api/2.0/clusters/edit"): self.clusters_edit,
            ("POST", "/api/2.0/clusters/update"): self.clusters_update,
            ("POST", "/api/2.0/clusters/start"): self.clusters_start,
            ("POST", "/api/2.0/clusters/delete"): self.clusters_delete,
            ("POST", "/api/2.0/clusters/permanent-delete"): self.clusters_permanent_delete,
            ("GET", "/api/2.0/libraries/cluster-status"): self.libraries_status,
            ("POST", "/api/2.0/libraries/install"): self.libraries_install,
            ("POST", "/api/2.0/libraries/uninstall"): self.libraries_uninstall,
            ("GET", "/api/2.0/secrets/scopes/list"): self.scopes_list,
            ("POST", "/api/2.0/secrets/scopes/create"): self.scopes_create,
            ("POST", "/api/2.0/secrets/scopes/delete"): self.scopes_delete,
            ("GET", "/api/2.0/secrets/list"): self.secrets_list,
            ("POST", "/api/2.0/secrets/put"): self.secrets_put,
            ("POST", "/api/2.0/workspace/import"): self.workspace_import,
            ("GET", "/api/2.0/workspace/list"): self.workspace_list,
            ("GET", "/api/2.0/workspace/get-status"): self.workspace_status,
            ("GET", "/api/2.0/workspace/export"): self.workspace_export,
            ("POST", "/api/2.0/workspace/delete"): self.workspace_delete,
            ("POST", "/api/2.1/jobs/runs/submit"): self.runs_submit,
            ("GET", "/api/2.1/jobs/runs/get"): self.runs_get,
            ("GET", "/api/2.1/jobs/runs/get-output"): self.runs_output,
            ("POST", "/api/2.1/jobs/runs/cancel"): self.runs_cancel,
            ("GET", "/api/2.0/git-credentials"): self.credentials_list,
            ("POST", "/api/2.0/git-credentials"): self.credentials_create,
            ("GET", "/api/2.0/repos"): self.repos_list,
            ("POST", "/api/2.0/repos"): self.repos_create,
        }
        # One call under each version clients use: the legacy CLI calls clusters and jobs
        # at 2.0, databricks-sdk clusters at 2.1 and jobs at 2.2.
        for (method, path), route in list(self._routes.items()):
            for family, versions in (("clusters", ("2.1",)), ("jobs", ("2.0", "2.2"))):
                if path.startswith(("/api/2.0/" + family, "/api/2.1/" + family)):
                    for version in versions:
                        self._routes[(method, f"/api/{version}/{path.split('/', 3)[3]}")] = route
        self._item_routes: dict[tuple[str, str],
                                Callable[[Request, str], dict[str, Any]]] = {
            ("GET", "/api/2.0/git-credentials/"): self.credential_get,
            ("PATCH", "/api/2.0/git-credentials/"): self.credential_update,
            ("DELETE", "/api/2.0/git-credentials/"): self.credential_delete,
            ("GET", "/api/2.0/repos/"): self.repo_get,
            ("PATCH", "/api/2.0/repos/"): self.repo_update,
            ("DELETE", "/api/2.0/repos/"): self.repo_delete,
        }

    def route(self, method: str, path: str) -> Callable[[Request], dict[str, Any]] | None:
        """The handler of a method and path, or None if the API has no such endpoint."""
        found = self._routes.get((method, path.rstrip("/") or "/"))
        if found is not None:
            return found
        prefix, _, item = path.rpartition("/")
        item_route = self._item_routes.get((method, prefix + "/"))
        if item_route is None or not item:
            return None
        return lambda request: item_route(request, item)

    def call(self, request: Request) -> dict[str, Any]:
        """Answer one request (raises ApiError)."""
        handler = self.route(request.method, request.path)
        if handler is None:
            raise ApiError(404, "ENDPOINT_NOT_FOUND",
                           f"No API found for '{request.method} {request.path}'")
        try:
            return handler(request)
        except TargetError as exc:
            raise from_target_error(exc) from None

    def close(self) -> None:
        self.runs.close()

    # --- tokens --------------------------------------------------------------------------

    def token_create(self, r: Request) -> dict[str, Any]:
        lifetime = r.get("lifetime_seconds")
        seconds = _int(lifetime, "lifetime_seconds") if lifetime is not None else 0
        token = self.databricks.create_token(r.workspace, str(r.get("comment") or ""),
                                             lifetime_seconds=seconds if seconds > 0 else None)
        return {"token_value": token.value, "token_info": _token_info(token)}

    def token_list(self, r: Request) -> dict[str, Any]:
        return {"token_infos": [_token_info(t) for t in self.databricks.tokens(r.workspace)]}

    def token_delete(self, r: Request) -> dict[str, Any]:
        token_id = str(r.arg("token_id"))
        if not self.databricks.delete_token(r.workspace, token_id):
            raise not_found(f"Token with id {token_id} does not exist.")
        return {}

    # --- clusters ------------------------------------------------------------------------

    def _cluster(self, r: Request) -> Cluster:
        cluster_id = str(r.arg("cluster_id"))
        try:
            return self.databricks.get_cluster(r.workspace, cluster_id)
        except NotFound:
            # As Databricks answers for an unknown cluster id.
            raise invalid(f"Cluster {cluster_id} does not exist") from None

    def clusters_list(self, r: Request) -> dict[str, Any]:
        return {"clusters": [_cluster_info(c) for c in self.databricks.clusters(r.workspace)]}

    def clusters_get(self, r: Request) -> dict[str, Any]:
        return _cluster_info(self._cluster(r))

    def clusters_create(self, r: Request) -> dict[str, Any]:
        workers = r.get("num_workers")
        if workers is None and isinstance(r.get("autoscale"), dict):
            workers = r.body["autoscale"].get("min_workers")
        cluster = self.databricks.create_cluster(
            r.workspace, str(r.arg("cluster_name")), node_type=str(r.arg("node_type_id")),
            spark_version=str(r.arg("spark_version")),
            num_workers=_int(workers or 0, "num_workers"),
            autotermination_minutes=_int(r.get("autotermination_minutes") or 0,
                                         "autotermination_minutes"))
        return {"cluster_id": cluster.cluster_id}

    def clusters_edit(self, r: Request) -> dict[str, Any]:
        cluster = self._cluster(r)
        fixed = {"cluster_name": cluster.name, "node_type_id": cluster.node_type,
                 "spark_version": cluster.spark_version, "num_workers": cluster.num_workers}
        changed = sorted(name for name, value in fixed.items()
                         if r.get(name) is not None and r.get(name) != value)
        if changed:
            raise invalid(f"the local workspace can change only autotermination_minutes of "
                          f"cluster {cluster.cluster_id} (not {', '.join(changed)})")
        self.databricks.edit_cluster(
            r.workspace, cluster.cluster_id,
            autotermination_minutes=_int(r.get("autotermination_minutes") or 0,
                                         "autotermination_minutes"))
        return {}

    def clusters_update(self, r: Request) -> dict[str, Any]:
        cluster = self._cluster(r)
        fields = {name.strip() for name in str(r.arg("update_mask")).split(",")}
        if fields != {"autotermination_minutes"}:
            raise invalid("the local workspace can update only autotermination_minutes "
                          f"(update_mask {r.body['update_mask']!r})")
        given = r.get("cluster")
        minutes = given.get("autotermination_minutes") if isinstance(given, dict) else None
        self.databricks.edit_cluster(r.workspace, cluster.cluster_id,
                                     autotermination_minutes=_int(minutes or 0,
                                                                  "autotermination_minutes"))
        return {}

    def clusters_start(self, r: Request) -> dict[str, Any]:
        self.databricks.set_cluster_state(r.workspace, self._cluster(r).cluster_id, "RUNNING")
        return {}

    def clusters_delete(self, r: Request) -> dict[str, Any]:
        # clusters/delete terminates; its settings stay until permanent-delete.
        self.databricks.set_cluster_state(r.workspace, self._cluster(r).cluster_id,
                                          "TERMINATED")
        return {}

    def clusters_permanent_delete(self, r: Request) -> dict[str, Any]:
        self.databricks.delete_cluster(r.workspace, self._cluster(r).cluster_id)
        return {}

    # --- libraries -----------------------------------------------------------------------

    def libraries_status(self, r: Request) -> dict[str, Any]:
        cluster = self._cluster(r)
        statuses = self.databricks.cluster_libraries(r.workspace, cluster.cluster_id)
        return {"cluster_id": cluster.cluster_id, "library_statuses": [
            {"library": _library_json(s.library), "status": s.status,
             "is_library_for_all_clusters": False} for s in statuses]}

    def libraries_install(self, r: Request) -> dict[str, Any]:
        cluster = self._cluster(r)
        self.databricks.install_libraries(r.workspace, cluster.cluster_id, _libraries(r))
        return {}

    def libraries_uninstall(self, r: Request) -> dict[str, Any]:
        cluster = self._cluster(r)
        self.databricks.uninstall_libraries(r.workspace, cluster.cluster_id, _libraries(r))
        return {}

    # --- secret scopes and secrets -------------------------------------------------------

    def scopes_list(self, r: Request) -> dict[str, Any]:
        scopes = []
        for scope in self.databricks.secret_scopes(r.workspace):
            entry: dict[str, Any] = {"name": scope.name, "backend_type": scope.backend}
            if scope.backend == "AZURE_KEYVAULT":
                entry["keyvault_metadata"] = {"resource_id": scope.vault_id,
                                              "dns_name": scope.vault_uri}
            scopes.append(entry)
        return {"scopes": scopes}

    def scopes_create(self, r: Request) -> dict[str, Any]:
        name = str(r.arg("scope"))
        backend = str(r.get("scope_backend_type") or "DATABRICKS").upper()
        if backend == "AZURE_KEYVAULT":
            return self._vault_scope(r, name)
        if backend != "DATABRICKS":
            raise invalid(f"Invalid scope_backend_type: {backend}")
        if not SECRET_KEY.fullmatch(name):
            raise invalid(f"Scope name {name!r} must consist of alphanumeric characters, "
                          "dashes, underscores, and periods, at most 128 characters")
        if any(s.name == name for s in self.databricks.secret_scopes(r.workspace)):
            raise already_exists(f"Scope {name} already exists!")
        self.databricks.create_secret_scope(r.workspace, name)
        return {}

    def _vault_scope(self, r: Request, name: str) -> dict[str, Any]:
        if not r.user_token:
            # A personal access token or a service principal's cannot make one: Azure
            # Databricks needs the user's Entra token (to act on the vault as that user).
            raise invalid("Scope with Azure KeyVault must have userAADToken defined!")
        meta = r.get("backend_azure_keyvault") or {}
        resource_id, dns_name = str(meta.get("resource_id") or ""), str(
            meta.get("dns_name") or "")
        if not resource_id or not dns_name:
            raise invalid("Missing required field: backend_azure_keyvault (resource_id and "
                          "dns_name)")
        if self.vault_exists is None or not self.vault_exists(resource_id):
            raise invalid(f"Azure KeyVault {resource_id} does not exist or is not accessible")
        if any(s.name == name for s in self.databricks.secret_scopes(r.workspace)):
            raise already_exists(f"Scope {name} already exists!")
        self.databricks.link_vault_scope(r.workspace, name, dns_name, resource_id)
        return {}

    def scopes_delete(self, r: Request) -> dict[str, Any]:
        name = str(r.arg("scope"))
        if not self.databricks.delete_secret_scope(r.workspace, name):
            raise not_found(f"Scope {name} does not exist!")
        return {}

    def _scope_exists(self, r: Request, name: str) -> None:
        if not any(s.name == name for s in self.databricks.secret_scopes(r.workspace)):
            raise not_found(f"Scope {name} does not exist!")

    def secrets_list(self, r: Request) -> dict[str, Any]:
        name = str(r.arg("scope"))
        self._scope_exists(r, name)
        # The sandbox keeps no time of writing, so last_updated_timestamp is left out (the
        # API makes it optional; the legacy CLI prints "Not Available").
        scope = next(s for s in self.databricks.secret_scopes(r.workspace) if s.name == name)
        if scope.backend == "AZURE_KEYVAULT" and self.vault_secret_names is not None:
            keys = sorted(self.vault_secret_names(scope.vault_id))
        else:
            keys = self.databricks.scope_secrets(r.workspace, name)
        return {"secrets": [{"key": key} for key in keys]}

    def secrets_put(self, r: Request) -> dict[str, Any]:
        name, key = str(r.arg("scope")), str(r.arg("key"))
        self._scope_exists(r, name)
        scope = next(s for s in self.databricks.secret_scopes(r.workspace) if s.name == name)
        if scope.backend == "AZURE_KEYVAULT":
            raise ApiError(400, "BAD_REQUEST",
                           f"Cannot write secrets to Azure KeyVault-backed scope {name}")
        if not SECRET_KEY.fullmatch(key):
            raise invalid(f"Secret key {key!r} must consist of alphanumeric characters, "
                          "dashes, underscores, and periods, at most 128 characters")
        if r.get("string_value") is not None:
            value = str(r.body["string_value"])
        elif r.get("bytes_value") is not None:
            value = _b64(str(r.body["bytes_value"]), "bytes_value").decode("utf-8", "replace")
        else:
            raise invalid("Missing required field: string_value or bytes_value")
        self.databricks.put_scope_secret(r.workspace, name, key, value)
        return {}

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
        return self._object(r.workspace, _path(r.arg("path")))

    def workspace_list(self, r: Request) -> dict[str, Any]:
        folder = _path(r.arg("path"))
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
        path = _path(r.arg("path"))
        fmt = str(r.get("format") or "SOURCE").upper()
        if fmt not in ("SOURCE", "AUTO"):
            raise invalid(f"the local workspace imports SOURCE notebooks only (not {fmt})")
        language = str(r.get("language") or "PYTHON").upper()
        if language not in NOTEBOOK_HEADERS:
            raise invalid(f"Invalid language: {language}")
        source = _b64(str(r.get("content") or ""), "content").decode("utf-8")
        notebooks, repos = self._tree(r.workspace)
        kind = _kind(path, notebooks, repos)
        if kind is not None and (kind != "NOTEBOOK" or not _flag(r.get("overwrite"))):
            raise already_exists(f"Path ({path}) already exists.")
        header = NOTEBOOK_HEADERS[language]
        if not source.startswith(header):
            source = f"{header}\n{source}"
        self.databricks.import_notebook(r.workspace, path, source)
        return {}

    def workspace_export(self, r: Request) -> dict[str, Any]:
        path = _path(r.arg("path"))
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
        path = _path(r.arg("path"))
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
        if inside and not _flag(r.get("recursive")):
            raise ApiError(400, "DIRECTORY_NOT_EMPTY", f"Folder ({path}) is not empty")
        if path == "/" or path in ROOT_FOLDERS:
            raise invalid(f"Folder ({path}) cannot be deleted")
        for item in inside:
            if item in repos:
                self.databricks.delete_git_folder(r.workspace, item)
            else:
                self.databricks.delete_notebook(r.workspace, item)
        return {}

    # --- job runs ------------------------------------------------------------------------

    def runs_submit(self, r: Request) -> dict[str, Any]:
        return {"run_id": self.runs.submit(r.workspace, r.body)}

    def runs_get(self, r: Request) -> dict[str, Any]:
        return self.runs.get(r.workspace, r.arg("run_id"), self.host)

    def runs_output(self, r: Request) -> dict[str, Any]:
        return self.runs.output(r.workspace, r.arg("run_id"), self.host)

    def runs_cancel(self, r: Request) -> dict[str, Any]:
        self.runs.cancel(r.workspace, r.arg("run_id"))
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
        path = _path(r.get("path") or f"/Repos/{user}/{name}")
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


def _int(value: Any, name: str) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        raise invalid(f"{name} must be a number (got {value!r})") from None


def _flag(value: Any) -> bool:
    """A boolean as JSON (true) or as a form or query field ("true") gives it."""
    return value is True or str(value).lower() == "true"


def _b64(value: str, name: str) -> bytes:
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise invalid(f"{name} is not valid base64") from None


def _path(value: Any) -> str:
    path = str(value)
    if not path.startswith("/"):
        raise invalid(f"Path ({path}) must be absolute")
    return path.rstrip("/") or "/"


def _token_info(token: Any) -> dict[str, Any]:
    return {"token_id": token.token_id, "comment": token.comment,
            "creation_time": int(token.created * 1000),
            "expiry_time": int(token.expires * 1000) if token.expires else -1}


def _cluster_info(cluster: Cluster) -> dict[str, Any]:
    return {"cluster_id": cluster.cluster_id, "cluster_name": cluster.name,
            "spark_version": cluster.spark_version, "node_type_id": cluster.node_type,
            "driver_node_type_id": cluster.node_type, "num_workers": cluster.num_workers,
            "autotermination_minutes": cluster.autotermination_minutes,
            "state": cluster.state, "state_message": "", "cluster_source": "API"}


_LIBRARY_FIELDS = {"pypi": "package", "cran": "package", "maven": "coordinates"}


def _library_json(library: Library) -> dict[str, Any]:
    field = _LIBRARY_FIELDS.get(library.kind)
    return {library.kind: {field: library.spec} if field else library.spec}


def _libraries(r: Request) -> list[Library]:
    given = r.arg("libraries")
    if not isinstance(given, list):
        raise invalid("libraries must be a list")
    libraries = []
    for item in given:
        if not isinstance(item, dict) or len(item) != 1:
            raise invalid(f"a library names one kind (pypi, whl, jar …): {item!r}")
        (kind, spec), = item.items()
        field = _LIBRARY_FIELDS.get(kind)
        if field is not None:
            if not isinstance(spec, dict) or not spec.get(field):
                raise invalid(f"a {kind} library needs {field}")
            spec = spec[field]
        libraries.append(Library(str(kind), str(spec)))
    return libraries


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
