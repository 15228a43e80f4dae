"""What every section's journal records share to undo: finding what an entry names, whatever
labtui version wrote it, and taking "already gone" for done.

A Databricks record holds the workspace's name and its data plane's `host` and
`workspace_id`; one written before hosts holds the name only, resolved when undone. A
control-plane record holds a resource id; one written before resource ids, a bare name in the
environment's resource group.
"""

from __future__ import annotations

from collections.abc import Callable

from labtui.step import StepContext, StepError
from labtui.targets.base import NotFound
from labtui.targets.resources import (
    DATABRICKS_WORKSPACES,
    KEY_VAULTS,
    DatabricksHost,
    MalformedResourceId,
    ResourceRef,
)


def ignore_missing(action: Callable[[], object]) -> None:
    """Run an undo action; what it would remove being already gone is fine."""
    try:
        action()
    except NotFound:
        return


def control_ref(ctx: StepContext, resource: str, type: str) -> ResourceRef:
    """The ref a control-plane record names: its resource id, or for an entry journaled
    before resource ids (a bare name) the name in the environment's resource group."""
    if resource.startswith("/"):
        try:
            return ResourceRef.parse(resource)
        except MalformedResourceId as exc:
            raise StepError(f"the journal entry is damaged: {exc}") from None
    group = ctx.values.get("resource-group", "")
    if not group:
        raise StepError(f"the journal names {resource} without its resource group (an entry "
                        "written before resource ids): give resource-group to remove it")
    return ctx.target.ref(group, type, resource)


def workspace_host(ctx: StepContext, workspace: str, host: str, workspace_id: str
                   ) -> DatabricksHost:
    """The host a Databricks record addresses its workspace's data plane by; for an entry
    written before hosts (only the workspace's name), the host of that workspace in the
    environment's resource group. Raises NotFound when that workspace is gone."""
    if host:
        return DatabricksHost(host, workspace_id)
    return ctx.target.databricks.get_workspace(
        control_ref(ctx, workspace, DATABRICKS_WORKSPACES)).host


def vault_uri(ctx: StepContext, vault: str) -> str | None:
    """The URI a secret's record addresses its vault by; for an entry written before vaults
    were addressed by URI (a bare name), the URI of that vault in the environment's resource
    group, or None when that vault is gone."""
    if vault.startswith("https://"):
        return vault
    try:
        return ctx.target.vault.get_vault(control_ref(ctx, vault, KEY_VAULTS)).uri
    except NotFound:
        return None


def datalake_endpoint(ctx: StepContext, account: str) -> str:
    """The DFS endpoint a data lake record addresses its account by; for an entry written
    before the data lake was addressed by endpoint (a bare account name), that account's."""
    return account if account.startswith("https://") else ctx.target.datalake.dfs_endpoint(
        account)
