"""Key Vault's management plane: Microsoft.KeyVault/vaults, soft delete and purge.

Faithful to what the lab meets on a real subscription:
- vault names are global: `checkNameAvailability` says AlreadyExists for a live vault, a
  soft-deleted one, or one `taken_elsewhere` (another tenant's); a PUT of a name taken elsewhere
  is 409 VaultAlreadyExists;
- `PUT` answers 201 with `provisioningState: RegisteringDns`; the SDK polls the vault itself
  until `Succeeded` (`create_polls` reads);
- `DELETE` soft-deletes: the vault is listed under `deletedVaults` (per location) until purged
  or its retention ends; a PUT of the same name is then 409 ConflictError "A vault with the same
  name already exists in deleted state…", unless `createMode: recover`;
- `POST …/deletedVaults/{name}/purge` is an LRO (202 + Location); deleting a resource group
  soft-deletes its vaults.
Each vault's data plane (secrets) is its own HTTPS host: see `keyvault_secrets`.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .arm import GROUP, SUB, FakeArm
from .keyvault_secrets import FakeVaultData
from .server import FakeAzure, Request, Response, error

NAMESPACE = "Microsoft.KeyVault"
VAULT = GROUP + r"/providers/Microsoft\.KeyVault/vaults/(?P<name>[^/]+)"
DELETED = SUB + (
    r"/providers/Microsoft\.KeyVault/locations/(?P<loc>[^/]+)/deletedVaults/(?P<name>[^/]+)"
)
NAME_RULE = re.compile(r"^[A-Za-z](?!.*--)[A-Za-z0-9-]{1,22}[A-Za-z0-9]$")
SOFT_DELETED_CONFLICT = (
    "A vault with the same name already exists in deleted state. You need to either recover or "
    "purge existing key vault. Follow this link https://go.microsoft.com/fwlink/?linkid=2149745 "
    "for more information on soft delete."
)


@dataclass
class Vault:
    name: str
    group: str
    location: str
    tags: dict[str, str]
    properties: dict[str, Any]
    data: FakeVaultData
    state: str = "RegisteringDns"
    reads: int = 0
    deleted_at: float | None = None

    def body(self, sub: str) -> dict[str, Any]:
        props = {**self.properties, "provisioningState": self.state,
                 "vaultUri": f"{self.data.server.url}/"}
        return {
            "id": f"/subscriptions/{sub}/resourceGroups/{self.group}/providers/{NAMESPACE}/vaults/"
                  f"{self.name}",
            "name": self.name,
            "type": f"{NAMESPACE}/vaults",
            "location": self.location,
            "tags": self.tags,
            "properties": props,
        }

    def deleted_body(self, sub: str) -> dict[str, Any]:
        assert self.deleted_at is not None
        days = int(self.properties.get("softDeleteRetentionInDays", 90))
        return {
            "id": f"/subscriptions/{sub}/providers/{NAMESPACE}/locations/{self.location}/"
                  f"deletedVaults/{self.name}",
            "name": self.name,
            "type": f"{NAMESPACE}/deletedVaults",
            "properties": {
                "vaultId": self.body(sub)["id"],
                "location": self.location,
                "deletionDate": _iso(self.deleted_at),
                "scheduledPurgeDate": _iso(self.deleted_at + days * 86400),
                "tags": self.tags,
                "purgeProtectionEnabled": bool(self.properties.get("enablePurgeProtection")),
            },
        }


@dataclass
class FakeKeyVault:
    fake: FakeAzure
    arm: FakeArm
    tmp: Path
    create_polls: int = 1
    purge_polls: int = 2
    taken_elsewhere: set[str] = field(default_factory=set)
    vaults: dict[str, Vault] = field(default_factory=dict)  # lower-cased name → live vault
    deleted: dict[str, Vault] = field(default_factory=dict)  # lower-cased name → soft-deleted
    hosts: list[FakeVaultData] = field(default_factory=list)

    def __post_init__(self) -> None:
        g = self.arm.guard
        self.fake.route("PUT", VAULT, g(self._put))
        self.fake.route("GET", VAULT, g(self._get))
        self.fake.route("DELETE", VAULT, g(self._delete))
        self.fake.route("GET", GROUP + r"/providers/Microsoft\.KeyVault/vaults", g(self._list))
        self.fake.route("GET", SUB + r"/providers/Microsoft\.KeyVault/deletedVaults",
                        g(self._list_deleted))
        self.fake.route("GET", DELETED, g(self._get_deleted))
        self.fake.route("POST", DELETED + "/purge", g(self._purge))
        self.fake.route("POST", SUB + r"/providers/Microsoft\.KeyVault/checkNameAvailability",
                        g(self._check_name))
        self.arm.group_deleted_hooks.append(self._group_deleted)

    def stop(self) -> None:
        for host in self.hosts:
            host.server.stop()

    def data_plane(self, name: str) -> FakeVaultData:
        """The secrets host of the live vault `name` (its faults, its log)."""
        return self.vaults[name.lower()].data

    # --- handlers -------------------------------------------------------------------------

    def _put(self, request: Request, match: re.Match[str]) -> Response:
        name, group = match["name"], match["group"]
        refused = self.arm.check_group(group) or self.arm.check_registered(NAMESPACE)
        if refused is not None:
            return refused
        if not NAME_RULE.match(name):
            return error(400, "VaultNameNotValid",
                         f"The vault name '{name}' is invalid. A vault's name must be between "
                         "3-24 alphanumeric characters. The name must begin with a letter, end "
                         "with a letter or digit, and not contain consecutive hyphens.")
        body = request.json() or {}
        props = dict(body.get("properties") or {})
        key = name.lower()
        if key in self.taken_elsewhere:
            return error(409, "VaultAlreadyExists",
                         f"The vault name '{name}' is already in use. Vault names are globally "
                         "unique so it is possible that the name is already taken.")
        create_mode = str(props.pop("createMode", "default")).lower()
        if key in self.deleted:
            if create_mode != "recover":
                return error(409, "ConflictError", SOFT_DELETED_CONFLICT)
            vault = self.deleted.pop(key)
            vault.group, vault.deleted_at, vault.state = group, None, "Succeeded"
            self.vaults[key] = vault
            return Response(200, vault.body(self.arm.subscription_id))
        if create_mode == "recover":
            return error(400, "SoftDeletedVaultDoesNotExist",
                         f"A soft deleted vault with the given name '{name}' does not exist. "
                         "Ensure that the name for the vault that is being attempted to recover is "
                         "in a recoverable state.")
        existing = self.vaults.get(key)
        if existing is not None and existing.group.lower() != group.lower():
            return error(409, "VaultAlreadyExists",
                         f"The vault name '{name}' is already in use.")
        if "tenantId" not in props or "sku" not in props:
            return error(400, "BadRequest", "The properties tenantId and sku are required.")
        props.setdefault("enableSoftDelete", True)
        props.setdefault("softDeleteRetentionInDays", 90)
        props.setdefault("accessPolicies", [])
        if existing is not None:
            existing.properties.update(props)
            existing.tags = body.get("tags") or existing.tags
            return Response(200, existing.body(self.arm.subscription_id))
        host = FakeVaultData.start(self.tmp, self.fake.ca, self.arm.entra)
        self.hosts.append(host)
        vault = Vault(name, group, body.get("location", ""), body.get("tags") or {}, props, host)
        if self.create_polls <= 0:
            vault.state = "Succeeded"
        self.vaults[key] = vault
        return Response(201, vault.body(self.arm.subscription_id))

    def _live(self, match: re.Match[str]) -> Vault | None:
        vault = self.vaults.get(match["name"].lower())
        if vault is None or vault.group.lower() != match["group"].lower():
            return None
        return vault

    def _not_found(self, match: re.Match[str]) -> Response:
        return error(404, "ResourceNotFound",
                     f"The Resource '{NAMESPACE}/vaults/{match['name']}' under resource group "
                     f"'{match['group']}' was not found.")

    def _get(self, request: Request, match: re.Match[str]) -> Response:
        vault = self._live(match)
        if vault is None:
            return self._not_found(match)
        if vault.state == "RegisteringDns":
            vault.reads += 1
            if vault.reads >= self.create_polls:
                vault.state = "Succeeded"
        return Response(200, vault.body(self.arm.subscription_id))

    def _delete(self, request: Request, match: re.Match[str]) -> Response:
        vault = self._live(match)
        if vault is None:
            return Response(204)
        self._soft_delete(vault)
        return Response(200)

    def _soft_delete(self, vault: Vault) -> None:
        self.vaults.pop(vault.name.lower(), None)
        vault.deleted_at = time.time()
        self.deleted[vault.name.lower()] = vault

    def _group_deleted(self, group: str) -> None:
        for vault in [v for v in self.vaults.values() if v.group.lower() == group.lower()]:
            self._soft_delete(vault)

    def _list(self, request: Request, match: re.Match[str]) -> Response:
        sub, group = self.arm.subscription_id, match["group"].lower()
        value = [v.body(sub) for v in self.vaults.values() if v.group.lower() == group]
        return Response(200, {"value": value})

    def _list_deleted(self, request: Request, match: re.Match[str]) -> Response:
        sub = self.arm.subscription_id
        return Response(200, {"value": [v.deleted_body(sub) for v in self.deleted.values()]})

    def _deleted(self, match: re.Match[str]) -> Vault | None:
        vault = self.deleted.get(match["name"].lower())
        if vault is None or vault.location.lower() != match["loc"].lower():
            return None
        return vault

    def _deleted_missing(self, match: re.Match[str]) -> Response:
        return error(404, "ResourceNotFound",
                     f"The Resource '{NAMESPACE}/deletedVaults/{match['name']}' under resource "
                     "group '<null>' was not found.")

    def _get_deleted(self, request: Request, match: re.Match[str]) -> Response:
        vault = self._deleted(match)
        if vault is None:
            return self._deleted_missing(match)
        return Response(200, vault.deleted_body(self.arm.subscription_id))

    def _purge(self, request: Request, match: re.Match[str]) -> Response:
        vault = self._deleted(match)
        if vault is None:
            return self._deleted_missing(match)
        if vault.properties.get("enablePurgeProtection"):
            return error(409, "ConflictError",
                         f"The vault '{vault.name}' has purge protection enabled and cannot be "
                         "purged before its scheduled purge date.")

        def purged() -> None:
            with self.arm.lock:
                self.deleted.pop(vault.name.lower(), None)

        op = self.arm.operations.start(self.purge_polls, purged)
        sub = self.arm.subscription_id
        headers = self.arm.operations.headers(op, sub, NAMESPACE, async_operation=False,
                                              location=True)
        return Response(202, None, headers)

    def _check_name(self, request: Request, match: re.Match[str]) -> Response:
        name = str((request.json() or {}).get("name", ""))
        if not NAME_RULE.match(name):
            return Response(200, {"nameAvailable": False, "reason": "AccountNameInvalid",
                                  "message": f"Vault name '{name}' is invalid."})
        key = name.lower()
        if key in self.vaults or key in self.deleted or key in self.taken_elsewhere:
            return Response(200, {
                "nameAvailable": False,
                "reason": "AlreadyExists",
                "message": f"The vault name '{name}' is already in use. Vault names are globally "
                           "unique so it is possible that the name is already taken. If you are "
                           "sure that the vault name was not taken then it is possible that a "
                           "vault with the same name was recently deleted but not purged after "
                           "being placed in a recoverable state.",
            })
        return Response(200, {"nameAvailable": True})


def _iso(seconds: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(seconds))
