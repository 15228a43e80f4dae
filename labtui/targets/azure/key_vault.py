"""Key Vaults over azure-mgmt-keyvault, and their secrets over azure-keyvault-secrets.

Vaults are made as the lab wants them: RBAC authorization (no access policies), soft delete
on with a 7-day window. A vault name is global and a soft-deleted vault keeps it: creating it
again is a `Conflict` that says how out (recover or purge it, or another name). Deleting a
vault deletes it and then purges it, so the name is free again; the purge is a long-running
operation whose token is announced (`labtui.targets.operations`).

Secrets are addressed by the vault's URI. One `SecretClient` per vault is shared by every
call, concurrent ones included (azure-keyvault-secrets >= 4.12 handles concurrent challenges),
and is warmed by one call when made, so a burst of calls meets Key Vault's 401 challenge once
and fetches one token. Key Vault's soft delete passes through states that the port's calls
wait out, boundedly: a deleted secret is *being deleted* for a while (a delete waits until it
is deleted-but-recoverable), a purge answers before the name is free (the purge waits until
the deleted secret is gone), a recovered secret takes a moment to read.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from typing import TYPE_CHECKING, Any
from urllib.parse import urlparse

from labtui.targets import operations
from labtui.targets.azure import pollers
from labtui.targets.azure.credentials import first_line
from labtui.targets.azure.mgmt import (
    BUSY,
    SDK_RETRIES,
    build,
    error_code,
    loopback,
    retry_after,
    status_of,
    translated,
)
from labtui.targets.errors import Conflict, NotFound, TargetError, Transient
from labtui.targets.ports.azure import Vault
from labtui.targets.resources import KEY_VAULTS, DeletedSecret, KeyVault, ResourceRef

if TYPE_CHECKING:
    from azure.core.credentials import TokenCredential

    from labtui.targets.azure.endpoints import Endpoints

SOFT_DELETE_DAYS = 7
PURGE = "purge-key-vault"
CREATE = "create-key-vault"
SETTLE_WAIT = 60.0
"""Seconds a secret may stay in a passing state (being deleted, purged, recovered)."""


def inner_code(error: BaseException) -> str:
    """Key Vault's inner error code (ObjectIsBeingDeleted …) of a failed response, or ""."""
    response = getattr(error, "response", None)
    try:
        body = response.json() if response is not None else None
    except (ValueError, AttributeError):
        return ""
    if isinstance(body, dict) and isinstance(body.get("error"), dict):
        inner = body["error"].get("innererror")
        if isinstance(inner, dict):
            return str(inner.get("code") or "")
    return ""


def vault_key(vault_uri: str) -> str:
    """The vault URI as one spelling (https://host[:port]/), whatever case it was given in.

    Raises:
        TargetError: the text is not a vault URI.
    """
    parsed = urlparse(vault_uri.strip())
    if parsed.scheme.lower() != "https" or not parsed.hostname or parsed.path.strip("/"):
        shown = " ".join(vault_uri.split())[:200]
        raise TargetError(f"{shown!r} is not a vault URI: secrets are addressed by the vault's "
                          "URI, like https://NAME.vault.azure.net/")
    port = f":{parsed.port}" if parsed.port else ""
    return f"https://{parsed.hostname.lower()}{port}/"


