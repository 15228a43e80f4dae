"""Microsoft Entra ID's v2.0 endpoints, as MSAL (under azure-identity) calls them.

`ClientSecretCredential(tenant, client, secret, authority=fake.url,
disable_instance_discovery=True, transport=…)`: MSAL reads
`/{tenant}/v2.0/.well-known/openid-configuration`, then posts the client-credentials grant to
the token endpoint it names. Instance discovery must be off, or MSAL asks
login.microsoftonline.com whether the authority is known.

`DeviceCodeCredential(tenant_id=…, authority=fake.url, disable_instance_discovery=True,
prompt_callback=…)`: MSAL posts to the device authorization endpoint, shows the code through
the callback, then polls the token endpoint, which answers `authorization_pending` until the
user signs in (`approve(user_code, upn)`, what a person does at the verification URL). The
answer then carries an ID token and `client_info`, which azure-identity needs for its
authentication record, and a refresh token: as Entra's, it is good for any resource, so a
token for another service (Key Vault, Storage, Databricks …) comes from the refresh-token
grant without the user signing in again.

Access tokens are JWTs shaped like Entra's v1 tokens (`aud`, `iss`, `tid`, `oid`, and `appid`
for an application or `upn` for a user), so a client may read who is signed in from the
claims; the signature is the fake's own HMAC, and each token remembers its audience (the scope
without `/.default`), so a service fake can refuse a token minted for another.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import secrets
import threading
import time
import uuid
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl

from .server import FakeAzure, Request, Response

DEVICE_CODE_GRANT = "urn:ietf:params:oauth:grant-type:device_code"


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


@dataclass
class _DeviceFlow:
    client_id: str
    scope: str
    user_code: str
    expires_at: float
    upn: str | None = None  # set when the user signed in


@dataclass
class FakeEntra:
    fake: FakeAzure
    tenant_id: str
    clients: dict[str, dict[str, float]] = field(default_factory=dict)
    """client id → its secrets, each with the time from which it works (a new password takes
    seconds to replicate)."""
    without_service_principal: set[str] = field(default_factory=set)
    """Applications registered (by Graph) whose service principal is not made yet."""
    service_principal_ids: dict[str, str] = field(default_factory=dict)
    """client id → the object id of its service principal (the `oid` of its tokens)."""
    users: dict[str, str] = field(default_factory=dict)  # upn → object id
    tokens: dict[str, str] = field(default_factory=dict)  # access token → audience
    device_code_lifetime: int = 900
    _flows: dict[str, _DeviceFlow] = field(default_factory=dict)  # device code → flow
    _refresh: dict[str, tuple[str, str]] = field(default_factory=dict)
    """refresh token → (client id, upn) of the user who signed in."""
    _key: bytes = field(default_factory=lambda: secrets.token_bytes(32))
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def __post_init__(self) -> None:
        tenant = r"(?P<tenant>[^/]+)"
        self.fake.route("GET", rf"/{tenant}/v2\.0/\.well-known/openid-configuration", self._config)
        self.fake.route("POST", rf"/{tenant}/oauth2/v2\.0/token", self._token)
        self.fake.route("POST", rf"/{tenant}/oauth2/v2\.0/devicecode", self._device_code)

    def add_client(self, client_id: str, secret: str, usable_after: float = 0.0) -> None:
        """A client that may sign in with `secret` from `usable_after` (a time.time())."""
        with self._lock:
            self.clients.setdefault(client_id, {})[secret] = usable_after

    def remove_client(self, client_id: str, secret: str | None = None) -> None:
        """Forget one secret of a client, or (no secret given) the client."""
        with self._lock:
            if secret is None:
                self.clients.pop(client_id, None)
            else:
                self.clients.get(client_id, {}).pop(secret, None)

    def add_user(self, upn: str) -> str:
        """A user of the tenant (who may sign in with a device code); returns its object id."""
        return self.users.setdefault(upn, str(uuid.uuid4()))

    def mint(self, audience: str, **claims: Any) -> str:
        """An access token for `audience` with these claims (what `az account
        get-access-token` would hand out for a signed-in user)."""
        now = int(time.time())
        body = {"aud": audience, "iss": f"https://sts.windows.net/{self.tenant_id}/",
                "tid": self.tenant_id, "iat": now, "nbf": now, "exp": now + 3599, "ver": "1.0",
                **claims}
        token = self._sign({"typ": "JWT", "alg": "HS256"}, body)
        with self._lock:
            self.tokens[token] = audience
        return token

    def claims_of(self, token: str) -> dict[str, Any] | None:
        """The claims of a token this fake minted (None for any other string)."""
        parts = token.split(".")
        if len(parts) != 3:
            return None
        signed = f"{parts[0]}.{parts[1]}".encode()
        expected = _b64(hmac.new(self._key, signed, hashlib.sha256).digest())
        if not hmac.compare_digest(expected, parts[2]):
            return None
        padded = parts[1] + "=" * (-len(parts[1]) % 4)
        claims: dict[str, Any] = json.loads(base64.urlsafe_b64decode(padded))
        return claims

    def approve(self, user_code: str, upn: str) -> None:
        """The user `upn` signs in at the verification URL with `user_code`."""
        with self._lock:
            flow = next(f for f in self._flows.values() if f.user_code == user_code)
            flow.upn = upn

    def pending_user_codes(self) -> list[str]:
        """The codes shown to users who have not signed in with them yet."""
        with self._lock:
            return [f.user_code for f in self._flows.values() if f.upn is None]

    def refresh_tokens(self) -> list[str]:
        """The refresh tokens handed to users (secrets, like the access tokens)."""
        with self._lock:
            return list(self._refresh)

    def audience_of(self, request: Request) -> str | None:
        """The audience of the request's bearer token, or None when it carries no valid one."""
        value = request.header("authorization")
        if not value.startswith("Bearer "):
            return None
        with self._lock:
            return self.tokens.get(value[len("Bearer ") :])

    def tokens_issued(self, audience: str) -> int:
        with self._lock:
            return sum(1 for a in self.tokens.values() if a == audience)

    def _sign(self, header: dict[str, Any], body: dict[str, Any]) -> str:
        signed = f"{_b64(json.dumps(header).encode())}.{_b64(json.dumps(body).encode())}"
        signature = _b64(hmac.new(self._key, signed.encode(), hashlib.sha256).digest())
        return f"{signed}.{signature}"

    def _issuer(self, request: Request) -> str:
        return f"{request.base_url}/{self.tenant_id}/v2.0"

    def _config(self, request: Request, match: re.Match[str]) -> Response:
        tenant = match["tenant"]
        if tenant != self.tenant_id:
            return _aad_error(400, "invalid_tenant", f"AADSTS90002: Tenant '{tenant}' not found.")
        base = f"{request.base_url}/{tenant}"
        return Response(
            200,
            {
                "token_endpoint": f"{base}/oauth2/v2.0/token",
                "authorization_endpoint": f"{base}/oauth2/v2.0/authorize",
                "device_authorization_endpoint": f"{base}/oauth2/v2.0/devicecode",
                "issuer": self._issuer(request),
                "token_endpoint_auth_methods_supported": ["client_secret_post"],
            },
        )

    def _audience(self, scope: str) -> str:
        defaults = [s.removesuffix("/.default") for s in scope.split() if s.endswith("/.default")]
        return defaults[0] if defaults else ""

    def _token(self, request: Request, match: re.Match[str]) -> Response:
        form = dict(parse_qsl(request.body.decode()))
        if match["tenant"] != self.tenant_id:
            return _aad_error(400, "invalid_tenant", "AADSTS90002: Tenant not found.")
        if form.get("grant_type") == DEVICE_CODE_GRANT:
            return self._device_token(request, form)
        if form.get("grant_type") == "refresh_token":
            return self._refreshed_token(request, form)
        if form.get("grant_type") != "client_credentials":
            return _aad_error(400, "unsupported_grant_type", "AADSTS70003: unsupported grant.")
        client = form.get("client_id", "")
        if client not in self.clients:
            return _aad_error(
                400,
                "unauthorized_client",
                f"AADSTS700016: Application with identifier '{client}' was not found in the "
                f"directory '{self.tenant_id}'.",
            )
        with self._lock:
            usable_after = self.clients[client].get(form.get("client_secret", ""))
        if usable_after is None or time.time() < usable_after:
            return _aad_error(
                401,
                "invalid_client",
                "AADSTS7000215: Invalid client secret provided. Ensure the secret being sent in "
                f"the request is the client secret value, not the client secret ID, for a secret "
                f"added to app '{client}'.",
            )
        if client in self.without_service_principal:
            return _aad_error(
                401, "invalid_client",
                f"AADSTS7000229: The client application {client} is missing service principal "
                f"in the tenant {self.tenant_id}.")
        audience = self._audience(form.get("scope", ""))
        if not audience:
            return _aad_error(400, "invalid_scope", "AADSTS1002012: a /.default scope is needed.")
        oid = self.service_principal_ids.get(client) or str(uuid.uuid5(uuid.NAMESPACE_OID, client))
        token = self.mint(audience, appid=client, oid=oid, idtyp="app")
        body = {"token_type": "Bearer", "expires_in": 3599, "ext_expires_in": 3599}
        return Response(200, {**body, "access_token": token})

    def _device_code(self, request: Request, match: re.Match[str]) -> Response:
        if match["tenant"] != self.tenant_id:
            return _aad_error(400, "invalid_tenant", "AADSTS90002: Tenant not found.")
        form = dict(parse_qsl(request.body.decode()))
        device_code = secrets.token_urlsafe(32)
        user_code = "".join(secrets.choice("ABCDEFGHJKLMNPQRSTUVWXYZ23456789") for _ in range(9))
        with self._lock:
            self._flows[device_code] = _DeviceFlow(
                form.get("client_id", ""), form.get("scope", ""), user_code,
                time.time() + self.device_code_lifetime)
        url = f"{request.base_url}/devicelogin"
        return Response(200, {
            "device_code": device_code,
            "user_code": user_code,
            "verification_uri": url,
            "expires_in": self.device_code_lifetime,
            "interval": 1,
            "message": f"To sign in, use a web browser to open the page {url} and enter the "
                       f"code {user_code} to authenticate.",
        })

    def _device_token(self, request: Request, form: dict[str, str]) -> Response:
        with self._lock:
            flow = self._flows.get(form.get("device_code", ""))
        if flow is None or flow.client_id != form.get("client_id"):
            return _aad_error(400, "invalid_grant", "AADSTS70000: the device code is not valid.")
        if time.time() > flow.expires_at:
            return _aad_error(400, "expired_token", "AADSTS70020: the device code expired.")
        if flow.upn is None:
            return _aad_error(400, "authorization_pending",
                              "AADSTS70016: OAuth 2.0 device flow error. Authorization is pending.")
        with self._lock:
            self._flows.pop(form["device_code"], None)
        return self._user_tokens(request, flow.client_id, flow.upn, flow.scope)

    def _refreshed_token(self, request: Request, form: dict[str, str]) -> Response:
        with self._lock:
            found = self._refresh.get(form.get("refresh_token", ""))
        if found is None or found[0] != form.get("client_id"):
            return _aad_error(400, "invalid_grant",
                              "AADSTS70000: the provided refresh token is not valid.")
        return self._user_tokens(request, found[0], found[1], form.get("scope", ""))

    def _user_tokens(self, request: Request, client_id: str, upn: str, scope: str) -> Response:
        """What Entra answers a user's sign-in: an access token for the scope's resource, an
        ID token, `client_info` and a refresh token (a new one each time, as Entra rotates)."""
        oid = self.add_user(upn)
        audience = self._audience(scope)
        token = self.mint(audience, upn=upn, unique_name=upn, oid=oid,
                          appid=client_id, idtyp="user")
        now = int(time.time())
        id_token = self._sign({"typ": "JWT", "alg": "HS256"}, {
            "iss": self._issuer(request), "aud": client_id, "sub": oid, "oid": oid,
            "tid": self.tenant_id, "preferred_username": upn, "iat": now, "nbf": now,
            "exp": now + 3599, "ver": "2.0"})
        client_info = _b64(json.dumps({"uid": oid, "utid": self.tenant_id}).encode())
        refresh = secrets.token_urlsafe(48)
        with self._lock:
            self._refresh[refresh] = (client_id, upn)
        return Response(200, {
            "token_type": "Bearer", "expires_in": 3599, "ext_expires_in": 3599,
            "scope": scope, "access_token": token, "id_token": id_token,
            "client_info": client_info, "refresh_token": refresh,
        })


def _aad_error(status: int, code: str, description: str) -> Response:
    return Response(status, {"error": code, "error_description": description, "error_codes": []})
