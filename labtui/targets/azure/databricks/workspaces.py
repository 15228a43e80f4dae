"""Azure Databricks workspaces over azure-mgmt-databricks: the control plane, addressed by
`ResourceRef`. The workspace is Premium with classic compute (`compute_mode="Hybrid"`, which
azure-mgmt-databricks 3 needs for the lab's clusters) and a managed resource group of its
own.

Creating one is a long-running operation: its continuation token is announced
(`labtui.targets.operations`) before the wait, so that a process killed mid-creation leaves a
journal entry whose undo resumes the wait (`resume`) before the workspace's own entry deletes
it: a rollback then finds a settled workspace, not one still being made.
"""

from __future__ import annotations

from typing import Any

from labtui.targets import operations
from labtui.targets.azure.databricks.plane import AzureDatabricksPlane, text
from labtui.targets.errors import Conflict, NotFound, TargetError, Transient
from labtui.targets.resources import DatabricksWorkspace, ResourceRef

CREATE = "create-databricks-workspace"
"""The action of a workspace creation's `StartedOperation`."""


def managed_group(ref: ResourceRef) -> str:
    """The id of the workspace's managed resource group (the portal's shape, no random part,
    so a retried create asks for the same one)."""
    name = f"databricks-rg-{ref.name}"[:90]
    return f"/subscriptions/{ref.subscription}/resourceGroups/{name}"


class AzureWorkspaces(AzureDatabricksPlane):
    """Create, read and delete workspaces on Resource Manager."""

    def _remember(self, found: Any) -> DatabricksWorkspace:
        props = found.properties
        state = text(props.provisioning_state)
        if state in ("Deleting", "Deleted"):
            raise NotFound(f"Databricks workspace {found.name} is being deleted")
        url = str(props.workspace_url or "")
        workspace = DatabricksWorkspace(
            ref=ResourceRef.parse(str(found.id)), location=str(found.location),
            sku=text(found.sku.name).lower() if found.sku else "",
            workspace_id=str(props.workspace_id or ""),
            url=f"https://{url}" if url and "://" not in url else url)
        with self._lock:
            self._known[workspace.workspace_id] = workspace
        return workspace

    def create_workspace(self, ref: ResourceRef, location: str, *, sku: str = "premium"
                         ) -> DatabricksWorkspace:
        from azure.mgmt.databricks.models import Sku, Workspace, WorkspaceProperties

        what = f"Databricks workspace {ref.name}"
        try:
            existing = self.get_workspace(ref)
        except NotFound:
            existing = None
        if existing is not None:
            if existing.sku != sku.lower():
                raise Conflict(f"{what} exists with the {existing.sku} tier (not {sku.lower()})")
            if existing.location.replace(" ", "").lower() != location.replace(" ", "").lower():
                raise Conflict(f"{what} exists in {existing.location} (not {location})")
            return existing
        body = Workspace(location=location, sku=Sku(name=sku.lower()),
                         properties=WorkspaceProperties(
                             compute_mode="Hybrid", managed_resource_group_id=managed_group(ref)))
        with self._sdk(what):
            poller = self._workspaces(ref.subscription).begin_create_or_update(
                ref.resource_group, ref.name, body, polling_interval=self.poll_seconds)
        started = operations.StartedOperation(ref.id, CREATE, poller.continuation_token())
        operations.started(started)
        try:
            with self._sdk(what):
                made = poller.result()
        except Transient:
            raise  # Resource Manager goes on creating: the journaled operation is resumed
        except TargetError:
            operations.ended(started)  # the creation failed for good: nothing to resume
            raise
        operations.ended(started)
        return self._remember(made)

    def resume(self, operation: operations.StartedOperation) -> None:
        """Wait for a creation an earlier process started, from its continuation token, until
        it has ended.

        Raises:
            Transient: Resource Manager is busy; worth trying again.
            TargetError: the creation failed (said in one line).
        """
        ref = ResourceRef.parse(operation.resource)
        try:
            with self._sdk(f"Databricks workspace {ref.name}"):
                self._workspaces(ref.subscription).begin_create_or_update(
                    ref.resource_group, ref.name, None, continuation_token=operation.token,
                    polling_interval=self.poll_seconds).result()
        except NotFound:
            return  # the workspace is gone already: nothing to wait for

    def get_workspace(self, ref: ResourceRef) -> DatabricksWorkspace:
        with self._sdk(f"Databricks workspace {ref.name} in resource group {ref.resource_group}"):
            found = self._workspaces(ref.subscription).get(ref.resource_group, ref.name)
        return self._remember(found)

    def delete_workspace(self, ref: ResourceRef) -> bool:
        try:
            workspace = self.get_workspace(ref)
        except NotFound:
            return False
        with self._sdk(f"Databricks workspace {ref.name}"):
            self._workspaces(ref.subscription).begin_delete(
                ref.resource_group, ref.name, polling_interval=self.poll_seconds).result()
        self._forget(workspace)
        return True
