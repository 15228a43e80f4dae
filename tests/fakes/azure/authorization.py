"""Azure RBAC role assignments (Microsoft.Authorization), as azure-mgmt-authorization 4 calls
them (api-version 2022-04-01), and the propagation a data plane waits for.

What the fake keeps faithful (learn.microsoft.com/azure/role-based-access-control):
- `PUT {scope}/providers/Microsoft.Authorization/roleAssignments/{name}` answers 201 with the
  assignment; the same name with the same content again answers 201 (idempotent); the same
  name with another principal, role or scope is 400 RoleAssignmentUpdateNotPermitted; the same
  (principal, role, scope) under another name is 409 RoleAssignmentExists;
- a principal unknown to the directory is 400 PrincipalNotFound; so is one created less than
  `replication_delay` seconds ago when the request gives no `principalType` (Microsoft's
  advice: set principalType for a principal just made); a principalType that is not the
  principal's is 400 UnmatchedPrincipalType; an unknown role is 400 RoleDefinitionDoesNotExist;
- `GET` the assignment or list them at a scope (`$filter=principalId eq '…'` or
  `atScope()`); `DELETE` answers 200 with the assignment, or 204 when there is none;
- `effective(principal, roles, scope)`: whether a data plane honours the assignment yet — only
  `propagation` seconds after it was made (Azure: up to 10 minutes, 30 for some); before that a
  data plane answers 403 (the datalake fake: AuthorizationPermissionMismatch).
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import unquote

from .arm import FakeArm
from .server import Request, Response, error

ROLES = {
    "ba92f5b4-2d11-453d-a403-e96b0029c9fe": "Storage Blob Data Contributor",
    "b7e6dc6d-f1e8-4753-8033-0f276bb0955b": "Storage Blob Data Owner",
    "4633458b-17de-408a-b874-0445c86b69e6": "Key Vault Secrets User",
    "b86a8fe4-44ce-4948-aee5-eccb2c155cd7": "Key Vault Secrets Officer",
    "b24988ac-6180-42a0-ab88-20f7382dd24c": "Contributor",
    "8e3af657-a8ff-443c-a75c-2fe8c4bcb635": "Owner",
}
STORAGE_DATA_ROLES = ("ba92f5b4-2d11-453d-a403-e96b0029c9fe",
                      "b7e6dc6d-f1e8-4753-8033-0f276bb0955b")
_SCOPE = r"/*(?P<scope>/subscriptions/(?P<sub>[^/]+)(?:/.+?)?)"
_ASSIGNMENTS = r"/providers/Microsoft\.Authorization/roleAssignments"
PrincipalLookup = Callable[[str], "tuple[str, float] | None"]
"""object id → (principal type, when it was created), or None when the directory has none."""


@dataclass
class Assignment:
    name: str
    scope: str
    role_id: str  # the role definition's GUID
    principal_id: str
    principal_type: str
    created: float

    def body(self, sub: str) -> dict[str, Any]:
        when = datetime.fromtimestamp(self.created, UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        return {
            "id": f"{self.scope}/providers/Microsoft.Authorization/roleAssignments/{self.name}",
            "name": self.name,
            "type": "Microsoft.Authorization/roleAssignments",
            "properties": {
                "roleDefinitionId": f"/subscriptions/{sub}/providers/Microsoft.Authorization/"
                                    f"roleDefinitions/{self.role_id}",
                "principalId": self.principal_id,
                "principalType": self.principal_type,
                "scope": self.scope,
                "condition": None, "conditionVersion": None,
                "createdOn": when, "updatedOn": when,
            },
        }


@dataclass
class FakeAuthorization:
    arm: FakeArm
    lookup: PrincipalLookup
    replication_delay: float = 0.0
    propagation: float = 0.0
    assignments: dict[str, Assignment] = field(default_factory=dict)  # name → assignment
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def __post_init__(self) -> None:
        route, guard = self.arm.fake.route, self.arm.guard
        one = _SCOPE + _ASSIGNMENTS + r"/(?P<name>[^/]+)"
        route("PUT", one, guard(self._put))
        route("GET", one, guard(self._get))
        route("DELETE", one, guard(self._delete))
        route("GET", _SCOPE + _ASSIGNMENTS, guard(self._list))

    def effective(self, principal_id: str, roles: tuple[str, ...], scope: str) -> bool:
        """Whether an assignment of one of `roles` to the principal at `scope` or above has
        propagated."""
        now = time.time()
        scope = scope.lower()
        with self._lock:
            return any(
                a.principal_id == principal_id and a.role_id in roles
                and (scope == a.scope.lower() or scope.startswith(a.scope.lower() + "/"))
                and now >= a.created + self.propagation
                for a in self.assignments.values())

    def _principal_missing(self, principal_id: str) -> Response:
        return error(400, "PrincipalNotFound",
                     f"Principal {principal_id.replace('-', '')} does not exist in the directory "
                     f"{self.arm.entra.tenant_id}. Check that you have the correct principal ID. "
                     "If you are creating this principal and then immediately assigning a role, "
                     "this error might be related to a replication delay. In this case, set "
                     "the role assignment principalType property to a value, such as "
                     "ServicePrincipal, User, or Group.  See https://aka.ms/docs-principaltype")

    def _put(self, request: Request, match: re.Match[str]) -> Response:
        scope, name = match["scope"], match["name"]
        props = (request.json() or {}).get("properties") or {}
        role_id = str(props.get("roleDefinitionId", "")).rsplit("/", 1)[-1].lower()
        principal_id = str(props.get("principalId", "")).lower()
        if role_id not in ROLES:
            return error(400, "RoleDefinitionDoesNotExist",
                         f"The specified role definition with ID '{role_id}' does not exist.")
        found = self.lookup(principal_id)
        given_type = props.get("principalType")
        if found is None:
            return self._principal_missing(principal_id)
        kind, created = found
        if given_type is None and time.time() < created + self.replication_delay:
            return self._principal_missing(principal_id)
        if given_type is not None and given_type != kind:
            return error(400, "UnmatchedPrincipalType",
                         f"The PrincipalId '{principal_id.replace('-', '')}' has type '{kind}' , "
                         f"which is different from specified PrincipalType '{given_type}'.")
        with self._lock:
            same = self.assignments.get(name)
            if same is not None:
                if (same.scope.lower(), same.role_id, same.principal_id) != (
                        scope.lower(), role_id, principal_id):
                    return error(400, "RoleAssignmentUpdateNotPermitted",
                                 "Tenant ID, application ID, principal ID, and scope are not "
                                 "allowed to be updated.")
                return Response(201, same.body(self.arm.subscription_id))
            if any((a.scope.lower(), a.role_id, a.principal_id) == (
                    scope.lower(), role_id, principal_id) for a in self.assignments.values()):
                return error(409, "RoleAssignmentExists", "The role assignment already exists.")
            made = Assignment(name, scope, role_id, principal_id, kind, time.time())
            self.assignments[name] = made
        return Response(201, made.body(self.arm.subscription_id))

    def _get(self, request: Request, match: re.Match[str]) -> Response:
        with self._lock:
            found = self.assignments.get(match["name"])
        if found is None or found.scope.lower() != match["scope"].lower():
            return error(404, "RoleAssignmentNotFound",
                         f"The role assignment '{match['name']}' is not found.")
        return Response(200, found.body(self.arm.subscription_id))

    def _delete(self, request: Request, match: re.Match[str]) -> Response:
        with self._lock:
            found = self.assignments.get(match["name"])
            if found is None or found.scope.lower() != match["scope"].lower():
                return Response(204)
            del self.assignments[match["name"]]
        return Response(200, found.body(self.arm.subscription_id))

    def _list(self, request: Request, match: re.Match[str]) -> Response:
        scope = match["scope"].lower()
        wanted = unquote(request.query.get("$filter", ""))
        principal = re.search(r"principalId\s+eq\s+'([^']+)'", wanted)
        at_scope = "atscope()" in wanted.lower()
        with self._lock:
            rows = [a for a in self.assignments.values()
                    if (a.scope.lower() == scope
                        or (not at_scope and a.scope.lower().startswith(scope + "/"))
                        or scope.startswith(a.scope.lower() + "/"))
                    and (principal is None or a.principal_id == principal[1].lower())]
        return Response(200, {"value": [a.body(self.arm.subscription_id) for a in rows]})
