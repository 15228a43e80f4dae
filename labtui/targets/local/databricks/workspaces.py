"""Local Databricks workspaces: the control plane, addressed by `ResourceRef`."""

from __future__ import annotations

import secrets

from labtui.targets.base import Conflict, DatabricksWorkspace, NotFound, TargetError
from labtui.targets.local.databricks.plane import LocalDatabricksPlane
from labtui.targets.local.sandbox import with_latency
from labtui.targets.resources import DATABRICKS_WORKSPACES, ResourceRef


@with_latency
class LocalWorkspaces(LocalDatabricksPlane):
    """Create, read and delete the sandbox's Databricks workspaces."""

    def create_workspace(
        self, ref: ResourceRef, location: str, *, sku: str = "premium"
    ) -> DatabricksWorkspace:
        if ref.type.lower() != DATABRICKS_WORKSPACES.lower():
            raise TargetError(f"{ref.id} is not a Databricks workspace ({DATABRICKS_WORKSPACES})")
        name = ref.name
        with self._sandbox.transaction() as conn:
            group = self._sandbox.group_row(conn, ref)
            row = conn.execute(
                "SELECT * FROM databricks_workspaces WHERE name = ?", (name,)
            ).fetchone()
            if row is None:
                workspace_id = str(secrets.randbelow(9 * 10**15) + 10**15)
                conn.execute(
                    "INSERT INTO databricks_workspaces VALUES (?, ?, ?, ?, ?)",
                    (name, group["name"], location, sku.lower(), workspace_id),
                )
                row = conn.execute(
                    "SELECT * FROM databricks_workspaces WHERE name = ?", (name,)
                ).fetchone()
        workspace = self._workspace(row)
        if workspace.resource_group.lower() != ref.resource_group.lower():
            raise Conflict(
                f"Databricks workspace {name} belongs to resource group {workspace.resource_group}"
            )
        if workspace.sku != sku.lower():
            raise Conflict(f"Databricks workspace {name} exists with the {workspace.sku} tier")
        return workspace

    def get_workspace(self, ref: ResourceRef) -> DatabricksWorkspace:
        return self._workspace(self._sandbox.resource_row(
            ref, DATABRICKS_WORKSPACES, "databricks_workspaces", "Databricks workspace"))

    def delete_workspace(self, ref: ResourceRef) -> bool:
        with self._sandbox.transaction() as conn:
            try:
                row = self._sandbox.resource_row(ref, DATABRICKS_WORKSPACES,
                                                 "databricks_workspaces", "Databricks workspace",
                                                 conn)
            except NotFound:
                return False
            conn.execute("DELETE FROM databricks_workspaces WHERE name = ?", (row["name"],))
        # The clusters' scratch folders (notebook runs, Spark) go with the workspace.
        self._sandbox.remove_folder("databricks", ref.name.lower())
        return True
