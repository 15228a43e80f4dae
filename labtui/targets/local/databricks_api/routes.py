"""The REST API subset the lab's commands and labtui's steps use, in the documented shapes
of Databricks' REST API 2.0/2.1, over the local Databricks port.

Each route answers for the workspace its bearer token belongs to. Secret values never leave:
`secrets/list` names keys only, and no route reads a secret's value.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from labtui.targets.base import TargetError
from labtui.targets.local.databricks import LocalDatabricks
from labtui.targets.local.databricks_api.compute_routes import ComputeRoutes
from labtui.targets.local.databricks_api.errors import ApiError, from_target_error
from labtui.targets.local.databricks_api.request import Request
from labtui.targets.local.databricks_api.runs import JobRuns
from labtui.targets.local.databricks_api.secret_routes import SecretRoutes
from labtui.targets.local.databricks_api.workspace_routes import WorkspaceRoutes


class Api(ComputeRoutes, SecretRoutes, WorkspaceRoutes):
    """The routes of one sandbox's workspaces: each group in its own module, dispatched
    here by method and path."""

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


__all__ = ["Api", "Request"]
