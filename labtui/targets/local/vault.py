"""Local Key Vault: secrets encrypted at rest (Fernet, key in sandbox/vault.key, 0600), with
Key Vault's soft-delete: a deleted secret keeps its name until it is recovered or purged."""

from __future__ import annotations

import sqlite3
import time

from labtui.targets.base import Conflict, DeletedSecret, KeyVault, NotFound, Vault
from labtui.targets.local.resource_groups import resource_id
from labtui.targets.local.sandbox import LocalPort, with_latency


def _vault(row: sqlite3.Row) -> KeyVault:
    name = row["name"]
    return KeyVault(
        name=name,
        resource_group=row["resource_group"],
        location=row["location"],
        uri=f"https://{name.lower()}.vault.azure.net/",
        id=resource_id(row["resource_group"], "Microsoft.KeyVault/vaults", name),
    )


@with_latency
class LocalVault(LocalPort, Vault):
    """Vaults and secrets of the sandbox."""

    def create_vault(self, resource_group: str, name: str, location: str) -> KeyVault:
        with self._sandbox.transaction() as conn:
            group = conn.execute(
                "SELECT name FROM resource_groups WHERE name = ?", (resource_group,)
            ).fetchone()
            if group is None:
                raise NotFound(f"resource group {resource_group} does not exist")
            row = conn.execute("SELECT * FROM vaults WHERE name = ?", (name,)).fetchone()
            if row is None:
                conn.execute(
                    "INSERT INTO vaults VALUES (?, ?, ?)", (name, group["name"], location)
                )
                row = conn.execute("SELECT * FROM vaults WHERE name = ?", (name,)).fetchone()
        vault = _vault(row)
        if vault.resource_group.lower() != resource_group.lower():
            raise Conflict(
                f"key vault name {name} is taken (by resource group {vault.resource_group}); "
                "vault names are unique across Azure"
            )
        return vault

    def get_vault(self, name: str) -> KeyVault:
        return _vault(self._vault_row(name))

    def vault_by_id(self, resource_id: str) -> KeyVault:
        """The vault with this resource id (how a secret scope refers to it). Raises NotFound."""
        name = resource_id.rstrip("/").rpartition("/")[2]
        rows = self._sandbox.query("SELECT * FROM vaults WHERE name = ?", (name,))
        if not rows or _vault(rows[0]).id.lower() != resource_id.rstrip("/").lower():
            raise NotFound(f"key vault {resource_id} does not exist")
        return _vault(rows[0])

    def delete_vault(self, name: str) -> bool:
        with self._sandbox.transaction() as conn:
            return bool(conn.execute("DELETE FROM vaults WHERE name = ?", (name,)).rowcount)

    def set_secret(self, vault: str, name: str, value: str) -> None:
        encrypted = self._sandbox.encrypt(value)
        with self._sandbox.transaction() as conn:
            row = self._vault_row(vault, conn)
            secret = conn.execute(
                "SELECT version, deleted_on FROM secrets WHERE vault = ? AND name = ?",
                (row["name"], name),
            ).fetchone()
            if secret is None:
                conn.execute(
                    "INSERT INTO secrets VALUES (?, ?, ?, 1, NULL)", (row["name"], name, encrypted)
                )
            elif secret["deleted_on"] is not None:
                raise Conflict(
                    f"secret {name} in vault {vault} is deleted but recoverable: "
                    "recover or purge it before setting it again"
                )
            else:
                conn.execute(
                    "UPDATE secrets SET value = ?, version = version + 1 "
                    "WHERE vault = ? AND name = ?",
                    (encrypted, row["name"], name),
                )

    def get_secret(self, vault: str, name: str) -> str:
        row = self._vault_row(vault)
        rows = self._sandbox.query(
            "SELECT value FROM secrets WHERE vault = ? AND name = ? AND deleted_on IS NULL",
            (row["name"], name),
        )
        if not rows:
            raise NotFound(f"secret {name} does not exist in vault {vault}")
        return self._sandbox.decrypt(rows[0]["value"])

    def list_secrets(self, vault: str) -> list[str]:
        row = self._vault_row(vault)
        rows = self._sandbox.query(
            "SELECT name FROM secrets WHERE vault = ? AND deleted_on IS NULL ORDER BY name",
            (row["name"],),
        )
        return [r["name"] for r in rows]

    def delete_secret(self, vault: str, name: str) -> bool:
        with self._sandbox.transaction() as conn:
            return bool(
                conn.execute(
                    "UPDATE secrets SET deleted_on = ? "
                    "WHERE vault = ? AND name = ? AND deleted_on IS NULL",
                    (time.time(), vault, name),
                ).rowcount
            )

    def list_deleted_secrets(self, vault: str) -> list[DeletedSecret]:
        row = self._vault_row(vault)
        rows = self._sandbox.query(
            "SELECT name, deleted_on FROM secrets WHERE vault = ? AND deleted_on IS NOT NULL "
            "ORDER BY name",
            (row["name"],),
        )
        return [DeletedSecret(r["name"], r["deleted_on"]) for r in rows]

    def recover_deleted_secret(self, vault: str, name: str) -> None:
        with self._sandbox.transaction() as conn:
            recovered = conn.execute(
                "UPDATE secrets SET deleted_on = NULL "
                "WHERE vault = ? AND name = ? AND deleted_on IS NOT NULL",
                (vault, name),
            ).rowcount
        if not recovered:
            raise NotFound(f"there is no deleted secret {name} in vault {vault}")

    def purge_deleted_secret(self, vault: str, name: str) -> bool:
        with self._sandbox.transaction() as conn:
            return bool(
                conn.execute(
                    "DELETE FROM secrets WHERE vault = ? AND name = ? AND deleted_on IS NOT NULL",
                    (vault, name),
                ).rowcount
            )

    def _vault_row(self, name: str, conn: sqlite3.Connection | None = None) -> sqlite3.Row:
        if conn is not None:
            row: sqlite3.Row | None = conn.execute(
                "SELECT * FROM vaults WHERE name = ?", (name,)
            ).fetchone()
        else:
            rows = self._sandbox.query("SELECT * FROM vaults WHERE name = ?", (name,))
            row = rows[0] if rows else None
        if row is None:
            raise NotFound(f"key vault {name} does not exist")
        return row
