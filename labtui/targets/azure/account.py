"""Who and where: the signed-in identity and the subscription, read before anything is made.

The subscription comes from ARM (`GET /subscriptions/{id}`), so a mistyped id, a subscription
of another tenant, or one the identity cannot see is caught here, in one line naming the
subscription and the tenant. The identity comes from the ARM token's claims: a user's `upn`
(or `unique_name` / `preferred_username`), an application's `appid`.
"""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass
from typing import Any

from labtui.targets.azure.credentials import SignIn, first_line
from labtui.targets.azure.endpoints import Endpoints
from labtui.targets.errors import TargetError, Transient

SUBSCRIPTION_API = "2022-12-01"
USABLE_STATES = ("Enabled", "Warned", "PastDue")
"""What ARM lets one create resources in (Warned and PastDue still work, for now)."""


@dataclass(frozen=True)
class Account:
    """What the banner shows."""

    tenant_id: str
    subscription_id: str
    subscription_name: str
    signed_in_as: str
    method: str

    def as_banner(self) -> dict[str, str]:
        return {"tenant": self.tenant_id,
                "subscription": f"{self.subscription_name} ({self.subscription_id})",
                "signed in as": self.signed_in_as}

    def line(self) -> str:
        return (f"azure: tenant {self.tenant_id} · subscription {self.subscription_name} "
                f"({self.subscription_id}) · signed in as {self.signed_in_as} "
                f"(with {self.method})")


def token_claims(token: str) -> dict[str, Any]:
    """The claims of a JWT, read without checking its signature (only shown, never trusted);
    empty for a token that is not a JWT."""
    parts = token.split(".")
    if len(parts) != 3:
        return {}
    try:
        claims = json.loads(base64.urlsafe_b64decode(parts[1] + "=" * (-len(parts[1]) % 4)))
    except (binascii.Error, ValueError, UnicodeDecodeError):
        return {}
    return claims if isinstance(claims, dict) else {}


def describe_identity(claims: dict[str, Any]) -> str:
    for key in ("upn", "unique_name", "preferred_username", "email"):
        if isinstance(claims.get(key), str) and claims[key]:
            return str(claims[key])
    app = claims.get("appid") or claims.get("azp")
    if app:
        return f"service principal {app}"
    return "an unnamed identity"


def read_account(credential: SignIn, endpoints: Endpoints, subscription_id: str) -> Account:
    """Sign in, then read the subscription.

    Raises:
        SignInError: no credential could sign in.
        TargetError: the subscription is not found, belongs to another tenant, is disabled, or
            ARM cannot be reached; one line naming the subscription and the tenant.
        Transient: ARM kept answering 429/5xx after the SDK's retries.
    """
    from azure.core.exceptions import HttpResponseError, ServiceRequestError, ServiceResponseError
    from azure.core.rest import HttpRequest

    from labtui.targets.azure.mgmt import rest_client

    tenant = credential.tenant_id
    where = f"subscription {subscription_id} (tenant {tenant})"
    token = credential.get_token(endpoints.arm_scope)
    who = describe_identity(token_claims(token.token))
    client = rest_client(credential, endpoints)
    request = HttpRequest("GET", f"{endpoints.arm}/subscriptions/{subscription_id}",
                          params={"api-version": SUBSCRIPTION_API})
    try:
        with client:
            response = client.send_request(request)
    except (ServiceRequestError, ServiceResponseError) as exc:
        raise TargetError(f"cannot reach Azure Resource Manager at {endpoints.arm} to read "
                          f"{where}: {first_line(exc)}") from None
    except HttpResponseError as exc:
        raise TargetError(f"cannot read {where}: {first_line(exc)}") from None
    if response.status_code in (429, 500, 502, 503, 504):
        raise Transient(f"Azure Resource Manager is busy (HTTP {response.status_code}) reading "
                        f"{where}; try again")
    body = _json(response)
    code = (body.get("error") or {}).get("code", "") if isinstance(body, dict) else ""
    if response.status_code == 404 or code == "SubscriptionNotFound":
        raise TargetError(f"{where} was not found, or {who} cannot see it: check subscription-id "
                          "and tenant-id (`az account list -o table`)")
    if response.status_code in (401, 403):
        raise TargetError(f"{who} may not read {where} ({code or response.status_code}): ask "
                          "for a role on it (Owner or Contributor and User Access Administrator)")
    if response.status_code != 200 or not isinstance(body, dict):
        raise TargetError(f"cannot read {where}: HTTP {response.status_code} {code}".rstrip())
    home = str(body.get("tenantId", tenant))
    if home.lower() != tenant.lower():
        raise TargetError(f"subscription {subscription_id} belongs to tenant {home}, not to "
                          f"tenant-id {tenant}: correct tenant-id")
    state = str(body.get("state", ""))
    if state not in USABLE_STATES:
        raise TargetError(f"{where} is {state or 'in an unknown state'}: nothing can be created "
                          "in it; choose another subscription-id")
    name = str(body.get("displayName") or subscription_id)
    return Account(tenant, str(body.get("subscriptionId", subscription_id)), name, who,
                   credential.method or "?")


def _json(response: Any) -> Any:
    try:
        return response.json()
    except ValueError:
        return None
