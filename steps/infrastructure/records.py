"""The Infrastructure section's journal records: every kind of thing its steps create, and how
each is undone.

Each record is what a step journals *before* it creates something, holding all its undo
needs, so that a rollback works from the journal alone (even once the step that made it is no
longer installed). Kinds and field names are stored in state.db: they never change. What a
record removes may already be gone; that is fine.
"""

from __future__ import annotations

from dataclasses import dataclass

from labtui_steps.record_undo import (
    control_ref,
    datalake_endpoint,
    ignore_missing,
    vault_uri,
    workspace_host,
)

from labtui.journal import Record
from labtui.step import StepContext
from labtui.targets.base import Library, NotFound
from labtui.targets.resources import (
    DATABRICKS_WORKSPACES,
    KEY_VAULTS,
    ML_WORKSPACES,
    STORAGE_ACCOUNTS,
)


@dataclass(frozen=True)
class ResourceGroup(Record):
    kind = "resource-group"
    name: str

    def undo(self, ctx: StepContext) -> None:
        ctx.target.resource_groups.delete(self.name)


@dataclass(frozen=True)
class MlWorkspace(Record):
    """Journaled by its resource id (entries from before resource ids hold its name)."""

    kind = "ml-workspace"
    ref_field = "resource"
    resource: str

    def undo(self, ctx: StepContext) -> None:
        ctx.target.models.delete_workspace(control_ref(ctx, self.resource, ML_WORKSPACES))


@dataclass(frozen=True)
class StorageAccount(Record):
    """Journaled by its resource id (entries from before resource ids hold its name)."""

    kind = "storage-account"
    ref_field = "resource"
    resource: str

    def undo(self, ctx: StepContext) -> None:
        ctx.target.datalake.delete_account(control_ref(ctx, self.resource, STORAGE_ACCOUNTS))


@dataclass(frozen=True)
class FileSystem(Record):
    """A file system of the data lake; `account` is the account's DFS endpoint (a bare account
    name in entries written before)."""

    kind = "file-system"
    name: str
    account: str

    def undo(self, ctx: StepContext) -> None:
        ignore_missing(lambda: ctx.target.datalake.delete_file_system(
            datalake_endpoint(ctx, self.account), self.name))


@dataclass(frozen=True)
class DatalakeFile(Record):
    """A file uploaded to the data lake; `account` as in `FileSystem`."""

    kind = "datalake-file"
    ref_field = "path"
    path: str
    account: str
    file_system: str

    def undo(self, ctx: StepContext) -> None:
        ignore_missing(lambda: ctx.target.datalake.delete_file(
            datalake_endpoint(ctx, self.account), self.file_system, self.path))


@dataclass(frozen=True)
class KeyVault(Record):
    """Journaled by its resource id (entries from before resource ids hold its name)."""

    kind = "key-vault"
    ref_field = "resource"
    resource: str

    def undo(self, ctx: StepContext) -> None:
        ctx.target.vault.delete_vault(control_ref(ctx, self.resource, KEY_VAULTS))


@dataclass(frozen=True)
class DatabricksWorkspace(Record):
    """Journaled by its resource id (entries from before resource ids hold its name)."""

    kind = "databricks-workspace"
    ref_field = "resource"
    resource: str

    def undo(self, ctx: StepContext) -> None:
        ctx.target.databricks.delete_workspace(
            control_ref(ctx, self.resource, DATABRICKS_WORKSPACES))


@dataclass(frozen=True)
class Cluster(Record):
    """A cluster, journaled by name (its id is known only once it exists)."""

    kind = "cluster"
    name: str
    workspace: str
    host: str = ""
    workspace_id: str = ""

    def undo(self, ctx: StepContext) -> None:
        databricks = ctx.target.databricks

        def remove() -> None:
            host = workspace_host(ctx, self.workspace, self.host, self.workspace_id)
            for cluster in databricks.clusters(host):
                if cluster.name == self.name:
                    databricks.delete_cluster(host, cluster.cluster_id)

        ignore_missing(remove)


@dataclass(frozen=True)
class ClusterLibraries(Record):
    """Libraries installed on a cluster that existed before: `libraries` are pip specs,
    comma-separated."""

    kind = "cluster-libraries"
    ref_field = "cluster_id"
    cluster_id: str
    workspace: str
    libraries: str
    host: str = ""
    workspace_id: str = ""

    def undo(self, ctx: StepContext) -> None:
        libraries = [Library("pypi", spec) for spec in self.libraries.split(",")]
        ignore_missing(lambda: ctx.target.databricks.uninstall_libraries(
            workspace_host(ctx, self.workspace, self.host, self.workspace_id),
            self.cluster_id, libraries))


