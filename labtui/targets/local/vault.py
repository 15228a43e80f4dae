"""Local Key Vault: secrets encrypted at rest (Fernet, key in sandbox/vault.key, 0600), with
Key Vault's soft-delete: a deleted secret keeps its name until it is recovered or purged."""

from __future__ import annotations

import re
import sqlite3
import time

from labtui.targets.base import Conflict, DeletedSecret, KeyVault, NotFound, TargetError, Vault
from labtui.targets.local.sandbox import LocalPort, with_latency
from labtui.targets.resources import KEY_VAULTS, MalformedResourceId, ResourceRef

_VAULT_URI = re.compile(r"^https://([a-z][a-z0-9-]{1,22}[a-z0-9])\.vault\.azure\.net/?$",
                        re.IGNORECASE)


def vault_uri(name: str) -> str:
    """The data-plane URI of the vault `name`, as Azure gives it."""
    return f"https://{name.lower()}.vault.azure.net/"


def vault_name(vault_uri: str) -> str:
    """The vault a Key Vault URI (https://NAME.vault.azure.net/) names: how its secrets are
    addressed, as SecretClient(vault_url=...) does.

    Raises:
        TargetError: `vault_uri` is not a Key Vault URI.
    """
    match = _VAULT_URI.match(vault_uri.strip())
    if match is None:
        shown = " ".join(vault_uri.split())[:120]
        raise TargetError(f"{shown!r} is not a Key Vault URI like https://NAME.vault.azure.net/")
    return match.group(1)


@with_latency
class LocalVault(LocalPort, Vault):
    """Vaults and secrets of the sandbox."""

    def create_vault(self, ref: ResourceRef, location: str) -> KeyVault:
        if ref.type.lower() != KEY_VAULTS.lower():
            raise TargetError(f"{ref.id} is not a key vault ({KEY_VAULTS})")
        name = ref.name
        with self._sandbox.transaction() as conn:
            group = self._sandbox.group_row(conn, ref)
            row = conn.execute("SELECT * FROM vaults WHERE name = ?", (name,)).fetchone()
            if row is None:
                conn.execute(
                    "INSERT INTO vaults VALUES (?, ?, ?)", (name, group["name"], location)
                )
                row = conn.execute("SELECT * FROM vaults WHERE name = ?", (name,)).fetchone()
        vault = self._vault(row)
        if vault.resource_group.lower() != ref.resource_group.lower():
            raise Conflict(
                f"key vault name {name} is taken (by resource group {vault.resource_group}); "
                "vault names are unique across Azure"
            )
        return vault

    def get_vault(self, ref: ResourceRef) -> KeyVault:
        return self._vault(self._sandbox.resource_row(ref, KEY_VAULTS, "vaults", "key vault"))

    def vault_by_id(self, resource_id: str) -> KeyVault:
        """The vault with this resource id (how a secret scope refers to it). Raises NotFound."""
        try:
            ref = ResourceRef.parse(resource_id)
        except MalformedResourceId as exc:
            raise NotFound(f"key vault {exc}") from None
        return self.get_vault(ref)

    def vault_named(self, name: str) -> KeyVault:
        """The sandbox's vault of that name, whatever its group (names are global).
        Raises NotFound."""
        return self._vault(self._vault_row(name))

    def delete_vault(self, ref: ResourceRef) -> bool:
        with self._sandbox.transaction() as conn:
            try:
                row = self._sandbox.resource_row(ref, KEY_VAULTS, "vaults", "key vault", conn)
            except NotFound:
                return False
            return bool(conn.execute("DELETE FROM vaults WHERE name = ?",
                                     (row["name"],)).rowcount)

    def _vault(self, row: sqlite3.Row) -> KeyVault:
        name = row["name"]
        return KeyVault(
            ref=self._sandbox.ref(row["resource_group"], KEY_VAULTS, name),
            location=row["location"],
            uri=vault_uri(name),
        )

    def set_secret(self, vault_uri: str, name: str, value: str) -> None:
        vault = vault_name(vault_uri)
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

    def get_secret(self, vault_uri: str, name: str) -> str:
        vault = vault_name(vault_uri)
        row = self._vault_row(vault)
        rows = self._sandbox.query(
            "SELECT value FROM secrets WHERE vault = ? AND name = ? AND deleted_on IS NULL",
            (row["name"], name),
        )
        if not rows:
            raise NotFound(f"secret {name} does not exist in vault {vault}")
        return self._sandbox.decrypt(rows[0]["value"])

    def list_secrets(self, vault_uri: str) -> list[str]:
        vault = vault_name(vault_uri)
        row = self._vault_row(vault)
        rows = self._sandbox.query(
            "SELECT name FROM secrets WHERE vault = ? AND deleted_on IS NULL ORDER BY name",
            (row["name"],),
        )
        return [r["name"] for r in rows]

    def delete_secret(self, vault_uri: str, name: str) -> bool:
        vault = vault_name(vault_uri)
        with self._sandbox.transaction() as conn:
            return bool(
                conn.execute(
                    "UPDATE secrets SET deleted_on = ? "
                    "WHERE vault = ? AND name = ? AND deleted_on IS NULL",
                    (time.time(), vault, name),
                ).rowcount
            )

    def list_deleted_secrets(self, vault_uri: str) -> list[DeletedSecret]:
        vault = vault_name(vault_uri)
        row = self._vault_row(vault)
        rows = self._sandbox.query(
            "SELECT name, deleted_on FROM secrets WHERE vault = ? AND deleted_on IS NOT NULL "
            "ORDER BY name",
            (row["name"],),
        )
        return [DeletedSecret(r["name"], r["deleted_on"]) for r in rows]

    def recover_deleted_secret(self, vault_uri: str, name: str) -> None:
        vault = vault_name(vault_uri)
        with self._sandbox.transaction() as conn:
            recovered = conn.execute(
                "UPDATE secrets SET deleted_on = NULL "
                "WHERE vault = ? AND name = ? AND deleted_on IS NOT NULL",
                (vault, name),
            ).rowcount
        if not recovered:
            raise NotFound(f"there is no deleted secret {name} in vault {vault}")

    def purge_deleted_secret(self, vault_uri: str, name: str) -> bool:
        vault = vault_name(vault_uri)
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
