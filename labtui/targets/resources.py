"""What the ports return: plain, frozen descriptions of the lab's resources."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

STORAGE_ACCOUNTS = "Microsoft.Storage/storageAccounts"
KEY_VAULTS = "Microsoft.KeyVault/vaults"
DATABRICKS_WORKSPACES = "Microsoft.Databricks/workspaces"
ML_WORKSPACES = "Microsoft.MachineLearningServices/workspaces"
"""The ARM resource types of the lab's control-plane resources (provider namespace/type)."""


class MalformedResourceId(ValueError):
    """A text that is not an ARM resource id of one resource."""


@dataclass(frozen=True, eq=False)
class ResourceRef:
    """Where a control-plane resource lives, as Azure Resource Manager addresses it: a
    subscription, a resource group, a resource type and a name.

    Two refs are equal when Azure would take them for the same resource: the subscription
    (a GUID), the resource group, the type and the name compare case-insensitively, while
    each keeps the spelling it was given (`id` shows it as given).
    """

    subscription: str
    resource_group: str
    type: str
    """Provider namespace and type, e.g. "Microsoft.KeyVault/vaults"."""
    name: str

    @property
    def id(self) -> str:
        """The resource id: /subscriptions/SUB/resourceGroups/GROUP/providers/TYPE/NAME."""
        return (f"/subscriptions/{self.subscription}/resourceGroups/{self.resource_group}"
                f"/providers/{self.type}/{self.name}")

    @property
    def group_id(self) -> str:
        """The resource id of the resource group the resource is in."""
        return f"/subscriptions/{self.subscription}/resourceGroups/{self.resource_group}"

    @classmethod
    def parse(cls, resource_id: str) -> ResourceRef:
        """The ref of a resource id (as `id` writes it, in any letter case).

        Raises:
            MalformedResourceId: the text is not the id of one resource; the message says
                what shape was expected.
        """
        parts = resource_id.strip().strip("/").split("/")
        expected = ("expected /subscriptions/SUBSCRIPTION/resourceGroups/GROUP/providers/"
                    "NAMESPACE/TYPE/NAME")
        shown = resource_id if len(resource_id) <= 200 else resource_id[:200] + "…"
        shown = " ".join(shown.split())
        if (len(parts) != 8 or parts[0].lower() != "subscriptions"
                or parts[2].lower() != "resourcegroups" or parts[4].lower() != "providers"
                or not all(parts)):
            raise MalformedResourceId(f"not a resource id: {shown!r} ({expected})")
        return cls(parts[1], parts[3], f"{parts[5]}/{parts[6]}", parts[7])

    def _key(self) -> tuple[str, str, str, str]:
        return (self.subscription.lower(), self.resource_group.lower(), self.type.lower(),
                self.name.lower())

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, ResourceRef):
            return NotImplemented
        return self._key() == other._key()

    def __hash__(self) -> int:
        return hash(self._key())

    def __str__(self) -> str:
        return self.id


@dataclass(frozen=True)
class ResourceGroup:
    """An Azure resource group: a named container that owns the resources created in it."""

    name: str
    location: str
    id: str


class Addressed:
    """A resource addressed by a `ResourceRef`: its name, resource group and resource id all
    come from `ref`."""

    ref: ResourceRef

    @property
    def name(self) -> str:
        return self.ref.name

    @property
    def resource_group(self) -> str:
        return self.ref.resource_group

    @property
    def id(self) -> str:
        """The resource id (`ref.id`)."""
        return self.ref.id


@dataclass(frozen=True)
class StorageAccount(Addressed):
    """A storage account. For the lab: StorageV2, hierarchical namespace on, Cool tier.
    `dfs_endpoint` (https://NAME.dfs.core.windows.net/) is how its data plane is addressed."""

    ref: ResourceRef
    location: str
    kind: str
    access_tier: str
    hierarchical_namespace: bool
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
class KeyVault(Addressed):
    """A Key Vault: `uri` (https://NAME.vault.azure.net/) is how its secrets are addressed,
    `ref` where the vault itself lives."""

    ref: ResourceRef
    location: str
    uri: str


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
class DatabricksHost:
    """Where a Databricks workspace's data plane (clusters, scopes, tokens, notebooks, runs)
    is addressed: its own host, `url` (https://adb-<workspace_id>.<n>.azuredatabricks.net on
    Azure), and its `workspace_id`, the org id Databricks knows it by.

    Two hosts are equal when they name the same workspace at the same address: the url
    compares without its letter case and trailing slash.
    """

    url: str
    workspace_id: str

    def __post_init__(self) -> None:
        object.__setattr__(self, "url", self.url.rstrip("/"))

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, DatabricksHost):
            return NotImplemented
        return (self.url.lower(), self.workspace_id) == (other.url.lower(), other.workspace_id)

    def __hash__(self) -> int:
        return hash((self.url.lower(), self.workspace_id))

    def __str__(self) -> str:
        return f"{self.url} (workspace {self.workspace_id})"


@dataclass(frozen=True)
class DatabricksWorkspace(Addressed):
    """An Azure Databricks workspace. `url` is what the CLI profiles use as host; `host`
    addresses its data plane."""

    ref: ResourceRef
    location: str
    sku: str
    workspace_id: str
    url: str

    @property
    def host(self) -> DatabricksHost:
        """The workspace's data plane: its url and its workspace id."""
        return DatabricksHost(self.url, self.workspace_id)


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
class GitCredential:
    """The user's Git credential in a Databricks workspace (User Settings → Git
    Integration): the provider, the user name on it and a personal access token. Databricks
    never gives the token back: read, a credential has `token` None."""

    provider: str
    username: str = ""
    token: str | None = field(default=None, repr=False)


@dataclass(frozen=True)
class GitFolder:
    """A Databricks Git folder (Repos): a clone of the repository at `url`, kept at `path`
    (`/Repos/<user>/<repository>`) and checked out on `branch` at `head_commit`. The
    notebooks inside it are addressed by their path under the folder's."""

    path: str
    url: str
    provider: str
    branch: str
    head_commit: str = ""


@dataclass(frozen=True)
class MlWorkspace(Addressed):
    """An Azure Machine Learning workspace: here, the model registry of one environment."""

    ref: ResourceRef
    location: str


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
