"""The personal access token and secret routes (`token/*`, `secrets/*`) in the documented
shapes. Secret values never leave: `secrets/list` names keys only."""

from __future__ import annotations

import re
from typing import Any

from labtui.targets.local.databricks_api.errors import (
    ApiError,
    already_exists,
    invalid,
    not_found,
)
from labtui.targets.local.databricks_api.request import Request, RouteState, decoded, integer

SECRET_KEY = re.compile(r"[A-Za-z0-9_.-]{1,128}")


class SecretRoutes(RouteState):
    """Tokens, secret scopes (Databricks- or Key Vault-backed) and their secrets."""

    # --- tokens --------------------------------------------------------------------------

    def token_create(self, r: Request) -> dict[str, Any]:
        lifetime = r.get("lifetime_seconds")
        seconds = integer(lifetime, "lifetime_seconds") if lifetime is not None else 0
        token = self.databricks.create_token(r.workspace, str(r.get("comment") or ""),
                                             lifetime_seconds=seconds if seconds > 0 else None)
        return {"token_value": token.value, "token_info": _token_info(token)}

    def token_list(self, r: Request) -> dict[str, Any]:
        return {"token_infos": [_token_info(t) for t in self.databricks.tokens(r.workspace)]}

    def token_delete(self, r: Request) -> dict[str, Any]:
        token_id = str(r.arg("token_id"))
        if not self.databricks.delete_token(r.workspace, token_id):
            raise not_found(f"Token with id {token_id} does not exist.")
        return {}

    # --- secret scopes and secrets -------------------------------------------------------

    def scopes_list(self, r: Request) -> dict[str, Any]:
        scopes = []
        for scope in self.databricks.secret_scopes(r.workspace):
            entry: dict[str, Any] = {"name": scope.name, "backend_type": scope.backend}
            if scope.backend == "AZURE_KEYVAULT":
                entry["keyvault_metadata"] = {"resource_id": scope.vault_id,
                                              "dns_name": scope.vault_uri}
            scopes.append(entry)
        return {"scopes": scopes}

    def scopes_create(self, r: Request) -> dict[str, Any]:
        name = str(r.arg("scope"))
        backend = str(r.get("scope_backend_type") or "DATABRICKS").upper()
        if backend == "AZURE_KEYVAULT":
            return self._vault_scope(r, name)
        if backend != "DATABRICKS":
            raise invalid(f"Invalid scope_backend_type: {backend}")
        if not SECRET_KEY.fullmatch(name):
            raise invalid(f"Scope name {name!r} must consist of alphanumeric characters, "
                          "dashes, underscores, and periods, at most 128 characters")
        if any(s.name == name for s in self.databricks.secret_scopes(r.workspace)):
            raise already_exists(f"Scope {name} already exists!")
        self.databricks.create_secret_scope(r.workspace, name)
        return {}

    def _vault_scope(self, r: Request, name: str) -> dict[str, Any]:
        if not r.user_token:
            # A personal access token or a service principal's cannot make one: Azure
            # Databricks needs the user's Entra token (to act on the vault as that user).
            raise invalid("Scope with Azure KeyVault must have userAADToken defined!")
        meta = r.get("backend_azure_keyvault") or {}
        resource_id, dns_name = str(meta.get("resource_id") or ""), str(
            meta.get("dns_name") or "")
        if not resource_id or not dns_name:
            raise invalid("Missing required field: backend_azure_keyvault (resource_id and "
                          "dns_name)")
        if self.vault_exists is None or not self.vault_exists(resource_id):
            raise invalid(f"Azure KeyVault {resource_id} does not exist or is not accessible")
        if any(s.name == name for s in self.databricks.secret_scopes(r.workspace)):
            raise already_exists(f"Scope {name} already exists!")
        self.databricks.link_vault_scope(r.workspace, name, dns_name, resource_id)
        return {}

    def scopes_delete(self, r: Request) -> dict[str, Any]:
        name = str(r.arg("scope"))
        if not self.databricks.delete_secret_scope(r.workspace, name):
            raise not_found(f"Scope {name} does not exist!")
        return {}

    def _scope_exists(self, r: Request, name: str) -> None:
        if not any(s.name == name for s in self.databricks.secret_scopes(r.workspace)):
            raise not_found(f"Scope {name} does not exist!")

    def secrets_list(self, r: Request) -> dict[str, Any]:
        name = str(r.arg("scope"))
        self._scope_exists(r, name)
        # The sandbox keeps no time of writing, so last_updated_timestamp is left out (the
        # API makes it optional; the legacy CLI prints "Not Available").
        scope = next(s for s in self.databricks.secret_scopes(r.workspace) if s.name == name)
        if scope.backend == "AZURE_KEYVAULT" and self.vault_secret_names is not None:
            keys = sorted(self.vault_secret_names(scope.vault_id))
        else:
            keys = self.databricks.scope_secrets(r.workspace, name)
        return {"secrets": [{"key": key} for key in keys]}

    def secrets_put(self, r: Request) -> dict[str, Any]:
        name, key = str(r.arg("scope")), str(r.arg("key"))
        self._scope_exists(r, name)
        scope = next(s for s in self.databricks.secret_scopes(r.workspace) if s.name == name)
        if scope.backend == "AZURE_KEYVAULT":
            raise ApiError(400, "BAD_REQUEST",
                           f"Cannot write secrets to Azure KeyVault-backed scope {name}")
        if not SECRET_KEY.fullmatch(key):
            raise invalid(f"Secret key {key!r} must consist of alphanumeric characters, "
                          "dashes, underscores, and periods, at most 128 characters")
        if r.get("string_value") is not None:
            value = str(r.body["string_value"])
        elif r.get("bytes_value") is not None:
            value = decoded(str(r.body["bytes_value"]), "bytes_value").decode("utf-8", "replace")
        else:
            raise invalid("Missing required field: string_value or bytes_value")
        self.databricks.put_scope_secret(r.workspace, name, key, value)
        return {}


def _token_info(token: Any) -> dict[str, Any]:
    return {"token_id": token.token_id, "comment": token.comment,
            "creation_time": int(token.created * 1000),
            "expiry_time": int(token.expires * 1000) if token.expires else -1}
