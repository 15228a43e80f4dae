"""Storage's management plane: Microsoft.Storage/storageAccounts and name availability.

- `POST …/providers/Microsoft.Storage/checkNameAvailability`: AccountNameInvalid (3 to 24
  lower-case letters and digits) or AlreadyExists (here, or `taken_elsewhere`: names are global);
- `PUT …/storageAccounts/{name}` answers 202 with `Location` (as the real service does, no
  body), polled through `lro` until the account exists (`create_polls` reads), then 200 with the
  account; a PUT of an existing account answers 200 at once; a name taken elsewhere is 409
  StorageAccountAlreadyTaken; a DELETE while the account is still being created is 409
  StorageAccountOperationInProgress;
- the account keeps `kind`, `sku`, `isHnsEnabled`, `accessTier` (Hot by default for StorageV2),
  and its `primaryEndpoints` point at the data lake host (`datalake`), path-style:
  `https://127.0.0.1:<port>/<account>/`, which is how the storage SDKs address a 127.0.0.1 host.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass, field
from typing import Any

from .arm import GROUP, SUB, FakeArm
from .datalake import FakeDataLake
from .server import FakeAzure, Request, Response, error

NAMESPACE = "Microsoft.Storage"
ACCOUNT = GROUP + r"/providers/Microsoft\.Storage/storageAccounts/(?P<name>[^/]+)"
NAME_RULE = re.compile(r"^[a-z0-9]{3,24}$")
KINDS = {"Storage", "StorageV2", "BlobStorage", "BlockBlobStorage", "FileStorage"}


@dataclass
class Account:
    name: str
    group: str
    body: dict[str, Any]
    state: str = "Creating"


@dataclass
class FakeStorage:
    fake: FakeAzure
    arm: FakeArm
    datalake: FakeDataLake
    create_polls: int = 2
    taken_elsewhere: set[str] = field(default_factory=set)
    accounts: dict[str, Account] = field(default_factory=dict)

    def __post_init__(self) -> None:
        g = self.arm.guard
        self.fake.route("PUT", ACCOUNT, g(self._put))
        self.fake.route("GET", ACCOUNT, g(self._get))
        self.fake.route("DELETE", ACCOUNT, g(self._delete))
        self.fake.route("GET", GROUP + r"/providers/Microsoft\.Storage/storageAccounts",
                        g(self._list))
        self.fake.route("POST", SUB + r"/providers/Microsoft\.Storage/checkNameAvailability",
                        g(self._check_name))
        self.arm.group_deleted_hooks.append(self._group_deleted)

    def _invalid(self, name: str) -> str:
        return (f"{name} is not a valid storage account name. Storage account name must be "
                "between 3 and 24 characters in length and use numbers and lower-case letters "
                "only.")

    def _check_name(self, request: Request, match: re.Match[str]) -> Response:
        name = str((request.json() or {}).get("name", ""))
        if not NAME_RULE.match(name):
            return Response(200, {"nameAvailable": False, "reason": "AccountNameInvalid",
                                  "message": self._invalid(name)})
        if name in self.accounts or name in self.taken_elsewhere:
            return Response(200, {"nameAvailable": False, "reason": "AlreadyExists",
                                  "message": f"The storage account named {name} is already "
                                             "taken."})
        return Response(200, {"nameAvailable": True})

    def _put(self, request: Request, match: re.Match[str]) -> Response:
        name, group = match["name"], match["group"]
        refused = self.arm.check_group(group) or self.arm.check_registered(NAMESPACE)
        if refused is not None:
            return refused
        if not NAME_RULE.match(name):
            return error(400, "AccountNameInvalid", self._invalid(name))
        if name in self.taken_elsewhere:
            return error(409, "StorageAccountAlreadyTaken",
                         f"The storage account named {name} is already taken.")
        existing = self.accounts.get(name)
        if existing is not None and existing.group.lower() != group.lower():
            return error(409, "StorageAccountAlreadyTaken",
                         f"The storage account named {name} is already taken.")
        body = request.json() or {}
        kind, sku = body.get("kind"), (body.get("sku") or {}).get("name")
        if kind not in KINDS or not sku or not body.get("location"):
            return error(400, "InvalidRequestContent",
                         "The request content is invalid: kind, sku.name and location are "
                         "required.")
        props = dict(body.get("properties") or {})
        if props.get("isHnsEnabled") and kind not in ("StorageV2", "BlockBlobStorage"):
            return error(400, "InvalidRequestPropertyValue",
                         "Hierarchical namespace is supported only on StorageV2 and "
                         "BlockBlobStorage accounts.")
        if existing is not None:
            return Response(200, existing.body)
        if kind in ("StorageV2", "BlobStorage"):
            props.setdefault("accessTier", "Hot")
        endpoint = f"{self.datalake.server.url}/{name}/"
        props.update({
            "isHnsEnabled": bool(props.get("isHnsEnabled")),
            "provisioningState": "Succeeded",
            "creationTime": time.strftime("%Y-%m-%dT%H:%M:%S.0000000Z", time.gmtime()),
            "primaryEndpoints": {"blob": endpoint, "dfs": endpoint},
            "primaryLocation": body["location"],
            "statusOfPrimary": "available",
            "supportsHttpsTrafficOnly": True,
        })
        account = Account(name, group, {
            "id": f"/subscriptions/{self.arm.subscription_id}/resourceGroups/{group}/providers/"
                  f"{NAMESPACE}/storageAccounts/{name}",
            "name": name,
            "type": f"{NAMESPACE}/storageAccounts",
            "location": body["location"],
            "kind": kind,
            "sku": {"name": sku, "tier": sku.split("_")[0]},
            "tags": body.get("tags") or {},
            "properties": props,
        })
        self.accounts[name] = account

        def created() -> dict[str, Any]:
            account.state = "Succeeded"
            self.datalake.add_account(name, hns=bool(props["isHnsEnabled"]))
            return account.body

        op = self.arm.operations.start(self.create_polls, created)
        headers = self.arm.operations.headers(op, self.arm.subscription_id, NAMESPACE,
                                              async_operation=False, location=True)
        return Response(202, None, headers)

    def _live(self, match: re.Match[str]) -> Account | None:
        account = self.accounts.get(match["name"])
        if account is None or account.group.lower() != match["group"].lower():
            return None
        return account

    def _get(self, request: Request, match: re.Match[str]) -> Response:
        account = self._live(match)
        if account is None or account.state != "Succeeded":
            return error(404, "ResourceNotFound",
                         f"The Resource '{NAMESPACE}/storageAccounts/{match['name']}' under "
                         f"resource group '{match['group']}' was not found.")
        return Response(200, account.body)

    def _delete(self, request: Request, match: re.Match[str]) -> Response:
        account = self._live(match)
        if account is None:
            return Response(204)
        if account.state != "Succeeded":
            return error(409, "StorageAccountOperationInProgress",
                         "An operation is currently performing on this storage account that "
                         "requires exclusive access.")
        self.accounts.pop(account.name)
        self.datalake.remove_account(account.name)
        return Response(200)

    def _group_deleted(self, group: str) -> None:
        for account in [a for a in self.accounts.values() if a.group.lower() == group.lower()]:
            self.accounts.pop(account.name)
            self.datalake.remove_account(account.name)

    def _list(self, request: Request, match: re.Match[str]) -> Response:
        group = match["group"].lower()
        value = [a.body for a in self.accounts.values()
                 if a.group.lower() == group and a.state == "Succeeded"]
        return Response(200, {"value": value})
