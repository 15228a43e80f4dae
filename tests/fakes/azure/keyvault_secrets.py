"""A vault's data plane (secrets), on its own HTTPS host, as azure-keyvault-secrets calls it.

- Authentication is Key Vault's challenge: a request without a valid token gets 401 with
  `WWW-Authenticate: Bearer authorization="<authority>/<tenant>", resource="https://vault.azure.net"`;
  the client then asks its credential for `https://vault.azure.net/.default` and resends. For a
  127.0.0.1 host the client needs `verify_challenge_resource=False` (the resource's domain is
  not the request's).
- Soft delete, as the service does it: `DELETE /secrets/{name}` answers at once, but the secret
  is *being deleted* for `transition_reads` reads of `/deletedsecrets/{name}` (404 there;
  409 ObjectIsBeingDeleted to a purge or a set), then *deleted but recoverable* (a set is 409
  ObjectIsDeletedButRecoverable). A purge answers 204 with no completion signal: the name stays
  reserved (409 ObjectIsBeingDeleted) and listed for `transition_reads` more reads. A recover
  answers 200 and `GET /secrets/{name}` is 404 for `transition_reads` reads.
"""

from __future__ import annotations

import re
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import trustme

from .identity import FakeEntra
from .server import FakeAzure, Request, Response

VAULT_AUDIENCE = "https://vault.azure.net"
NAME = r"(?P<name>[^/]+)"
NAME_RULE = re.compile(r"^[0-9A-Za-z-]{1,127}$")


@dataclass
class Secret:
    name: str
    versions: list[dict[str, Any]] = field(default_factory=list)  # newest last
    phase: str = "live"  # live | deleting | deleted | purging | recovering
    countdown: int = 0
    deleted_at: float = 0.0


