"""The Databricks port: workspaces, clusters, libraries, secret scopes, tokens, notebooks and
their runs. (CLI profiles are a file on the attendee's machine: the workstation port.)"""

from __future__ import annotations

import threading
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping, Sequence

from labtui.targets.resources import (
    AccessToken,
    Cluster,
    DatabricksHost,
    DatabricksWorkspace,
    GitCredential,
    GitFolder,
    KeyVault,
    Library,
    LibraryStatus,
    NotebookRun,
    ResourceRef,
    SecretScope,
)


class Databricks(ABC):
    """Databricks workspaces, clusters, libraries, secret scopes, tokens and notebooks.

    A workspace itself is a resource of Azure Resource Manager, addressed by a `ResourceRef`
    (the control plane). What is inside it (clusters, libraries, scopes, tokens, notebooks,
    Git folders, runs: the data plane) is addressed by the workspace's `DatabricksHost` (its
    url and workspace id, `DatabricksWorkspace.host`), as Azure addresses it: a data-plane
    call goes to that host and makes no Resource Manager round trip. Every data-plane method
    raises `NotFound` (one line, naming the host) when the host names no workspace of this
    target: an unknown workspace id, or the url of another workspace than its id says (a
    delete may answer False instead: there is nothing of it to delete).
    """

    @abstractmethod
    def create_workspace(
        self, ref: ResourceRef, location: str, *, sku: str = "premium"
    ) -> DatabricksWorkspace:
        """Create the workspace `ref` names, or return it if it exists with the same SKU.

        Raises:
            NotFound: the resource group does not exist.
            Conflict: it exists with another SKU or in another group.
        """

    @abstractmethod
    def get_workspace(self, ref: ResourceRef) -> DatabricksWorkspace:
        """Return the workspace. Raises NotFound (also when it is in another resource group
        or subscription than `ref` says)."""

    @abstractmethod
    def delete_workspace(self, ref: ResourceRef) -> bool:
        """Delete the workspace with its clusters and scopes; False if `ref` named nothing."""

    @abstractmethod
    def create_cluster(
        self,
        host: DatabricksHost,
        name: str,
        *,
        node_type: str,
        spark_version: str,
        num_workers: int,
        autotermination_minutes: int,
    ) -> Cluster:
        """Create a cluster (a new cluster id each time; look one up by name first).

        Raises NotFound (the host).
        """

    @abstractmethod
    def clusters(self, host: DatabricksHost) -> list[Cluster]:
        """The workspace's clusters, sorted by name. Raises NotFound (the host)."""

    @abstractmethod
    def get_cluster(self, host: DatabricksHost, cluster_id: str) -> Cluster:
        """Return the cluster. Raises NotFound."""

    @abstractmethod
    def edit_cluster(
        self, host: DatabricksHost, cluster_id: str, *, autotermination_minutes: int
    ) -> Cluster:
        """Change a cluster's auto-termination. Raises NotFound."""

    @abstractmethod
    def delete_cluster(self, host: DatabricksHost, cluster_id: str) -> bool:
        """Permanently delete a cluster; False if it did not exist."""

    @abstractmethod
    def install_libraries(
        self, host: DatabricksHost, cluster_id: str, libraries: Sequence[Library]
    ) -> None:
        """Install libraries on a cluster; already installed ones are kept. Raises NotFound."""

    @abstractmethod
    def cluster_libraries(self, host: DatabricksHost, cluster_id: str) -> list[LibraryStatus]:
        """Libraries on a cluster with their status. Raises NotFound."""

    @abstractmethod
    def uninstall_libraries(
        self, host: DatabricksHost, cluster_id: str, libraries: Sequence[Library]
    ) -> None:
        """Remove libraries from a cluster; absent ones are ignored. Raises NotFound."""

    @abstractmethod
    def create_secret_scope(
        self, host: DatabricksHost, name: str, *, vault: KeyVault | None = None
    ) -> SecretScope:
        """Create a scope, Key Vault-backed if `vault` is given; same settings is fine.

        Raises:
            NotFound: the host names no workspace (or the vault does not exist).
            Conflict: the scope exists with another backend or vault.
        """

    @abstractmethod
    def secret_scopes(self, host: DatabricksHost) -> list[SecretScope]:
        """The workspace's scopes, sorted by name. Raises NotFound (the host)."""

    @abstractmethod
    def delete_secret_scope(self, host: DatabricksHost, name: str) -> bool:
        """Delete a scope (never the vault behind it); False if it did not exist."""

    @abstractmethod
    def scope_secrets(self, host: DatabricksHost, scope: str) -> list[str]:
        """Names of the secrets visible through a scope (live from the vault if backed).

        There is no call for a value: Databricks lets only a notebook read one
        (`dbutils.secrets.get`); outside a notebook the vault behind the scope holds the values.

        Raises NotFound (the host, or the scope).
        """

    # -- personal access tokens ------------------------------------------------------------

    @abstractmethod
    def create_token(self, host: DatabricksHost, comment: str, *,
                     lifetime_seconds: int | None = None) -> AccessToken:
        """Issue a personal access token (as "Generate New Token" does); the result carries
        its value, which is shown this once. No lifetime: it does not expire.

        Raises NotFound (the host).
        """

    @abstractmethod
    def tokens(self, host: DatabricksHost) -> list[AccessToken]:
        """The workspace's tokens, oldest first, without their values. Raises NotFound."""

    @abstractmethod
    def check_token(self, host: DatabricksHost, value: str) -> bool:
        """Whether the workspace accepts `value` as a token now (issued, not revoked, not
        expired). Raises NotFound (the host)."""

    @abstractmethod
    def delete_token(self, host: DatabricksHost, token_id: str) -> bool:
        """Revoke a token; False if there was none with that id."""

    # -- notebooks and Git integration (the Dev loop) --------------------------------------

    @abstractmethod
    def import_notebook(self, host: DatabricksHost, path: str, source: str) -> None:
        """Put a notebook (Databricks source format) at `path`, replacing what is there.

        Raises:
            NotFound: the host names no workspace.
        """

    @abstractmethod
    def notebook_source(self, host: DatabricksHost, path: str) -> str:
        """A notebook's source; inside a Git folder, the file (`<path>.py`) at the folder's
        head commit. Raises NotFound."""

    @abstractmethod
    def delete_notebook(self, host: DatabricksHost, path: str) -> bool:
        """Delete a notebook; False if there was none."""

    @abstractmethod
    def set_git_provider(self, host: DatabricksHost, credential: GitCredential | None) -> None:
        """Set the user's Git credential (User Settings → Git Integration: provider, user name
        and the provider's personal access token), replacing the one there, or remove it with
        None. The token is kept as a secret: never returned, logged or shown.

        Raises NotFound (the host).
        """

    @abstractmethod
    def git_provider(self, host: DatabricksHost) -> GitCredential | None:
        """The user's Git credential without its token, or None if none is set. Raises
        NotFound (workspace)."""

    @abstractmethod
    def create_git_folder(self, host: DatabricksHost, path: str, url: str,
                          provider: str) -> GitFolder:
        """Clone the repository at `url` into a Git folder at `path` (`/Repos/<user>/<name>`),
        checked out on its default branch, as the Repos API's create does; a folder already
        there with the same `url` is returned as it is.

        Raises:
            NotFound: the host names no workspace.
            Conflict: `path` holds another repository, or a notebook or folder.
            TargetError: the repository cannot be read (no such URL, or it has no commits).
        """

    @abstractmethod
    def update_git_folder(self, host: DatabricksHost, path: str, branch: str) -> GitFolder:
        """Check the folder out on `branch` and pull its newest commit (the Repos API's
        update). Raises NotFound (the host, the folder, or the branch in its repository).
        """

    @abstractmethod
    def git_folder(self, host: DatabricksHost, path: str) -> GitFolder:
        """The Git folder at `path`. Raises NotFound (the host, or the folder)."""

    @abstractmethod
    def git_folders(self, host: DatabricksHost) -> list[GitFolder]:
        """The workspace's Git folders, sorted by path. Raises NotFound (the host)."""

    @abstractmethod
    def delete_git_folder(self, host: DatabricksHost, path: str) -> bool:
        """Delete a Git folder (the repository it cloned is untouched); False if there was
        none at `path`."""

    @abstractmethod
    def run_notebook(
        self,
        host: DatabricksHost,
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
        A notebook inside a Git folder runs as the folder's head commit has it.
        As on Databricks, the notebook's MLflow runs go to the experiment named after its
        `path`, in the ML workspace its `data-lake` secret scope names.

        Raises:
            NotFound: the host names no workspace, or the cluster or notebook does not exist.
            TargetError: the run failed; the message names the failing cell.
            Cancelled: `cancelled` was set.
        """
