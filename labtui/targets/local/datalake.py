"""Local data lake: a folder per file system, with POSIX ACLs (access and default) in sandbox.db.

`sandbox/datalake/<account>/<file system>/<path>` holds the files. The data plane's calls are
addressed by the account's DFS endpoint (https://ACCOUNT.dfs.core.windows.net), as
`DataLakeServiceClient(account_url=…)` addresses them; the sandbox maps it back to its account.
The abfss URI of a file system (abfss://datalake@ACCOUNT.dfs.core.windows.net) resolves to its
folder with `resolve`, so the local notebook runner reads the same paths the lab's notebook
mounts.
"""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Sequence
from pathlib import Path, PurePosixPath

from labtui.targets.base import (
    AclEntry,
    Conflict,
    DataLake,
    DataLakeFile,
    NotFound,
    StorageAccount,
    TargetError,
)
from labtui.targets.local.sandbox import LocalPort, copy_private, with_latency, write_private
from labtui.targets.resources import STORAGE_ACCOUNTS, ResourceRef

_ENDPOINT = re.compile(r"^https://([A-Za-z0-9]{3,24})\.dfs\.core\.windows\.net/?$")
_ABFSS = re.compile(r"^abfss://([^@/]+)@([a-z0-9]+)\.dfs\.core\.windows\.net(/.*)?$")

ROOT_ACL = (("user", "rwx"), ("group", "r-x"), ("other", "---"))
FILE_ACL = (("user", "rw-"), ("group", "r--"), ("other", "---"))
DIR_ACL = (("user", "rwx"), ("group", "r-x"), ("other", "---"))


def _clean(path: str) -> str:
    """Normalise a path inside a file system: no leading slash, no '.' or '..' parts."""
    parts = [part for part in PurePosixPath("/" + path).parts[1:] if part not in ("", ".")]
    if ".." in parts:
        raise TargetError(f"data lake path {path!r} must not contain '..'")
    return "/".join(parts)