@dataclass
class FakeVaultData:
    server: FakeAzure
    entra: FakeEntra
    transition_reads: int = 2
    secrets: dict[str, Secret] = field(default_factory=dict)  # lower-cased name
    challenges: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @classmethod
    def start(cls, tmp: Path, ca: trustme.CA, entra: FakeEntra) -> FakeVaultData:
        host = cls(FakeAzure(tmp, ca), entra)
        route, s = host.server.route, host
        route("PUT", rf"/secrets/{NAME}", s._auth(s._set))
        route("GET", rf"/secrets/{NAME}(?:/(?P<version>[0-9a-f]*))?", s._auth(s._get))
        route("GET", r"/secrets", s._auth(s._list))
        route("GET", rf"/secrets/{NAME}/versions", s._auth(s._versions))
        route("DELETE", rf"/secrets/{NAME}", s._auth(s._delete))
        route("GET", r"/deletedsecrets", s._auth(s._list_deleted))
        route("GET", rf"/deletedsecrets/{NAME}", s._auth(s._get_deleted))
        route("DELETE", rf"/deletedsecrets/{NAME}", s._auth(s._purge))
        route("POST", rf"/deletedsecrets/{NAME}/recover", s._auth(s._recover))
        host.server.start()
        return host

    @property
    def url(self) -> str:
        return self.server.url

    # --- the challenge --------------------------------------------------------------------

    def _auth(self, handler: Any) -> Any:
        def checked(request: Request, match: re.Match[str]) -> Response:
            audience = self.entra.audience_of(request)
            if audience is None or audience.rstrip("/") != VAULT_AUDIENCE:
                with self._lock:
                    self.challenges += 1
                authority = f"{self.entra.fake.url}/{self.entra.tenant_id}"
                challenge = f'Bearer authorization="{authority}", resource="{VAULT_AUDIENCE}"'
                message = ("AKV10000: Request is missing a Bearer or PoP token." if audience is None
                           else "AKV10022: Invalid audience.")
                return _kv_error(401, "Unauthorized", message, **{"WWW-Authenticate": challenge})
            if not request.query.get("api-version"):
                return _kv_error(400, "BadParameter", "The api-version parameter is missing.")
            with self._lock:
                return handler(request, match)  # type: ignore[no-any-return]

        return checked

    # --- helpers --------------------------------------------------------------------------

    def _find(self, name: str) -> Secret | None:
        return self.secrets.get(name.lower())

    def _tick(self, secret: Secret) -> None:
        """One read of a secret in transition: count down, then take the next phase."""
        if secret.phase not in ("deleting", "purging", "recovering"):
            return
        secret.countdown -= 1
        if secret.countdown > 0:
            return
        if secret.phase == "deleting":
            secret.phase = "deleted"
        elif secret.phase == "purging":
            self.secrets.pop(secret.name.lower(), None)
        else:
            secret.phase = "live"

    def _bundle(self, secret: Secret, version: dict[str, Any]) -> dict[str, Any]:
        out = {
            "value": version["value"],
            "id": f"{self.url}/secrets/{secret.name}/{version['version']}",
            "attributes": dict(version["attributes"]),
            "tags": version["tags"],
        }
        if version.get("contentType") is not None:
            out["contentType"] = version["contentType"]
        return out

    def _item(self, secret: Secret) -> dict[str, Any]:
        latest = secret.versions[-1]
        item = {"id": f"{self.url}/secrets/{secret.name}",
                "attributes": dict(latest["attributes"]), "tags": latest["tags"]}
        if latest.get("contentType") is not None:
            item["contentType"] = latest["contentType"]
        return item

    def _deleted_fields(self, secret: Secret) -> dict[str, Any]:
        return {
            "recoveryId": f"{self.url}/deletedsecrets/{secret.name}",
            "deletedDate": int(secret.deleted_at),
            "scheduledPurgeDate": int(secret.deleted_at) + 90 * 86400,
        }

    def _missing(self, name: str) -> Response:
        return _kv_error(404, "SecretNotFound",
                         f"A secret with (name/id) {name} was not found in this key vault. If you "
                         "recently deleted this secret you may be able to recover it using the "
                         "correct recovery command.")

    def _deleted_missing(self, name: str) -> Response:
        return _kv_error(404, "SecretNotFound", f"Deleted Secret not found: {name}")

    def _being_deleted(self, name: str) -> Response:
        return _kv_error(409, "Conflict", f"Secret {name} is currently being deleted.",
                         inner="ObjectIsBeingDeleted")

    # --- handlers -------------------------------------------------------------------------

    def _set(self, request: Request, match: re.Match[str]) -> Response:
        name = match["name"]
        if not NAME_RULE.match(name):
            return _kv_error(400, "BadParameter",
                             f"The request URI contains an invalid name: {name}")
        body = request.json() or {}
        if "value" not in body:
            return _kv_error(400, "BadParameter", "Property value is required.")
        secret = self._find(name)
        if secret is not None and secret.phase in ("deleting", "purging", "recovering"):
            self._tick(secret)
            return self._being_deleted(name)
        if secret is not None and secret.phase == "deleted":
            return _kv_error(409, "Conflict",
                             f"Secret {name} is currently in a deleted but recoverable state, and "
                             "its name cannot be reused; in this state, the secret can only be "
                             "recovered or purged.", inner="ObjectIsDeletedButRecoverable")
        if secret is None:
            secret = self.secrets[name.lower()] = Secret(name)
        now = int(time.time())
        attributes = {**(body.get("attributes") or {}), "created": now, "updated": now,
                      "recoveryLevel": "Recoverable+Purgeable", "recoverableDays": 90}
        attributes.setdefault("enabled", True)
        version = {"version": uuid.uuid4().hex, "value": body["value"], "tags": body.get("tags"),
                   "contentType": body.get("contentType"), "attributes": attributes}
        secret.versions.append(version)
        return Response(200, self._bundle(secret, version))

    def _get(self, request: Request, match: re.Match[str]) -> Response:
        secret = self._find(match["name"])
        if secret is not None and secret.phase == "recovering":
            self._tick(secret)
            return self._missing(match["name"])
        if secret is None or secret.phase != "live":
            return self._missing(match["name"])
        wanted = match["version"]
        for version in reversed(secret.versions):
            if not wanted or version["version"] == wanted:
                return Response(200, self._bundle(secret, version))
        return self._missing(f"{match['name']}/{wanted}")

    def _page(self, request: Request, items: list[dict[str, Any]], path: str) -> Response:
        size = int(request.query.get("maxresults") or 25)
        start = int(request.query.get("$skiptoken") or 0)
        page = items[start : start + size]
        next_link = None
        if start + size < len(items):
            api = request.query["api-version"]
            next_link = f"{self.url}{path}?api-version={api}&$skiptoken={start + size}" \
                        f"&maxresults={size}"
        return Response(200, {"value": page, "nextLink": next_link})

    def _list(self, request: Request, match: re.Match[str]) -> Response:
        items = [self._item(s) for s in self.secrets.values() if s.phase == "live"]
        return self._page(request, items, "/secrets")

    def _versions(self, request: Request, match: re.Match[str]) -> Response:
        secret = self._find(match["name"])
        if secret is None or secret.phase != "live":
            return self._missing(match["name"])
        items = []
        for version in secret.versions:
            item = {"id": f"{self.url}/secrets/{secret.name}/{version['version']}",
                    "attributes": dict(version["attributes"]), "tags": version["tags"]}
            items.append(item)
        return self._page(request, items, f"/secrets/{secret.name}/versions")

    def _delete(self, request: Request, match: re.Match[str]) -> Response:
        secret = self._find(match["name"])
        if secret is None or secret.phase != "live":
            return self._missing(match["name"])
        secret.phase, secret.countdown, secret.deleted_at = (
            "deleting", self.transition_reads, time.time())
        return Response(200, {**self._bundle(secret, secret.versions[-1]),
                              **self._deleted_fields(secret)})

    def _list_deleted(self, request: Request, match: re.Match[str]) -> Response:
        items = [{**self._item(s), **self._deleted_fields(s)}
                 for s in self.secrets.values() if s.phase in ("deleted", "purging")]
        return self._page(request, items, "/deletedsecrets")

    def _get_deleted(self, request: Request, match: re.Match[str]) -> Response:
        secret = self._find(match["name"])
        if secret is None or secret.phase in ("live", "recovering"):
            return self._deleted_missing(match["name"])
        if secret.phase == "deleting":
            self._tick(secret)
            return self._deleted_missing(match["name"])
        body = {**self._bundle(secret, secret.versions[-1]), **self._deleted_fields(secret)}
        body.pop("value")
        self._tick(secret)  # a purging secret is still listed, until its countdown ends
        return Response(200, body)

    def _purge(self, request: Request, match: re.Match[str]) -> Response:
        secret = self._find(match["name"])
        if secret is None or secret.phase in ("live", "recovering"):
            return self._deleted_missing(match["name"])
        if secret.phase in ("deleting", "purging"):
            self._tick(secret)
            return self._being_deleted(match["name"])
        secret.phase, secret.countdown = "purging", self.transition_reads
        return Response(204)

    def _recover(self, request: Request, match: re.Match[str]) -> Response:
        secret = self._find(match["name"])
        if secret is None or secret.phase in ("live", "recovering"):
            return self._deleted_missing(match["name"])
        if secret.phase in ("deleting", "purging"):
            self._tick(secret)
            return self._being_deleted(match["name"])
        secret.phase, secret.countdown = "recovering", self.transition_reads
        return Response(200, self._bundle(secret, secret.versions[-1]))


def _kv_error(status: int, code: str, message: str, inner: str = "", **headers: str) -> Response:
    err: dict[str, Any] = {"code": code, "message": message}
    if inner:
        err["innererror"] = {"code": inner}
    return Response(status, {"error": err}, dict(headers))