class AzureVault(Vault):
    """Key Vaults of the subscription and the secrets in them."""

    def __init__(self, credential: TokenCredential, subscription_id: str, tenant_id: str,
                 endpoints: Endpoints, ensure_providers: Callable[[], None]) -> None:
        from azure.mgmt.keyvault import KeyVaultManagementClient

        self._credential = credential
        self._subscription = subscription_id
        self._tenant = tenant_id
        self._endpoints = endpoints
        self._ensure_providers = ensure_providers
        self._client: Any = build(KeyVaultManagementClient, credential, subscription_id,
                                  endpoints)
        self._secrets: dict[str, Any] = {}
        self._lock = threading.Lock()
        self._pause = 0.01 if loopback(endpoints) else 1.0
        self.settle_wait = SETTLE_WAIT

    # -- vaults ----------------------------------------------------------------------------

    def _mine(self, ref: ResourceRef) -> bool:
        return ref.subscription.lower() == self._subscription.lower()

    def _vault(self, found: Any, ref: ResourceRef) -> KeyVault:
        made = ResourceRef(ref.subscription, ref.resource_group, KEY_VAULTS, ref.name)
        return KeyVault(made, found.location, str(found.properties.vault_uri))

    def _find(self, ref: ResourceRef) -> Any | None:
        if not self._mine(ref):
            return None
        try:
            with translated(f"key vault {ref.name} does not exist in {ref.resource_group}"):
                return self._client.vaults.get(ref.resource_group, ref.name)
        except NotFound:
            return None

    def create_vault(self, ref: ResourceRef, location: str) -> KeyVault:
        if not self._mine(ref):
            raise TargetError(f"key vault {ref.name}: subscription {ref.subscription} is not "
                              f"the target's ({self._subscription})")
        self._ensure_providers()
        existing = self._find(ref)
        if existing is not None:
            return self._vault(existing, ref)
        vaults = self._client.vaults
        deleted = self._deleted(ref.name, location)
        if deleted is not None:
            raise Conflict(
                f"key vault {ref.name} was deleted on {deleted} and is kept soft-deleted, "
                f"holding its name: purge it (`az keyvault purge --name {ref.name}`), recover "
                f"it (`az keyvault recover --name {ref.name}`), or choose another name")
        parameters = {"location": location, "properties": {
            "tenantId": self._tenant,
            "sku": {"family": "A", "name": "standard"},
            "enableRbacAuthorization": True,
            "enableSoftDelete": True,
            "softDeleteRetentionInDays": SOFT_DELETE_DAYS,
        }}
        what = f"creating key vault {ref.name} in {ref.resource_group}"
        try:
            with translated(what):
                poller = vaults.begin_create_or_update(ref.resource_group, ref.name,
                                                       parameters)
            made = pollers.wait(poller, ref.id, CREATE, what)
        except NotFound:
            raise NotFound(f"{what}: resource group {ref.resource_group} does not exist"
                           ) from None
        except TargetError as exc:
            text = str(exc)
            if "VaultAlreadyExists" in text:
                raise Conflict(f"key vault name {ref.name} is taken (vault names are global, "
                               "and it is in another resource group or subscription): choose "
                               "another name") from None
            if "ResourceGroupNotFound" in text:
                raise NotFound(f"{what}: resource group {ref.resource_group} does not exist"
                               ) from None
            raise
        return self._vault(made, ref)

    def _deleted(self, name: str, location: str) -> str | None:
        """When the soft-deleted vault `name` was deleted, or None if there is none."""
        try:
            with translated(f"reading deleted key vault {name}"):
                found = self._client.vaults.get_deleted(name, location.replace(" ", "").lower())
        except NotFound:
            return None
        date = getattr(found.properties, "deletion_date", None)
        return f"{date:%Y-%m-%d}" if date is not None else "an earlier day"

    def get_vault(self, ref: ResourceRef) -> KeyVault:
        found = self._find(ref)
        if found is None:
            raise NotFound(f"key vault {ref.name} does not exist in resource group "
                           f"{ref.resource_group}")
        return self._vault(found, ref)

    def delete_vault(self, ref: ResourceRef) -> bool:
        found = self._find(ref)
        if found is None:
            return False
        with translated(f"deleting key vault {ref.name}"):
            self._client.vaults.delete(ref.resource_group, ref.name)
        with self._lock:
            self._forget_client(str(found.properties.vault_uri))
        self._purge_vault(ref.name, found.location)
        return True

    def _purge_vault(self, name: str, location: str) -> None:
        what = f"purging deleted key vault {name}"
        try:
            with translated(what):
                poller = self._client.vaults.begin_purge_deleted(name, location)
        except NotFound:
            return  # purged already
        with suppress(NotFound):  # purged meanwhile
            pollers.wait(poller, f"/subscriptions/{self._subscription}/providers/"
                         f"Microsoft.KeyVault/locations/{location}/deletedVaults/{name}",
                         PURGE, what)

    def resume(self, operation: operations.StartedOperation) -> None:
        """Wait for a creation or a purge an earlier process started, from its continuation
        token, until it has ended either way."""
        vaults = self._client.vaults
        try:
            with translated(f"{operation.action} {operation.resource}"):
                if operation.action == CREATE:
                    vaults.begin_create_or_update(
                        None, None, None, continuation_token=operation.token).result()
                else:
                    vaults.begin_purge_deleted(
                        None, None, continuation_token=operation.token).result()
        except NotFound:
            return  # gone (purged, or its group deleted) meanwhile

    # -- secrets ---------------------------------------------------------------------------

    def _forget_client(self, vault_uri: str) -> None:
        client = self._secrets.pop(vault_key(vault_uri), None)
        if client is not None:
            client.close()

    def _secret_client(self, vault_uri: str) -> Any:
        """The vault's one shared SecretClient, made and warmed on first use."""
        from azure.keyvault.secrets import SecretClient

        key = vault_key(vault_uri)
        with self._lock:
            client = self._secrets.get(key)
            if client is not None:
                return client
            kwargs: dict[str, Any] = {
                "transport": self._endpoints.transport(),
                "retry_total": SDK_RETRIES,
                "retry_backoff_factor": 0.05 if loopback(self._endpoints) else 0.8,
            }
            if not urlparse(key).hostname or not str(urlparse(key).hostname).endswith(
                    (".vault.azure.net", ".vault.azure.cn", ".vault.usgovcloudapi.net",
                     ".vault.microsoftazure.de")):
                # The challenge names vault.azure.net, which a private host is not under.
                kwargs["verify_challenge_resource"] = False
            client = SecretClient(key, self._credential, **kwargs)
            # One call now: the 401 challenge and the token, before calls come at once.
            with self._secret_call(key, "reaching the vault"):
                next(iter(client.list_properties_of_secrets(max_page_size=1).by_page()))
            self._secrets[key] = client
            return client

    @contextmanager
    def _secret_call(self, vault_uri: str, what: str) -> Iterator[None]:
        from azure.core.exceptions import (
            HttpResponseError,
            ResourceNotFoundError,
            ServiceRequestError,
            ServiceResponseError,
        )

        where = f"{what} in vault {vault_uri}"
        try:
            yield
        except ResourceNotFoundError as exc:
            raise NotFound(f"{where}: {error_code(exc) or 'not found'}") from None
        except ServiceRequestError as exc:
            text = str(exc)
            if "Name or service not known" in text or "getaddrinfo" in text or (
                    "nodename nor servname" in text):
                raise NotFound(f"{where}: the vault does not exist") from None
            raise Transient(f"{where}: Key Vault did not answer ({first_line(exc)})") from None
        except ServiceResponseError as exc:
            raise Transient(f"{where}: Key Vault did not answer ({first_line(exc)})") from None
        except HttpResponseError as exc:
            status = status_of(exc)
            inner = inner_code(exc)
            if inner == "ObjectIsBeingDeleted":
                raise Transient(f"{where}: the secret is being deleted; try again in a few "
                                "seconds") from None
            if inner == "ObjectIsDeletedButRecoverable":
                raise Conflict(f"{where}: the secret is deleted but not purged; recover it or "
                               "purge it first") from None
            if status in BUSY:
                raise Transient(f"{where}: Key Vault is busy (HTTP {status}); try again",
                                retry_after=retry_after(exc)) from None
            code = error_code(exc) or str(status)
            raise TargetError(f"{where}: {code}") from None

    def _settle(self, check: Callable[[], bool], what: str) -> None:
        """Poll `check` until it is true, boundedly; Transient if the state lingers."""
        deadline = time.monotonic() + self.settle_wait
        while not check():
            if time.monotonic() > deadline:
                raise Transient(f"{what} for more than {self.settle_wait:.0f} s; try again")
            time.sleep(self._pause)

    def set_secret(self, vault_uri: str, name: str, value: str) -> None:
        client = self._secret_client(vault_uri)
        with self._secret_call(vault_uri, f"setting secret {name}"):
            client.set_secret(name, value)

    def get_secret(self, vault_uri: str, name: str) -> str:
        client = self._secret_client(vault_uri)
        with self._secret_call(vault_uri, f"secret {name} does not exist"):
            return str(client.get_secret(name).value)

    def list_secrets(self, vault_uri: str) -> list[str]:
        client = self._secret_client(vault_uri)
        with self._secret_call(vault_uri, "listing secrets"):
            return sorted(str(p.name) for p in client.list_properties_of_secrets())

    def _is_deleted(self, client: Any, vault_uri: str, name: str) -> bool:
        try:
            with self._secret_call(vault_uri, f"reading deleted secret {name}"):
                client.get_deleted_secret(name)
        except NotFound:
            return False
        return True

    def delete_secret(self, vault_uri: str, name: str) -> bool:
        client = self._secret_client(vault_uri)
        try:
            with self._secret_call(vault_uri, f"deleting secret {name}"):
                poller = client.begin_delete_secret(name, _polling_interval=self._pause)
        except NotFound:
            return False
        with self._secret_call(vault_uri, f"deleting secret {name}"):
            poller.wait()
        # Until it reads deleted (recoverable), the name is neither settable nor purgeable.
        self._settle(lambda: self._is_deleted(client, vault_uri, name),
                     f"secret {name} in vault {vault_uri} is being deleted")
        return True

    def list_deleted_secrets(self, vault_uri: str) -> list[DeletedSecret]:
        client = self._secret_client(vault_uri)
        with self._secret_call(vault_uri, "listing deleted secrets"):
            found = list(client.list_deleted_secrets())
        return sorted((DeletedSecret(str(d.name), d.deleted_date.timestamp()
                                     if d.deleted_date else 0.0) for d in found),
                      key=lambda d: d.name)

    def recover_deleted_secret(self, vault_uri: str, name: str) -> None:
        client = self._secret_client(vault_uri)
        with self._secret_call(vault_uri, f"deleted secret {name} does not exist"):
            client.begin_recover_deleted_secret(name, _polling_interval=self._pause).wait()

        def readable() -> bool:
            try:
                self.get_secret(vault_uri, name)
            except NotFound:
                return False
            return True

        self._settle(readable, f"secret {name} in vault {vault_uri} is being recovered")

    def purge_deleted_secret(self, vault_uri: str, name: str) -> bool:
        client = self._secret_client(vault_uri)
        deadline = time.monotonic() + self.settle_wait
        while True:
            try:
                with self._secret_call(vault_uri, f"purging secret {name}"):
                    client.purge_deleted_secret(name)
                break
            except NotFound:
                return False
            except Transient as exc:
                # Right after a delete the secret is still being deleted: purge it once it is.
                if "being deleted" not in str(exc) or time.monotonic() > deadline:
                    raise
                time.sleep(self._pause)
        # A purge answers at once with no completion signal: the name is free only once the
        # deleted secret is gone.
        self._settle(lambda: not self._is_deleted(client, vault_uri, name),
                     f"secret {name} in vault {vault_uri} is being purged")
        return True

    def close(self) -> None:
        with self._lock:
            clients, self._secrets = list(self._secrets.values()), {}
        for client in clients:
            client.close()
        self._client.close()
