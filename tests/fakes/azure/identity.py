"""Microsoft Entra ID's v2.0 endpoints, as MSAL (under azure-identity) calls them.

`ClientSecretCredential(tenant, client, secret, authority=fake.url,
disable_instance_discovery=True, transport=…)`: MSAL reads
`/{tenant}/v2.0/.well-known/openid-configuration`, then posts the client-credentials grant to
the token endpoint it names. Instance discovery must be off, or MSAL asks
login.microsoftonline.com whether the authority is known. Tokens are opaque; each remembers its
audience (the scope without `/.default`), so a service fake can refuse a token minted for
another.
"""

from __future__ import annotations

import re
import secrets
import threading
from dataclasses import dataclass, field
from urllib.parse import parse_qsl

from .server import FakeAzure, Request, Response


@dataclass
class FakeEntra:
    fake: FakeAzure
    tenant_id: str
    clients: dict[str, str] = field(default_factory=dict)  # client id → secret
    tokens: dict[str, str] = field(default_factory=dict)  # access token → audience
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def __post_init__(self) -> None:
        tenant = r"(?P<tenant>[^/]+)"
        self.fake.route("GET", rf"/{tenant}/v2\.0/\.well-known/openid-configuration", self._config)
        self.fake.route("POST", rf"/{tenant}/oauth2/v2\.0/token", self._token)

    def add_client(self, client_id: str, secret: str) -> None:
        """A service principal that may sign in with a client secret."""
        self.clients[client_id] = secret

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
                "issuer": f"{base}/v2.0",
                "token_endpoint_auth_methods_supported": ["client_secret_post"],
            },
        )

    def _token(self, request: Request, match: re.Match[str]) -> Response:
        form = dict(parse_qsl(request.body.decode()))
        if match["tenant"] != self.tenant_id:
            return _aad_error(400, "invalid_tenant", "AADSTS90002: Tenant not found.")
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
        if form.get("client_secret") != self.clients[client]:
            return _aad_error(
                401,
                "invalid_client",
                "AADSTS7000215: Invalid client secret provided. Ensure the secret being sent in "
                f"the request is the client secret value, not the client secret ID, for a secret "
                f"added to app '{client}'.",
            )
        scopes = form.get("scope", "").split()
        defaults = [s.removesuffix("/.default") for s in scopes if s.endswith("/.default")]
        audience = defaults[0] if defaults else ""
        if not audience:
            return _aad_error(400, "invalid_scope", "AADSTS1002012: a /.default scope is needed.")
        token = secrets.token_urlsafe(24)
        with self._lock:
            self.tokens[token] = audience
        body = {"token_type": "Bearer", "expires_in": 3599, "ext_expires_in": 3599}
        return Response(200, {**body, "access_token": token})


def _aad_error(status: int, code: str, description: str) -> Response:
    return Response(status, {"error": code, "error_description": description, "error_codes": []})
