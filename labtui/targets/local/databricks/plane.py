"""What every part of the local Databricks shares: the sandbox's one REST API port, and how
a `DatabricksHost` is resolved to one of the sandbox's workspaces.

All workspaces of a sandbox are served by one loopback server (the token says which
workspace a call is for: the legacy CLI drops a host's port and path, and 127.0.x.y aliases
do not exist on macOS), so every local workspace has the same url; its workspace id tells
them apart.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from labtui.targets.base import Cluster, DatabricksWorkspace, NotFound, SecretScope, TargetError
from labtui.targets.local.sandbox import LocalPort, Sandbox
from labtui.targets.local.vault import LocalVault
from labtui.targets.resources import DATABRICKS_WORKSPACES, DatabricksHost, GitFolder

if TYPE_CHECKING:
    from labtui.targets.local.notebooks import NotebookHost

LOCAL_HOST_SUFFIX = "labtui.localhost"
"""Where local workspaces pointed before they served their REST API (`https://adb-<id>.` +
this): no name server resolves it, so a profile holding such a host is rewritten."""

API_PORT_KEY = "databricks-api-port"
API_PORTS = range(20000, 32768)
"""Where the sandbox's REST API port is picked: below Linux's ephemeral range (32768-60999),
so an outgoing connection does not take it between two serves."""


def api_url(port: int) -> str:
    """The host the CLI profiles use for a sandbox whose REST API listens on `port`."""
    return f"http://127.0.0.1:{port}"


def _free_port() -> int:
    """A port in API_PORTS that nothing listens on now."""
    import random
    import socket

    candidates = random.sample(API_PORTS, 50)
    for port in candidates:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
            try:
                probe.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise TargetError("no free loopback port for the Databricks REST API "
                      f"(tried {len(candidates)} between {API_PORTS.start} and {API_PORTS.stop})")


def cluster_of(row: sqlite3.Row) -> Cluster:
    return Cluster(
        cluster_id=row["cluster_id"],
        name=row["name"],
        node_type=row["node_type"],
        spark_version=row["spark_version"],
        num_workers=row["num_workers"],
        autotermination_minutes=row["autotermination_minutes"],
        state=row["state"],
    )


def scope_of(row: sqlite3.Row) -> SecretScope:
    backend: Literal["DATABRICKS", "AZURE_KEYVAULT"] = (
        "AZURE_KEYVAULT" if row["backend"] == "AZURE_KEYVAULT" else "DATABRICKS"
    )
    return SecretScope(row["name"], backend, row["vault_uri"], row["vault_id"])


def git_folder_of(row: sqlite3.Row) -> GitFolder:
    return GitFolder(str(row["path"]), str(row["url"]), str(row["provider"]), str(row["branch"]),
                     str(row["head"]))


class LocalDatabricksPlane(LocalPort):
    """The state the local Databricks parts share, and the resolution of hosts."""

    def __init__(self, sandbox: Sandbox, vault: LocalVault,
                 notebook_host: NotebookHost | None = None) -> None:
        super().__init__(sandbox)
        self._vault = vault
        self._host = notebook_host
        self._api_port: int | None = None

    @property
    def sandbox_root(self) -> Path:
        """The folder of the sandbox these workspaces live in."""
        return self._sandbox.root

    @property
    def api_port(self) -> int:
        """The loopback port the sandbox's Databricks REST API is served on: picked once,
        the first time it is asked for, and kept in the sandbox so profiles stay valid."""
        if self._api_port is None:
            rows = self._sandbox.query("SELECT value FROM meta WHERE key = ?", (API_PORT_KEY,))
            if not rows:
                with self._sandbox.transaction() as conn:
                    # Two processes may pick at once: the first one's choice stands.
                    conn.execute("INSERT OR IGNORE INTO meta (key, value) VALUES (?, ?)",
                                 (API_PORT_KEY, str(_free_port())))
                rows = self._sandbox.query("SELECT value FROM meta WHERE key = ?",
                                           (API_PORT_KEY,))
            self._api_port = int(rows[0]["value"])
        return self._api_port

    def workspace_named(self, name: str) -> DatabricksWorkspace:
        """The sandbox's workspace of that name, whatever its group. Raises NotFound."""
        rows = self._sandbox.query("SELECT * FROM databricks_workspaces WHERE name = ?", (name,))
        if not rows:
            raise NotFound(f"Databricks workspace {name} does not exist")
        return self._workspace(rows[0])

    def host_of(self, workspace_id: str) -> DatabricksHost:
        """The host of the sandbox's workspace with that id (checked on use, not here)."""
        return DatabricksHost(api_url(self.api_port), workspace_id)

    def _workspace(self, row: sqlite3.Row) -> DatabricksWorkspace:
        return DatabricksWorkspace(
            ref=self._sandbox.ref(row["resource_group"], DATABRICKS_WORKSPACES, row["name"]),
            location=row["location"],
            sku=row["sku"],
            workspace_id=row["workspace_id"],
            url=api_url(self.api_port),
        )

    def _name(self, host: DatabricksHost, conn: sqlite3.Connection | None = None) -> str:
        """The name of the workspace `host` addresses.

        Raises NotFound: the url is not this sandbox's server, or no workspace of the
        sandbox has the host's workspace id.
        """
        served = api_url(self.api_port)
        if host.url.lower() != served:
            raise NotFound(f"{host.url} is not this sandbox's Databricks (it serves {served}): "
                           f"no workspace {host.workspace_id} there")
        sql = "SELECT name FROM databricks_workspaces WHERE workspace_id = ?"
        if conn is not None:
            row: sqlite3.Row | None = conn.execute(sql, (host.workspace_id,)).fetchone()
        else:
            rows = self._sandbox.query(sql, (host.workspace_id,))
            row = rows[0] if rows else None
        if row is None:
            raise NotFound(f"no Databricks workspace of this sandbox has id "
                           f"{host.workspace_id!r} ({served})")
        return str(row["name"])

    def _cluster_row(self, host: DatabricksHost, cluster_id: str) -> sqlite3.Row:
        name = self._name(host)
        rows = self._sandbox.query(
            "SELECT * FROM clusters WHERE cluster_id = ? AND workspace = ?", (cluster_id, name))
        if not rows:
            raise NotFound(f"cluster {cluster_id} does not exist in workspace {name}")
        return rows[0]

    def _scope_of(self, host: DatabricksHost, scope: str) -> tuple[str, SecretScope]:
        """The workspace's name and its scope `scope`. Raises NotFound."""
        name = self._name(host)
        rows = self._sandbox.query(
            "SELECT * FROM secret_scopes WHERE workspace = ? AND name = ?", (name, scope))
        if not rows:
            raise NotFound(f"secret scope {scope} does not exist in workspace {name}")
        return name, scope_of(rows[0])
