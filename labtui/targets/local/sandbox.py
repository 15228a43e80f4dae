"""The local sandbox: `<workspace>/sandbox/` holding `sandbox.db` (SQLite, WAL) and folders.

One connection is shared by all threads behind a lock; every port call runs in one short
transaction, so a crash never leaves a resource half-recorded. Folders are created 0700 and
files 0600: the sandbox holds encrypted secrets and tokens.

The injected latency (`LocalTarget(workspace, latency=0.05)` or `LABTUI_LOCAL_LATENCY`) makes
every port call sleep that long *outside* the lock, as a network round trip would, so a proctor
benchmark can compare sequential and concurrent work without a cloud.
"""

from __future__ import annotations

import functools
import os
import secrets
import shutil
import sqlite3
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

from cryptography.fernet import Fernet, InvalidToken

from labtui.targets.base import NotFound, TargetError, Transient
from labtui.targets.resources import ResourceRef

SCHEMA_VERSION = 1

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS ledger (
    seq INTEGER PRIMARY KEY,  -- max + 1: the order of the entries it holds, and no trace left
    step TEXT NOT NULL,
    env TEXT NOT NULL,
    kind TEXT NOT NULL,
    ref TEXT NOT NULL,
    undo TEXT NOT NULL,
    created REAL NOT NULL,
    UNIQUE (step, env, kind, ref)
);
CREATE TABLE IF NOT EXISTS resource_groups (
    name TEXT PRIMARY KEY COLLATE NOCASE,
    location TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS storage_accounts (
    name TEXT PRIMARY KEY COLLATE NOCASE,
    resource_group TEXT NOT NULL REFERENCES resource_groups(name) ON DELETE CASCADE,
    location TEXT NOT NULL,
    kind TEXT NOT NULL,
    access_tier TEXT NOT NULL,
    hns INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS file_systems (
    account TEXT NOT NULL REFERENCES storage_accounts(name) ON DELETE CASCADE,
    name TEXT NOT NULL,
    PRIMARY KEY (account, name)
);
CREATE TABLE IF NOT EXISTS acl_entries (
    account TEXT NOT NULL,
    file_system TEXT NOT NULL,
    path TEXT NOT NULL,
    scope TEXT NOT NULL,
    kind TEXT NOT NULL,
    principal TEXT NOT NULL,
    permissions TEXT NOT NULL,
    PRIMARY KEY (account, file_system, path, scope, kind, principal),
    FOREIGN KEY (account, file_system) REFERENCES file_systems(account, name) ON DELETE CASCADE
);
CREATE TABLE IF NOT EXISTS vaults (
    name TEXT PRIMARY KEY COLLATE NOCASE,
    resource_group TEXT NOT NULL REFERENCES resource_groups(name) ON DELETE CASCADE,
    location TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS secrets (
    vault TEXT NOT NULL COLLATE NOCASE REFERENCES vaults(name) ON DELETE CASCADE,
    name TEXT NOT NULL COLLATE NOCASE,
    value BLOB NOT NULL,
    version INTEGER NOT NULL,
    deleted_on REAL,
    PRIMARY KEY (vault, name)
);
CREATE TABLE IF NOT EXISTS databricks_workspaces (
    name TEXT PRIMARY KEY COLLATE NOCASE,
    resource_group TEXT NOT NULL REFERENCES resource_groups(name) ON DELETE CASCADE,
    location TEXT NOT NULL,
    sku TEXT NOT NULL,
    workspace_id TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS clusters (
    cluster_id TEXT PRIMARY KEY,
    workspace TEXT NOT NULL COLLATE NOCASE
        REFERENCES databricks_workspaces(name) ON DELETE CASCADE,
    name TEXT NOT NULL,
    node_type TEXT NOT NULL,
    spark_version TEXT NOT NULL,
    num_workers INTEGER NOT NULL,
    autotermination_minutes INTEGER NOT NULL,
    state TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS cluster_libraries (
    cluster_id TEXT NOT NULL REFERENCES clusters(cluster_id) ON DELETE CASCADE,
    kind TEXT NOT NULL,
    spec TEXT NOT NULL,
    status TEXT NOT NULL,
    PRIMARY KEY (cluster_id, kind, spec)
);
CREATE TABLE IF NOT EXISTS secret_scopes (
    workspace TEXT NOT NULL COLLATE NOCASE
        REFERENCES databricks_workspaces(name) ON DELETE CASCADE,
    name TEXT NOT NULL,
    backend TEXT NOT NULL,
    vault_uri TEXT NOT NULL,
    vault_id TEXT NOT NULL,
    PRIMARY KEY (workspace, name)
);
CREATE TABLE IF NOT EXISTS scope_secrets (
    workspace TEXT NOT NULL COLLATE NOCASE,
    scope TEXT NOT NULL,
    key TEXT NOT NULL,
    value BLOB NOT NULL,
    PRIMARY KEY (workspace, scope, key),
    FOREIGN KEY (workspace, scope) REFERENCES secret_scopes(workspace, name) ON DELETE CASCADE
);
CREATE TABLE IF NOT EXISTS databricks_tokens (
    token_id TEXT PRIMARY KEY,
    workspace TEXT NOT NULL COLLATE NOCASE
        REFERENCES databricks_workspaces(name) ON DELETE CASCADE,
    comment TEXT NOT NULL,
    created REAL NOT NULL,
    expires REAL,
    value_hash BLOB NOT NULL UNIQUE
);
CREATE TABLE IF NOT EXISTS notebooks (
    workspace TEXT NOT NULL COLLATE NOCASE
        REFERENCES databricks_workspaces(name) ON DELETE CASCADE,
    path TEXT NOT NULL,
    source TEXT,
    link_url TEXT,
    link_branch TEXT,
    link_path TEXT,
    PRIMARY KEY (workspace, path)
);
CREATE TABLE IF NOT EXISTS workspace_settings (
    workspace TEXT NOT NULL COLLATE NOCASE
        REFERENCES databricks_workspaces(name) ON DELETE CASCADE,
    key TEXT NOT NULL,
    value TEXT NOT NULL,
    PRIMARY KEY (workspace, key)
);
CREATE TABLE IF NOT EXISTS git_credentials (
    workspace TEXT PRIMARY KEY COLLATE NOCASE
        REFERENCES databricks_workspaces(name) ON DELETE CASCADE,
    provider TEXT NOT NULL,
    username TEXT NOT NULL,
    token BLOB
);
CREATE TABLE IF NOT EXISTS git_folders (
    workspace TEXT NOT NULL COLLATE NOCASE
        REFERENCES databricks_workspaces(name) ON DELETE CASCADE,
    path TEXT NOT NULL,
    url TEXT NOT NULL,
    provider TEXT NOT NULL,
    branch TEXT NOT NULL,
    head TEXT NOT NULL,
    PRIMARY KEY (workspace, path)
);
CREATE TABLE IF NOT EXISTS ml_workspaces (
    name TEXT PRIMARY KEY COLLATE NOCASE,
    resource_group TEXT NOT NULL REFERENCES resource_groups(name) ON DELETE CASCADE,
    location TEXT NOT NULL,
    store TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS service_principals (
    app_id TEXT PRIMARY KEY,
    object_id TEXT NOT NULL UNIQUE,
    display_name TEXT NOT NULL UNIQUE,
    tenant_id TEXT NOT NULL,
    password_salt BLOB NOT NULL,
    password_hash BLOB NOT NULL
);
CREATE TABLE IF NOT EXISTS role_assignments (
    id TEXT PRIMARY KEY,
    principal_id TEXT NOT NULL REFERENCES service_principals(object_id) ON DELETE CASCADE,
    role TEXT NOT NULL,
    scope TEXT NOT NULL COLLATE NOCASE,
    UNIQUE (principal_id, role, scope)
);
"""

LEGACY_SUBSCRIPTION = "00000000-0000-0000-0000-000000000000"
"""The subscription id every sandbox used before each had its own: a sandbox that holds
resources from then keeps it, so the resource ids it stored (role scopes, scope vaults) hold."""

T = TypeVar("T")


class Sandbox:
    """The sandbox of one workspace: the database, the vault key and the resource folders."""

    def __init__(self, root: Path, *, latency: float = 0.0, busy_timeout: float = 30.0) -> None:
        self.root = root
        self.latency = latency
        self._lock = threading.RLock()
        self._workspace_id: str | None = None
        try:
            _make_private_dir(root)
            db_path = root / "sandbox.db"
            _touch_private(db_path)
            self._conn = sqlite3.connect(
                db_path, check_same_thread=False, isolation_level=None, timeout=busy_timeout
            )
        except OSError as exc:
            raise TargetError(
                f"cannot open the sandbox in {root}: {_reason(exc)}"
                " (choose a writable workspace folder with --workspace)"
            ) from None
        except sqlite3.Error as exc:
            raise TargetError(f"cannot open the sandbox database in {root}: {exc}") from None
        self._conn.row_factory = sqlite3.Row
        with self._lock:
            try:
                self._conn.execute("PRAGMA journal_mode=WAL")
                self._conn.execute("PRAGMA foreign_keys=ON")
                self._conn.execute("PRAGMA synchronous=NORMAL")
                self._conn.executescript(SCHEMA)
                _move_git_settings(self._conn)
                self._conn.execute(
                    "INSERT OR IGNORE INTO meta (key, value) VALUES ('schema', ?)",
                    (str(SCHEMA_VERSION),),
                )
                self._subscription_id = self._claim_subscription()
            except sqlite3.DatabaseError as exc:
                self._conn.close()
                raise TargetError(
                    f"cannot open the sandbox database {db_path}: {exc}") from None
        self._fernet: Fernet | None = None
        key_path = root / "vault.key"
        # A new key would open none of the secrets the lost one sealed, and later blame a
        # "replaced" key: without it, secrets cannot be read or written, all else works.
        self._sealed_without_key = 0 if key_path.exists() else self._sealed_count()
        if not self._sealed_without_key:
            try:
                self._fernet = Fernet(_load_or_create_key(key_path))
            except OSError as exc:
                self._conn.close()
                raise TargetError(f"cannot open the sandbox in {root}: {_reason(exc)}") from None
            except TargetError:
                self._conn.close()
                raise
        for side_file in ("sandbox.db-wal", "sandbox.db-shm"):
            if (root / side_file).exists():
                os.chmod(root / side_file, 0o600)

    # --- database ------------------------------------------------------------------------

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """One atomic unit of work; rolled back if the block raises."""
        with self._lock:
            try:
                self._conn.execute("BEGIN IMMEDIATE")
            except sqlite3.OperationalError as exc:
                raise self._busy(exc) from None
            try:
                yield self._conn
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
            self._conn.execute("COMMIT")

    def query(self, sql: str, params: tuple[Any, ...] = ()) -> list[sqlite3.Row]:
        """Read rows (outside any write transaction)."""
        with self._lock:
            try:
                return list(self._conn.execute(sql, params))
            except sqlite3.OperationalError as exc:
                raise self._busy(exc) from None

    def _busy(self, exc: sqlite3.OperationalError) -> Exception:
        """A database another process keeps locked past the busy timeout is a passing state,
        as a busy service is (`Transient`); any other operational error is not."""
        if exc.sqlite_errorcode in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED):
            return Transient(f"the sandbox database {self.root / 'sandbox.db'} is busy: "
                             "another process holds it locked")
        return exc

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    @property
    def workspace_id(self) -> str:
        """A random id of this sandbox, made once and kept: what labtui labels the things it
        creates outside the workspace folder with (images and containers on a Docker engine
        other workspaces share), so that it finds and removes only its own."""
        if self._workspace_id is None:
            with self.transaction() as conn:
                conn.execute("INSERT OR IGNORE INTO meta (key, value) VALUES "
                             "('workspace-id', ?)", (secrets.token_hex(6),))
                row = conn.execute(
                    "SELECT value FROM meta WHERE key = 'workspace-id'").fetchone()
            self._workspace_id = str(row["value"])
        return self._workspace_id

    @property
    def subscription_id(self) -> str:
        """The subscription the sandbox's resources are in: a GUID made once per sandbox and
        kept, so resource ids stay stable and another workspace's ids never match."""
        return self._subscription_id

    def _claim_subscription(self) -> str:
        self._conn.execute("BEGIN IMMEDIATE")
        try:
            row = self._conn.execute(
                "SELECT value FROM meta WHERE key = 'subscription-id'").fetchone()
            if row is None:
                older = self._conn.execute("SELECT 1 FROM resource_groups LIMIT 1").fetchone()
                chosen = LEGACY_SUBSCRIPTION if older else str(uuid.uuid4())
                self._conn.execute(
                    "INSERT INTO meta (key, value) VALUES ('subscription-id', ?)", (chosen,))
                row = (chosen,)
        except BaseException:
            self._conn.execute("ROLLBACK")
            raise
        self._conn.execute("COMMIT")
        return str(row[0])

    def ref(self, resource_group: str, type: str, name: str) -> ResourceRef:
        """A ref in the sandbox's subscription, built as Azure builds resource ids."""
        return ResourceRef(self.subscription_id, resource_group, type, name)

    def group_id(self, name: str) -> str:
        """The resource id of a resource group of the sandbox."""
        return f"/subscriptions/{self.subscription_id}/resourceGroups/{name}"

    def owns(self, ref: ResourceRef) -> bool:
        """Whether `ref` is in the sandbox's subscription (a ref of another one is never
        found here, as Azure finds nothing of a subscription one has no access to)."""
        return ref.subscription.lower() == self.subscription_id.lower()

    def resource_row(self, ref: ResourceRef, type: str, table: str, what: str,
                     conn: sqlite3.Connection | None = None) -> sqlite3.Row:
        """The row of `table` that `ref` addresses: in this subscription, of this type, with
        this name in this resource group (all compared as Azure compares them).

        Raises:
            NotFound: there is no such resource (the message names it as the ref does).
        """
        sql = f"SELECT * FROM {table} WHERE name = ?"
        rows = (conn.execute(sql, (ref.name,)).fetchall() if conn is not None
                else self.query(sql, (ref.name,)))
        if (not rows or not self.owns(ref) or ref.type.lower() != type.lower()
                or str(rows[0]["resource_group"]).lower() != ref.resource_group.lower()):
            raise NotFound(f"{what} {ref.name} does not exist in resource group "
                           f"{ref.resource_group}" + ("" if self.owns(ref) else
                                                      f" of subscription {ref.subscription}"))
        row: sqlite3.Row = rows[0]
        return row

    def group_row(self, conn: sqlite3.Connection, ref: ResourceRef) -> sqlite3.Row:
        """The resource group `ref` is to be created in. Raises NotFound."""
        row: sqlite3.Row | None = conn.execute(
            "SELECT name FROM resource_groups WHERE name = ?", (ref.resource_group,)
        ).fetchone() if self.owns(ref) else None
        if row is None:
            raise NotFound(f"resource group {ref.resource_group} does not exist"
                           + ("" if self.owns(ref) else f" in subscription {ref.subscription}"))
        return row

    # --- the workspace it belongs to ------------------------------------------------------

    def owner(self) -> str | None:
        """The workspace id (of state.db) this sandbox works for; None until one claims it."""
        rows = self.query("SELECT value FROM meta WHERE key = 'owner'")
        return str(rows[0]["value"]) if rows else None

    def set_owner(self, owner: str) -> None:
        with self.transaction() as db:
            db.execute("INSERT OR REPLACE INTO meta (key, value) VALUES ('owner', ?)", (owner,))

    # --- secrets at rest -----------------------------------------------------------------

    def _sealed_count(self) -> int:
        rows = self.query("SELECT (SELECT count(*) FROM secrets) + "
                          "(SELECT count(*) FROM scope_secrets) + "
                          "(SELECT count(*) FROM git_credentials WHERE token IS NOT NULL) AS n")
        return int(rows[0]["n"])

    def _key(self) -> Fernet:
        if self._fernet is None:
            count = self._sealed_without_key
            raise TargetError(
                f"the vault key {self.root / 'vault.key'} is missing, and it is the only key to "
                f"{count} secret{'s' if count != 1 else ''} in the sandbox's vaults and secret "
                "scopes: put it back to read or write secrets (rolling back works without it)")
        return self._fernet

    def encrypt(self, value: str) -> bytes:
        return self._key().encrypt(value.encode("utf-8"))

    def decrypt(self, token: bytes) -> str:
        try:
            return self._key().decrypt(token).decode("utf-8")
        except InvalidToken:
            raise TargetError(
                f"a secret in {self.root / 'sandbox.db'} cannot be decrypted with "
                f"{self.root / 'vault.key'} (was the key file replaced?)"
            ) from None

    # --- folders -------------------------------------------------------------------------

    def folder(self, *parts: str) -> Path:
        """A folder under the sandbox, created 0700 with its parents."""
        path = self.root.joinpath(*parts)
        current = self.root
        # Under the lock: a removal in another thread must not take an empty parent away
        # between creating it and creating the child.
        with self._lock:
            for part in path.relative_to(self.root).parts:
                current = current / part
                _make_private_dir(current)
        return path

    def remove_folder(self, *parts: str) -> None:
        path = self.root.joinpath(*parts)
        # Under the lock: units removing sibling resources at once both find their shared
        # parent empty, and only one may remove it.
        with self._lock:
            if path.exists():
                shutil.rmtree(path)
            # Parents left empty by the removal would be a trace of the deleted resource.
            parent = path.parent
            while parent != self.root and parent.is_dir() and not any(parent.iterdir()):
                parent.rmdir()
                parent = parent.parent

    # --- latency -------------------------------------------------------------------------

    def pause(self) -> None:
        """Sleep the injected per-call latency (no-op when zero)."""
        if self.latency > 0:
            time.sleep(self.latency)


class LocalPort:
    """Base of the local ports: holds the sandbox."""

    def __init__(self, sandbox: Sandbox) -> None:
        self._sandbox = sandbox


P = TypeVar("P", bound=LocalPort)


def with_latency(cls: type[P]) -> type[P]:
    """Make every public method of a local port sleep the sandbox's latency first: one round
    trip per call from outside the target. A port method that calls another port (listing a
    vault-backed scope reads the vault) is still one round trip, as a cloud service's own
    calls are; closing a port is not a call to the cloud."""
    for name, member in list(vars(cls).items()):
        if name.startswith("_") or name in _NOT_ROUND_TRIPS or not callable(member):
            continue
        setattr(cls, name, _delayed(member))
    return cls


_NOT_ROUND_TRIPS = frozenset({"close"})
_inside_call = threading.local()


def _delayed(method: Callable[..., T]) -> Callable[..., T]:
    @functools.wraps(method)
    def wrapper(self: LocalPort, *args: Any, **kwargs: Any) -> T:
        if getattr(_inside_call, "active", False):  # part of the call that is under way
            return method(self, *args, **kwargs)
        self._sandbox.pause()
        _inside_call.active = True
        try:
            return method(self, *args, **kwargs)
        finally:
            _inside_call.active = False

    return wrapper


def _make_private_dir(path: Path) -> None:
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    os.chmod(path, 0o700)


def _move_git_settings(conn: sqlite3.Connection) -> None:
    """A sandbox that kept the Git provider and user name as workspace settings keeps them as
    the workspace's Git credential (written only when there is something to move, so opening
    a sandbox takes no write lock)."""
    if conn.execute("SELECT 1 FROM workspace_settings WHERE key = 'git-provider' "
                    "LIMIT 1").fetchone() is None:
        return
    with conn:
        conn.execute("BEGIN IMMEDIATE")
        conn.execute(
            "INSERT OR IGNORE INTO git_credentials (workspace, provider, username) "
            "SELECT s.workspace, s.value, coalesce((SELECT u.value FROM workspace_settings u "
            "WHERE u.workspace = s.workspace AND u.key = 'git-username'), '') "
            "FROM workspace_settings s WHERE s.key = 'git-provider'")
        conn.execute("DELETE FROM workspace_settings WHERE key IN ('git-provider', "
                     "'git-username')")


def _touch_private(path: Path) -> None:
    fd = os.open(path, os.O_CREAT | os.O_RDWR, 0o600)
    os.close(fd)
    os.chmod(path, 0o600)


def _load_or_create_key(path: Path) -> bytes:
    """The vault's Fernet key: read it, or create it 0600 (exclusively, so two processes
    opening a fresh sandbox at once agree on one key)."""
    try:
        fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
    except FileExistsError:
        key = path.read_bytes().strip()
        if not key:
            raise TargetError(f"the vault key {path} is empty") from None
        try:
            Fernet(key)
        except ValueError:
            raise TargetError(f"the vault key {path} is not a valid key (was it replaced?)"
                              ) from None
        return key
    key = Fernet.generate_key()
    with os.fdopen(fd, "wb") as handle:
        handle.write(key)
        handle.flush()
        os.fsync(handle.fileno())
    return key


def _reason(exc: OSError) -> str:
    return exc.strerror.lower() if exc.strerror else type(exc).__name__


def copy_private(source: Path, destination: Path) -> None:
    """Copy a file to `destination` atomically (temp file + rename), 0600."""
    temp = destination.with_name(f".{destination.name}.part")
    fd = os.open(temp, os.O_CREAT | os.O_TRUNC | os.O_WRONLY, 0o600)
    try:
        with os.fdopen(fd, "wb") as out, source.open("rb") as src:
            shutil.copyfileobj(src, out, 1 << 20)
        os.replace(temp, destination)
    except BaseException:
        temp.unlink(missing_ok=True)
        raise


def write_private(data: bytes, destination: Path) -> None:
    """Write bytes to `destination` atomically, 0600."""
    temp = destination.with_name(f".{destination.name}.part")
    fd = os.open(temp, os.O_CREAT | os.O_TRUNC | os.O_WRONLY, 0o600)
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(data)
        os.replace(temp, destination)
    except BaseException:
        temp.unlink(missing_ok=True)
        raise
