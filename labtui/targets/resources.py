"""What the ports return: plain, frozen descriptions of the lab's resources."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal


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
