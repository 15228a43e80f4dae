"""The Databricks data plane for the Azure target's tests: the local target's own REST API
(`labtui.targets.local.databricks_api`), served on loopback as every Azure Databricks
workspace's, taking the fake Entra's tokens for the AzureDatabricks application.

A call carries the workspace's resource id in `X-Databricks-Azure-Workspace-Resource-Id`, as
Azure Databricks reads it; a workspace Resource Manager has made (the `databricks` fake) is
given its data plane in the local sandbox at its first call.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from labtui.targets.local import LocalTarget
from labtui.targets.local.databricks_api import DatabricksApiServer
from labtui.targets.resources import DATABRICKS_WORKSPACES

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
        self.entra_calls = 0

    @property
    def url(self) -> str:
        return self.server.url

    def _entra(self, token: str, headers: Mapping[str, str]) -> str | None:
        claims = self.cloud.entra.claims_of(token) or {}
        if str(claims.get("aud", "")).rstrip("/") != AZURE_DATABRICKS_APP:
            return None
        lowered = {k.lower(): v for k, v in headers.items()}
        resource = lowered.get("x-databricks-azure-workspace-resource-id", "")
        parts = resource.strip("/").split("/")
        if len(parts) != 8:
            return None
        group, name = parts[3], parts[7]
        made = self.cloud.databricks.workspaces.get((group.lower(), name.lower()))
        if made is None or made.body["properties"].get("provisioningState") != "Succeeded":
            return None
        self.entra_calls += 1
        ref = self.local.ref(group, DATABRICKS_WORKSPACES, name)
        if not self.local.resource_groups.exists(group):
            self.local.resource_groups.create(group, made.body["location"])
        self.local.databricks.create_workspace(ref, made.body["location"],
                                               sku=made.body["sku"]["name"])
        return name

    def start(self) -> DatabricksPlane:
        self.server.start()
        return self

    def stop(self) -> None:
        self.server.close()
        self.local.close()
