"""Microsoft Graph v1.0: applications, their passwords and their service principals, as the
Azure target calls them over REST with an azure-identity token for https://graph.microsoft.com.

What the fake keeps faithful (learn.microsoft.com/graph/api: application-post-applications,
application-addpassword, serviceprincipal-post-serviceprincipals):
- `POST /v1.0/applications` answers 201 with the object `id` and the `appId` (the client id);
  `GET` by id, by `applications(appId='…')`, or a list with `$filter=appId eq '…'` /
  `displayName eq '…'`; `DELETE` answers 204 and takes the application's service principal
  (and its sign-in) with it; a missing object is 404 Request_ResourceNotFound;
- `POST …/addPassword` answers the new passwordCredential with its `secretText` — the only time
  the password is ever returned (reads list `passwordCredentials` with `secretText: null`). A
  new password signs in only `password_delay` seconds later (Entra replicates it; AADSTS7000215
  until then); `removePassword` answers 204;
- `POST /v1.0/servicePrincipals {appId}` answers 201; until it exists the application cannot
  sign in (AADSTS7000229); a second one for the same appId is 409
  Request_MultipleObjectsWithSameKeyValue; an appId of no application is 400;
- every call needs a token for https://graph.microsoft.com (401 InvalidAuthenticationToken).
"""

from __future__ import annotations

import re
import secrets
import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import unquote

from .identity import FakeEntra
from .server import FakeAzure, Request, Response

GRAPH = "https://graph.microsoft.com"
_APPID = r"\(appId=(?:'|%27)(?P<appid>[^'%]+)(?:'|%27)\)"


