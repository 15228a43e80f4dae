"""The ports: the interfaces through which steps reach the lab's resources.

A step never talks to a cloud SDK or to the local sandbox directly; it asks `ctx.target` for a
port (`ctx.target.vault`, `ctx.target.datalake` …). Each target (local, azure) implements the
same ports, so the same step code drives both.

Conventions every port keeps:

- Creating something that already exists with the same settings returns it (idempotent);
  creating it with different settings raises `Conflict` naming the difference.
- Reading something that does not exist raises `NotFound` (a `TargetError`).
- Deleting something that does not exist returns False instead of raising, so undo can be
  repeated; it returns True when something was removed.
- Names are compared the way Azure compares them: resource group, vault and storage account
  names case-insensitively.
- Messages of every error are one line, name the resource and never contain a secret value.
- A failure that passes by itself (throttled, busy, not yet propagated) raises `Transient`,
  never a plain `TargetError` with those words: the engine retries the hook on `Transient`
  only (`labtui.retry`), and shows any other `TargetError` to the attendee as it is.
"""

from __future__ import annotations

import threading
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar, Literal

from labtui.targets.ports.pipelines import (  # re-exported: the Pipelines section's ports
    FINISHED_RUN_STATES as FINISHED_RUN_STATES,
)
from labtui.targets.ports.pipelines import (
    VOTES as VOTES,
)
from labtui.targets.ports.pipelines import (
    Approval as Approval,
)
from labtui.targets.ports.pipelines import (
    ApprovalCheck as ApprovalCheck,
)
from labtui.targets.ports.pipelines import (
    ApprovalStatus as ApprovalStatus,
)
from labtui.targets.ports.pipelines import (
    Artifact as Artifact,
)
from labtui.targets.ports.pipelines import (
    Comment as Comment,
)
from labtui.targets.ports.pipelines import (
    Coverage as Coverage,
)
from labtui.targets.ports.pipelines import (
    Environment as Environment,
)
from labtui.targets.ports.pipelines import (
    Environments as Environments,
)
from labtui.targets.ports.pipelines import (
    Pipeline as Pipeline,
)
from labtui.targets.ports.pipelines import (
    PipelineRun as PipelineRun,
)
from labtui.targets.ports.pipelines import (
    Pipelines as Pipelines,
)
from labtui.targets.ports.pipelines import (
    PublishedTest as PublishedTest,
)
from labtui.targets.ports.pipelines import (
    PullRequest as PullRequest,
)
from labtui.targets.ports.pipelines import (
    PullRequests as PullRequests,
)
from labtui.targets.ports.pipelines import (
    PullRequestStatus as PullRequestStatus,
)
from labtui.targets.ports.pipelines import (
    Reviewer as Reviewer,
)
from labtui.targets.ports.pipelines import (
    RunState as RunState,
)
from labtui.targets.ports.pipelines import (
    Variable as Variable,
)
from labtui.targets.ports.pipelines import (
    VariableGroup as VariableGroup,
)
from labtui.targets.ports.pipelines import (
    VariableGroups as VariableGroups,
)
from labtui.targets.ports.pipelines import (
    Vote as Vote,
)

if TYPE_CHECKING:
    from labtui.step import Field
    from labtui.targets.git import WorkingCopy
    from labtui.targets.ownership import JournalMirror



class TargetError(Exception):
    """A target could not do what was asked; the message is for the attendee."""


class NotFound(TargetError):
    """The named resource does not exist."""


class Conflict(TargetError):
    """The resource exists with other settings, or in a state that forbids the request
    (a Key Vault secret that is deleted but not purged, a name taken in another group)."""


