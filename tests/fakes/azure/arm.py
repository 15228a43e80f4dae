"""Azure Resource Manager: the subscription, its resource groups and its resource providers.

What the fake keeps faithful, because the SDK or the Azure target depends on it:
- `GET /subscriptions/{id}` answers the subscription (its display name, tenant and state);
  another id is 404 SubscriptionNotFound, as for a subscription the caller cannot see;
- every call needs a bearer token for https://management.azure.com and an `api-version`
  (400 MissingApiVersionParameter without one), and names compare case-insensitively;
- `PUT …/resourcegroups/{name}` answers 201 the first time and 200 after; `DELETE` answers 202
  with `Location` (polled through `lro`), the group reads `Deleting` until the operation ends,
  then its resources go (each provider's `on_group_deleted`) and it is 404 ResourceGroupNotFound;
- `POST …/providers/{ns}/register` turns NotRegistered into Registering, and the provider reads
  Registered after `registration_polls` more reads; a provider with `require_registration` on
  refuses its resources with 409 MissingSubscriptionRegistration until then.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from .identity import FakeEntra
from .lro import Operation, Operations
from .server import FakeAzure, Request, Response, error

MANAGEMENT = "https://management.azure.com"
SUB = r"/subscriptions/(?P<sub>[^/]+)"
GROUP = SUB + r"/resourcegroups/(?P<group>[^/]+)"

LAB_PROVIDERS = (
    "Microsoft.KeyVault",
    "Microsoft.Storage",
    "Microsoft.Databricks",
    "Microsoft.MachineLearningServices",
    "Microsoft.ContainerRegistry",
)


@dataclass
class Group:
    name: str
    location: str
    tags: dict[str, str]
    state: str = "Succeeded"
    deletion: Operation | None = None
    managed_by: str | None = None  # the resource that owns a managed resource group

    def body(self, sub: str) -> dict[str, Any]:
        body: dict[str, Any] = {
            "id": f"/subscriptions/{sub}/resourceGroups/{self.name}",
            "name": self.name,
            "type": "Microsoft.Resources/resourceGroups",
            "location": self.location,
            "tags": self.tags,
            "properties": {"provisioningState": self.state},
        }
        if self.managed_by:
            body["managedBy"] = self.managed_by
        return body


@dataclass
class FakeArm:
    fake: FakeAzure
    entra: FakeEntra
    subscription_id: str
    operations: Operations
    subscription_name: str = "Contoso Lab Subscription"
    subscription_state: str = "Enabled"
    delete_polls: int = 2
    registration_polls: int = 2
    require_registration: bool = False
    groups: dict[str, Group] = field(default_factory=dict)  # lower-cased name → group
    providers: dict[str, str] = field(default_factory=dict)  # namespace → registrationState
    group_deleted_hooks: list[Callable[[str], None]] = field(default_factory=list)
    lock: threading.RLock = field(default_factory=threading.RLock)
    _registering: dict[str, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for ns in LAB_PROVIDERS:
            self.providers.setdefault(ns, "NotRegistered")
        self.providers["Microsoft.Resources"] = "Registered"
        route = self.fake.route
        route("GET", SUB, self.guard(self._get_subscription))
        route("PUT", GROUP, self.guard(self._put_group))
        route("GET", GROUP, self.guard(self._get_group))
        route("HEAD", GROUP, self.guard(self._head_group))
        route("DELETE", GROUP, self.guard(self._delete_group))
        route("GET", SUB + r"/resourcegroups", self.guard(self._list_groups))
        route("GET", SUB + r"/providers/(?P<ns>[^/]+)", self.guard(self._get_provider))
        route("POST", SUB + r"/providers/(?P<ns>[^/]+)/register", self.guard(self._register))

    # --- what every ARM call goes through -------------------------------------------------

    def guard(self, handler: Callable[[Request, re.Match[str]], Response]) -> Callable[
        [Request, re.Match[str]], Response
    ]:
        """ARM's front door: the token's audience, the api-version, the subscription."""

        def guarded(request: Request, match: re.Match[str]) -> Response:
            audience = self.entra.audience_of(request)
            if audience is None:
                return error(
                    401,
                    "AuthenticationFailed",
                    "Authentication failed. The 'Authorization' header is missing or invalid.",
                    **{"WWW-Authenticate": 'Bearer authorization_uri="https://login.windows.net/", '
                       'error="invalid_token"'},
                )
            # A private cloud's ARM (Azure Stack, these fakes) also takes tokens minted for its
            # own endpoint, which is the scope azure-ai-ml asks for in a custom cloud.
            if audience.rstrip("/") not in (MANAGEMENT, self.fake.url):
                return error(401, "InvalidAuthenticationTokenAudience",
                             "The access token has been obtained for wrong audience or resource "
                             f"'{audience}'.")
            if not request.query.get("api-version"):
                return error(400, "MissingApiVersionParameter",
                             "The api-version query parameter (?api-version=) is required for "
                             "all requests.")
            if match["sub"].lower() != self.subscription_id.lower():
                return error(404, "SubscriptionNotFound",
                             f"The subscription '{match['sub']}' could not be found.")
            with self.lock:
                return handler(request, match)

        return guarded

    def group(self, name: str) -> Group | None:
        with self.lock:
            return self.groups.get(name.lower())

    def group_missing(self, name: str) -> Response:
        return error(404, "ResourceGroupNotFound", f"Resource group '{name}' could not be found.")

    def check_group(self, name: str) -> Response | None:
        """The error a resource call meets when its group is absent or being deleted."""
        group = self.group(name)
        if group is None:
            return self.group_missing(name)
        if group.state == "Deleting":
            return error(409, "ResourceGroupBeingDeleted",
                         f"The resource group '{group.name}' is in deprovisioning state and "
                         "cannot perform this operation.")
        return None

    def check_registered(self, namespace: str) -> Response | None:
        if self.require_registration and self.providers.get(namespace) != "Registered":
            return error(409, "MissingSubscriptionRegistration",
                         f"The subscription is not registered to use namespace '{namespace}'. "
                         "See https://aka.ms/rps-not-found for how to register subscriptions.")
        return None

    # --- the subscription -----------------------------------------------------------------

    def _get_subscription(self, request: Request, match: re.Match[str]) -> Response:
        return Response(200, {
            "id": f"/subscriptions/{self.subscription_id}",
            "subscriptionId": self.subscription_id,
            "tenantId": self.entra.tenant_id,
            "displayName": self.subscription_name,
            "state": self.subscription_state,
            "subscriptionPolicies": {"locationPlacementId": "Public_2014-09-01",
                                     "quotaId": "PayAsYouGo_2014-09-01", "spendingLimit": "Off"},
            "authorizationSource": "RoleBased",
        })

    # --- resource groups ------------------------------------------------------------------

    def _put_group(self, request: Request, match: re.Match[str]) -> Response:
        name = match["group"]
        body = request.json() or {}
        if not body.get("location"):
            return error(400, "LocationRequired", "The location property is required for this "
                         "definition.")
        existing = self.groups.get(name.lower())
        if existing is not None and existing.state == "Deleting":
            return error(409, "ResourceGroupBeingDeleted",
                         f"The resource group '{existing.name}' is in deprovisioning state and "
                         "cannot perform this operation.")
        if existing is not None:
            if existing.location.lower() != body["location"].lower():
                return error(409, "InvalidResourceGroupLocation",
                             f"Invalid resource group location '{body['location']}'. The Resource "
                             f"group already exists in location '{existing.location}'.")
            existing.tags = body.get("tags") or {}
            return Response(200, existing.body(self.subscription_id))
        group = Group(name, body["location"], body.get("tags") or {})
        self.groups[name.lower()] = group
        return Response(201, group.body(self.subscription_id))

    def _get_group(self, request: Request, match: re.Match[str]) -> Response:
        group = self.groups.get(match["group"].lower())
        if group is None:
            return self.group_missing(match["group"])
        return Response(200, group.body(self.subscription_id))

    def _head_group(self, request: Request, match: re.Match[str]) -> Response:
        return Response(204 if match["group"].lower() in self.groups else 404)

    def _list_groups(self, request: Request, match: re.Match[str]) -> Response:
        groups = [g.body(self.subscription_id) for g in self.groups.values()]
        return Response(200, {"value": groups})

    def _delete_group(self, request: Request, match: re.Match[str]) -> Response:
        group = self.groups.get(match["group"].lower())
        if group is None:
            return self.group_missing(match["group"])
        if group.deletion is None:
            group.state = "Deleting"
            group.deletion = self.operations.start(self.delete_polls, lambda: self._gone(group))
        op = group.deletion
        headers = self.operations.headers(
            op, self.subscription_id, "Microsoft.Resources", async_operation=False, location=True
        )
        return Response(202, None, headers)

    def _gone(self, group: Group) -> None:
        with self.lock:
            self.groups.pop(group.name.lower(), None)
            for hook in self.group_deleted_hooks:
                hook(group.name)

    # --- resource providers ---------------------------------------------------------------

    def _provider_body(self, ns: str) -> dict[str, Any]:
        return {
            "id": f"/subscriptions/{self.subscription_id}/providers/{ns}",
            "namespace": ns,
            "registrationState": self.providers[ns],
            "resourceTypes": [],
        }

    def _known(self, ns: str) -> str | None:
        return next((k for k in self.providers if k.lower() == ns.lower()), None)

    def _get_provider(self, request: Request, match: re.Match[str]) -> Response:
        ns = self._known(match["ns"])
        if ns is None:
            return error(404, "InvalidResourceNamespace",
                         f"The resource namespace '{match['ns']}' is invalid.")
        if self.providers[ns] == "Registering":
            self._registering[ns] -= 1
            if self._registering[ns] <= 0:
                self.providers[ns] = "Registered"
        return Response(200, self._provider_body(ns))

    def _register(self, request: Request, match: re.Match[str]) -> Response:
        ns = self._known(match["ns"])
        if ns is None:
            return error(404, "InvalidResourceNamespace",
                         f"The resource namespace '{match['ns']}' is invalid.")
        if self.providers[ns] in ("NotRegistered", "Unregistered"):
            self.providers[ns] = "Registering"
            self._registering[ns] = self.registration_polls
        return Response(200, self._provider_body(ns))
