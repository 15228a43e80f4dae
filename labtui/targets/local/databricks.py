"""Local Databricks: workspace and cluster records, cluster libraries, secret scopes, personal
access tokens, notebooks, the user's Git credential and Git folders.

Tokens are kept as SHA-256 hashes only (enough to accept one, never enough to show it): a
token is 128 random bits, so a plain hash is as safe as a slow one would be.

A Key Vault-backed scope holds no secrets of its own: it reads the vault live, so a secret added
to the vault later is visible through the scope, as in Azure. The Git credential's token is
sealed with the vault key, as the vaults' secrets are.
"""

from __future__ import annotations

import hashlib
import secrets
import sqlite3
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from labtui.targets.base import (
    AccessToken,
    Cluster,
    Conflict,
    Databricks,
    DatabricksWorkspace,
    KeyVault,
    Library,
    LibraryStatus,
    NotebookRun,
    NotFound,
    SecretScope,
    TargetError,
)
from labtui.targets.local.git_clones import GitClone
from labtui.targets.local.sandbox import LocalPort, Sandbox, with_latency
from labtui.targets.local.vault import LocalVault
from labtui.targets.resources import (
    DATABRICKS_WORKSPACES,
    GitCredential,
    GitFolder,
    ResourceRef,
)

if TYPE_CHECKING:
    from labtui.targets.local.notebooks import NotebookHost

LOCAL_HOST_SUFFIX = "labtui.localhost"
"""Where local workspaces pointed before they served their REST API (`https://adb-<id>.` +
this): no name server resolves it, so a profile holding such a host is rewritten."""

NOTEBOOK_HEADER = "# Databricks notebook source"
"""How a Python file that Databricks shows as a notebook starts."""

PROFILE_RETRY_SECONDS = 5
"""How long databricks-sdk retries a call through a local profile: long enough for a 429 or
503 with Retry-After, short enough that a sandbox not served fails in seconds."""

API_PORT_KEY = "databricks-api-port"
API_PORTS = range(20000, 32768)
"""Where the sandbox's REST API port is picked: below Linux's ephemeral range (32768-60999),
so an outgoing connection does not take it between two serves."""


def api_url(port: int) -> str:
    """The host the CLI profiles use for a sandbox whose REST API listens on `port`."""
    return f"http://127.0.0.1:{port}"


def _cluster(row: sqlite3.Row) -> Cluster:
    return Cluster(
        cluster_id=row["cluster_id"],
        name=row["name"],
        node_type=row["node_type"],
        spark_version=row["spark_version"],
        num_workers=row["num_workers"],
        autotermination_minutes=row["autotermination_minutes"],
        state=row["state"],
    )


def _scope(row: sqlite3.Row) -> SecretScope:
    backend: Literal["DATABRICKS", "AZURE_KEYVAULT"] = (
        "AZURE_KEYVAULT" if row["backend"] == "AZURE_KEYVAULT" else "DATABRICKS"
    )
    return SecretScope(row["name"], backend, row["vault_uri"], row["vault_id"])


def _git_folder(row: sqlite3.Row) -> GitFolder:
    return GitFolder(str(row["path"]), str(row["url"]), str(row["provider"]), str(row["branch"]),
                     str(row["head"]))


def _new_cluster_id() -> str:
    """An id shaped like Databricks' own: MMDD-HHMMSS-8 lowercase letters/digits."""
    alphabet = "abcdefghijklmnopqrstuvwxyz0123456789"
    stamp = time.strftime("%m%d-%H%M%S", time.gmtime())
    return f"{stamp}-{''.join(secrets.choice(alphabet) for _ in range(8))}"


def new_token_value() -> str:
    """A token shaped like a Databricks personal access token: "dapi" and 32 hex digits."""
    return "dapi" + secrets.token_hex(16)


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


def _token_hash(value: str) -> bytes:
    return hashlib.sha256(value.encode("utf-8")).digest()