class Transient(TargetError):
    """The request failed for a reason that passes by itself: the service throttled it (HTTP
    429), is busy or unavailable (503, a locked database), or has not yet seen what was just
    made elsewhere (a new principal not yet propagated). The same call is worth repeating
    after a pause; the engine's retry policy does that (`labtui.retry`).

    `retry_after` is the pause the service asked for (a Retry-After header) in seconds, or
    None when it named none.
    """

    def __init__(self, message: str, *, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class BuildFailed(TargetError):
    """An image build failed. The message is one line naming the cause and the fix; `cause`
    says which kind it is, so a step can word the fix in its own terms:

    - "base-image": the image in FROM is not on the engine and cannot be pulled (`image`);
    - "certificate": a download in a RUN step failed TLS verification (an intercepting proxy);
    - "network": a download in a RUN step could not reach its server;
    - "step": a Dockerfile step failed for another reason (its last output is in the message).
    """

    def __init__(self, message: str, *, cause: str, image: str = "") -> None:
        super().__init__(message)
        self.cause = cause
        self.image = image


# --- resources -------------------------------------------------------------------------------


@dataclass(frozen=True)
class ResourceGroup:
    """An Azure resource group: a named container that owns the resources created in it."""

    name: str
    location: str
    id: str


@dataclass(frozen=True)
class StorageAccount:
    """A storage account. For the lab: StorageV2, hierarchical namespace on, Cool tier."""

    name: str
    resource_group: str
    location: str
    kind: str
    access_tier: str
    hierarchical_namespace: bool
    id: str
    dfs_endpoint: str


@dataclass(frozen=True)
class AclEntry:
    """One POSIX ACL entry of a data lake path.

    `scope` "access" applies to the path itself; "default" is inherited by children created
    under a directory. `principal` is the object id of a user or service principal, or "" for
    the owning user/group, `other` and `mask` entries. `permissions` is "rwx" with "-" for
    missing bits, as `az storage fs access` prints them.
    """

    scope: Literal["access", "default"]
    kind: Literal["user", "group", "other", "mask"]
    principal: str
    permissions: str

    def __str__(self) -> str:
        prefix = "default:" if self.scope == "default" else ""
        return f"{prefix}{self.kind}:{self.principal}:{self.permissions}"


@dataclass(frozen=True)
class DataLakeFile:
    """A file in a data lake file system."""

    path: str
    size: int


@dataclass(frozen=True)
class KeyVault:
    """A Key Vault: `uri` is its DNS name (https://NAME.vault.azure.net/), `id` its resource id."""

    name: str
    resource_group: str
    location: str
    uri: str
    id: str


@dataclass(frozen=True)
class DeletedSecret:
    """A soft-deleted Key Vault secret: recoverable until purged."""

    name: str
    deleted_on: float


@dataclass(frozen=True)
class ServicePrincipal:
    """An Entra ID service principal. `password` is only set on the call that generated it."""

    display_name: str
    app_id: str
    object_id: str
    tenant_id: str
    password: str | None = field(default=None, repr=False)


@dataclass(frozen=True)
class RoleAssignment:
    """A role (e.g. "Storage Blob Data Contributor") given to a principal on a scope."""

    id: str
    principal_id: str
    role: str
    scope: str


@dataclass(frozen=True)
class DatabricksWorkspace:
    """An Azure Databricks workspace. `url` is what the CLI profiles use as host."""

    name: str
    resource_group: str
    location: str
    sku: str
    workspace_id: str
    url: str
    id: str


@dataclass(frozen=True)
class Cluster:
    """A Databricks cluster. `autotermination_minutes` 0 means it never stops by itself."""

    cluster_id: str
    name: str
    node_type: str
    spark_version: str
    num_workers: int
    autotermination_minutes: int
    state: str


@dataclass(frozen=True)
class Library:
    """A cluster library: `kind` "pypi" (spec is a requirement like "azureml-sdk"), "whl"…"""

    kind: str
    spec: str


@dataclass(frozen=True)
class LibraryStatus:
    """A library on a cluster and its install status ("INSTALLED", "PENDING", "FAILED")."""

    library: Library
    status: str


@dataclass(frozen=True)
class AccessToken:
    """A personal access token of a Databricks workspace (User Settings > Developer > Access
    tokens; `tokens.create` in databricks-sdk). `value` is known only to the call that created
    it: the workspace keeps no copy it can show again."""

    token_id: str
    comment: str
    created: float
    expires: float | None = None
    value: str | None = None


@dataclass(frozen=True)
class SecretScope:
    """A Databricks secret scope: "DATABRICKS"-backed, or "AZURE_KEYVAULT"-backed by a vault."""

    name: str
    backend: Literal["DATABRICKS", "AZURE_KEYVAULT"]
    vault_uri: str = ""
    vault_id: str = ""


@dataclass(frozen=True)
class Profile:
    """A Databricks CLI profile: a section of `.databrickscfg` with host and token."""

    name: str
    host: str
    token: str = field(repr=False)


@dataclass(frozen=True)
class NotebookRun:
    """A finished notebook run, as the Jobs API reports it: `state` is the result state
    ("SUCCESS"), `exit_value` what the notebook passed to `dbutils.notebook.exit` (None when it
    did not call it). Each cell's output streamed through the `log` callback as it ran."""

    run_id: str
    state: str
    exit_value: str | None = None
    cells: int = 0
    seconds: float = 0.0


@dataclass(frozen=True)
class MlWorkspace:
    """An Azure Machine Learning workspace: here, the model registry of one environment."""

    name: str
    resource_group: str
    location: str
    id: str


@dataclass(frozen=True)
class ModelVersion:
    """One registered version of a model, with its tags (the lab uses state and created_by)."""

    name: str
    version: int
    tags: Mapping[str, str]
    source: str


# --- ports -----------------------------------------------------------------------------------


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

    Paths inside a file system use "/" and no leading slash ("AdultCensusIncome.csv",
    "raw/2019/data.csv"); "" or "/" is the file system's root directory.
    """

    @abstractmethod
    def create_account(
        self,
        resource_group: str,
        name: str,
        location: str,
        *,
        kind: str = "StorageV2",
        access_tier: str = "Cool",
        hierarchical_namespace: bool = True,
    ) -> StorageAccount:
        """Create a storage account, or return it if it exists with the same settings.

        Raises:
            NotFound: the resource group does not exist.
            Conflict: the name is taken (account names are global) or the settings differ.
        """

    @abstractmethod
    def get_account(self, name: str) -> StorageAccount:
        """Return the account. Raises NotFound."""

    @abstractmethod
    def delete_account(self, name: str) -> bool:
        """Delete the account with its file systems; False if it did not exist."""

    @abstractmethod
    def create_file_system(self, account: str, name: str) -> None:
        """Create a file system (container); existing is fine. Raises NotFound (account)."""

    @abstractmethod
    def file_systems(self, account: str) -> list[str]:
        """The account's file systems, sorted. Raises NotFound (account)."""

    @abstractmethod
    def delete_file_system(self, account: str, name: str) -> bool:
        """Delete a file system and its files; False if it did not exist."""

    @abstractmethod
    def upload(
        self, account: str, file_system: str, path: str, source: Path | bytes
    ) -> DataLakeFile:
        """Write a file from a local file or bytes, replacing an existing one atomically.

        Parent directories are created; new ones and the file inherit the parent's default ACL.

        Raises:
            NotFound: the account or file system does not exist.
        """

    @abstractmethod
    def read(self, account: str, file_system: str, path: str) -> bytes:
        """A file's contents. Raises NotFound."""

    @abstractmethod
    def list_files(self, account: str, file_system: str, prefix: str = "") -> list[DataLakeFile]:
        """Files (not directories) under `prefix`, recursively, sorted by path."""

    @abstractmethod
    def delete_file(self, account: str, file_system: str, path: str) -> bool:
        """Delete a file; False if it did not exist."""

    @abstractmethod
    def get_acl(self, account: str, file_system: str, path: str = "") -> list[AclEntry]:
        """The ACL of a path (access and default entries). Raises NotFound."""

    @abstractmethod
    def update_acl(
        self, account: str, file_system: str, path: str, entries: Sequence[AclEntry]
    ) -> None:
        """Add or replace the given entries (matched by scope, kind, principal); keep others.

        Raises:
            NotFound: the path does not exist.
        """

    @abstractmethod
    def remove_acl(self, account: str, file_system: str, path: str, principal: str) -> bool:
        """Remove every entry (access and default) of a principal; False if it had none."""

    def uri(self, account: str, file_system: str) -> str:
        """The abfss URI notebooks mount: abfss://FS@ACCOUNT.dfs.core.windows.net."""
        return f"abfss://{file_system}@{account}.dfs.core.windows.net"


class Vault(ABC):
    """Key Vaults and their secrets, with soft-delete and purge as Key Vault has.

    Deleting a secret soft-deletes it: it is no longer listed or readable, its name cannot be
    set again until it is recovered or purged.
    """

    @abstractmethod
    def create_vault(self, resource_group: str, name: str, location: str) -> KeyVault:
        """Create a vault, or return it if it exists in the same group.

        Raises:
            NotFound: the resource group does not exist.
            Conflict: the name is taken by a vault of another group.
        """

    @abstractmethod
    def get_vault(self, name: str) -> KeyVault:
        """Return the vault. Raises NotFound."""

    @abstractmethod
    def delete_vault(self, name: str) -> bool:
        """Delete (and purge) the vault with its secrets; False if it did not exist."""

    @abstractmethod
    def set_secret(self, vault: str, name: str, value: str) -> None:
        """Set a secret's value (a new version if it exists).

        Raises:
            NotFound: the vault does not exist.
            Conflict: the secret is deleted but not purged (recover or purge it first).
        """

    @abstractmethod
    def get_secret(self, vault: str, name: str) -> str:
        """The current value of a secret. Raises NotFound (vault or secret)."""

    @abstractmethod
    def list_secrets(self, vault: str) -> list[str]:
        """Names of the vault's secrets that are not deleted, sorted. Raises NotFound."""

    @abstractmethod
    def delete_secret(self, vault: str, name: str) -> bool:
        """Soft-delete a secret; False if there was no such (undeleted) secret."""

    @abstractmethod
    def list_deleted_secrets(self, vault: str) -> list[DeletedSecret]:
        """Soft-deleted secrets that can still be recovered or purged. Raises NotFound."""

    @abstractmethod
    def recover_deleted_secret(self, vault: str, name: str) -> None:
        """Bring back a soft-deleted secret with its last value. Raises NotFound."""

    @abstractmethod
    def purge_deleted_secret(self, vault: str, name: str) -> bool:
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


class Databricks(ABC):
    """Databricks workspaces, clusters, libraries, secret scopes and CLI token profiles."""

    @abstractmethod
    def create_workspace(
        self, resource_group: str, name: str, location: str, *, sku: str = "premium"
    ) -> DatabricksWorkspace:
        """Create a workspace, or return it if it exists with the same SKU.

        Raises:
            NotFound: the resource group does not exist.
            Conflict: it exists with another SKU or in another group.
        """

    @abstractmethod
    def get_workspace(self, name: str) -> DatabricksWorkspace:
        """Return the workspace. Raises NotFound."""

    @abstractmethod
    def delete_workspace(self, name: str) -> bool:
        """Delete the workspace with its clusters and scopes; False if it did not exist."""

    @abstractmethod
    def create_cluster(
        self,
        workspace: str,
        name: str,
        *,
        node_type: str,
        spark_version: str,
        num_workers: int,
        autotermination_minutes: int,
    ) -> Cluster:
        """Create a cluster (a new cluster id each time; look one up by name first).

        Raises NotFound (workspace).
        """

    @abstractmethod
    def clusters(self, workspace: str) -> list[Cluster]:
        """The workspace's clusters, sorted by name. Raises NotFound (workspace)."""

    @abstractmethod
    def get_cluster(self, workspace: str, cluster_id: str) -> Cluster:
        """Return the cluster. Raises NotFound."""

    @abstractmethod
    def edit_cluster(
        self, workspace: str, cluster_id: str, *, autotermination_minutes: int
    ) -> Cluster:
        """Change a cluster's auto-termination. Raises NotFound."""

    @abstractmethod
    def delete_cluster(self, workspace: str, cluster_id: str) -> bool:
        """Permanently delete a cluster; False if it did not exist."""

    @abstractmethod
    def install_libraries(
        self, workspace: str, cluster_id: str, libraries: Sequence[Library]
    ) -> None:
        """Install libraries on a cluster; already installed ones are kept. Raises NotFound."""

    @abstractmethod
    def cluster_libraries(self, workspace: str, cluster_id: str) -> list[LibraryStatus]:
        """Libraries on a cluster with their status. Raises NotFound."""

    @abstractmethod
    def uninstall_libraries(
        self, workspace: str, cluster_id: str, libraries: Sequence[Library]
    ) -> None:
        """Remove libraries from a cluster; absent ones are ignored. Raises NotFound."""

    @abstractmethod
    def create_secret_scope(
        self, workspace: str, name: str, *, vault: KeyVault | None = None
    ) -> SecretScope:
        """Create a scope, Key Vault-backed if `vault` is given; same settings is fine.

        Raises:
            NotFound: the workspace (or the vault) does not exist.
            Conflict: the scope exists with another backend or vault.
        """

    @abstractmethod
    def secret_scopes(self, workspace: str) -> list[SecretScope]:
        """The workspace's scopes, sorted by name. Raises NotFound (workspace)."""

    @abstractmethod
    def delete_secret_scope(self, workspace: str, name: str) -> bool:
        """Delete a scope (never the vault behind it); False if it did not exist."""

    @abstractmethod
    def scope_secrets(self, workspace: str, scope: str) -> list[str]:
        """Names of the secrets visible through a scope (live from the vault if backed).

        There is no call for a value: Databricks lets only a notebook read one
        (`dbutils.secrets.get`); outside a notebook the vault behind the scope holds the values.

        Raises NotFound (workspace or scope).
        """

    # -- personal access tokens ------------------------------------------------------------

    @abstractmethod
    def create_token(self, workspace: str, comment: str, *,
                     lifetime_seconds: int | None = None) -> AccessToken:
        """Issue a personal access token (as "Generate New Token" does); the result carries
        its value, which is shown this once. No lifetime: it does not expire.

        Raises NotFound (workspace).
        """

    @abstractmethod
    def tokens(self, workspace: str) -> list[AccessToken]:
        """The workspace's tokens, oldest first, without their values. Raises NotFound."""

    @abstractmethod
    def check_token(self, workspace: str, value: str) -> bool:
        """Whether the workspace accepts `value` as a token now (issued, not revoked, not
        expired). Raises NotFound (workspace)."""

    @abstractmethod
    def delete_token(self, workspace: str, token_id: str) -> bool:
        """Revoke a token; False if there was none with that id."""

    @abstractmethod
    def write_profile(self, name: str, host: str, token: str) -> None:
        """Write a CLI profile `[name]` (host, token) to `.databrickscfg`; other sections stay.

        Raises:
            TargetError: the file is not INI or cannot be written (the file is left as it was).
        """

    @abstractmethod
    def read_profile(self, name: str) -> Profile:
        """Read a CLI profile. Raises NotFound, or TargetError if the file is not INI."""

    @abstractmethod
    def delete_profile(self, name: str) -> bool:
        """Remove a CLI profile; False if there was none."""

    @abstractmethod
    def profile_file(self) -> Path:
        """Where the CLI profiles are kept (DATABRICKS_CONFIG_FILE or ~/.databrickscfg)."""

    # -- notebooks and Git integration (the Dev loop) --------------------------------------

    @abstractmethod
    def import_notebook(self, workspace: str, path: str, source: str) -> None:
        """Put a notebook (Databricks source format) at `path`, replacing what is there.

        Raises:
            NotFound: the workspace does not exist.
        """

    @abstractmethod
    def notebook_source(self, workspace: str, path: str) -> str:
        """A notebook's source. Raises NotFound."""

    @abstractmethod
    def delete_notebook(self, workspace: str, path: str) -> bool:
        """Delete a notebook; False if there was none."""

    @abstractmethod
    def set_git_provider(self, workspace: str, provider: str | None) -> None:
        """Set the user's Git provider (User Settings → Git Integration), or clear it with
        None. Raises NotFound."""

    @abstractmethod
    def git_provider(self, workspace: str) -> str | None:
        """The user's Git provider, or None if not set. Raises NotFound (workspace)."""

    @abstractmethod
    def link_notebook(self, workspace: str, path: str, repo_url: str, branch: str,
                      repo_path: str) -> None:
        """Link the notebook at `path` to `repo_path` on `branch` of a git repository.

        Raises:
            NotFound: the workspace does not exist.
        """

    @abstractmethod
    def notebook_link(self, workspace: str, path: str) -> tuple[str, str, str] | None:
        """(repo_url, branch, repo_path) of a linked notebook, or None. Raises NotFound
        (workspace)."""

    @abstractmethod
    def unlink_notebook(self, workspace: str, path: str) -> bool:
        """Remove a notebook's link; False if it had none."""

    @abstractmethod
    def run_notebook(
        self,
        workspace: str,
        cluster_id: str,
        path: str,
        *,
        params: Mapping[str, str] | None = None,
        log: Callable[[str], None] = lambda line: None,
        progress: Callable[[float, float, str], None] = lambda done, total, text: None,
        cancelled: threading.Event | None = None,
    ) -> NotebookRun:
        """Run a notebook on a cluster as a one-time job, streaming each cell's output to `log`
        and `progress(cell, cells, title)`; returns the finished run with the notebook's exit
        value (`dbutils.notebook.exit`), the only way its results reach the caller.
        As on Databricks, the notebook's MLflow runs go to the experiment named after its
        `path`, in the ML workspace its `data-lake` secret scope names.

        Raises:
            NotFound: the workspace, cluster or notebook does not exist.
            TargetError: the run failed; the message names the failing cell.
            Cancelled: `cancelled` was set.
        """


class Models(ABC):
    """Machine Learning workspaces and their model registry."""

    @abstractmethod
    def create_workspace(self, resource_group: str, name: str, location: str) -> MlWorkspace:
        """Create an ML workspace, or return it if it exists in the same group.

        Raises:
            NotFound: the resource group does not exist.
            Conflict: the name is taken by a workspace of another group.
        """

    @abstractmethod
    def get_workspace(self, name: str) -> MlWorkspace:
        """Return the ML workspace. Raises NotFound."""

    @abstractmethod
    def delete_workspace(self, name: str) -> bool:
        """Delete the workspace with its registry; False if it did not exist."""

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


# -- Containers ------------------------------------------------------------------------------


@dataclass(frozen=True)
class ImageInfo:
    """A container image: its id, tags and labels (model name, version, tags …)."""

    id: str
    tags: tuple[str, ...]
    labels: Mapping[str, str]
    created: str = ""


@dataclass(frozen=True)
class ContainerInfo:
    """A container: id, name, image, status and the host ports its ports are published on."""

    id: str
    name: str
    image: str
    status: str
    labels: Mapping[str, str]
    ports: Mapping[int, int]


OWNER_LABEL = "labtui.workspace"
"""The label on every image and container a workspace creates: its workspace id."""


class Containers(ABC):
    """Build, run, inspect and remove container images on a container engine.

    An engine may be shared (other attendees, other workspaces). A port with an `owner` labels
    everything it builds or starts with `OWNER_LABEL` = owner, and removes only images and
    containers carrying that label.
    """

    @property
    def owner(self) -> str | None:
        """The id this port labels its images and containers with; None for an engine
        client that owns nothing (tools, tests)."""
        return None

    @abstractmethod
    def ping(self) -> str:
        """The engine's version.

        Raises:
            TargetError: no engine is reachable; the message says how to start one.
        """

    @abstractmethod
    def build(
        self,
        context: Path,
        tag: str,
        *,
        build_args: Mapping[str, str] | None = None,
        labels: Mapping[str, str] | None = None,
        log: Callable[[str], None] = lambda line: None,
        progress: Callable[[int, int], None] = lambda done, total: None,
        cancelled: threading.Event | None = None,
    ) -> ImageInfo:
        """Build `context` (with its Dockerfile) as `tag`, streaming each output line to `log`
        as the engine produces it and `progress(step, steps)` per Dockerfile step.

        Raises:
            BuildFailed: the build failed; the message names the cause and the fix.
            TargetError: no engine, or the build was cancelled.
        """

    @abstractmethod
    def image(self, ref: str) -> ImageInfo:
        """Raises NotFound if there is no such image."""

    @abstractmethod
    def images(self, label: str | None = None) -> list[ImageInfo]:
        """Images, optionally only those with `label` ("key" or "key=value")."""

    @abstractmethod
    def remove_image(self, ref: str) -> bool:
        """Remove an image (and untag it); False if it did not exist or belongs to another
        owner (it is then left alone)."""

    @abstractmethod
    def run(
        self,
        image: str,
        *,
        name: str,
        ports: Mapping[int, int | None] | None = None,
        environment: Mapping[str, str] | None = None,
        labels: Mapping[str, str] | None = None,
        command: list[str] | None = None,
    ) -> ContainerInfo:
        """Start a detached container; `ports` maps container ports to host ports on loopback
        (None: any free port, see `ContainerInfo.ports`).

        Raises:
            NotFound: the image does not exist. TargetError: it cannot start.
        """

    @abstractmethod
    def container(self, ref: str) -> ContainerInfo:
        """Raises NotFound if there is no such container."""

    @abstractmethod
    def containers(self, label: str | None = None) -> list[ContainerInfo]:
        """Containers, running or not, optionally only those with `label`."""

    @abstractmethod
    def wait(self, ref: str, timeout: float) -> int:
        """Wait for a container to exit; its exit code. Raises TargetError on timeout."""

    @abstractmethod
    def logs(self, ref: str, *, follow: bool = False) -> Iterator[str]:
        """A container's output lines; with `follow`, as they come until it exits."""

    @abstractmethod
    def copy_from(self, ref: str, path: str, destination: Path) -> None:
        """Copy `path` out of a container into the folder `destination`.

        Raises:
            NotFound: the container or the path does not exist.
        """

    @abstractmethod
    def remove_container(self, ref: str) -> bool:
        """Stop and remove a container; False if it did not exist or belongs to another owner
        (it is then left alone)."""


# -- DevOps ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class DevOpsProject:
    """An Azure DevOps project (Git version control, Agile process, as the lab creates it)."""

    organization: str
    name: str
    process: str
    version_control: str
    url: str


@dataclass(frozen=True)
class GitRepository:
    """A project's git repository: where to clone it from and where people look at it."""

    organization: str
    project: str
    name: str
    clone_url: str
    web_url: str


class DevOps(ABC):
    """Azure DevOps projects and their git repositories."""

    @abstractmethod
    def create_project(self, organization: str, name: str, *, process: str = "Agile",
                       description: str = "") -> DevOpsProject:
        """Create a Git project, or return it if it exists with the same process.

        Raises:
            Conflict: it exists with another process.
        """

    @abstractmethod
    def get_project(self, organization: str, name: str) -> DevOpsProject:
        """Raises NotFound."""

    @abstractmethod
    def delete_project(self, organization: str, name: str) -> bool:
        """Delete a project with its repositories; False if it did not exist."""

    @abstractmethod
    def create_repository(self, organization: str, project: str, name: str) -> GitRepository:
        """Create an empty repository, or return it if it exists. Raises NotFound (project)."""

    @abstractmethod
    def get_repository(self, organization: str, project: str, name: str) -> GitRepository:
        """Raises NotFound (project or repository)."""

    @abstractmethod
    def delete_repository(self, organization: str, project: str, name: str) -> bool:
        """Delete a repository; False if it did not exist."""

    @abstractmethod
    def branches(self, repository: GitRepository) -> dict[str, str]:
        """Branch name -> commit id on the server. Raises NotFound."""

    @abstractmethod
    def delete_branch(self, repository: GitRepository, branch: str) -> bool:
        """Delete a branch on the server; False if it did not exist."""

    @abstractmethod
    def working_copy(self, repository: GitRepository, path: Path) -> WorkingCopy:
        """A local clone of `repository` at `path` (cloned on first use), authenticated the
        way this target needs."""


# --- the target ------------------------------------------------------------------------------


class Target(ABC):
    """A place where the lab's resources live, exposing the ports steps use.

    A target is a plugin registered under the `labtui.targets` entry-point group with its
    `name`. It declares its `options` (a tenant, a subscription, an organisation and its
    token …) as `Field`s; labtui resolves them like step inputs (`--set`, `LABTUI_<NAME>`, the
    answers file, the workspace), checks them against their rules, masks the secret ones and
    calls `configure` with them before any port call.

    A port a target does not offer raises `TargetError` naming the target and the port, so a
    later target (or a partial one) can still run the steps that need only what it has.
    Ports raise `NotFound`, `Conflict` and `Transient` as their docstrings say; any other
    `TargetError` is a failure the attendee has to act on.
    """

    name: ClassVar[str]
    options: ClassVar[tuple[Field, ...]] = ()
    """What the target needs to know before it can be used; a secret option (a token) is
    never accepted on the command line and never shown."""

    def __init__(self, workspace: Path) -> None:
        self.workspace = workspace
        self.settings: dict[str, str] = {}
        """The option values `configure` was given (with defaults filled in)."""

    def configure(self, values: Mapping[str, str]) -> None:
        """Take the values of the target's options; called once, before any port call.

        Args:
            values: option name -> value, as resolved (options without a value left out;
                names that are not options of this target are ignored).

        Raises:
            TargetError: an option is missing or breaks its rule; the message names the
                target and the option, never a secret value.

        The default checks every option against its `Field` and keeps the values in
        `settings`; a target that builds clients from them calls it first.
        """
        settings: dict[str, str] = {}
        problems: list[str] = []
        for option in self.options:
            value = values.get(option.name)
            if value is None or value == "":
                if option.required and option.default is None:
                    problems.append(f"missing option {option.name!r} ({option.label})")
                elif option.default is not None:
                    settings[option.name] = option.default
                continue
            problem = option.check(value)
            if problem:
                problems.append(problem)
            else:
                settings[option.name] = value
        if problems:
            raise TargetError(f"the {self.name} target: " + "; ".join(problems))
        self.settings = settings

    @abstractmethod
    def identity(self) -> dict[str, str]:
        """What the banner shows so nobody works against the wrong place (tenant, host …)."""

    def _missing(self, port: str) -> TargetError:
        return TargetError(f"the {self.name} target has no {port}")

    @property
    def resource_groups(self) -> ResourceGroups:
        """Resource groups."""
        raise self._missing("resource groups")

    @property
    def datalake(self) -> DataLake:
        """Storage accounts with a hierarchical namespace."""
        raise self._missing("data lake")

    @property
    def vault(self) -> Vault:
        """Key Vaults and secrets."""
        raise self._missing("key vault")

    @property
    def principals(self) -> Identity:
        """Service principals and role assignments (`identity()` is the banner)."""
        raise self._missing("identity service")

    @property
    def databricks(self) -> Databricks:
        """Databricks workspaces, clusters, secret scopes, CLI profiles."""
        raise self._missing("Databricks")

    @property
    def models(self) -> Models:
        """Machine Learning workspaces and the model registry."""
        raise self._missing("model registry")

    @property
    def containers(self) -> Containers:
        """A container engine: build, run and test images."""
        raise self._missing("container engine")

    @property
    def devops(self) -> DevOps:
        """Azure DevOps projects and git repositories."""
        raise self._missing("DevOps service")

    @property
    def pull_requests(self) -> PullRequests:
        """Pull requests on the DevOps repositories: reviewers, votes, completion."""
        raise self._missing("pull requests")

    @property
    def variable_groups(self) -> VariableGroups:
        """The DevOps library's variable groups: plain, secret, linked to a Key Vault."""
        raise self._missing("variable groups")

    @property
    def pipelines(self) -> Pipelines:
        """YAML pipelines and their runs: logs, test results, coverage, artifacts."""
        raise self._missing("pipelines")

    @property
    def environments(self) -> Environments:
        """Deployment environments, their approval checks and the approvals runs wait on."""
        raise self._missing("environments")

    def journal_mirror(self) -> JournalMirror | None:
        """The target's own record of what the workspace created in it, or None when it keeps
        none (then a lost state.db cannot be rebuilt from the target)."""
        return None

    def close(self) -> None:  # noqa: B027 - most targets hold nothing to release
        """Release connections; the target is not used afterwards."""
