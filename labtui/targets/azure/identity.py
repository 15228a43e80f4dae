"""Service principals over Microsoft Graph (REST through azure-core, with an azure-identity
token for Graph) and their role assignments over azure-mgmt-authorization.

A service principal is an application (`POST /applications`), its service principal
(`POST /servicePrincipals {appId}`) and a password (`addPassword`, whose `secretText` Graph
returns once and never again). A create cut off between those calls leaves an application
without a principal: creating it again completes that one instead of making a second.

Entra takes seconds to replicate a new password: until then a sign-in with it is refused as
an invalid secret. `check_password` tells the two apart by the password's age (Graph lists
when each password started): refused while it is younger than `PASSWORD_PROPAGATION`
is `Transient`, later it is False. (Graph lists each password's first characters as its
hint: a password that matches no new one is simply wrong.)

Role assignments name the principal type ("ServicePrincipal"), as Microsoft advises for a
principal just made: ARM then does not look it up in a directory replica that may not have it
yet. An assignment that exists already under another name (`RoleAssignmentExists`) is the
one asked for; `PrincipalNotFound` for a principal Graph knows is replication still under way
(`Transient`), for one Graph does not know it is `NotFound`.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING, Any

from labtui.targets.azure.credentials import first_line
from labtui.targets.azure.mgmt import (
    BUSY,
    build,
    error_code,
    message_of,
    rest_client,
    retry_after,
    status_of,
    translated,
)
from labtui.targets.errors import Conflict, NotFound, TargetError, Transient
from labtui.targets.ports.azure import Identity
from labtui.targets.resources import RoleAssignment, ServicePrincipal

if TYPE_CHECKING:
    from azure.core.credentials import TokenCredential

    from labtui.targets.azure.endpoints import Endpoints

PASSWORD_PROPAGATION = 120.0
"""Seconds a new password may take to sign in (Entra: typically 4 to 18 s)."""

BUILT_IN_ROLES = {
    "Storage Blob Data Contributor": "ba92f5b4-2d11-453d-a403-e96b0029c9fe",
    "Storage Blob Data Owner": "b7e6dc6d-f1e8-4753-8033-0f276bb0955b",
    "Key Vault Secrets User": "4633458b-17de-408a-b874-0445c86b69e6",
    "Key Vault Secrets Officer": "b86a8fe4-44ce-4948-aee5-eccb2c155cd7",
    "Contributor": "b24988ac-6180-42a0-ab88-20f7382dd24c",
    "Owner": "8e3af657-a8ff-443c-a75c-2fe8c4bcb635",
}
"""The built-in roles the lab gives (their ids are the same in every tenant)."""
ROLE_NAMES = {guid: name for name, guid in BUILT_IN_ROLES.items()}
NAMESPACE = uuid.UUID("6b0c9f3e-8a57-4a4b-9d0e-1c6a2f7e5d31")


def _quoted(text: str) -> str:
    return text.replace("'", "''")


class AzureIdentity(Identity):
    """Service principals of the tenant, and role assignments in the subscription."""

    def __init__(self, credential: TokenCredential, subscription_id: str, tenant_id: str,
                 endpoints: Endpoints, group_exists: Callable[[str], bool],
                 on_assigned: Callable[[], None] = lambda: None) -> None:
        from azure.mgmt.authorization import AuthorizationManagementClient

        self._on_assigned = on_assigned
        """Told of each assignment made (role propagation starts: a 403 soon after passes)."""
        self._endpoints = endpoints
        self._tenant = tenant_id
        self._subscription = subscription_id
        self._graph: Any = rest_client(credential, endpoints, base_url=endpoints.graph,
                                       scope=endpoints.graph_scope)
        self._rbac: Any = build(AuthorizationManagementClient, credential, subscription_id,
                                endpoints)
        self._group_exists = group_exists
        self._lock = threading.Lock()
        self.password_propagation = PASSWORD_PROPAGATION

    # -- Graph -----------------------------------------------------------------------------

    def _call(self, method: str, path: str, what: str, body: Any = None,
              **params: str) -> tuple[int, Any]:
        """One Graph request: its status and JSON body. Busy answers (after the pipeline's
        retries) and lost connections are Transient; 404 is returned, the rest raised."""
        from azure.core.exceptions import ServiceRequestError, ServiceResponseError
        from azure.core.rest import HttpRequest

        request = HttpRequest(method, f"{self._endpoints.graph}/v1.0{path}", json=body,
                              params=params or None)
        try:
            response = self._graph.send_request(request)
        except (ServiceRequestError, ServiceResponseError) as exc:
            raise Transient(f"{what}: Microsoft Graph did not answer ({first_line(exc)})"
                            ) from None
        status = response.status_code
        try:
            answer = response.json() if response.content else None
        except ValueError:
            answer = None
        if status in BUSY:
            pause = response.headers.get("Retry-After")
            raise Transient(f"{what}: Microsoft Graph is busy (HTTP {status}); try again",
                            retry_after=float(pause) if pause and pause.isdigit() else None)
        if status >= 400 and status != 404:
            error = (answer or {}).get("error", {}) if isinstance(answer, dict) else {}
            code = error.get("code", status) if isinstance(error, dict) else status
            text = " ".join(str(error.get("message", "")).split()) if isinstance(
                error, dict) else ""
            if status == 403:
                raise TargetError(f"{what}: this identity may not do it in Microsoft Graph "
                                  f"({code}): it needs the Application Developer role or "
                                  "Application.ReadWrite.OwnedBy")
            raise TargetError(f"{what}: {code}{': ' + text if text else ''}")
        return status, answer

    def _one(self, kind: str, field: str, value: str, what: str) -> dict[str, Any] | None:
        _, answer = self._call("GET", f"/{kind}", what,
                               **{"$filter": f"{field} eq '{_quoted(value)}'"})
        found = (answer or {}).get("value") or []
        return found[0] if found else None

    def _principal(self, sp: dict[str, Any], password: str | None = None) -> ServicePrincipal:
        return ServicePrincipal(str(sp["displayName"]), str(sp["appId"]), str(sp["id"]),
                                str(sp.get("appOwnerOrganizationId") or self._tenant), password)

    def create_service_principal(self, display_name: str, tenant_id: str) -> ServicePrincipal:
        if tenant_id.lower() != self._tenant.lower():
            raise TargetError(f"service principal {display_name}: the azure target is signed "
                              f"in to tenant {self._tenant}, not {tenant_id}")
        what = f"creating service principal {display_name}"
        with self._lock:
            if self._one("servicePrincipals", "displayName", display_name, what) is not None:
                raise Conflict(f"service principal {display_name} exists already: look it up "
                               "(or choose another name)")
            app = self._one("applications", "displayName", display_name, what)
            if app is None:
                _, app = self._call("POST", "/applications", what,
                                    {"displayName": display_name, "signInAudience":
                                     "AzureADMyOrg"})
            # else: an earlier create stopped after the application; finish that one
            status, sp = self._call("POST", "/servicePrincipals", what, {"appId": app["appId"]})
            if status == 404:
                raise Transient(f"{what}: the new application is not yet visible; try again")
            password = self._add_password(app["appId"], what)
            return self._principal(sp, password)

    def _add_password(self, app_id: str, what: str) -> str:
        status, answer = self._call(
            "POST", f"/applications(appId='{app_id}')/addPassword", what,
            {"passwordCredential": {"displayName": "labtui"}})
        if status == 404:
            raise NotFound(f"{what}: application {app_id} does not exist")
        return str(answer["secretText"])

    def find_service_principal(self, display_name: str) -> ServicePrincipal:
        sp = self._one("servicePrincipals", "displayName", display_name,
                       f"finding service principal {display_name}")
        if sp is None:
            raise NotFound(f"service principal {display_name} does not exist")
        return self._principal(sp)

    def get_service_principal(self, app_id: str) -> ServicePrincipal:
        status, sp = self._call("GET", f"/servicePrincipals(appId='{app_id}')",
                                f"reading service principal {app_id}")
        if status == 404:
            raise NotFound(f"service principal with app id {app_id} does not exist")
        return self._principal(sp)

    def reset_password(self, app_id: str) -> str:
        what = f"resetting the password of {app_id}"
        status, app = self._call("GET", f"/applications(appId='{app_id}')", what)
        if status == 404:
            raise NotFound(f"{what}: application {app_id} does not exist")
        password = self._add_password(app_id, what)
        for old in app.get("passwordCredentials") or []:
            self._call("POST", f"/applications(appId='{app_id}')/removePassword", what,
                       {"keyId": old["keyId"]})
        return password

    def _age_of(self, app_id: str, password: str) -> float | None:
        """How long ago the application's password that `password` may be was added (Graph
        shows each password's first characters as its `hint`), or None if none may be it."""
        status, app = self._call("GET", f"/applications(appId='{app_id}')",
                                 f"reading application {app_id}")
        if status == 404:
            return None
        starts = [datetime.fromisoformat(str(p["startDateTime"]).replace("Z", "+00:00"))
                  for p in (app.get("passwordCredentials") or [])
                  if p.get("startDateTime") and password.startswith(str(p.get("hint") or ""))]
        if not starts:
            return None
        return time.time() - max(starts).timestamp()

    def check_password(self, app_id: str, password: str) -> bool:
        from azure.core.exceptions import ClientAuthenticationError
        from azure.identity import ClientSecretCredential

        credential = ClientSecretCredential(self._tenant, app_id, password,
                                            **self._endpoints.credential_kwargs())
        try:
            credential.get_token(self._endpoints.arm_scope)
        except ClientAuthenticationError as exc:
            text = str(exc)
            if "AADSTS7000215" not in text and "AADSTS7000229" not in text:
                if "AADSTS700016" in text:  # no such application in the tenant
                    return False
                raise TargetError(f"signing in as {app_id}: {first_line(exc)}") from None
            age = self._age_of(app_id, password)
            if age is not None and age < self.password_propagation:
                raise Transient(f"the new password of {app_id} does not sign in yet (Entra "
                                f"replicates it, {age:.0f} s so far); try again",
                                retry_after=5.0) from None
            return False
        finally:
            credential.close()
        return True

    def delete_service_principal(self, app_id: str) -> bool:
        what = f"deleting service principal {app_id}"
        status, sp = self._call("GET", f"/servicePrincipals(appId='{app_id}')", what)
        if status != 404:
            for assignment in self._assignments_of(str(sp["id"])):
                self.remove_role_assignment(assignment)
        status, _ = self._call("DELETE", f"/applications(appId='{app_id}')", what)
        return status != 404

    # -- role assignments ------------------------------------------------------------------

    def _assignments_of(self, principal_id: str) -> list[str]:
        with translated(f"listing role assignments of {principal_id}"):
            return [str(a.id) for a in self._rbac.role_assignments.list_for_subscription(
                filter=f"principalId eq '{principal_id}'")]

    def _role_id(self, role: str) -> str:
        guid = BUILT_IN_ROLES.get(role)
        if guid is None:
            known = ", ".join(sorted(BUILT_IN_ROLES))
            raise TargetError(f"role {role!r} is not one the lab gives ({known})")
        return (f"/subscriptions/{self._subscription}/providers/Microsoft.Authorization/"
                f"roleDefinitions/{guid}")

    def _assignment(self, found: Any) -> RoleAssignment:
        guid = str(found.role_definition_id).rsplit("/", 1)[-1].lower()
        return RoleAssignment(str(found.id), str(found.principal_id),
                              ROLE_NAMES.get(guid, guid), str(found.scope))

    def assign_role(self, principal_id: str, role: str, scope: str) -> RoleAssignment:
        from azure.core.exceptions import (
            HttpResponseError,
            ServiceRequestError,
            ServiceResponseError,
        )

        definition = self._role_id(role)
        parts = scope.strip("/").split("/")
        if len(parts) == 4 and parts[2].lower() == "resourcegroups" and not self._group_exists(
                parts[3]):
            raise NotFound(f"assigning {role}: resource group {parts[3]} does not exist")
        # The same name for the same (principal, role, scope): a retried PUT is the same one.
        name = str(uuid.uuid5(NAMESPACE, f"{principal_id}|{definition}|{scope}".lower()))
        what = f"assigning {role} on {scope} to {principal_id}"
        self._on_assigned()  # before the PUT: its answer may be lost while it propagates
        try:
            made = self._rbac.role_assignments.create(scope, name, {
                "role_definition_id": definition, "principal_id": principal_id,
                "principal_type": "ServicePrincipal"})
        except (ServiceRequestError, ServiceResponseError) as exc:
            # A timeout or a dropped connection, after the SDK's retries.
            raise Transient(f"{what}: Azure did not answer ({first_line(exc)})") from None
        except HttpResponseError as exc:
            code = error_code(exc)
            if code == "RoleAssignmentExists":
                for assignment in self.role_assignments(scope):
                    if assignment.principal_id.lower() == principal_id.lower() and (
                            assignment.role == role):
                        return assignment
            if code == "PrincipalNotFound":
                if self._graph_knows(principal_id, what):
                    raise Transient(f"{what}: the directory does not have the new principal "
                                    "everywhere yet; try again", retry_after=5.0) from None
                raise NotFound(f"{what}: principal {principal_id} does not exist") from None
            status = status_of(exc)
            if status == 404 or code in ("ResourceNotFound", "ResourceGroupNotFound",
                                         "InvalidScope"):
                raise NotFound(f"{what}: the scope does not exist ({code})") from None
            if status in BUSY:
                raise Transient(f"{what}: Azure is busy (HTTP {status}); try again",
                                retry_after=retry_after(exc)) from None
            raise TargetError(f"{what}: {code or status}: {message_of(exc)}") from None
        return self._assignment(made)

    def _graph_knows(self, object_id: str, what: str) -> bool:
        status, _ = self._call("GET", f"/servicePrincipals/{object_id}", what)
        return status != 404

    def role_assignments(self, scope: str) -> list[RoleAssignment]:
        with translated(f"listing role assignments on {scope}"):
            found = list(self._rbac.role_assignments.list_for_scope(scope, filter="atScope()"))
        return [self._assignment(a) for a in found
                if str(a.scope).lower() == scope.lower()]

    def remove_role_assignment(self, assignment_id: str) -> bool:
        try:
            with translated(f"removing role assignment {assignment_id}"):
                removed = self._rbac.role_assignments.delete_by_id(assignment_id)
        except NotFound:
            return False
        return removed is not None

    def close(self) -> None:
        self._graph.close()
        self._rbac.close()