def _when(at: float) -> str:
    return datetime.fromtimestamp(at, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass
class Password:
    key_id: str
    display_name: str
    hint: str
    start: float
    end: float

    def body(self, secret_text: str | None = None) -> dict[str, Any]:
        return {"customKeyIdentifier": None, "displayName": self.display_name,
                "endDateTime": _when(self.end), "hint": self.hint, "keyId": self.key_id,
                "secretText": secret_text, "startDateTime": _when(self.start)}


@dataclass
class Application:
    id: str
    app_id: str
    display_name: str
    created: float
    passwords: dict[str, tuple[Password, str]] = field(default_factory=dict)  # keyId → (p, secret)

    def body(self) -> dict[str, Any]:
        return {"id": self.id, "appId": self.app_id, "displayName": self.display_name,
                "createdDateTime": _when(self.created), "signInAudience": "AzureADMyOrg",
                "passwordCredentials": [p.body() for p, _ in self.passwords.values()]}


@dataclass
class ServicePrincipal:
    id: str
    app_id: str
    display_name: str
    created: float

    def body(self) -> dict[str, Any]:
        return {"id": self.id, "appId": self.app_id, "displayName": self.display_name,
                "servicePrincipalType": "Application", "accountEnabled": True,
                "servicePrincipalNames": [self.app_id]}


def graph_error(status: int, code: str, message: str, request: Request) -> Response:
    """Graph's error envelope, with its innerError."""
    return Response(status, {"error": {"code": code, "message": message, "innerError": {
        "date": _when(time.time()), "request-id": str(uuid.uuid4()),
        "client-request-id": request.header("client-request-id") or str(uuid.uuid4())}}})


@dataclass
class FakeGraph:
    fake: FakeAzure
    entra: FakeEntra
    password_delay: float = 0.0
    """Seconds before a new password signs in (Entra: typically 4 to 18 s)."""
    applications: dict[str, Application] = field(default_factory=dict)  # object id → app
    service_principals: dict[str, ServicePrincipal] = field(default_factory=dict)
    _lock: threading.RLock = field(default_factory=threading.RLock)

    def __post_init__(self) -> None:
        route = self.fake.route
        v1 = r"/v1\.0"
        route("POST", v1 + r"/applications", self._guard(self._create_app))
        route("GET", v1 + r"/applications", self._guard(self._list_apps))
        for key in (r"/(?P<id>[0-9a-f-]{36})", _APPID):
            route("GET", v1 + r"/applications" + key, self._guard(self._get_app))
            route("DELETE", v1 + r"/applications" + key, self._guard(self._delete_app))
            route("POST", v1 + r"/applications" + key + r"/addPassword",
                  self._guard(self._add_password))
            route("POST", v1 + r"/applications" + key + r"/removePassword",
                  self._guard(self._remove_password))
            route("GET", v1 + r"/servicePrincipals" + key, self._guard(self._get_sp))
            route("DELETE", v1 + r"/servicePrincipals" + key, self._guard(self._delete_sp))
        route("POST", v1 + r"/servicePrincipals", self._guard(self._create_sp))
        route("GET", v1 + r"/servicePrincipals", self._guard(self._list_sps))

    # --- lookups the other fakes use -------------------------------------------------------

    def principal(self, object_id: str) -> ServicePrincipal | None:
        with self._lock:
            return self.service_principals.get(object_id)

    # --- plumbing ---------------------------------------------------------------------------

    def _guard(self, handler: Any) -> Any:
        def guarded(request: Request, match: re.Match[str]) -> Response:
            if self.entra.audience_of(request) != GRAPH:
                return graph_error(401, "InvalidAuthenticationToken",
                                   "Access token validation failure. Invalid audience.", request)
            with self._lock:
                return handler(request, match)

        return guarded

    def _app(self, match: re.Match[str]) -> Application | None:
        groups = match.groupdict()
        if groups.get("id"):
            return self.applications.get(groups["id"])
        return next((a for a in self.applications.values() if a.app_id == groups["appid"]), None)

    def _sp(self, match: re.Match[str]) -> ServicePrincipal | None:
        groups = match.groupdict()
        if groups.get("id"):
            return self.service_principals.get(groups["id"])
        return next((s for s in self.service_principals.values()
                     if s.app_id == groups["appid"]), None)

    def _missing(self, request: Request, match: re.Match[str]) -> Response:
        key = match.groupdict().get("id") or match.groupdict().get("appid")
        return graph_error(404, "Request_ResourceNotFound",
                           f"Resource '{key}' does not exist or one of its queried "
                           "reference-property objects are not present.", request)

    def _filtered(self, request: Request, items: list[dict[str, Any]], kind: str) -> Response:
        wanted = unquote(request.query.get("$filter", ""))
        if wanted:
            found = re.fullmatch(r"\s*(appId|displayName|id)\s+eq\s+'([^']*)'\s*", wanted)
            if found is None:
                return graph_error(400, "Request_UnsupportedQuery",
                                   f"Unsupported or invalid query filter clause: {wanted}",
                                   request)
            items = [i for i in items if i.get(found[1]) == found[2]]
        return Response(200, {"@odata.context": f"{GRAPH}/v1.0/$metadata#{kind}",
                              "value": items})

    # --- applications -----------------------------------------------------------------------

    def _create_app(self, request: Request, match: re.Match[str]) -> Response:
        body = request.json() or {}
        name = body.get("displayName")
        if not name:
            return graph_error(400, "Request_BadRequest",
                               "Property 'displayName' is required.", request)
        app = Application(str(uuid.uuid4()), str(uuid.uuid4()), name, time.time())
        self.applications[app.id] = app
        return Response(201, {"@odata.context": f"{GRAPH}/v1.0/$metadata#applications/$entity",
                              **app.body()})

    def _list_apps(self, request: Request, match: re.Match[str]) -> Response:
        return self._filtered(request, [a.body() for a in self.applications.values()],
                              "applications")

    def _get_app(self, request: Request, match: re.Match[str]) -> Response:
        app = self._app(match)
        return Response(200, app.body()) if app else self._missing(request, match)

    def _delete_app(self, request: Request, match: re.Match[str]) -> Response:
        app = self._app(match)
        if app is None:
            return self._missing(request, match)
        del self.applications[app.id]
        for sp in [s for s in self.service_principals.values() if s.app_id == app.app_id]:
            del self.service_principals[sp.id]
        self.entra.remove_client(app.app_id)
        self.entra.without_service_principal.discard(app.app_id)
        self.entra.service_principal_ids.pop(app.app_id, None)
        return Response(204)

    def _add_password(self, request: Request, match: re.Match[str]) -> Response:
        app = self._app(match)
        if app is None:
            return self._missing(request, match)
        asked = (request.json() or {}).get("passwordCredential") or {}
        now = time.time()
        end = asked.get("endDateTime")
        end_at = (datetime.fromisoformat(end.replace("Z", "+00:00")).timestamp() if end
                  else (datetime.fromtimestamp(now, UTC) + timedelta(days=730)).timestamp())
        secret = secrets.token_urlsafe(30).replace("-", "~")[:40]
        password = Password(str(uuid.uuid4()), asked.get("displayName") or "", secret[:3], now,
                            end_at)
        app.passwords[password.key_id] = (password, secret)
        self.entra.add_client(app.app_id, secret, usable_after=now + self.password_delay)
        if not any(s.app_id == app.app_id for s in self.service_principals.values()):
            self.entra.without_service_principal.add(app.app_id)
        return Response(200, {"@odata.context": f"{GRAPH}/v1.0/$metadata#microsoft.graph."
                                                "passwordCredential", **password.body(secret)})

    def _remove_password(self, request: Request, match: re.Match[str]) -> Response:
        app = self._app(match)
        if app is None:
            return self._missing(request, match)
        key_id = (request.json() or {}).get("keyId", "")
        if key_id not in app.passwords:
            return graph_error(400, "Request_BadRequest",
                               f"No password credential found with keyId {key_id}.", request)
        _, secret = app.passwords.pop(key_id)
        self.entra.remove_client(app.app_id, secret)
        return Response(204)

    # --- service principals -----------------------------------------------------------------

    def _create_sp(self, request: Request, match: re.Match[str]) -> Response:
        app_id = (request.json() or {}).get("appId", "")
        app = next((a for a in self.applications.values() if a.app_id == app_id), None)
        if app is None:
            return graph_error(400, "Request_BadRequest",
                               f"The appId '{app_id}' of the service principal does not "
                               "reference a valid application object.", request)
        if any(s.app_id == app_id for s in self.service_principals.values()):
            return graph_error(409, "Request_MultipleObjectsWithSameKeyValue",
                               "Another object with the same value for property "
                               "servicePrincipalNames already exists.", request)
        sp = ServicePrincipal(str(uuid.uuid4()), app_id, app.display_name, time.time())
        self.service_principals[sp.id] = sp
        self.entra.without_service_principal.discard(app_id)
        self.entra.service_principal_ids[app_id] = sp.id
        return Response(201, {"@odata.context": f"{GRAPH}/v1.0/$metadata#servicePrincipals/"
                                                "$entity", **sp.body()})

    def _list_sps(self, request: Request, match: re.Match[str]) -> Response:
        return self._filtered(request, [s.body() for s in self.service_principals.values()],
                              "servicePrincipals")

    def _get_sp(self, request: Request, match: re.Match[str]) -> Response:
        sp = self._sp(match)
        return Response(200, sp.body()) if sp else self._missing(request, match)

    def _delete_sp(self, request: Request, match: re.Match[str]) -> Response:
        sp = self._sp(match)
        if sp is None:
            return self._missing(request, match)
        del self.service_principals[sp.id]
        self.entra.without_service_principal.add(sp.app_id)
        self.entra.service_principal_ids.pop(sp.app_id, None)
        return Response(204)