@with_latency
class LocalDataLake(LocalPort, DataLake):
    """Storage accounts, file systems, files and ACLs of the sandbox."""

    # --- accounts ------------------------------------------------------------------------

    def create_account(
        self,
        ref: ResourceRef,
        location: str,
        *,
        kind: str = "StorageV2",
        access_tier: str = "Cool",
        hierarchical_namespace: bool = True,
    ) -> StorageAccount:
        _check_type(ref)
        name = ref.name
        with self._sandbox.transaction() as conn:
            group = self._sandbox.group_row(conn, ref)
            row = conn.execute("SELECT * FROM storage_accounts WHERE name = ?", (name,)).fetchone()
            if row is None:
                conn.execute(
                    "INSERT INTO storage_accounts VALUES (?, ?, ?, ?, ?, ?)",
                    (name, group["name"], location, kind, access_tier, int(hierarchical_namespace)),
                )
                row = conn.execute(
                    "SELECT * FROM storage_accounts WHERE name = ?", (name,)
                ).fetchone()
        account = self._account(row)
        if account.resource_group.lower() != ref.resource_group.lower():
            raise Conflict(
                f"storage account name {name} is taken (by resource group "
                f"{account.resource_group}); account names are unique across Azure"
            )
        wanted = (kind, access_tier, hierarchical_namespace)
        actual = (account.kind, account.access_tier, account.hierarchical_namespace)
        if wanted != actual:
            raise Conflict(
                f"storage account {name} exists as {_describe(*actual)}, not {_describe(*wanted)}"
            )
        self._sandbox.folder("datalake", name.lower())
        return account

    def get_account(self, ref: ResourceRef) -> StorageAccount:
        return self._account(self._sandbox.resource_row(
            ref, STORAGE_ACCOUNTS, "storage_accounts", "storage account"))

    def delete_account(self, ref: ResourceRef) -> bool:
        with self._sandbox.transaction() as conn:
            try:
                row = self._sandbox.resource_row(
                    ref, STORAGE_ACCOUNTS, "storage_accounts", "storage account", conn)
            except NotFound:
                return False
            conn.execute(
                "DELETE FROM role_assignments WHERE scope = ?", (self._account(row).id,)
            )
            conn.execute("DELETE FROM storage_accounts WHERE name = ?", (row["name"],))
        self._sandbox.remove_folder("datalake", ref.name.lower())
        return True

    def account_named(self, name: str) -> StorageAccount:
        """The sandbox's account of that name, whatever its group (names are global).
        Raises NotFound."""
        return self._account(self._account_row(name))

    def _account(self, row: sqlite3.Row) -> StorageAccount:
        name = row["name"]
        return StorageAccount(
            ref=self._sandbox.ref(row["resource_group"], STORAGE_ACCOUNTS, name),
            location=row["location"],
            kind=row["kind"],
            access_tier=row["access_tier"],
            hierarchical_namespace=bool(row["hns"]),
            dfs_endpoint=dfs_endpoint(name),
        )

    # --- file systems --------------------------------------------------------------------

    def create_file_system(self, endpoint: str, name: str) -> None:
        account = account_name(endpoint)
        self._account_row(account)
        with self._sandbox.transaction() as conn:
            created = conn.execute(
                "INSERT OR IGNORE INTO file_systems (account, name) VALUES (?, ?)",
                (account.lower(), name),
            ).rowcount
            if created:
                _insert_base_acl(conn, account.lower(), name, "", ROOT_ACL)
        self._sandbox.folder("datalake", account.lower(), name)

    def file_systems(self, endpoint: str) -> list[str]:
        account = account_name(endpoint)
        self._account_row(account)
        rows = self._sandbox.query(
            "SELECT name FROM file_systems WHERE account = ? ORDER BY name", (account.lower(),)
        )
        return [row["name"] for row in rows]

    def delete_file_system(self, endpoint: str, name: str) -> bool:
        account = account_name(endpoint)
        with self._sandbox.transaction() as conn:
            removed = conn.execute(
                "DELETE FROM file_systems WHERE account = ? AND name = ?", (account.lower(), name)
            ).rowcount
        if removed:
            self._sandbox.remove_folder("datalake", account.lower(), name)
        return bool(removed)

    # --- files ---------------------------------------------------------------------------

    def upload(
        self, endpoint: str, file_system: str, path: str, source: Path | bytes
    ) -> DataLakeFile:
        account = account_name(endpoint)
        clean = _clean(path)
        if not clean:
            raise TargetError("a data lake file needs a name (got the file system's root)")
        root = self._fs_root(account, file_system)
        target = root / clean
        parts = clean.split("/")
        with self._sandbox.transaction() as conn:
            # New directories and the file inherit their parent's default ACL (POSIX rules).
            for depth in range(1, len(parts)):
                directory = "/".join(parts[:depth])
                if not (root / directory).is_dir():
                    self._sandbox.folder(*(root / directory).relative_to(self._sandbox.root).parts)
                    _inherit(conn, account.lower(), file_system, directory, is_dir=True)
            if not target.exists():
                _inherit(conn, account.lower(), file_system, clean, is_dir=False)
            if isinstance(source, bytes):
                write_private(source, target)
            else:
                try:
                    copy_private(source, target)
                except FileNotFoundError:
                    raise NotFound(f"the file {source} does not exist") from None
        return DataLakeFile(clean, target.stat().st_size)

    def read(self, endpoint: str, file_system: str, path: str) -> bytes:
        account = account_name(endpoint)
        target = self._fs_root(account, file_system) / _clean(path)
        if not target.is_file():
            raise NotFound(f"{_abfss(account, file_system)}/{_clean(path)} does not exist")
        return target.read_bytes()

    def list_files(self, endpoint: str, file_system: str, prefix: str = "") -> list[DataLakeFile]:
        account = account_name(endpoint)
        root = self._fs_root(account, file_system)
        base = root / _clean(prefix)
        if not base.exists():
            return []
        found = [base] if base.is_file() else sorted(p for p in base.rglob("*") if p.is_file())
        return [
            DataLakeFile(p.relative_to(root).as_posix(), p.stat().st_size)
            for p in found
            if not p.name.endswith(".part")
        ]

    def delete_file(self, endpoint: str, file_system: str, path: str) -> bool:
        account = account_name(endpoint)
        clean = _clean(path)
        try:
            target = self._fs_root(account, file_system) / clean
        except NotFound:
            return False
        # An upload killed halfway leaves only its temporary file: that goes too.
        target.with_name(f".{target.name}.part").unlink(missing_ok=True)
        if not target.is_file():
            return False
        with self._sandbox.transaction() as conn:
            conn.execute(
                "DELETE FROM acl_entries WHERE account = ? AND file_system = ? AND path = ?",
                (account.lower(), file_system, clean),
            )
            target.unlink()
        return True

    # --- ACLs ----------------------------------------------------------------------------

    def get_acl(self, endpoint: str, file_system: str, path: str = "") -> list[AclEntry]:
        account = account_name(endpoint)
        clean = self._existing_path(account, file_system, path)
        rows = self._sandbox.query(
            "SELECT scope, kind, principal, permissions FROM acl_entries "
            "WHERE account = ? AND file_system = ? AND path = ? "
            "ORDER BY scope, CASE kind WHEN 'user' THEN 0 WHEN 'group' THEN 1 "
            "WHEN 'mask' THEN 2 ELSE 3 END, principal",
            (account.lower(), file_system, clean),
        )
        return [
            AclEntry(row["scope"], row["kind"], row["principal"], row["permissions"])
            for row in rows
        ]

    def update_acl(
        self, endpoint: str, file_system: str, path: str, entries: Sequence[AclEntry]
    ) -> None:
        account = account_name(endpoint)
        clean = self._existing_path(account, file_system, path)
        for entry in entries:
            if not re.fullmatch(r"[r-][w-][x-]", entry.permissions):
                raise TargetError(f"ACL entry {entry}: permissions must look like 'rwx' or 'r-x'")
        with self._sandbox.transaction() as conn:
            conn.executemany(
                "INSERT OR REPLACE INTO acl_entries VALUES (?, ?, ?, ?, ?, ?, ?)",
                [
                    (account.lower(), file_system, clean, e.scope, e.kind, e.principal,
                     e.permissions)
                    for e in entries
                ],
            )

    def remove_acl(self, endpoint: str, file_system: str, path: str, principal: str) -> bool:
        account = account_name(endpoint)
        if not principal:
            raise TargetError("only named users and groups can be removed from an ACL")
        with self._sandbox.transaction() as conn:
            removed = conn.execute(
                "DELETE FROM acl_entries WHERE account = ? AND file_system = ? AND path = ? "
                "AND principal = ?",
                (account.lower(), file_system, _clean(path), principal),
            ).rowcount
        return bool(removed)

    # --- local only ----------------------------------------------------------------------

    def resolve(self, uri: str) -> Path:
        """The local folder (or file) of an abfss URI of this sandbox.

        Raises:
            NotFound: the account or file system does not exist.
            TargetError: `uri` is not an abfss URI.
        """
        match = _ABFSS.match(uri)
        if match is None:
            raise TargetError(
                f"{uri!r} is not a data lake URI like abfss://datalake@ACCOUNT.dfs.core.windows.net"
            )
        file_system, account, rest = match.group(1), match.group(2), match.group(3) or ""
        root = self._fs_root(account, file_system)
        return root / _clean(rest) if _clean(rest) else root

    # --- helpers -------------------------------------------------------------------------

    def _account_row(self, name: str) -> sqlite3.Row:
        rows = self._sandbox.query("SELECT * FROM storage_accounts WHERE name = ?", (name,))
        if not rows:
            raise NotFound(f"storage account {name} does not exist")
        return rows[0]

    def _fs_root(self, account: str, file_system: str) -> Path:
        rows = self._sandbox.query(
            "SELECT 1 FROM file_systems WHERE account = ? AND name = ?",
            (account.lower(), file_system),
        )
        if not rows:
            self._account_row(account)
            raise NotFound(f"file system {file_system} does not exist in storage account {account}")
        return self._sandbox.root / "datalake" / account.lower() / file_system

    def _existing_path(self, account: str, file_system: str, path: str) -> str:
        clean = _clean(path)
        if not (self._fs_root(account, file_system) / clean).exists():
            raise NotFound(f"{_abfss(account, file_system)}/{clean} does not exist")
        return clean


