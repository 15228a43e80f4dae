"""Azure Databricks secret scopes over databricks-sdk (`secrets`). A Key Vault-backed scope
can be made only with a Microsoft Entra *user's* token (not a personal access token, not a
service principal's), and is read-only: its secrets are the vault's."""

from __future__ import annotations

from typing import Any, Literal

from labtui.targets.azure.account import token_claims
from labtui.targets.azure.databricks.plane import DATABRICKS_SCOPE, AzureDatabricksPlane, text
from labtui.targets.errors import Conflict, TargetError
from labtui.targets.resources import DatabricksHost, KeyVault, SecretScope

USER_TOKEN_NEEDED = (
    "a Key Vault-backed secret scope can be made only with a Microsoft Entra user's token, "
    "not a service principal's or a personal access token: sign in as a user "
    "(--azure-credential cli after `az login`, or device-code) for this step")


class AzureScopes(AzureDatabricksPlane):
    """Create, list and delete secret scopes; list the names a scope shows."""

    def create_secret_scope(self, host: DatabricksHost, name: str, *,
                            vault: KeyVault | None = None) -> SecretScope:
        from databricks.sdk.service.workspace import (
            AzureKeyVaultSecretScopeMetadata,
            ScopeBackendType,
        )

        what = f"secret scope {name} of Databricks workspace {host.workspace_id}"
        existing = {s.name: s for s in self.secret_scopes(host)}
        wanted = SecretScope(name, "AZURE_KEYVAULT" if vault else "DATABRICKS",
                             vault.uri if vault else "", vault.id if vault else "")
        if name in existing:
            has = existing[name]
            if (has.backend, has.vault_id.lower()) != (wanted.backend, wanted.vault_id.lower()):
                shown = has.vault_id or has.backend
                raise Conflict(f"{what} exists backed by {shown} "
                               f"(not {wanted.vault_id or wanted.backend})")
            return has
        kwargs: dict[str, Any] = {}
        if vault is not None:
            if not self._signed_in_as_user():
                raise TargetError(f"{what}: {USER_TOKEN_NEEDED}")
            kwargs = {"scope_backend_type": ScopeBackendType.AZURE_KEYVAULT,
                      "backend_azure_keyvault": AzureKeyVaultSecretScopeMetadata(
                          resource_id=vault.id, dns_name=vault.uri)}
        w = self._client(host)
        with self._sdk(what):
            w.secrets.create_scope(name, **kwargs)
        return wanted

    def _signed_in_as_user(self) -> bool:
        token = self.credential.get_token(DATABRICKS_SCOPE).token
        claims = token_claims(token)
        return claims.get("idtyp") == "user" or bool(claims.get("upn") or claims.get("scp"))

    def secret_scopes(self, host: DatabricksHost) -> list[SecretScope]:
        w = self._client(host)
        with self._sdk(f"Databricks workspace {host.workspace_id}"):
            scopes = list(w.secrets.list_scopes())
        found = []
        for scope in scopes:
            meta = scope.keyvault_metadata
            backend: Literal["DATABRICKS", "AZURE_KEYVAULT"] = (
                "AZURE_KEYVAULT" if text(scope.backend_type) == "AZURE_KEYVAULT"
                else "DATABRICKS")
            found.append(SecretScope(str(scope.name), backend,
                                     str(meta.dns_name or "") if meta else "",
                                     str(meta.resource_id or "") if meta else ""))
        return sorted(found, key=lambda s: s.name)

    def delete_secret_scope(self, host: DatabricksHost, name: str) -> bool:
        if name not in {s.name for s in self.secret_scopes(host)}:
            return False
        w = self._client(host)
        with self._sdk(f"secret scope {name} of Databricks workspace {host.workspace_id}"):
            w.secrets.delete_scope(name)
        return True

    def scope_secrets(self, host: DatabricksHost, scope: str) -> list[str]:
        w = self._client(host)
        with self._sdk(f"secret scope {scope} of Databricks workspace {host.workspace_id}"):
            return sorted(str(s.key) for s in w.secrets.list_secrets(scope))
