"""The Databricks data plane for the Azure target's tests: the local target's own REST API
(`labtui.targets.local.databricks_api`), served on loopback as every Azure Databricks
workspace's, taking the fake Entra's tokens for the AzureDatabricks application.

Every workspace's host is this one loopback server, so a call says which workspace it is for
by its org id (`X-Databricks-Org-Id`, the workspace id, as Databricks routes a call to a
shared host); one without it may name the workspace's resource id in
`X-Databricks-Azure-Workspace-Resource-Id`. An org id that no workspace Resource Manager has
made (the `databricks` fake) has answers 404 RESOURCE_DOES_NOT_EXIST, as the host of no
workspace has nothing to serve. A workspace is given its data plane in the local sandbox at
its first call. A Key Vault-backed scope is made only with an Entra user's token (as
Azure Databricks refuses a personal access token's or a service principal's), on a vault the
Key Vault fake holds, and lists the live secrets of that vault.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from labtui.targets.local import LocalTarget
from labtui.targets.local.databricks_api import DatabricksApiServer
from labtui.targets.local.databricks_api.errors import ApiError
from labtui.targets.resources import DATABRICKS_WORKSPACES, DatabricksHost

from .cloud import FakeCloud

AZURE_DATABRICKS_APP = "2ff814a6-3304-4ab8-85cb-cd0e6f879c1d"


class DatabricksPlane:
    """The served API and the sandbox behind it (`local`, to look inside)."""

    def __init__(self, cloud: FakeCloud, folder: Path) -> None:
        self.cloud = cloud
        self.local = LocalTarget(folder, latency=0)
        self.local.configure({})
        self.server = DatabricksApiServer(self.local.databricks, port=0)
        self.server.other_tokens = self._entra
        self.server.user_tokens = self._user
        self.server.api.vault_exists = self._vault
        self.server.api.vault_secret_names = self._vault_secrets
        self.entra_calls = 0

    @property
    def url(self) -> str:
        return self.server.url

    def _entra(self, token: str, headers: Mapping[str, str]) -> DatabricksHost | None:
        claims = self.cloud.entra.claims_of(token) or {}
        if str(claims.get("aud", "")).rstrip("/") != AZURE_DATABRICKS_APP:
            return None
        lowered = {k.lower(): v for k, v in headers.items()}
        org = lowered.get("x-databricks-org-id", "")
        made = None
        if org:
            made = next((w for w in self.cloud.databricks.workspaces.values()
                         if str(w.body["properties"].get("workspaceId", "")) == org), None)
        else:
            parts = lowered.get("x-databricks-azure-workspace-resource-id", "").strip(
                "/").split("/")
            if len(parts) == 8:
                made = self.cloud.databricks.workspaces.get((parts[3].lower(), parts[7].lower()))
        if made is None or made.body["properties"].get("provisioningState") != "Succeeded":
            raise ApiError(404, "RESOURCE_DOES_NOT_EXIST",
                           f"Workspace {org or '(no org id)'} does not exist.")
        self.entra_calls += 1
        group, name = made.group, made.name
        ref = self.local.ref(group, DATABRICKS_WORKSPACES, name)
        if not self.local.resource_groups.exists(group):
            self.local.resource_groups.create(group, made.body["location"])
        return self.local.databricks.create_workspace(ref, made.body["location"],
                                                      sku=made.body["sku"]["name"]).host

    def _user(self, token: str) -> bool:
        """A user's Entra token (what a Key Vault-backed scope needs), not an app's."""
        claims = self.cloud.entra.claims_of(token) or {}
        return claims.get("idtyp") == "user" or bool(claims.get("upn"))

    def _vault(self, resource_id: str) -> bool:
        parts = resource_id.strip("/").split("/")
        if len(parts) != 8:
            return False
        found = self.cloud.keyvault.vaults.get(parts[7].lower())
        return found is not None and found.group.lower() == parts[3].lower()

    def _vault_secrets(self, resource_id: str) -> list[str]:
        """What a Key Vault-backed scope lists: the live secrets of the fake's vault."""
        if not self._vault(resource_id):
            raise ApiError(400, "INVALID_PARAMETER_VALUE",
                           f"Azure KeyVault {resource_id} does not exist or is not accessible")
        data = self.cloud.keyvault.data_plane(resource_id.strip("/").split("/")[7])
        return [s.name for s in data.secrets.values() if s.phase == "live"]

    def start(self) -> DatabricksPlane:
        self.server.start()
        return self

    def stop(self) -> None:
        self.server.close()
        self.local.close()