def dfs_endpoint(account: str) -> str:
    """The DFS endpoint of a storage account: https://NAME.dfs.core.windows.net/."""
    return f"https://{account.lower()}.dfs.core.windows.net/"


def account_name(endpoint: str) -> str:
    """The storage account a DFS endpoint (https://NAME.dfs.core.windows.net, with or without
    the trailing slash) names: how the data plane's calls find their account.

    Raises:
        TargetError: `endpoint` is not a DFS endpoint.
    """
    match = _ENDPOINT.match(endpoint.strip())
    if match is None:
        shown = " ".join(endpoint.split())[:120]
        raise TargetError(f"{shown!r} is not a data lake endpoint like "
                          "https://NAME.dfs.core.windows.net")
    return match.group(1).lower()


def _abfss(account: str, file_system: str) -> str:
    return f"abfss://{file_system}@{account}.dfs.core.windows.net"


def _check_type(ref: ResourceRef) -> None:
    if ref.type.lower() != STORAGE_ACCOUNTS.lower():
        raise TargetError(f"{ref.id} is not a storage account ({STORAGE_ACCOUNTS})")


def _describe(kind: str, tier: str, hns: bool) -> str:
    return f"{kind}/{tier}/hierarchical namespace {'on' if hns else 'off'}"


def _insert_base_acl(
    conn: sqlite3.Connection,
    account: str,
    file_system: str,
    path: str,
    base: tuple[tuple[str, str], ...],
) -> None:
    conn.executemany(
        "INSERT OR REPLACE INTO acl_entries VALUES (?, ?, ?, 'access', ?, '', ?)",
        [(account, file_system, path, kind, perms) for kind, perms in base],
    )


def _inherit(
    conn: sqlite3.Connection, account: str, file_system: str, path: str, *, is_dir: bool
) -> None:
    """Give a new path the base ACL plus its parent's default entries."""
    parent = path.rpartition("/")[0]
    defaults = conn.execute(
        "SELECT kind, principal, permissions FROM acl_entries "
        "WHERE account = ? AND file_system = ? AND path = ? AND scope = 'default'",
        (account, file_system, parent),
    ).fetchall()
    _insert_base_acl(conn, account, file_system, path, DIR_ACL if is_dir else FILE_ACL)
    scopes = ("access", "default") if is_dir else ("access",)
    conn.executemany(
        "INSERT OR REPLACE INTO acl_entries VALUES (?, ?, ?, ?, ?, ?, ?)",
        [
            (account, file_system, path, scope, row["kind"], row["principal"], row["permissions"])
            for row in defaults
            for scope in scopes
        ],
    )