@with_latency
class LocalDatabricks(LocalPort, Databricks):
    """Databricks workspaces of the sandbox; scopes backed by the sandbox's vaults."""

    def __init__(self, sandbox: Sandbox, vault: LocalVault,
                 notebook_host: NotebookHost | None = None) -> None:
        super().__init__(sandbox)
        self._vault = vault
        self._host = notebook_host
        self._api_port: int | None = None

    # --- workspaces ----------------------------------------------------------------------

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

    def workspace_named(self, name: str) -> DatabricksWorkspace:
        """The sandbox's workspace of that name, whatever its group. Raises NotFound."""
        return self._workspace(self._workspace_row(name))

    def _workspace(self, row: sqlite3.Row) -> DatabricksWorkspace:
        return DatabricksWorkspace(
            ref=self._sandbox.ref(row["resource_group"], DATABRICKS_WORKSPACES, row["name"]),
            location=row["location"],
            sku=row["sku"],
            workspace_id=row["workspace_id"],
            url=api_url(self.api_port),
        )

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

    # --- clusters ------------------------------------------------------------------------

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
        if autotermination_minutes != 0 and not 10 <= autotermination_minutes <= 43200:
            raise TargetError(
                f"cluster {name}: auto-termination must be 0 (off) or 10-43200 minutes"
            )
        cluster_id = _new_cluster_id()
        with self._sandbox.transaction() as conn:
            ws = self._workspace_row(workspace, conn)
            conn.execute(
                "INSERT INTO clusters VALUES (?, ?, ?, ?, ?, ?, ?, 'RUNNING')",
                (cluster_id, ws["name"], name, node_type, spark_version, num_workers,
                 autotermination_minutes),
            )
            row = conn.execute(
                "SELECT * FROM clusters WHERE cluster_id = ?", (cluster_id,)
            ).fetchone()
        return _cluster(row)

    def clusters(self, workspace: str) -> list[Cluster]:
        ws = self._workspace_row(workspace)
        rows = self._sandbox.query(
            "SELECT * FROM clusters WHERE workspace = ? ORDER BY name, cluster_id", (ws["name"],)
        )
        return [_cluster(row) for row in rows]

    def get_cluster(self, workspace: str, cluster_id: str) -> Cluster:
        return _cluster(self._cluster_row(workspace, cluster_id))

    def edit_cluster(
        self, workspace: str, cluster_id: str, *, autotermination_minutes: int
    ) -> Cluster:
        self._cluster_row(workspace, cluster_id)
        with self._sandbox.transaction() as conn:
            conn.execute(
                "UPDATE clusters SET autotermination_minutes = ? WHERE cluster_id = ?",
                (autotermination_minutes, cluster_id),
            )
        return _cluster(self._cluster_row(workspace, cluster_id))

    def delete_cluster(self, workspace: str, cluster_id: str) -> bool:
        with self._sandbox.transaction() as conn:
            return bool(
                conn.execute(
                    "DELETE FROM clusters WHERE cluster_id = ? AND workspace = ?",
                    (cluster_id, workspace),
                ).rowcount
            )

    def set_cluster_state(self, workspace: str, cluster_id: str, state: str) -> Cluster:
        """Start ("RUNNING") or terminate ("TERMINATED") a cluster; its settings stay.

        Raises NotFound.
        """
        self._cluster_row(workspace, cluster_id)
        with self._sandbox.transaction() as conn:
            conn.execute("UPDATE clusters SET state = ? WHERE cluster_id = ?", (state, cluster_id))
        return _cluster(self._cluster_row(workspace, cluster_id))

    # --- libraries -----------------------------------------------------------------------

    def install_libraries(
        self, workspace: str, cluster_id: str, libraries: Sequence[Library]
    ) -> None:
        self._cluster_row(workspace, cluster_id)
        with self._sandbox.transaction() as conn:
            conn.executemany(
                "INSERT OR IGNORE INTO cluster_libraries VALUES (?, ?, ?, 'INSTALLED')",
                [(cluster_id, lib.kind, lib.spec) for lib in libraries],
            )

    def cluster_libraries(self, workspace: str, cluster_id: str) -> list[LibraryStatus]:
        self._cluster_row(workspace, cluster_id)
        rows = self._sandbox.query(
            "SELECT kind, spec, status FROM cluster_libraries WHERE cluster_id = ? "
            "ORDER BY kind, spec",
            (cluster_id,),
        )
        return [LibraryStatus(Library(r["kind"], r["spec"]), r["status"]) for r in rows]

    def uninstall_libraries(
        self, workspace: str, cluster_id: str, libraries: Sequence[Library]
    ) -> None:
        self._cluster_row(workspace, cluster_id)
        with self._sandbox.transaction() as conn:
            conn.executemany(
                "DELETE FROM cluster_libraries WHERE cluster_id = ? AND kind = ? AND spec = ?",
                [(cluster_id, lib.kind, lib.spec) for lib in libraries],
            )

    # --- secret scopes -------------------------------------------------------------------

    def create_secret_scope(
        self, workspace: str, name: str, *, vault: KeyVault | None = None
    ) -> SecretScope:
        if vault is not None:
            # The vault must exist: Databricks checks it when the scope is created.
            self._vault.vault_by_id(vault.id)
        backend: Literal["DATABRICKS", "AZURE_KEYVAULT"] = (
            "AZURE_KEYVAULT" if vault is not None else "DATABRICKS"
        )
        wanted = SecretScope(
            name, backend, vault.uri if vault else "", vault.id if vault else ""
        )
        with self._sandbox.transaction() as conn:
            ws = self._workspace_row(workspace, conn)
            row = conn.execute(
                "SELECT * FROM secret_scopes WHERE workspace = ? AND name = ?", (ws["name"], name)
            ).fetchone()
            if row is None:
                conn.execute(
                    "INSERT INTO secret_scopes VALUES (?, ?, ?, ?, ?)",
                    (ws["name"], name, backend, wanted.vault_uri, wanted.vault_id),
                )
                return wanted
        existing = _scope(row)
        if existing != wanted:
            behind = existing.vault_id or "Databricks"
            raise Conflict(f"secret scope {name} exists already, backed by {behind}")
        return existing

    def secret_scopes(self, workspace: str) -> list[SecretScope]:
        ws = self._workspace_row(workspace)
        rows = self._sandbox.query(
            "SELECT * FROM secret_scopes WHERE workspace = ? ORDER BY name", (ws["name"],)
        )
        return [_scope(row) for row in rows]

    def delete_secret_scope(self, workspace: str, name: str) -> bool:
        with self._sandbox.transaction() as conn:
            return bool(
                conn.execute(
                    "DELETE FROM secret_scopes WHERE workspace = ? AND name = ?", (workspace, name)
                ).rowcount
            )

    def put_scope_secret(self, workspace: str, scope: str, key: str, value: str) -> None:
        """Write a secret into a Databricks-backed scope (`databricks secrets put`).

        Raises:
            NotFound: no such workspace or scope.
            TargetError: the scope is Key Vault-backed (write to the vault instead).
        """
        found = self._scope_of(workspace, scope)
        if found.backend == "AZURE_KEYVAULT":
            raise TargetError(
                f"secret scope {scope} is backed by a Key Vault: add the secret to the vault"
            )
        encrypted = self._sandbox.encrypt(value)
        with self._sandbox.transaction() as conn:
            conn.execute(
                "INSERT OR REPLACE INTO scope_secrets VALUES (?, ?, ?, ?)",
                (self._workspace_row(workspace, conn)["name"], scope, key, encrypted),
            )

    def scope_secrets(self, workspace: str, scope: str) -> list[str]:
        found = self._scope_of(workspace, scope)
        if found.backend == "AZURE_KEYVAULT":
            return self._vault.list_secrets(self._vault.vault_by_id(found.vault_id).uri)
        rows = self._sandbox.query(
            "SELECT key FROM scope_secrets WHERE workspace = ? AND scope = ? ORDER BY key",
            (self._workspace_row(workspace)["name"], scope),
        )
        return [row["key"] for row in rows]

    def dbutils_secret(self, workspace: str, scope: str, key: str) -> str:
        """A secret's value as `dbutils.secrets.get` gives it to a notebook; not a port call
        (Databricks has none): only the local notebook runner's `dbutils` uses it."""
        found = self._scope_of(workspace, scope)
        if found.backend == "AZURE_KEYVAULT":
            vault = self._vault.vault_by_id(found.vault_id)
            try:
                return self._vault.get_secret(vault.uri, key)
            except NotFound:
                raise NotFound(f"secret {key} does not exist in scope {scope}") from None
        rows = self._sandbox.query(
            "SELECT value FROM scope_secrets WHERE workspace = ? AND scope = ? AND key = ?",
            (self._workspace_row(workspace)["name"], scope, key),
        )
        if not rows:
            raise NotFound(f"secret {key} does not exist in scope {scope}")
        return self._sandbox.decrypt(rows[0]["value"])

    # --- notebooks and Git integration ---------------------------------------------------

    def import_notebook(self, workspace: str, path: str, source: str) -> None:
        with self._sandbox.transaction() as conn:
            name = self._workspace_row(workspace, conn)["name"]
            conn.execute(
                "INSERT INTO notebooks (workspace, path, source) VALUES (?, ?, ?) "
                "ON CONFLICT (workspace, path) DO UPDATE SET source = excluded.source",
                (name, path, source),
            )

    def notebook_source(self, workspace: str, path: str) -> str:
        name = self._workspace_row(workspace)["name"]
        rows = self._sandbox.query(
            "SELECT source FROM notebooks WHERE workspace = ? AND path = ?", (name, path))
        if not rows or rows[0]["source"] is None:
            in_folder = self._git_folder_source(name, path)
            if in_folder is not None:
                return in_folder
            raise NotFound(f"notebook {path} does not exist in workspace {workspace}")
        return str(rows[0]["source"])

    def delete_notebook(self, workspace: str, path: str) -> bool:
        with self._sandbox.transaction() as conn:
            rows = conn.execute(
                "SELECT link_url FROM notebooks WHERE workspace = ? AND path = ? "
                "AND source IS NOT NULL", (workspace, path)).fetchall()
            if not rows:
                return False
            if rows[0]["link_url"] is None:
                conn.execute("DELETE FROM notebooks WHERE workspace = ? AND path = ?",
                             (workspace, path))
            else:
                conn.execute("UPDATE notebooks SET source = NULL WHERE workspace = ? AND "
                             "path = ?", (workspace, path))
            return True

    def notebooks(self, workspace: str) -> list[str]:
        """Paths of the workspace's notebooks (linked-only entries have no source), sorted.

        Raises NotFound (workspace).
        """
        rows = self._sandbox.query(
            "SELECT path FROM notebooks WHERE workspace = ? AND source IS NOT NULL "
            "ORDER BY path", (self._workspace_row(workspace)["name"],))
        return [str(row["path"]) for row in rows]

    def set_setting(self, workspace: str, key: str, value: str | None) -> None:
        """Keep (or forget, with None) one of the workspace's settings (the Git credential's
        user name, a repo's provider …). Raises NotFound."""
        with self._sandbox.transaction() as conn:
            name = self._workspace_row(workspace, conn)["name"]
            if value is None:
                conn.execute("DELETE FROM workspace_settings WHERE workspace = ? AND key = ?",
                             (name, key))
            else:
                conn.execute("INSERT OR REPLACE INTO workspace_settings VALUES (?, ?, ?)",
                             (name, key, value))

    def setting(self, workspace: str, key: str) -> str | None:
        """One of the workspace's settings, or None. Raises NotFound (workspace)."""
        rows = self._sandbox.query(
            "SELECT value FROM workspace_settings WHERE workspace = ? AND key = ?",
            (self._workspace_row(workspace)["name"], key),
        )
        return str(rows[0]["value"]) if rows else None

    def set_git_provider(self, workspace: str, credential: GitCredential | None) -> None:
        with self._sandbox.transaction() as conn:
            name = self._workspace_row(workspace, conn)["name"]
            if credential is None:
                conn.execute("DELETE FROM git_credentials WHERE workspace = ?", (name,))
                return
            token = (self._sandbox.encrypt(credential.token) if credential.token is not None
                     else None)
            conn.execute("INSERT OR REPLACE INTO git_credentials VALUES (?, ?, ?, ?)",
                         (name, credential.provider, credential.username, token))

    def git_provider(self, workspace: str) -> GitCredential | None:
        rows = self._sandbox.query(
            "SELECT provider, username FROM git_credentials WHERE workspace = ?",
            (self._workspace_row(workspace)["name"],),
        )
        return GitCredential(str(rows[0]["provider"]), str(rows[0]["username"])) if rows else None

    def _clone(self, workspace: str, path: str, url: str) -> GitClone:
        digest = hashlib.sha256(path.encode("utf-8")).hexdigest()[:16]
        return GitClone(self._sandbox.folder("databricks", workspace.lower(), "repos") /
                        f"{digest}.git", url)

    def create_git_folder(self, workspace: str, path: str, url: str,
                          provider: str) -> GitFolder:
        name = self._workspace_row(workspace)["name"]
        try:
            found = self.git_folder(name, path)
        except NotFound:
            pass
        else:
            if found.url != url:
                raise Conflict(f"Git folder {path} is a clone of {found.url}, not {url}")
            return found
        if path in self.notebooks(name):
            raise Conflict(f"{path} is a notebook, not a Git folder")
        clone = self._clone(name, path, url)
        clone.fetch()
        branch = clone.default_branch()
        head = clone.head(branch)
        with self._sandbox.transaction() as conn:
            conn.execute("INSERT OR REPLACE INTO git_folders VALUES (?, ?, ?, ?, ?, ?)",
                         (name, path, url, provider, branch, head))
        return GitFolder(path, url, provider, branch, head)

    def update_git_folder(self, workspace: str, path: str, branch: str) -> GitFolder:
        found = self.git_folder(workspace, path)
        clone = self._clone(workspace, path, found.url)
        clone.fetch()
        head = clone.head(branch)
        with self._sandbox.transaction() as conn:
            conn.execute("UPDATE git_folders SET branch = ?, head = ? WHERE workspace = ? "
                         "AND path = ?", (branch, head, workspace, path))
        return GitFolder(path, found.url, found.provider, branch, head)

    def git_folder(self, workspace: str, path: str) -> GitFolder:
        rows = self._sandbox.query(
            "SELECT * FROM git_folders WHERE workspace = ? AND path = ?",
            (self._workspace_row(workspace)["name"], path.rstrip("/")))
        if not rows:
            raise NotFound(f"Git folder {path} does not exist in workspace {workspace}")
        return _git_folder(rows[0])

    def git_folders(self, workspace: str) -> list[GitFolder]:
        rows = self._sandbox.query("SELECT * FROM git_folders WHERE workspace = ? ORDER BY path",
                                   (self._workspace_row(workspace)["name"],))
        return [_git_folder(row) for row in rows]

    def delete_git_folder(self, workspace: str, path: str) -> bool:
        with self._sandbox.transaction() as conn:
            deleted = conn.execute("DELETE FROM git_folders WHERE workspace = ? AND path = ?",
                                   (workspace, path)).rowcount
        if deleted:
            digest = hashlib.sha256(path.encode("utf-8")).hexdigest()[:16]
            self._sandbox.remove_folder("databricks", workspace.lower(), "repos",
                                        f"{digest}.git")
        return bool(deleted)

    def _git_folder_source(self, workspace: str, path: str) -> str | None:
        """The notebook at `path` inside one of the workspace's Git folders, or None."""
        for folder in self.git_folders(workspace):
            if not path.startswith(folder.path + "/"):
                continue
            inside = path[len(folder.path) + 1:]
            clone = self._clone(workspace, folder.path, folder.url)
            for candidate in (f"{inside}.py", inside):
                text = clone.read(folder.head_commit, candidate)
                if text is not None and text.startswith(NOTEBOOK_HEADER):
                    return text
        return None

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
        if self._host is None:
            raise TargetError("this sandbox cannot run notebooks")
        cluster = self.get_cluster(workspace, cluster_id)
        source = self.notebook_source(workspace, path)
        log(f"cluster {cluster.name} ({cluster.spark_version}): running {path}")
        return self._host.run(self, workspace, cluster, path, source, params or {}, log,
                              progress, cancelled)

    # --- personal access tokens ----------------------------------------------------------

    def create_token(self, workspace: str, comment: str, *,
                     lifetime_seconds: int | None = None) -> AccessToken:
        value = new_token_value()
        token_id = secrets.token_hex(32)
        created = time.time()
        expires = created + lifetime_seconds if lifetime_seconds else None
        with self._sandbox.transaction() as conn:
            name = self._workspace_row(workspace, conn)["name"]
            conn.execute("INSERT INTO databricks_tokens VALUES (?, ?, ?, ?, ?, ?)",
                         (token_id, name, comment, created, expires, _token_hash(value)))
        return AccessToken(token_id, comment, created, expires, value)

    def tokens(self, workspace: str) -> list[AccessToken]:
        rows = self._sandbox.query(
            "SELECT token_id, comment, created, expires FROM databricks_tokens "
            "WHERE workspace = ? ORDER BY created, token_id",
            (self._workspace_row(workspace)["name"],),
        )
        return [AccessToken(r["token_id"], r["comment"], r["created"], r["expires"])
                for r in rows]

    def check_token(self, workspace: str, value: str) -> bool:
        rows = self._sandbox.query(
            "SELECT expires FROM databricks_tokens WHERE workspace = ? AND value_hash = ?",
            (self._workspace_row(workspace)["name"], _token_hash(value)),
        )
        return bool(rows) and (rows[0]["expires"] is None or rows[0]["expires"] > time.time())

    def delete_token(self, workspace: str, token_id: str) -> bool:
        with self._sandbox.transaction() as conn:
            return bool(conn.execute(
                "DELETE FROM databricks_tokens WHERE workspace = ? AND token_id = ?",
                (workspace, token_id)).rowcount)

    def token_workspace(self, value: str) -> str | None:
        """The workspace that accepts `value` as a token now, or None (the REST API's bearer
        check: one server answers for every workspace of the sandbox)."""
        rows = self._sandbox.query(
            "SELECT workspace, expires FROM databricks_tokens WHERE value_hash = ?",
            (_token_hash(value),),
        )
        if not rows or (rows[0]["expires"] is not None and rows[0]["expires"] <= time.time()):
            return None
        return str(rows[0]["workspace"])

    # --- helpers -------------------------------------------------------------------------

    def _workspace_row(self, name: str, conn: sqlite3.Connection | None = None) -> sqlite3.Row:
        sql = "SELECT * FROM databricks_workspaces WHERE name = ?"
        if conn is not None:
            row: sqlite3.Row | None = conn.execute(sql, (name,)).fetchone()
        else:
            rows = self._sandbox.query(sql, (name,))
            row = rows[0] if rows else None
        if row is None:
            raise NotFound(f"Databricks workspace {name} does not exist")
        return row

    def _cluster_row(self, workspace: str, cluster_id: str) -> sqlite3.Row:
        ws = self._workspace_row(workspace)
        rows = self._sandbox.query(
            "SELECT * FROM clusters WHERE cluster_id = ? AND workspace = ?",
            (cluster_id, ws["name"]),
        )
        if not rows:
            raise NotFound(f"cluster {cluster_id} does not exist in workspace {workspace}")
        return rows[0]

    def _scope_of(self, workspace: str, scope: str) -> SecretScope:
        ws = self._workspace_row(workspace)
        rows = self._sandbox.query(
            "SELECT * FROM secret_scopes WHERE workspace = ? AND name = ?", (ws["name"], scope)
        )
        if not rows:
            raise NotFound(f"secret scope {scope} does not exist in workspace {workspace}")
        return _scope(rows[0])