@dataclass(frozen=True)
class ClusterAutotermination(Record):
    """A cluster that existed before, set to terminate after the lab's idle minutes;
    `previous` is its own setting (minutes, as text), which the undo puts back."""

    kind = "cluster-autotermination"
    ref_field = "cluster_id"
    cluster_id: str
    workspace: str
    previous: str
    host: str = ""
    workspace_id: str = ""

    def undo(self, ctx: StepContext) -> None:
        ignore_missing(lambda: ctx.target.databricks.edit_cluster(
            workspace_host(ctx, self.workspace, self.host, self.workspace_id),
            self.cluster_id, autotermination_minutes=int(self.previous)))


@dataclass(frozen=True)
class DatabricksProfile(Record):
    kind = "databricks-profile"
    name: str

    def undo(self, ctx: StepContext) -> None:
        ctx.target.workstation.delete_profile(self.name)


@dataclass(frozen=True)
class DatabricksToken(Record):
    """A personal access token, journaled by its comment (its id is known only once it
    exists)."""

    kind = "databricks-token"
    ref_field = "comment"
    comment: str
    workspace: str
    host: str = ""
    workspace_id: str = ""

    def undo(self, ctx: StepContext) -> None:
        databricks = ctx.target.databricks

        def revoke() -> None:
            host = workspace_host(ctx, self.workspace, self.host, self.workspace_id)
            for token in databricks.tokens(host):
                if token.comment == self.comment:
                    databricks.delete_token(host, token.token_id)

        ignore_missing(revoke)


@dataclass(frozen=True)
class ServicePrincipal(Record):
    kind = "service-principal"
    name: str

    def undo(self, ctx: StepContext) -> None:
        principals = ctx.target.principals
        try:
            principal = principals.find_service_principal(self.name)
        except NotFound:
            return
        principals.delete_service_principal(principal.app_id)


@dataclass(frozen=True)
class DatalakeAcl(Record):
    """The ACL entries (access and default) a principal was given on a file system's root;
    `account` as in `FileSystem`."""

    kind = "datalake-acl"
    ref_field = "object_id"
    object_id: str
    account: str
    file_system: str

    def undo(self, ctx: StepContext) -> None:
        ignore_missing(lambda: ctx.target.datalake.remove_acl(
            datalake_endpoint(ctx, self.account), self.file_system, "", self.object_id))


@dataclass(frozen=True)
class RoleAssignment(Record):
    """A role given to a principal on a scope; listed as "ROLE on NAME"."""

    kind = "role-assignment"
    ref_field = "assignment"
    assignment: str
    principal: str
    role: str
    scope: str

    def undo(self, ctx: StepContext) -> None:
        principals = ctx.target.principals
        for assignment in principals.role_assignments(self.scope):
            if assignment.principal_id == self.principal and assignment.role == self.role:
                principals.remove_role_assignment(assignment.id)


@dataclass(frozen=True)
class SecretScope(Record):
    kind = "secret-scope"
    name: str
    workspace: str
    host: str = ""
    workspace_id: str = ""

    def undo(self, ctx: StepContext) -> None:
        ignore_missing(lambda: ctx.target.databricks.delete_secret_scope(
            workspace_host(ctx, self.workspace, self.host, self.workspace_id), self.name))


@dataclass(frozen=True)
class VaultSecret(Record):
    """A secret the step set: deleted, then purged, since a soft-deleted secret would block
    the next run from setting it."""

    kind = "vault-secret"
    name: str
    vault: str
    """The vault's URI (entries from before hold the vault's name)."""

    def undo(self, ctx: StepContext) -> None:
        uri = vault_uri(ctx, self.vault)
        if uri is None:
            return  # the vault is gone, and its secrets with it
        # It may be soft-deleted already (by hand), and then only the purge is left to do.
        ignore_missing(lambda: ctx.target.vault.delete_secret(uri, self.name))
        ignore_missing(lambda: ctx.target.vault.purge_deleted_secret(uri, self.name))


@dataclass(frozen=True)
class RecoveredSecret(Record):
    """Someone else's deleted secret the step recovered: the undo deletes it again, leaving
    it recoverable as it was."""

    kind = "recovered-secret"
    name: str
    vault: str
    """The vault's URI (entries from before hold the vault's name)."""

    def undo(self, ctx: StepContext) -> None:
        uri = vault_uri(ctx, self.vault)
        if uri is not None:
            ignore_missing(lambda: ctx.target.vault.delete_secret(uri, self.name))
