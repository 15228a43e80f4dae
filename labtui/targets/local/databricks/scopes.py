"""Local Databricks secret scopes: Databricks-backed ones keep their secrets (sealed with the
vault key), Key Vault-backed ones hold none of their own and read the vault live, so a secret
added to the vault later is visible through the scope, as in Azure."""

from __future__ import annotations

from typing import Literal

from labtui.targets.base import Conflict, KeyVault, NotFound, SecretScope, TargetError
from labtui.targets.local.databricks.plane import LocalDatabricksPlane, scope_of
from labtui.targets.local.sandbox import with_latency
from labtui.targets.resources import DatabricksHost


@with_latency
class LocalScopes(LocalDatabricksPlane):
    """The workspaces' secret scopes, and what a notebook's `dbutils.secrets` reads."""

    def create_secret_scope(
        self, host: DatabricksHost, name: str, *, vault: KeyVault | None = None
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
        return self._put_scope(host, wanted)

    def link_vault_scope(self, host: DatabricksHost, name: str, vault_uri: str,
                         vault_id: str) -> SecretScope:
        """A Key Vault-backed scope on a vault this sandbox does not keep: its REST API
        serving another cloud's workspaces, which checked the vault itself. Raises NotFound
        (the host) or Conflict (the scope exists with another backend)."""
        return self._put_scope(host, SecretScope(name, "AZURE_KEYVAULT", vault_uri, vault_id))

    def _put_scope(self, host: DatabricksHost, wanted: SecretScope) -> SecretScope:
        name, backend = wanted.name, wanted.backend
        with self._sandbox.transaction() as conn:
            workspace = self._name(host, conn)
            row = conn.execute(
                "SELECT * FROM secret_scopes WHERE workspace = ? AND name = ?", (workspace, name)
            ).fetchone()
            if row is None:
                conn.execute(
                    "INSERT INTO secret_scopes VALUES (?, ?, ?, ?, ?)",
                    (workspace, name, backend, wanted.vault_uri, wanted.vault_id),
                )
                return wanted
        existing = scope_of(row)
        if existing != wanted:
            behind = existing.vault_id or "Databricks"
            raise Conflict(f"secret scope {name} exists already, backed by {behind}")
        return existing

    def secret_scopes(self, host: DatabricksHost) -> list[SecretScope]:
        rows = self._sandbox.query(
            "SELECT * FROM secret_scopes WHERE workspace = ? ORDER BY name", (self._name(host),)
        )
        return [scope_of(row) for row in rows]

    def delete_secret_scope(self, host: DatabricksHost, name: str) -> bool:
        with self._sandbox.transaction() as conn:
            workspace = self._name(host, conn)
            return bool(
                conn.execute(
                    "DELETE FROM secret_scopes WHERE workspace = ? AND name = ?", (workspace, name)
                ).rowcount
            )

    def put_scope_secret(self, host: DatabricksHost, scope: str, key: str, value: str) -> None:
        """Write a secret into a Databricks-backed scope (`databricks secrets put`).

        Raises:
            NotFound: no such workspace or scope.
            TargetError: the scope is Key Vault-backed (write to the vault instead).
        """
        workspace, found = self._scope_of(host, scope)
        if found.backend == "AZURE_KEYVAULT":
            raise TargetError(
                f"secret scope {scope} is backed by a Key Vault: add the secret to the vault"
            )
        encrypted = self._sandbox.encrypt(value)
        with self._sandbox.transaction() as conn:
            conn.execute(
                "INSERT OR REPLACE INTO scope_secrets VALUES (?, ?, ?, ?)",
                (workspace, scope, key, encrypted),
            )

    def scope_secrets(self, host: DatabricksHost, scope: str) -> list[str]:
        workspace, found = self._scope_of(host, scope)
        if found.backend == "AZURE_KEYVAULT":
            return self._vault.list_secrets(self._vault.vault_by_id(found.vault_id).uri)
        rows = self._sandbox.query(
            "SELECT key FROM scope_secrets WHERE workspace = ? AND scope = ? ORDER BY key",
            (workspace, scope),
        )
        return [row["key"] for row in rows]

    def dbutils_secret(self, host: DatabricksHost, scope: str, key: str) -> str:
        """A secret's value as `dbutils.secrets.get` gives it to a notebook; not a port call
        (Databricks has none): only the local notebook runner's `dbutils` uses it."""
        workspace, found = self._scope_of(host, scope)
        if found.backend == "AZURE_KEYVAULT":
            vault = self._vault.vault_by_id(found.vault_id)
            try:
                return self._vault.get_secret(vault.uri, key)
            except NotFound:
                raise NotFound(f"secret {key} does not exist in scope {scope}") from None
        rows = self._sandbox.query(
            "SELECT value FROM scope_secrets WHERE workspace = ? AND scope = ? AND key = ?",
            (workspace, scope, key),
        )
        if not rows:
            raise NotFound(f"secret {key} does not exist in scope {scope}")
        return self._sandbox.decrypt(rows[0]["value"])
