"""The Azure control- and data-plane ports: resource groups, the data lake, Key Vault, identity,
Machine Learning workspaces and their model registry.

Control-plane calls (create, get, delete of an account, a vault, a workspace) address the
resource as Azure Resource Manager does: by a `ResourceRef` (subscription, resource group,
type, name; `Target.ref` builds one in the target's subscription), and what they return
carries its `ref`. Data-plane calls are addressed as their SDKs address them: a vault's
secrets by the vault's URI (`KeyVault.uri`), the data lake's file systems, files and ACLs by
the account's DFS endpoint (`StorageAccount.dfs_endpoint`). The model registry is still
addressed by the ML workspace's name (unique where its data plane is reached).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from pathlib import Path

from labtui.targets.errors import NotFound
from labtui.targets.resources import (
    AclEntry,
    DataLakeFile,
    DeletedSecret,
    KeyVault,
    MlWorkspace,
    ModelVersion,
    ResourceGroup,
    ResourceRef,
    RoleAssignment,
    ServicePrincipal,
    StorageAccount,
)


class ResourceGroups(ABC):
    """Resource groups. A group owns what is created in it: deleting it deletes its contents."""

    @abstractmethod
    def create(self, name: str, location: str) -> ResourceGroup:
        """Create the group, or return it if it exists in the same location.

        Raises:
            Conflict: it exists in another location.
        """

    @abstractmethod
    def get(self, name: str) -> ResourceGroup:
        """Return the group.

        Raises:
            NotFound: there is no such group.
        """

    @abstractmethod
    def list(self) -> list[ResourceGroup]:
        """Every group, sorted by name."""

    @abstractmethod
    def delete(self, name: str) -> bool:
        """Delete the group and every resource in it; False if it did not exist."""

    def exists(self, name: str) -> bool:
        """Whether the group exists."""
        try:
            self.get(name)
        except NotFound:
            return False
        return True


class DataLake(ABC):
    """Storage accounts with a hierarchical namespace (ADLS Gen2): file systems, files, ACLs.

    File systems, files and ACLs are addressed by the account's DFS endpoint
    (`StorageAccount.dfs_endpoint`, https://NAME.dfs.core.windows.net/), as
    `DataLakeServiceClient(account_url=…)` addresses them; an endpoint that names no account of
    the target raises NotFound, one that is not an endpoint TargetError.

    Paths inside a file system use "/" and no leading slash ("AdultCensusIncome.csv",
    "raw/2019/data.csv"); "" or "/" is the file system's root directory.
    """

    @abstractmethod
    def create_account(
        self,
        ref: ResourceRef,
        location: str,
        *,
        kind: str = "StorageV2",
        access_tier: str = "Cool",
        hierarchical_namespace: bool = True,
    ) -> StorageAccount:
        """Create the storage account `ref` names (in its subscription and resource group),
        or return it if it exists with the same settings.

        Raises:
            NotFound: the resource group does not exist.
            Conflict: the name is taken (account names are global) or the settings differ.
        """

    @abstractmethod
    def get_account(self, ref: ResourceRef) -> StorageAccount:
        """Return the account. Raises NotFound (also when it is in another resource group or
        subscription than `ref` says)."""

    @abstractmethod
    def delete_account(self, ref: ResourceRef) -> bool:
        """Delete the account with its file systems; False if `ref` named nothing."""

    @abstractmethod
    def create_file_system(self, endpoint: str, name: str) -> None:
        """Create a file system (container) in the account whose DFS endpoint is `endpoint`;
        existing is fine. Raises NotFound (account)."""

    @abstractmethod
    def file_systems(self, endpoint: str) -> list[str]:
        """The account's file systems, sorted. Raises NotFound (account)."""

    @abstractmethod
    def delete_file_system(self, endpoint: str, name: str) -> bool:
        """Delete a file system and its files; False if it did not exist."""

    @abstractmethod
    def upload(
        self, endpoint: str, file_system: str, path: str, source: Path | bytes
    ) -> DataLakeFile:
        """Write a file from a local file or bytes, replacing an existing one atomically.

        Parent directories are created; new ones and the file inherit the parent's default ACL.

        Raises:
            NotFound: the account or file system does not exist.
        """

    @abstractmethod
    def read(self, endpoint: str, file_system: str, path: str) -> bytes:
        """A file's contents. Raises NotFound."""

    @abstractmethod
    def list_files(self, endpoint: str, file_system: str, prefix: str = "") -> list[DataLakeFile]:
        """Files (not directories) under `prefix`, recursively, sorted by path."""

    @abstractmethod
    def delete_file(self, endpoint: str, file_system: str, path: str) -> bool:
        """Delete a file; False if it did not exist."""

    @abstractmethod
    def get_acl(self, endpoint: str, file_system: str, path: str = "") -> list[AclEntry]:
        """The ACL of a path (access and default entries). Raises NotFound."""

    @abstractmethod
    def update_acl(
        self, endpoint: str, file_system: str, path: str, entries: Sequence[AclEntry]
    ) -> None:
        """Add or replace the given entries (matched by scope, kind, principal); keep others.

        Raises:
            NotFound: the path does not exist.
        """

    @abstractmethod
    def remove_acl(self, endpoint: str, file_system: str, path: str, principal: str) -> bool:
        """Remove every entry (access and default) of a principal; False if it had none."""

    def dfs_endpoint(self, account: str) -> str:
        """The DFS endpoint of the storage account named `account` (what
        `StorageAccount.dfs_endpoint` holds, without a round trip): in Azure's public cloud
        https://NAME.dfs.core.windows.net/."""
        return f"https://{account.lower()}.dfs.core.windows.net/"

    def uri(self, endpoint: str, file_system: str) -> str:
        """The abfss URI notebooks mount: abfss://FS@ACCOUNT.dfs.core.windows.net, on the
        host of the account's DFS endpoint."""
        host = endpoint.strip().removeprefix("https://").rstrip("/")
        return f"abfss://{file_system}@{host}"


class Vault(ABC):
    """Key Vaults and their secrets, with soft-delete and purge as Key Vault has.

    Deleting a secret soft-deletes it: it is no longer listed or readable, its name cannot be
    set again until it is recovered or purged.

    A vault is created, found and deleted by its `ResourceRef`; its secrets are addressed by
    the vault's URI (`KeyVault.uri`, https://NAME.vault.azure.net/), as the Key Vault SDK's
    `SecretClient(vault_url=...)` addresses them. A text that is not a vault URI raises
    `TargetError`.
    """

    @abstractmethod
    def create_vault(self, ref: ResourceRef, location: str) -> KeyVault:
        """Create the vault `ref` names, or return it if it exists in the same group.

        Raises:
            NotFound: the resource group does not exist.
            Conflict: the name is taken by a vault of another group.
        """

    @abstractmethod
    def get_vault(self, ref: ResourceRef) -> KeyVault:
        """Return the vault. Raises NotFound (also when it is in another resource group or
        subscription than `ref` says)."""

    @abstractmethod
    def delete_vault(self, ref: ResourceRef) -> bool:
        """Delete (and purge) the vault with its secrets; False if `ref` named nothing."""

    @abstractmethod
    def set_secret(self, vault_uri: str, name: str, value: str) -> None:
        """Set a secret's value (a new version if it exists).

        Raises:
            NotFound: the vault does not exist.
            Conflict: the secret is deleted but not purged (recover or purge it first).
        """

    @abstractmethod
    def get_secret(self, vault_uri: str, name: str) -> str:
        """The current value of a secret. Raises NotFound (vault or secret)."""

    @abstractmethod
    def list_secrets(self, vault_uri: str) -> list[str]:
        """Names of the vault's secrets that are not deleted, sorted. Raises NotFound."""

    @abstractmethod
    def delete_secret(self, vault_uri: str, name: str) -> bool:
        """Soft-delete a secret; False if there was no such (undeleted) secret."""

    @abstractmethod
    def list_deleted_secrets(self, vault_uri: str) -> list[DeletedSecret]:
        """Soft-deleted secrets that can still be recovered or purged. Raises NotFound."""

    @abstractmethod
    def recover_deleted_secret(self, vault_uri: str, name: str) -> None:
        """Bring back a soft-deleted secret with its last value. Raises NotFound."""

    @abstractmethod
    def purge_deleted_secret(self, vault_uri: str, name: str) -> bool:
        """Remove a soft-deleted secret for good; False if it was not in the deleted state."""


class Identity(ABC):
    """Service principals (app id, password, tenant) and role assignments on a scope."""

    @abstractmethod
    def create_service_principal(self, display_name: str, tenant_id: str) -> ServicePrincipal:
        """Create a service principal with a generated password (returned only here).

        Raises:
            Conflict: a principal with that display name exists (look it up instead).
            TargetError: the target is bound to another tenant.
        """

    @abstractmethod
    def find_service_principal(self, display_name: str) -> ServicePrincipal:
        """The principal with that display name, without password. Raises NotFound."""

    @abstractmethod
    def get_service_principal(self, app_id: str) -> ServicePrincipal:
        """The principal with that app id, without password. Raises NotFound."""

    @abstractmethod
    def reset_password(self, app_id: str) -> str:
        """Replace the principal's password with a new generated one and return it.

        Raises NotFound.
        """

    @abstractmethod
    def check_password(self, app_id: str, password: str) -> bool:
        """Whether the principal can sign in with this password (false for unknown app ids)."""

    @abstractmethod
    def delete_service_principal(self, app_id: str) -> bool:
        """Delete the principal and its role assignments; False if it did not exist."""

    @abstractmethod
    def assign_role(self, principal_id: str, role: str, scope: str) -> RoleAssignment:
        """Give `role` to the principal (object id) on `scope` (a resource id); idempotent.

        Raises:
            NotFound: the principal or the scope does not exist.
        """

    @abstractmethod
    def role_assignments(self, scope: str) -> list[RoleAssignment]:
        """Assignments made directly on `scope`."""

    @abstractmethod
    def remove_role_assignment(self, assignment_id: str) -> bool:
        """Remove one assignment; False if it did not exist."""


class Models(ABC):
    """Machine Learning workspaces and their model registry."""

    @abstractmethod
    def create_workspace(self, ref: ResourceRef, location: str) -> MlWorkspace:
        """Create the ML workspace `ref` names, or return it if it exists in the same group.

        Raises:
            NotFound: the resource group does not exist.
            Conflict: the name is taken by a workspace of another group.
        """

    @abstractmethod
    def get_workspace(self, ref: ResourceRef) -> MlWorkspace:
        """Return the ML workspace. Raises NotFound (also when it is in another resource
        group or subscription than `ref` says)."""

    @abstractmethod
    def delete_workspace(self, ref: ResourceRef) -> bool:
        """Delete the workspace with its registry; False if `ref` named nothing."""

    @abstractmethod
    def register_model(
        self, workspace: str, name: str, source: Path, tags: Mapping[str, str], *,
        description: str = "", run_id: str | None = None,
    ) -> ModelVersion:
        """Register the files under `source` as a new version of model `name`.

        With `run_id` (the training run that logged the metrics and parameters) the files
        are stored with that run and the version points at it; without, with a run of its own.

        Raises:
            NotFound: the workspace, the source folder or the run does not exist.
        """

    @abstractmethod
    def list_models(
        self, workspace: str, name: str | None = None, tags: Mapping[str, str] | None = None
    ) -> list[ModelVersion]:
        """Versions (of `name`, having all `tags`), oldest first. Raises NotFound (workspace)."""

    @abstractmethod
    def download_model(
        self,
        workspace: str,
        name: str,
        destination: Path,
        *,
        version: int | None = None,
        tags: Mapping[str, str] | None = None,
    ) -> Path:
        """Download a version's files (the given one, else the newest having `tags`) into
        `destination` and return the folder holding them.

        Raises:
            NotFound: no such workspace, model or matching version.
        """

    @abstractmethod
    def delete_model(self, workspace: str, name: str) -> bool:
        """Delete a registered model with all its versions; False if it did not exist."""

    @abstractmethod
    def delete_experiment(self, workspace: str, name: str) -> bool:
        """Delete an experiment for good: its runs, their metrics, parameters and files;
        False if there was none."""
